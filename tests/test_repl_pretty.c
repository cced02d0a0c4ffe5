/* test_repl_pretty.c — Criterion tests for the REPL's pretty-printer
 * (hosts/repl/repl_pretty.c): one-line output equal to the printer's, line
 * breaking and indentation at a width, every line within the width, events
 * in reading order, round-tripping through the reader, elision, colour,
 * cutting one-line previews, and very deep values. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "repl_pretty.h"

static sxapi_vm *vm;
static void setup(void) { vm = sxapi_open(); }
static void teardown(void) { sxapi_free(vm); }
TestSuite(repl_pretty, .init = setup, .fini = teardown);

static sxapi_value rd(const char *src) {
  sxapi_value forms, v;
  cr_assert_eq(sxapi_read(vm, src, strlen(src), NULL, &forms), SXAPI_OK, "reads: %s", src);
  cr_assert_eq(sxapi_list_get(vm, forms, 0, &v), SXAPI_OK);
  return v;
}

/* The bytes of a string value. */
static const char *text_of(sxapi_value s) {
  const char *t = NULL;
  cr_assert_eq(sxapi_to_string(vm, s, &t, NULL), SXAPI_OK);
  return t;
}

/* The pretty-printed text of v as a GC string. */
static const char *pretty(sxapi_value v, int width, bool colour, size_t max_items) {
  repl_buf b = REPL_BUF_INIT;
  repl_pretty_opts o = {vm, width, colour, max_items};
  repl_pretty(&b, v, &o);
  sxapi_value s = sxapi_string(vm, b.data ? b.data : "", b.len);
  repl_buf_free(&b);
  return text_of(s);
}

static const char *printed(sxapi_value v) {
  sxapi_value s;
  cr_assert_eq(sxapi_print(vm, v, &s), SXAPI_OK);
  return text_of(s);
}

static size_t widest_line(const char *s) {
  size_t best = 0;
  while (*s) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    size_t cols = repl_columns(s, len);
    if (cols > best) best = cols;
    s += len + (nl != NULL);
  }
  return best;
}

static size_t count_lines(const char *s) {
  size_t n = 1;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static const char *event_src =
    "{:type \"placed\" :stream \"orders\" :seq 3 :at 17 :data {:id 3 :amount 75} :zz 1}";

Test(repl_pretty, atoms_print_as_the_printer_does) {
  const char *srcs[] = {"42", "-7", "3.5", "\"a\\\"b\\n\"", "nil", "true", "false", "sym", ":kw", "\"π\""};
  for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
    sxapi_value v = rd(srcs[i]);
    cr_assert_str_eq(pretty(v, 80, false, 0), printed(v), "%s", srcs[i]);
  }
}

Test(repl_pretty, what_fits_stays_on_one_line) {
  sxapi_value v = rd("(1 (2 3) {:a 1 \"b c\" (4)} \"s\")");
  cr_assert_str_eq(pretty(v, 80, false, 0), "(1 (2 3) {:a 1 \"b c\" (4)} \"s\")");
  cr_assert_str_eq(pretty(v, 0, false, 0), printed(v), "width 0: one line");
}

Test(repl_pretty, a_list_too_wide_breaks_one_element_per_line) {
  sxapi_value v = rd("({:a 1 :b 2} {:c 3 :d 4} (5 (6 7)))");
  cr_assert_str_eq(pretty(v, 20, false, 0), "({:a 1 :b 2}\n"
                                            " {:c 3 :d 4}\n"
                                            " (5 (6 7)))");
}

Test(repl_pretty, a_dict_too_wide_hangs_values_under_their_keys) {
  sxapi_value v = rd("{:name \"ledger\" :config {:mode \"fast\" :limits {:max 100 :min 1}}}");
  cr_assert_str_eq(pretty(v, 30, false, 0), "{:config {:limits {:max 100\n"
                                            "                   :min 1}\n"
                                            "          :mode \"fast\"}\n"
                                            " :name \"ledger\"}");
}

Test(repl_pretty, a_list_of_atoms_fills_lines) {
  sxapi_value v = rd("(10 11 12 13 14 15 16 17 18 19 20)");
  cr_assert_str_eq(pretty(v, 16, false, 0), "(10 11 12 13 14\n"
                                            " 15 16 17 18 19\n"
                                            " 20)");
}

Test(repl_pretty, every_line_fits_the_width_when_the_atoms_do) {
  sxapi_value v = rd("({:seq 1 :stream \"orders\" :type \"placed\" :data {:id 1 :amount 250 :tags (a b c)}}"
                     " {:k (1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20) :m {:x {:y {:z (1 2)}}}}"
                     " (\"one\" \"two\" (\"three\" (\"four\" \"five\" \"six\"))))");
  for (int w = 24; w <= 120; w += 8) {
    const char *s = pretty(v, w, false, 0);
    cr_assert_leq(widest_line(s), (size_t)w, "width %d:\n%s", w, s);
  }
  cr_assert_gt(count_lines(pretty(v, 24, false, 0)), count_lines(pretty(v, 120, false, 0)),
               "a narrower width uses more lines");
}

