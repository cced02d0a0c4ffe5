/* store.c — the store's public API (store.h): opening and locking a store
 * directory, the log and kv facets, implicit transactions with commit and
 * rollback, sync modes (including the batch-mode background flusher),
 * refresh for read-only handles, statistics and whole-store checking. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "codec.h"
#include "crc32c.h"
#include "store_io.h"
#include "sx_dict.h"

#define DEFAULT_CACHE_BYTES (64u << 20)
#define DEFAULT_BATCH_MS 10u
#define CONS_COST 16u /* bytes of one cached list cell (sx_pair) */

/* ---- messages ------------------------------------------------------------------ */

const char *store_quote(sx_val str, char *buf, size_t cap) {
  size_t o = 0, n = sx_str_len(str);
  const unsigned char *p = (const unsigned char *)sx_str_data(str);
  for (size_t i = 0; i < n && o + 8 < cap; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') buf[o++] = (char)p[i];
    else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", p[i]);
  }
  if (o + 8 >= cap && cap > 4) o = cap - 4, memcpy(buf + o, "...", 3), o += 3;
  buf[o] = '\0';
  return buf;
}

const char *store_sync_name(store_sync m) {
  return m == STORE_SYNC_BATCH ? "batch" : m == STORE_SYNC_OFF ? "off" : "full";
}

const char *store_dir(store *s) { return s->dir; }

static int st_writable(store *s, sx_val *err) {
  if (s->opts.read_only) {
    *err = store_errorf("store %s is open read-only", s->dir);
    return -1;
  }
  if (s->failed) {
    *err = sx_string_cstr(s->failed);
    return -1;
  }
  return 0;
}

static int st_need_string(sx_val v, const char *op, const char *what, sx_val *err) {
  if (sx_is_string(v)) return 0;
  *err = store_errorf("%s: %s must be a string, got %s", op, what, sx_type_name(v));
  return -1;
}

/* ---- batch-mode flusher ---------------------------------------------------------- */

struct store_flusher {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool dirty, stop;
  int fd, err;
  unsigned window_ms;
};

static void *flusher_main(void *arg) {
  store_flusher *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (!f->dirty && !f->stop) pthread_cond_wait(&f->cv, &f->mu);
    if (!f->dirty) break;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += (long)(f->window_ms % 1000) * 1000000L;
    dl.tv_sec += f->window_ms / 1000 + dl.tv_nsec / 1000000000L;
    dl.tv_nsec %= 1000000000L;
    while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &dl) != ETIMEDOUT) {}
    f->dirty = false;
    pthread_mutex_unlock(&f->mu);
    int rc = store_io_fdatasync(STORE_IO_BATCH_SYNC, f->fd);
    pthread_mutex_lock(&f->mu);
    if (rc && !f->err) f->err = errno;
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

static int flusher_start(store *s, sx_val *err) {
  store_flusher *f = calloc(1, sizeof *f);
  if (!f) abort();
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->fd = s->fd;
  f->window_ms = s->opts.batch_window_ms;
  if (pthread_create(&f->th, NULL, flusher_main, f)) {
    free(f);
    *err = store_errorf("store %s: cannot start the batch flusher thread", s->dir);
    return -1;
  }
  s->flusher = f;
  return 0;
}

/* Note new unsynced data; returns a pending fdatasync error (errno) or 0. */
static int flusher_mark(store *s) {
  store_flusher *f = s->flusher;
  pthread_mutex_lock(&f->mu);
  f->dirty = true;
  int e = f->err;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  return e;
}

/* A pending background fdatasync error (errno) or 0. */
static int flusher_error(store *s) {
  store_flusher *f = s->flusher;
  pthread_mutex_lock(&f->mu);
  int e = f->err;
  pthread_mutex_unlock(&f->mu);
  return e;
}

static int flusher_stop(store *s) {
  store_flusher *f = s->flusher;
  if (!f) return 0;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->th, NULL);
  int e = f->err;
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f);
  s->flusher = NULL;
  return e;
}

/* ---- open / close ------------------------------------------------------------------ */

