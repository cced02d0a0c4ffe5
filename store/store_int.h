/* store_int.h — internals shared by the store's modules (index, log, API,
 * blobs). Not part of the public API. */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- log file layout (docs/store-format.md) ---------------------------- */
#define LOG_HEADER_SIZE 16       /* "SXSTORE\0", u32 version, u32 crc32c */
#define LOG_VERSION 2u
#define FRAME_MAGIC 0x32465853u  /* "SXF2" little-endian */
#define FRAME_HEAD 28            /* u32 magic, u32 payload length, u64 offset, u64 synced, u32 crc32c */
#define FRAME_MAGIC_V1 0x31465853u /* "SXF1": version 1 frames, read only */
#define FRAME_HEAD_V1 8          /* u32 magic, u32 payload length */
#define FRAME_TAIL 4             /* u32 crc32c of head + payload */
#define FRAME_MAX_PAYLOAD 0x7fffffffu
#define OFF_BUFFER_LIMIT (64u * 1024u) /* STORE_SYNC_OFF write-behind size */

enum { REC_APPEND = 'A', REC_TRUNCATE = 'T', REC_PUT = 'P', REC_DELETE = 'D',
       REC_HWM = 'H' /* written by compaction only */ };

/* ---- in-memory index ----------------------------------------------------
 * One entry per stream that ever had an append. Event i (start <= i < count)
 * has seq hwm - (count - 1 - i): the stored events always form a contiguous
 * run ending at the high-water mark. offs[i] is the log offset of event i's
 * encoded value; cache[i] its decoded value (0 = not decoded). */
typedef struct stream_ent {
  sx_val name;       /* SX string */
  uint32_t hash;
  uint32_t next;     /* hash chain: entry index + 1, 0 ends the chain */
  int64_t hwm;       /* high-water mark: last seq ever appended */
  uint64_t *offs;    /* malloc'd */
  size_t start, count, cap;
  sx_val *cache;     /* GC array [cap] or NULL */
  size_t cache_est;  /* estimated bytes held by cache + list */
  sx_val list;       /* cached read result for [list_start, list_count) */
  size_t list_start, list_count;
} stream_ent;

typedef struct kv_ent {
  sx_val key;        /* SX string */
  uint32_t hash;
  uint32_t next;
  uint64_t off;      /* log offset of the encoded value; 0 = absent */
  sx_val cached;     /* decoded value or 0 */
  size_t cache_est;
} kv_ent;

typedef struct htab {
  uint32_t *b; /* bucket heads: entry index + 1 */
  size_t nb;   /* power of two, or 0 */
} htab;

/* Undo record for one index change made by the open transaction. */
typedef enum { U_NEW_STREAM, U_APPEND, U_TRUNC, U_NEW_KEY, U_KV } undo_kind;
typedef struct undo_rec {
  undo_kind kind;
  uint32_t idx;
  int64_t prev;   /* U_APPEND: previous hwm; U_TRUNC: previous start */
  uint64_t prev_off; /* U_KV: previous value offset */
} undo_rec;

typedef struct store_flusher store_flusher; /* batch-mode background fsync */

struct store {
  char *dir;           /* malloc'd */
  char *log_path;      /* malloc'd */
  int fd, lock_fd;
  store_opts opts;
  size_t cache_budget;

  /* log positions */
  uint64_t wbase;      /* bytes of the log file written (and indexed) */
  sx_buf wbuf;         /* frames not yet written: committed, then pending */
  size_t wcommitted;   /* wbuf[0..wcommitted) holds committed frames */
  bool txn_open;
  size_t txn_start;    /* offset in wbuf of the pending frame's head */
  sx_buf scratch;      /* value encoding scratch */

  const unsigned char *map; /* read-only mapping of log[0..map_len) */
  size_t map_len;

  /* index (arrays allocated uncollectable: they hold sx_vals) */
  stream_ent *streams;
  size_t nstreams, streams_cap;
  htab stab;
  kv_ent *kv;
  size_t nkv, kv_cap, kv_live;
  htab ktab;
  size_t nevents;       /* stored events, all streams */
  size_t cache_used;
  sx_val streams_list;  /* cached store_streams result or 0 */
  sx_val keys_list;     /* cached store_kv_keys result or 0 */

