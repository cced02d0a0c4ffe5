/* test_eval.c — evaluator behaviour: closures, proper tail calls in
 * constant space (checked on the fiber's frame stack and the GC heap),
 * deep non-tail recursion, the recursion depth limit (default and lowered
 * vm->max_depth), mutual recursion, and map, filter and dict literals
 * building their results in place. */
#include "sx_test_eval.h"
#include <gc.h>
#include <stdlib.h>

TestSuite(eval, .init = setup, .fini = teardown, .timeout = 60);

/* Run src on a fresh fiber and return it, so tests can inspect its stacks. */
static sx_fiber *run_on_fiber(const char *src, sx_status *st) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(src, strlen(src), sx_string_cstr("<fiber>"), &err);
  cr_assert_neq(forms, SX_UNDEF, "read error: %s", sx_is_string(err) ? sx_str_data(err) : "?");
  sx_fiber *f = sx_fiber_new(vm);
  sx_fiber_start_forms(f, forms, sx_string_cstr("<fiber>"), false);
  *st = sx_fiber_run(f);
  return f;
}

/* ---- closures ----------------------------------------------------------- */
Test(eval, closures_capture_their_environment) {
  OK("(define (adder n) (fn (x) (+ x n))) (define add5 (adder 5)) (define add7 (adder 7))"
     " (list (add5 1) (add7 1))",
     "(6 8)");
  OK("(define x 10) (define (f) x) (let ((x 20)) (f))", "10"); /* lexical, not dynamic */
  OK("(define fs (map (fn (i) (fn () (* i i))) (list 1 2 3))) (map (fn (f) (f)) fs)", "(1 4 9)");
  OK("(define (counter) (let ((n 0)) (list (fn () (set! n (+ n 1)) n) (fn () n))))"
     " (define c (counter)) ((first c)) ((first c)) ((nth c 1))",
     "2");
  OK("(let ((x 1)) (let ((f (fn () x))) (set! x 2) (f)))", "2"); /* captures the binding */
}

Test(eval, higher_order_and_composition) {
  OK("((compose inc (fn (x) (* x 2))) 5)", "11");
  OK("((partial + 1 2) 3 4)", "10");
  OK("(apply + 1 2 (list 3 4))", "10");
}

/* ---- tail calls ------------------------------------------------------------- */
Test(eval, ten_million_iteration_named_let_in_constant_space) {
  size_t heap_before = GC_get_heap_size();
  sx_status st;
  sx_fiber *f = run_on_fiber("(let loop ((i 0)) (if (< i 10000000) (loop (+ i 1)) i))", &st);
  cr_assert_eq(st, SX_DONE, "%s", st == SX_ERROR ? errmsg(f->error) : "suspended");
  cr_assert_str_eq(printed(f->value), "10000000");
  cr_assert_leq(f->kcap, 256, "frame stack grew to %zu frames", f->kcap);
  cr_assert_leq(f->vcap, 256, "operand stack grew to %zu slots", f->vcap);
  size_t heap_after = GC_get_heap_size();
  cr_assert_lt(heap_after, heap_before + 64u * 1024 * 1024, "heap grew from %zu to %zu", heap_before,
               heap_after);
}

Test(eval, allocating_tail_loop_keeps_heap_bounded) {
  sx_status st;
  sx_fiber *f = run_on_fiber("(let loop ((i 0) (junk nil))"
                             " (if (< i 2000000) (loop (+ i 1) (list i i i {:k i})) i))",
                             &st);
  cr_assert_eq(st, SX_DONE, "%s", st == SX_ERROR ? errmsg(f->error) : "suspended");
  cr_assert_str_eq(printed(f->value), "2000000");
  cr_assert_leq(f->kcap, 256);
  /* 2M iterations allocate far more than 256 MB if nothing were freed */
  cr_assert_lt(GC_get_heap_size(), 256u * 1024 * 1024, "heap %zu", GC_get_heap_size());
}

Test(eval, tail_positions_do_not_grow_the_stack) {
  const char *srcs[] = {
      "(define (f i) (cond ((= i 0) :done) (else (f (- i 1))))) (f 1000000)",
      "(define (f i) (when (> i 0) (f (- i 1)))) (f 1000000) :done",
      "(define (f i) (and true (if (= i 0) :done (f (- i 1))))) (f 1000000)",
      "(define (f i) (or false (if (= i 0) :done (f (- i 1))))) (f 1000000)",
      "(define (f i) (let ((j (- i 1))) (if (< j 0) :done (f j)))) (f 1000000)",
      "(define (f i) (begin 1 (if (= i 0) :done (f (- i 1))))) (f 1000000)",
      "(define (f i) (case i ((0) :done) (else (f (- i 1))))) (f 1000000)",
      "(define (f i) (if (= i 0) :done (apply f (list (- i 1))))) (f 1000000)",
      "(do ((i 0 (+ i 1))) ((= i 1000000) :done))",
  };
  for (size_t k = 0; k < sizeof srcs / sizeof *srcs; k++) {
    sx_vm_close(vm);
    vm = sx_stdlib_vm_create();
    vm->max_depth = 10000; /* a stack-growing loop would hit this */
    sx_status st;
    sx_fiber *f = run_on_fiber(srcs[k], &st);
    cr_assert_eq(st, SX_DONE, "%s: %s", srcs[k], st == SX_ERROR ? errmsg(f->error) : "suspended");
    cr_assert_str_eq(printed(f->value), "\"done\"", "%s", srcs[k]);
    cr_assert_leq(f->kcap, 256, "%s: frame stack grew to %zu", srcs[k], f->kcap);
  }
}

