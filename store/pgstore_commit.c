/* pgstore_commit.c — one evaluation = one PostgreSQL transaction, opened at
 * commit (never while the evaluation runs or is suspended), sent in one
 * round trip.
 *
 * The commit is a libpq pipeline: its statements run as one implicit
 * transaction that commits at the pipeline's sync point. Every statement
 * is prepared on the connection the first time it is used. Every check is
 * a statement of its own that locks the row it checks — conditional
 * updates (`UPDATE streams SET hwm_floor = new WHERE name = $1 AND
 * <mark> = seen`), inserts of what was seen absent, `FOR SHARE` reads of
 * what was only read — and computes `1 / (the row is as seen)::int` in
 * plain SQL, so a changed row raises division_by_zero (22012); that error
 * from a check is the conflict the check names ("conflict: ..."). An
 * event insert that finds its (stream, seq) taken (23505) is that
 * stream's conflict too. Any error aborts the transaction, so nothing of
 * a conflicting evaluation is stored. Rows are locked in one order in
 * every transaction (streams by name, keys by key, then the listing
 * clocks), so two writers cannot deadlock; should PostgreSQL report one
 * anyway (40P01), it is a conflict too. pgstore.h says what a version is.
 *
 * The lone append — an evaluation whose only read is the mark of the one
 * stream it appends one event to — locks nothing: it inserts its event
 * where the stream's row still shows the first seq it saw and a floor
 * below the new seq, and the events' primary key does the rest (see
 * pgc_lone). A truncation therefore takes the events table in SHARE ROW
 * EXCLUSIVE mode first: it waits for the inserts in flight and holds off
 * new ones until it commits, and an insert's statement snapshot, taken
 * after its table lock, then sees the truncation. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pgstore.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h" /* store_errorf, store_quote */

#define PGC_MAX_PARAMS 6

/* Something sent whose results are to be read back: a statement (slot
 * -1), with the conflict it reports when it is a check or an event insert
 * (what, about name), or the preparing of the statement in a slot, which
 * is ready only once its result says so. */
typedef struct pgc_sent_item {
  int slot;
  const char *what;  /* "stream", "kv key", ...: the item a conflict names; NULL: no check */
  sx_val name;       /* its name (0: a list, not named) */
  txn_stream *marks; /* a one-event append that tells the stream's marks */
  bool lone;         /* the lone append: inserting no row is the conflict */
  int64_t first;     /* the first seq it told, when got */
  bool got;
} pgc_sent_item;

/* The statements of one commit, sent together. */
typedef struct pgc {
  pgstore *s;
  pgconn *pc;  /* the connection it runs on (pg_take) */
  uint64_t at; /* the tick taken just before sending */
  store_txn *t;
  sx_val *err;
  pgc_sent_item *items; /* first few: in few (no allocation for a small commit) */
  int sent, cap;        /* items sent, in order */
  pgc_sent_item few[4];
  bool failed; /* queuing failed (err set) */
  bool new_stream, keys_changed;
} pgc;

/* ---- queuing --------------------------------------------------------------------- */

static pgc_sent_item *pgc_item(pgc *c, int slot, const char *what, sx_val name) {
  if (!c->items) c->items = c->few, c->cap = (int)(sizeof c->few / sizeof c->few[0]);
  if (c->sent == c->cap) {
    pgc_sent_item *more = store_xmalloc(2 * (size_t)c->cap * sizeof *more);
    memcpy(more, c->items, (size_t)c->sent * sizeof *more);
    if (c->items != c->few) free(c->items);
    c->items = more;
    c->cap *= 2;
  }
  c->items[c->sent] = (pgc_sent_item){.slot = slot, .what = what, .name = name};
  return &c->items[c->sent++];
}

static bool pgc_sent(pgc *c, int ok) {
  if (ok) return true;
  *c->err = store_errorf("store %s: %s", c->s->shown, PQerrorMessage(c->pc->conn));
  c->failed = true;
  return false;
}

/* Queue sql (a string literal), prepared on first use on this connection;
 * its item, or NULL when queuing failed. what and name (NULL, 0 for a
 * statement that is not a check): the conflict its division_by_zero or
 * unique_violation reports. */
