/* sx_api_store.c — libsx's durable store: open one per VM (attaching the
 * persist/ and blob/ resolvers), flush, close, and inspect it (streams,
 * events, kv, blobs, statistics, refresh, offline check and compaction). */
#include "sx_api_int.h"

#include "blob.h"

#include <stdlib.h>
#include <string.h>

/* ---- sync modes --------------------------------------------------------- */

const char *sxapi_sync_name(sxapi_sync mode) {
  switch (mode) {
    case SXAPI_SYNC_FULL: return "full";
    case SXAPI_SYNC_BATCH: return "batch";
    case SXAPI_SYNC_OFF: return "off";
  }
  return "?";
}

sxapi_code sxapi_sync_parse(const char *name, sxapi_sync *out) {
  static const sxapi_sync modes[] = {SXAPI_SYNC_FULL, SXAPI_SYNC_BATCH, SXAPI_SYNC_OFF};
  if (!name || !out) return api_fail(SXAPI_ERR_ARG, "sxapi_sync_parse", "name and out must not be NULL");
  for (size_t i = 0; i < 3; i++)
    if (strcmp(name, sxapi_sync_name(modes[i])) == 0) {
      *out = modes[i];
      return SXAPI_OK;
    }
  return api_fail(SXAPI_ERR_ARG, "sxapi_sync_parse", "unknown sync mode '%s' (expected full, batch or off)",
                  name);
}

/* ---- open and close ---------------------------------------------------------- */

static sxapi_code store_error(const char *who, sx_val err) {
  if (sx_is_string(err) || sx_is(err, SX_T_ERROR)) {
    sx_val msg = sx_error_message(err);
    return api_fail(SXAPI_ERR_STORE, who, "%s", sx_str_data(msg));
  }
  return api_fail(SXAPI_ERR_STORE, who, "the store failed");
}

static bool options_ok(const sxapi_store_options *o) { return (unsigned)o->sync <= SXAPI_SYNC_OFF; }

sxapi_code sxapi_store_open(sxapi_vm *vm, const char *dir, const sxapi_store_options *opts) {
  static const char *who = "sxapi_store_open";
  API_ENTER(vm, who);
  sxapi_store_options o = {0};
  if (opts) o = *opts;
  if (!dir || !*dir) return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "the directory is NULL or empty"));
  if (!options_ok(&o))
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "unknown sync mode %d", (int)o.sync));
  if (vm->persist)
    return api_leave(vm, api_fail(SXAPI_ERR_STATE, who, "the VM already has a store (%s)", vm->store_label));
  store_opts so = {.sync = (store_sync)o.sync,
                   .read_only = o.read_only,
                   .batch_window_ms = o.batch_window_ms,
                   .cache_bytes = o.cache_bytes};
  sx_persist *p = sx_persist_attach(vm->vm, dir, &so);
  sx_val err = SX_NIL;
  if (!o.lazy && !sx_persist_store(p, &err)) {
    api_drop_resolvers_with(vm->vm, p);
    vm->vm->on_toplevel = NULL;
    sx_val ignored = SX_NIL;
    sx_persist_close(p, &ignored);
    return api_leave(vm, store_error(who, err));
  }
  vm->persist = p;
  vm->store_dir = strdup(dir);
  vm->store_label = store_label(dir);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code api_store_close(sxapi_vm *vm, const char *who) {
  sx_persist *p = vm->persist;
  api_drop_resolvers_with(vm->vm, p);
  if (vm->vm->on_toplevel_ud == p) {
    vm->vm->on_toplevel = NULL;
    vm->vm->on_toplevel_ud = NULL;
  }
  vm->persist = NULL;
  free(vm->store_dir);
  free(vm->store_label);
  vm->store_label = NULL;
  vm->store_dir = NULL;
  sx_val err = SX_NIL;
  return sx_persist_close(p, &err) == 0 ? SXAPI_OK : store_error(who, err);
}

sxapi_code sxapi_store_close(sxapi_vm *vm) {
  API_ENTER(vm, "sxapi_store_close");
  if (!vm->persist)
    return api_leave(vm, api_fail(SXAPI_ERR_STATE, "sxapi_store_close", "the VM has no store"));
  if (api_evaluating(vm))
    return api_leave(vm, api_fail(SXAPI_ERR_STATE, "sxapi_store_close",
                                  "the VM is evaluating (close the store after the evaluation returns)"));
  return api_leave(vm, api_store_close(vm, "sxapi_store_close"));
}

/* Enter vm and get its open store (opening a lazy one now). */
static sxapi_code with_store(sxapi_vm *vm, const char *who, store **out) {
  API_ENTER(vm, who);
  if (!vm->persist)
    return api_leave(vm, api_fail(SXAPI_ERR_STATE, who, "the VM has no store (sxapi_store_open)"));
  sx_val err = SX_NIL;
  *out = sx_persist_store(vm->persist, &err);
  if (!*out) return api_leave(vm, store_error(who, err));
  return SXAPI_OK;
}

