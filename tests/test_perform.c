/* test_perform.c — `perform` suspends the CEK machine from any depth and
 * the host resumes it with a value or an error; IO resolvers registered
 * with sx_add_resolver service ops synchronously (longest prefix wins);
 * unowned ops and misuse of finished fibers are errors, never crashes. */
#include "sx_test_eval.h"

TestSuite(perform, .init = setup, .fini = teardown);

static sx_fiber *start(const char *src) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(src, strlen(src), sx_string_cstr("<perform>"), &err);
  cr_assert_neq(forms, SX_UNDEF, "read error");
  sx_fiber *f = sx_fiber_new(vm);
  sx_fiber_start_forms(f, forms, sx_string_cstr("<perform>"), false);
  return f;
}

/* Run src; every suspension must be a request whose printed form is the
 * next entry of `requests`; resume it with the matching entry of `replies`
 * (read from text). The final value must print as `expected`. */
static void drive(const char *src, int n, const char **requests, const char **replies, const char *expected) {
  sx_fiber *f = start(src);
  sx_status st = sx_fiber_run(f);
  int i = 0;
  while (st == SX_SUSPENDED) {
    cr_assert_lt(i, n, "%s: more performs than expected (request %s)", src, printed(f->request));
    if (requests[i]) cr_assert_str_eq(printed(f->request), requests[i], "%s: request %d", src, i);
    sx_val reply = sx_car(sx_read_all(replies[i], strlen(replies[i]), SX_NIL, NULL));
    st = sx_fiber_resume(f, reply);
    i++;
  }
  cr_assert_eq(st, SX_DONE, "%s: %s", src, st == SX_ERROR ? errmsg(f->error) : "?");
  cr_assert_eq(i, n, "%s: %d performs, expected %d", src, i, n);
  cr_assert_str_eq(printed(f->value), expected, "%s", src);
}

#define DRIVE1(src, req, reply, expected)                                                                    \
  drive(src, 1, (const char *[]){req}, (const char *[]){reply}, expected)

Test(perform, top_level) {
  DRIVE1("(perform {:op \"ask\" :args (list 1)})", "{:args (1) :op \"ask\"}", "42", "42");
  DRIVE1("(+ 1 (perform 5))", "5", "10", "11"); /* any value is a request */
  DRIVE1("(define x (perform :x)) (* x 2)", "\"x\"", "21", "42");
}

Test(perform, inside_higher_order_callbacks) {
  DRIVE1("(map (fn (x) (if (= x 2) (perform :m) x)) (list 1 2 3))", "\"m\"", "20", "(1 20 3)");
  DRIVE1("(filter (fn (x) (if (= x 2) (perform :f) true)) (list 1 2 3))", "\"f\"", "false", "(1 3)");
  /* a dict literal's value performs (the literal is filled in place) */
  DRIVE1("(let ((x 1)) {:b (perform :d) :a x})", "\"d\"", "2", "{:a 1 :b 2}");
  /* suspended on the first item (nothing built yet) and on the last */
  DRIVE1("(map (fn (x) (if (= x 1) (perform :m) x)) (list 1 2 3))", "\"m\"", "10", "(10 2 3)");
  DRIVE1("(map (fn (x) (if (= x 3) (perform :m) x)) (list 1 2 3))", "\"m\"", "30", "(1 2 30)");
  DRIVE1("(filter (fn (x) (if (= x 1) (perform :f) false)) (list 1 2 3))", "\"f\"", "true", "(1)");
  DRIVE1("(filter (fn (x) (if (= x 3) (perform :f) true)) (list 1 2 3))", "\"f\"", "true", "(1 2 3)");
  DRIVE1("(reduce (fn (acc x) (+ acc (if (= x 2) (perform :r) x))) 0 (list 1 2 3))", "\"r\"", "100", "104");
  DRIVE1(
      "(define out (list)) (for-each (fn (x) (set! out (cons (if (= x 2) (perform :e) x) out))) (list 1 2 3))"
      " (reverse out)",
      "\"e\"", "9", "(1 9 3)");
  DRIVE1("(some (fn (x) (and (= x 2) (perform :s))) (list 1 2 3))", "\"s\"", "\"found\"", "\"found\"");
  DRIVE1("(every? (fn (x) (if (= x 2) (perform :v) true)) (list 1 2 3))", "\"v\"", "false", "false");
  DRIVE1("(apply (fn (a b) (+ a b (perform :a))) (list 1 2))", "\"a\"", "3", "6");
}