Test(eval, mutual_tail_recursion_is_constant_space) {
  vm->max_depth = 10000;
  OK("(define (ev? n) (if (= n 0) true (od? (- n 1))))"
     " (define (od? n) (if (= n 0) false (ev? (- n 1))))"
     " (list (ev? 1000000) (od? 1000001))",
     "(true true)");
}

/* ---- deep recursion and the depth limit ---------------------------------------- */
Test(eval, deep_non_tail_recursion_works) {
  /* 100,000 frames is well under the default limit: it must succeed */
  OK("(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (f 100000)", "100000");
  OK("(define (build n) (if (= n 0) (list) (cons n (build (- n 1))))) (len (build 100000))", "100000");
  OK("(len (map (fn (x) (* x x)) (range 100000)))", "100000");
}

Test(eval, runaway_recursion_is_a_depth_error) {
  ERR_HAS("(define (f n) (+ 1 (f n))) (f 1)", "recursion depth limit exceeded");
  ERR_HAS("(define (f x) (map f (list x))) (f 1)", "recursion depth limit exceeded");
  ERR_HAS("(define (f x) (+ 1 (apply f (list x)))) (f 1)", "recursion depth limit exceeded");
  ERR_HAS("(define (f x) (guard (e (false 1)) (+ 1 (f x)))) (f 1)", "recursion depth limit exceeded");
  ERR_HAS("(define (f x) (dynamic-wind (fn () 1) (fn () (+ 1 (f x))) (fn () 2))) (f 1)",
          "recursion depth limit exceeded");
  ERR_HAS("(define (f x) (+ 1 (eval (list (quote f) x)))) (f 1)", "recursion depth limit exceeded");
  /* the machine is still usable afterwards */
  OK("(+ 1 2)", "3");
}

Test(eval, depth_error_is_catchable) {
  OK("(define (f n) (+ 1 (f n)))"
     " (guard (e ((string-contains? (error-message e) \"recursion depth\") :caught)) (f 1))",
     "\"caught\"");
}

Test(eval, lowered_max_depth) {
  vm->max_depth = 1000;
  ERR_HAS("(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (f 5000)", "recursion depth limit exceeded");
  OK("(f 100)", "100");
  /* tail calls are unaffected by the limit */
  OK("(let loop ((i 0)) (if (< i 100000) (loop (+ i 1)) i))", "100000");
}

/* The limit counts SX calls, not machine frames: docs/language.md promises
 * 1,000,000 nested calls. (g n) makes n + 1 nested calls. */
Test(eval, depth_limit_is_the_documented_number_of_calls) {
  cr_assert_eq(vm->max_depth, 1000000);
  OK("(define (g n) (if (= n 0) 0 (+ 1 (g (- n 1))))) (g 999999)", "999999");
  ERR("(g 1000000)", "recursion depth limit exceeded: 1000001 nested calls (the limit is 1000000)");
  /* a function that creates closures takes the same number of calls */
  OK("(define (b n) (if (= n 0) (list) (let ((k (fn () n))) (cons (k) (b (- n 1))))))"
     " (len (b 999999))",
     "999999");
  ERR("(len (b 1000000))", "recursion depth limit exceeded: 1000001 nested calls (the limit is 1000000)");
}

/* However many frames each call leaves below it, the limit is in calls,
 * through callbacks and apply too; the message says how deep it went. */
Test(eval, depth_limit_counts_calls_whatever_their_frames) {
  vm->max_depth = 1000;
  const char *fns[] = {
      "(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1)))))",                    /* two frames a call */
      "(define (f n) (if (= n 0) 0 (+ 1 (* 1 (f (- n 1))))))",              /* three */
      "(define (f n) (if (= n 0) 0 (let ((x (f (- n 1)))) (+ x 1))))",      /* let */
      "(define (f n) (if (= n 0) 0 (+ 1 (first (map f (list (- n 1)))))))", /* map callback */
      "(define (f n) (if (= n 0) 0 (+ 1 (apply f (list (- n 1))))))"};
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
    OK(fns[i], "f");
    OK("(f 999)", "999");
    ERR("(f 1000)", "recursion depth limit exceeded: 1001 nested calls (the limit is 1000)");
  }
  /* code that leaves very many frames per call fills the frame stack first */
  OK("(define (h n) (if (= n 0) 0 (+ 1 (+ 1 (+ 1 (+ 1 (+ 1 (+ 1 (+ 1 (+ 1 (+ 1 (h (- n 1)))))))))))))", "h");
  ERR_HAS("(h 1000)", "nested calls filled all 8000 frames of the stack");
  /* tail calls do not count */
  OK("(define (t n) (if (= n 0) :done (t (- n 1)))) (t 100000)", "\"done\"");
}

