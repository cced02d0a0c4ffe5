/* test_print.c — Criterion tests for the SX printer (reader/sx_print.c):
 * every printed form, string escaping, float formatting (checked against
 * shortest round-trip digits computed independently), dict key order and
 * keyword-vs-string keys, display, and very long / very deep values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"

static void setup(void) { sx_gc_init(); }
TestSuite(print, .init = setup);

static const char *pr(sx_val v) { return sx_str_data(sx_print_to_string(v)); }
static const char *disp(sx_val v) { return sx_str_data(sx_display_to_string(v)); }
static sx_val str(const char *s) { return sx_string_cstr(s); }
static sx_val strn(const char *s, size_t n) { return sx_string_new(s, n); }
static sx_val sym(const char *s) { return sx_symbol_cstr(s); }

static sx_val dict_of(size_t n, const char **kv_keys, const sx_val *vals) {
  sx_val d = sx_dict_empty();
  for (size_t i = 0; i < n; i++) d = sx_dict_assoc(d, str(kv_keys[i]), vals[i]);
  return d;
}

static double from_bits(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static const char *fmt(double d) {
  static char buf[64];
  memset(buf, 'Z', sizeof buf);
  int n = sx_format_float(buf, d);
  cr_assert_eq((size_t)n, strlen(buf), "returned length matches");
  cr_assert_lt(n, 32, "fits the documented 32 bytes");
  return buf;
}

/* ---- atoms ------------------------------------------------------------------ */

Test(print, constants) {
  cr_assert_str_eq(pr(SX_NIL), "nil");
  cr_assert_str_eq(pr(SX_TRUE), "true");
  cr_assert_str_eq(pr(SX_FALSE), "false");
  cr_assert_str_eq(pr(SX_EMPTY), "()");
}

Test(print, integers) {
  cr_assert_str_eq(pr(sx_int(42)), "42");
  cr_assert_str_eq(pr(sx_int(-7)), "-7");
  cr_assert_str_eq(pr(sx_int(0)), "0");
  cr_assert_str_eq(pr(sx_int(INT64_MAX)), "9223372036854775807");
  cr_assert_str_eq(pr(sx_int(INT64_MIN)), "-9223372036854775808");
  cr_assert_str_eq(pr(sx_int(SX_FIXNUM_MAX)), "4611686018427387903");
  cr_assert_str_eq(pr(sx_int(SX_FIXNUM_MAX + 1)), "4611686018427387904");
  cr_assert_str_eq(pr(sx_int(SX_FIXNUM_MIN - 1)), "-4611686018427387905");
}

Test(print, float_basics) {
  cr_assert_str_eq(fmt(0.1), "0.1");
  cr_assert_str_eq(fmt(1.0), "1.0");
  cr_assert_str_eq(fmt(-1.0), "-1.0");
  cr_assert_str_eq(fmt(3.5), "3.5");
  cr_assert_str_eq(fmt(123456789.0), "123456789.0");
  cr_assert_str_eq(fmt(1e21), "1e21");
  cr_assert_str_eq(fmt(1e20), "100000000000000000000.0");
  cr_assert_str_eq(fmt(5e-324), "5e-324");
  cr_assert_str_eq(fmt(-5e-324), "-5e-324");
  cr_assert_str_eq(fmt(1e300), "1e300");
  cr_assert_str_eq(fmt(1e-7), "1e-7");
  cr_assert_str_eq(fmt(1e-6), "0.000001");
  cr_assert_str_eq(fmt(0.1 + 0.2), "0.30000000000000004");
  cr_assert_str_eq(fmt(1.7976931348623157e308), "1.7976931348623157e308");
  cr_assert_str_eq(fmt(0.0), "0.0");
  cr_assert_str_eq(fmt(-0.0), "-0.0");
  cr_assert_str_eq(fmt(INFINITY), "+inf.0");
  cr_assert_str_eq(fmt(-INFINITY), "-inf.0");
  cr_assert_str_eq(fmt(NAN), "+nan.0");
  cr_assert_str_eq(fmt(-NAN), "+nan.0");
  cr_assert_str_eq(pr(sx_float(2.5)), "2.5");
  cr_assert_str_eq(pr(sx_float(-0.0)), "-0.0");
}