/* A closure-free call entered straight from an arithmetic frame
 * (arith_enter) suspends and resumes like any other. */
Test(perform, inside_calls_in_arithmetic_operands) {
  drive("(define (ask x) (+ x (perform :q))) (define (f n) (+ (ask n) (ask (+ n 1)))) (f 1)", 2,
        (const char *[]){"\"q\"", "\"q\""}, (const char *[]){"10", "20"}, "33");
}

Test(perform, inside_sort_comparator) {
  sx_fiber *f = start("(sort (list 3 1 2) (fn (a b) (perform (list a b))))");
  sx_status st = sx_fiber_run(f);
  int n = 0;
  while (st == SX_SUSPENDED) { /* the host decides the order */
    sx_val pair = f->request;
    st = sx_fiber_resume(f, sx_bool(sx_int_val(sx_car(pair)) < sx_int_val(sx_car(sx_cdr(pair)))));
    n++;
  }
  cr_assert_eq(st, SX_DONE);
  cr_assert_geq(n, 2);
  cr_assert_str_eq(printed(f->value), "(1 2 3)");
}

Test(perform, inside_guard_let_dict_and_nested_calls) {
  DRIVE1("(guard (e (true :err)) (+ 1 (perform :g)))", "\"g\"", "1", "2");
  DRIVE1("(let ((a 1) (b (perform :l)) (c 3)) (list a b c))", "\"l\"", "2", "(1 2 3)");
  DRIVE1("{:a 1 :b (perform :d) :c 3}", "\"d\"", "\"two\"", "{:a 1 :b \"two\" :c 3}");
  DRIVE1("(define (f x) (g (+ x 1))) (define (g y) (* y (perform {:op \"n\" :args (list y)}))) (f 1)",
         "{:args (2) :op \"n\"}", "10", "20");
  DRIVE1("(dynamic-wind (fn () 1) (fn () (perform :w)) (fn () 2))", "\"w\"", "7", "7");
  DRIVE1("(call/cc (fn (k) (k (perform :k))))", "\"k\"", "8", "8");
}

Test(perform, multiple_performs_in_one_evaluation) {
  drive("(list (perform 1) (perform 2) (map (fn (x) (perform x)) (list 3 4)))", 4,
        (const char *[]){"1", "2", "3", "4"}, (const char *[]){"\"a\"", "\"b\"", "\"c\"", "\"d\""},
        "(\"a\" \"b\" (\"c\" \"d\"))");
  /* state in between survives */
  drive("(define n 0) (set! n (+ n (perform :x))) (set! n (+ n (perform :y))) n", 2,
        (const char *[]){"\"x\"", "\"y\""}, (const char *[]){"10", "32"}, "42");
}

Test(perform, resume_error_is_raised_at_the_perform) {
  sx_fiber *f = start("(guard (e (true (list :caught (error-message e)))) (+ 1 (perform :boom)))");
  cr_assert_eq(sx_fiber_run(f), SX_SUSPENDED);
  sx_status st = sx_fiber_resume_error(f, sx_make_error("disk on fire"));
  cr_assert_eq(st, SX_DONE, "%s", st == SX_ERROR ? errmsg(f->error) : "?");
  cr_assert_str_eq(printed(f->value), "(\"caught\" \"disk on fire\")");
}

