/* test_dict.c — unit tests for the persistent dicts in kernel/value/sx_dict.c:
 * basic operations, persistence across the small/large representations,
 * byte-order iteration, equality, hash collisions, and a randomized
 * comparison against a simple reference model. */
#include "sx_dict.h"
#include "sx_value.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void setup(void) { sx_gc_init(); }

TestSuite(dict, .init = setup);

/* ---- helpers --------------------------------------------------------- */

static sx_val S(const char *s) { return sx_string_cstr(s); }
static sx_val I(int64_t i) { return sx_int(i); }

static sx_val keyf(const char *fmt, int i) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, fmt, i);
  return sx_string_new(buf, (size_t)n);
}

static sx_val get(sx_val d, const char *k) { return sx_dict_lookup(d, S(k)); }

/* d with keys fmt%i -> i for i in [lo, hi). */
static sx_val fill(sx_val d, const char *fmt, int lo, int hi) {
  for (int i = lo; i < hi; i++) d = sx_dict_assoc(d, keyf(fmt, i), I(i));
  return d;
}

/* Assert d holds exactly keys fmt%i -> i for i in [0, n). */
static void assert_filled(sx_val d, const char *fmt, int n, int probe_to) {
  cr_assert(sx_dict_valid(d));
  cr_assert_eq(sx_dict_count(d), (size_t)n);
  for (int i = 0; i < probe_to; i++) {
    sx_val v = sx_dict_lookup(d, keyf(fmt, i));
    if (i < n) cr_assert_eq(v, I(i), "key %d of %d", i, n);
    else cr_assert_eq(v, SX_UNDEF, "key %d should be absent (n=%d)", i, n);
  }
}

static int key_cmp(sx_val a, sx_val b) { return sx_string_cmp(a, b); }

/* Assert the iteration of d yields exactly keys[0..n) (given in byte
 * order) with vals[0..n), and that keys/vals lists agree. */
static void assert_iterates(sx_val d, const sx_val *keys, const sx_val *vals, size_t n) {
  cr_assert_eq(sx_dict_count(d), n);
  sx_dict_iter it;
  sx_dict_iter_init(&it, d);
  sx_val k, v, kl = sx_dict_keys(d), vl = sx_dict_vals(d);
  size_t i = 0;
  while (sx_dict_iter_next(&it, &k, &v)) {
    cr_assert_lt(i, n);
    cr_assert(sx_string_eq(k, keys[i]), "position %zu: got \"%s\" want \"%s\"", i, sx_str_data(k),
              sx_str_data(keys[i]));
    cr_assert(sx_equal(v, vals[i]));
    cr_assert(sx_is_cons(kl) && sx_is_cons(vl));
    cr_assert(sx_string_eq(sx_car(kl), keys[i]));
    cr_assert(sx_equal(sx_car(vl), vals[i]));
    kl = sx_cdr(kl);
    vl = sx_cdr(vl);
    i++;
  }
  cr_assert_eq(i, n);
  cr_assert_eq(kl, SX_EMPTY);
  cr_assert_eq(vl, SX_EMPTY);
}

/* ---- basics ---------------------------------------------------------- */

Test(dict, empty) {
  sx_val e = sx_dict_empty();
  cr_assert(sx_is_dict(e));
  cr_assert_eq(sx_type_of(e), SX_T_DICT);
  cr_assert_eq(sx_dict_count(e), 0);
  cr_assert_eq(sx_dict_lookup(e, S("a")), SX_UNDEF);
  cr_assert_eq(sx_dict_get(e, S("a"), SX_NIL), SX_NIL);
  cr_assert_not(sx_dict_has(e, S("")));
  cr_assert_eq(sx_dict_keys(e), SX_EMPTY);
  cr_assert_eq(sx_dict_vals(e), SX_EMPTY);
  cr_assert_eq(sx_dict_dissoc(e, S("a")), e);
  cr_assert(sx_dict_equal(e, sx_dict_empty()));
  cr_assert(sx_equal(e, sx_dict_empty()));
  cr_assert(sx_dict_valid(e));
  sx_dict_iter it;
  sx_val k, v;
  sx_dict_iter_init(&it, e);
  cr_assert_not(sx_dict_iter_next(&it, &k, &v));
}

