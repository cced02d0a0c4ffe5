/* sx.h — libsx, the embedding API of the SX kernel.
 *
 * This is the one header a host program includes to run SX: create VMs,
 * evaluate code, exchange values, define C functions callable from SX,
 * service IO requests (`perform`), suspend and resume evaluations, and keep
 * a durable persist store. Nothing else of the kernel is visible to hosts.
 * Link with `pkg-config --cflags --libs sx`. The guide is docs/embedding.md.
 *
 * Naming. Every public name starts with sxapi_ (functions and types) or
 * SXAPI_ (constants); the kernel's own names (sx_...) are private and may
 * change at any time.
 *
 * Return codes. Functions that can fail return an sxapi_code: SXAPI_OK (0),
 * SXAPI_SUSPENDED (1, an evaluation stopped at a perform) or a negative
 * SXAPI_ERR_* code. After a failure, sxapi_errmsg() holds a sentence
 * describing it. Misuse (a NULL or closed VM, a finished task, a value of
 * the wrong type, a call from a thread that is not attached) is reported
 * the same way; it never crashes the process.
 *
 * Values. An sxapi_value is one machine word naming an SX value. SX
 * values are immutable and live on a garbage-collected heap: a value stays
 * alive while the collector can see it. It can see the stacks and registers
 * of attached threads and the static data of the program and its libraries,
 * and values reachable from other SX values. It cannot see memory the host
 * got from malloc: a value whose only copy is stored there must be pinned
 * (sxapi_pin) until the host drops it. Values are not tied to the VM that
 * made them; they may be passed between VMs.
 *
 * Strings. SX strings are byte strings (usually UTF-8) that may contain
 * NUL bytes; the bytes sxapi_to_string returns are always followed by a NUL
 * not counted in the length. A `const char *` this API returns points into
 * a value (or the VM) and stays valid while the value is alive.
 *
 * Threads.
 *  1. The first call into libsx (normally sxapi_open) initialises it; make
 *     it from the program's main thread, or from a thread that outlives
 *     every other thread using libsx.
 *  2. Every other thread calls sxapi_thread_attach before its first call
 *     and sxapi_thread_detach before it exits. A call from a thread that is
 *     not attached returns SXAPI_ERR_THREAD (functions returning a value
 *     return nil).
 *  3. A VM is used by one thread at a time. A call on a VM while another
 *     thread is inside a call on the same VM returns SXAPI_ERR_BUSY. Calls
 *     made on the same thread from inside a C function or resolver the VM
 *     is running are allowed (they nest). A VM and its tasks may move to
 *     another attached thread between calls.
 *  4. Different VMs may run at the same time on different threads, each
 *     with its own store.
 *  5. sxapi_interrupt may be called at any time from any thread or from a
 *     signal handler.
 */
#ifndef SXAPI_SX_H
#define SXAPI_SX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SXAPI_EXPORT __attribute__((visibility("default")))
#else
#define SXAPI_EXPORT
#endif

/* ======================================================================
 * Codes, versions, errors
 * ====================================================================== */

typedef enum sxapi_code {
  SXAPI_OK = 0,              /* success; an evaluation finished */
  SXAPI_SUSPENDED = 1,       /* an evaluation stopped at a perform that no
                                resolver owns: see sxapi_task_request */
  SXAPI_SYNCING = 2,         /* a task finished and committed; its commit
                                is not yet durable (sxapi_set_async_commit) */
  SXAPI_ERR_EVAL = -1,       /* the evaluation raised an error (an error
                                value describes it: sxapi_error_info) */
  SXAPI_ERR_SYNTAX = -2,     /* source text does not read */
  SXAPI_ERR_INCOMPLETE = -3, /* source text ended inside a form */
  SXAPI_ERR_ARG = -4,        /* a bad argument: NULL, out of range, ... */
  SXAPI_ERR_TYPE = -5,       /* a value of the wrong type */
  SXAPI_ERR_NOTFOUND = -6,   /* no such global, key, element, blob, ... */
  SXAPI_ERR_CLOSED = -7,     /* the VM has been closed */
  SXAPI_ERR_STATE = -8,      /* the call does not fit the object's state
                                (resuming a task that is not suspended,
                                closing a VM that is evaluating, ...) */
  SXAPI_ERR_BUSY = -9,       /* another thread is using this VM */
  SXAPI_ERR_THREAD = -10,    /* this thread is not attached */
  SXAPI_ERR_IO = -11,        /* a file cannot be found or read */
  SXAPI_ERR_STORE = -12,     /* the store failed or reported damage */
  SXAPI_ERR_CONFLICT = -13   /* the evaluation read something another
                                evaluation's commit changed since: nothing
                                of it was stored; run it again */
} sxapi_code;

/* A handle naming an SX value (see "Values" above and below). */
typedef uintptr_t sxapi_value;

/* The library version, "MAJOR.MINOR.PATCH". */
SXAPI_EXPORT const char *sxapi_version(void);
/* The constant's name, e.g. "SXAPI_ERR_TYPE"; "SXAPI_?" for other numbers. */
SXAPI_EXPORT const char *sxapi_code_name(sxapi_code code);

/* ======================================================================
 * Threads (see the rules at the top)
 * ====================================================================== */

