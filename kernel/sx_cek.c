/* sx_cek.c — the CEK machine: runs analysed code on a fiber.
 *
 * Control is the node being evaluated (or a value being returned),
 * Environment the current sx_env chain, and Kontinuation the fiber's frame
 * stack: a growable heap array of sx_kframe, never the C stack. Because the
 * machine's whole state lives in the fiber, `perform` can stop it at any
 * depth (inside map callbacks, guard bodies, let initialisers...) and
 * sx_fiber_resume continues it later from any C stack frame.
 *
 * Tail calls: applying a closure replaces Control and Environment without
 * pushing a frame, and a sequence pops its frame before its last form, so a
 * loop in tail position runs in constant space. Non-tail recursion grows the
 * frame stack; every frame records the SX call depth of the code that
 * pushed it, so a closure body entered with a depth beyond vm->max_depth
 * calls raises a depth error that says how deep the recursion went.
 *
 * Higher-order primitives (map, filter, reduce, for-each, some, every?,
 * apply, dynamic-wind, call/cc, load, eval) are machine operations with
 * frames of their own, so their callbacks may perform too.
 *
 * Fast paths, each falling back to the general one when its conditions do
 * not hold: operands that need no frames are evaluated in place (quick,
 * with fixnum arithmetic on tagged words); a closure-free function called
 * from a non-tail position gets its environment from a per-fiber pool and
 * gives it back on return (direct_bind, apply_returning, K_RET; callbacks
 * of the higher-order primitives too, apply_callback); a tail call whose
 * environment has the callee's shape rebinds it in place (direct_tail,
 * reuse_env).
 */
#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"
#include "sx_vm.h"

#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kkind {
  K_IF, K_SEQ, K_AND, K_OR, K_CALL, K_LET, K_LETREC, K_SET_LOCAL,
  K_SET_GLOBAL, K_DEF_GLOBAL, K_DEFMACRO, K_GUARD, K_PERFORM, K_DICT, K_MAP,
  K_FILTER, K_REDUCE, K_FOR_EACH, K_SOME, K_EVERY, K_WIND_BEFORE,
  K_WIND_BODY, K_WIND_AFTER, K_RERAISE, K_ESCAPE, K_CALLCC, K_FORMS,
  K_MAP_INDEXED, K_ARITH_A, K_ARITH_B, K_RET
} kkind;

struct sx_kframe {
  uint8_t kind;
  uint32_t i;
  sx_node *node;
  sx_env *env;
  sx_val a, b, c;
  uint32_t vbase; /* an operand stack height (never near 2^32 entries) */
  uint32_t d;     /* the SX call depth of the code that pushed the frame */
};

#define INITIAL_K 64
#define INITIAL_V 64
#define MAX_BACKTRACE 16

/* ---- fiber stacks -------------------------------------------------------- */

/* Empty the stacks and forget the last raise before a new evaluation. */
static void fiber_reset(sx_fiber *f) {
  f->ksp = f->vsp = 0;
  f->raised = SX_UNDEF;
  f->raised_where = SX_NIL;
  f->raised_bt = SX_EMPTY;
}

sx_fiber *sx_fiber_new(sx_vm *vm) {
  sx_fiber *f = sx_alloc(sizeof *f);
  f->vm = vm;
  f->kcap = INITIAL_K;
  f->ks = sx_alloc(f->kcap * sizeof *f->ks);
  f->vcap = INITIAL_V;
  f->vs = sx_alloc(f->vcap * sizeof *f->vs);
  f->status = SX_DONE;
  f->value = SX_NIL;
  f->error = SX_NIL;
  f->request = SX_NIL;
  fiber_reset(f);
  return f;
}

/* The frame stack's limit. vm->max_depth counts nested SX calls; a call
 * usually leaves one to four frames below it (a recursion through map:
 * the caller's pending operands, map's frame, the callback's K_RET), so
 * the stack may hold FRAMES_PER_CALL frames per allowed call before it is
 * full. This bounds the memory of code that nests deeper without calls. */
#define FRAMES_PER_CALL 8
static size_t frame_limit(const sx_vm *vm) {
  return vm->max_depth > SIZE_MAX / FRAMES_PER_CALL ? SIZE_MAX : vm->max_depth * FRAMES_PER_CALL;
}

static bool kgrow(sx_fiber *f) {
  size_t limit = frame_limit(f->vm);
  if (f->kcap >= limit) return false;
  size_t ncap = f->kcap * 2;
  if (ncap > limit) ncap = limit;
  sx_kframe *nk = GC_MALLOC(ncap * sizeof *nk);
  if (!nk) return false;
  memcpy(nk, f->ks, f->ksp * sizeof *nk);
  f->ks = nk;
  f->kcap = ncap;
  return true;
}

static inline sx_kframe *kpush(sx_fiber *f, kkind kind) {
  if (f->ksp == f->kcap && !kgrow(f)) return NULL;
  sx_kframe *fr = &f->ks[f->ksp++];
  fr->kind = (uint8_t)kind;
  fr->i = 0;
  return fr;
}

static void vgrow(sx_fiber *f) {
  size_t ncap = f->vcap * 2;
  sx_val *nv = GC_MALLOC(ncap * sizeof *nv);
  if (!nv) abort();
  memcpy(nv, f->vs, f->vsp * sizeof *nv);
  f->vs = nv;
  f->vcap = ncap;
}

static inline __attribute__((always_inline)) void vpush(sx_fiber *f, sx_val v) {
  if (f->vsp == f->vcap) vgrow(f);
  f->vs[f->vsp++] = v;
}

/* ---- environments --------------------------------------------------------- */

static inline sx_env *env_new(uint32_t n, sx_env *parent) {
  sx_env *e = sx_alloc(sizeof *e + n * sizeof(sx_val));
  e->h.type = SX_T_OTHER;
  e->parent = parent;
  e->n = n;
  for (uint32_t i = 0; i < n; i++) e->slots[i] = SX_UNDEF;
  return e;
}

static inline sx_env *env_up(sx_env *e, uint16_t depth) {
  while (depth--) e = e->parent;
  return e;
}

/* Evaluate a node that needs no machine step. False when it is not simple
 * or would raise (the slow path then reports the error). */
static inline bool simple_eval(const sx_node *n, sx_env *env, sx_val *out) {
  sx_val v;
  switch (n->op) {
  case OP_CONST: *out = n->u.k; return true;
  case OP_LOCAL: v = env_up(env, n->depth)->slots[n->idx]; break;
  case OP_GLOBAL: v = n->u.cell->value; break;
  default: return false;
  }
  if (v == SX_UNDEF) return false;
  *out = v;
  return true;
}

static sx_val unbound_error(const sx_node *n) {
  if (n->op == OP_LOCAL)
    return sx_make_error("%s is used before it is defined", sx_str_data(sx_sym_name(n->sym)));
  return sx_make_error("unbound symbol %s", sx_str_data(sx_sym_name(n->sym)));
}

static sx_val prim_arity_error(const sx_prim *p, int argc) {
  if (p->min_args == p->max_args)
    return sx_make_error("%s: expected %d argument%s, got %d", sx_str_data(p->name), p->min_args,
                         p->min_args == 1 ? "" : "s", argc);
  return sx_make_error("%s: expected %s%d arguments, got %d", sx_str_data(p->name),
                       argc < p->min_args ? "at least " : "at most ",
                       argc < p->min_args ? p->min_args : p->max_args, argc);
}

static inline bool arity_ok(const sx_prim *p, int argc) {
  return argc >= p->min_args && (p->max_args < 0 || argc <= p->max_args);
}

/* ---- the frameless fast path ------------------------------------------------
 * A call marked NF_FAST whose operator (and every nested operator) is a
 * plain C primitive runs directly in C: no frames, no operand stack. Such
 * calls cannot perform or call back into SX, so nothing is lost by not
 * running them on the machine. */

static inline sx_val call_fn_value(const sx_node *call, sx_env *env) {
  const sx_node *fn = call->u.call.fn;
  switch (fn->op) {
  case OP_CONST: return fn->u.k;
  case OP_GLOBAL: return fn->u.cell->value;
  default: return env_up(env, fn->depth)->slots[fn->idx];
  }
}

