/* sx_doc.c — looking names up in the documentation tables (sx_doc.h):
 * describing a name as a VM binds it, the primitives %doc and apropos
 * behind (doc NAME) and the REPL's :doc and :apropos, the signature
 * convention's arity, and docs/reference.md. */
#include "sx_doc.h"
#include "sx_lib.h"

#include <stdlib.h>
#include <string.h>

/* ---- lookup ------------------------------------------------------------- */

static const sx_doc_entry *find_in(const sx_doc_entry *e, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(e[i].name, name) == 0) return &e[i];
  return NULL;
}

const sx_doc_entry *sx_doc_find(const char *name) {
  size_t ns, np;
  const sx_doc_section *s = sx_doc_builtin_sections(&ns);
  for (size_t i = 0; i < ns; i++) {
    const sx_doc_entry *e = find_in(s[i].entries, s[i].n, name);
    if (e) return e;
  }
  const sx_doc_entry *p = sx_doc_persist_entries(&np);
  return find_in(p, np, name);
}

/* ---- describing a binding --------------------------------------------------- */

/* "(name a b [c] ...)" from a primitive's arity, for one no entry covers. */
static void prim_sig(sx_buf *sig, const char *name, const sx_prim *p) {
  sx_buf_printf(sig, "(%s", name);
  for (int i = 0; i < p->min_args; i++) sx_buf_printf(sig, " arg%d", i + 1);
  if (p->max_args < 0) sx_buf_puts(sig, " arg...");
  for (int i = p->min_args; i < p->max_args; i++) sx_buf_printf(sig, " [arg%d]", i + 1);
  sx_buf_putc(sig, ')');
}

static void fn_sig(sx_buf *sig, const char *name, const sx_proto *p) {
  sx_buf_printf(sig, "(%s", name);
  if (p->params != SX_NIL && p->params != SX_EMPTY) sx_buf_putc(sig, ' ');
  sx_print_params(sig, p->params);
  sx_buf_putc(sig, ')');
}

static bool is_function(sx_val v) { return sx_is(v, SX_T_FN) || sx_is(v, SX_T_PRIM) || sx_is(v, SX_T_MACRO); }

/* The signature of v, bound to name, read from its definition. */
static void definition_sig(sx_buf *sig, const char *name, sx_val v) {
  if (sx_is(v, SX_T_MACRO)) v = ((sx_macro *)v)->fn;
  if (sx_is(v, SX_T_FN)) fn_sig(sig, name, ((sx_closure *)v)->proto);
  else if (sx_is(v, SX_T_PRIM)) prim_sig(sig, name, (const sx_prim *)v);
  else sx_buf_puts(sig, name);
}

bool sx_doc_describe(sx_vm *vm, const char *name, sx_buf *sig, sx_buf *doc, sx_val *err) {
  const sx_doc_entry *e = sx_doc_find(name);
  sx_val v = sx_global_ref(vm, name);
  bool special = sx_special_form_p(sx_string_cstr(name));
  if (v == SX_UNDEF && !special) {
    *err = sx_make_error("doc: nothing is named %s (apropos finds names)", name);
    return false;
  }
  if (e && e->sig) sx_buf_puts(sig, e->sig);
  else definition_sig(sig, name, v);
  if (e) sx_buf_puts(doc, e->doc);
  else if (is_function(v)) sx_buf_puts(doc, "no description");
  else sx_buf_printf(doc, "no description (a variable holding a %s)", sx_type_name(v));
  return true;
}

/* ---- primitives --------------------------------------------------------------- */

static const char *name_arg(sx_val v) {
  if (sx_is_symbol(v)) return sx_str_data(sx_sym_name(v));
  if (sx_is_string(v)) return sx_str_data(v);
  return NULL;
}

/* (%doc name): (signature description), name a symbol or string. */
static sx_val p_doc(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  const char *name = name_arg(argv[0]);
  if (!name) return sx_type_error(vm, "doc", "a name (a symbol or string)", argv[0]);
  sx_buf sig = SX_BUF_INIT, doc = SX_BUF_INIT;
  sx_val err, out = SX_UNDEF;
  if (sx_doc_describe(vm, name, &sig, &doc, &err))
    out = sx_list(2, (sx_val[]){sx_string_new(sig.data, sig.len), sx_string_new(doc.data, doc.len)});
  sx_buf_free(&sig);
  sx_buf_free(&doc);
  return out == SX_UNDEF ? sx_throw(vm, err) : out;
}

static int name_cmp(const void *a, const void *b) {
  return sx_string_cmp(*(const sx_val *)a, *(const sx_val *)b);
}

static bool listed(sx_val name, const char *text) {
  const char *s = sx_str_data(name);
  return s[0] != '%' && strstr(s, text) != NULL;
}

/* The names to consider: every bound global and the documented special
 * forms, in a collector-visible array (*n of them). */
