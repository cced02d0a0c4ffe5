/* pgstore.h — the PostgreSQL store backend's internals (pgstore.c: the
 * handle, connection, schema, reads, blobs, check; pgstore_commit.c: one
 * evaluation = one PostgreSQL transaction). Nothing outside store/
 * includes it.
 *
 * Versions (store_backend.h) without a global counter, so that commits on
 * different streams and keys never wait for each other: a stream's mark
 * version is its high-water mark and its content version hwm + first_seq
 * (both only grow, and every append or truncate grows their sum); a kv
 * row's version counts its puts and deletes (a deleted key keeps its row);
 * the stream list and the key list each have a counter row in clocks,
 * bumped by a commit that adds a stream or makes a key live or dead. */
#ifndef PGSTORE_H
#define PGSTORE_H

#include <pthread.h>
#include <stdatomic.h>

#include "pq_load.h"
#include "store_backend.h"

/* Schema version 2: a stream's high-water mark is the greater of its
 * row's hwm_floor and its newest event's seq (PG_MARK), so that a lone
 * append only inserts its event (pgstore_commit.c); version 1 kept the
 * mark itself in the row (column hwm) and is upgraded on open. */
#define PG_SCHEMA_VERSION 2

/* The mark of the stream named $1, in a statement over S.streams (its
 * row's columns unqualified): one index probe for the newest event. */
#define PG_MARK "greatest(hwm_floor, coalesce((SELECT max(seq) FROM S.events WHERE stream = $1), 0))"

/* Statements prepared on the current connection, by their SQL template
 * (a string literal: its address names it). Slot i is the statement
 * "sx_<i>"; pending: sent in a pipeline whose answer is not yet read. */
#define PG_MAX_PREPARED 64
typedef struct pg_prepared {
  const char *tmpl;
  bool ready;
} pg_prepared;

/* One connection and the statements prepared on it. */
typedef struct pgconn {
  PGconn *conn; /* NULL until connected, or after the server went away */
  unsigned gen; /* the handle's losses when it connected (pgstore.lost) */
  pg_prepared prep[PG_MAX_PREPARED];
  int nprep;
} pgconn;

/* Connections for requests that find the main one in use (another thread
 * reading or committing): made when first needed, at most sx_pool= of the
 * URL (PG_POOL_DEFAULT, up to PG_POOL_MAX; 0: requests wait for the main
 * one), so that concurrent evaluations read side by side and their
 * commits wait for WAL flushes together instead of one after another. */
#define PG_POOL_DEFAULT 16
#define PG_POOL_MAX 64

/* What the handle has read (pgstore_cache.c): per stream the events it
 * holds, [first, hwm] (hwm 0: none yet), and the mark and first seq the
 * database gave last; per key its version (in hwm) and value. `seen` is
 * the handle's clock taken just before the query or commit that gave the
 * marks or the key's version (0: not known to be current): they were
 * current at some moment after that tick. */
typedef enum { PGCACHE_STREAM, PGCACHE_KEY } pgcache_kind;
typedef struct pgcache_ent {
  bool live;
  int64_t hwm, first; /* a stream's; a key's version in hwm */
  sx_val events;      /* a stream's events, oldest first */
  sx_val value;       /* a key's value (has: it is live) */
  bool has;
  size_t bytes; /* estimated memory held */
  int64_t mark_hwm, mark_first;
  uint64_t seen;
} pgcache_ent;
typedef struct pgcache {
  sx_val index[2];   /* per kind: a dict name -> slot in ents; 0 = empty cache */
  pgcache_ent *ents; /* GC array */
  size_t n, cap, bytes;
} pgcache;

