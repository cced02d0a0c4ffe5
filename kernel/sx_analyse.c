/* sx_analyse.c — turns read forms into analysed code (sx_node trees).
 *
 * Analysis happens once per form, before it runs: special forms are
 * recognised by name (they cannot be shadowed), derived forms (let*, cond,
 * case, when, unless, do, named let, quasiquote) are rewritten into the core
 * node set, local variables become (depth, slot) addresses, globals become
 * pointers to their cells, and macros are expanded by running their
 * transformer. Syntax errors are reported as "file:line:col: message".
 *
 * Scopes: a lambda, let, letrec or guard handler opens one frame. A body's
 * internal defines are found before the body is analysed, so mutually
 * recursive local functions see each other; a define found deeper (inside a
 * `when`, say) adds a slot to the innermost frame as it is met.
 */
#include "sx_dict.h"
#include "sx_print.h"
#include "sx_vm.h"

#include <gc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
  SF_NONE,
  SF_QUOTE,
  SF_QUASIQUOTE,
  SF_UNQUOTE,
  SF_UNQUOTE_SPLICING,
  SF_DEFINE,
  SF_FN,
  SF_LET,
  SF_LETSTAR,
  SF_LETREC,
  SF_IF,
  SF_COND,
  SF_CASE,
  SF_WHEN,
  SF_UNLESS,
  SF_BEGIN,
  SF_DO,
  SF_SET,
  SF_AND,
  SF_OR,
  SF_GUARD,
  SF_PERFORM,
  SF_DEFMACRO,
  SF_DICT_LITERAL
};

static const struct {
  const char *name;
  int id;
} special_forms[] = {
    {"quote", SF_QUOTE},
    {"quasiquote", SF_QUASIQUOTE},
    {"unquote", SF_UNQUOTE},
    {"unquote-splicing", SF_UNQUOTE_SPLICING},
    {"define", SF_DEFINE},
    {"fn", SF_FN},
    {"lambda", SF_FN},
    {"let", SF_LET},
    {"let*", SF_LETSTAR},
    {"letrec", SF_LETREC},
    {"letrec*", SF_LETREC},
    {"if", SF_IF},
    {"cond", SF_COND},
    {"case", SF_CASE},
    {"when", SF_WHEN},
    {"unless", SF_UNLESS},
    {"begin", SF_BEGIN},
    {"do", SF_DO},
    {"set!", SF_SET},
    {"and", SF_AND},
    {"or", SF_OR},
    {"guard", SF_GUARD},
    {"perform", SF_PERFORM},
    {"defmacro", SF_DEFMACRO},
    {"dict-literal", SF_DICT_LITERAL},
};

static sx_val sym_else, sym_arrow, sym_rest, sym_quote, sym_unquote, sym_unquote_splicing, sym_quasiquote,
    sym_define, sym_begin, kw_else, sym_dict_literal, anon_fn_name;

/* internal helpers the rewrites call directly (not through globals, so a
 * user binding of the same name cannot capture them) */
static sx_val prim_qq_concat, prim_qq_list, prim_case_match, prim_raise, prim_dict_build;

static sx_val qq_concat(sx_vm *vm, int argc, sx_val *argv);
static sx_val qq_list(sx_vm *vm, int argc, sx_val *argv);
static sx_val case_match(sx_vm *vm, int argc, sx_val *argv);
static sx_val raise_again(sx_vm *vm, int argc, sx_val *argv);
static sx_val dict_build(sx_vm *vm, int argc, sx_val *argv);

static sx_val make_internal_prim(const char *name, sx_prim_fn fn, int min, int max) {
  sx_prim *p = GC_MALLOC_UNCOLLECTABLE(sizeof *p);
  memset(p, 0, sizeof *p);
  p->h.type = SX_T_PRIM;
  p->name = sx_string_cstr(name);
  p->fn = fn;
  p->min_args = (int16_t)min;
  p->max_args = (int16_t)max;
  return (sx_val)p;
}

void sx_analyse_init(void) {
  static bool done;
  if (done) return;
  done = true;
  for (size_t i = 0; i < sizeof special_forms / sizeof *special_forms; i++) {
    sx_symbol *s = (sx_symbol *)sx_symbol_cstr(special_forms[i].name);
    s->h.aux = (uint16_t)special_forms[i].id;
  }
  sym_else = sx_symbol_cstr("else");
  sym_arrow = sx_symbol_cstr("=>");
  sym_rest = sx_symbol_cstr("&rest");
  sym_quote = sx_symbol_cstr("quote");
  sym_unquote = sx_symbol_cstr("unquote");
  sym_unquote_splicing = sx_symbol_cstr("unquote-splicing");
  sym_quasiquote = sx_symbol_cstr("quasiquote");
  sym_define = sx_symbol_cstr("define");
  sym_begin = sx_symbol_cstr("begin");
  kw_else = sx_keyword_new(sx_string_cstr("else"));
  prim_qq_concat = make_internal_prim("quasiquote", qq_concat, 0, -1);
  prim_qq_list = make_internal_prim("quasiquote", qq_list, 0, -1);
  prim_case_match = make_internal_prim("case", case_match, 2, 2);
  prim_raise = make_internal_prim("guard", raise_again, 1, 1);
  prim_dict_build = make_internal_prim("dict literal", dict_build, 0, -1);
  sym_dict_literal = sx_symbol_cstr("dict-literal");
  anon_fn_name = sx_string_cstr("anonymous fn");
}

/* ---- analysis context ------------------------------------------------ */

typedef struct scope {
  struct scope *parent;
  sx_val *names;
  uint32_t n, cap;
} scope;

typedef struct actx {
  sx_vm *vm;
  scope *sc;
  const sx_srcpos *pos;
  sx_val fn_name;
  sx_val err; /* set on the first error */
  int expand_depth;
  bool made_fn; /* the function being analysed creates a closure. Every
                   form that creates one (today only an_fn) must set it:
                   the machine reuses and recycles the environments of
                   functions that do not (see mark_tail, K_RET) */
} actx;

static sx_node *an_expr(actx *c, sx_val form);
static void mark_self_fn(sx_node *fn, sx_val name, const sx_cell *cell);
static sx_node *an_body(actx *c, sx_val forms);
static sx_node *an_fn(actx *c, sx_val params, sx_val body, sx_val name);