static pgc_sent_item *pgc_send(pgc *c, const char *sql, int n, const char *const *v, const int *l,
                               const char *what, sx_val name) {
  if (c->failed) return NULL;
  int fmts[PGC_MAX_PARAMS] = {1, 1, 1, 1, 1, 1};
  bool fresh;
  int slot = pg_prep_slot(c->pc, sql, &fresh);
  char stmt[16];
  pg_prep_name(slot, stmt);
  if (slot >= 0 && fresh) {
    char *q = pg_sql(c->s, sql);
    int ok = PQsendPrepare(c->pc->conn, stmt, q, n, NULL);
    free(q);
    if (!ok) pg_prep_done(c->pc, slot, false);
    if (!pgc_sent(c, ok)) return NULL;
    pgc_item(c, slot, NULL, 0);
  }
  int ok;
  if (slot >= 0) {
    ok = PQsendQueryPrepared(c->pc->conn, stmt, n, v, l, fmts, 1);
  } else {
    char *q = pg_sql(c->s, sql);
    ok = PQsendQueryParams(c->pc->conn, q, n, NULL, v, l, fmts, 1);
    free(q);
  }
  if (!pgc_sent(c, ok)) return NULL;
  return pgc_item(c, -1, what, name);
}

/* The "conflict: ..." error of a check that found its item changed. */
static sx_val pgc_conflict(const pgc_sent_item *item) {
  char q[96];
  return item->name ? store_errorf("conflict: %s \"%s\" was changed by another evaluation since this one read it",
                                   item->what, store_quote(item->name, q, sizeof q))
                    : store_errorf("conflict: %s was changed by another evaluation since this one read it",
                                   item->what);
}

/* A check whose parameters are (name, int8 values...). */
static void pgc_check(pgc *c, const char *sql, sx_val name, int nints, const int64_t *ints,
                      const char *what_kind) {
  char i8[PGC_MAX_PARAMS][8];
  const char *v[PGC_MAX_PARAMS];
  int l[PGC_MAX_PARAMS], n = 0;
  v[n] = sx_str_data(name), l[n++] = (int)sx_str_len(name);
  for (int k = 0; k < nints; k++) {
    pg_put_int8(i8[k], ints[k]);
    v[n] = i8[k], l[n++] = 8;
  }
  pgc_send(c, sql, n, v, l, what_kind, name);
}

/* ---- streams ------------------------------------------------------------------- */

/* How many things the transaction read. */
static size_t pgc_reads(store_txn *t) {
  size_t n = t->catalog_read + t->keys_read + t->nstreams; /* every stream held had its mark read */
  for (size_t i = 0; i < t->nkeys; i++) n += t->keys[i].read;
  return n;
}

static void pgc_events(pgc *c, txn_stream *ts) {
  for (size_t i = 0; i < ts->n && !c->failed; i++) {
    int64_t seq = ts->base.hwm + 1 + (int64_t)i;
    if (seq <= ts->trunc) continue;
    const char *enc;
    size_t len;
    store_txn_encoded(c->t, ts->enc_at[i], &enc, &len);
    char s8[8];
    pg_put_int8(s8, seq);
    const char *v[3] = {sx_str_data(ts->name), s8, enc /* an encoded value is never empty */};
    int l[3] = {(int)sx_str_len(ts->name), 8, (int)len};
    pgc_send(c, "INSERT INTO S.events VALUES ($1, $2, $3)", 3, v, l, "stream", ts->name); /* 23505 */
  }
}

static void pgc_truncate(pgc *c, txn_stream *ts) {
  char n8[8];
  pg_put_int8(n8, ts->trunc);
  const char *v[2] = {sx_str_data(ts->name), n8};
  int l[2] = {(int)sx_str_len(ts->name), 8};
  pgc_send(c, "DELETE FROM S.events WHERE stream = $1 AND seq <= $2", 2, v, l, NULL, 0);
  pgc_send(c, "UPDATE S.streams SET first_seq = GREATEST(first_seq, $2::bigint + 1) WHERE name = $1", 2, v, l,
           NULL, 0);
}

/* First in a transaction that truncates: hold off every event insert
 * until it commits (LOCK TABLE, which needs a transaction block, from a
 * DO block: a pipeline's implicit transaction is none). */
static void pgc_lock_events(pgc *c) {
  pgc_send(c, "DO $l$ BEGIN LOCK TABLE S.events IN SHARE ROW EXCLUSIVE MODE; END $l$", 0, NULL, NULL, NULL, 0);
}

