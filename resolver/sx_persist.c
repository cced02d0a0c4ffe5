/* sx_persist.c — the IO resolver for persist and blob requests.
 *
 * `(perform {:op "persist/append" :args (stream event)})` and its siblings
 * (the op contract of lib/persist/durable.sx and blob.sx) are serviced here
 * against the store the host attached. Every op is a row of one table
 * (name, parameters, their types, handler): arity and argument types are
 * checked once, from the table, which also writes the messages that list
 * the ops. The store is opened lazily, on the first request, so programs
 * that never touch it never create a directory.
 *
 * Transactions: each top-level evaluation has its own store transaction
 * (vm->eval_state), begun at its first persist op. When the evaluation
 * returns it commits — all or nothing, validated against what other
 * evaluations committed meanwhile — and is acknowledged once the commit is
 * durable; when it fails or is abandoned only its own writes are dropped.
 * `persist/commit` commits early from inside a long-running evaluation.
 *
 * At process exit every store still attached is closed, so commits that the
 * batch and off sync modes still hold in the process are written (and
 * synced in batch mode) before the process ends. */
#include "sx_persist.h"

#include "sx_dict.h"
#include "sx_print.h"

#include <assert.h>
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sx_persist {
  char *dir;
  store_opts opts;
  store *st;
  store_txn *spare;    /* a finished transaction to reuse (GC memory: see below) */
  store *input_st;     /* the handle whose clock input_at is (NULL: no note) */
  uint64_t input_at;   /* its clock after the host last received input */
  bool input_unopened; /* the last note came before the store was opened */
  sx_persist *next;    /* attached persists, closed at exit */
};

/* ---- closing at exit --------------------------------------------------------- */

static sx_persist *attached; /* VMs on several threads may attach: lock */
static pthread_mutex_t attached_lock = PTHREAD_MUTEX_INITIALIZER;

static void unlink_attached(sx_persist *p) {
  pthread_mutex_lock(&attached_lock);
  for (sx_persist **q = &attached; *q; q = &(*q)->next)
    if (*q == p) {
      *q = p->next;
      break;
    }
  pthread_mutex_unlock(&attached_lock);
}

/* atexit: write what the sync mode still buffers; report what cannot be. */
static void close_all_at_exit(void) {
  pthread_mutex_lock(&attached_lock);
  while (attached) {
    sx_persist *p = attached;
    attached = p->next;
    sx_val err = SX_NIL;
    if (p->st && store_close(p->st, &err) != 0) {
      char msg[1024];
      snprintf(msg, sizeof msg, "closing the store at exit: %s",
               sx_is_string(err) ? sx_str_data(err) : "failed");
      store_warn(msg);
    }
    p->st = NULL;
  }
  pthread_mutex_unlock(&attached_lock);
}

static void link_attached(sx_persist *p) {
  static bool hooked;
  pthread_mutex_lock(&attached_lock);
  if (!hooked) hooked = atexit(close_all_at_exit) == 0;
  p->next = attached;
  attached = p;
  pthread_mutex_unlock(&attached_lock);
}

/* ---- opening the store and the evaluation's transaction ------------------------ */

static int ensure_open(sx_persist *p, sx_val *result) {
  if (p->st) return 0;
  sx_val err = SX_NIL;
  if (store_open(p->dir, &p->opts, &p->st, &err) != 0) {
    p->st = NULL;
    *result = err; /* store_open always says why */
    return -1;
  }
  /* Input noted before the open: a handle that has asked nothing yet
   * (clock 0) learns everything after the open, so after the note. */
  if (p->input_unopened && store_clock(p->st) == 0) p->input_st = p->st, p->input_at = 0;
  p->input_unopened = false;
  return 0;
}

/* The running evaluation's transaction, begun now if it has none. */
static store_txn *eval_txn(sx_persist *p, sx_vm *vm) {
  store_txn *t = vm->eval_state;
  if (!t || store_txn_store(t) != p->st) {
    t = store_txn_renew(p->spare, p->st);
    p->spare = NULL;
    if (p->input_st == p->st) store_txn_since(t, p->input_at); /* the request was in by then */
    vm->eval_state = t;
  }
  return t;
}

/* ---- results --------------------------------------------------------------------- */

typedef struct op_ctx {
  sx_persist *p;
  sx_vm *vm;
  const char *op;
} op_ctx;