static inline bool plain_prim(sx_val v) {
  return sx_is(v, SX_T_PRIM) && ((sx_prim *)v)->special == SP_NONE;
}

static bool fast_check(const sx_node *n, sx_env *env) {
  if (!plain_prim(call_fn_value(n, env))) return false;
  for (uint32_t i = 0; i < n->idx; i++) {
    const sx_node *a = n->u.call.args[i];
    if ((a->flags & NF_FAST) && !fast_check(a, env)) return false;
  }
  return true;
}

/* Every operator in the call tree is a plain primitive right now. */
static inline bool fast_ok(sx_vm *vm, sx_node *n, sx_env *env) {
  if (n->fast_epoch == vm->global_epoch) return true;
  if (!fast_check(n, env)) return false;
  if (n->flags & NF_CACHEABLE) n->fast_epoch = vm->global_epoch;
  return true;
}

/* Inline arithmetic on two fixnums; false when not applicable. */
/* Fixnum arithmetic on the tagged words themselves: a tagged fixnum is
 * 2i+1, so a+b-1 and a-b+1 are the tagged sum and difference, and the
 * machine's overflow flag is exactly "outside the fixnum range" (the
 * general primitive then boxes the result). Order compares directly. */
static inline __attribute__((always_inline)) bool fixnum_op(int fop, sx_val a, sx_val b,
                                                            sx_val *out) {
  if (!(a & b & 1)) return false;
  int64_t x = (int64_t)a, y = (int64_t)b, r;
  switch (fop) {
  case FOP_ADD:
    if (__builtin_add_overflow(x, y - 1, &r)) return false;
    *out = (sx_val)r;
    return true;
  case FOP_SUB:
    if (__builtin_sub_overflow(x, y - 1, &r)) return false;
    *out = (sx_val)r;
    return true;
  case FOP_MUL:
    if (__builtin_mul_overflow(x >> 1, y - 1, &r)) return false;
    *out = (sx_val)r | 1;
    return true;
  case FOP_LT: *out = sx_bool(x < y); return true;
  case FOP_GT: *out = sx_bool(x > y); return true;
  case FOP_LE: *out = sx_bool(x <= y); return true;
  case FOP_GE: *out = sx_bool(x >= y); return true;
  case FOP_NUMEQ: *out = sx_bool(x == y); return true;
  default: return false;
  }
}

/* ---- quick evaluation ----------------------------------------------------- */

/* The global operator of NF_ARITH node n is still bound to the primitive
 * it had when analysed. */
static inline bool arith_still(const sx_node *n) {
  return n->u.call.fn->u.cell->value == n->u.call.prim;
}

static bool quick_nested(const sx_node *n, sx_env *env, sx_val *out);

/* An operand of quick arithmetic. An unbound variable reads as SX_UNDEF,
 * which is not a fixnum, so the arithmetic declines and the general path
 * reports it. */
static inline __attribute__((always_inline)) bool quick_operand(const sx_node *x, sx_env *env,
                                                                sx_val *v) {
  if (x->op == OP_LOCAL) {
    *v = env_up(env, x->depth)->slots[x->idx];
    return true;
  }
  if (x->op == OP_CONST) {
    *v = x->u.k;
    return true;
  }
  return quick_nested(x, env, v);
}

/* NF_ARITH node n on two fixnums, evaluated in place. */
static inline __attribute__((always_inline)) bool quick_arith(const sx_node *n, sx_env *env,
                                                              sx_val *out) {
  sx_val a, b;
  return arith_still(n) && quick_operand(n->u.call.args[0], env, &a) &&
         quick_operand(n->u.call.args[1], env, &b) && fixnum_op(n->fop, a, b, out);
}

/* Evaluate n without the machine when it is a constant, a bound variable,
 * or NF_ARITH arithmetic on such operands with a fixnum result. False when
 * it cannot; nothing has been changed then (these nodes have no effects),
 * so the caller takes the general path. */
static inline __attribute__((always_inline)) bool quick(const sx_node *n, sx_env *env, sx_val *out) {
  sx_val v;
  if (n->op == OP_LOCAL) {
    v = env_up(env, n->depth)->slots[n->idx];
  } else if (n->op == OP_CONST) {
    *out = n->u.k;
    return true;
  } else if (n->op == OP_CALL) {
    return (n->flags & NF_ARITH) && quick_arith(n, env, out);
  } else if (n->op == OP_GLOBAL) {
    v = n->u.cell->value;
  } else {
    return false;
  }
  if (v == SX_UNDEF) return false;
  *out = v;
  return true;
}

/* quick for operands nested inside quick arithmetic (kept out of line). */
static bool quick_nested(const sx_node *n, sx_env *env, sx_val *out) { return quick(n, env, out); }

/* Run a fast call. False when it raised: vm->pending holds the raised
 * value and *errat the node to blame. */
static bool fast_call(sx_vm *vm, const sx_node *n, sx_env *env, sx_val *out, const sx_node **errat) {
  sx_val argv[8];
  uint32_t argc = n->idx;
  for (uint32_t i = 0; i < argc; i++) {
    const sx_node *a = n->u.call.args[i];
    if (a->flags & NF_FAST) {
      if (!fast_call(vm, a, env, &argv[i], errat)) return false;
    } else if (!simple_eval(a, env, &argv[i])) {
      *errat = a;
      vm->pending = unbound_error(a);
      return false;
    }
  }
  const sx_prim *p = (const sx_prim *)call_fn_value(n, env);
  if (p->h.aux && argc == 2 && fixnum_op(p->h.aux, argv[0], argv[1], out)) return true;
  *errat = n;
  if (!arity_ok(p, (int)argc)) {
    vm->pending = prim_arity_error(p, (int)argc);
    return false;
  }
  sx_val r = p->fn(vm, (int)argc, argv);
  if (r == SX_UNDEF) return false;
  *out = r;
  return true;
}

/* 1: *out holds the value; 0: not a fast node (use the machine);
 * -1: raised (see fast_call). */
static inline int try_fast(sx_vm *vm, const sx_node *n, sx_env *env, sx_val *out, const sx_node **errat) {
  if (simple_eval(n, env, out)) return 1;
  if (!(n->flags & NF_FAST)) return 0;
  if (n->fast_epoch != vm->global_epoch && !plain_prim(call_fn_value(n, env))) return 0;
  if (!fast_ok(vm, (sx_node *)n, env)) return 0;
  return fast_call(vm, n, env, out, errat) ? 1 : -1;
}

/* A call of a closure whose operator and operands all evaluate quickly:
 * push the closure and the operands and return true (the caller applies);
 * otherwise leave the operand stack as it was and return false. */
static inline bool quick_closure_call(sx_fiber *f, const sx_node *call, sx_env *env) {
  sx_val fnv;
  if (!quick(call->u.call.fn, env, &fnv) || !sx_is(fnv, SX_T_FN)) return false;
  size_t b0 = f->vsp;
  vpush(f, fnv);
  for (uint32_t k = 0; k < call->idx; k++) {
    sx_val v;
    if (!quick(call->u.call.args[k], env, &v)) {
      f->vsp = b0;
      return false;
    }
    vpush(f, v);
  }
  return true;
}

/* A tail call (NF_TAIL) of cl with argc arguments may bind them in the
 * current environment env instead of allocating a new one when env has
 * exactly the callee's shape. Safe because the analyser only marks tail
 * calls of functions that create no closures, so nothing else refers to
 * env; the callee must create none either (its environment may be given
 * back when it returns, see K_RET), and env must not be the callee's own
 * defining environment. */
static inline bool can_rebind(sx_fiber *f, const sx_closure *cl, uint32_t argc, const sx_env *env) {
  const sx_proto *p = cl->proto;
  return env->n == p->nslots && argc == p->nparams && !p->rest && p->noclosure && cl->env != env &&
         !f->vm->interrupt;
}

/* can_rebind for the closure at f->vs[base] with its arguments above it,
 * and the binding itself. */
