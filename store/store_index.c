/* store_index.c — the store's in-memory index: stream and kv hash tables,
 * the per-stream offset arrays with the versions that transactions
 * validate against, and the bounded cache of decoded values.
 *
 * Invariant: for a stream entry, offs[start..count) are the offsets of the
 * stored events in seq order and the last of them has seq == hwm. Entry
 * arrays are allocated uncollectable (GC-scanned, explicitly freed) because
 * they hold SX values and are reachable only from the store handle. */
#include "store_int.h"

#include <gc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Grow an uncollectable array of elem-sized items to hold need (entries
 * are added one at a time: need is at most *cap + 1). */
static void *ix_grow_gc(void *old, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return old;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *n = store_xgc_uncollectable(ncap * elem);
  memset(n, 0, ncap * elem);
  if (old) {
    memcpy(n, old, *cap * elem);
    GC_FREE(old);
  }
  *cap = ncap;
  return n;
}

/* ---- hash tables ---------------------------------------------------------- */

/* Stream and kv entries both begin with their name, hash and chain link, so
 * one table implementation serves both arrays (entries found by stride). */
typedef struct ix_head {
  sx_val name;
  uint32_t hash;
  uint32_t next; /* entry index + 1, 0 ends the chain */
} ix_head;
_Static_assert(offsetof(stream_ent, name) == offsetof(ix_head, name) &&
                   offsetof(stream_ent, hash) == offsetof(ix_head, hash) &&
                   offsetof(stream_ent, next) == offsetof(ix_head, next),
               "stream_ent starts like ix_head");
_Static_assert(offsetof(kv_ent, key) == offsetof(ix_head, name) &&
                   offsetof(kv_ent, hash) == offsetof(ix_head, hash) &&
                   offsetof(kv_ent, next) == offsetof(ix_head, next),
               "kv_ent starts like ix_head");

static ix_head *ix_at(char *base, size_t stride, size_t i) { return (ix_head *)(base + i * stride); }

/* Rebuild buckets for the count entries of the array at base. */
static void htab_rebuild(htab *t, size_t count, char *base, size_t stride) {
  size_t nb = t->nb ? t->nb : 64;
  while (nb < count * 2) nb *= 2;
  free(t->b);
  t->b = store_xcalloc(nb, sizeof *t->b);
  t->nb = nb;
  for (size_t i = 0; i < count; i++) {
    ix_head *e = ix_at(base, stride, i);
    e->next = t->b[e->hash & (nb - 1)];
    t->b[e->hash & (nb - 1)] = (uint32_t)(i + 1);
  }
}

/* The index of the entry named name[0..len) with hash h, or -1. */
static long htab_find(const htab *t, char *base, size_t stride, const char *name, size_t len, uint32_t h) {
  if (!t->nb) return -1;
  for (uint32_t j = t->b[h & (t->nb - 1)]; j; j = ix_at(base, stride, j - 1)->next) {
    ix_head *e = ix_at(base, stride, j - 1);
    if (e->hash == h && sx_str_len(e->name) == len && memcmp(sx_str_data(e->name), name, len) == 0)
      return (long)(j - 1);
  }
  return -1;
}

/* Chain entry i (the last of n, its name and hash set) into the table. */
static void htab_link(htab *t, char *base, size_t stride, size_t n, size_t i) {
  if (n * 2 > t->nb) {
    htab_rebuild(t, n, base, stride);
    return;
  }
  ix_head *e = ix_at(base, stride, i);
  e->next = t->b[e->hash & (t->nb - 1)];
  t->b[e->hash & (t->nb - 1)] = (uint32_t)(i + 1);
}

long store_stream_find(fstore *s, const char *name, size_t len, uint32_t h) {
  return htab_find(&s->stab, (char *)s->streams, sizeof *s->streams, name, len, h);
}

long store_stream_add(fstore *s, sx_val name, uint32_t h) {
  s->streams = ix_grow_gc(s->streams, &s->streams_cap, s->nstreams + 1, sizeof *s->streams);
  size_t i = s->nstreams++;
  stream_ent *e = &s->streams[i];
  memset(e, 0, sizeof *e);
  e->name = name;
  e->hash = h;
  htab_link(&s->stab, (char *)s->streams, sizeof *e, s->nstreams, i);
  s->streams_list = 0;
  s->catalog_ver = s->commit_no;
  return (long)i;
}

long store_kv_find(fstore *s, const char *key, size_t len, uint32_t h) {
  return htab_find(&s->ktab, (char *)s->kv, sizeof *s->kv, key, len, h);
}

long store_kv_add(fstore *s, sx_val key, uint32_t h) {
  s->kv = ix_grow_gc(s->kv, &s->kv_cap, s->nkv + 1, sizeof *s->kv);
  size_t i = s->nkv++;
  kv_ent *e = &s->kv[i];
  memset(e, 0, sizeof *e);
  e->key = key;
  e->hash = h;
  htab_link(&s->ktab, (char *)s->kv, sizeof *e, s->nkv, i);
  return (long)i;
}

/* ---- mutations ------------------------------------------------------------ */

