/* sx_persist.c — the IO resolver for persist and blob requests.
 *
 * `(perform {:op "persist/append" :args (stream event)})` and its siblings
 * (the op contract of lib/persist/durable.sx and blob.sx) are serviced here
 * against the store the host attached. The store is opened lazily, on the
 * first request, so programs that never touch it never create a directory.
 *
 * Transactions: writes accumulate in the store until the top-level
 * evaluation that made them ends. A successful evaluation commits (durably,
 * per the sync mode); one that ends in an uncaught error rolls back, so an
 * evaluation's writes are all-or-nothing. `persist/commit` commits early
 * from inside a long-running evaluation.
 *
 * At process exit every store still attached is closed, so commits that the
 * batch and off sync modes still hold in the process are written (and
 * synced in batch mode) before the process ends.
 */
#include "sx_persist.h"

#include "blob.h"
#include "sx_dict.h"
#include "sx_print.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sx_persist {
  char *dir;
  store_opts opts;
  store *st;
  sx_persist *next; /* attached persists, closed at exit */
};

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

static void close_all_at_exit(void);

static void link_attached(sx_persist *p) {
  static bool hooked;
  pthread_mutex_lock(&attached_lock);
  if (!hooked) hooked = atexit(close_all_at_exit) == 0;
  p->next = attached;
  attached = p;
  pthread_mutex_unlock(&attached_lock);
}

/* atexit: write what the sync mode still buffers; report what cannot be. */
static void close_all_at_exit(void) {
  while (attached) {
    sx_persist *p = attached;
    attached = p->next;
    sx_val err = SX_NIL;
    if (p->st && store_close(p->st, &err) != 0)
      fprintf(stderr, "sx: closing the store at exit: %s\n",
              sx_is_string(err) ? sx_str_data(err) : "failed");
    p->st = NULL;
  }
}

static int fail(sx_val *result, const char *fmt, const char *op, const char *detail) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_printf(&b, fmt, op, detail);
  *result = sx_string_new(b.data, b.len);
  sx_buf_free(&b);
  return -1;
}

static int ensure_open(sx_persist *p, sx_val *result) {
  if (p->st) return 0;
  sx_val err = SX_NIL;
  if (store_open(p->dir, &p->opts, &p->st, &err) != 0) {
    p->st = NULL;
    *result = sx_is_string(err) ? err : sx_string_cstr("store: cannot open");
    return -1;
  }
  return 0;
}

/* Split args into exactly n values. */
static bool take_args(sx_val args, sx_val *out, size_t n) {
  size_t i = 0;
  for (; sx_is_cons(args) && i < n; args = sx_cdr(args)) out[i++] = sx_car(args);
  return i == n && !sx_is_cons(args);
}

static int arity(sx_val *result, const char *op, size_t n, const char *names) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_printf(&b, "%s: expected %zu argument%s (%s)", op, n, n == 1 ? "" : "s", names);
  *result = sx_string_new(b.data, b.len);
  sx_buf_free(&b);
  return -1;
}

static int type_fail(sx_val *result, const char *op, const char *what, sx_val got) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_printf(&b, "%s: expected %s, got ", op, what);
  sx_print(&b, got);
  *result = sx_string_new(b.data, b.len);
  sx_buf_free(&b);
  return -1;
}

/* rc and err come from a store call made before this one (never pass the
 * call itself as an argument: argument evaluation order is unspecified). */
static int store_result(int rc, sx_val err, sx_val *result) {
  if (rc == 0) {
    *result = SX_NIL;
    return 0;
  }
  *result = sx_is_string(err) || sx_is(err, SX_T_ERROR) ? err : sx_string_cstr("store: operation failed");
  return -1;
}

/* A read that hit damage returns an error value: raise it. */
static int read_result(sx_val v, sx_val *result) {
  *result = v;
  return sx_is(v, SX_T_ERROR) ? -1 : 0;
}

