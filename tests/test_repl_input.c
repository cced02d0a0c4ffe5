/* test_repl_input.c — Criterion tests for the REPL's multi-line reader
 * (hosts/repl/repl_input.c): complete entries, continuation on unbalanced
 * brackets, open strings and dangling quotes, blank and comment lines,
 * syntax errors and recovery, positions per entry and across a script,
 * and input that ends inside a form. */
#include <criterion/criterion.h>
#include <string.h>

#include "repl_input.h"

static sxapi_vm *vm;
static repl_input in;
static void setup(void) {
  vm = sxapi_open();
  repl_input_init(&in, vm, "<repl>", false);
}
static void teardown(void) {
  repl_input_free(&in);
  sxapi_free(vm);
}
TestSuite(repl_input, .init = setup, .fini = teardown);

static repl_input_state line(const char *text, sxapi_value *out) {
  return repl_input_line(&in, text, strlen(text), out);
}

static const char *printed(sxapi_value v) {
  sxapi_value s;
  const char *t = NULL;
  cr_assert_eq(sxapi_print(vm, v, &s), SXAPI_OK);
  cr_assert_eq(sxapi_to_string(vm, s, &t, NULL), SXAPI_OK);
  return t;
}

/* The message of a reader error. */
static const char *message(sxapi_value err) {
  sxapi_error_info e;
  cr_assert_eq(sxapi_error_info_of(vm, err, &e), SXAPI_OK);
  return e.message;
}

Test(repl_input, a_complete_line_is_ready_at_once) {
  sxapi_value out;
  cr_assert_eq(line("(+ 1 2)", &out), REPL_INPUT_READY);
  cr_assert_str_eq(printed(out), "((+ 1 2))");
  cr_assert_not(repl_input_pending(&in));
}

Test(repl_input, every_form_of_a_line_is_returned_in_order) {
  sxapi_value out;
  cr_assert_eq(line("(define x 1) x \"s\"\n", &out), REPL_INPUT_READY);
  cr_assert_str_eq(printed(out), "((define x 1) x \"s\")");
}

Test(repl_input, an_open_bracket_continues_until_it_closes) {
  sxapi_value out;
  cr_assert_eq(line("(list 1", &out), REPL_INPUT_MORE);
  cr_assert(repl_input_pending(&in));
  cr_assert_eq(line("  {:a [2", &out), REPL_INPUT_MORE);
  cr_assert_eq(line("", &out), REPL_INPUT_MORE, "a blank line inside a form");
  cr_assert_eq(line("; a comment ) inside", &out), REPL_INPUT_MORE);
  cr_assert_eq(line("3]})", &out), REPL_INPUT_READY);
  cr_assert_str_eq(printed(out), "((list 1 {:a (2 3)}))");
  cr_assert_not(repl_input_pending(&in));
}

Test(repl_input, an_open_string_continues_and_keeps_the_newline) {
  sxapi_value out;
  cr_assert_eq(line("(str \"two", &out), REPL_INPUT_MORE);
  cr_assert_eq(line("lines\")", &out), REPL_INPUT_READY);
  cr_assert_str_eq(printed(out), "((str \"two\\nlines\"))");
}

Test(repl_input, a_dangling_quote_waits_for_its_form) {
  sxapi_value out;
  cr_assert_eq(line("'", &out), REPL_INPUT_MORE);
  cr_assert_eq(line("x", &out), REPL_INPUT_READY);
  cr_assert_str_eq(printed(out), "((quote x))");
}

Test(repl_input, blanks_and_comments_alone_are_empty) {
  sxapi_value out;
  cr_assert_eq(line("", &out), REPL_INPUT_EMPTY);
  cr_assert_eq(line("   \t", &out), REPL_INPUT_EMPTY);
  cr_assert_eq(line("; just a note", &out), REPL_INPUT_EMPTY);
  cr_assert_not(repl_input_pending(&in));
}

