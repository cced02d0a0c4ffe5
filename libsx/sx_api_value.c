/* sx_api_value.c — libsx values: types, constructors, typed accessors,
 * list and dict access and iteration, error values, printing and reading. */
#include "sx_api_int.h"

#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"

#include <stdlib.h>
#include <string.h>

/* ---- types ----------------------------------------------------------------- */

sxapi_type sxapi_typeof(sxapi_value v) {
  switch (sx_type_of(v)) {
    case SX_T_NIL: return SXAPI_TNIL;
    case SX_T_BOOL: return SXAPI_TBOOL;
    case SX_T_INT: return SXAPI_TINT;
    case SX_T_FLOAT: return SXAPI_TFLOAT;
    case SX_T_STRING: return SXAPI_TSTRING;
    case SX_T_SYMBOL: return SXAPI_TSYMBOL;
    case SX_T_KEYWORD: return SXAPI_TKEYWORD;
    case SX_T_LIST: return SXAPI_TLIST;
    case SX_T_DICT: return SXAPI_TDICT;
    case SX_T_FN:
    case SX_T_PRIM: return SXAPI_TFUNCTION;
    case SX_T_ERROR: return SXAPI_TERROR;
    default: return SXAPI_TOTHER;
  }
}

const char *sxapi_type_name(sxapi_type t) {
  static const char *names[] = {"nil",     "boolean", "integer", "float",    "string", "symbol",
                                "keyword", "list",    "dict",    "function", "error",  "other"};
  return (unsigned)t < sizeof names / sizeof *names ? names[t] : "other";
}

bool sxapi_truthy(sxapi_value v) { return sx_truthy(v); }

bool sxapi_equal(sxapi_vm *vm, sxapi_value a, sxapi_value b) {
  if (api_enter(vm, "sxapi_equal") != SXAPI_OK) return false;
  bool eq = sx_equal(a, b);
  api_leave(vm, SXAPI_OK);
  return eq;
}

/* ---- constructors ------------------------------------------------------------ */

sxapi_value sxapi_nil(void) { return SX_NIL; }
sxapi_value sxapi_bool(bool b) { return sx_bool(b); }

sxapi_value sxapi_int(sxapi_vm *vm, int64_t i) {
  API_ENTER_V(vm, "sxapi_int");
  sx_val v = sx_int(i);
  api_leave(vm, SXAPI_OK);
  return v;
}

sxapi_value sxapi_float(sxapi_vm *vm, double d) {
  API_ENTER_V(vm, "sxapi_float");
  sx_val v = sx_float(d);
  api_leave(vm, SXAPI_OK);
  return v;
}

sxapi_value sxapi_string(sxapi_vm *vm, const char *bytes, size_t len) {
  API_ENTER_V(vm, "sxapi_string");
  if (!bytes && len) {
    api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_string", "the bytes are NULL"));
    return SX_NIL;
  }
  sx_val v = sx_string_new(bytes ? bytes : "", len);
  api_leave(vm, SXAPI_OK);
  return v;
}

sxapi_value sxapi_cstring(sxapi_vm *vm, const char *s) {
  API_ENTER_V(vm, "sxapi_cstring");
  sx_val v = SX_NIL;
  if (s) v = sx_string_cstr(s);
  else api_fail(SXAPI_ERR_ARG, "sxapi_cstring", "the string is NULL");
  api_leave(vm, SXAPI_OK);
  return v;
}

/* A symbol or keyword from a name that must be non-empty. */
static sxapi_value named(sxapi_vm *vm, const char *who, const char *name, bool keyword) {
  API_ENTER_V(vm, who);
  sx_val v = SX_NIL;
  if (!name || !*name) api_fail(SXAPI_ERR_ARG, who, "the name is NULL or empty");
  else v = keyword ? sx_keyword_new(sx_string_cstr(name)) : sx_symbol_cstr(name);
  api_leave(vm, SXAPI_OK);
  return v;
}

sxapi_value sxapi_symbol(sxapi_vm *vm, const char *name) { return named(vm, "sxapi_symbol", name, false); }
sxapi_value sxapi_keyword(sxapi_vm *vm, const char *name) { return named(vm, "sxapi_keyword", name, true); }

sxapi_value sxapi_list(sxapi_vm *vm, size_t n, const sxapi_value *items) {
  API_ENTER_V(vm, "sxapi_list");
  sx_val v = SX_NIL;
  if (n && !items) api_fail(SXAPI_ERR_ARG, "sxapi_list", "the items are NULL");
  else v = n ? sx_list(n, items) : SX_EMPTY;
  api_leave(vm, SXAPI_OK);
  return v;
}

