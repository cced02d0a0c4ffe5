/* store_compact.c — offline compaction (store_compact in store.h): with the
 * writer lock held, the current state of a store is written as a fresh log
 * (DIR/log.compact: header, then frames of A/H/P records), synced, and
 * renamed over DIR/log. Until the rename the old log is untouched; after it
 * the new log is complete, so a crash leaves one or the other. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "crc32c.h"
#include "store_io.h"

#define COMPACT_FRAME_BYTES (1u << 20) /* seal a frame once its payload passes this */

/* The new log being written. */
typedef struct compactor {
  fstore *s;
  int fd;
  char tmp[4096];
  sx_buf frame; /* the frame being built: head placeholder + payload */
  uint64_t off; /* bytes written to tmp */
  size_t records;
  const char *what; /* the step that failed */
} compactor;

static void store_cw_put_le32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static int store_cw_write(compactor *c, const void *p, size_t n) {
  const char *b = p;
  while (n > 0) {
    ssize_t w = store_io_pwrite(STORE_IO_COMPACT_WRITE, c->fd, b, n, (off_t)c->off);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) {
      c->what = "write to";
      return -1;
    }
    b += w;
    n -= (size_t)w;
    c->off += (uint64_t)w;
  }
  return 0;
}

static void store_cw_frame_begin(compactor *c) {
  static const char zero[FRAME_HEAD];
  sx_buf_reset(&c->frame);
  sx_buf_put(&c->frame, zero, FRAME_HEAD);
}

/* Seal the frame being built (if it holds records, or empty with seal) and
 * write it. The file is synced before it becomes the log, so each frame
 * records itself as synced: damage in it can never pass for a torn tail. */
static int store_cw_frame_end(compactor *c, bool seal) {
  size_t plen = c->frame.len - FRAME_HEAD;
  if (plen == 0 && !seal) return 0;
  store_frame_seal(&c->frame, 0, plen, c->off, c->off + FRAME_HEAD + plen + FRAME_TAIL);
  int rc = store_cw_write(c, c->frame.data, c->frame.len);
  store_cw_frame_begin(c);
  return rc;
}

/* Start a record: type and length-prefixed name, in a frame with room. */
static int store_cw_rec(compactor *c, int type, sx_val name) {
  if (c->frame.len - FRAME_HEAD >= COMPACT_FRAME_BYTES && store_cw_frame_end(c, false)) return -1;
  sx_buf_putc(&c->frame, (char)type);
  codec_put_uvarint(&c->frame, sx_str_len(name));
  sx_buf_put(&c->frame, sx_str_data(name), sx_str_len(name));
  c->records++;
  return 0;
}

/* Copy the encoded value stored at log offset off, length-prefixed. */
static int store_cw_value(compactor *c, uint64_t off) {
  size_t avail, used;
  sx_val v, derr;
  const unsigned char *p = store_log_bytes(c->s, off, &avail);
  if (!p || store_decode(p, avail, &used, &v, &derr)) {
    c->what = "reading a stored value for";
    errno = EIO;
    return -1;
  }
  codec_put_uvarint(&c->frame, used);
  sx_buf_put(&c->frame, p, used);
  return 0;
}

static int store_cw_cmp_stream(const void *a, const void *b, void *arg) {
  fstore *s = arg;
  return sx_string_cmp(s->streams[*(const size_t *)a].name, s->streams[*(const size_t *)b].name);
}

static int store_cw_cmp_key(const void *a, const void *b, void *arg) {
  fstore *s = arg;
  return sx_string_cmp(s->kv[*(const size_t *)a].key, s->kv[*(const size_t *)b].key);
}

/* One stream: H for the seqs truncated away (if any), then its events. */
static int store_cw_stream(compactor *c, stream_ent *e) {
  size_t live = e->count - e->start;
  int64_t below = e->hwm - (int64_t)live; /* the seq before the first stored one */
  if (below > 0) {
    if (store_cw_rec(c, REC_HWM, e->name)) return -1;
    codec_put_uvarint(&c->frame, (uint64_t)below);
  }
  for (size_t i = e->start; i < e->count; i++) {
    if (store_cw_rec(c, REC_APPEND, e->name)) return -1;
    codec_put_uvarint(&c->frame, (uint64_t)(below + 1 + (int64_t)(i - e->start)));
    if (store_cw_value(c, e->offs[i])) return -1;
  }
  return 0;
}

/* Indices 0..n sorted with cmp. */
static size_t *store_cw_order(fstore *s, size_t n, int (*cmp)(const void *, const void *, void *)) {
  size_t *ix = store_xmalloc((n + 1) * sizeof *ix);
  for (size_t i = 0; i < n; i++) ix[i] = i;
  qsort_r(ix, n, sizeof *ix, cmp, s);
  return ix;
}

