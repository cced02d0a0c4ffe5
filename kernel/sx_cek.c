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
 * reuse_env), and a loop of such calls runs in C (run_loop).
 */
#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"
#include "sx_vm.h"

#include <assert.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kkind {
  K_IF,
  K_SEQ,
  K_AND,
  K_OR,
  K_CALL,
  K_LET,
  K_LETREC,
  K_SET_LOCAL,
  K_SET_GLOBAL,
  K_DEF_GLOBAL,
  K_DEFMACRO,
  K_GUARD,
  K_PERFORM,
  K_DICT,
  K_MAP,
  K_FILTER,
  K_REDUCE,
  K_FOR_EACH,
  K_SOME,
  K_EVERY,
  K_WIND_BEFORE,
  K_WIND_BODY,
  K_WIND_AFTER,
  K_RERAISE,
  K_ESCAPE,
  K_CALLCC,
  K_FORMS,
  K_MAP_INDEXED,
  K_ARITH_A,
  K_ARITH_B,
  K_RET,
  K_SORT,
  K_ARITH_A_RET,
  K_ARITH_B_RET
} kkind;

/* A continuation frame. Every kind keeps its own fields in a named member
 * of u (as Lua's CallInfo does); docs/internals.md has the table of kinds.
 * node is what a backtrace shows for the frame (NULL: nothing) and, for
 * the frames of special forms, the node being evaluated; env is the
 * environment the frame's code runs in when it resumes. */
struct sx_kframe {
  uint8_t kind; /* kkind */
  uint32_t d;   /* the SX call depth of the code that pushed the frame */
  sx_node *node;
  sx_env *env;
  union {
    struct {
      uint32_t next;
    } seq; /* K_SEQ/AND/OR: next item */
    struct {
      uint32_t next, vbase;
    } call; /* K_CALL: next operand
                                                      (0 = the operator), and the
                                                      operand stack height where
                                                      the operator goes */
    struct {
      sx_env *frame;
      uint32_t next;
    } let; /* K_LET/LETREC: the new
                                                      environment, next init */
    struct {
      uint32_t vbase;
    } guard; /* K_GUARD: operand stack height */
    struct {
      sx_val left, prim;
      sx_env *callee;
    } arith; /* K_ARITH_*: the first
                                                      operand (B), the primitive;
                                                      _RET: the environment of the
                                                      closure-free call entered
                                                      for the operand awaited
                                                      (arith_enter) */
    struct {
      sx_val acc;
      uint32_t next;
    } dict; /* K_DICT: dict so far, next value (see dict_literal_start) */
    struct {
      sx_val fn, rest, acc, tail;
      uint32_t index;
    } walk; /* K_MAP, K_FILTER, K_FOR_EACH, K_SOME, K_EVERY, K_MAP_INDEXED,
               K_REDUCE. map and filter build acc, their result, front to
               back: tail is its last cell (when acc is a cons), whose cdr
               the next item's cell replaces. Those cells are new and only
               this frame refers to them until the walk returns acc, so
               setting a cdr is never seen; a frame is resumed at most once
               (frames are updated in place: rest, index). */
    struct {
      sx_val body, after, result;
    } wind; /* K_WIND_* */
    struct {
      sx_val raised;
    } reraise; /* K_RERAISE */
    struct {
      sx_val k, value;
    } escape; /* K_ESCAPE */
    struct {
      sx_contobj *k;
    } callcc; /* K_CALLCC */
    struct {
      sx_val forms, file, last;
      bool toplevel, started;
    } forms; /* K_FORMS */
    struct {
      sx_val fn;
      struct msort *m;
    } sort; /* K_SORT: the comparator, the merge */
  } u;
};

#define INITIAL_K                                                                                            \
  16 /* 16 frames stay under Boehm's large-object size (2 KB): a
                       * new fiber (one per top-level evaluation) costs a
                       * free-list allocation, not a fresh cleared block */
#define INITIAL_V 64
#define MAX_BACKTRACE 16

/* ---- fiber stacks -------------------------------------------------------- */

/* Give f stacks: the spare ones of the last fiber that ended (see
 * give_stacks), else new ones. */
static void take_stacks(sx_fiber *f) {
  sx_vm *vm = f->vm;
  if (vm->spare_ks) {
    f->ks = vm->spare_ks;
    f->kcap = vm->spare_kcap;
    f->vs = vm->spare_vs;
    f->vcap = vm->spare_vcap;
    vm->spare_ks = NULL;
    vm->spare_vs = NULL;
    return;
  }
  f->kcap = INITIAL_K;
  f->ks = sx_alloc(f->kcap * sizeof *f->ks);
  f->vcap = INITIAL_V;
  f->vs = sx_alloc(f->vcap * sizeof *f->vs);
}

/* f has ended (done or failed): nothing reads its stacks any more (an
 * escape into it finds ksp 0 first), so the next fiber may have them,
 * unless they grew large. f keeps kcap and vcap (what they grew to); a
 * restart gives it stacks again. */
#define SPARE_MAX_K 1024
static void give_stacks(sx_fiber *f) {
  sx_vm *vm = f->vm;
  if (!f->ks) return;
  if (!vm->spare_ks && f->kcap <= SPARE_MAX_K && f->vcap <= 16 * SPARE_MAX_K) {
    vm->spare_ks = f->ks;
    vm->spare_kcap = f->kcap;
    vm->spare_vs = f->vs;
    vm->spare_vcap = f->vcap;
  }
  f->ks = NULL;
  f->vs = NULL;
}

/* Empty the stacks and forget the last raise before a new evaluation. */
static void fiber_reset(sx_fiber *f) {
  if (!f->ks) take_stacks(f);
  f->ksp = f->vsp = 0;
  f->raised = SX_UNDEF;
  f->raised_where = SX_NIL;
  f->raised_bt = SX_EMPTY;
}