static inline bool reuse_env(sx_fiber *f, size_t base, sx_env *env) {
  sx_closure *cl = (sx_closure *)f->vs[base];
  const sx_proto *p = cl->proto;
  uint32_t argc = (uint32_t)(f->vsp - base - 1);
  if (!can_rebind(f, cl, argc, env)) return false;
  env->parent = cl->env;
  uint32_t i = 0;
  for (; i < argc; i++) env->slots[i] = f->vs[base + 1 + i];
  for (; i < p->nslots; i++) env->slots[i] = SX_UNDEF;
  return true;
}

/* All operands of a call can be evaluated without the machine. */
static bool operands_fast(sx_vm *vm, const sx_node *call, sx_env *env) {
  for (uint32_t i = 0; i < call->idx; i++) {
    const sx_node *a = call->u.call.args[i];
    if (a->op == OP_CONST || a->op == OP_LOCAL || a->op == OP_GLOBAL) continue;
    if (!(a->flags & NF_FAST) || !fast_ok(vm, (sx_node *)a, env)) return false;
  }
  return true;
}

/* ---- errors --------------------------------------------------------------- */

static void pos_text(sx_buf *b, const sx_srcpos *p) {
  sx_buf_puts(b, sx_is_string(p->file) ? sx_str_data(p->file) : "<input>");
  sx_buf_printf(b, ":%u:%u", p->line, p->col);
}

/* The source position frame i stands for (i == f->ksp: the raise itself). */
static const sx_srcpos *frame_pos(const sx_fiber *f, size_t i, const sx_srcpos *at) {
  return i == f->ksp ? at : (f->ks[i].node ? f->ks[i].node->pos : NULL);
}

/* A backtrace shows one line per place: frames on the same line of the
 * same function (a recursion, a nested expression) make one line. */
static bool same_place(const sx_srcpos *p, const sx_srcpos *last) {
  return p == last ||
         (last && p->line == last->line && p->file == last->file && p->fn_name == last->fn_name);
}

static sx_val backtrace_line(const sx_srcpos *p) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_puts(&b, "in ");
  sx_buf_puts(&b, sx_is_string(p->fn_name) ? sx_str_data(p->fn_name) : "top level");
  sx_buf_puts(&b, " at ");
  pos_text(&b, p);
  sx_val s = sx_string_new(b.data, b.len);
  sx_buf_free(&b);
  return s;
}

/* The places from the raise (innermost first) to the top level: all of
 * them when there are at most MAX_BACKTRACE, else the innermost
 * BACKTRACE_HEAD, a line saying how many are left out, and the outermost
 * ones, so the top level always shows. */
#define BACKTRACE_HEAD 12
static sx_val backtrace_of(sx_fiber *f, const sx_srcpos *at) {
  size_t n = 0, k = 0;
  const sx_srcpos *last = NULL, *p;
  for (size_t i = f->ksp + 1; i-- > 0;)
    if ((p = frame_pos(f, i, at)) && !same_place(p, last)) n++, last = p;
  sx_val out = SX_EMPTY;
  last = NULL;
  for (size_t i = f->ksp + 1; i-- > 0;) {
    if (!(p = frame_pos(f, i, at)) || same_place(p, last)) continue;
    last = p;
    if (n > MAX_BACKTRACE && k == BACKTRACE_HEAD) {
      char gap[64];
      snprintf(gap, sizeof gap, "... %zu more", n - MAX_BACKTRACE);
      out = sx_cons(sx_string_cstr(gap), out);
    }
    if (n <= MAX_BACKTRACE || k < BACKTRACE_HEAD || k >= n - (MAX_BACKTRACE - BACKTRACE_HEAD))
      out = sx_cons(backtrace_line(p), out);
    k++;
  }
  return sx_list_reverse(out);
}

static sx_val pos_string(const sx_srcpos *at) {
  if (!at) return SX_NIL;
  sx_buf b = SX_BUF_INIT;
  pos_text(&b, at);
  sx_val s = sx_string_new(b.data, b.len);
  sx_buf_free(&b);
  return s;
}

/* Give an error value its position and backtrace when it has none. Any
 * other raised value is left as it is (a guard sees exactly what was
 * raised); the fiber remembers where it was first raised, so that if it
 * goes uncaught the host's error value can say where. */
static void locate_error(sx_fiber *f, sx_val raised, const sx_srcpos *at) {
  if (!sx_is(raised, SX_T_ERROR)) {
    if (raised == f->raised) return; /* re-raised: keep the first place */
    f->raised = raised;
    f->raised_where = pos_string(at);
    f->raised_bt = backtrace_of(f, at);
    return;
  }
  sx_error *e = (sx_error *)raised;
  if (e->where != SX_NIL) return;
  e->where = pos_string(at);
  e->backtrace = backtrace_of(f, at);
}

static sx_val as_error_value(sx_fiber *f, sx_val raised) {
  if (sx_is(raised, SX_T_ERROR)) return raised;
  sx_error *e = (sx_error *)sx_error_new(sx_error_message(raised), raised);
  if (raised == f->raised) {
    e->where = f->raised_where;
    e->backtrace = f->raised_bt;
  }
  return (sx_val)e;
}

/* An interrupt unwinds to the host: guards let it through (dynamic-wind
 * after-thunks still run), so Ctrl-C always reaches the prompt. */
static inline bool interrupted(sx_val raised) {
  return sx_is(raised, SX_T_ERROR) && (sx_hdr_of(raised)->flags & SX_F_INTERRUPT);
}

/* ---- the machine ------------------------------------------------------------ */

typedef enum { M_EVAL, M_CONT, M_APPLY, M_RAISE } mmode;

static sx_status machine(sx_fiber *f, mmode mode, sx_node *node, sx_env *env, sx_val val);

static sx_status run_mode(sx_fiber *f, mmode mode, sx_node *node, sx_val val) {
  sx_fiber *saved = f->vm->current;
  f->vm->current = f;
  f->running = true;
  sx_status st = machine(f, mode, node, NULL, val);
  f->running = false;
  f->vm->current = saved;
  return st;
}

enum { START_NONE, START_NODE, START_APPLY, START_FORMS, START_AWAITING };

void sx_fiber_start_node(sx_fiber *f, sx_node *node) {
  fiber_reset(f);
  f->start = START_NODE;
  f->start_node = node;
}

void sx_fiber_start_apply(sx_fiber *f, sx_val fn, int argc, const sx_val *argv) {
  fiber_reset(f);
  vpush(f, fn);
  for (int i = 0; i < argc; i++) vpush(f, argv[i]);
  f->start = START_APPLY;
}

void sx_fiber_start_forms(sx_fiber *f, sx_val forms, sx_val file, bool toplevel) {
  fiber_reset(f);
  sx_kframe *fr = kpush(f, K_FORMS);
  fr->node = NULL;
  fr->d = 0;
  fr->vbase = 0; /* no form has run yet */
  fr->a = forms;
  fr->b = file;
  fr->c = SX_NIL;
  fr->i = toplevel;
  f->start = START_FORMS;
}

static sx_status not_runnable(sx_fiber *f, const char *why) {
  f->status = SX_ERROR;
  f->error = sx_make_error("%s", why);
  return SX_ERROR;
}

sx_status sx_fiber_run(sx_fiber *f) {
  if (f->running) return not_runnable(f, "run: the evaluation is already running");
  uint8_t how = f->start;
  f->start = START_NONE;
  switch (how) {
  case START_NODE: return run_mode(f, M_EVAL, f->start_node, SX_NIL);
  case START_APPLY: return run_mode(f, M_APPLY, NULL, SX_NIL);
  case START_FORMS: return run_mode(f, M_CONT, NULL, SX_NIL);
  default: return not_runnable(f, "run: nothing to run (the evaluation has finished)");
  }
}

sx_status sx_fiber_resume(sx_fiber *f, sx_val value) {
  if (f->running || f->start != START_AWAITING)
    return not_runnable(f, "resume: the evaluation is not suspended on a perform");
  f->start = START_NONE;
  return run_mode(f, M_CONT, NULL, value);
}

sx_status sx_fiber_resume_error(sx_fiber *f, sx_val raised) {
  if (f->running || f->start != START_AWAITING)
    return not_runnable(f, "resume: the evaluation is not suspended on a perform");
  f->start = START_NONE;
  return run_mode(f, M_RAISE, NULL, raised);
}