#define WITH_STORE(vm, who, s)                                                                               \
  store *s;                                                                                                  \
  do {                                                                                                       \
    sxapi_code ws_rc_ = with_store(vm, who, &s);                                                             \
    if (ws_rc_ != SXAPI_OK) return ws_rc_;                                                                   \
  } while (0)

/* Finish a store call that returned rc with err. */
static sxapi_code store_done(sxapi_vm *vm, const char *who, int rc, sx_val err) {
  return api_leave(vm, rc == 0 ? SXAPI_OK : store_error(who, err));
}

sxapi_code sxapi_store_flush(sxapi_vm *vm) {
  WITH_STORE(vm, "sxapi_store_flush", s);
  sx_val err = SX_NIL;
  int rc = store_flush(s, &err);
  return store_done(vm, "sxapi_store_flush", rc, err);
}

sxapi_code sxapi_store_durable_fd(sxapi_vm *vm, int *fd) {
  WITH_STORE(vm, "sxapi_store_durable_fd", s);
  if (!fd) return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_store_durable_fd", "the out pointer is NULL"));
  *fd = store_durable_fd(s);
  if (*fd < 0)
    return api_leave(vm, api_fail(SXAPI_ERR_STORE, "sxapi_store_durable_fd",
                                  "the store has no durability descriptor"));
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_store_refresh(sxapi_vm *vm) {
  WITH_STORE(vm, "sxapi_store_refresh", s);
  sx_val err = SX_NIL;
  int rc = store_refresh(s, &err);
  return store_done(vm, "sxapi_store_refresh", rc, err);
}

const char *sxapi_store_dir(sxapi_vm *vm) {
  if (api_enter(vm, "sxapi_store_dir") != SXAPI_OK) return NULL;
  const char *dir = vm->store_dir;
  if (!dir) api_fail(SXAPI_ERR_STATE, "sxapi_store_dir", "the VM has no store");
  api_leave(vm, SXAPI_OK);
  return dir;
}

void sxapi_set_warning_hook(sxapi_warning_fn fn, void *ctx) { store_set_warning_hook(fn, ctx); }

char *sxapi_store_name_label(const char *name) { return name ? store_label(name) : NULL; }

bool sxapi_store_name_is_url(const char *name) { return name && store_is_url(name); }

const char *sxapi_store_label(sxapi_vm *vm) {
  if (api_enter(vm, "sxapi_store_label") != SXAPI_OK) return NULL;
  const char *label = vm->store_label;
  if (!label) api_fail(SXAPI_ERR_STATE, "sxapi_store_label", "the VM has no store");
  api_leave(vm, SXAPI_OK);
  return label;
}

/* ---- inspection ------------------------------------------------------------------ */

#define NEED(vm, who, cond, what)                                                                            \
  if (!(cond)) return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "%s", what))

