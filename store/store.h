/* store.h — the sx durable store: per-stream event logs, a key/value facet
 * and content-addressed blobs, behind one handle whatever the backend (the
 * file store in one directory today; docs/store-format.md).
 *
 * Error convention (the same everywhere in store/):
 *  - functions returning int give STORE_OK (0) on success, STORE_EFAIL (-1)
 *    on an error and STORE_ECONFLICT (-2) when a transaction lost a race;
 *    *err (never NULL) then gets an SX string sentence naming the problem
 *    (a conflict's starts "conflict: " and names the stream or key);
 *  - reads return values; should a stored value be unreadable they return
 *    an sx_error value (SX_T_ERROR) naming the file and offset, and reads
 *    in a transaction that has already lost a race return an error value
 *    whose message starts "conflict: ";
 *  - stream names and kv keys are SX strings of any bytes (never used as
 *    file names).
 *
 * Transactions. Every change is made in a transaction (store_txn): its own
 * write set, invisible to every other transaction until it commits; its
 * reads see the committed state plus its own writes. It records what it
 * read (each stream's high-water mark and contents, each kv key, and the
 * stream and key listings); store_txn_commit validates that record against
 * the commits made since and applies the writes all-or-nothing, or fails
 * with STORE_ECONFLICT and stores nothing (optimistic concurrency control:
 * serializable). Many transactions of one handle may be open at once, on
 * any threads; one transaction is used by one thread at a time.
 *
 * Durability. A commit is applied (visible to later transactions) when
 * store_txn_commit returns, and durable per the sync mode once
 * store_wait_durable(ticket) returns 0: in `full` mode commits that become
 * ready while a sync is in flight share the next fdatasync (group commit).
 *
 * The implicit transaction. store_append, store_read, ... and store_commit
 * act on one transaction the handle keeps for callers that need no more
 * (tests, tools): store_commit commits it and waits for durability. It is
 * not for handles shared between threads: use store_txn_begin there.
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

#include "store_mem.h"
#include "sx_buf.h"
#include "sx_value.h"

typedef struct store store;
typedef struct store_txn store_txn;

enum { STORE_OK = 0, STORE_EFAIL = -1, STORE_ECONFLICT = -2 };

typedef enum store_sync {
  STORE_SYNC_FULL = 0, /* commit durable (fdatasync) before it is acknowledged */
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
  uint64_t log_bytes;   /* size of DIR/log including unwritten commits */
  size_t index_bytes;   /* memory held by the in-memory index */
  size_t cache_bytes;   /* estimated memory held by the decoded-value cache */
  uint64_t commits;     /* commits applied since open */
  uint64_t syncs;       /* fdatasyncs that made commits durable since open */
  uint64_t round_trips; /* requests sent to the database since open, except
                           for stats (PostgreSQL) */
  store_sync sync;
  bool read_only;
} store_stats;

/* ---- handles --------------------------------------------------------------
 * Open (creating DIR and its files on first writable use). opts may be NULL
 * for the defaults. A second writer process gets "store DIR is locked by pid
 * N". Inside one process, writable opens of the same directory share one
 * handle (closed when the last is closed); their sync modes must agree. */
int store_open(const char *dir, const store_opts *opts, store **out, sx_val *err);
/* Does name (a --store argument) name a PostgreSQL store (postgresql://,
 * postgres://) rather than a directory? */
bool store_is_url(const char *name);
/* name as messages show it: a URL without its password (user:pw@ and
 * password=), anything else as it is. malloc'd. */
char *store_label(const char *name);
/* Close the handle. The implicit transaction is rolled back; committed
 * writes that batch/off modes buffer are written (and synced in batch
 * mode). The handle is freed even when an error is returned. Transactions
 * still open must not be used afterwards. */
int store_close(store *s, sx_val *err);
const char *store_dir(store *s);
const char *store_sync_name(store_sync m); /* "full", "batch", "off" */
void store_get_stats(store *s, store_stats *out);
/* Write committed-but-buffered frames and fdatasync now (any sync mode). */
int store_flush(store *s, sx_val *err);
/* Read-only handle: pick up state committed by the writer since open. */
int store_refresh(store *s, sx_val *err);

