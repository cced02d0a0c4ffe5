/* test_api_value.c — libsx values through the public header: types and
 * their names, constructors and typed accessors (and their type errors),
 * lists, dicts and iteration, error values, printing, display and reading
 * (syntax errors versus incomplete input), equality. */
#include "sx_test_api.h"

#include <math.h>

TestSuite(api_value, .init = api_setup, .fini = api_teardown);

static sxapi_value eval(const char *src) {
  sxapi_value v;
  CODE(sxapi_eval(vm, src, &v), SXAPI_OK);
  return v;
}

Test(api_value, every_kind_of_value_has_a_type) {
  struct {
    const char *src;
    sxapi_type t;
    const char *name;
  } cases[] = {
      {"nil", SXAPI_TNIL, "nil"},
      {"false", SXAPI_TBOOL, "boolean"},
      {"-7", SXAPI_TINT, "integer"},
      {"9223372036854775807", SXAPI_TINT, "integer"},
      {"2.5", SXAPI_TFLOAT, "float"},
      {"\"s\"", SXAPI_TSTRING, "string"},
      {"'sym", SXAPI_TSYMBOL, "symbol"},
      {"':kw", SXAPI_TKEYWORD, "keyword"},
      {"(list 1)", SXAPI_TLIST, "list"},
      {"()", SXAPI_TLIST, "list"},
      {"{:a 1}", SXAPI_TDICT, "dict"},
      {"(fn (x) x)", SXAPI_TFUNCTION, "function"},
      {"first", SXAPI_TFUNCTION, "function"},
      {"(guard (e (true e)) (error \"x\"))", SXAPI_TERROR, "error"},
      {"(defmacro m (x) x) m", SXAPI_TOTHER, "other"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sxapi_type t = sxapi_typeof(eval(cases[i].src));
    cr_assert_eq(t, cases[i].t, "%s: type %d", cases[i].src, t);
    cr_assert_str_eq(sxapi_type_name(t), cases[i].name);
  }
  cr_assert_str_eq(sxapi_type_name((sxapi_type)77), "other");
}

Test(api_value, only_nil_and_false_are_false) {
  cr_assert(!sxapi_truthy(sxapi_nil()));
  cr_assert(!sxapi_truthy(sxapi_bool(false)));
  cr_assert(sxapi_truthy(sxapi_bool(true)));
  cr_assert(sxapi_truthy(sxapi_int(vm, 0)));
  cr_assert(sxapi_truthy(sxapi_cstring(vm, "")));
  cr_assert(sxapi_truthy(sxapi_list(vm, 0, NULL)));
}

Test(api_value, integers_round_trip_across_the_whole_range) {
  int64_t cases[] = {0, 1, -1, 4611686018427387903LL, 4611686018427387904LL, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sxapi_value v = sxapi_int(vm, cases[i]);
    int64_t back = 0;
    CODE(sxapi_to_int(vm, v, &back), SXAPI_OK);
    cr_assert_eq(back, cases[i]);
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)cases[i]);
    cr_assert_str_eq(show(v), text);
  }
  CODE(sxapi_define(vm, "big", sxapi_int(vm, INT64_MAX)), SXAPI_OK);
  EVAL_OK("(= big 9223372036854775807)", "true");
}

Test(api_value, floats_and_numbers) {
  double d = 0;
  CODE(sxapi_to_float(vm, sxapi_float(vm, -0.125), &d), SXAPI_OK);
  cr_assert_eq(d, -0.125);
  CODE(sxapi_to_float(vm, sxapi_int(vm, 3), &d), SXAPI_OK); /* integers convert */
  cr_assert_eq(d, 3.0);
  cr_assert_str_eq(show(sxapi_float(vm, 1.0)), "1.0");
  cr_assert_str_eq(show(sxapi_float(vm, INFINITY)), "+inf.0");
  int64_t i = 5;
  CODE(sxapi_to_int(vm, sxapi_float(vm, 2.0), &i), SXAPI_ERR_TYPE); /* no silent truncation */
  cr_assert_eq(i, 5, "out is unchanged on failure");
  cr_assert_str_eq(sxapi_errmsg(), "sxapi_to_int: expected an integer, got 2.0");
  CODE(sxapi_to_float(vm, sxapi_cstring(vm, "1"), &d), SXAPI_ERR_TYPE);
}

