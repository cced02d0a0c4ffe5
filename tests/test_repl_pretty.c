/* test_repl_pretty.c — Criterion tests for the REPL's pretty-printer
 * (hosts/repl/repl_pretty.c): one-line output equal to the printer's, line
 * breaking and indentation at a width, every line within the width, events
 * in reading order, round-tripping through the reader, elision, colour,
 * cutting one-line previews, and very deep values. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "repl_pretty.h"
#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"

static void setup(void) { sx_gc_init(); }
TestSuite(repl_pretty, .init = setup);

static sx_val rd(const char *src) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(src, strlen(src), SX_NIL, &err);
  cr_assert_neq(forms, SX_UNDEF, "reads: %s", src);
  return sx_car(forms);
}

/* The pretty-printed text of v as a GC string. */
static const char *pretty(sx_val v, int width, bool colour, size_t max_items) {
  sx_buf b = SX_BUF_INIT;
  repl_pretty_opts o = {width, colour, max_items};
  repl_pretty(&b, v, &o);
  sx_val s = sx_string_new(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  return sx_str_data(s);
}

static const char *printed(sx_val v) { return sx_str_data(sx_print_to_string(v)); }

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
    sx_val v = rd(srcs[i]);
    cr_assert_str_eq(pretty(v, 80, false, 0), printed(v), "%s", srcs[i]);
  }
}

Test(repl_pretty, what_fits_stays_on_one_line) {
  sx_val v = rd("(1 (2 3) {:a 1 \"b c\" (4)} \"s\")");
  cr_assert_str_eq(pretty(v, 80, false, 0), "(1 (2 3) {:a 1 \"b c\" (4)} \"s\")");
  cr_assert_str_eq(pretty(v, 0, false, 0), printed(v), "width 0: one line");
}

Test(repl_pretty, a_list_too_wide_breaks_one_element_per_line) {
  sx_val v = rd("({:a 1 :b 2} {:c 3 :d 4} (5 (6 7)))");
  cr_assert_str_eq(pretty(v, 20, false, 0),
                   "({:a 1 :b 2}\n"
                   " {:c 3 :d 4}\n"
                   " (5 (6 7)))");
}

Test(repl_pretty, a_dict_too_wide_hangs_values_under_their_keys) {
  sx_val v = rd("{:name \"ledger\" :config {:mode \"fast\" :limits {:max 100 :min 1}}}");
  cr_assert_str_eq(pretty(v, 30, false, 0),
                   "{:config {:limits {:max 100\n"
                   "                   :min 1}\n"
                   "          :mode \"fast\"}\n"
                   " :name \"ledger\"}");
}

Test(repl_pretty, a_list_of_atoms_fills_lines) {
  sx_val v = rd("(10 11 12 13 14 15 16 17 18 19 20)");
  cr_assert_str_eq(pretty(v, 16, false, 0),
                   "(10 11 12 13 14\n"
                   " 15 16 17 18 19\n"
                   " 20)");
}

Test(repl_pretty, every_line_fits_the_width_when_the_atoms_do) {
  sx_val v = rd("({:seq 1 :stream \"orders\" :type \"placed\" :data {:id 1 :amount 250 :tags (a b c)}}"
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
    sx_val v = rd(srcs[i]);
    for (int w = 0; w <= 100; w += 10) {
      const char *s = pretty(v, w, false, 0);
      cr_assert(sx_equal(rd(s), v), "width %d: %s reads back as %s", w, s, srcs[i]);
    }
  }
}

Test(repl_pretty, events_list_keys_in_reading_order) {
  sx_val e = rd(event_src);
  cr_assert(repl_is_event(e));
  cr_assert_str_eq(pretty(e, 200, false, 0),
                   "{:seq 3 :stream \"orders\" :type \"placed\" :at 17 :data {:amount 75 :id 3} :zz 1}");
  cr_assert_str_eq(pretty(e, 50, false, 0),
                   "{:seq 3 :stream \"orders\" :type \"placed\" :at 17\n"
                   " :data {:amount 75 :id 3}\n"
                   " :zz 1}",
                   "the header on one line, then the data");
  cr_assert_str_eq(pretty(e, 30, false, 0),
                   "{:seq 3 :stream \"orders\"\n"
                   " :type \"placed\" :at 17\n"
                   " :data {:amount 75 :id 3}\n"
                   " :zz 1}");
}

