/* test_errors.c — error values and how they reach the host: message,
 * position ("file:line:col", error-where) and backtrace; `error` and
 * `raise`; reader errors with line:col through sx_eval_string; analyser
 * syntax errors with clear messages and no crashes. */
#include "sx_test_eval.h"

TestSuite(errors, .init = setup, .fini = teardown);

static sx_error *uncaught(const char *src) {
  sx_val out;
  sx_status st = run_src(src, &out);
  cr_assert_eq(st, SX_ERROR, "%s: expected an error, got %s", src, printed(out));
  cr_assert(sx_is(out, SX_T_ERROR), "%s: host got a non-error value %s", src, printed(out));
  return (sx_error *)out;
}

static const char *str_or(sx_val v, const char *dflt) { return sx_is_string(v) ? sx_str_data(v) : dflt; }

static sx_val nth_of(sx_val l, size_t i) {
  while (i-- && sx_is_cons(l)) l = sx_cdr(l);
  return sx_is_cons(l) ? sx_car(l) : SX_NIL;
}

Test(errors, error_carries_message_position_and_backtrace) {
  sx_error *e = uncaught("(define (f) (+ 1 (g)))\n(define (g) (error \"deep\" 42))\n(f)");
  cr_assert_str_eq(str_or(e->message, "?"), "deep 42");
  cr_assert_str_eq(str_or(e->where, "(nil)"), "<test>:2:13");
  cr_assert(sx_is_list(e->backtrace));
  cr_assert_geq(sx_list_length(e->backtrace), 2, "backtrace %s", printed(e->backtrace));
  cr_assert_str_eq(str_or(sx_car(e->backtrace), "?"), "in g at <test>:2:13"); /* innermost first */
  cr_assert(strstr(printed(e->backtrace), "in f at <test>:1:") != NULL, "%s", printed(e->backtrace));
  cr_assert_str_eq(printed(e->payload), "(42)");
}

Test(errors, primitive_errors_have_position) {
  sx_error *e = uncaught("(list 1\n   (+ 1 \"x\"))");
  cr_assert_str_eq(str_or(e->message, "?"), "+: expected a number, got \"x\"");
  cr_assert_str_eq(str_or(e->where, "(nil)"), "<test>:2:4");
  e = uncaught("undefined-thing");
  cr_assert_str_eq(str_or(e->message, "?"), "unbound symbol undefined-thing");
}

/* Two names bound to one operation each name themselves in a type error. */
Test(errors, aliases_name_the_one_called) {
  cr_assert_str_eq(str_or(uncaught("(symbol->string 5)")->message, "?"),
                   "symbol->string: expected a symbol, keyword or string, got 5");
  cr_assert_str_eq(str_or(uncaught("(name 5)")->message, "?"),
                   "name: expected a symbol, keyword or string, got 5");
}

Test(errors, error_where_inside_guard) {
  OK("(guard (e (true (list (error-where e) (error-message e) (error-irritants e))))\n  (error \"m\" 1))",
     "(\"<test>:2:3\" \"m 1\" (1))");
  OK("(define (f) (error \"in f\"))\n(guard (e (true (error-where e))) (f))", "\"<test>:1:13\"");
}

/* The accessors docs/language.md documents, on error values and on other
 * raised values. */
Test(errors, error_accessors_read_message_position_and_value) {
  OK("(guard (e (true (list (error? e) (type-of e) (error-message e) (error-irritants e) (error-where e))))\n"
     "  (error \"bad\" 1 \"x\"))",
     "(true \"error\" \"bad 1 \\\"x\\\"\" (1 \"x\") \"<test>:2:3\")");
  OK("(guard (e (true (list (error? e) (error-message e) (error-irritants e) (error-where e))))\n (+ 1 \"a\"))",
     "(true \"+: expected a number, got \\\"a\\\"\" () \"<test>:2:2\")");
  OK("(guard (e (true (list (error? e) (error-message e) (error-irritants e) (error-where e) (get e :code))))"
     " (raise {:code 7}))",
     "(false \"{:code 7}\" () nil 7)");
  OK("(guard (e (true (list (error-message e) (error? e)))) (raise \"plain\"))", "(\"plain\" false)");
  OK("(guard (e (true e)) (error \"shown\"))", "<error \"shown\">");
  OK("(define (f) (+ 1 (f))) (guard (e ((error? e) (error-message e))) (f))",
     "\"recursion depth limit exceeded: 1000001 nested calls (the limit is 1000000)\"");
}