static sx_node *fail(actx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sx_node *fail(actx *c, const char *fmt, ...) {
  if (c->err != SX_UNDEF) return NULL;
  sx_buf b = SX_BUF_INIT;
  if (c->pos) {
    if (sx_is_string(c->pos->file)) sx_buf_puts(&b, sx_str_data(c->pos->file));
    else sx_buf_puts(&b, "<input>");
    sx_buf_printf(&b, ":%u:%u: ", c->pos->line, c->pos->col);
  }
  va_list ap;
  va_start(ap, fmt);
  char tmp[512];
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  sx_buf_puts(&b, tmp);
  c->err = sx_string_new(b.data, b.len);
  sx_buf_free(&b);
  return NULL;
}

static const char *form_text(sx_val v) { /* short printed form for messages */
  return sx_str_data(sx_shortened(sx_print_to_string(v), 60));
}

static sx_node *node_new(actx *c, sx_op op) {
  sx_node *n = sx_alloc(sizeof *n);
  n->op = (uint8_t)op;
  n->pos = c->pos;
  return n;
}

/* A literal string of the code (a keyword, a string constant, a dict
 * literal's key) of at most LITERAL_INTERN_MAX bytes shares one object
 * with every equal literal: the name of the (interned) symbol with the
 * same bytes. A dict built and read with literal keys then finds its key
 * by identity, without comparing bytes (see sx_dict.c). Strings are
 * immutable, so sharing them is invisible. */
#define LITERAL_INTERN_MAX 64
static sx_val literal_string(sx_val s) {
  if (!sx_is_string(s) || sx_str_len(s) > LITERAL_INTERN_MAX) return s;
  return sx_sym_name(sx_symbol_intern(sx_str_data(s), sx_str_len(s)));
}

static sx_node *node_const(actx *c, sx_val k) {
  sx_node *n = node_new(c, OP_CONST);
  n->u.k = literal_string(k);
  return n;
}

static void track_pos(actx *c, sx_val form) {
  const sx_cons_pos *p = sx_cons_pos_of(form);
  if (!p) return;
  if (c->pos && c->pos->line == p->line && c->pos->col == p->col && c->pos->file == p->file &&
      c->pos->fn_name == c->fn_name)
    return;
  sx_srcpos *sp = sx_alloc(sizeof *sp);
  sp->file = p->file;
  sp->line = p->line;
  sp->col = p->col;
  sp->fn_name = c->fn_name;
  c->pos = sp;
}

static bool is_proper_list(sx_val v) {
  while (sx_is_cons(v)) v = sx_cdr(v);
  return v == SX_EMPTY;
}

static sx_val nth(sx_val l, size_t i) {
  while (i-- && sx_is_cons(l)) l = sx_cdr(l);
  return sx_is_cons(l) ? sx_car(l) : SX_UNDEF;
}

static int special_id(sx_val head) { return sx_is_symbol(head) ? sx_hdr_of(head)->aux : SF_NONE; }

const char *sx_special_form_name(size_t i) {
  return i < sizeof special_forms / sizeof *special_forms ? special_forms[i].name : NULL;
}

bool sx_special_form_p(sx_val name) {
  sx_analyse_init();
  if (sx_is_string(name)) name = sx_symbol_intern(sx_str_data(name), sx_str_len(name));
  return special_id(name) != SF_NONE;
}

/* ---- scopes ---------------------------------------------------------- */

static uint32_t scope_add(scope *s, sx_val name) {
  for (uint32_t i = 0; i < s->n; i++)
    if (s->names[i] == name) return i;
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    sx_val *nn = sx_alloc(s->cap * sizeof *nn);
    if (s->n) memcpy(nn, s->names, s->n * sizeof *nn);
    s->names = nn;
  }
  s->names[s->n] = name;
  return s->n++;
}

static bool scope_lookup(actx *c, sx_val name, uint16_t *depth, uint32_t *idx) {
  uint16_t d = 0;
  for (scope *s = c->sc; s; s = s->parent, d++) {
    for (uint32_t i = s->n; i-- > 0;) {
      if (s->names[i] == name) {
        *depth = d;
        *idx = i;
        return true;
      }
    }
  }
  return false;
}

/* A node addressing variable name: local_op with its (depth, slot) when a
 * scope binds it, otherwise global_op with its global cell. */
static sx_node *var_node(actx *c, sx_val name, sx_op local_op, sx_op global_op) {
  sx_node *n;
  uint16_t d;
  uint32_t i;
  if (scope_lookup(c, name, &d, &i)) {
    n = node_new(c, local_op);
    n->depth = d;
    n->idx = i;
  } else {
    n = node_new(c, global_op);
    n->u.cell = sx_global_cell(c->vm, name);
  }
  n->sym = name;
  return n;
}

static sx_node *an_symbol(actx *c, sx_val sym) {
  if (special_id(sym) != SF_NONE && !scope_lookup(c, sym, &(uint16_t){0}, &(uint32_t){0}))
    return fail(c, "%s is a special form, not a value", sx_str_data(sx_sym_name(sym)));
  return var_node(c, sym, OP_LOCAL, OP_GLOBAL);
}

/* ---- constants and dict literals ------------------------------------ */

static bool self_evaluating(sx_val v) {
  if (sx_is_symbol(v) || sx_is_cons(v) || sx_is(v, SX_T_KEYWORD)) return false;
  if (!sx_is_dict(v)) return true;
  sx_dict_iter it;
  sx_val k, x;
  sx_dict_iter_init(&it, v);
  while (sx_dict_iter_next(&it, &k, &x))
    if (!self_evaluating(x)) return false;
  return true;
}

static sx_node *an_dict(actx *c, sx_val d) {
  if (self_evaluating(d)) return node_const(c, d);
  size_t n = sx_dict_count(d);
  sx_node *node = node_new(c, OP_DICT);
  node->idx = (uint32_t)n;
  node->u.dict.keys = sx_alloc(n * sizeof(sx_val));
  node->u.dict.vals = sx_alloc(n * sizeof(sx_node *));
  sx_dict_iter it;
  sx_val k, v;
  size_t i = 0;
  sx_dict_iter_init(&it, d);
  while (sx_dict_iter_next(&it, &k, &v)) {
    node->u.dict.keys[i] = literal_string(k);
    if (!(node->u.dict.vals[i++] = an_expr(c, v))) return NULL;
  }
  return node;
}

static sx_node *an_call(actx *c, sx_val form);

/* (dict-literal k v ...), what the reader makes of a dict literal with an
 * expression as a key: a call of the internal builder on the keys and
 * values, evaluated left to right. */
static sx_node *an_dict_form(actx *c, sx_val form) {
  if (!is_proper_list(form) || sx_list_length(sx_cdr(form)) % 2 != 0)
    return fail(c, "dict literal: expected keys and values in pairs");
  return an_call(c, sx_cons(prim_dict_build, sx_cdr(form)));
}

/* ---- sequences ------------------------------------------------------- */