sxapi_value sxapi_dict(sxapi_vm *vm) {
  API_ENTER_V(vm, "sxapi_dict");
  api_leave(vm, SXAPI_OK);
  return sx_dict_empty();
}

sxapi_value sxapi_error(sxapi_vm *vm, const char *message) {
  API_ENTER_V(vm, "sxapi_error");
  sx_val v = SX_NIL;
  if (!message) api_fail(SXAPI_ERR_ARG, "sxapi_error", "the message is NULL");
  else v = sx_error_new(sx_string_cstr(message), SX_NIL);
  api_leave(vm, SXAPI_OK);
  return v;
}

/* ---- dict building --------------------------------------------------------------- */

static sxapi_code dict_change(sxapi_vm *vm, const char *who, sxapi_value d, const char *key,
                              const sx_val *val, sxapi_value *out) {
  API_ENTER(vm, who);
  if (!key || !out) return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "key and out must not be NULL"));
  if (!sx_is_dict(d)) return api_leave(vm, api_type_error(who, "a dict", d));
  sx_val k = sx_string_cstr(key);
  *out = val ? sx_dict_assoc(d, k, *val) : sx_dict_dissoc(d, k);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_dict_set(sxapi_vm *vm, sxapi_value dict, const char *key, sxapi_value val,
                          sxapi_value *out) {
  return dict_change(vm, "sxapi_dict_set", dict, key, &val, out);
}

sxapi_code sxapi_dict_remove(sxapi_vm *vm, sxapi_value dict, const char *key, sxapi_value *out) {
  return dict_change(vm, "sxapi_dict_remove", dict, key, NULL, out);
}

/* ---- typed accessors ----------------------------------------------------------------- */

/* Enter and check the out pointer: the common start of every accessor. */
#define ACCESSOR(vm, who, out)                                                                               \
  do {                                                                                                       \
    API_ENTER(vm, who);                                                                                      \
    if (!(out)) return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "the out pointer is NULL"));               \
  } while (0)