Test(errors, raise_any_value) {
  OK("(guard (e (true e)) (raise {:code 7}))", "{:code 7}");
  OK("(guard (e ((number? e) (* e 2))) (raise 21))", "42");
  sx_val out;
  cr_assert_eq(run_src("(raise \"as string\")", &out), SX_ERROR);
  cr_assert_str_eq(errmsg(out), "as string");
  cr_assert_eq(run_src("(raise {:k 1})", &out), SX_ERROR);
  cr_assert_str_eq(errmsg(out), "{:k 1}");
}

/* An uncaught (raise v) of any value reaches the host as an error value
 * with the position of the raise and a backtrace, like (error ...). */
Test(errors, uncaught_raise_reaches_host_with_position) {
  sx_error *e = uncaught("(define (h) (+ 1 (raise 5)))\n(h)");
  cr_assert_str_eq(str_or(e->message, "?"), "5");
  cr_assert_str_eq(str_or(e->where, "(nil)"), "<test>:1:18");
  cr_assert_gt(sx_list_length(e->backtrace), 0);
  cr_assert_eq(e->payload, sx_fixnum(5));
}

/* A guard that does not match re-raises the value; the host still learns
 * where it was first raised, not where the guard re-raised it. */
Test(errors, reraised_value_keeps_first_position) {
  sx_error *e = uncaught("(define (h) (raise \"boom\"))\n(guard (e ((number? e) 1)) (h))");
  cr_assert_str_eq(str_or(e->message, "?"), "boom");
  cr_assert_str_eq(str_or(e->where, "(nil)"), "<test>:1:13");
}

Test(errors, reraised_error_keeps_original_position) {
  sx_error *e = uncaught("(define (f) (error \"orig\"))\n(guard (e ((string? e) 1)) (f))");
  cr_assert_str_eq(str_or(e->message, "?"), "orig");
  cr_assert_str_eq(str_or(e->where, "(nil)"), "<test>:1:13");
}

Test(errors, reader_errors_carry_line_and_col) {
  ERR("(+ 1", "<test>:1:5: unclosed '(' opened at 1:1");
  ERR("\n\n  \"abc", "<test>:3:7: unterminated string starting at 3:3");
  ERR("(1 2))", "<test>:1:6: unexpected ')'");
  ERR(")", "<test>:1:1: unexpected ')'");
  ERR("{:a}", "<test>:1:4: dict literal opened at 1:1 has a key without a value");
  ERR_HAS("#foo", "<test>:1:1:");
  /* a reader error evaluates nothing */
  OK("(define z 1) z", "1");
  ERR_HAS("(set! z 2) (+ 1", "unclosed");
  OK("z", "1");
}

Test(errors, analyser_syntax_errors) {
  ERR("(if)", "<test>:1:1: if: expected (if test then [else])");
  ERR("(let ((1 2)) 1)", "<test>:1:1: let: malformed binding (1 2)");
  ERR("(fn (1) 1)", "<test>:1:1: fn: parameter must be a symbol, got 1");
  ERR("(quote)", "<test>:1:1: quote: expected exactly one form");
  ERR_HAS("(define)", "define: expected a name");
  ERR_HAS("(set!)", "set!: expected (set! name value)");
  ERR_HAS("(let)", "let: expected bindings");
  ERR_HAS("(let 5 1)", "let: bindings must be a list");
  ERR_HAS("(cond (else 1) . 2)", "cond");
  ERR_HAS("(case)", "case: expected a key");
  ERR_HAS("(guard)", "guard");
  ERR_HAS("(defmacro 5)", "defmacro: expected a name");
  ERR_HAS("(define (f) (defmacro m (x) x))", "defmacro: only allowed at top level");
  ERR_HAS("(fn)", "fn: expected a parameter list");
  ERR_HAS("(perform)", "perform");
  ERR_HAS("(unquote x)", "unquote outside quasiquote");
}

/* (defmacro) with no name once crashed the analyser. */
Test(errors, defmacro_without_name_does_not_crash) { ERR_HAS("(defmacro)", "defmacro: expected a name"); }

Test(errors, syntax_error_positions_point_at_inner_form) {
  ERR_HAS("(define (f x)\n  (if))", "<test>:2:3: if:");
}

