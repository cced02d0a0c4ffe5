/* test_doc.c — the documentation tables (stdlib/sx_doc.h) against what a VM
 * really binds: every global of the standard library and every special
 * form has an entry and every entry names one; each signature's arity is
 * the primitive's or function's own; every public name of the persist
 * library (all its sources loaded) has a description and every
 * description names one. Also (doc NAME), %doc and apropos themselves. */
#include "sx_test_eval.h"

#include "sx_doc.h"

#include <glob.h>
#include <stdlib.h>

TestSuite(doc, .init = setup, .fini = teardown);

/* Append to *bad (for one message listing them all). */
static void note(sx_buf *bad, const char *what, const char *name) {
  sx_buf_printf(bad, "\n  %s: %s", what, name);
}

static void assert_none(sx_buf *bad, const char *what) {
  sx_buf_putc(bad, '\0');
  cr_assert_eq(bad->len, 1, "%s:%s", what, bad->data);
  sx_buf_free(bad);
}

static bool is_builtin_entry(const char *name) {
  size_t np;
  const sx_doc_entry *e = sx_doc_find(name), *p = sx_doc_persist_entries(&np);
  return e && !(e >= p && e < p + np);
}

/* Every builtin entry, section after section (*n of them). */
static const sx_doc_entry **builtin_entries(size_t *n) {
  static const sx_doc_entry *all[512];
  size_t ns;
  const sx_doc_section *s = sx_doc_builtin_sections(&ns);
  *n = 0;
  for (size_t i = 0; i < ns; i++)
    for (size_t j = 0; j < s[i].n && *n < 512; j++) all[(*n)++] = &s[i].entries[j];
  return all;
}

Test(doc, every_stdlib_global_has_an_entry) {
  sx_buf bad = SX_BUF_INIT;
  for (size_t i = 0; i < vm->gcap; i++) {
    sx_cell *c = vm->globals[i];
    if (!c || c->value == SX_UNDEF) continue;
    const char *name = sx_str_data(sx_sym_name(c->sym));
    if (name[0] != '%' && !is_builtin_entry(name)) note(&bad, "bound but not documented", name);
  }
  assert_none(&bad, "stdlib/sx_doc_builtins.c");
}

Test(doc, every_special_form_has_an_entry) {
  sx_buf bad = SX_BUF_INIT;
  const char *name;
  for (size_t i = 0; (name = sx_special_form_name(i)); i++)
    if (!is_builtin_entry(name)) note(&bad, "special form not documented", name);
  assert_none(&bad, "stdlib/sx_doc_builtins.c");
}

Test(doc, every_entry_names_a_builtin) {
  sx_buf bad = SX_BUF_INIT;
  size_t n;
  const sx_doc_entry **e = builtin_entries(&n);
  cr_assert_lt(n, 512);
  for (size_t i = 0; i < n; i++) {
    const char *name = e[i]->name;
    bool bound = sx_global_ref(vm, name) != SX_UNDEF;
    if (!bound && !sx_special_form_p(sx_string_cstr(name))) note(&bad, "documented but not bound", name);
    if (sx_doc_find(name) != e[i]) note(&bad, "documented twice", name);
    if (!e[i]->sig || !*e[i]->doc) note(&bad, "no signature or description", name);
  }
  assert_none(&bad, "stdlib/sx_doc_builtins.c");
}

/* The arity v accepts: a primitive's, a function's or a macro's. */
static bool value_arity(sx_val v, int *min, int *max) {
  if (sx_is(v, SX_T_MACRO)) v = ((sx_macro *)v)->fn;
  if (sx_is(v, SX_T_PRIM)) {
    *min = ((sx_prim *)v)->min_args;
    *max = ((sx_prim *)v)->max_args;
    return true;
  }
  if (!sx_is(v, SX_T_FN)) return false;
  const sx_proto *p = ((sx_closure *)v)->proto;
  *min = (int)p->nparams;
  *max = p->rest ? -1 : (int)p->nparams;
  return true;
}

Test(doc, signatures_agree_with_arity) {
  sx_buf bad = SX_BUF_INIT;
  size_t n;
  const sx_doc_entry **e = builtin_entries(&n);
  for (size_t i = 0; i < n; i++) {
    int smin, smax, vmin, vmax;
    if (!value_arity(sx_global_ref(vm, e[i]->name), &vmin, &vmax)) continue; /* special forms */
    if (!sx_doc_sig_arity(e[i]->sig, &smin, &smax)) note(&bad, "malformed signature", e[i]->sig);
    else if (smin != vmin || smax != vmax)
      sx_buf_printf(&bad, "\n  %s takes %d..%d arguments, its signature %d..%d", e[i]->sig, vmin, vmax, smin,
                    smax);
  }
  assert_none(&bad, "stdlib/sx_doc_builtins.c");
}