/* Make the calling thread able to use libsx. Idempotent. */
SXAPI_EXPORT sxapi_code sxapi_thread_attach(void);
/* Undo sxapi_thread_attach before the thread exits. Values on this
 * thread's stack are no longer seen by the collector afterwards. Detaching
 * the thread that initialised libsx does nothing. */
SXAPI_EXPORT sxapi_code sxapi_thread_detach(void);

/* ======================================================================
 * VMs
 * ====================================================================== */

/* A VM: global bindings, the load path, C functions, resolvers and at most
 * one store. VMs are independent of each other. */
typedef struct sxapi_vm sxapi_vm;

/* A new VM with the standard library defined. Its load path starts with
 * the directories of the SX_PATH environment variable (colon-separated);
 * after the load path, `load` looks in the installed library directory
 * (PREFIX/share/sx). print and display write to stdout. NULL when
 * libsx cannot be initialised or the thread is not attached. */
SXAPI_EXPORT sxapi_vm *sxapi_open(void);

/* Close the VM: close its store (committed writes are flushed; writes of
 * an unfinished evaluation are rolled back) and release everything the VM
 * holds except the handle itself, which stays valid so that any later call
 * with it returns SXAPI_ERR_CLOSED. Closing a closed VM returns SXAPI_OK.
 * Returns SXAPI_ERR_STORE when closing the store failed (the VM is closed
 * anyway) and SXAPI_ERR_STATE when called while the VM is evaluating (from
 * a C function or resolver): nothing is closed then. */
SXAPI_EXPORT sxapi_code sxapi_close(sxapi_vm *vm);

/* Close the VM if it is open and release the handle; the pointer is
 * invalid afterwards. Tasks of the VM stay valid (and report
 * SXAPI_ERR_CLOSED) until freed. SXAPI_ERR_STATE, and nothing released,
 * when called while the VM is evaluating. NULL is ignored. */
SXAPI_EXPORT sxapi_code sxapi_free(sxapi_vm *vm);

/* The message of the last call that failed on the calling thread ("" if
 * none has), like errno: read it right after the failing call. It stays
 * valid until the thread's next failing call. */
SXAPI_EXPORT const char *sxapi_errmsg(void);

/* Where print, display and friends write (stdout by default). */
SXAPI_EXPORT sxapi_code sxapi_set_output(sxapi_vm *vm, FILE *out);

/* Ask the running evaluation to stop: it raises the error "interrupted"
 * at its next function call, which unwinds to the host (guards let it
 * through; dynamic-wind after thunks run). Async-signal-safe; may be called
 * from any thread. A request made while nothing runs is forgotten when the
 * next top-level evaluation starts. */
SXAPI_EXPORT void sxapi_interrupt(sxapi_vm *vm);

/* ======================================================================
 * The load path
 * ====================================================================== */

/* Append dir to the load path. */
SXAPI_EXPORT sxapi_code sxapi_add_path(sxapi_vm *vm, const char *dir);
/* Replace the load path with the directories of a colon-separated list
 * ("" empties it). */
SXAPI_EXPORT sxapi_code sxapi_set_path(sxapi_vm *vm, const char *dirs);
/* Where `load` would find path: *found gets the file name as a string.
 * SXAPI_ERR_NOTFOUND when it would not find it. Search order: the path
 * as given (absolute, or relative to the working directory), each load
 * path directory, the installed library directory. */
SXAPI_EXPORT sxapi_code sxapi_find_file(sxapi_vm *vm, const char *path, sxapi_value *found);

/* ======================================================================
 * Values
 * ====================================================================== */

typedef enum sxapi_type {
  SXAPI_TNIL,
  SXAPI_TBOOL,
  SXAPI_TINT,   /* 64-bit signed integer */
  SXAPI_TFLOAT, /* IEEE double */
  SXAPI_TSTRING,
  SXAPI_TSYMBOL,
  SXAPI_TKEYWORD,
  SXAPI_TLIST,     /* a proper list; () is the empty list */
  SXAPI_TDICT,     /* string keys, iterated in key byte order */
  SXAPI_TFUNCTION, /* closures and C functions: sxapi_call applies them */
  SXAPI_TERROR,    /* an error value: sxapi_error_info */
  SXAPI_TOTHER     /* macros, continuations, internal objects */
} sxapi_type;

SXAPI_EXPORT sxapi_type sxapi_typeof(sxapi_value v);
/* "nil", "boolean", "integer", "float", "string", "symbol", "keyword",
 * "list", "dict", "function", "error", "other". */
SXAPI_EXPORT const char *sxapi_type_name(sxapi_type t);
/* Everything but nil and false is true. */
SXAPI_EXPORT bool sxapi_truthy(sxapi_value v);
/* Deep structural equality, as SX's equal?. */
SXAPI_EXPORT bool sxapi_equal(sxapi_vm *vm, sxapi_value a, sxapi_value b);

/* ---- making values ----------------------------------------------------
 * Constructors return nil (and set sxapi_errmsg()) on misuse: a NULL or
 * closed VM, a NULL pointer argument. */
