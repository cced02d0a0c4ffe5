/* test_codec.c — the store's value codec: exact round-trips of every data
 * type, refusal of non-data (nothing written), and robustness against
 * malformed input, and byte fixtures at the decoder's edges (duplicate keys,
 * lengths one past the end, 10-byte varints, every tag at the end of input,
 * the nesting limit), decoded and validated alike. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "crc32c.h"
#include "sx_dict.h"

static void setup(void) { sx_gc_init(); }
TestSuite(codec, .init = setup);

static sx_val roundtrip(sx_val v) {
  sx_buf b = SX_BUF_INIT;
  sx_val err = SX_NIL, out = SX_UNDEF;
  size_t used = 0;
  cr_assert_eq(store_encode(&b, v, &err), 0, "encode failed");
  cr_assert_eq(store_decode(b.data, b.len, &used, &out, &err), 0, "decode failed: %s",
               sx_is_string(err) ? sx_str_data(err) : "?");
  cr_assert_eq(used, b.len, "decode consumed %zu of %zu bytes", used, b.len);
  sx_buf_free(&b);
  return out;
}

static uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static sx_val str(const char *s) { return sx_string_cstr(s); }

Test(codec, immediates) {
  cr_assert_eq(roundtrip(SX_NIL), SX_NIL);
  cr_assert_eq(roundtrip(SX_TRUE), SX_TRUE);
  cr_assert_eq(roundtrip(SX_FALSE), SX_FALSE);
  cr_assert_eq(roundtrip(SX_EMPTY), SX_EMPTY);
}

Test(codec, integers_including_extremes) {
  int64_t cases[] = {0,
                     1,
                     -1,
                     63,
                     64,
                     -64,
                     -65,
                     1000000,
                     SX_FIXNUM_MAX,
                     SX_FIXNUM_MIN,
                     SX_FIXNUM_MAX + 1,
                     SX_FIXNUM_MIN - 1,
                     INT64_MAX,
                     INT64_MIN};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sx_val out = roundtrip(sx_int(cases[i]));
    cr_assert(sx_is_int(out));
    cr_assert_eq(sx_int_val(out), cases[i], "integer %lld", (long long)cases[i]);
  }
}

Test(codec, floats_bit_exact) {
  uint64_t nan_payload = 0x7ff8000000001234ull, neg_nan = 0xfff0000000000001ull;
  double payload_nan, sig_nan;
  memcpy(&payload_nan, &nan_payload, 8);
  memcpy(&sig_nan, &neg_nan, 8);
  double cases[] = {0.0,      -0.0,        1.5,          -2.25,         0.1,      DBL_MAX,
                    -DBL_MAX, DBL_MIN,     DBL_TRUE_MIN, -DBL_TRUE_MIN, INFINITY, -INFINITY,
                    NAN,      payload_nan, sig_nan,      1e300,         3.0};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sx_val out = roundtrip(sx_float(cases[i]));
    cr_assert(sx_is_float(out), "case %zu stays a float", i);
    cr_assert_eq(bits_of(sx_float_val(out)), bits_of(cases[i]), "case %zu bits", i);
  }
}

Test(codec, float_three_is_not_integer_three) {
  cr_assert(sx_is_float(roundtrip(sx_float(3.0))));
  cr_assert(sx_is_int(roundtrip(sx_int(3))));
}

Test(codec, strings_with_any_bytes) {
  const char raw[] = {'a', 0, 'b', (char)0xff, (char)0x80, 0, '\n'};
  sx_val s = sx_string_new(raw, sizeof raw);
  sx_val out = roundtrip(s);
  cr_assert(sx_is_string(out));
  cr_assert_eq(sx_str_len(out), sizeof raw);
  cr_assert_eq(memcmp(sx_str_data(out), raw, sizeof raw), 0);
  cr_assert_eq(sx_str_len(roundtrip(str(""))), 0);
  char big[70000];
  memset(big, 'x', sizeof big);
  cr_assert(sx_equal(roundtrip(sx_string_new(big, sizeof big)), sx_string_new(big, sizeof big)));
}

Test(codec, keywords_and_symbols) {
  sx_val kw = roundtrip(sx_keyword_new(str("seq")));
  cr_assert_eq(sx_type_of(kw), SX_T_KEYWORD);
  cr_assert(sx_equal(kw, sx_keyword_new(str("seq"))));
  sx_val sym = sx_symbol_cstr("hello/world");
  cr_assert_eq(roundtrip(sym), sym, "symbols come back interned (eq)");
}

static sx_val sample_nested(void) {
  sx_val inner = sx_dict_empty();
  inner = sx_dict_assoc(inner, str("z"), sx_float(-0.0));
  inner = sx_dict_assoc(inner, str("a"), sx_list(3, (sx_val[]){sx_int(1), SX_NIL, str("x")}));
  sx_val d = sx_dict_empty();
  d = sx_dict_assoc(d, str("seq"), sx_int(7));
  d = sx_dict_assoc(d, str("data"), inner);
  d = sx_dict_assoc(d, str("empty"), sx_dict_empty());
  d = sx_dict_assoc(d, str("list"), sx_list(2, (sx_val[]){SX_EMPTY, sx_list(1, (sx_val[]){SX_TRUE})}));
  d = sx_dict_assoc(d, sx_string_new("\0k", 2), SX_FALSE);
  return d;
}

Test(codec, nested_dicts_and_lists) {
  sx_val d = sample_nested();
  sx_val out = roundtrip(d);
  cr_assert(sx_is_dict(out));
  cr_assert(sx_equal(out, d));
  sx_val z = sx_dict_get(sx_dict_get(out, str("data"), SX_NIL), str("z"), SX_NIL);
  cr_assert_eq(bits_of(sx_float_val(z)), bits_of(-0.0));
}

/* Decoded dict keys and short strings are shared: the same object each
 * time, and a key that code names as a keyword is the interned name, so
 * looking it up finds it by identity. Values stay equal to what was
 * encoded. */