Test(dict, assoc_get_has_dissoc) {
  sx_val d = sx_dict_assoc(sx_dict_empty(), S("stream"), S("orders"));
  d = sx_dict_assoc(d, S("seq"), I(7));
  d = sx_dict_assoc(d, S("type"), S("created"));
  cr_assert_eq(sx_dict_count(d), 3);
  cr_assert(sx_string_eq(get(d, "stream"), S("orders")));
  cr_assert_eq(get(d, "seq"), I(7));
  cr_assert(sx_dict_has(d, S("type")));
  cr_assert_not(sx_dict_has(d, S("data")));
  cr_assert_eq(sx_dict_get(d, S("data"), I(-1)), I(-1));
  /* Values may be nil or false: still present. */
  sx_val d2 = sx_dict_assoc(d, S("data"), SX_NIL);
  cr_assert(sx_dict_has(d2, S("data")));
  cr_assert_eq(get(d2, "data"), SX_NIL);
  sx_val d3 = sx_dict_dissoc(d2, S("seq"));
  cr_assert_eq(sx_dict_count(d3), 3);
  cr_assert_not(sx_dict_has(d3, S("seq")));
  cr_assert(sx_dict_has(d3, S("stream")));
  cr_assert(sx_dict_has(d3, S("type")));
  cr_assert(sx_dict_has(d3, S("data")));
  cr_assert(sx_dict_valid(d3));
  /* Removing every key gives an empty dict. */
  sx_val e = sx_dict_dissoc(sx_dict_dissoc(sx_dict_dissoc(d3, S("stream")), S("type")), S("data"));
  cr_assert_eq(sx_dict_count(e), 0);
  cr_assert(sx_dict_equal(e, sx_dict_empty()));
}

Test(dict, lookup_compares_contents_not_identity) {
  char a[] = "hello", b[] = "hello";
  sx_val d = sx_dict_assoc(sx_dict_empty(), sx_string_new(a, 5), I(1));
  cr_assert_eq(sx_dict_lookup(d, sx_string_new(b, 5)), I(1));
  cr_assert_eq(sx_dict_lookup(d, sx_string_new(b, 4)), SX_UNDEF); /* "hell" */
  sx_val big = fill(sx_dict_empty(), "k%d", 0, 100);
  cr_assert_eq(sx_dict_lookup(big, keyf("k%d", 42)), I(42));
}

Test(dict, overwrite_existing_key) {
  for (int n = 1; n <= 200; n += 37) { /* small and large dicts */
    sx_val d = fill(sx_dict_empty(), "f%d", 0, n);
    sx_val k = keyf("f%d", n / 2);
    sx_val d2 = sx_dict_assoc(d, k, S("new"));
    cr_assert_eq(sx_dict_count(d2), (size_t)n);
    cr_assert(sx_string_eq(sx_dict_lookup(d2, keyf("f%d", n / 2)), S("new")));
    cr_assert_eq(sx_dict_lookup(d, k), I(n / 2), "original unchanged");
    cr_assert(sx_dict_valid(d2));
    /* Binding a key to the value it already has changes nothing. */
    cr_assert_eq(sx_dict_assoc(d, keyf("f%d", 0), I(0)), d);
    /* Dissoc of an absent key returns the same dict. */
    cr_assert_eq(sx_dict_dissoc(d, S("absent")), d);
  }
}

Test(dict, count_tracks_entries) {
  sx_val d = sx_dict_empty();
  for (int i = 0; i < 1000; i++) {
    d = sx_dict_assoc(d, keyf("c%d", i % 700), I(i));
    cr_assert_eq(sx_dict_count(d), (size_t)(i < 700 ? i + 1 : 700));
  }
  for (int i = 0; i < 700; i += 2) d = sx_dict_dissoc(d, keyf("c%d", i));
  cr_assert_eq(sx_dict_count(d), 350);
  cr_assert(sx_dict_valid(d));
}