static sx_node *an_seq_op(actx *c, sx_op op, sx_val forms) {
  size_t n = sx_list_length(forms);
  sx_node *node = node_new(c, op);
  node->idx = (uint32_t)n;
  node->u.seq.items = sx_alloc((n ? n : 1) * sizeof(sx_node *));
  size_t i = 0;
  for (sx_val f = forms; sx_is_cons(f); f = sx_cdr(f))
    if (!(node->u.seq.items[i++] = an_expr(c, sx_car(f)))) return NULL;
  return node;
}

static sx_node *an_begin(actx *c, sx_val forms) {
  if (forms == SX_EMPTY) return node_const(c, SX_NIL);
  if (sx_cdr(forms) == SX_EMPTY) return an_expr(c, sx_car(forms));
  return an_seq_op(c, OP_SEQ, forms);
}

/* Collect the names a body defines (through nested begins). */
static void prescan_defines(scope *s, sx_val forms) {
  for (; sx_is_cons(forms); forms = sx_cdr(forms)) {
    sx_val f = sx_car(forms);
    if (!sx_is_cons(f)) continue;
    int id = special_id(sx_car(f));
    if (id == SF_BEGIN) prescan_defines(s, sx_cdr(f));
    if (id != SF_DEFINE || !sx_is_cons(sx_cdr(f))) continue;
    sx_val target = sx_car(sx_cdr(f));
    if (sx_is_cons(target)) target = sx_car(target);
    if (sx_is_symbol(target)) scope_add(s, target);
  }
}

static sx_node *an_body(actx *c, sx_val forms) {
  if (c->sc) prescan_defines(c->sc, forms);
  return an_begin(c, forms);
}

/* ---- define / set! ---------------------------------------------------- */

static sx_node *an_define(actx *c, sx_val form) {
  sx_val rest = sx_cdr(form);
  if (!sx_is_cons(rest)) return fail(c, "define: expected a name");
  sx_val target = sx_car(rest), valform;
  sx_node *val;
  if (sx_is_cons(target)) { /* (define (name . params) body...) */
    sx_val name = sx_car(target);
    if (!sx_is_symbol(name)) return fail(c, "define: expected a name, got %s", form_text(name));
    if (c->sc) scope_add(c->sc, name);
    val = an_fn(c, sx_cdr(target), sx_cdr(rest), sx_sym_name(name));
    target = name;
  } else {
    if (!sx_is_symbol(target)) return fail(c, "define: expected a name, got %s", form_text(target));
    if (c->sc) scope_add(c->sc, target);
    valform = sx_is_cons(sx_cdr(rest)) ? sx_car(sx_cdr(rest)) : SX_NIL;
    if (sx_is_cons(sx_cdr(rest)) && sx_cdr(sx_cdr(rest)) != SX_EMPTY)
      return fail(c, "define: too many forms for %s", sx_str_data(sx_sym_name(target)));
    if (sx_is_cons(valform) && special_id(sx_car(valform)) == SF_FN)
      val = an_fn(c, nth(valform, 1), sx_cdr(sx_cdr(valform)), sx_sym_name(target));
    else val = an_expr(c, valform);
  }
  if (!val) return NULL;
  /* the name is in the innermost scope already, so inside a body this
   * addresses its local slot; at top level it defines the global */
  sx_node *n = var_node(c, target, OP_SET_LOCAL, OP_DEF_GLOBAL);
  n->val = val;
  if (n->op == OP_DEF_GLOBAL) mark_self_fn(val, SX_NIL, n->u.cell);
  return n;
}

static sx_node *an_set(actx *c, sx_val form) {
  if (sx_list_length(form) != 3 || !sx_is_symbol(nth(form, 1)))
    return fail(c, "set!: expected (set! name value)");
  sx_val name = nth(form, 1);
  sx_node *val = an_expr(c, nth(form, 2));
  if (!val) return NULL;
  sx_node *n = var_node(c, name, OP_SET_LOCAL, OP_SET_GLOBAL);
  n->val = val;
  return n;
}

/* ---- fn --------------------------------------------------------------- */

/* Mark the calls in tail position of a function body (NF_TAILPOS), and in
 * a closure-free body also NF_TAIL: when such a call runs, nothing can
 * refer to the current environment any more (no closure captured it, no
 * frame of this invocation is left), so the machine may reuse it for the
 * callee. Guard bodies are not tail position: the guard's frame keeps the
 * environment for its handler. */
static void mark_tail(sx_node *n, uint8_t flags) {
  switch ((sx_op)n->op) {
    case OP_CALL: n->flags |= flags; break;
    case OP_IF:
      mark_tail(n->u.iff.then, flags);
      mark_tail(n->u.iff.els, flags);
      break;
    case OP_SEQ:
    case OP_AND:
    case OP_OR: mark_tail(n->u.seq.items[n->idx - 1], flags); break;
    case OP_LET:
    case OP_LETREC: mark_tail(n->u.let.body, flags); break;
    default: break;
  }
}

/* Mark the calls in tail position of p's body that call p itself through
 * the local `name` (a named let: the letrec slot just outside p's frame)
 * or the global `cell` (a defined function) with exactly its parameters
 * as NF_SELF loops (see sx_vm.h). k counts the let frames entered inside
 * p's body. Only closure-free functions without &rest: nothing can see
 * the environment being rebound. */
#define SELF_MAX_ARGS 8 /* the machine evaluates the operands into an array */
static void mark_self(sx_node *n, sx_proto *p, sx_val name, const sx_cell *cell, uint32_t k) {
  switch ((sx_op)n->op) {
    case OP_CALL: {
      const sx_node *fn = n->u.call.fn;
      bool self = cell ? fn->op == OP_GLOBAL && fn->u.cell == cell
                       : fn->op == OP_LOCAL && fn->sym == name && fn->depth == k + 1 && fn->idx == 0;
      for (uint32_t i = 0; self && i < n->idx; i++) { /* operands that may need no frames */
        const sx_node *a = n->u.call.args[i];
        self = a->op == OP_CONST || a->op == OP_LOCAL || a->op == OP_GLOBAL || (a->flags & NF_FAST);
      }
      if (self && n->idx == p->nparams && n->idx <= SELF_MAX_ARGS && !(n->flags & NF_ARITH) &&
          k < UINT16_MAX) {
        n->flags |= NF_SELF;
        n->depth = (uint16_t)k;
        n->u.call.self = p;
      }
      break;
    }
    case OP_IF:
      mark_self(n->u.iff.then, p, name, cell, k);
      mark_self(n->u.iff.els, p, name, cell, k);
      break;
    case OP_SEQ:
    case OP_AND:
    case OP_OR: mark_self(n->u.seq.items[n->idx - 1], p, name, cell, k); break;
    case OP_LET:
    case OP_LETREC: mark_self(n->u.let.body, p, name, cell, k + 1); break;
    default: break;
  }
}

