/* store.h — the sx durable store: per-stream event logs and a key/value
 * facet in one directory, written as checksummed transaction frames to an
 * append-only log (format: docs/store-format.md).
 *
 * Conventions:
 *  - functions returning int give 0 on success and -1 on error, with *err set
 *    to an SX string sentence naming the problem (err may not be NULL);
 *  - stream names and kv keys are SX strings of any bytes (never used as
 *    file names);
 *  - a transaction is implicit: writes accumulate until store_commit (or are
 *    discarded by store_rollback); reads always see the handle's own pending
 *    writes;
 *  - a handle is used by one thread at a time.
 *
 * Invariants the store enforces (the persist op contract):
 *  1. last_seq is a per-stream monotonic high-water mark kept apart from the
 *     rows; truncate never lowers it;
 *  2. an append is accepted only if the event's :seq is last_seq + 1;
 *  3. read returns the surviving events in append order, :seq intact;
 *  4. streams lists every stream that ever had an append (even if truncated
 *     to nothing);
 *  5. values round-trip exactly (see codec.h); non-data is refused and
 *     nothing is written.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sx_buf.h"
#include "sx_value.h"

typedef struct store store;

typedef enum store_sync {
  STORE_SYNC_FULL = 0, /* commit = write + fdatasync before returning */
  STORE_SYNC_BATCH,    /* commit = write; fdatasync within batch_window_ms */
  STORE_SYNC_OFF       /* commit buffered in the process (<= 64 KiB), no fsync */
} store_sync;

typedef struct store_opts {
  store_sync sync;          /* default STORE_SYNC_FULL */
  bool read_only;           /* no lock taken; store_refresh picks up commits */
  unsigned batch_window_ms; /* STORE_SYNC_BATCH only; 0 = 10 ms */
  size_t cache_bytes;       /* budget for decoded events/values; 0 = 64 MiB */
} store_opts;

typedef struct store_stats {
  size_t streams;       /* streams ever appended to */
  size_t events;        /* events currently stored (after truncation) */
  size_t kv_keys;       /* live kv keys */
  uint64_t log_bytes;   /* size of DIR/log including unflushed commits */
  size_t index_bytes;   /* memory held by the in-memory index */
  size_t cache_bytes;   /* estimated memory held by the decoded-value cache */
  store_sync sync;
  bool read_only;
} store_stats;

/* Open (creating DIR and its files on first writable use). opts may be NULL
 * for the defaults. A second writer gets "store DIR is locked by pid N". */
int store_open(const char *dir, const store_opts *opts, store **out, sx_val *err);
/* Close the handle. Pending (uncommitted) writes are rolled back; committed
 * writes buffered by batch/off modes are written (and synced in batch mode).
 * The handle is freed even when -1 is returned. */
int store_close(store *s, sx_val *err);

/* Log facet. event must be a dict whose "seq" entry is last_seq + 1.
 * store_read returns the stream's surviving events oldest first (SX_EMPTY
 * if none); the list is immutable and the same list is returned until the
 * stream changes. Reads never fail on a store that opened cleanly; should a
 * stored value be unreadable anyway, store_read/store_kv_get return an
 * sx_error value (SX_T_ERROR) naming the file and offset. */
int store_append(store *s, sx_val stream, sx_val event, sx_val *err);
sx_val store_read(store *s, sx_val stream);
int64_t store_last_seq(store *s, sx_val stream);  /* 0 if never appended */
sx_val store_streams(store *s);                   /* names in byte order */
int store_truncate(store *s, sx_val stream, int64_t n, sx_val *err); /* drop seq <= n */

/* KV facet. */
sx_val store_kv_get(store *s, sx_val key); /* SX_NIL when absent */
bool store_kv_has(store *s, sx_val key);
int store_kv_put(store *s, sx_val key, sx_val val, sx_val *err);
int store_kv_delete(store *s, sx_val key, sx_val *err);
sx_val store_kv_keys(store *s); /* byte order */

/* Transactions. */
int store_commit(store *s, sx_val *err); /* no-op when nothing is pending */
void store_rollback(store *s);
bool store_pending(store *s);            /* true when uncommitted writes exist */
/* Write committed-but-buffered frames and fdatasync now (any sync mode). */
int store_flush(store *s, sx_val *err);
/* Read-only handle: pick up state committed by the writer since open. */
int store_refresh(store *s, sx_val *err);

/* Verify a whole store (log frames, records, seq rules, blobs). Appends a
 * human-readable report to *report. Returns 0 clean, 1 damage found (each
 * damage line names the file and offset), -1 if the store cannot be read. */
int store_check(const char *dir, sx_buf *report);

/* Offline compaction: take the writer lock (a writer holding it gets "store
 * DIR is locked by pid N"), write DIR/log.compact holding exactly the
 * current state (stored events with their seqs, high-water marks, the
 * stream catalog, live kv entries), fsync it, rename it over DIR/log and
 * fsync DIR. A crash or failure at any point leaves the old log or the new
 * one, both complete. Blobs are untouched. Read-only handles opened before
 * keep the old file and must be reopened. */
typedef struct store_compact_stats {
  uint64_t log_before;  /* data bytes of DIR/log before (end of the last frame) */
  uint64_t file_before; /* size of DIR/log before, zero-filled space included */
  uint64_t log_after;   /* size of the new log */
  size_t streams, events, kv_keys; /* what the new log holds */
  size_t records;       /* records written */
} store_compact_stats;
int store_compact(const char *dir, store_compact_stats *out, sx_val *err);

/* What opening the store had to do that its user should hear about, such
 * as "store DIR: discarded N bytes of DIR/log at offset X: a torn tail
 * (...)"; NULL when nothing. The same text goes to the process-wide warning
 * hook when it happens: by default printed to stderr as "sx: warning: ...";
 * store_set_warning_hook replaces that (fn NULL: silent). */
const char *store_warning(store *s);
typedef void (*store_warning_fn)(const char *msg, void *ctx);
void store_set_warning_hook(store_warning_fn fn, void *ctx);

void store_get_stats(store *s, store_stats *out);
const char *store_sync_name(store_sync m); /* "full", "batch", "off" */
const char *store_dir(store *s);

#endif