Test(api_value, strings_are_byte_strings) {
  sxapi_value s = sxapi_string(vm, "a\0b", 3);
  const char *bytes;
  size_t len;
  CODE(sxapi_to_string(vm, s, &bytes, &len), SXAPI_OK);
  cr_assert_eq(len, 3);
  cr_assert(memcmp(bytes, "a\0b", 4) == 0, "bytes and a NUL after them");
  cr_assert_str_eq(show(s), "\"a\\x00b\"");
  CODE(sxapi_to_string(vm, sxapi_cstring(vm, "héllo"), &bytes, NULL), SXAPI_OK);
  cr_assert_str_eq(bytes, "héllo");
  CODE(sxapi_to_string(vm, sxapi_string(vm, NULL, 0), &bytes, &len), SXAPI_OK);
  cr_assert_eq(len, 0);
  cr_assert_eq(sxapi_string(vm, NULL, 2), sxapi_nil());
  MSG_HAS("sxapi_string: the bytes are NULL");
  cr_assert_eq(sxapi_cstring(vm, NULL), sxapi_nil());
  CODE(sxapi_to_string(vm, sxapi_symbol(vm, "s"), &bytes, NULL), SXAPI_ERR_TYPE);
  MSG_HAS("expected a string, got s");
  CODE(sxapi_to_string(vm, s, NULL, NULL), SXAPI_ERR_ARG);
}

Test(api_value, symbols_and_keywords_have_names) {
  const char *name;
  sxapi_value sym = sxapi_symbol(vm, "persist/append"), kw = sxapi_keyword(vm, "op");
  CODE(sxapi_to_name(vm, sym, &name), SXAPI_OK);
  cr_assert_str_eq(name, "persist/append");
  CODE(sxapi_to_name(vm, kw, &name), SXAPI_OK);
  cr_assert_str_eq(name, "op");
  cr_assert_str_eq(show(kw), ":op");
  cr_assert(sxapi_equal(vm, sym, eval("'persist/append")), "symbols are interned");
  CODE(sxapi_to_name(vm, sxapi_cstring(vm, "op"), &name), SXAPI_ERR_TYPE);
  cr_assert_eq(sxapi_symbol(vm, ""), sxapi_nil());
  cr_assert_eq(sxapi_keyword(vm, NULL), sxapi_nil());
  MSG_HAS("sxapi_keyword: the name is NULL or empty");
}

Test(api_value, booleans_are_strict) {
  bool b = false;
  CODE(sxapi_to_bool(vm, sxapi_bool(true), &b), SXAPI_OK);
  cr_assert(b);
  CODE(sxapi_to_bool(vm, sxapi_nil(), &b), SXAPI_ERR_TYPE);
  MSG_HAS("expected a boolean, got nil");
  CODE(sxapi_to_bool(vm, sxapi_bool(false), NULL), SXAPI_ERR_ARG);
}