/* Expected text from Python's repr (shortest round-trip digits, David Gay's
 * algorithm) laid out in our format: powers of two (lopsided rounding
 * intervals), decimal classics, random bit patterns and subnormals. */
static const struct {
  uint64_t bits;
  const char *text;
} float_cases[] = {
    {0x0000000000000001ull, "5e-324"},
    {0x0000020000000000ull, "1.086461844974e-311"},
    {0x01f0000000000000ull, "2.3891548633682403e-299"},
    {0x0480000000000000ull, "5.253807105661922e-287"},
    {0x0710000000000000ull, "1.155324400553491e-274"},
    {0x09a0000000000000ull, "2.5405852245238005e-262"},
    {0x0c30000000000000ull, "5.586805991439637e-250"},
    {0x0ec0000000000000ull, "1.228551629943301e-237"},
    {0x1150000000000000ull, "2.7016136048916335e-225"},
    {0x13e0000000000000ull, "5.940911144672375e-213"},
    {0x1670000000000000ull, "1.3064201766302604e-200"},
    {0x1900000000000000ull, "2.872848349932294e-188"},
    {0x1b90000000000000ull, "6.317460331175305e-176"},
    {0x1e20000000000000ull, "1.3892242184281734e-163"},
    {0x20b0000000000000ull, "3.054936363499605e-151"},
    {0x2340000000000000ull, "6.717876107567089e-139"},
    {0x25d0000000000000ull, "1.4772765788457177e-126"},
    {0x2860000000000000ull, "3.248565551764031e-114"},
    {0x2af0000000000000ull, "7.143671195514219e-102"},
    {0x2d80000000000000ull, "1.5709099088952725e-89"},
    {0x3010000000000000ull, "3.454467422037778e-77"},
    {0x32a0000000000000ull, "7.596454196607839e-65"},
    {0x3530000000000000ull, "1.6704779438076223e-52"},
    {0x37c0000000000000ull, "3.6734198463196485e-40"},
    {0x3a50000000000000ull, "8.077935669463161e-28"},
    {0x3ce0000000000000ull, "1.7763568394002505e-15"},
    {0x3f70000000000000ull, "0.00390625"},
    {0x4200000000000000ull, "8589934592.0"},
    {0x4490000000000000ull, "1.888946593147858e22"},
    {0x4720000000000000ull, "4.153837486827862e34"},
    {0x49b0000000000000ull, "9.134385233318143e46"},
    {0x4c40000000000000ull, "2.008672555323738e59"},
    {0x4ed0000000000000ull, "4.417117661945961e71"},
    {0x5160000000000000ull, "9.713344461128645e83"},
    {0x53f0000000000000ull, "2.13598703592091e96"},
    {0x5680000000000000ull, "4.6970851655476665e108"},
    {0x5910000000000000ull, "1.0328999512347634e121"},
    {0x5ba0000000000000ull, "2.2713710134237715e133"},
    {0x5e30000000000000ull, "4.994797680505588e145"},
    {0x60c0000000000000ull, "1.0983676256208976e158"},
    {0x6350000000000000ull, "2.4153359518857865e170"},
    {0x65e0000000000000ull, "5.311379928167671e182"},
    {0x6870000000000000ull, "1.167984798111282e195"},
    {0x6b00000000000000ull, "2.568425733177917e207"},
    {0x6d90000000000000ull, "5.648027917416435e219"},
    {0x7020000000000000ull, "1.2420144738405671e232"},
    {0x72b0000000000000ull, "2.7312187117075883e244"},
    {0x7540000000000000ull, "6.00601346304376e256"},
    {0x77d0000000000000ull, "1.3207363278391631e269"},
    {0x7a60000000000000ull, "2.90432989937067e281"},
    {0x7cf0000000000000ull, "6.386688990511104e293"},
    {0x7f80000000000000ull, "1.4044477616111843e306"},
    {0x0010000000000000ull, "2.2250738585072014e-308"},
    {0x0020000000000000ull, "4.450147717014403e-308"},
    {0x7fe0000000000000ull, "8.98846567431158e307"},
    {0x43b0000000000000ull, "1152921504606847000.0"},
    {0x43c0000000000000ull, "2305843009213694000.0"},
    {0x43d0000000000000ull, "4611686018427388000.0"},
    {0x43e0000000000000ull, "9223372036854776000.0"},
    {0x43f0000000000000ull, "18446744073709552000.0"},
    {0x3fe0000000000000ull, "0.5"},
    {0x3fd0000000000000ull, "0.25"},
    {0x3fc0000000000000ull, "0.125"},
    {0x3fb999999999999aull, "0.1"},
    {0x3fc999999999999aull, "0.2"},
    {0x3fd3333333333334ull, "0.30000000000000004"},
    {0x3fd5555555555555ull, "0.3333333333333333"},
    {0x3fe5555555555555ull, "0.6666666666666666"},
    {0x444b1ae4d6e2ef50ull, "1e21"},
    {0x4415af1d78b58c40ull, "100000000000000000000.0"},
    {0x3eb0c6f7a0b5ed8dull, "0.000001"},
    {0x3e7ad7f29abcaf48ull, "1e-7"},
    {0x419d6f3454000000ull, "123456789.0"},
    {0x3ff0000000000000ull, "1.0"},
    {0x4059000000000000ull, "100.0"},
    {0x400c000000000000ull, "3.5"},
    {0xc0091eb851eb851full, "-3.14"},
    {0x7e37e43c8800759cull, "1e300"},
    {0x01b01297d23ab683ull, "1.5e-300"},
    {0x0000000000000001ull, "5e-324"},
    {0x0010000000000000ull, "2.2250738585072014e-308"},
    {0x000fffffffffffffull, "2.225073858507201e-308"},
    {0x7fefffffffffffffull, "1.7976931348623157e308"},
    {0x4340000000000000ull, "9007199254740992.0"},
    {0x4340000000000000ull, "9007199254740992.0"},
    {0x430c6bf526340000ull, "1000000000000000.0"},
    {0x4341c37937e08000ull, "10000000000000000.0"},
    {0x4376345785d8a000ull, "100000000000000000.0"},
    {0x405edd2f1a9fbe77ull, "123.456"},
    {0x3f201f31f46ed246ull, "0.000123"},
    {0x4011666666666666ull, "4.35"},
    {0x3fd3333333333333ull, "0.3"},
    {0x3e90c6f7a0b5ed8dull, "2.5e-7"},
    {0x41b1de784a000000ull, "299792458.0"},
    {0x44dfe185ca57c517ull, "6.02214076e23"},
    {0x4480f0cf064dd592ull, "1e22"},
    {0x44b52d02c7e14af6ull, "1e23"},
    {0xf2a74de452e6b438ull, "-1.989032661366619e244"},
    {0x6513270e269e0d37ull, "7.761117632285041e178"},
    {0x0c5c7fd0a6a3a450ull, "3.980498358697587e-249"},
    {0xd23f0824128b2f33ull, "-1.5432835417340557e88"},
    {0x1818e811892f902bull, "1.3647584518757569e-192"},
    {0x9531985d5d9dc9f8ull, "-1.3701135617873088e-206"},
    {0xe8e25d940ed90475ull, "-1.7160537630466207e197"},
    {0x36f675cc81e74ef5ull, "6.294675241195386e-44"},
    {0x1600a35a099950d8ull, "1.0613447212142254e-202"},
    {0x6b0d549b6f03675aull, "4.708325160387546e207"},
    {0x3d9c172411e20b8full, "6.387016158513563e-12"},
    {0x8d116ece1738f7d9ull, "-9.973130378568733e-246"},
    {0x0f21ddb66cad4a26ull, "8.779753225680271e-236"},
    {0x90c192cfd3ac94afull, "-5.795503248498993e-228"},
    {0xf28c105d1fb17c23ull, "-5.988180159386011e243"},
    {0xa170b33839263059ull, "-1.306052388527796e-147"},
    {0x953f48f1a09f76b5ull, "-2.436117699484841e-206"},
    {0x0fd630f1f29d0da9ull, "2.233386999150174e-232"},
    {0x95e60af593bd04cfull, "-3.51527970626667e-203"},
    {0x0cb1e29c658cda14ull, "1.5987381841032883e-247"},
    {0x3898d190f9ebdaccull, "4.6678633181812096e-36"},
    {0x8e81973e0becd7b0ull, "-8.441872792105456e-239"},
    {0x2217beaddbc496cbull, "1.9015657400796622e-144"},
    {0x6b4cb2424a23d596ull, "7.370437700706684e208"},
    {0x8a6a63ec24ede6a4ull, "-1.7163996725272777e-258"},
    {0x922766581e27a1c0ull, "-3.2367190832119987e-221"},
    {0x8f6d05584ef8aa38ull, "-2.2818334634712625e-234"},
    {0xae97ba94d0eda82full, "-3.0536383926309363e-84"},
    {0x1a61dbe22e44158bull, "1.3449551894627777e-181"},
    {0x923a736994e3bf91ull, "-7.317495976062606e-221"},
    {0x301850c5a38fd547ull, "5.249822308814304e-77"},
    {0x18f135d25f557203ull, "1.5450754142984396e-188"},
    {0xb64ce4228c38fb29ull, "-3.953625698224792e-47"},
    {0x907a70c31012f037ull, "-2.72491267476498e-229"},
    {0x9e7769b10f4205b4ull, "-6.505141861548772e-162"},
    {0x7f15052434b9b5dfull, "1.441484839555994e304"},
    {0x881ed162ae2eb154ull, "-1.4583679262758548e-269"},
    {0xc6f877186d76b07eull, "-7.939416668807721e33"},
    {0x7731af10506bf2efull, "1.4255183989699612e266"},
    {0xec66a78795e761d1ull, "-1.525315701232403e214"},
    {0x0005c90a7403e430ull, "8.045471778166605e-309"},
    {0x0003f98e4cbd87adull, "5.52767807676016e-309"},
    {0x0002e053cb5c7427ull, "3.999957702710797e-309"},
    {0x000c7a2eb2f14c94ull, "1.7351786614934567e-308"},
    {0x00014f473e7d1bfbull, "1.821335387061207e-309"},
    {0x0004cdd2930d6eafull, "6.680776417774586e-309"},
    {0x0007ebff86734721ull, "1.1016713032728307e-308"},
    {0x00057ee0e00902c7ull, "7.642598611121326e-309"},
    {0x00072e6cbabced20ull, "9.986891589565587e-309"},
    {0x0009be4b49b64a08ull, "1.3549776813698935e-308"},
};