  undo_rec *undo;
  size_t nundo, undo_cap;

  store_flusher *flusher;
  char *failed;         /* malloc'd message once the store refuses writes */
  uint64_t torn_discarded;
  uint64_t file_end;    /* physical size of the log (>= wbase: zero-filled space) */
  uint64_t synced_end;  /* the log is known durable up to here (set at open) */
  bool v2_frames;       /* a version-2 frame was scanned: no version-1 frame may follow */
  char *warning;        /* malloc'd: what the open had to do (bytes discarded), or NULL */
};

/* ---- index (store_index.c) ---------------------------------------------- */
uint32_t store_hash(const void *p, size_t n);
long store_stream_find(store *s, const char *name, size_t len, uint32_t h);
long store_stream_add(store *s, sx_val name, uint32_t h);
long store_kv_find(store *s, const char *key, size_t len, uint32_t h);
long store_kv_add(store *s, sx_val key, uint32_t h);
/* Index mutations; with undo set they record how to reverse themselves. */
void store_ix_append(store *s, size_t si, int64_t seq, uint64_t off, bool undo);
size_t store_ix_truncate(store *s, size_t si, int64_t n, bool undo); /* returns dropped */
void store_ix_compact(store *s, size_t si);
void store_ix_kv_set(store *s, size_t ki, uint64_t off, bool undo);
void store_ix_note_new(store *s, bool stream, size_t idx); /* entry created in txn */
void store_ix_undo_all(store *s);
void store_ix_undo_clear(store *s); /* commit: forget undo, compact truncated */
void store_ix_shrink(store *s);
void store_ix_free(store *s);
size_t store_ix_bytes(store *s);
void store_cache_drop_stream(store *s, stream_ent *e);
void store_cache_trim(store *s, stream_ent *keep);

/* ---- log (store_log.c) --------------------------------------------------- */
typedef enum { SCAN_OK, SCAN_TORN, SCAN_DAMAGE, SCAN_IOERR } scan_kind;
typedef struct scan_result {
  scan_kind kind;
  uint64_t end;     /* end of the last valid frame */
  uint64_t bad_at;  /* offset of the first bad frame (TORN/DAMAGE) */
  uint64_t file_size;
  uint64_t zero_tail;  /* bytes of zero-filled (preallocated) space after end */
  size_t frames, records;
  char reason[400];
} scan_result;

int store_log_create(const char *dir, const char *log_path, sx_val *err);
int store_log_check_header(int fd, const char *path, sx_val *err);
/* Scan frames from s->wbase to the end of the file, applying their records
 * to the index; with verify, also decode every value. */
void store_log_scan(store *s, bool verify, scan_result *r);
/* Pointer to the bytes at log offset off (committed file or write buffer). */
const unsigned char *store_log_bytes(store *s, uint64_t off, size_t *avail);
/* Fill the head of the frame at b->data[head] (payload plen bytes, at log
 * offset off; the log was durable up to synced before it) and append its
 * checksum. */
void store_frame_seal(sx_buf *b, size_t head, size_t plen, uint64_t off, uint64_t synced);
/* A writable open has scanned the log: cut off a torn tail (recording a
 * warning), make what is there durable, upgrade a version-1 header. */
int store_log_opened(store *s, scan_result *r, sx_val *err);
int store_log_write_out(store *s, sx_val *err); /* write wbuf[0..wcommitted) */
int store_log_sync(store *s, sx_val *err); /* a failure makes the handle refuse writes */
void store_log_refuse(store *s, const char *why, const char *also);
int store_fsync_dir(const char *dir);
void store_log_unmap(store *s);

/* ---- batch flusher (store.c) ---------------------------------------------- */
void store_flusher_mark(store *s);

/* Printable rendering of a stream name or key for messages. */
const char *store_quote(sx_val str, char *buf, size_t cap);

#endif