typedef struct pgstore {
  store base;                        /* the generic handle (must come first) */
  char *conninfo;                    /* the URL without sx_schema=; never printed */
  char *shown;                       /* the URL for messages: no password */
  char *schema;                      /* the schema as a quoted identifier */
  pgconn main;                       /* any request, while it is free */
  pthread_mutex_t conn_mu;           /* the main connection */
  pthread_mutex_t mu;                /* the cache (never held while waiting for the database) */
  pgconn pool[PG_POOL_MAX];          /* commits while main is busy */
  bool pool_busy[PG_POOL_MAX];       /* taken by a commit */
  int pool_made;                     /* pool[0, pool_made) exist */
  int pool_max;                      /* sx_pool= */
  int read_chunk;                    /* sx_read_chunk= (PG_READ_CHUNK) */
  pthread_mutex_t pool_mu;           /* pool_busy, pool_made */
  pthread_cond_t pool_freed;
  /* Connections found lost. One lost connection means the server went
   * away (a restart) for the idle ones too, which would each fail the
   * next request sent on them: a connection made before the latest loss
   * is made again before it is used. */
  _Atomic unsigned lost;
  pgcache cache; /* guarded by mu */
  /* The clock (store_clock): ticked just before every query or commit
   * whose answer says what is committed, so an answer tagged with a tick
   * greater than c was given after c was read. */
  _Atomic uint64_t clock;
  _Atomic uint64_t round_trips; /* requests sent (stats) */
} pgstore;

/* The next tick of s's clock (s->mu held, just before sending). */
uint64_t pg_tick(pgstore *s);

/* A query with binary parameters and results; NULL params allowed. sql
 * must be a string literal (a template with "S." for the schema): it is
 * prepared on the connection the first time and reused after. On failure
 * *err names it, the connection is dropped when it broke (the next query
 * reconnects), and NULL is returned. pg_query_on runs it on pc (the
 * caller's, from pg_take); pg_query on the main connection (the caller
 * holds s->conn_mu, or is opening the store). */
PGresult *pg_query_on(pgstore *s, pgconn *pc, const char *sql, int n, const char *const *vals, const int *lens,
                      sx_val *err);
PGresult *pg_query(pgstore *s, const char *sql, int n, const char *const *vals, const int *lens, sx_val *err);
/* The same for statements returning no rows; 0 or -1. */
int pg_exec(pgstore *s, const char *sql, int n, const char *const *vals, const int *lens, sx_val *err);
/* As pg_query, for statements run once (any sql; never prepared). */
PGresult *pg_query_once(pgstore *s, const char *sql, sx_val *err);
int pg_exec_once(pgstore *s, const char *sql, sx_val *err);
/* Have sql (as pg_query_on) prepared on pc, its name in name; an empty
 * name when no slot is free (send the text then). false: *err says why. */
bool pg_prepared_on(pgstore *s, pgconn *pc, const char *sql, int n, char name[16], sx_val *err);
/* The slot of tmpl's prepared statement, -1 when all slots are taken (run
 * it unprepared then); *fresh when it is not yet prepared: the caller
 * prepares it and calls pg_prep_done. Its name: pg_prep_name. */
int pg_prep_slot(pgconn *pc, const char *tmpl, bool *fresh);
void pg_prep_done(pgconn *pc, int slot, bool ok);
/* Is tmpl's statement prepared on pc (and so usable outside a pipeline)? */
bool pg_prep_ready(const pgconn *pc, const char *tmpl);
void pg_prep_name(int slot, char out[16]);
/* Forget the connection (it broke or is being replaced). */
void pg_drop_conn(pgconn *pc);
/* pc was found broken: drop it, and have every connection made before
 * reconnect at its next use. */
void pg_lost_conn(pgstore *s, pgconn *pc);
/* SQL with every "S." replaced by the store's schema. malloc'd. */
char *pg_sql(pgstore *s, const char *tmpl);
/* The connection, opening it if needed (after the server went away). */
bool pg_ready(pgstore *s, pgconn *pc, sx_val *err);
/* A connection for one request — the main one when free, else one of the
 * pool's (waiting while all are taken) — and back. Never taken while
 * holding s->mu. */
pgconn *pg_take(pgstore *s);
void pg_give(pgstore *s, pgconn *pc);
int64_t pg_int8(const PGresult *r, int row, int col);
void pg_put_int8(char out[8], int64_t v);

int pgstore_commit(store *base, store_txn *t, uint64_t *ticket, sx_val *err);

/* ---- reads -------------------------------------------------------------------------------- */