Test(codec, decoded_keys_and_short_strings_are_shared) {
  sx_val type = sx_string_shared("type"); /* as loading code that names :type does */
  sx_val d = sx_dict_assoc(sx_dict_assoc(sx_dict_empty(), str("type"), str("order-placed")),
                           str("zz-unknown-key"), str("a longer string value, past the recent limit"));
  sx_val a = roundtrip(d), b = roundtrip(d);
  cr_assert(sx_equal(a, d) && sx_equal(b, d));
  sx_val ka = sx_car(sx_dict_keys(a)), kb = sx_car(sx_dict_keys(b));
  cr_assert_eq(ka, kb, "a decoded key is shared");
  cr_assert_eq(ka, type, "a key code names is the interned name");
  cr_assert_eq(sx_dict_get(a, str("type"), SX_NIL), sx_dict_get(b, str("type"), SX_NIL),
               "a short value is shared");
  cr_assert_neq(sx_dict_get(a, str("zz-unknown-key"), SX_NIL), sx_dict_get(b, str("zz-unknown-key"), SX_NIL),
                "a long value is not");
}

Test(codec, large_dict) {
  sx_val d = sx_dict_empty();
  for (int i = 0; i < 500; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    d = sx_dict_assoc(d, str(k), sx_int(i));
  }
  cr_assert(sx_equal(roundtrip(d), d));
}

/* Dicts of up to 16 entries decode in one allocation, bigger ones by
 * assoc: both sides of the edge read back equal, nil values kept, and keys
 * out of order are refused at the last entry of either path. */
Test(codec, dicts_at_the_one_allocation_edge) {
  for (int n = 0; n <= 18; n++) {
    sx_val d = sx_dict_empty();
    for (int i = 0; i < n; i++) {
      char k[8];
      snprintf(k, sizeof k, "k%02d", i);
      d = sx_dict_assoc(d, str(k), i % 3 ? sx_int(i) : SX_NIL);
    }
    sx_val back = roundtrip(d);
    cr_assert(sx_equal(back, d), "%d entries", n);
    cr_assert_eq(sx_dict_count(back), (size_t)n);
    if (n < 2) continue;
    unsigned char buf[256];
    size_t len = 0;
    buf[len++] = CODEC_DICT, buf[len++] = (unsigned char)n;
    for (int i = 0; i < n; i++) { /* the last key repeats the one before it */
      int k = i == n - 1 ? i - 1 : i;
      buf[len++] = 3, buf[len++] = 'k', buf[len++] = (unsigned char)('0' + k / 10),
      buf[len++] = (unsigned char)('0' + k % 10);
      buf[len++] = CODEC_NIL;
    }
    sx_val out, err;
    cr_assert_eq(store_decode(buf, len, NULL, &out, &err), -1, "%d entries, a repeated key", n);
    cr_assert(strstr(sx_str_data(err), "dict keys out of order"), "%s", sx_str_data(err));
  }
}

