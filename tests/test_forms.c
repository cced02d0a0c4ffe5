/* test_forms.c — every special form of SX evaluated through the real
 * kernel (reader, analyser, CEK machine, stdlib): define, fn/lambda, the
 * let family, conditionals, loops, set!, and/or, quasiquote, defmacro,
 * guard, dynamic-wind, call/cc, and the evaluation rules the spec fixes
 * (unshadowable special forms, keywords, dict literals, truthiness). */
#include "sx_test_eval.h"

TestSuite(forms, .init = setup, .fini = teardown);

/* ---- define ------------------------------------------------------------ */
Test(forms, define_value_and_shorthand) {
  OK("(define x 41) (+ x 1)", "42");
  OK("(define (sq n) (* n n)) (sq 7)", "49");
  OK("(define (f a &rest r) (list a r)) (list (f 1) (f 1 2 3))", "((1 ()) (1 (2 3)))");
  OK("(define (named-f) 1) named-f", "<fn named-f>");
  OK("(define x 1) (define x 2) x", "2");
}

Test(forms, internal_defines) {
  OK("(define (f) (define a 10) (define (g) (* a 2)) (g)) (f)", "20");
  OK("(define a 1) (define (f) (define a 99) a) (list (f) a)", "(99 1)");
}

Test(forms, internal_defines_mutually_recursive) {
  OK("(define (f n) (define (ev? n) (if (= n 0) true (od? (- n 1))))"
     " (define (od? n) (if (= n 0) false (ev? (- n 1)))) (list (ev? n) (od? n))) (f 11)",
     "(false true)");
}

Test(forms, define_errors) {
  ERR_HAS("(define 1 2)", "define: expected a name");
  ERR_HAS("(define)", "define: expected a name");
}

/* ---- fn / lambda --------------------------------------------------------- */
Test(forms, fn_and_lambda) {
  OK("((fn (x y) (- x y)) 10 3)", "7");
  OK("((lambda (x) (* x 2)) 21)", "42");
  OK("((fn () 5))", "5");
  OK("(fn (x) x)", "<fn>");
  OK("((fn (x) 1 2 x) 3)", "3"); /* body is a sequence */
}

Test(forms, fn_rest_params) {
  OK("((fn (a &rest more) (list a more)) 1 2 3)", "(1 (2 3))");
  OK("((fn (&rest all) all))", "()");
  OK("((fn args args) 1 2 3)", "(1 2 3)"); /* symbol parameter list */
  OK("((fn args args))", "()");
}

Test(forms, fn_arity_errors) {
  ERR_HAS("((fn (a b) a) 1)", "argument");
  ERR_HAS("((fn (a) a) 1 2)", "argument");
  ERR_HAS("(fn (a a) a)", "fn: duplicate parameter a");
  ERR_HAS("(fn (&rest) 1)", "fn: &rest must be followed by exactly one name");
}

/* ---- let family ------------------------------------------------------------ */
Test(forms, let_is_parallel) {
  OK("(let ((x 1)) (let ((x 2) (y x)) y))", "1");
  OK("(let ((a 1) (b 2)) (+ a b))", "3");
  OK("(let () 5)", "5");
  OK("(let ((x 1)) (let ((x (+ x 1))) x))", "2");
}

Test(forms, let_star_is_sequential) {
  OK("(let* ((a 1) (b (+ a 1)) (c (* b 10))) c)", "20");
  OK("(let ((x 1)) (let* ((x 2) (y x)) y))", "2");
}

Test(forms, letrec) {
  OK("(letrec ((ev? (fn (n) (if (= n 0) true (od? (- n 1)))))"
     " (od? (fn (n) (if (= n 0) false (ev? (- n 1)))))) (list (ev? 10) (ev? 11)))",
     "(true false)");
}

Test(forms, named_let) {
  OK("(let loop ((i 0) (acc (list))) (if (< i 4) (loop (+ i 1) (cons i acc)) acc))", "(3 2 1 0)");
  OK("(let loop ((i 0)) (if (< i 10) (loop (+ i 1)) i))", "10");
}

Test(forms, let_errors) {
  ERR_HAS("(let ((1 2)) 1)", "let: malformed binding");
  ERR_HAS("(let ((a 1) (a 2)) a)", "let: duplicate binding a");
  ERR_HAS("(let x)", "let");
}

/* ---- conditionals ----------------------------------------------------------- */
Test(forms, if_forms) {
  OK("(if true 1 2)", "1");
  OK("(if false 1 2)", "2");
  OK("(if nil 1 2)", "2");
  OK("(if false 1)", "nil");
  ERR_HAS("(if)", "if: expected (if test then [else])");
  ERR_HAS("(if 1 2 3 4)", "if: expected (if test then [else])");
}

