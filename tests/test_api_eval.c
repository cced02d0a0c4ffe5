/* test_api_eval.c — evaluating through the public header: eval, eval of a
 * buffer with a name, call, globals, C functions callable from SX (arity,
 * user data, raising errors, calling back into the VM, misuse), and IO
 * resolvers (longest prefix, replacement, removal, errors). */
#include "sx_test_api.h"

TestSuite(api_eval, .init = api_setup, .fini = api_teardown);

Test(api_eval, eval_gives_the_last_value) {
  EVAL_OK("(define x 40) (+ x 2)", "42");
  CODE(sxapi_eval(vm, "(+ 1 1)", NULL), SXAPI_OK); /* out may be NULL */
  CODE(sxapi_eval(vm, NULL, NULL), SXAPI_ERR_ARG);
  EVAL_OK("", "nil");
}

Test(api_eval, eval_buffer_uses_length_and_name) {
  sxapi_value v;
  const char *src = "(* 6 7) this is not read";
  CODE(sxapi_eval_buffer(vm, src, 7, "calc.sx", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "42");
  CODE(sxapi_eval_buffer(vm, "\n  (first 5)", 12, "calc.sx", &v), SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, v, &info), SXAPI_OK);
  cr_assert_not_null(info.where);
  cr_assert_str_eq(info.where, "calc.sx:2:3");
  CODE(sxapi_eval_buffer(vm, "(1", 2, NULL, &v), SXAPI_ERR_INCOMPLETE);
  MSG_HAS("<eval>:1:3: unclosed '('");
  CODE(sxapi_eval_buffer(vm, ")", 1, NULL, &v), SXAPI_ERR_SYNTAX);
  cr_assert_eq(sxapi_typeof(v), SXAPI_TERROR, "out holds the error value");
  CODE(sxapi_eval_buffer(vm, NULL, 1, NULL, &v), SXAPI_ERR_ARG);
}

Test(api_eval, an_unowned_perform_is_an_error_here) {
  sxapi_value v;
  CODE(sxapi_eval(vm, "(perform {:op \"net/get\" :args (list \"u\")})", &v), SXAPI_ERR_EVAL);
  cr_assert(strncmp(sxapi_errmsg(), "perform: no resolver for op net/get", 35) == 0, "%s", sxapi_errmsg());
  EVAL_OK("(guard (e (true (error-message e))) (perform {:op \"net/get\"}))",
          "\"perform: no resolver for op net/get\"");
}

