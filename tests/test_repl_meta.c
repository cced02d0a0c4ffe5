/* test_repl_meta.c — Criterion tests for the REPL's meta-command parser
 * (hosts/repl/repl_meta.c): every command with its arguments, defaults,
 * quoting, abbreviations, usage errors, and the suggestion of the nearest
 * command for a typo. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "repl_meta.h"

static repl_buf err;
static repl_meta m;
static void teardown(void) {
  repl_meta_free(&m);
  repl_buf_free(&err);
}
TestSuite(repl_meta, .fini = teardown);

static int parse(const char *line) {
  repl_meta_free(&m);
  repl_buf_reset(&err);
  return repl_meta_parse(line, &m, &err);
}

static const char *error_of(const char *line) {
  cr_assert_eq(parse(line), -1, "%s should be refused", line);
  return err.data;
}

Test(repl_meta, commands_without_arguments) {
  struct {
    const char *line;
    repl_cmd cmd;
  } cases[] = {
      {":help", REPL_CMD_HELP},   {":streams", REPL_CMD_STREAMS}, {":blobs", REPL_CMD_BLOBS},
      {":stats", REPL_CMD_STATS}, {":refresh", REPL_CMD_REFRESH}, {":quit", REPL_CMD_QUIT},
      {"  :kv  ", REPL_CMD_KV},   {":more", REPL_CMD_MORE},       {":m", REPL_CMD_MORE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cr_assert_eq(parse(cases[i].line), 0, "%s: %s", cases[i].line, err.data);
    cr_assert_eq(m.cmd, cases[i].cmd, "%s", cases[i].line);
    cr_assert_eq(m.argc, 0);
    cr_assert_null(m.word);
  }
}

Test(repl_meta, tail_takes_a_stream_and_an_optional_count) {
  cr_assert_eq(parse(":tail orders"), 0);
  cr_assert_eq(m.cmd, REPL_CMD_TAIL);
  cr_assert_str_eq(m.word, "orders");
  cr_assert_eq(m.n, REPL_TAIL_DEFAULT);
  cr_assert_eq(parse(":tail orders 3"), 0);
  cr_assert_str_eq(m.word, "orders");
  cr_assert_eq(m.n, 3);
  cr_assert_eq(m.argc, 2);
}

Test(repl_meta, show_takes_a_stream_and_a_seq) {
  cr_assert_eq(parse(":show payments 12"), 0);
  cr_assert_eq(m.cmd, REPL_CMD_SHOW);
  cr_assert_str_eq(m.word, "payments");
  cr_assert_eq(m.n, 12);
  cr_assert(strstr(error_of(":show payments"), "usage: :show STREAM SEQ"), "%s", err.data);
}

Test(repl_meta, kv_get_and_help_take_one_word) {
  cr_assert_eq(parse(":kv customer/"), 0);
  cr_assert_eq(m.cmd, REPL_CMD_KV);
  cr_assert_str_eq(m.word, "customer/");
  cr_assert_eq(parse(":get config/currency"), 0);
  cr_assert_eq(m.cmd, REPL_CMD_GET);
  cr_assert_str_eq(m.word, "config/currency");
  cr_assert_eq(parse(":help tail"), 0);
  cr_assert_str_eq(m.word, "tail");
}

Test(repl_meta, doc_and_apropos_take_a_name) {
  struct {
    const char *line;
    repl_cmd cmd;
    const char *word;
  } cases[] = {
      {":doc persist/read", REPL_CMD_DOC, "persist/read"},
      {":d let*", REPL_CMD_DOC, "let*"},
      {":apropos \"kv-\"", REPL_CMD_APROPOS, "kv-"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cr_assert_eq(parse(cases[i].line), 0, "%s: %s", cases[i].line, err.data);
    cr_assert_eq(m.cmd, cases[i].cmd, "%s", cases[i].line);
    cr_assert_str_eq(m.word, cases[i].word);
  }
  cr_assert_str_eq(error_of(":doc"), "usage: :doc NAME");
  cr_assert_str_eq(error_of(":apropos"), "usage: :apropos TEXT");
  cr_assert_str_eq(error_of(":doc map filter"), ":doc: unexpected 'filter'; usage: :doc NAME");
  cr_assert_str_eq(error_of(":more 2"), ":more: unexpected '2'; usage: :more");
}

Test(repl_meta, quoted_arguments_keep_blanks_and_escapes) {
  cr_assert_eq(parse(":get \"a key \\\"with\\\" \\\\ blanks\""), 0);
  cr_assert_str_eq(m.word, "a key \"with\" \\ blanks");
  cr_assert_eq(parse(":tail \"my stream\" 2"), 0);
  cr_assert_str_eq(m.word, "my stream");
  cr_assert_eq(m.n, 2);
  cr_assert_eq(parse(":get \"\""), 0, "an empty key is still a key");
  cr_assert_str_eq(m.word, "");
  cr_assert(strstr(error_of(":get \"open"), "unterminated"), "%s", err.data);
}

Test(repl_meta, time_and_load_take_the_rest_of_the_line) {
  cr_assert_eq(parse(":time   (reduce + 0 (range 0 10))  "), 0);
  cr_assert_eq(m.cmd, REPL_CMD_TIME);
  cr_assert_str_eq(m.word, "(reduce + 0 (range 0 10))");
  cr_assert_eq(parse(":load examples/my ledger.sx"), 0);
  cr_assert_str_eq(m.word, "examples/my ledger.sx");
  cr_assert_eq(parse(":load \"quoted name.sx\""), 0);
  cr_assert_str_eq(m.word, "quoted name.sx");
  cr_assert(strstr(error_of(":time"), "usage: :time EXPR"), "%s", err.data);
  cr_assert(strstr(error_of(":load   "), "usage: :load FILE"), "%s", err.data);
}

Test(repl_meta, a_unique_prefix_names_a_command) {
  cr_assert_eq(parse(":q"), 0);
  cr_assert_eq(m.cmd, REPL_CMD_QUIT);
  cr_assert_eq(parse(":str"), 0);
  cr_assert_eq(m.cmd, REPL_CMD_STREAMS);
  cr_assert_eq(parse(":ta orders 1"), 0);
  cr_assert_eq(m.cmd, REPL_CMD_TAIL);
}

Test(repl_meta, an_ambiguous_prefix_lists_the_candidates) {
  cr_assert_str_eq(error_of(":s"), ":s is ambiguous: :streams :show :stats :set");
}

Test(repl_meta, counts_must_be_positive_integers) {
  cr_assert_str_eq(error_of(":tail orders x"), ":tail: N must be a positive integer, got 'x'");
  cr_assert_str_eq(error_of(":tail orders 0"), ":tail: N must be a positive integer, got '0'");
  cr_assert_str_eq(error_of(":tail orders -2"), ":tail: N must be a positive integer, got '-2'");
  cr_assert_str_eq(error_of(":show orders 1.5"), ":show: SEQ must be a positive integer, got '1.5'");
  cr_assert_str_eq(error_of(":tail orders 99999999999999999999"),
                   ":tail: N must be a positive integer, got '99999999999999999999'");
}

Test(repl_meta, missing_and_extra_arguments_show_the_usage) {
  cr_assert_str_eq(error_of(":tail"), "usage: :tail STREAM [N]");
  cr_assert_str_eq(error_of(":get"), "usage: :get KEY");
  cr_assert_str_eq(error_of(":streams now"), ":streams: unexpected 'now'; usage: :streams");
  cr_assert_str_eq(error_of(":tail orders 3 4"), ":tail: unexpected '4'; usage: :tail STREAM [N]");
}

Test(repl_meta, an_unknown_command_suggests_the_nearest) {
  cr_assert_str_eq(error_of(":strams"), "unknown command :strams (did you mean :streams?)");
  cr_assert_str_eq(error_of(":tial x"), "unknown command :tial (did you mean :tail?)");
  cr_assert_str_eq(error_of(":exit"), "unknown command :exit (did you mean :quit?)");
  cr_assert_str_eq(error_of(":HELP"), "unknown command :HELP (did you mean :help?)");
  cr_assert_str_eq(error_of(":xyzzy"), "unknown command :xyzzy (:help lists the commands)");
}

Test(repl_meta, every_command_is_suggested_for_a_one_letter_typo) {
  size_t n;
  const repl_cmd_info *cmds = repl_meta_commands(&n);
  for (size_t i = 0; i < n; i++) {
    char typo[32];
    snprintf(typo, sizeof typo, "%s", cmds[i].name);
    typo[strlen(typo) - 1] = typo[strlen(typo) - 1] == 'z' ? 'y' : 'z'; /* change the last letter */
    const char *near = repl_meta_nearest(typo, strlen(typo));
    cr_assert_not_null(near, "%s", typo);
    cr_assert_str_eq(near, cmds[i].name, "%s", typo);
  }
}

Test(repl_meta, a_line_must_start_with_a_colon_and_a_name) {
  cr_assert(strstr(error_of("streams"), "starts with ':'"), "%s", err.data);
  cr_assert(strstr(error_of(":"), "expected a command name"), "%s", err.data);
  cr_assert(strstr(error_of(":  tail"), "expected a command name"), "%s", err.data);
}

Test(repl_meta, the_table_documents_every_command) {
  size_t n;
  const repl_cmd_info *cmds = repl_meta_commands(&n);
  cr_assert_eq(n, 19);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(repl_meta_info(cmds[i].cmd), &cmds[i]);
    cr_assert_gt(strlen(cmds[i].help), 0, "%s has help", cmds[i].name);
  }
}
