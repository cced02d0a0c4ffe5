/* test_api_repl.c — the API for interactive hosts (sx.h, "Interactive
 * hosts"): reading with continued line numbers and the incomplete-input
 * code, one form per top-level evaluation (commit and rollback each),
 * loading a file form by form, the names of bound globals, dict keys as
 * the printer writes them, blob sizes, and misuse. */
#include "sx_test_api.h"

static char *dir;
static char store_path[600];

static void repl_setup(void) {
  api_setup();
  dir = scratch_dir();
  snprintf(store_path, sizeof store_path, "%s/store", dir);
}

static void repl_teardown(void) {
  api_teardown();
  scratch_remove(dir);
}

TestSuite(api_repl, .init = repl_setup, .fini = repl_teardown);

static const char *persist_prelude =
    "(load \"lib/persist/event.sx\") (load \"lib/persist/backend.sx\") (load \"lib/persist/log.sx\")"
    " (load \"lib/persist/kv.sx\") (load \"lib/persist/durable.sx\") (load \"lib/persist/blob.sx\")"
    " (define db (persist/durable-backend)) (define blobs (persist/blob-store-backend))";

/* The bytes of a string value. */
static const char *show_text(sxapi_value s) {
  const char *t = NULL;
  CODE(sxapi_to_string(vm, s, &t, NULL), SXAPI_OK);
  return t;
}

static sxapi_value first_form(const char *src) {
  sxapi_value forms, f;
  CODE(sxapi_read(vm, src, strlen(src), NULL, &forms), SXAPI_OK);
  CODE(sxapi_list_get(vm, forms, 0, &f), SXAPI_OK);
  return f;
}

Test(api_repl, read_at_numbers_lines_from_first_line) {
  sxapi_value forms;
  CODE(sxapi_read_at(vm, "(list 1\n 2]", 11, "<repl>", 7, &forms), SXAPI_ERR_SYNTAX);
  sxapi_error_info e;
  CODE(sxapi_error_info_of(vm, forms, &e), SXAPI_OK);
  cr_assert(strncmp(e.message, "<repl>:8:3:", 11) == 0, "%s", e.message);
  CODE(sxapi_read_at(vm, "(list 1", 7, "<repl>", 3, &forms), SXAPI_ERR_INCOMPLETE);
  CODE(sxapi_read_at(vm, "1 2 3", 5, NULL, 1, &forms), SXAPI_OK);
  cr_assert_str_eq(show(forms), "(1 2 3)");
  CODE(sxapi_read_at(vm, "", 0, NULL, 1, &forms), SXAPI_OK);
  cr_assert_str_eq(show(forms), "()");
  CODE(sxapi_read_at(vm, "1", 1, NULL, 0, &forms), SXAPI_ERR_ARG);
  CODE(sxapi_read_at(vm, "1", 1, NULL, 1, NULL), SXAPI_ERR_ARG);
}

