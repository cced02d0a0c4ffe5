/* sx_api.c — libsx core: one-time initialisation, thread attachment,
 * return codes and error messages, the entry checks every public call
 * makes, and the VM lifecycle (open, close, free), load path, output,
 * interrupts and pins. */
#include "sx_api_int.h"

#include "sx_dict.h"
#include "sx_print.h"

#define GC_THREADS /* declares the thread registration calls */
#include <gc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- initialisation and threads ------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static atomic_bool initialised;
static _Thread_local bool tls_attached SX_TLS_FAST;   /* this thread may use libsx */
static _Thread_local bool tls_registered SX_TLS_FAST; /* ... because we registered it with the GC */
static _Thread_local bool tls_initial SX_TLS_FAST;    /* ... because it initialised libsx */
static _Thread_local char tls_marker SX_TLS_FAST;     /* its address identifies the thread */

/* Run once, on the first thread that uses libsx: that thread is the
 * collector's initial thread. Lazily initialised kernel statics are set
 * here, so later threads never race to initialise them. */
static void init_library(void) {
  sx_gc_init();
  GC_allow_register_threads();
  sx_analyse_init();
  sx_vm probe;
  memset(&probe, 0, sizeof probe);
  sx_val op, args;
  sx_find_resolver(&probe, sx_dict_empty(), &op, &args); /* its key strings */
  tls_attached = tls_initial = true;
  atomic_store(&initialised, true);
}

static uintptr_t api_thread_id(void) { return (uintptr_t)&tls_marker; }

bool api_thread_ok(const char *who) {
  if (tls_attached) return true;
  if (!atomic_load(&initialised)) {
    pthread_once(&init_once, init_library);
    if (tls_attached) return true;
  }
  if (GC_thread_is_registered()) return (tls_attached = true);
  api_fail(SXAPI_ERR_THREAD, who, "this thread is not attached (call sxapi_thread_attach first)");
  return false;
}

sxapi_code sxapi_thread_attach(void) {
  if (tls_attached) return SXAPI_OK;
  pthread_once(&init_once, init_library);
  if (tls_attached) return SXAPI_OK;
  if (GC_thread_is_registered()) {
    tls_attached = true;
    return SXAPI_OK;
  }
  struct GC_stack_base sb;
  if (GC_get_stack_base(&sb) != GC_SUCCESS)
    return api_fail(SXAPI_ERR_THREAD, "sxapi_thread_attach", "cannot find this thread's stack");
  int rc = GC_register_my_thread(&sb);
  if (rc != GC_SUCCESS && rc != GC_DUPLICATE)
    return api_fail(SXAPI_ERR_THREAD, "sxapi_thread_attach", "the collector refused this thread");
  tls_registered = rc == GC_SUCCESS;
  tls_attached = true;
  return SXAPI_OK;
}

static _Thread_local char *tls_msg SX_TLS_FAST; /* the thread's last error message (malloc'd) */

sxapi_code sxapi_thread_detach(void) {
  if (tls_initial) return SXAPI_OK; /* the collector's own thread stays */
  if (tls_registered) GC_unregister_my_thread();
  tls_registered = tls_attached = false;
  free(tls_msg);
  tls_msg = NULL;
  return SXAPI_OK;
}

/* ---- codes and messages ---------------------------------------------------- */

const char *sxapi_version(void) { return SX_VERSION; }

const char *sxapi_code_name(sxapi_code code) {
  switch (code) {
    case SXAPI_OK: return "SXAPI_OK";
    case SXAPI_SUSPENDED: return "SXAPI_SUSPENDED";
    case SXAPI_ERR_EVAL: return "SXAPI_ERR_EVAL";
    case SXAPI_ERR_SYNTAX: return "SXAPI_ERR_SYNTAX";
    case SXAPI_ERR_INCOMPLETE: return "SXAPI_ERR_INCOMPLETE";
    case SXAPI_ERR_ARG: return "SXAPI_ERR_ARG";
    case SXAPI_ERR_TYPE: return "SXAPI_ERR_TYPE";
    case SXAPI_ERR_NOTFOUND: return "SXAPI_ERR_NOTFOUND";
    case SXAPI_ERR_CLOSED: return "SXAPI_ERR_CLOSED";
    case SXAPI_ERR_STATE: return "SXAPI_ERR_STATE";
    case SXAPI_ERR_BUSY: return "SXAPI_ERR_BUSY";
    case SXAPI_ERR_THREAD: return "SXAPI_ERR_THREAD";
    case SXAPI_ERR_IO: return "SXAPI_ERR_IO";
    case SXAPI_ERR_STORE: return "SXAPI_ERR_STORE";
    case SXAPI_ERR_CONFLICT: return "SXAPI_ERR_CONFLICT";
    case SXAPI_SYNCING: return "SXAPI_SYNCING";
  }
  return "SXAPI_?";
}

