/* pgstore.c — the PostgreSQL store backend: a handle on a libpq
 * connection (`postgresql://...` URLs, libpq's PG* variables and .pgpass
 * as usual), the schema (created on first use, versioned in a meta table,
 * in the schema named by the URL's sx_schema= parameter, default "sx"),
 * committed reads, blobs, and `sx store check` of a database. Commits are
 * in pgstore_commit.c, what reads keep in pgstore_cache.c.
 *
 * Connections: a request (a read or a commit) runs on the handle's main
 * connection when it is free, else on one of a pool made as threads need
 * it (pg_take); the cache lock is never held while the database answers,
 * so the evaluations of a `--listen` server read and commit side by side. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pgstore.h"

#include <endian.h>
#include <gc.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"

/* ---- SQL helpers ------------------------------------------------------------- */

int64_t pg_int8(const PGresult *r, int row, int col) {
  uint64_t v;
  memcpy(&v, PQgetvalue(r, row, col), 8);
  return (int64_t)be64toh(v);
}

void pg_put_int8(char out[8], int64_t v) {
  uint64_t be = htobe64((uint64_t)v);
  memcpy(out, &be, 8);
}

static bool isalnum_ascii(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

char *pg_sql(pgstore *s, const char *tmpl) {
  size_t n = strlen(tmpl), k = strlen(s->schema), cap = n * (k + 1) + 1, o = 0;
  char *out = store_xmalloc(cap);
  for (size_t i = 0; i < n; i++) {
    if (tmpl[i] == 'S' && tmpl[i + 1] == '.' && (i == 0 || !isalnum_ascii(tmpl[i - 1]))) {
      memcpy(out + o, s->schema, k);
      o += k;
    } else {
      out[o++] = tmpl[i];
    }
  }
  out[o] = '\0';
  return out;
}

static int pg_connect(pgstore *s, pgconn *pc, sx_val *err);

void pg_drop_conn(pgconn *pc) {
  if (pc->conn) PQfinish(pc->conn);
  pc->conn = NULL;
  pc->nprep = 0; /* prepared statements live and die with their connection */
}

void pg_lost_conn(pgstore *s, pgconn *pc) {
  atomic_fetch_add(&s->lost, 1);
  pg_drop_conn(pc);
}

bool pg_ready(pgstore *s, pgconn *pc, sx_val *err) {
  if (pc->conn && PQstatus(pc->conn) == CONNECTION_OK && pc->gen == atomic_load(&s->lost)) return true;
  pg_drop_conn(pc);
  return pg_connect(s, pc, err) == 0;
}

static pgconn *pg_pool_take(pgstore *s) {
  pthread_mutex_lock(&s->pool_mu);
  for (;;) {
    for (int i = 0; i < s->pool_made; i++)
      if (!s->pool_busy[i]) {
        s->pool_busy[i] = true;
        pthread_mutex_unlock(&s->pool_mu);
        return &s->pool[i];
      }
    if (s->pool_made < s->pool_max) break;
    pthread_cond_wait(&s->pool_freed, &s->pool_mu);
  }
  int i = s->pool_made++; /* connected by its first pg_ready */
  s->pool_busy[i] = true;
  pthread_mutex_unlock(&s->pool_mu);
  return &s->pool[i];
}

pgconn *pg_take(pgstore *s) {
  if (pthread_mutex_trylock(&s->conn_mu) == 0) return &s->main;
  if (s->pool_max == 0) { /* no pool: wait for the main one */
    pthread_mutex_lock(&s->conn_mu);
    return &s->main;
  }
  return pg_pool_take(s);
}

void pg_give(pgstore *s, pgconn *pc) {
  if (pc == &s->main) {
    pthread_mutex_unlock(&s->conn_mu);
    return;
  }
  pthread_mutex_lock(&s->pool_mu);
  s->pool_busy[pc - s->pool] = false;
  pthread_cond_signal(&s->pool_freed);
  pthread_mutex_unlock(&s->pool_mu);
}

/* ---- prepared statements --------------------------------------------------------- */

/* The slot holding tmpl's statement, -1 when none does. */
static int prep_find(const pgconn *pc, const char *tmpl) {
  for (int i = 0; i < pc->nprep; i++)
    if (pc->prep[i].tmpl == tmpl) return i;
  return -1;
}

int pg_prep_slot(pgconn *pc, const char *tmpl, bool *fresh) {
  int i = prep_find(pc, tmpl);
  *fresh = false;
  if (i >= 0) return i;
  if (pc->nprep == PG_MAX_PREPARED) return -1;
  pc->prep[pc->nprep] = (pg_prepared){tmpl, false};
  *fresh = true;
  return pc->nprep++;
}

bool pg_prep_ready(const pgconn *pc, const char *tmpl) {
  int i = prep_find(pc, tmpl);
  return i >= 0 && pc->prep[i].ready;
}

void pg_prep_done(pgconn *pc, int slot, bool ok) {
  assert(slot >= 0 && slot < pc->nprep);
  if (ok) {
    pc->prep[slot].ready = true;
  } else if (slot == pc->nprep - 1) {
    pc->nprep--; /* not made: the next use prepares it again under the same name */
  } else {
    pc->prep[slot].tmpl = NULL; /* its name may exist or not: never use it again */
  }
}

/* "sx_<slot>" (snprintf cost more than a thousand instructions, for every
 * statement sent). A slot of -1 (no statement) is never named to the
 * server. */
void pg_prep_name(int slot, char out[16]) {
  char digits[SX_INT_TEXT_MAX], *end = digits + sizeof digits, *p = sx_format_int(slot, end);
  assert(slot < PG_MAX_PREPARED);
  memcpy(out, "sx_", 3);
  memcpy(out + 3, p, (size_t)(end - p));
  out[3 + (end - p)] = '\0';
}

/* A result that failed: *err names it; a broken connection is dropped. */
static PGresult *pg_failed(pgstore *s, pgconn *pc, PGresult *r, sx_val *err) {
  bool lost = PQstatus(pc->conn) != CONNECTION_OK;
  *err = store_errorf("store %s: %s%s", s->shown, lost ? "the database connection was lost: " : "",
                      PQerrorMessage(pc->conn));
  PQclear(r);
  if (lost) pg_lost_conn(s, pc);
  return NULL;
}

static bool pg_ok(const PGresult *r) {
  ExecStatusType st = PQresultStatus(r);
  return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

bool pg_prepared_on(pgstore *s, pgconn *pc, const char *sql, int n, char name[16], sx_val *err) {
  bool fresh;
  int slot = pg_prep_slot(pc, sql, &fresh);
  name[0] = '\0';
  if (slot < 0) return true;
  pg_prep_name(slot, name);
  if (!fresh) return true;
  char *q = pg_sql(s, sql);
  s->round_trips++;
  PGresult *p = PQprepare(pc->conn, name, q, n, NULL);
  free(q);
  pg_prep_done(pc, slot, pg_ok(p));
  if (!pg_ok(p)) return pg_failed(s, pc, p, err), false;
  PQclear(p);
  return true;
}

PGresult *pg_query_on(pgstore *s, pgconn *pc, const char *sql, int n, const char *const *vals, const int *lens,
                      sx_val *err) {
  if (!pg_ready(s, pc, err)) return NULL;
  int fmts[16];
  assert(n <= 16);
  for (int i = 0; i < n; i++) fmts[i] = 1;
  char name[16];
  if (!pg_prepared_on(s, pc, sql, n, name, err)) return NULL;
  PGresult *r;
  s->round_trips++;
  if (name[0]) {
    r = PQexecPrepared(pc->conn, name, n, vals, lens, n ? fmts : NULL, 1);
  } else {
    char *q = pg_sql(s, sql);
    r = PQexecParams(pc->conn, q, n, NULL, vals, lens, n ? fmts : NULL, 1);
    free(q);
  }
  return pg_ok(r) ? r : pg_failed(s, pc, r, err);
}

PGresult *pg_query(pgstore *s, const char *sql, int n, const char *const *vals, const int *lens,
                   sx_val *err) {
  return pg_query_on(s, &s->main, sql, n, vals, lens, err);
}

int pg_exec(pgstore *s, const char *sql, int n, const char *const *vals, const int *lens, sx_val *err) {
  PGresult *r = pg_query(s, sql, n, vals, lens, err);
  if (!r) return -1;
  PQclear(r);
  return 0;
}

/* sql, unprepared, on pc (connected). */
static PGresult *pg_once_on(pgstore *s, pgconn *pc, const char *sql, sx_val *err) {
  char *q = pg_sql(s, sql);
  s->round_trips++;
  PGresult *r = PQexecParams(pc->conn, q, 0, NULL, NULL, NULL, NULL, 1);
  free(q);
  return pg_ok(r) ? r : pg_failed(s, pc, r, err);
}

PGresult *pg_query_once(pgstore *s, const char *sql, sx_val *err) {
  return pg_ready(s, &s->main, err) ? pg_once_on(s, &s->main, sql, err) : NULL;
}

/* A query on a connection of its own (pg_take), the tick taken just before
 * it was sent in *at. */
static PGresult *pg_ask(pgstore *s, uint64_t *at, const char *sql, int n, const char *const *vals,
                        const int *lens, sx_val *err) {
  pgconn *pc = pg_take(s);
  *at = pg_tick(s);
  PGresult *r = pg_query_on(s, pc, sql, n, vals, lens, err);
  pg_give(s, pc);
  return r;
}

int pg_exec_once(pgstore *s, const char *sql, sx_val *err) {
  PGresult *r = pg_query_once(s, sql, err);
  if (!r) return -1;
  PQclear(r);
  return 0;
}

/* ---- connecting and the schema ----------------------------------------------------- */

static const char *const schema_sql[] = {
    "CREATE SCHEMA IF NOT EXISTS S_NAME",
    "CREATE TABLE IF NOT EXISTS S.meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS S.streams (name bytea PRIMARY KEY, hwm_floor bigint NOT NULL,"
    " first_seq bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS S.events (stream bytea NOT NULL, seq bigint NOT NULL,"
    " value bytea NOT NULL, PRIMARY KEY (stream, seq))",
    "CREATE TABLE IF NOT EXISTS S.kv (key bytea PRIMARY KEY, value bytea, ver bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS S.blobs (cid text PRIMARY KEY, bytes bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS S.clocks (id text PRIMARY KEY, n bigint NOT NULL)",
    "INSERT INTO S.clocks VALUES ('catalog', 0), ('keys', 0) ON CONFLICT DO NOTHING",
    "INSERT INTO S.meta VALUES ('schema_version', '2') ON CONFLICT DO NOTHING",
    /* kept for the sx versions whose commit checks called it */
    "CREATE OR REPLACE FUNCTION S.sx_expect(ok boolean, what text) RETURNS boolean LANGUAGE plpgsql"
    " AS $f$ BEGIN IF NOT ok THEN RAISE EXCEPTION '%', what USING ERRCODE = '40001'; END IF;"
    " RETURN true; END $f$",
    /* version 1 -> 2: the mark's column becomes the floor (renamed, so
     * that a version 1 sx still running fails loudly instead of reading a
     * lagging mark), and first seqs that a truncation past the mark
     * pushed over later appends (an old bug) come back down */
    "DO $u$ BEGIN IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'S.streams'::regclass"
    " AND attname = 'hwm' AND NOT attisdropped) THEN"
    " ALTER TABLE S.streams RENAME COLUMN hwm TO hwm_floor;"
    " UPDATE S.streams s SET first_seq = coalesce((SELECT min(e.seq) FROM S.events e WHERE e.stream = s.name),"
    " s.hwm_floor + 1) WHERE s.first_seq > s.hwm_floor + 1; END IF; END $u$",
    "UPDATE S.meta SET value = '2' WHERE key = 'schema_version' AND value = '1'",
};

static void pg_quiet(void *arg, const char *msg) { (void)arg, (void)msg; /* NOTICEs of IF NOT EXISTS */ }

/* The schema's version: 0 when there is none yet (or it cannot be read:
 * then *err says why, and creating it will say it again or succeed). */
static int pg_schema_version(pgstore *s, sx_val *err) {
  PGresult *r = pg_query_once(s, "SELECT value FROM S.meta WHERE key = 'schema_version'", err);
  int version = r && PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : 0;
  PQclear(r);
  return version;
}

static int pg_newer(pgstore *s, int version, sx_val *err) {
  *err = store_errorf("store %s: the schema %s was written by a newer sx (schema version %d; this "
                      "build knows %d)",
                      s->shown, s->schema, version, PG_SCHEMA_VERSION);
  return -1;
}

/* Create the schema (one process at a time: an advisory lock), in one
 * transaction that writes the version row last. */
static int pg_schema_create(pgstore *s, sx_val *err) {
  if (pg_exec_once(s, "BEGIN", err) || pg_exec_once(s, "SELECT pg_advisory_xact_lock(7357001)", err))
    return -1;
  for (size_t i = 0; i < sizeof schema_sql / sizeof *schema_sql; i++) {
    char *q = NULL;
    if (strstr(schema_sql[i], "S_NAME")) q = store_xasprintf("CREATE SCHEMA IF NOT EXISTS %s", s->schema);
    int rc = pg_exec_once(s, q ? q : schema_sql[i], err);
    free(q);
    if (rc) return -1;
  }
  int version = pg_schema_version(s, err);
  if (version > PG_SCHEMA_VERSION) {
    pg_exec_once(s, "ROLLBACK", err);
    return pg_newer(s, version, err);
  }
  return pg_exec_once(s, "COMMIT", err);
}

/* A read-only handle on a schema without the store's tables: an error,
 * as for a directory that holds no store (a read-only tool never creates
 * one, so a misspelt sx_schema= is not checked and found "ok"). 0 when
 * the tables are there after all. */
static int pg_absent(pgstore *s, sx_val *err) {
  PGresult *r = pg_query_once(s, "SELECT to_regclass('S.meta') IS NOT NULL", err);
  if (!r) return -1;
  bool there = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 1;
  PQclear(r);
  if (there) return 0;
  *err = store_errorf("store %s: there is no store in schema %s (the first process that opens it for writing "
                      "creates it)",
                      s->shown, s->schema);
  return -1;
}

/* Use the schema as it is when its version is this build's (one query);
 * create it when missing (never for a read-only handle: pg_absent);
 * refuse one written by a newer version. */
static int pg_schema(pgstore *s, sx_val *err) {
  sx_val ignored = SX_NIL;
  int version = pg_schema_version(s, &ignored);
  if (version == PG_SCHEMA_VERSION) return 0;
  if (version > PG_SCHEMA_VERSION) return pg_newer(s, version, err);
  if (!s->main.conn && !pg_ready(s, &s->main, err)) return -1; /* the failed read dropped a broken connection */
  if (version == 0 && s->base.opts.read_only && pg_absent(s, err)) return -1;
  return pg_schema_create(s, err);
}

/* Connect pc and set the session's durability. */
static int pg_connect(pgstore *s, pgconn *pc, sx_val *err) {
  PGconn *c = PQconnectdb(s->conninfo);
  if (PQstatus(c) != CONNECTION_OK) {
    char msg[600];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
    for (char *p = msg + strlen(msg); p > msg && (p[-1] == '\n' || p[-1] == ' ');) *--p = '\0';
    *err = store_errorf("store %s: cannot connect to the database: %s", s->shown, msg);
    PQfinish(c);
    return -1;
  }
  PQsetNoticeProcessor(c, pg_quiet, NULL);
  pc->conn = c;
  pc->gen = atomic_load(&s->lost);
  const char *sync =
      s->base.opts.sync == STORE_SYNC_FULL ? "SET synchronous_commit = on" : "SET synchronous_commit = off";
  PGresult *r = pg_once_on(s, pc, sync, err);
  if (r) return PQclear(r), 0;
  pg_drop_conn(pc); /* never used without its durability set */
  return -1;
}

/* ---- the URL ---------------------------------------------------------------------------- */

/* sx's own parameters of a URL (libpq does not know them): each the last
 * one given, or NULL; malloc'd. */
typedef struct pg_url_sx {
  char *schema;     /* sx_schema=NAME */
  char *pool;       /* sx_pool=N */
  char *read_chunk; /* sx_read_chunk=N */
} pg_url_sx;

/* Is p (n bytes) the parameter name=...? Then its value goes to *dest. */
static bool url_param(const char *p, size_t n, const char *name, char **dest) {
  size_t k = strlen(name);
  if (n <= k || strncmp(p, name, k) != 0 || p[k] != '=') return false;
  free(*dest);
  *dest = strndup(p + k + 1, n - k - 1);
  return true;
}

/* The URL without sx's parameters, which go to sx. */
static char *url_take_sx(const char *url, pg_url_sx *sx) {
  memset(sx, 0, sizeof *sx);
  const char *q = strchr(url, '?');
  size_t head = q ? (size_t)(q - url) : strlen(url);
  char *u = store_xmalloc(strlen(url) + 2);
  memcpy(u, url, head);
  size_t o = head;
  for (const char *p = q ? q + 1 : NULL; p && *p;) {
    const char *end = strchr(p, '&');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    bool ours = url_param(p, n, "sx_schema", &sx->schema) || url_param(p, n, "sx_pool", &sx->pool) ||
                url_param(p, n, "sx_read_chunk", &sx->read_chunk);
    if (!ours && n) {
      char sep = o == head ? '?' : '&';
      u[o++] = sep;
      memcpy(u + o, p, n);
      o += n;
    }
    p = end ? end + 1 : NULL;
  }
  u[o] = '\0';
  return u;
}

/* ---- reads ---------------------------------------------------------------------------------- */

static void pg_name_param(sx_val name, const char **val, int *len) {
  *val = sx_str_data(name);
  *len = (int)sx_str_len(name);
}

static void info_set(store_stream_info *info, int64_t hwm, int64_t first) {
  memset(info, 0, sizeof *info);
  info->hwm = hwm;
  info->first = first;
  info->hwm_rv.ver = (uint64_t)hwm;
  info->content_rv.ver = (uint64_t)(hwm + first);
}

/* From a result whose row 0, if any, starts with hwm and first_seq (both
 * NOT NULL); no row: the stream was never appended to. */
static void info_from(const PGresult *r, store_stream_info *info) {
  bool has = PQntuples(r) > 0;
  info_set(info, has ? pg_int8(r, 0, 0) : 0, has ? pg_int8(r, 0, 1) : 1);
}

uint64_t pg_tick(pgstore *s) { return atomic_fetch_add(&s->clock, 1) + 1; }

static uint64_t pg_clock(store *base) { return atomic_load(&((pgstore *)base)->clock); }

/* The stream's marks: from the cache when current for since, else asked. */
static void pg_stream_info(store *base, sx_val stream, store_stream_info *info, uint64_t since) {
  pgstore *s = (pgstore *)base;
  const char *v;
  int l;
  pg_name_param(stream, &v, &l);
  sx_val err = SX_NIL;
  pthread_mutex_lock(&s->mu);
  pgcache_ent *c = pgcache_find(s, PGCACHE_STREAM, stream);
  bool known = pgcache_current(c, since);
  if (known) info_set(info, c->mark_hwm, c->mark_first);
  pthread_mutex_unlock(&s->mu);
  if (known) return;
  uint64_t at;
  PGresult *r = pg_ask(s, &at, "SELECT " PG_MARK ", first_seq FROM S.streams WHERE name = $1", 1, &v, &l, &err);
  if (!r) {
    memset(info, 0, sizeof *info), info->error = sx_error_new(err, SX_NIL);
    return;
  }
  info_from(r, info);
  PQclear(r);
  pthread_mutex_lock(&s->mu);
  pgcache_note_marks(s, stream, info->hwm, info->first, at);
  pthread_mutex_unlock(&s->mu);
}

/* A decoded value of column col of row i, or an error value. */
sx_val pg_value(pgstore *s, const PGresult *r, int i, int col) {
  sx_val v, err;
  size_t used;
  if (store_decode(PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col), &used, &v, &err))
    return sx_error_new(store_errorf("store %s: a stored value does not decode: %s", s->shown,
                                     sx_str_data(err)),
                        SX_NIL);
  return v;
}

typedef struct pg_row_seq {
  int64_t seq;
  int row;
} pg_row_seq;

static int cmp_row_seq(const void *a, const void *b) {
  int64_t x = ((const pg_row_seq *)a)->seq, y = ((const pg_row_seq *)b)->seq;
  return (x > y) - (x < y);
}

/* The rows of r that hold an event (column col, its seq in col + 1), in
 * seq order: the query leaves the order to the client, so that PostgreSQL
 * need not sort a long stream (it returns them in seq order almost
 * always, and then this only checks). malloc'd; *n their count. */
static pg_row_seq *pg_rows_by_seq(const PGresult *r, int col, int *n) {
  pg_row_seq *rows = store_xmalloc(((size_t)PQntuples(r) + 1) * sizeof *rows);
  bool sorted = true;
  *n = 0;
  for (int i = 0; i < PQntuples(r); i++) {
    if (PQgetisnull(r, i, col)) continue;
    rows[*n] = (pg_row_seq){pg_int8(r, i, col + 1), i};
    if (*n && rows[*n].seq < rows[*n - 1].seq) sorted = false;
    (*n)++;
  }
  if (!sorted) qsort(rows, (size_t)*n, sizeof *rows, cmp_row_seq);
  return rows;
}

int pg_events_of(pgstore *s, const PGresult *r, int col, PGconn *feed, sx_val *items, size_t *encoded,
                 sx_val *bad) {
  int n;
  pg_row_seq *rows = pg_rows_by_seq(r, col, &n);
  for (int k = 0; k < n; k++) {
    int i = rows[k].row;
    items[k] = pg_value(s, r, i, col);
    if (sx_is(items[k], SX_T_ERROR)) {
      free(rows);
      return *bad = items[k], -1;
    }
    *encoded += (size_t)PQgetlength(r, i, col);
    if (feed && k % 1024 == 1023) PQconsumeInput(feed); /* let the server go on sending */
  }
  free(rows);
  return n;
}

/* The stream's mark and its events after `after` up to `upto` (0 and
 * INT64_MAX: all), in any order (pg_rows_by_seq), one query on pc. */
static PGresult *pg_read_after(pgstore *s, pgconn *pc, sx_val stream, int64_t after, int64_t upto, sx_val *err) {
  char a8[8], u8[8];
  pg_put_int8(a8, after);
  pg_put_int8(u8, upto);
  const char *v[3] = {sx_str_data(stream), a8, u8};
  int l[3] = {(int)sx_str_len(stream), 8, 8};
  return pg_query_on(s, pc,
                     "SELECT " PG_MARK ", s.first_seq, e.value, e.seq FROM S.streams s LEFT JOIN S.events e"
                     " ON e.stream = s.name AND e.seq >= s.first_seq AND e.seq > $2 AND e.seq <= $3"
                     " WHERE s.name = $1",
                     3, v, l, err);
}

/* Does c hold every event of its stream as the database gave it after
 * since? */
static bool pg_cache_whole(const pgcache_ent *c, uint64_t since) {
  return pgcache_current(c, since) && c->hwm > 0 && c->hwm == c->mark_hwm && c->first == c->mark_first;
}

/* Keep what a read got (the cache lock held): the entry, unless another
 * thread put one holding more meanwhile, then the marks as of tick at. */
static void pg_read_keep(pgstore *s, sx_val stream, const store_stream_info *info, const pgcache_ent *held,
                         sx_val list, size_t k, size_t encoded, uint64_t at) {
  pgcache_ent *c = pgcache_find(s, PGCACHE_STREAM, stream);
  bool newer = c && (c->hwm > info->hwm || c->first > info->first);
  if (info->hwm > 0 && !newer && (!held || k > 0 || info->first != held->first)) {
    size_t bytes = (held ? held->bytes : 0) + pgcache_list_bytes(k, encoded);
    pgcache_ent *e = pgcache_put(s, PGCACHE_STREAM, stream, bytes);
    if (e) e->hwm = info->hwm, e->first = info->first, e->events = list;
  }
  pgcache_note_marks(s, stream, info->hwm, info->first, at);
}

void (*pg_read_between)(pgstore *s);

/* Where a read's first query stops: s->read_chunk events past `after`,
 * the rest coming in chunks (pgstore_read.c); or nowhere. */
static int64_t pg_read_upto(const pgstore *s, int64_t after, bool chunked) {
  return !chunked || after > INT64_MAX - s->read_chunk ? INT64_MAX : after + s->read_chunk;
}

/* The events of r (the first query), then, when the stream goes on past
 * upto, the rest in chunks: sent before r is decoded, so that the server
 * reads them meanwhile. PGR_BAD: *bad is the value that does not decode. */
static pgr_status pg_read_events(pgstore *s, pgconn *pc, sx_val stream, PGresult *r, const store_stream_info *info,
                                 int64_t upto, pg_items *it, size_t *encoded, sx_val *bad, sx_val *err) {
  pgr rest;
  if (upto < info->hwm && pg_read_between) pg_read_between(s);
  int64_t lo = upto < info->hwm && upto + 1 > info->first ? upto + 1 : info->first;
  bool more = upto < info->hwm && lo <= info->hwm;
  if (more && !pgr_begin(&rest, s, pc, stream, lo, info->hwm, err)) return PGR_FAILED;
  /* room for all of them at once (a consistent read returns every seq
   * from lo to the mark), unless the mark is implausibly far */
  size_t ahead = !more ? 0 : info->hwm - lo < PG_READ_PRESIZE_MAX ? (size_t)(info->hwm - lo + 1) : (size_t)s->read_chunk;
  pg_items_room(it, (size_t)PQntuples(r) + ahead);
  int k = pg_events_of(s, r, 2, more ? pc->conn : NULL, it->v, encoded, bad);
  it->n = k < 0 ? 0 : (size_t)k;
  pgr_status st = more ? pgr_end(&rest, k < 0 ? NULL : it, encoded, bad, err) : PGR_OK;
  return k < 0 ? PGR_BAD : st;
}

/* Read the stream: from the cache when it holds all of it, current for
 * since; else the events after what the cache holds (unless use_cache is
 * false), merged with it; the cache then holds the result. The cache lock
 * is not held while the database answers: what the entry held is copied
 * first, and the result is kept only if no one cached more meanwhile. A
 * long read comes in chunked queries (chunked) unless the stream changed
 * between them: then again, in one. */
static sx_val pg_read_once(pgstore *s, sx_val stream, store_stream_info *info, sx_val *err, uint64_t since,
                           bool use_cache, bool chunked) {
  pgcache_ent held;
  pthread_mutex_lock(&s->mu);
  pgcache_ent *c = use_cache ? pgcache_find(s, PGCACHE_STREAM, stream) : NULL;
  if (pg_cache_whole(c, since)) {
    info_set(info, c->hwm, c->first);
    sx_val list = c->events;
    pthread_mutex_unlock(&s->mu);
    return list;
  }
  if (c) held = *c;
  pthread_mutex_unlock(&s->mu);
  int64_t upto = pg_read_upto(s, c ? held.hwm : 0, chunked);
  pgconn *pc = pg_take(s);
  uint64_t at = pg_tick(s);
  PGresult *r = pg_read_after(s, pc, stream, c ? held.hwm : 0, upto, err);
  if (r) info_from(r, info);
  if (r && c && (info->hwm < held.hwm || info->first < held.first)) { /* not the stream it cached */
    PQclear(r);
    pg_give(s, pc);
    pthread_mutex_lock(&s->mu);
    pgcache_ent *now = pgcache_find(s, PGCACHE_STREAM, stream);
    if (now && now->hwm == held.hwm && now->first == held.first) pgcache_drop(s, now);
    pthread_mutex_unlock(&s->mu);
    return pg_read_once(s, stream, info, err, since, false, chunked);
  }
  pg_items it = {0};
  size_t encoded = 0;
  sx_val bad = SX_NIL;
  pgr_status st = r ? pg_read_events(s, pc, stream, r, info, upto, &it, &encoded, &bad, err) : PGR_FAILED;
  PQclear(r);
  pg_give(s, pc);
  if (st == PGR_CHANGED) return pg_read_once(s, stream, info, err, since, use_cache, false);
  if (st != PGR_OK) return st == PGR_BAD ? bad : SX_UNDEF;
  sx_val list = c ? pgcache_events(&held, info->first, it.v, it.n) : sx_list(it.n, it.v);
  pthread_mutex_lock(&s->mu);
  pg_read_keep(s, stream, info, c ? &held : NULL, list, it.n, encoded, at);
  pthread_mutex_unlock(&s->mu);
  return list;
}

static sx_val pg_read(store *base, sx_val stream, store_stream_info *info, uint64_t since) {
  pgstore *s = (pgstore *)base;
  sx_val err = SX_NIL;
  sx_val list = pg_read_once(s, stream, info, &err, since, true, true);
  if (list == SX_UNDEF) {
    memset(info, 0, sizeof *info);
    return info->error = sx_error_new(err, SX_NIL);
  }
  return list;
}

/* A clock and a sorted list of names (bytea column 1; NULL rows skipped). */
static sx_val pg_listing(pgstore *s, const char *sql, store_rv *rv) {
  sx_val err = SX_NIL;
  pthread_mutex_lock(&s->conn_mu);
  PGresult *r = pg_query(s, sql, 0, NULL, NULL, &err);
  pthread_mutex_unlock(&s->conn_mu);
  memset(rv, 0, sizeof *rv);
  if (!r) return sx_error_new(err, SX_NIL);
  int n = PQntuples(r), k = 0;
  sx_val *items = store_xgc((size_t)(n + 1) * sizeof *items);
  if (n) rv->ver = (uint64_t)pg_int8(r, 0, 0);
  for (int i = 0; i < n; i++)
    if (!PQgetisnull(r, i, 1)) items[k++] = sx_string_new(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
  PQclear(r);
  return sx_list((size_t)k, items);
}

static sx_val pg_streams(store *base, store_rv *rv) {
  return pg_listing((pgstore *)base,
                    "SELECT c.n, s.name FROM S.clocks c LEFT JOIN S.streams s ON true"
                    " WHERE c.id = 'catalog' ORDER BY s.name",
                    rv);
}

static sx_val pg_kv_keys(store *base, store_rv *rv) {
  return pg_listing((pgstore *)base,
                    "SELECT c.n, k.key FROM S.clocks c LEFT JOIN S.kv k ON k.value IS NOT NULL"
                    " WHERE c.id = 'keys' ORDER BY k.key",
                    rv);
}

/* Keep a key's version and value as of tick at (the cache lock held),
 * unless the entry is already as new. */
static void pg_kv_keep(pgstore *s, sx_val key, int64_t ver, bool has, sx_val value, size_t bytes, uint64_t at) {
  pgcache_ent *c = pgcache_find(s, PGCACHE_KEY, key);
  if (c && (c->hwm > ver || (c->hwm == ver && c->seen >= at))) return;
  if (c && c->hwm == ver) {
    c->seen = at; /* the same version, known current later */
    return;
  }
  pgcache_ent *e = pgcache_put(s, PGCACHE_KEY, key, pgcache_list_bytes(1, bytes));
  if (e) e->hwm = ver, e->value = value, e->has = has, e->seen = at;
}

/* Read the key: from the cache when current for since; else its value
 * comes only when its version is not the cached one. The cache lock is not
 * held while the database answers. */
static sx_val pg_kv_get(store *base, sx_val key, bool *has, store_rv *rv, uint64_t since) {
  pgstore *s = (pgstore *)base;
  sx_val err = SX_NIL;
  memset(rv, 0, sizeof *rv);
  *has = false;
  pthread_mutex_lock(&s->mu);
  pgcache_ent *c = pgcache_find(s, PGCACHE_KEY, key), held;
  if (pgcache_current(c, since)) {
    rv->ver = (uint64_t)c->hwm;
    *has = c->has;
    sx_val v = c->has ? c->value : SX_NIL;
    pthread_mutex_unlock(&s->mu);
    return v;
  }
  if (c) held = *c;
  pthread_mutex_unlock(&s->mu);
  char v8[8];
  pg_put_int8(v8, c ? held.hwm : -1);
  const char *v[2] = {sx_str_data(key), v8};
  int l[2] = {(int)sx_str_len(key), 8};
  uint64_t at;
  PGresult *r = pg_ask(s, &at,
                       "SELECT CASE WHEN ver = $2 THEN NULL ELSE value END, ver, value IS NOT NULL"
                       " FROM S.kv WHERE key = $1",
                       2, v, l, &err);
  if (!r) return sx_error_new(err, SX_NIL);
  sx_val out = SX_NIL;
  if (PQntuples(r)) {
    rv->ver = (uint64_t)pg_int8(r, 0, 1);
    *has = PQgetvalue(r, 0, 2)[0] != 0;
    bool same = c && held.hwm == (int64_t)rv->ver;
    if (*has) out = same ? held.value : pg_value(s, r, 0, 0);
    if (!sx_is(out, SX_T_ERROR)) {
      pthread_mutex_lock(&s->mu);
      pg_kv_keep(s, key, (int64_t)rv->ver, *has, out, (size_t)PQgetlength(r, 0, 0), at);
      pthread_mutex_unlock(&s->mu);
    }
  }
  PQclear(r);
  return out;
}

/* ---- the handle ---------------------------------------------------------------------------- */

static int pg_writable(store *base, sx_val *err) {
  if (!base->opts.read_only) return 0;
  *err = store_errorf("store %s is open read-only", ((pgstore *)base)->shown);
  return -1;
}

static int pg_wait(store *base, uint64_t ticket, bool block, sx_val *err) {
  (void)base, (void)ticket, (void)block, (void)err;
  return 1; /* a commit is durable when COMMIT returns (per synchronous_commit) */
}

static int pg_noop(store *base, sx_val *err) {
  (void)base, (void)err;
  return 0;
}

static void pg_stats(store *base, store_stats *out) {
  pgstore *s = (pgstore *)base;
  memset(out, 0, sizeof *out);
  out->sync = base->opts.sync;
  out->read_only = base->opts.read_only;
  sx_val err = SX_NIL;
  pthread_mutex_lock(&s->conn_mu);
  out->round_trips = s->round_trips;
  PGresult *r = pg_query_once(s,
                              "SELECT (SELECT count(*) FROM S.streams), (SELECT count(*) FROM S.events),"
                              " (SELECT count(*) FROM S.kv WHERE value IS NOT NULL)",
                              &err);
  if (r) {
    out->streams = (size_t)pg_int8(r, 0, 0);
    out->events = (size_t)pg_int8(r, 0, 1);
    out->kv_keys = (size_t)pg_int8(r, 0, 2);
    PQclear(r);
  }
  atomic_store(&s->round_trips, out->round_trips); /* asking for stats is not counted */
  pthread_mutex_unlock(&s->conn_mu);
  pthread_mutex_lock(&s->mu);
  out->cache_bytes = s->cache.bytes;
  pthread_mutex_unlock(&s->mu);
}

static void pg_free(pgstore *s) {
  pg_drop_conn(&s->main);
  for (int i = 0; i < s->pool_made; i++) pg_drop_conn(&s->pool[i]);
  pthread_mutex_destroy(&s->pool_mu);
  pthread_cond_destroy(&s->pool_freed);
  free(s->conninfo);
  free(s->shown);
  free(s->schema);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->conn_mu);
  GC_FREE(s);
}

static int pg_close(store *base, sx_val *err) {
  (void)err;
  pg_free((pgstore *)base);
  return 0;
}

/* ---- blobs ----------------------------------------------------------------------------------- */

static int pg_blob_put(store *base, const char *bytes, size_t len, sx_val *cid, sx_val *err) {
  pgstore *s = (pgstore *)base;
  char id[BLOB_CID_LEN + 1];
  blob_cid_of(bytes, len, id);
  const char *vals[2] = {id, bytes};
  int lens[2] = {BLOB_CID_LEN, (int)len};
  pthread_mutex_lock(&s->conn_mu);
  int rc = pg_exec(s, "INSERT INTO S.blobs VALUES ($1, $2) ON CONFLICT DO NOTHING", 2, vals, lens, err);
  pthread_mutex_unlock(&s->conn_mu);
  if (rc == 0) *cid = sx_string_new(id, BLOB_CID_LEN);
  return rc;
}

/* The row of blob cid (NULL when absent or on error: *err then set). */
static PGresult *pg_blob_row(pgstore *s, sx_val cid, const char *sql, sx_val *err) {
  if (blob_id_ok(cid, err)) return NULL;
  const char *v = sx_str_data(cid);
  int l = (int)sx_str_len(cid);
  pthread_mutex_lock(&s->conn_mu);
  PGresult *r = pg_query(s, sql, 1, &v, &l, err);
  pthread_mutex_unlock(&s->conn_mu);
  return r;
}

static int pg_blob_get(store *base, sx_val cid, sx_val *bytes, sx_val *err) {
  pgstore *s = (pgstore *)base;
  *err = SX_NIL;
  PGresult *r = pg_blob_row(s, cid, "SELECT bytes FROM S.blobs WHERE cid = $1", err);
  if (!r) return -1;
  *bytes = SX_NIL;
  if (PQntuples(r)) {
    char id[BLOB_CID_LEN + 1];
    blob_cid_of(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), id);
    if (memcmp(id, sx_str_data(cid), BLOB_CID_LEN) != 0) {
      *err = store_errorf("store %s: blob %s is damaged: its bytes do not match its id (not served)",
                          s->shown, sx_str_data(cid));
      PQclear(r);
      return -1;
    }
    *bytes = sx_string_new(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
  }
  PQclear(r);
  return 0;
}

static int pg_blob_has(store *base, sx_val cid, bool *has, sx_val *err) {
  PGresult *r = pg_blob_row((pgstore *)base, cid, "SELECT 1 FROM S.blobs WHERE cid = $1", err);
  if (!r) return -1;
  *has = PQntuples(r) > 0;
  PQclear(r);
  return 0;
}

static sx_val pg_blob_list(store *base) {
  store_rv unused;
  return pg_listing((pgstore *)base, "SELECT 0::bigint, cid::bytea FROM S.blobs ORDER BY cid COLLATE \"C\"",
                    &unused);
}

static int pg_blob_size(store *base, sx_val cid, uint64_t *size, sx_val *err) {
  PGresult *r = pg_blob_row((pgstore *)base, cid,
                            "SELECT octet_length(bytes)::bigint FROM S.blobs WHERE cid = $1", err);
  if (!r) return -1;
  int rc = PQntuples(r) ? 0 : 1;
  if (!rc) *size = (uint64_t)pg_int8(r, 0, 0);
  PQclear(r);
  return rc;
}

static const store_backend pg_backend = {
    .name = "postgresql",
    .read = pg_read,
    .stream_info = pg_stream_info,
    .streams = pg_streams,
    .kv_get = pg_kv_get,
    .kv_keys = pg_kv_keys,
    .writable = pg_writable,
    .commit = pgstore_commit,
    .wait = pg_wait,
    .durable_fd = NULL,
    .flush = pg_noop,
    .refresh = pg_noop,
    .stats = pg_stats,
    .close = pg_close,
    .blob_put = pg_blob_put,
    .blob_get = pg_blob_get,
    .blob_has = pg_blob_has,
    .blob_list = pg_blob_list,
    .blob_size = pg_blob_size,
    .clock = pg_clock,
};

/* name as a quoted SQL identifier: "name", inner quotes doubled. */
static char *pg_quote_ident(const char *name) {
  size_t n = strlen(name), o = 0;
  char *q = store_xmalloc(2 * n + 3);
  q[o++] = '"';
  for (size_t i = 0; i < n; i++) {
    if (name[i] == '"') q[o++] = '"';
    q[o++] = name[i];
  }
  q[o++] = '"';
  q[o] = '\0';
  return q;
}

static pgstore *pg_new(const char *url, const store_opts *opts, pg_url_sx *sx) {
  pgstore *s = store_xgc_uncollectable(sizeof *s);
  memset(s, 0, sizeof *s);
  s->base.opts = *opts; /* every caller passes options (store_open makes defaults) */
  s->conninfo = url_take_sx(url, sx);
  s->shown = store_label(s->conninfo);
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->conn_mu, NULL);
  pthread_mutex_init(&s->pool_mu, NULL);
  pthread_cond_init(&s->pool_freed, NULL);
  s->base.be = &pg_backend;
  s->schema = pg_quote_ident(sx->schema ? sx->schema : "sx");
  return s;
}