Test(errors, many_malformed_forms_never_crash) {
  static const char *bad[] = {"(if 1 2 3 4)",
                              "(let ((a 1 2)) a)",
                              "(let loop)",
                              "(let* (x) 1)",
                              "(letrec ((1 2)) 1)",
                              "(do)",
                              "(do ((i)) )",
                              "(case 1 5)",
                              "(when)",
                              "(unless)",
                              "(fn (a . b) 1)",
                              "(fn (&rest a b) 1)",
                              "(define 5 1)",
                              "(define (5) 1)",
                              "(set! 5 1)",
                              "(quasiquote)",
                              "(guard (1) 2)",
                              "(guard (e 5) (raise 1))",
                              "(cond (1 => ))",
                              "(defmacro m)",
                              "(() 1)",
                              "(1 2 3)",
                              "(\"s\" 1)",
                              "(dynamic-wind 1 2 3)",
                              "(call/cc 5)",
                              "(apply)"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sx_val out;
    sx_status st = run_src(bad[i], &out);
    /* some shapes are accepted leniently (e.g. (let* (x) 1) binds x to nil);
     * what matters is a result or a clear error, never a crash */
    cr_assert(st == SX_DONE || st == SX_ERROR, "%s: status %d", bad[i], st);
    if (st == SX_ERROR) cr_assert_gt(strlen(errmsg(out)), 0, "%s", bad[i]);
  }
  OK("(+ 1 1)", "2"); /* the VM still works */
}

Test(errors, calling_a_non_function) {
  ERR_HAS("(let ((x 1)) (x))", "cannot call 1: not a function");
  ERR_HAS("(\"s\" 1)", "cannot call \"s\"");
}

Test(errors, error_with_no_args_and_non_string_message) {
  ERR_HAS("(error)", "error");
  ERR("(error 42)", "42");
  ERR("(error :kw \"x\")", "kw \"x\"");
}

Test(errors, errors_from_load) {
  sx_val out;
  cr_assert_eq(sx_load_file(vm, "/nonexistent/dir/file.sx", false, &out), SX_ERROR);
  cr_assert(strstr(errmsg(out), "/nonexistent/dir/file.sx") != NULL, "%s", errmsg(out));
  cr_assert_eq(run_src("(load \"/nonexistent/x.sx\")", &out), SX_ERROR);
  cr_assert(strstr(errmsg(out), "/nonexistent/x.sx") != NULL, "%s", errmsg(out));
}