sxapi_code sxapi_store_stats_of(sxapi_vm *vm, sxapi_store_stats *out) {
  WITH_STORE(vm, "sxapi_store_stats_of", s);
  NEED(vm, "sxapi_store_stats_of", out, "the out pointer is NULL");
  store_stats st;
  store_get_stats(s, &st);
  *out = (sxapi_store_stats){.streams = st.streams,
                             .events = st.events,
                             .kv_keys = st.kv_keys,
                             .log_bytes = st.log_bytes,
                             .index_bytes = st.index_bytes,
                             .cache_bytes = st.cache_bytes,
                             .sync = (sxapi_sync)st.sync,
                             .read_only = st.read_only,
                             .round_trips = st.round_trips};
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_store_streams(sxapi_vm *vm, sxapi_value *names) {
  WITH_STORE(vm, "sxapi_store_streams", s);
  NEED(vm, "sxapi_store_streams", names, "the out pointer is NULL");
  store_txn *t = store_txn_begin(s); /* a read of its own: handles are shared */
  *names = store_txn_streams(t);
  store_txn_abort(t);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_store_kv_keys(sxapi_vm *vm, sxapi_value *keys) {
  WITH_STORE(vm, "sxapi_store_kv_keys", s);
  NEED(vm, "sxapi_store_kv_keys", keys, "the out pointer is NULL");
  store_txn *t = store_txn_begin(s);
  *keys = store_txn_kv_keys(t);
  store_txn_abort(t);
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_store_last_seq(sxapi_vm *vm, const char *stream, int64_t *out) {
  WITH_STORE(vm, "sxapi_store_last_seq", s);
  NEED(vm, "sxapi_store_last_seq", stream && out, "stream and out must not be NULL");
  store_txn *t = store_txn_begin(s);
  *out = store_txn_last_seq(t, sx_string_cstr(stream));
  store_txn_abort(t);
  return api_leave(vm, SXAPI_OK);
}

/* A read's result: an error value means the store found damage. */
static sxapi_code read_result(sxapi_vm *vm, const char *who, sx_val v, sxapi_value *out) {
  if (sx_is(v, SX_T_ERROR)) return api_leave(vm, store_error(who, v));
  *out = v;
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_store_read(sxapi_vm *vm, const char *stream, sxapi_value *events) {
  WITH_STORE(vm, "sxapi_store_read", s);
  NEED(vm, "sxapi_store_read", stream && events, "stream and events must not be NULL");
  store_txn *t = store_txn_begin(s);
  sx_val v = store_txn_read(t, sx_string_cstr(stream));
  store_txn_abort(t);
  return read_result(vm, "sxapi_store_read", v, events);
}

sxapi_code sxapi_store_kv_get(sxapi_vm *vm, const char *key, sxapi_value *out) {
  WITH_STORE(vm, "sxapi_store_kv_get", s);
  NEED(vm, "sxapi_store_kv_get", key && out, "key and out must not be NULL");
  sx_val k = sx_string_cstr(key);
  store_txn *t = store_txn_begin(s);
  bool has = store_txn_kv_has(t, k);
  sx_val v = has ? store_txn_kv_get(t, k) : SX_NIL;
  store_txn_abort(t);
  if (!has)
    return api_leave(vm,
                     api_fail(SXAPI_ERR_NOTFOUND, "sxapi_store_kv_get", "no key \"%s\" in the store", key));
  return read_result(vm, "sxapi_store_kv_get", v, out);
}

sxapi_code sxapi_store_blob_get(sxapi_vm *vm, const char *cid, sxapi_value *bytes) {
  WITH_STORE(vm, "sxapi_store_blob_get", s);
  NEED(vm, "sxapi_store_blob_get", cid && bytes, "cid and bytes must not be NULL");
  sx_val got = SX_NIL, err = SX_NIL;
  if (store_blob_get(s, sx_string_cstr(cid), &got, &err) != 0)
    return api_leave(vm, store_error("sxapi_store_blob_get", err));
  if (got == SX_NIL)
    return api_leave(vm,
                     api_fail(SXAPI_ERR_NOTFOUND, "sxapi_store_blob_get", "no blob %s in the store", cid));
  *bytes = got;
  return api_leave(vm, SXAPI_OK);
}

/* ---- blob listing ---------------------------------------------------------------- */

sxapi_code sxapi_store_blobs(sxapi_vm *vm, sxapi_value *cids) {
  WITH_STORE(vm, "sxapi_store_blobs", s);
  NEED(vm, "sxapi_store_blobs", cids, "the out pointer is NULL");
  sx_val ids = store_blobs(s);
  if (sx_is(ids, SX_T_ERROR)) return api_leave(vm, store_error("sxapi_store_blobs", ids));
  *cids = ids;
  return api_leave(vm, SXAPI_OK);
}

/* ---- offline check ----------------------------------------------------------------- */

sxapi_code sxapi_store_check(sxapi_vm *vm, const char *dir, sxapi_value *report) {
  API_ENTER(vm, "sxapi_store_check");
  NEED(vm, "sxapi_store_check", dir, "the directory is NULL");
  sx_buf b = SX_BUF_INIT;
  int rc = store_check(dir, &b);
  if (report) *report = sx_string_new(b.data ? b.data : "", b.len);
  sxapi_code code = SXAPI_OK;
  if (rc == 1) code = api_fail(SXAPI_ERR_STORE, "sxapi_store_check", "store %s is damaged", dir);
  else if (rc != 0) code = api_fail(SXAPI_ERR_IO, "sxapi_store_check", "store %s cannot be read", dir);
  sx_buf_free(&b);
  return api_leave(vm, code);
}

/* ---- offline compaction ------------------------------------------------------------- */

sxapi_code sxapi_store_compact(sxapi_vm *vm, const char *dir, sxapi_store_compact_stats *out) {
  API_ENTER(vm, "sxapi_store_compact");
  NEED(vm, "sxapi_store_compact", dir, "the directory is NULL");
  store_compact_stats st;
  sx_val err = SX_NIL;
  int rc = store_compact(dir, &st, &err);
  if (out) {
    *out = (sxapi_store_compact_stats){st.log_before, st.file_before, st.log_after, st.streams,
                                       st.events,     st.kv_keys,     st.records};
  }
  return api_leave(vm, rc ? store_error("sxapi_store_compact", err) : SXAPI_OK);
}

/* ---- blob sizes ---------------------------------------------------------------- */

sxapi_code sxapi_store_blob_size(sxapi_vm *vm, const char *cid, uint64_t *size) {
  WITH_STORE(vm, "sxapi_store_blob_size", s);
  NEED(vm, "sxapi_store_blob_size", cid && size, "cid and size must not be NULL");
  sx_val err = SX_NIL;
  int rc = store_blob_size(s, sx_string_cstr(cid), size, &err);
  if (rc < 0 && !blob_cid_valid(cid, strlen(cid)))
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, "sxapi_store_blob_size", "'%s' is not a blob id", cid));
  if (rc < 0) return api_leave(vm, store_error("sxapi_store_blob_size", err));
  if (rc > 0)
    return api_leave(vm,
                     api_fail(SXAPI_ERR_NOTFOUND, "sxapi_store_blob_size", "no blob %s in the store", cid));
  return api_leave(vm, SXAPI_OK);
}

sxapi_code sxapi_note_input(sxapi_vm *vm) {
  API_ENTER(vm, "sxapi_note_input");
  if (vm->persist) sx_persist_note_input(vm->persist);
  return api_leave(vm, SXAPI_OK);
}