Test(print, floats_are_shortest_round_trip) {
  for (size_t i = 0; i < sizeof float_cases / sizeof *float_cases; i++) {
    double d = from_bits(float_cases[i].bits);
    const char *got = fmt(d);
    cr_assert_str_eq(got, float_cases[i].text, "bits %016llx", (unsigned long long)float_cases[i].bits);
    double back = strtod(got, NULL);
    cr_assert(memcmp(&back, &d, sizeof d) == 0, "%s reads back", got);
  }
}

Test(print, floats_always_look_like_floats) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double d = from_bits(x);
    if (isnan(d)) continue;
    const char *s = fmt(d);
    cr_assert(strpbrk(s, ".e") != NULL || isinf(d), "%s has '.' or 'e'", s);
    sx_val v;
    cr_assert(sx_parse_number(s, strlen(s), &v), "%s parses", s);
    cr_assert(sx_is_float(v), "%s reads as a float", s);
    double back = sx_float_val(v);
    cr_assert(memcmp(&back, &d, sizeof d) == 0, "%s reads back bit-exact (bits %016llx)", s,
              (unsigned long long)x);
  }
}

/* Significant digits in our text: the mantissa without sign, point, and
 * leading or trailing zeros. */
static int sig_digits(const char *s) {
  char m[40];
  int n = 0;
  for (; *s && *s != 'e'; s++)
    if (*s >= '0' && *s <= '9') m[n++] = *s;
  int lo = 0, hi = n;
  while (lo < hi && m[lo] == '0') lo++;
  while (hi > lo && m[hi - 1] == '0') hi--;
  return hi - lo;
}