Test(eval, runaway_macro_expansion_is_an_error) {
  ERR_HAS("(defmacro m (x) (list (quote m) x)) (m 1)", "macro expansion too deep");
}

Test(eval, deeply_nested_source_does_not_crash) {
  /* 100,000 nested calls in the source text: either evaluates or reports an
   * error, never overflows the C stack */
  size_t depth = 100000;
  char *src = malloc(depth * 6 + depth + 8);
  size_t n = 0;
  for (size_t i = 0; i < depth; i++) n += (size_t)sprintf(src + n, "(+ 1 ");
  n += (size_t)sprintf(src + n, "0");
  for (size_t i = 0; i < depth; i++) src[n++] = ')';
  src[n] = 0;
  sx_val out;
  sx_status st = run_src(src, &out);
  free(src);
  if (st == SX_DONE) cr_assert_str_eq(printed(out), "100000");
  else cr_assert(strlen(errmsg(out)) > 0);
}

/* ---- mutual recursion ---------------------------------------------------------- */
Test(eval, mutual_recursion_non_tail) {
  OK("(define (a n) (if (= n 0) (list) (cons :a (b (- n 1)))))"
     " (define (b n) (if (= n 0) (list) (cons :b (a (- n 1)))))"
     " (a 5)",
     "(\"a\" \"b\" \"a\" \"b\" \"a\")");
}

Test(eval, recursion_results) {
  OK("(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 20)", "6765");
  OK("(define (fact n) (if (= n 0) 1 (* n (fact (- n 1))))) (fact 20)", "2432902008176640000");
}

Test(eval, global_redefinition_is_seen_by_callers) {
  OK("(define (g) 1) (define (f) (g)) (define (g) 2) (f)", "2");
  OK("(define (h x) (+ x 1)) (define + -) (h 5)", "4"); /* rebinding a primitive */
}

Test(eval, eval_form_and_apply_api) {
  sx_val form = sx_read_all("(* 6 7)", 7, SX_NIL, NULL);
  sx_val out;
  cr_assert_eq(sx_eval_form(vm, sx_car(form), &out), SX_DONE);
  cr_assert_str_eq(printed(out), "42");
  sx_val plus = sx_global_ref(vm, "+");
  sx_val args[] = {sx_int(40), sx_int(2)};
  cr_assert_eq(sx_apply(vm, plus, 2, args, &out), SX_DONE);
  cr_assert_str_eq(printed(out), "42");
  cr_assert_eq(sx_apply(vm, sx_int(3), 0, NULL, &out), SX_ERROR);
}

/* Tail calls in functions that create no closures reuse the caller's
 * environment; these shapes would give wrong answers if a reused
 * environment were still visible to anything. */
Test(eval, tail_calls_reusing_environments) {
  /* arguments are read from the old bindings before any is overwritten */
  OK("(define (g a b n) (if (= n 0) (list a b) (g b a (- n 1)))) (g 1 2 3)", "(2 1)");
  /* mutual recursion between functions of different shapes */
  OK("(define (ev? n) (if (= n 0) true (od? (- n 1) 0)))"
     " (define (od? n z) (if (= n 0) false (ev? (- n 1)))) (ev? 100001)",
     "false");
  /* a tail call from inside a let body */
  OK("(define (f a b) (let ((x a) (y b)) (if (> x 0) (f (- x 1) (+ y 2)) y))) (f 5 0)", "10");
  /* a loop accumulating a list */
  OK("(define (cd n acc) (if (= n 0) acc (cd (- n 1) (cons n acc)))) (cd 4 ())", "(1 2 3 4)");
  /* functions that create closures keep a fresh environment per call */
  OK("(define (h n acc) (if (= n 0) (map (fn (k) (k)) acc) (h (- n 1) (cons (fn () n) acc))))"
     " (h 3 ())",
     "(1 2 3)");
  /* nine operands (more than are bound without the operand stack) */
  OK("(define (r a b c d e f g h n) (if (= n 0) (list a b c d e f g h)"
     " (r h a b c d e f g (- n 1)))) (r 1 2 3 4 5 6 7 8 3)",
     "(6 7 8 1 2 3 4 5)");
  /* an operand that needs the machine, mid-way through the list */
  OK("(define (id x) x) (define (t a b n) (if (= n 0) (list a b) (t (+ b 1) (id a) (- n 1)))) (t 0 10 4)",
     "(2 12)");
  /* a tail call with the wrong number of arguments is still an arity error */
  ERR_HAS("(define (w a b n) (if (= n 0) a (w a (- n 1)))) (w 1 2 3)", "expected 3 arguments (a b n), got 2");
  /* a named-let loop calling itself: its own closure environment survives */
  OK("(let loop ((i 0) (acc ())) (if (< i 3) (loop (+ i 1) (cons i acc)) acc))", "(2 1 0)");
  /* a guard body is not a tail position: the handler still sees its variables */
  OK("(define (k x) (guard (e (true (list x e))) (raise-it x))) (define (raise-it v) (raise (+ v 1)))"
     " (k 5)",
     "(5 6)");
}

/* Arithmetic on the inline path falls back to the primitives for anything
 * that is not two small integers, and follows a redefinition. */