SXAPI_EXPORT sxapi_value sxapi_nil(void);
SXAPI_EXPORT sxapi_value sxapi_bool(bool b);
SXAPI_EXPORT sxapi_value sxapi_int(sxapi_vm *vm, int64_t i);
SXAPI_EXPORT sxapi_value sxapi_float(sxapi_vm *vm, double d);
/* A string of len bytes copied from bytes (NULL allowed when len is 0). */
SXAPI_EXPORT sxapi_value sxapi_string(sxapi_vm *vm, const char *bytes, size_t len);
/* A string copied from a NUL-terminated C string. */
SXAPI_EXPORT sxapi_value sxapi_cstring(sxapi_vm *vm, const char *s);
/* The symbol and the keyword named name (without a leading ':'). */
SXAPI_EXPORT sxapi_value sxapi_symbol(sxapi_vm *vm, const char *name);
SXAPI_EXPORT sxapi_value sxapi_keyword(sxapi_vm *vm, const char *name);
/* The list (items[0] ... items[n-1]); items may be NULL when n is 0. */
SXAPI_EXPORT sxapi_value sxapi_list(sxapi_vm *vm, size_t n, const sxapi_value *items);
/* The empty dict. */
SXAPI_EXPORT sxapi_value sxapi_dict(sxapi_vm *vm);
/* An error value with this message, as (error message) makes. */
SXAPI_EXPORT sxapi_value sxapi_error(sxapi_vm *vm, const char *message);

/* Dicts are immutable: these give a new dict (*out) and leave dict as it
 * was. Keys are strings given as NUL-terminated C strings. */
SXAPI_EXPORT sxapi_code sxapi_dict_set(sxapi_vm *vm, sxapi_value dict, const char *key, sxapi_value val,
                                       sxapi_value *out);
SXAPI_EXPORT sxapi_code sxapi_dict_remove(sxapi_vm *vm, sxapi_value dict, const char *key, sxapi_value *out);

/* ---- reading values ---------------------------------------------------
 * Each returns SXAPI_ERR_TYPE (with a message naming what it got) when v
 * is not of the expected type; *out is unchanged then. */
SXAPI_EXPORT sxapi_code sxapi_to_bool(sxapi_vm *vm, sxapi_value v, bool *out); /* true/false only */
SXAPI_EXPORT sxapi_code sxapi_to_int(sxapi_vm *vm, sxapi_value v, int64_t *out);
/* Floats, and integers converted to the nearest double. */
SXAPI_EXPORT sxapi_code sxapi_to_float(sxapi_vm *vm, sxapi_value v, double *out);
/* A string's bytes; len may be NULL. */
SXAPI_EXPORT sxapi_code sxapi_to_string(sxapi_vm *vm, sxapi_value v, const char **bytes, size_t *len);
/* A symbol's or keyword's name (a keyword's without the ':'). */
SXAPI_EXPORT sxapi_code sxapi_to_name(sxapi_vm *vm, sxapi_value v, const char **name);

/* Lists (nil counts as the empty list). */
SXAPI_EXPORT sxapi_code sxapi_list_length(sxapi_vm *vm, sxapi_value list, size_t *out);
/* Element i (from 0); SXAPI_ERR_NOTFOUND when i >= the length. */
SXAPI_EXPORT sxapi_code sxapi_list_get(sxapi_vm *vm, sxapi_value list, size_t i, sxapi_value *out);

/* Dicts. sxapi_dict_get: SXAPI_ERR_NOTFOUND when key is absent. */
SXAPI_EXPORT sxapi_code sxapi_dict_count(sxapi_vm *vm, sxapi_value dict, size_t *out);
SXAPI_EXPORT sxapi_code sxapi_dict_get(sxapi_vm *vm, sxapi_value dict, const char *key, sxapi_value *out);

/* Iterating a list or a dict:
 *
 *   sxapi_iter it;
 *   sxapi_value k, v;
 *   if (sxapi_iter_init(vm, coll, &it) == SXAPI_OK)
 *     while (sxapi_iter_next(&it, &k, &v)) ...
 *
 * A dict gives its entries in key byte order, k being the key string; a
 * list gives its elements in order, k being the index (an integer). key
 * may be NULL. The iterator holds values: keep it on the stack (or pin the
 * collection). */
typedef struct sxapi_iter {
  uintptr_t priv[5];
} sxapi_iter;
SXAPI_EXPORT sxapi_code sxapi_iter_init(sxapi_vm *vm, sxapi_value coll, sxapi_iter *it);
SXAPI_EXPORT bool sxapi_iter_next(sxapi_iter *it, sxapi_value *key, sxapi_value *val);

/* Error values. For an error value: its message; where it was raised as
 * "file:line:col" (NULL when unknown); its SX backtrace as a list of
 * strings, innermost call first (possibly empty); and the value given to
 * (raise v) (nil for errors made by (error ...)). Any other value v is
 * described as if raised: message = its printed form, payload = v. */
typedef struct sxapi_error_info {
  const char *message;
  const char *where;
  sxapi_value backtrace;
  sxapi_value payload;
} sxapi_error_info;
SXAPI_EXPORT sxapi_code sxapi_error_info_of(sxapi_vm *vm, sxapi_value err, sxapi_error_info *out);
/* An error's text as the sx tools show it (*text, a string): the message,
 * then " (at FILE:LINE:COL)" when the error knows where it was raised and
 * the message does not already start there. With backtrace, each frame of
 * the SX backtrace follows on a line of its own, indented by two spaces
 * (no newline at the end). Any other value is described as if raised. */