/* rc and err come from a store call made before this one (a failing
 * store call always sets err: store.h). */
static int store_result(int rc, sx_val err, sx_val *result) {
  *result = rc == 0 ? SX_NIL : err;
  return rc == 0 ? 0 : -1;
}

/* A read that hit damage or a conflict returns an error value: raise it. */
static int read_result(sx_val v, sx_val *result) {
  *result = v;
  return sx_is(v, SX_T_ERROR) ? -1 : 0;
}

/* ---- the handlers (a: the arguments, checked against the table) ------------------- */

static int op_append(op_ctx *c, sx_val *a, sx_val *r) {
  sx_val err = SX_NIL;
  int rc = store_txn_append(eval_txn(c->p, c->vm), a[0], a[1], &err);
  return store_result(rc, err, r);
}

static int op_read(op_ctx *c, sx_val *a, sx_val *r) {
  return read_result(store_txn_read(eval_txn(c->p, c->vm), a[0]), r);
}

static int op_last_seq(op_ctx *c, sx_val *a, sx_val *r) {
  *r = sx_int(store_txn_last_seq(eval_txn(c->p, c->vm), a[0]));
  return 0;
}

static int op_streams(op_ctx *c, sx_val *a, sx_val *r) {
  (void)a;
  *r = store_txn_streams(eval_txn(c->p, c->vm));
  return 0;
}

static int op_truncate(op_ctx *c, sx_val *a, sx_val *r) {
  sx_val err = SX_NIL;
  int rc = store_txn_truncate(eval_txn(c->p, c->vm), a[0], sx_int_val(a[1]), &err);
  return store_result(rc, err, r);
}

static int op_kv_get(op_ctx *c, sx_val *a, sx_val *r) {
  return read_result(store_txn_kv_get(eval_txn(c->p, c->vm), a[0]), r);
}

static int op_kv_has(op_ctx *c, sx_val *a, sx_val *r) {
  *r = sx_bool(store_txn_kv_has(eval_txn(c->p, c->vm), a[0]));
  return 0;
}

static int op_kv_put(op_ctx *c, sx_val *a, sx_val *r) {
  sx_val err = SX_NIL;
  int rc = store_txn_kv_put(eval_txn(c->p, c->vm), a[0], a[1], &err);
  return store_result(rc, err, r);
}

static int op_kv_delete(op_ctx *c, sx_val *a, sx_val *r) {
  sx_val err = SX_NIL;
  int rc = store_txn_kv_delete(eval_txn(c->p, c->vm), a[0], &err);
  return store_result(rc, err, r);
}

static int op_kv_keys(op_ctx *c, sx_val *a, sx_val *r) {
  (void)a;
  *r = store_txn_kv_keys(eval_txn(c->p, c->vm));
  return 0;
}

/* Commit the evaluation's writes so far; later ops begin a new transaction. */
static int op_commit(op_ctx *c, sx_val *a, sx_val *r) {
  (void)a;
  sx_val err = SX_NIL;
  int rc = sx_persist_end(c->p, c->vm, SX_DONE, true, NULL, &err);
  return store_result(rc, err, r);
}

static int op_blob_put(op_ctx *c, sx_val *a, sx_val *r) {
  sx_val err = SX_NIL;
  if (store_blob_put(c->p->st, sx_str_data(a[0]), sx_str_len(a[0]), r, &err) != 0)
    return store_result(-1, err, r);
  return 0;
}

static int op_blob_get(op_ctx *c, sx_val *a, sx_val *r) {
  sx_val err = SX_NIL;
  if (store_blob_get(c->p->st, a[0], r, &err) != 0) return store_result(-1, err, r);
  return 0;
}

static int op_blob_has(op_ctx *c, sx_val *a, sx_val *r) {
  sx_val err = SX_NIL;
  bool has;
  if (store_blob_has(c->p->st, a[0], &has, &err) != 0) return store_result(-1, err, r);
  *r = sx_bool(has);
  return 0;
}

/* ---- the op table -------------------------------------------------------------------- */

typedef enum { A_ANY, A_STREAM, A_EVENT, A_SEQ, A_KEY, A_BYTES, A_CID } arg_type;