static void mark_self_fn(sx_node *fn, sx_val name, const sx_cell *cell) {
  if (fn && fn->op == OP_FN && fn->u.proto->noclosure && !fn->u.proto->rest)
    mark_self(fn->u.proto->body, fn->u.proto, name, cell, 0);
}

static sx_node *an_fn(actx *c, sx_val params, sx_val body, sx_val name) {
  scope s = {.parent = c->sc};
  sx_proto *p = sx_alloc(sizeof *p);
  p->name = name;
  p->params = params;
  if (sx_is_symbol(params)) { /* (fn args body) : every argument in a list */
    scope_add(&s, params);
    p->rest = true;
  } else {
    if (params == SX_NIL) params = SX_EMPTY;
    for (sx_val ps = params; ps != SX_EMPTY; ps = sx_cdr(ps)) {
      if (!sx_is_cons(ps)) return fail(c, "fn: malformed parameter list");
      sx_val prm = sx_car(ps);
      if (prm == sym_rest) {
        if (!sx_is_cons(sx_cdr(ps)) || !sx_is_symbol(sx_car(sx_cdr(ps))) || sx_cdr(sx_cdr(ps)) != SX_EMPTY)
          return fail(c, "fn: &rest must be followed by exactly one name");
        scope_add(&s, sx_car(sx_cdr(ps)));
        p->rest = true;
        break;
      }
      if (!sx_is_symbol(prm)) return fail(c, "fn: parameter must be a symbol, got %s", form_text(prm));
      if (s.n != scope_add(&s, prm))
        return fail(c, "fn: duplicate parameter %s", sx_str_data(sx_sym_name(prm)));
      p->nparams++;
    }
  }
  scope *saved = c->sc;
  sx_val saved_name = c->fn_name;
  c->sc = &s;
  c->fn_name = sx_is_string(name) ? name : anon_fn_name; /* for backtraces */
  c->made_fn = false;
  p->pos = c->pos;
  p->body = an_body(c, body);
  c->sc = saved;
  c->fn_name = saved_name;
  if (!p->body) return NULL;
  p->noclosure = !c->made_fn;
  p->bind_argc = p->noclosure && !p->rest ? p->nparams : UINT32_MAX;
  mark_tail(p->body, p->noclosure ? NF_TAILPOS | NF_TAIL : NF_TAILPOS);
  c->made_fn = true; /* the enclosing code creates this closure */
  p->nslots = s.n;
  sx_node *n = node_new(c, OP_FN);
  n->u.proto = p;
  return n;
}

/* ---- let family -------------------------------------------------------- */

/* Normalise bindings to parallel lists of names and init forms. Accepts
 * ((a 1) (b 2)), (a 1 b 2) and bare names (bound to nil). */
static bool parse_bindings(actx *c, sx_val bs, sx_val *names, sx_val *inits, size_t *n) {
  size_t len = sx_list_length(bs);
  if (bs != SX_EMPTY && bs != SX_NIL && !is_proper_list(bs)) {
    fail(c, "let: bindings must be a list");
    return false;
  }
  bool flat = len > 0 && sx_is_symbol(sx_car(bs)) && len % 2 == 0 && !sx_is_symbol(nth(bs, 1));
  *names = SX_EMPTY;
  *inits = SX_EMPTY;
  *n = 0;
  for (sx_val b = bs; sx_is_cons(b); b = sx_cdr(b)) {
    sx_val name, init = SX_NIL, e = sx_car(b);
    if (flat) {
      name = e;
      b = sx_cdr(b);
      init = sx_car(b);
    } else if (sx_is_symbol(e)) {
      name = e;
    } else if (sx_is_cons(e) && sx_is_symbol(sx_car(e)) &&
               (sx_cdr(e) == SX_EMPTY || (sx_is_cons(sx_cdr(e)) && sx_cdr(sx_cdr(e)) == SX_EMPTY))) {
      name = sx_car(e);
      if (sx_cdr(e) != SX_EMPTY) init = sx_car(sx_cdr(e));
    } else {
      fail(c, "let: malformed binding %s", form_text(e));
      return false;
    }
    *names = sx_cons(name, *names);
    *inits = sx_cons(init, *inits);
    (*n)++;
  }
  *names = sx_list_reverse(*names);
  *inits = sx_list_reverse(*inits);
  return true;
}

static sx_node *an_let_core(actx *c, sx_op op, sx_val names, sx_val inits, size_t n, sx_val body) {
  sx_node *node = node_new(c, op);
  node->idx = (uint32_t)n;
  node->u.let.inits = sx_alloc((n ? n : 1) * sizeof(sx_node *));
  scope s = {.parent = c->sc};
  for (sx_val nm = names; sx_is_cons(nm); nm = sx_cdr(nm)) {
    if (s.n != scope_add(&s, sx_car(nm)))
      return fail(c, "let: duplicate binding %s", sx_str_data(sx_sym_name(sx_car(nm))));
  }
  if (op == OP_LETREC) c->sc = &s;
  size_t i = 0;
  for (sx_val in = inits, nm = names; sx_is_cons(in); in = sx_cdr(in), nm = sx_cdr(nm)) {
    sx_val f = sx_car(in);
    sx_node *v;
    if (sx_is_cons(f) && special_id(sx_car(f)) == SF_FN)
      v = an_fn(c, nth(f, 1), sx_cdr(sx_cdr(f)), sx_sym_name(sx_car(nm)));
    else v = an_expr(c, f);
    if (!v) {
      c->sc = s.parent;
      return NULL;
    }
    node->u.let.inits[i++] = v;
  }
  c->sc = &s;
  node->u.let.body = an_body(c, body);
  c->sc = s.parent;
  if (!node->u.let.body) return NULL;
  node->u.let.nslots = s.n;
  return node;
}