Test(repl_input, a_syntax_error_is_reported_and_the_next_entry_starts_clean) {
  sxapi_value out;
  cr_assert_eq(line("(+ 1 2))", &out), REPL_INPUT_ERROR);
  cr_assert(strstr(message(out), "unexpected ')'"), "%s", message(out));
  cr_assert_not(repl_input_pending(&in));
  cr_assert_eq(line("(+ 3 4)", &out), REPL_INPUT_READY);
  cr_assert_str_eq(printed(out), "((+ 3 4))");
}

Test(repl_input, errors_name_the_line_of_the_entry) {
  sxapi_value out;
  cr_assert_eq(line("(+ 1 2)", &out), REPL_INPUT_READY);
  cr_assert_eq(line("(list 1", &out), REPL_INPUT_MORE);
  cr_assert_eq(line("  2]", &out), REPL_INPUT_ERROR);
  cr_assert_str_eq(message(out), "<repl>:2:4: mismatched ']': expected ')' to close '(' opened at 1:1");
}

Test(repl_input, a_script_counts_lines_across_entries) {
  repl_input s;
  repl_input_init(&s, vm, "<stdin>", true);
  sxapi_value out;
  cr_assert_eq(repl_input_line(&s, "(+ 1 2)", 7, &out), REPL_INPUT_READY);
  repl_input_skip_line(&s); /* line 2 was a meta-command */
  cr_assert_eq(repl_input_line(&s, "", 0, &out), REPL_INPUT_EMPTY);
  cr_assert_eq(repl_input_line(&s, "(list", 5, &out), REPL_INPUT_MORE);
  cr_assert_eq(repl_input_line(&s, " (car 5))", 9, &out), REPL_INPUT_READY);
  sxapi_value form, err;
  cr_assert_eq(sxapi_list_get(vm, out, 0, &form), SXAPI_OK);
  cr_assert_eq(sxapi_eval_form(vm, form, &err), SXAPI_ERR_EVAL);
  sxapi_error_info e;
  cr_assert_eq(sxapi_error_info_of(vm, err, &e), SXAPI_OK);
  cr_assert_not_null(e.where);
  cr_assert(strncmp(e.where, "<stdin>:5:", 10) == 0, "the inner call is on line 5 of the script: %s",
            e.where);
  cr_assert_eq(repl_input_line(&s, "  )", 3, &out), REPL_INPUT_ERROR);
  cr_assert(strncmp(message(out), "<stdin>:6:3:", 12) == 0, "%s", message(out));
  repl_input_free(&s);
}

Test(repl_input, input_ending_inside_a_form_is_an_error) {
  sxapi_value out;
  cr_assert_eq(line("(list 1", &out), REPL_INPUT_MORE);
  cr_assert_eq(repl_input_finish(&in, &out), REPL_INPUT_ERROR);
  cr_assert(strstr(message(out), "unclosed '(' opened at 1:1"), "%s", message(out));
  cr_assert_not(repl_input_pending(&in));
  cr_assert_eq(repl_input_finish(&in, &out), REPL_INPUT_EMPTY, "nothing pending: nothing to report");
}

Test(repl_input, reset_drops_the_entry_in_progress) {
  sxapi_value out;
  cr_assert_eq(line("(list 1", &out), REPL_INPUT_MORE);
  repl_input_reset(&in);
  cr_assert_not(repl_input_pending(&in));
  cr_assert_eq(line("2)", &out), REPL_INPUT_ERROR, "the old open bracket is gone");
}

Test(repl_input, carriage_returns_and_newlines_are_trimmed) {
  sxapi_value out;
  cr_assert_eq(line("(f \"a\r\n", &out), REPL_INPUT_MORE);
  cr_assert_eq(line("b\")\r\n", &out), REPL_INPUT_READY);
  cr_assert_str_eq(printed(out), "((f \"a\\nb\"))");
}
