/* test_roundtrip.c — property test: random SX data values (nested lists and
 * dicts, strings of arbitrary bytes, int64 extremes, doubles from random bit
 * patterns) are printed, read back, and compared strictly (floats
 * bit-identical, NaN as NaN) and with sx_equal. Fixed seed; a failure
 * reports the seed, the iteration and the printed text. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"

static void setup(void) { sx_gc_init(); }
TestSuite(roundtrip, .init = setup);

#define SEED 0x5EEDC0FFEE123457ull

static uint64_t rng;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return rnd() % n; }

/* ---- generators ------------------------------------------------------------- */

static bool saw_nan; /* the value holds a NaN, so sx_equal cannot hold */

static sx_val gen_int(void) {
  static const int64_t edges[] = {0,
                                  1,
                                  -1,
                                  INT64_MAX,
                                  INT64_MIN,
                                  INT64_MAX - 1,
                                  INT64_MIN + 1,
                                  SX_FIXNUM_MAX,
                                  SX_FIXNUM_MIN,
                                  SX_FIXNUM_MAX + 1,
                                  SX_FIXNUM_MIN - 1};
  switch (below(3)) {
    case 0: return sx_int(edges[below(sizeof edges / sizeof *edges)]);
    case 1: return sx_int((int64_t)below(2001) - 1000);
    default: return sx_int((int64_t)rnd());
  }
}

static sx_val gen_float(void) {
  uint64_t bits = rnd();
  switch (below(8)) {
    case 0: bits &= 0x800FFFFFFFFFFFFFull; break; /* subnormal or ±0 */
    case 1: bits &= 0x8000000000000000ull; break; /* ±0 */
    case 2: bits |= 0x7FF0000000000000ull; break; /* inf or NaN */
    case 3: {                                     /* a short decimal */
      double d = (double)((int64_t)below(2000000) - 1000000) / 1000.0;
      memcpy(&bits, &d, sizeof d);
      break;
    }
    default: break;
  }
  double d;
  memcpy(&d, &bits, sizeof d);
  if (isnan(d)) saw_nan = true;
  return sx_float(d);
}

/* Random bytes: ASCII, escapes, valid UTF-8, invalid bytes and NUL. */
static sx_val gen_string(size_t maxlen) {
  static const char *pieces[] = {"a",  "Z",  " ", "\"",       "\\",           "\n",
                                 "\t", "\r", "x", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                 ";",  "(",  "}", ":",        "\\u0041",      "\\x41"};
  char buf[256];
  size_t n = 0, want = below(maxlen + 1);
  while (n < want) {
    if (below(3) == 0) {
      buf[n++] = (char)below(256);
    } else {
      const char *p = pieces[below(sizeof pieces / sizeof *pieces)];
      size_t l = strlen(p);
      if (n + l > sizeof buf) break;
      memcpy(buf + n, p, l);
      n += l;
    }
  }
  return sx_string_new(buf, n);
}

static const char ident_first[] = "abcxyzABQ/?!-+*<>=&._%";
static const char ident_rest[] = "abcxyzABQ0123456789/?!-+*<>=&._%";

/* A random plain identifier (what a keyword or symbol can be). */
static sx_val gen_ident(void) {
  for (;;) {
    char buf[16];
    size_t n = 1 + below(8);
    buf[0] = ident_first[below(sizeof ident_first - 1)];
    for (size_t i = 1; i < n; i++) buf[i] = ident_rest[below(sizeof ident_rest - 1)];
    if (below(6) == 0 && n < 12) { /* a UTF-8 letter */
      memcpy(buf + n, "\xce\xbb", 2);
      n += 2;
    }
    if (sx_is_plain_identifier(buf, n)) return sx_string_new(buf, n);
  }
}

static sx_val gen_symbol(void) {
  for (;;) {
    sx_val name = gen_ident();
    const char *s = sx_str_data(name);
    if (strcmp(s, "nil") && strcmp(s, "true") && strcmp(s, "false"))
      return sx_symbol_intern(s, sx_str_len(name));
  }
}

static sx_val gen_value(int depth);

static sx_val gen_list(int depth) {
  size_t n = below(6);
  sx_val items[6];
  for (size_t i = 0; i < n; i++) items[i] = gen_value(depth + 1);
  return sx_list(n, items);
}

static sx_val gen_dict(int depth) {
  size_t n = below(7);
  sx_val d = sx_dict_empty();
  for (size_t i = 0; i < n; i++) {
    sx_val key = below(2) ? gen_ident() : gen_string(10);
    d = sx_dict_assoc(d, key, gen_value(depth + 1));
  }
  return d;
}

static sx_val gen_value(int depth) {
  unsigned pick = (unsigned)below(depth >= 5 ? 9 : 12);
  switch (pick) {
    case 0: return SX_NIL;
    case 1: return below(2) ? SX_TRUE : SX_FALSE;
    case 2:
    case 3: return gen_int();
    case 4: return gen_float();
    case 5:
    case 6: return gen_string(40);
    case 7: return sx_keyword_new(gen_ident());
    case 8: return gen_symbol();
    case 9: return SX_EMPTY;
    case 10: return gen_list(depth);
    default: return gen_dict(depth);
  }
}

/* ---- strict comparison ------------------------------------------------------- */

static bool strict_eq(sx_val a, sx_val b);

static bool strict_list_eq(sx_val a, sx_val b) {
  while (sx_is_cons(a) && sx_is_cons(b)) {
    if (!strict_eq(sx_car(a), sx_car(b))) return false;
    a = sx_cdr(a);
    b = sx_cdr(b);
  }
  return a == SX_EMPTY && b == SX_EMPTY;
}

