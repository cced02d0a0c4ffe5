/* test_api_task.c — suspendable evaluations through the public header:
 * a task stops at a perform no resolver owns, hands the host the request,
 * and continues when the host resumes it with a value or an error — from
 * any depth, several at once, started from source, a file or a function.
 * Misuse (resuming a finished or running task, a task whose VM is closed
 * or freed, NULL) gives clear codes, never a crash. */
#include "sx_test_api.h"

TestSuite(api_task, .init = api_setup, .fini = api_teardown);

static sxapi_task *begin(const char *src, sxapi_code want) {
  sxapi_task *t = NULL;
  CODE(sxapi_begin(vm, src, strlen(src), "<task>", &t), want);
  cr_assert_not_null(t);
  return t;
}

Test(api_task, a_task_suspends_and_resumes_with_a_value) {
  sxapi_task *t =
      begin("(define n (perform {:op \"net/get\" :args (list \"http://x\")})) (+ n 1)", SXAPI_SUSPENDED);
  CODE(sxapi_task_status(t), SXAPI_SUSPENDED);
  cr_assert_str_eq(sxapi_task_op(t), "net/get");
  cr_assert_str_eq(show(sxapi_task_args(t)), "(\"http://x\")");
  cr_assert_str_eq(show(sxapi_task_request(t)), "{:args (\"http://x\") :op \"net/get\"}");
  cr_assert_eq(sxapi_task_result(t), sxapi_nil());
  cr_assert_eq(sxapi_task_vm(t), vm);
  CODE(sxapi_resume(t, sxapi_int(vm, 41)), SXAPI_OK);
  CODE(sxapi_task_status(t), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "42");
  cr_assert_eq(sxapi_task_request(t), sxapi_nil());
  cr_assert_null(sxapi_task_op(t));
  EVAL_OK("n", "41"); /* the task's definitions are the VM's */
  CODE(sxapi_task_free(t), SXAPI_OK);
}

Test(api_task, a_task_that_never_performs_just_finishes) {
  sxapi_task *t = begin("(* 6 7)", SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "42");
  sxapi_task_free(t);
  t = begin("(first 1 2 3)", SXAPI_ERR_EVAL);
  CODE(sxapi_task_status(t), SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, sxapi_task_result(t), &info), SXAPI_OK);
  cr_assert_str_eq(info.where, "<task>:1:1");
  sxapi_task_free(t);
}

Test(api_task, suspension_works_at_any_depth) {
  sxapi_task *t =
      begin("(define (deep n) (if (= n 0) (perform {:op \"io/leaf\"}) (+ 1 (deep (- n 1)))))\n"
            "(list (deep 500) (map (fn (x) (perform {:op \"io/each\" :args (list x)})) (list 1 2)))",
            SXAPI_SUSPENDED);
  cr_assert_str_eq(sxapi_task_op(t), "io/leaf");
  CODE(sxapi_resume(t, sxapi_int(vm, 1000)), SXAPI_SUSPENDED);
  cr_assert_str_eq(show(sxapi_task_args(t)), "(1)");
  CODE(sxapi_resume(t, sxapi_cstring(vm, "one")), SXAPI_SUSPENDED);
  cr_assert_str_eq(show(sxapi_task_args(t)), "(2)");
  CODE(sxapi_resume(t, sxapi_cstring(vm, "two")), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "(1500 (\"one\" \"two\"))");
  sxapi_task_free(t);
}

Test(api_task, resuming_with_an_error_raises_at_the_perform) {
  sxapi_task *t =
      begin("(guard (e (true (str \"caught \" (error-message e)))) (perform {:op \"disk/read\"}))",
            SXAPI_SUSPENDED);
  CODE(sxapi_resume_error(t, sxapi_cstring(vm, "EIO")), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "\"caught EIO\"");
  sxapi_task_free(t);
  t = begin("(perform {:op \"disk/read\"})", SXAPI_SUSPENDED);
  CODE(sxapi_resume_error(t, sxapi_error(vm, "device gone")), SXAPI_ERR_EVAL);
  cr_assert_str_eq(sxapi_errmsg(), "device gone (at <task>:1:1)", "placed at its perform");
  sxapi_task_free(t);
  t = begin("(guard (e (true e)) (perform {:op \"disk/read\"}))", SXAPI_SUSPENDED);
  CODE(sxapi_resume_error(t, sxapi_list(vm, 1, (sxapi_value[]){sxapi_int(vm, 9)})), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "(9)", "any value can be raised");
  sxapi_task_free(t);
}

