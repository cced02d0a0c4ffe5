/* test_machine.c — the CEK machine's fast paths at their edges, each next
 * to the case it must not take: fixnum arithmetic at every place the
 * machine does it in place (checked against the primitive itself),
 * constant space for long chains of tail calls of every shape, call/cc
 * escapes through dynamic-wind, performs inside callbacks and fast calls,
 * and the operand stack growing at every place that pushes. */
#include "sx_test_eval.h"
#include <gc.h>
#include <stdlib.h>

TestSuite(machine, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---------------------------------------------------------------- */

/* What evaluating src gives, as text: "ok:<printed value>" or
 * "err:<message>". */
static char *outcome_of(const char *src) {
  sx_val out;
  sx_status st = run_src(src, &out);
  const char *s = st == SX_DONE ? printed(out) : st == SX_ERROR ? errmsg(out) : "(suspended)";
  char *r = malloc(strlen(s) + 5);
  sprintf(r, "%s%s", st == SX_DONE ? "ok:" : "err:", s);
  return r;
}

/* src with every "$X" replaced by subs[X - 'A'] (NULL: left alone). */
static char *subst(const char *src, const char *const subs[26]) {
  size_t cap = strlen(src) + 1;
  for (const char *p = src; *p; p++)
    if (p[0] == '$' && p[1] >= 'A' && p[1] <= 'Z' && subs[p[1] - 'A']) cap += strlen(subs[p[1] - 'A']);
  char *out = malloc(cap), *o = out;
  for (const char *p = src; *p; p++) {
    if (p[0] == '$' && p[1] >= 'A' && p[1] <= 'Z' && subs[p[1] - 'A']) {
      o += sprintf(o, "%s", subs[p[1] - 'A']);
      p++;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
  return out;
}

static sx_val read_one(const char *text) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(text, strlen(text), SX_NIL, &err);
  cr_assert_neq(forms, SX_UNDEF, "cannot read %s", text);
  return sx_car(forms);
}

/* ---- fixnum arithmetic in place ------------------------------------------------
 * The machine adds, subtracts, multiplies and compares two small integers
 * on their tagged words wherever it meets such a call: as a call of its
 * own, as an operand of a tail call, of a closure-free call, of a call
 * with &rest, of a loop's next iteration, as the test of an if, as the
 * second operand after a first that needed the machine, nested in other
 * arithmetic, in a frameless primitive call, through apply and a reduce
 * callback, and as the operator of a call. Each place must give exactly
 * what the primitive gives: the same number, a boxed integer past the
 * fixnum range, the primitive's overflow or type error. */

static const char *const OPS[] = {"+", "-", "*", "<", ">", "<=", ">=", "="};
#define NOPS (sizeof OPS / sizeof *OPS)

static const char *const VALUES[] = {"4611686018427387903",  /* the largest fixnum */
                                     "-4611686018427387904", /* the smallest */
                                     "4611686018427387904",  /* one past: boxed */
                                     "9223372036854775807",  /* INT64_MAX */
                                     "-1",
                                     "2",
                                     "3037000500", /* its square is just past INT64_MAX */
                                     "1.5",
                                     "\"a\""};
#define NVALUES (sizeof VALUES / sizeof *VALUES)

/* How the operands are written: $A and $B in a template become these, the
 * values arriving as the parameters a and b, or written in as constants,
 * or read from globals. */
enum { OPND_PARAMS, OPND_CONST_LEFT, OPND_CONST_RIGHT, OPND_CONSTS, OPND_GLOBALS, NOPND };

/* The places. $E is ($O $A $B); $I and $V are an identity for the
 * operator's result ($I x $V) is x: (+ x 0), or (= x true) for a
 * comparison; $R is the expected outcome shape ("%s" the value). A place
 * is {template, shape of a value}. */
typedef struct place {
  const char *name, *src, *shape;
} place;

static const place PLACES[] = {
    {"a call in tail position", "(define (t a b) $E)", "%s"},
    {"through a let", "(define (t a b) (let ((z 0)) $E))", "%s"},
    {"an operand of a tail call rebinding in place", "(define (g r s) r) (define (t a b) (g $E 0))", "%s"},
    {"an operand of a closure-free call", "(define (id r) r) (define (t a b) (list (id $E)))", "(%s)"},
    {"an operand of a call with &rest", "(define (v &rest r) (first r)) (define (t a b) (list (v $E)))",
     "(%s)"},
    {"an operand of a loop's next iteration",
     "(define (t a b) (let loop ((i 0) (r nil)) (if (= i 1) r (let ((z 0)) (loop 1 $E)))))", "%s"},
    {"the test of an if", "(define (t a b) (if $E $E $E))", "%s"},
    {"after an operand that needed the machine", "(define (id r) r) (define (t a b) ($I (id $V) $E))", "%s"},
    {"its first operand needed the machine", "(define (id r) r) (define (t a b) ($O (id $A) $B))", "%s"},
    {"its second operand needed the machine", "(define (id r) r) (define (t a b) ($O $A (id $B)))", "%s"},
    {"the second operand of arithmetic", "(define (t a b) ($I $V $E))", "%s"},
    {"the first operand, before one that needed the machine",
     "(define (id r) r) (define (t a b) ($I $E (id $V)))", "%s"},
    {"nested in arithmetic", "(define (t a b) ($I ($I $E $V) $V))", "%s"},
    {"an operand of a primitive", "(define (t a b) (list $E))", "(%s)"},
    {"through apply", "(define (t a b) (apply $O (list $A $B)))", "%s"},
    {"a reduce callback", "(define (t a b) (reduce $O $A (list $B)))", "%s"},
    {"a sort comparator", "(define (t a b) (sort (list $B $A) $O))", "sort"},
    {"the operator of a tail call", "(define (t a b) ($E 1))", "err:cannot call %s: not a function"},
    {"the operator of a call", "(define (t a b) (list ($E 1)))", "err:cannot call %s: not a function"},
};

/* The primitive's own answer for (op x y), as outcome_of gives it. */
static char *reference(const char *op, sx_val x, sx_val y) {
  sx_val pv = sx_global_ref(vm, op);
  cr_assert(sx_is(pv, SX_T_PRIM), "%s is not a primitive", op);
  sx_val argv[2] = {x, y};
  sx_val r = ((sx_prim *)pv)->fn(vm, 2, argv);
  const char *s = r == SX_UNDEF ? errmsg(vm->pending) : printed(r);
  vm->pending = SX_NIL;
  char *out = malloc(strlen(s) + 5);
  sprintf(out, "%s%s", r == SX_UNDEF ? "err:" : "ok:", s);
  return out;
}

/* The outcome expected at place pl when the operation's own is ref: an
 * error stays that error; a value takes the place's shape. */
static char *expected_at(const place *pl, const char *ref) {
  if (strncmp(ref, "err:", 4) == 0) return strdup(ref);
  const char *v = ref + 3;
  if (strcmp(pl->shape, "sort") == 0) /* (less a b) asked of (b a): a goes first when it holds */
    return strdup(strcmp(v, "false") && strcmp(v, "nil") ? "ok:($A $B)" : "ok:($B $A)");
  bool is_err = strncmp(pl->shape, "err:", 4) == 0;
  char *out = malloc(strlen(pl->shape) + strlen(v) + 4);
  if (is_err) sprintf(out, pl->shape, v);
  else {
    strcpy(out, "ok:");
    sprintf(out + 3, pl->shape, v);
  }
  return out;
}

static void check_place(const place *pl, size_t op, int opnd, size_t i, size_t j) {
  bool cmp = op >= 3;
  const char *x = VALUES[i], *y = VALUES[j];
  const char *A = opnd == OPND_CONST_LEFT || opnd == OPND_CONSTS ? x : opnd == OPND_GLOBALS ? "ga" : "a";
  const char *B = opnd == OPND_CONST_RIGHT || opnd == OPND_CONSTS ? y : opnd == OPND_GLOBALS ? "gb" : "b";
  char e[256];
  snprintf(e, sizeof e, "(%s %s %s)", OPS[op], A, B);
  const char *subs[26] = {0};
  subs['A' - 'A'] = A;
  subs['B' - 'A'] = B;
  subs['E' - 'A'] = e;
  subs['O' - 'A'] = OPS[op];
  subs['I' - 'A'] = cmp ? "=" : "+";
  subs['V' - 'A'] = cmp ? "true" : "0";
  char *def = subst(pl->src, subs);
  char src[1024];
  snprintf(src, sizeof src, "%s (t %s %s)", def, x, y);
  sx_val vx = read_one(x), vy = read_one(y);
  sx_define(vm, "ga", vx);
  sx_define(vm, "gb", vy);
  char *ref = reference(OPS[op], vx, vy);
  char *shaped = expected_at(pl, ref);
  const char *vals[26] = {[0] = x, [1] = y};
  char *want = subst(shaped, vals);
  free(shaped);
  char *got = outcome_of(src);
  cr_expect_str_eq(got, want, "%s: %s", pl->name, src);
  free(def);
  free(ref);
  free(want);
  free(got);
}

Test(machine, fixnum_arithmetic_in_place_agrees_with_the_primitives) {
  for (size_t p = 0; p < sizeof PLACES / sizeof *PLACES; p++)
    for (size_t op = 0; op < NOPS; op++)
      for (int opnd = 0; opnd < NOPND; opnd++)
        for (size_t i = 0; i < NVALUES; i++)
          for (size_t j = 0; j < NVALUES; j++) check_place(&PLACES[p], op, opnd, i, j);
}

/* The same places with the operands read from an enclosing environment
 * (the body inside a let), so every place walks up to them. */
Test(machine, fixnum_arithmetic_on_outer_variables_agrees_with_the_primitives) {
  for (size_t p = 0; p < sizeof PLACES / sizeof *PLACES; p++) {
    const char *body = strstr(PLACES[p].src, "(define (t a b) ");
    cr_assert_not_null(body);
    size_t head = (size_t)(body - PLACES[p].src) + strlen("(define (t a b) ");
    char src[512];
    snprintf(src, sizeof src, "%.*s(let ((z 0)) %s)", (int)head, PLACES[p].src, PLACES[p].src + head);
    place pl = {PLACES[p].name, src, PLACES[p].shape};
    for (size_t op = 0; op < NOPS; op++)
      for (size_t i = 0; i < NVALUES; i++)
        for (size_t j = 0; j < NVALUES; j++) check_place(&pl, op, OPND_PARAMS, i, j);
  }
}

/* ---- a million tail calls in constant space ------------------------------------
 * Tail calls between functions of different arity or shape (the caller's
 * environment cannot be rebound), to and from functions that create
 * closures, through &rest, apply, internal defines and lets: each run must
 * end with a frame stack and an operand stack of the size it started with
 * (a lowered depth limit turns any growth into an error first) and the
 * heap bounded. */

/* Run src on a fresh fiber with fresh stacks; return the fiber. */
static sx_fiber *run_fresh(const char *src, sx_status *st) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(src, strlen(src), sx_string_cstr("<fiber>"), &err);
  cr_assert_neq(forms, SX_UNDEF, "read error in %s", src);
  vm->spare_ks = NULL;
  vm->spare_vs = NULL;
  sx_fiber *f = sx_fiber_new(vm);
  sx_fiber_start_forms(f, forms, sx_string_cstr("<fiber>"), false);
  *st = sx_fiber_run(f);
  return f;
}

Test(machine, a_million_tail_calls_of_every_shape_run_in_constant_space) {
  const char *srcs[] = {
      /* one, two and three parameters, round and round */
      "(define (a1 n) (if (= n 0) :done (a2 (- n 1) n)))"
      " (define (a2 n x) (a3 n x x))"
      " (define (a3 n x y) (a1 n)) (a1 1000000)",
      /* a callee with internal defines: same parameters, more slots */
      "(define (b1 n) (if (= n 0) :done (b2 (- n 1))))"
      " (define (b2 n) (define m n) (define k m) (b1 k)) (b1 1000000)",
      /* callees that create closures, and the closures they create */
      "(define (c1 n) (let ((k (fn () (- n 1)))) (if (= n 0) :done (c2 k))))"
      " (define (c2 k) (c1 (k))) (c1 1000000)",
      "(define (d1 n) (if (= n 0) :done ((fn (m) (d1 m)) (- n 1)))) (d1 1000000)",
      /* &rest on either side, and apply */
      "(define (e1 n &rest more) (if (= n 0) :done (e2 (- n 1) 1 2 3)))"
      " (define (e2 n &rest r) (e1 n)) (e1 1000000)",
      "(define (g1 n) (if (= n 0) :done (apply g2 (list (- n 1) 0)))) (define (g2 n z) (g1 n)) (g1 1000000)",
      /* from inside a let whose frame has the callee's shape, and not */
      "(define (h1 n) (let ((m (- n 1))) (if (< m 0) :done (h2 m))))"
      " (define (h2 n) (let ((a 1) (b 2)) (h1 n))) (h1 1000000)",
      /* a loop whose body makes a closure each time round */
      "(let loop ((i 0)) (let ((k (fn () i))) (if (= (k) 1000000) :done (loop (+ i 1)))))",
      /* through cond, case, when, and, or */
      "(define (i1 n) (cond ((= n 0) :done) ((odd? n) (i2 n 0)) (else (i2 n 1))))"
      " (define (i2 n z) (case z ((0) (and true (i1 (- n 1)))) (else (or false (i1 (- n 1))))))"
      " (i1 1000000)",
  };
  for (size_t k = 0; k < sizeof srcs / sizeof *srcs; k++) {
    vm->max_depth = 1000; /* a growing stack would hit this */
    size_t heap_before = GC_get_heap_size();
    sx_status st;
    sx_fiber *f = run_fresh(srcs[k], &st);
    cr_assert_eq(st, SX_DONE, "%s: %s", srcs[k], st == SX_ERROR ? errmsg(f->error) : "suspended");
    cr_assert_str_eq(printed(f->value), "\"done\"", "%s", srcs[k]);
    cr_assert_leq(f->kcap, 16, "%s: the frame stack grew to %zu frames", srcs[k], f->kcap);
    cr_assert_leq(f->vcap, 64, "%s: the operand stack grew to %zu slots", srcs[k], f->vcap);
    cr_assert_lt(GC_get_heap_size(), heap_before + 64u * 1024 * 1024, "%s: heap grew from %zu to %zu",
                 srcs[k], heap_before, GC_get_heap_size());
  }
}

/* A non-tail call is not one: the same chains one call short of tail
 * position grow the stack and reach the depth limit. */
Test(machine, the_same_calls_out_of_tail_position_nest) {
  vm->max_depth = 1000;
  ERR("(define (a1 n) (if (= n 0) :done (list (a2 (- n 1) n))))"
      " (define (a2 n x) (a3 n x x)) (define (a3 n x y) (a1 n)) (a1 1000000)",
      "recursion depth limit exceeded: 1001 nested calls (the limit is 1000)");
  ERR("(define (c1 n) (let ((k (fn () (- n 1)))) (if (= n 0) :done (list (c2 k)))))"
      " (define (c2 k) (c1 (k))) (c1 1000000)",
      "recursion depth limit exceeded: 1001 nested calls (the limit is 1000)");
  ERR("(let loop ((i 0)) (if (= i 1000000) :done (list (loop (+ i 1)))))",
      "recursion depth limit exceeded: 1001 nested calls (the limit is 1000)");
}

/* ---- call/cc and dynamic-wind ----------------------------------------------------
 * An escape runs the after-thunk of every dynamic-wind it leaves exactly
 * once, innermost first, and never one it does not leave; so does an
 * escape started from inside an after-thunk. */
Test(machine, escapes_run_every_after_thunk_once) {
  OK("(define log ()) (define (note x) (set! log (cons x log)))", "note");
  OK("(define (w tag body) (dynamic-wind (fn () (note (str tag \"-in\"))) body (fn () (note (str tag \"-out\")))))",
     "w");
  /* nested winds, the escape from the innermost body */
  OK("(list (call/cc (fn (k) (w \"a\" (fn () (w \"b\" (fn () (w \"c\" (fn () (k 1) (note :no))))))))) (reverse log))",
     "(1 (\"a-in\" \"b-in\" \"c-in\" \"c-out\" \"b-out\" \"a-out\"))");
  /* a wind inside the continuation's extent but not left stays */
  OK("(set! log ())", "nil");
  OK("(list (w \"outer\" (fn () (call/cc (fn (k) (w \"inner\" (fn () (k 2)))))))  (reverse log))",
     "(2 (\"outer-in\" \"inner-in\" \"inner-out\" \"outer-out\"))");
  /* an escape from inside an after-thunk: the thunk is not run again, the
   * outer ones are run once */
  OK("(set! log ())", "nil");
  OK("(list (call/cc (fn (k) (w \"a\" (fn () (dynamic-wind (fn () (note :b-in)) (fn () (note :b-body) 5)"
     " (fn () (note :b-out) (k 3) (note :no))))))) (reverse log))",
     "(3 (\"a-in\" \"b-in\" \"b-body\" \"b-out\" \"a-out\"))");
  /* an escape from an after-thunk run by an escape to a nearer continuation */
  OK("(set! log ())", "nil");
  OK("(list (call/cc (fn (outer) (w \"a\" (fn () (call/cc (fn (inner) (dynamic-wind (fn () (note :b-in))"
     " (fn () (inner 4)) (fn () (note :b-out) (outer 6))))))))) (reverse log))",
     "(6 (\"a-in\" \"b-in\" \"b-out\" \"a-out\"))");
  /* an escape from an after-thunk run by an error: the error is dropped */
  OK("(set! log ())", "nil");
  OK("(list (call/cc (fn (k) (w \"a\" (fn () (dynamic-wind (fn () (note :b-in)) (fn () (error \"boom\"))"
     " (fn () (note :b-out) (k 7))))))) (reverse log))",
     "(7 (\"a-in\" \"b-in\" \"b-out\" \"a-out\"))");
  /* an error from an after-thunk run by an escape replaces the escape */
  OK("(set! log ())", "nil");
  OK("(list (guard (e (true (error-message e))) (call/cc (fn (k) (w \"a\" (fn () (dynamic-wind (fn () nil)"
     " (fn () (k 8)) (fn () (error \"after failed\")))))))) (reverse log))",
     "(\"after failed\" (\"a-in\" \"a-out\"))");
  /* a continuation called with no value returns nil; with more, the first */
  OK("(list (call/cc (fn (k) (k))) (call/cc (fn (k) (k 1 2))))", "(nil 1)");
  /* an escape through guards, lets and map callbacks */
  OK("(call/cc (fn (k) (guard (e (true :caught)) (let ((x 1)) (map (fn (y) (k (+ x y))) (list 9))))))", "10");
}

/* A continuation is only good within its extent: after its call/cc has
 * returned, after an escape past it, or from a nested evaluation, calling
 * it is an error; the stack is left as it was. */
static sx_val p_call_from_c(sx_vm *v, int argc, sx_val *argv) {
  (void)argc;
  sx_val out;
  sx_status st = sx_apply(v, argv[0], 1, &argv[1], &out);
  return st == SX_DONE ? out : sx_throw(v, out);
}

Test(machine, continuations_outside_their_extent_are_errors) {
  const char *msg = "continuation called outside its extent (only escaping continuations are supported)";
  OK("(define saved nil)", "saved");
  /* returned normally */
  OK("(call/cc (fn (k) (set! saved k) 1))", "1");
  ERR("(saved 2)", msg);
  /* left by an escape to an outer continuation: called lower on the stack,
   * at the same height, and higher */
  OK("(define (mk) (call/cc (fn (outer) (call/cc (fn (inner) (set! saved inner) (outer 0))))))", "mk");
  ERR("(begin (mk) (saved 1))", msg);
  ERR("(begin (mk) (call/cc (fn (o2) (call/cc (fn (i2) (saved 5))))))", msg);
  ERR("(begin (mk) (list (list (list (list (list (saved 5)))))))", msg);
  /* left by an error */
  ERR("(begin (guard (e (true nil)) (call/cc (fn (k) (set! saved k) (error \"x\")))) (saved 3))", msg);
  /* called from C inside its own extent: a nested evaluation cannot jump
   * out of the C function */
  sx_defprim(vm, "call-from-c", p_call_from_c, 2, 2);
  ERR("(call/cc (fn (k) (call-from-c k 4)))", msg);
  OK("(call/cc (fn (k) (+ 1 (call-from-c (fn (x) (* x 2)) 4))))", "9");
}

/* ---- interrupts stop every kind of loop --------------------------------------- */

Test(machine, an_interrupt_stops_every_fast_path) {
  sx_defprim(vm, "trip!", p_trip, 0, 0);
  const char *loops[] = {
      /* a tail call rebinding in place */
      "(define (a n) (when (= n 3) (trip!)) (b (+ n 1))) (define (b n) (a n)) (a 0)",
      /* a loop's next iteration through a let, and with a primitive call */
      "(let loop ((i 0)) (when (= i 3) (trip!)) (let ((j (+ i 1))) (loop j)))",
      "(let loop ((i 0)) (when (= i 3) (trip!)) (loop (first (list (+ i 1)))))",
      /* a closure-free call from a non-tail position */
      "(define (one x) 1) (define (c n) (when (= n 3) (trip!)) (c (+ n (one n)))) (c 0)",
      "(define (c n) (when (= n 3) (trip!)) (+ 1 (c (+ n 1)))) (c 0)",
      /* operands pushed without frames */
      "(define (r &rest xs) (first xs)) (define (d n) (when (= n 3) (trip!)) (d (+ 1 (r n)))) (d 0)",
  };
  for (size_t k = 0; k < sizeof loops / sizeof *loops; k++) {
    ERR(loops[k], "interrupted");
    cr_assert_eq(vm->interrupt, 0, "%s: the flag is cleared", loops[k]);
  }
}

/* ---- fibers run once at a time ------------------------------------------------ */
static sx_val p_rerun(sx_vm *v, int argc, sx_val *argv) {
  (void)argc;
  (void)argv;
  sx_fiber *f = v->current;
  sx_status a = sx_fiber_run(f), b = sx_fiber_resume(f, SX_NIL), c = sx_fiber_resume_error(f, SX_NIL);
  f->status = SX_DONE; /* the running fiber goes on; only its reports were asked */
  return sx_list(3, (sx_val[]){f->error, sx_fixnum(a), sx_fixnum(b + c)});
}

Test(machine, a_fiber_cannot_be_run_twice_or_resumed_unless_suspended) {
  sx_defprim(vm, "rerun!", p_rerun, 0, 0);
  sx_val out;
  cr_assert_eq(run_src("(rerun!)", &out), SX_DONE);
  cr_assert_eq(sx_int_val(sx_car(sx_cdr(out))), SX_ERROR);
  cr_assert_str_eq(errmsg(sx_car(out)), "resume: the evaluation is not suspended on a perform");
  sx_status st;
  sx_fiber *f = run_fresh("(+ 1 2)", &st);
  cr_assert_eq(st, SX_DONE);
  cr_assert_eq(sx_fiber_run(f), SX_ERROR);
  cr_assert_str_eq(errmsg(f->error), "run: nothing to run (the evaluation has finished)");
}

/* ---- a full frame stack, whatever pushes the frame ------------------------------
 * With a depth limit of 10 calls the frame stack holds 80 frames. Code
 * nested n deep in begins (one frame each) then runs a construct that
 * pushes frames of its own; for every n the answer is the construct's
 * value or the documented error, never anything else, and a deep enough
 * nesting always gives the error. */
static const char *const PUSHERS[] = {
    "(if (id true) 1 0)",
    "(begin (id 1))",
    "(and (id 1) 1)",
    "(or (id false) 1)",
    "(+ (id 0) 1)",
    "(+ 0 (id 1))",
    "(first (list (id 1)))",
    "(let ((x (id 1))) x)",
    "(letrec ((x (id 1))) x)",
    "(let ((x 0)) (set! x (id 1)) x)",
    "(begin (set! g (id 1)) g)",
    "(begin (define g (id 1)) g)",
    "(guard (e (true 0)) 1)",
    "(get {:a (id 1)} :a)",
    "(first (map id (list 1)))",
    "(reduce + 0 (list 1))",
    "(first (sort (list 2 1) (fn (a b) (< a b))))",
    "(dynamic-wind (fn () 0) (fn () 1) (fn () 0))",
    "(call/cc (fn (k) 1))",
    "(eval (quote (begin 0 1)))",
    "(id 1)",
    "(apply id (list 1))",
    "(first (map (fn (x) (id x)) (list 1)))",
    /* higher-order primitives called back by another: no call frame of their own */
    "(first (reduce map id (list (list 1))))",
    "(reduce reduce + (list (list 1)))",
    "(first (reduce sort (fn (a b) (< a b)) (list (list 2 1))))",
    "(first (map call/cc ks))",
    "(perform {:op \"one/\"})",
};

static char *nested_in_begins(const char *inner, int n) {
  char *src = malloc(strlen(inner) + (size_t)n * 12 + 128);
  char *o = src + sprintf(src, "(define g 0) (define (id x) x) (define ks (list (fn (k) 1))) ");
  for (int i = 0; i < n; i++) o += sprintf(o, "(begin ");
  o += sprintf(o, "%s", inner);
  for (int i = 0; i < n; i++) o += sprintf(o, " )");
  return src;
}

static int res_one(sx_vm *v, void *ud, sx_val op, sx_val args, sx_val req, sx_val *result) {
  (void)v, (void)ud, (void)op, (void)args, (void)req;
  *result = sx_fixnum(1);
  return 0;
}

Test(machine, a_full_frame_stack_is_the_depth_error_at_every_push) {
  sx_add_resolver(vm, "one/", res_one, NULL);
  for (size_t k = 0; k < sizeof PUSHERS / sizeof *PUSHERS; k++) {
    bool done = false;
    for (int n = 60; n <= 90; n++) {
      vm->max_depth = 10;
      char *src = nested_in_begins(PUSHERS[k], n);
      char *got = outcome_of(src);
      bool ok = strcmp(got, "ok:1") == 0;
      done |= ok;
      cr_assert(ok || strstr(got, "nested calls filled all 80 frames of the stack"), "%s at %d: %s",
                PUSHERS[k], n, got);
      if (n == 90) cr_assert(!ok, "%s: 90 frames deep fits in 80", PUSHERS[k]);
      free(src);
      free(got);
    }
    cr_assert(done, "%s never fitted", PUSHERS[k]);
  }
}

/* ---- the operand stack grows wherever it is pushed ------------------------------
 * (r n) leaves one operand pending per level, n levels deep, then runs a
 * construct that pushes operands; from fresh stacks (64 slots) each n puts
 * the boundary at another of the construct's pushes. */
static const char *const STACKERS[] = {
    "(v 1 2 3 4)",                             /* operands of a closure call */
    "(w (first (list 1)) (first (list 2)) 3)", /* operands of frameless calls */
    "(list (id 1) 2 3 (id 4))",                /* operands on a call's frame */
    "(map id (list 1 2 3))",
    "(map-indexed (fn (i x) (+ i x)) (list 1 2 3))",
    "(filter odd? (list 1 2 3))",
    "(filter (fn (x) (odd? x)) (list 1 2 3))",
    "(reduce (fn (a x) (+ a x)) 0 (list 1 2 3))",
    "(for-each id (list 1 2 3))",
    "(sort (list 3 1 2) (fn (a b) (< a b)))",
    "(apply list 1 (list 2 3 4))",
    "(dynamic-wind (fn () 0) (fn () 1) (fn () 2))",
    "(call/cc (fn (k) (dynamic-wind (fn () 0) (fn () (k 1)) (fn () 2))))",
    "(guard (e (true e)) (dynamic-wind (fn () 0) (fn () (raise 1)) (fn () 2)))",
};

Test(machine, the_operand_stack_grows_at_every_push) {
  OK("(define (id x) x) (define (v &rest xs) xs) (define (w a b c) (list a b c))"
     " (define (r n thunk) (if (= n 0) (thunk) (id (r (- n 1) thunk))))",
     "r");
  for (size_t k = 0; k < sizeof STACKERS / sizeof *STACKERS; k++) {
    char src[512];
    snprintf(src, sizeof src, "%s", STACKERS[k]);
    char *want = outcome_of(src);
    for (int n = 40; n <= 70; n++) {
      snprintf(src, sizeof src, "(r %d (fn () %s))", n, STACKERS[k]);
      sx_status st;
      sx_fiber *f = run_fresh(src, &st);
      const char *got = st == SX_DONE ? printed(f->value) : errmsg(f->error);
      cr_assert_str_eq(got, want + (st == SX_DONE ? 3 : 4), "%s at depth %d", STACKERS[k], n);
    }
    free(want);
  }
  /* a host applying a function to more arguments than the stack holds */
  sx_val args[100];
  for (int i = 0; i < 100; i++) args[i] = sx_fixnum(i);
  sx_val out;
  vm->spare_ks = NULL;
  vm->spare_vs = NULL;
  cr_assert_eq(sx_apply(vm, sx_global_ref(vm, "+"), 100, args, &out), SX_DONE);
  cr_assert_str_eq(printed(out), "4950");
}

/* ---- performs inside fast paths and callbacks -----------------------------------
 * A perform suspends the machine wherever it is; the host answers each
 * request n with n * 10 and the evaluation finishes as if the perform had
 * returned that. Pooled environments, inline arithmetic and callback
 * frames must survive the suspension. */
static sx_val drive_tens(const char *src, int *performs) {
  sx_status st;
  sx_fiber *f = run_fresh(src, &st);
  *performs = 0;
  while (st == SX_SUSPENDED) {
    cr_assert(sx_is_int(f->request), "%s: request %s", src, printed(f->request));
    st = sx_fiber_resume(f, sx_int(sx_int_val(f->request) * 10));
    ++*performs;
  }
  cr_assert_eq(st, SX_DONE, "%s: %s", src, st == SX_ERROR ? errmsg(f->error) : "?");
  return f->value;
}

Test(machine, performs_suspend_and_resume_through_every_fast_path) {
  static const struct {
    const char *src, *want;
    int performs;
  } cases[] = {
      /* closure-free calls whose environments go back to the pool */
      {"(define (g x) (+ x (perform x))) (define (h x) (list (g x) x (g (+ x 1)) x)) (h 1)", "(11 1 22 1)",
       2},
      /* inline arithmetic waiting on either operand */
      {"(define (a x) (+ (perform x) x)) (define (b x) (- x (perform x))) (list (a 1) (b 2))", "(11 -18)", 2},
      {"(define (c x) (* (perform x) (perform (+ x 1)))) (c 1)", "200", 2},
      /* loops, through lets, with a perform in the test and in an operand */
      {"(let loop ((i 0) (acc 0)) (if (< i (perform 1)) (let ((j (+ i 1))) (loop j (+ acc i))) acc))", "45",
       11},
      {"(define (s n acc) (if (= n 0) acc (s (- n 1) (+ acc (perform n))))) (s 3 0)", "60", 3},
      /* callbacks of every higher-order primitive */
      {"(map-indexed (fn (i x) (+ i (perform x))) (list 1 2 3))", "(10 21 32)", 3},
      {"(filter (fn (x) (> (perform x) 15)) (list 1 2 3))", "(2 3)", 3},
      {"(list (some (fn (x) (> (perform x) 15)) (list 1 2 3)) (every? (fn (x) (< (perform x) 25)) (list 1 2 3)))",
       "(true false)", 5},
      {"(reduce (fn (acc x) (+ acc (perform x))) 0 (list 1 2 3))", "60", 3},
      {"(sort (list 3 1 2) (fn (a b) (< (perform a) (perform b))))", "(1 2 3)", 6},
      {"(apply (fn (a b) (+ a (perform b))) (list 1 2))", "21", 1},
      /* after-thunks run by an escape and by an error, guard handlers */
      {"(define log ()) (list (call/cc (fn (k) (dynamic-wind (fn () nil) (fn () (k 1))"
       " (fn () (set! log (perform 4)))))) log)",
       "(1 40)", 1},
      {"(guard (e (true (+ (perform 5) e))) (dynamic-wind (fn () nil) (fn () (raise 2))"
       " (fn () (perform 3))))",
       "52", 2},
      /* dict literals and lets with performs in their values */
      {"(let ((a (perform 1)) (b (perform 2))) {:a a :b b :c (perform 3)})", "{:a 10 :b 20 :c 30}", 3},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    int n;
    sx_val v = drive_tens(cases[k].src, &n);
    cr_expect_str_eq(printed(v), cases[k].want, "%s", cases[k].src);
    cr_expect_eq(n, cases[k].performs, "%s: %d performs", cases[k].src, n);
  }
}

/* A nested evaluation (run from C inside another) cannot suspend: an op
 * no resolver owns is an error there, whatever the request is. */
Test(machine, a_nested_perform_without_a_resolver_is_an_error) {
  sx_defprim(vm, "call-from-c", p_call_from_c, 2, 2);
  ERR("(call-from-c (fn (x) (perform x)) 42)", "perform: no resolver for op 42");
  ERR("(call-from-c (fn (x) (perform {:op x})) \"nobody\")", "perform: no resolver for op nobody");
}

/* ---- a run that ends at each kind of step --------------------------------------
 * A fiber started on one analysed node has no frame below it, so the
 * machine finishes at whatever step produces the last value: a constant,
 * a variable, a closure, a dict, each special form's frame, a callback
 * frame. The value must come out of each. */
static const char *run_node(const char *src) {
  sx_val err = SX_NIL;
  sx_node *n = sx_analyse(vm, read_one(src), &err);
  cr_assert_not_null(n, "%s: %s", src, sx_is_string(err) ? sx_str_data(err) : "?");
  sx_fiber *f = sx_fiber_new(vm);
  sx_fiber_start_node(f, n);
  sx_status st = sx_fiber_finish(f);
  return st == SX_DONE ? printed(f->value) : errmsg(f->error);
}

Test(machine, a_run_ends_at_every_kind_of_step) {
  OK("(define g 5) (define (id x) x) (define (mac-id x) x)", "mac-id");
  static const struct {
    const char *src, *want;
  } cases[] = {
      {"42", "42"},
      {"g", "5"},
      {"(let ((x 1)) x)", "1"},
      {"(fn (x) x)", "<fn>"},
      {"{}", "{}"},
      {"{:a (id 1)}", "{:a 1}"},
      {"(and (id false) 1)", "false"},
      {"(or (id 2) 1)", "2"},
      {"(let ((x 1)) (set! x (id 2)))", "nil"},
      {"(set! g (id 6))", "nil"},
      {"(define h (id 7))", "h"},
      {"(defmacro m2 (x) x)", "m2"},
      {"(guard (e (true 0)) (id 8))", "8"},
      {"(+ (id 1) 2)", "3"},
      {"(+ 1 (id 2))", "3"},
      {"(+ (id 4611686018427387903) (id 1))", "4611686018427387904"},
      {"(id 9)", "9"},
      {"(dynamic-wind (fn () 0) (fn () 10) (fn () 0))", "10"},
      {"(call/cc (fn (k) 11))", "11"},
      {"(map id (list 12))", "(12)"},
      {"(sort (list 2 1) (fn (a b) (< a b)))", "(1 2)"},
      {"(x-unbound)", "unbound symbol x-unbound"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
    cr_expect_str_eq(run_node(cases[k].src), cases[k].want, "%s", cases[k].src);
}

/* ---- top-level evaluations report to the host ----------------------------------- */
static int toplevel_calls;
static char toplevel_log[16]; /* the status each call reported: D done, E error */
static sx_val refuse_second(sx_vm *v, void *ud, sx_status st) {
  (void)v;
  (void)ud;
  toplevel_log[toplevel_calls % 8] = st == SX_DONE ? 'D' : 'E';
  return ++toplevel_calls == 2 ? sx_make_error("commit refused") : SX_NIL;
}

/* Each top-level form ends with a call of vm->on_toplevel; an error it
 * returns fails that form (a guard inside the form cannot catch it), and
 * a form that fails still reports its end, as failed. */
static const char *toplevel_run(const char *src, sx_val *error) {
  sx_fiber *f = sx_fiber_new(vm);
  sx_fiber_start_forms(f, sx_read_all(src, strlen(src), SX_NIL, NULL), SX_NIL, true);
  toplevel_calls = 0;
  memset(toplevel_log, 0, sizeof toplevel_log);
  cr_assert_eq(sx_fiber_finish(f), SX_ERROR, "%s", src);
  *error = f->error;
  return toplevel_log;
}

Test(machine, the_end_of_each_top_level_form_is_reported) {
  vm->on_toplevel = refuse_second;
  sx_val e;
  cr_assert_str_eq(toplevel_run("(define a 1) (define b 2) (define c 3)", &e), "DDE",
                   "the refused form ends as failed, the third never runs");
  cr_assert_str_eq(errmsg(e), "commit refused");
  cr_assert_str_eq(toplevel_run("(define d 4) (car-of-nothing)", &e), "DE", "both forms report their end");
  cr_assert_str_eq(errmsg(e), "unbound symbol car-of-nothing");
}

/* ---- the general path's own edges ---------------------------------------------- */
Test(machine, edges_of_the_general_path) {
  OK("(define (id x) x) (define (one a) a) (define (two a b) (list a b))"
     " (define (v &rest r) r) (define (w a b c) (list a b c))",
     "w");
  /* arity errors on every path a call can take */
  ERR("(list (one 1 2))", "one: expected 1 argument (a), got 2");
  ERR("(define (t) (one 1 2)) (t)", "one: expected 1 argument (a), got 2");
  ERR("((fn (a b &rest c) a) 1)", "anonymous fn: expected at least 2 arguments (a b &rest c), got 1");
  ERR("((fn (a &rest c) a))", "anonymous fn: expected at least 1 argument (a &rest c), got 0");
  OK("((fn (a &rest c) (define d (len c)) (list a d)) 1 2 3)", "(1 2)");
  ERR("(sort 1 2 3)", "sort: expected at most 2 arguments, got 3");
  ERR("(sort)", "sort: expected at least 1 argument, got 0");
  ERR("(first)", "first: expected 1 argument, got 0");
  /* operands raising on the frameless paths */
  ERR("(w (first (list 1)) undefined-y 3)", "unbound symbol undefined-y");
  ERR("(w (first (list 1)) (+ 1 \"a\") 3)", "+: expected a number, got \"a\"");
  ERR("(list (first (list 1)) (first undefined-z))", "unbound symbol undefined-z");
  ERR("((first undefined-f) 1)", "unbound symbol undefined-f");
  ERR("((first (list 1 2) 3) 1)", "first: expected 1 argument, got 2");
  OK("(w (first (list 1)) (id 2) 3)", "(1 2 3)");
  /* a local read before its define has run, on the quick and the general path */
  ERR("(define (f) (if b 1 2) (define b 1)) (f)", "b is used before it is defined");
  ERR("(define (f) (list (+ b 1)) (define b 1)) (f)", "b is used before it is defined");
  ERR("(define (f) (one b) (define b 1)) (f)", "b is used before it is defined");
  /* the empty list and nil for every walk */
  OK("(list (map id ()) (filter id nil) (some id ()) (every? id ()) (for-each id ()) (map-indexed id ())"
     " (reduce + ()) (reduce + 0 ()))",
     "(() () nil true nil () nil 0)");
  /* continuations and primitives as callbacks */
  OK("(call/cc (fn (k) (map k (list 1 2))))", "1");
  OK("(list (map first (list (list 1) (list 2))) (reduce + (list 1 2 3)))", "((1 2) 6)");
  /* the default order and its errors */
  OK("(list (sort (list 2.5 1 3)) (sort (list \"b\" \"a\")) (sort (list 3 1.5 -2.5)))",
     "((1 2.5 3) (\"a\" \"b\") (-2.5 1.5 3))");
  ERR_HAS("(sort (list 1 \"a\"))", "sort: cannot compare");
  /* eval and load of what cannot run */
  ERR_HAS("(eval (quote (if)))", "if");
  ERR("(load 5)", "load: expected a path string, got 5");
  /* a primitive stored in a global, and taken out again */
  OK("(define plus +) (define (add a b) (plus a b)) (add 1 2)", "3");
  OK("(set! plus -) (add 1 2)", "-1");
  OK("(set! plus (fn (a b) (* a b))) (add 3 4)", "12");
}

/* A loop variable rebound to a closure of the same function made by
 * another call (same code, another environment) is an ordinary call, not
 * the loop's next iteration. */
Test(machine, a_loop_over_another_environment_is_a_call) {
  OK("(define saved nil)"
     " (define (mk first? base)"
     "   (let loop ((i 0))"
     "     (cond ((= i 5) (+ base i))"
     "           ((and first? (= i 0)) (set! saved loop) (loop 5))"
     "           ((= i 0) (set! loop saved) (loop (first (list 5))))"
     "           (else (loop (+ i 1))))))"
     " (list (mk true 100) (mk false 200))",
     "(105 105)");
  /* internal defines of a loop whose operands need primitive calls */
  OK("(define (f n acc) (define m (* n 2)) (if (= n 0) acc (f (first (list (- n 1))) (+ acc m)))) (f 3 0)",
     "12");
  /* nine parameters and an internal define: rebinding through the operand stack */
  OK("(define (r a b c d e f g h n) (define s (+ a h)) (if (= n 0) (list s a h) (r2 h a b c d e f g (- n 1))))"
     " (define (r2 a b c d e f g h n) (define s 0) (r a b c d e f g h n)) (r 1 2 3 4 5 6 7 8 3)",
     "(11 6 5)");
}

/* An interrupt noticed inside a long sort, and a depth limit too large to
 * multiply. */
Test(machine, long_primitives_and_huge_limits) {
  sx_defprim(vm, "trip!", p_trip, 0, 0);
  ERR("(begin (trip!) (len (sort (range 300000) (fn (a b) (< a b)))))", "interrupted");
  ERR("(begin (trip!) (len (sort (reverse (range 300000)))))", "interrupted");
  OK("(len (sort (reverse (range 300000))))", "300000");
  vm->max_depth = SIZE_MAX;
  OK("(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (f 10000)", "10000");
}