/* ---- persistence ----------------------------------------------------- */

Test(dict, persistence_across_small_large_transition) {
  enum { N = 60 };
  sx_val up[N + 1];
  up[0] = sx_dict_empty();
  for (int i = 0; i < N; i++) up[i + 1] = sx_dict_assoc(up[i], keyf("p%d", i), I(i));
  for (int n = 0; n <= N; n++) assert_filled(up[n], "p%d", n, N + 5);
  /* Remove from the end, back through the large -> small transition. */
  sx_val down[N + 1];
  down[N] = up[N];
  for (int i = N - 1; i >= 0; i--) down[i] = sx_dict_dissoc(down[i + 1], keyf("p%d", i));
  for (int n = 0; n <= N; n++) {
    assert_filled(down[n], "p%d", n, N + 5);
    cr_assert(sx_dict_equal(down[n], up[n]));
  }
  /* Every earlier version is still intact. */
  for (int n = 0; n <= N; n++) assert_filled(up[n], "p%d", n, N + 5);
  /* Grow again from a shrunk version: the old versions stay untouched. */
  sx_val again = fill(down[5], "p%d", 5, N);
  assert_filled(again, "p%d", N, N + 5);
  assert_filled(down[5], "p%d", 5, N + 5);
}

Test(dict, persistence_of_dissoc_in_large_dict) {
  sx_val d = fill(sx_dict_empty(), "q%d", 0, 5000);
  sx_val e = d;
  for (int i = 0; i < 5000; i += 3) e = sx_dict_dissoc(e, keyf("q%d", i));
  assert_filled(d, "q%d", 5000, 5000);
  cr_assert_eq(sx_dict_count(e), 5000 - 1667);
  cr_assert(sx_dict_valid(e));
  for (int i = 0; i < 5000; i++) cr_assert_eq(sx_dict_lookup(e, keyf("q%d", i)), i % 3 ? I(i) : SX_UNDEF);
}

/* ---- order ----------------------------------------------------------- */

/* Keys listed in byte order: prefixes first, NUL < 'A' < 'a', high bytes
 * after ASCII, the empty string first. */
static const struct {
  const char *bytes;
  size_t len;
} ordered_keys[] = {
    {"", 0},      {"\x00", 1},     {"\x00\x00", 2},     {"A", 1},    {"B", 1},        {"a", 1},
    {"a\x00", 2}, {"aa", 2},       {"ab", 2},           {"abc", 3},  {"abd", 3},      {"b", 1},
    {"ba", 2},    {"z", 1},        {"\x7f", 1},         {"\x80", 1}, {"\x80\x00", 2}, {"\xc3\xa9", 2},
    {"\xff", 1},  {"\xff\xff", 2}, {"\xff\xff\xff", 3},
};
#define NORDERED (sizeof ordered_keys / sizeof ordered_keys[0])

static sx_val ordered_key(size_t i) { return sx_string_new(ordered_keys[i].bytes, ordered_keys[i].len); }

static void check_order_with_insertion(const size_t *perm, size_t n) {
  sx_val keys[NORDERED], vals[NORDERED];
  for (size_t i = 0; i < n; i++) {
    keys[i] = ordered_key(i);
    vals[i] = I((int64_t)i * 10);
  }
  sx_val d = sx_dict_empty();
  for (size_t j = 0; j < n; j++) d = sx_dict_assoc(d, ordered_key(perm[j]), I((int64_t)perm[j] * 10));
  cr_assert(sx_dict_valid(d));
  assert_iterates(d, keys, vals, n);
}

Test(dict, iteration_is_byte_order) {
  /* The table itself must be in byte order. */
  for (size_t i = 1; i < NORDERED; i++)
    cr_assert_lt(sx_string_cmp(ordered_key(i - 1), ordered_key(i)), 0, "table entry %zu", i);
  size_t perm[NORDERED];
  /* Small dicts: the first 12 keys in reverse and in a shuffled order. */
  for (size_t i = 0; i < 12; i++) perm[i] = 11 - i;
  check_order_with_insertion(perm, 12);
  for (size_t i = 0; i < 12; i++) perm[i] = (i * 5) % 12;
  check_order_with_insertion(perm, 12);
  /* Large dict: all keys, reversed and interleaved. */
  for (size_t i = 0; i < NORDERED; i++) perm[i] = NORDERED - 1 - i;
  check_order_with_insertion(perm, NORDERED);
  for (size_t i = 0; i < NORDERED; i++) perm[i] = (i * 8) % NORDERED; /* 8 coprime to 21 */
  check_order_with_insertion(perm, NORDERED);
}