/* A count parameter of the URL (of `what`): from min to max; dflt when
 * unset. */
static int pg_url_count(pgstore *s, const char *name, const char *what, const char *text, long min, long max,
                        long dflt, int *out, sx_val *err) {
  if (!text) return *out = (int)dflt, 0;
  char *end;
  long n = strtol(text, &end, 10);
  if (text[0] >= '0' && text[0] <= '9' && *end == '\0' && n >= min && n <= max) return *out = (int)n, 0;
  char q[48];
  *err = store_errorf("store %s: %s must be a number of %s from %ld to %ld, got \"%s\"", s->shown, name, what, min,
                      max, store_quote(sx_string_cstr(text), q, sizeof q));
  return -1;
}

/* sx_pool=N (connections) and sx_read_chunk=N (events per query of a
 * long read). */
static int pg_url_counts(pgstore *s, const pg_url_sx *sx, sx_val *err) {
  if (pg_url_count(s, "sx_pool", "connections", sx->pool, 0, PG_POOL_MAX, PG_POOL_DEFAULT, &s->pool_max, err))
    return -1;
  return pg_url_count(s, "sx_read_chunk", "events", sx->read_chunk, 1, PG_READ_CHUNK_MAX, PG_READ_CHUNK,
                      &s->read_chunk, err);
}

