/* store_dump.c — building and copying whole stores from outside: the
 * restore writer behind `sx store load` (a fresh log written directly, the
 * way store_compact.c writes one: H records carry the high-water marks of
 * truncated streams, which no transaction can write), the blob listing a
 * dump walks, and the online backup (`sx store backup`: the log up to the
 * end of its last complete frame, then the blobs). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "codec.h"
#include "sx_dict.h"
#include "crc32c.h"
#include "store_io.h"

#define RESTORE_FRAME_BYTES (1u << 20) /* seal a frame once its payload passes this */

struct store_restore {
  pgstore_restore *pg; /* a PostgreSQL store: its rows go there (and nothing below is used) */
  fstore *s;           /* the empty store, writer lock held */
  int fd;              /* DIR/log.restore */
  char tmp[4096];
  sx_buf frame; /* head placeholder + payload */
  uint64_t off;
  sx_val stream;     /* the stream being restored, or 0 */
  int64_t hwm, last; /* its high-water mark; the seq last written (0: none yet) */
  int64_t first;     /* the seq of its first stored event */
  size_t records;
};

/* ---- writing the fresh log ----------------------------------------------------- */

static int rs_write(store_restore *r, const void *p, size_t n, sx_val *err) {
  const char *b = p;
  while (n > 0) {
    ssize_t w = store_io_pwrite(STORE_IO_LOG_WRITE, r->fd, b, n, (off_t)r->off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      *err = store_errorf("store %s: write to %s failed: %s", r->s->dir, r->tmp,
                          w == 0 ? "no progress" : strerror(errno));
      return -1;
    }
    b += w;
    n -= (size_t)w;
    r->off += (uint64_t)w;
  }
  return 0;
}

static void rs_frame_begin(store_restore *r) {
  static const char zero[FRAME_HEAD];
  sx_buf_reset(&r->frame);
  sx_buf_put(&r->frame, zero, FRAME_HEAD);
}

/* Seal and write the frame (if it holds records, or empty with seal); the
 * file is synced before it becomes the log, so each frame says so. */
static int rs_frame_end(store_restore *r, bool seal, sx_val *err) {
  size_t plen = r->frame.len - FRAME_HEAD;
  if (plen == 0 && !seal) return 0;
  store_frame_seal(&r->frame, 0, plen, r->off, r->off + FRAME_HEAD + plen + FRAME_TAIL);
  int rc = rs_write(r, r->frame.data, r->frame.len, err);
  rs_frame_begin(r);
  return rc;
}

static int rs_rec(store_restore *r, int type, sx_val name, sx_val *err) {
  if (r->frame.len - FRAME_HEAD >= RESTORE_FRAME_BYTES && rs_frame_end(r, false, err)) return -1;
  sx_buf_putc(&r->frame, (char)type);
  codec_put_uvarint(&r->frame, sx_str_len(name));
  sx_buf_put(&r->frame, sx_str_data(name), sx_str_len(name));
  r->records++;
  return 0;
}

/* A length-prefixed encoded value (refused, nothing added, if not data). */
static int rs_value(store_restore *r, sx_val v, sx_val *err) {
  sx_buf enc = SX_BUF_INIT;
  if (store_encode(&enc, v, err)) {
    sx_buf_free(&enc);
    return -1;
  }
  codec_put_uvarint(&r->frame, enc.len);
  sx_buf_put(&r->frame, enc.data, enc.len);
  sx_buf_free(&enc);
  return 0;
}

/* ---- an empty store ------------------------------------------------------------- */

/* Does dir/blobs hold any file? */
static bool rs_has_blobs(const char *dir) { return store_blob_list(dir) != SX_EMPTY; }