SXAPI_EXPORT sxapi_code sxapi_error_text(sxapi_vm *vm, sxapi_value err, bool backtrace, sxapi_value *text);

/* ---- text --------------------------------------------------------------- */

/* The readable printed form of v as a string (*text): what the REPL and
 * the server show. Reading it back gives an equal value for data. */
SXAPI_EXPORT sxapi_code sxapi_print(sxapi_vm *vm, sxapi_value v, sxapi_value *text);
/* How the printer writes the dict key key (a string) in a dict: ":name"
 * for a plain identifier, else the quoted string. */
SXAPI_EXPORT sxapi_code sxapi_print_key(sxapi_vm *vm, sxapi_value key, sxapi_value *text);
/* What (str v) gives: strings without quotes, nil as "". */
SXAPI_EXPORT sxapi_code sxapi_display(sxapi_vm *vm, sxapi_value v, sxapi_value *text);
/* Read every form of src[0..len) into a list (*forms). On failure *forms
 * gets an error value whose message names file:line:col (name, or
 * "<input>" when name is NULL), and the code is SXAPI_ERR_INCOMPLETE when
 * the text merely ended inside a form (a REPL reads another line), else
 * SXAPI_ERR_SYNTAX. */
SXAPI_EXPORT sxapi_code sxapi_read(sxapi_vm *vm, const char *src, size_t len, const char *name,
                                   sxapi_value *forms);
/* sxapi_read with line numbers starting at first_line (>= 1) instead of 1,
 * for an entry that continues a script or session. */
SXAPI_EXPORT sxapi_code sxapi_read_at(sxapi_vm *vm, const char *src, size_t len, const char *name,
                                      uint32_t first_line, sxapi_value *forms);
/* The forms of a file found on the load path (searched as sxapi_find_file
 * does), read as (load path) reads them: positions name path as given.
 * On failure *forms gets an error value: SXAPI_ERR_IO ("load: cannot find
 * PATH ...", "load: cannot read PATH"), SXAPI_ERR_SYNTAX or
 * SXAPI_ERR_INCOMPLETE. */
SXAPI_EXPORT sxapi_code sxapi_read_file(sxapi_vm *vm, const char *path, sxapi_value *forms);

/* ---- keeping values alive -------------------------------------------------
 * Pin v so the collector keeps it (and everything it refers to) while its
 * only copy is in memory the collector cannot see. Pins are counted: each
 * sxapi_pin needs one sxapi_unpin (SXAPI_ERR_NOTFOUND when v is not
 * pinned). Closing the VM drops its pins. */
SXAPI_EXPORT sxapi_code sxapi_pin(sxapi_vm *vm, sxapi_value v);
SXAPI_EXPORT sxapi_code sxapi_unpin(sxapi_vm *vm, sxapi_value v);

/* ======================================================================
 * Globals and C functions
 * ====================================================================== */

SXAPI_EXPORT sxapi_code sxapi_define(sxapi_vm *vm, const char *name, sxapi_value v);
/* The global's value; SXAPI_ERR_NOTFOUND when it is unbound. */
SXAPI_EXPORT sxapi_code sxapi_global(sxapi_vm *vm, const char *name, sxapi_value *out);
/* The names of the bound globals as a list of strings in byte order. */
SXAPI_EXPORT sxapi_code sxapi_globals(sxapi_vm *vm, sxapi_value *names);

/* A C function callable from SX. argv holds argc values (argc is within
 * the declared arity: SX reports arity errors itself). Return SXAPI_OK with
 * *result set (nil if left alone), or any error code to raise an error in
 * SX: *result may be set to an error value or a message string to raise;
 * otherwise the error is "NAME: " followed by sxapi_errmsg() (so a
 * failed sxapi_to_int on an argument explains itself). A C function may
 * call back into the VM (sxapi_call, sxapi_eval, ...); such nested
 * evaluations cannot suspend. It must not close or free the VM. */
typedef sxapi_code (*sxapi_function)(sxapi_vm *vm, int argc, const sxapi_value *argv, sxapi_value *result,
                                     void *ud);

/* A function value named name taking min_args to max_args arguments
 * (max_args -1: any number; both at most 32767). */
SXAPI_EXPORT sxapi_code sxapi_new_function(sxapi_vm *vm, const char *name, int min_args, int max_args,
                                           sxapi_function fn, void *ud, sxapi_value *out);
/* sxapi_new_function, then define it as the global name. */
SXAPI_EXPORT sxapi_code sxapi_define_function(sxapi_vm *vm, const char *name, int min_args, int max_args,
                                              sxapi_function fn, void *ud);

/* ======================================================================
 * Evaluating to completion
 * ======================================================================
 * Each of these is one top-level evaluation: when it ends, the store
 * writes it made are committed (if it succeeded) or rolled back (if it
 * failed). A perform that no resolver owns is an error here ("perform: no
 * resolver for op OP"); use tasks (below) to service it in the host.
 * Results: SXAPI_OK with *out the value of the last form; SXAPI_ERR_EVAL
 * with *out the error value; SXAPI_ERR_SYNTAX or SXAPI_ERR_INCOMPLETE with
 * *out an error value when the text does not read; SXAPI_ERR_IO when a
 * file cannot be found or read. out may be NULL. */