static int persist_op(sx_persist *p, const char *op, sx_val args, sx_val *result) {
  sx_val a[2], err = SX_NIL;
  if (strcmp(op, "persist/commit") == 0) {
    if (!take_args(args, a, 0)) return arity(result, op, 0, "");
    if (!p->st) return (*result = SX_NIL), 0;
    int rc = store_commit(p->st, &err);
    return store_result(rc, err, result);
  }
  if (ensure_open(p, result) != 0) return -1;
  store *s = p->st;
  if (strcmp(op, "persist/append") == 0) {
    if (!take_args(args, a, 2)) return arity(result, op, 2, "stream event");
    if (!sx_is_string(a[0])) return type_fail(result, op, "a stream name string", a[0]);
    if (!sx_is_dict(a[1])) return type_fail(result, op, "an event dict", a[1]);
    int rc = store_append(s, a[0], a[1], &err);
    return store_result(rc, err, result);
  }
  if (strcmp(op, "persist/read") == 0 || strcmp(op, "persist/last-seq") == 0) {
    if (!take_args(args, a, 1)) return arity(result, op, 1, "stream");
    if (!sx_is_string(a[0])) return type_fail(result, op, "a stream name string", a[0]);
    if (op[8] == 'r') return read_result(store_read(s, a[0]), result);
    *result = sx_int(store_last_seq(s, a[0]));
    return 0;
  }
  if (strcmp(op, "persist/streams") == 0 || strcmp(op, "persist/kv-keys") == 0) {
    if (!take_args(args, a, 0)) return arity(result, op, 0, "");
    *result = op[8] == 's' ? store_streams(s) : store_kv_keys(s);
    return 0;
  }
  if (strcmp(op, "persist/truncate") == 0) {
    if (!take_args(args, a, 2)) return arity(result, op, 2, "stream n");
    if (!sx_is_string(a[0])) return type_fail(result, op, "a stream name string", a[0]);
    if (!sx_is_int(a[1])) return type_fail(result, op, "an integer seq", a[1]);
    int rc = store_truncate(s, a[0], sx_int_val(a[1]), &err);
    return store_result(rc, err, result);
  }
  if (strncmp(op, "persist/kv-", 11) == 0) {
    const char *k = op + 11;
    bool put = strcmp(k, "put") == 0;
    if (strcmp(k, "get") && strcmp(k, "has?") && strcmp(k, "delete") && !put)
      return fail(result, "%s: unknown op%s", op, "");
    if (!take_args(args, a, put ? 2 : 1)) return arity(result, op, put ? 2 : 1, put ? "key value" : "key");
    if (!sx_is_string(a[0])) return type_fail(result, op, "a key string", a[0]);
    if (put || k[0] == 'd') {
      int rc = put ? store_kv_put(s, a[0], a[1], &err) : store_kv_delete(s, a[0], &err);
      return store_result(rc, err, result);
    }
    if (k[0] == 'h') return (*result = sx_bool(store_kv_has(s, a[0]))), 0;
    return read_result(store_kv_get(s, a[0]), result);
  }
  return fail(result, "%s: unknown op%s", op, " (persist/* ops: append read last-seq streams truncate kv-get kv-put kv-delete kv-has? kv-keys commit)");
}

static int blob_op(sx_persist *p, const char *op, sx_val args, sx_val *result) {
  sx_val a[2], err = SX_NIL;
  if (ensure_open(p, result) != 0) return -1;
  if (strcmp(op, "blob/put") == 0) {
    if (!take_args(args, a, 2)) return arity(result, op, 2, "bytes mime");
    if (!sx_is_string(a[0])) return type_fail(result, op, "a byte string", a[0]);
    sx_val cid;
    if (blob_put(p->st, sx_str_data(a[0]), sx_str_len(a[0]), &cid, &err) != 0)
      return store_result(-1, err, result);
    *result = cid;
    return 0;
  }
  bool get = strcmp(op, "blob/get") == 0;
  if (!get && strcmp(op, "blob/has?") != 0)
    return fail(result, "%s: unknown op%s", op, " (blob/* ops: put get has?)");
  if (!take_args(args, a, 1)) return arity(result, op, 1, "cid");
  if (!sx_is_string(a[0])) return type_fail(result, op, "a CID string", a[0]);
  if (get) {
    sx_val bytes;
    if (blob_get(p->st, a[0], &bytes, &err) != 0) return store_result(-1, err, result);
    *result = bytes;
    return 0;
  }
  bool has;
  if (blob_has(p->st, a[0], &has, &err) != 0) return store_result(-1, err, result);
  *result = sx_bool(has);
  return 0;
}

static bool listish_args(sx_val args) { return args == SX_NIL || sx_is_list(args); }

static int resolve(sx_vm *vm, void *ud, sx_val op, sx_val args, sx_val request, sx_val *result) {
  (void)vm;
  (void)request;
  sx_persist *p = ud;
  if (!listish_args(args)) return type_fail(result, sx_str_data(op), "an argument list", args);
  const char *name = sx_str_data(op);
  return name[0] == 'p' ? persist_op(p, name, args, result) : blob_op(p, name, args, result);
}

/* Called when each top-level evaluation ends. */
static sx_val end_of_evaluation(sx_vm *vm, void *ud, sx_status st) {
  (void)vm;
  sx_persist *p = ud;
  if (!p->st) return SX_NIL;
  if (st != SX_DONE) {
    store_rollback(p->st);
    return SX_NIL;
  }
  sx_val err = SX_NIL;
  if (store_commit(p->st, &err) != 0)
    return sx_error_new(sx_is_string(err) ? err : sx_string_cstr("store: commit failed"), SX_NIL);
  return SX_NIL;
}

sx_persist *sx_persist_attach(sx_vm *vm, const char *dir, const store_opts *opts) {
  sx_persist *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->dir = strdup(dir);
  if (opts) p->opts = *opts;
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
    if (err) *err = r;
    return NULL;
  }
  return p->st;
}

int sx_persist_close(sx_persist *p, sx_val *err) {
  int rc = 0;
  unlink_attached(p);
  if (p->st) rc = store_close(p->st, err);
  p->st = NULL;
  free(p->dir);
  free(p);
  return rc;
}