/* Brute force: the fewest significant digits p for which printf's nearest
 * p-digit decimal reads back as d. */
static int brute_shortest(double d) {
  char tmp[48];
  for (int p = 1; p < 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
    if (strtod(tmp, NULL) == d) return p;
  }
  return 17;
}

Test(print, floats_never_longer_than_brute_force) {
  uint64_t x = 0x0123456789ABCDEFull;
  for (int i = 0; i < 30000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t bits = x;
    if (i % 3 == 1) bits &= 0x800FFFFFFFFFFFFFull; /* subnormals */
    if (i % 3 == 2) {                              /* short decimals */
      double s = (double)(int64_t)(x % 2000000001) / (double)(1 + x % 100000);
      memcpy(&bits, &s, sizeof s);
    }
    double d = from_bits(bits);
    if (isnan(d) || isinf(d) || d == 0) continue;
    const char *s = fmt(d);
    cr_assert_leq(sig_digits(s), brute_shortest(d), "%s for bits %016llx", s, (unsigned long long)bits);
    cr_assert_eq(strtod(s, NULL), d, "%s reads back", s);
  }
}

/* ---- strings ---------------------------------------------------------------- */

Test(print, strings) {
  cr_assert_str_eq(pr(str("")), "\"\"");
  cr_assert_str_eq(pr(str("hello world")), "\"hello world\"");
  cr_assert_str_eq(pr(str("a\"b\\c")), "\"a\\\"b\\\\c\"");
  cr_assert_str_eq(pr(str("l1\nl2\tt\rr")), "\"l1\\nl2\\tt\\rr\"");
  cr_assert_str_eq(pr(strn("a\0b", 3)), "\"a\\x00b\"");
  cr_assert_str_eq(pr(str("\x01\x1f\x7f")), "\"\\x01\\x1f\\x7f\"");
  cr_assert_str_eq(pr(str("~ ;()")), "\"~ ;()\"");
}

