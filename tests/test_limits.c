/* test_limits.c — walks over very deep values never overflow the C stack
 * (issue 14): equal? on 1,000,000-deep lists, dicts and errors, printing
 * them, the store codec's clear nesting limit; and load refusing a path
 * with a NUL byte instead of loading the part before it. */
#include <criterion/criterion.h>
#include <string.h>

#include "codec.h"
#include "sx_dict.h"
#include "sx_test_eval.h"

TestSuite(limits, .init = setup, .fini = teardown);

#define DEEP 1000000

/* (((... leaf ...))) nested depth times. */
static sx_val deep_list(long depth, sx_val leaf) {
  sx_val v = leaf;
  for (long i = 0; i < depth; i++) v = sx_cons(v, SX_EMPTY);
  return v;
}

/* {"a" {"a" ... leaf}} nested depth times. */
static sx_val deep_dict(long depth, sx_val leaf) {
  sx_val v = leaf, k = sx_string_cstr("a");
  for (long i = 0; i < depth; i++) v = sx_dict_assoc(sx_dict_empty(), k, v);
  return v;
}

Test(limits, equal_on_a_million_deep_list) {
  sx_val a = deep_list(DEEP, sx_int(1)), b = deep_list(DEEP, sx_int(1));
  cr_assert(sx_equal(a, b));
  cr_assert(!sx_equal(a, deep_list(DEEP, sx_int(2))), "differs at the bottom");
  cr_assert(!sx_equal(a, deep_list(DEEP - 1, sx_int(1))), "differs in depth");
  /* a long flat list too, and a deep list in the tail position */
  sx_val tail = deep_list(DEEP, SX_NIL);
  cr_assert(sx_equal(sx_cons(sx_int(0), tail), sx_cons(sx_int(0), deep_list(DEEP, SX_NIL))));
}

Test(limits, equal_on_a_million_deep_dict_and_error) {
  sx_val a = deep_dict(DEEP, sx_int(1)), b = deep_dict(DEEP, sx_int(1));
  cr_assert(sx_equal(a, b));
  cr_assert(!sx_equal(a, deep_dict(DEEP, sx_string_cstr("1"))));
  sx_val e1 = sx_error_new(sx_string_cstr("m"), deep_list(DEEP, a));
  sx_val e2 = sx_error_new(sx_string_cstr("m"), deep_list(DEEP, b));
  cr_assert(sx_equal(e1, e2));
}

Test(limits, equal_in_sx_and_printing_deep_values) {
  OK("(define (nest n acc) (if (= n 0) acc (nest (- n 1) (list acc))))"
     "(define (dnest n acc) (if (= n 0) acc (dnest (- n 1) {:a acc})))"
     "(list (equal? (nest 1000000 1) (nest 1000000 1)) (equal? (nest 1000000 1) (nest 1000000 2))"
     "      (equal? (dnest 1000000 1) (dnest 1000000 1)) (string-length (str (nest 1000000 1)))"
     "      (string-length (str (dnest 1000000 1))))",
     "(true false true 2000001 5000001)");
}

Test(limits, the_codec_refuses_deep_nesting_with_a_clear_error) {
  sx_buf b = SX_BUF_INIT;
  sx_val err = SX_NIL;
  cr_assert_eq(store_encode(&b, deep_list(DEEP, sx_int(1)), &err), -1);
  cr_assert(strstr(sx_str_data(err), "nested more than 1000 levels") != NULL, "%s", sx_str_data(err));
  cr_assert_eq(store_encode(&b, deep_dict(DEEP, sx_int(1)), &err), -1);
  cr_assert_eq(b.len, 0, "nothing written");
  /* a crafted encoding a million lists deep */
  size_t n = 2 * (size_t)DEEP + 1;
  unsigned char *p = malloc(n);
  for (size_t i = 0; i + 1 < n; i += 2) p[i] = CODEC_LIST, p[i + 1] = 1;
  p[n - 1] = CODEC_NIL;
  sx_val out;
  cr_assert_eq(store_decode(p, n, NULL, &out, &err), -1);
  cr_assert(strstr(sx_str_data(err), "nesting too deep") != NULL, "%s", sx_str_data(err));
  cr_assert_eq(store_validate(p, n, NULL, &err), -1);
  free(p);
  sx_buf_free(&b);
}

Test(limits, load_refuses_a_path_with_a_nul_byte) {
  char path[] = "/tmp/sx_test_limits_XXXXXX";
  cr_assert_not_null(mkdtemp(path));
  char file[64], src[200];
  snprintf(file, sizeof file, "%s/x.sx", path);
  FILE *f = fopen(file, "w");
  fputs("(define loaded 42)", f);
  fclose(f);
  snprintf(src, sizeof src, "(load \"%s\\x00.ignored\")", file);
  sx_val out;
  cr_assert_eq(run_src(src, &out), SX_ERROR, "a NUL-truncated path was loaded");
  cr_assert(strstr(errmsg(out), "contains a NUL byte") != NULL, "%s", errmsg(out));
  cr_assert_eq(run_src("loaded", &out), SX_ERROR, "nothing of x.sx was run");
  snprintf(src, sizeof src, "(load \"%s\") loaded", file);
  cr_assert_eq(run_src(src, &out), SX_DONE);
  cr_assert_eq(out, sx_int(42));
  remove(file);
  rmdir(path);
}