static sx_status finish(sx_fiber *f, sx_status st, sx_val v) {
  f->status = st;
  if (st == SX_DONE) f->value = v;
  else if (st == SX_ERROR) f->error = as_error_value(f, v);
  else {
    f->request = v;
    f->start = START_AWAITING;
  }
  return st;
}

static const char *fn_label(sx_val fn) {
  sx_val name = ((sx_fnhead *)fn)->name;
  return sx_is_string(name) ? sx_str_data(name) : "anonymous fn";
}

/* Bind arguments for a closure call. Returns NULL and sets *err on arity
 * mismatch. */
/* An environment of n slots: a returned one from the fiber's pool, else a
 * new one. The caller fills every field but the header. */
static inline sx_env *env_take(sx_fiber *f, uint32_t n) {
  sx_env *e;
  if (n < SX_ENV_POOL && (e = f->env_pool[n])) {
    f->env_pool[n] = e->parent;
    return e;
  }
  e = sx_alloc(sizeof *e + n * sizeof(sx_val));
  e->h.type = SX_T_OTHER;
  return e;
}

/* Give back the environment of a closure-free call that has returned (see
 * K_RET): nothing can refer to it any more. */
static inline void env_give(sx_fiber *f, sx_env *e) {
  if (e->n >= SX_ENV_POOL) return;
  e->parent = f->env_pool[e->n];
  f->env_pool[e->n] = e;
}

static sx_env *bind_args(sx_fiber *f, sx_closure *cl, int argc, sx_val *argv, sx_val *err) {
  sx_proto *p = cl->proto;
  if ((uint32_t)argc < p->nparams || (!p->rest && (uint32_t)argc > p->nparams)) {
    *err = sx_make_error("%s: expected %s%u argument%s, got %d", fn_label((sx_val)cl),
                         p->rest ? "at least " : "", p->nparams, p->nparams == 1 ? "" : "s", argc);
    return NULL;
  }
  sx_env *e = env_take(f, p->nslots);
  e->parent = cl->env;
  e->n = p->nslots;
  uint32_t i = 0;
  for (; i < p->nparams; i++) e->slots[i] = argv[i];
  if (p->rest) e->slots[i++] = sx_list((size_t)argc - p->nparams, argv + p->nparams);
  for (; i < p->nslots; i++) e->slots[i] = SX_UNDEF;
  return e;
}

/* bind_args for the common case (exactly the parameters, no &rest), kept
 * inline; anything else goes through bind_args. */
static inline __attribute__((always_inline)) sx_env *bind_exact(sx_fiber *f, sx_closure *cl, int argc,
                                                                sx_val *argv, sx_val *err) {
  sx_proto *p = cl->proto;
  if (p->rest || (uint32_t)argc != p->nparams) return bind_args(f, cl, argc, argv, err);
  sx_env *e = env_take(f, p->nslots);
  e->parent = cl->env;
  e->n = p->nslots;
  uint32_t i = 0;
  for (; i < p->nparams; i++) e->slots[i] = argv[i];
  for (; i < p->nslots; i++) e->slots[i] = SX_UNDEF;
  return e;
}

/* A tail call (NF_TAIL) that can rebind env in place (the conditions of
 * reuse_env), with at most DIRECT_TAIL_MAX operands, all quick: the
 * operands are evaluated into a local array first (they may read env),
 * then bound. Returns the callee's body, or NULL having changed nothing. */
#define DIRECT_TAIL_MAX 8
static inline sx_node *direct_tail(sx_fiber *f, const sx_node *call, sx_env *env) {
  sx_val fnv, tmp[DIRECT_TAIL_MAX];
  if (call->idx > DIRECT_TAIL_MAX || !quick(call->u.call.fn, env, &fnv) || !sx_is(fnv, SX_T_FN))
    return NULL;
  sx_closure *cl = (sx_closure *)fnv;
  const sx_proto *p = cl->proto;
  if (!can_rebind(f, cl, call->idx, env)) return NULL;
  uint32_t i = 0;
  for (; i < p->nparams; i++)
    if (!quick(call->u.call.args[i], env, &tmp[i])) return NULL;
  env->parent = cl->env;
  for (i = 0; i < p->nparams; i++) env->slots[i] = tmp[i];
  for (; i < p->nslots; i++) env->slots[i] = SX_UNDEF;
  return p->body;
}

/* A non-tail call of a closure-free function with exactly its parameters,
 * every operand quick: bind straight into an environment from the pool,
 * skipping the operand stack. Returns the callee's body, or NULL (having
 * taken nothing) when any of that does not hold; operands are pure, so
 * the caller may then evaluate them again on the general path. */
static inline sx_node *direct_bind(sx_fiber *f, const sx_node *call, sx_env *env,
                                         sx_env **out) {
  sx_val fnv;
  if (!quick(call->u.call.fn, env, &fnv) || !sx_is(fnv, SX_T_FN)) return NULL;
  sx_closure *cl = (sx_closure *)fnv;
  const sx_proto *p = cl->proto;
  if (!p->noclosure || p->rest || p->nparams != call->idx || f->vm->interrupt) return NULL;
  sx_env *e = env_take(f, p->nslots);
  e->parent = cl->env;
  e->n = p->nslots;
  uint32_t i = 0;
  for (; i < p->nparams; i++) {
    if (!quick(call->u.call.args[i], env, &e->slots[i])) {
      env_give(f, e);
      return NULL;
    }
  }
  for (; i < p->nslots; i++) e->slots[i] = SX_UNDEF;
  *out = e;
  return p->body;
}

/* The error for a recursion depth beyond vm->max_depth calls, or (frames)
 * one whose frames filled the frame stack first. */
static sx_val depth_error(const sx_vm *vm, uint32_t depth, bool frames) {
  if (frames)
    return sx_make_error("recursion depth limit exceeded: %u nested calls filled all %zu "
                         "frames of the stack", depth, frame_limit(vm));
  return sx_make_error("recursion depth limit exceeded: %u nested calls (the limit is %zu)", depth,
                       vm->max_depth);
}

static bool is_callable(sx_val v) {
  return sx_is(v, SX_T_FN) || sx_is(v, SX_T_PRIM) || sx_is(v, SX_T_CONT);
}

static sx_val list_arg(sx_vm *vm, const char *who, sx_val v) {
  if (v == SX_NIL) return SX_EMPTY;
  if (sx_is_list(v)) return v;
  return sx_type_error(vm, who, "a list", v);
}

#define RAISE(v)        \
  do {                  \
    raised = (v);       \
    goto do_raise;      \
  } while (0)

/* Raise the error a primitive left in vm->pending (it returned SX_UNDEF). */
#define RAISE_PENDING()       \
  do {                        \
    raised = vm->pending;     \
    vm->pending = SX_NIL;     \
    goto do_raise;            \
  } while (0)

#define FAST_RAISE()          \
  do {                        \
    at = errat->pos;          \
    RAISE_PENDING();          \
  } while (0)

#define PUSH(fr, kind)                          \
  do {                                          \
    if (!((fr) = kpush(f, kind)))               \
      RAISE(depth_error(vm, depth, true));      \
    (fr)->d = depth;                            \
  } while (0)

/* A closure's body is about to run: its call depth is one more than that
 * of the code that pushed the top frame (a tail call's caller has no frame
 * left, so it gets its caller's depth). */
#define ENTER_BODY()                                               \
  do {                                                             \
    depth = (f->ksp ? f->ks[f->ksp - 1].d : 0) + 1;                \
    if (__builtin_expect(depth > vm->max_depth, 0))                \
      RAISE(depth_error(vm, depth, false));                        \
  } while (0)

/* The call node a higher-order primitive's frame shows in a backtrace:
 * the call being applied, when it is the one at stands for. */
#define CALL_SITE() ((sx_node *)(site && site->pos == at ? site : NULL))

/* Push a frame that returns to the current node and environment. */
#define PUSH_NODE(fr, kind) \
  do {                      \
    PUSH(fr, kind);         \
    (fr)->node = node;      \
    (fr)->env = env;        \
  } while (0)

