/* store_log.c — the store's append-only log file: creating it, scanning and
 * validating its checksummed transaction frames (recovery), applying their
 * records to the index, mapping it for reads and writing new frames.
 *
 * A frame is valid when its magic, its header (checksummed, recording the
 * frame's own file offset), its length and its CRC-32C check out. Scanning
 * stops at the first invalid frame. It is damage if the log is known to have
 * been synced past it: its own intact header says so (compaction output), or
 * a later frame that verifies at its own offset records a sync point beyond
 * it. Otherwise it is a torn tail (an interrupted, unacknowledged commit).
 * A frame copied into a string is not a frame: its header names the offset
 * of the original. Version-1 logs (frames without those fields) are read as
 * before and upgraded by the first writable open. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "crc32c.h"
#include "store_io.h"

#define SCAN_CHUNK (4u << 20)

static const char log_magic[8] = {'S', 'X', 'S', 'T', 'O', 'R', 'E', 0};

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put_le64(unsigned char *p, uint64_t v) {
  put_le32(p, (uint32_t)v);
  put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Process-wide: who hears the store's warnings (nobody by default: the
 * library never writes to stderr itself; the sx tools install a printer). */
static store_warning_fn warn_fn;
static void *warn_ctx;

void store_set_warning_hook(store_warning_fn fn, void *ctx) {
  warn_fn = fn;
  warn_ctx = ctx;
}

void store_warn(const char *msg) {
  if (warn_fn) warn_fn(msg, warn_ctx);
}

/* ---- small IO helpers ------------------------------------------------------ */