static int rs_open_empty(store_restore *r, const char *dir, sx_val *err) {
  if (fstore_mkdirs(dir) != 0) {
    *err = store_errorf("store %s: cannot create the directory: %s", dir, strerror(errno));
    return -1;
  }
  store_opts o = {.sync = STORE_SYNC_OFF}; /* the handle itself writes nothing */
  r->s = fstore_new(dir, &o);
  if (fstore_open_log(r->s, err)) return -1;
  if (r->s->nstreams || r->s->kv_live || rs_has_blobs(dir)) {
    *err = store_errorf("store %s is not empty (%zu streams, %zu kv keys%s); load into a new "
                        "directory",
                        dir, r->s->nstreams, r->s->kv_live, rs_has_blobs(dir) ? ", blobs" : "");
    return -1;
  }
  return 0;
}

/* A PostgreSQL store (a URL): its rows, in one transaction. */
static int rs_begin_pg(store_restore *r, const char *url, sx_val *err) {
#ifdef SX_HAVE_POSTGRES
  return pgstore_restore_begin(url, &r->pg, err);
#else
  *err = store_errorf("store %s: this build of sx has no PostgreSQL support (build with libpq)", url);
  return -1;
#endif
}

int store_restore_begin(const char *dir, store_restore **out, sx_val *err) {
  store_restore *r = store_xcalloc(1, sizeof *r);
  r->fd = -1;
  r->frame = (sx_buf)SX_BUF_INIT;
  *out = NULL;
  if (!dir || !*dir) {
    *err = store_errorf("store_restore: the store directory name is empty");
    free(r);
    return -1;
  }
  if (store_is_url(dir)) {
    if (rs_begin_pg(r, dir, err)) {
      free(r);
      return -1;
    }
    *out = r;
    return 0;
  }
  if (rs_open_empty(r, dir, err)) {
    store_restore_abandon(r);
    return -1;
  }
  snprintf(r->tmp, sizeof r->tmp, "%s/log.restore", r->s->dir);
  r->fd = store_io_open(STORE_IO_LOG_CREATE, r->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  unsigned char h[LOG_HEADER_SIZE];
  memcpy(h, "SXSTORE", 8); /* the header store_log_create writes */
  for (int i = 0; i < 4; i++) h[8 + i] = (unsigned char)(LOG_VERSION >> (8 * i));
  uint32_t crc = store_crc32c(0, h, 12);
  for (int i = 0; i < 4; i++) h[12 + i] = (unsigned char)(crc >> (8 * i));
  rs_frame_begin(r);
  if (r->fd < 0) *err = store_errorf("store %s: cannot create %s: %s", dir, r->tmp, strerror(errno));
  if (r->fd < 0 || rs_write(r, h, sizeof h, err)) {
    store_restore_abandon(r);
    return -1;
  }
  *out = r;
  return 0;
}

/* ---- records ------------------------------------------------------------------- */

static char qbuf[256];

/* End the stream being restored: an H record when it stored no event. */
static int rs_stream_end(store_restore *r, sx_val *err) {
  if (!r->stream) return 0;
  sx_val name = r->stream;
  r->stream = 0;
  if (r->last != 0 && r->last != r->hwm) {
    *err = store_errorf("stream %s: its events end at seq %lld but its last-seq is %lld",
                        store_quote(name, qbuf, sizeof qbuf), (long long)r->last, (long long)r->hwm);
    return -1;
  }
#ifdef SX_HAVE_POSTGRES
  if (r->pg)
    return r->hwm > 0 ? pgstore_restore_stream(r->pg, name, r->hwm, r->last ? r->first : r->hwm + 1, err) : 0;
#endif
  if (r->last == 0)
    return r->hwm > 0 &&
           (rs_rec(r, REC_HWM, name, err) || (codec_put_uvarint(&r->frame, (uint64_t)r->hwm), 0));
  return 0;
}

int store_restore_stream(store_restore *r, sx_val name, int64_t hwm, sx_val *err) {
  if (rs_stream_end(r, err)) return -1;
  if (hwm < 0) {
    *err = store_errorf("stream %s: negative last-seq", store_quote(name, qbuf, sizeof qbuf));
    return -1;
  }
  r->stream = name;
  r->hwm = hwm;
  r->last = 0;
  return 0;
}

int store_restore_event(store_restore *r, sx_val event, sx_val *err) {
  sx_val seqv = sx_is_dict(event) ? sx_dict_get(event, sx_string_cstr("seq"), SX_NIL) : SX_NIL;
  int64_t seq = sx_is_int(seqv) ? sx_int_val(seqv) : 0;
  if (!r->stream) {
    *err = store_errorf("an event before any stream");
    return -1;
  }
  const char *q = store_quote(r->stream, qbuf, sizeof qbuf);
  if (seq < 1 || seq > r->hwm || (r->last && seq != r->last + 1)) {
    *err = store_errorf("stream %s: event seq %lld out of order (last-seq %lld, previous %lld)", q,
                        (long long)seq, (long long)r->hwm, (long long)r->last);
    return -1;
  }
  if (!r->last) r->first = seq;
#ifdef SX_HAVE_POSTGRES
  if (r->pg) {
    if (pgstore_restore_event(r->pg, r->stream, seq, event, err)) return -1;
    r->last = seq;
    return 0;
  }
#endif
  if (!r->last && seq > 1) {
    if (rs_rec(r, REC_HWM, r->stream, err)) return -1;
    codec_put_uvarint(&r->frame, (uint64_t)(seq - 1));
  }
  size_t mark = r->frame.len;
  if (rs_rec(r, REC_APPEND, r->stream, err)) return -1;
  codec_put_uvarint(&r->frame, (uint64_t)seq);
  if (rs_value(r, event, err)) {
    r->frame.len = mark;
    return -1;
  }
  r->last = seq;
  return 0;
}

int store_restore_kv(store_restore *r, sx_val key, sx_val val, sx_val *err) {
  if (rs_stream_end(r, err)) return -1;
#ifdef SX_HAVE_POSTGRES
  if (r->pg) return pgstore_restore_kv(r->pg, key, val, err);
#endif
  size_t mark = r->frame.len;
  if (rs_rec(r, REC_PUT, key, err)) return -1;
  if (rs_value(r, val, err)) {
    r->frame.len = mark;
    return -1;
  }
  return 0;
}

int store_restore_blob(store_restore *r, sx_val cid, sx_val bytes, sx_val *err) {
#ifdef SX_HAVE_POSTGRES
  if (r->pg) return pgstore_restore_blob(r->pg, cid, bytes, err);
#endif
  sx_val got = SX_NIL;
  if (blob_put(r->s->dir, true, sx_str_data(bytes), sx_str_len(bytes), &got, err)) return -1;
  if (sx_string_eq(got, cid)) return 0;
  *err = store_errorf("blob %s: its bytes have the id %s", sx_str_data(cid), sx_str_data(got));
  return -1;
}

/* ---- finishing ----------------------------------------------------------------- */

void store_restore_abandon(store_restore *r) {
  if (!r) return;
#ifdef SX_HAVE_POSTGRES
  pgstore_restore_abandon(r->pg);
#endif
  if (r->fd >= 0) {
    close(r->fd);
    store_io_unlink(r->tmp);
  }
  sx_buf_free(&r->frame);
  if (r->s) fstore_free(r->s);
  free(r);
}

int store_restore_finish(store_restore *r, sx_val *err) {
#ifdef SX_HAVE_POSTGRES
  if (r->pg) {
    pgstore_restore *pg = r->pg;
    r->pg = NULL;
    int rc;
    if (rs_stream_end(r, err)) rc = -1, pgstore_restore_abandon(pg);
    else rc = pgstore_restore_finish(pg, err); /* frees pg */
    store_restore_abandon(r);
    return rc;
  }
#endif
  int rc = rs_stream_end(r, err) || rs_frame_end(r, false, err) ||
           (r->off > LOG_HEADER_SIZE && rs_frame_end(r, true, err));
  if (!rc && store_io_fsync(STORE_IO_LOG_SYNC, r->fd) != 0) {
    *err = store_errorf("store %s: fsync of %s failed: %s", r->s->dir, r->tmp, strerror(errno));
    rc = -1;
  }
  if (!rc && store_io_rename(STORE_IO_RENAME, r->tmp, r->s->log_path) != 0) {
    *err = store_errorf("store %s: renaming %s failed: %s", r->s->dir, r->tmp, strerror(errno));
    rc = -1;
  }
  if (!rc && store_fsync_dir(r->s->dir)) {
    *err = store_errorf("store %s: fsync of the directory failed: %s", r->s->dir, strerror(errno));
    rc = -1;
  }
  if (!rc) {
    close(r->fd);
    r->fd = -1;
  }
  store_restore_abandon(r);
  return rc ? -1 : 0;
}

/* ---- the blobs of a store ----------------------------------------------------------- */

static int rs_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Add the well-formed blob ids in one shard directory. */
static void rs_scan_shard(const char *path, char ***ids, size_t *n, size_t *cap) {
  DIR *d = opendir(path);
  struct dirent *de;
  if (!d) return;
  while ((de = readdir(d))) {
    if (!blob_cid_valid(de->d_name, strlen(de->d_name))) continue;
    if (*n == *cap) *ids = store_xrealloc(*ids, (*cap = *cap * 2 + 16) * sizeof **ids);
    (*ids)[(*n)++] = store_xstrdup(de->d_name);
  }
  closedir(d);
}

sx_val store_blob_list(const char *dir) {
  char path[4096];
  char **ids = NULL;
  size_t n = 0, cap = 0;
  snprintf(path, sizeof path, "%s/blobs", dir);
  DIR *d = opendir(path);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/blobs/%s", dir, de->d_name);
    rs_scan_shard(path, &ids, &n, &cap);
  }
  if (d) closedir(d);
  if (n) qsort(ids, n, sizeof *ids, rs_cmp_str);
  sx_val list = SX_EMPTY;
  while (n > 0) {
    list = sx_cons(sx_string_cstr(ids[--n]), list);
    free(ids[n]);
  }
  free(ids);
  return list;
}

