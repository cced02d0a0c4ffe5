/* repl_store.h — everything the REPL reads from the store directly (for
 * the banner, the meta-commands and completion), in one narrow layer over
 * the sxapi_store_* functions. The REPL's SX code reaches the same store
 * through the persist/ and blob/ resolvers that opening it installs.
 */
#ifndef REPL_STORE_H
#define REPL_STORE_H

#include "repl_buf.h"
#include "sx.h"

/* Open the store named by dir (else SX_STORE, else ./.sx-store) with the
 * sync mode named by sync (else SX_SYNC, else full) on vm. Returns false
 * with a message in *err when the sync mode is unknown or the store cannot
 * be opened (e.g. another process owns it for writing). */
bool repl_store_open(sxapi_vm *vm, const char *dir, const char *sync, bool read_only, repl_buf *err);

/* sxapi_errmsg() without the name of the function that failed. */
const char *repl_api_message(void);

typedef struct repl_stream_row {
  char *name;        /* malloc'd */
  size_t stored;     /* events stored now (after compaction) */
  int64_t last_seq;  /* the stream's high-water mark */
  int64_t first_seq; /* seq of the oldest stored event; 0 when none */
} repl_stream_row;

/* One row per stream, in name order; free with repl_store_rows_free. */
size_t repl_store_streams(sxapi_vm *vm, repl_stream_row **rows);
void repl_store_rows_free(repl_stream_row *rows, size_t n);
/* Is there a stream of that name (ever appended to)? */
bool repl_store_has_stream(sxapi_vm *vm, const char *stream);
/* The stream's high-water mark (0 when unknown). */
int64_t repl_store_last_seq(sxapi_vm *vm, const char *stream);
/* The last n stored events of a stream, oldest first (a list). */
sxapi_value repl_store_tail(sxapi_vm *vm, const char *stream, size_t n);
/* The stored event with that seq, or nil. */
sxapi_value repl_store_event(sxapi_vm *vm, const char *stream, int64_t seq);
/* Live kv keys starting with prefix (NULL: all), in byte order (a list). */
sxapi_value repl_store_kv_keys(sxapi_vm *vm, const char *prefix);

typedef struct repl_blob_row {
  char cid[128];
  uint64_t size;
} repl_blob_row;

/* The blobs stored beside the log, sorted by id; *rows is malloc'd. */
size_t repl_store_blobs(sxapi_vm *vm, repl_blob_row **rows);

typedef struct repl_store_summary {
  sxapi_store_stats stats;
  size_t blobs;
  uint64_t blob_bytes;
} repl_store_summary;
void repl_store_summarise(sxapi_vm *vm, repl_store_summary *out);

#endif
