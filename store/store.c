/* store.c — the generic store handle (store.h): opening a store through its
 * backend, sharing one writable handle per directory inside a process,
 * the implicit transaction for callers that need just one, durability
 * waits, blobs, and small helpers the whole of store/ uses. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_backend.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"

/* ---- helpers ----------------------------------------------------------------- */

uint32_t store_hash(const void *p, size_t n) {
  const unsigned char *c = p;
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, folded */
  for (size_t i = 0; i < n; i++) {
    h ^= c[i];
    h *= 0x100000001b3ull;
  }
  return (uint32_t)(h ^ (h >> 32));
}

char *store_label(const char *url) {
  char *s = store_xstrdup(url);
  if (!store_is_url(s)) return s; /* a directory is shown as it is */
  char *host = strstr(s, "://") + 3; /* a URL (store_is_url) has one */
  char *at = strchr(host, '@');
  char *colon = strchr(host, ':');
  if (at && colon && colon < at) memmove(colon, at, strlen(at) + 1); /* user:pass@ -> user@ */
  char *pw = strstr(s, "password=");
  if (pw) {
    char *end = strchr(pw, '&');
    if (end) memmove(pw, end + 1, strlen(end + 1) + 1);
    else *pw = '\0';
  }
  size_t n = strlen(s); /* > 0: the scheme is still there */
  if (s[n - 1] == '?' || s[n - 1] == '&') s[n - 1] = '\0';
  return s;
}

const char *store_sync_name(store_sync m) {
  return m == STORE_SYNC_BATCH ? "batch" : m == STORE_SYNC_OFF ? "off" : "full";
}

/* ---- sharing writable handles within the process ----------------------------------- */

static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;
static store *shared; /* writable handles, chained by share_next */

/* The directory as an absolute, symlink-free path (dir must exist). */
static char *st_canonical(const char *dir) { return realpath(dir, NULL); }

static store *st_find_shared(const char *key) {
  for (store *s = shared; s; s = s->share_next) /* a forked child opens its own */
    if (s->share_pid == getpid() && strcmp(s->share_key, key) == 0) return s;
  return NULL;
}

/* Take s (a shared handle: it is in the chain) out of the chain. */
static void st_unshare(store *s) {
  store **p = &shared;
  while (*p != s) p = &(*p)->share_next;
  *p = s->share_next;
}

/* Another open of a directory this process already writes. */
static int st_join(store *s, const store_opts *o, store **out, sx_val *err) {
  if (s->opts.sync != o->sync) {
    *err = store_errorf("store %s is already open in this process with sync %s (asked for %s)", s->name,
                        store_sync_name(s->opts.sync), store_sync_name(o->sync));
    return STORE_EFAIL;
  }
  s->refs++;
  *out = s;
  return STORE_OK;
}

/* A directory is a file store; a postgresql:// or postgres:// URL names a
 * PostgreSQL store (when this build has libpq). */
static int st_backend_open(const char *name, const store_opts *o, store **out, sx_val *err) {
  if (!store_is_url(name)) return fstore_open(name, o, out, err);
#ifdef SX_HAVE_POSTGRES
  return pgstore_open(name, o, out, err);
#else
  *err = store_errorf("store %s: this build of sx has no PostgreSQL support (build with libpq)", name);
  return STORE_EFAIL;
#endif
}

bool store_is_url(const char *name) {
  return strncmp(name, "postgresql://", 13) == 0 || strncmp(name, "postgres://", 11) == 0;
}

static int st_open_new(const char *dir, const store_opts *o, store **out, sx_val *err) {
  if (st_backend_open(dir, o, out, err)) return STORE_EFAIL;
  store *s = *out;
  s->name = store_label(dir); /* never a password in a message */
  s->opts = *o;
  s->refs = 1;
  if (!o->read_only && !store_is_url(dir) && (s->share_key = st_canonical(dir))) {
    s->share_pid = getpid();
    s->share_next = shared;
    shared = s;
  }
  return STORE_OK;
}

int store_open(const char *dir, const store_opts *opts, store **out, sx_val *err) {
  *out = NULL;
  if (!dir || !*dir) {
    *err = store_errorf("store_open: the store directory name is empty");
    return STORE_EFAIL;
  }
  store_opts o = {0};
  if (opts) o = *opts;
  pthread_mutex_lock(&share_lock);
  char *key = o.read_only || store_is_url(dir) ? NULL : st_canonical(dir);
  store *have = key ? st_find_shared(key) : NULL;
  free(key);
  int rc = have ? st_join(have, &o, out, err) : st_open_new(dir, &o, out, err);
  pthread_mutex_unlock(&share_lock);
  return rc;
}