static sx_node *an_named_let(actx *c, sx_val form) {
  /* (let name ((v init)...) body...) => ((letrec ((name (fn (v...) body...))) name) init...) */
  sx_val name = nth(form, 1), names, inits;
  size_t n;
  if (!parse_bindings(c, nth(form, 2), &names, &inits, &n)) return NULL;
  sx_val lam = sx_cons(sx_symbol_cstr("fn"), sx_cons(names, sx_cdr(sx_cdr(sx_cdr(form)))));
  sx_node *loop =
      an_let_core(c, OP_LETREC, sx_cons(name, SX_EMPTY), sx_cons(lam, SX_EMPTY), 1, sx_cons(name, SX_EMPTY));
  if (!loop) return NULL;
  mark_self_fn(loop->u.let.inits[0], name, NULL);
  sx_node *call = node_new(c, OP_CALL);
  call->u.call.fn = loop;
  call->idx = (uint32_t)n;
  call->u.call.args = sx_alloc((n ? n : 1) * sizeof(sx_node *));
  size_t i = 0;
  for (sx_val in = inits; sx_is_cons(in); in = sx_cdr(in))
    if (!(call->u.call.args[i++] = an_expr(c, sx_car(in)))) return NULL;
  return call;
}

static sx_node *an_let(actx *c, sx_val form, int id) {
  if (!sx_is_cons(sx_cdr(form))) return fail(c, "let: expected bindings");
  if (id == SF_LET && sx_is_symbol(nth(form, 1))) return an_named_let(c, form);
  sx_val names, inits, body = sx_cdr(sx_cdr(form));
  size_t n;
  if (!parse_bindings(c, nth(form, 1), &names, &inits, &n)) return NULL;
  if (id == SF_LETSTAR && n > 1) { /* nest: (let (b1) (let* (rest) body)) */
    sx_val inner = sx_cons(sx_symbol_cstr("let*"), sx_cons(sx_cdr(nth(form, 1)), body));
    return an_let_core(c, OP_LET, sx_cons(sx_car(names), SX_EMPTY), sx_cons(sx_car(inits), SX_EMPTY), 1,
                       sx_cons(inner, SX_EMPTY));
  }
  return an_let_core(c, id == SF_LETREC ? OP_LETREC : OP_LET, names, inits, n, body);
}

/* ---- conditionals ------------------------------------------------------ */

static sx_node *an_if_node(actx *c, sx_node *test, sx_node *then, sx_node *els) {
  sx_node *n = node_new(c, OP_IF);
  n->u.iff.test = test;
  n->u.iff.then = then;
  n->u.iff.els = els;
  return n;
}

static sx_node *an_if(actx *c, sx_val form) {
  size_t len = sx_list_length(form);
  if (len < 3 || len > 4) return fail(c, "if: expected (if test then [else])");
  sx_node *t = an_expr(c, nth(form, 1));
  sx_node *a = t ? an_expr(c, nth(form, 2)) : NULL;
  sx_node *b = a ? (len == 4 ? an_expr(c, nth(form, 3)) : node_const(c, SX_NIL)) : NULL;
  return b ? an_if_node(c, t, a, b) : NULL;
}

static sx_node *an_when(actx *c, sx_val form, bool unless) {
  if (!sx_is_cons(sx_cdr(form))) return fail(c, "%s: expected a test", unless ? "unless" : "when");
  sx_node *t = an_expr(c, nth(form, 1));
  sx_node *body = t ? an_begin(c, sx_cdr(sx_cdr(form))) : NULL;
  if (!body) return NULL;
  sx_node *nil = node_const(c, SX_NIL);
  return unless ? an_if_node(c, t, nil, body) : an_if_node(c, t, body, nil);
}

static bool is_else(sx_val v) { return v == sym_else || (sx_is(v, SX_T_KEYWORD) && sx_equal(v, kw_else)); }

static sx_val fresh_symbol(const char *name) {
  sx_symbol *s = sx_obj_new(SX_T_SYMBOL, sizeof *s); /* uninterned */
  s->name = sx_string_cstr(name);
  return (sx_val)s;
}

/* (test => f): (let ((t test)) (if t (f t) rest)) */
static sx_node *an_cond_arrow(actx *c, sx_val test, sx_val f, sx_val rest) {
  sx_val t = fresh_symbol("cond-value");
  sx_val body = sx_list(4, (sx_val[]){sx_symbol_cstr("if"), t, sx_list(2, (sx_val[]){f, t}),
                                      sx_cons(sx_symbol_cstr("cond"), rest)});
  return an_let_core(c, OP_LET, sx_cons(t, SX_EMPTY), sx_cons(test, SX_EMPTY), 1, sx_cons(body, SX_EMPTY));
}

static sx_node *an_cond_clauses(actx *c, sx_val clauses) {
  if (clauses == SX_EMPTY) return node_const(c, SX_NIL);
  sx_val cl = sx_car(clauses), rest = sx_cdr(clauses);
  if (!sx_is_cons(cl)) return fail(c, "cond: clause must be a list, got %s", form_text(cl));
  sx_val test = sx_car(cl), body = sx_cdr(cl);
  if (is_else(test)) return an_begin(c, body);
  if (sx_is_cons(body) && sx_car(body) == sym_arrow) {
    if (sx_list_length(body) != 2) return fail(c, "cond: => takes exactly one function");
    return an_cond_arrow(c, test, nth(body, 1), rest);
  }
  sx_node *t = an_expr(c, test);
  if (!t) return NULL;
  if (body == SX_EMPTY) { /* (test) yields the test's value: (or test rest) */
    sx_node *r = an_cond_clauses(c, rest);
    if (!r) return NULL;
    sx_node *o = node_new(c, OP_OR);
    o->idx = 2;
    o->u.seq.items = sx_alloc(2 * sizeof(sx_node *));
    o->u.seq.items[0] = t;
    o->u.seq.items[1] = r;
    return o;
  }
  sx_node *then = an_begin(c, body);
  sx_node *els = then ? an_cond_clauses(c, rest) : NULL;
  return els ? an_if_node(c, t, then, els) : NULL;
}

static sx_node *an_cond(actx *c, sx_val form) {
  sx_val clauses = sx_cdr(form);
  if (!is_proper_list(clauses)) return fail(c, "cond: malformed clauses");
  bool flat = false; /* (cond t1 e1 t2 e2 ...) when some clause is not a list */
  for (sx_val cl = clauses; sx_is_cons(cl); cl = sx_cdr(cl))
    if (!sx_is_cons(sx_car(cl))) flat = true;
  if (!flat) return an_cond_clauses(c, clauses);
  if (sx_list_length(clauses) % 2) return fail(c, "cond: needs test/expression pairs");
  sx_val pairs = SX_EMPTY;
  for (sx_val cl = clauses; sx_is_cons(cl); cl = sx_cdr(sx_cdr(cl)))
    pairs = sx_cons(sx_list(2, (sx_val[]){sx_car(cl), sx_car(sx_cdr(cl))}), pairs);
  return an_cond_clauses(c, sx_list_reverse(pairs));
}

