/* store_int.h — the file store backend's internals, shared by its modules
 * (fstore.c: open, close, refresh; fstore_read.c; fstore_commit.c;
 * store_index.c; store_log.c; store_compact.c; store_check.c). Nothing
 * outside store/ includes it.
 *
 * States of a handle (fstore_assert_state checks them in debug builds):
 *  - open: the index reflects the log's frames in the file up to wbase,
 *    then the committed frames in inflight, then those in wbuf;
 *  - syncing: a leader is writing inflight and fdatasyncing outside the
 *    lock (full mode only); nobody else touches inflight, fd or file_end;
 *  - buffered: wbuf holds committed frames not yet written (off mode, or
 *    full mode between a commit and the sync of its group);
 *  - failed: `failed` names the first failure; writes are refused until
 *    the store is reopened. */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_backend.h"

/* ---- log file layout (docs/store-format.md) ---------------------------- */
#define LOG_HEADER_SIZE 16 /* "SXSTORE\0", u32 version, u32 crc32c */
#define LOG_VERSION 2u
#define FRAME_MAGIC 0x32465853u    /* "SXF2" little-endian */
#define FRAME_HEAD 28              /* u32 magic, u32 payload length, u64 offset, u64 synced, u32 crc32c */
#define FRAME_MAGIC_V1 0x31465853u /* "SXF1": version 1 frames, read only */
#define FRAME_HEAD_V1 8            /* u32 magic, u32 payload length */
#define FRAME_TAIL 4               /* u32 crc32c of head + payload */
#define FRAME_MAX_PAYLOAD 0x7fffffffu
#define OFF_BUFFER_LIMIT (64u * 1024u) /* STORE_SYNC_OFF write-behind size */

/* ---- in-memory index ----------------------------------------------------
 * One entry per stream that ever had an append. Event i (start <= i < count)
 * has seq hwm - (count - 1 - i): the stored events always form a contiguous
 * run ending at the high-water mark. offs[i] is the log offset of event i's
 * encoded value; cache[i] its decoded value (0 = not decoded). */
typedef struct stream_ent {
  sx_val name; /* SX string */
  uint32_t hash;
  uint32_t next;         /* hash chain: entry index + 1, 0 ends the chain */
  int64_t hwm;           /* high-water mark: last seq ever appended */
  uint64_t hwm_ver, ver; /* commits that last moved the mark / changed the contents */
  uint64_t *offs;        /* malloc'd */
  size_t start, count, cap;
  sx_val *cache;    /* GC array [cap] or NULL */
  size_t cache_est; /* estimated bytes held by cache + list */
  sx_val list;      /* cached read result for [start, list_count) */
  size_t list_count;
} stream_ent;

typedef struct kv_ent {
  sx_val key; /* SX string */
  uint32_t hash;
  uint32_t next;
  uint64_t off;  /* log offset of the encoded value; 0 = absent */
  uint64_t ver;  /* commit that last put or deleted it */
  sx_val cached; /* decoded value or 0 */
  size_t cache_est;
} kv_ent;

typedef struct htab {
  uint32_t *b; /* bucket heads: entry index + 1 */
  size_t nb;   /* power of two, or 0 */
} htab;

typedef struct store_flusher store_flusher; /* batch-mode background fsync */

/* A range of commits whose write or sync failed (they were never durable). */
typedef struct fstore_failure {
  uint64_t from, to;
  char *msg;
} fstore_failure;

typedef struct fstore fstore;
struct fstore {
  store base;     /* the generic handle (must come first) */
  char *dir;      /* malloc'd */
  char *log_path; /* malloc'd */
  int fd, lock_fd;
  store_opts opts;
  size_t cache_budget;

  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t cv;  /* durability advanced, a sync failed, or syncing ended */

  /* log positions: the file holds [0, wbase); then inflight, then wbuf */
  uint64_t wbase;      /* bytes of the log file written (and indexed) */
  sx_buf inflight;     /* frames a sync leader is writing (full mode) */
  sx_buf wbuf;         /* committed frames not yet written */
  bool syncing;        /* a leader owns inflight */
  uint64_t commit_no;  /* commits applied to the index (versions) */
  uint64_t durable_no; /* commits <= this are durable per the sync mode */
  uint64_t want_no;    /* the newest commit a waiter needs durable */
  fstore_failure *failures;
  size_t nfailures;
  uint64_t syncs;   /* fdatasyncs that made commits durable */
  int event_fd;     /* eventfd signalled when durability advances, or -1 */
  pthread_t syncer; /* makes commits durable that nobody waits for */
  bool syncer_on, syncer_stop;

  const unsigned char *map; /* read-only mapping of log[0..map_len) */
  size_t map_len;

  /* index (arrays allocated uncollectable: they hold sx_vals) */
  stream_ent *streams;
  size_t nstreams, streams_cap;
  htab stab;
  kv_ent *kv;
  size_t nkv, kv_cap, kv_live;
  htab ktab;
  size_t nevents; /* stored events, all streams */
  size_t cache_used;
  sx_val streams_list;            /* cached stream listing or 0 */
  sx_val keys_list;               /* cached key listing or 0 */
  uint64_t catalog_ver, keys_ver; /* commits that last changed the listings */

  store_flusher *flusher;
  char *failed; /* malloc'd message once the store refuses writes */
  uint64_t torn_discarded;
  uint64_t file_end;   /* physical size of the log (>= wbase: zero-filled space) */
  uint64_t synced_end; /* the log is known durable up to here (set at open) */
  bool v2_frames;      /* a version-2 frame was scanned: no version-1 frame may follow */
  char *warning;       /* malloc'd: what the open had to do (bytes discarded), or NULL */
};