/* ---- online backup ------------------------------------------------------------------ */

/* The store_io sites of a copy: the log's or a blob's. */
typedef struct bk_sites {
  store_io_site create, write, sync;
} bk_sites;
static const bk_sites bk_log_sites = {STORE_IO_LOG_CREATE, STORE_IO_LOG_WRITE, STORE_IO_LOG_SYNC};
static const bk_sites bk_blob_sites = {STORE_IO_BLOB_CREATE, STORE_IO_BLOB_WRITE, STORE_IO_BLOB_SYNC};

/* Copy in[0..len) (or all of it when len is UINT64_MAX) to a new file
 * dst, synced (its name is the caller's to sync); removed again when the
 * copy fails. */
static int bk_copy(int in, const char *what, const char *dst, uint64_t len, const bk_sites *io, sx_val *err) {
  int out = store_io_open(io->create, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    *err = store_errorf("backup: cannot create %s: %s", dst, strerror(errno));
    return -1;
  }
  char buf[1 << 16];
  uint64_t done = 0;
  int rc = 0;
  errno = 0;
  while (!rc && done < len) {
    size_t want = len - done < sizeof buf ? (size_t)(len - done) : sizeof buf;
    ssize_t got = pread(in, buf, want, (off_t)done);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0 && len == UINT64_MAX) break;
    if (got <= 0 || store_io_write(io->write, out, buf, (size_t)got) != got) rc = -1; /* 0: the file shrank */
    else done += (uint64_t)got;
  }
  if (!rc && store_io_fsync(io->sync, out) != 0) rc = -1;
  if (rc)
    *err = store_errorf("backup: copying %s to %s failed: %s", what, dst,
                        errno ? strerror(errno) : "short read");
  close(out);
  if (rc) store_io_unlink(dst); /* no half copy left behind */
  return rc;
}