/* (case key ((d...) e...) (else e...)) => (let ((k key)) (cond ((match k '(d...)) e...) ...)) */
static sx_node *an_case(actx *c, sx_val form) {
  if (!sx_is_cons(sx_cdr(form))) return fail(c, "case: expected a key");
  sx_val k = fresh_symbol("case-key"), clauses = SX_EMPTY;
  for (sx_val cl = sx_cdr(sx_cdr(form)); sx_is_cons(cl); cl = sx_cdr(cl)) {
    sx_val clause = sx_car(cl);
    if (!sx_is_cons(clause)) return fail(c, "case: clause must be a list");
    sx_val data = sx_car(clause), test;
    if (is_else(data)) test = sym_else;
    else {
      if (!sx_is_list(data)) data = sx_cons(data, SX_EMPTY);
      test = sx_list(3, (sx_val[]){prim_case_match, k, sx_list(2, (sx_val[]){sym_quote, data})});
    }
    clauses = sx_cons(sx_cons(test, sx_cdr(clause)), clauses);
  }
  sx_val body = sx_cons(sx_symbol_cstr("cond"), sx_list_reverse(clauses));
  return an_let_core(c, OP_LET, sx_cons(k, SX_EMPTY), sx_cons(nth(form, 1), SX_EMPTY), 1,
                     sx_cons(body, SX_EMPTY));
}

/* (do ((v init step)...) (test res...) body...) => named let loop; any other
 * shape sequences its forms like begin. */
static sx_node *an_do(actx *c, sx_val form) {
  sx_val specs = nth(form, 1), test = nth(form, 2);
  bool loop_shape = sx_list_length(form) >= 3 && sx_is_list(specs) && sx_is_cons(test);
  for (sx_val s = specs; loop_shape && sx_is_cons(s); s = sx_cdr(s))
    loop_shape = sx_is_cons(sx_car(s)) && sx_is_symbol(sx_car(sx_car(s)));
  if (!loop_shape) return an_begin(c, sx_cdr(form));
  sx_val loop = fresh_symbol("do-loop"), binds = SX_EMPTY, steps = SX_EMPTY;
  for (sx_val s = specs; sx_is_cons(s); s = sx_cdr(s)) {
    sx_val spec = sx_car(s), var = sx_car(spec);
    binds = sx_cons(sx_list(2, (sx_val[]){var, nth(spec, 1) == SX_UNDEF ? SX_NIL : nth(spec, 1)}), binds);
    steps = sx_cons(nth(spec, 2) == SX_UNDEF ? var : nth(spec, 2), steps);
  }
  sx_val again = sx_cons(loop, sx_list_reverse(steps));
  sx_val body =
      sx_cons(sym_begin, sx_list_reverse(sx_cons(again, sx_list_reverse(sx_cdr(sx_cdr(sx_cdr(form)))))));
  sx_val done = sx_cons(sym_begin, sx_cdr(test));
  sx_val iff = sx_list(4, (sx_val[]){sx_symbol_cstr("if"), sx_car(test), done, body});
  sx_val named = sx_list(4, (sx_val[]){sx_symbol_cstr("let"), loop, sx_list_reverse(binds), iff});
  return an_named_let(c, named);
}

/* ---- quasiquote -------------------------------------------------------- */

static sx_val qq_expand(actx *c, sx_val x, int depth);

static sx_val qq_list_expand(actx *c, sx_val x, int depth) {
  sx_val parts = SX_EMPTY;
  for (; sx_is_cons(x); x = sx_cdr(x)) {
    sx_val e = sx_car(x);
    if (sx_is_cons(e) && sx_car(e) == sym_unquote_splicing && depth == 1) {
      parts = sx_cons(nth(e, 1), parts);
    } else if (sx_is_cons(e) && sx_car(e) == sym_unquote && depth == 1 && x == e) {
      break;
    } else {
      sx_val item = qq_expand(c, e, depth);
      if (c->err != SX_UNDEF) return SX_NIL;
      parts = sx_cons(sx_list(2, (sx_val[]){prim_qq_list, item}), parts);
    }
  }
  sx_val tail = x != SX_EMPTY ? qq_expand(c, x, depth) /* dotted tail */
                              : sx_list(2, (sx_val[]){sym_quote, SX_EMPTY});
  parts = sx_cons(tail, parts);
  return sx_cons(prim_qq_concat, sx_list_reverse(parts));
}

/* A dict inside a quasiquote: its keys stay, its values are expanded (the
 * analyser then evaluates the expanded values as a dict literal). */
static sx_val qq_dict(actx *c, sx_val d, int depth) {
  sx_val out = sx_dict_empty();
  sx_dict_iter it;
  sx_val k, v;
  sx_dict_iter_init(&it, d);
  while (sx_dict_iter_next(&it, &k, &v) && c->err == SX_UNDEF)
    out = sx_dict_assoc(out, k, qq_expand(c, v, depth));
  return out;
}

/* (dict-literal k v ...) inside a quasiquote: expand every key and value. */
static sx_val qq_dict_form(actx *c, sx_val x, int depth) {
  sx_val parts = SX_EMPTY;
  for (sx_val l = sx_cdr(x); sx_is_cons(l) && c->err == SX_UNDEF; l = sx_cdr(l))
    parts = sx_cons(qq_expand(c, sx_car(l), depth), parts);
  return sx_cons(sym_dict_literal, sx_list_reverse(parts));
}

static sx_val qq_expand(actx *c, sx_val x, int depth) {
  if (!sx_is_cons(x)) {
    if (sx_is_symbol(x) || sx_is(x, SX_T_KEYWORD)) return sx_list(2, (sx_val[]){sym_quote, x});
    if (sx_is_dict(x)) return qq_dict(c, x, depth);
    return x;
  }
  sx_val head = sx_car(x);
  if (head == sym_dict_literal) return qq_dict_form(c, x, depth);
  if (head == sym_unquote) {
    if (depth == 1) return nth(x, 1);
    return sx_list(3, (sx_val[]){prim_qq_list, sx_list(2, (sx_val[]){sym_quote, sym_unquote}),
                                 qq_expand(c, nth(x, 1), depth - 1)});
  }
  if (head == sym_quasiquote)
    return sx_list(3, (sx_val[]){prim_qq_list, sx_list(2, (sx_val[]){sym_quote, sym_quasiquote}),
                                 qq_expand(c, nth(x, 1), depth + 1)});
  if (head == sym_unquote_splicing && depth == 1) {
    fail(c, "unquote-splicing: not inside a list");
    return SX_NIL;
  }
  return qq_list_expand(c, x, depth);
}

/* ---- guard ------------------------------------------------------------- */