Test(codec, dict_encoding_is_canonical) {
  sx_val a = sx_dict_assoc(sx_dict_assoc(sx_dict_empty(), str("b"), sx_int(2)), str("a"), sx_int(1));
  sx_val b = sx_dict_assoc(sx_dict_assoc(sx_dict_empty(), str("a"), sx_int(1)), str("b"), sx_int(2));
  sx_buf x = SX_BUF_INIT, y = SX_BUF_INIT;
  sx_val err;
  cr_assert_eq(store_encode(&x, a, &err), 0);
  cr_assert_eq(store_encode(&y, b, &err), 0);
  cr_assert_eq(x.len, y.len);
  cr_assert_eq(memcmp(x.data, y.data, x.len), 0);
  sx_buf_free(&x);
  sx_buf_free(&y);
}

static sx_val fake_function(void) {
  sx_fnhead *f = sx_obj_new(SX_T_FN, sizeof *f);
  f->name = str("f");
  return (sx_val)f;
}

Test(codec, functions_are_refused_and_nothing_is_written) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_puts(&b, "prefix");
  sx_val err = SX_NIL;
  sx_val d = sx_dict_assoc(sample_nested(), str("fn"), fake_function());
  cr_assert_eq(store_encode(&b, d, &err), -1);
  cr_assert_eq(b.len, 6, "buffer restored to its previous length");
  cr_assert_str_eq(b.data, "prefix");
  cr_assert(sx_is_string(err));
  cr_assert(strstr(sx_str_data(err), "function") != NULL, "error names the type: %s", sx_str_data(err));
  cr_assert_eq(store_encode(&b, fake_function(), &err), -1);
  sx_buf_free(&b);
}

Test(codec, improper_lists_are_refused) {
  sx_buf b = SX_BUF_INIT;
  sx_val err = SX_NIL;
  cr_assert_eq(store_encode(&b, sx_cons(sx_int(1), sx_int(2)), &err), -1);
  cr_assert(strstr(sx_str_data(err), "improper") != NULL);
  cr_assert_eq(b.len, 0);
  sx_buf_free(&b);
}

Test(codec, nesting_limit) {
  sx_val v = SX_NIL;
  for (int i = 0; i < CODEC_MAX_DEPTH + 5; i++) v = sx_list(1, &v);
  sx_buf b = SX_BUF_INIT;
  sx_val err = SX_NIL;
  cr_assert_eq(store_encode(&b, v, &err), -1);
  cr_assert(strstr(sx_str_data(err), "nested") != NULL);
  sx_buf_free(&b);
}

Test(codec, malformed_input_is_an_error) {
  sx_val out, err = SX_NIL;
  sx_buf b = SX_BUF_INIT;
  cr_assert_eq(store_encode(&b, sample_nested(), &err), 0);
  for (size_t cut = 0; cut < b.len; cut++)
    cr_assert_eq(store_decode(b.data, cut, NULL, &out, &err), -1, "prefix of %zu bytes", cut);
  const unsigned char bad_tag[] = {0x7f};
  cr_assert_eq(store_decode(bad_tag, 1, NULL, &out, &err), -1);
  cr_assert(strstr(sx_str_data(err), "tag") != NULL);
  const unsigned char huge_len[] = {CODEC_STRING, 0xff, 0xff, 0xff, 0xff, 0x0f};
  cr_assert_eq(store_decode(huge_len, sizeof huge_len, NULL, &out, &err), -1);
  const unsigned char unordered[] = {CODEC_DICT, 2, 1, 'b', CODEC_NIL, 1, 'a', CODEC_NIL};
  cr_assert_eq(store_decode(unordered, sizeof unordered, NULL, &out, &err), -1);
  /* random garbage never crashes */
  unsigned seed = 1;
  for (int round = 0; round < 2000; round++) {
    unsigned char junk[32];
    for (size_t i = 0; i < sizeof junk; i++)
      junk[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
    store_decode(junk, sizeof junk, NULL, &out, &err);
  }
  sx_buf_free(&b);
}

Test(codec, varints_and_zigzag) {
  uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
    unsigned char buf[10];
    uint64_t back = 0;
    size_t n = codec_uvarint_encode(buf, vals[i]);
    cr_assert_eq(codec_get_uvarint(buf, n, &back), n);
    cr_assert_eq(back, vals[i]);
    cr_assert_eq(codec_get_uvarint(buf, n - 1, &back), 0, "truncated varint is incomplete");
  }
  cr_assert_eq(codec_unzigzag(codec_zigzag(INT64_MIN)), INT64_MIN);
  cr_assert_eq(codec_unzigzag(codec_zigzag(-1)), -1);
}