Test(errors, load_reports_positions_in_the_file) {
  char path[] = "/tmp/sx_test_errors_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  const char *src = "(define a 1)\n\n(define (bad) (error \"from file\"))\n(bad)\n";
  cr_assert_eq(write(fd, src, strlen(src)), (ssize_t)strlen(src));
  close(fd);
  sx_val out;
  sx_status st = sx_load_file(vm, path, false, &out);
  unlink(path);
  cr_assert_eq(st, SX_ERROR);
  cr_assert_str_eq(errmsg(out), "from file");
  char want[256];
  snprintf(want, sizeof want, "%s:3:15", path);
  cr_assert_str_eq(str_or(((sx_error *)out)->where, "(nil)"), want);
}

/* ---- backtraces -------------------------------------------------------------------------- */

/* The backtrace of an error raised as (outer (list 1 2)) runs where the
 * callback of each higher-order primitive raises it: bad, then the call of
 * the primitive in outer, then the top-level form. */
static void expect_backtrace_through(const char *call) {
  char src[300];
  snprintf(src, sizeof src, "(define (bad x) (+ x \"a\"))\n(define (outer xs) %s)\n(outer (list 1 2))", call);
  sx_error *e = uncaught(src);
  const char *bt = printed(e->backtrace);
  cr_assert(sx_is_cons(e->backtrace), "%s: no backtrace", call);
  cr_assert_str_eq(str_or(sx_car(e->backtrace), "?"), "in bad at <test>:1:17", "%s: %s", call, bt);
  cr_assert(strstr(bt, "\"in outer at <test>:2:") != NULL, "%s: %s", call, bt);
  sx_val l = e->backtrace;
  while (sx_is_cons(sx_cdr(l))) l = sx_cdr(l);
  cr_assert_str_eq(str_or(sx_car(l), "?"), "in top level at <test>:3:1", "%s: %s", call, bt);
}

Test(errors, backtraces_keep_the_frames_of_higher_order_primitives) {
  static const char *calls[] = {
      "(map (fn (x) (bad x)) xs)", "(filter (fn (x) (bad x)) xs)", "(reduce (fn (a x) (bad x)) 0 xs)",
      "(reduce (fn (a x) (bad x)) xs)", "(for-each (fn (x) (bad x)) xs)", "(some (fn (x) (bad x)) xs)",
      "(every? (fn (x) (bad x)) xs)", "(map-indexed (fn (i x) (bad x)) xs)", "(apply map (list bad xs))",
      /* sort is an SX function and apply a tail call of its function: in
       * tail position either replaces outer, as any tail call does */
      "(list (sort xs (fn (a b) (bad a))))", "(list (sort-by (fn (x) (bad x)) xs))",
      "(list (apply bad (list (first xs))))", "(dynamic-wind (fn () 1) (fn () (bad 1)) (fn () 2))",
      "(call/cc (fn (k) (bad 1)))", "(list (map (fn (x) (let ((f (fn () x))) (bad (f)))) xs))"};
  for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) expect_backtrace_through(calls[i]);
}

/* Code inside an anonymous function is not labelled "top level". */
Test(errors, backtrace_names_anonymous_functions) {
  sx_error *e = uncaught("(define (bad x) (+ x \"a\"))\n(map (fn (x)\n  (+ 1 (bad x))) (list 1))");
  cr_assert_str_eq(
      printed(e->backtrace),
      "(\"in bad at <test>:1:17\" \"in anonymous fn at <test>:3:8\" \"in top level at <test>:2:1\")");
}

/* A closure-free call in an operand of inline arithmetic has no frame of
 * its own (the arithmetic's stands for it, see arith_enter): its place is
 * the call's, whichever operand it is, and the place of the arithmetic
 * itself is not shown. */
Test(errors, backtrace_through_calls_in_arithmetic_operands) {
  sx_error *e = uncaught("(define (bad x) (+ x \"a\"))\n(define (g x)\n  (* 2\n     (bad x)))\n(g 1)");
  cr_assert_str_eq(printed(e->backtrace),
                   "(\"in bad at <test>:1:17\" \"in g at <test>:4:6\" \"in top level at <test>:5:1\")");
  e = uncaught("(define (bad x) (+ x \"a\"))\n(define (g x)\n  (* (bad x)\n     2))\n(g 1)");
  cr_assert_str_eq(printed(e->backtrace),
                   "(\"in bad at <test>:1:17\" \"in g at <test>:3:6\" \"in top level at <test>:5:1\")");
}

/* A backtrace longer than 16 places keeps its innermost 12 and outermost
 * 4, the top level among them, and says how many it leaves out. */
Test(errors, long_backtraces_keep_both_ends) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_puts(&b, "(define (f0) (error \"deep\"))\n");
  for (int i = 1; i <= 20; i++) sx_buf_printf(&b, "(define (f%d) (+ 1 (f%d)))\n", i, i - 1);
  sx_buf_puts(&b, "(f20)");
  sx_error *e = uncaught(b.data);
  sx_buf_free(&b);
  cr_assert_eq(sx_list_length(e->backtrace), 17, "%s", printed(e->backtrace));
  cr_assert_str_eq(str_or(sx_car(e->backtrace), "?"), "in f0 at <test>:1:14");
  cr_assert_str_eq(str_or(nth_of(e->backtrace, 11), "?"), "in f11 at <test>:12:20");
  cr_assert_str_eq(str_or(nth_of(e->backtrace, 12), "?"), "... 6 more");
  cr_assert_str_eq(str_or(nth_of(e->backtrace, 13), "?"), "in f18 at <test>:19:20");
  cr_assert_str_eq(str_or(nth_of(e->backtrace, 16), "?"), "in top level at <test>:22:1");
}

/* sx_eval_form (the REPL's path) ends a backtrace at the form too. */
Test(errors, eval_form_backtrace_reaches_the_top_level) {
  OK("(define (bad x) (+ x \"a\")) (define (outer xs) (map bad xs))", "outer");
  const char *src = "\n  (outer (list 1))";
  sx_val form = sx_read_all(src, strlen(src), sx_string_cstr("<repl>"), NULL), out;
  cr_assert_eq(sx_eval_form(vm, sx_car(form), &out), SX_ERROR);
  cr_assert(sx_is(out, SX_T_ERROR));
  cr_assert_str_eq(printed(((sx_error *)out)->backtrace),
                   "(\"in bad at <test>:1:17\" \"in outer at <test>:1:47\" \"in top level at <repl>:2:3\")");
}
