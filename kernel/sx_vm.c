/* sx_vm.c — the VM: global bindings, the load path, IO resolvers, error
 * construction, and helpers that run an evaluation to completion. */
#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"
#include "sx_vm.h"

#include <errno.h>
#include <gc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAX_DEPTH 1000000 /* nested SX calls, as docs/language.md promises */

sx_val sx_vm_source_name(sx_vm *vm, const char *name) {
  for (int i = 0; i < 2; i++)
    if (vm->recent_names[i] && strcmp(sx_str_data(vm->recent_names[i]), name) == 0)
      return vm->recent_names[i];
  vm->recent_names[1] = vm->recent_names[0];
  return vm->recent_names[0] = sx_string_cstr(name);
}

sx_vm *sx_vm_create(void) {
  sx_gc_init();
  sx_analyse_init();
  sx_vm *vm = GC_MALLOC_UNCOLLECTABLE(sizeof *vm);
  if (!vm) return NULL;
  memset(vm, 0, sizeof *vm);
  vm->max_depth = DEFAULT_MAX_DEPTH;
  vm->global_epoch = 1;
  vm->pending = SX_NIL;
  vm->out = stdout;
  const char *env = getenv("SX_PATH");
  if (env && *env) {
    char *copy = strdup(env);
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
      sx_add_load_dir(vm, d);
    free(copy);
  }
  return vm;
}

void sx_vm_close(sx_vm *vm) {
  if (!vm || vm->closed) return;
  vm->closed = 1;
  for (size_t i = 0; i < vm->nload_path; i++) free(vm->load_path[i]);
  free(vm->load_path);
  for (size_t i = 0; i < vm->nresolvers; i++) free(vm->resolvers[i].prefix);
  free(vm->resolvers);
  if (vm->globals) GC_FREE(vm->globals);
  GC_FREE(vm);
}

/* ---- globals: open addressing keyed by symbol identity ---------------- */

static size_t sym_slot(sx_val sym, size_t cap) {
  uintptr_t h = sym >> 4;
  h ^= h >> 17;
  h *= 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 7) & (cap - 1);
}

static void globals_grow(sx_vm *vm) {
  size_t ncap = vm->gcap ? vm->gcap * 2 : 512;
  sx_cell **ng = GC_MALLOC_UNCOLLECTABLE(ncap * sizeof *ng);
  if (!ng) abort();
  memset(ng, 0, ncap * sizeof *ng);
  for (size_t i = 0; i < vm->gcap; i++) {
    sx_cell *c = vm->globals[i];
    if (!c) continue;
    size_t j = sym_slot(c->sym, ncap);
    while (ng[j]) j = (j + 1) & (ncap - 1);
    ng[j] = c;
  }
  if (vm->globals) GC_FREE(vm->globals);
  vm->globals = ng;
  vm->gcap = ncap;
}

sx_cell *sx_global_cell(sx_vm *vm, sx_val sym) {
  if (vm->gcount * 2 >= vm->gcap) globals_grow(vm);
  size_t j = sym_slot(sym, vm->gcap);
  for (sx_cell *c; (c = vm->globals[j]); j = (j + 1) & (vm->gcap - 1))
    if (c->sym == sym) return c;
  sx_cell *c = sx_obj_new(SX_T_OTHER, sizeof *c);
  c->sym = sym;
  c->value = SX_UNDEF;
  vm->globals[j] = c;
  vm->gcount++;
  return c;
}

void sx_define(sx_vm *vm, const char *name, sx_val value) {
  sx_global_cell(vm, sx_symbol_cstr(name))->value = value;
  vm->global_epoch++;
}

sx_val sx_global_ref(sx_vm *vm, const char *name) { return sx_global_cell(vm, sx_symbol_cstr(name))->value; }

static sx_prim *prim_new(const char *name, int min, int max) {
  sx_prim *p = sx_obj_new(SX_T_PRIM, sizeof *p);
  p->name = sx_string_cstr(name);
  p->min_args = (int16_t)min;
  p->max_args = (int16_t)max;
  return p;
}

sx_val sx_defprim(sx_vm *vm, const char *name, sx_prim_fn fn, int min, int max) {
  sx_prim *p = prim_new(name, min, max);
  p->fn = fn;
  sx_define(vm, name, (sx_val)p);
  return (sx_val)p;
}

void sx_set_fast_op(sx_vm *vm, const char *name, int fop) {
  sx_val p = sx_global_ref(vm, name);
  if (sx_is(p, SX_T_PRIM)) sx_hdr_of(p)->aux = (uint16_t)fop;
}

sx_val sx_defspecial(sx_vm *vm, const char *name, sx_special sp, int min, int max) {
  sx_prim *p = prim_new(name, min, max);
  p->special = (uint8_t)sp;
  sx_define(vm, name, (sx_val)p);
  return (sx_val)p;
}

/* ---- load path -------------------------------------------------------- */

