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

#include "pq_load.h"
#include "store_backend.h"

#define PG_SCHEMA_VERSION 1

typedef struct pgstore {
  store base;          /* the generic handle (must come first) */
  char *conninfo;      /* the URL without sx_schema=; never printed */
  char *shown;         /* the URL for messages: no password */
  char *schema;        /* the schema as a quoted identifier */
  PGconn *conn;        /* NULL until connected, or after the server went away */
  pthread_mutex_t mu;  /* one query at a time on conn */
} pgstore;

/* A query with binary parameters and results; NULL params allowed. On
 * failure *err names it, the connection is dropped when it broke (the
 * next query reconnects), and NULL is returned. The caller holds s->mu. */
PGresult *pg_query(pgstore *s, const char *sql, int n, const char *const *vals, const int *lens,
                   sx_val *err);
/* The same for statements returning no rows; 0 or -1. */
int pg_exec(pgstore *s, const char *sql, int n, const char *const *vals, const int *lens, sx_val *err);
/* SQL with every "S." replaced by the store's schema. malloc'd. */
char *pg_sql(pgstore *s, const char *tmpl);
/* The connection, opening it if needed (after the server went away). */
bool pg_ready(pgstore *s, sx_val *err);
int64_t pg_int8(const PGresult *r, int row, int col);
void pg_put_int8(char out[8], int64_t v);

int pgstore_commit(store *base, store_txn *t, uint64_t *ticket, sx_val *err);

#endif