Test(print, string_utf8_and_invalid_bytes) {
  cr_assert_str_eq(pr(str("caf\xc3\xa9")), "\"caf\xc3\xa9\"");
  cr_assert_str_eq(pr(str("\xe2\x82\xac \xf0\x9f\x98\x80")), "\"\xe2\x82\xac \xf0\x9f\x98\x80\"");
  cr_assert_str_eq(pr(str("\xff\xfe")), "\"\\xff\\xfe\"");
  cr_assert_str_eq(pr(str("ab\xc3")), "\"ab\\xc3\"");                        /* truncated */
  cr_assert_str_eq(pr(str("\xc3(")), "\"\\xc3(\"");                          /* bad continuation */
  cr_assert_str_eq(pr(str("\xc0\x80")), "\"\\xc0\\x80\"");                   /* overlong */
  cr_assert_str_eq(pr(str("\xed\xa0\x80")), "\"\\xed\\xa0\\x80\"");          /* surrogate */
  cr_assert_str_eq(pr(str("\xf4\x90\x80\x80")), "\"\\xf4\\x90\\x80\\x80\""); /* > U+10FFFF */
  cr_assert_str_eq(pr(str("\x80")), "\"\\x80\"");                            /* lone continuation */
}

Test(print, every_single_byte_string_round_trips) {
  for (int b = 0; b < 256; b++) {
    char c = (char)b;
    sx_val s = strn(&c, 1);
    const char *text = pr(s);
    sx_val err = SX_NIL;
    sx_val back = sx_read_all(text, strlen(text), SX_NIL, &err);
    cr_assert_neq(back, SX_UNDEF, "byte %d printed as %s", b, text);
    cr_assert_eq(sx_str_len(sx_car(back)), 1);
    cr_assert_eq((unsigned char)sx_str_data(sx_car(back))[0], b);
  }
}

/* ---- symbols, keywords, lists ------------------------------------------------ */

Test(print, symbols_and_keywords) {
  cr_assert_str_eq(pr(sym("persist/kv-has?")), "persist/kv-has?");
  cr_assert_str_eq(pr(sym("set!")), "set!");
  cr_assert_str_eq(pr(sx_keyword_new(str("name"))), ":name");
  cr_assert_str_eq(pr(sx_keyword_new(str("op"))), ":op");
}

Test(print, lists) {
  sx_val items[] = {sx_int(1), sx_int(2), sx_int(3)};
  cr_assert_str_eq(pr(sx_list(3, items)), "(1 2 3)");
  sx_val inner[] = {sym("a"), SX_EMPTY, str("s"), SX_NIL};
  sx_val outer[] = {sx_list(4, inner), sx_float(1.5), SX_TRUE};
  cr_assert_str_eq(pr(sx_list(3, outer)), "((a () \"s\" nil) 1.5 true)");
  cr_assert_str_eq(pr(sx_cons(sx_int(1), sx_int(2))), "(1 . 2)");
  cr_assert_str_eq(pr(sx_cons(sx_int(1), sx_cons(sx_int(2), str("x")))), "(1 2 . \"x\")");
  sx_val one = sx_cons_at(sym("x"), SX_EMPTY, SX_NIL, 3, 4);
  cr_assert_str_eq(pr(one), "(x)", "positioned cells print like any other");
}

