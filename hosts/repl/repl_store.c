/* repl_store.c — the REPL's direct view of the store (see repl_store.h),
 * through the sxapi_store_* functions only. */
#include "repl_store.h"

#include "sx_host.h"

#include <stdlib.h>
#include <string.h>

const char *repl_api_message(void) {
  const char *m = sxapi_errmsg(), *colon = strstr(m, ": ");
  return strncmp(m, "sxapi_", 6) == 0 && colon ? colon + 2 : m;
}

bool repl_store_open(sxapi_vm *vm, const char *dir, const char *sync, bool read_only, repl_buf *err) {
  char msg[512];
  if (sx_host_open_store(vm, dir, sync, read_only, false, msg, sizeof msg)) return true;
  const char *colon = strstr(msg, ": ");
  repl_buf_puts(err, strncmp(msg, "sxapi_", 6) == 0 && colon ? colon + 2 : msg);
  return false;
}

static int64_t event_seq(sxapi_vm *vm, sxapi_value e) {
  sxapi_value s;
  int64_t n = 0;
  if (sxapi_dict_get(vm, e, "seq", &s) == SXAPI_OK) sxapi_to_int(vm, s, &n);
  return n;
}

/* Stored events of a stream as a list (a damaged read counts as none). */
static sxapi_value events_of(sxapi_vm *vm, const char *stream) {
  sxapi_value evs;
  return sxapi_store_read(vm, stream, &evs) == SXAPI_OK ? evs : sxapi_list(vm, 0, NULL);
}

static size_t length(sxapi_vm *vm, sxapi_value list) {
  size_t n = 0;
  sxapi_list_length(vm, list, &n);
  return n;
}

int64_t repl_store_last_seq(sxapi_vm *vm, const char *stream) {
  int64_t n = 0;
  sxapi_store_last_seq(vm, stream, &n);
  return n;
}

size_t repl_store_streams(sxapi_vm *vm, repl_stream_row **rows) {
  sxapi_value names, name, first;
  size_t n = 0, i = 0;
  if (sxapi_store_streams(vm, &names) != SXAPI_OK) names = sxapi_list(vm, 0, NULL);
  n = length(vm, names);
  *rows = calloc(n + 1, sizeof **rows);
  if (!*rows) abort();
  sxapi_iter it;
  sxapi_iter_init(vm, names, &it);
  for (; i < n && sxapi_iter_next(&it, NULL, &name); i++) {
    repl_stream_row *r = &(*rows)[i];
    const char *s = "";
    sxapi_to_string(vm, name, &s, NULL);
    sxapi_value evs = events_of(vm, s);
    r->name = strdup(s);
    if (!r->name) abort();
    r->stored = length(vm, evs);
    r->last_seq = repl_store_last_seq(vm, s);
    r->first_seq = sxapi_list_get(vm, evs, 0, &first) == SXAPI_OK ? event_seq(vm, first) : 0;
  }
  return i;
}

void repl_store_rows_free(repl_stream_row *rows, size_t n) {
  for (size_t i = 0; i < n; i++) free(rows[i].name);
  free(rows);
}

bool repl_store_has_stream(sxapi_vm *vm, const char *stream) {
  sxapi_value names, name;
  const char *s;
  sxapi_iter it;
  if (sxapi_store_streams(vm, &names) != SXAPI_OK || sxapi_iter_init(vm, names, &it) != SXAPI_OK)
    return false;
  while (sxapi_iter_next(&it, NULL, &name))
    if (sxapi_to_string(vm, name, &s, NULL) == SXAPI_OK && strcmp(s, stream) == 0) return true;
  return false;
}

sxapi_value repl_store_tail(sxapi_vm *vm, const char *stream, size_t n) {
  sxapi_value evs = events_of(vm, stream), e;
  size_t len = length(vm, evs), skip = len > n ? len - n : 0;
  sxapi_value *items = malloc((len - skip + 1) * sizeof *items); /* held by evs, pinned */
  if (!items) abort();
  bool pinned = sxapi_pin(vm, evs) == SXAPI_OK;
  for (size_t i = skip; i < len; i++)
    items[i - skip] = sxapi_list_get(vm, evs, i, &e) == SXAPI_OK ? e : sxapi_nil();
  sxapi_value out = sxapi_list(vm, len - skip, items);
  free(items);
  if (pinned) sxapi_unpin(vm, evs);
  return out;
}

sxapi_value repl_store_event(sxapi_vm *vm, const char *stream, int64_t seq) {
  sxapi_value e;
  sxapi_iter it;
  if (sxapi_iter_init(vm, events_of(vm, stream), &it) != SXAPI_OK) return sxapi_nil();
  while (sxapi_iter_next(&it, NULL, &e))
    if (event_seq(vm, e) == seq) return e;
  return sxapi_nil();
}

sxapi_value repl_store_kv_keys(sxapi_vm *vm, const char *prefix) {
  sxapi_value keys, k;
  size_t plen = prefix ? strlen(prefix) : 0, n = 0, len;
  const char *s;
  if (sxapi_store_kv_keys(vm, &keys) != SXAPI_OK) return sxapi_list(vm, 0, NULL);
  sxapi_value *items = malloc((length(vm, keys) + 1) * sizeof *items); /* held by keys, pinned */
  if (!items) abort();
  bool pinned = sxapi_pin(vm, keys) == SXAPI_OK;
  sxapi_iter it;
  sxapi_iter_init(vm, keys, &it);
  while (sxapi_iter_next(&it, NULL, &k))
    if (sxapi_to_string(vm, k, &s, &len) == SXAPI_OK && len >= plen &&
        (!plen || memcmp(s, prefix, plen) == 0))
      items[n++] = k;
  sxapi_value out = sxapi_list(vm, n, items);
  free(items);
  if (pinned) sxapi_unpin(vm, keys);
  return out;
}

size_t repl_store_blobs(sxapi_vm *vm, repl_blob_row **rows) {
  sxapi_value cids, cid;
  *rows = NULL;
  if (sxapi_store_blobs(vm, &cids) != SXAPI_OK) return 0;
  size_t n = length(vm, cids), i = 0;
  const char *s;
  *rows = calloc(n + 1, sizeof **rows);
  if (!*rows) abort();
  sxapi_iter it;
  sxapi_iter_init(vm, cids, &it);
  while (i < n && sxapi_iter_next(&it, NULL, &cid)) {
    if (sxapi_to_string(vm, cid, &s, NULL) != SXAPI_OK || strlen(s) >= sizeof(*rows)[i].cid) continue;
    if (sxapi_store_blob_size(vm, s, &(*rows)[i].size) != SXAPI_OK) continue; /* gone since */
    strcpy((*rows)[i++].cid, s);
  }
  return i;
}

void repl_store_summarise(sxapi_vm *vm, repl_store_summary *out) {
  memset(out, 0, sizeof *out);
  sxapi_store_stats_of(vm, &out->stats);
  repl_blob_row *rows;
  out->blobs = repl_store_blobs(vm, &rows);
  for (size_t i = 0; i < out->blobs; i++) out->blob_bytes += rows[i].size;
  free(rows);
}