Test(eval, inline_arithmetic_fallbacks) {
  OK("(define (f x) (+ x 1)) (f 1.5)", "2.5");
  OK("(define (f x) (* x 2)) (f 4611686018427387903)", "9223372036854775806");
  ERR_HAS("(define (f x) (+ x 1)) (f \"a\")", "+: expected a number, got \"a\"");
  OK("(define (sq x) (* x x)) (sq 3)", "9");
  /* every operator across both ends of the fixnum range, locals and
   * constants, so the tagged-word arithmetic must hand over exactly at
   * the edges */
  OK("(define (ops a b) (list (+ a b) (- a b) (* a b) (< a b) (> a b) (<= a b) (>= a b) (= a b)))"
     " (list (ops 4611686018427387903 1) (ops -4611686018427387904 1) (ops 1 -4611686018427387904)"
     " (ops 4611686018427387903 -2) (ops -4611686018427387904 -1) (ops 2147483648 2147483648)"
     " (ops -3 5) (ops 0 -7) (ops 7 7))",
     "((4611686018427387904 4611686018427387902 4611686018427387903 false true false true false)"
     " (-4611686018427387903 -4611686018427387905 -4611686018427387904 true false true false false)"
     " (-4611686018427387903 4611686018427387905 -4611686018427387904 false true false true false)"
     " (4611686018427387901 4611686018427387905 -9223372036854775806 false true false true false)"
     " (-4611686018427387905 -4611686018427387903 4611686018427387904 true false true false false)"
     " (4294967296 0 4611686018427387904 false false true true true)"
     " (2 -8 -15 true false true false false) (-7 7 0 false true false true false)"
     " (14 0 49 false false true true true))");
  OK("(define (g a) (list (+ a 4611686018427387903) (- a 4611686018427387903) (* a 2)))"
     " (g -4611686018427387904)",
     "(-1 -9223372036854775807 -9223372036854775808)");
  OK("(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 20)", "6765");
  /* last: the redefinition stays for the rest of this VM */
  OK("(define (f x) (- x 1)) (define (- a b) (list a b)) (f 5)", "(5 1)");
}

/* An interrupt stops an endless loop at its next call, and no guard can
 * catch it (so Ctrl-C always gets back to the prompt); dynamic-wind
 * after-thunks still run on the way out, and the VM stays usable. */
Test(eval, interrupt_is_not_caught_by_guard) {
  sx_defprim(vm, "trip!", p_trip, 0, 0);
  ERR("(guard (e (true \"caught\")) (trip!) (let loop ((i 0)) (loop (+ i 1))))", "interrupted");
  OK("(define log ())", "log");
  ERR("(guard (e (true \"caught\"))"
      "  (dynamic-wind (fn () nil)"
      "                (fn () (trip!) (let loop () (loop)))"
      "                (fn () (set! log (cons \"after\" log)))))",
      "interrupted");
  OK("log", "(\"after\")");
  OK("(guard (e (true \"caught\")) (error \"ordinary\"))", "\"caught\"");
  /* a long primitive notices it too */
  ERR("(guard (e (true \"caught\")) (trip!) (len (range 3000000)))", "interrupted");
  OK("(len (range 3000000))", "3000000");
}

/* A closure-free function's environment goes back to a pool when the call
 * returns and is handed to a later call; these shapes would show it if an
 * environment were given back while still in use. */
Test(eval, returned_environments_are_reused_safely) {
  OK("(define (sum-to n) (if (= n 0) 0 (+ n (sum-to (- n 1))))) (sum-to 10000)", "50005000");
  /* the caller's bindings survive calls of functions of the same shape */
  OK("(define (g x) (* x 10)) (define (h x) (list (g (+ x 1)) x (g (+ x 2)) x)) (h 5)", "(60 5 70 5)");
  /* closures made by a callee keep their own environments */
  OK("(define (mk x) (fn () x))"
     " (define (collect n acc) (if (= n 0) acc (collect (- n 1) (cons (mk n) acc))))"
     " (map (fn (k) (k)) (collect 3 ()))",
     "(1 2 3)");
  /* an error leaving a call, and calls after it */
  OK("(define (bad x) (+ x (raise \"no\"))) (define (ok x) (+ x 1))"
     " (list (guard (e (true 0)) (bad 1)) (ok 2) (ok 3))",
     "(0 3 4)");
  /* a let inside a closure-free function, and a nested call in its init */
  OK("(define (q x) (let ((y (g x))) (+ y (g y)))) (q 2)", "220");
  /* callbacks of the higher-order primitives give their environments back
   * too: results built from the arguments, nesting, an error mid-walk */
  OK("(define (pair x) (list x (* x 2))) (map pair (list 1 2 3))", "((1 2) (2 4) (3 6))");
  OK("(map (fn (x) (let ((y (+ x 1))) (list x y))) (list 1 2))", "((1 2) (2 3))");
  OK("(reduce (fn (acc x) (cons x acc)) () (list 1 2 3))", "(3 2 1)");
  OK("(define (outer x) (map (fn (y) (+ x y)) (list 10 20))) (map outer (list 1 2))", "((11 21) (12 22))");
  OK("(list (filter (fn (x) (> x 1)) (list 1 2 3)) (some (fn (x) (> x 1)) (list 1 2 3))"
     " (every? (fn (x) (> x 0)) (list 1 2 3)) (map-indexed (fn (i x) (list i x)) (list \"a\" \"b\")))",
     "((2 3) true true ((0 \"a\") (1 \"b\")))");
  OK("(list (guard (e (true \"err\")) (map (fn (x) (if (= x 2) (raise x) x)) (list 1 2 3)))"
     " (map (fn (x) (* x x)) (list 1 2 3)))",
     "(\"err\" (1 4 9))");
  /* deep non-tail recursion still reaches the depth limit cleanly */
  ERR_HAS("(define (down n) (+ 1 (down n))) (down 1)", "recursion depth limit exceeded");
}