/* Every stream (byte order of names), then every live kv entry (byte order). */
static int store_cw_body(compactor *c) {
  fstore *s = c->s;
  int rc = 0;
  size_t *ix = store_cw_order(s, s->nstreams, store_cw_cmp_stream);
  for (size_t i = 0; i < s->nstreams && !rc; i++) rc = store_cw_stream(c, &s->streams[ix[i]]);
  free(ix);
  ix = store_cw_order(s, s->nkv, store_cw_cmp_key);
  for (size_t i = 0; i < s->nkv && !rc; i++) {
    kv_ent *e = &s->kv[ix[i]];
    if (!e->off) continue;
    rc = store_cw_rec(c, REC_PUT, e->key) || store_cw_value(c, e->off);
  }
  free(ix);
  /* then an empty frame: it records the data before it as synced, should
   * the last data frame's own header be the damaged part */
  if (rc || store_cw_frame_end(c, false)) return -1;
  return c->off > LOG_HEADER_SIZE ? store_cw_frame_end(c, true) : 0;
}

/* Write and sync DIR/log.compact. */
static int store_cw_file(compactor *c) {
  unsigned char h[LOG_HEADER_SIZE];
  memcpy(h, "SXSTORE", 8); /* the same header as store_log_create writes */
  store_cw_put_le32(h + 8, LOG_VERSION);
  store_cw_put_le32(h + 12, store_crc32c(0, h, 12));
  c->fd = store_io_open(STORE_IO_COMPACT_CREATE, c->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (c->fd < 0) {
    c->what = "cannot create";
    return -1;
  }
  store_cw_frame_begin(c);
  if (store_cw_write(c, h, sizeof h) || store_cw_body(c)) return -1;
  if (store_io_fsync(STORE_IO_COMPACT_SYNC, c->fd)) {
    c->what = "fsync of";
    return -1;
  }
  return 0;
}

static int store_cw_dir_exists(const char *dir, sx_val *err) {
  struct stat st;
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
  *err = store_errorf("store %s does not exist", dir);
  return -1;
}

/* Write the new log and swap it in; s is open with the lock held. */
static int store_cw_swap(fstore *s, store_compact_stats *out, sx_val *err) {
  compactor c = {.s = s, .fd = -1, .frame = SX_BUF_INIT};
  snprintf(c.tmp, sizeof c.tmp, "%s/log.compact", s->dir);
  int rc = store_cw_file(&c);
  int e = errno;
  if (c.fd >= 0) close(c.fd);
  sx_buf_free(&c.frame);
  if (rc) {
    *err = store_errorf("store %s: compaction failed: %s %s failed: %s (the log is unchanged)", s->dir,
                        c.what, c.tmp, strerror(e));
    store_io_unlink(c.tmp);
    return -1;
  }
  if (store_io_rename(STORE_IO_COMPACT_RENAME, c.tmp, s->log_path)) {
    *err = store_errorf("store %s: compaction failed: renaming %s to %s failed: %s (the log is "
                        "unchanged)",
                        s->dir, c.tmp, s->log_path, strerror(errno));
    store_io_unlink(c.tmp);
    return -1;
  }
  out->log_after = c.off;
  out->records = c.records;
  if (store_fsync_dir(s->dir)) {
    *err = store_errorf("store %s: compaction: the compacted log is in place but the fsync of the "
                        "directory %s failed: %s (after a crash either log may be found; both hold "
                        "the same state)",
                        s->dir, s->dir, strerror(errno));
    return -1;
  }
  return 0;
}

int store_compact(const char *dir, store_compact_stats *out, sx_val *err) {
  store_compact_stats local;
  if (!out) out = &local;
  memset(out, 0, sizeof *out);
  if (!dir || !*dir) {
    *err = store_errorf("store_compact: the store directory name is empty");
    return -1;
  }
  if (store_is_url(dir)) { /* nothing to rewrite: PostgreSQL reclaims space itself (autovacuum) */
    store_opts o = {.read_only = true}; /* but it must be a store that opens */
    store *pg;
    if (store_open(dir, &o, &pg, err)) return -1;
    return store_close(pg, err);
  }
  if (store_cw_dir_exists(dir, err)) return -1;
  store_opts o = {.sync = STORE_SYNC_OFF}; /* the handle itself writes nothing */
  fstore *s = fstore_new(dir, &o);
  if (fstore_open_log(s, err)) {
    fstore_free(s);
    return -1;
  }
  out->log_before = s->wbase;
  out->file_before = s->file_end;
  out->streams = s->nstreams;
  out->events = s->nevents;
  out->kv_keys = s->kv_live;
  int rc = store_cw_swap(s, out, err);
  fstore_free(s); /* writes nothing: no pending or buffered frames */
  return rc;
}