static int log_pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = store_io_pwrite(STORE_IO_LOG_WRITE, fd, c, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

static ssize_t log_pread_all(int fd, void *p, size_t n, uint64_t off) {
  char *c = p;
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, c + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/* ---- header ---------------------------------------------------------------- */

static void log_header(unsigned char h[LOG_HEADER_SIZE]) {
  memcpy(h, log_magic, 8);
  put_le32(h + 8, LOG_VERSION);
  put_le32(h + 12, store_crc32c(0, h, 12));
}

int store_log_create(const char *dir, const char *log_path, sx_val *err) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s/log.tmp", dir);
  unsigned char h[LOG_HEADER_SIZE];
  log_header(h);
  int fd = store_io_open(STORE_IO_LOG_CREATE, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const char *what = fd < 0                                  ? "cannot create"
                     : log_pwrite_all(fd, h, sizeof h, 0)    ? "write to"
                     : store_io_fsync(STORE_IO_LOG_SYNC, fd) ? "fsync of"
                                                             : NULL;
  if (what) {
    *err = store_errorf("store %s: %s %s failed: %s", dir, what, tmp, strerror(errno));
    if (fd >= 0) close(fd), store_io_unlink(tmp);
    return -1;
  }
  close(fd);
  if (store_io_rename(STORE_IO_RENAME, tmp, log_path)) {
    *err = store_errorf("store %s: renaming %s to %s failed: %s", dir, tmp, log_path, strerror(errno));
    store_io_unlink(tmp);
    return -1;
  }
  if (store_fsync_dir(dir)) { /* the log may not be durable: take it back */
    *err = store_errorf("store %s: fsync of the directory %s failed: %s", dir, dir, strerror(errno));
    store_io_unlink(log_path);
    return -1;
  }
  return 0;
}

int store_log_check_header(int fd, const char *path, sx_val *err) {
  unsigned char h[LOG_HEADER_SIZE], want[LOG_HEADER_SIZE];
  ssize_t n = log_pread_all(fd, h, sizeof h, 0);
  log_header(want);
  if (n != (ssize_t)sizeof h || memcmp(h, want, 8) != 0 || le32(h + 12) != store_crc32c(0, h, 12)) {
    *err = store_errorf("%s: not an sx store log (bad header at offset 0)", path);
    return -1;
  }
  if (le32(h + 8) != LOG_VERSION && le32(h + 8) != 1) {
    *err = store_errorf("%s: unsupported log version %u (this build reads version %u)", path, le32(h + 8),
                        LOG_VERSION);
    return -1;
  }
  return 0;
}

/* ---- chunked reader used by the scan ---------------------------------------- */

typedef struct scan_buf {
  int fd;
  unsigned char *data;
  size_t cap, len;
  uint64_t start; /* file offset of data[0] */
} scan_buf;

/* Make file bytes [off, off+n) available; returns a pointer, or NULL when
 * the read comes up short (the file shrank under the scan). The scan only
 * moves forward and asks only for bytes within size: b->start <= off and
 * off + n <= size. */
static const unsigned char *scan_load(scan_buf *b, uint64_t off, size_t n, uint64_t size) {
  if (off + n <= b->start + b->len) return b->data + (off - b->start);
  size_t want = n > SCAN_CHUNK ? n : SCAN_CHUNK;
  if (want > size - off) want = (size_t)(size - off);
  if (want > b->cap) {
    free(b->data);
    b->data = store_xmalloc(want);
    b->cap = want;
  }
  ssize_t r = log_pread_all(b->fd, b->data, want, off);
  b->start = off;
  b->len = r < 0 ? 0 : (size_t)r;
  return b->len >= n ? b->data : NULL;
}

/* ---- record parsing ---------------------------------------------------------- */

typedef struct rec_cursor {
  const unsigned char *p;
  size_t len, pos;
  uint64_t base; /* file offset of p[0] */
  const char *why;
  bool trusted; /* records a commit just encoded: values need no check */
} rec_cursor;

static int rc_uvarint(rec_cursor *c, uint64_t *v) {
  size_t n = codec_get_uvarint(c->p + c->pos, c->len - c->pos, v);
  if (!n) {
    c->why = "bad varint";
    return -1;
  }
  c->pos += n;
  return 0;
}

static int rc_bytes(rec_cursor *c, const char **p, size_t *n) {
  uint64_t len;
  if (rc_uvarint(c, &len)) return -1;
  if (len > c->len - c->pos) {
    c->why = "length runs past the frame";
    return -1;
  }
  *p = (const char *)c->p + c->pos;
  *n = (size_t)len;
  c->pos += (size_t)len;
  return 0;
}

static long scan_stream(fstore *s, const char *name, size_t n, bool create) {
  uint32_t h = store_hash(name, n);
  long i = store_stream_find(s, name, n, h);
  if (i < 0 && create) i = store_stream_add(s, sx_string_new(name, n), h);
  return i;
}

/* Every stored value is checked: decoded with verify (store check), else
 * walked without building it (every open). */
static int scan_verify_value(rec_cursor *c, const char *vp, size_t vn, bool verify) {
  sx_val v, err;
  size_t used;
  if (c->trusted) return 0;
  if ((verify ? store_decode(vp, vn, &used, &v, &err) : store_validate(vp, vn, &used, &err)) || used != vn) {
    c->why = "stored value does not decode";
    return -1;
  }
  return 0;
}

/* A length-prefixed value: its bytes and file offset. */
static int rc_value(rec_cursor *c, const char **vp, size_t *vn, uint64_t *voff) {
  uint64_t len;
  if (rc_uvarint(c, &len)) return -1;
  if (len > c->len - c->pos) {
    c->why = "value runs past the frame";
    return -1;
  }
  *voff = c->base + c->pos;
  *vp = (const char *)c->p + c->pos;
  *vn = (size_t)len;
  c->pos += (size_t)len;
  return 0;
}

static int scan_rec_append(fstore *s, rec_cursor *c, bool verify, char *why, size_t whycap) {
  const char *name, *vp;
  size_t nn, vn;
  uint64_t seq, voff;
  if (rc_bytes(c, &name, &nn) || rc_uvarint(c, &seq) || rc_value(c, &vp, &vn, &voff)) return -1;
  if (scan_verify_value(c, vp, vn, verify)) return -1;
  if (seq >= (uint64_t)INT64_MAX) { /* a high-water mark stays below INT64_MAX: hwm + 1 fits */
    c->why = "append with a seq out of range";
    return -1;
  }
  long si = scan_stream(s, name, nn, true);
  if ((int64_t)seq != s->streams[si].hwm + 1) {
    snprintf(why, whycap, "append with seq %llu does not follow the stream's high-water mark %lld",
             (unsigned long long)seq, (long long)s->streams[si].hwm);
    c->why = why;
    return -1;
  }
  store_ix_append(s, (size_t)si, (int64_t)seq, voff);
  return 0;
}

static int scan_rec_truncate(fstore *s, rec_cursor *c) {
  const char *name;
  size_t nn;
  uint64_t zn;
  if (rc_bytes(c, &name, &nn) || rc_uvarint(c, &zn)) return -1;
  long si = scan_stream(s, name, nn, false);
  if (si < 0) {
    c->why = "truncate of a stream that was never appended to";
    return -1;
  }
  store_ix_truncate(s, (size_t)si, codec_unzigzag(zn));
  store_ix_compact(s, (size_t)si);
  return 0;
}

/* H: a stream's high-water mark with no stored events (compaction writes
 * it for a stream whose first events were truncated away). */
static int scan_rec_hwm(fstore *s, rec_cursor *c) {
  const char *name;
  size_t nn;
  uint64_t seq;
  if (rc_bytes(c, &name, &nn) || rc_uvarint(c, &seq)) return -1;
  long si = scan_stream(s, name, nn, true);
  stream_ent *e = &s->streams[si];
  if (seq >= (uint64_t)INT64_MAX || (int64_t)seq < e->hwm || e->start != e->count) {
    c->why = "high-water mark below the stream's or with events stored";
    return -1;
  }
  e->hwm = (int64_t)seq;
  e->hwm_ver = e->ver = s->commit_no;
  return 0;
}

static int scan_rec_kv(fstore *s, rec_cursor *c, bool put, bool verify) {
  const char *key, *vp;
  size_t kn, vn;
  uint64_t voff = 0;
  if (rc_bytes(c, &key, &kn)) return -1;
  if (put && rc_value(c, &vp, &vn, &voff)) return -1;
  if (put && scan_verify_value(c, vp, vn, verify)) return -1;
  uint32_t h = store_hash(key, kn);
  long ki = store_kv_find(s, key, kn, h);
  if (ki < 0 && !put) return 0;
  if (ki < 0) ki = store_kv_add(s, sx_string_new(key, kn), h);
  store_ix_kv_set(s, (size_t)ki, voff);
  return 0;
}

/* Apply every record of one frame payload. Returns -1 with c->why set. */
static int scan_payload(fstore *s, rec_cursor *c, bool verify, size_t *nrec, char *why, size_t whycap) {
  while (c->pos < c->len) {
    int type = c->p[c->pos++];
    int rc;
    switch (type) {
      case REC_APPEND: rc = scan_rec_append(s, c, verify, why, whycap); break;
      case REC_TRUNCATE: rc = scan_rec_truncate(s, c); break;
      case REC_HWM: rc = scan_rec_hwm(s, c); break;
      case REC_PUT: rc = scan_rec_kv(s, c, true, verify); break;
      case REC_DELETE: rc = scan_rec_kv(s, c, false, verify); break;
      default: c->why = "unknown record type"; rc = -1;
    }
    if (rc) return -1;
    (*nrec)++;
  }
  return 0;
}

int store_log_apply(fstore *s, const unsigned char *payload, size_t len, uint64_t base, const char **why) {
  static __thread char buf[160];
  rec_cursor c = {payload, len, 0, base, NULL, true};
  size_t nrec = 0;
  if (scan_payload(s, &c, false, &nrec, buf, sizeof buf) == 0) return 0;
  *why = c.why;
  return -1;
}

/* ---- frame validation ----------------------------------------------------------- */

/* What a frame's head says. */
typedef struct frame_info {
  bool head_ok;    /* the head checked out: len (and synced) can be trusted */
  size_t head;     /* FRAME_HEAD, or FRAME_HEAD_V1 for a version-1 frame */
  uint64_t len;    /* payload bytes */
  uint64_t synced; /* version 2: the log was durable up to here before this frame */
} frame_info;

/* Check the head of a frame at file offset pos (avail bytes from there);
 * version-1 heads only with v1. */
static bool head_check(const unsigned char *d, uint64_t avail, uint64_t pos, bool v1, frame_info *fi,
                       const char **why) {
  memset(fi, 0, sizeof *fi);
  if (v1 && avail >= FRAME_HEAD_V1 + FRAME_TAIL && le32(d) == FRAME_MAGIC_V1) {
    fi->head = FRAME_HEAD_V1;
    fi->len = le32(d + 4);
    return fi->head_ok = true;
  }
  *why = avail < FRAME_HEAD + FRAME_TAIL                                  ? "incomplete frame header"
         : le32(d) != FRAME_MAGIC                                         ? "bad frame magic"
         : store_crc32c(0, d, FRAME_HEAD - 4) != le32(d + FRAME_HEAD - 4) ? "frame header checksum mismatch"
         : le64(d + 8) != pos              ? "the frame header records another offset"
         : le32(d + 4) > FRAME_MAX_PAYLOAD ? "bad frame length"
                                           : NULL;
  if (*why) return false;
  fi->head = FRAME_HEAD;
  fi->len = le32(d + 4);
  fi->synced = le64(d + 16);
  if (fi->synced > pos + FRAME_HEAD + fi->len + FRAME_TAIL) {
    *why = "the frame header records a sync point beyond the frame";
    return false;
  }
  return fi->head_ok = true;
}

/* Check a whole frame at d (avail bytes) whose head checked out. Returns its
 * total size, or 0 with *why set. */
static size_t frame_check(const unsigned char *d, uint64_t avail, const frame_info *fi, const char **why) {
  if (fi->len > avail - fi->head - FRAME_TAIL) {
    *why = "frame runs past the end of the file";
    return 0;
  }
  if (store_crc32c(0, d, fi->head + fi->len) != le32(d + fi->head + fi->len)) {
    *why = "frame checksum mismatch";
    return 0;
  }
  return (size_t)(fi->head + fi->len + FRAME_TAIL);
}

/* Is there, at or after offset from, a frame proving that the log was
 * synced past bad: a version-2 frame valid at its own offset recording a
 * sync point beyond bad, or (any_v1: a log only ever written in version 1)
 * any valid version-1 frame? */
static bool scan_evidence(int fd, uint64_t from, uint64_t size, uint64_t bad, bool any_v1) {
  if (from >= size) return false;
  size_t n = (size_t)(size - from);
  unsigned char *d = store_xmalloc(n);
  ssize_t r = log_pread_all(fd, d, n, from);
  bool found = false;
  const char *why;
  frame_info fi;
  static const unsigned char magic[4] = {0x53, 0x58, 0x46, 0x32}; /* FRAME_MAGIC, "SXF2" */
  for (size_t i = 0; r > 0 && i + FRAME_HEAD_V1 + FRAME_TAIL <= (size_t)r && !found; i++) {
    if (!any_v1) { /* only a version-2 frame can prove anything: jump to the next magic */
      const unsigned char *next = memmem(d + i, (size_t)r - i, magic, sizeof magic);
      if (!next) break;
      i = (size_t)(next - d);
      if (i + FRAME_HEAD_V1 + FRAME_TAIL > (size_t)r) break;
    }
    if (!head_check(d + i, (uint64_t)r - i, from + i, any_v1, &fi, &why) || /* checks the magic first */
        !frame_check(d + i, (uint64_t)r - i, &fi, &why))
      continue;
    found = fi.head == FRAME_HEAD_V1 || fi.synced > bad;
  }
  free(d);
  return found;
}

/* Is the file all zero bytes from offset from to size? (Space the writer
 * zero-filled ahead of the data; see store_log_write_out.) */
static bool scan_zero_tail(int fd, uint64_t from, uint64_t size) {
  static const unsigned char zero[4096];
  unsigned char buf[4096];
  while (from < size) {
    size_t n = size - from < sizeof buf ? (size_t)(size - from) : sizeof buf;
    if (log_pread_all(fd, buf, n, from) != (ssize_t)n || memcmp(buf, zero, n) != 0) return false;
    from += n;
  }
  return true;
}

/* The version in the log's header (checked at open). */
static uint32_t log_file_version(int fd) {
  unsigned char h[LOG_HEADER_SIZE];
  if (log_pread_all(fd, h, sizeof h, 0) != (ssize_t)sizeof h) return LOG_VERSION;
  return le32(h + 8);
}

/* The first invalid frame is at pos: the end of the data, a torn tail or
 * damage (see the header comment). */
static void scan_bad(fstore *s, scan_result *r, uint64_t pos, const char *why, const frame_info *fi) {
  r->bad_at = pos;
  if (scan_zero_tail(s->fd, pos, r->file_size)) {
    r->kind = SCAN_OK;
    r->zero_tail = r->file_size - pos;
    return;
  }
  bool v2_head = fi->head_ok && fi->head == FRAME_HEAD;
  uint64_t total = fi->head + fi->len + FRAME_TAIL;
  const char *proof = NULL;
  if (v2_head && fi->synced >= pos + total) proof = "its header records that it was synced";
  else if (scan_evidence(s->fd, v2_head ? pos + total : pos + 1, r->file_size, pos,
                         !s->v2_frames && log_file_version(s->fd) == 1))
    proof = "a later frame records that the log was synced past it";
  r->kind = proof ? SCAN_DAMAGE : SCAN_TORN;
  if (proof) snprintf(r->reason, sizeof r->reason, "%s (%s, so this is not a torn tail)", why, proof);
  else snprintf(r->reason, sizeof r->reason, "%s", why);
}

void store_log_scan(fstore *s, bool verify, uint64_t limit, scan_result *r) {
  memset(r, 0, sizeof *r);
  struct stat st;
  if (fstat(s->fd, &st)) {
    r->kind = SCAN_IOERR;
    snprintf(r->reason, sizeof r->reason, "cannot stat: %s", strerror(errno));
    return;
  }
  r->file_size = (uint64_t)st.st_size;
  if (limit && limit < r->file_size) r->file_size = limit;
  scan_buf b = {s->fd, NULL, 0, 0, 0};
  uint64_t pos = s->wbase;
  char why[160];
  while (pos < r->file_size) {
    const char *bad = "incomplete frame header";
    uint64_t avail = r->file_size - pos;
    frame_info fi = {0};
    size_t total = 0;
    size_t headn = avail < FRAME_HEAD ? (size_t)avail : FRAME_HEAD;
    const unsigned char *d = scan_load(&b, pos, headn, r->file_size);
    if (d && head_check(d, avail, pos, !s->v2_frames, &fi, &bad) && fi.len <= avail - fi.head - FRAME_TAIL)
      d = scan_load(&b, pos, fi.head + fi.len + FRAME_TAIL, r->file_size);
    if (d && fi.head_ok) total = frame_check(d, avail, &fi, &bad);
    if (!total) {
      scan_bad(s, r, pos, bad, &fi);
      break;
    }
    rec_cursor c = {d + fi.head, total - fi.head - FRAME_TAIL, 0, pos + fi.head, NULL, false};
    s->commit_no++; /* each frame is one commit */
    if (scan_payload(s, &c, verify, &r->records, why, sizeof why)) {
      r->kind = SCAN_DAMAGE;
      r->bad_at = c.base + c.pos;
      snprintf(r->reason, sizeof r->reason, "bad record in the frame at offset %llu: %s",
               (unsigned long long)pos, c.why);
      break;
    }
    r->frames++;
    if (fi.head == FRAME_HEAD) s->v2_frames = true;
    pos += total;
  }
  free(b.data);
  r->end = pos;
}

/* ---- after a writable open's scan ------------------------------------------------- */

/* Record (and tell the warning hook) what the open had to do. */
static void log_warn(fstore *s, const char *msg) {
  free(s->warning);
  s->warning = store_xstrdup(msg);
  store_warn(msg);
}

/* Cut off the torn tail found by the scan, saying so. */
static int log_cut_torn(fstore *s, scan_result *r, sx_val *err) {
  if (store_io_ftruncate(STORE_IO_LOG_TRUNC, s->fd, (off_t)r->end)) {
    *err = store_errorf("store %s: cannot discard the torn tail of %s at offset %llu: %s", s->dir,
                        s->log_path, (unsigned long long)r->end, strerror(errno));
    return -1;
  }
  s->torn_discarded = r->file_size - r->end;
  char msg[1024];
  snprintf(msg, sizeof msg,
           "store %s: discarded %llu bytes of %s at offset %llu: a torn tail (%s), the remains of "
           "a commit interrupted by a crash, never acknowledged",
           s->dir, (unsigned long long)s->torn_discarded, s->log_path, (unsigned long long)r->end, r->reason);
  log_warn(s, msg);
  r->file_size = r->end;
  return 0;
}

int store_log_opened(fstore *s, scan_result *r, sx_val *err) {
  if (r->kind == SCAN_TORN && log_cut_torn(s, r, err)) return -1;
  const char *what = NULL;
  if (log_file_version(s->fd) != LOG_VERSION) { /* from now on version-2 frames follow */
    unsigned char h[LOG_HEADER_SIZE];
    log_header(h);
    if (log_pwrite_all(s->fd, h, sizeof h, 0)) what = "upgrading the header of";
  }
  /* Frames written from now on record that everything before them is durable. */
  if (!what && store_io_fdatasync(STORE_IO_LOG_SYNC, s->fd)) what = "fdatasync of";
  if (what) {
    *err = store_errorf("store %s: %s %s at open failed: %s", s->dir, what, s->log_path, strerror(errno));
    return -1;
  }
  s->synced_end = r->end;
  return 0;
}

void store_frame_seal(sx_buf *b, size_t head, size_t plen, uint64_t off, uint64_t synced) {
  unsigned char *h = (unsigned char *)b->data + head, t[FRAME_TAIL];
  put_le32(h, FRAME_MAGIC);
  put_le32(h + 4, (uint32_t)plen);
  put_le64(h + 8, off);
  put_le64(h + 16, synced);
  put_le32(h + 24, store_crc32c(0, h, FRAME_HEAD - 4));
  put_le32(t, store_crc32c(0, h, FRAME_HEAD + plen));
  sx_buf_put(b, t, FRAME_TAIL);
}

/* ---- mapping for reads -------------------------------------------------------------- */

static int log_map_to(fstore *s, size_t len) {
  void *m;
  if (s->map) m = mremap((void *)s->map, s->map_len, len, MREMAP_MAYMOVE);
  else m = mmap(NULL, len, PROT_READ, MAP_SHARED, s->fd, 0);
  if (m == MAP_FAILED) return -1;
  s->map = m;
  s->map_len = len;
  return 0;
}

void store_log_unmap(fstore *s) {
  if (s->map) munmap((void *)s->map, s->map_len);
  s->map = NULL;
  s->map_len = 0;
}

const unsigned char *store_log_bytes(fstore *s, uint64_t off, size_t *avail) {
  if (off >= s->wbase) {
    size_t i = (size_t)(off - s->wbase);
    if (i < s->inflight.len) {
      *avail = s->inflight.len - i;
      return (const unsigned char *)s->inflight.data + i;
    }
    i -= s->inflight.len;
    assert(i < s->wbuf.len); /* the index names only committed frames */
    *avail = s->wbuf.len - i;
    return (const unsigned char *)s->wbuf.data + i;
  }
  if (off >= s->map_len && log_map_to(s, (size_t)s->wbase)) return NULL;
  *avail = s->map_len - (size_t)off;
  return s->map + off;
}

/* ---- writing -------------------------------------------------------------------------- */

/* Zero-fill the log ahead of the data so that commits overwrite allocated,
 * already-written blocks: fdatasync then flushes data only, not the inode
 * (size and block map), which halves the IO of a full-mode commit. */
/* Write zeros over [from, end). */
static int log_zero_fill(int fd, uint64_t from, uint64_t end) {
  static const char zero[65536];
  for (uint64_t at = from; at < end;) {
    size_t n = end - at < sizeof zero ? (size_t)(end - at) : sizeof zero;
    if (log_pwrite_all(fd, zero, n, at)) return -1;
    at += n;
  }
  return 0;
}

/* On a full disk the step shrinks (halving, down to just what is needed),
 * so that a commit that still fits is not refused for want of headroom. */
static log_write_rc log_extend(fstore *s, uint64_t need_end) {
  uint64_t chunk = s->file_end < (64u << 20) ? (1u << 20) : (4u << 20);
  uint64_t end;
  for (;;) {
    end = need_end + chunk;
    if (log_zero_fill(s->fd, s->file_end, end) == 0) break;
    if ((errno != ENOSPC && errno != EDQUOT && errno != EFBIG) || chunk == 0) return LOG_WRITE_FAILED;
    chunk = chunk > 4096 ? chunk / 2 : 0;
  }
  if (s->opts.sync != STORE_SYNC_OFF && store_io_fdatasync(STORE_IO_LOG_SYNC, s->fd)) return LOG_WRITE_REFUSE;
  s->file_end = end;
  return LOG_WRITE_OK;
}

log_write_rc store_log_write(fstore *s, const sx_buf *buf, uint64_t at, char *msg, size_t cap) {
  if (buf->len == 0) return LOG_WRITE_OK;
  log_write_rc rc = LOG_WRITE_OK;
  if (at + buf->len > s->file_end) rc = log_extend(s, at + buf->len);
  if (rc == LOG_WRITE_OK && log_pwrite_all(s->fd, buf->data, buf->len, at)) rc = LOG_WRITE_FAILED;
  if (rc == LOG_WRITE_OK) return rc;
  snprintf(msg, cap, "store %s: %s %s failed: %s", s->dir,
           rc == LOG_WRITE_REFUSE ? "fdatasync of" : "write to", s->log_path, strerror(errno));
  /* Cut off what was partly written. If that fails, or a sync failed (the
   * kernel's copy of the file is in doubt), the handle must refuse writes. */
  if (store_io_ftruncate(STORE_IO_LOG_TRUNC, s->fd, (off_t)at) == 0) {
    s->file_end = at;
  } else {
    size_t n = strlen(msg); /* < cap, also when the message above was cut short */
    snprintf(msg + n, cap - n, " (and cutting the log back failed: %s)", strerror(errno));
    rc = LOG_WRITE_REFUSE;
  }
  return rc;
}

int store_log_write_out(fstore *s, sx_val *err) {
  char msg[1024];
  log_write_rc rc = store_log_write(s, &s->wbuf, s->wbase, msg, sizeof msg);
  if (rc == LOG_WRITE_OK) {
    s->wbase += s->wbuf.len;
    sx_buf_reset(&s->wbuf);
    return 0;
  }
  if (rc == LOG_WRITE_REFUSE) store_log_refuse(s, msg, NULL);
  *err = sx_string_cstr(s->failed ? s->failed : msg);
  return -1;
}

/* From now on the handle refuses writes, naming the first failure. */
void store_log_refuse(fstore *s, const char *why, const char *also) {
  static const char tail[] = "; the store refuses further writes until it is reopened";
  if (s->failed) return;
  char msg[1200];
  if (also) snprintf(msg, sizeof msg, "%s (and cutting the log back failed: %s)%s", why, also, tail);
  else snprintf(msg, sizeof msg, "%s%s", why, tail);
  s->failed = store_xstrdup(msg);
}

int store_log_sync(fstore *s, sx_val *err) {
  if (store_io_fdatasync(STORE_IO_LOG_SYNC, s->fd) == 0) return 0;
  *err = store_errorf("store %s: fdatasync of %s failed: %s", s->dir, s->log_path, strerror(errno));
  store_log_refuse(s, sx_str_data(*err), NULL);
  *err = sx_string_cstr(s->failed);
  return -1;
}