typedef struct op_def {
  const char *name;
  int nargs;
  const char *params; /* parameter names, for messages and docs */
  arg_type types[2];
  int (*fn)(op_ctx *c, sx_val *a, sx_val *result);
} op_def;

static const op_def op_table[] = {
    {"persist/append", 2, "stream event", {A_STREAM, A_EVENT}, op_append},
    {"persist/read", 1, "stream", {A_STREAM}, op_read},
    {"persist/last-seq", 1, "stream", {A_STREAM}, op_last_seq},
    {"persist/streams", 0, "", {0}, op_streams},
    {"persist/truncate", 2, "stream n", {A_STREAM, A_SEQ}, op_truncate},
    {"persist/kv-get", 1, "key", {A_KEY}, op_kv_get},
    {"persist/kv-put", 2, "key value", {A_KEY, A_ANY}, op_kv_put},
    {"persist/kv-delete", 1, "key", {A_KEY}, op_kv_delete},
    {"persist/kv-has?", 1, "key", {A_KEY}, op_kv_has},
    {"persist/kv-keys", 0, "", {0}, op_kv_keys},
    {"persist/commit", 0, "", {0}, op_commit},
    {"blob/put", 2, "bytes mime", {A_BYTES, A_ANY}, op_blob_put},
    {"blob/get", 1, "cid", {A_CID}, op_blob_get},
    {"blob/has?", 1, "cid", {A_CID}, op_blob_has},
};
#define NOPS (sizeof op_table / sizeof *op_table)

static const op_def *find_op(const char *name) {
  for (size_t i = 0; i < NOPS; i++)
    if (strcmp(op_table[i].name, name) == 0) return &op_table[i];
  return NULL;
}

/* Every other type (stream, key, bytes, CID) is a string. */
static bool type_ok(arg_type t, sx_val v) {
  if (t == A_ANY) return true;
  if (t == A_EVENT) return sx_is_dict(v);
  if (t == A_SEQ) return sx_is_int(v);
  return sx_is_string(v);
}

/* What an argument of type t must be (A_ANY takes anything: never asked). */
static const char *type_words(arg_type t) {
  static const char *const words[] = {
      [A_STREAM] = "a stream name string", [A_EVENT] = "an event dict",
      [A_SEQ] = "an integer seq",          [A_KEY] = "a key string",
      [A_BYTES] = "a byte string",         [A_CID] = "a CID string",
  };
  assert(t != A_ANY);
  return words[t];
}

static sx_val msg_done(sx_buf *b) {
  sx_val v = sx_string_new(b->data, b->len);
  sx_buf_free(b);
  return v;
}

static int unknown_op(const char *op, sx_val *result) {
  sx_buf b = SX_BUF_INIT;
  bool blob = strncmp(op, "blob/", 5) == 0;
  sx_buf_printf(&b, "%s: unknown op (%s ops:", op, blob ? "blob/*" : "persist/*");
  for (size_t i = 0; i < NOPS; i++)
    if ((strncmp(op_table[i].name, "blob/", 5) == 0) == blob)
      sx_buf_printf(&b, " %s", strchr(op_table[i].name, '/') + 1);
  sx_buf_printf(&b, ")");
  *result = msg_done(&b);
  return -1;
}

/* Split args into exactly d->nargs values checked against the table. */
static int take_args(const op_def *d, sx_val args, sx_val *a, sx_val *result) {
  int n = 0;
  for (; sx_is_cons(args) && n < d->nargs; args = sx_cdr(args)) a[n++] = sx_car(args);
  sx_buf b = SX_BUF_INIT;
  if (n != d->nargs || sx_is_cons(args)) {
    int got = n;
    for (; sx_is_cons(args); args = sx_cdr(args)) got++;
    sx_buf_printf(&b, "%s: expected %d argument%s (%s), got %d", d->name, d->nargs, d->nargs == 1 ? "" : "s",
                  d->params, got);
    *result = msg_done(&b);
    return -1;
  }
  for (int i = 0; i < n; i++)
    if (!type_ok(d->types[i], a[i])) {
      sx_buf_printf(&b, "%s: expected %s, got ", d->name, type_words(d->types[i]));
      sx_print(&b, a[i]);
      *result = msg_done(&b);
      return -1;
    }
  return 0;
}

static bool listish_args(sx_val args) { return args == SX_NIL || sx_is_list(args); }