#ifdef NDEBUG
#define fstore_assert_state(s) ((void)0)
#else
void fstore_assert_state(fstore *s); /* fstore.c; the caller holds s->mu */
#endif

/* ---- index (store_index.c) ------------------------------------------------
 * Mutations stamp the entries they change with s->commit_no. */
long store_stream_find(fstore *s, const char *name, size_t len, uint32_t h);
long store_stream_add(fstore *s, sx_val name, uint32_t h);
long store_kv_find(fstore *s, const char *key, size_t len, uint32_t h);
long store_kv_add(fstore *s, sx_val key, uint32_t h);
void store_ix_append(fstore *s, size_t si, int64_t seq, uint64_t off);
size_t store_ix_truncate(fstore *s, size_t si, int64_t n); /* returns dropped */
void store_ix_compact(fstore *s, size_t si);
void store_ix_kv_set(fstore *s, size_t ki, uint64_t off);
void store_ix_shrink(fstore *s);
void store_ix_free(fstore *s);
size_t store_ix_bytes(fstore *s);
void store_cache_drop_stream(fstore *s, stream_ent *e);
void store_cache_trim(fstore *s, stream_ent *keep);

/* ---- log (store_log.c) --------------------------------------------------- */
typedef enum { SCAN_OK, SCAN_TORN, SCAN_DAMAGE, SCAN_IOERR } scan_kind;
typedef struct scan_result {
  scan_kind kind;
  uint64_t end;    /* end of the last valid frame */
  uint64_t bad_at; /* offset of the first bad frame (TORN/DAMAGE) */
  uint64_t file_size;
  uint64_t zero_tail; /* bytes of zero-filled (preallocated) space after end */
  size_t frames, records;
  char reason[400];
} scan_result;

int store_log_create(const char *dir, const char *log_path, sx_val *err);
int store_log_check_header(int fd, const char *path, sx_val *err);
/* Scan frames from s->wbase to limit (or the end of the file when limit is
 * 0), applying their records to the index, each frame as one commit
 * (s->commit_no counts them); with verify, also decode every value. */
void store_log_scan(fstore *s, bool verify, uint64_t limit, scan_result *r);
/* Apply one frame payload (records) found at log offset base. 0, or -1
 * with *why naming the broken rule. */
int store_log_apply(fstore *s, const unsigned char *payload, size_t len, uint64_t base, const char **why);
/* Pointer to the bytes at log offset off (file, inflight or wbuf). */
const unsigned char *store_log_bytes(fstore *s, uint64_t off, size_t *avail);
/* What a failed write broke: LOG_WRITE_FAILED leaves the file as it was
 * (the handle may go on); LOG_WRITE_REFUSE means a sync failed or the file
 * could not be cut back, so the handle must refuse writes. */
typedef enum { LOG_WRITE_OK = 0, LOG_WRITE_FAILED, LOG_WRITE_REFUSE } log_write_rc;
/* Write buf at log offset at (growing the file as needed; full and batch
 * modes sync the growth). On failure cut the file back to at and put the
 * reason in msg. Touches only fd and file_end (no GC allocation), so a
 * sync leader may call it without the lock. */
log_write_rc store_log_write(fstore *s, const sx_buf *buf, uint64_t at, char *msg, size_t cap);
/* Write wbuf out at wbase (under s->mu, nobody syncing). */
int store_log_write_out(fstore *s, sx_val *err);
int store_log_sync(fstore *s, sx_val *err); /* a failure makes the handle refuse writes */
void store_log_refuse(fstore *s, const char *why, const char *also);
void store_log_unmap(fstore *s);
/* Fill the head of the frame at b->data[head] (payload plen bytes, at log
 * offset off; the log was durable up to synced before it) and append its
 * checksum. */
void store_frame_seal(sx_buf *b, size_t head, size_t plen, uint64_t off, uint64_t synced);
/* A writable open has scanned the log: cut off a torn tail (recording a
 * warning), make what is there durable, upgrade a version-1 header. */
int store_log_opened(fstore *s, scan_result *r, sx_val *err);

/* ---- open and commit (fstore.c, fstore_commit.c) --------------------------- */
/* Allocate a handle for dir without opening anything. */
fstore *fstore_new(const char *dir, const store_opts *opts);
/* mkdir -p dir, fsyncing each parent whose entries change (a name that
 * cannot be made durable is taken back). 0, or -1 with errno. */
int fstore_mkdirs(const char *dir);
void fstore_free(fstore *s);
/* Open dir's log (writable or read-only per opts): lock, recover, index. */
int fstore_open_log(fstore *s, sx_val *err);
/* The file backend's commit, wait and close halves (fstore_commit.c). */
int fstore_commit(store *base, store_txn *t, uint64_t *ticket, sx_val *err);
int fstore_wait(store *base, uint64_t ticket, bool block, sx_val *err);
int fstore_durable_fd(store *base);
int fstore_flush(store *base, sx_val *err);
/* Stop the background threads and write what is buffered (close). */
int fstore_drain(fstore *s, sx_val *err);
int fstore_flusher_start(fstore *s, sx_val *err);
/* The committed reads (fstore_read.c), each under s->mu. The handle holds
 * every commit of its process and picks up another's at open or refresh,
 * so `since` (store_backend.h) changes nothing here. */
sx_val fstore_read(store *base, sx_val stream, store_stream_info *info, uint64_t since);
void fstore_stream_info(store *base, sx_val stream, store_stream_info *info, uint64_t since);
sx_val fstore_streams(store *base, store_rv *rv);
sx_val fstore_kv_get(store *base, sx_val key, bool *has, store_rv *rv, uint64_t since);
sx_val fstore_kv_keys(store *base, store_rv *rv);
/* The current version of an item (for validation; the caller holds s->mu). */
uint64_t fstore_item_ver(store *base, store_item kind, sx_val name);

#endif
