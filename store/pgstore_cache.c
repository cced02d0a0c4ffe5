/* pgstore_cache.c — what a PostgreSQL store handle has read, kept so that
 * the next read of the same stream or key fetches only what changed, or
 * nothing at all.
 *
 * A read that must ask the database passes what the handle holds — a
 * stream's high-water mark, a key's version — and gets back only the events
 * after that mark, or no value when the version is unchanged. Both only
 * grow (pgstore.h), so what is cached stays true: a truncation is seen as a
 * higher first seq, which drops cached events from the front. Should the
 * database show a mark or version lower than the cached one (the schema was
 * replaced under the process), the entry is dropped and the read runs
 * again without it.
 *
 * A read need not ask at all when the entry is current for it (see
 * "freshness" below): the database gave the entry's marks after the
 * evaluation's request was in, so they include every commit the
 * evaluation must see. Without a host telling when requests arrive
 * (store_txn_since), that means after the evaluation began.
 *
 * Entries are found through a persistent dict (name -> slot) and live in a
 * GC array reachable from the handle; all of it is guarded by the handle's
 * mutex (pgstore.mu). Past the budget (store_opts.cache_bytes, 64 MiB by
 * default) the whole cache is emptied. */
#include "pgstore.h"

#include <gc.h>
#include <stdlib.h>
#include <string.h>

#include "sx_dict.h"

#define PGCACHE_DEFAULT_BUDGET (64u << 20)
#define PGCACHE_CELL 16u /* bytes of one list cell */

static size_t pgcache_budget(const pgstore *s) {
  return s->base.opts.cache_bytes ? s->base.opts.cache_bytes : PGCACHE_DEFAULT_BUDGET;
}

void pgcache_clear(pgstore *s) {
  s->cache.index[PGCACHE_STREAM] = s->cache.index[PGCACHE_KEY] = sx_dict_empty();
  s->cache.n = 0;
  s->cache.bytes = 0;
}

pgcache_ent *pgcache_find(pgstore *s, pgcache_kind kind, sx_val name) {
  if (!s->cache.index[kind]) return NULL;
  sx_val slot = sx_dict_lookup(s->cache.index[kind], name);
  if (slot == SX_UNDEF) return NULL; /* a slot is always an int */
  pgcache_ent *e = &s->cache.ents[sx_int_val(slot)];
  return e->live ? e : NULL;
}

pgcache_ent *pgcache_put(pgstore *s, pgcache_kind kind, sx_val name, size_t bytes) {
  if (!s->cache.index[kind]) pgcache_clear(s);
  if (s->cache.bytes + bytes > pgcache_budget(s)) {
    pgcache_clear(s);
    if (bytes > pgcache_budget(s) / 2) return NULL; /* one entry may not take most of it */
  }
  sx_val slot = sx_dict_lookup(s->cache.index[kind], name);
  pgcache_ent *e;
  if (slot != SX_UNDEF) {
    e = &s->cache.ents[sx_int_val(slot)];
    s->cache.bytes -= e->bytes;
  } else {
    if (s->cache.n == s->cache.cap) {
      size_t cap = s->cache.cap ? 2 * s->cache.cap : 64;
      pgcache_ent *grown = store_xgc(cap * sizeof *grown);
      if (s->cache.n) memcpy(grown, s->cache.ents, s->cache.n * sizeof *grown);
      s->cache.ents = grown;
      s->cache.cap = cap;
    }
    e = &s->cache.ents[s->cache.n];
    s->cache.index[kind] = sx_dict_assoc(s->cache.index[kind], name, sx_int((int64_t)s->cache.n));
    s->cache.n++;
  }
  memset(e, 0, sizeof *e);
  e->live = true;
  e->bytes = bytes;
  s->cache.bytes += bytes;
  return e;
}

void pgcache_drop(pgstore *s, pgcache_ent *e) {
  s->cache.bytes -= e->bytes;
  e->bytes = 0;
  e->live = false; /* the slot stays, found by no one, until the cache is emptied */
}

/* The events of e from seq first on (e holds [e->first, e->hwm]), then the
 * n items of more: a new list sharing the events (and, with nothing to
 * add or drop, e's own list). */
sx_val pgcache_events(const pgcache_ent *e, int64_t first, const sx_val *more, size_t n) {
  sx_val kept = e->events;
  for (int64_t seq = e->first; seq < first && sx_is_cons(kept); seq++) kept = sx_cdr(kept);
  if (n == 0) return kept;
  sx_val tail = sx_list(n, more), acc = SX_EMPTY;
  for (sx_val l = kept; sx_is_cons(l); l = sx_cdr(l)) acc = sx_cons(sx_car(l), acc);
  for (; sx_is_cons(acc); acc = sx_cdr(acc)) tail = sx_cons(sx_car(acc), tail);
  return tail;
}

size_t pgcache_list_bytes(size_t n, size_t encoded) { return n * PGCACHE_CELL + 2 * encoded; }

/* ---- freshness ------------------------------------------------------------------------
 * A request that was in before tick c must see every commit that finished
 * before it; an answer given after a tick t > c was given after c was
 * read, so after every such commit. pgcache_current is that test. Every
 * commit through this handle either records the marks it made (tagged
 * with its own tick) or unsees what it wrote; a failed commit unsees
 * everything it touched. */

bool pgcache_current(const pgcache_ent *e, uint64_t since) { return e && e->seen > since; }

void pgcache_note_marks(pgstore *s, sx_val stream, int64_t hwm, int64_t first, uint64_t at) {
  pgcache_ent *e = pgcache_find(s, PGCACHE_STREAM, stream);
  if (e && at < e->seen) return; /* older news than the entry's (answers on the pool's connections) */
  if (e && (hwm < e->hwm || first < e->first)) pgcache_drop(s, e), e = NULL; /* not the stream it held */
  if (!e && hwm == 0) return; /* absent streams are not remembered */
  if (!e) {
    if (!(e = pgcache_put(s, PGCACHE_STREAM, stream, PGCACHE_CELL * 4))) return;
    e->events = SX_EMPTY; /* holds no events yet: hwm 0 */
  }
  e->mark_hwm = hwm;
  e->mark_first = first;
  e->seen = at;
}

void pgcache_unsee(pgstore *s, pgcache_kind kind, sx_val name) {
  pgcache_ent *e = pgcache_find(s, kind, name);
  if (e) e->seen = 0;
}
