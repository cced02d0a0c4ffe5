/* fstore_commit.c — the file store's commit path: validating a
 * transaction and applying it to the index, the write-out per sync mode,
 * group commit in full mode (a leader writes and fdatasyncs every frame
 * committed so far while the others wait for it), what a failed write or
 * sync undoes, the background syncer for commits nobody waits for, the
 * batch-mode flusher, flush and the final drain at close.
 *
 * Order of a commit (under s->mu): validate the read set; seal the frame
 * into wbuf; in batch and off modes write it out as the mode says; only
 * then apply the records to the index and give the commit its number. In
 * full mode the frame is applied before it is written; the commit is
 * acknowledged only once durable_no reaches its number. Should the write
 * or sync of a group fail, every commit not yet durable fails with it and
 * the index is rebuilt from what the file holds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS /* threads register themselves */
#include "store_int.h"

#include <errno.h>
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "crc32c.h"
#include "store_io.h"

#define CACHE_COST 48u /* estimated bytes of a value cached at commit */

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
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += (long)(f->window_ms % 1000) * 1000000L;
    dl.tv_sec += f->window_ms / 1000 + dl.tv_nsec / 1000000000L;
    dl.tv_nsec %= 1000000000L;
    while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &dl) != ETIMEDOUT) {
    }
    if (f->stop) break; /* what is left is synced by the drain at close (fstore_drain) */
    f->dirty = false;
    pthread_mutex_unlock(&f->mu);
    int rc = store_io_fdatasync(STORE_IO_BATCH_SYNC, f->fd);
    pthread_mutex_lock(&f->mu);
    if (rc && !f->err) f->err = errno;
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