/* Room for need offsets (appended one at a time: need is at most cap + 1,
 * so the new capacity always holds it). */
static void ix_stream_reserve(stream_ent *e, size_t need) {
  if (need <= e->cap) return;
  size_t ncap = e->cap ? e->cap + e->cap / 2 + 8 : 8;
  e->offs = store_xrealloc(e->offs, ncap * sizeof *e->offs);
  if (e->cache) {
    sx_val *nc = store_xgc(ncap * sizeof *nc);
    memset(nc, 0, ncap * sizeof *nc);
    memcpy(nc, e->cache, e->count * sizeof *nc);
    e->cache = nc;
  }
  e->cap = ncap;
}

void store_ix_append(fstore *s, size_t si, int64_t seq, uint64_t off) {
  stream_ent *e = &s->streams[si];
  ix_stream_reserve(e, e->count + 1);
  e->offs[e->count++] = off;
  e->hwm = seq;
  e->hwm_ver = e->ver = s->commit_no;
  s->nevents++;
}

size_t store_ix_truncate(fstore *s, size_t si, int64_t n) {
  stream_ent *e = &s->streams[si];
  size_t live = e->count - e->start;
  int64_t first = e->hwm - (int64_t)live + 1;
  if (n < first || live == 0) return 0;
  size_t drop = (n >= e->hwm) ? live : (size_t)(n - first + 1);
  e->ver = s->commit_no;
  if (e->cache) memset(e->cache + e->start, 0, drop * sizeof *e->cache);
  e->start += drop;
  s->nevents -= drop;
  return drop;
}

/* Move the surviving offsets to the front of the arrays. */
void store_ix_compact(fstore *s, size_t si) {
  (void)s;
  stream_ent *e = &s->streams[si];
  if (e->start == 0) return;
  size_t live = e->count - e->start;
  memmove(e->offs, e->offs + e->start, live * sizeof *e->offs);
  if (e->cache) {
    memmove(e->cache, e->cache + e->start, live * sizeof *e->cache);
    memset(e->cache + live, 0, e->start * sizeof *e->cache);
  }
  e->list = 0; /* it was built before the truncation that moved start */
  e->start = 0;
  e->count = live;
}

void store_ix_kv_set(fstore *s, size_t ki, uint64_t off) {
  kv_ent *e = &s->kv[ki];
  if ((e->off == 0) != (off == 0)) {
    s->kv_live += off ? 1 : -1;
    s->keys_list = 0;
    s->keys_ver = s->commit_no;
  }
  e->off = off;
  e->ver = s->commit_no;
  e->cached = 0;
  s->cache_used -= e->cache_est;
  e->cache_est = 0;
}

/* Trim offset arrays to their exact size (after a full scan from scratch:
 * no stream has cached values yet). */
void store_ix_shrink(fstore *s) {
  for (size_t i = 0; i < s->nstreams; i++) {
    stream_ent *e = &s->streams[i];
    store_ix_compact(s, i);
    if (e->cap > e->count) {
      e->offs = store_xrealloc(e->offs, e->count * sizeof *e->offs);
      e->cap = e->count;
    }
  }
}

void store_ix_free(fstore *s) {
  for (size_t i = 0; i < s->nstreams; i++) free(s->streams[i].offs);
  if (s->streams) GC_FREE(s->streams);
  if (s->kv) GC_FREE(s->kv);
  free(s->stab.b);
  free(s->ktab.b);
  s->streams = NULL;
  s->kv = NULL;
}

size_t store_ix_bytes(fstore *s) {
  size_t n = sizeof *s + s->streams_cap * sizeof(stream_ent) + s->kv_cap * sizeof(kv_ent) +
             (s->stab.nb + s->ktab.nb) * sizeof(uint32_t);
  for (size_t i = 0; i < s->nstreams; i++)
    n += s->streams[i].cap * sizeof(uint64_t) + sizeof(sx_string) + sx_str_len(s->streams[i].name) + 1;
  for (size_t i = 0; i < s->nkv; i++) n += sizeof(sx_string) + sx_str_len(s->kv[i].key) + 1;
  return n;
}

/* ---- decoded-value cache ----------------------------------------------------- */

void store_cache_drop_stream(fstore *s, stream_ent *e) {
  e->cache = NULL;
  e->list = 0;
  s->cache_used -= e->cache_est;
  e->cache_est = 0;
}

/* Keep the cache within budget: drop every other stream's and kv cache;
 * then keep's own if it alone is over budget. */
void store_cache_trim(fstore *s, stream_ent *keep) {
  if (s->cache_used <= s->cache_budget) return;
  for (size_t i = 0; i < s->nstreams; i++)
    if (&s->streams[i] != keep) store_cache_drop_stream(s, &s->streams[i]);
  for (size_t i = 0; i < s->nkv; i++) {
    s->cache_used -= s->kv[i].cache_est;
    s->kv[i].cached = 0;
    s->kv[i].cache_est = 0;
  }
  if (keep && s->cache_used > s->cache_budget) store_cache_drop_stream(s, keep);
}