/* Copy every blob (after the log: a blob is stored before any commit that
 * names it, so each one the copied log names is there already). Layout as
 * blob.c: DIR/blobs/<the id's next-to-last two characters>/<id>. Every new
 * name is made durable: the directories by fstore_mkdirs, each blob's by an
 * fsync of its shard. */
static int bk_blobs(const char *dir, const char *dest, size_t *nblobs, sx_val *err) {
  char src[4096], dst[4200], shard_dir[4096];
  for (sx_val l = store_blob_list(dir); l != SX_EMPTY; l = sx_cdr(l)) {
    const char *cid = sx_str_data(sx_car(l)), *shard = cid + BLOB_CID_LEN - 3;
    snprintf(shard_dir, sizeof shard_dir, "%s/blobs/%.2s", dest, shard);
    if (fstore_mkdirs(shard_dir)) {
      *err = store_errorf("backup: cannot create %s: %s", shard_dir, strerror(errno));
      return -1;
    }
    snprintf(dst, sizeof dst, "%s/%s", shard_dir, cid);
    snprintf(src, sizeof src, "%s/blobs/%.2s/%s", dir, shard, cid);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) continue; /* removed since it was listed */
    int rc = bk_copy(in, src, dst, UINT64_MAX, &bk_blob_sites, err);
    close(in);
    if (!rc && store_fsync_dir(shard_dir)) {
      *err = store_errorf("backup: fsync of %s failed: %s", shard_dir, strerror(errno));
      rc = -1;
    }
    if (rc) return -1;
    (*nblobs)++;
  }
  return 0;
}