/* ---- dicts ------------------------------------------------------------------ */

Test(print, dicts_in_key_byte_order) {
  cr_assert_str_eq(pr(sx_dict_empty()), "{}");
  const char *keys[] = {"b", "a", "c", "aa", "B"};
  sx_val vals[] = {sx_int(2), sx_int(1), sx_int(3), sx_int(11), sx_int(0)};
  cr_assert_str_eq(pr(dict_of(5, keys, vals)), "{:B 0 :a 1 :aa 11 :b 2 :c 3}");
  const char *rev[] = {"B", "aa", "c", "a", "b"};
  sx_val rvals[] = {sx_int(0), sx_int(11), sx_int(3), sx_int(1), sx_int(2)};
  cr_assert_str_eq(pr(dict_of(5, rev, rvals)), "{:B 0 :a 1 :aa 11 :b 2 :c 3}",
                   "same dict built another way prints the same");
}

Test(print, dict_keys_keyword_or_string) {
  const char *keys[] = {"has space",  "42",     "",     "a:b",  "-1", "nil", "caf\xc3\xa9",
                        "persist/x?", "+inf.0", "1abc", "x\"y", ".5", "->"};
  sx_val vals[13];
  for (int i = 0; i < 13; i++) vals[i] = sx_int(i);
  cr_assert_str_eq(pr(dict_of(13, keys, vals)),
                   "{\"\" 2 \"+inf.0\" 8 \"-1\" 4 :-> 12 \".5\" 11 \"1abc\" 9 \"42\" 1 "
                   "\"a:b\" 3 :caf\xc3\xa9 6 \"has space\" 0 :nil 5 :persist/x? 7 \"x\\\"y\" 10}");
}

Test(print, nested_and_large_dicts) {
  const char *k1[] = {"args", "op"};
  sx_val items[] = {str("s"), sx_int(1)};
  sx_val v1[] = {sx_list(2, items), str("persist/append")};
  sx_val d = dict_of(2, k1, v1);
  cr_assert_str_eq(pr(d), "{:args (\"s\" 1) :op \"persist/append\"}");
  const char *k2[] = {"d"};
  sx_val v2[] = {d};
  cr_assert_str_eq(pr(dict_of(1, k2, v2)), "{:d {:args (\"s\" 1) :op \"persist/append\"}}");
  sx_val big = sx_dict_empty();
  for (int i = 99; i >= 0; i--) {
    char k[8];
    snprintf(k, sizeof k, "k%02d", i);
    big = sx_dict_assoc(big, str(k), sx_int(i));
  }
  const char *text = pr(big);
  cr_assert(strncmp(text, "{:k00 0 :k01 1 :k02 2 ", 22) == 0, "%s", text);
  cr_assert(strstr(text, ":k49 49 :k50 50 ") != NULL);
  cr_assert_str_eq(text + strlen(text) - 16, ":k98 98 :k99 99}");
}

/* ---- functions, errors, internals ---------------------------------------- */

static sx_val fn_obj(sx_type t, const char *name) {
  sx_fnhead *f = sx_obj_new(t, sizeof *f);
  f->name = name ? str(name) : SX_NIL;
  return (sx_val)f;
}

Test(print, functions_errors_internals) {
  cr_assert_str_eq(pr(fn_obj(SX_T_FN, "square")), "<fn square>");
  cr_assert_str_eq(pr(fn_obj(SX_T_FN, NULL)), "<fn>");
  cr_assert_str_eq(pr(fn_obj(SX_T_PRIM, "+")), "<fn +>");
  cr_assert_str_eq(pr(fn_obj(SX_T_MACRO, "when")), "<macro when>");
  cr_assert_str_eq(pr(fn_obj(SX_T_MACRO, NULL)), "<macro>");
  cr_assert_str_eq(pr(sx_error_new(str("boom \"x\"\n"), SX_NIL)), "<error \"boom \\\"x\\\"\\n\">");
  cr_assert_str_eq(pr(SX_UNDEF), "<internal>");
  cr_assert_str_eq(pr((sx_val)sx_obj_new(SX_T_CONT, 32)), "<internal>");
  cr_assert_str_eq(pr((sx_val)sx_obj_new(SX_T_OTHER, 32)), "<internal>");
  sx_val l[] = {fn_obj(SX_T_FN, "f"), sx_int(1)};
  cr_assert_str_eq(pr(sx_list(2, l)), "(<fn f> 1)");
}