Test(perform, resume_error_uncaught_ends_with_error) {
  sx_fiber *f = start("(+ 1 (perform :boom))");
  cr_assert_eq(sx_fiber_run(f), SX_SUSPENDED);
  cr_assert_eq(sx_fiber_resume_error(f, sx_string_cstr("plain string raised")), SX_ERROR);
  cr_assert_str_eq(errmsg(f->error), "plain string raised");
}

/* The host's error carries the position of the perform it answers. */
Test(perform, resume_error_has_the_perform_position) {
  sx_fiber *f = start("(define (g) (+ 1 (perform :boom)))\n(g)");
  cr_assert_eq(sx_fiber_run(f), SX_SUSPENDED);
  cr_assert_eq(sx_fiber_resume_error(f, sx_make_error("disk on fire")), SX_ERROR);
  sx_error *e = (sx_error *)f->error;
  cr_assert(sx_is_string(e->where));
  cr_assert_str_eq(sx_str_data(e->where), "<perform>:1:18");
  cr_assert_gt(sx_list_length(e->backtrace), 0);
}

Test(perform, resume_error_inside_map_callback_caught_by_inner_guard) {
  sx_fiber *f = start("(map (fn (x) (guard (e (true :bad)) (perform x))) (list 1 2))");
  cr_assert_eq(sx_fiber_run(f), SX_SUSPENDED);
  cr_assert_eq(sx_fiber_resume_error(f, sx_make_error("no")), SX_SUSPENDED);
  cr_assert_str_eq(printed(f->request), "2");
  cr_assert_eq(sx_fiber_resume(f, sx_int(5)), SX_DONE);
  cr_assert_str_eq(printed(f->value), "(\"bad\" 5)");
}

Test(perform, finished_fiber_cannot_be_resumed) {
  sx_fiber *f = start("(+ 1 2)");
  cr_assert_eq(sx_fiber_run(f), SX_DONE);
  cr_assert_str_eq(printed(f->value), "3");
  cr_assert_eq(sx_fiber_resume(f, sx_int(1)), SX_ERROR);
  cr_assert_str_eq(errmsg(f->error), "resume: the evaluation is not suspended on a perform");
  cr_assert_eq(sx_fiber_resume_error(f, sx_int(1)), SX_ERROR);
  cr_assert_eq(sx_fiber_run(f), SX_ERROR);
  cr_assert_str_eq(errmsg(f->error), "run: nothing to run (the evaluation has finished)");
}

Test(perform, fiber_that_errored_cannot_be_resumed) {
  sx_fiber *f = start("(car 1)");
  cr_assert_eq(sx_fiber_run(f), SX_ERROR);
  cr_assert_eq(sx_fiber_resume(f, sx_int(1)), SX_ERROR);
  cr_assert_str_eq(errmsg(f->error), "resume: the evaluation is not suspended on a perform");
}

Test(perform, not_yet_started_fiber_cannot_be_resumed) {
  sx_fiber *f = start("(perform 1)");
  cr_assert_eq(sx_fiber_resume(f, sx_int(1)), SX_ERROR);
}

Test(perform, resume_twice_is_an_error) {
  sx_fiber *f = start("(perform 1)");
  cr_assert_eq(sx_fiber_run(f), SX_SUSPENDED);
  cr_assert_eq(sx_fiber_resume(f, sx_int(9)), SX_DONE);
  cr_assert_str_eq(printed(f->value), "9");
  cr_assert_eq(sx_fiber_resume(f, sx_int(10)), SX_ERROR);
}

/* ---- resolvers ------------------------------------------------------------ */
static int res_echo(sx_vm *v, void *ud, sx_val op, sx_val args, sx_val req, sx_val *result) {
  (void)v;
  (void)req;
  *result = sx_list(3, (sx_val[]){sx_string_cstr((const char *)ud), op, args});
  return 0;
}

static int res_fail(sx_vm *v, void *ud, sx_val op, sx_val args, sx_val req, sx_val *result) {
  (void)v;
  (void)ud;
  (void)args;
  (void)req;
  (void)op;
  *result = sx_string_cstr("resolver says no");
  return -1;
}