Test(api_task, a_request_need_not_be_a_dict) {
  sxapi_task *t = begin("(perform 42)", SXAPI_SUSPENDED);
  cr_assert_null(sxapi_task_op(t));
  cr_assert_str_eq(show(sxapi_task_args(t)), "()");
  cr_assert_str_eq(show(sxapi_task_request(t)), "42");
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_OK);
  sxapi_task_free(t);
}

Test(api_task, several_tasks_wait_at_once) {
  sxapi_task *a = begin("(list :a (perform {:op \"x/a\"}))", SXAPI_SUSPENDED);
  sxapi_task *b = begin("(list :b (perform {:op \"x/b\"}))", SXAPI_SUSPENDED);
  EVAL_OK("(+ 1 2)", "3"); /* the VM stays usable meanwhile */
  CODE(sxapi_resume(b, sxapi_int(vm, 2)), SXAPI_OK);
  CODE(sxapi_resume(a, sxapi_int(vm, 1)), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(a)), "(\"a\" 1)");
  cr_assert_str_eq(show(sxapi_task_result(b)), "(\"b\" 2)");
  sxapi_task_free(a);
  sxapi_task_free(b);
}

Test(api_task, tasks_start_from_files_and_functions) {
  char *dir = scratch_dir();
  char path[512];
  snprintf(path, sizeof path, "%s/job.sx", dir);
  FILE *f = fopen(path, "w");
  fputs("(define got (perform {:op \"job/input\"}))\n(* got 2)\n", f);
  fclose(f);
  sxapi_task *t;
  CODE(sxapi_begin_load(vm, path, &t), SXAPI_SUSPENDED);
  CODE(sxapi_resume(t, sxapi_int(vm, 21)), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "42");
  sxapi_task_free(t);
  CODE(sxapi_begin_load(vm, "/nonexistent/job.sx", &t), SXAPI_ERR_IO);
  cr_assert_null(t);
  scratch_remove(dir);

  sxapi_value fn;
  CODE(sxapi_eval(vm, "(fn (x) (+ x (perform {:op \"job/more\" :args (list x)})))", &fn), SXAPI_OK);
  CODE(sxapi_begin_call(vm, fn, 1, (sxapi_value[]){sxapi_int(vm, 5)}, &t), SXAPI_SUSPENDED);
  cr_assert_str_eq(show(sxapi_task_args(t)), "(5)");
  CODE(sxapi_resume(t, sxapi_int(vm, 10)), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "15");
  sxapi_task_free(t);
  CODE(sxapi_begin_call(vm, sxapi_cstring(vm, "f"), 0, NULL, &t), SXAPI_ERR_TYPE);
  cr_assert_null(t);
}

Test(api_task, source_that_does_not_read_starts_no_task) {
  sxapi_task *t = (sxapi_task *)&t;
  CODE(sxapi_begin(vm, "(perform", 8, NULL, &t), SXAPI_ERR_INCOMPLETE);
  cr_assert_null(t);
  CODE(sxapi_begin(vm, "]", 1, NULL, &t), SXAPI_ERR_SYNTAX);
  cr_assert_null(t);
  CODE(sxapi_begin(vm, "1", 1, NULL, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_begin(vm, NULL, 1, NULL, &t), SXAPI_ERR_ARG);
}

Test(api_task, a_finished_task_cannot_be_resumed) {
  sxapi_task *t = begin("(perform {:op \"x/y\"})", SXAPI_SUSPENDED);
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_OK);
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_ERR_STATE);
  cr_assert_str_eq(sxapi_errmsg(), "sxapi_resume: the task is not suspended (it has finished)");
  CODE(sxapi_resume_error(t, sxapi_cstring(vm, "e")), SXAPI_ERR_STATE);
  cr_assert_str_eq(show(sxapi_task_result(t)), "nil", "the result is intact");
  sxapi_task_free(t);
  t = begin("(error \"boom\")", SXAPI_ERR_EVAL);
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_ERR_STATE);
  MSG_HAS("(it has failed)");
  sxapi_task_free(t);
}