Test(dict, large_iteration_sorted_and_repeatable) {
  enum { N = 3000 };
  sx_val d = sx_dict_empty();
  /* Insert in a scrambled order. */
  for (int j = 0; j < N; j++) {
    int i = (j * 1237) % N;
    d = sx_dict_assoc(d, keyf("%d", i), I(i));
  }
  sx_val prev = SX_UNDEF;
  size_t seen = 0;
  for (int round = 0; round < 2; round++) { /* second round uses the cache */
    sx_dict_iter it;
    sx_val k, v;
    sx_dict_iter_init(&it, d);
    prev = SX_UNDEF;
    seen = 0;
    while (sx_dict_iter_next(&it, &k, &v)) {
      if (prev != SX_UNDEF) cr_assert_lt(sx_string_cmp(prev, k), 0);
      cr_assert_eq(v, I(atoi(sx_str_data(k))));
      prev = k;
      seen++;
    }
    cr_assert_eq(seen, N);
  }
  cr_assert(sx_string_eq(sx_car(sx_dict_keys(d)), S("0")));
  cr_assert(sx_string_eq(prev, S("999")));
  cr_assert(sx_dict_valid(d));
  /* Versions derived from an iterated dict iterate correctly too. */
  sx_val d2 = sx_dict_dissoc(sx_dict_assoc(d, S("!first"), I(-1)), S("999"));
  cr_assert(sx_string_eq(sx_car(sx_dict_keys(d2)), S("!first")));
  cr_assert_eq(sx_list_length(sx_dict_keys(d2)), N);
  cr_assert_eq(sx_list_length(sx_dict_keys(d)), N);
  cr_assert(sx_dict_valid(d2));
}

/* ---- equality -------------------------------------------------------- */

Test(dict, equal_ignores_insertion_order) {
  for (int n = 0; n <= 300; n += (n < 20 ? 1 : 70)) {
    sx_val fwd = fill(sx_dict_empty(), "e%d", 0, n);
    sx_val rev = sx_dict_empty();
    for (int i = n - 1; i >= 0; i--) rev = sx_dict_assoc(rev, keyf("e%d", i), I(i));
    cr_assert(sx_dict_equal(fwd, rev), "n=%d", n);
    cr_assert(sx_equal(fwd, rev));
    cr_assert(sx_equal(rev, fwd));
    if (n == 0) continue;
    /* Same keys, one value differs. */
    sx_val diff = sx_dict_assoc(rev, keyf("e%d", n - 1), S("x"));
    cr_assert_not(sx_dict_equal(fwd, diff), "n=%d", n);
    cr_assert_not(sx_dict_equal(diff, fwd));
    /* Same count, one key differs. */
    sx_val other = sx_dict_assoc(sx_dict_dissoc(fwd, keyf("e%d", 0)), S("zz"), I(0));
    cr_assert_not(sx_dict_equal(fwd, other), "n=%d", n);
    cr_assert_not(sx_dict_equal(other, fwd));
    /* Different counts. */
    cr_assert_not(sx_dict_equal(fwd, sx_dict_dissoc(fwd, keyf("e%d", 0))));
  }
}