/* ---- transactions ---------------------------------------------------------- */
store_txn *store_txn_begin(store *s);
/* A new transaction on s, reusing t's memory when t (may be NULL) has
 * finished and nothing else refers to it. */
store_txn *store_txn_renew(store_txn *t, store *s);
store *store_txn_store(store_txn *t);
/* The handle's clock: it counts the round trips that can tell a PostgreSQL
 * store what is committed (always 0 for the file store). A transaction
 * must see every commit that finished before it began; store_txn_since(t,
 * c) moves that point back to c, a clock value read after the request
 * the transaction evaluates was received in full (so every commit it must
 * see finished before c), and lets the handle answer from what it learnt
 * from the database after c instead of asking again. */
uint64_t store_clock(store *s);
void store_txn_since(store_txn *t, uint64_t c);
/* true once the transaction holds a write */
bool store_txn_dirty(store_txn *t);
/* true once a read saw that another commit changed what the transaction
 * had read (it can only fail now); *msg gets the "conflict: ..." message */
bool store_txn_conflicted(store_txn *t, sx_val *msg);
/* true once a read failed (the database could not be reached, a stored
 * value did not decode): the transaction can only fail; *err the error */
bool store_txn_failed(store_txn *t, sx_val *err);

/* Log facet. event must be a dict whose "seq" entry is last_seq + 1 as the
 * transaction sees it. store_txn_read returns the stream's surviving events
 * oldest first (SX_EMPTY if none), an immutable list. */
int store_txn_append(store_txn *t, sx_val stream, sx_val event, sx_val *err);
sx_val store_txn_read(store_txn *t, sx_val stream);
int64_t store_txn_last_seq(store_txn *t, sx_val stream);                     /* 0 if never appended */
sx_val store_txn_streams(store_txn *t);                                      /* names in byte order */
int store_txn_truncate(store_txn *t, sx_val stream, int64_t n, sx_val *err); /* drop seq <= n */

/* KV facet. */
sx_val store_txn_kv_get(store_txn *t, sx_val key); /* SX_NIL when absent */
bool store_txn_kv_has(store_txn *t, sx_val key);
int store_txn_kv_put(store_txn *t, sx_val key, sx_val val, sx_val *err);
int store_txn_kv_delete(store_txn *t, sx_val key, sx_val *err);
sx_val store_txn_kv_keys(store_txn *t); /* byte order */

/* Validate and apply (see the top). *ticket gets the point the caller must
 * wait for (store_wait_durable) before it acknowledges the transaction:
 * its own commit, or for a transaction without writes the newest commit it
 * read from. The transaction is finished either way. */
int store_txn_commit(store_txn *t, uint64_t *ticket, sx_val *err);
/* Discard the transaction's writes; it is finished. */
void store_txn_abort(store_txn *t);
/* Wait until the commit numbered ticket is durable per the sync mode: 0, or
 * -1 when the write or sync that should have made it durable failed (it is
 * then not stored: the handle's state went back to what is on disk). */
int store_wait_durable(store *s, uint64_t ticket, sx_val *err);
/* The same without waiting: 1 durable, 0 not yet, -1 failed (*err set). A
 * commit nobody waits for is made durable by a background syncer within a
 * sync's time. */
int store_poll_durable(store *s, uint64_t ticket, sx_val *err);
/* A file descriptor that becomes readable whenever commits become durable
 * (an eventfd; read it to re-arm), for event-loop hosts; -1 if none. */
int store_durable_fd(store *s);

/* ---- the implicit transaction -------------------------------------------- */
int store_append(store *s, sx_val stream, sx_val event, sx_val *err);
sx_val store_read(store *s, sx_val stream);
int64_t store_last_seq(store *s, sx_val stream);
sx_val store_streams(store *s);
int store_truncate(store *s, sx_val stream, int64_t n, sx_val *err);
sx_val store_kv_get(store *s, sx_val key);
bool store_kv_has(store *s, sx_val key);
int store_kv_put(store *s, sx_val key, sx_val val, sx_val *err);
int store_kv_delete(store *s, sx_val key, sx_val *err);
sx_val store_kv_keys(store *s);
/* Commit the implicit transaction and wait for durability (a no-op when it
 * holds no writes). */