static int resolve(sx_vm *vm, void *ud, sx_val op, sx_val args, sx_val request, sx_val *result) {
  (void)request;
  sx_persist *p = ud;
  const char *name = sx_str_data(op);
  const op_def *d = find_op(name);
  if (!d) return unknown_op(name, result);
  if (!listish_args(args)) {
    sx_buf b = SX_BUF_INIT;
    sx_buf_printf(&b, "%s: expected an argument list, got ", name);
    sx_print(&b, args);
    *result = msg_done(&b);
    return -1;
  }
  sx_val a[2];
  if (take_args(d, args == SX_NIL ? SX_EMPTY : args, a, result)) return -1;
  if (d->fn != op_commit && ensure_open(p, result) != 0) return -1;
  if (d->fn == op_commit && !p->st) return (*result = SX_NIL), 0;
  op_ctx c = {p, vm, name};
  int rc = d->fn(&c, a, result);
  sx_val failed; /* a read the store could not serve: raise it, whatever the op returned */
  if (rc == 0 && vm->eval_state && store_txn_failed(vm->eval_state, &failed))
    return read_result(failed, result);
  return rc;
}

/* ---- ending evaluations ------------------------------------------------------------------ */

int sx_persist_end(sx_persist *p, sx_vm *vm, sx_status st, bool wait, uint64_t *ticket, sx_val *err) {
  store_txn *t = vm->eval_state;
  vm->eval_state = NULL;
  if (ticket) *ticket = 0;
  if (!t || !p->st || store_txn_store(t) != p->st) return STORE_OK;
  if (st != SX_DONE) {
    bool conflict = store_txn_conflicted(t, err);
    store_txn_abort(t);
    p->spare = t;
    return conflict ? STORE_ECONFLICT : STORE_OK;
  }
  uint64_t tk;
  int rc = store_txn_commit(t, &tk, err);
  p->spare = t; /* finished: nothing refers to it any more */
  if (rc) return rc;
  if (wait) return store_wait_durable(p->st, tk, err);
  if (ticket) *ticket = tk;
  return STORE_OK;
}

/* ticket is one sx_persist_end gave (not 0), so the store is open. */
int sx_persist_poll(sx_persist *p, uint64_t ticket, bool block, sx_val *err) {
  if (block) return store_wait_durable(p->st, ticket, err) == STORE_OK ? 1 : -1;
  return store_poll_durable(p->st, ticket, err);
}

/* The kernel's hook at the end of each top-level form of a file run form
 * by form (`sx run`, load_each): commit and wait, or roll back. */
static sx_val end_of_evaluation(sx_vm *vm, void *ud, sx_status st) {
  sx_val err = SX_NIL;
  if (sx_persist_end(ud, vm, st, true, NULL, &err) == STORE_OK) return SX_NIL;
  return sx_is(err, SX_T_ERROR) ? err : sx_error_new(err, SX_NIL); /* a message, or a failed read's error */
}

/* ---- attaching -------------------------------------------------------------------------- */

sx_persist *sx_persist_attach(sx_vm *vm, const char *dir, const store_opts *opts) {
  sx_persist *p = store_xgc_uncollectable(sizeof *p); /* scanned: it holds the spare */
  memset(p, 0, sizeof *p);
  p->dir = store_xstrdup(dir);
  p->opts = *opts;
  link_attached(p);
  sx_add_resolver(vm, "persist/", resolve, p);
  sx_add_resolver(vm, "blob/", resolve, p);
  vm->on_toplevel = end_of_evaluation;
  vm->on_toplevel_ud = p;
  return p;
}

store *sx_persist_store(sx_persist *p, sx_val *err) {
  sx_val r = SX_NIL;
  if (ensure_open(p, &r) != 0) {
    *err = r;
    return NULL;
  }
  return p->st;
}

int sx_persist_close(sx_persist *p, sx_val *err) {
  int rc = 0;
  unlink_attached(p);
  if (p->st) rc = store_close(p->st, err);
  p->st = p->input_st = NULL;
  free(p->dir);
  GC_FREE(p);
  return rc;
}

void sx_persist_note_input(sx_persist *p) {
  p->input_st = p->st;
  p->input_at = p->st ? store_clock(p->st) : 0;
  p->input_unopened = !p->st; /* ensure_open takes it up */
}