/* Column col of row i decoded, or an error value naming the store. */
sx_val pg_value(pgstore *s, const PGresult *r, int i, int col);
/* The events of r (values in column col, seqs in col + 1; rows with a
 * NULL value skipped) decoded into items in seq order, their encoded
 * size added to *encoded; their count, or -1 with *bad the error value.
 * With feed, the connection's input is read now and then meanwhile. */
int pg_events_of(pgstore *s, const PGresult *r, int col, PGconn *feed, sx_val *items, size_t *encoded,
                 sx_val *bad);

/* Decoded events, in an array that grows (collected memory). */
typedef struct pg_items {
  sx_val *v;
  size_t n, cap;
} pg_items;
void pg_items_room(pg_items *it, size_t more); /* room for `more` after the n held */

/* The rest of a long read (pgstore_read.c): after a read's first query
 * gave the stream's marks and its first s->read_chunk events, the events
 * from lo to hi come in queries of s->read_chunk each, PG_READ_AHEAD of
 * them in flight. */
#define PG_READ_CHUNK 8192 /* the default of sx_read_chunk= */
#define PG_READ_CHUNK_MAX 1000000
#define PG_READ_PRESIZE_MAX (64 << 20) /* events a long read makes room for at once */
#define PG_READ_AHEAD 3
typedef struct pgr {
  pgstore *s;
  pgconn *pc;
  sx_val stream;
  int64_t next, last;           /* what is still to be asked for: seqs next..last */
  bool all_sent;                /* nothing is (next is past last) */
  int64_t want[PG_READ_AHEAD];  /* the rows each query in flight must return, oldest first */
  int head, out;                /* want[head] is the oldest; out in flight */
  char name[16];                /* the prepared chunk query ("": send its text) */
  char *text;                   /* its text then (malloc'd) */
} pgr;
typedef enum pgr_status {
  PGR_OK,
  PGR_CHANGED, /* a chunk lacked events: the stream changed since the first query */
  PGR_FAILED,  /* *err says why */
  PGR_BAD      /* a stored value does not decode (the read's result is that error) */
} pgr_status;
/* Tests only: called by a read whose stream goes on past its first query,
 * after that query and before the rest is asked for. */
extern void (*pg_read_between)(pgstore *s);
/* Send the first queries (pc in pipeline mode until pgr_end); false with
 * *err when they cannot be sent (pc is then out of pipeline mode). */
bool pgr_begin(pgr *rd, pgstore *s, pgconn *pc, sx_val stream, int64_t lo, int64_t hi, sx_val *err);
/* Decode every chunk into out in order (out NULL: only read them off),
 * sending the rest as results come, and leave pipeline mode. */
pgr_status pgr_end(pgr *rd, pg_items *out, size_t *encoded, sx_val *bad, sx_val *err);

/* The read cache (pgstore_cache.c); the caller holds s->mu. */
void pgcache_clear(pgstore *s);
pgcache_ent *pgcache_find(pgstore *s, pgcache_kind kind, sx_val name); /* NULL: none */
/* A fresh (zeroed, live) entry for name holding about bytes, replacing
 * the old one; NULL when it would not fit (the cache was emptied). */
pgcache_ent *pgcache_put(pgstore *s, pgcache_kind kind, sx_val name, size_t bytes);
void pgcache_drop(pgstore *s, pgcache_ent *e);
/* e's events from seq first on, then the n items of more (shared). */
sx_val pgcache_events(const pgcache_ent *e, int64_t first, const sx_val *more, size_t n);
/* Estimated bytes of a cached list of n items encoded in `encoded` bytes. */
size_t pgcache_list_bytes(size_t n, size_t encoded);
/* Record that the database gave the stream's mark and first seq after
 * tick `at` (an entry without events is made for a stream not cached). */
void pgcache_note_marks(pgstore *s, sx_val stream, int64_t hwm, int64_t first, uint64_t at);
/* The entry of name (if any) is no longer known to be current. */
void pgcache_unsee(pgstore *s, pgcache_kind kind, sx_val name);
/* May a reader that must see every commit finished before tick `since`
 * use e's marks (or key version) without asking? */
bool pgcache_current(const pgcache_ent *e, uint64_t since);

#endif