int pgstore_open(const char *url, const store_opts *opts, store **out, sx_val *err) {
  *out = NULL;
  if (!pq_load(err)) return -1;
  pg_url_sx sx;
  pgstore *s = pg_new(url, opts, &sx);
  int rc = pg_url_counts(s, &sx, err);
  free(sx.schema), free(sx.pool), free(sx.read_chunk);
  if (rc == 0) rc = pg_connect(s, &s->main, err) == 0 ? pg_schema(s, err) : -1;
  if (rc) {
    pg_free(s);
    return -1;
  }
  *out = &s->base;
  return 0;
}

/* ---- check ------------------------------------------------------------------------------------ */

#define PGK_BLOB_BATCH 16 /* blobs fetched at a time (each may be large) */

/* Every stream's events run without a gap from first_seq to its mark. */
static int pgk_streams(pgstore *s, sx_buf *report, size_t *nstreams, size_t *nevents) {
  sx_val err = SX_NIL;
  PGresult *r = pg_query_once(
      s,
      "SELECT s.name, greatest(s.hwm_floor, coalesce(max(e.seq), 0)), s.first_seq, count(e.seq), min(e.seq),"
      " max(e.seq) FROM S.streams s LEFT JOIN S.events e ON e.stream = s.name"
      " GROUP BY s.name, s.hwm_floor, s.first_seq ORDER BY s.name",
      &err);
  if (!r) return sx_buf_printf(report, "%s\n", sx_str_data(err)), -1;
  int bad = 0;
  *nstreams = (size_t)PQntuples(r);
  for (int i = 0; i < PQntuples(r); i++) {
    int64_t hwm = pg_int8(r, i, 1), first = pg_int8(r, i, 2), n = pg_int8(r, i, 3);
    *nevents += (size_t)n;
    bool ok = first >= 1 && first <= hwm + 1 && n == (hwm >= first ? hwm - first + 1 : 0) &&
              (n == 0 || (pg_int8(r, i, 4) == first && pg_int8(r, i, 5) == hwm));
    if (!ok) {
      sx_val name = sx_string_new(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
      char q[96];
      sx_buf_printf(report, "%s: stream \"%s\": its events are not seqs %lld..%lld (%lld stored): damaged\n",
                    s->shown, store_quote(name, q, sizeof q), (long long)first, (long long)hwm, (long long)n);
      bad = 1;
    }
  }
  PQclear(r);
  return bad;
}

/* Is row i of r (a value in column 1, or a blob's bytes under its id in
 * column 0) sound? */
static bool pgk_row_ok(pgstore *s, const PGresult *r, int i, bool blobs) {
  if (!blobs) return !sx_is(pg_value(s, r, i, 1), SX_T_ERROR);
  char id[BLOB_CID_LEN + 1];
  blob_cid_of(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), id);
  return (size_t)PQgetlength(r, i, 0) == BLOB_CID_LEN && memcmp(id, PQgetvalue(r, i, 0), BLOB_CID_LEN) == 0;
}