Test(repl_pretty, output_reads_back_as_an_equal_value) {
  const char *srcs[] = {
      "({:a (1 2 3) :b {:c \"x y\" \"odd key\" 2.5}} (nil true false) ())",
      "{:type \"placed\" :stream \"orders\" :seq 3 :at 17 :data {:id 3 :amount 75} :zz 1}",
      "((((((((1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20))))))))",
  };
  for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
    sxapi_value v = rd(srcs[i]);
    for (int w = 0; w <= 100; w += 10) {
      const char *s = pretty(v, w, false, 0);
      cr_assert(sxapi_equal(vm, rd(s), v), "width %d: %s reads back as %s", w, s, srcs[i]);
    }
  }
}

Test(repl_pretty, events_list_keys_in_reading_order) {
  sxapi_value e = rd(event_src);
  cr_assert(repl_is_event(vm, e));
  cr_assert_str_eq(pretty(e, 200, false, 0),
                   "{:seq 3 :stream \"orders\" :type \"placed\" :at 17 :data {:amount 75 :id 3} :zz 1}");
  cr_assert_str_eq(pretty(e, 50, false, 0),
                   "{:seq 3 :stream \"orders\" :type \"placed\" :at 17\n"
                   " :data {:amount 75 :id 3}\n"
                   " :zz 1}",
                   "the header on one line, then the data");
  cr_assert_str_eq(pretty(e, 30, false, 0), "{:seq 3 :stream \"orders\"\n"
                                            " :type \"placed\" :at 17\n"
                                            " :data {:amount 75 :id 3}\n"
                                            " :zz 1}");
}

Test(repl_pretty, a_dict_that_is_not_an_event_keeps_byte_order) {
  sxapi_value d = rd("{:seq 1 :type \"t\" :stream \"s\"}"); /* no :data */
  cr_assert_not(repl_is_event(vm, d));
  cr_assert_str_eq(pretty(d, 80, false, 0), "{:seq 1 :stream \"s\" :type \"t\"}");
  cr_assert_not(repl_is_event(vm, rd("{:seq \"1\" :type \"t\" :stream \"s\" :data 1}")),
                "seq must be an integer");
}

Test(repl_pretty, long_lists_and_dicts_are_cut_after_max_items) {
  cr_assert_str_eq(pretty(rd("(0 1 2 3 4 5 6 7 8 9)"), 80, false, 3), "(0 1 2 ... 7 more)");
  cr_assert_str_eq(pretty(rd("{:a 1 :b 2 :c 3}"), 80, false, 2), "{:a 1 :b 2 ... 1 more}");
  cr_assert_str_eq(pretty(rd("(0 1 2)"), 80, false, 3), "(0 1 2)", "exactly max_items: nothing cut");
  cr_assert_str_eq(pretty(rd("((1) (2) (3) (4))"), 6, false, 2), "((1)\n (2)\n ... 2 more)");
}

Test(repl_pretty, colour_wraps_atoms_and_only_when_asked) {
  sxapi_value v = rd("(1 \"s\" nil)");
  const char *c = pretty(v, 80, true, 0);
  cr_assert(strstr(c, "\033[36m1" REPL_SGR_RESET), "number coloured: %s", c);
  cr_assert(strstr(c, "\033[32m\"s\"" REPL_SGR_RESET), "string coloured: %s", c);
  cr_assert(strstr(c, "\033[33mnil" REPL_SGR_RESET), "nil coloured: %s", c);
  cr_assert_null(strchr(pretty(v, 80, false, 0), '\033'), "no colour");
  /* colour codes do not count towards the width */
  cr_assert_eq(count_lines(pretty(rd("(1 2 3 4 5 6)"), 14, true, 0)), 1);
}

Test(repl_pretty, one_line_previews_are_cut_to_the_width) {
  repl_buf b = REPL_BUF_INIT;
  repl_pretty_line(vm, &b, rd("{:a \"long string value\" :b (1 2 3)}"), 16);
  cr_assert_str_eq(b.data, "{:a \"long str...");
  repl_buf_reset(&b);
  repl_pretty_line(vm, &b, rd("(1 2)"), 16);
  cr_assert_str_eq(b.data, "(1 2)");
  repl_buf_reset(&b);
  repl_pretty_line(vm, &b, rd("\"ééééééééé\""), 8);
  cr_assert_str_eq(b.data, "\"éééé...", "cut between characters, not inside one");
  cr_assert_eq(repl_columns(b.data, b.len), 8);
  repl_buf_free(&b);
}

Test(repl_pretty, very_deep_values_do_not_exhaust_the_stack) {
  sxapi_value v = sxapi_int(vm, 1);
  for (size_t i = 0; i < 100000; i++) v = sxapi_list(vm, 1, &v);
  sxapi_value outer[2] = {v, sxapi_int(vm, 2)};
  v = sxapi_list(vm, 2, outer);
  /* each list but the outer one has one element: no line breaks inside */
  const char *s = pretty(v, 80, false, 0);
  const char *nl = strchr(s, '\n');
  cr_assert_not_null(nl);
  cr_assert_str_eq(nl, "\n 2)");
  cr_assert_eq(strncmp(s, printed(v), (size_t)(nl - s)), 0);
}