/* One event appended to a stream whose contents were not read. Alone
 * (lone: the transaction read nothing but this stream's mark), it only
 * inserts the event (parameters: name, seq, value, first seq seen): the
 * seq taken by another append fails on the primary key; a truncation or
 * a locked append since moved the row's first seq or floor, and no row
 * is inserted. Either way the stream changed: a conflict. Nothing else
 * was read, so nothing else needs a lock against writers (a transaction
 * that read this stream and wrote what this one reads could otherwise
 * slip between). Not alone, the check of the mark and the insert make one
 * statement that locks the stream's row (the insert takes its row from
 * the update's, so a failed check inserts nothing). */
static const char pgc_lone_sql[] = "INSERT INTO S.events SELECT $1, $2, $3::bytea FROM S.streams"
                                   " WHERE name = $1 AND hwm_floor < $2 AND first_seq = $4";

static void pgc_append_one(pgc *c, txn_stream *ts, bool lone) {
  const char *enc;
  size_t len;
  store_txn_encoded(c->t, ts->enc_at[0], &enc, &len);
  char new8[8], seen8[8];
  pg_put_int8(new8, ts->base.hwm + 1);
  pg_put_int8(seen8, lone ? ts->base.first : ts->base.hwm);
  const char *v[4] = {sx_str_data(ts->name), new8, enc, seen8};
  int l[4] = {(int)sx_str_len(ts->name), 8, (int)len, 8};
  pgc_sent_item *it =
      lone ? pgc_send(c, pgc_lone_sql, 4, v, l, "stream", ts->name)
           : pgc_send(c,
                      "WITH u AS (UPDATE S.streams SET hwm_floor = $2 WHERE name = $1 AND " PG_MARK " = $4"
                      " RETURNING first_seq), i AS (INSERT INTO S.events SELECT $1, $2, $3::bytea FROM u)"
                      " SELECT 1 / (SELECT count(*) FROM u)::int, (SELECT first_seq FROM u)",
                      4, v, l, "stream", ts->name);
  if (it) it->marks = ts, it->lone = lone;
}

/* Does the evaluation append one event to the existing stream ts without
 * reading its contents (pgc_append_one)? */
static bool pgc_one_event(const txn_stream *ts) {
  return ts->base.hwm > 0 && ts->n == 1 && !ts->trunc && !ts->content_read;
}

/* Is t the lone append and nothing else (no kv writes; then it also bumps
 * no listing clock): one statement in all? */
static bool pgc_lone_only(store_txn *t) {
  if (t->nstreams != 1 || pgc_reads(t) != 1 || !pgc_one_event(&t->streams[0])) return false;
  for (size_t i = 0; i < t->nkeys; i++)
    if (t->keys[i].state != TK_UNTOUCHED) return false;
  return true;
}

/* Lock and check the stream as the evaluation saw it, then its writes. */
static void pgc_stream(pgc *c, txn_stream *ts) {
  bool writes = ts->n || ts->trunc, existed = ts->base.hwm > 0;
  if (pgc_one_event(ts)) {
    pgc_append_one(c, ts, pgc_reads(c->t) == 1);
    return;
  }
  int64_t seen[3] = {ts->base.hwm + (int64_t)ts->n, ts->base.hwm, (int64_t)ts->base.content_rv.ver};
  if (existed && writes)
    pgc_check(
        c,
        ts->content_read
            ? "WITH u AS (UPDATE S.streams SET hwm_floor = $2 WHERE name = $1 AND " PG_MARK " = $3"
              " AND " PG_MARK " + first_seq = $4 RETURNING 1) SELECT 1 / (SELECT count(*) FROM u)::int"
            : "WITH u AS (UPDATE S.streams SET hwm_floor = $2 WHERE name = $1 AND " PG_MARK " = $3"
              " RETURNING 1) SELECT 1 / (SELECT count(*) FROM u)::int",
        ts->name, ts->content_read ? 3 : 2, seen, "stream");
  else if (writes) { /* it saw no stream: creating it must find none */
    pgc_check(c,
              "WITH i AS (INSERT INTO S.streams VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1)"
              " SELECT 1 / (SELECT count(*) FROM i)::int",
              ts->name, 1, seen, "stream");
    c->new_stream = true;
  } else if (existed)
    pgc_check(c,
              ts->content_read ? "SELECT 1 / count(*)::int FROM (SELECT 1 FROM S.streams WHERE name = $1"
                                 " AND " PG_MARK " = $2 AND " PG_MARK " + first_seq = $3 FOR SHARE) x"
                               : "SELECT 1 / count(*)::int FROM (SELECT 1 FROM S.streams WHERE name = $1"
                                 " AND " PG_MARK " = $2 FOR SHARE) x",
              ts->name, ts->content_read ? 2 : 1, seen + 1, "stream");
  else
    pgc_check(c, "SELECT 1 / (NOT EXISTS (SELECT 1 FROM S.streams WHERE name = $1))::int", ts->name, 0, NULL,
              "stream");
  if (writes) pgc_events(c, ts);
  if (ts->trunc) pgc_truncate(c, ts);
}