sxapi_code sxapi_to_bool(sxapi_vm *vm, sxapi_value v, bool *out) {
  ACCESSOR(vm, "sxapi_to_bool", out);
  if (v != SX_TRUE && v != SX_FALSE) return api_leave(vm, api_type_error("sxapi_to_bool", "a boolean", v));
  *out = v == SX_TRUE;
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_to_int(sxapi_vm *vm, sxapi_value v, int64_t *out) {
  ACCESSOR(vm, "sxapi_to_int", out);
  if (!sx_is_int(v)) return api_leave(vm, api_type_error("sxapi_to_int", "an integer", v));
  *out = sx_int_val(v);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_to_float(sxapi_vm *vm, sxapi_value v, double *out) {
  ACCESSOR(vm, "sxapi_to_float", out);
  if (!sx_is_number(v)) return api_leave(vm, api_type_error("sxapi_to_float", "a number", v));
  *out = sx_is_float(v) ? sx_float_val(v) : (double)sx_int_val(v);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_to_string(sxapi_vm *vm, sxapi_value v, const char **bytes, size_t *len) {
  ACCESSOR(vm, "sxapi_to_string", bytes);
  if (!sx_is_string(v)) return api_leave(vm, api_type_error("sxapi_to_string", "a string", v));
  *bytes = sx_str_data(v);
  if (len) *len = sx_str_len(v);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_to_name(sxapi_vm *vm, sxapi_value v, const char **name) {
  ACCESSOR(vm, "sxapi_to_name", name);
  if (sx_is_symbol(v)) *name = sx_str_data(sx_sym_name(v));
  else if (sx_is(v, SX_T_KEYWORD)) *name = sx_str_data(((sx_keyword *)v)->name);
  else return api_leave(vm, api_type_error("sxapi_to_name", "a symbol or keyword", v));
  return api_leave(vm, SXAPI_OK);
}

/* ---- lists and dicts ---------------------------------------------------------------------- */

/* Length of a proper list (nil counts as empty); false if v is not one. */
static bool proper_length(sx_val v, size_t *n) {
  size_t k = 0;
  if (v == SX_NIL) v = SX_EMPTY;
  for (; sx_is_cons(v); v = sx_cdr(v)) k++;
  *n = k;
  return v == SX_EMPTY;
}

sxapi_code sxapi_list_length(sxapi_vm *vm, sxapi_value list, size_t *out) {
  ACCESSOR(vm, "sxapi_list_length", out);
  size_t n;
  if (!proper_length(list, &n)) return api_leave(vm, api_type_error("sxapi_list_length", "a list", list));
  *out = n;
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_list_get(sxapi_vm *vm, sxapi_value list, size_t i, sxapi_value *out) {
  ACCESSOR(vm, "sxapi_list_get", out);
  size_t n;
  if (!proper_length(list, &n)) return api_leave(vm, api_type_error("sxapi_list_get", "a list", list));
  if (i >= n)
    return api_leave(vm, api_fail(SXAPI_ERR_NOTFOUND, "sxapi_list_get",
                                  "index %zu is out of range (the list has %zu element%s)", i, n,
                                  n == 1 ? "" : "s"));
  sx_val v = list;
  while (i--) v = sx_cdr(v);
  *out = sx_car(v);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_dict_count(sxapi_vm *vm, sxapi_value dict, size_t *out) {
  ACCESSOR(vm, "sxapi_dict_count", out);
  if (!sx_is_dict(dict)) return api_leave(vm, api_type_error("sxapi_dict_count", "a dict", dict));
  *out = sx_dict_count(dict);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_dict_get(sxapi_vm *vm, sxapi_value dict, const char *key, sxapi_value *out) {
  ACCESSOR(vm, "sxapi_dict_get", out);
  if (!key) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_dict_get", "the key is NULL"));
  if (!sx_is_dict(dict)) return api_leave(vm, api_type_error("sxapi_dict_get", "a dict", dict));
  sx_val v = sx_dict_lookup(dict, sx_string_cstr(key));
  if (v == SX_UNDEF)
    return api_leave(vm, api_fail(SXAPI_ERR_NOTFOUND, "sxapi_dict_get", "no key \"%s\" in the dict", key));
  *out = v;
  return api_leave(vm, SXAPI_OK);
}

/* Iterator layout: priv[0] kind, priv[1] list cursor or dict pairs,
 * priv[2] position, priv[3] dict entry count, priv[4] the collection (so
 * the collector keeps the pairs alive). */
enum { ITER_DONE, ITER_LIST, ITER_DICT };

sxapi_code sxapi_iter_init(sxapi_vm *vm, sxapi_value coll, sxapi_iter *it) {
  ACCESSOR(vm, "sxapi_iter_init", it);
  memset(it, 0, sizeof *it);
  size_t n;
  if (sx_is_dict(coll)) {
    sx_dict_iter di;
    sx_dict_iter_init(&di, coll);
    it->priv[0] = ITER_DICT;
    it->priv[1] = (uintptr_t)di.pairs;
    it->priv[3] = di.n;
    it->priv[4] = coll;
  } else if (proper_length(coll, &n)) {
    it->priv[0] = ITER_LIST;
    it->priv[1] = coll == SX_NIL ? SX_EMPTY : coll;
  } else {
    return api_leave(vm, api_type_error("sxapi_iter_init", "a list or a dict", coll));
  }
  return api_leave(vm, SXAPI_OK);
}

bool sxapi_iter_next(sxapi_iter *it, sxapi_value *key, sxapi_value *val) {
  if (!it) return false;
  sxapi_value k, v;
  if (it->priv[0] == ITER_LIST && sx_is_cons(it->priv[1])) {
    k = sx_fixnum((int64_t)it->priv[2]++);
    v = sx_car(it->priv[1]);
    it->priv[1] = sx_cdr(it->priv[1]);
  } else if (it->priv[0] == ITER_DICT && it->priv[2] < it->priv[3]) {
    const sx_val *pairs = (const sx_val *)it->priv[1];
    k = pairs[2 * it->priv[2]];
    v = pairs[2 * it->priv[2] + 1];
    it->priv[2]++;
  } else {
    it->priv[0] = ITER_DONE;
    return false;
  }
  if (key) *key = k;
  if (val) *val = v;
  return true;
}

/* ---- error values ------------------------------------------------------------------------ */

sxapi_code sxapi_error_info_of(sxapi_vm *vm, sxapi_value err, sxapi_error_info *out) {
  ACCESSOR(vm, "sxapi_error_info_of", out);
  out->message = sx_str_data(sx_error_message(err));
  out->where = NULL;
  out->backtrace = SX_EMPTY;
  out->payload = err;
  if (sx_is(err, SX_T_ERROR)) {
    sx_error *e = (sx_error *)err;
    if (sx_is_string(e->where)) out->where = sx_str_data(e->where);
    if (sx_is_list(e->backtrace)) out->backtrace = e->backtrace;
    out->payload = e->payload;
  }
  return api_leave(vm, SXAPI_OK);
}

/* ---- text ---------------------------------------------------------------------------------- */

sxapi_code sxapi_print(sxapi_vm *vm, sxapi_value v, sxapi_value *text) {
  ACCESSOR(vm, "sxapi_print", text);
  *text = sx_print_to_string(v);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_display(sxapi_vm *vm, sxapi_value v, sxapi_value *text) {
  ACCESSOR(vm, "sxapi_display", text);
  *text = sx_display_to_string(v);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code api_read_forms(const char *src, size_t len, sx_val file, sx_val *forms, sx_val *err) {
  sx_reader r;
  sx_reader_init(&r, src, len, file);
  sx_val acc = SX_EMPTY, form;
  sx_read_status st;
  while ((st = sx_read_next(&r, &form)) == SX_READ_OK) acc = sx_cons(form, acc);
  if (st == SX_READ_ERROR) {
    *err = sx_error_new(r.error, SX_NIL);
    return r.incomplete ? SXAPI_ERR_INCOMPLETE : SXAPI_ERR_SYNTAX;
  }
  *forms = sx_list_reverse(acc);
  return SXAPI_OK;
}

sxapi_code sxapi_read(sxapi_vm *vm, const char *src, size_t len, const char *name, sxapi_value *forms) {
  ACCESSOR(vm, "sxapi_read", forms);
  if (!src && len) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_read", "the source is NULL"));
  sx_val err = SX_NIL;
  sxapi_code rc =
      api_read_forms(src ? src : "", len, name ? sx_vm_source_name(vm->vm, name) : SX_NIL, forms, &err);
  if (rc != SXAPI_OK) {
    *forms = err;
    api_fail_value(rc, err);
  }
  return api_leave(vm, rc);
}

/* ---- reading at a line, reading a file, dict keys, error text ---------------- */

sxapi_code sxapi_read_at(sxapi_vm *vm, const char *src, size_t len, const char *name, uint32_t first_line,
                         sxapi_value *forms) {
  API_ENTER(vm, "sxapi_read_at");
  if (!forms || (!src && len) || first_line == 0)
    return api_leave(vm,
                     api_fail(SXAPI_ERR_ARG, "sxapi_read_at", "bad arguments (src, forms or first_line)"));
  sx_reader r;
  sx_reader_init(&r, src ? src : "", len, name ? sx_vm_source_name(vm->vm, name) : SX_NIL);
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

sxapi_code sxapi_read_file(sxapi_vm *vm, const char *path, sxapi_value *forms) {
  API_ENTER(vm, "sxapi_read_file");
  if (!path || !forms)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_read_file", "path and forms must not be NULL"));
  sx_buf b = SX_BUF_INIT;
  sx_val got = SX_NIL, err = SX_NIL;
  sxapi_code rc = SXAPI_ERR_IO;
  if (sx_slurp_load_file(vm->vm, path, &b, &err) == 0)
    rc = api_read_forms(b.data ? b.data : "", b.len, sx_string_cstr(path), &got, &err);
  sx_buf_free(&b);
  *forms = rc == SXAPI_OK ? got : err;
  return api_leave(vm, rc == SXAPI_OK ? rc : api_fail_value(rc, err));
}

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

/* "message (at where)": the position only when the message does not
 * already start with it. */
static void put_message(sx_buf *b, sx_val err) {
  sx_val msg = sx_error_message(err);
  sx_buf_put(b, sx_str_data(msg), sx_str_len(msg));
  if (!sx_is(err, SX_T_ERROR)) return;
  sx_val where = ((sx_error *)err)->where;
  if (sx_is_string(where) && strncmp(sx_str_data(msg), sx_str_data(where), sx_str_len(where)) != 0)
    sx_buf_printf(b, " (at %s)", sx_str_data(where));
}

static void put_backtrace(sx_buf *b, sx_val err) {
  if (!sx_is(err, SX_T_ERROR)) return;
  for (sx_val bt = ((sx_error *)err)->backtrace; sx_is_cons(bt); bt = sx_cdr(bt)) {
    sx_val frame = sx_car(bt);
    sx_buf_puts(b, "\n  ");
    if (sx_is_string(frame)) sx_buf_put(b, sx_str_data(frame), sx_str_len(frame));
  }
}

sxapi_code sxapi_error_text(sxapi_vm *vm, sxapi_value err, bool backtrace, sxapi_value *text) {
  API_ENTER(vm, "sxapi_error_text");
  if (!text) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_error_text", "the out pointer is NULL"));
  sx_buf b = SX_BUF_INIT;
  put_message(&b, err);
  if (backtrace) put_backtrace(&b, err);
  *text = sx_string_new(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  return api_leave(vm, SXAPI_OK);
}
