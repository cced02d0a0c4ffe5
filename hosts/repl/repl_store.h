/* repl_store.h — everything the REPL reads from the store directly (for
 * the banner, the meta-commands and completion), in one narrow layer over
 * store.h and the blob directory. The REPL's SX code reaches the same store
 * through the persist resolver that repl_store_attach installs.
 */
#ifndef REPL_STORE_H
#define REPL_STORE_H

#include "blob.h"
#include "store.h"
#include "sx_host.h"
#include "sx_persist.h"

/* Attach the persist/blob resolver for the store the options name (--store,
 * else SX_STORE, else ./.sx-store) with the sync mode they name (--sync,
 * else SX_SYNC, else full), and open the store now. Returns NULL with a
 * message in *err when the sync mode is unknown or the store cannot be
 * opened (e.g. another process owns it for writing). */
sx_persist *repl_store_attach(sx_vm *vm, const sx_host_opts *o, bool read_only,
                              store **out, sx_buf *err);

typedef struct repl_stream_row {
  sx_val name;
  size_t stored;     /* events stored now (after compaction) */
  int64_t last_seq;  /* the stream's high-water mark */
  int64_t first_seq; /* seq of the oldest stored event; 0 when none */
} repl_stream_row;

/* One row per stream, in name order; *rows is a GC array. */
size_t repl_store_streams(store *s, repl_stream_row **rows);
/* The last n stored events of a stream, oldest first. */
sx_val repl_store_tail(store *s, sx_val stream, size_t n);
/* The stored event with that seq, or SX_NIL. */
sx_val repl_store_event(store *s, sx_val stream, int64_t seq);
/* Live kv keys starting with prefix (NULL: all), in byte order. */
sx_val repl_store_kv_keys(store *s, const char *prefix);

typedef struct repl_blob_row {
  char cid[BLOB_CID_LEN + 1];
  uint64_t size;
} repl_blob_row;

/* The blobs stored beside the log, sorted by id; *rows is malloc'd. */
size_t repl_store_blobs(store *s, repl_blob_row **rows);

typedef struct repl_store_summary {
  store_stats stats;
  size_t blobs;
  uint64_t blob_bytes;
} repl_store_summary;
void repl_store_summarise(store *s, repl_store_summary *out);

#endif
