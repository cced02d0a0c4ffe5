/* store_backend.h — the narrow interface between the generic store (handles,
 * transactions: store.c, store_txn.c) and a backend that keeps the committed
 * state (the file store: fstore*.c). The resolver and libsx see only
 * store.h; nothing above store/ knows which backend it talks to.
 *
 * Versions. A backend numbers its commits 1, 2, 3, ... (0 = nothing). Every
 * item a transaction can read carries the number of the commit that last
 * changed it (0 = never written): a stream's high-water mark (changed by
 * appends), a stream's contents (appends and truncates), a kv key (puts and
 * deletes, the entry kept after a delete), the stream catalog (a new
 * stream) and the key list (a key becoming live or dead). Reads report the
 * version they saw and the backend's newest commit number at that moment;
 * commit validates them (store_txn_validate) under the backend's lock. */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include <sys/types.h>

#include "store.h"

/* The record types of a transaction's payload and of the file store's log
 * frames (the same format: docs/store-format.md). */
enum {
  REC_APPEND = 'A',
  REC_TRUNCATE = 'T',
  REC_PUT = 'P',
  REC_DELETE = 'D',
  REC_HWM = 'H' /* written by compaction only */
};

/* What a read saw: the item's version and the newest commit number then. */
typedef struct store_rv {
  uint64_t ver, at;
} store_rv;

/* One stream as committed: high-water mark, first stored seq (hwm + 1 when
 * none is stored), and the versions of the mark and of the contents. */
typedef struct store_stream_info {
  int64_t hwm, first;
  store_rv hwm_rv, content_rv;
  sx_val error; /* 0, or an error value: the backend could not tell */
} store_stream_info;

typedef struct store_backend {
  const char *name; /* "file" */
  /* Committed reads (thread-safe). read also fills *info consistently.
   * since: the reader must see every commit that finished before the
   * handle's clock (store_clock) read since; a backend with a clock may
   * answer from what it learnt after that point without asking again. */
  sx_val (*read)(store *s, sx_val stream, store_stream_info *info, uint64_t since);
  void (*stream_info)(store *s, sx_val stream, store_stream_info *info, uint64_t since);
  sx_val (*streams)(store *s, store_rv *rv);
  sx_val (*kv_get)(store *s, sx_val key, bool *has, store_rv *rv, uint64_t since);
  sx_val (*kv_keys)(store *s, store_rv *rv);
  /* Writes allowed? 0, or -1 with *err (read-only, failed handle). */
  int (*writable)(store *s, sx_val *err);
  /* Validate t (store_txn_validate) and apply its writes; see store.h. */
  int (*commit)(store *s, store_txn *t, uint64_t *ticket, sx_val *err);
  /* 1 durable, 0 not yet (only when !block), -1 failed. */
  int (*wait)(store *s, uint64_t ticket, bool block, sx_val *err);
  int (*durable_fd)(store *s);
  int (*flush)(store *s, sx_val *err);
  int (*refresh)(store *s, sx_val *err);
  void (*stats)(store *s, store_stats *out);
  int (*close)(store *s, sx_val *err);                                                /* frees s */
  int (*blob_put)(store *s, const char *bytes, size_t len, sx_val *cid, sx_val *err); /* writable s */
  int (*blob_get)(store *s, sx_val cid, sx_val *bytes, sx_val *err);
  int (*blob_has)(store *s, sx_val cid, bool *has, sx_val *err);
  /* The ids stored, sorted (a list of strings), or an error value. */
  sx_val (*blob_list)(store *s);
  /* The size of a stored blob without reading it: 0 (and *size), 1 absent,
   * -1 with *err (a malformed id, a failed query). */
  int (*blob_size)(store *s, sx_val cid, uint64_t *size, sx_val *err);
  /* The handle's clock (store_clock); NULL: none, reads always ask. */
  uint64_t (*clock)(store *s);
} store_backend;

/* The generic part of every handle; a backend's handle begins with it. */
struct store {
  const store_backend *be;
  char *name; /* the directory (or URL) as opened; malloc'd */
  store_opts opts;
  store_txn *implicit; /* the implicit transaction, or NULL */
  const char *warning; /* what opening it had to do (store_warning), or NULL */
  /* process-wide sharing of writable handles (store.c) */
  char *share_key; /* canonical directory, or NULL when not shared */
  unsigned refs;
  pid_t share_pid; /* the process that opened it */
  store *share_next;
};