Test(dict, equal_is_deep_and_structural) {
  sx_val inner1 = sx_dict_assoc(sx_dict_empty(), S("x"), sx_list(2, (sx_val[]){I(1), S("a")}));
  sx_val inner2 = sx_dict_assoc(sx_dict_empty(), S("x"), sx_list(2, (sx_val[]){I(1), S("a")}));
  sx_val a = sx_dict_assoc(sx_dict_assoc(sx_dict_empty(), S("in"), inner1), S("n"), I(1));
  sx_val b = sx_dict_assoc(sx_dict_assoc(sx_dict_empty(), S("n"), I(1)), S("in"), inner2);
  cr_assert(sx_equal(a, b)); /* nested dicts and lists, built in another order */
  /* an integer and a float are different values */
  cr_assert_not(sx_equal(a, sx_dict_assoc(b, S("n"), sx_float(1.0))));
  sx_val c = sx_dict_assoc(b, S("in"), sx_dict_assoc(inner2, S("x"), I(2)));
  cr_assert_not(sx_equal(a, c));
  cr_assert_not(sx_equal(a, sx_dict_empty()));
  cr_assert_not(sx_equal(sx_dict_empty(), SX_EMPTY));
}

/* ---- merge ----------------------------------------------------------- */

Test(dict, merge_second_wins) {
  for (int na = 0; na <= 100; na += 25) {
    for (int nb = 0; nb <= 100; nb += 20) {
      sx_val a = fill(sx_dict_empty(), "m%d", 0, na);
      sx_val b = sx_dict_empty();
      for (int i = 0; i < nb; i++) b = sx_dict_assoc(b, keyf("m%d", i + na / 2), I(-i));
      sx_val m = sx_dict_merge(a, b);
      cr_assert(sx_dict_valid(m));
      int lo = na / 2, hi = na / 2 + nb;
      int expect_count = na > hi ? na : hi;
      if (nb == 0) expect_count = na;
      cr_assert_eq(sx_dict_count(m), (size_t)expect_count, "na=%d nb=%d", na, nb);
      for (int i = 0; i < expect_count; i++) {
        sx_val v = sx_dict_lookup(m, keyf("m%d", i));
        if (i >= lo && i < hi) cr_assert_eq(v, I(-(i - lo)));
        else cr_assert_eq(v, I(i));
      }
      assert_filled(a, "m%d", na, na); /* inputs untouched */
      cr_assert_eq(sx_dict_count(b), (size_t)nb);
    }
  }
}

/* ---- hash collisions ------------------------------------------------- */

/* Triples of distinct strings sharing a full 32-bit sx_string_hash, found
 * offline by brute force over "c<n>" for n < 2^24. If the string hash
 * function changes, collision_triples_collide fails: search again. */
static const char *const triples[][3] = {
    {"c4844852", "c10774783", "c12290187"},
    {"c650917", "c6895971", "c9017357"},
    {"c5964559", "c12951396", "c16287412"},
};

Test(dict, collision_triples_collide) {
  for (size_t t = 0; t < 3; t++) {
    uint32_t h = sx_string_hash(S(triples[t][0]));
    for (int j = 1; j < 3; j++)
      cr_assert_eq(sx_string_hash(S(triples[t][j])), h,
                   "sx_string_hash changed: recompute the colliding triples");
  }
}

