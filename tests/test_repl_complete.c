/* test_repl_complete.c — Criterion tests for the REPL's Tab completion
 * (hosts/repl/repl_complete.c): what kind of word is before the cursor,
 * candidates from the VM's globals and the command table, and what Tab
 * inserts or lists. */
#include <criterion/criterion.h>
#include <string.h>

#include "repl_complete.h"

static sxapi_vm *vm;
static void setup(void) { vm = sxapi_open(); }
static void teardown(void) { sxapi_free(vm); }
TestSuite(repl_complete, .init = setup, .fini = teardown);

static repl_comp_kind ctx(const char *line, bool continuation, size_t *start) {
  return repl_complete_context(line, strlen(line), continuation, start);
}

Test(repl_complete, a_symbol_before_the_cursor) {
  size_t start;
  cr_assert_eq(ctx("(persist/rea", false, &start), REPL_COMP_SYMBOL);
  cr_assert_eq(start, 1);
  cr_assert_eq(ctx("(map inc (ran", false, &start), REPL_COMP_SYMBOL);
  cr_assert_eq(start, 10);
  size_t s2;
  cr_assert_eq(repl_complete_context("(foo bar)", 4, false, &s2), REPL_COMP_SYMBOL, "cursor mid-line");
  cr_assert_eq(s2, 1);
}

Test(repl_complete, nothing_after_a_blank_a_keyword_colon_or_in_a_comment) {
  size_t start;
  cr_assert_eq(ctx("(list ", false, &start), REPL_COMP_NONE);
  cr_assert_eq(ctx("{:amou", false, &start), REPL_COMP_NONE);
  cr_assert_eq(ctx("(+ 1 2) ; persist/re", false, &start), REPL_COMP_NONE);
}

Test(repl_complete, inside_a_string_stream_names_and_keys) {
  size_t start;
  cr_assert_eq(ctx("(persist/read db \"ord", false, &start), REPL_COMP_STRING);
  cr_assert_eq(start, 18);
  cr_assert_eq(ctx("(f \"a\\\"b\" \"c", false, &start), REPL_COMP_STRING, "escaped quote");
  cr_assert_eq(start, 11);
  cr_assert_eq(ctx("(f \"done\" x", false, &start), REPL_COMP_SYMBOL, "closed string");
  cr_assert_eq(ctx("(f \"; not a comment", false, &start), REPL_COMP_STRING);
}

Test(repl_complete, meta_command_names_and_arguments) {
  size_t start;
  cr_assert_eq(ctx(":ta", false, &start), REPL_COMP_COMMAND);
  cr_assert_eq(start, 0);
  cr_assert_eq(ctx("  :", false, &start), REPL_COMP_COMMAND);
  cr_assert_eq(start, 2);
  cr_assert_eq(ctx(":tail or", false, &start), REPL_COMP_STREAM);
  cr_assert_eq(start, 6);
  cr_assert_eq(ctx(":show \"my str", false, &start), REPL_COMP_STREAM, "quoted argument");
  cr_assert_eq(start, 7);
  cr_assert_eq(ctx(":get cust", false, &start), REPL_COMP_KEY);
  cr_assert_eq(ctx(":kv ", false, &start), REPL_COMP_KEY);
  cr_assert_eq(start, 4);
  cr_assert_eq(ctx(":tail orders 1", false, &start), REPL_COMP_NONE, "only the first argument");
  cr_assert_eq(ctx(":stats x", false, &start), REPL_COMP_NONE);
  cr_assert_eq(ctx(":doc persist/re", false, &start), REPL_COMP_SYMBOL, ":doc takes a name");
  cr_assert_eq(start, 5);
  cr_assert_eq(ctx(":a", true, &start), REPL_COMP_NONE, "a keyword in a continued form");
}

Test(repl_complete, symbols_come_from_the_vm_and_the_special_forms) {
  sxapi_define(vm, "ledger-total", sxapi_int(vm, 1));
  sxapi_define(vm, "ledger-tax", sxapi_int(vm, 2));
  /* naming an unbound global in a function leaves it unbound */
  cr_assert_eq(sxapi_eval(vm, "(define (ledger-f) ledger-unbound)", NULL), SXAPI_OK);
  repl_matches m;
  repl_complete_gather(&m, REPL_COMP_SYMBOL, "ledger-t", 8, vm);
  cr_assert_eq(m.n, 2);
  cr_assert_str_eq(m.items[0], "ledger-tax");
  cr_assert_str_eq(m.items[1], "ledger-total");
  repl_matches_free(&m);
  repl_complete_gather(&m, REPL_COMP_SYMBOL, "lambd", 5, vm);
  cr_assert_eq(m.n, 1);
  cr_assert_str_eq(m.items[0], "lambda");
  repl_matches_free(&m);
  repl_complete_gather(&m, REPL_COMP_SYMBOL, "ledger-u", 8, vm);
  cr_assert_eq(m.n, 0, "unbound globals are not offered");
  repl_matches_free(&m);
}