Test(repl_pretty, a_dict_that_is_not_an_event_keeps_byte_order) {
  sx_val d = rd("{:seq 1 :type \"t\" :stream \"s\"}"); /* no :data */
  cr_assert_not(repl_is_event(d));
  cr_assert_str_eq(pretty(d, 80, false, 0), "{:seq 1 :stream \"s\" :type \"t\"}");
  cr_assert_not(repl_is_event(rd("{:seq \"1\" :type \"t\" :stream \"s\" :data 1}")), "seq must be an integer");
}

Test(repl_pretty, long_lists_and_dicts_are_cut_after_max_items) {
  cr_assert_str_eq(pretty(rd("(0 1 2 3 4 5 6 7 8 9)"), 80, false, 3), "(0 1 2 ... 7 more)");
  cr_assert_str_eq(pretty(rd("{:a 1 :b 2 :c 3}"), 80, false, 2), "{:a 1 :b 2 ... 1 more}");
  cr_assert_str_eq(pretty(rd("(0 1 2)"), 80, false, 3), "(0 1 2)", "exactly max_items: nothing cut");
  cr_assert_str_eq(pretty(rd("((1) (2) (3) (4))"), 6, false, 2), "((1)\n (2)\n ... 2 more)");
}

Test(repl_pretty, colour_wraps_atoms_and_only_when_asked) {
  sx_val v = rd("(1 \"s\" nil)");
  const char *c = pretty(v, 80, true, 0);
  cr_assert(strstr(c, "\033[36m1" REPL_SGR_RESET), "number coloured: %s", c);
  cr_assert(strstr(c, "\033[32m\"s\"" REPL_SGR_RESET), "string coloured: %s", c);
  cr_assert(strstr(c, "\033[33mnil" REPL_SGR_RESET), "nil coloured: %s", c);
  cr_assert_null(strchr(pretty(v, 80, false, 0), '\033'), "no colour");
  /* colour codes do not count towards the width */
  cr_assert_eq(count_lines(pretty(rd("(1 2 3 4 5 6)"), 14, true, 0)), 1);
}

Test(repl_pretty, one_line_previews_are_cut_to_the_width) {
  sx_buf b = SX_BUF_INIT;
  repl_pretty_line(&b, rd("{:a \"long string value\" :b (1 2 3)}"), 16);
  cr_assert_str_eq(b.data, "{:a \"long str...");
  sx_buf_reset(&b);
  repl_pretty_line(&b, rd("(1 2)"), 16);
  cr_assert_str_eq(b.data, "(1 2)");
  sx_buf_reset(&b);
  repl_pretty_line(&b, rd("\"ééééééééé\""), 8);
  cr_assert_str_eq(b.data, "\"éééé...", "cut between characters, not inside one");
  cr_assert_eq(repl_columns(b.data, b.len), 8);
  sx_buf_free(&b);
}

Test(repl_pretty, very_deep_values_do_not_exhaust_the_stack) {
  sx_val v = sx_fixnum(1);
  for (size_t i = 0; i < 100000; i++) v = sx_cons(v, SX_EMPTY);
  v = sx_cons(v, sx_cons(sx_fixnum(2), SX_EMPTY));
  /* each list but the outer one has one element: no line breaks inside */
  const char *s = pretty(v, 80, false, 0);
  const char *nl = strchr(s, '\n');
  cr_assert_not_null(nl);
  cr_assert_str_eq(nl, "\n 2)");
  cr_assert_eq(strncmp(s, printed(v), (size_t)(nl - s)), 0);
}