/* ---- kv ------------------------------------------------------------------------------ */

/* A put: parameters (key, value[, version seen]); a check when with_what. */
static void pgc_put(pgc *c, txn_key *tk, const char *sql, bool with_ver, bool with_what) {
  const char *enc;
  size_t len;
  store_txn_encoded(c->t, tk->val_at, &enc, &len);
  char v8[8];
  pg_put_int8(v8, (int64_t)tk->rv.ver);
  const char *v[3] = {sx_str_data(tk->key), enc, v8};
  int l[3] = {(int)sx_str_len(tk->key), (int)len, 8};
  pgc_send(c, sql, 2 + with_ver, v, l, with_what ? "kv key" : NULL, with_what ? tk->key : 0);
}

static void pgc_key(pgc *c, txn_key *tk) {
  int64_t ver = (int64_t)tk->rv.ver;
  if (tk->state == TK_PUT && !tk->read) { /* a blind put: the later commit wins */
    pgc_put(c, tk,
            "INSERT INTO S.kv VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE"
            " SET value = EXCLUDED.value, ver = S.kv.ver + 1",
            false, false);
    c->keys_changed = true; /* it may have made the key live */
  } else if (tk->state == TK_PUT && ver > 0) {
    pgc_put(c, tk,
            "WITH u AS (UPDATE S.kv SET value = $2, ver = ver + 1 WHERE key = $1 AND ver = $3 RETURNING 1)"
            " SELECT 1 / (SELECT count(*) FROM u)::int",
            true, true);
    c->keys_changed |= !tk->had;
  } else if (tk->state == TK_PUT) {
    pgc_put(c, tk,
            "WITH i AS (INSERT INTO S.kv VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1)"
            " SELECT 1 / (SELECT count(*) FROM i)::int",
            false, true);
    c->keys_changed = true;
  } else if (tk->state == TK_DELETED && !tk->read) { /* it put the key itself, then deleted it */
    const char *k = sx_str_data(tk->key);
    int kl = (int)sx_str_len(tk->key);
    pgc_send(c, "UPDATE S.kv SET value = NULL, ver = ver + 1 WHERE key = $1 AND value IS NOT NULL", 1, &k,
             &kl, NULL, 0);
    c->keys_changed = true;
  } else if (tk->state == TK_DELETED && ver > 0) {
    pgc_check(
        c,
        "WITH u AS (UPDATE S.kv SET value = NULL, ver = ver + 1 WHERE key = $1 AND ver = $2 RETURNING 1)"
        " SELECT 1 / (SELECT count(*) FROM u)::int",
        tk->key, 1, &ver, "kv key");
    c->keys_changed = true;
  } else { /* only read (or read absent, put and deleted again: nothing to store) */
    pgc_check(c, "SELECT 1 / (coalesce((SELECT ver FROM S.kv WHERE key = $1 FOR SHARE), 0) = $2)::int",
              tk->key, 1, &ver, "kv key");
  }
}

/* ---- the listing clocks ------------------------------------------------------------------ */

static void pgc_clock(pgc *c, const char *id, bool read, const store_rv *rv, bool bump, const char *what) {
  if (!read && !bump) return;
  int64_t n = (int64_t)rv->ver;
  char n8[8];
  pg_put_int8(n8, n);
  const char *v[2] = {id, n8};
  int l[2] = {(int)strlen(id), 8};
  if (bump && read)
    pgc_send(c,
             "WITH u AS (UPDATE S.clocks SET n = n + 1 WHERE id = $1 AND n = $2 RETURNING 1)"
             " SELECT 1 / (SELECT count(*) FROM u)::int",
             2, v, l, what, 0);
  else if (bump) pgc_send(c, "UPDATE S.clocks SET n = n + 1 WHERE id = $1", 1, v, l, NULL, 0);
  else
    pgc_send(c, "SELECT 1 / (coalesce((SELECT n FROM S.clocks WHERE id = $1 FOR SHARE), 0) = $2)::int", 2, v,
             l, what, 0);
}

