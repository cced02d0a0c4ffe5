/* fstore_read.c — the file store's committed reads: stream events from the
 * decoded-value cache or the log, high-water marks, listings and kv values,
 * each reported with the versions a transaction records (store_backend.h).
 * Every function takes the handle's lock for its whole run. */
#include "store_int.h"

#include <gc.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define CONS_COST 16u /* bytes of one cached list cell (sx_pair) */

/* Decode the value at log offset off. On failure *out is an SX error value
 * naming the file and offset. */
static int rd_value_at(fstore *s, uint64_t off, sx_val *out, size_t *used) {
  size_t avail;
  sx_val derr;
  const unsigned char *p = store_log_bytes(s, off, &avail);
  if (!p) {
    *out = sx_error_new(store_errorf("store %s: cannot read %s at offset %llu", s->dir, s->log_path,
                                     (unsigned long long)off),
                        SX_NIL);
    return -1;
  }
  if (store_decode(p, avail, used, out, &derr)) {
    *out = sx_error_new(store_errorf("store %s: %s: the value at offset %llu does not decode: %s", s->dir,
                                     s->log_path, (unsigned long long)off, sx_str_data(derr)),
                        SX_NIL);
    return -1;
  }
  return 0;
}

/* Names and keys are strings: the transaction layer asks about nothing else
 * (store_txn.c reads other names as absent without asking). */
static long rd_stream(fstore *s, sx_val name) {
  return store_stream_find(s, sx_str_data(name), sx_str_len(name),
                           store_hash(sx_str_data(name), sx_str_len(name)));
}

static long rd_key(fstore *s, sx_val key) {
  return store_kv_find(s, sx_str_data(key), sx_str_len(key), store_hash(sx_str_data(key), sx_str_len(key)));
}

static void rd_info(fstore *s, long si, store_stream_info *info) {
  memset(info, 0, sizeof *info);
  info->hwm_rv.at = info->content_rv.at = s->commit_no;
  info->first = 1;
  if (si < 0) return;
  stream_ent *e = &s->streams[si];
  info->hwm = e->hwm;
  info->first = e->hwm - (int64_t)(e->count - e->start) + 1;
  info->hwm_rv.ver = e->hwm_ver;
  info->content_rv.ver = e->ver;
}

/* The list of a stream's surviving events (building and caching it). A
 * truncation drops the cached list (store_ix_compact), so one that is
 * there starts at e->start; appends since it was built show in count. */
static sx_val rd_events(fstore *s, stream_ent *e) {
  if (e->list && e->list_count == e->count) return e->list;
  if (e->start == e->count) return SX_EMPTY;
  if (!e->cache) {
    e->cache = store_xgc(e->cap * sizeof *e->cache);
    memset(e->cache, 0, e->cap * sizeof *e->cache);
  }
  sx_val list = SX_EMPTY;
  size_t added = 0;
  for (size_t i = e->count; i-- > e->start;) {
    sx_val v = e->cache[i];
    size_t used;
    if (!v) {
      if (rd_value_at(s, e->offs[i], &v, &used)) return v; /* an error value */
      e->cache[i] = v;
      added += used + CONS_COST;
    }
    list = sx_cons(v, list);
  }
  e->list = list;
  e->list_count = e->count;
  e->cache_est += added;
  s->cache_used += added;
  store_cache_trim(s, e);
  return list;
}

sx_val fstore_read(store *base, sx_val stream, store_stream_info *info, uint64_t since) {
  (void)since;
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  long si = rd_stream(s, stream);
  rd_info(s, si, info);
  sx_val list = si < 0 ? SX_EMPTY : rd_events(s, &s->streams[si]);
  pthread_mutex_unlock(&s->mu);
  return list;
}

void fstore_stream_info(store *base, sx_val stream, store_stream_info *info, uint64_t since) {
  (void)since;
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  rd_info(s, rd_stream(s, stream), info);
  pthread_mutex_unlock(&s->mu);
}

static int rd_cmp_strings(const void *a, const void *b) {
  return sx_string_cmp(*(const sx_val *)a, *(const sx_val *)b);
}

/* A list of n strings sorted in byte order. */
static sx_val rd_sorted_list(sx_val *items, size_t n) {
  qsort(items, n, sizeof *items, rd_cmp_strings);
  return sx_list(n, items);
}

sx_val fstore_streams(store *base, store_rv *rv) {
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  if (!s->streams_list) {
    sx_val *names = store_xgc((s->nstreams + 1) * sizeof *names);
    for (size_t i = 0; i < s->nstreams; i++) names[i] = s->streams[i].name;
    s->streams_list = rd_sorted_list(names, s->nstreams);
  }
  sx_val list = s->streams_list;
  *rv = (store_rv){s->catalog_ver, s->commit_no};
  pthread_mutex_unlock(&s->mu);
  return list;
}

sx_val fstore_kv_keys(store *base, store_rv *rv) {
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  if (!s->keys_list) {
    sx_val *keys = store_xgc((s->nkv + 1) * sizeof *keys);
    size_t n = 0;
    for (size_t i = 0; i < s->nkv; i++)
      if (s->kv[i].off) keys[n++] = s->kv[i].key;
    s->keys_list = rd_sorted_list(keys, n);
  }
  sx_val list = s->keys_list;
  *rv = (store_rv){s->keys_ver, s->commit_no};
  pthread_mutex_unlock(&s->mu);
  return list;
}

static sx_val rd_kv_value(fstore *s, kv_ent *e) {
  if (e->cached) return e->cached;
  sx_val v;
  size_t used;
  if (rd_value_at(s, e->off, &v, &used)) return v;
  store_cache_trim(s, NULL);
  e->cached = v;
  e->cache_est = used;
  s->cache_used += used;
  return v;
}

sx_val fstore_kv_get(store *base, sx_val key, bool *has, store_rv *rv, uint64_t since) {
  (void)since;
  fstore *s = (fstore *)base;
  pthread_mutex_lock(&s->mu);
  long ki = rd_key(s, key);
  *rv = (store_rv){ki < 0 ? 0 : s->kv[ki].ver, s->commit_no};
  *has = ki >= 0 && s->kv[ki].off != 0;
  sx_val v = *has ? rd_kv_value(s, &s->kv[ki]) : SX_NIL;
  pthread_mutex_unlock(&s->mu);
  return v;
}

uint64_t fstore_item_ver(store *base, store_item kind, sx_val name) {
  fstore *s = (fstore *)base;
  long i;
  switch (kind) {
    case STORE_ITEM_HWM: return (i = rd_stream(s, name)) < 0 ? 0 : s->streams[i].hwm_ver;
    case STORE_ITEM_CONTENT: return (i = rd_stream(s, name)) < 0 ? 0 : s->streams[i].ver;
    case STORE_ITEM_KEY: return (i = rd_key(s, name)) < 0 ? 0 : s->kv[i].ver;
    case STORE_ITEM_CATALOG: return s->catalog_ver;
    default: return s->keys_ver; /* STORE_ITEM_KEYS, the last kind */
  }
}