int store_commit(store *s, sx_val *err);
void store_rollback(store *s);
bool store_pending(store *s); /* true when the implicit transaction holds writes */

/* ---- blobs (content-addressed; see blob.h for ids) ------------------------- */
int store_blob_put(store *s, const char *bytes, size_t len, sx_val *cid_out, sx_val *err);
/* *bytes_out: the verified bytes, or SX_NIL when absent. */
int store_blob_get(store *s, sx_val cid, sx_val *bytes_out, sx_val *err);
int store_blob_has(store *s, sx_val cid, bool *out, sx_val *err);
/* The ids of the blobs stored, sorted (a list of strings), or an error
 * value when they cannot be listed. */
sx_val store_blobs(store *s);
/* The size of a stored blob without reading it: 0 (and *size), 1 when
 * absent, -1 with *err (a malformed id, a failed read). */
int store_blob_size(store *s, sx_val cid, uint64_t *size, sx_val *err);

/* ---- offline tools ---------------------------------------------------------- */

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
  uint64_t log_before;             /* data bytes of DIR/log before (end of the last frame) */
  uint64_t file_before;            /* size of DIR/log before, zero-filled space included */
  uint64_t log_after;              /* size of the new log */
  size_t streams, events, kv_keys; /* what the new log holds */
  size_t records;                  /* records written */
} store_compact_stats;
int store_compact(const char *dir, store_compact_stats *out, sx_val *err);

/* ---- whole stores from outside (store_dump.c) ---------------------------------
 * Restore: build a store from its parts (what `sx store load` reads from a
 * dump) into dir, which must hold no store or an empty one (no streams, kv
 * keys or blobs); the writer lock is held until finish or abandon. Streams
 * come one at a time: store_restore_stream (name, high-water mark), then
 * its stored events oldest first (each a dict whose "seq" follows the
 * previous one, the last one's being the high-water mark); then kv entries
 * and blobs in any order. The log is written as DIR/log.restore and swapped
 * in by finish (synced), so a failed restore leaves no log behind it; blobs
 * are stored as they come. Functions return 0, or -1 with *err set. */
typedef struct store_restore store_restore;
int store_restore_begin(const char *dir, store_restore **out, sx_val *err);
int store_restore_stream(store_restore *r, sx_val name, int64_t hwm, sx_val *err);
int store_restore_event(store_restore *r, sx_val event, sx_val *err);
int store_restore_kv(store_restore *r, sx_val key, sx_val val, sx_val *err);
int store_restore_blob(store_restore *r, sx_val cid, sx_val bytes, sx_val *err);
int store_restore_finish(store_restore *r, sx_val *err); /* frees r either way */
void store_restore_abandon(store_restore *r);            /* frees r; NULL ignored */
/* The ids of the blobs stored in dir, sorted (a list of strings). */
sx_val store_blob_list(const char *dir);
/* Online backup: copy the store in dir (which may be open for writing in
 * another process) to dest, a directory that must not exist: the log up to
 * the end of its last complete frame (a commit boundary), synced, then
 * every blob. The copy is a normal store. */
typedef struct store_backup_stats {
  uint64_t log_bytes;
  size_t streams, events, kv_keys, blobs;
} store_backup_stats;
int store_backup(const char *dir, const char *dest, store_backup_stats *out, sx_val *err);

/* What opening the store had to do that its user should hear about, such
 * as "store DIR: discarded N bytes of DIR/log at offset X: a torn tail
 * (...)"; NULL when nothing. The same text goes to the process-wide warning
 * hook when it happens. Nobody hears it by default: the store never writes
 * to stderr; store_set_warning_hook installs a listener (fn NULL: none). */
const char *store_warning(store *s);
typedef void (*store_warning_fn)(const char *msg, void *ctx);
void store_set_warning_hook(store_warning_fn fn, void *ctx);
/* Tell the warning hook msg (nothing when none is installed). */
void store_warn(const char *msg);

#endif