static void st_free(store *s) {
  flusher_stop(s);
  store_log_unmap(s);
  if (s->fd >= 0) close(s->fd);
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
  store_ix_free(s);
  sx_buf_free(&s->wbuf);
  sx_buf_free(&s->scratch);
  free(s->dir);
  free(s->log_path);
  free(s->failed);
  free(s->warning);
  GC_FREE(s);
}

/* mkdir -p, fsyncing each parent whose entries change. */
static int st_mkdirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) return -1;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    char c = path[i];
    path[i] = '\0';
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      path[i] = c;
      continue;
    }
    if (store_io_mkdir(STORE_IO_MKDIR, path, 0755) == 0) {
      char *slash = strrchr(path, '/');
      int rc;
      if (slash && slash != path) {
        *slash = '\0';
        rc = store_fsync_dir(path);
        *slash = '/';
      } else {
        rc = store_fsync_dir(slash ? "/" : ".");
      }
      if (rc) { /* the new name may not be durable: take it back */
        int e = errno;
        rmdir(path);
        errno = e;
        return -1;
      }
    } else if (errno != EEXIST) {
      return -1;
    }
    path[i] = c;
  }
  return 0;
}

static int st_read_pid(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return atoi(buf);
}

static int st_lock(store *s, sx_val *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/lock", s->dir);
  s->lock_fd = store_io_open(STORE_IO_LOCK, path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0) {
    *err = store_errorf("store %s: cannot open %s: %s", s->dir, path, strerror(errno));
    return -1;
  }
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno, pid = 0;
    if (e != EWOULDBLOCK) {
      *err = store_errorf("store %s: cannot lock %s: %s", s->dir, path, strerror(e));
      return -1;
    }
    for (int tries = 0; tries < 100 && (pid = st_read_pid(s->lock_fd)) == 0; tries++)
      usleep(2000); /* the owner writes its pid right after locking */
    if (pid) *err = store_errorf("store %s is locked by pid %d", s->dir, pid);
    else *err = store_errorf("store %s is locked by another process", s->dir);
    return -1;
  }
  char pidbuf[32];
  int n = snprintf(pidbuf, sizeof pidbuf, "%d\n", (int)getpid());
  if (store_io_ftruncate(STORE_IO_LOCK, s->lock_fd, 0) ||
      store_io_pwrite(STORE_IO_LOCK, s->lock_fd, pidbuf, (size_t)n, 0) != n) {
    *err = store_errorf("store %s: cannot record the owner in %s: %s", s->dir, path, strerror(errno));
    return -1;
  }
  return 0;
}