int fstore_flusher_start(fstore *s, sx_val *err) {
  store_flusher *f = store_xcalloc(1, sizeof *f);
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
static int flusher_mark(fstore *s) {
  store_flusher *f = s->flusher;
  pthread_mutex_lock(&f->mu);
  f->dirty = true;
  int e = f->err;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  return e;
}

/* A pending background fdatasync error (errno) or 0. */
static int flusher_error(fstore *s) {
  store_flusher *f = s->flusher;
  pthread_mutex_lock(&f->mu);
  int e = f->err;
  pthread_mutex_unlock(&f->mu);
  return e;
}

static int flusher_stop(fstore *s) {
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

/* ---- frames ---------------------------------------------------------------------- */

/* Append the frame holding payload, at log offset off, to s->wbuf. The
 * frame records how far the log was durable when it was sealed: in full
 * mode everything before wbase (a leader advances wbase only once its
 * group is synced), in batch and off modes what the open synced. */
static void cm_seal(fstore *s, const store_bytes *payload, uint64_t off) {
  static const char zero[FRAME_HEAD];
  size_t at = s->wbuf.len;
  sx_buf_put(&s->wbuf, zero, FRAME_HEAD);
  sx_buf_put(&s->wbuf, payload->data, payload->len);
  uint64_t synced = s->opts.sync == STORE_SYNC_FULL ? s->wbase : s->synced_end;
  store_frame_seal(&s->wbuf, at, payload->len, off, synced);
}

/* ---- durability bookkeeping ------------------------------------------------------ */

static void cm_signal(fstore *s) {
  pthread_cond_broadcast(&s->cv);
  if (s->event_fd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(s->event_fd, &one, sizeof one);
    (void)w; /* a full counter already wakes the reader */
  }
}

/* 1 durable, -1 failed (*err), 0 not yet. */
static int cm_ticket_state(fstore *s, uint64_t ticket, sx_val *err) {
  for (size_t i = 0; i < s->nfailures; i++)
    if (ticket >= s->failures[i].from && ticket <= s->failures[i].to) {
      *err = sx_string_cstr(s->failures[i].msg);
      return -1;
    }
  return ticket <= s->durable_no ? 1 : 0;
}

/* Rebuild the index from the file's first wbase bytes (after a failed
 * write or sync): every commit not in the file is gone. Versions continue
 * from commit_no, so transactions that read the lost state conflict. */
static void cm_reload(fstore *s) {
  uint64_t end = s->wbase;
  store_ix_free(s);
  s->streams = NULL;
  s->kv = NULL;
  s->nstreams = s->streams_cap = s->nkv = s->kv_cap = s->kv_live = 0;
  s->stab = (htab){0};
  s->ktab = (htab){0};
  s->nevents = s->cache_used = 0;
  s->streams_list = s->keys_list = 0;
  s->wbase = LOG_HEADER_SIZE;
  s->v2_frames = false;
  scan_result r;
  store_log_scan(s, false, end, &r);
  s->wbase = end;
  store_ix_shrink(s);
  s->durable_no = s->want_no = s->commit_no;
}

/* The write or sync of the commits up to s->commit_no failed with msg:
 * fail every commit not yet durable and go back to the file's state. */
static void cm_fail(fstore *s, const char *msg) {
  s->failures = store_xrealloc(s->failures, (s->nfailures + 1) * sizeof *s->failures);
  fstore_failure *f = &s->failures[s->nfailures++];
  f->from = s->durable_no + 1;
  f->to = s->commit_no;
  f->msg = store_xstrdup(msg);
  sx_buf_reset(&s->inflight);
  sx_buf_reset(&s->wbuf);
  cm_reload(s);
  cm_signal(s);
}

/* ---- group commit (full mode) ------------------------------------------------------- */

/* Write inflight at at and fdatasync (outside the lock; the leader owns fd,
 * file_end and inflight). On failure msg names it and *refuse says whether
 * the handle must refuse writes from now on. */
static int cm_lead_io(fstore *s, uint64_t at, char *msg, size_t cap, bool *refuse) {
  log_write_rc rc = store_log_write(s, &s->inflight, at, msg, cap);
  if (rc == LOG_WRITE_OK && store_io_fdatasync(STORE_IO_LOG_SYNC, s->fd) == 0) return 0;
  if (rc == LOG_WRITE_OK) { /* the sync failed: cut the unsynced frames off again */
    int e = errno;
    bool cut = store_io_ftruncate(STORE_IO_LOG_TRUNC, s->fd, (off_t)at) == 0;
    if (cut) s->file_end = at;
    snprintf(msg, cap, "store %s: fdatasync of %s failed: %s%s", s->dir, s->log_path, strerror(e),
             cut ? ""
                 : " (cutting the unsynced commits off the log failed too; the next open may keep them)");
    rc = LOG_WRITE_REFUSE;
  }
  *refuse = rc == LOG_WRITE_REFUSE;
  return -1;
}

/* Become the leader: make every commit so far durable. Called and returns
 * with s->mu held; drops it around the IO. */
static void cm_lead(fstore *s) {
  s->syncing = true;
  sx_buf t = s->inflight;
  s->inflight = s->wbuf;
  s->wbuf = t;
  sx_buf_reset(&s->wbuf);
  uint64_t target = s->commit_no, at = s->wbase;
  pthread_mutex_unlock(&s->mu);
  char msg[1024];
  bool refuse = false;
  int rc = s->inflight.len ? cm_lead_io(s, at, msg, sizeof msg, &refuse) : 0;
  pthread_mutex_lock(&s->mu);
  s->syncing = false;
  if (rc == 0) {
    s->wbase = at + s->inflight.len;
    sx_buf_reset(&s->inflight);
    s->durable_no = target;
    s->syncs++;
    cm_signal(s);
  } else {
    if (refuse) store_log_refuse(s, msg, NULL); /* sets s->failed, or keeps an earlier failure */
    cm_fail(s, refuse ? s->failed : msg);
  }
}

int fstore_wait(store *base, uint64_t ticket, bool block, sx_val *err) {
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  int st;
  while ((st = cm_ticket_state(s, ticket, err)) == 0) {
    if (ticket > s->want_no) s->want_no = ticket;
    if (!block) {
      pthread_cond_broadcast(&s->cv); /* the syncer takes it */
      break;
    }
    if (!s->syncing) cm_lead(s);
    else pthread_cond_wait(&s->cv, &s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* ---- the background syncer ------------------------------------------------------------ */

static void *cm_syncer_main(void *arg) {
  fstore *s = arg;
  struct GC_stack_base sb;
  bool registered = GC_get_stack_base(&sb) == GC_SUCCESS && GC_register_my_thread(&sb) == GC_SUCCESS;
  pthread_mutex_lock(&s->mu);
  while (!s->syncer_stop) {
    if (s->want_no > s->durable_no && s->durable_no < s->commit_no && !s->syncing && !s->failed) cm_lead(s);
    else pthread_cond_wait(&s->cv, &s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  if (registered) GC_unregister_my_thread();
  return NULL;
}

/* The eventfd signalled when durability advances; starts the syncer that
 * makes commits durable for callers that do not wait (full mode). */
int fstore_durable_fd(store *base) {
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  if (s->event_fd < 0) s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!s->syncer_on && s->opts.sync == STORE_SYNC_FULL && !s->opts.read_only) {
    GC_allow_register_threads();
    s->syncer_on = pthread_create(&s->syncer, NULL, cm_syncer_main, s) == 0;
  }
  int fd = s->event_fd;
  pthread_mutex_unlock(&s->mu);
  return fd;
}

static void cm_syncer_stop(fstore *s) {
  if (!s->syncer_on) return;
  pthread_mutex_lock(&s->mu);
  s->syncer_stop = true;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->syncer, NULL);
  s->syncer_on = false;
}

/* ---- commit ------------------------------------------------------------------------------- */

/* Batch mode: has the background fdatasync failed since the last commit? */
static int cm_batch_failed(fstore *s, sx_val *err) {
  int e = flusher_error(s);
  if (!e) return 0;
  *err = store_errorf("store %s: a background fdatasync of %s failed: %s (commits of the last "
                      "%u ms may not be durable)",
                      s->dir, s->log_path, strerror(e), s->opts.batch_window_ms);
  store_log_refuse(s, sx_str_data(*err), NULL);
  *err = sx_string_cstr(s->failed);
  return -1;
}

/* Can s take a commit with this payload? (A read-only handle never gets
 * here with records: every write to a transaction asks fs_writable first.) */
static int cm_admit(fstore *s, store_txn *t, sx_val *err) {
  if (s->failed) {
    *err = sx_string_cstr(s->failed);
    return -1;
  }
  if (s->opts.sync == STORE_SYNC_BATCH && cm_batch_failed(s, err)) return -1;
  if (t->payload.len > FRAME_MAX_PAYLOAD) {
    *err = store_errorf("store %s: the transaction is too large (%zu bytes; the limit is %u)", s->dir,
                        t->payload.len, FRAME_MAX_PAYLOAD);
    return -1;
  }
  return 0;
}

/* Cache the values the transaction wrote (the caller's values are immutable).
 * The transaction's events are the stream's last ts->n seqs (they end at
 * the high-water mark), but its own truncation may have cut some or all of
 * them: only those among the e->count - e->start stored events are cached.
 * The slots they land in are empty: applying the commit zeroed every slot
 * it moved or dropped, and the keys it put. */
static void cm_seed_cache(fstore *s, store_txn *t) {
  for (size_t i = 0; i < t->nstreams; i++) {
    txn_stream *ts = &t->streams[i];
    long si = ts->n ? store_stream_find(s, sx_str_data(ts->name), sx_str_len(ts->name), ts->hash) : -1;
    if (si < 0 || !s->streams[si].cache) continue;
    stream_ent *e = &s->streams[si];
    size_t live = e->count - e->start;
    for (size_t k = ts->n > live ? ts->n - live : 0; k < ts->n; k++) {
      e->cache[e->count - ts->n + k] = ts->events[k];
      e->cache_est += CACHE_COST;
      s->cache_used += CACHE_COST;
    }
  }
  for (size_t i = 0; i < t->nkeys; i++) {
    txn_key *tk = &t->keys[i];
    long ki =
        tk->state == TK_PUT ? store_kv_find(s, sx_str_data(tk->key), sx_str_len(tk->key), tk->hash) : -1;
    if (ki < 0) continue;
    s->kv[ki].cached = tk->val;
    s->kv[ki].cache_est = CACHE_COST;
    s->cache_used += CACHE_COST;
  }
}

/* Write the sealed frame out as the sync mode says (batch: now; off: once
 * the buffer is full). On failure the frame is taken back. */
static int cm_write_per_mode(fstore *s, size_t frame_at, sx_val *err) {
  bool now = s->opts.sync == STORE_SYNC_BATCH || s->wbuf.len >= OFF_BUFFER_LIMIT;
  if (!now || store_log_write_out(s, err) == 0) return 0;
  s->wbuf.len = frame_at;
  return -1;
}

static int cm_commit_locked(fstore *s, store_txn *t, uint64_t *ticket, sx_val *err) {
  if (t->nrecords == 0) { /* nothing to write: a consistent read is enough */
    *ticket = t->seen;
    return store_txn_validate(t, fstore_item_ver, err);
  }
  int rc = cm_admit(s, t, err);
  if (rc == 0) rc = store_txn_validate(t, fstore_item_ver, err);
  if (rc) return rc;
  uint64_t frame_off = s->wbase + s->inflight.len + s->wbuf.len;
  size_t frame_at = s->wbuf.len;
  cm_seal(s, &t->payload, frame_off);
  if (s->opts.sync != STORE_SYNC_FULL && cm_write_per_mode(s, frame_at, err)) return -1;
  s->commit_no++;
  const char *why = "?";
  if (store_log_apply(s, (const unsigned char *)t->payload.data, t->payload.len, frame_off + FRAME_HEAD,
                      &why)) {
    /* validation makes this unreachable; should it happen, stop writing */
    *err = store_errorf("store %s: internal error: a validated commit broke a rule (%s)", s->dir, why);
    store_log_refuse(s, sx_str_data(*err), NULL);
    return -1;
  }
  cm_seed_cache(s, t);
  if (s->opts.sync != STORE_SYNC_FULL) s->durable_no = s->commit_no;
  if (s->opts.sync == STORE_SYNC_BATCH) flusher_mark(s); /* errors show at the next commit */
  *ticket = s->commit_no;
  return 0;
}

int fstore_commit(store *base, store_txn *t, uint64_t *ticket, sx_val *err) {
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  fstore_assert_state(s);
  int rc = cm_commit_locked(s, t, ticket, err);
  fstore_assert_state(s);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* ---- flush and close ------------------------------------------------------------------------ */

/* Wait (s->mu held) until no leader is syncing. */
static void cm_quiesce(fstore *s) {
  while (s->syncing) pthread_cond_wait(&s->cv, &s->mu);
}

/* Write and sync everything committed (s->mu held, nobody syncing). In
 * full mode, commits not yet durable are made so as a group leader would:
 * should the write or the sync fail, they fail, and their frames are cut
 * off the file again, so neither this handle nor a later open shows them.
 * Otherwise (nothing buffered in full mode, batch and off modes) every
 * commit counts as durable already: a failure here fails none of them. */
static int cm_flush_locked(fstore *s, sx_val *err) {
  if (s->failed) {
    *err = sx_string_cstr(s->failed);
    return -1;
  }
  if (s->flusher && cm_batch_failed(s, err)) return -1;
  if (s->opts.sync == STORE_SYNC_FULL && s->wbuf.len) {
    uint64_t target = s->commit_no;
    cm_lead(s);
    return cm_ticket_state(s, target, err) < 0 ? -1 : 0;
  }
  if (store_log_write_out(s, err) || store_log_sync(s, err)) return -1;
  s->durable_no = s->commit_no;
  cm_signal(s);
  return 0;
}

int fstore_flush(store *base, sx_val *err) {
  fstore *s = (fstore *)base;
  if (s->opts.read_only) return 0;
  pthread_mutex_lock(&s->mu);
  cm_quiesce(s);
  int rc = cm_flush_locked(s, err);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int fstore_drain(fstore *s, sx_val *err) {
  cm_syncer_stop(s);
  int ferr = flusher_stop(s), rc = 0;
  pthread_mutex_lock(&s->mu);
  cm_quiesce(s);
  if (s->failed && s->wbuf.len) {
    *err = store_errorf("%s: %zu bytes of committed but unwritten frames are lost", s->failed, s->wbuf.len);
    rc = -1;
  } else if (!s->failed) {
    if (store_log_write_out(s, err)) rc = -1;
    else if (s->opts.sync != STORE_SYNC_OFF && store_log_sync(s, err)) rc = -1;
    else if (ferr) {
      *err = store_errorf("store %s: a background fdatasync failed: %s", s->dir, strerror(ferr));
      rc = -1;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}