static void set_message(const char *text, size_t len) {
  char *m = realloc(tls_msg, len + 1);
  if (!m) return; /* keep the previous message rather than fail */
  memcpy(m, text, len);
  m[len] = '\0';
  tls_msg = m;
}

const char *api_last_message(void) { return tls_msg ? tls_msg : ""; }
void api_clear_message(void) {
  if (tls_msg) tls_msg[0] = '\0';
}
const char *sxapi_errmsg(void) { return api_last_message(); }

sxapi_code api_fail(sxapi_code code, const char *who, const char *fmt, ...) {
  sx_buf b = SX_BUF_INIT;
  if (who) sx_buf_printf(&b, "%s: ", who);
  va_list ap;
  va_start(ap, fmt);
  sx_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  set_message(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  return code;
}

sxapi_code api_fail_value(sxapi_code code, sx_val err) {
  sx_val msg = sx_error_message(err);
  sx_buf b = SX_BUF_INIT;
  sx_buf_put(&b, sx_str_data(msg), sx_str_len(msg));
  if (sx_is(err, SX_T_ERROR)) {
    sx_val where = ((sx_error *)err)->where;
    if (sx_is_string(where) && strncmp(sx_str_data(msg), sx_str_data(where), sx_str_len(where)) != 0)
      sx_buf_printf(&b, " (at %s)", sx_str_data(where));
  }
  set_message(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  return code;
}

sxapi_code api_type_error(const char *who, const char *what, sx_val got) {
  return api_fail(SXAPI_ERR_TYPE, who, "expected %s, got %s", what, sx_str_data(sx_shown(got)));
}

/* ---- entry checks ----------------------------------------------------------- */

static sxapi_code enter(sxapi_vm *vm, const char *who, bool closed_ok) {
  if (!api_thread_ok(who)) return SXAPI_ERR_THREAD;
  if (!vm) return api_fail(SXAPI_ERR_ARG, who, "the VM is NULL");
  if (vm->magic != VM_MAGIC_OPEN && vm->magic != VM_MAGIC_CLOSED)
    return api_fail(SXAPI_ERR_ARG, who, "not a VM handle");
  uintptr_t me = api_thread_id(), expected = 0;
  if (!atomic_compare_exchange_strong(&vm->owner, &expected, me) && expected != me)
    return api_fail(SXAPI_ERR_BUSY, who, "the VM is in use by another thread");
  vm->depth++;
  if (vm->magic == VM_MAGIC_CLOSED && !closed_ok)
    return api_leave(vm, api_fail(SXAPI_ERR_CLOSED, who, "the VM is closed"));
  return SXAPI_OK;
}

sxapi_code api_enter(sxapi_vm *vm, const char *who) { return enter(vm, who, false); }
sxapi_code api_enter_any(sxapi_vm *vm, const char *who) { return enter(vm, who, true); }

sxapi_code api_leave(sxapi_vm *vm, sxapi_code rc) {
  if (--vm->depth == 0) atomic_store(&vm->owner, 0);
  return rc;
}

/* ---- VM lifecycle ------------------------------------------------------------- */

sxapi_vm *sxapi_open(void) {
  if (!api_thread_ok("sxapi_open")) return NULL;
  sxapi_vm *vm = calloc(1, sizeof *vm);
  if (!vm) {
    api_fail(SXAPI_ERR_ARG, "sxapi_open", "out of memory");
    return NULL;
  }
  vm->vm = sx_stdlib_vm_create();
  if (!vm->vm) {
    free(vm);
    api_fail(SXAPI_ERR_ARG, "sxapi_open",
             "could not create the VM (out of memory, or a broken built-in prelude)");
    return NULL;
  }
  vm->vm->host = vm;
  vm->magic = VM_MAGIC_OPEN;
  return vm;
}

static void drop_pins(sxapi_vm *vm) {
  if (vm->pins) GC_FREE(vm->pins);
  vm->pins = NULL;
  vm->npins = vm->pincap = 0;
}

sxapi_code sxapi_close(sxapi_vm *vm) {
  sxapi_code rc = api_enter_any(vm, "sxapi_close");
  if (rc != SXAPI_OK) return rc;
  if (vm->magic == VM_MAGIC_CLOSED) return api_leave(vm, SXAPI_OK);
  if (api_evaluating(vm))
    return api_leave(vm, api_fail(SXAPI_ERR_STATE, "sxapi_close",
                                  "the VM is evaluating (close it after the evaluation returns)"));
  rc = vm->persist ? api_store_close(vm, "sxapi_close") : SXAPI_OK;
  api_free_resolver_records(vm);
  drop_pins(vm);
  sx_vm_close(vm->vm);
  vm->vm = NULL;
  vm->magic = VM_MAGIC_CLOSED;
  return api_leave(vm, rc);
}

sxapi_code sxapi_free(sxapi_vm *vm) {
  if (!vm) return SXAPI_OK;
  sxapi_code rc = api_enter_any(vm, "sxapi_free");
  if (rc != SXAPI_OK) return rc;
  if (api_evaluating(vm))
    return api_leave(vm, api_fail(SXAPI_ERR_STATE, "sxapi_free",
                                  "the VM is evaluating (free it after the evaluation returns)"));
  rc = sxapi_close(vm);
  for (sxapi_task *t = vm->tasks; t; t = t->next) t->vm = NULL;
  vm->magic = 0;
  free(vm);
  return rc;
}

sxapi_code sxapi_set_output(sxapi_vm *vm, FILE *out) {
  API_ENTER(vm, "sxapi_set_output");
  if (!out) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_set_output", "the stream is NULL"));
  vm->vm->out = out;
  return api_leave(vm, SXAPI_OK);
}

void sxapi_interrupt(sxapi_vm *vm) {
  /* no locks, no allocation: safe in a signal handler */
  if (vm && vm->magic == VM_MAGIC_OPEN && vm->vm) vm->vm->interrupt = 1;
}

/* ---- the load path --------------------------------------------------------------- */

sxapi_code sxapi_add_path(sxapi_vm *vm, const char *dir) {
  API_ENTER(vm, "sxapi_add_path");
  if (!dir || !*dir)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_add_path", "the directory is NULL or empty"));
  sx_add_load_dir(vm->vm, dir);
  return api_leave(vm, SXAPI_OK);
}

static void clear_load_path(sx_vm *ivm) {
  for (size_t i = 0; i < ivm->nload_path; i++) free(ivm->load_path[i]);
  ivm->nload_path = 0;
}

sxapi_code sxapi_set_path(sxapi_vm *vm, const char *dirs) {
  API_ENTER(vm, "sxapi_set_path");
  if (!dirs) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_set_path", "the directory list is NULL"));
  clear_load_path(vm->vm);
  char *copy = strdup(dirs);
  if (!copy) abort();
  for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
    sx_add_load_dir(vm->vm, d);
  free(copy);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_find_file(sxapi_vm *vm, const char *path, sxapi_value *found) {
  API_ENTER(vm, "sxapi_find_file");
  if (!path || !found)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_find_file", "path and found must not be NULL"));
  char *full = sx_resolve_load_path(vm->vm, path);
  if (!full)
    return api_leave(vm, api_fail(SXAPI_ERR_NOTFOUND, "sxapi_find_file", "cannot find %s on the load path",
                                  path));
  *found = sx_string_cstr(full);
  free(full);
  return api_leave(vm, SXAPI_OK);
}

/* ---- pins ---------------------------------------------------------------------------- */

sxapi_code sxapi_pin(sxapi_vm *vm, sxapi_value v) {
  API_ENTER(vm, "sxapi_pin");
  if (vm->npins == vm->pincap) {
    size_t ncap = vm->pincap ? vm->pincap * 2 : 16;
    sx_val *np = GC_MALLOC_UNCOLLECTABLE(ncap * sizeof *np);
    if (!np) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_pin", "out of memory"));
    if (vm->npins) memcpy(np, vm->pins, vm->npins * sizeof *np);
    if (vm->pins) GC_FREE(vm->pins);
    vm->pins = np;
    vm->pincap = ncap;
  }
  vm->pins[vm->npins++] = v;
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_unpin(sxapi_vm *vm, sxapi_value v) {
  API_ENTER(vm, "sxapi_unpin");
  for (size_t i = vm->npins; i-- > 0;) {
    if (vm->pins[i] != v) continue;
    vm->pins[i] = vm->pins[--vm->npins];
    vm->pins[vm->npins] = 0;
    return api_leave(vm, SXAPI_OK);
  }
  return api_leave(vm, api_fail(SXAPI_ERR_NOTFOUND, "sxapi_unpin", "the value is not pinned"));
}