/* Evaluate the forms of a NUL-terminated string, named "<eval>". */
SXAPI_EXPORT sxapi_code sxapi_eval(sxapi_vm *vm, const char *src, sxapi_value *out);
/* Evaluate src[0..len); name appears in positions (NULL: "<eval>"). */
SXAPI_EXPORT sxapi_code sxapi_eval_buffer(sxapi_vm *vm, const char *src, size_t len, const char *name,
                                          sxapi_value *out);
/* Evaluate the forms of a file found on the load path. */
SXAPI_EXPORT sxapi_code sxapi_load(sxapi_vm *vm, const char *path, sxapi_value *out);
/* Apply fn (SXAPI_ERR_TYPE unless it is a function) to argc arguments. */
SXAPI_EXPORT sxapi_code sxapi_call(sxapi_vm *vm, sxapi_value fn, int argc, const sxapi_value *argv,
                                   sxapi_value *out);
/* Evaluate one form (as sxapi_read gives it) as a top-level evaluation:
 * its store writes commit when it succeeds and roll back when it fails or
 * is interrupted. Results as sxapi_eval. */
SXAPI_EXPORT sxapi_code sxapi_eval_form(sxapi_vm *vm, sxapi_value form, sxapi_value *out);
/* Load a file found on the load path, each form a top-level evaluation of
 * its own (committed as it ends); stops at the first failing form, whose
 * writes roll back. SXAPI_ERR_EVAL with *out an error value also when the
 * file cannot be found, read or parsed. */
SXAPI_EXPORT sxapi_code sxapi_load_each(sxapi_vm *vm, const char *path, sxapi_value *out);
/* Evaluate forms (a list, as sxapi_read or sxapi_read_file give it) one
 * after another as one top-level evaluation; name (NULL: "<eval>") names
 * the source. Results as sxapi_eval_buffer; SXAPI_ERR_TYPE when forms is
 * not a list. */
SXAPI_EXPORT sxapi_code sxapi_eval_forms(sxapi_vm *vm, sxapi_value forms, const char *name, sxapi_value *out);

/* ======================================================================
 * Tasks: evaluations that can suspend
 * ======================================================================
 * A task is one top-level evaluation whose state the host holds. Starting
 * it runs it until it finishes (SXAPI_OK), fails (SXAPI_ERR_EVAL), or
 * performs a request that no resolver owns (SXAPI_SUSPENDED). A suspended
 * task waits, holding its whole state, until the host resumes it (later,
 * from any stack frame, after its own asynchronous IO) with a value, which
 * becomes the value of the perform, or with an error, which is raised at
 * the perform. Store writes commit when the task finishes.
 *
 * The start functions return the task's status and set *task, or return
 * another code (SXAPI_ERR_SYNTAX, SXAPI_ERR_INCOMPLETE, SXAPI_ERR_IO, or a
 * misuse code) with *task NULL. Free every task with sxapi_task_free.
 *
 * Transactions. Every top-level evaluation — each task, each sxapi_eval,
 * sxapi_load, sxapi_call, each form of sxapi_load_each — has its own store
 * transaction: its reads see the committed state plus its own writes,
 * never another unfinished evaluation's. When it finishes it commits all
 * or nothing; when it fails or is abandoned only its own writes are
 * dropped. Isolation is serializable (optimistic concurrency control): a
 * commit whose reads another evaluation's commit has changed since fails
 * with SXAPI_ERR_CONFLICT, an error value whose message starts
 * "conflict: ", and stores nothing; run the evaluation again. Evaluations
 * of different VMs sharing a store (one handle per directory per process)
 * interleave and commit the same way, and commits ready together share one
 * fdatasync (group commit).
 *
 * Durability. By default a finishing task (like every other evaluation)
 * returns only once its commit is durable per the sync mode. An event-loop
 * host that wants to run other tasks meanwhile calls
 * sxapi_set_async_commit(vm, true): a task that finished and committed then
 * reports SXAPI_SYNCING until its commit is durable; sxapi_task_status
 * polls without blocking (SXAPI_SYNCING, then SXAPI_OK, or SXAPI_ERR_EVAL
 * when the sync failed and the commit was undone), sxapi_task_wait blocks,
 * and sxapi_store_durable_fd gives a descriptor to put in the host's poll
 * set. Acknowledge the task's work (answer its client) only after
 * SXAPI_OK.
 *
 * A task started from inside a C function or resolver runs nested: it
 * cannot suspend (an unowned op is an error) and it is not a top-level
 * evaluation (it belongs to the running evaluation's transaction). */
typedef struct sxapi_task sxapi_task;

SXAPI_EXPORT sxapi_code sxapi_begin(sxapi_vm *vm, const char *src, size_t len, const char *name,
                                    sxapi_task **task);
SXAPI_EXPORT sxapi_code sxapi_begin_load(sxapi_vm *vm, const char *path, sxapi_task **task);
SXAPI_EXPORT sxapi_code sxapi_begin_call(sxapi_vm *vm, sxapi_value fn, int argc, const sxapi_value *argv,
                                         sxapi_task **task);
/* The same as a task that can suspend (see sxapi_begin). */
SXAPI_EXPORT sxapi_code sxapi_begin_forms(sxapi_vm *vm, sxapi_value forms, const char *name,
                                          sxapi_task **task);