/* A read-only scan of the log. A scan next to a writer can read a frame
 * the writer is still copying in (a later page already new, an earlier one
 * not yet), which looks like damage: real damage stays, so try again a
 * few times before believing it. */
static fstore *bk_open(const char *dir, sx_val *err) {
  store_opts o = {.read_only = true};
  for (int tries = 0;; tries++) {
    fstore *s = fstore_new(dir, &o);
    if (fstore_open_log(s, err) == 0) return s;
    fstore_free(s);
    if (tries == 9) return NULL;
    usleep(20000);
  }
}

int store_backup(const char *dir, const char *dest, store_backup_stats *out, sx_val *err) {
  store_backup_stats local = {0};
  if (!out) out = &local;
  memset(out, 0, sizeof *out);
  if (store_is_url(dir)) { /* refused before anything is made */
    char *shown = store_label(dir);
    *err = store_errorf("backup: %s is a PostgreSQL store: back the database up with PostgreSQL's own tools "
                        "(pg_dump, a base backup), or copy the store with sx store dump",
                        shown);
    free(shown);
    return -1;
  }
  struct stat dst_st;
  int made = stat(dest, &dst_st) == 0 ? (errno = EEXIST, -1) : errno != ENOENT ? -1 : fstore_mkdirs(dest);
  if (made != 0) {
    *err =
        store_errorf("backup: cannot create %s: %s (the destination must not exist)", dest, strerror(errno));
    return -1;
  }
  struct stat st;
  char logcopy[4096], logpath[4096];
  snprintf(logpath, sizeof logpath, "%s/log", dir);
  if (stat(logpath, &st) != 0) {
    *err = store_errorf("backup: %s is not a store (no %s)", dir, logpath);
    return -1;
  }
  fstore *s = bk_open(dir, err); /* scanned to the end of the last complete frame */
  if (!s) return -1;
  uint64_t end = s->wbase;
  out->streams = s->nstreams;
  out->events = s->nevents;
  out->kv_keys = s->kv_live;
  snprintf(logcopy, sizeof logcopy, "%s/log.backup", dest);
  int rc = bk_copy(s->fd, s->log_path, logcopy, end, &bk_log_sites, err); /* the file this handle scanned */
  fstore_free(s);
  snprintf(logpath, sizeof logpath, "%s/log", dest);
  if (!rc && store_io_rename(STORE_IO_RENAME, logcopy, logpath) != 0) {
    *err = store_errorf("backup: renaming %s failed: %s", logcopy, strerror(errno));
    store_io_unlink(logcopy);
    rc = -1;
  }
  out->log_bytes = end;
  if (!rc) rc = bk_blobs(dir, dest, &out->blobs, err);
  if (!rc && store_fsync_dir(dest)) {
    *err = store_errorf("backup: fsync of %s failed: %s", dest, strerror(errno));
    rc = -1;
  }
  return rc;
}