static sx_node *an_guard(actx *c, sx_val form) {
  sx_val spec = nth(form, 1);
  if (!sx_is_cons(spec) || !sx_is_symbol(sx_car(spec)))
    return fail(c, "guard: expected (guard (var clause...) body...)");
  sx_val var = sx_car(spec);
  sx_node *body = an_begin(c, sx_cdr(sx_cdr(form)));
  if (!body) return NULL;
  /* handler: (cond clause... (else (raise var))) in a frame binding var */
  sx_val clauses = sx_list_reverse(sx_cdr(spec));
  bool has_else = clauses != SX_EMPTY && sx_is_cons(sx_car(clauses)) && is_else(sx_car(sx_car(clauses)));
  if (!has_else)
    clauses = sx_cons(sx_list(2, (sx_val[]){sym_else, sx_list(2, (sx_val[]){prim_raise, var})}), clauses);
  clauses = sx_list_reverse(clauses);
  scope s = {.parent = c->sc};
  scope_add(&s, var);
  c->sc = &s;
  sx_node *handler = an_cond_clauses(c, clauses);
  c->sc = s.parent;
  if (!handler) return NULL;
  sx_node *n = node_new(c, OP_GUARD);
  n->u.guard.body = body;
  n->u.guard.handler = handler;
  n->idx = s.n; /* handler frame size */
  return n;
}

/* ---- macros ------------------------------------------------------------ */

static sx_node *an_defmacro(actx *c, sx_val form) {
  /* (defmacro name (params) body...) or (defmacro (name params) body...) */
  sx_val name = nth(form, 1), params, body;
  if (name == SX_UNDEF) return fail(c, "defmacro: expected a name");
  if (sx_is_cons(name)) {
    params = sx_cdr(name);
    name = sx_car(name);
    body = sx_cdr(sx_cdr(form));
  } else {
    params = nth(form, 2);
    body = sx_is_cons(sx_cdr(sx_cdr(form))) ? sx_cdr(sx_cdr(sx_cdr(form))) : SX_EMPTY;
  }
  if (!sx_is_symbol(name)) return fail(c, "defmacro: expected a name");
  if (c->sc) return fail(c, "defmacro: only allowed at top level");
  sx_node *fn = an_fn(c, params, body, sx_sym_name(name));
  if (!fn) return NULL;
  sx_node *n = node_new(c, OP_DEFMACRO);
  n->u.cell = sx_global_cell(c->vm, name);
  n->sym = name;
  n->val = fn;
  return n;
}

static sx_node *an_macro_call(actx *c, sx_macro *m, sx_val form) {
  if (++c->expand_depth > 1000) return fail(c, "macro expansion too deep (in %s)", sx_str_data(m->name));
  size_t argc = sx_list_length(sx_cdr(form));
  sx_val *argv = sx_alloc((argc ? argc : 1) * sizeof *argv);
  size_t i = 0;
  for (sx_val a = sx_cdr(form); sx_is_cons(a); a = sx_cdr(a)) argv[i++] = sx_car(a);
  sx_val out;
  if (sx_apply(c->vm, m->fn, (int)argc, argv, &out) != SX_DONE)
    return fail(c, "error expanding macro %s: %s", sx_str_data(m->name), sx_str_data(sx_error_message(out)));
  sx_node *n = an_expr(c, out);
  c->expand_depth--;
  return n;
}

/* ---- calls ------------------------------------------------------------- */

#define FAST_MAX_ARGS 8

static bool simple_node(const sx_node *n) {
  return n->op == OP_CONST || n->op == OP_LOCAL || n->op == OP_GLOBAL;
}

/* A call may run on the machine's frameless fast path when its operator
 * is a constant or variable (a primitive, checked when it runs) and every
 * operand is simple or itself such a call. */
static void mark_fast(sx_node *n) {
  if (n->idx > FAST_MAX_ARGS || !simple_node(n->u.call.fn)) return;
  bool cacheable = n->u.call.fn->op != OP_LOCAL;
  for (uint32_t i = 0; i < n->idx; i++) {
    const sx_node *a = n->u.call.args[i];
    if (!simple_node(a) && !(a->flags & NF_FAST)) return;
    if ((a->flags & NF_FAST) && !(a->flags & NF_CACHEABLE)) cacheable = false;
  }
  n->flags |= NF_FAST | (cacheable ? NF_CACHEABLE : 0);
}

/* A call node's operator is a global bound to a primitive right now. */
static bool prim_operator(const sx_node *call) {
  const sx_node *fn = call->u.call.fn;
  return fn->op == OP_CONST || (fn->op == OP_GLOBAL && sx_is(fn->u.cell->value, SX_T_PRIM));
}

static int arith_kind(const sx_node *a) {
  if (a->op == OP_LOCAL && a->depth == 0) return AK_LOCAL0;
  if (a->op == OP_CALL && !(a->flags & NF_ARITH))
    return (a->flags & NF_QUICK) && !prim_operator(a) ? AK_ENTER : AK_CALL;
  return a->op == OP_CONST ? AK_CONST : AK_OTHER;
}

/* (op a b) where op is a global currently bound to an inline-arithmetic
 * primitive: the machine checks the binding again each time it runs. */
static void mark_arith(sx_node *n) {
  if (n->idx != 2 || n->u.call.fn->op != OP_GLOBAL) return;
  sx_val p = n->u.call.fn->u.cell->value;
  if (!sx_is(p, SX_T_PRIM) || !sx_hdr_of(p)->aux) return;
  n->flags |= NF_ARITH;
  n->fop = (uint8_t)sx_hdr_of(p)->aux;
  n->ashape = ARITH_SHAPE(arith_kind(n->u.call.args[0]), arith_kind(n->u.call.args[1]));
  n->u.call.prim = p;
}

/* n may be evaluated in place by the machine's quick (see NF_QUICK). */
static bool quick_shape(const sx_node *n) {
  if (simple_node(n)) return true;
  return n->op == OP_CALL && (n->flags & NF_ARITH) && quick_shape(n->u.call.args[0]) &&
         quick_shape(n->u.call.args[1]);
}

static void mark_quick(sx_node *n) {
  if (!simple_node(n->u.call.fn)) return;
  for (uint32_t i = 0; i < n->idx; i++)
    if (!quick_shape(n->u.call.args[i])) return;
  n->flags |= NF_QUICK;
}