Test(api_value, lists_are_built_measured_and_indexed) {
  sxapi_value items[] = {sxapi_int(vm, 1), sxapi_cstring(vm, "two"), sxapi_nil()};
  sxapi_value l = sxapi_list(vm, 3, items), v;
  cr_assert_str_eq(show(l), "(1 \"two\" nil)");
  size_t n;
  CODE(sxapi_list_length(vm, l, &n), SXAPI_OK);
  cr_assert_eq(n, 3);
  CODE(sxapi_list_get(vm, l, 1, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "\"two\"");
  CODE(sxapi_list_get(vm, l, 3, &v), SXAPI_ERR_NOTFOUND);
  MSG_HAS("index 3 is out of range (the list has 3 elements)");
  CODE(sxapi_list_length(vm, sxapi_nil(), &n), SXAPI_OK);
  cr_assert_eq(n, 0);
  CODE(sxapi_list_length(vm, sxapi_cstring(vm, "abc"), &n), SXAPI_ERR_TYPE);
  MSG_HAS("expected a list, got \"abc\"");
  CODE(sxapi_list_length(vm, sxapi_dict(vm), &n), SXAPI_ERR_TYPE);
  cr_assert_eq(sxapi_list(vm, 2, NULL), sxapi_nil());
  CODE(sxapi_define(vm, "l", l), SXAPI_OK);
  EVAL_OK("(nth l 1)", "\"two\"");
}

Test(api_value, dicts_are_immutable) {
  sxapi_value empty = sxapi_dict(vm), d1, d2, d3, v;
  CODE(sxapi_dict_set(vm, empty, "b", sxapi_int(vm, 2), &d1), SXAPI_OK);
  CODE(sxapi_dict_set(vm, d1, "a", sxapi_int(vm, 1), &d2), SXAPI_OK);
  cr_assert_str_eq(show(d2), "{:a 1 :b 2}");
  cr_assert_str_eq(show(d1), "{:b 2}", "the old dict is unchanged");
  CODE(sxapi_dict_remove(vm, d2, "b", &d3), SXAPI_OK);
  cr_assert_str_eq(show(d3), "{:a 1}");
  CODE(sxapi_dict_remove(vm, d3, "zz", &d3), SXAPI_OK);
  size_t n;
  CODE(sxapi_dict_count(vm, d2, &n), SXAPI_OK);
  cr_assert_eq(n, 2);
  CODE(sxapi_dict_get(vm, d2, "a", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "1");
  CODE(sxapi_dict_get(vm, d2, "zz", &v), SXAPI_ERR_NOTFOUND);
  MSG_HAS("no key \"zz\"");
  CODE(sxapi_dict_set(vm, sxapi_int(vm, 1), "a", v, &v), SXAPI_ERR_TYPE);
  CODE(sxapi_dict_set(vm, d2, NULL, v, &v), SXAPI_ERR_ARG);
  CODE(sxapi_dict_get(vm, sxapi_nil(), "a", &v), SXAPI_ERR_TYPE);
  CODE(sxapi_dict_count(vm, sxapi_nil(), &n), SXAPI_ERR_TYPE);
  CODE(sxapi_define(vm, "d", d2), SXAPI_OK);
  EVAL_OK("(get d :b)", "2");
}

Test(api_value, lists_iterate_with_their_indexes) {
  sxapi_iter it;
  sxapi_value k, v;
  CODE(sxapi_iter_init(vm, eval("(list \"x\" \"y\" \"z\")"), &it), SXAPI_OK);
  char seen[64] = "";
  while (sxapi_iter_next(&it, &k, &v)) {
    strcat(seen, show(k));
    strcat(seen, "=");
    strcat(seen, show(v));
    strcat(seen, " ");
  }
  cr_assert_str_eq(seen, "0=\"x\" 1=\"y\" 2=\"z\" ");
  cr_assert(!sxapi_iter_next(&it, &k, &v), "a finished iterator stays finished");
  CODE(sxapi_iter_init(vm, sxapi_nil(), &it), SXAPI_OK);
  cr_assert(!sxapi_iter_next(&it, NULL, NULL));
  CODE(sxapi_iter_init(vm, sxapi_int(vm, 1), &it), SXAPI_ERR_TYPE);
  MSG_HAS("expected a list or a dict, got 1");
  cr_assert(!sxapi_iter_next(NULL, &k, &v));
}

Test(api_value, dicts_iterate_in_key_order) {
  /* large enough to be stored as a trie, built in scrambled order */
  sxapi_value d = eval("(reduce (fn (d i) (assoc d (str \"k\" (mod (* i 7) 40)) i)) {} (range 0 40))");
  sxapi_iter it;
  sxapi_value k, v, prev = sxapi_nil();
  size_t count = 0;
  CODE(sxapi_iter_init(vm, d, &it), SXAPI_OK);
  while (sxapi_iter_next(&it, &k, NULL)) {
    const char *ks;
    CODE(sxapi_to_string(vm, k, &ks, NULL), SXAPI_OK);
    if (prev != sxapi_nil()) {
      const char *ps;
      sxapi_to_string(vm, prev, &ps, NULL);
      cr_assert(strcmp(ps, ks) < 0, "%s before %s", ps, ks);
    }
    prev = k;
    count++;
  }
  cr_assert_eq(count, 40);
  CODE(sxapi_iter_init(vm, eval("{:b 2 :a 1}"), &it), SXAPI_OK);
  cr_assert(sxapi_iter_next(&it, &k, &v));
  cr_assert_str_eq(show(k), "\"a\"");
  cr_assert_str_eq(show(v), "1");
}

Test(api_value, errors_carry_message_position_and_backtrace) {
  sxapi_value err;
  CODE(sxapi_eval(
           vm, "(define (outer x) (+ 1 (inner x)))\n(define (inner x) (error (str \"bad \" x)))\n(outer 7)",
           &err),
       SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, err, &info), SXAPI_OK);
  cr_assert_str_eq(info.message, "bad 7");
  cr_assert_not_null(info.where);
  cr_assert(strncmp(info.where, "<eval>:2:", 9) == 0, "where %s", info.where);
  size_t n;
  CODE(sxapi_list_length(vm, info.backtrace, &n), SXAPI_OK);
  cr_assert_geq(n, 2);
  sxapi_value first;
  const char *line;
  CODE(sxapi_list_get(vm, info.backtrace, 0, &first), SXAPI_OK);
  CODE(sxapi_to_string(vm, first, &line, NULL), SXAPI_OK);
  cr_assert(strstr(line, "in inner at <eval>:2:") != NULL, "innermost first: %s", line);
  cr_assert_eq(info.payload, sxapi_nil());
  MSG_HAS("bad 7 (at <eval>:2:");
}

Test(api_value, raised_values_are_the_payload) {
  sxapi_value err;
  CODE(sxapi_eval(vm, "(raise {:code 7})", &err), SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, err, &info), SXAPI_OK);
  cr_assert_str_eq(show(info.payload), "{:code 7}");
  /* a plain value described as if raised */
  CODE(sxapi_error_info_of(vm, sxapi_int(vm, 5), &info), SXAPI_OK);
  cr_assert_str_eq(info.message, "5");
  cr_assert_null(info.where);
  cr_assert_str_eq(show(info.backtrace), "()");
  cr_assert_str_eq(show(info.payload), "5");
  /* an error made by the host */
  sxapi_value mine = sxapi_error(vm, "host says no");
  cr_assert_eq(sxapi_typeof(mine), SXAPI_TERROR);
  CODE(sxapi_error_info_of(vm, mine, &info), SXAPI_OK);
  cr_assert_str_eq(info.message, "host says no");
  cr_assert_eq(sxapi_error(vm, NULL), sxapi_nil());
  CODE(sxapi_error_info_of(vm, mine, NULL), SXAPI_ERR_ARG);
}

