/* repl_store.c — the REPL's direct view of the store (see repl_store.h). */
#include "repl_store.h"

#include "sx_dict.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

sx_persist *repl_store_attach(sx_vm *vm, const sx_host_opts *o, bool read_only,
                              store **out, sx_buf *err) {
  sx_persist *p = sx_host_store(vm, o, read_only, err);
  if (!p) return NULL;
  sx_val e = SX_NIL;
  *out = sx_persist_store(p, &e);
  if (!*out) {
    sx_buf_puts(err, sx_is_string(e) ? sx_str_data(e) : "cannot open the store");
    return NULL;
  }
  return p;
}

static int64_t event_seq(sx_val e) {
  if (!sx_is_dict(e)) return 0;
  sx_val s = sx_dict_get(e, sx_string_cstr("seq"), SX_NIL);
  return sx_is_int(s) ? sx_int_val(s) : 0;
}

/* Stored events of a stream as a list (a damaged read counts as none). */
static sx_val events_of(store *s, sx_val stream) {
  sx_val evs = store_read(s, stream);
  return sx_is_list(evs) ? evs : SX_EMPTY;
}

size_t repl_store_streams(store *s, repl_stream_row **rows) {
  sx_val names = store_streams(s);
  size_t n = sx_list_length(names), i = 0;
  *rows = sx_alloc((n + 1) * sizeof **rows);
  for (; sx_is_cons(names); names = sx_cdr(names), i++) {
    repl_stream_row *r = &(*rows)[i];
    sx_val evs = events_of(s, sx_car(names));
    r->name = sx_car(names);
    r->stored = sx_list_length(evs);
    r->last_seq = store_last_seq(s, r->name);
    r->first_seq = sx_is_cons(evs) ? event_seq(sx_car(evs)) : 0;
  }
  return i;
}

sx_val repl_store_tail(store *s, sx_val stream, size_t n) {
  sx_val evs = events_of(s, stream);
  size_t len = sx_list_length(evs);
  for (size_t skip = len > n ? len - n : 0; skip > 0; skip--) evs = sx_cdr(evs);
  return evs;
}

sx_val repl_store_event(store *s, sx_val stream, int64_t seq) {
  for (sx_val evs = events_of(s, stream); sx_is_cons(evs); evs = sx_cdr(evs))
    if (event_seq(sx_car(evs)) == seq) return sx_car(evs);
  return SX_NIL;
}

sx_val repl_store_kv_keys(store *s, const char *prefix) {
  size_t plen = prefix ? strlen(prefix) : 0;
  sx_val out = SX_EMPTY;
  for (sx_val ks = store_kv_keys(s); sx_is_cons(ks); ks = sx_cdr(ks)) {
    sx_val k = sx_car(ks);
    bool match = sx_str_len(k) >= plen && (!plen || memcmp(sx_str_data(k), prefix, plen) == 0);
    if (match) out = sx_cons(k, out);
  }
  return sx_list_reverse(out);
}

static int blob_row_cmp(const void *a, const void *b) {
  return strcmp(((const repl_blob_row *)a)->cid, ((const repl_blob_row *)b)->cid);
}

/* Add the blobs of one shard directory (DIR/blobs/<xy>) to *rows. */
static void scan_shard(const char *shard, repl_blob_row **rows, size_t *n, size_t *cap) {
  DIR *d = opendir(shard);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    if (!blob_cid_valid(e->d_name, strlen(e->d_name))) continue; /* ., .., .tmp-* */
    struct stat st;
    sx_buf path = SX_BUF_INIT;
    sx_buf_printf(&path, "%s/%s", shard, e->d_name);
    int rc = stat(path.data, &st);
    sx_buf_free(&path);
    if (rc != 0 || !S_ISREG(st.st_mode)) continue;
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 16;
      *rows = realloc(*rows, *cap * sizeof **rows);
      if (!*rows) abort();
    }
    memcpy((*rows)[*n].cid, e->d_name, BLOB_CID_LEN + 1);
    (*rows)[(*n)++].size = (uint64_t)st.st_size;
  }
  closedir(d);
}

size_t repl_store_blobs(store *s, repl_blob_row **rows) {
  sx_buf root = SX_BUF_INIT, shard = SX_BUF_INIT;
  sx_buf_printf(&root, "%s/blobs", store_dir(s));
  size_t n = 0, cap = 0;
  *rows = NULL;
  DIR *d = opendir(root.data);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    sx_buf_reset(&shard);
    sx_buf_printf(&shard, "%s/%s", root.data, e->d_name);
    scan_shard(shard.data, rows, &n, &cap);
  }
  if (d) closedir(d);
  sx_buf_free(&root);
  sx_buf_free(&shard);
  if (n) qsort(*rows, n, sizeof **rows, blob_row_cmp);
  return n;
}

void repl_store_summarise(store *s, repl_store_summary *out) {
  memset(out, 0, sizeof *out);
  store_get_stats(s, &out->stats);
  repl_blob_row *rows;
  out->blobs = repl_store_blobs(s, &rows);
  for (size_t i = 0; i < out->blobs; i++) out->blob_bytes += rows[i].size;
  free(rows);
}
