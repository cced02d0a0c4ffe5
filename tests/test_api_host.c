/* test_api_host.c — what the command-line hosts use, through the public
 * header: reading a file as (load ...) reads it, evaluating read forms to
 * completion and as a suspendable task (each one top-level evaluation that
 * commits or rolls back), and an error's text with and without backtrace. */
#include "sx_test_api.h"

TestSuite(api_host, .init = api_setup, .fini = api_teardown);

/* A scratch file holding text; returns its path. */
static char *write_file(const char *dir, const char *name, const char *text) {
  char *path = NULL;
  cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

/* The string value's C string. */
static const char *str(sxapi_value s) {
  const char *b = NULL;
  CODE(sxapi_to_string(vm, s, &b, NULL), SXAPI_OK);
  return b;
}

Test(api_host, read_file_gives_the_forms_or_an_error_value) {
  char *dir = scratch_dir();
  char *good = write_file(dir, "good.sx", "(define a 1)\n(+ a 2)\n");
  char *open = write_file(dir, "open.sx", "(+ 1\n");
  char *bad = write_file(dir, "bad.sx", ")\n");
  sxapi_value forms;
  CODE(sxapi_read_file(vm, good, &forms), SXAPI_OK);
  cr_assert_str_eq(show(forms), "((define a 1) (+ a 2))");
  CODE(sxapi_read_file(vm, open, &forms), SXAPI_ERR_INCOMPLETE);
  cr_assert_eq(sxapi_typeof(forms), SXAPI_TERROR);
  MSG_HAS("open.sx:");
  CODE(sxapi_read_file(vm, bad, &forms), SXAPI_ERR_SYNTAX);
  CODE(sxapi_read_file(vm, "no/such/file.sx", &forms), SXAPI_ERR_IO);
  MSG_HAS("load: cannot find no/such/file.sx");
  cr_assert_eq(sxapi_typeof(forms), SXAPI_TERROR);
  CODE(sxapi_read_file(vm, NULL, &forms), SXAPI_ERR_ARG);
  free(good), free(open), free(bad);
  scratch_remove(dir);
}

Test(api_host, eval_forms_runs_read_forms_as_one_evaluation) {
  sxapi_value forms, v;
  CODE(sxapi_read(vm, "(define b 20) (* b 2)", 21, "x.sx", &forms), SXAPI_OK);
  CODE(sxapi_eval_forms(vm, forms, "x.sx", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "40");
  CODE(sxapi_read(vm, "\n (first 5)", 11, "x.sx", &forms), SXAPI_OK);
  CODE(sxapi_eval_forms(vm, forms, NULL, &v), SXAPI_ERR_EVAL);
  cr_assert_eq(sxapi_typeof(v), SXAPI_TERROR);
  CODE(sxapi_eval_forms(vm, sxapi_int(vm, 3), NULL, &v), SXAPI_ERR_TYPE);
  CODE(sxapi_eval_forms(vm, sxapi_list(vm, 0, NULL), NULL, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "nil");
}

Test(api_host, an_unowned_perform_fails_in_eval_forms_and_suspends_a_task) {
  sxapi_value forms, v;
  const char *src = "(+ 1 (perform {:op \"net/get\" :args (list \"u\")}))";
  CODE(sxapi_read(vm, src, strlen(src), NULL, &forms), SXAPI_OK);
  CODE(sxapi_eval_forms(vm, forms, NULL, &v), SXAPI_ERR_EVAL);
  MSG_HAS("perform: no resolver for op net/get");
  sxapi_task *t = NULL;
  CODE(sxapi_begin_forms(vm, forms, NULL, &t), SXAPI_SUSPENDED);
  cr_assert_str_eq(sxapi_task_op(t), "net/get");
  CODE(sxapi_resume(t, sxapi_int(vm, 41)), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "42");
  CODE(sxapi_task_free(t), SXAPI_OK);
  CODE(sxapi_begin_forms(vm, sxapi_nil(), NULL, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_begin_forms(vm, sxapi_cstring(vm, "x"), NULL, &t), SXAPI_ERR_TYPE);
  cr_assert_null(t);
}

Test(api_host, eval_forms_commits_and_rolls_back_store_writes) {
  char *dir = scratch_dir();
  CODE(sxapi_store_open(vm, dir, NULL), SXAPI_OK);
  sxapi_value forms, v;
  const char *put = "(perform {:op \"persist/kv-put\" :args (list \"k\" 1)})";
  const char *bad = "(perform {:op \"persist/kv-put\" :args (list \"j\" 2)}) (error \"no\")";
  CODE(sxapi_read(vm, put, strlen(put), NULL, &forms), SXAPI_OK);
  CODE(sxapi_eval_forms(vm, forms, NULL, &v), SXAPI_OK);
  CODE(sxapi_read(vm, bad, strlen(bad), NULL, &forms), SXAPI_OK);
  CODE(sxapi_eval_forms(vm, forms, NULL, &v), SXAPI_ERR_EVAL);
  CODE(sxapi_store_kv_get(vm, "k", &v), SXAPI_OK);
  CODE(sxapi_store_kv_get(vm, "j", &v), SXAPI_ERR_NOTFOUND);
  CODE(sxapi_store_close(vm), SXAPI_OK);
  scratch_remove(dir);
}

Test(api_host, error_text_has_position_and_backtrace) {
  sxapi_value v, text;
  const char *src = "(define (f x) (first x))\n(define (g) (f 5))\n(g)";
  CODE(sxapi_eval_buffer(vm, src, strlen(src), "bt.sx", &v), SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, v, &info), SXAPI_OK);
  CODE(sxapi_error_text(vm, v, false, &text), SXAPI_OK);
  cr_assert(strncmp(str(text), info.message, strlen(info.message)) == 0, "%s", str(text));
  cr_assert(strstr(str(text), " (at bt.sx:1:") != NULL, "%s", str(text));
  cr_assert_null(strchr(str(text), '\n'));
  CODE(sxapi_error_text(vm, v, true, &text), SXAPI_OK);
  size_t frames = 0;
  CODE(sxapi_list_length(vm, info.backtrace, &frames), SXAPI_OK);
  size_t lines = 0;
  for (const char *p = str(text); (p = strstr(p, "\n  ")); p++) lines++;
  cr_assert_eq(lines, frames, "%s", str(text));
  CODE(sxapi_error_text(vm, sxapi_cstring(vm, "plain"), true, &text), SXAPI_OK);
  cr_assert_str_eq(str(text), "plain");
  CODE(sxapi_error_text(vm, sxapi_int(vm, 7), false, &text), SXAPI_OK);
  cr_assert_str_eq(str(text), "7");
  CODE(sxapi_error_text(vm, v, false, NULL), SXAPI_ERR_ARG);
}
