/* fstore.c — the file store backend's handle: opening a store directory
 * (creating it, taking the writer lock, recovering the log into the
 * index), closing it, refresh for read-only handles, statistics, its blobs
 * (blob.c in DIR/blobs) and the backend table the generic store calls. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "codec.h"
#include "store_io.h"

#define DEFAULT_CACHE_BYTES (64u << 20)
#define DEFAULT_BATCH_MS 10u

#ifndef NDEBUG
void fstore_assert_state(fstore *s) {
  assert(s->durable_no <= s->commit_no);
  assert(s->wbase >= LOG_HEADER_SIZE);
  assert(s->syncing || s->inflight.len == 0);
  assert(!s->syncing || s->opts.sync == STORE_SYNC_FULL);
  assert(!s->opts.read_only || (s->wbuf.len == 0 && s->commit_no == s->durable_no));
  assert(s->kv_live <= s->nkv);
}
#endif

/* ---- creating and locking the directory ------------------------------------ */

/* mkdir -p, fsyncing each parent whose entries change. */
int fstore_mkdirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) {
    errno = n ? ENAMETOOLONG : ENOENT; /* the callers' messages name errno */
    return -1;
  }
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
        store_io_rmdir(path);
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

static int st_lock(fstore *s, sx_val *err) {
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

static int st_prepare_dir(fstore *s, sx_val *err) {
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
  if (fstore_mkdirs(s->dir)) {
    *err = store_errorf("store %s: cannot create the directory: %s", s->dir, strerror(errno));
    return -1;
  }
  if (st_lock(s, err)) return -1;
  if (stat(s->log_path, &st) != 0 && store_log_create(s->dir, s->log_path, err)) return -1;
  return 0;
}

/* A read-only scan of a log a live writer is appending to reads the file
 * in chunks at different moments: a frame seen half-copied in one chunk
 * may be vouched for by frames read complete a moment later, which looks
 * like damage. So a read-only handle keeps what scanned cleanly and scans
 * again from there a few times before it believes damage; real damage
 * stays put. */
static void st_scan_settled(fstore *s, scan_result *r) {
  store_log_scan(s, false, 0, r);
  for (int tries = 0; s->opts.read_only && r->kind == SCAN_DAMAGE && tries < 20; tries++) {
    s->wbase = r->end; /* the frames before it are applied already */
    usleep(2000);
    scan_result again;
    store_log_scan(s, false, 0, &again);
    again.frames += r->frames;
    again.records += r->records;
    *r = again;
  }
}

static int st_recover(fstore *s, sx_val *err) {
  scan_result r;
  st_scan_settled(s, &r);
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
  s->durable_no = s->want_no = s->commit_no;
  store_ix_shrink(s);
  return 0;
}

fstore *fstore_new(const char *dir, const store_opts *opts) {
  fstore *s = store_xgc_uncollectable(sizeof *s);
  memset(s, 0, sizeof *s);
  s->fd = s->lock_fd = s->event_fd = -1;
  s->opts = *opts; /* every caller passes options (store_open fills in defaults) */
  if (!s->opts.batch_window_ms) s->opts.batch_window_ms = DEFAULT_BATCH_MS;
  s->cache_budget = s->opts.cache_bytes ? s->opts.cache_bytes : DEFAULT_CACHE_BYTES;
  s->dir = store_xstrdup(dir);
  size_t n = strlen(dir) + 5;
  s->log_path = store_xmalloc(n);
  snprintf(s->log_path, n, "%s/log", dir);
  s->wbase = LOG_HEADER_SIZE;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  return s;
}

void fstore_free(fstore *s) {
  store_log_unmap(s);
  if (s->fd >= 0) close(s->fd);
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
  if (s->event_fd >= 0) close(s->event_fd);
  store_ix_free(s);
  sx_buf_free(&s->wbuf);
  sx_buf_free(&s->inflight);
  for (size_t i = 0; i < s->nfailures; i++) free(s->failures[i].msg);
  free(s->failures);
  free(s->dir);
  free(s->log_path);
  free(s->failed);
  free(s->warning);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  GC_FREE(s);
}

int fstore_open_log(fstore *s, sx_val *err) {
  if (st_prepare_dir(s, err)) return -1;
  s->fd = open(s->log_path, (s->opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (s->fd < 0) {
    *err = store_errorf("store %s: cannot open %s: %s", s->dir, s->log_path, strerror(errno));
    return -1;
  }
  return store_log_check_header(s->fd, s->log_path, err) || st_recover(s, err) ? -1 : 0;
}

/* ---- the backend's handle operations ------------------------------------------ */

static int fs_writable(store *base, sx_val *err) {
  fstore *s = (fstore *)base;
  if (s->opts.read_only) {
    *err = store_errorf("store %s is open read-only", s->dir);
    return -1;
  }
  pthread_mutex_lock(&s->mu);
  if (s->failed) *err = sx_string_cstr(s->failed);
  bool failed = s->failed != NULL;
  pthread_mutex_unlock(&s->mu);
  return failed ? -1 : 0;
}

static int fs_close(store *base, sx_val *err) {
  fstore *s = (fstore *)base;
  int rc = s->opts.read_only ? 0 : fstore_drain(s, err);
  fstore_free(s);
  return rc;
}

static int fs_refresh(store *base, sx_val *err) {
  fstore *s = (fstore *)base;
  if (!s->opts.read_only) return 0;
  pthread_mutex_lock(&s->mu);
  int rc = 0;
  struct stat a, b; /* a compaction renames a new log over the one this handle reads */
  if (s->failed) {
    *err = sx_string_cstr(s->failed);
    rc = -1;
  } else if (fstat(s->fd, &a) == 0 && stat(s->log_path, &b) == 0 &&
             (a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
    *err = store_errorf("store %s: %s was replaced (compacted) since this handle opened it; reopen "
                        "the store",
                        s->dir, s->log_path);
    rc = -1;
  } else {
    scan_result r;
    st_scan_settled(s, &r);
    if (r.kind == SCAN_DAMAGE || r.kind == SCAN_IOERR) {
      *err = store_errorf("store %s: %s is damaged at offset %llu: %s", s->dir, s->log_path,
                          (unsigned long long)r.bad_at, r.reason);
      s->failed = store_xstrdup(sx_str_data(*err));
      rc = -1;
    }
    s->wbase = r.end; /* a torn tail here is a commit still being written */
    s->durable_no = s->want_no = s->commit_no;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void fs_stats(store *base, store_stats *out) {
  fstore *s = (fstore *)base;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&s->mu);
  out->streams = s->nstreams;
  out->events = s->nevents;
  out->kv_keys = s->kv_live;
  out->log_bytes = s->wbase + s->inflight.len + s->wbuf.len;
  out->index_bytes = store_ix_bytes(s);
  size_t cache_arrays = 0;
  for (size_t i = 0; i < s->nstreams; i++)
    if (s->streams[i].cache) cache_arrays += s->streams[i].cap * sizeof(sx_val);
  out->cache_bytes = s->cache_used + cache_arrays;
  out->commits = s->commit_no;
  out->syncs = s->syncs;
  pthread_mutex_unlock(&s->mu);
  out->sync = s->opts.sync;
  out->read_only = s->opts.read_only;
}

/* ---- blobs: blob.c in DIR/blobs ------------------------------------------------- */

static int fs_blob_put(store *base, const char *bytes, size_t len, sx_val *cid, sx_val *err) {
  fstore *s = (fstore *)base;
  return blob_put(s->dir, s->opts.sync != STORE_SYNC_OFF, bytes, len, cid, err);
}

static int fs_blob_get(store *base, sx_val cid, sx_val *bytes, sx_val *err) {
  return blob_get(((fstore *)base)->dir, cid, bytes, err);
}

static int fs_blob_has(store *base, sx_val cid, bool *has, sx_val *err) {
  return blob_has(((fstore *)base)->dir, cid, has, err);
}

static sx_val fs_blob_list(store *base) { return store_blob_list(((fstore *)base)->dir); }

static int fs_blob_size(store *base, sx_val cid, uint64_t *size, sx_val *err) {
  if (blob_id_ok(cid, err)) return -1;
  return blob_size(((fstore *)base)->dir, sx_str_data(cid), size);
}

static const store_backend fstore_backend = {
    .name = "file",
    .read = fstore_read,
    .stream_info = fstore_stream_info,
    .streams = fstore_streams,
    .kv_get = fstore_kv_get,
    .kv_keys = fstore_kv_keys,
    .writable = fs_writable,
    .commit = fstore_commit,
    .wait = fstore_wait,
    .durable_fd = fstore_durable_fd,
    .flush = fstore_flush,
    .refresh = fs_refresh,
    .stats = fs_stats,
    .close = fs_close,
    .blob_put = fs_blob_put,
    .blob_get = fs_blob_get,
    .blob_has = fs_blob_has,
    .blob_list = fs_blob_list,
    .blob_size = fs_blob_size,
};

int fstore_open(const char *dir, const store_opts *opts, store **out, sx_val *err) {
  *out = NULL;
  fstore *s = fstore_new(dir, opts);
  if (fstore_open_log(s, err) ||
      (!s->opts.read_only && s->opts.sync == STORE_SYNC_BATCH && fstore_flusher_start(s, err))) {
    fstore_free(s);
    return -1;
  }
  s->base.be = &fstore_backend;
  s->base.warning = s->warning;
  *out = &s->base;
  return 0;
}