/* ---- the transaction ------------------------------------------------------------------- */

static int cmp_streams(const void *a, const void *b) {
  return sx_string_cmp((*(txn_stream *const *)a)->name, (*(txn_stream *const *)b)->name);
}

static int cmp_keys(const void *a, const void *b) {
  return sx_string_cmp((*(txn_key *const *)a)->key, (*(txn_key *const *)b)->key);
}

#define PGC_FEW 8 /* streams or keys sorted without allocating */

/* Queue every statement of t, in the locking order. */
static void pgc_queue(pgc *c) {
  store_txn *t = c->t;
  txn_stream *ss_few[PGC_FEW], **ss = t->nstreams <= PGC_FEW ? ss_few : store_xmalloc(t->nstreams * sizeof *ss);
  txn_key *ks_few[PGC_FEW], **ks = t->nkeys <= PGC_FEW ? ks_few : store_xmalloc(t->nkeys * sizeof *ks);
  size_t ns = 0, nk = 0;
  for (size_t i = 0; i < t->nstreams; i++) ss[ns++] = &t->streams[i];
  for (size_t i = 0; i < t->nkeys; i++)
    if (t->keys[i].read || t->keys[i].state != TK_UNTOUCHED) ks[nk++] = &t->keys[i];
  if (ns > 1) qsort(ss, ns, sizeof *ss, cmp_streams);
  if (nk > 1) qsort(ks, nk, sizeof *ks, cmp_keys);
  for (size_t i = 0; i < ns; i++)
    if (ss[i]->trunc) {
      pgc_lock_events(c);
      break;
    }
  for (size_t i = 0; i < ns; i++) pgc_stream(c, ss[i]);
  for (size_t i = 0; i < nk; i++) pgc_key(c, ks[i]);
  pgc_clock(c, "catalog", t->catalog_read, &t->catalog_rv, c->new_stream, "the stream list");
  pgc_clock(c, "keys", t->keys_read, &t->keys_rv, c->keys_changed, "the kv key list");
  if (ss != ss_few) free(ss);
  if (ks != ks_few) free(ks);
}

/* The first error among one statement's results decides. A prepare that
 * succeeded makes its slot ready; one that failed or never ran (the
 * pipeline aborted first) gives it up. */
static void pgc_result(pgc *c, pgc_sent_item *item, PGresult *r, int *rc) {
  ExecStatusType st = PQresultStatus(r);
  if (item->marks && st == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 1))
    item->first = pg_int8(r, 0, 1), item->got = true;
  if (item->lone && st == PGRES_COMMAND_OK) {
    if (strcmp(PQcmdTuples(r), "1") == 0) item->first = item->marks->base.first, item->got = true;
    else if (*rc == STORE_OK) *c->err = pgc_conflict(item), *rc = STORE_ECONFLICT; /* the row moved on */
  }
  if (item->slot >= 0 && !c->pc->prep[item->slot].ready)
    pg_prep_done(c->pc, item->slot, st == PGRES_COMMAND_OK);
  if (*rc == STORE_OK && (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR)) {
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    /* the row was not as seen, or the event's seq was taken */
    bool failed_check = item->what && code && (strcmp(code, "22012") == 0 || strcmp(code, "23505") == 0);
    bool race = code && (strcmp(code, "40001") == 0 || strcmp(code, "40P01") == 0);
    if (failed_check) *c->err = pgc_conflict(item);
    else if (race)
      *c->err = store_errorf("conflict: the commit lost a race in the database: %s", msg ? msg : "?");
    else *c->err = store_errorf("store %s: %s", c->s->shown, PQresultErrorMessage(r));
    *rc = failed_check || race ? STORE_ECONFLICT : STORE_EFAIL;
  }
  PQclear(r);
}

/* Read every statement's results (each ends with a NULL), then, from a
 * pipeline, the sync point's: STORE_OK, a conflict (a failed check,
 * 40001, 40P01) or another failure. A broken connection returns NULL at
 * once, so this always ends. */