/* The checksum of every frame: the known CRC-32C check value, and the
 * hardware path (when the processor has one) agreeing with the tables on
 * every length and alignment, also when continued in pieces. */
Test(codec, crc32c_paths_agree) {
  cr_assert_eq(store_crc32c(0, "123456789", 9), 0xE3069283u);
  cr_assert_eq(store_crc32c_table(0, "123456789", 9), 0xE3069283u);
  unsigned char buf[300];
  uint32_t seed = 7;
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
  for (size_t off = 0; off < 9; off++)
    for (size_t n = 0; n + off <= sizeof buf; n += 7) {
      uint32_t want = store_crc32c_table(0, buf + off, n);
      cr_assert_eq(store_crc32c(0, buf + off, n), want, "off %zu len %zu", off, n);
      cr_assert_eq(store_crc32c(store_crc32c(0, buf + off, n / 2), buf + off + n / 2, n - n / 2), want);
    }
}

/* ---- the decoder at its edges ----------------------------------------------------
 * Byte fixtures, each decoded and validated: both must agree on success,
 * on the bytes used and on the error message. */

typedef struct fixture {
  const char *name;
  const unsigned char *p;
  size_t len;
  int ok;            /* 0 decodes, -1 refused */
  size_t used;       /* when it decodes */
  const char *error; /* a part of the message when refused */
} fixture;

#define FX(name, ok, used, error, ...)                                                                       \
  {                                                                                                          \
    name, (const unsigned char[]){__VA_ARGS__}, sizeof((const unsigned char[]){__VA_ARGS__}), ok, used,      \
        error                                                                                                \
  }