/* direct_bind takes a global operator's value without quick() and decides
 * from the callee's bind_argc alone; an `if` whose test is inline
 * arithmetic runs it directly. The edges: an unbound global, a callee
 * that makes closures or takes &rest, a wrong count, a test on a float
 * or on a wrong type. */
Test(eval, non_tail_call_and_test_edges) {
  OK("(define (id x) x) (define (k) (list (id 1) (id (+ 1 1)))) (k)", "(1 2)");
  ERR("(define (k2) (list (nope 1))) (k2)", "unbound symbol nope");
  OK("(define (mk x) (fn () x)) (define (more &rest xs) xs) (list ((mk 1)) (more 1 2) (more) (id 3))",
     "(1 (1 2) () 3)");
  ERR_HAS("(list (id 1 2))", "id: expected 1 argument (x), got 2");
  OK("(define (size x) (if (< x 0) :neg (if (< x 0.5) :small :big))) (list (size -1) (size 0.25) (size 2))",
     "(\"neg\" \"small\" \"big\")");
  ERR_HAS("(size nil)", "<: expected numbers or strings");
}

/* ---- literal dict keys ------------------------------------------------------
 * Literal strings and keywords of up to 64 bytes are shared objects, and a
 * small dict looks for the key object itself before comparing bytes. The
 * edges: keys built at run time, long literals, dicts past the identity
 * scan, and the byte order of printing and iteration. */
Test(eval, literal_keys_are_shared_and_lookups_still_compare_bytes) {
  OK("(list (eq? :amt :amt) (eq? :amt \"amt\") (= :amt (str \"am\" \"t\")))", "(true true true)");
  OK("(let ((d {:b 1 :a 2 :c 3})) (list (get d :a) (get d (str \"a\")) (get d \"c\") (get d :z) (keys d) d))",
     "(2 2 3 nil (\"a\" \"b\" \"c\") {:a 2 :b 1 :c 3})");
  /* built keys, literal lookups (and the other way round) */
  OK("(let ((d (assoc (assoc {} (str \"ty\" \"pe\") 1) (str \"amt\") 2))) (list (get d :type) (get d :amt)))",
     "(1 2)");
  OK("(get {:k1 1 :k2 2 :k3 3 :k4 4 :k5 5 :k6 6 :k7 7 :k8 8 :k9 9 :k10 10} :k9)", "9");
  OK("(get (assoc {} (str (join \"\" (map (fn (i) \"x\") (range 70)))) 1)"
     " \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\")",
     "1");
  OK("(reduce (fn (acc r) (+ acc (get r :amt))) 0 (map (fn (i) {:amt i :type \"t\"}) (range 100)))", "4950");
}

/* ---- loops as loops ----------------------------------------------------------
 * A tail self-call of a closure-free named let or defined function
 * (NF_SELF) rebinds the function's environment in place and jumps, also
 * through lets and with primitive calls among the operands. The edges:
 * closures capturing loop variables, the name rebound by set!, a
 * redefined global, raising operands, internal defines. */
Test(eval, self_tail_calls_run_as_loops_in_constant_space) {
  const char *srcs[] = {
      "(let loop ((i 0)) (let ((j (+ i 1))) (if (< j 1000000) (loop j) j)))",
      "(let loop ((i 0) (acc (list))) (if (< i 1000000) (loop (+ i 1) (cons i (list))) i))",
      "(define (f i) (let* ((a i) (b (+ a 1))) (cond ((>= b 1000000) b) (else (f b))))) (f 0)",
  };
  for (size_t k = 0; k < sizeof srcs / sizeof *srcs; k++) {
    sx_status st;
    sx_fiber *f = run_on_fiber(srcs[k], &st);
    cr_assert_eq(st, SX_DONE, "%s: %s", srcs[k], st == SX_ERROR ? errmsg(f->error) : "suspended");
    cr_assert_str_eq(printed(f->value), "1000000", "%s", srcs[k]);
    cr_assert_leq(f->kcap, 256, "%s: frame stack grew to %zu frames", srcs[k], f->kcap);
  }
}