Test(api_eval, globals) {
  sxapi_value v;
  CODE(sxapi_define(vm, "answer", sxapi_int(vm, 42)), SXAPI_OK);
  EVAL_OK("(+ answer 0)", "42");
  CODE(sxapi_global(vm, "answer", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "42");
  CODE(sxapi_eval(vm, "(define answer 43)", NULL), SXAPI_OK);
  CODE(sxapi_global(vm, "answer", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "43");
  CODE(sxapi_global(vm, "map", &v), SXAPI_OK);
  cr_assert_eq(sxapi_typeof(v), SXAPI_TFUNCTION);
  CODE(sxapi_global(vm, "no-such-thing", &v), SXAPI_ERR_NOTFOUND);
  MSG_HAS("no-such-thing is not defined");
  CODE(sxapi_define(vm, "", v), SXAPI_ERR_ARG);
  CODE(sxapi_global(vm, "map", NULL), SXAPI_ERR_ARG);
}

Test(api_eval, call_applies_functions) {
  sxapi_value fn, v, args[] = {sxapi_int(vm, 2), sxapi_int(vm, 3)};
  CODE(sxapi_global(vm, "+", &fn), SXAPI_OK);
  CODE(sxapi_call(vm, fn, 2, args, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "5");
  CODE(sxapi_eval(vm, "(fn (a b) (list b a))", &fn), SXAPI_OK);
  CODE(sxapi_call(vm, fn, 2, args, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "(3 2)");
  CODE(sxapi_call(vm, fn, 1, args, &v), SXAPI_ERR_EVAL);
  MSG_HAS("expected 2 arguments (a b), got 1");
  CODE(sxapi_eval(vm, "(fn () 7)", &fn), SXAPI_OK);
  CODE(sxapi_call(vm, fn, 0, NULL, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "7");
  CODE(sxapi_call(vm, sxapi_int(vm, 1), 0, NULL, &v), SXAPI_ERR_TYPE);
  MSG_HAS("sxapi_call: expected a function, got 1");
  CODE(sxapi_call(vm, fn, -1, NULL, &v), SXAPI_ERR_ARG);
  CODE(sxapi_call(vm, fn, 2, NULL, &v), SXAPI_ERR_ARG);
}

/* ---- C functions ----------------------------------------------------------- */

static sxapi_code c_add(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *result, void *ud) {
  int64_t sum = 0, x;
  for (int i = 0; i < argc; i++) {
    if (sxapi_to_int(v, argv[i], &x) != SXAPI_OK) return SXAPI_ERR_TYPE;
    sum += x;
  }
  if (ud) ++*(int *)ud;
  *result = sxapi_int(v, sum);
  return SXAPI_OK;
}

Test(api_eval, c_functions_are_callable_from_sx) {
  int calls = 0;
  CODE(sxapi_define_function(vm, "c-add", 0, -1, c_add, &calls), SXAPI_OK);
  EVAL_OK("(c-add 1 2 3)", "6");
  EVAL_OK("(c-add)", "0");
  EVAL_OK("(map (fn (x) (c-add x x)) (list 1 2 3))", "(2 4 6)");
  EVAL_OK("(apply c-add (list 4 5))", "9");
  EVAL_OK("(c-add 1 (c-add 2 3))", "6"); /* nested in an argument: not the fast path */
  cr_assert_eq(calls, 8, "the user data reaches every call");
  EVAL_OK("c-add", "<fn c-add>");
}

Test(api_eval, c_function_arity_is_checked_by_sx) {
  CODE(sxapi_define_function(vm, "pair-add", 2, 2, c_add, NULL), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_eval(vm, "(pair-add 1)", &v), SXAPI_ERR_EVAL);
  MSG_HAS("pair-add: expected 2 arguments, got 1");
  CODE(sxapi_define_function(vm, "bad", 3, 2, c_add, NULL), SXAPI_ERR_ARG);
  MSG_HAS("bad arity 3..2");
  CODE(sxapi_define_function(vm, "bad", -1, 2, c_add, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_define_function(vm, "bad", 0, 40000, c_add, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_define_function(vm, "bad", 0, 1, NULL, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_define_function(vm, "", 0, 1, c_add, NULL), SXAPI_ERR_ARG);
}

Test(api_eval, a_failing_c_function_raises_an_explained_error) {
  CODE(sxapi_define_function(vm, "c-add", 0, -1, c_add, NULL), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_eval(vm, "(c-add 1 \"two\")", &v), SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, v, &info), SXAPI_OK);
  cr_assert_str_eq(info.message, "c-add: sxapi_to_int: expected an integer, got \"two\"");
  EVAL_OK("(guard (e (true (error-message e))) (c-add :x))",
          "\"c-add: sxapi_to_int: expected an integer, got \\\"x\\\"\"");
}

/* Fails in the way named by its first argument. */
static sxapi_code c_fail(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *result, void *ud) {
  (void)argc, (void)ud;
  const char *how;
  sxapi_to_string(v, argv[0], &how, NULL);
  if (strcmp(how, "message") == 0) *result = sxapi_cstring(v, "disk on fire");
  else if (strcmp(how, "error") == 0) *result = sxapi_error(v, "an error value");
  else if (strcmp(how, "raise") == 0)
    *result = sxapi_list(v, 2, (sxapi_value[]){sxapi_int(v, 1), sxapi_int(v, 2)});
  else if (strcmp(how, "ok") == 0) return SXAPI_OK; /* result left alone: nil */
  return SXAPI_ERR_IO;                              /* with nothing set, the code names the failure */
}

Test(api_eval, a_c_function_chooses_what_it_raises) {
  CODE(sxapi_define_function(vm, "c-fail", 1, 1, c_fail, NULL), SXAPI_OK);
  EVAL_OK("(guard (e (true (error-message e))) (c-fail \"message\"))", "\"disk on fire\"");
  EVAL_OK("(guard (e (true (error-message e))) (c-fail \"error\"))", "\"an error value\"");
  EVAL_OK("(guard (e (true e)) (c-fail \"raise\"))", "(1 2)");
  EVAL_OK("(guard (e (true (error-message e))) (c-fail \"bare\"))", "\"c-fail: failed (SXAPI_ERR_IO)\"");
  EVAL_OK("(c-fail \"ok\")", "nil");
}

/* Calls back into the VM: evaluation, calls, and misuse. */
static sxapi_code c_reenter(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *result, void *ud) {
  (void)argc, (void)ud;
  const char *what;
  sxapi_to_string(v, argv[0], &what, NULL);
  if (strcmp(what, "eval") == 0) return sxapi_eval(v, "(+ 40 2)", result);
  if (strcmp(what, "call") == 0) {
    sxapi_value fn;
    sxapi_global(v, "double", &fn);
    return sxapi_call(v, fn, 1, (sxapi_value[]){sxapi_int(v, 21)}, result);
  }
  if (strcmp(what, "perform") == 0) return sxapi_eval(v, "(perform {:op \"q/x\"})", result);
  sxapi_code rc = strcmp(what, "close") == 0  ? sxapi_close(v)
                  : strcmp(what, "free") == 0 ? sxapi_free(v)
                                              : sxapi_store_close(v);
  *result = sxapi_cstring(v, sxapi_code_name(rc));
  return SXAPI_OK;
}

Test(api_eval, c_functions_may_call_back_into_the_vm) {
  CODE(sxapi_define_function(vm, "reenter", 1, 1, c_reenter, NULL), SXAPI_OK);
  CODE(sxapi_eval(vm, "(define (double x) (* 2 x))", NULL), SXAPI_OK);
  EVAL_OK("(reenter \"eval\")", "42");
  EVAL_OK("(reenter \"call\")", "42");
  /* nested evaluations cannot suspend: an unowned op is an error */
  EVAL_OK("(guard (e (true (error-message e))) (reenter \"perform\"))",
          "\"perform: no resolver for op q/x\"");
  /* but they cannot pull the VM from under the running evaluation */
  EVAL_OK("(reenter \"close\")", "\"SXAPI_ERR_STATE\"");
  EVAL_OK("(reenter \"free\")", "\"SXAPI_ERR_STATE\"");
  EVAL_OK("(reenter \"store-close\")", "\"SXAPI_ERR_STATE\"");
  EVAL_OK("(+ 1 1)", "2");
}

Test(api_eval, function_values_can_be_passed_around) {
  sxapi_value fn, v;
  CODE(sxapi_new_function(vm, "adder", 2, 2, c_add, NULL, &fn), SXAPI_OK);
  cr_assert_eq(sxapi_typeof(fn), SXAPI_TFUNCTION);
  CODE(sxapi_global(vm, "adder", &v), SXAPI_ERR_NOTFOUND); /* not defined by new_function */
  CODE(sxapi_call(vm, fn, 2, (sxapi_value[]){sxapi_int(vm, 1), sxapi_int(vm, 2)}, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "3");
  CODE(sxapi_eval(vm, "(fn (f xs) (reduce f 0 xs))", &v), SXAPI_OK);
  sxapi_value args[] = {fn,
                        sxapi_list(vm, 3,
                                   (sxapi_value[]){sxapi_int(vm, 1), sxapi_int(vm, 2), sxapi_int(vm, 3)})};
  CODE(sxapi_call(vm, v, 2, args, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "6");
  CODE(sxapi_new_function(vm, "adder", 2, 2, c_add, NULL, NULL), SXAPI_ERR_ARG);
}

/* ---- resolvers --------------------------------------------------------------------- */

/* Answers with a list: the resolver's tag, the op, and the args. */
static sxapi_code tagged(sxapi_vm *v, const char *op, sxapi_value args, sxapi_value request,
                         sxapi_value *result, void *ud) {
  sxapi_value op_in_request;
  if (sxapi_dict_get(v, request, "op", &op_in_request) != SXAPI_OK) return SXAPI_ERR_ARG;
  sxapi_value items[] = {sxapi_cstring(v, ud), sxapi_cstring(v, op), args};
  *result = sxapi_list(v, 3, items);
  return SXAPI_OK;
}

Test(api_eval, resolvers_service_ops_by_longest_prefix) {
  CODE(sxapi_add_resolver(vm, "clock/", tagged, "clock"), SXAPI_OK);
  CODE(sxapi_add_resolver(vm, "net/", tagged, "net"), SXAPI_OK);
  CODE(sxapi_add_resolver(vm, "net/http/", tagged, "http"), SXAPI_OK);
  EVAL_OK("(perform {:op \"clock/now\" :args (list 1 2)})", "(\"clock\" \"clock/now\" (1 2))");
  EVAL_OK("(perform {:op \"net/ping\"})", "(\"net\" \"net/ping\" ())");
  EVAL_OK("(perform {:op \"net/http/get\" :args (list \"u\")})", "(\"http\" \"net/http/get\" (\"u\"))");
  /* a perform inside a callback is serviced the same way */
  EVAL_OK("(map (fn (x) (nth (perform {:op \"clock/tick\" :args (list x)}) 2)) (list 1 2))", "((1) (2))");
}

Test(api_eval, resolvers_are_replaced_and_removed) {
  CODE(sxapi_add_resolver(vm, "a/", tagged, "first"), SXAPI_OK);
  CODE(sxapi_add_resolver(vm, "a/", tagged, "second"), SXAPI_OK);
  EVAL_OK("(first (perform {:op \"a/x\"}))", "\"second\"");
  CODE(sxapi_remove_resolver(vm, "a/"), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_eval(vm, "(perform {:op \"a/x\"})", &v), SXAPI_ERR_EVAL);
  MSG_HAS("no resolver for op a/x");
  CODE(sxapi_remove_resolver(vm, "a/"), SXAPI_ERR_NOTFOUND);
  MSG_HAS("no resolver has the prefix \"a/\"");
  CODE(sxapi_add_resolver(vm, NULL, tagged, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_add_resolver(vm, "b/", NULL, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_remove_resolver(vm, NULL), SXAPI_ERR_ARG);
}

static sxapi_code refusing(sxapi_vm *v, const char *op, sxapi_value args, sxapi_value request,
                           sxapi_value *result, void *ud) {
  (void)op, (void)args, (void)request;
  if (ud) *result = sxapi_cstring(v, ud);
  return SXAPI_ERR_STORE;
}

Test(api_eval, a_resolver_error_is_raised_at_the_perform) {
  CODE(sxapi_add_resolver(vm, "disk/", refusing, "disk full"), SXAPI_OK);
  CODE(sxapi_add_resolver(vm, "mute/", refusing, NULL), SXAPI_OK);
  EVAL_OK("(guard (e (true (error-message e))) (perform {:op \"disk/write\"}) :not-reached)",
          "\"disk full\"");
  EVAL_OK("(guard (e (true (error-message e))) (perform {:op \"mute/x\"}))",
          "\"mute/x: failed (SXAPI_ERR_STORE)\"");
  sxapi_value err;
  CODE(sxapi_eval(vm, "(perform {:op \"disk/write\"})", &err), SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, err, &info), SXAPI_OK);
  cr_assert_str_eq(info.message, "disk full");
  cr_assert_str_eq(info.where, "<eval>:1:1");
}

static sxapi_code unused_fn(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *out, void *ud) {
  (void)v, (void)argc, (void)argv, (void)ud;
  *out = sxapi_nil();
  return SXAPI_OK;
}

/* Each call refuses a NULL (or empty) argument it needs, naming itself. */
Test(api_eval, null_and_empty_arguments_are_refused) {
  sxapi_value v, one = sxapi_int(vm, 1), l = sxapi_list(vm, 1, &one);
  sxapi_task *t;
  bool b;
  ARG_REFUSED(sxapi_define(vm, "", one), "sxapi_define: the name is NULL or empty");
  ARG_REFUSED(sxapi_global(vm, NULL, &v), "sxapi_global: name and out must not be NULL");
  ARG_REFUSED(sxapi_global(vm, "car", NULL), "sxapi_global: name and out must not be NULL");
  ARG_REFUSED(sxapi_new_function(vm, "", 0, 0, unused_fn, NULL, &v), "the name is NULL or empty");
  ARG_REFUSED(sxapi_new_function(vm, "f", 0, 0, NULL, NULL, &v), "the C function is NULL");
  ARG_REFUSED(sxapi_new_function(vm, "f", 2, 1, unused_fn, NULL, &v), "bad arity 2..1");
  ARG_REFUSED(sxapi_new_function(vm, "f", -1, 1, unused_fn, NULL, &v), "bad arity -1..1");
  ARG_REFUSED(sxapi_new_function(vm, "f", 0, 40000, unused_fn, NULL, &v), "bad arity 0..40000");
  ARG_REFUSED(sxapi_new_function(vm, "f", 0, 0, unused_fn, NULL, NULL),
              "sxapi_new_function: the out pointer is NULL");
  ARG_REFUSED(sxapi_call(vm, sxapi_nil(), -1, NULL, &v), "bad arguments (argc -1, argv NULL)");
  ARG_REFUSED(sxapi_call(vm, sxapi_nil(), 1, NULL, &v), "bad arguments (argc 1, argv NULL)");
  ARG_REFUSED(sxapi_eval_buffer(vm, NULL, 3, NULL, &v), "sxapi_eval_buffer: the source is NULL");
  ARG_REFUSED(sxapi_eval(vm, NULL, &v), "sxapi_eval: the source is NULL");
  ARG_REFUSED(sxapi_begin(vm, "1", 1, NULL, NULL), "sxapi_begin: the source or task pointer is NULL");
  ARG_REFUSED(sxapi_begin(vm, NULL, 1, NULL, &t), "sxapi_begin: the source or task pointer is NULL");
  ARG_REFUSED(sxapi_begin_load(vm, NULL, &t), "sxapi_begin_load: the path or task pointer is NULL");
  ARG_REFUSED(sxapi_begin_load(vm, "x.sx", NULL), "sxapi_begin_load: the path or task pointer is NULL");
  ARG_REFUSED(sxapi_begin_call(vm, sxapi_nil(), 0, NULL, NULL), "sxapi_begin_call: the task pointer is NULL");
  ARG_REFUSED(sxapi_task_wait(NULL), "sxapi_task_wait: not a task handle");
  ARG_REFUSED(sxapi_to_bool(vm, sxapi_bool(true), NULL), "sxapi_to_bool: the out pointer is NULL");
  ARG_REFUSED(sxapi_to_int(vm, one, NULL), "sxapi_to_int: the out pointer is NULL");
  ARG_REFUSED(sxapi_to_float(vm, one, NULL), "sxapi_to_float: the out pointer is NULL");
  ARG_REFUSED(sxapi_to_name(vm, one, NULL), "sxapi_to_name: the out pointer is NULL");
  ARG_REFUSED(sxapi_list_length(vm, l, NULL), "sxapi_list_length: the out pointer is NULL");
  ARG_REFUSED(sxapi_list_get(vm, l, 0, NULL), "sxapi_list_get: the out pointer is NULL");
  ARG_REFUSED(sxapi_dict_count(vm, sxapi_dict(vm), NULL), "sxapi_dict_count: the out pointer is NULL");
  ARG_REFUSED(sxapi_dict_get(vm, sxapi_dict(vm), "k", NULL), "sxapi_dict_get: the out pointer is NULL");
  ARG_REFUSED(sxapi_dict_get(vm, sxapi_dict(vm), NULL, &v), "sxapi_dict_get: the key is NULL");
  ARG_REFUSED(sxapi_dict_set(vm, sxapi_dict(vm), NULL, one, &v), "key and out must not be NULL");
  ARG_REFUSED(sxapi_iter_init(vm, l, NULL), "sxapi_iter_init: the out pointer is NULL");
  ARG_REFUSED(sxapi_display(vm, one, NULL), "sxapi_display: the out pointer is NULL");
  ARG_REFUSED(sxapi_read(vm, "1", 1, NULL, NULL), "sxapi_read: the out pointer is NULL");
  ARG_REFUSED(sxapi_read(vm, NULL, 1, NULL, &v), "sxapi_read: the source is NULL");
  ARG_REFUSED(sxapi_read_at(vm, NULL, 1, NULL, 1, &v), "sxapi_read_at");
  ARG_REFUSED(sxapi_read_file(vm, NULL, &v), "sxapi_read_file");
  ARG_REFUSED(sxapi_read_file(vm, "x.sx", NULL), "sxapi_read_file");
  ARG_REFUSED(sxapi_print_key(vm, sxapi_cstring(vm, "k"), NULL), "sxapi_print_key: the out pointer is NULL");
  /* and what is not a list or out of range */
  CODE(sxapi_list_get(vm, one, 0, &v), SXAPI_ERR_TYPE);
  CODE(sxapi_list_get(vm, l, 1, &v), SXAPI_ERR_NOTFOUND);
  MSG_HAS("index 1 is out of range (the list has 1 element)");
  CODE(sxapi_to_bool(vm, one, &b), SXAPI_ERR_TYPE);
}