static int res_fail_value(sx_vm *v, void *ud, sx_val op, sx_val args, sx_val req, sx_val *result) {
  (void)v;
  (void)ud;
  (void)args;
  (void)req;
  (void)op;
  *result = sx_make_error("structured failure");
  return -1;
}

static int calls;
static int res_count(sx_vm *v, void *ud, sx_val op, sx_val args, sx_val req, sx_val *result) {
  (void)v;
  (void)ud;
  (void)op;
  (void)req;
  calls++;
  *result = sx_int(sx_int_val(sx_car(args)) * 10);
  return 0;
}

Test(perform, resolvers_service_ops_synchronously) {
  sx_add_resolver(vm, "io/", res_echo, "io");
  OK("(perform {:op \"io/read\" :args (list 1 2)})", "(\"io\" \"io/read\" (1 2))");
  OK("(map (fn (x) (nth (perform {:op \"io/x\" :args x}) 2)) (list 1 2))", "(1 2)");
  OK("(perform {:op \"io/none\"})", "(\"io\" \"io/none\" ())"); /* missing :args → () */
}

Test(perform, resolver_longest_prefix_wins) {
  sx_add_resolver(vm, "a/", res_echo, "short");
  sx_add_resolver(vm, "a/b/", res_echo, "long");
  sx_add_resolver(vm, "a/b", res_echo, "middle");
  OK("(first (perform {:op \"a/b/c\"}))", "\"long\"");
  OK("(first (perform {:op \"a/bc\"}))", "\"middle\"");
  OK("(first (perform {:op \"a/x\"}))", "\"short\"");
}

Test(perform, resolver_inside_deep_callbacks) {
  calls = 0;
  sx_add_resolver(vm, "n/", res_count, NULL);
  OK("(reduce (fn (acc x) (+ acc (perform {:op \"n/times\" :args (list x)}))) 0 (range 1 101))", "50500");
  cr_assert_eq(calls, 100);
}

Test(perform, resolver_failure_raises_catchable_error) {
  sx_add_resolver(vm, "bad/", res_fail, NULL);
  sx_add_resolver(vm, "worse/", res_fail_value, NULL);
  ERR("(perform {:op \"bad/x\"})", "resolver says no");
  OK("(guard (e (true (list :caught (error-message e)))) (perform {:op \"bad/x\"}))",
     "(\"caught\" \"resolver says no\")");
  OK("(guard (e (true (error-message e))) (perform {:op \"worse/x\"}))", "\"structured failure\"");
}

Test(perform, unowned_op_through_eval_string_is_an_error) {
  ERR("(perform {:op \"nobody/home\" :args (list)})", "perform: no resolver for op nobody/home");
  OK("(guard (e (true (error-message e))) (perform {:op \"nobody/home\"}))",
     "\"perform: no resolver for op nobody/home\"");
  ERR_HAS("(perform 42)", "perform: no resolver for op");
  sx_add_resolver(vm, "io/", res_echo, "io");
  ERR("(perform {:op \"iox\"})", "perform: no resolver for op iox"); /* prefix must match */
}

Test(perform, perform_syntax) {
  ERR_HAS("(perform)", "perform: expected exactly one request");
  ERR_HAS("(perform 1 2)", "perform: expected exactly one request");
}

Test(perform, perform_in_nested_sx_apply_from_resolver_context) {
  /* sx_apply of a closure that performs: the op goes to the resolvers */
  sx_add_resolver(vm, "io/", res_echo, "io");
  sx_val fnv;
  cr_assert_eq(run_src("(fn (x) (perform {:op \"io/q\" :args x}))", &fnv), SX_DONE);
  sx_val out, arg = sx_int(7);
  cr_assert_eq(sx_apply(vm, fnv, 1, &arg, &out), SX_DONE);
  cr_assert_str_eq(printed(out), "(\"io\" \"io/q\" 7)");
}