Test(forms, truthiness) {
  OK("(list (if 0 :t :f) (if \"\" :t :f) (if () :t :f) (if (list) :t :f) (if {} :t :f))",
     "(\"t\" \"t\" \"t\" \"t\" \"t\")");
  OK("(list (if false :t :f) (if nil :t :f))", "(\"f\" \"f\")");
}

Test(forms, cond_forms) {
  OK("(cond (false 1) (true 2) (else 3))", "2");
  OK("(cond (false 1) (else 3))", "3");
  OK("(cond (false 1))", "nil");
  OK("(cond (false 1) (42))", "42"); /* test-only clause yields the test */
  OK("(cond ((assoc {} :a 1) => (fn (d) (get d :a))))", "1");
  OK("(cond (false => first) (else :no))", "\"no\"");
  OK("(let ((n 0)) (cond ((begin (set! n (+ n 1)) false) 1) ((begin (set! n (+ n 1)) true) n)))", "2");
  OK("(cond (true 1 2 3))", "3");
  ERR_HAS("(cond 5)", "cond");
}

Test(forms, case_forms) {
  OK("(case 3 ((1 2) :low) ((3 4) :mid) (else :high))", "\"mid\"");
  OK("(case 9 ((1 2) :low) (else :high))", "\"high\"");
  OK("(case 9 ((1) 1))", "nil");
  OK("(case \"b\" ((\"a\") 1) ((\"b\") 2))", "2");
  OK("(case (quote x) ((x) :sym) (else :other))", "\"sym\"");
}

Test(forms, when_unless) {
  OK("(when true 1 2)", "2");
  OK("(when false 1)", "nil");
  OK("(unless false 1 2)", "2");
  OK("(unless true 1)", "nil");
  ERR_HAS("(when)", "when: expected a test");
}

Test(forms, begin_sequences) {
  OK("(begin 1 2 3)", "3");
  OK("(begin)", "nil");
  OK("(define x 1) (begin (set! x (+ x 1)) (set! x (* x 10)) x)", "20");
}

Test(forms, do_loop_and_sequence) {
  OK("(do ((i 0 (+ i 1)) (acc (list) (cons i acc))) ((= i 3) acc))", "(2 1 0)");
  OK("(define n 0) (do ((i 0 (+ i 1))) ((= i 5) n) (set! n (+ n i)))", "10");
  OK("(do ((i 0 (+ i 1))) ((= i 2)))", "nil");
  OK("(do 1 2 3)", "3"); /* sequencing shape */
}

/* ---- set! ------------------------------------------------------------------------ */
Test(forms, set_bang) {
  OK("(let ((x 1)) (set! x 5) x)", "5");
  OK("(define g 1) (set! g 2) g", "2");
  OK("(define (mk) (let ((c 0)) (fn () (set! c (+ c 1)) c)))"
     " (define a (mk)) (define b (mk)) (a) (a) (list (a) (b))",
     "(3 1)");
  OK("(define (acc) (define total 0) (fn (x) (set! total (+ total x)) total))"
     " (define f (acc)) (f 10) (f 5)",
     "15");
  ERR_HAS("(set! undefined-var-xyz 1)", "unbound symbol undefined-var-xyz");
  ERR_HAS("(set! 1 2)", "set!: expected (set! name value)");
}

/* ---- and / or ------------------------------------------------------------------------- */
Test(forms, and_or) {
  OK("(and)", "true");
  OK("(or)", "false");
  OK("(and 1 2 3)", "3");
  OK("(and 1 false 3)", "false");
  OK("(and 1 nil 3)", "nil");
  OK("(or false nil)", "nil");
  OK("(or false 7 8)", "7");
  OK("(define n 0) (and false (set! n 1)) (or true (set! n 2)) n", "0"); /* short-circuit */
}

/* ---- quote / quasiquote ------------------------------------------------------------------ */
Test(forms, quote) {
  OK("(quote (1 2 (a b)))", "(1 2 (a b))");
  OK("'sym", "sym");
  OK("''x", "(quote x)");
  OK("'()", "()");
  ERR_HAS("(quote 1 2)", "quote: expected exactly one form");
}

Test(forms, quasiquote) {
  OK("`(1 ,(+ 1 1) ,@(list 3 4) 5)", "(1 2 3 4 5)");
  OK("(let ((x 'a)) `(x ,x))", "(x a)");
  OK("`(,@(list) 1)", "(1)");
  OK("`x", "x");
  OK("(let ((xs (list 1 2))) `((nested ,@xs) ,(len xs)))", "((nested 1 2) 2)");
  /* nested quasiquote: only the innermost level-0 unquote is evaluated */
  OK("`(1 `(2 ,(3 ,(+ 1 3))))", "(1 (quasiquote (2 (unquote (3 4)))))");
  ERR_HAS(",x", "unquote outside quasiquote");
  ERR_HAS("`(1 ,@5 2)", "unquote-splicing: expected a list, got 5");
}