Test(repl_complete, commands_complete_with_their_colon) {
  repl_matches m;
  repl_complete_gather(&m, REPL_COMP_COMMAND, ":st", 3, NULL);
  cr_assert_eq(m.n, 2);
  cr_assert_str_eq(m.items[0], ":stats");
  cr_assert_str_eq(m.items[1], ":streams");
  repl_buf ins = REPL_BUF_INIT, list = REPL_BUF_INIT;
  repl_complete_apply(&m, REPL_COMP_COMMAND, 3, false, 80, &ins, &list);
  cr_assert_eq(ins.len, 0, "nothing in common beyond :st");
  cr_assert_str_eq(list.data, ":stats    :streams\n");
  repl_matches_free(&m);
  repl_complete_gather(&m, REPL_COMP_COMMAND, ":ref", 4, NULL);
  cr_assert_eq(m.n, 1);
  repl_complete_apply(&m, REPL_COMP_COMMAND, 4, false, 80, &ins, &list);
  cr_assert_str_eq(ins.data, "resh ", "the rest of the name and a blank");
  repl_matches_free(&m);
  repl_buf_free(&ins);
  repl_buf_free(&list);
}

Test(repl_complete, one_match_is_finished_and_several_are_listed) {
  repl_matches m;
  repl_matches_init(&m);
  repl_matches_add(&m, "orders", 6, "or", 2);
  repl_matches_add(&m, "payments", 8, "or", 2); /* no: wrong prefix */
  repl_matches_sort(&m);
  repl_buf ins = REPL_BUF_INIT, list = REPL_BUF_INIT;
  repl_complete_apply(&m, REPL_COMP_STRING, 2, true, 80, &ins, &list);
  cr_assert_str_eq(ins.data, "ders\"", "the rest and the closing quote");
  repl_buf_reset(&ins);
  repl_complete_apply(&m, REPL_COMP_STREAM, 2, false, 80, &ins, &list);
  cr_assert_str_eq(ins.data, "ders ", "a meta-command argument: the rest and a blank");
  repl_buf_reset(&ins);
  repl_complete_apply(&m, REPL_COMP_STREAM, 2, true, 80, &ins, &list);
  cr_assert_str_eq(ins.data, "ders\" ", "a quoted argument: closed, then a blank");
  repl_matches_free(&m);
  repl_buf_reset(&ins);
  const char *reads[] = {"persist/read-from", "persist/read", "persist/read-where"};
  for (int i = 0; i < 3; i++) repl_matches_add(&m, reads[i], strlen(reads[i]), "persist/r", 9);
  repl_matches_sort(&m);
  repl_complete_apply(&m, REPL_COMP_SYMBOL, 9, false, 80, &ins, &list);
  cr_assert_str_eq(ins.data, "ead", "the longest common prefix");
  cr_assert_eq(list.len, 0);
  repl_matches_free(&m);
  repl_buf_reset(&ins);
  const char *names[] = {"beta", "alpha", "alpha", "gamma"};
  for (int i = 0; i < 4; i++) repl_matches_add(&m, names[i], strlen(names[i]), "", 0);
  repl_matches_sort(&m);
  cr_assert_eq(m.n, 3, "duplicates dropped");
  repl_complete_apply(&m, REPL_COMP_SYMBOL, 0, false, 80, &ins, &list);
  cr_assert_eq(ins.len, 0, "no common prefix to insert");
  cr_assert_str_eq(list.data, "alpha  beta   gamma\n");
  repl_buf_reset(&list);
  repl_complete_apply(&m, REPL_COMP_SYMBOL, 0, false, 10, &ins, &list);
  cr_assert_str_eq(list.data, "alpha\nbeta\ngamma\n", "one column when narrow");
  repl_matches_free(&m);
  repl_buf_free(&ins);
  repl_buf_free(&list);
}