Test(api_value, print_and_display) {
  sxapi_value v = eval("(list \"a\\\"b\" 1.5 nil ':k {:x \"y\"})"), text;
  CODE(sxapi_print(vm, v, &text), SXAPI_OK);
  const char *s;
  CODE(sxapi_to_string(vm, text, &s, NULL), SXAPI_OK);
  cr_assert_str_eq(s, "(\"a\\\"b\" 1.5 nil :k {:x \"y\"})");
  CODE(sxapi_display(vm, sxapi_cstring(vm, "a\"b"), &text), SXAPI_OK);
  CODE(sxapi_to_string(vm, text, &s, NULL), SXAPI_OK);
  cr_assert_str_eq(s, "a\"b");
  CODE(sxapi_display(vm, sxapi_nil(), &text), SXAPI_OK);
  CODE(sxapi_to_string(vm, text, &s, NULL), SXAPI_OK);
  cr_assert_str_eq(s, "");
  CODE(sxapi_print(vm, v, NULL), SXAPI_ERR_ARG);
}

Test(api_value, reading_tells_broken_from_unfinished) {
  sxapi_value forms;
  const char *src = "(+ 1 2) \"two\" {:a [1 2]}";
  CODE(sxapi_read(vm, src, strlen(src), "in.sx", &forms), SXAPI_OK);
  cr_assert_str_eq(show(forms), "((+ 1 2) \"two\" {:a (1 2)})");
  CODE(sxapi_read(vm, "(1 2", 4, "repl", &forms), SXAPI_ERR_INCOMPLETE);
  MSG_HAS("repl:1:5: unclosed '(' opened at 1:1");
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, forms, &info), SXAPI_OK);
  cr_assert(strstr(info.message, "unclosed '('") != NULL);
  CODE(sxapi_read(vm, "\"abc", 4, NULL, &forms), SXAPI_ERR_INCOMPLETE);
  MSG_HAS("<input>:");
  CODE(sxapi_read(vm, "(1 2))", 6, NULL, &forms), SXAPI_ERR_SYNTAX);
  MSG_HAS("unexpected ')'");
  CODE(sxapi_read(vm, "1abc", 4, NULL, &forms), SXAPI_ERR_SYNTAX);
  CODE(sxapi_read(vm, "", 0, NULL, &forms), SXAPI_OK);
  cr_assert_str_eq(show(forms), "()");
  CODE(sxapi_read(vm, NULL, 3, NULL, &forms), SXAPI_ERR_ARG);
}

/* Each read names its own source, however the names come and go (the VM
 * keeps the last few it made). */
Test(api_value, every_read_names_its_own_source) {
  const char *names[] = {"r1.sx", "r2.sx", "r1.sx", "r3.sx", "r4.sx", "r2.sx", "r", "r1.sx", "r1.sxx"};
  char buf[64], want[64];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(buf, sizeof buf, "%s", names[i]); /* a buffer the caller reuses */
    sxapi_value forms;
    CODE(sxapi_read(vm, "(1", 2, buf, &forms), SXAPI_ERR_INCOMPLETE);
    snprintf(want, sizeof want, "%s:1:3: unclosed", names[i]);
    MSG_HAS(want);
  }
}

Test(api_value, equality_is_structural) {
  sxapi_value items[] = {sxapi_int(vm, 1), sxapi_cstring(vm, "a")};
  cr_assert(sxapi_equal(vm, sxapi_list(vm, 2, items), eval("(list 1 \"a\")")));
  cr_assert(!sxapi_equal(vm, sxapi_list(vm, 1, items), eval("(list 1 \"a\")")));
  cr_assert(sxapi_equal(vm, eval("{:a (list 1 2)}"), eval("(assoc {} :a (list 1 2))")));
  cr_assert(!sxapi_equal(vm, sxapi_cstring(vm, "a"), sxapi_symbol(vm, "a")));
}