/* ---- display and buffers ------------------------------------------------------ */

Test(print, display) {
  cr_assert_str_eq(disp(str("raw \"text\"\n")), "raw \"text\"\n");
  cr_assert_str_eq(disp(SX_NIL), "");
  cr_assert_str_eq(disp(sx_int(5)), "5");
  cr_assert_str_eq(disp(sx_float(1.0)), "1.0");
  cr_assert_str_eq(disp(SX_FALSE), "false");
  cr_assert_str_eq(disp(sx_keyword_new(str("k"))), ":k");
  sx_val l[] = {str("a"), SX_NIL};
  cr_assert_str_eq(disp(sx_list(2, l)), "(\"a\" nil)", "only the top level is raw");
  sx_val s = sx_display_to_string(strn("a\0b", 3));
  cr_assert_eq(sx_str_len(s), 3);
  cr_assert(memcmp(sx_str_data(s), "a\0b", 3) == 0);
}

Test(print, appends_to_buffer) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_puts(&b, "x=");
  sx_print(&b, sx_int(1));
  sx_buf_putc(&b, ' ');
  sx_display(&b, str("s"));
  sx_print(&b, str("s"));
  cr_assert_str_eq(b.data, "x=1 s\"s\"");
  cr_assert_eq(b.len, strlen(b.data));
  sx_buf_free(&b);
}

Test(print, plain_identifiers) {
  const char *yes[] = {"a",    "name", "persist/kv-has?", "set!", "&rest", "->", "-",   "+",  "...", "nil",
                       "true", "x1",   "caf\xc3\xa9",     "a.b",  "%",     "_",  "<=>", "-x", ".x"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
    cr_assert(sx_is_plain_identifier(yes[i], strlen(yes[i])), "%s is plain", yes[i]);
  const char *no[] = {"",     "has space", "42",  "-1",  ".5",  "1abc", "+inf.0", "-nan.0", "a:b", ":k",
                      "a\"b", "a(b",       "a;b", "a,b", "a'b", "#x",   "\xff",   "ab\xc3", "1e5"};
  for (size_t i = 0; i < sizeof no / sizeof *no; i++)
    cr_assert_not(sx_is_plain_identifier(no[i], strlen(no[i])), "%s is not plain", no[i]);
  cr_assert_not(sx_is_plain_identifier("a\0b", 3));
  cr_assert(sx_is_plain_identifier("ab", 2));
  cr_assert_not(sx_is_plain_identifier(NULL, 0));
}

/* ---- size and depth ------------------------------------------------------------ */

Test(print, million_element_list) {
  size_t n = 1000000;
  sx_val l = SX_EMPTY;
  for (size_t i = 0; i < n; i++) l = sx_cons(sx_int(7), l);
  sx_buf b = SX_BUF_INIT;
  sx_print(&b, l);
  cr_assert_eq(b.len, 2 * n + 1);
  cr_assert(strncmp(b.data, "(7 7 7", 6) == 0);
  cr_assert_str_eq(b.data + b.len - 4, "7 7)");
  sx_buf_free(&b);
}

Test(print, deep_nesting) {
  size_t depth = 200000;
  sx_val v = sx_int(1);
  for (size_t i = 0; i < depth; i++)
    v = (i % 3 == 2) ? sx_dict_assoc(sx_dict_empty(), str("k"), v) : sx_cons(v, SX_EMPTY);
  sx_buf b = SX_BUF_INIT;
  sx_print(&b, v);
  size_t opens = 0, closes = 0;
  for (size_t i = 0; i < b.len; i++) {
    opens += b.data[i] == '(' || b.data[i] == '{';
    closes += b.data[i] == ')' || b.data[i] == '}';
  }
  cr_assert_eq(opens, depth);
  cr_assert_eq(closes, depth);
  cr_assert(strstr(b.data, "((1))") != NULL);
  sx_buf_free(&b);
}