/* The C function of a running task tries to resume, inspect and free it. */
static sxapi_task *running;
static sxapi_code poke_running(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *result,
                               void *ud) {
  (void)argc, (void)argv, (void)ud;
  sxapi_value codes[] = {sxapi_cstring(v, sxapi_code_name(sxapi_resume(running, sxapi_nil()))),
                         sxapi_cstring(v, sxapi_code_name(sxapi_task_free(running))),
                         sxapi_cstring(v, sxapi_code_name(sxapi_task_status(running)))};
  *result = sxapi_list(v, 3, codes);
  return SXAPI_OK;
}

Test(api_task, a_running_task_cannot_be_resumed_or_freed) {
  CODE(sxapi_define_function(vm, "poke", 0, 0, poke_running, NULL), SXAPI_OK);
  sxapi_task *t = begin("(perform {:op \"x/go\"}) (poke)", SXAPI_SUSPENDED);
  running = t;
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)),
                   "(\"SXAPI_ERR_STATE\" \"SXAPI_ERR_STATE\" \"SXAPI_ERR_STATE\")");
  sxapi_task_free(t);
}

/* A task begun inside a C function runs nested: it cannot suspend. */
static sxapi_code nested_begin(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *result,
                               void *ud) {
  (void)argc, (void)argv, (void)ud;
  sxapi_task *t;
  sxapi_code rc = sxapi_begin(v, "(perform {:op \"q/x\"})", 21, NULL, &t);
  *result = sxapi_list(v, 2, (sxapi_value[]){sxapi_cstring(v, sxapi_code_name(rc)), sxapi_task_result(t)});
  sxapi_task_free(t);
  return SXAPI_OK;
}

Test(api_task, a_task_begun_during_an_evaluation_cannot_suspend) {
  CODE(sxapi_define_function(vm, "nested-begin", 0, 0, nested_begin, NULL), SXAPI_OK);
  EVAL_OK("(let ((r (nested-begin))) (list (first r) (error-message (nth r 1))))",
          "(\"SXAPI_ERR_EVAL\" \"perform: no resolver for op q/x\")");
}

Test(api_task, tasks_outlive_their_vm_safely) {
  sxapi_task *t = begin("(perform {:op \"x/y\"})", SXAPI_SUSPENDED);
  sxapi_task *done = begin("7", SXAPI_OK);
  CODE(sxapi_close(vm), SXAPI_OK);
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_ERR_CLOSED);
  CODE(sxapi_task_status(t), SXAPI_SUSPENDED);
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = NULL; /* teardown frees NULL */
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_ERR_CLOSED);
  MSG_HAS("the task's VM has been freed");
  cr_assert_null(sxapi_task_vm(t));
  CODE(sxapi_task_free(t), SXAPI_OK);
  cr_assert_eq(sxapi_typeof(sxapi_task_result(done)), SXAPI_TINT, "a finished task keeps its result");
  CODE(sxapi_task_free(done), SXAPI_OK);
}

Test(api_task, null_and_foreign_tasks_are_refused) {
  uint64_t junk[16] = {0};
  CODE(sxapi_resume(NULL, sxapi_nil()), SXAPI_ERR_ARG);
  CODE(sxapi_resume_error(NULL, sxapi_nil()), SXAPI_ERR_ARG);
  CODE(sxapi_resume((sxapi_task *)junk, sxapi_nil()), SXAPI_ERR_ARG);
  MSG_HAS("not a task handle");
  CODE(sxapi_task_status(NULL), SXAPI_ERR_ARG);
  CODE(sxapi_task_free((sxapi_task *)junk), SXAPI_ERR_ARG);
  CODE(sxapi_task_free(NULL), SXAPI_OK);
  cr_assert_eq(sxapi_task_result(NULL), sxapi_nil());
  cr_assert_eq(sxapi_task_request(NULL), sxapi_nil());
  cr_assert_null(sxapi_task_op(NULL));
  cr_assert_str_eq(show(sxapi_task_args(NULL)), "()");
  cr_assert_null(sxapi_task_vm(NULL));
}
