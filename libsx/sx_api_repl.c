/* sx_api_repl.c — what interactive hosts need beyond the rest of libsx:
 * reading an entry whose lines continue a longer input, evaluating one read
 * form as a top-level evaluation, loading a file committing form by form,
 * the names of the bound globals (for completion), a dict key's printed
 * form (for pretty-printers) and a stored blob's size. */
#include "sx_api_int.h"

#include "blob.h"
#include "sx_print.h"
#include "sx_read.h"

#include <stdlib.h>
#include <string.h>

/* ---- reading ------------------------------------------------------------ */

sxapi_code sxapi_read_at(sxapi_vm *vm, const char *src, size_t len, const char *name,
                         uint32_t first_line, sxapi_value *forms) {
  API_ENTER(vm, "sxapi_read_at");
  if (!forms || (!src && len) || first_line == 0)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_read_at", "bad arguments (src, forms or first_line)"));
  sx_reader r;
  sx_reader_init(&r, src ? src : "", len, name ? sx_string_cstr(name) : SX_NIL);
  r.line = first_line;
  sx_val acc = SX_EMPTY, form;
  sx_read_status st;
  while ((st = sx_read_next(&r, &form)) == SX_READ_OK) acc = sx_cons(form, acc);
  if (st != SX_READ_ERROR) {
    *forms = sx_list_reverse(acc);
    return api_leave(vm, SXAPI_OK);
  }
  *forms = sx_error_new(r.error, SX_NIL);
  return api_leave(vm, api_fail_value(r.incomplete ? SXAPI_ERR_INCOMPLETE : SXAPI_ERR_SYNTAX, *forms));
}

/* ---- evaluating ------------------------------------------------------------ */

/* A top-level start forgets an interrupt that arrived while idle. */
static bool start_evaluation(sxapi_vm *vm) {
  bool nested = api_evaluating(vm);
  if (!nested) vm->vm->interrupt = 0;
  return nested;
}

/* The end of an evaluation: the code, *out the value or the error. */
static sxapi_code finish_evaluation(sxapi_vm *vm, sx_status st, sx_val v, sxapi_value *out) {
  vm->vm->interrupt = 0;
  if (out) *out = v;
  return api_leave(vm, st == SX_DONE ? SXAPI_OK : api_fail_value(SXAPI_ERR_EVAL, v));
}

sxapi_code sxapi_eval_form(sxapi_vm *vm, sxapi_value form, sxapi_value *out) {
  API_ENTER(vm, "sxapi_eval_form");
  bool nested = start_evaluation(vm);
  sx_val v;
  sx_status st = sx_eval_form(vm->vm, form, &v);
  sxapi_code code = st == SX_DONE ? SXAPI_OK : SXAPI_ERR_EVAL;
  uint64_t ticket;
  if (!nested) st = api_end_evaluation(vm, st, &v, true, &ticket, &code);
  vm->vm->interrupt = 0;
  if (out) *out = v;
  return api_leave(vm, code == SXAPI_OK ? SXAPI_OK : api_fail_value(code, v));
}

sxapi_code sxapi_load_each(sxapi_vm *vm, const char *path, sxapi_value *out) {
  API_ENTER(vm, "sxapi_load_each");
  if (!path) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_load_each", "the path is NULL"));
  bool nested = start_evaluation(vm);
  sx_val v = SX_NIL;
  sx_status st = sx_load_file(vm->vm, path, !nested, &v);
  return finish_evaluation(vm, st, v, out);
}

/* ---- globals ------------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b) {
  sx_val x = *(const sx_val *)a, y = *(const sx_val *)b;
  size_t n = sx_str_len(x) < sx_str_len(y) ? sx_str_len(x) : sx_str_len(y);
  int c = memcmp(sx_str_data(x), sx_str_data(y), n);
  return c ? c : (sx_str_len(x) > sx_str_len(y)) - (sx_str_len(x) < sx_str_len(y));
}

sxapi_code sxapi_globals(sxapi_vm *vm, sxapi_value *names) {
  API_ENTER(vm, "sxapi_globals");
  if (!names) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_globals", "the out pointer is NULL"));
  sx_vm *ivm = vm->vm;
  sx_val *all = sx_alloc((ivm->gcount + 1) * sizeof *all); /* seen by the collector */
  size_t n = 0;
  for (size_t i = 0; i < ivm->gcap && n < ivm->gcount; i++) {
    sx_cell *c = ivm->globals[i];
    if (c && c->value != SX_UNDEF) all[n++] = sx_sym_name(c->sym);
  }
  if (n) qsort(all, n, sizeof *all, name_cmp);
  sx_val list = SX_EMPTY;
  while (n > 0) list = sx_cons(all[--n], list);
  *names = list;
  return api_leave(vm, SXAPI_OK);
}

/* ---- printing ----------------------------------------------------------------- */

sxapi_code sxapi_print_key(sxapi_vm *vm, sxapi_value key, sxapi_value *text) {
  API_ENTER(vm, "sxapi_print_key");
  if (!text) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_print_key", "the out pointer is NULL"));
  if (!sx_is_string(key)) return api_leave(vm, api_type_error("sxapi_print_key", "a string", key));
  if (!sx_is_plain_identifier(sx_str_data(key), sx_str_len(key))) {
    *text = sx_print_to_string(key);
    return api_leave(vm, SXAPI_OK);
  }
  char *s = malloc(sx_str_len(key) + 1);
  if (!s) abort();
  s[0] = ':';
  memcpy(s + 1, sx_str_data(key), sx_str_len(key));
  *text = sx_string_new(s, sx_str_len(key) + 1);
  free(s);
  return api_leave(vm, SXAPI_OK);
}

/* ---- blobs ---------------------------------------------------------------------- */

sxapi_code sxapi_store_blob_size(sxapi_vm *vm, const char *cid, uint64_t *size) {
  API_ENTER(vm, "sxapi_store_blob_size");
  if (!cid || !size) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_store_blob_size", "cid and size must not be NULL"));
  if (!vm->persist || !vm->store_dir)
    return api_leave(vm, api_fail(SXAPI_ERR_STATE, "sxapi_store_blob_size", "the VM has no store"));
  int rc = blob_size(vm->store_dir, cid, size);
  if (rc < 0)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_store_blob_size", "'%s' is not a blob id", cid));
  if (rc > 0)
    return api_leave(vm, api_fail(SXAPI_ERR_NOTFOUND, "sxapi_store_blob_size", "no blob %s in the store", cid));
  return api_leave(vm, SXAPI_OK);
}