/* Continue a suspended task: the perform returns value. Returns the task's
 * new status, or SXAPI_ERR_STATE when the task is not suspended (it
 * finished, failed, or is running) or the call comes from inside an
 * evaluation of its VM, SXAPI_ERR_CLOSED when its VM is closed. */
SXAPI_EXPORT sxapi_code sxapi_resume(sxapi_task *task, sxapi_value value);
/* Continue a suspended task by raising err at the perform: an error
 * value, a string (the message of a new error), or any value to raise. */
SXAPI_EXPORT sxapi_code sxapi_resume_error(sxapi_task *task, sxapi_value err);

/* SXAPI_OK (finished), SXAPI_SUSPENDED, SXAPI_SYNCING (finished, commit
 * not yet durable; this call polls it), SXAPI_ERR_EVAL (failed) or
 * SXAPI_ERR_CONFLICT (its commit lost a race: nothing stored);
 * SXAPI_ERR_STATE while it runs (asked from its own C function);
 * SXAPI_ERR_ARG for NULL. */
SXAPI_EXPORT sxapi_code sxapi_task_status(const sxapi_task *task);
/* As sxapi_task_status, but a SXAPI_SYNCING task is waited for. */
SXAPI_EXPORT sxapi_code sxapi_task_wait(sxapi_task *task);
/* With on, a finishing task does not wait for its commit to be durable: it
 * reports SXAPI_SYNCING (see "Durability" above). Off by default. */
SXAPI_EXPORT sxapi_code sxapi_set_async_commit(sxapi_vm *vm, bool on);
/* fn (NULL: none) is asked just before a top-level evaluation of vm
 * commits its writes; when it returns false they are rolled back instead
 * and the evaluation fails with "the evaluation was abandoned: ...". A
 * server uses it to drop the work of a client that went away. */
typedef bool (*sxapi_commit_check)(sxapi_vm *vm, void *ud);
SXAPI_EXPORT sxapi_code sxapi_set_commit_check(sxapi_vm *vm, sxapi_commit_check fn, void *ud);
/* Tell vm that input has just arrived: every evaluation started on vm
 * from now until the next call evaluates a request that was received in
 * full by now. A host that reads requests calls it after every read that
 * returned bytes (sx server does). A PostgreSQL store then answers such
 * an evaluation from what it learnt from the database after this call,
 * without asking again: the evaluation still sees every commit that
 * finished before its request was in (docs/postgres.md, "Freshness").
 * Without it every evaluation asks the database on its first read of a
 * stream or key. */
SXAPI_EXPORT sxapi_code sxapi_note_input(sxapi_vm *vm);
/* Finished: the value; failed: the error value; otherwise nil. */
SXAPI_EXPORT sxapi_value sxapi_task_result(const sxapi_task *task);
/* Suspended: the performed request (by convention a dict
 * {:op "name" :args (...)}); otherwise nil. */
SXAPI_EXPORT sxapi_value sxapi_task_request(const sxapi_task *task);
/* Suspended on a dict request with a string :op: that op; otherwise NULL. */
SXAPI_EXPORT const char *sxapi_task_op(const sxapi_task *task);
/* Suspended on a dict request: its :args (the empty list if absent). */
SXAPI_EXPORT sxapi_value sxapi_task_args(const sxapi_task *task);
/* The task's VM (possibly closed). */
SXAPI_EXPORT sxapi_vm *sxapi_task_vm(const sxapi_task *task);
/* Release the task. A suspended task is abandoned: its own uncommitted
 * store writes are rolled back (other tasks' are untouched). NULL is ignored. SXAPI_ERR_STATE when
 * the task is running (freed from its own C function). */
SXAPI_EXPORT sxapi_code sxapi_task_free(sxapi_task *task);

/* ======================================================================
 * IO resolvers
 * ======================================================================
 * A resolver services, inside the process, every request whose :op starts
 * with its prefix (the longest matching prefix wins): it runs when the
 * perform happens and the evaluation continues with its answer, without
 * suspending. op is the request's :op, args its :args (a list). Return
 * SXAPI_OK with *result the value of the perform, or an error code with
 * *result an error value or message string to raise at the perform (a
 * message from sxapi_errmsg() otherwise). The store's resolvers own
 * "persist/" and "blob/". */
typedef sxapi_code (*sxapi_resolver)(sxapi_vm *vm, const char *op, sxapi_value args, sxapi_value request,
                                     sxapi_value *result, void *ud);

/* Register fn for prefix, replacing any resolver with the same prefix. */
SXAPI_EXPORT sxapi_code sxapi_add_resolver(sxapi_vm *vm, const char *prefix, sxapi_resolver fn, void *ud);
/* SXAPI_ERR_NOTFOUND when no resolver has exactly this prefix. */
SXAPI_EXPORT sxapi_code sxapi_remove_resolver(sxapi_vm *vm, const char *prefix);