/* Every stored value decodes (events and kv), every blob hashes to its
 * id: sql's rows through a cursor, `batch` at a time, so that a store of
 * any size is checked in bounded memory. 0 sound, 1 damaged, -1 failed. */
static int pgk_values(pgstore *s, const char *sql, const char *what, bool blobs, int batch, sx_buf *report) {
  sx_val err = SX_NIL;
  char *declare = store_xasprintf("DECLARE pgk NO SCROLL CURSOR FOR %s", sql);
  char fetch[64];
  snprintf(fetch, sizeof fetch, "FETCH FORWARD %d FROM pgk", batch);
  int rc = pg_exec_once(s, declare, &err), bad = 0;
  free(declare);
  for (int n = batch; rc == 0 && n == batch;) {
    PGresult *r = pg_query_once(s, fetch, &err);
    if (!r) {
      rc = -1;
      break;
    }
    n = PQntuples(r);
    for (int i = 0; i < n; i++)
      if (!pgk_row_ok(s, r, i, blobs)) {
        sx_buf_printf(report, "%s: a %s does not %s: damaged\n", s->shown, what,
                      blobs ? "hash to its id" : "decode");
        bad = 1;
      }
    PQclear(r);
  }
  if (rc == 0) rc = pg_exec_once(s, "CLOSE pgk", &err);
  if (rc) return sx_buf_printf(report, "%s\n", sx_str_data(err)), -1;
  return bad;
}