/* Exercise collision nodes: insert, overwrite, lookup, dissoc, persistence. */
static void check_collisions(sx_val base, int nbase) {
  sx_val d = base;
  sx_val versions[10];
  int nv = 0;
  versions[nv++] = d;
  for (size_t t = 0; t < 3; t++)
    for (int j = 0; j < 3; j++) {
      d = sx_dict_assoc(d, S(triples[t][j]), I((int64_t)(t * 3 + j)));
      versions[nv++] = d;
    }
  cr_assert(sx_dict_valid(d));
  cr_assert_eq(sx_dict_count(d), (size_t)nbase + 9);
  for (int v = 0; v < nv; v++) { /* version v holds the first v colliding keys */
    cr_assert(sx_dict_valid(versions[v]));
    for (int i = 0; i < 9; i++) {
      sx_val got = sx_dict_lookup(versions[v], S(triples[i / 3][i % 3]));
      cr_assert_eq(got, i < v ? I(i) : SX_UNDEF, "version %d key %d", v, i);
    }
  }
  /* Overwrite inside a collision node. */
  sx_val o = sx_dict_assoc(d, S(triples[1][1]), S("over"));
  cr_assert_eq(sx_dict_count(o), sx_dict_count(d));
  cr_assert(sx_string_eq(sx_dict_lookup(o, S(triples[1][1])), S("over")));
  cr_assert_eq(sx_dict_lookup(d, S(triples[1][1])), I(4));
  cr_assert_eq(sx_dict_lookup(o, S(triples[1][0])), I(3));
  cr_assert_eq(sx_dict_lookup(o, S(triples[1][2])), I(5));
  /* Dissoc an absent key whose hash collides with present ones. */
  sx_val partial = versions[2]; /* holds triples[0][0..1] */
  cr_assert_eq(sx_dict_dissoc(partial, S(triples[0][2])), partial);
  /* Remove colliding keys one at a time, middle ones first. */
  static const int order[9] = {1, 4, 7, 0, 5, 8, 2, 3, 6};
  sx_val r = d;
  for (int s = 0; s < 9; s++) {
    r = sx_dict_dissoc(r, S(triples[order[s] / 3][order[s] % 3]));
    cr_assert(sx_dict_valid(r), "after removing %d", order[s]);
    cr_assert_eq(sx_dict_count(r), (size_t)nbase + 8 - (size_t)s);
    for (int i = 0; i < 9; i++) {
      bool removed = false;
      for (int q = 0; q <= s; q++) removed |= order[q] == i;
      cr_assert_eq(sx_dict_lookup(r, S(triples[i / 3][i % 3])), removed ? SX_UNDEF : I(i));
    }
  }
  cr_assert(sx_dict_equal(r, base));
  /* Iteration order ignores hashes. */
  sx_val k, v, prev = SX_UNDEF;
  sx_dict_iter it;
  sx_dict_iter_init(&it, d);
  while (sx_dict_iter_next(&it, &k, &v)) {
    if (prev != SX_UNDEF) cr_assert_lt(sx_string_cmp(prev, k), 0);
    prev = k;
  }
}