static sx_node *an_call(actx *c, sx_val form) {
  if (!is_proper_list(form)) return fail(c, "malformed call %s", form_text(form));
  sx_node *fn = an_expr(c, sx_car(form));
  if (!fn) return NULL;
  size_t argc = sx_list_length(sx_cdr(form));
  sx_node *n = node_new(c, OP_CALL);
  n->u.call.fn = fn;
  n->idx = (uint32_t)argc;
  n->u.call.args = sx_alloc((argc ? argc : 1) * sizeof(sx_node *));
  size_t i = 0;
  for (sx_val a = sx_cdr(form); sx_is_cons(a); a = sx_cdr(a))
    if (!(n->u.call.args[i++] = an_expr(c, sx_car(a)))) return NULL;
  mark_fast(n);
  mark_arith(n);
  mark_quick(n);
  return n;
}

static sx_node *an_special(actx *c, int id, sx_val form) {
  switch (id) {
    case SF_QUOTE:
      if (sx_list_length(form) != 2) return fail(c, "quote: expected exactly one form");
      return node_const(c, nth(form, 1));
    case SF_QUASIQUOTE: {
      if (sx_list_length(form) != 2) return fail(c, "quasiquote: expected exactly one form");
      sx_val e = qq_expand(c, nth(form, 1), 1);
      return c->err != SX_UNDEF ? NULL : an_expr(c, e);
    }
    case SF_UNQUOTE:
    case SF_UNQUOTE_SPLICING:
      return fail(c, "%s outside quasiquote", id == SF_UNQUOTE ? "unquote" : "unquote-splicing");
    case SF_DEFINE: return an_define(c, form);
    case SF_DICT_LITERAL: return an_dict_form(c, form);
    case SF_FN:
      if (!sx_is_cons(sx_cdr(form))) return fail(c, "fn: expected a parameter list");
      return an_fn(c, nth(form, 1), sx_cdr(sx_cdr(form)), SX_NIL);
    case SF_LET:
    case SF_LETSTAR:
    case SF_LETREC: return an_let(c, form, id);
    case SF_IF: return an_if(c, form);
    case SF_COND: return an_cond(c, form);
    case SF_CASE: return an_case(c, form);
    case SF_WHEN: return an_when(c, form, false);
    case SF_UNLESS: return an_when(c, form, true);
    case SF_BEGIN: return an_begin(c, sx_cdr(form));
    case SF_DO: return an_do(c, form);
    case SF_SET: return an_set(c, form);
    case SF_AND:
    case SF_OR:
      if (sx_cdr(form) == SX_EMPTY) return node_const(c, id == SF_AND ? SX_TRUE : SX_FALSE);
      if (sx_cdr(sx_cdr(form)) == SX_EMPTY) return an_expr(c, nth(form, 1));
      return an_seq_op(c, id == SF_AND ? OP_AND : OP_OR, sx_cdr(form));
    case SF_GUARD: return an_guard(c, form);
    case SF_PERFORM: {
      if (sx_list_length(form) != 2) return fail(c, "perform: expected exactly one request");
      sx_node *n = node_new(c, OP_PERFORM);
      return (n->val = an_expr(c, nth(form, 1))) ? n : NULL;
    }
    case SF_DEFMACRO: return an_defmacro(c, form);
  }
  return fail(c, "unknown special form");
}

static sx_node *an_expr(actx *c, sx_val form) {
  if (c->err != SX_UNDEF) return NULL;
  if (sx_is_symbol(form)) return an_symbol(c, form);
  if (sx_is(form, SX_T_KEYWORD)) return node_const(c, ((sx_keyword *)form)->name);
  if (sx_is_dict(form)) return an_dict(c, form);
  if (!sx_is_cons(form)) return node_const(c, form);
  const sx_srcpos *saved = c->pos;
  track_pos(c, form);
  sx_val head = sx_car(form);
  sx_node *n;
  int id = special_id(head);
  uint16_t d;
  uint32_t i;
  if (id != SF_NONE) {
    n = an_special(c, id, form);
  } else if (sx_is_symbol(head) && !scope_lookup(c, head, &d, &i) &&
             sx_is(sx_global_cell(c->vm, head)->value, SX_T_MACRO)) {
    n = an_macro_call(c, (sx_macro *)sx_global_cell(c->vm, head)->value, form);
  } else {
    n = an_call(c, form);
  }
  c->pos = saved;
  return n;
}

/* A top-level (begin form...) runs like its forms written one after
 * another: each is analysed only when the previous ones have run, so a
 * macro one of them defines applies to the later ones. */
sx_val sx_toplevel_begin(sx_val form) {
  sx_analyse_init();
  if (!sx_is_cons(form) || special_id(sx_car(form)) != SF_BEGIN) return SX_UNDEF;
  sx_val forms = sx_cdr(form);
  return sx_is_cons(forms) && is_proper_list(forms) ? forms : SX_UNDEF;
}

sx_node *sx_analyse(sx_vm *vm, sx_val form, sx_val *error) {
  sx_analyse_init();
  actx c = {.vm = vm, .fn_name = SX_NIL, .err = SX_UNDEF};
  track_pos(&c, form);
  sx_node *n = an_expr(&c, form);
  if (!n) *error = c.err != SX_UNDEF ? c.err : sx_string_cstr("analysis failed");
  return n;
}

/* ---- internal primitives used by rewrites ------------------------------ */

static sx_val qq_list(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  return sx_list((size_t)argc, argv);
}

static sx_val qq_concat(sx_vm *vm, int argc, sx_val *argv) {
  if (argc == 0) return SX_EMPTY;
  sx_val out = argv[argc - 1];
  if (out == SX_NIL) out = SX_EMPTY;
  for (int i = argc - 2; i >= 0; i--) {
    sx_val part = argv[i];
    if (part == SX_NIL) continue;
    if (!sx_is_list(part)) return sx_type_error(vm, "unquote-splicing", "a list", part);
    sx_val rev = sx_list_reverse(part);
    for (; sx_is_cons(rev); rev = sx_cdr(rev)) out = sx_cons(sx_car(rev), out);
  }
  return out;
}

static sx_val case_match(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  for (sx_val l = argv[1]; sx_is_cons(l); l = sx_cdr(l)) {
    sx_val d = sx_car(l);
    if (sx_is(d, SX_T_KEYWORD)) d = ((sx_keyword *)d)->name;
    if (sx_equal(d, argv[0])) return SX_TRUE;
  }
  return SX_FALSE;
}

static sx_val dict_build(sx_vm *vm, int argc, sx_val *argv) {
  sx_val d = sx_dict_empty();
  for (int i = 0; i + 1 < argc; i += 2) {
    if (!sx_is_string(argv[i])) return sx_type_error(vm, "dict literal key", "a string", argv[i]);
    d = sx_dict_assoc(d, argv[i], argv[i + 1]);
  }
  return d;
}

static sx_val raise_again(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return sx_throw(vm, argv[0]);
}