void sx_add_load_dir(sx_vm *vm, const char *dir) {
  char **np = realloc(vm->load_path, (vm->nload_path + 1) * sizeof *np);
  if (!np) abort();
  vm->load_path = np;
  vm->load_path[vm->nload_path++] = strdup(dir);
}

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join_path(const char *dir, const char *path) {
  size_t n = strlen(dir) + strlen(path) + 2;
  char *out = malloc(n);
  if (!out) abort();
  snprintf(out, n, "%s/%s", dir, path);
  return out;
}

static char *try_dir(const char *dir, const char *path) {
  char *p = join_path(dir, path);
  if (is_file(p)) return p;
  free(p);
  return NULL;
}

/* The working directory, then -I / SX_PATH directories, then the installed
 * library, then (for uninstalled builds) the source tree. */
char *sx_resolve_load_path(sx_vm *vm, const char *path) {
  if (path[0] == '/' || is_file(path)) return is_file(path) ? strdup(path) : NULL;
  char *p;
  for (size_t i = 0; i < vm->nload_path; i++)
    if ((p = try_dir(vm->load_path[i], path))) return p;
  static const char *builtin[] = {SX_INSTALLED_LIBDIR, SX_SOURCE_LIBDIR, SX_SOURCE_ROOT};
  for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++)
    if ((p = try_dir(builtin[i], path))) return p;
  return NULL;
}

/* ---- resolvers ----------------------------------------------------------- */

void sx_add_resolver(sx_vm *vm, const char *prefix, sx_resolver_fn fn, void *ud) {
  sx_resolver *nr = realloc(vm->resolvers, (vm->nresolvers + 1) * sizeof *nr);
  if (!nr) abort();
  vm->resolvers = nr;
  vm->resolvers[vm->nresolvers++] =
      (sx_resolver){.prefix = strdup(prefix), .prefix_len = strlen(prefix), .fn = fn, .ud = ud};
}

static sx_val k_op, k_args; /* a request's keys; static roots: the GC scans them */
static void request_keys_init(void) {
  k_op = sx_string_shared("op");
  k_args = sx_string_shared("args");
}

const sx_resolver *sx_find_resolver(sx_vm *vm, sx_val request, sx_val *op, sx_val *args) {
  static pthread_once_t once = PTHREAD_ONCE_INIT; /* VMs on several threads perform at once */
  *op = SX_NIL;
  *args = SX_EMPTY;
  if (!sx_is(request, SX_T_DICT)) return NULL;
  pthread_once(&once, request_keys_init);
  sx_val o = sx_dict_lookup(request, k_op), a = sx_dict_lookup(request, k_args);
  if (o == SX_UNDEF || !sx_is_string(o)) return NULL;
  *op = o;
  *args = a == SX_UNDEF ? SX_EMPTY : a;
  /* the longest matching prefix wins */
  const sx_resolver *best = NULL;
  for (size_t i = 0; i < vm->nresolvers; i++) {
    const sx_resolver *r = &vm->resolvers[i];
    if (r->prefix_len <= sx_str_len(o) && memcmp(sx_str_data(o), r->prefix, r->prefix_len) == 0 &&
        (!best || r->prefix_len > best->prefix_len))
      best = r;
  }
  return best;
}

/* ---- errors --------------------------------------------------------------- */

sx_val sx_throw(sx_vm *vm, sx_val raised) {
  vm->pending = raised;
  return SX_UNDEF;
}

static sx_val vformat(const char *fmt, va_list ap) {
  char probe[1]; /* a real buffer: sanitizer builds warn on a NULL one */
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(probe, sizeof probe, fmt, ap);
  char *d;
  sx_val s = sx_string_alloc(n > 0 ? (size_t)n : 0, &d);
  if (n > 0) vsnprintf(d, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return s;
}

sx_val sx_make_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sx_val msg = vformat(fmt, ap);
  va_end(ap);
  return sx_error_new(msg, SX_NIL);
}

void sx_print_params(sx_buf *b, sx_val params) {
  if (sx_is_symbol(params)) {
    sx_buf_puts(b, "&rest ");
    sx_display(b, params);
    return;
  }
  for (sx_val l = params; sx_is_cons(l); l = sx_cdr(l)) {
    if (l != params) sx_buf_putc(b, ' ');
    sx_display(b, sx_car(l));
  }
}

sx_val sx_throwf(sx_vm *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sx_val msg = vformat(fmt, ap);
  va_end(ap);
  return sx_throw(vm, sx_error_new(msg, SX_NIL));
}

/* s cut to at most max bytes, the last three "...", never inside a UTF-8
 * character. */
sx_val sx_shortened(sx_val s, size_t max) {
  size_t n = sx_str_len(s);
  if (n <= max) return s;
  size_t k = sx_utf8_cut(sx_str_data(s), n, max - 3);
  char *d;
  sx_val t = sx_string_alloc(k + 3, &d);
  memcpy(d, sx_str_data(s), k);
  memcpy(d + k, "...", 3);
  return t;
}

/* A short printed form of v for messages ("got ..."). */
sx_val sx_shown(sx_val v) { return sx_shortened(sx_print_to_string(v), 80); }