Test(api_repl, eval_form_evaluates_one_read_form) {
  sxapi_value v;
  CODE(sxapi_eval_form(vm, first_form("(define x (+ 1 2))"), &v), SXAPI_OK);
  CODE(sxapi_eval_form(vm, first_form("(* x 10)"), &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "30");
  CODE(sxapi_eval_form(vm, first_form("(car 5)"), &v), SXAPI_ERR_EVAL);
  cr_assert_eq(sxapi_typeof(v), SXAPI_TERROR);
  CODE(sxapi_eval_form(vm, first_form("(if)"), &v), SXAPI_ERR_EVAL); /* does not analyse */
  CODE(sxapi_eval_form(vm, first_form("7"), NULL), SXAPI_OK);
}

Test(api_repl, each_form_commits_or_rolls_back_alone) {
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  CODE(sxapi_eval(vm, persist_prelude, NULL), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_eval_form(vm, first_form("(persist/append db \"s\" \"t\" 1 {})"), &v), SXAPI_OK);
  CODE(sxapi_eval_form(vm, first_form("(begin (persist/append db \"s\" \"t\" 2 {}) (error \"no\"))"), &v),
       SXAPI_ERR_EVAL);
  int64_t last = -1;
  CODE(sxapi_store_last_seq(vm, "s", &last), SXAPI_OK);
  cr_assert_eq(last, 1, "the failed form's append rolled back");
}

Test(api_repl, an_interrupt_made_while_idle_is_forgotten) {
  sxapi_interrupt(vm);
  sxapi_value v;
  CODE(sxapi_eval_form(vm, first_form("(+ 1 1)"), &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "2");
}

Test(api_repl, load_each_commits_form_by_form) {
  char file[700];
  snprintf(file, sizeof file, "%s/script.sx", dir);
  FILE *f = fopen(file, "w");
  cr_assert_not_null(f);
  fputs("(persist/append db \"s\" \"t\" 1 {})\n(persist/append db \"s\" \"t\" 2 {})\n(error \"stop\")\n", f);
  fclose(f);
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  CODE(sxapi_eval(vm, persist_prelude, NULL), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_load_each(vm, file, &v), SXAPI_ERR_EVAL);
  sxapi_error_info e;
  CODE(sxapi_error_info_of(vm, v, &e), SXAPI_OK);
  cr_assert(strstr(e.message, "stop"), "%s", e.message);
  int64_t last = -1;
  CODE(sxapi_store_last_seq(vm, "s", &last), SXAPI_OK);
  cr_assert_eq(last, 2, "the forms before the failing one committed");
  CODE(sxapi_load_each(vm, "no/such/file.sx", &v), SXAPI_ERR_EVAL);
  cr_assert_eq(sxapi_typeof(v), SXAPI_TERROR);
  CODE(sxapi_load_each(vm, NULL, &v), SXAPI_ERR_ARG);
}

Test(api_repl, globals_lists_bound_names_in_byte_order) {
  CODE(sxapi_eval(vm, "(define zz-b 1) (define zz-a 2) (define (zz-f) zz-unbound)", NULL), SXAPI_OK);
  sxapi_value names, n;
  CODE(sxapi_globals(vm, &names), SXAPI_OK);
  sxapi_iter it;
  CODE(sxapi_iter_init(vm, names, &it), SXAPI_OK);
  const char *prev = "", *s;
  int zz = 0;
  while (sxapi_iter_next(&it, NULL, &n)) {
    CODE(sxapi_to_string(vm, n, &s, NULL), SXAPI_OK);
    cr_assert_lt(strcmp(prev, s), 0, "%s before %s", prev, s);
    cr_assert_neq(strcmp(s, "zz-unbound"), 0, "unbound globals are left out");
    zz += strncmp(s, "zz-", 3) == 0;
    prev = s;
  }
  cr_assert_eq(zz, 3);
  CODE(sxapi_globals(vm, NULL), SXAPI_ERR_ARG);
}

Test(api_repl, print_key_writes_keys_as_the_printer_does) {
  sxapi_value t;
  CODE(sxapi_print_key(vm, sxapi_cstring(vm, "amount"), &t), SXAPI_OK);
  cr_assert_str_eq(show_text(t), ":amount");
  CODE(sxapi_print_key(vm, sxapi_cstring(vm, "odd key"), &t), SXAPI_OK);
  cr_assert_str_eq(show_text(t), "\"odd key\"");
  CODE(sxapi_print_key(vm, sxapi_int(vm, 1), &t), SXAPI_ERR_TYPE);
}

Test(api_repl, blob_size_is_the_stored_length) {
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  CODE(sxapi_eval(vm, persist_prelude, NULL), SXAPI_OK);
  sxapi_value cid;
  CODE(sxapi_eval(vm, "(perform {:op \"blob/put\" :args (list \"PDFBYTES\" \"text/plain\")})", &cid),
       SXAPI_OK);
  const char *s;
  CODE(sxapi_to_string(vm, cid, &s, NULL), SXAPI_OK);
  uint64_t size = 0;
  CODE(sxapi_store_blob_size(vm, s, &size), SXAPI_OK);
  cr_assert_eq(size, 8);
  CODE(sxapi_store_blob_size(vm, "not-a-blob-id", &size), SXAPI_ERR_ARG);
  CODE(sxapi_store_blob_size(vm, NULL, &size), SXAPI_ERR_ARG);
}

Test(api_repl, blob_size_needs_a_store) {
  uint64_t size;
  CODE(sxapi_store_blob_size(vm, "x", &size), SXAPI_ERR_STATE);
}