static bool strict_dict_eq(sx_val a, sx_val b) {
  if (sx_dict_count(a) != sx_dict_count(b)) return false;
  sx_dict_iter ia, ib;
  sx_dict_iter_init(&ia, a);
  sx_dict_iter_init(&ib, b);
  sx_val ka, va, kb, vb;
  while (sx_dict_iter_next(&ia, &ka, &va)) {
    if (!sx_dict_iter_next(&ib, &kb, &vb)) return false;
    if (!strict_eq(ka, kb) || !strict_eq(va, vb)) return false;
  }
  return !sx_dict_iter_next(&ib, &kb, &vb);
}

static bool strict_eq(sx_val a, sx_val b) {
  sx_type t = sx_type_of(a);
  if (t != sx_type_of(b)) return false;
  switch (t) {
    case SX_T_INT: return sx_int_val(a) == sx_int_val(b) && sx_is_fixnum(a) == sx_is_fixnum(b);
    case SX_T_FLOAT: {
      double x = sx_float_val(a), y = sx_float_val(b);
      if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
      return memcmp(&x, &y, sizeof x) == 0;
    }
    case SX_T_STRING:
      return sx_str_len(a) == sx_str_len(b) && memcmp(sx_str_data(a), sx_str_data(b), sx_str_len(a)) == 0;
    case SX_T_KEYWORD: return strict_eq(((sx_keyword *)a)->name, ((sx_keyword *)b)->name);
    case SX_T_LIST: return strict_list_eq(a, b);
    case SX_T_DICT: return strict_dict_eq(a, b);
    default: return a == b; /* nil, booleans, interned symbols */
  }
}

/* ---- the property ------------------------------------------------------------- */

static void check_round_trip(sx_val v, int iteration) {
  sx_val text = sx_print_to_string(v);
  sx_val err = SX_NIL;
  sx_val all = sx_read_all(sx_str_data(text), sx_str_len(text), SX_NIL, &err);
  cr_assert_neq(all, SX_UNDEF, "seed %llx iteration %d: %s does not read: %s", (unsigned long long)SEED,
                iteration, sx_str_data(text), sx_is_string(err) ? sx_str_data(err) : "?");
  cr_assert_eq(sx_list_length(all), 1, "seed %llx iteration %d: %s is not one form", (unsigned long long)SEED,
               iteration, sx_str_data(text));
  sx_val back = sx_car(all);
  cr_assert(strict_eq(v, back), "seed %llx iteration %d: %s read back as %s", (unsigned long long)SEED,
            iteration, sx_str_data(text), sx_str_data(sx_print_to_string(back)));
  if (!saw_nan)
    cr_assert(sx_equal(v, back), "seed %llx iteration %d: not equal? %s", (unsigned long long)SEED, iteration,
              sx_str_data(text));
  sx_val again = sx_print_to_string(back);
  cr_assert(sx_string_eq(text, again), "seed %llx iteration %d: reprint differs: %s vs %s",
            (unsigned long long)SEED, iteration, sx_str_data(text), sx_str_data(again));
}

Test(roundtrip, random_values) {
  rng = SEED;
  for (int i = 0; i < 20000; i++) {
    saw_nan = false;
    check_round_trip(gen_value(0), i);
  }
}

Test(roundtrip, random_atoms) {
  rng = SEED ^ 0xA70Bull;
  for (int i = 0; i < 50000; i++) {
    saw_nan = false;
    sx_val v;
    switch (i % 4) {
      case 0: v = gen_int(); break;
      case 1: v = gen_float(); break;
      case 2: v = gen_string(60); break;
      default: v = sx_keyword_new(gen_ident()); break;
    }
    check_round_trip(v, i);
  }
}

Test(roundtrip, nan_reads_as_nan) {
  double nans[] = {NAN, -NAN};
  for (int i = 0; i < 2; i++) {
    sx_val text = sx_print_to_string(sx_float(nans[i]));
    cr_assert_str_eq(sx_str_data(text), "+nan.0");
    sx_val back = sx_car(sx_read_all(sx_str_data(text), sx_str_len(text), SX_NIL, NULL));
    cr_assert(sx_is_float(back) && isnan(sx_float_val(back)));
  }
}

Test(roundtrip, strict_comparison_can_fail) {
  cr_assert_not(strict_eq(sx_float(0.0), sx_float(-0.0)), "sx_equal would say equal");
  cr_assert_not(strict_eq(sx_int(1), sx_float(1.0)));
  cr_assert_not(strict_eq(sx_string_new("a\0b", 3), sx_string_new("a\0c", 3)));
  sx_val a[] = {sx_int(1)}, b[] = {sx_int(1), sx_int(2)};
  cr_assert_not(strict_eq(sx_list(1, a), sx_list(2, b)));
  cr_assert(strict_eq(sx_list(2, b), sx_list(2, b)));
}

Test(roundtrip, long_list_and_deep_nesting) {
  sx_val l = SX_EMPTY;
  for (int i = 0; i < 1000000; i++) l = sx_cons(sx_int(i), l);
  saw_nan = false;
  check_round_trip(l, -1);
  sx_val deep = sx_string_cstr("bottom");
  for (int i = 0; i < SX_READ_MAX_DEPTH; i++)
    deep = (i % 2) ? sx_cons(deep, SX_EMPTY) : sx_dict_assoc(sx_dict_empty(), sx_string_cstr("k"), deep);
  check_round_trip(deep, -2);
}