/* Set up an application of fn to n values already on the operand stack. */
#define APPLY_FROM(base_)   \
  do {                      \
    base = (base_);         \
    goto do_apply;          \
  } while (0)

static sx_status machine(sx_fiber *f, mmode mode, sx_node *node, sx_env *env, sx_val val) {
  sx_vm *vm = f->vm;
  sx_val raised = SX_NIL;
  size_t base = 0;
  sx_kframe *fr = NULL;
  uint32_t depth = f->ksp ? f->ks[f->ksp - 1].d : 0; /* nested SX calls */
  const sx_node *site = NULL; /* the call being applied, when at is its position */
  sx_val forms; /* run_forms: the forms to evaluate in turn */
  const sx_srcpos *at = node ? node->pos : NULL;
  const sx_node *errat = NULL;
  int fr_st;

  /* Threaded dispatch: every place that evaluates a node jumps straight to
   * the code for its op, so each site gets its own branch prediction. */
  static void *const eval_tab[] = {
      [OP_CONST] = &&E_OP_CONST,
      [OP_LOCAL] = &&E_OP_LOCAL,
      [OP_GLOBAL] = &&E_OP_GLOBAL,
      [OP_IF] = &&E_OP_IF,
      [OP_SEQ] = &&E_OP_OR,
      [OP_AND] = &&E_OP_OR,
      [OP_OR] = &&E_OP_OR,
      [OP_FN] = &&E_OP_FN,
      [OP_CALL] = &&E_OP_CALL,
      [OP_LET] = &&E_OP_LETREC,
      [OP_LETREC] = &&E_OP_LETREC,
      [OP_SET_LOCAL] = &&E_OP_DEFMACRO,
      [OP_SET_GLOBAL] = &&E_OP_DEFMACRO,
      [OP_DEF_GLOBAL] = &&E_OP_DEFMACRO,
      [OP_DEFMACRO] = &&E_OP_DEFMACRO,
      [OP_GUARD] = &&E_OP_GUARD,
      [OP_PERFORM] = &&E_OP_PERFORM,
      [OP_DICT] = &&E_OP_DICT};
#define EVAL() goto *eval_tab[node->op]
  /* ...and every place that returns a value jumps to the top frame's code. */
  static void *const cont_tab[] = {
      [K_IF] = &&C_K_IF,
      [K_SEQ] = &&C_K_OR,
      [K_AND] = &&C_K_OR,
      [K_OR] = &&C_K_OR,
      [K_CALL] = &&C_K_CALL,
      [K_LET] = &&C_K_LETREC,
      [K_LETREC] = &&C_K_LETREC,
      [K_SET_LOCAL] = &&C_K_SET_LOCAL,
      [K_SET_GLOBAL] = &&C_K_SET_GLOBAL,
      [K_DEF_GLOBAL] = &&C_K_DEF_GLOBAL,
      [K_DEFMACRO] = &&C_K_DEFMACRO,
      [K_GUARD] = &&C_K_GUARD,
      [K_PERFORM] = &&C_K_PERFORM,
      [K_ARITH_A] = &&C_K_ARITH_A,
      [K_ARITH_B] = &&C_K_ARITH_B,
      [K_RET] = &&C_K_RET,
      [K_DICT] = &&C_K_DICT,
      [K_MAP] = &&C_K_MAP,
      [K_FOR_EACH] = &&C_K_FOR_EACH,
      [K_MAP_INDEXED] = &&C_K_MAP_INDEXED,
      [K_FILTER] = &&C_K_FILTER,
      [K_SOME] = &&C_K_EVERY,
      [K_EVERY] = &&C_K_EVERY,
      [K_REDUCE] = &&C_K_REDUCE,
      [K_WIND_BEFORE] = &&C_K_WIND_BEFORE,
      [K_WIND_BODY] = &&C_K_WIND_BODY,
      [K_WIND_AFTER] = &&C_K_WIND_AFTER,
      [K_RERAISE] = &&C_K_RERAISE,
      [K_ESCAPE] = &&C_K_ESCAPE,
      [K_CALLCC] = &&C_K_CALLCC,
      [K_FORMS] = &&C_K_FORMS};
#define CONT()                            \
  do {                                    \
    if (f->ksp == 0) goto done;           \
    fr = &f->ks[f->ksp - 1];              \
    depth = fr->d;                        \
    goto *cont_tab[fr->kind];             \
  } while (0)

  switch (mode) {
  case M_EVAL: EVAL();
  case M_CONT: CONT();
  case M_APPLY: base = 0; goto do_apply;
  case M_RAISE: /* resumed with an error: it happened at the perform */
    raised = val;
    at = f->perform_at;
    goto do_raise;
  }

  switch ((sx_op)node->op) { /* entered through EVAL() */
  case OP_CONST: E_OP_CONST: val = node->u.k; CONT();
  case OP_LOCAL: E_OP_LOCAL:
    val = env_up(env, node->depth)->slots[node->idx];
    if (val == SX_UNDEF) {
      at = node->pos;
      RAISE(unbound_error(node));
    }
    CONT();
  case OP_GLOBAL: E_OP_GLOBAL:
    val = node->u.cell->value;
    if (val == SX_UNDEF) {
      at = node->pos;
      RAISE(unbound_error(node));
    }
    CONT();
  case OP_IF: E_OP_IF:
    if (quick(node->u.iff.test, env, &val)) {
      node = sx_truthy(val) ? node->u.iff.then : node->u.iff.els;
      if (node->op == OP_CALL || !quick(node, env, &val)) EVAL();
      CONT();
    }
    fr_st = try_fast(vm, node->u.iff.test, env, &val, &errat);
    if (fr_st > 0) {
      node = sx_truthy(val) ? node->u.iff.then : node->u.iff.els;
      EVAL();
    }
    if (fr_st < 0) FAST_RAISE();
    PUSH_NODE(fr, K_IF);
    node = node->u.iff.test;
    EVAL();
  case OP_SEQ:
  case OP_AND:
  case OP_OR: E_OP_OR:
    PUSH_NODE(fr, node->op == OP_SEQ ? K_SEQ : node->op == OP_AND ? K_AND : K_OR);
    fr->i = 1;
    node = node->u.seq.items[0];
    EVAL();
  case OP_FN: E_OP_FN: {
    sx_closure *cl = sx_alloc(sizeof *cl);
    cl->h.type = SX_T_FN;
    cl->name = node->u.proto->name;
    cl->proto = node->u.proto;
    cl->env = env;
    val = (sx_val)cl;
    CONT();
  }
  case OP_CALL: E_OP_CALL:
    if ((node->flags & NF_ARITH) && arith_still(node)) {
      sx_val a = SX_NIL, b = SX_NIL;
      bool a_ready = quick(node->u.call.args[0], env, &a);
      if (a_ready && quick(node->u.call.args[1], env, &b) && fixnum_op(node->fop, a, b, &val))
        CONT();
      { /* evaluate the operands on frames */
        PUSH_NODE(fr, a_ready ? K_ARITH_B : K_ARITH_A);
        fr->a = a_ready ? a : SX_NIL;
        fr->b = node->u.call.prim;
        node = node->u.call.args[a_ready ? 1 : 0];
        EVAL();
      }
    }
    if (node->flags & NF_TAIL) {
      sx_node *body = direct_tail(f, node, env);
      if (body) {
        at = node->pos;
        node = body;
        EVAL();
      }
    } else if (!(node->flags & NF_TAILPOS)) { /* see K_RET */
      sx_env *ne;
      sx_node *body = direct_bind(f, node, env, &ne);
      if (body) {
        at = node->pos;
        PUSH(fr, K_RET);
        fr->node = node;
        fr->env = ne;
        ENTER_BODY();
        env = ne;
        node = body;
        EVAL();
      }
    }
    if (quick_closure_call(f, node, env)) {
      base = f->vsp - node->idx - 1;
      at = node->pos;
      if ((node->flags & NF_TAIL) && reuse_env(f, base, env)) {
        node = ((sx_closure *)f->vs[base])->proto->body;
        f->vsp = base;
        EVAL();
      }
      if (!(node->flags & NF_TAILPOS) && ((sx_closure *)f->vs[base])->proto->noclosure)
        goto apply_returning;
      goto do_apply;
    }
    if (node->flags & NF_FAST) {
      sx_val fnv = call_fn_value(node, env);
      if (plain_prim(fnv) && fast_ok(vm, node, env)) {
        if (!fast_call(vm, node, env, &val, &errat)) FAST_RAISE();
        CONT();
      }
      if (sx_is(fnv, SX_T_FN) && operands_fast(vm, node, env)) {
        base = f->vsp;
        vpush(f, fnv);
        for (uint32_t k = 0; k < node->idx; k++) {
          const sx_node *a = node->u.call.args[k];
          sx_val v;
          bool ok = (a->flags & NF_FAST) ? fast_call(vm, a, env, &v, &errat) : simple_eval(a, env, &v);
          if (!ok) {
            f->vsp = base;
            if (!(a->flags & NF_FAST)) {
              at = a->pos;
              RAISE(unbound_error(a));
            }
            FAST_RAISE();
          }
          vpush(f, v);
        }
        at = node->pos;
        goto do_apply;
      }
    }
    PUSH_NODE(fr, K_CALL);
    fr->vbase = (uint32_t)f->vsp;
    goto call_next;
  case OP_LET:
  case OP_LETREC: E_OP_LETREC: {
    sx_env *ne = env_new(node->u.let.nslots, env);
    if (node->idx == 0) {
      env = ne;
      node = node->u.let.body;
      EVAL();
    }
    PUSH(fr, node->op == OP_LET ? K_LET : K_LETREC);
    fr->node = node;
    fr->env = node->op == OP_LET ? env : ne;
    fr->a = (sx_val)ne;
    env = fr->env;
    node = node->u.let.inits[0];
    EVAL();
  }
  case OP_SET_LOCAL:
  case OP_SET_GLOBAL:
  case OP_DEF_GLOBAL:
  case OP_DEFMACRO: E_OP_DEFMACRO:
    PUSH_NODE(fr, node->op == OP_SET_LOCAL    ? K_SET_LOCAL
             : node->op == OP_SET_GLOBAL ? K_SET_GLOBAL
             : node->op == OP_DEF_GLOBAL ? K_DEF_GLOBAL
                                         : K_DEFMACRO);
    node = node->val;
    EVAL();
  case OP_GUARD: E_OP_GUARD:
    PUSH_NODE(fr, K_GUARD);
    fr->vbase = (uint32_t)f->vsp;
    node = node->u.guard.body;
    EVAL();
  case OP_PERFORM: E_OP_PERFORM:
    PUSH_NODE(fr, K_PERFORM);
    node = node->val;
    EVAL();
  case OP_DICT: E_OP_DICT:
    PUSH_NODE(fr, K_DICT);
    fr->a = sx_dict_empty();
    fr->i = 0;
    if (node->idx == 0) {
      f->ksp--;
      val = fr->a;
      CONT();
    }
    node = node->u.dict.vals[0];
    EVAL();
  }
  RAISE(sx_make_error("internal: bad node"));

call_next: /* fr is the K_CALL frame; evaluate its next operand */
  for (;;) {
    sx_node *call = fr->node;
    uint32_t k = fr->i;
    if (k > call->idx) {
      at = call->pos;
      site = call;
      f->ksp--;
      APPLY_FROM(fr->vbase);
    }
    sx_node *operand = k == 0 ? call->u.call.fn : call->u.call.args[k - 1];
    fr->i = k + 1;
    sx_val v;
    fr_st = try_fast(vm, operand, fr->env, &v, &errat);
    if (fr_st > 0) {
      vpush(f, v);
      continue;
    }
    if (fr_st < 0) {
      f->vsp = fr->vbase;
      f->ksp--;
      FAST_RAISE();
    }
    node = operand;
    env = fr->env;
    EVAL();
  }

done:
  return finish(f, SX_DONE, val);
  switch ((kkind)fr->kind) { /* entered through CONT() */
  case K_IF: C_K_IF:
    f->ksp--;
    env = fr->env;
    node = sx_truthy(val) ? fr->node->u.iff.then : fr->node->u.iff.els;
    EVAL();
  case K_SEQ:
  case K_AND:
  case K_OR: C_K_OR: {
    if (fr->kind == K_AND && !sx_truthy(val)) {
      f->ksp--;
      CONT();
    }
    if (fr->kind == K_OR && sx_truthy(val)) {
      f->ksp--;
      CONT();
    }
    sx_node *seq = fr->node;
    uint32_t k = fr->i++;
    env = fr->env;
    if (k + 1 == seq->idx) f->ksp--; /* last form: tail position */
    node = seq->u.seq.items[k];
    EVAL();
  }
  case K_CALL: C_K_CALL:
    vpush(f, val);
    goto call_next;
  case K_LET:
  case K_LETREC: C_K_LETREC: {
    sx_env *ne = (sx_env *)fr->a;
    ne->slots[fr->i++] = val;
    if (fr->i < fr->node->idx) {
      env = fr->env;
      node = fr->node->u.let.inits[fr->i];
      EVAL();
    }
    f->ksp--;
    env = ne;
    node = fr->node->u.let.body;
    EVAL();
  }
  case K_SET_LOCAL: C_K_SET_LOCAL:
    f->ksp--;
    env_up(fr->env, fr->node->depth)->slots[fr->node->idx] = val;
    val = SX_NIL;
    CONT();
  case K_SET_GLOBAL: C_K_SET_GLOBAL:
    f->ksp--;
    if (fr->node->u.cell->value == SX_UNDEF) {
      at = fr->node->pos;
      RAISE(sx_make_error("set!: unbound symbol %s", sx_str_data(sx_sym_name(fr->node->sym))));
    }
    if (plain_prim(fr->node->u.cell->value) || plain_prim(val)) vm->global_epoch++;
    fr->node->u.cell->value = val;
    val = SX_NIL;
    CONT();
  case K_DEF_GLOBAL: C_K_DEF_GLOBAL:
    f->ksp--;
    if (plain_prim(fr->node->u.cell->value) || plain_prim(val)) vm->global_epoch++;
    fr->node->u.cell->value = val;
    val = fr->node->sym;
    CONT();
  case K_DEFMACRO: C_K_DEFMACRO: {
    f->ksp--;
    sx_macro *m = sx_obj_new(SX_T_MACRO, sizeof *m);
    m->name = sx_sym_name(fr->node->sym);
    m->fn = val;
    if (plain_prim(fr->node->u.cell->value)) vm->global_epoch++;
    fr->node->u.cell->value = (sx_val)m;
    val = fr->node->sym;
    CONT();
  }
  case K_GUARD: C_K_GUARD:
    f->ksp--;
    CONT();
  case K_PERFORM: C_K_PERFORM: {
    f->ksp--;
    at = fr->node->pos;
    sx_val op, args;
    const sx_resolver *r = sx_find_resolver(vm, val, &op, &args);
    if (r) {
      sx_val result = SX_NIL;
      if (r->fn(vm, r->ud, op, args, val, &result) != 0)
        RAISE(sx_is_string(result) ? sx_error_new(result, SX_NIL) : result);
      val = result;
      CONT();
    }
    if (f->nested) {
      sx_val shown = sx_is_string(op) ? op : sx_print_to_string(val);
      RAISE(sx_make_error("perform: no resolver for op %s", sx_str_data(shown)));
    }
    f->perform_at = at;
    return finish(f, SX_SUSPENDED, val);
  }
  case K_ARITH_A: C_K_ARITH_A: { /* first operand arrived */
    sx_val b;
    fr->a = val;
    if (!quick(fr->node->u.call.args[1], fr->env, &b)) {
      fr->kind = K_ARITH_B;
      env = fr->env;
      node = fr->node->u.call.args[1];
      EVAL();
    }
    val = b;
  }
  /* fallthrough */
  case K_ARITH_B: C_K_ARITH_B: { /* both operands: fr->a and val */
    f->ksp--;
    sx_val argv2[2] = {fr->a, val};
    if (fixnum_op(fr->node->fop, argv2[0], argv2[1], &val)) CONT();
    at = fr->node->pos;
    val = ((sx_prim *)fr->b)->fn(vm, 2, argv2);
    if (val == SX_UNDEF) RAISE_PENDING();
    CONT();
  }
  case K_RET: C_K_RET: /* the closure-free call has returned */
    f->ksp--;
    env_give(f, fr->env);
    CONT();
  case K_DICT: C_K_DICT: {
    sx_node *d = fr->node;
    fr->a = sx_dict_assoc(fr->a, d->u.dict.keys[fr->i++], val);
    if (fr->i < d->idx) {
      env = fr->env;
      node = d->u.dict.vals[fr->i];
      EVAL();
    }
    f->ksp--;
    val = fr->a;
    CONT();
  }
  case K_MAP: C_K_MAP:
    fr->c = sx_cons(val, fr->c);
    /* fallthrough */
  case K_FOR_EACH: C_K_FOR_EACH:
  map_step:
    if (!sx_is_cons(fr->b)) {
      f->ksp--;
      val = fr->kind == K_MAP ? sx_list_reverse(fr->c) : SX_NIL;
      CONT();
    }
    base = f->vsp;
    vpush(f, fr->a);
    vpush(f, sx_car(fr->b));
    fr->b = sx_cdr(fr->b);
    goto apply_callback;
  case K_MAP_INDEXED: C_K_MAP_INDEXED:
    fr->c = sx_cons(val, fr->c);
    if (!sx_is_cons(fr->b)) {
      f->ksp--;
      val = sx_list_reverse(fr->c);
      CONT();
    }
    base = f->vsp;
    vpush(f, fr->a);
    vpush(f, sx_fixnum(fr->i++));
    vpush(f, sx_car(fr->b));
    fr->b = sx_cdr(fr->b);
    goto apply_callback;
  case K_FILTER: C_K_FILTER:
    if (sx_truthy(val)) fr->c = sx_cons(sx_car(fr->b), fr->c);
    fr->b = sx_cdr(fr->b);
    if (!sx_is_cons(fr->b)) {
      f->ksp--;
      val = sx_list_reverse(fr->c);
      CONT();
    }
    base = f->vsp;
    vpush(f, fr->a);
    vpush(f, sx_car(fr->b));
    goto apply_callback;
  case K_SOME:
  case K_EVERY: C_K_EVERY:
    if (fr->kind == K_SOME ? sx_truthy(val) : !sx_truthy(val)) {
      f->ksp--;
      if (fr->kind == K_EVERY) val = SX_FALSE;
      CONT();
    }
    if (!sx_is_cons(fr->b)) {
      f->ksp--;
      val = fr->kind == K_SOME ? SX_NIL : SX_TRUE;
      CONT();
    }
    goto map_step;
  case K_REDUCE: C_K_REDUCE:
    if (!sx_is_cons(fr->b)) {
      f->ksp--;
      CONT();
    }
    base = f->vsp;
    vpush(f, fr->a);
    vpush(f, val);
    vpush(f, sx_car(fr->b));
    fr->b = sx_cdr(fr->b);
    goto apply_callback;
  case K_WIND_BEFORE: C_K_WIND_BEFORE:
    fr->kind = K_WIND_BODY;
    base = f->vsp;
    vpush(f, fr->a); /* the body thunk */
    goto do_apply;
  case K_WIND_BODY: C_K_WIND_BODY:
    fr->kind = K_WIND_AFTER;
    fr->a = val;
    base = f->vsp;
    vpush(f, fr->b); /* the after thunk */
    goto do_apply;
  case K_WIND_AFTER: C_K_WIND_AFTER:
    f->ksp--;
    val = fr->a;
    CONT();
  case K_RERAISE: C_K_RERAISE:
    f->ksp--;
    raised = fr->a;
    goto do_raise;
  case K_ESCAPE: C_K_ESCAPE:
    f->ksp--;
    base = f->vsp;
    vpush(f, fr->a);
    vpush(f, fr->b);
    goto do_apply;
  case K_CALLCC: C_K_CALLCC:
    f->ksp--;
    ((sx_contobj *)fr->a)->live = false;
    CONT();
  case K_FORMS: C_K_FORMS: {
    if (fr->vbase && fr->i && f->ksp == 1) { /* a top-level form finished */
      sx_val problem = sx_toplevel_end(vm, SX_DONE);
      if (problem != SX_NIL) RAISE(problem);
    }
    fr->c = val;
    if (!sx_is_cons(fr->a)) {
      f->ksp--;
      val = fr->c;
      CONT();
    }
    sx_val form = sx_car(fr->a), err = SX_NIL;
    fr->a = sx_cdr(fr->a);
    fr->vbase = 1; /* a form has started */
    sx_val inner = sx_toplevel_begin(form);
    if (inner != SX_UNDEF) { /* its forms one by one, as one top-level form */
      forms = inner;
      goto run_forms;
    }
    node = sx_analyse(vm, form, &err);
    if (!node) RAISE(sx_error_new(err, SX_NIL));
    fr->node = node; /* a backtrace's top level */
    env = NULL;
    EVAL();
  }
  }
  RAISE(sx_make_error("internal: bad frame"));

apply_callback: /* a higher-order primitive calls back: operand stack from base */
  if (sx_is(f->vs[base], SX_T_FN) && ((sx_closure *)f->vs[base])->proto->noclosure) {
    node = NULL; /* no call site of its own: a backtrace shows the caller's */
    goto apply_returning;
  }
  goto do_apply;

apply_returning: { /* a closure-free closure called from a non-tail
                     position: a K_RET frame gives its environment back */
  sx_closure *cl = (sx_closure *)f->vs[base];
  sx_val err;
  if (__builtin_expect(vm->interrupt, 0)) goto do_apply;
  sx_env *ne = bind_exact(f, cl, (int)(f->vsp - base - 1), &f->vs[base + 1], &err);
  f->vsp = base;
  if (!ne) RAISE(err);
  PUSH(fr, K_RET);
  fr->node = node;
  fr->env = ne;
  ENTER_BODY();
  env = ne;
  node = cl->proto->body;
  EVAL();
}

do_apply: { /* operand stack from base: fn, args... */
  sx_val fn = f->vs[base];
  int argc = (int)(f->vsp - base - 1);
  sx_val *argv = &f->vs[base + 1];
  if (sx_is(fn, SX_T_FN)) {
    if (__builtin_expect(vm->interrupt, 0)) {
      vm->interrupt = 0;
      f->vsp = base;
      raised = sx_interrupt_error();
      goto do_raise;
    }
    sx_closure *cl = (sx_closure *)fn;
    sx_val err;
    sx_env *ne = bind_exact(f, cl, argc, argv, &err);
    f->vsp = base;
    if (!ne) RAISE(err);
    ENTER_BODY();
    env = ne;
    node = cl->proto->body;
    EVAL();
  }
  if (sx_is(fn, SX_T_PRIM)) {
    sx_prim *p = (sx_prim *)fn;
    if (!arity_ok(p, argc)) {
      f->vsp = base;
      RAISE(prim_arity_error(p, argc));
    }
    if (p->special == SP_NONE) {
      if (p->h.aux && argc == 2 && fixnum_op(p->h.aux, argv[0], argv[1], &val)) {
        f->vsp = base;
        CONT();
      }
      val = p->fn(vm, argc, argv);
      f->vsp = base;
      if (val == SX_UNDEF) RAISE_PENDING();
      CONT();
    }
    goto do_special;
  }
  if (sx_is(fn, SX_T_CONT)) goto do_escape;
  f->vsp = base;
  RAISE(sx_make_error("cannot call %s: not a function", sx_str_data(sx_shown(fn))));
}

do_special: {
  sx_prim *p = (sx_prim *)f->vs[base];
  int argc = (int)(f->vsp - base - 1);
  sx_val *argv = &f->vs[base + 1];
  sx_val a0 = argv[0], lst;
  kkind kind;
  switch ((sx_special)p->special) {
  case SP_APPLY: { /* (apply f a b ... lst) */
    sx_val spread = argv[argc - 1];
    if (spread != SX_NIL && !sx_is_list(spread)) {
      f->vsp = base;
      RAISE(sx_make_error("apply: expected a list as the last argument, got %s", sx_str_data(sx_shown(spread))));
    }
    memmove(&f->vs[base], &f->vs[base + 1], (size_t)(argc - 1) * sizeof(sx_val));
    f->vsp = base + (size_t)argc - 1;
    for (; sx_is_cons(spread); spread = sx_cdr(spread)) vpush(f, sx_car(spread));
    goto do_apply;
  }
  case SP_MAP: kind = K_MAP; goto list_walk;
  case SP_FOR_EACH: kind = K_FOR_EACH; goto list_walk;
  case SP_FILTER: kind = K_FILTER; goto list_walk;
  case SP_SOME: kind = K_SOME; goto list_walk;
  case SP_EVERY: kind = K_EVERY; goto list_walk;
  case SP_MAP_INDEXED: kind = K_MAP_INDEXED; goto list_walk;
  list_walk:
    f->vsp = base;
    if (!is_callable(a0)) RAISE(sx_make_error("%s: expected a function, got %s", sx_str_data(p->name), sx_str_data(sx_shown(a0))));
    lst = list_arg(vm, sx_str_data(p->name), argv[1]);
    if (lst == SX_UNDEF) RAISE_PENDING();
    if (!sx_is_cons(lst)) {
      val = kind == K_FOR_EACH || kind == K_SOME ? SX_NIL : kind == K_EVERY ? SX_TRUE : SX_EMPTY;
      CONT();
    }
    PUSH(fr, kind);
    fr->node = CALL_SITE();
    fr->a = a0;
    fr->b = lst;
    fr->c = SX_EMPTY;
    if (kind == K_MAP_INDEXED) {
      base = f->vsp;
      vpush(f, a0);
      vpush(f, sx_fixnum(0));
      vpush(f, sx_car(lst));
      fr->i = 1;
      fr->b = sx_cdr(lst);
      goto apply_callback;
    }
    base = f->vsp;
    vpush(f, a0);
    vpush(f, sx_car(lst));
    if (kind != K_FILTER) fr->b = sx_cdr(lst);
    goto apply_callback;
  case SP_REDUCE: { /* (reduce f init lst) or (reduce f lst) */
    sx_val init, l = argv[argc - 1];
    f->vsp = base;
    if (!is_callable(a0)) RAISE(sx_make_error("reduce: expected a function, got %s", sx_str_data(sx_shown(a0))));
    lst = list_arg(vm, "reduce", l);
    if (lst == SX_UNDEF) RAISE_PENDING();
    if (argc == 3) init = argv[1];
    else if (!sx_is_cons(lst)) {
      val = SX_NIL;
      CONT();
    } else {
      init = sx_car(lst);
      lst = sx_cdr(lst);
    }
    PUSH(fr, K_REDUCE);
    fr->node = CALL_SITE();
    fr->a = a0;
    fr->b = lst;
    val = init;
    CONT();
  }
  case SP_DYNAMIC_WIND: {
    for (int i = 0; i < 3; i++)
      if (!is_callable(argv[i])) {
        f->vsp = base;
        RAISE(sx_make_error("dynamic-wind: expected three functions, got %s", sx_str_data(sx_shown(argv[i]))));
      }
    sx_val before = argv[0], body = argv[1], after = argv[2];
    f->vsp = base;
    PUSH(fr, K_WIND_BEFORE);
    fr->node = CALL_SITE();
    fr->a = body;
    fr->b = after;
    vpush(f, before);
    goto do_apply;
  }
  case SP_CALLCC: {
    f->vsp = base;
    if (!is_callable(a0)) RAISE(sx_make_error("call/cc: expected a function, got %s", sx_str_data(sx_shown(a0))));
    PUSH(fr, K_CALLCC);
    fr->node = CALL_SITE();
    sx_contobj *k = sx_obj_new(SX_T_CONT, sizeof *k);
    k->name = sx_string_cstr("continuation");
    k->fiber = f;
    k->ksp = f->ksp;
    k->id = ++vm->next_cont_id;
    k->live = true;
    fr->a = (sx_val)k;
    vpush(f, a0);
    vpush(f, (sx_val)k);
    goto do_apply;
  }
  case SP_EVAL: {
    f->vsp = base;
    sx_val err = SX_NIL;
    forms = sx_toplevel_begin(a0);
    if (forms != SX_UNDEF) goto run_forms;
    node = sx_analyse(vm, a0, &err);
    if (!node) RAISE(sx_error_new(err, SX_NIL));
    env = NULL;
    EVAL();
  }
  case SP_LOAD: {
    f->vsp = base;
    if (!sx_is_string(a0)) RAISE(sx_make_error("load: expected a path string, got %s", sx_str_data(sx_shown(a0))));
    if (memchr(sx_str_data(a0), 0, sx_str_len(a0))) RAISE(sx_make_error("load: the path %s contains a NUL byte", sx_str_data(sx_shown(a0))));
    sx_val err = SX_NIL;
    forms = sx_read_source_file(vm, sx_str_data(a0), &err);
    if (forms == SX_UNDEF) RAISE(err);
    goto run_forms;
  }
  case SP_HOST: /* argv[-1] is p itself: see sx_special */
    val = p->fn(vm, argc, argv);
    f->vsp = base;
    if (val == SX_UNDEF) RAISE_PENDING();
    CONT();
  case SP_NONE: break;
  }
  f->vsp = base;
  RAISE(sx_make_error("internal: bad special primitive"));
}

run_forms: /* evaluate forms one by one, each analysed just before it runs */
  PUSH(fr, K_FORMS);
  fr->node = NULL;
  fr->vbase = 0;
  fr->a = forms;
  fr->b = SX_NIL;
  fr->c = SX_NIL;
  fr->i = 0; /* never a top-level evaluation of its own */
  val = SX_NIL;
  CONT();

do_escape: { /* invoke an escape continuation */
  sx_contobj *k = (sx_contobj *)f->vs[base];
  int argc = (int)(f->vsp - base - 1);
  sx_val v = argc > 0 ? f->vs[base + 1] : SX_NIL;
  f->vsp = base;
  if (!k->live || k->fiber != f || k->ksp > f->ksp || f->ks[k->ksp - 1].a != (sx_val)k)
    RAISE(sx_make_error("continuation called outside its extent (only escaping continuations are supported)"));
  /* run the after thunks of dynamic-winds being left, innermost first */
  for (size_t i = f->ksp; i-- > k->ksp;) {
    if (f->ks[i].kind == K_WIND_BODY) {
      sx_val after = f->ks[i].b;
      depth = f->ks[i].d;
      f->ksp = i;
      PUSH(fr, K_ESCAPE);
      fr->node = NULL;
      fr->a = (sx_val)k;
      fr->b = v;
      base = f->vsp;
      vpush(f, after);
      goto do_apply;
    }
  }
  f->ksp = k->ksp - 1; /* drop the K_CALLCC frame too */
  k->live = false;
  val = v;
  CONT();
}

do_raise:
  locate_error(f, raised, at);
  while (f->ksp > 0) {
    fr = &f->ks[--f->ksp];
    depth = fr->d; /* unwinding into the code that pushed fr */
    if (fr->kind == K_GUARD && !interrupted(raised)) {
      f->vsp = fr->vbase;
      env = env_new(fr->node->idx, fr->env);
      env->slots[0] = raised;
      node = fr->node->u.guard.handler;
      EVAL();
    }
    if (fr->kind == K_WIND_BODY) { /* leaving a dynamic-wind: run its after thunk */
      sx_val after = fr->b;
      PUSH(fr, K_RERAISE);
      fr->node = NULL;
      fr->a = raised;
      base = f->vsp;
      vpush(f, after);
      goto do_apply;
    }
    if (fr->kind == K_CALLCC) ((sx_contobj *)fr->a)->live = false;
    if (fr->kind == K_FORMS && fr->i && fr->vbase && f->ksp == 0) sx_toplevel_end(vm, SX_ERROR);
  }
  f->vsp = 0;
  return finish(f, SX_ERROR, raised);
}
