/* sx_api_int.h — what the libsx source files share: the VM handle and
 * task structures behind the opaque public types, and the entry checks
 * every public function makes (thread attached, VM open, VM not in use by
 * another thread) with the error reporting that goes with them. */
#ifndef SX_API_INT_H
#define SX_API_INT_H

#include "sx.h"

#include "sx_persist.h"
#include "sx_stdlib.h"
#include "sx_vm.h"

#include <stdatomic.h>

#define VM_MAGIC_OPEN 0x53584d31u   /* "SXM1" */
#define VM_MAGIC_CLOSED 0x53584d30u /* "SXM0" */
#define TASK_MAGIC 0x53585431u      /* "SXT1" */

typedef struct api_resolver api_resolver;

struct sxapi_vm {
  uint32_t magic;
  _Atomic uintptr_t owner; /* thread id (api_thread_id) inside a call, or 0 */
  unsigned depth;          /* nested calls by the owner */
  sx_vm *vm;               /* NULL once closed */
  sx_persist *persist;     /* the store, or NULL */
  char *store_dir;         /* as given (may hold a password) */
  char *store_label;       /* as messages show it (store_label) */
  api_resolver *resolvers; /* records behind the host's resolvers */
  sxapi_task *tasks;       /* live tasks (a doubly linked list) */
  sx_val *pins;            /* uncollectable GC memory: scanned, never freed by GC */
  size_t npins, pincap;
  bool async_commit;               /* tasks report SXAPI_SYNCING instead of waiting */
  sxapi_commit_check commit_check; /* asked before a commit, or NULL */
  void *commit_check_ud;
};

struct sxapi_task {
  uint32_t magic;
  sxapi_vm *vm; /* NULL once the VM handle is freed */
  sx_fiber *fiber;
  sxapi_code status;
  sx_val result, request;
  void *eval_state; /* the evaluation's store transaction while suspended */
  uint64_t ticket;  /* SXAPI_SYNCING: the commit it waits for */
  bool nested;
  sxapi_task *prev, *next;
};

/* ---- entry checks (sx_api.c) ------------------------------------------- */

/* Make a call on vm: checks that the thread is attached, vm is a VM
 * handle, not closed, and not in use by another thread. On success the
 * calling thread owns vm until api_leave. who names the public function
 * in messages. */
sxapi_code api_enter(sxapi_vm *vm, const char *who);
/* As api_enter but a closed VM is accepted (closing, freeing). */
sxapi_code api_enter_any(sxapi_vm *vm, const char *who);
/* End a call; returns rc. */
sxapi_code api_leave(sxapi_vm *vm, sxapi_code rc);
/* True if the calling thread may use libsx (initialising it if needed). */
bool api_thread_ok(const char *who);
/* The VM is running an evaluation (we are inside a C function or resolver). */
static inline bool api_evaluating(sxapi_vm *vm) { return vm->vm && vm->vm->current != NULL; }

#define API_ENTER(vm, who)                                                                                   \
  do {                                                                                                       \
    sxapi_code enter_rc_ = api_enter(vm, who);                                                               \
    if (enter_rc_ != SXAPI_OK) return enter_rc_;                                                             \
  } while (0)

#define API_ENTER_V(vm, who)                                                                                 \
  do {                                                                                                       \
    if (api_enter(vm, who) != SXAPI_OK) return SX_NIL;                                                       \
  } while (0)

/* ---- errors (sx_api.c) --------------------------------------------------- */

/* Record "who: message" as the thread's error message; returns code. */
sxapi_code api_fail(sxapi_code code, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record an SX error value's message and position; returns code. */
sxapi_code api_fail_value(sxapi_code code, sx_val err);
/* "expected WHAT, got PRINTED" as SXAPI_ERR_TYPE. */
sxapi_code api_type_error(const char *who, const char *what, sx_val got);
/* The thread's last message (never NULL), and forgetting it (before a
 * host callback runs, so a failure it does not explain is recognised). */
const char *api_last_message(void);
void api_clear_message(void);

/* ---- shared helpers --------------------------------------------------------- */

/* Read every form of src: SXAPI_OK with *forms, or SXAPI_ERR_SYNTAX /
 * SXAPI_ERR_INCOMPLETE with *err an error value. */
sxapi_code api_read_forms(const char *src, size_t len, sx_val file, sx_val *forms, sx_val *err);
/* Remove the kernel resolver entries whose ud is ud (and their prefixes). */
void api_drop_resolvers_with(sx_vm *vm, void *ud);
/* Release the host resolver records (sx_api_eval.c). */
void api_free_resolver_records(sxapi_vm *vm);
/* Close the store, if any (sx_api_store.c). */
sxapi_code api_store_close(sxapi_vm *vm, const char *who);

/* ---- running fibers (sx_api_eval.c) ---------------------------------------- */

/* A fiber for a new evaluation; *nested when started inside another (a
 * top-level start forgets an interrupt that arrived while idle). */
sx_fiber *api_new_fiber(sxapi_vm *vm, bool *nested);
/* Run f to its end (an op no resolver owns is an error) and conclude it:
 * commit or roll back unless nested; *out (may be NULL) the value or error. */
sxapi_code api_complete(sxapi_vm *vm, sx_fiber *f, bool nested, sxapi_value *out);
/* Run f as a new task (*task) until it finishes, fails or suspends. */
sxapi_code api_begin(sxapi_vm *vm, sx_fiber *f, bool nested, sxapi_task **task);
/* End the running top-level evaluation (status st, value or error *v):
 * commit or roll back its store transaction. With wait the commit is
 * durable on return; otherwise *ticket (when not 0) is what to wait for.
 * A failed commit replaces *v and gives SX_ERROR; *code gets the code the
 * evaluation ends with (SXAPI_OK, SXAPI_ERR_EVAL, SXAPI_ERR_CONFLICT). */
sx_status api_end_evaluation(sxapi_vm *vm, sx_status st, sx_val *v, bool wait, uint64_t *ticket,
                             sxapi_code *code);

#endif