static const fixture fixtures[] = {
    FX("duplicate dict keys", -1, 0, "dict keys out of order", CODEC_DICT, 2, 1, 'a', CODEC_NIL, 1, 'a',
       CODEC_NIL),
    FX("a key that is a prefix of the one before", -1, 0, "dict keys out of order", CODEC_DICT, 2, 2, 'a',
       'b', CODEC_NIL, 1, 'a', CODEC_NIL),
    FX("a key extending the one before", 0, 9, NULL, CODEC_DICT, 2, 1, 'a', CODEC_NIL, 2, 'a', 'b',
       CODEC_NIL),
    FX("an empty key first", 0, 7, NULL, CODEC_DICT, 2, 0, CODEC_NIL, 1, 'a', CODEC_NIL),
    FX("two empty keys", -1, 0, "dict keys out of order", CODEC_DICT, 2, 0, CODEC_NIL, 0, CODEC_NIL),
    FX("a string exactly to the end", 0, 5, NULL, CODEC_STRING, 3, 'a', 'b', 'c'),
    FX("a string one byte past the end", -1, 0, "length runs past the end", CODEC_STRING, 4, 'a', 'b', 'c'),
    FX("a keyword one byte past the end", -1, 0, "length runs past the end", CODEC_KEYWORD, 2, 'k'),
    FX("a symbol one byte past the end", -1, 0, "length runs past the end", CODEC_SYMBOL, 1),
    FX("a dict key one byte past the end", -1, 0, "length runs past the end", CODEC_DICT, 1, 2, 'k'),
    FX("a float exactly to the end", 0, 9, NULL, CODEC_FLOAT, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f),
    FX("a float one byte short", -1, 0, "truncated float", CODEC_FLOAT, 0, 0, 0, 0, 0, 0, 0xf0),
    FX("a list of as many items as bytes left", 0, 4, NULL, CODEC_LIST, 2, CODEC_NIL, CODEC_TRUE),
    FX("a list of one item more than bytes left", -1, 0, "bad list length", CODEC_LIST, 3, CODEC_NIL,
       CODEC_TRUE),
    FX("a list of no items", -1, 0, "bad list length", CODEC_LIST, 0),
    FX("a dict of one entry more than bytes left", -1, 0, "bad dict size", CODEC_DICT, 2, 0),
    FX("an empty dict", 0, 2, NULL, CODEC_DICT, 0),
    FX("the largest 10-byte varint", 0, 11, NULL, CODEC_INT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0x01),
    FX("an over-long 10-byte varint", -1, 0, "bad or truncated varint", CODEC_INT, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0x02),
    FX("a 10-byte varint of zero bits past 64", 0, 11, NULL, CODEC_INT, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
       0x80, 0x80, 0x80, 0x01),
    FX("an 11-byte varint", -1, 0, "bad or truncated varint", CODEC_INT, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
       0x80, 0x80, 0x80, 0x80, 0x00),
    FX("a string length that overflows", -1, 0, "bad or truncated varint", CODEC_STRING, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
    FX("a varint cut by the end", -1, 0, "bad or truncated varint", CODEC_INT, 0x80),
    FX("an unknown tag after a good value", -1, 0, "unknown type tag", CODEC_LIST, 2, CODEC_NIL, 0x0b),
    FX("trailing bytes are left unused", 0, 1, NULL, CODEC_NIL, 0xff, 0xff),
};

static void fixture_check(const fixture *f) {
  sx_val out = SX_UNDEF, derr = SX_NIL, verr = SX_NIL;
  size_t dused = 0, vused = 0;
  int drc = store_decode(f->p, f->len, &dused, &out, &derr);
  int vrc = store_validate(f->p, f->len, &vused, &verr);
  cr_assert_eq(drc, f->ok, "%s: decode gave %d: %s", f->name, drc, drc ? sx_str_data(derr) : "");
  cr_assert_eq(vrc, f->ok, "%s: validate gave %d: %s", f->name, vrc, vrc ? sx_str_data(verr) : "");
  if (f->ok == 0) {
    cr_assert_eq(dused, f->used, "%s: decode used %zu", f->name, dused);
    cr_assert_eq(vused, f->used, "%s: validate used %zu", f->name, vused);
    return;
  }
  cr_assert(strstr(sx_str_data(derr), f->error), "%s: %s", f->name, sx_str_data(derr));
  cr_assert_str_eq(sx_str_data(verr), sx_str_data(derr), "%s: validate and decode disagree", f->name);
}

Test(codec, byte_fixtures_at_the_edges_decode_and_validate_alike) {
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) fixture_check(&fixtures[i]);
  uint64_t u;
  const unsigned char max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  cr_assert_eq(codec_get_uvarint(max, sizeof max, &u), 10);
  cr_assert_eq(u, UINT64_MAX);
  sx_val out, err;
  cr_assert_eq(store_decode(fixtures[2].p, fixtures[2].len, NULL, &out, &err), 0);
  cr_assert_eq(sx_dict_count(out), 2);
  cr_assert_eq(store_decode(fixtures[17].p, fixtures[17].len, NULL, &out, &err), 0);
  cr_assert_eq(sx_int_val(out), INT64_MIN, "zigzag of 2^64-1");
}

/* Every tag as the last byte of the input, alone and as a list's item:
 * the four constants decode, every other tag needs more bytes. */