static int pgc_collect(pgc *c, bool pipelined) {
  int rc = c->failed ? STORE_EFAIL : STORE_OK;
  for (int i = 0; i < c->sent; i++)
    for (PGresult *r; (r = PQgetResult(c->pc->conn));) pgc_result(c, &c->items[i], r, &rc);
  bool synced = true;
  if (pipelined) {
    PGresult *r = PQgetResult(c->pc->conn); /* PGRES_PIPELINE_SYNC */
    synced = r != NULL;
    PQclear(r);
  }
  if (rc == STORE_OK && (!synced || PQstatus(c->pc->conn) != CONNECTION_OK)) {
    *c->err = store_errorf("store %s: the database connection was lost during the commit", c->s->shown);
    rc = STORE_EFAIL;
  }
  return rc;
}

/* What the commit tells the cache (pgstore_cache.c, "freshness"): after a
 * failure, nothing it touched is known current; after success, the marks
 * of the streams it appended one event to and of the streams it created
 * (first seq 1, mark its count) are (as of its tick, taken before it was
 * sent), and the rest of what it wrote is not. */
static void pgc_learn(pgc *c, int rc, uint64_t at) {
  store_txn *t = c->t;
  for (size_t i = 0; i < t->nstreams; i++)
    if (rc != STORE_OK || t->streams[i].n || t->streams[i].trunc)
      pgcache_unsee(c->s, PGCACHE_STREAM, t->streams[i].name);
  for (size_t i = 0; i < t->nkeys; i++)
    if (rc != STORE_OK || t->keys[i].state != TK_UNTOUCHED) pgcache_unsee(c->s, PGCACHE_KEY, t->keys[i].key);
  if (rc != STORE_OK) return;
  for (int i = 0; i < c->sent; i++) {
    const pgc_sent_item *it = &c->items[i];
    if (it->got) pgcache_note_marks(c->s, it->marks->name, it->marks->base.hwm + 1, it->first, at);
  }
  for (size_t i = 0; i < t->nstreams; i++) {
    const txn_stream *ts = &t->streams[i];
    if (ts->base.hwm == 0 && ts->n && !ts->trunc) pgcache_note_marks(c->s, ts->name, (int64_t)ts->n, 1, at);
  }
}

/* Send the statements and read them back (connected). They go as a
 * pipeline, except the lone append alone once its statement is prepared
 * on the connection: one plain query runs in an implicit transaction of
 * its own just as a pipeline does, and there is no sync point to send
 * and read back. */
static int pgc_run(pgc *c) {
  PGconn *conn = c->pc->conn;
  c->at = pg_tick(c->s);
  c->s->round_trips++;
  bool pipelined = !(pgc_lone_only(c->t) && pg_prep_ready(c->pc, pgc_lone_sql));
  if (pipelined && !PQenterPipelineMode(conn)) {
    *c->err = store_errorf("store %s: %s", c->s->shown, PQerrorMessage(conn));
    return STORE_EFAIL;
  }
  pgc_queue(c);
  assert(pipelined || c->sent <= 1);
  int rc;
  if (pipelined && !PQpipelineSync(conn)) {
    *c->err = store_errorf("store %s: %s", c->s->shown, PQerrorMessage(conn));
    rc = STORE_EFAIL;
  } else {
    rc = pgc_collect(c, pipelined);
  }
  if (pipelined) PQexitPipelineMode(conn);
  if (PQstatus(conn) != CONNECTION_OK) { /* the server went away: the next query reconnects */
    if (rc == STORE_OK)
      *c->err = store_errorf("store %s: the database connection was lost", c->s->shown), rc = STORE_EFAIL;
    pg_lost_conn(c->s, c->pc);
  }
  return rc;
}

int pgstore_commit(store *base, store_txn *t, uint64_t *ticket, sx_val *err) {
  pgstore *s = (pgstore *)base;
  *ticket = 0;
  if (t->nrecords == 0 && pgc_reads(t) <= 1) return STORE_OK; /* one read is always consistent */
  assert(!t->nrecords || !base->opts.read_only);              /* every write asked pg_writable first */
  pgc c = {.s = s, .pc = pg_take(s), .t = t, .err = err};
  int rc = pg_ready(s, c.pc, err) ? pgc_run(&c) : STORE_EFAIL;
  pg_give(s, c.pc);
  if (c.at) { /* sent: tell the cache */
    pthread_mutex_lock(&s->mu);
    pgc_learn(&c, rc, c.at);
    pthread_mutex_unlock(&s->mu);
  }
  if (c.items != c.few) free(c.items);
  return rc;
}