/* The checks, in one read-only transaction (one snapshot, however the
 * store changes meanwhile): 0 sound, 1 damaged, -1 failed. */
static int pgk_all(pgstore *s, sx_buf *report, size_t *nstreams, size_t *nevents) {
  const struct {
    const char *sql, *what;
    bool blobs;
    int batch;
  } values[] = {
      {"SELECT stream, value FROM S.events", "stored event", false, s->read_chunk},
      {"SELECT key, value FROM S.kv WHERE value IS NOT NULL", "kv value", false, s->read_chunk},
      {"SELECT cid, bytes FROM S.blobs", "blob", true, PGK_BLOB_BATCH},
  };
  int rc = pgk_streams(s, report, nstreams, nevents);
  for (size_t i = 0; i < sizeof values / sizeof values[0] && rc >= 0; i++) {
    int r = pgk_values(s, values[i].sql, values[i].what, values[i].blobs, values[i].batch, report);
    if (r) rc = r < 0 ? -1 : 1;
  }
  return rc;
}

int pgstore_check(const char *url, sx_buf *report) {
  store_opts o = {.read_only = true};
  store *base;
  sx_val err = SX_NIL;
  if (pgstore_open(url, &o, &base, &err)) {
    sx_buf_printf(report, "%s\n", sx_str_data(err));
    return -1;
  }
  pgstore *s = (pgstore *)base;
  size_t nstreams = 0, nevents = 0;
  int rc = pg_exec_once(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &err);
  if (rc) sx_buf_printf(report, "%s\n", sx_str_data(err));
  else rc = pgk_all(s, report, &nstreams, &nevents);
  store_stats st;
  if (rc >= 0) pg_stats(base, &st);
  pg_exec_once(s, rc >= 0 ? "COMMIT" : "ROLLBACK", &err);
  if (rc >= 0)
    sx_buf_printf(report, "%s: %zu streams, %zu events, %zu kv keys, %s\n", s->shown, nstreams, nevents,
                  st.kv_keys, rc == 0 ? "ok" : "NOT ok");
  pg_free(s);
  return rc;
}