Test(doc, the_signature_convention) {
  int min, max;
  struct {
    const char *sig;
    int min, max;
  } ok[] = {
      {"(newline)", 0, 0},
      {"(map f lst)", 2, 2},
      {"(+ x...)", 0, -1},
      {"(- x y...)", 1, -1},
      {"(get c key [default])", 2, 3},
      {"(range [start] end [step])", 1, 3},
      {"(assoc d [key value]...)", 1, -1},
      {"(apply f arg... lst)", 2, -1},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    cr_assert(sx_doc_sig_arity(ok[i].sig, &min, &max), "%s", ok[i].sig);
    cr_assert(min == ok[i].min && max == ok[i].max, "%s: %d..%d", ok[i].sig, min, max);
  }
  const char *bad[] = {"map f", "(map f", "(map  f)", "(get [d)", "(f x) extra"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert(!sx_doc_sig_arity(bad[i], &min, &max), "%s parsed", bad[i]);
}

/* Load every source of lib/persist, as the hosts do. */
static void load_persist(void) {
  const char *root = getenv("SX_SOURCE_ROOT"); /* meson test sets it; by hand, the tree built from */
  if (!root) root = SX_SOURCE_ROOT;
  char pattern[4096];
  snprintf(pattern, sizeof pattern, "%s/lib/persist/*.sx", root);
  glob_t g;
  cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no persist sources at %s", pattern);
  cr_assert_geq(g.gl_pathc, 19);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    sx_val out;
    cr_assert_eq(sx_load_file(vm, g.gl_pathv[i], false, &out), SX_DONE, "%s: %s", g.gl_pathv[i], errmsg(out));
  }
  globfree(&g);
}

Test(doc, every_public_persist_name_has_a_description) {
  load_persist();
  sx_buf bad = SX_BUF_INIT;
  size_t n = 0;
  for (size_t i = 0; i < vm->gcap; i++) {
    sx_cell *c = vm->globals[i];
    if (!c || c->value == SX_UNDEF) continue;
    const char *name = sx_str_data(sx_sym_name(c->sym));
    if (strncmp(name, "persist/", 8) != 0) continue;
    n++;
    if (!sx_doc_find(name)) note(&bad, "no description in stdlib/sx_doc_persist.c", name);
  }
  cr_assert_geq(n, 100, "the persist sources define their names");
  size_t np;
  const sx_doc_entry *p = sx_doc_persist_entries(&np);
  for (size_t i = 0; i < np; i++) {
    if (sx_global_ref(vm, p[i].name) == SX_UNDEF)
      note(&bad, "described but not defined by persist", p[i].name);
    if (p[i].sig || sx_doc_find(p[i].name) != &p[i]) note(&bad, "a signature, or described twice", p[i].name);
  }
  assert_none(&bad, "persist descriptions");
}

static sx_val p_none(sx_vm *v, int argc, sx_val *argv) {
  (void)v, (void)argc, (void)argv;
  return SX_NIL;
}

Test(doc, doc_gives_signature_and_description) {
  OK("(doc map)", "\"(map f lst): a list of (f x) for each element x\"");
  OK("(doc \"if\")", "\"(if test then [else]): then when test is true (anything but false and nil), else "
                     "otherwise (nil when absent)\"");
  OK("(%doc 'first)", "(\"(first lst)\" \"the first element, or nil when lst is empty\")");
  load_persist();
  OK("(doc persist/append)", "\"(persist/append b stream type at data): append an event with the next seq; "
                             "the stored event\"");
  OK("(define (f a &rest more) a) (doc f)", "\"(f a &rest more): no description\"");
  OK("(define g (fn args 1)) (%doc 'g)", "(\"(g &rest args)\" \"no description\")");
  OK("(define v {:a 1}) (doc v)", "\"v: no description (a variable holding a dict)\"");
  OK("(defmacro twice (x) (list 'begin x x)) (doc twice)", "\"(twice x): no description\"");
  sx_defprim(vm, "c-fn", p_none, 1, 3);
  OK("(doc c-fn)", "\"(c-fn arg1 [arg2] [arg3]): no description\"");
  sx_defprim(vm, "c-any", p_none, 0, -1);
  OK("(doc c-any)", "\"(c-any arg...): no description\"");
}

Test(doc, doc_errors_name_the_problem) {
  ERR("(doc no-such-name)", "doc: nothing is named no-such-name (apropos finds names)");
  ERR("(doc 42)", "doc: expected a name (a symbol or string), got 42");
  ERR("(%doc (list 1))", "doc: expected a name (a symbol or string), got (1)");
  ERR_HAS("(doc)", "doc: expected 1 argument (name), got 0");
  ERR("(apropos 'x)", "apropos: expected a string to look for, got x");
}

Test(doc, apropos_lists_names_containing_text) {
  OK("(apropos \"let\")", "(\"let\" \"let*\" \"letrec\" \"letrec*\")");
  OK("(apropos \"->\")", "(\"string->symbol\" \"symbol->string\")");
  OK("(apropos \"sort\")", "(\"sort\" \"sort-by\")"); /* not %sort-less */
  OK("(define my-sorter 1) (apropos \"sorter\")", "(\"my-sorter\")");
  OK("(apropos \"no such text\")", "()");
}

Test(doc, closure_arity_errors_name_the_parameters) {
  ERR_HAS("(define (f stream event) 1) (f 1)", "f: expected 2 arguments (stream event), got 1");
  ERR_HAS("(define (g a &rest more) 1) (g)", "g: expected at least 1 argument (a &rest more), got 0");
  ERR_HAS("(define (h) 1) (h 1)", "h: expected 0 arguments, got 1");
}
