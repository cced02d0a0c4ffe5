/* sx_api_eval.c — libsx evaluation: globals, C functions callable from SX,
 * evaluation to completion (eval, load, call), suspendable tasks, and the
 * host's IO resolvers. */
#include "sx_api_int.h"

#include "sx_dict.h"

#include <errno.h>
#include <gc.h>
#include <stdlib.h>
#include <string.h>

/* ---- globals ------------------------------------------------------------- */

sxapi_code sxapi_define(sxapi_vm *vm, const char *name, sxapi_value v) {
  API_ENTER(vm, "sxapi_define");
  if (!name || !*name)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_define", "the name is NULL or empty"));
  sx_define(vm->vm, name, v);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_global(sxapi_vm *vm, const char *name, sxapi_value *out) {
  API_ENTER(vm, "sxapi_global");
  if (!name || !out)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_global", "name and out must not be NULL"));
  sx_val v = sx_global_ref(vm->vm, name);
  if (v == SX_UNDEF)
    return api_leave(vm, api_fail(SXAPI_ERR_NOTFOUND, "sxapi_global", "%s is not defined", name));
  *out = v;
  return api_leave(vm, SXAPI_OK);
}

/* ---- what a host callback's failure raises --------------------------------- */

/* The value a C function or resolver that returned rc wants raised. */
static sx_val raised_from(sx_val result, const char *who, sxapi_code rc) {
  if (sx_is(result, SX_T_ERROR)) return result;
  if (sx_is_string(result)) return sx_error_new(result, SX_NIL);
  if (result != SX_NIL && result != SX_UNDEF) return result;
  const char *msg = api_last_message();
  if (*msg) return sx_make_error("%s: %s", who, msg);
  return sx_make_error("%s: failed (%s)", who, sxapi_code_name(rc));
}

/* ---- C functions --------------------------------------------------------------- */

typedef struct host_fn {
  sxapi_function fn;
  void *ud;
} host_fn;

/* The kernel calls an SP_HOST primitive with the primitive at argv[-1]. */
static sx_val call_host_fn(sx_vm *ivm, int argc, sx_val *argv) {
  sx_prim *p = (sx_prim *)argv[-1];
  host_fn *h = p->ud;
  sx_val result = SX_NIL;
  api_clear_message(); /* a failure the callback explains stands out */
  sxapi_code rc = h->fn(ivm->host, argc, argv, &result, h->ud);
  if (rc == SXAPI_OK) return result == SX_UNDEF ? SX_NIL : result;
  return sx_throw(ivm, raised_from(result, sx_str_data(p->name), rc));
}

static sxapi_code check_function_args(const char *who, const char *name, int min, int max,
                                      sxapi_function fn) {
  if (!name || !*name) return api_fail(SXAPI_ERR_ARG, who, "the name is NULL or empty");
  if (!fn) return api_fail(SXAPI_ERR_ARG, who, "the C function is NULL");
  if (min < 0 || min > INT16_MAX || max < -1 || max > INT16_MAX || (max >= 0 && max < min))
    return api_fail(SXAPI_ERR_ARG, who, "bad arity %d..%d (expected 0 <= min <= max <= 32767, or max -1)",
                    min, max);
  return SXAPI_OK;
}

static sx_val make_function(const char *name, int min, int max, sxapi_function fn, void *ud) {
  host_fn *h = sx_alloc(sizeof *h);
  h->fn = fn;
  h->ud = ud;
  sx_prim *p = sx_obj_new(SX_T_PRIM, sizeof *p);
  p->name = sx_string_cstr(name);
  p->fn = call_host_fn;
  p->min_args = (int16_t)min;
  p->max_args = (int16_t)max;
  p->special = SP_HOST;
  p->ud = h;
  return (sx_val)p;
}

sxapi_code sxapi_new_function(sxapi_vm *vm, const char *name, int min_args, int max_args, sxapi_function fn,
                              void *ud, sxapi_value *out) {
  API_ENTER(vm, "sxapi_new_function");
  sxapi_code rc = check_function_args("sxapi_new_function", name, min_args, max_args, fn);
  if (rc == SXAPI_OK && !out) rc = api_fail(SXAPI_ERR_ARG, "sxapi_new_function", "the out pointer is NULL");
  if (rc == SXAPI_OK) *out = make_function(name, min_args, max_args, fn, ud);
  return api_leave(vm, rc);
}

sxapi_code sxapi_define_function(sxapi_vm *vm, const char *name, int min_args, int max_args,
                                 sxapi_function fn, void *ud) {
  API_ENTER(vm, "sxapi_define_function");
  sxapi_code rc = check_function_args("sxapi_define_function", name, min_args, max_args, fn);
  if (rc == SXAPI_OK) sx_define(vm->vm, name, make_function(name, min_args, max_args, fn, ud));
  return api_leave(vm, rc);
}

/* ---- ending an evaluation ---------------------------------------------------------- */

sx_status api_end_evaluation(sxapi_vm *vm, sx_status st, sx_val *v, bool wait, uint64_t *ticket,
                             sxapi_code *code) {
  *ticket = 0;
  *code = st == SX_DONE ? SXAPI_OK : SXAPI_ERR_EVAL;
  if (!vm->persist) {
    vm->vm->eval_state = NULL;
    return st;
  }
  sx_val err = SX_NIL;
  if (st == SX_DONE && vm->commit_check && vm->vm->eval_state && !vm->commit_check(vm, vm->commit_check_ud)) {
    sx_persist_end(vm->persist, vm->vm, SX_ERROR, false, ticket, &err);
    *v = sx_make_error("the evaluation was abandoned: its client went away, so its writes were rolled back");
    *code = SXAPI_ERR_EVAL;
    return SX_ERROR;
  }
  int rc = sx_persist_end(vm->persist, vm->vm, st, wait, ticket, &err);
  if (rc == STORE_OK) return st;
  *code = rc == STORE_ECONFLICT ? SXAPI_ERR_CONFLICT : SXAPI_ERR_EVAL;
  if (st == SX_DONE)
    *v = sx_is(err, SX_T_ERROR)
             ? err
             : sx_error_new(sx_is_string(err) ? err : sx_string_cstr("store: commit failed"), SX_NIL);
  return SX_ERROR;
}

/* A fiber ended (done or error): end the top-level evaluation (commit or
 * roll back) unless it ran nested, and give its value or error. With wait
 * false a commit that is not yet durable leaves *ticket set. */
static sxapi_code conclude(sxapi_vm *vm, sx_fiber *f, sx_status st, bool nested, bool wait, uint64_t *ticket,
                           sx_val *out) {
  sx_val v = st == SX_DONE ? f->value : f->error;
  sxapi_code code = st == SX_DONE ? SXAPI_OK : SXAPI_ERR_EVAL;
  *ticket = 0;
  if (!nested) st = api_end_evaluation(vm, st, &v, wait, ticket, &code);
  *out = v;
  return code == SXAPI_OK ? SXAPI_OK : api_fail_value(code, v);
}

/* Prepare a fiber to run: nested when started inside another evaluation.
 * A top-level start forgets an interrupt that arrived while idle. */
sx_fiber *api_new_fiber(sxapi_vm *vm, bool *nested) {
  sx_fiber *f = sx_fiber_new(vm->vm);
  *nested = f->nested = vm->vm->current != NULL;
  if (!*nested) vm->vm->interrupt = 0;
  return f;
}

/* Run f to its end; an op no resolver owns is an error. */
sxapi_code api_complete(sxapi_vm *vm, sx_fiber *f, bool nested, sxapi_value *out) {
  sx_status st = sx_fiber_finish(f);
  sx_val v;
  uint64_t ticket;
  sxapi_code rc = conclude(vm, f, st, nested, true, &ticket, &v);
  if (out) *out = v;
  return rc;
}

/* ---- sources ------------------------------------------------------------------------ */

/* The forms of src (SXAPI_ERR_SYNTAX / _INCOMPLETE with *err set). */
static sxapi_code source_forms(const char *src, size_t len, const char *name, sx_val *file, sx_val *forms,
                               sx_val *err) {
  *file = sx_string_cstr(name ? name : "<eval>");
  return api_read_forms(src, len, *file, forms, err);
}

/* The forms of a file on the load path; SXAPI_ERR_IO when it cannot be
 * found or read, SXAPI_ERR_SYNTAX / _INCOMPLETE (with *err) when it does
 * not read. Messages use the words of SX's own (load ...). */
static sxapi_code file_forms(sxapi_vm *vm, const char *path, sx_val *forms, sx_val *err) {
  sx_buf b = SX_BUF_INIT;
  sx_val lerr = SX_NIL;
  int step = sx_slurp_load_file(vm->vm, path, &b, &lerr);
  sxapi_code rc;
  if (step == SX_SLURP_MISSING)
    rc = api_fail(SXAPI_ERR_IO, "load", "cannot find %s (searched the working directory and the load path)",
                  path);
  else if (step == SX_SLURP_OPEN)
    rc = api_fail(SXAPI_ERR_IO, "load", "cannot read %s: %s", path, strerror(errno));
  else if (step == SX_SLURP_READ) rc = api_fail(SXAPI_ERR_IO, "load", "error reading %s", path);
  else rc = api_read_forms(b.data ? b.data : "", b.len, sx_string_cstr(path), forms, err);
  sx_buf_free(&b);
  if (rc == SXAPI_ERR_SYNTAX || rc == SXAPI_ERR_INCOMPLETE) api_fail_value(rc, *err);
  return rc;
}

static bool callable(sx_val fn) { return sx_is(fn, SX_T_FN) || sx_is(fn, SX_T_PRIM) || sx_is(fn, SX_T_CONT); }

static sxapi_code check_call(const char *who, sx_val fn, int argc, const sxapi_value *argv) {
  if (argc < 0 || (argc > 0 && !argv))
    return api_fail(SXAPI_ERR_ARG, who, "bad arguments (argc %d, argv %s)", argc, argv ? "set" : "NULL");
  if (!callable(fn)) return api_type_error(who, "a function", fn);
  return SXAPI_OK;
}

/* ---- evaluation to completion --------------------------------------------------------- */

sxapi_code sxapi_eval_buffer(sxapi_vm *vm, const char *src, size_t len, const char *name, sxapi_value *out) {
  API_ENTER(vm, "sxapi_eval_buffer");
  if (!src && len) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_eval_buffer", "the source is NULL"));
  sx_val file, forms, err;
  sxapi_code rc = source_forms(src ? src : "", len, name, &file, &forms, &err);
  if (rc != SXAPI_OK) {
    if (out) *out = err;
    return api_leave(vm, api_fail_value(rc, err));
  }
  bool nested;
  sx_fiber *f = api_new_fiber(vm, &nested);
  sx_fiber_start_forms(f, forms, file, false);
  return api_leave(vm, api_complete(vm, f, nested, out));
}

sxapi_code sxapi_eval(sxapi_vm *vm, const char *src, sxapi_value *out) {
  if (!src) {
    sxapi_code rc = api_enter(vm, "sxapi_eval");
    return rc != SXAPI_OK ? rc : api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_eval", "the source is NULL"));
  }
  return sxapi_eval_buffer(vm, src, strlen(src), NULL, out);
}

sxapi_code sxapi_load(sxapi_vm *vm, const char *path, sxapi_value *out) {
  API_ENTER(vm, "sxapi_load");
  if (!path) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_load", "the path is NULL"));
  sx_val forms, err = SX_NIL;
  sxapi_code rc = file_forms(vm, path, &forms, &err);
  if (rc != SXAPI_OK) {
    if (out) *out = err != SX_NIL ? err : sx_error_new(sx_string_cstr(api_last_message()), SX_NIL);
    return api_leave(vm, rc);
  }
  bool nested;
  sx_fiber *f = api_new_fiber(vm, &nested);
  sx_fiber_start_forms(f, forms, sx_string_cstr(path), false);
  return api_leave(vm, api_complete(vm, f, nested, out));
}

sxapi_code sxapi_call(sxapi_vm *vm, sxapi_value fn, int argc, const sxapi_value *argv, sxapi_value *out) {
  API_ENTER(vm, "sxapi_call");
  sxapi_code rc = check_call("sxapi_call", fn, argc, argv);
  if (rc != SXAPI_OK) return api_leave(vm, rc);
  bool nested;
  sx_fiber *f = api_new_fiber(vm, &nested);
  sx_fiber_start_apply(f, fn, argc, argv);
  return api_leave(vm, api_complete(vm, f, nested, out));
}

/* ---- one form, a file form by form, forms already read ----------------------------- */

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

/* Check forms and make the fiber that evaluates them. */
static sxapi_code forms_fiber(sxapi_vm *vm, const char *who, sxapi_value forms, const char *name,
                              sx_fiber **f, bool *nested) {
  if (!sx_is_list(forms)) return api_type_error(who, "a list of forms", forms);
  *f = api_new_fiber(vm, nested);
  sx_fiber_start_forms(*f, forms, sx_vm_source_name(vm->vm, name ? name : "<eval>"), false);
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

/* ---- tasks ----------------------------------------------------------------------------- */

static sxapi_task *task_new(sxapi_vm *vm, sx_fiber *f, bool nested) {
  sxapi_task *t = GC_MALLOC_UNCOLLECTABLE(sizeof *t); /* scanned: it holds the fiber */
  if (!t) abort();
  memset(t, 0, sizeof *t);
  t->magic = TASK_MAGIC;
  t->vm = vm;
  t->fiber = f;
  t->nested = nested;
  t->result = t->request = SX_NIL;
  t->next = vm->tasks;
  if (vm->tasks) vm->tasks->prev = t;
  vm->tasks = t;
  return t;
}

/* Record how a run of the task's fiber ended. A suspended top-level task
 * takes its store transaction with it (vm->eval_state is the running
 * evaluation's); a finished one commits, and with async commits enabled
 * reports SXAPI_SYNCING until the commit is durable. */
static sxapi_code settle(sxapi_task *t, sx_status st) {
  sxapi_vm *vm = t->vm;
  if (st == SX_SUSPENDED) {
    t->status = SXAPI_SUSPENDED;
    t->request = t->fiber->request;
    t->result = SX_NIL;
    if (!t->nested) {
      t->eval_state = vm->vm->eval_state;
      vm->vm->eval_state = NULL;
    }
    return SXAPI_SUSPENDED;
  }
  t->request = SX_NIL;
  t->eval_state = NULL;
  t->status = conclude(vm, t->fiber, st, t->nested, !vm->async_commit, &t->ticket, &t->result);
  if (t->status == SXAPI_OK && t->ticket) t->status = SXAPI_SYNCING;
  return t->status;
}

/* A syncing task whose commit became durable (or failed) takes its final
 * status; with block, wait for that. */
static sxapi_code task_poll(sxapi_task *t, bool block) {
  if (t->status != SXAPI_SYNCING || !t->vm || !t->vm->persist) return t->status;
  sx_val err = SX_NIL;
  int st = sx_persist_poll(t->vm->persist, t->ticket, block, &err);
  if (st == 0) return SXAPI_SYNCING;
  if (st > 0) {
    t->status = SXAPI_OK;
    return SXAPI_OK;
  }
  t->result =
      sx_error_new(sx_is_string(err) ? err : sx_string_cstr("store: the commit did not become durable"),
                   SX_NIL);
  t->status = api_fail_value(SXAPI_ERR_EVAL, t->result);
  return t->status;
}

sxapi_code api_begin(sxapi_vm *vm, sx_fiber *f, bool nested, sxapi_task **task) {
  sxapi_task *t = task_new(vm, f, nested);
  *task = t;
  return settle(t, sx_fiber_run(f));
}

sxapi_code sxapi_begin(sxapi_vm *vm, const char *src, size_t len, const char *name, sxapi_task **task) {
  API_ENTER(vm, "sxapi_begin");
  if (!task || (!src && len))
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_begin", "the source or task pointer is NULL"));
  *task = NULL;
  sx_val file, forms, err;
  sxapi_code rc = source_forms(src ? src : "", len, name, &file, &forms, &err);
  if (rc != SXAPI_OK) return api_leave(vm, api_fail_value(rc, err));
  bool nested;
  sx_fiber *f = api_new_fiber(vm, &nested);
  sx_fiber_start_forms(f, forms, file, false);
  return api_leave(vm, api_begin(vm, f, nested, task));
}

sxapi_code sxapi_begin_load(sxapi_vm *vm, const char *path, sxapi_task **task) {
  API_ENTER(vm, "sxapi_begin_load");
  if (!task || !path)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_begin_load", "the path or task pointer is NULL"));
  *task = NULL;
  sx_val forms, err = SX_NIL;
  sxapi_code rc = file_forms(vm, path, &forms, &err);
  if (rc != SXAPI_OK) return api_leave(vm, rc);
  bool nested;
  sx_fiber *f = api_new_fiber(vm, &nested);
  sx_fiber_start_forms(f, forms, sx_string_cstr(path), false);
  return api_leave(vm, api_begin(vm, f, nested, task));
}

sxapi_code sxapi_begin_call(sxapi_vm *vm, sxapi_value fn, int argc, const sxapi_value *argv,
                            sxapi_task **task) {
  API_ENTER(vm, "sxapi_begin_call");
  if (!task) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_begin_call", "the task pointer is NULL"));
  *task = NULL;
  sxapi_code rc = check_call("sxapi_begin_call", fn, argc, argv);
  if (rc != SXAPI_OK) return api_leave(vm, rc);
  bool nested;
  sx_fiber *f = api_new_fiber(vm, &nested);
  sx_fiber_start_apply(f, fn, argc, argv);
  return api_leave(vm, api_begin(vm, f, nested, task));
}

/* Check a task handle and enter its VM. */
static sxapi_code task_enter(const sxapi_task *t, const char *who) {
  if (!api_thread_ok(who)) return SXAPI_ERR_THREAD;
  if (!t) return api_fail(SXAPI_ERR_ARG, who, "the task is NULL");
  if (t->magic != TASK_MAGIC) return api_fail(SXAPI_ERR_ARG, who, "not a task handle");
  if (!t->vm) return api_fail(SXAPI_ERR_CLOSED, who, "the task's VM has been freed");
  return api_enter(t->vm, who);
}

static const char *task_state_name(const sxapi_task *t) {
  if (t->fiber->running) return "it is running";
  return t->status == SXAPI_OK ? "it has finished" : "it has failed";
}

/* Checks shared by sxapi_resume and sxapi_resume_error. */
static sxapi_code resume_enter(sxapi_task *t, const char *who) {
  sxapi_code rc = task_enter(t, who);
  if (rc != SXAPI_OK) return rc;
  if (t->fiber->running || t->status != SXAPI_SUSPENDED)
    return api_leave(t->vm,
                     api_fail(SXAPI_ERR_STATE, who, "the task is not suspended (%s)", task_state_name(t)));
  if (api_evaluating(t->vm))
    return api_leave(t->vm, api_fail(SXAPI_ERR_STATE, who, "cannot resume a task from inside an evaluation"));
  return SXAPI_OK;
}

/* Put the suspended task's store transaction back in place to run it. */
static void task_swap_in(sxapi_task *t) {
  if (!t->nested) t->vm->vm->eval_state = t->eval_state;
  t->eval_state = NULL;
}

sxapi_code sxapi_resume(sxapi_task *task, sxapi_value value) {
  sxapi_code rc = resume_enter(task, "sxapi_resume");
  if (rc != SXAPI_OK) return rc;
  task_swap_in(task);
  return api_leave(task->vm, settle(task, sx_fiber_resume(task->fiber, value)));
}

sxapi_code sxapi_resume_error(sxapi_task *task, sxapi_value err) {
  sxapi_code rc = resume_enter(task, "sxapi_resume_error");
  if (rc != SXAPI_OK) return rc;
  sx_val raised = sx_is_string(err) ? sx_error_new(err, SX_NIL) : err;
  task_swap_in(task);
  return api_leave(task->vm, settle(task, sx_fiber_resume_error(task->fiber, raised)));
}

sxapi_code sxapi_task_status(const sxapi_task *task) {
  if (!task || task->magic != TASK_MAGIC)
    return api_fail(SXAPI_ERR_ARG, "sxapi_task_status", "not a task handle");
  if (task->fiber->running) return api_fail(SXAPI_ERR_STATE, "sxapi_task_status", "the task is running");
  return task_poll((sxapi_task *)task, false);
}

sxapi_code sxapi_task_wait(sxapi_task *task) {
  if (!task || task->magic != TASK_MAGIC)
    return api_fail(SXAPI_ERR_ARG, "sxapi_task_wait", "not a task handle");
  if (task->fiber->running) return api_fail(SXAPI_ERR_STATE, "sxapi_task_wait", "the task is running");
  return task_poll(task, true);
}

sxapi_code sxapi_set_commit_check(sxapi_vm *vm, sxapi_commit_check fn, void *ud) {
  API_ENTER(vm, "sxapi_set_commit_check");
  vm->commit_check = fn;
  vm->commit_check_ud = ud;
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_set_async_commit(sxapi_vm *vm, bool on) {
  API_ENTER(vm, "sxapi_set_async_commit");
  vm->async_commit = on;
  return api_leave(vm, SXAPI_OK);
}

static bool task_ok(const sxapi_task *task) { return task && task->magic == TASK_MAGIC; }

sxapi_value sxapi_task_result(const sxapi_task *task) { return task_ok(task) ? task->result : SX_NIL; }
sxapi_value sxapi_task_request(const sxapi_task *task) { return task_ok(task) ? task->request : SX_NIL; }
sxapi_vm *sxapi_task_vm(const sxapi_task *task) { return task_ok(task) ? task->vm : NULL; }

/* The request's entry named key (a dict lookup that allocates nothing). */
static sx_val request_entry(const sxapi_task *task, const char *key) {
  if (!task_ok(task) || task->status != SXAPI_SUSPENDED || !sx_is_dict(task->request)) return SX_UNDEF;
  sx_dict_iter it;
  sx_val k, v;
  sx_dict_iter_init(&it, task->request);
  while (sx_dict_iter_next(&it, &k, &v))
    if (sx_str_len(k) == strlen(key) && memcmp(sx_str_data(k), key, sx_str_len(k)) == 0) return v;
  return SX_UNDEF;
}

const char *sxapi_task_op(const sxapi_task *task) {
  sx_val op = request_entry(task, "op");
  return sx_is_string(op) ? sx_str_data(op) : NULL;
}

sxapi_value sxapi_task_args(const sxapi_task *task) {
  sx_val args = request_entry(task, "args");
  return args == SX_UNDEF ? SX_EMPTY : args;
}

static void task_unlink(sxapi_task *t) {
  if (!t->vm) return;
  if (t->prev) t->prev->next = t->next;
  else t->vm->tasks = t->next;
  if (t->next) t->next->prev = t->prev;
}

sxapi_code sxapi_task_free(sxapi_task *task) {
  if (!task) return SXAPI_OK;
  if (!api_thread_ok("sxapi_task_free")) return SXAPI_ERR_THREAD;
  if (task->magic != TASK_MAGIC) return api_fail(SXAPI_ERR_ARG, "sxapi_task_free", "not a task handle");
  sxapi_vm *vm = task->vm;
  if (vm) {
    sxapi_code rc = api_enter_any(vm, "sxapi_task_free");
    if (rc != SXAPI_OK) return rc;
    if (task->fiber->running)
      return api_leave(vm, api_fail(SXAPI_ERR_STATE, "sxapi_task_free", "the task is running"));
    if (task->status == SXAPI_SUSPENDED && vm->vm && !task->nested) { /* abandon: roll back its own writes */
      void *running = vm->vm->eval_state;
      task_swap_in(task);
      sx_toplevel_end(vm->vm, SX_ERROR);
      vm->vm->eval_state = running;
    }
    task_unlink(task);
    api_leave(vm, SXAPI_OK);
  }
  task->magic = 0;
  GC_FREE(task);
  return SXAPI_OK;
}

/* ---- resolvers --------------------------------------------------------------------------- */

struct api_resolver {
  api_resolver *next;
  sxapi_resolver fn;
  void *ud;
  sxapi_vm *vm;
};

static int call_host_resolver(sx_vm *ivm, void *ud, sx_val op, sx_val args, sx_val request, sx_val *result) {
  (void)ivm;
  api_resolver *r = ud;
  sx_val res = SX_NIL;
  api_clear_message();
  sxapi_code rc = r->fn(r->vm, sx_str_data(op), args, request, &res, r->ud);
  if (rc == SXAPI_OK) {
    *result = res == SX_UNDEF ? SX_NIL : res;
    return 0;
  }
  *result = raised_from(res, sx_str_data(op), rc);
  return -1;
}

static void free_record(sxapi_vm *vm, api_resolver *rec) {
  for (api_resolver **p = &vm->resolvers; *p; p = &(*p)->next)
    if (*p == rec) {
      *p = rec->next;
      free(rec);
      return;
    }
}

/* Remove entry i of the kernel's resolver table. */
static void drop_entry(sxapi_vm *vm, size_t i) {
  sx_vm *ivm = vm->vm;
  sx_resolver *r = &ivm->resolvers[i];
  if (r->fn == call_host_resolver) free_record(vm, r->ud);
  free(r->prefix);
  memmove(r, r + 1, (ivm->nresolvers - i - 1) * sizeof *r);
  ivm->nresolvers--;
}

void api_drop_resolvers_with(sx_vm *ivm, void *ud) {
  for (size_t i = ivm->nresolvers; i-- > 0;)
    if (ivm->resolvers[i].ud == ud) drop_entry(ivm->host, i);
}

/* Remove the entry whose prefix is exactly prefix; false if none. */
static bool drop_prefix(sxapi_vm *vm, const char *prefix) {
  sx_vm *ivm = vm->vm;
  for (size_t i = 0; i < ivm->nresolvers; i++)
    if (strcmp(ivm->resolvers[i].prefix, prefix) == 0) {
      drop_entry(vm, i);
      return true;
    }
  return false;
}

void api_free_resolver_records(sxapi_vm *vm) {
  while (vm->resolvers) {
    api_resolver *next = vm->resolvers->next;
    free(vm->resolvers);
    vm->resolvers = next;
  }
}

sxapi_code sxapi_add_resolver(sxapi_vm *vm, const char *prefix, sxapi_resolver fn, void *ud) {
  API_ENTER(vm, "sxapi_add_resolver");
  if (!prefix || !fn)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_add_resolver", "prefix and fn must not be NULL"));
  drop_prefix(vm, prefix);
  api_resolver *rec = malloc(sizeof *rec);
  if (!rec) abort();
  *rec = (api_resolver){.next = vm->resolvers, .fn = fn, .ud = ud, .vm = vm};
  vm->resolvers = rec;
  sx_add_resolver(vm->vm, prefix, call_host_resolver, rec);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_remove_resolver(sxapi_vm *vm, const char *prefix) {
  API_ENTER(vm, "sxapi_remove_resolver");
  if (!prefix) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_remove_resolver", "the prefix is NULL"));
  if (!drop_prefix(vm, prefix))
    return api_leave(vm, api_fail(SXAPI_ERR_NOTFOUND, "sxapi_remove_resolver",
                                  "no resolver has the prefix \"%s\"", prefix));
  return api_leave(vm, SXAPI_OK);
}