/* Splicing a non-list is an error in every position, including the last
 * (the language has no dotted pairs). */
Test(forms, quasiquote_splice_non_list_last) {
  ERR_HAS("`(1 ,@5)", "unquote-splicing: expected a list, got 5");
  ERR_HAS("`(,@5)", "unquote-splicing: expected a list, got 5");
  OK("`(1 ,@(list 2 3))", "(1 2 3)");
  OK("`(,@())", "()");
  OK("`(,@nil)", "()");
}

/* Inside a quasiquote a dict's values are quasiquoted too. */
Test(forms, quasiquote_dicts) {
  OK("(let ((x 2)) `{:a x :b ,x})", "{:a x :b 2}");
  OK("(let ((xs (list 1 2))) `(1 {:k (0 ,@xs)}))", "(1 {:k (0 1 2)})");
  OK("(let ((k \"n\")) `{,k ,(+ 1 1)})", "{:n 2}");
}

/* ---- defmacro ------------------------------------------------------------------------------ */
Test(forms, defmacro) {
  OK("(defmacro my-if (c a b) (list 'cond (list c a) (list 'else b))) (my-if false 1 2)", "2");
  OK("(defmacro swap! (a b) `(let ((tmp ,a)) (set! ,a ,b) (set! ,b tmp)))"
     " (define p 1) (define q 2) (swap! p q) (list p q)",
     "(2 1)");
  OK("(defmacro unless2 (c &rest body) `(if ,c nil (begin ,@body))) (unless2 false 1 2)", "2");
  /* macro arguments are not evaluated */
  OK("(defmacro quote-it (x) `(quote ,x)) (quote-it (undefined thing))", "(undefined thing)");
}

/* A top-level begin runs like its forms written one after another: a macro
 * one of them defines applies to the later ones, wherever they use it. */
Test(forms, macro_defined_in_toplevel_begin_applies_to_later_forms) {
  const char *dm = "(defmacro dm2 (x) `(list ,x ,x))";
  char src[256];
  const char *uses[][2] = {{"(dm2 1)", "(1 1)"},
                           {"(let ((y (dm2 2))) y)", "(2 2)"},
                           {"(if true (dm2 3) nil)", "(3 3)"},
                           {"((fn () (dm2 4)))", "(4 4)"}};
  for (size_t i = 0; i < sizeof uses / sizeof *uses; i++) {
    snprintf(src, sizeof src, "(begin %s %s)", dm, uses[i][0]);
    OK(src, uses[i][1]);
    snprintf(src, sizeof src, "(begin (begin %s) %s)", dm, uses[i][0]); /* nested */
    OK(src, uses[i][1]);
  }
  OK("(begin (defmacro dm3 (x) `(+ ,x 1)) (define (g) (dm3 1)) (g))", "2");
  OK("(eval '(begin (defmacro dm4 (x) `(list ,x)) (dm4 5)))", "(5)");
  /* the value is the last form's; an empty begin is nil */
  OK("(begin 1 (begin 2 (begin 3)))", "3");
  OK("(begin 1 (begin))", "nil");
}

Test(forms, macro_defined_in_begin_through_eval_form) {
  const char *src = "(begin (defmacro dm5 (x) `(list ,x ,x)) (dm5 6))";
  sx_val form = sx_read_all(src, strlen(src), SX_NIL, NULL), out;
  cr_assert_eq(sx_eval_form(vm, sx_car(form), &out), SX_DONE, "%s", errmsg(out));
  cr_assert_str_eq(printed(out), "(6 6)");
}

/* ---- guard --------------------------------------------------------------------------------- */
Test(forms, guard_matching_clause) {
  OK("(guard (e (true \"errored\")) (error \"x\"))", "\"errored\"");
  OK("(guard (e ((string? e) (str \"s:\" e)) ((number? e) (+ e 1))) (raise 41))", "42");
  OK("(guard (e (true (error-message e))) (error \"boom\"))", "\"boom\"");
  OK("(guard (e (true 1)) 99)", "99"); /* no raise: body value */
  OK("(guard (e ((= e 2) => (fn (t) (list t e)))) (raise 2))", "(true 2)");
  OK("(guard (e (else :other)) (raise 2))", "\"other\"");
}

Test(forms, guard_non_matching_reraises) {
  OK("(guard (e ((string? e) :outer)) (guard (e ((number? e) :inner)) (raise \"x\")))", "\"outer\"");
  ERR("(guard (e (false 1)) (raise \"nobody\"))", "nobody");
}