Test(eval, self_tail_call_edges) {
  OK("(let loop ((i 0) (acc (list))) (if (< i 5) (loop (+ i 1) (cons i acc)) acc))", "(4 3 2 1 0)");
  /* a closure over the loop variables: the general path, fresh bindings */
  OK("(let loop ((i 0) (acc (list))) (if (< i 3) (loop (+ i 1) (cons (fn () i) acc))"
     " (map (fn (f) (f)) acc)))",
     "(2 1 0)");
  /* the name rebound: the call goes to the new value */
  OK("(define (other x) :other) (let loop ((i 0)) (if (= i 0) (begin (set! loop other) (loop 1)) i))",
     "\"other\"");
  OK("(define (h x) :h) (define (g n) (if (= n 3) (begin (set! g h) (g 0)) (g (+ n 1)))) (g 0)", "\"h\"");
  /* internal defines start undefined again on every iteration */
  OK("(define (f n) (define m (* n 2)) (cond ((> n 3) m) (else (f (+ n 1))))) (f 0)", "8");
  OK("(define (f n acc) (if (= n 0) acc (let ((x (* n n))) (f (- n 1) (+ acc x))))) (f 10 0)", "385");
  /* operands that raise, on the loop path */
  ERR_HAS("(let loop ((i 0)) (if (< i 3) (loop (+ i \"a\")) i))", "+");
  ERR_HAS("(let loop ((i 0)) (if (< i 3) (loop (cons i no-such-var)) i))", "no-such-var");
  ERR_HAS("(let loop ((i 0)) (if (< i 3) (loop no-such-var) i))", "no-such-var");
  /* a float operand leaves the fixnum path but stays on the loop */
  OK("(let loop ((x 0.5) (n 0)) (if (< n 4) (loop (* x 2) (+ n 1)) x))", "8.0");
}

/* ---- loops run in C ------------------------------------------------------------
 * run_loop keeps a loop's iterations out of the machine while each goes
 * through `if`s with quick tests to a tail call that rebinds in place,
 * and runs the same call again with only its operands evaluated
 * (rebind_again). The edges: an operator that is a parameter (rebound by
 * the iteration), two self calls taking turns, a fixnum overflow in an
 * operand, a test that is not quick, a result that is a call which cannot
 * rebind, an operand that raises after some iterations. */
Test(eval, loops_run_in_c_edges) {
  /* the operator is a parameter: checked on every iteration */
  OK("(define (f g n acc) (if (> n 0) (g g (- n 1) (+ acc n)) acc)) (f f 100 0)", "5050");
  OK("(define (a g h n) (if (= n 0) :a (g h g (- n 1))))"
     "(define (b g h n) (if (= n 0) :b (g h g (- n 1))))"
     "(list (a b a 3) (a b a 4))",
     "(\"b\" \"a\")");
  /* two self calls taking turns */
  OK("(let loop ((i 0) (a 0) (b 0))"
     "  (cond ((>= i 10) (list a b)) ((< i 5) (loop (+ i 1) (+ a i) b)) (else (loop (+ i 1) a (+ b i)))))",
     "(10 35)");
  /* crossing the fixnum range: the general path, then back on the loop */
  OK("(let loop ((i 4611686018427387900) (n 0)) (if (< n 10) (loop (+ i 1) (+ n 1)) i))",
     "4611686018427387910");
  /* a test that is not quick, and a loop inside a loop */
  OK("(let loop ((i 0) (acc 0)) (if (even? i) (loop (+ i 1) (+ acc 1))"
     " (if (< i 9) (loop (+ i 1) acc) acc)))",
     "5");
  OK("(let outer ((i 0) (acc 0)) (if (< i 10)"
     " (outer (+ i 1) (+ acc (let inner ((j 0) (s 0)) (if (< j i) (inner (+ j 1) (+ s j)) s)))) acc))",
     "120");
  /* the loop ends in a call that cannot rebind */
  OK("(define (g x) (list x x)) (let loop ((i 0)) (if (< i 3) (loop (+ i 1)) (g i)))", "(3 3)");
  /* an operand raises after some iterations */
  ERR_HAS("(let loop ((i 0) (x 1)) (if (< i 5) (loop (+ i 1) (if (< i 3) 1 \"s\")) (+ x 1)))", "+");
  ERR_HAS("(let loop ((i 0)) (if (< i 5) (loop (+ i 1)) (car i)))", "car");
}

/* Inline arithmetic by operand kind (ashape): a local of the current frame,
 * a constant, a call that needs the machine, anything else; each with a
 * fixnum result, a boxed or float result, and an operand of the wrong type. */
Test(eval, arith_operand_kinds) {
  OK("(define (one) 1) (define (half) 0.5) (define (s) \"s\") (define big 4611686018427387903)", "big");
  OK("(let ((x 2) (y 3)) (list (+ x 1) (- x y) (* x y) (< x y) (+ x 0.5) (+ x big)))",
     "(3 -1 6 true 2.5 4611686018427387905)");
  OK("(list (+ (one) (one)) (- (one) 1) (+ 1 (one)) (* (half) (one)) (< (one) (half)))", "(2 0 2 0.5 false)");
  OK("(let ((x 1)) (let ((y 2)) (list (+ x y) (- (+ x y) (one)) (+ big (one)))))",
     "(3 2 4611686018427387904)");
  ERR_HAS("(+ (one) (s))", "+");
  ERR_HAS("(let ((x \"a\")) (- x 1))", "-");
  ERR_HAS("(< (s) 1)", "<");
}