Test(dict, collision_nodes) {
  check_collisions(fill(sx_dict_empty(), "base%d", 0, 40), 40);
  check_collisions(fill(sx_dict_empty(), "base%d", 0, 2000), 2000);
  check_collisions(sx_dict_empty(), 0); /* grows small -> large with collisions */
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Find a colliding pair at run time (birthday search over 2^18 strings:
 * about 8 pairs expected) and check a large dict keeps them apart. */
Test(dict, brute_force_collision_pair) {
  enum { N = 1 << 18 };
  uint64_t *hv = malloc(N * sizeof *hv);
  cr_assert_not_null(hv);
  for (uint32_t i = 0; i < N; i++) hv[i] = (uint64_t)sx_string_hash(keyf("b%d", (int)i)) << 32 | i;
  qsort(hv, N, sizeof *hv, cmp_u64);
  int found = -1;
  for (int i = 0; i + 1 < N && found < 0; i++)
    if (hv[i] >> 32 == hv[i + 1] >> 32) found = i;
  cr_assert_geq(found, 0, "no colliding pair found");
  sx_val k1 = keyf("b%d", (int)(uint32_t)hv[found]);
  sx_val k2 = keyf("b%d", (int)(uint32_t)hv[found + 1]);
  free(hv);
  cr_assert_not(sx_string_eq(k1, k2));
  cr_assert_eq(sx_string_hash(k1), sx_string_hash(k2));
  sx_val d = fill(sx_dict_empty(), "x%d", 0, 50);
  sx_val d1 = sx_dict_assoc(d, k1, S("one"));
  sx_val d2 = sx_dict_assoc(d1, k2, S("two"));
  cr_assert(sx_dict_valid(d2));
  cr_assert_eq(sx_dict_lookup(d1, k2), SX_UNDEF);
  cr_assert(sx_string_eq(sx_dict_lookup(d2, k1), S("one")));
  cr_assert(sx_string_eq(sx_dict_lookup(d2, k2), S("two")));
  sx_val d3 = sx_dict_dissoc(d2, k1);
  cr_assert_eq(sx_dict_lookup(d3, k1), SX_UNDEF);
  cr_assert(sx_string_eq(sx_dict_lookup(d3, k2), S("two")));
  cr_assert(sx_dict_valid(d3));
  cr_assert(sx_dict_equal(sx_dict_dissoc(d3, k2), d));
}

/* ---- randomized model test ------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

/* A pool of keys of varied lengths and bytes, and its byte order. */
typedef struct pool {
  int n;
  sx_val *keys;
  int *order; /* indices of keys in byte order */
} pool;

static const sx_val *sort_base;
static int idx_cmp(const void *a, const void *b) {
  return key_cmp(sort_base[*(const int *)a], sort_base[*(const int *)b]);
}

static pool make_pool(int n) {
  /* keys live in GC-scanned memory so the collector sees them */
  pool p = {n, sx_alloc((size_t)n * sizeof(sx_val)), malloc((size_t)n * sizeof(int))};
  for (int i = 0; i < n; i++) {
    char buf[32];
    int len;
    switch (i % 4) {
      case 0: len = snprintf(buf, sizeof buf, "%d", i); break;
      case 1: len = snprintf(buf, sizeof buf, "key-%d", i); break;
      case 2: len = snprintf(buf, sizeof buf, "\xc3\xa9%x", i); break;
      default: len = snprintf(buf, sizeof buf, "%d%c", i / 4, 'a' + i % 26); break;
    }
    if (i == 3) len = 0; /* the empty key */
    p.keys[i] = sx_string_new(buf, (size_t)len);
    p.order[i] = i;
  }
  sort_base = p.keys;
  qsort(p.order, (size_t)n, sizeof(int), idx_cmp);
  for (int i = 1; i < n; i++) /* keys must be distinct */
    cr_assert_lt(sx_string_cmp(p.keys[p.order[i - 1]], p.keys[p.order[i]]), 0);
  return p;
}

/* Compare d fully with the model (vals[i] or SX_UNDEF for key i). */
static void check_against_model(sx_val d, const pool *p, const sx_val *vals) {
  cr_assert(sx_dict_valid(d));
  size_t present = 0;
  for (int i = 0; i < p->n; i++) {
    cr_assert_eq(sx_dict_lookup(d, p->keys[i]), vals[i]);
    present += vals[i] != SX_UNDEF;
  }
  cr_assert_eq(sx_dict_count(d), present);
  sx_dict_iter it;
  sx_val k, v;
  sx_dict_iter_init(&it, d);
  for (int j = 0; j < p->n; j++) {
    int i = p->order[j];
    if (vals[i] == SX_UNDEF) continue;
    cr_assert(sx_dict_iter_next(&it, &k, &v));
    cr_assert(sx_string_eq(k, p->keys[i]));
    cr_assert_eq(v, vals[i]);
  }
  cr_assert_not(sx_dict_iter_next(&it, &k, &v));
}

/* nops random assoc/dissoc/lookup operations over a pool of pool_n keys;
 * assoc-heavy and dissoc-heavy phases alternate so the dict grows and
 * shrinks (through the small/large boundary when pool_n is small). Every
 * snap_every ops the dict and a copy of the model are saved; all
 * snapshots are re-checked at the end (persistence). */
static void run_model(uint64_t seed, int nops, int pool_n, int snap_every) {
  rng_state = seed;
  pool p = make_pool(pool_n);
  sx_val *vals = malloc((size_t)pool_n * sizeof(sx_val));
  for (int i = 0; i < pool_n; i++) vals[i] = SX_UNDEF;
  int nsnap = nops / snap_every + 1, taken = 0;
  sx_val *snaps = sx_alloc((size_t)nsnap * sizeof(sx_val)); /* GC-visible */
  sx_val **snapvals = malloc((size_t)nsnap * sizeof(sx_val *));
  sx_val d = sx_dict_empty();
  int phase_len = pool_n * 3 > 200 ? pool_n * 3 : 200;
  for (int op = 0; op < nops; op++) {
    bool growing = (op / phase_len) % 2 == 0;
    int i = (int)(rnd() % (uint64_t)pool_n);
    /* Sometimes look the key up by an equal but distinct string. */
    sx_val key = rnd() % 4 ? p.keys[i] : sx_string_new(sx_str_data(p.keys[i]), sx_str_len(p.keys[i]));
    uint64_t r = rnd() % 100;
    if (r < (growing ? 60u : 25u)) {
      sx_val v = I((int64_t)(rnd() % 1000));
      d = sx_dict_assoc(d, key, v);
      vals[i] = v;
    } else if (r < 90) {
      d = sx_dict_dissoc(d, key);
      vals[i] = SX_UNDEF;
    }
    cr_assert_eq(sx_dict_lookup(d, key), vals[i], "op %d", op);
    if (op % snap_every == 0) {
      snaps[taken] = d;
      snapvals[taken] = malloc((size_t)pool_n * sizeof(sx_val));
      memcpy(snapvals[taken], vals, (size_t)pool_n * sizeof(sx_val));
      taken++;
    }
    if (op % (snap_every / 4) == 0) cr_assert(sx_dict_valid(d));
  }
  check_against_model(d, &p, vals);
  for (int s = 0; s < taken; s++) {
    check_against_model(snaps[s], &p, snapvals[s]);
    free(snapvals[s]);
  }
  free(snapvals);
  free(vals);
  free(p.order);
}

Test(dict, random_model_large, .timeout = 120) { run_model(0x9e3779b97f4a7c15ull, 100000, 4000, 5000); }
Test(dict, random_model_boundary, .timeout = 120) { run_model(12345, 60000, 24, 1000); }
Test(dict, random_model_medium, .timeout = 120) { run_model(777, 40000, 300, 2000); }

/* ---- scale ----------------------------------------------------------- */

Test(dict, hundred_thousand_keys) {
  enum { N = 100000 };
  sx_val d = sx_dict_empty();
  for (int i = 0; i < N; i++) d = sx_dict_assoc(d, keyf("k%d", i), I(i));
  cr_assert_eq(sx_dict_count(d), N);
  int64_t sum = 0;
  for (int i = 0; i < N; i++) sum += sx_int_val(sx_dict_lookup(d, keyf("k%d", i)));
  cr_assert_eq(sum, (int64_t)N * (N - 1) / 2);
  cr_assert(sx_dict_valid(d));
  cr_assert_eq(sx_list_length(sx_dict_keys(d)), N);
}

/* A dict literal built in place (sx_dict_literal_new/_set, what the
 * machine does for a literal of up to SX_DICT_SMALL_MAX entries) is the
 * same dict as one built by assoc: valid, equal, and a normal dict to
 * assoc onto, up to the largest size and past it. */
Test(dict, literal_built_in_place_equals_assoc) {
  for (uint32_t n = 1; n <= SX_DICT_SMALL_MAX; n++) {
    sx_val keys[SX_DICT_SMALL_MAX], by_assoc = sx_dict_empty();
    for (uint32_t i = 0; i < n; i++) keys[i] = keyf("k%02d", (int)i); /* in byte order */
    sx_val lit = sx_dict_literal_new(keys, n);
    cr_assert_eq(sx_dict_count(lit), n);
    cr_assert_eq(sx_dict_lookup(lit, keys[0]), SX_NIL, "values start nil");
    for (uint32_t i = 0; i < n; i++) {
      sx_dict_literal_set(lit, i, I(i * 10));
      by_assoc = sx_dict_assoc(by_assoc, keys[n - 1 - i], I((n - 1 - i) * 10));
    }
    cr_assert(sx_dict_valid(lit));
    cr_assert(sx_dict_equal(lit, by_assoc), "n=%u", n);
    for (uint32_t i = 0; i < n; i++) cr_assert_eq(sx_int_val(sx_dict_lookup(lit, keys[i])), i * 10);
    sx_val more = sx_dict_assoc(lit, S("zz"), I(-1)); /* n = 16: becomes a trie */
    cr_assert(sx_dict_valid(more));
    cr_assert_eq(sx_dict_count(more), n + 1);
    cr_assert_eq(sx_dict_count(lit), n, "the literal itself is unchanged");
  }
}