/* ======================================================================
 * The durable store
 * ======================================================================
 * A VM may have one store: a directory holding per-stream event logs, a
 * key/value facet and content-addressed blobs (docs/store-format.md,
 * docs/durability.md). Opening it registers the resolvers for "persist/"
 * and "blob/" ops (what lib/persist/durable.sx and blob.sx perform).
 * One process may write a store at a time; a second writer process gets
 * SXAPI_ERR_STORE naming the owner's pid. Inside one process, VMs that
 * open the same directory for writing share one store (their sync modes
 * must agree), so many VMs on many threads serve one store, each
 * evaluation in its own transaction. Read-only opens take no lock and
 * see the writer's commits after sxapi_store_refresh. */
typedef enum sxapi_sync {
  SXAPI_SYNC_FULL = 0, /* a commit is on disk (fdatasync) before the
                          evaluation returns: survives power loss */
  SXAPI_SYNC_BATCH,    /* commits are synced within batch_window_ms */
  SXAPI_SYNC_OFF       /* buffered in the process (<= 64 KiB); no fsync */
} sxapi_sync;

typedef struct sxapi_store_options {
  sxapi_sync sync;          /* default SXAPI_SYNC_FULL */
  bool read_only;           /* inspect a store another process may write */
  bool lazy;                /* open on the first persist/blob request, so a
                               program that never uses it creates nothing */
  unsigned batch_window_ms; /* SXAPI_SYNC_BATCH; 0 = 10 ms */
  size_t cache_bytes;       /* decoded-value cache budget; 0 = 64 MiB */
} sxapi_store_options;

/* Open (creating dir on first writable use). opts NULL: the defaults
 * (all fields zero). SXAPI_ERR_STATE when the VM already has a store. */
SXAPI_EXPORT sxapi_code sxapi_store_open(sxapi_vm *vm, const char *dir, const sxapi_store_options *opts);
/* Write and sync commits that batch/off modes still buffer. */
SXAPI_EXPORT sxapi_code sxapi_store_flush(sxapi_vm *vm);
/* *fd: a descriptor that becomes readable whenever commits become durable
 * (read 8 bytes from it to re-arm), for hosts using
 * sxapi_set_async_commit; a background thread then makes commits durable
 * that nobody waits for. */
SXAPI_EXPORT sxapi_code sxapi_store_durable_fd(sxapi_vm *vm, int *fd);
/* Flush and close the store; its resolvers go. Writes of an unfinished
 * evaluation are rolled back. SXAPI_ERR_STATE when there is no store or
 * the VM is evaluating. */
SXAPI_EXPORT sxapi_code sxapi_store_close(sxapi_vm *vm);
/* Read-only stores: pick up what the writer committed since. */
SXAPI_EXPORT sxapi_code sxapi_store_refresh(sxapi_vm *vm);

typedef struct sxapi_store_stats {
  size_t streams;     /* streams ever appended to */
  size_t events;      /* events stored (after truncation) */
  size_t kv_keys;     /* live kv keys */
  uint64_t log_bytes; /* size of the log */
  size_t index_bytes; /* memory held by the index */
  size_t cache_bytes; /* memory held by the decoded-value cache */
  sxapi_sync sync;
  bool read_only;
  uint64_t round_trips; /* requests sent to the database since open (PostgreSQL; 0 for a directory) */
} sxapi_store_stats;
SXAPI_EXPORT sxapi_code sxapi_store_stats_of(sxapi_vm *vm, sxapi_store_stats *out);
/* The directory the store was opened on. NULL without a store. */
SXAPI_EXPORT const char *sxapi_store_dir(sxapi_vm *vm);
/* The store's name as messages should show it: the directory, or a
 * PostgreSQL URL without its password. NULL without a store. */
SXAPI_EXPORT const char *sxapi_store_label(sxapi_vm *vm);
/* The same for any store name (a directory or a URL), for messages about
 * stores the VM has not opened: malloc'd (free it); NULL for NULL. */
SXAPI_EXPORT char *sxapi_store_name_label(const char *name);
/* Does name select the PostgreSQL store (a postgresql:// or postgres://
 * URL) rather than a directory? false for NULL. */
SXAPI_EXPORT bool sxapi_store_name_is_url(const char *name);
/* Process-wide: fn hears what the library must tell that is not the
 * result of a call — a writable open that discarded bytes of a log (a torn
 * tail, or damage), a store that could not be closed cleanly at exit. The
 * library never writes to stderr itself: without a hook these are not
 * reported. The sx tools print them as "sx: warning: MSG". fn NULL: no hook. Set it
 * before opening stores; it may be called from any thread. */
typedef void (*sxapi_warning_fn)(const char *msg, void *ctx);
SXAPI_EXPORT void sxapi_set_warning_hook(sxapi_warning_fn fn, void *ctx);

/* Inspection. Reads see the committed state (not the writes of a task
 * that has not finished). Stream names and keys are NUL-terminated C
 * strings here. */
