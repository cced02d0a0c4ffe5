/* sx_api_host.c — what the sx command-line tools (the CLI and the
 * line-protocol server) need beyond the rest of libsx: reading a file the
 * way (load ...) reads it, evaluating forms already read (to completion or
 * as a task), and an error's text as the tools show it. */
#include "sx_api_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- reading ------------------------------------------------------------ */

sxapi_code sxapi_read_file(sxapi_vm *vm, const char *path, sxapi_value *forms) {
  API_ENTER(vm, "sxapi_read_file");
  if (!path || !forms)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_read_file", "path and forms must not be NULL"));
  sx_buf b = SX_BUF_INIT;
  sx_val got = SX_NIL, err = SX_NIL;
  sxapi_code rc = SXAPI_ERR_IO;
  if (sx_slurp_load_file(vm->vm, path, &b, &err) == 0) rc = api_read_forms(b.data ? b.data : "", b.len, sx_string_cstr(path), &got, &err);
  sx_buf_free(&b);
  *forms = rc == SXAPI_OK ? got : err;
  return api_leave(vm, rc == SXAPI_OK ? rc : api_fail_value(rc, err));
}

/* ---- evaluating forms ------------------------------------------------------ */

/* Check forms and make the fiber that evaluates them. */
static sxapi_code forms_fiber(sxapi_vm *vm, const char *who, sxapi_value forms, const char *name,
                              sx_fiber **f, bool *nested) {
  if (!sx_is_list(forms)) return api_type_error(who, "a list of forms", forms);
  *f = api_new_fiber(vm, nested);
  sx_fiber_start_forms(*f, forms, sx_string_cstr(name ? name : "<eval>"), false);
  return SXAPI_OK;
}

sxapi_code sxapi_eval_forms(sxapi_vm *vm, sxapi_value forms, const char *name, sxapi_value *out) {
  API_ENTER(vm, "sxapi_eval_forms");
  sx_fiber *f = NULL;
  bool nested = false;
  sxapi_code rc = forms_fiber(vm, "sxapi_eval_forms", forms, name, &f, &nested);
  if (rc != SXAPI_OK) return api_leave(vm, rc);
  return api_leave(vm, api_complete(vm, f, nested, out));
}

sxapi_code sxapi_begin_forms(sxapi_vm *vm, sxapi_value forms, const char *name, sxapi_task **task) {
  API_ENTER(vm, "sxapi_begin_forms");
  if (!task) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_begin_forms", "the task pointer is NULL"));
  *task = NULL;
  sx_fiber *f = NULL;
  bool nested = false;
  sxapi_code rc = forms_fiber(vm, "sxapi_begin_forms", forms, name, &f, &nested);
  if (rc != SXAPI_OK) return api_leave(vm, rc);
  return api_leave(vm, api_begin(vm, f, nested, task));
}

/* ---- error text -------------------------------------------------------------- */

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