Test(forms, guard_catches_from_deep_calls) {
  OK("(define (a) (b)) (define (b) (c)) (define (c) (raise 2))"
     " (guard (e ((= e 2) (+ e 10))) (a))",
     "12");
  OK("(guard (e (true (error-message e))) (map (fn (x) (if (= x 3) (error \"three\") x)) (list 1 2 3)))",
     "\"three\"");
  OK("(guard (e (true :caught)) (car-of-nothing 1))", "\"caught\""); /* unbound symbol */
  OK("(define r (guard (e (true :first)) (raise 1))) (list r (guard (e (true :second)) (raise 2)))",
     "(\"first\" \"second\")");
}

Test(forms, guard_syntax_errors) {
  ERR_HAS("(guard)", "guard: expected (guard (var clause...) body...)");
  ERR_HAS("(guard 5 1)", "guard: expected (guard (var clause...) body...)");
}

/* ---- dynamic-wind / call/cc --------------------------------------------------------------- */
Test(forms, dynamic_wind_normal_exit) {
  OK("(define log (list))"
     " (define r (dynamic-wind (fn () (set! log (cons :before log))) (fn () (set! log (cons :during log)) 42)"
     "   (fn () (set! log (cons :after log)))))"
     " (list r (reverse log))",
     "(42 (\"before\" \"during\" \"after\"))");
}

Test(forms, dynamic_wind_after_runs_on_error) {
  OK("(define log (list))"
     " (guard (e (true (list e (reverse log))))"
     "  (dynamic-wind (fn () (set! log (cons :in log))) (fn () (raise 1)) (fn () (set! log (cons :out log)))))",
     "(1 (\"in\" \"out\"))");
}

Test(forms, call_cc_escape) {
  OK("(call/cc (fn (k) (+ 1 (k 42))))", "42");
  OK("(call/cc (fn (k) 7))", "7");
  OK("(+ 1 (call/cc (fn (k) (for-each (fn (x) (if (> x 2) (k x))) (list 1 2 3 4)) 0)))", "4");
  OK("(define (find-first p xs) (call/cc (fn (return) (for-each (fn (x) (if (p x) (return x))) xs) nil)))"
     " (list (find-first even? (list 1 3 4 5)) (find-first even? (list 1 3)))",
     "(4 nil)");
  OK("(call-with-current-continuation (fn (k) (k 1) 2))", "1");
}

/* ---- evaluation rules -------------------------------------------------------------------- */
Test(forms, special_forms_cannot_be_shadowed) {
  OK("(let ((guard 5)) (guard (e (true (list guard e))) (raise 7)))", "(5 7)");
  OK("(let ((if 1)) (if false 2 3))", "3");
  OK("((fn (quote) (quote x)) 1)", "x");
}

Test(forms, keywords_evaluate_to_strings) {
  OK(":foo", "\"foo\"");
  OK("(string? :foo)", "true");
  OK("(equal? :k \"k\")", "true");
  OK("(get {:k 1} \"k\")", "1");
}

Test(forms, dict_literals_evaluate_values) {
  OK("{:a (+ 1 2) :b (list 1 2)}", "{:a 3 :b (1 2)}");
  OK("(let ((v 5)) {:x v \"has space\" (* v 2)})", "{\"has space\" 10 :x 5}");
  OK("{}", "{}");
  OK("(dict? {:a 1})", "true");
}

/* Dict literal keys are evaluated: keywords and strings stand for
 * themselves, any other key is an expression whose value must be a string.
 * Keys and values are evaluated left to right. */
Test(forms, dict_literal_keys_are_evaluated) {
  OK("(let ((k \"x\")) {k 1})", "{:x 1}");
  OK("{(str \"a\" \"b\") 1}", "{:ab 1}");
  OK("(let ((k \"x\")) {k 1 :y 2 \"z\" 3})", "{:x 1 :y 2 :z 3}");
  OK("(define order (list)) (define (note x) (set! order (append order (list x))) x)"
     " {(note \"a\") (note 1) (note \"b\") (note 2)} order",
     "(\"a\" 1 \"b\" 2)");
  /* a later computed key replaces an earlier one */
  OK("(let ((k \"a\")) {k 1 (str \"a\") 2})", "{:a 2}");
  OK("(let ((k :kw)) {k 1})", "{:kw 1}");
  ERR_HAS("(let ((k 5)) {k 1})", "dict literal key: expected a string, got 5");
  /* a quoted literal with expression keys is the form the reader made */
  OK("'{k 1}", "(dict-literal k 1)");
}

Test(forms, empty_list) {
  OK("()", "()");
  OK("(list? ())", "true");
  OK("(equal? () (list))", "true");
  OK("(len ())", "0");
}

Test(forms, literals) {
  OK("(list true false nil 42 -3 3.5 \"s\")", "(true false nil 42 -3 3.5 \"s\")");
  ERR("undefined-symbol-abc", "unbound symbol undefined-symbol-abc");
}

Test(forms, special_form_as_value_is_an_error) { ERR_HAS("(list if)", "if is a special form, not a value"); }