SXAPI_EXPORT sxapi_code sxapi_store_streams(sxapi_vm *vm, sxapi_value *names); /* byte order */
SXAPI_EXPORT sxapi_code sxapi_store_last_seq(sxapi_vm *vm, const char *stream, int64_t *out);
/* The surviving events of a stream, oldest first (a list of dicts). */
SXAPI_EXPORT sxapi_code sxapi_store_read(sxapi_vm *vm, const char *stream, sxapi_value *events);
SXAPI_EXPORT sxapi_code sxapi_store_kv_keys(sxapi_vm *vm, sxapi_value *keys); /* byte order */
/* SXAPI_ERR_NOTFOUND when the key is absent. */
SXAPI_EXPORT sxapi_code sxapi_store_kv_get(sxapi_vm *vm, const char *key, sxapi_value *out);
/* The ids of the stored blobs, sorted. */
SXAPI_EXPORT sxapi_code sxapi_store_blobs(sxapi_vm *vm, sxapi_value *cids);
/* A blob's bytes (verified against its id); SXAPI_ERR_NOTFOUND if absent. */
SXAPI_EXPORT sxapi_code sxapi_store_blob_get(sxapi_vm *vm, const char *cid, sxapi_value *bytes);
/* The size in bytes of a stored blob; SXAPI_ERR_NOTFOUND if absent. */
SXAPI_EXPORT sxapi_code sxapi_store_blob_size(sxapi_vm *vm, const char *cid, uint64_t *size);

/* Verify every frame and blob of the store in dir (which need not be the
 * VM's). *report (may be NULL) gets a readable report. SXAPI_OK: clean;
 * SXAPI_ERR_STORE: damage found (each line names a file and offset);
 * SXAPI_ERR_IO: the store cannot be read. */
SXAPI_EXPORT sxapi_code sxapi_store_check(sxapi_vm *vm, const char *dir, sxapi_value *report);

/* Compact the store in dir offline (which need not be the VM's, and must
 * not be open for writing anywhere: the writer lock is taken, so a held
 * lock gives SXAPI_ERR_STORE "store DIR is locked by pid N"). The log is
 * rewritten to hold only the current state — the stored events with their
 * seqs, every stream's high-water mark, the live kv entries — and swapped
 * in atomically; a failure or crash leaves the old log or the new one.
 * Blobs are untouched. out (may be NULL) gets the sizes and counts.
 * SXAPI_OK, or SXAPI_ERR_STORE with the reason in sxapi_errmsg(). */
typedef struct sxapi_store_compact_stats {
  uint64_t log_before;  /* bytes of log data before */
  uint64_t file_before; /* size of the log file before (with zero-filled space) */
  uint64_t log_after;   /* size of the compacted log */
  size_t streams;       /* streams kept (all of them) */
  size_t events;        /* events kept */
  size_t kv_keys;       /* live kv keys kept */
  size_t records;       /* records in the compacted log */
} sxapi_store_compact_stats;
SXAPI_EXPORT sxapi_code sxapi_store_compact(sxapi_vm *vm, const char *dir, sxapi_store_compact_stats *out);

/* Whole stores as text and copies (docs/tools.md). Each works on the
 * store in dir, which need not be the VM's.
 *
 * Dump: write the whole store to out as SX data, one record per line, in a
 * canonical order (so equal stores dump byte-identically): a {:sx-dump 1}
 * line; per stream in byte order {:stream NAME :last-seq N} and then one
 * {:stream NAME :event EVENT} per stored event, oldest first; each live kv
 * entry {:kv KEY :value V} in key order; each blob {:blob ID :bytes B} in
 * id order; an {:end {...counts}} line. Reads a read-only snapshot, so it
 * may run next to a writer. */
SXAPI_EXPORT sxapi_code sxapi_store_dump(sxapi_vm *vm, const char *dir, FILE *out);
/* Load: rebuild a dump read from in into dir, which must hold no store or
 * an empty one (SXAPI_ERR_STORE otherwise, nothing written). Streams get
 * their high-water marks back, truncated ones included. A dump that does
 * not end with its {:end} line, or whose {:end} counts other records than
 * it holds, is refused and no log is written (blobs already read stay). out (may be NULL) gets the counts read. */
typedef struct sxapi_store_load_stats {
  size_t streams, events, kv_keys, blobs;
} sxapi_store_load_stats;
SXAPI_EXPORT sxapi_code sxapi_store_load(sxapi_vm *vm, const char *dir, FILE *in,
                                         sxapi_store_load_stats *out);
/* Export the events of one stream to out for other tools: format "json" (an
 * array, one event a line) or "csv" (a header of every top-level key, seq
 * first; strings as their bytes, other values as JSON). SX values map to
 * JSON as docs/tools.md says. SXAPI_ERR_ARG for another format. */
SXAPI_EXPORT sxapi_code sxapi_store_export(sxapi_vm *vm, const char *dir, const char *stream,
                                           const char *format, FILE *out);
/* Online backup: copy the store in dir to dest (which must not exist),
 * even while another process writes dir: the log up to the end of its last
 * complete frame (a commit boundary), then every blob; the copy is synced
 * and opens as a normal store. */
typedef struct sxapi_store_backup_stats {
  uint64_t log_bytes; /* bytes of log copied */
  size_t streams, events, kv_keys, blobs;
} sxapi_store_backup_stats;
SXAPI_EXPORT sxapi_code sxapi_store_backup(sxapi_vm *vm, const char *dir, const char *dest,
                                           sxapi_store_backup_stats *out);

/* "full", "batch", "off" and back. SXAPI_ERR_ARG for another name. */
SXAPI_EXPORT const char *sxapi_sync_name(sxapi_sync mode);
SXAPI_EXPORT sxapi_code sxapi_sync_parse(const char *name, sxapi_sync *out);

#ifdef __cplusplus
}
#endif

#endif