/* ---- calls in arithmetic operands ----------------------------------------------
 * A closure-free call with quick operands as an operand of inline
 * arithmetic (AK_ENTER) is entered straight from the arithmetic's frame,
 * which stands for its K_RET frame as well (arith_enter). The edges:
 * either operand or both, an operator that is a parameter, callees that
 * make closures or take &rest, a wrong argument count, an operator
 * rebound to a primitive or unbound, results that are not fixnums, the
 * depth limit, an error or an escape leaving the callee. */
Test(eval, calls_in_arith_operands_edges) {
  OK("(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 20)", "6765");
  OK("(define (sq x) (* x x))"
     " (define (f a b) (list (+ (sq a) b) (- a (sq b)) (+ (sq a) (sq b)) (< (sq a) (sq (- b 2)))))"
     " (f 3 4)",
     "(13 -13 25 false)");
  /* the operator is a parameter, and then not a closure-free function */
  OK("(define (twice g x) (+ (g x) (g (+ x 1)))) (twice sq 3)", "25");
  OK("(twice abs -3)", "5");
  OK("(define (mk x) ((fn () (* x 2)))) (list (+ (mk 1) (mk 2)) (twice mk 1))", "(6 6)");
  OK("(define (total &rest xs) (reduce + 0 xs)) (+ (total 1 2) (total 3))", "6");
  ERR_HAS("(+ (sq 1 2) 1)", "sq: expected 1 argument (x), got 2");
  /* analysed before g existed; then g rebound to a primitive; unbound */
  OK("(define (h x) (+ (g x) 1)) (define (g x) (* x 10)) (h 1)", "11");
  OK("(set! g abs) (h -5)", "6");
  ERR_HAS("(define (u x) (+ (nope x) 1)) (u 1)", "unbound symbol nope");
  /* results that are not fixnums go to the primitive */
  OK("(define (half x) (/ x 2.0)) (define (id x) x)"
     " (list (+ (half 1) (half 2)) (+ (id 4611686018427387903) (id 1)) (< (half 1) (id 1)))",
     "(1.5 4611686018427387904 true)");
  ERR_HAS("(define (s x) \"s\") (+ (s 1) (id 1))", "+: expected a number");
  /* an error or an escape leaves a callee; the environments given back
   * afterwards are still sound */
  OK("(define (bad x) (if (= x 3) (raise :three) x))"
     " (define (sum n) (if (= n 0) 0 (+ (bad n) (sum (- n 1)))))"
     " (list (guard (e (true e)) (sum 5)) (sum 2) (+ (sq 2) (sq 3)))",
     "(\"three\" 3 13)");
  OK("(define (esc k x) (if (= x 2) (k :out) x))"
     " (define (walk k n) (if (= n 0) 0 (+ (esc k n) (walk k (- n 1)))))"
     " (list (call/cc (fn (k) (walk k 5))) (walk (fn (v) v) 1) (fib 10))",
     "(\"out\" 1 55)");
}

/* The arithmetic's frame is the call's only frame, so the depth limit
 * counts these calls as any others, and the recursion takes one frame a
 * call: 10,000 calls deep fit in 16,384 frames (two a call would not). */
Test(eval, calls_in_arith_operands_take_one_frame) {
  vm->max_depth = 1000;
  const char *fns[] = {"(define (d n) (if (= n 0) 0 (+ (d (- n 1)) 1)))",
                       "(define (d n) (if (= n 0) 0 (+ 1 (d (- n 1)))))",
                       "(define (d n) (if (= n 0) 0 (+ (d 0) (d (- n 1)))))"};
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
    OK(fns[i], "d");
    OK("(list (d 999) (d 3))", i == 2 ? "(0 0)" : "(999 3)");
    ERR("(d 1000)", "recursion depth limit exceeded: 1001 nested calls (the limit is 1000)");
  }
  vm->max_depth = 1000000;
  sx_status st;
  sx_fiber *f = run_on_fiber("(define (d n) (if (= n 0) 0 (+ (d (- n 1)) 1))) (d 10000)", &st);
  cr_assert_eq(st, SX_DONE, "%s", st == SX_ERROR ? errmsg(f->error) : "suspended");
  cr_assert_str_eq(printed(f->value), "10000");
  cr_assert_leq(f->kcap, 16384, "the frame stack grew to %zu frames", f->kcap);
}

/* ---- fiber stacks are reused ------------------------------------------------
 * A fiber that ends (done or failed) hands its stacks to the VM for the next
 * new fiber, so a top-level evaluation allocates none. The edges: a
 * suspended fiber keeps them, a restarted fiber gets stacks again, large
 * stacks are not kept. */