/* ---- transactions as backends see them (store_txn.c) --------------------- */

/* A growable byte array on the collected heap (no finaliser needed). */
typedef struct store_bytes {
  char *data;
  size_t len, cap;
} store_bytes;

/* The transaction's view of one stream. */
typedef struct txn_stream {
  sx_val name;
  uint32_t hash;
  bool hwm_read, content_read; /* in the read set */
  store_stream_info base;      /* as first seen */
  sx_val *events;              /* appended here: seqs base.hwm + 1 ... */
  size_t *enc_at;              /* per event: where its encoding is in the payload (store_txn_encoded) */
  size_t n, cap;
  int64_t trunc; /* truncated here up to this seq (0: not) */
} txn_stream;

/* The transaction's view of one kv key. */
typedef enum { TK_UNTOUCHED, TK_PUT, TK_DELETED } txn_key_state;
typedef struct txn_key {
  sx_val key;
  uint32_t hash;
  bool read, mark;
  bool had; /* live when first read */
  store_rv rv;
  txn_key_state state;
  sx_val val;
  size_t val_at; /* a put's: where val's encoding is in the payload */
} txn_key;

struct store_txn {
  store *s;
  txn_stream *streams; /* GC arrays: they hold values */
  size_t nstreams, scap;
  uint32_t *sidx; /* open addressing: entry index + 1 */
  size_t snb;
  txn_key *keys;
  size_t nkeys, kcap;
  uint32_t *kidx;
  size_t knb;
  bool catalog_read, keys_read;
  store_rv catalog_rv, keys_rv;
  store_bytes payload; /* the records, in the log's record format */
  /* room for a small transaction, so one that touches a stream or two
   * and writes a few hundred bytes allocates nothing more */
  txn_stream stream_room[2];
  uint32_t sidx_room[4];
  char payload_room[256];
  size_t nrecords;
  uint64_t seen;  /* the newest version read */
  uint64_t since; /* the handle's clock when the evaluation's request was in */
  sx_val doomed;  /* a "conflict: ..." message once a re-read changed */
  sx_val broken;  /* 0, or the error value of a read the backend failed */
  bool finished;
};

/* Check t's read set against the committed versions cur() reports (called
 * by a backend's commit under its lock). A transaction with writes needs
 * every item it read unchanged; one without writes needs a moment at which
 * all its reads were current. 0, or STORE_ECONFLICT with *err. */
typedef enum {
  STORE_ITEM_HWM,
  STORE_ITEM_CONTENT,
  STORE_ITEM_KEY,
  STORE_ITEM_CATALOG,
  STORE_ITEM_KEYS
} store_item;
typedef uint64_t (*store_ver_fn)(store *s, store_item kind, sx_val name);
int store_txn_validate(store_txn *t, store_ver_fn cur, sx_val *err);

/* The encoding (the store's codec) of a value the transaction wrote, as
 * its payload holds it: at is a txn_stream's enc_at[i] or a txn_key's
 * val_at. A backend sends these bytes instead of encoding again. */
void store_txn_encoded(const store_txn *t, size_t at, const char **data, size_t *len);

/* Helpers every layer of store/ uses (store.c). */
uint32_t store_hash(const void *p, size_t n);

/* Backends. */
int fstore_open(const char *dir, const store_opts *opts, store **out, sx_val *err);
int pgstore_open(const char *url, const store_opts *opts, store **out, sx_val *err);
int pgstore_check(const char *url, sx_buf *report);
/* Loading a dump into a PostgreSQL store (pgstore_restore.c): the rows, in
 * one transaction; store_dump.c checks the records' order and calls these.
 * Each returns 0, or -1 with *err; finish and abandon free r. */
typedef struct pgstore_restore pgstore_restore;
int pgstore_restore_begin(const char *url, pgstore_restore **out, sx_val *err);
int pgstore_restore_stream(pgstore_restore *r, sx_val name, int64_t hwm, int64_t first, sx_val *err);
int pgstore_restore_event(pgstore_restore *r, sx_val stream, int64_t seq, sx_val event, sx_val *err);
int pgstore_restore_kv(pgstore_restore *r, sx_val key, sx_val val, sx_val *err);
int pgstore_restore_blob(pgstore_restore *r, sx_val cid, sx_val bytes, sx_val *err);
int pgstore_restore_finish(pgstore_restore *r, sx_val *err);
void pgstore_restore_abandon(pgstore_restore *r);

#endif