int store_close(store *s, sx_val *err) {
  if (!s) return STORE_OK;
  pthread_mutex_lock(&share_lock);
  bool last = --s->refs == 0;
  if (last && s->share_key) st_unshare(s);
  pthread_mutex_unlock(&share_lock);
  if (!last) return STORE_OK;
  store_rollback(s); /* the implicit transaction belongs to the handle's last user */
  free(s->name);
  free(s->share_key);
  return s->be->close(s, err) ? STORE_EFAIL : STORE_OK;
}

const char *store_dir(store *s) { return s->name; }
const char *store_warning(store *s) { return s->warning; }
void store_get_stats(store *s, store_stats *out) { s->be->stats(s, out); }
int store_flush(store *s, sx_val *err) { return s->be->flush(s, err); }
int store_refresh(store *s, sx_val *err) { return s->be->refresh(s, err); }

/* ---- durability --------------------------------------------------------------------- */

int store_wait_durable(store *s, uint64_t ticket, sx_val *err) {
  return s->be->wait(s, ticket, true, err) > 0 ? STORE_OK : STORE_EFAIL;
}

int store_poll_durable(store *s, uint64_t ticket, sx_val *err) { return s->be->wait(s, ticket, false, err); }

int store_durable_fd(store *s) { return s->be->durable_fd ? s->be->durable_fd(s) : -1; }

/* ---- the implicit transaction ---------------------------------------------------------- */

static store_txn *st_implicit(store *s) {
  if (!s->implicit) s->implicit = store_txn_begin(s);
  return s->implicit;
}

/* For a read: while the implicit transaction holds no writes, each read
 * starts afresh, so it sees everything committed until then. */
static store_txn *st_implicit_read(store *s) {
  if (s->implicit && !store_txn_dirty(s->implicit)) store_rollback(s);
  return st_implicit(s);
}

int store_append(store *s, sx_val stream, sx_val event, sx_val *err) {
  return store_txn_append(st_implicit(s), stream, event, err);
}
sx_val store_read(store *s, sx_val stream) { return store_txn_read(st_implicit_read(s), stream); }
int64_t store_last_seq(store *s, sx_val stream) { return store_txn_last_seq(st_implicit_read(s), stream); }
sx_val store_streams(store *s) { return store_txn_streams(st_implicit_read(s)); }
int store_truncate(store *s, sx_val stream, int64_t n, sx_val *err) {
  return store_txn_truncate(st_implicit(s), stream, n, err);
}
sx_val store_kv_get(store *s, sx_val key) { return store_txn_kv_get(st_implicit_read(s), key); }
bool store_kv_has(store *s, sx_val key) { return store_txn_kv_has(st_implicit_read(s), key); }
int store_kv_put(store *s, sx_val key, sx_val val, sx_val *err) {
  return store_txn_kv_put(st_implicit(s), key, val, err);
}
int store_kv_delete(store *s, sx_val key, sx_val *err) {
  return store_txn_kv_delete(st_implicit(s), key, err);
}
sx_val store_kv_keys(store *s) { return store_txn_kv_keys(st_implicit_read(s)); }

bool store_pending(store *s) { return s->implicit && store_txn_dirty(s->implicit); }

void store_rollback(store *s) {
  store_txn_abort(s->implicit);
  s->implicit = NULL;
}

int store_commit(store *s, sx_val *err) {
  store_txn *t = s->implicit;
  s->implicit = NULL;
  if (!t) return STORE_OK;
  if (!store_txn_dirty(t)) { /* reads only: nothing to validate against */
    store_txn_abort(t);
    return STORE_OK;
  }
  uint64_t ticket;
  int rc = store_txn_commit(t, &ticket, err);
  if (rc) return rc;
  return store_wait_durable(s, ticket, err);
}

/* ---- blobs ----------------------------------------------------------------------------- */

int store_blob_put(store *s, const char *bytes, size_t len, sx_val *cid_out, sx_val *err) {
  if (s->opts.read_only) {
    *err = store_errorf("store %s is open read-only", s->name);
    return STORE_EFAIL;
  }
  return s->be->blob_put(s, bytes, len, cid_out, err);
}
int store_blob_get(store *s, sx_val cid, sx_val *bytes_out, sx_val *err) {
  return s->be->blob_get(s, cid, bytes_out, err);
}
int store_blob_has(store *s, sx_val cid, bool *out, sx_val *err) { return s->be->blob_has(s, cid, out, err); }

sx_val store_blobs(store *s) { return s->be->blob_list(s); }

int store_blob_size(store *s, sx_val cid, uint64_t *size, sx_val *err) {
  return s->be->blob_size(s, cid, size, err);
}