Test(eval, ended_fibers_hand_their_stacks_to_the_next) {
  sx_status st;
  sx_fiber *a = run_on_fiber("(+ 1 2)", &st);
  cr_assert_eq(st, SX_DONE);
  cr_assert_null(a->ks, "a finished fiber gives its stacks back");
  cr_assert_not_null(vm->spare_ks);
  sx_kframe *spare = vm->spare_ks;
  sx_fiber *b = sx_fiber_new(vm);
  cr_assert_eq(b->ks, spare, "the next fiber takes them");
  cr_assert_null(vm->spare_ks);
  /* an error ends a fiber too */
  sx_fiber *c = run_on_fiber("(car 1)", &st);
  cr_assert_eq(st, SX_ERROR);
  cr_assert_null(c->ks);
  /* a suspended fiber keeps its stacks and resumes on them */
  sx_fiber *d = run_on_fiber("(+ 1 (perform :x))", &st);
  cr_assert_eq(st, SX_SUSPENDED);
  cr_assert_not_null(d->ks);
  cr_assert_eq(sx_fiber_resume(d, sx_fixnum(41)), SX_DONE);
  cr_assert_str_eq(printed(d->value), "42");
  /* a finished fiber started again gets stacks again */
  sx_val err = SX_NIL;
  sx_fiber_start_forms(a, sx_read_all("(* 6 7)", 7, SX_NIL, &err), SX_NIL, false);
  cr_assert_not_null(a->ks);
  cr_assert_eq(sx_fiber_run(a), SX_DONE);
  cr_assert_str_eq(printed(a->value), "42");
  /* a deep recursion's grown stacks are not kept */
  sx_fiber *e = run_on_fiber("(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1))))) (deep 5000)", &st);
  cr_assert_eq(st, SX_DONE);
  cr_assert_gt(e->kcap, 1024);
  cr_assert(vm->spare_ks == NULL || vm->spare_kcap <= 1024);
}

/* map, map-indexed and filter build their result front to back in place
 * (the walk frame's tail cell): the result is right at every edge, a walk
 * left early (escape, error caught by a guard) leaves nothing visible, and
 * a walk started again builds a list of its own. */
Test(eval, map_and_filter_build_their_result_in_order) {
  OK("(list (map (fn (x) x) (list)) (filter odd? (list)) (filter odd? (list 2 4)) (map-indexed + (list)))",
     "(() () () ())");
  OK("(list (map inc (list 1)) (filter odd? (list 1)) (filter odd? (list 2 3)) (filter odd? (list 3 2)))",
     "((2) (1) (3) (3))");
  OK("(map-indexed (fn (i x) (list i x)) (list :a :b :c))", "((0 \"a\") (1 \"b\") (2 \"c\"))");
  OK("(let ((ys (map (fn (x) (* x 3)) (range 100000)))) (list (len ys) (first ys) (nth ys 99999)))",
     "(100000 0 299997)");
  OK("(let ((zs (filter even? (range 100001)))) (list (len zs) (first zs) (last zs)))", "(50001 0 100000)");
  /* the input list is left as it was */
  OK("(define xs (list 1 2 3)) (map inc xs) (filter odd? xs) xs", "(1 2 3)");
  /* left early, then walked again with the same function */
  OK("(define (f x) (if (= x 3) (error \"three\") (* x 10)))"
     " (list (guard (e (true :caught)) (map f (list 1 2 3 4))) (map f (list 1 2)))",
     "(\"caught\" (10 20))");
  OK("(list (call/cc (fn (k) (map (fn (x) (if (= x 2) (k :out) x)) (list 1 2 3)))) (map inc (list 1 2)))",
     "(\"out\" (2 3))");
  /* nested walks each keep their own list */
  OK("(map (fn (x) (filter (fn (y) (< y x)) (list 1 2 3))) (list 1 2 3 4))", "(() (1) (1 2) (1 2 3))");
}

/* A dict literal of up to SX_DICT_SMALL_MAX entries is one allocation whose
 * values are set as they are evaluated: every evaluation makes a new dict,
 * values come in order whatever they do (perform is in test_perform.c),
 * and a literal left early leaves nothing behind. */
Test(eval, dict_literals_built_in_place) {
  OK("(define (mk x) {:b (* x 2) :a x}) (list (mk 1) (mk 2) (= (mk 3) (mk 3)) (eq? (mk 3) (mk 3)))",
     "({:a 1 :b 2} {:a 2 :b 4} true false)");
  OK("(let ((x nil)) {:n x :f (= 1 2) :l (list x)})", "{:f false :l (nil) :n nil}");
  OK("(let ((x 1)) {:a {:b {:c x}}})", "{:a {:b {:c 1}}}");
  OK("(define log (list)) (define (note v) (set! log (cons v log)) v)"
     " (list {:c (note 3) :a (note 1) :b (note 2)} log)",
     "({:a 1 :b 2 :c 3} (3 2 1))");
  OK("(define (sixteen x) {:a x :b x :c x :d x :e x :f x :g x :h x :i x :j x :k x :l x :m x :n x :o x :p x})"
     " (list (len (keys (sixteen 1))) (get (sixteen 5) :p) (get (assoc (sixteen 1) :q 2) :q))",
     "(16 5 2)");
  OK("(define (seventeen x) {:a x :b x :c x :d x :e x :f x :g x :h x :i x :j x :k x :l x :m x :n x :o x :p x"
     " :q (+ x 1)}) (list (len (keys (seventeen 1))) (get (seventeen 5) :q))",
     "(17 6)");
  OK("(define (f x) (if (= x 0) (error \"zero\") x))"
     " (list (guard (e (true :caught)) {:a (f 1) :b (f 0)}) {:a (f 1) :b (f 2)})",
     "(\"caught\" {:a 1 :b 2})");
  OK("(list (call/cc (fn (k) {:a 1 :b (k :out)})) (let ((y 2)) {:a 1 :b y}))", "(\"out\" {:a 1 :b 2})");
}