Test(codec, every_tag_at_the_end_of_input) {
  for (int tag = CODEC_NIL; tag <= CODEC_DICT + 1; tag++) {
    bool whole = tag <= CODEC_EMPTY;
    unsigned char alone[1] = {(unsigned char)tag}, item[3] = {CODEC_LIST, 1, (unsigned char)tag};
    sx_val out, err;
    size_t used = 0;
    cr_assert_eq(store_decode(alone, 1, &used, &out, &err), whole ? 0 : -1, "tag %d alone", tag);
    cr_assert_eq(store_validate(alone, 1, &used, &err), whole ? 0 : -1, "tag %d alone", tag);
    if (!whole)
      cr_assert(strstr(sx_str_data(err), "at byte 1") || strstr(sx_str_data(err), "at byte 0"), "%s",
                sx_str_data(err));
    cr_assert_eq(store_decode(item, 3, &used, &out, &err), whole ? 0 : -1, "tag %d in a list", tag);
    cr_assert_eq(store_validate(item, 3, &used, &err), whole ? 0 : -1, "tag %d in a list", tag);
    if (whole) cr_assert_eq(used, 3);
  }
}

/* Nesting: exactly the limit decodes, one level more is refused, by both. */
Test(codec, nesting_at_the_limit_decodes_and_one_more_does_not) {
  /* One buffer of MAX+1 one-item lists around a nil; n levels are its
   * last 2n+1 bytes. */
  unsigned char deep[2 * (CODEC_MAX_DEPTH + 1) + 1];
  for (size_t i = 0; i < CODEC_MAX_DEPTH + 1; i++) deep[2 * i] = CODEC_LIST, deep[2 * i + 1] = 1;
  deep[sizeof deep - 1] = CODEC_NIL;
  for (size_t n = CODEC_MAX_DEPTH; n <= CODEC_MAX_DEPTH + 1; n++) {
    size_t len = 2 * n + 1;
    const unsigned char *in = deep + sizeof deep - len;
    sx_val out, err;
    int want = n == CODEC_MAX_DEPTH ? 0 : -1;
    cr_assert_eq(store_decode(in, len, NULL, &out, &err), want, "%zu levels", n);
    cr_assert_eq(store_validate(in, len, NULL, &err), want, "%zu levels", n);
    if (want) cr_assert(strstr(sx_str_data(err), "nesting too deep"), "%s", sx_str_data(err));
  }
}

/* ---- messages and quoting ---------------------------------------------------------- */

Test(codec, a_message_longer_than_its_buffer_is_cut_not_overrun) {
  char arg[600];
  memset(arg, 'm', sizeof arg - 1);
  arg[sizeof arg - 1] = '\0';
  sx_val m = store_errorf("store %s: failed", arg);
  cr_assert_eq(sx_str_len(m), 511);
  cr_assert_eq(strncmp(sx_str_data(m), "store mmm", 9), 0);
}

Test(codec, quoting_escapes_quotes_and_backslashes_and_cuts_long_names) {
  char buf[64];
  cr_assert_str_eq(store_quote(str("a\"b\\c\n"), buf, sizeof buf), "a\\x22b\\x5cc\\x0a");
  char longname[100];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  memset(buf, '#', sizeof buf);
  const char *q = store_quote(str(longname), buf, 20);
  cr_assert_str_eq(q, "nnnnnnnnnnnn...", "a cut name ends in dots right after it: %s", q);
  cr_assert_str_eq(store_quote(str("nnnnnnnnnnnn"), buf, 20), "nnnnnnnnnnnn", "a name that fits is whole");
  cr_assert_str_eq(store_quote(str("abc"), buf, 4), "...", "no room for even one character");
  cr_assert_str_eq(store_quote(str(""), buf, 4), "");
  cr_assert_str_eq(store_quote(str("abc"), buf, 3), "", "no room for the dots either");
}

Test(codec, an_internal_immediate_is_refused_and_empty_input_is_not_a_value) {
  sx_buf b = SX_BUF_INIT;
  sx_val err = SX_NIL;
  cr_assert_eq(store_encode(&b, SX_UNDEF, &err), -1);
  cr_assert(strstr(sx_str_data(err), "cannot store a value of type"), "%s", sx_str_data(err));
  cr_assert_eq(b.len, 0, "nothing written");
  sx_buf_free(&b);
  cr_assert_eq(store_validate("", 0, NULL, &err), -1);
  cr_assert(strstr(sx_str_data(err), "unexpected end of data"), "%s", sx_str_data(err));
}