sx_fiber *sx_fiber_new(sx_vm *vm) {
  sx_fiber *f = sx_alloc(sizeof *f);
  f->vm = vm;
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

static __attribute__((noinline, cold)) bool kgrow(sx_fiber *f) {
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
  return fr;
}

static __attribute__((noinline, cold)) void vgrow(sx_fiber *f) {
  size_t ncap = f->vcap * 2;
  sx_val *nv = GC_MALLOC(ncap * sizeof *nv);
  if (!nv) abort();
  memcpy(nv, f->vs, f->vsp * sizeof *nv);
  f->vs = nv;
  f->vcap = ncap;
}

static SX_ALWAYS_INLINE void vpush(sx_fiber *f, sx_val v) {
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

static SX_ALWAYS_INLINE sx_env *env_up(sx_env *e, uint16_t depth) {
  while (depth--) e = e->parent;
  return e;
}

/* Evaluate a node that needs no machine step. False when it is not simple
 * or would raise (the slow path then reports the error). */
static SX_ALWAYS_INLINE bool simple_eval(const sx_node *n, sx_env *env, sx_val *out) {
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
  int n = argc < p->min_args ? p->min_args : p->max_args; /* the bound it broke */
  return sx_make_error("%s: expected %s%d argument%s, got %d", sx_str_data(p->name),
                       p->min_args == p->max_args ? ""
                       : argc < p->min_args       ? "at least "
                                                  : "at most ",
                       n, n == 1 ? "" : "s", argc);
}

static inline bool arity_ok(const sx_prim *p, int argc) {
  return argc >= p->min_args && (p->max_args < 0 || argc <= p->max_args);
}

/* ---- the frameless fast path ------------------------------------------------
 * A call marked NF_FAST whose operator (and every nested operator) is a
 * plain C primitive runs directly in C: no frames, no operand stack. Such
 * calls cannot perform or call back into SX, so nothing is lost by not
 * running them on the machine. */

static SX_ALWAYS_INLINE sx_val call_fn_value(const sx_node *call, sx_env *env) {
  const sx_node *fn = call->u.call.fn;
  switch (fn->op) {
    case OP_CONST: return fn->u.k;
    case OP_GLOBAL: return fn->u.cell->value;
    default: return env_up(env, fn->depth)->slots[fn->idx];
  }
}

static SX_ALWAYS_INLINE bool plain_prim(sx_val v) {
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
static SX_ALWAYS_INLINE bool fixnum_op(int fop, sx_val a, sx_val b, sx_val *out) {
  if (!(a & b & 1)) return false;
  int64_t x = (int64_t)a, y = (int64_t)b, r;
  /* the commonest first, tested in turn: cheaper than the jump table */
  if (fop == FOP_ADD) {
    if (__builtin_add_overflow(x, y - 1, &r)) return false;
    *out = (sx_val)r;
    return true;
  }
  if (fop == FOP_SUB) {
    if (__builtin_sub_overflow(x, y - 1, &r)) return false;
    *out = (sx_val)r;
    return true;
  }
  if (fop == FOP_LT) {
    *out = sx_bool(x < y);
    return true;
  }
  switch (fop) {
    case FOP_MUL:
      if (__builtin_mul_overflow(x >> 1, y - 1, &r)) return false;
      *out = (sx_val)r | 1;
      return true;
    case FOP_GT: *out = sx_bool(x > y); return true;
    case FOP_LE: *out = sx_bool(x <= y); return true;
    case FOP_GE: *out = sx_bool(x >= y); return true;
    default: /* FOP_NUMEQ: every caller passes the FOP_* of a fast primitive */
      *out = sx_bool(x == y);
      return true;
  }
}

/* ---- quick evaluation ----------------------------------------------------- */

/* The global operator of NF_ARITH node n is still bound to the primitive
 * it had when analysed. */
static SX_ALWAYS_INLINE bool arith_still(const sx_node *n) {
  return n->u.call.fn->u.cell->value == n->u.call.prim;
}

static bool quick_nested(const sx_node *n, sx_env *env, sx_val *out);

/* An operand of quick arithmetic. An unbound variable reads as SX_UNDEF,
 * which is not a fixnum, so the arithmetic declines and the general path
 * reports it. */
static SX_ALWAYS_INLINE bool quick_operand(const sx_node *x, sx_env *env, sx_val *v) {
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

/* NF_ARITH node n on two fixnums, evaluated in place. The common operand
 * shapes (ashape) read their operands without looking at them first. */
static SX_ALWAYS_INLINE bool quick_arith(const sx_node *n, sx_env *env, sx_val *out) {
  sx_node *const *x = n->u.call.args;
  if (!arith_still(n)) return false;
  switch (n->ashape) {
    case ARITH_SHAPE(AK_LOCAL0, AK_CONST): return fixnum_op(n->fop, env->slots[x[0]->idx], x[1]->u.k, out);
    case ARITH_SHAPE(AK_LOCAL0, AK_LOCAL0):
      return fixnum_op(n->fop, env->slots[x[0]->idx], env->slots[x[1]->idx], out);
    default: { /* only these operands have their address taken (kept out of registers) */
      sx_val a, b;
      return quick_operand(x[0], env, &a) && quick_operand(x[1], env, &b) && fixnum_op(n->fop, a, b, out);
    }
  }
}

/* Evaluate n without the machine when it is a constant, a bound variable,
 * or NF_ARITH arithmetic on such operands with a fixnum result. False when
 * it cannot; nothing has been changed then (these nodes have no effects),
 * so the caller takes the general path. */
static SX_ALWAYS_INLINE bool quick(const sx_node *n, sx_env *env, sx_val *out) {
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
  if (!(call->flags & NF_QUICK) || !quick(call->u.call.fn, env, &fnv) || !sx_is(fnv, SX_T_FN)) return false;
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
static SX_ALWAYS_INLINE bool can_rebind(sx_fiber *f, const sx_closure *cl, uint32_t argc,
                                                             const sx_env *env) {
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
  if (i == f->ksp) return at;
  const sx_kframe *fr = &f->ks[i];
  if (fr->kind == K_ARITH_A_RET || fr->kind == K_ARITH_B_RET) /* it stands for the K_RET too */
    return fr->node->u.call.args[fr->kind == K_ARITH_B_RET]->pos;
  return fr->node ? fr->node->pos : NULL;
}

/* A backtrace shows one line per place: frames on the same line of the
 * same function (a recursion, a nested expression) make one line. */
static bool same_place(const sx_srcpos *p, const sx_srcpos *last) {
  return p == last || (last && p->line == last->line && p->file == last->file && p->fn_name == last->fn_name);
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

typedef enum { M_EVAL, M_CONT, M_APPLY, M_RAISE, M_STOP } mmode;

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
  fr->u.forms.forms = forms;
  fr->u.forms.file = file;
  fr->u.forms.last = SX_NIL;
  fr->u.forms.toplevel = toplevel;
  fr->u.forms.started = false; /* no form has run yet */
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
    return st;
  }
  f->ksp = f->vsp = 0;
  give_stacks(f);
  return st;
}

static const char *fn_label(sx_val fn) {
  sx_val name = ((sx_fnhead *)fn)->name;
  return sx_is_string(name) ? sx_str_data(name) : "anonymous fn";
}

/* "f: expected 2 arguments (stream event), got 1": the parameters named
 * as the fn was written. */
static sx_val arity_error(const sx_closure *cl, int argc) {
  const sx_proto *p = cl->proto;
  sx_buf names = SX_BUF_INIT;
  sx_print_params(&names, p->params);
  sx_val e = sx_make_error("%s: expected %s%u argument%s%s%s%s, got %d", fn_label((sx_val)cl),
                           p->rest ? "at least " : "", p->nparams, p->nparams == 1 ? "" : "s",
                           names.len ? " (" : "", names.len ? names.data : "", names.len ? ")" : "", argc);
  sx_buf_free(&names);
  return e;
}

/* Bind arguments for a closure call. Returns NULL and sets *err on arity
 * mismatch. */
/* An environment of n slots: a returned one from the fiber's pool, else a
 * new one. The caller fills every field but the header. */
static SX_ALWAYS_INLINE sx_env *env_take(sx_fiber *f, uint32_t n) {
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
static SX_ALWAYS_INLINE void env_give(sx_fiber *f, sx_env *e) {
  if (e->n >= SX_ENV_POOL) return;
  e->parent = f->env_pool[e->n];
  f->env_pool[e->n] = e;
}

static sx_env *bind_args(sx_fiber *f, sx_closure *cl, int argc, sx_val *argv, sx_val *err) {
  sx_proto *p = cl->proto;
  if ((uint32_t)argc < p->nparams || (!p->rest && (uint32_t)argc > p->nparams)) {
    *err = arity_error(cl, argc);
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
static SX_ALWAYS_INLINE sx_env *bind_exact(sx_fiber *f, sx_closure *cl, int argc,
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

/* Copy n (at most 8) operand values into an environment's slots. Written
 * out, so the compiler emits plain moves rather than a string copy. */
static SX_ALWAYS_INLINE void slots_set(sx_val *dst, const sx_val *src, uint32_t n) {
  switch (n) {
    case 8: dst[7] = src[7]; /* fall through */
    case 7: dst[6] = src[6]; /* fall through */
    case 6: dst[5] = src[5]; /* fall through */
    case 5: dst[4] = src[4]; /* fall through */
    case 4: dst[3] = src[3]; /* fall through */
    case 3: dst[2] = src[2]; /* fall through */
    case 2: dst[1] = src[1]; /* fall through */
    case 1: dst[0] = src[0]; /* fall through */
    default: break;
  }
}

/* A tail call (NF_TAIL) that can rebind env in place (the conditions of
 * reuse_env), with at most DIRECT_TAIL_MAX operands, all quick: the
 * operands are evaluated into a local array first (they may read env),
 * then bound. Returns the callee's body, or NULL having changed nothing. */
#define DIRECT_TAIL_MAX 8
static SX_ALWAYS_INLINE sx_node *direct_tail(sx_fiber *f, const sx_node *call,
                                                                  sx_env *env) {
  sx_val fnv, tmp[DIRECT_TAIL_MAX];
  if (!(call->flags & NF_QUICK) || call->idx > DIRECT_TAIL_MAX || !quick(call->u.call.fn, env, &fnv) ||
      !sx_is(fnv, SX_T_FN))
    return NULL;
  sx_closure *cl = (sx_closure *)fnv;
  const sx_proto *p = cl->proto;
  if (!can_rebind(f, cl, call->idx, env)) return NULL;
  uint32_t n = p->nparams;
  for (uint32_t i = 0; i < n; i++)
    if (!quick(call->u.call.args[i], env, &tmp[i])) return NULL;
  env->parent = cl->env;
  slots_set(env->slots, tmp, n);
  for (uint32_t i = n; i < p->nslots; i++) env->slots[i] = SX_UNDEF;
  return p->body;
}

static inline sx_val take_pending(sx_vm *vm) {
  sx_val v = vm->pending;
  vm->pending = SX_NIL;
  return v;
}

/* An NF_SELF call (a loop's next iteration). When the variable still
 * names a closure of the function over the same parent and no operand
 * needs the machine (each is a constant, a variable, or a frameless call
 * tree of plain primitives), evaluate the operands, rebind the function's
 * own environment (*fe) in place and return 1 (its body runs next). 0: not
 * applicable, nothing evaluated. -1: an operand raised (*val at *at). */
static __attribute__((noinline)) int self_jump(sx_fiber *f, sx_node *call, sx_env *env, sx_env **fe_out,
                                               sx_val *val, const sx_srcpos **at) {
  sx_vm *vm = f->vm;
  const sx_proto *p = call->u.call.self;
  sx_env *fe = env_up(env, call->depth);
  sx_val fnv = call_fn_value(call, env), tmp[8]; /* a variable: SX_UNDEF is no closure */
  if (!sx_is(fnv, SX_T_FN) || ((sx_closure *)fnv)->proto != p || ((sx_closure *)fnv)->env != fe->parent ||
      vm->interrupt)
    return 0;
  bool committed = false; /* an operand was evaluated by a primitive call */
  for (uint32_t i = 0; i < p->nparams; i++) {
    sx_node *a = call->u.call.args[i];
    const sx_node *errat;
    if (quick(a, env, &tmp[i])) continue; /* pure: may still back out */
    if (!committed) {
      for (uint32_t j = i; j < p->nparams; j++) {
        sx_node *b = call->u.call.args[j];
        if (b->op != OP_CONST && b->op != OP_LOCAL && b->op != OP_GLOBAL &&
            (!(b->flags & NF_FAST) || !fast_ok(vm, b, env)))
          return 0;
      }
      committed = true;
    }
    if (!(a->flags & NF_FAST)) { /* an unbound variable */
      *at = a->pos;
      *val = unbound_error(a);
      return -1;
    }
    if (!fast_call(vm, a, env, &tmp[i], &errat)) {
      *at = errat->pos;
      *val = take_pending(vm);
      return -1;
    }
  }
  slots_set(fe->slots, tmp, p->nparams);
  for (uint32_t i = p->nparams; i < p->nslots; i++) fe->slots[i] = SX_UNDEF;
  *fe_out = fe;
  return 1;
}

/* One tail call of a loop, rebinding in place: direct_tail for NF_TAIL,
 * else self_jump for NF_SELF. 2 (direct_tail) or 1 (self_jump): run *body
 * in *env; 0: neither applies; -1: raised (*val at *at). */
static SX_ALWAYS_INLINE int
tail_step(sx_fiber *f, sx_node *call, sx_env **env, sx_node **body, sx_val *val, const sx_srcpos **at) {
  if ((call->flags & NF_TAIL) && (*body = direct_tail(f, call, *env))) return 2;
  if (!(call->flags & NF_SELF)) return 0;
  int st = self_jump(f, call, *env, env, val, at);
  if (st > 0) *body = call->u.call.self->body;
  return st;
}

static inline bool is_local0(const sx_node *n) { return n->op == OP_LOCAL && n->depth == 0; }

/* direct_tail for a call that has just rebound env in place and runs
 * again with nothing but quick nodes run since: only the operands are
 * evaluated and bound. False, having changed nothing, when one is not
 * quick or an interrupt is waiting (the general path handles those). */
static SX_ALWAYS_INLINE bool rebind_again(sx_fiber *f, sx_node *call, sx_env *env) {
  sx_val tmp[DIRECT_TAIL_MAX];
  uint32_t n = call->idx;
  if (f->vm->interrupt) return false;
  for (uint32_t i = 0; i < n; i++)
    if (!quick(call->u.call.args[i], env, &tmp[i])) return false;
  slots_set(env->slots, tmp, n);
  for (uint32_t i = n; i < env->n; i++) env->slots[i] = SX_UNDEF;
  return true;
}

/* What run_loop did: st 1, run body in env (at: the last call's
 * position); 0, nothing; -1, an operand raised val at at. Returned as a
 * struct, so that the machine's registers never have their address taken. */
typedef struct loop_res {
  int st;
  sx_node *body;
  sx_env *env;
  sx_val val;
  const sx_srcpos *at;
} loop_res;

/* A loop runs as a loop: the tail call `call` rebinds its environment in
 * place (tail_step) and, for as long as the body then comes to another
 * such call through `if`s whose tests are quick, so does that one, without
 * going back to the machine. The machine goes on with the first node that
 * needs it: a test that is not quick, the loop's result, a call that
 * cannot rebind. Every step is one the machine would take: quick tests
 * have no effects, and tail_step checks its conditions (the interrupt flag
 * included) each time. */
static __attribute__((noinline)) loop_res run_loop(sx_fiber *f, sx_node *call, sx_env *env) {
  loop_res r = {0, NULL, env, SX_NIL, NULL};
  sx_node *n;
  sx_env *e = env;
  sx_val val = SX_NIL;
  const sx_srcpos *at = NULL;
  int st = tail_step(f, call, &e, &n, &val, &at);
  if (st < 0) {
    r.st = -1;
    r.val = val;
    r.at = at;
  }
  if (st <= 0) return r;
  /* The same call rebinding the same environment again: direct_tail's
   * checks all still hold, since only quick (effect-free) nodes ran in
   * between, unless the operator is a variable the rebinding changed. */
  const sx_node *again = st == 2 && !is_local0(call->u.call.fn) ? call : NULL;
  sx_node *again_body = n;
  for (;;) {
    sx_val t;
    while (n->op == OP_IF && quick(n->u.iff.test, e, &t)) n = sx_truthy(t) ? n->u.iff.then : n->u.iff.els;
    if (n == again && rebind_again(f, n, e)) {
      n = again_body;
      continue;
    }
    if (n->op != OP_CALL || !(n->flags & (NF_TAIL | NF_SELF)) || (n->flags & NF_ARITH)) break;
    sx_node *next;
    st = tail_step(f, n, &e, &next, &val, &at);
    if (st < 0) {
      r.st = -1;
      r.val = val;
      r.at = at;
      return r;
    }
    if (st == 0) break;
    call = n;
    n = next;
  }
  r.st = 1;
  r.body = n;
  r.env = e;
  r.at = call->pos;
  return r;
}

/* A non-tail call of a closure-free function with exactly its parameters,
 * every operand quick: bind straight into an environment from the pool,
 * skipping the operand stack. Returns the callee's body, or NULL (having
 * taken nothing) when any of that does not hold; operands are pure, so
 * the caller may then evaluate them again on the general path. */
static SX_ALWAYS_INLINE sx_node *direct_bind(sx_fiber *f, const sx_node *call,
                                                                  sx_env *env, sx_env **out) {
  sx_val fnv;
  const sx_node *fn = call->u.call.fn;
  if (!(call->flags & NF_QUICK)) return NULL;
  if (fn->op == OP_GLOBAL) /* the commonest: an unbound one reads as SX_UNDEF, not a closure */
    fnv = fn->u.cell->value;
  else if (!quick(fn, env, &fnv)) return NULL;
  if (!sx_is(fnv, SX_T_FN)) return NULL;
  sx_closure *cl = (sx_closure *)fnv;
  const sx_proto *p = cl->proto;
  if (p->bind_argc != call->idx || f->vm->interrupt) return NULL;
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

/* An operand of the inline arithmetic on frame fr (the first on K_ARITH_A,
 * the second on K_ARITH_B), about to be evaluated as *node in *env, is an
 * AK_ENTER call: when direct_bind can enter it, fr stands for its K_RET
 * frame as well (becoming K_ARITH_A_RET or K_ARITH_B_RET, which give
 * fr->u.arith.callee back to the pool when the value arrives), so the
 * call pushes no frame of its own. True: run *node in *env at *depth.
 * False, having changed nothing: evaluate *node as usual (the general
 * path also reports a call beyond the depth limit). */
static SX_ALWAYS_INLINE bool arith_enter(sx_fiber *f, sx_kframe *fr, sx_node **node,
                                                              sx_env **env, uint32_t *depth) {
  sx_node *body;
  sx_env *ne;
  bool k = fr->kind == K_ARITH_B;
  assert(fr->kind == K_ARITH_A || fr->kind == K_ARITH_B);
  assert(*node == fr->node->u.call.args[k] && fr == &f->ks[f->ksp - 1]);
  uint8_t kind = k ? ARITH_KIND1(fr->node->ashape) : ARITH_KIND0(fr->node->ashape);
  if (kind != AK_ENTER || fr->d >= f->vm->max_depth || !(body = direct_bind(f, *node, *env, &ne)))
    return false;
  fr->kind = k ? K_ARITH_B_RET : K_ARITH_A_RET;
  fr->u.arith.callee = ne;
  *depth = fr->d + 1;
  *node = body;
  *env = ne;
  return true;
}

/* The error for a recursion depth beyond vm->max_depth calls, or (frames)
 * one whose frames filled the frame stack first. */
static sx_val depth_error(const sx_vm *vm, uint32_t depth, bool frames) {
  if (frames)
    return sx_make_error("recursion depth limit exceeded: %u nested calls filled all %zu "
                         "frames of the stack",
                         depth, frame_limit(vm));
  return sx_make_error("recursion depth limit exceeded: %u nested calls (the limit is %zu)", depth,
                       vm->max_depth);
}

static bool is_callable(sx_val v) { return sx_is(v, SX_T_FN) || sx_is(v, SX_T_PRIM) || sx_is(v, SX_T_CONT); }

static sx_val list_arg(sx_vm *vm, const char *who, sx_val v) {
  if (v == SX_NIL) return SX_EMPTY;
  if (sx_is_list(v)) return v;
  return sx_type_error(vm, who, "a list", v);
}

/* ---- sort ---------------------------------------------------------------------
 * A stable bottom-up merge sort over an array, written as a resumable
 * state so that a comparator written in SX runs on the machine (a K_SORT
 * frame applies it once per comparison, and a perform inside it suspends
 * like one in a map callback). A comparator that is absent (the default
 * order) or a plain C primitive (`<`, `>`...) runs the whole sort in C. */
typedef struct msort {
  sx_val *a, *b;                /* the runs being merged, and where they go */
  size_t n, width, lo, mid, hi; /* merging a[lo, mid) and a[mid, hi) */
  size_t i, j, k;               /* next left item, next right item, next out */
} msort;

static msort *msort_new(sx_val lst, size_t n) {
  msort *m = sx_alloc(sizeof *m);
  m->a = sx_alloc(n * sizeof *m->a);
  m->b = sx_alloc(n * sizeof *m->b);
  m->n = n;
  for (size_t i = 0; i < n; i++, lst = sx_cdr(lst)) m->a[i] = sx_car(lst);
  m->width = 1;
  m->lo = m->i = m->k = 0;
  m->mid = m->j = n < 1 ? n : 1;
  m->hi = n < 2 ? n : 2;
  return m;
}

/* Move the merge on to the next comparison: true when one is needed
 * (is a[j] less than a[i]?), false when the array is sorted (in m->a). */
static inline bool msort_next(msort *m) {
  for (;;) {
    if (m->i < m->mid && m->j < m->hi) return true;
    while (m->i < m->mid) m->b[m->k++] = m->a[m->i++];
    while (m->j < m->hi) m->b[m->k++] = m->a[m->j++];
    m->lo = m->hi;
    if (m->lo >= m->n) { /* a pass is over */
      sx_val *t = m->a;
      m->a = m->b;
      m->b = t;
      m->width *= 2;
      if (m->width >= m->n) return false;
      m->lo = 0;
    }
    m->mid = m->lo + m->width < m->n ? m->lo + m->width : m->n;
    m->hi = m->lo + 2 * m->width < m->n ? m->lo + 2 * m->width : m->n;
    m->i = m->k = m->lo;
    m->j = m->mid;
  }
}

/* The comparison's answer: the right item goes first only when it is
 * strictly less, so equal items keep their order. */
static inline void msort_take(msort *m, bool right_first) {
  m->b[m->k++] = right_first ? m->a[m->j++] : m->a[m->i++];
}

static sx_val msort_list(const msort *m) {
  sx_val out = SX_EMPTY;
  for (size_t i = m->n; i-- > 0;) out = sx_cons(m->a[i], out);
  return out;
}

/* The default order: numbers by value, strings by bytes (as %sort-less).
 * 1: x < y, 0: not, -1: raised (vm->pending). */
static int default_less(sx_vm *vm, sx_val x, sx_val y) {
  if (x & y & 1) return (int64_t)x < (int64_t)y; /* two fixnums */
  if (sx_is_number(x) && sx_is_number(y)) {
    if (sx_is_int(x) && sx_is_int(y)) return sx_int_val(x) < sx_int_val(y);
    double p = sx_is_float(x) ? sx_float_val(x) : (double)sx_int_val(x);
    double q = sx_is_float(y) ? sx_float_val(y) : (double)sx_int_val(y);
    return p < q;
  }
  if (sx_is_string(x) && sx_is_string(y)) return sx_string_cmp(x, y) < 0;
  sx_throwf(vm, "sort: cannot compare %s with %s (pass a comparator)", sx_type_name(x), sx_type_name(y));
  return -1;
}

/* Sort m entirely in C with the default order (p NULL) or the plain
 * primitive p. False when a comparison raised (vm->pending). */
static bool msort_in_c(sx_vm *vm, msort *m, const sx_prim *p) {
  while (msort_next(m)) {
    sx_val x = m->a[m->j], y = m->a[m->i], r;
    int less;
    if (!p) less = default_less(vm, x, y);
    else if (p->h.aux && fixnum_op(p->h.aux, x, y, &r)) less = r != SX_FALSE;
    else {
      sx_val argv[2] = {x, y};
      r = p->fn(vm, 2, argv);
      less = r == SX_UNDEF ? -1 : sx_truthy(r);
    }
    if (less < 0) return false;
    msort_take(m, less);
    if ((m->k & 0xffff) == 0 && sx_poll_interrupt(vm)) return false;
  }
  return true;
}

/* ---- the machine's registers and its out-of-line steps ----------------------
 * The machine (below) keeps its registers in locals. A step too big to sit
 * in it (a special primitive, a perform, a raise...) is a function that
 * gets the registers in an mreg, changes them, and returns the state that
 * comes next: M_EVAL (node in env), M_CONT (val to the top frame), M_APPLY
 * (the operand stack from base), M_RAISE (raised, at at) or M_STOP (the run
 * ended: f->status says how). Hot steps are inline functions that take
 * pointers to the machine's locals instead, so those stay in registers. */
typedef struct mreg {
  sx_node *node;
  sx_env *env;
  sx_val val, raised;
  size_t base;
  const sx_srcpos *at;
  const sx_node *site; /* the call being applied, when at is its position */
  uint32_t depth;      /* the SX call depth of the running code */
  bool returning;      /* M_APPLY: a closure-free callee gets a K_RET frame
                          that gives its environment back on return */
} mreg;

static inline mmode raise_with(mreg *r, sx_val v) {
  r->raised = v;
  return M_RAISE;
}

/* Push a frame for the code at depth r->depth; NULL (r->raised set) when
 * the frame stack is full. */
static inline sx_kframe *mpush(sx_fiber *f, mreg *r, kkind kind) {
  sx_kframe *fr = kpush(f, kind);
  if (!fr) {
    r->raised = depth_error(f->vm, r->depth, true);
    return NULL;
  }
  fr->d = r->depth;
  return fr;
}

/* The call node a higher-order primitive's frame shows in a backtrace: the
 * call being applied, when it is the one at stands for. */
static inline sx_node *call_site(const mreg *r) {
  return (sx_node *)(r->site && r->site->pos == r->at ? r->site : NULL);
}

/* Evaluate forms one by one, each analysed just before it runs. */
static __attribute__((noinline)) mmode run_forms(sx_fiber *f, mreg *r, sx_val forms) {
  sx_kframe *fr = mpush(f, r, K_FORMS);
  if (!fr) return M_RAISE;
  fr->node = NULL;
  fr->u.forms.forms = forms;
  fr->u.forms.file = SX_NIL;
  fr->u.forms.last = SX_NIL;
  fr->u.forms.toplevel = false; /* never a top-level evaluation of its own */
  fr->u.forms.started = false;
  r->val = SX_NIL;
  return M_CONT;
}

/* A higher-order primitive calls fn back with argc arguments: push them
 * and apply (a closure-free callback gets a K_RET frame and, having no call
 * site of its own, shows its caller's in a backtrace). */
static inline mmode callback(size_t b, size_t *base, sx_node **node, bool *returning) {
  *base = b;
  *node = NULL;
  *returning = true;
  return M_APPLY;
}

/* Start map, for-each, filter, some, every? or map-indexed over argv[1]. */
static __attribute__((noinline)) mmode start_walk(sx_fiber *f, mreg *r, const sx_prim *p, kkind kind,
                                                  sx_val *argv) {
  sx_val fn = argv[0];
  f->vsp = r->base;
  if (!is_callable(fn))
    return raise_with(r, sx_make_error("%s: expected a function, got %s", sx_str_data(p->name),
                                       sx_str_data(sx_shown(fn))));
  sx_val lst = list_arg(f->vm, sx_str_data(p->name), argv[1]);
  if (lst == SX_UNDEF) return raise_with(r, take_pending(f->vm));
  if (!sx_is_cons(lst)) {
    r->val = kind == K_FOR_EACH || kind == K_SOME ? SX_NIL : kind == K_EVERY ? SX_TRUE : SX_EMPTY;
    return M_CONT;
  }
  sx_kframe *fr = mpush(f, r, kind);
  if (!fr) return M_RAISE;
  fr->node = call_site(r);
  fr->u.walk.fn = fn;
  fr->u.walk.acc = SX_EMPTY;
  fr->u.walk.index = 0;
  fr->u.walk.rest = kind == K_FILTER ? lst : sx_cdr(lst); /* filter keeps the
                                                            item it tests */
  size_t b = f->vsp;
  vpush(f, fn);
  if (kind == K_MAP_INDEXED) vpush(f, sx_fixnum(fr->u.walk.index++));
  vpush(f, sx_car(lst));
  return callback(b, &r->base, &r->node, &r->returning);
}

/* (reduce f init lst) or (reduce f lst) */
static __attribute__((noinline)) mmode start_reduce(sx_fiber *f, mreg *r, int argc, sx_val *argv) {
  sx_val fn = argv[0], init;
  f->vsp = r->base;
  if (!is_callable(fn))
    return raise_with(r, sx_make_error("reduce: expected a function, got %s", sx_str_data(sx_shown(fn))));
  sx_val lst = list_arg(f->vm, "reduce", argv[argc - 1]);
  if (lst == SX_UNDEF) return raise_with(r, take_pending(f->vm));
  if (argc == 3) init = argv[1];
  else if (!sx_is_cons(lst)) {
    r->val = SX_NIL;
    return M_CONT;
  } else {
    init = sx_car(lst);
    lst = sx_cdr(lst);
  }
  sx_kframe *fr = mpush(f, r, K_REDUCE);
  if (!fr) return M_RAISE;
  fr->node = call_site(r);
  fr->u.walk.fn = fn;
  fr->u.walk.rest = lst;
  r->val = init;
  return M_CONT;
}

/* (sort lst), (sort lst less?) or (sort less? lst) */
static __attribute__((noinline)) mmode start_sort(sx_fiber *f, mreg *r, int argc, sx_val *argv) {
  sx_vm *vm = f->vm;
  sx_val lst = argv[0], fn = SX_NIL;
  if (argc == 2) {
    bool fn_first = is_callable(argv[0]);
    fn = argv[fn_first ? 0 : 1];
    lst = argv[fn_first ? 1 : 0];
  }
  f->vsp = r->base;
  if (argc == 2 && !is_callable(fn))
    return raise_with(r, sx_make_error("sort: expected a function, got %s", sx_str_data(sx_shown(fn))));
  lst = list_arg(vm, "sort", lst);
  if (lst == SX_UNDEF) return raise_with(r, take_pending(vm));
  size_t n = sx_list_length(lst);
  if (n < 2) {
    r->val = lst;
    return M_CONT;
  }
  msort *m = msort_new(lst, n);
  if (argc == 1 || plain_prim(fn)) {
    if (!msort_in_c(vm, m, argc == 1 ? NULL : (const sx_prim *)fn)) return raise_with(r, take_pending(vm));
    r->val = msort_list(m);
    return M_CONT;
  }
  sx_kframe *fr = mpush(f, r, K_SORT);
  if (!fr) return M_RAISE;
  fr->node = call_site(r);
  fr->u.sort.fn = fn;
  fr->u.sort.m = m;
  msort_next(m); /* n >= 2: there is a first comparison */
  size_t b = f->vsp;
  vpush(f, fn);
  vpush(f, m->a[m->j]);
  vpush(f, m->a[m->i]);
  return callback(b, &r->base, &r->node, &r->returning);
}

/* The K_SORT frame fr: the comparator answered r->val. */
static __attribute__((noinline)) mmode sort_step(sx_fiber *f, mreg *r, sx_kframe *fr) {
  msort *m = fr->u.sort.m;
  msort_take(m, sx_truthy(r->val));
  if (!msort_next(m)) {
    f->ksp--;
    r->val = msort_list(m);
    return M_CONT;
  }
  size_t b = f->vsp;
  vpush(f, fr->u.sort.fn);
  vpush(f, m->a[m->j]);
  vpush(f, m->a[m->i]);
  return callback(b, &r->base, &r->node, &r->returning);
}

/* Apply a special primitive (one that runs on the machine) to the operand
 * stack from r->base. */
static __attribute__((noinline)) mmode apply_special(sx_fiber *f, mreg *r) {
  sx_vm *vm = f->vm;
  size_t base = r->base;
  sx_prim *p = (sx_prim *)f->vs[base];
  int argc = (int)(f->vsp - base - 1);
  sx_val *argv = &f->vs[base + 1];
  sx_val a0 = argv[0];
  sx_kframe *fr;
  r->returning = false;
  switch ((sx_special)p->special) {
    case SP_APPLY: { /* (apply f a b ... lst) */
      sx_val spread = argv[argc - 1];
      if (spread != SX_NIL && !sx_is_list(spread)) {
        f->vsp = base;
        return raise_with(r, sx_make_error("apply: expected a list as the last argument, got %s",
                                           sx_str_data(sx_shown(spread))));
      }
      memmove(&f->vs[base], &f->vs[base + 1], (size_t)(argc - 1) * sizeof(sx_val));
      f->vsp = base + (size_t)argc - 1;
      for (; sx_is_cons(spread); spread = sx_cdr(spread)) vpush(f, sx_car(spread));
      return M_APPLY;
    }
    case SP_MAP: return start_walk(f, r, p, K_MAP, argv);
    case SP_FOR_EACH: return start_walk(f, r, p, K_FOR_EACH, argv);
    case SP_FILTER: return start_walk(f, r, p, K_FILTER, argv);
    case SP_SOME: return start_walk(f, r, p, K_SOME, argv);
    case SP_EVERY: return start_walk(f, r, p, K_EVERY, argv);
    case SP_MAP_INDEXED: return start_walk(f, r, p, K_MAP_INDEXED, argv);
    case SP_REDUCE: return start_reduce(f, r, argc, argv);
    case SP_SORT: return start_sort(f, r, argc, argv);
    case SP_DYNAMIC_WIND: {
      for (int i = 0; i < 3; i++)
        if (!is_callable(argv[i])) {
          f->vsp = base;
          return raise_with(r, sx_make_error("dynamic-wind: expected three functions, got %s",
                                             sx_str_data(sx_shown(argv[i]))));
        }
      sx_val before = argv[0], body = argv[1], after = argv[2];
      f->vsp = base;
      if (!(fr = mpush(f, r, K_WIND_BEFORE))) return M_RAISE;
      fr->node = call_site(r);
      fr->u.wind.body = body;
      fr->u.wind.after = after;
      fr->u.wind.result = SX_NIL;
      vpush(f, before);
      return M_APPLY;
    }
    case SP_CALLCC: {
      f->vsp = base;
      if (!is_callable(a0))
        return raise_with(r,
                          sx_make_error("call/cc: expected a function, got %s", sx_str_data(sx_shown(a0))));
      if (!(fr = mpush(f, r, K_CALLCC))) return M_RAISE;
      fr->node = call_site(r);
      sx_contobj *k = sx_obj_new(SX_T_CONT, sizeof *k);
      k->name = sx_string_cstr("continuation");
      k->fiber = f;
      k->ksp = f->ksp;
      k->id = ++vm->next_cont_id;
      k->live = true;
      fr->u.callcc.k = k;
      vpush(f, a0);
      vpush(f, (sx_val)k);
      return M_APPLY;
    }
    case SP_EVAL: {
      f->vsp = base;
      sx_val err = SX_NIL, forms = sx_toplevel_begin(a0);
      if (forms != SX_UNDEF) return run_forms(f, r, forms);
      r->node = sx_analyse(vm, a0, &err);
      if (!r->node) return raise_with(r, sx_error_new(err, SX_NIL));
      r->env = NULL;
      return M_EVAL;
    }
    case SP_LOAD: {
      f->vsp = base;
      if (!sx_is_string(a0))
        return raise_with(r,
                          sx_make_error("load: expected a path string, got %s", sx_str_data(sx_shown(a0))));
      if (memchr(sx_str_data(a0), 0, sx_str_len(a0)))
        return raise_with(r,
                          sx_make_error("load: the path %s contains a NUL byte", sx_str_data(sx_shown(a0))));
      sx_val err = SX_NIL, forms = sx_read_source_file(vm, sx_str_data(a0), &err);
      if (forms == SX_UNDEF) return raise_with(r, err);
      return run_forms(f, r, forms);
    }
    case SP_HOST: /* argv[-1] is p itself: see sx_special */
      r->val = p->fn(vm, argc, argv);
      f->vsp = base;
      if (r->val == SX_UNDEF) return raise_with(r, take_pending(vm));
      return M_CONT;
    case SP_NONE: break;
  }
  f->vsp = base;
  return raise_with(r, sx_make_error("internal: bad special primitive"));
}

/* Invoke the escape continuation at r->base. */
static __attribute__((noinline)) mmode escape(sx_fiber *f, mreg *r) {
  sx_contobj *k = (sx_contobj *)f->vs[r->base];
  int argc = (int)(f->vsp - r->base - 1);
  sx_val v = argc > 0 ? f->vs[r->base + 1] : SX_NIL;
  f->vsp = r->base;
  if (!k->live || k->fiber != f || k->ksp > f->ksp || f->ks[k->ksp - 1].kind != K_CALLCC ||
      f->ks[k->ksp - 1].u.callcc.k != k)
    return raise_with(r, sx_make_error("continuation called outside its extent (only escaping "
                                       "continuations are supported)"));
  /* run the after thunks of dynamic-winds being left, innermost first */
  for (size_t i = f->ksp; i-- > k->ksp;) {
    if (f->ks[i].kind == K_WIND_BODY) {
      sx_val after = f->ks[i].u.wind.after;
      r->depth = f->ks[i].d;
      f->ksp = i;
      sx_kframe *fr = mpush(f, r, K_ESCAPE);
      if (!fr) return M_RAISE;
      fr->node = NULL;
      fr->u.escape.k = (sx_val)k;
      fr->u.escape.value = v;
      r->base = f->vsp;
      r->returning = false;
      vpush(f, after);
      return M_APPLY;
    }
  }
  f->ksp = k->ksp - 1; /* drop the K_CALLCC frame too */
  k->live = false;
  r->val = v;
  return M_CONT;
}

/* The K_PERFORM frame fr has its request in r->val: a resolver services
 * it, or the fiber suspends. */
static __attribute__((noinline)) mmode perform(sx_fiber *f, mreg *r, sx_kframe *fr) {
  sx_vm *vm = f->vm;
  sx_val req = r->val, op, args;
  f->ksp--;
  r->at = fr->node->pos;
  const sx_resolver *res = sx_find_resolver(vm, req, &op, &args);
  if (res) {
    sx_val result = SX_NIL;
    if (res->fn(vm, res->ud, op, args, req, &result) != 0)
      return raise_with(r, sx_is_string(result) ? sx_error_new(result, SX_NIL) : result);
    r->val = result;
    return M_CONT;
  }
  if (f->nested) {
    sx_val shown = sx_is_string(op) ? op : sx_print_to_string(req);
    return raise_with(r, sx_make_error("perform: no resolver for op %s", sx_str_data(shown)));
  }
  f->perform_at = r->at;
  finish(f, SX_SUSPENDED, req);
  return M_STOP;
}

/* The K_FORMS frame fr: the previous form returned r->val; run the next. */
static __attribute__((noinline)) mmode next_form(sx_fiber *f, mreg *r, sx_kframe *fr) {
  sx_vm *vm = f->vm;
  if (fr->u.forms.started && fr->u.forms.toplevel && f->ksp == 1) { /* a top-level form finished */
    sx_val problem = sx_toplevel_end(vm, SX_DONE);
    if (problem != SX_NIL) return raise_with(r, problem);
  }
  fr->u.forms.last = r->val;
  if (!sx_is_cons(fr->u.forms.forms)) {
    f->ksp--;
    r->val = fr->u.forms.last;
    return M_CONT;
  }
  sx_val form = sx_car(fr->u.forms.forms), err = SX_NIL;
  fr->u.forms.forms = sx_cdr(fr->u.forms.forms);
  fr->u.forms.started = true;
  sx_val inner = sx_toplevel_begin(form);
  if (inner != SX_UNDEF) return run_forms(f, r, inner); /* its forms one by one, as one form */
  r->node = sx_analyse(vm, form, &err);
  if (!r->node) return raise_with(r, sx_error_new(err, SX_NIL));
  fr->node = r->node; /* a backtrace's top level */
  r->env = NULL;
  return M_EVAL;
}

/* Give the raised value r->raised its place, then unwind to the nearest
 * guard (M_EVAL: its handler), or to a dynamic-wind being left (M_APPLY:
 * its after thunk, a K_RERAISE frame raising again after it), or out of
 * the fiber (M_STOP). */
static __attribute__((noinline)) mmode unwind(sx_fiber *f, mreg *r) {
  sx_val raised = r->raised;
  locate_error(f, raised, r->at);
  while (f->ksp > 0) {
    sx_kframe *fr = &f->ks[--f->ksp];
    r->depth = fr->d; /* unwinding into the code that pushed fr */
    switch ((kkind)fr->kind) {
      case K_GUARD:
        if (interrupted(raised)) break;
        f->vsp = fr->u.guard.vbase;
        r->env = env_new(fr->node->idx, fr->env);
        r->env->slots[0] = raised;
        r->node = fr->node->u.guard.handler;
        return M_EVAL;
      case K_WIND_BODY: { /* leaving a dynamic-wind: run its after thunk */
        sx_val after = fr->u.wind.after;
        if (!(fr = mpush(f, r, K_RERAISE))) return M_RAISE;
        fr->node = NULL;
        fr->u.reraise.raised = raised;
        r->base = f->vsp;
        r->returning = false;
        vpush(f, after);
        return M_APPLY;
      }
      case K_CALLCC: fr->u.callcc.k->live = false; break;
      case K_FORMS:
        if (fr->u.forms.toplevel && fr->u.forms.started && f->ksp == 0) sx_toplevel_end(f->vm, SX_ERROR);
        break;
      default: break;
    }
  }
  f->vsp = 0;
  finish(f, SX_ERROR, raised);
  return M_STOP;
}

/* ---- the inline steps --------------------------------------------------------- */

/* What call_fast did with a call node. */
typedef enum {
  CALL_VALUE,     /* *val is the call's value */
  CALL_JUMP,      /* a tail call rebound an environment *ne in place (the
                     current one, or a loop's own), maybe for several
                     iterations (run_loop): run *body in it; *at is where */
  CALL_ENTER,     /* a closure-free call bound *ne: push K_RET, run *body in it */
  CALL_APPLY,     /* the operator and operands are on the operand stack from *base */
  CALL_APPLY_RET, /* the same, from a non-tail position: the callee may give
                     back its environment */
  CALL_ARITH_A,   /* inline arithmetic needs the machine for its first operand */
  CALL_ARITH_B,   /* ... for its second; the first is *val */
  CALL_RAISE,     /* raised *val at *at */
  CALL_FRAMES     /* none of these: evaluate the operands on a K_CALL frame */
} call_how;

/* The fast paths of a call node n in env, tried in turn, each falling back
 * to the next when its conditions do not hold: fixnum arithmetic in place,
 * a tail call rebinding env (direct_tail), a closure-free call binding
 * straight into a pooled environment (direct_bind), quick operands pushed
 * without frames (quick_closure_call, then reuse_env for a tail call), and
 * a frameless call tree of plain primitives (fast_call) or of operands
 * that need no frames. */
static SX_ALWAYS_INLINE call_how call_fast(sx_fiber *f, sx_node *n, sx_env *env,
                                                                sx_val *val, sx_node **body, sx_env **ne,
                                                                size_t *base, const sx_srcpos **at) {
  sx_vm *vm = f->vm;
  if ((n->flags & NF_ARITH) && arith_still(n)) {
    sx_val a, b;
    if (ARITH_KIND0(n->ashape) >= AK_CALL || !quick(n->u.call.args[0], env, &a)) return CALL_ARITH_A;
    if (ARITH_KIND1(n->ashape) < AK_CALL && quick(n->u.call.args[1], env, &b) && fixnum_op(n->fop, a, b, val))
      return CALL_VALUE;
    *val = a;
    return CALL_ARITH_B;
  }
  if (n->flags & (NF_TAIL | NF_SELF)) {
    loop_res r = run_loop(f, n, env);
    if (r.st != 0) {
      *at = r.at;
      *body = r.body;
      *ne = r.env;
      *val = r.val;
      return r.st > 0 ? CALL_JUMP : CALL_RAISE;
    }
  }
  if (!(n->flags & (NF_TAIL | NF_TAILPOS))) { /* see K_RET */
    if ((*body = direct_bind(f, n, env, ne))) return CALL_ENTER;
  }
  if (quick_closure_call(f, n, env)) {
    *base = f->vsp - n->idx - 1;
    const sx_proto *p = ((sx_closure *)f->vs[*base])->proto;
    if ((n->flags & NF_TAIL) && reuse_env(f, *base, env)) {
      *body = p->body;
      *ne = env;
      *at = n->pos;
      f->vsp = *base;
      return CALL_JUMP;
    }
    return !(n->flags & NF_TAILPOS) && p->noclosure ? CALL_APPLY_RET : CALL_APPLY;
  }
  if (!(n->flags & NF_FAST)) return CALL_FRAMES;
  sx_val fnv = call_fn_value(n, env);
  const sx_node *errat;
  if (plain_prim(fnv) && fast_ok(vm, n, env)) {
    if (fast_call(vm, n, env, val, &errat)) return CALL_VALUE;
    *at = errat->pos;
    *val = take_pending(vm);
    return CALL_RAISE;
  }
  if (!sx_is(fnv, SX_T_FN) || !operands_fast(vm, n, env)) return CALL_FRAMES;
  *base = f->vsp;
  vpush(f, fnv);
  for (uint32_t k = 0; k < n->idx; k++) {
    const sx_node *a = n->u.call.args[k];
    sx_val v;
    bool fast = a->flags & NF_FAST;
    if (!(fast ? fast_call(vm, a, env, &v, &errat) : simple_eval(a, env, &v))) {
      f->vsp = *base;
      *at = fast ? errat->pos : a->pos;
      *val = fast ? take_pending(vm) : unbound_error(a);
      return CALL_RAISE;
    }
    vpush(f, v);
  }
  return CALL_APPLY;
}

/* The K_CALL frame fr evaluates its next operands: those that need no
 * machine step go straight to the operand stack. M_EVAL (*node in *env)
 * for one that needs the machine, M_APPLY (*base) once all are there,
 * M_RAISE (*raised at *at). */
static SX_ALWAYS_INLINE mmode next_operand(sx_fiber *f, sx_kframe *fr, sx_node **node,
                                                                sx_env **env, size_t *base, sx_val *raised,
                                                                const sx_srcpos **at, const sx_node **site) {
  for (;;) {
    sx_node *call = fr->node;
    uint32_t k = fr->u.call.next;
    if (k > call->idx) {
      *at = call->pos;
      *site = call;
      f->ksp--;
      *base = fr->u.call.vbase;
      return M_APPLY;
    }
    sx_node *operand = k == 0 ? call->u.call.fn : call->u.call.args[k - 1];
    fr->u.call.next = k + 1;
    sx_val v;
    const sx_node *errat;
    int st = try_fast(f->vm, operand, fr->env, &v, &errat);
    if (st > 0) {
      vpush(f, v);
      continue;
    }
    if (st < 0) {
      f->vsp = fr->u.call.vbase;
      f->ksp--;
      *at = errat->pos;
      *raised = take_pending(f->vm);
      return M_RAISE;
    }
    *node = operand;
    *env = fr->env;
    return M_EVAL;
  }
}

/* The dict a K_DICT frame starts from for dict literal node d (its keys
 * distinct and in key order, as the analyser takes them from the reader's
 * dict). Up to SX_DICT_SMALL_MAX entries: the finished dict's one
 * allocation, its values set in place as they arrive (sx_dict_literal_set;
 * only this frame refers to it until it is the literal's value, and a
 * frame is resumed at most once). More: the empty dict, which each value
 * is assoc'ed onto. */
static inline sx_val dict_literal_start(const sx_node *d) {
  return d->idx <= SX_DICT_SMALL_MAX ? sx_dict_literal_new(d->u.dict.keys, d->idx) : sx_dict_empty();
}

/* Add v at the end of the list a map or filter frame is building (see
 * the walk member of sx_kframe). */
static SX_ALWAYS_INLINE void walk_append(sx_kframe *fr, sx_val v) {
  sx_val cell = sx_cons(v, SX_EMPTY);
  if (fr->u.walk.acc == SX_EMPTY) fr->u.walk.acc = cell;
  else sx_pair_of(fr->u.walk.tail)->cdr = cell;
  fr->u.walk.tail = cell;
}

/* A list-walking frame (map, filter, reduce...) got *val from its
 * callback: M_CONT with the primitive's result in *val when the walk is
 * over, else M_APPLY of the callback to the next item (see callback). */
static SX_ALWAYS_INLINE mmode walk_step(sx_fiber *f, sx_kframe *fr, sx_val *val,
                                                             size_t *base, sx_node **node, bool *returning) {
  size_t b = f->vsp;
  sx_val rest = fr->u.walk.rest;
  switch ((kkind)fr->kind) {
    case K_MAP: walk_append(fr, *val); break;
    case K_FOR_EACH: break;
    case K_MAP_INDEXED:
      walk_append(fr, *val);
      if (!sx_is_cons(rest)) break;
      vpush(f, fr->u.walk.fn);
      vpush(f, sx_fixnum(fr->u.walk.index++));
      vpush(f, sx_car(rest));
      fr->u.walk.rest = sx_cdr(rest);
      return callback(b, base, node, returning);
    case K_FILTER: /* rest starts with the item just tested */
      if (sx_truthy(*val)) walk_append(fr, sx_car(rest));
      fr->u.walk.rest = rest = sx_cdr(rest);
      if (!sx_is_cons(rest)) break;
      vpush(f, fr->u.walk.fn);
      vpush(f, sx_car(rest));
      return callback(b, base, node, returning);
    case K_SOME:
    case K_EVERY:
      if (fr->kind == K_SOME ? sx_truthy(*val) : !sx_truthy(*val)) {
        f->ksp--;
        if (fr->kind == K_EVERY) *val = SX_FALSE;
        return M_CONT;
      }
      break;
    case K_REDUCE: /* *val is the accumulator */
      if (!sx_is_cons(rest)) {
        f->ksp--;
        return M_CONT;
      }
      vpush(f, fr->u.walk.fn);
      vpush(f, *val);
      vpush(f, sx_car(rest));
      fr->u.walk.rest = sx_cdr(rest);
      return callback(b, base, node, returning);
    default: break;
  }
  if (!sx_is_cons(rest)) { /* the walk is over */
    f->ksp--;
    switch ((kkind)fr->kind) {
      case K_MAP:
      case K_MAP_INDEXED:
      case K_FILTER: *val = fr->u.walk.acc; break;
      case K_EVERY: *val = SX_TRUE; break;
      default: *val = SX_NIL; break;
    }
    return M_CONT;
  }
  vpush(f, fr->u.walk.fn);
  vpush(f, sx_car(rest));
  fr->u.walk.rest = sx_cdr(rest);
  return callback(b, base, node, returning);
}

/* Store val in a global cell (set!, define), telling the frameless fast
 * path when a primitive comes or goes. */
static inline void set_global(sx_vm *vm, sx_cell *cell, sx_val val) {
  if (plain_prim(cell->value) || plain_prim(val)) vm->global_epoch++;
  cell->value = val;
}

/* The K_SET_GLOBAL, K_DEF_GLOBAL or K_DEFMACRO frame fr got r->val: store
 * it (a macro made of it for K_DEFMACRO) in the form's global and return
 * what the form returns (nil for set!, the name for the others). */
static mmode store_global(sx_fiber *f, mreg *r, sx_kframe *fr) {
  const sx_node *n = fr->node;
  f->ksp--;
  if (fr->kind == K_SET_GLOBAL && n->u.cell->value == SX_UNDEF) {
    r->at = n->pos;
    return raise_with(r, sx_make_error("set!: unbound symbol %s", sx_str_data(sx_sym_name(n->sym))));
  }
  sx_val v = r->val;
  if (fr->kind == K_DEFMACRO) {
    sx_macro *m = sx_obj_new(SX_T_MACRO, sizeof *m);
    m->name = sx_sym_name(n->sym);
    m->fn = r->val;
    v = (sx_val)m;
  }
  set_global(f->vm, n->u.cell, v);
  r->val = fr->kind == K_SET_GLOBAL ? SX_NIL : n->sym;
  return M_CONT;
}

/* ---- dispatch ------------------------------------------------------------------
 * As in Lua's lvm.c: the machine is written with vmcase labels and three
 * transfers, vmeval (run node in env), vmcont (return val to the top
 * frame) and vmraise (raise a value). With SX_DISPATCH_GOTO (meson
 * -Ddispatch=goto, the default where the compiler has labels as values)
 * every transfer jumps through a table straight to the code for the next
 * node or frame, so each site gets its own branch prediction; otherwise
 * (-Ddispatch=switch, portable ISO C) a transfer goes back to one switch. */
#ifndef SX_DISPATCH_GOTO
#if defined(__GNUC__)
#define SX_DISPATCH_GOTO 1
#else
#define SX_DISPATCH_GOTO 0
#endif
#endif

#if SX_DISPATCH_GOTO
#define vmdispatch(tab, x) goto *tab[x];
#define vmcase(l) L_##l:
#define vmeval goto *eval_tab[node->op]
#define vmcont                                                                                               \
  do {                                                                                                       \
    if (f->ksp == 0) return finish(f, SX_DONE, val);                                                         \
    fr = &f->ks[f->ksp - 1];                                                                                 \
    depth = fr->d;                                                                                           \
    goto *cont_tab[fr->kind];                                                                                \
  } while (0)
#else
#define vmdispatch(tab, x) switch (x)
#define vmcase(l) case l:
#define vmeval goto eval
#define vmcont goto cont
#endif
/* The end of a case that goes on into the next one (a switch's case). */
#if SX_DISPATCH_GOTO
#define vmfallthrough ((void)0)
#else
#define vmfallthrough __attribute__((fallthrough))
#endif

#define vmraise(v)                                                                                           \
  do {                                                                                                       \
    raised = (v);                                                                                            \
    goto raise;                                                                                              \
  } while (0)

/* Push a frame of kind for the code at depth `depth`. */
#define vmpush(fr, kind)                                                                                     \
  do {                                                                                                       \
    if (!((fr) = kpush(f, kind))) vmraise(depth_error(vm, depth, true));                                     \
    (fr)->d = depth;                                                                                         \
  } while (0)

/* Push a frame that returns to the current node and environment. */
#define vmpush_node(fr, kind)                                                                                \
  do {                                                                                                       \
    vmpush(fr, kind);                                                                                        \
    (fr)->node = node;                                                                                       \
    (fr)->env = env;                                                                                         \
  } while (0)

/* A closure's body is about to run: its call depth is one more than that
 * of the code that pushed the top frame (a tail call's caller has no frame
 * left, so it gets its caller's depth). */
#define vmenter_body()                                                                                       \
  do {                                                                                                       \
    depth = (f->ksp ? f->ks[f->ksp - 1].d : 0) + 1;                                                          \
    vmcheck_depth();                                                                                         \
  } while (0)
#define vmcheck_depth()                                                                                      \
  do {                                                                                                       \
    if (__builtin_expect(depth > vm->max_depth, 0)) vmraise(depth_error(vm, depth, false));                  \
  } while (0)

/* A closure-free call from a non-tail position: a K_RET frame (pushed at
 * the caller's depth) gives the environment ne back when the body returns;
 * the body runs one call deeper. */
#define vmpush_ret(ne)                                                                                       \
  do {                                                                                                       \
    vmpush(fr, K_RET);                                                                                       \
    fr->node = node;                                                                                         \
    fr->env = (ne);                                                                                          \
    depth++;                                                                                                 \
    vmcheck_depth();                                                                                         \
  } while (0)

/* Call an out-of-line step with the registers and go where it says. */
#define vmstep(call)                                                                                         \
  do {                                                                                                       \
    mreg r_ = {node, env, val, raised, base, at, site, depth, returning};                                    \
    mmode m_ = call;                                                                                         \
    node = r_.node, env = r_.env, val = r_.val, raised = r_.raised, base = r_.base;                          \
    at = r_.at, depth = r_.depth, returning = r_.returning;                                                  \
    switch (m_) {                                                                                            \
      case M_EVAL: vmeval;                                                                                   \
      case M_CONT: vmcont;                                                                                   \
      case M_APPLY: goto apply;                                                                              \
      case M_RAISE: goto raise;                                                                              \
      case M_STOP:                                                                                           \
      default: return f->status;                                                                             \
    }                                                                                                        \
  } while (0)
#define R (&r_)

/* Go where an inline step says (it has set the registers). */
#define vmnext(m)                                                                                            \
  do {                                                                                                       \
    switch (m) {                                                                                             \
      case M_EVAL: vmeval;                                                                                   \
      case M_CONT: vmcont;                                                                                   \
      case M_APPLY: goto apply;                                                                              \
      default: goto raise;                                                                                   \
    }                                                                                                        \
  } while (0)

static sx_status machine(sx_fiber *f, mmode mode, sx_node *node, sx_env *env, sx_val val) {
  sx_vm *vm = f->vm;
  sx_val raised = SX_NIL;
  size_t base = 0;
  sx_kframe *fr = NULL;
  uint32_t depth = f->ksp ? f->ks[f->ksp - 1].d : 0; /* nested SX calls */
  const sx_node *site = NULL;                        /* the call being applied, when at is its position */
  const sx_srcpos *at = node ? node->pos : NULL;
  bool returning = false;
#if SX_DISPATCH_GOTO
  static void *const eval_tab[] = {[OP_CONST] = &&L_OP_CONST,
                                   [OP_LOCAL] = &&L_OP_LOCAL,
                                   [OP_GLOBAL] = &&L_OP_GLOBAL,
                                   [OP_IF] = &&L_OP_IF,
                                   [OP_SEQ] = &&L_OP_SEQ,
                                   [OP_AND] = &&L_OP_AND,
                                   [OP_OR] = &&L_OP_OR,
                                   [OP_FN] = &&L_OP_FN,
                                   [OP_CALL] = &&L_OP_CALL,
                                   [OP_LET] = &&L_OP_LET,
                                   [OP_LETREC] = &&L_OP_LETREC,
                                   [OP_SET_LOCAL] = &&L_OP_SET_LOCAL,
                                   [OP_SET_GLOBAL] = &&L_OP_SET_GLOBAL,
                                   [OP_DEF_GLOBAL] = &&L_OP_DEF_GLOBAL,
                                   [OP_DEFMACRO] = &&L_OP_DEFMACRO,
                                   [OP_GUARD] = &&L_OP_GUARD,
                                   [OP_PERFORM] = &&L_OP_PERFORM,
                                   [OP_DICT] = &&L_OP_DICT};
  static void *const cont_tab[] = {[K_IF] = &&L_K_IF,
                                   [K_SEQ] = &&L_K_SEQ,
                                   [K_AND] = &&L_K_AND,
                                   [K_OR] = &&L_K_OR,
                                   [K_CALL] = &&L_K_CALL,
                                   [K_LET] = &&L_K_LET,
                                   [K_LETREC] = &&L_K_LETREC,
                                   [K_SET_LOCAL] = &&L_K_SET_LOCAL,
                                   [K_SET_GLOBAL] = &&L_K_SET_GLOBAL,
                                   [K_DEF_GLOBAL] = &&L_K_DEF_GLOBAL,
                                   [K_DEFMACRO] = &&L_K_DEFMACRO,
                                   [K_GUARD] = &&L_K_GUARD,
                                   [K_PERFORM] = &&L_K_PERFORM,
                                   [K_ARITH_A] = &&L_K_ARITH_A,
                                   [K_ARITH_B] = &&L_K_ARITH_B,
                                   [K_RET] = &&L_K_RET,
                                   [K_DICT] = &&L_K_DICT,
                                   [K_MAP] = &&L_K_MAP,
                                   [K_FOR_EACH] = &&L_K_FOR_EACH,
                                   [K_MAP_INDEXED] = &&L_K_MAP_INDEXED,
                                   [K_FILTER] = &&L_K_FILTER,
                                   [K_SOME] = &&L_K_SOME,
                                   [K_EVERY] = &&L_K_EVERY,
                                   [K_REDUCE] = &&L_K_REDUCE,
                                   [K_WIND_BEFORE] = &&L_K_WIND_BEFORE,
                                   [K_WIND_BODY] = &&L_K_WIND_BODY,
                                   [K_WIND_AFTER] = &&L_K_WIND_AFTER,
                                   [K_RERAISE] = &&L_K_RERAISE,
                                   [K_ESCAPE] = &&L_K_ESCAPE,
                                   [K_CALLCC] = &&L_K_CALLCC,
                                   [K_FORMS] = &&L_K_FORMS,
                                   [K_SORT] = &&L_K_SORT,
                                   [K_ARITH_A_RET] = &&L_K_ARITH_A_RET,
                                   [K_ARITH_B_RET] = &&L_K_ARITH_B_RET};
#endif

  switch (mode) {
    case M_EVAL: goto eval;
    case M_CONT: goto cont;
    case M_APPLY: goto apply;
    case M_RAISE: /* resumed with an error: it happened at the perform */
      raised = val;
      at = f->perform_at;
      goto raise;
    case M_STOP: return f->status;
  }

eval: /* Control is node, to be evaluated in env */
  vmdispatch(eval_tab, node->op) {
    vmcase(OP_CONST) val = node->u.k;
    vmcont;
    vmcase(OP_LOCAL) val = env_up(env, node->depth)->slots[node->idx];
    if (val == SX_UNDEF) {
      at = node->pos;
      vmraise(unbound_error(node));
    }
    vmcont;
    vmcase(OP_GLOBAL) val = node->u.cell->value;
    if (val == SX_UNDEF) {
      at = node->pos;
      vmraise(unbound_error(node));
    }
    vmcont;
    vmcase(OP_IF) {
      const sx_node *test = node->u.iff.test; /* commonly inline arithmetic */
      if ((test->flags & NF_ARITH) ? quick_arith(test, env, &val) : quick(test, env, &val)) {
        node = sx_truthy(val) ? node->u.iff.then : node->u.iff.els;
        if (!simple_eval(node, env, &val)) vmeval; /* not a constant or a bound variable */
        vmcont;
      }
      const sx_node *errat;
      int st = try_fast(vm, node->u.iff.test, env, &val, &errat);
      if (st > 0) {
        node = sx_truthy(val) ? node->u.iff.then : node->u.iff.els;
        vmeval;
      }
      if (st < 0) {
        at = errat->pos;
        vmraise(take_pending(vm));
      }
      vmpush_node(fr, K_IF);
      node = node->u.iff.test;
      vmeval;
    }
    vmcase(OP_SEQ) vmcase(OP_AND) vmcase(OP_OR) vmpush_node(fr, node->op == OP_SEQ   ? K_SEQ
                                                                : node->op == OP_AND ? K_AND
                                                                                     : K_OR);
    fr->u.seq.next = 1;
    node = node->u.seq.items[0];
    vmeval;
    vmcase(OP_FN) {
      sx_closure *cl = sx_alloc(sizeof *cl);
      cl->h.type = SX_T_FN;
      cl->name = node->u.proto->name;
      cl->proto = node->u.proto;
      cl->env = env;
      val = (sx_val)cl;
      vmcont;
    }
    vmcase(OP_CALL) {
      sx_node *body = NULL;
      sx_env *ne = NULL;
      call_how how = call_fast(f, node, env, &val, &body, &ne, &base, &at);
      switch (how) {
        case CALL_VALUE: vmcont;
        case CALL_JUMP:
          env = ne;
          node = body;
          vmeval;
        case CALL_ENTER:
          at = node->pos;
          vmpush_ret(ne);
          env = ne;
          node = body;
          vmeval;
        case CALL_APPLY_RET:
        case CALL_APPLY:
          returning = how == CALL_APPLY_RET;
          at = node->pos;
          goto apply;
        case CALL_ARITH_A: /* evaluate the operands on frames */
          vmpush_node(fr, K_ARITH_A);
          fr->u.arith.prim = node->u.call.prim;
          node = node->u.call.args[0];
          arith_enter(f, fr, &node, &env, &depth);
          vmeval;
        case CALL_ARITH_B:
          vmpush_node(fr, K_ARITH_B);
          fr->u.arith.left = val;
          fr->u.arith.prim = node->u.call.prim;
          node = node->u.call.args[1];
          arith_enter(f, fr, &node, &env, &depth);
          vmeval;
        case CALL_RAISE: vmraise(val);
        case CALL_FRAMES:
          vmpush_node(fr, K_CALL);
          fr->u.call.vbase = (uint32_t)f->vsp;
          fr->u.call.next = 0;
          returning = false;
          vmnext(next_operand(f, fr, &node, &env, &base, &raised, &at, &site));
      }
      vmraise(sx_make_error("internal: bad call"));
    }
    vmcase(OP_LET) vmcase(OP_LETREC) {
      sx_env *ne = env_new(node->u.let.nslots, env);
      if (node->idx == 0) {
        env = ne;
        node = node->u.let.body;
        vmeval;
      }
      vmpush(fr, node->op == OP_LET ? K_LET : K_LETREC);
      fr->node = node;
      fr->env = node->op == OP_LET ? env : ne;
      fr->u.let.frame = ne;
      fr->u.let.next = 0;
      env = fr->env;
      node = node->u.let.inits[0];
      vmeval;
    }
    vmcase(OP_SET_LOCAL) vmcase(OP_SET_GLOBAL) vmcase(OP_DEF_GLOBAL) vmcase(OP_DEFMACRO)
        vmpush_node(fr, node->op == OP_SET_LOCAL    ? K_SET_LOCAL
                        : node->op == OP_SET_GLOBAL ? K_SET_GLOBAL
                        : node->op == OP_DEF_GLOBAL ? K_DEF_GLOBAL
                                                    : K_DEFMACRO);
    node = node->val;
    vmeval;
    vmcase(OP_GUARD) vmpush_node(fr, K_GUARD);
    fr->u.guard.vbase = (uint32_t)f->vsp;
    node = node->u.guard.body;
    vmeval;
    vmcase(OP_PERFORM) vmpush_node(fr, K_PERFORM);
    node = node->val;
    vmeval;
    vmcase(OP_DICT) if (node->idx == 0) {
      val = sx_dict_empty();
      vmcont;
    }
    vmpush_node(fr, K_DICT);
    fr->u.dict.acc = dict_literal_start(node);
    fr->u.dict.next = 0;
    node = node->u.dict.vals[0];
    vmeval;
  }
  vmraise(sx_make_error("internal: bad node"));

cont: /* val returns to the top frame */
  if (f->ksp == 0) return finish(f, SX_DONE, val);
  fr = &f->ks[f->ksp - 1];
  depth = fr->d;
  vmdispatch(cont_tab, fr->kind) {
    vmcase(K_IF) f->ksp--;
    env = fr->env;
    node = sx_truthy(val) ? fr->node->u.iff.then : fr->node->u.iff.els;
    vmeval;
    vmcase(K_SEQ) vmcase(K_AND) vmcase(K_OR) {
      if (fr->kind == K_AND ? !sx_truthy(val) : fr->kind == K_OR && sx_truthy(val)) {
        f->ksp--;
        vmcont;
      }
      sx_node *seq = fr->node;
      uint32_t k = fr->u.seq.next++;
      env = fr->env;
      if (k + 1 == seq->idx) f->ksp--; /* last form: tail position */
      node = seq->u.seq.items[k];
      vmeval;
    }
    vmcase(K_CALL) vpush(f, val);
    returning = false;
    vmnext(next_operand(f, fr, &node, &env, &base, &raised, &at, &site));
    vmcase(K_LET) vmcase(K_LETREC) {
      sx_env *ne = fr->u.let.frame;
      ne->slots[fr->u.let.next++] = val;
      if (fr->u.let.next < fr->node->idx) {
        env = fr->env;
        node = fr->node->u.let.inits[fr->u.let.next];
        vmeval;
      }
      f->ksp--;
      env = ne;
      node = fr->node->u.let.body;
      vmeval;
    }
    vmcase(K_SET_LOCAL) f->ksp--;
    env_up(fr->env, fr->node->depth)->slots[fr->node->idx] = val;
    val = SX_NIL;
    vmcont;
    vmcase(K_SET_GLOBAL) vmcase(K_DEF_GLOBAL) vmcase(K_DEFMACRO) vmstep(store_global(f, R, fr));
    vmcase(K_GUARD) f->ksp--;
    vmcont;
    vmcase(K_PERFORM) vmstep(perform(f, R, fr));
    vmcase(K_ARITH_A_RET) /* the call entered for the first operand returned */
        env_give(f, fr->u.arith.callee);
    vmfallthrough;
    vmcase(K_ARITH_A) { /* the first operand arrived */
      sx_val b;
      fr->u.arith.left = val;
      fr->kind = K_ARITH_B;
      if (ARITH_KIND1(fr->node->ashape) >= AK_CALL || !quick(fr->node->u.call.args[1], fr->env, &b)) {
        env = fr->env;
        node = fr->node->u.call.args[1];
        arith_enter(f, fr, &node, &env, &depth);
        vmeval;
      }
      val = b;
      vmcont; /* to K_ARITH_B */
    }
    vmcase(K_ARITH_B_RET) /* the call entered for the second operand returned */
        env_give(f, fr->u.arith.callee);
    vmfallthrough;
    vmcase(K_ARITH_B) { /* both operands: fr->u.arith.left and val */
      f->ksp--;
      sx_val argv2[2] = {fr->u.arith.left, val};
      if (fixnum_op(fr->node->fop, argv2[0], argv2[1], &val)) vmcont;
      at = fr->node->pos;
      val = ((sx_prim *)fr->u.arith.prim)->fn(vm, 2, argv2);
      if (val == SX_UNDEF) vmraise(take_pending(vm));
      vmcont;
    }
    vmcase(K_RET) /* the closure-free call has returned */
        f->ksp--;
    env_give(f, fr->env);
    vmcont;
    vmcase(K_DICT) {
      sx_node *d = fr->node;
      if (d->idx <= SX_DICT_SMALL_MAX) sx_dict_literal_set(fr->u.dict.acc, fr->u.dict.next, val);
      else fr->u.dict.acc = sx_dict_assoc(fr->u.dict.acc, d->u.dict.keys[fr->u.dict.next], val);
      fr->u.dict.next++;
      if (fr->u.dict.next < d->idx) {
        env = fr->env;
        node = d->u.dict.vals[fr->u.dict.next];
        vmeval;
      }
      f->ksp--;
      val = fr->u.dict.acc;
      vmcont;
    }
    vmcase(K_MAP) vmcase(K_FOR_EACH) vmcase(K_MAP_INDEXED) vmcase(K_FILTER) vmcase(K_SOME) vmcase(K_EVERY)
        vmcase(K_REDUCE) vmnext(walk_step(f, fr, &val, &base, &node, &returning));
    vmcase(K_WIND_BEFORE) fr->kind = K_WIND_BODY;
    base = f->vsp;
    vpush(f, fr->u.wind.body);
    returning = false;
    goto apply;
    vmcase(K_WIND_BODY) fr->kind = K_WIND_AFTER;
    fr->u.wind.result = val;
    base = f->vsp;
    vpush(f, fr->u.wind.after);
    returning = false;
    goto apply;
    vmcase(K_WIND_AFTER) f->ksp--;
    val = fr->u.wind.result;
    vmcont;
    vmcase(K_RERAISE) f->ksp--;
    vmraise(fr->u.reraise.raised);
    vmcase(K_ESCAPE) f->ksp--;
    base = f->vsp;
    vpush(f, fr->u.escape.k);
    vpush(f, fr->u.escape.value);
    returning = false;
    goto apply;
    vmcase(K_CALLCC) f->ksp--;
    fr->u.callcc.k->live = false;
    vmcont;
    vmcase(K_FORMS) vmstep(next_form(f, R, fr));
    vmcase(K_SORT) vmstep(sort_step(f, R, fr));
  }
  vmraise(sx_make_error("internal: bad frame"));

apply : { /* the operand stack from base holds fn and its arguments */
  sx_val fn = f->vs[base];
  int argc = (int)(f->vsp - base - 1);
  sx_val *argv = &f->vs[base + 1];
  if (sx_is(fn, SX_T_FN)) {
    if (__builtin_expect(vm->interrupt, 0)) {
      vm->interrupt = 0;
      f->vsp = base;
      vmraise(sx_interrupt_error());
    }
    sx_closure *cl = (sx_closure *)fn;
    sx_val err;
    sx_env *ne = bind_exact(f, cl, argc, argv, &err);
    f->vsp = base;
    if (!ne) vmraise(err);
    if (returning && cl->proto->noclosure) vmpush_ret(ne);
    else vmenter_body();
    env = ne;
    node = cl->proto->body;
    vmeval;
  }
  if (sx_is(fn, SX_T_PRIM)) {
    sx_prim *p = (sx_prim *)fn;
    if (!arity_ok(p, argc)) {
      f->vsp = base;
      vmraise(prim_arity_error(p, argc));
    }
    if (p->special != SP_NONE) vmstep(apply_special(f, R));
    if (!(p->h.aux && argc == 2 && fixnum_op(p->h.aux, argv[0], argv[1], &val))) {
      val = p->fn(vm, argc, argv);
      if (val == SX_UNDEF) {
        f->vsp = base;
        vmraise(take_pending(vm));
      }
    }
    f->vsp = base;
    vmcont;
  }
  if (sx_is(fn, SX_T_CONT)) vmstep(escape(f, R));
  f->vsp = base;
  vmraise(sx_make_error("cannot call %s: not a function", sx_str_data(sx_shown(fn))));
}

raise: /* raised, at `at`, unwinds the frames */
  vmstep(unwind(f, R));
}