sx_val sx_interrupt_error(void) {
  sx_val e = sx_make_error("interrupted");
  sx_hdr_of(e)->flags |= SX_F_INTERRUPT;
  return e;
}

bool sx_poll_interrupt(sx_vm *vm) {
  if (!vm->interrupt) return false;
  vm->interrupt = 0;
  sx_throw(vm, sx_interrupt_error());
  return true;
}

sx_val sx_type_error(sx_vm *vm, const char *who, const char *expected, sx_val got) {
  return sx_throwf(vm, "%s: expected %s, got %s", who, expected, sx_str_data(sx_shown(got)));
}

sx_val sx_error_message(sx_val raised) {
  if (sx_is(raised, SX_T_ERROR)) return ((sx_error *)raised)->message;
  if (sx_is_string(raised)) return raised;
  return sx_print_to_string(raised);
}

/* ---- running to completion ------------------------------------------------ */

sx_val sx_toplevel_end(sx_vm *vm, sx_status st) {
  return vm->on_toplevel ? vm->on_toplevel(vm, vm->on_toplevel_ud, st) : SX_NIL;
}

sx_status sx_fiber_finish(sx_fiber *f) {
  sx_status st = sx_fiber_run(f);
  while (st == SX_SUSPENDED) {
    sx_val op, args;
    sx_find_resolver(f->vm, f->request, &op, &args);
    sx_val shownop = sx_is_string(op) ? op : sx_shown(f->request);
    st = sx_fiber_resume_error(f, sx_make_error("perform: no resolver for op %s", sx_str_data(shownop)));
  }
  return st;
}

static sx_status outcome(sx_fiber *f, sx_status st, sx_val *out) {
  if (out) *out = st == SX_DONE ? f->value : f->error;
  return st;
}

sx_status sx_apply(sx_vm *vm, sx_val fn, int argc, const sx_val *argv, sx_val *out) {
  sx_fiber *f = sx_fiber_new(vm);
  f->nested = vm->current != NULL;
  sx_fiber_start_apply(f, fn, argc, argv);
  return outcome(f, sx_fiber_finish(f), out);
}

/* One form, run like a form of a file: a top-level begin runs its forms
 * one by one, and a backtrace ends at the form. */
sx_status sx_eval_form(sx_vm *vm, sx_val form, sx_val *out) {
  sx_fiber *f = sx_fiber_new(vm);
  f->nested = vm->current != NULL;
  sx_fiber_start_forms(f, sx_cons(form, SX_EMPTY), SX_NIL, false);
  return outcome(f, sx_fiber_finish(f), out);
}

sx_status sx_eval_string(sx_vm *vm, const char *src, size_t len, sx_val file, sx_val *out) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(src, len, file, &err);
  if (forms == SX_UNDEF) {
    if (out) *out = sx_error_new(err, SX_NIL);
    return SX_ERROR;
  }
  sx_fiber *f = sx_fiber_new(vm);
  f->nested = vm->current != NULL;
  sx_fiber_start_forms(f, forms, file, false);
  return outcome(f, sx_fiber_finish(f), out);
}

int sx_slurp_load_file(sx_vm *vm, const char *path, sx_buf *b, sx_val *err) {
  char *full = sx_resolve_load_path(vm, path);
  if (!full) {
    *err = sx_make_error("load: cannot find %s (searched the working directory and the load path)", path);
    return SX_SLURP_MISSING;
  }
  FILE *fp = fopen(full, "rb");
  int eno = errno;
  free(full);
  if (!fp) {
    *err = sx_make_error("load: cannot read %s", path);
    errno = eno;
    return SX_SLURP_OPEN;
  }
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) sx_buf_put(b, chunk, got);
  bool bad = ferror(fp);
  fclose(fp);
  if (!bad) return 0;
  *err = sx_make_error("load: error reading %s", path);
  return SX_SLURP_READ;
}

/* Read a file found on the load path into a list of forms. Returns the
 * forms, or SX_UNDEF with *err set to an error value. */
sx_val sx_read_source_file(sx_vm *vm, const char *path, sx_val *err) {
  sx_buf b = SX_BUF_INIT;
  if (sx_slurp_load_file(vm, path, &b, err)) {
    sx_buf_free(&b);
    return SX_UNDEF;
  }
  sx_val msg = SX_NIL;
  sx_val forms = sx_read_all(b.data ? b.data : "", b.len, sx_string_cstr(path), &msg);
  sx_buf_free(&b);
  if (forms == SX_UNDEF) *err = sx_error_new(msg, SX_NIL);
  return forms;
}

sx_status sx_load_file(sx_vm *vm, const char *path, bool toplevel, sx_val *out) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_source_file(vm, path, &err);
  if (forms == SX_UNDEF) {
    if (out) *out = err;
    return SX_ERROR;
  }
  sx_fiber *f = sx_fiber_new(vm);
  f->nested = vm->current != NULL;
  sx_fiber_start_forms(f, forms, sx_string_cstr(path), toplevel);
  return outcome(f, sx_fiber_finish(f), out);
}