static sx_val *all_names(sx_vm *vm, size_t *n) {
  size_t ns, nforms = 0;
  const sx_doc_section *s = sx_doc_builtin_sections(&ns);
  for (size_t i = 0; i < ns; i++) nforms += s[i].n;
  sx_val *all = sx_alloc((vm->gcount + nforms + 1) * sizeof *all);
  *n = 0;
  for (size_t i = 0; i < vm->gcap; i++) {
    sx_cell *c = vm->globals[i];
    if (c && c->value != SX_UNDEF) all[(*n)++] = sx_sym_name(c->sym);
  }
  for (size_t i = 0; i < ns; i++)
    for (size_t j = 0; j < s[i].n; j++)
      if (sx_special_form_p(sx_string_cstr(s[i].entries[j].name)))
        all[(*n)++] = sx_string_cstr(s[i].entries[j].name);
  return all;
}

/* (apropos text): the sorted names containing text, internal % names left out. */
static sx_val p_apropos(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "apropos", 0, sx_is_string, "a string to look for");
  size_t n, k = 0;
  sx_val *all = all_names(vm, &n);
  for (size_t i = 0; i < n; i++)
    if (listed(all[i], sx_str_data(argv[0]))) all[k++] = all[i];
  if (k) qsort(all, k, sizeof *all, name_cmp);
  sx_val out = SX_EMPTY;
  while (k > 0) out = sx_cons(all[--k], out);
  return out;
}

void sx_lib_doc_install(sx_vm *vm) {
  sx_defprim(vm, "%doc", p_doc, 1, 1);
  sx_defprim(vm, "apropos", p_apropos, 1, 1);
}

/* ---- the signature convention ------------------------------------------------------ */

/* One parameter of a signature at p (after its blank): a word, or a
 * [group] of words; *words how many, *opt bracketed, *any followed by
 * "...". Returns the end, or NULL when malformed. */
static const char *sig_param(const char *p, int *words, bool *opt, bool *any) {
  *opt = *p == '[';
  const char *end = *opt ? strchr(p, ']') : strpbrk(p, " )");
  if (!end || end == p) return NULL;
  *words = 1;
  for (const char *q = p; q < end; q++) *words += *q == ' ';
  if (*opt) end++;
  *any = end - p > 3 && strncmp(end - 3, "...", 3) == 0;
  if (!*any && strncmp(end, "...", 3) == 0) *any = true, end += 3;
  return end;
}

/* Count the parameters of sig: a word is required, a [group] optional
 * (each word in it), a word or group followed by "..." any number. */
bool sx_doc_sig_arity(const char *sig, int *min, int *max) {
  if (sig[0] != '(') return false;
  const char *p = strpbrk(sig, " )");
  bool any_rest = false;
  *min = *max = 0;
  while (p && *p == ' ') {
    int words;
    bool opt, any;
    if (!(p = sig_param(p + 1, &words, &opt, &any))) return false;
    any_rest |= any;
    if (!any) *max += words;
    if (!any && !opt) *min += words;
  }
  if (!p || strcmp(p, ")") != 0) return false;
  if (any_rest) *max = -1;
  return true;
}

/* ---- docs/reference.md -------------------------------------------------------------------- */

/* Text for a Markdown table cell: '|' escaped. */
static void cell(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '|') fputc('\\', out);
    fputc(*s, out);
  }
}

static void table_row(FILE *out, const char *code, const char *doc) {
  fputs("| `", out);
  cell(out, code);
  fputs("` | ", out);
  cell(out, doc);
  fputs(" |\n", out);
}

void sx_doc_markdown(FILE *out) {
  size_t ns, np;
  const sx_doc_section *s = sx_doc_builtin_sections(&ns);
  fputs("# Reference\n\n"
        "Every special form and builtin function of the kernel, and every public\n"
        "name of the persist library. This page is generated by `sx-docgen` from\n"
        "the same tables as `(doc NAME)` and the REPL's `:doc` and `:apropos`\n"
        "(`stdlib/sx_doc_builtins.c`, `stdlib/sx_doc_persist.c`); do not edit it:\n"
        "`ninja -C build reference` writes it again, and the `reference` test\n"
        "fails when it is out of date.\n\n"
        "In a signature `[x]` is optional and `x...` stands for any number of\n"
        "arguments.\n",
        out);
  for (size_t i = 0; i < ns; i++) {
    fprintf(out, "\n## %s\n\n| signature | description |\n|---|---|\n", s[i].title);
    for (size_t j = 0; j < s[i].n; j++) table_row(out, s[i].entries[j].sig, s[i].entries[j].doc);
  }
  const sx_doc_entry *p = sx_doc_persist_entries(&np);
  fputs("\n## Persist\n\n"
        "Loaded in the REPL and with `--persist`. The parameters are those of the\n"
        "definitions in `lib/persist/`: `(doc persist/read)` shows them.\n\n"
        "| name | description |\n|---|---|\n",
        out);
  for (size_t i = 0; i < np; i++) table_row(out, p[i].name, p[i].doc);
}
