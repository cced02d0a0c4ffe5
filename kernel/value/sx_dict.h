/* sx_dict.h — immutable dicts keyed by strings.
 *
 * A dict value is never modified after it is built: assoc and dissoc return
 * a new dict sharing structure with the old one, in O(log n) or better.
 * Iteration (and therefore keys, printing and equality) follows the keys'
 * byte order (sx_string_cmp), so equal dicts always iterate identically
 * however they were built. Small dicts (up to SX_DICT_SMALL_MAX entries)
 * are one allocation holding a sorted key/value array; larger ones are a
 * hash array mapped trie (see sx_dict.c for the design).
 *
 * All functions taking a key require an SX string; callers check types.
 * Dicts may be read from several threads at once.
 */
#ifndef SX_DICT_H
#define SX_DICT_H

#include "sx_value.h"

/* Dicts with at most this many entries are stored as a sorted array. */
#define SX_DICT_SMALL_MAX 16

/* The empty dict (a shared singleton). */
sx_val sx_dict_empty(void);
static inline bool sx_is_dict(sx_val v) { return sx_is(v, SX_T_DICT); }

size_t sx_dict_count(sx_val d);
/* The value stored under key, or SX_UNDEF when absent. */
sx_val sx_dict_lookup(sx_val d, sx_val key);
static inline sx_val sx_dict_get(sx_val d, sx_val key, sx_val dflt) {
  sx_val v = sx_dict_lookup(d, key);
  return v == SX_UNDEF ? dflt : v;
}
static inline bool sx_dict_has(sx_val d, sx_val key) { return sx_dict_lookup(d, key) != SX_UNDEF; }
/* A dict like d but with key bound to val. Returns d itself when key is
 * already bound to exactly (eq) val. */
sx_val sx_dict_assoc(sx_val d, sx_val key, sx_val val);
/* A dict literal built in one allocation: a new dict of count keys (1 to
 * SX_DICT_SMALL_MAX, distinct, already in key order), every value nil,
 * whose values the builder then sets in place, each once, with
 * sx_dict_literal_set before the dict is seen by anyone else (a dict is
 * immutable once shared). */
sx_val sx_dict_literal_new(const sx_val *keys, uint32_t count);
void sx_dict_literal_set(sx_val d, uint32_t i, sx_val val);
/* A dict like d without key. Returns d itself when key is absent. */
sx_val sx_dict_dissoc(sx_val d, sx_val key);
/* (merge a b): every entry of a and b; b's value wins on a shared key. */
sx_val sx_dict_merge(sx_val a, sx_val b);

/* In-order iteration. The iterator may allocate (GC) scratch space; it
 * never needs freeing. For small dicts it allocates nothing; for large
 * ones the sorted pairs are built on the first iteration and cached in
 * the dict, so later iterations of the same dict are allocation-free. */
typedef struct sx_dict_iter {
  sx_val *pairs; /* k0 v0 k1 v1 ... in key order; read-only (shared) */
  size_t n, i;
} sx_dict_iter;
void sx_dict_iter_init(sx_dict_iter *it, sx_val d);
bool sx_dict_iter_next(sx_dict_iter *it, sx_val *key, sx_val *val);

sx_val sx_dict_keys(sx_val d);          /* list of keys in byte order */
sx_val sx_dict_vals(sx_val d);          /* values in key order */
bool sx_dict_equal(sx_val a, sx_val b); /* same keys, sx_equal values */

/* For tests: true when d's internal invariants hold (order, trie shape,
 * hash placement, count, cached order). Walks the whole dict. */
bool sx_dict_valid(sx_val d);

#endif