static int st_prepare_dir(store *s, sx_val *err) {
  struct stat st;
  if (s->opts.read_only) {
    if (stat(s->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      *err = store_errorf("store %s does not exist", s->dir);
      return -1;
    }
    if (stat(s->log_path, &st) != 0) {
      *err = store_errorf("store %s has no log (%s is missing)", s->dir, s->log_path);
      return -1;
    }
    return 0;
  }
  if (st_mkdirs(s->dir)) {
    *err = store_errorf("store %s: cannot create the directory: %s", s->dir, strerror(errno));
    return -1;
  }
  if (st_lock(s, err)) return -1;
  if (stat(s->log_path, &st) != 0 && store_log_create(s->dir, s->log_path, err)) return -1;
  return 0;
}

static int st_recover(store *s, sx_val *err) {
  scan_result r;
  store_log_scan(s, false, &r);
  if (r.kind == SCAN_IOERR) {
    *err = store_errorf("store %s: cannot read %s: %s", s->dir, s->log_path, r.reason);
    return -1;
  }
  if (r.kind == SCAN_DAMAGE) {
    *err = store_errorf("store %s: %s is damaged at offset %llu: %s", s->dir, s->log_path,
                        (unsigned long long)r.bad_at, r.reason);
    return -1;
  }
  if (!s->opts.read_only && store_log_opened(s, &r, err)) return -1;
  s->wbase = r.end;
  s->file_end = r.file_size;
  store_ix_shrink(s);
  return 0;
}

static store *st_new(const char *dir, const store_opts *opts) {
  store *s = GC_MALLOC_UNCOLLECTABLE(sizeof *s);
  if (!s) abort();
  memset(s, 0, sizeof *s);
  s->fd = s->lock_fd = -1;
  if (opts) s->opts = *opts;
  if (!s->opts.batch_window_ms) s->opts.batch_window_ms = DEFAULT_BATCH_MS;
  s->cache_budget = s->opts.cache_bytes ? s->opts.cache_bytes : DEFAULT_CACHE_BYTES;
  s->dir = strdup(dir);
  size_t n = strlen(dir) + 5;
  s->log_path = malloc(n);
  if (!s->dir || !s->log_path) abort();
  snprintf(s->log_path, n, "%s/log", dir);
  s->wbase = LOG_HEADER_SIZE;
  return s;
}

int store_open(const char *dir, const store_opts *opts, store **out, sx_val *err) {
  *out = NULL;
  if (!dir || !*dir) {
    *err = store_errorf("store_open: the store directory name is empty");
    return -1;
  }
  store *s = st_new(dir, opts);
  if (st_prepare_dir(s, err)) goto fail;
  s->fd = open(s->log_path, (s->opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (s->fd < 0) {
    *err = store_errorf("store %s: cannot open %s: %s", dir, s->log_path, strerror(errno));
    goto fail;
  }
  if (store_log_check_header(s->fd, s->log_path, err) || st_recover(s, err)) goto fail;
  if (!s->opts.read_only && s->opts.sync == STORE_SYNC_BATCH && flusher_start(s, err)) goto fail;
  *out = s;
  return 0;
fail:
  st_free(s);
  return -1;
}

int store_close(store *s, sx_val *err) {
  if (!s) return 0;
  int rc = 0;
  store_rollback(s);
  int ferr = flusher_stop(s);
  if (!s->opts.read_only && s->failed && s->wcommitted) {
    *err = store_errorf("%s: %zu bytes of committed but unwritten frames are lost", s->failed,
                        s->wcommitted);
    rc = -1;
  } else if (!s->opts.read_only && !s->failed) {
    if (store_log_write_out(s, err)) rc = -1;
    else if (s->opts.sync != STORE_SYNC_OFF && store_log_sync(s, err)) rc = -1;
    else if (ferr) {
      *err = store_errorf("store %s: a background fdatasync failed: %s", s->dir, strerror(ferr));
      rc = -1;
    }
  }
  st_free(s);
  return rc;
}

/* ---- reading stored values --------------------------------------------------------- */

/* Decode the value at log offset off. On failure returns an SX error value
 * naming the file and offset. */
static int st_value_at(store *s, uint64_t off, sx_val *out, size_t *used) {
  size_t avail;
  sx_val derr;
  const unsigned char *p = store_log_bytes(s, off, &avail);
  if (!p) {
    *out = sx_error_new(store_errorf("store %s: cannot read %s at offset %llu", s->dir, s->log_path,
                                     (unsigned long long)off), SX_NIL);
    return -1;
  }
  if (store_decode(p, avail, used, out, &derr)) {
    *out = sx_error_new(store_errorf("store %s: %s: the value at offset %llu does not decode: %s",
                                     s->dir, s->log_path, (unsigned long long)off, sx_str_data(derr)),
                        SX_NIL);
    return -1;
  }
  return 0;
}

static long st_stream(store *s, sx_val name) {
  if (!sx_is_string(name)) return -1;
  return store_stream_find(s, sx_str_data(name), sx_str_len(name),
                           store_hash(sx_str_data(name), sx_str_len(name)));
}

static long st_key(store *s, sx_val key) {
  if (!sx_is_string(key)) return -1;
  return store_kv_find(s, sx_str_data(key), sx_str_len(key),
                       store_hash(sx_str_data(key), sx_str_len(key)));
}

/* ---- transactions ------------------------------------------------------------------- */

static void st_txn_begin(store *s) {
  if (s->txn_open) return;
  s->txn_start = s->wbuf.len;
  static const char zero[FRAME_HEAD];
  sx_buf_put(&s->wbuf, zero, FRAME_HEAD);
  s->txn_open = true;
}

bool store_pending(store *s) { return s->txn_open; }

void store_rollback(store *s) {
  if (!s->txn_open) return;
  store_ix_undo_all(s);
  s->wbuf.len = s->txn_start;
  s->wbuf.data[s->wbuf.len] = '\0';
  s->txn_open = false;
}

/* Seal the pending frame: fill its head and append its checksum. */
static void st_seal_frame(store *s, size_t plen) {
  uint64_t off = s->wbase + s->txn_start; /* full mode: every earlier frame was synced */
  store_frame_seal(&s->wbuf, s->txn_start, plen, off,
                   s->opts.sync == STORE_SYNC_FULL ? off : s->synced_end);
  s->txn_open = false;
}

/* The sealed frame could not be written: forget it and undo its changes. */
static void st_unseal(store *s) {
  s->wbuf.len = s->txn_start;
  s->wbuf.data[s->wbuf.len] = '\0';
  s->wcommitted = s->txn_start;
  store_ix_undo_all(s);
}

/* A full-mode commit's frame was written but could not be synced: cut it
 * off the log again and undo its changes, so the failed commit is not
 * stored (the handle refuses further writes either way). */
static void st_cut_frame(store *s, uint64_t frame_off, sx_val *err) {
  if (store_io_ftruncate(STORE_IO_LOG_TRUNC, s->fd, (off_t)frame_off) == 0) {
    s->wbase = s->file_end = frame_off;
  } else { /* the frame stays in the log: say so */
    *err = store_errorf("%s (cutting the unsynced commit off the log failed too: %s; the next "
                        "open may keep it)",
                        s->failed, strerror(errno));
    free(s->failed);
    s->failed = strdup(sx_str_data(*err));
    if (!s->failed) abort();
  }
  store_ix_undo_all(s);
}

/* Batch mode: has the background fdatasync failed since the last commit? */
static int st_batch_failed(store *s, sx_val *err) {
  int e = flusher_error(s);
  if (!e) return 0;
  *err = store_errorf("store %s: a background fdatasync of %s failed: %s (commits of the last "
                      "%u ms may not be durable)",
                      s->dir, s->log_path, strerror(e), s->opts.batch_window_ms);
  store_log_refuse(s, sx_str_data(*err), NULL);
  *err = sx_string_cstr(s->failed);
  return -1;
}

int store_commit(store *s, sx_val *err) {
  if (!s->txn_open) return 0;
  if (s->failed) {
    store_rollback(s);
    *err = sx_string_cstr(s->failed);
    return -1;
  }
  if (s->opts.sync == STORE_SYNC_BATCH && st_batch_failed(s, err)) {
    store_rollback(s);
    return -1;
  }
  size_t plen = s->wbuf.len - s->txn_start - FRAME_HEAD;
  if (plen > FRAME_MAX_PAYLOAD) {
    store_rollback(s);
    *err = store_errorf("store %s: the transaction is too large (%zu bytes; the limit is %u)", s->dir,
                        plen, FRAME_MAX_PAYLOAD);
    return -1;
  }
  uint64_t frame_off = s->wbase + s->txn_start;
  st_seal_frame(s, plen);
  s->wcommitted = s->wbuf.len;
  bool write_now = s->opts.sync != STORE_SYNC_OFF || s->wcommitted >= OFF_BUFFER_LIMIT;
  if (write_now && store_log_write_out(s, err)) {
    st_unseal(s);
    return -1;
  }
  if (s->opts.sync == STORE_SYNC_FULL && store_log_sync(s, err)) {
    st_cut_frame(s, frame_off, err);
    return -1;
  }
  store_ix_undo_clear(s);
  if (s->opts.sync == STORE_SYNC_BATCH) flusher_mark(s); /* errors show at the next commit */
  return 0;
}

int store_flush(store *s, sx_val *err) {
  if (s->opts.read_only) return 0;
  if (s->failed) {
    *err = sx_string_cstr(s->failed);
    return -1;
  }
  if (s->flusher && st_batch_failed(s, err)) return -1;
  if (store_log_write_out(s, err)) return -1;
  return store_log_sync(s, err);
}

int store_refresh(store *s, sx_val *err) {
  if (!s->opts.read_only) return 0;
  if (s->failed) {
    *err = sx_string_cstr(s->failed);
    return -1;
  }
  struct stat a, b; /* a compaction renames a new log over the one this handle reads */
  if (fstat(s->fd, &a) == 0 && stat(s->log_path, &b) == 0 && (a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
    *err = store_errorf("store %s: %s was replaced (compacted) since this handle opened it; reopen "
                        "the store", s->dir, s->log_path);
    return -1;
  }
  scan_result r;
  store_log_scan(s, false, &r);
  if (r.kind == SCAN_DAMAGE || r.kind == SCAN_IOERR) {
    *err = store_errorf("store %s: %s is damaged at offset %llu: %s", s->dir, s->log_path,
                        (unsigned long long)r.bad_at, r.reason);
    s->failed = strdup(sx_str_data(*err));
    return -1;
  }
  s->wbase = r.end; /* a torn tail here is a commit still being written */
  return 0;
}

/* ---- log facet ------------------------------------------------------------------------ */

static sx_val seq_key; /* kept alive by this static root */
static void st_seq_key_init(void) { seq_key = sx_string_cstr("seq"); }

/* "seq", made once whichever thread gets here first. */
static sx_val st_seq_key(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, st_seq_key_init);
  return seq_key;
}

static int st_check_event(store *s, sx_val stream, sx_val event, long si, int64_t *seq, sx_val *err) {
  char q[96];
  if (!sx_is_dict(event)) {
    *err = store_errorf("append to stream \"%s\": the event must be a dict, got %s",
                        store_quote(stream, q, sizeof q), sx_type_name(event));
    return -1;
  }
  sx_val sv = sx_dict_lookup(event, st_seq_key());
  if (sv == SX_UNDEF || !sx_is_int(sv)) {
    *err = store_errorf("append to stream \"%s\": the event has no integer :seq",
                        store_quote(stream, q, sizeof q));
    return -1;
  }
  int64_t hwm = si >= 0 ? s->streams[si].hwm : 0;
  *seq = sx_int_val(sv);
  if (*seq != hwm + 1) {
    *err = store_errorf("append to stream \"%s\": event :seq %lld does not follow the stream's "
                        "last seq %lld (expected %lld)",
                        store_quote(stream, q, sizeof q), (long long)*seq, (long long)hwm,
                        (long long)(hwm + 1));
    return -1;
  }
  return 0;
}

/* Write a record head (type + length-prefixed name) into the pending frame. */
static void st_rec_head(store *s, int type, sx_val name) {
  st_txn_begin(s);
  sx_buf_putc(&s->wbuf, (char)type);
  codec_put_uvarint(&s->wbuf, sx_str_len(name));
  sx_buf_put(&s->wbuf, sx_str_data(name), sx_str_len(name));
}

/* Append the scratch-encoded value, length-prefixed; returns its offset. */
static uint64_t st_rec_value(store *s) {
  codec_put_uvarint(&s->wbuf, s->scratch.len);
  uint64_t off = s->wbase + s->wbuf.len;
  sx_buf_put(&s->wbuf, s->scratch.data, s->scratch.len);
  return off;
}

int store_append(store *s, sx_val stream, sx_val event, sx_val *err) {
  int64_t seq;
  if (st_writable(s, err) || st_need_string(stream, "append", "the stream name", err)) return -1;
  long si = st_stream(s, stream);
  if (st_check_event(s, stream, event, si, &seq, err)) return -1;
  sx_buf_reset(&s->scratch);
  if (store_encode(&s->scratch, event, err)) return -1;
  st_rec_head(s, REC_APPEND, stream);
  codec_put_uvarint(&s->wbuf, (uint64_t)seq);
  uint64_t off = st_rec_value(s);
  if (si < 0) {
    si = store_stream_add(s, stream, store_hash(sx_str_data(stream), sx_str_len(stream)));
    store_ix_note_new(s, true, (size_t)si);
  }
  store_ix_append(s, (size_t)si, seq, off, true);
  stream_ent *e = &s->streams[si];
  if (e->cache) { /* the caller's event is immutable: cache it as is */
    e->cache[e->count - 1] = event;
    e->cache_est += s->scratch.len + CONS_COST;
    s->cache_used += s->scratch.len + CONS_COST;
  }
  return 0;
}

sx_val store_read(store *s, sx_val stream) {
  long si = st_stream(s, stream);
  if (si < 0) return SX_EMPTY;
  stream_ent *e = &s->streams[si];
  if (e->list && e->list_start == e->start && e->list_count == e->count) return e->list;
  if (e->start == e->count) return SX_EMPTY;
  if (!e->cache) {
    e->cache = GC_MALLOC(e->cap * sizeof *e->cache);
    if (!e->cache) abort();
    memset(e->cache, 0, e->cap * sizeof *e->cache);
  }
  sx_val list = SX_EMPTY;
  size_t added = 0;
  for (size_t i = e->count; i-- > e->start;) {
    sx_val v = e->cache[i];
    size_t used;
    if (!v) {
      if (st_value_at(s, e->offs[i], &v, &used)) return v; /* an error value */
      e->cache[i] = v;
      added += used + CONS_COST;
    }
    list = sx_cons(v, list);
  }
  e->list = list;
  e->list_start = e->start;
  e->list_count = e->count;
  e->cache_est += added;
  s->cache_used += added;
  store_cache_trim(s, e);
  return list;
}

int64_t store_last_seq(store *s, sx_val stream) {
  long si = st_stream(s, stream);
  return si < 0 ? 0 : s->streams[si].hwm;
}

static int st_cmp_strings(const void *a, const void *b) {
  return sx_string_cmp(*(const sx_val *)a, *(const sx_val *)b);
}

/* A list of n strings sorted in byte order. */
static sx_val st_sorted_list(sx_val *items, size_t n) {
  qsort(items, n, sizeof *items, st_cmp_strings);
  return sx_list(n, items);
}

sx_val store_streams(store *s) {
  if (s->streams_list) return s->streams_list;
  sx_val *names = GC_MALLOC((s->nstreams + 1) * sizeof *names);
  if (!names) abort();
  for (size_t i = 0; i < s->nstreams; i++) names[i] = s->streams[i].name;
  s->streams_list = st_sorted_list(names, s->nstreams);
  return s->streams_list;
}

int store_truncate(store *s, sx_val stream, int64_t n, sx_val *err) {
  if (st_writable(s, err) || st_need_string(stream, "truncate", "the stream name", err)) return -1;
  long si = st_stream(s, stream);
  if (si < 0) return 0; /* nothing stored: nothing to drop */
  if (!store_ix_truncate(s, (size_t)si, n, true)) return 0;
  st_rec_head(s, REC_TRUNCATE, stream);
  codec_put_uvarint(&s->wbuf, codec_zigzag(n));
  return 0;
}

/* ---- kv facet -------------------------------------------------------------------------- */

sx_val store_kv_get(store *s, sx_val key) {
  long ki = st_key(s, key);
  if (ki < 0 || !s->kv[ki].off) return SX_NIL;
  kv_ent *e = &s->kv[ki];
  if (e->cached) return e->cached;
  sx_val v;
  size_t used;
  if (st_value_at(s, e->off, &v, &used)) return v;
  store_cache_trim(s, NULL);
  e->cached = v;
  e->cache_est = used;
  s->cache_used += used;
  return v;
}

bool store_kv_has(store *s, sx_val key) {
  long ki = st_key(s, key);
  return ki >= 0 && s->kv[ki].off != 0;
}

int store_kv_put(store *s, sx_val key, sx_val val, sx_val *err) {
  if (st_writable(s, err) || st_need_string(key, "kv-put", "the key", err)) return -1;
  sx_buf_reset(&s->scratch);
  if (store_encode(&s->scratch, val, err)) return -1;
  st_rec_head(s, REC_PUT, key);
  uint64_t off = st_rec_value(s);
  long ki = st_key(s, key);
  if (ki < 0) {
    ki = store_kv_add(s, key, store_hash(sx_str_data(key), sx_str_len(key)));
    store_ix_note_new(s, false, (size_t)ki);
  }
  store_ix_kv_set(s, (size_t)ki, off, true);
  s->kv[ki].cached = val;
  s->kv[ki].cache_est = s->scratch.len;
  s->cache_used += s->scratch.len;
  return 0;
}

int store_kv_delete(store *s, sx_val key, sx_val *err) {
  if (st_writable(s, err) || st_need_string(key, "kv-delete", "the key", err)) return -1;
  long ki = st_key(s, key);
  if (ki < 0 || !s->kv[ki].off) return 0;
  st_rec_head(s, REC_DELETE, key);
  store_ix_kv_set(s, (size_t)ki, 0, true);
  return 0;
}

sx_val store_kv_keys(store *s) {
  if (s->keys_list) return s->keys_list;
  sx_val *keys = GC_MALLOC((s->nkv + 1) * sizeof *keys);
  if (!keys) abort();
  size_t n = 0;
  for (size_t i = 0; i < s->nkv; i++)
    if (s->kv[i].off) keys[n++] = s->kv[i].key;
  s->keys_list = st_sorted_list(keys, n);
  return s->keys_list;
}

/* ---- stats and check --------------------------------------------------------------------- */

void store_get_stats(store *s, store_stats *out) {
  memset(out, 0, sizeof *out);
  out->streams = s->nstreams;
  out->events = s->nevents;
  out->kv_keys = s->kv_live;
  out->log_bytes = s->wbase + s->wcommitted;
  out->index_bytes = store_ix_bytes(s);
  size_t cache_arrays = 0;
  for (size_t i = 0; i < s->nstreams; i++)
    if (s->streams[i].cache) cache_arrays += s->streams[i].cap * sizeof(sx_val);
  out->cache_bytes = s->cache_used + cache_arrays;
  out->sync = s->opts.sync;
  out->read_only = s->opts.read_only;
}

/* A store whose creation never got as far as the log: the directory holds
 * nothing but what store_open makes before it (lock, log.tmp). */
static bool check_not_created(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return false;
  bool only = true;
  for (struct dirent *e; only && (e = readdir(d));)
    only = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "lock") ||
           !strcmp(e->d_name, "log.tmp");
  closedir(d);
  return only;
}

static int check_log(const char *dir, sx_buf *report) {
  store_opts o = {.read_only = true};
  store *s = st_new(dir, &o);
  sx_val err;
  s->fd = open(s->log_path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0 && errno == ENOENT && check_not_created(dir)) {
    /* the log is created (via log.tmp) after the directory and the lock:
     * a crash in between leaves a store a writer opens as empty */
    sx_buf_printf(report, "%s: no log yet (the store's creation did not finish): an empty store, ok\n",
                  s->log_path);
    st_free(s);
    return 0;
  }
  if (s->fd < 0) {
    sx_buf_printf(report, "%s: cannot open: %s\n", s->log_path, strerror(errno));
    st_free(s);
    return -1;
  }
  if (store_log_check_header(s->fd, s->log_path, &err)) {
    sx_buf_printf(report, "%s\n", sx_str_data(err));
    st_free(s);
    return 1;
  }
  scan_result r;
  store_log_scan(s, true, &r);
  int rc = 0;
  if (r.kind == SCAN_IOERR) {
    sx_buf_printf(report, "%s: cannot read: %s\n", s->log_path, r.reason);
    rc = -1;
  } else if (r.kind == SCAN_DAMAGE) {
    sx_buf_printf(report, "%s: damaged at offset %llu: %s\n", s->log_path,
                  (unsigned long long)r.bad_at, r.reason);
    rc = 1;
  } else if (r.kind == SCAN_OK && r.zero_tail) {
    sx_buf_printf(report, "%s: data ends at offset %llu, then %llu bytes of zero-filled space\n",
                  s->log_path, (unsigned long long)r.end, (unsigned long long)r.zero_tail);
  } else if (r.kind == SCAN_TORN) {
    sx_buf_printf(report,
                  "%s: torn tail at offset %llu (%llu bytes, %s): an interrupted commit, "
                  "discarded by the next writable open\n",
                  s->log_path, (unsigned long long)r.bad_at,
                  (unsigned long long)(r.file_size - r.end), r.reason);
  }
  sx_buf_printf(report, "%s: %zu frames, %zu records, %zu streams, %zu events, %zu kv keys, %s\n",
                s->log_path, r.frames, r.records, s->nstreams, s->nevents, s->kv_live,
                rc == 0 ? "ok" : "NOT ok");
  st_free(s);
  return rc;
}

int store_check(const char *dir, sx_buf *report) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    sx_buf_printf(report, "store %s does not exist\n", dir);
    return -1;
  }
  int rc = check_log(dir, report);
  int brc = blob_check_dir(dir, report);
  if (rc < 0 || brc < 0) return -1;
  return rc || brc ? 1 : 0;
}
