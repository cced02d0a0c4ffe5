/* pgstore_commit.c — one evaluation = one PostgreSQL transaction, opened at
 * commit (never while the evaluation runs or is suspended).
 *
 * In the transaction: every stream the evaluation read or wrote is locked
 * (SELECT ... FOR UPDATE) in name order, then every kv key it read or
 * wrote in key order, then the listing clocks — the same order in every
 * transaction, so two writers cannot deadlock. Each locked row is checked
 * against what the evaluation read (pgstore.h says what a version is);
 * the first that changed fails the commit with "conflict: ..." and a
 * ROLLBACK, so nothing is stored. Then the writes: events inserted and the
 * stream's high-water mark moved on, truncations, kv puts and deletes, the
 * clocks of the listings a new stream or key changes. COMMIT returns when
 * the commit is durable as synchronous_commit says (on for sync full). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pgstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

typedef struct pgc {
  pgstore *s;
  store_txn *t;
  sx_val *err;
  bool new_stream, keys_changed;
} pgc;

static int pgc_conflict(pgc *c, const char *what, sx_val name) {
  char q[96];
  if (name)
    *c->err = store_errorf("conflict: %s \"%s\" was changed by another evaluation since this one read it", what,
                           store_quote(name, q, sizeof q));
  else
    *c->err = store_errorf("conflict: %s was changed by another evaluation since this one read it", what);
  return STORE_ECONFLICT;
}

static int cmp_streams(const void *a, const void *b) {
  return sx_string_cmp((*(txn_stream *const *)a)->name, (*(txn_stream *const *)b)->name);
}

static int cmp_keys(const void *a, const void *b) {
  return sx_string_cmp((*(txn_key *const *)a)->key, (*(txn_key *const *)b)->key);
}

/* An INSERT ... RETURNING: the rows it made, or -1. */
static int pgc_insert(pgc *c, const char *sql, int n, const char *const *v, const int *l) {
  PGresult *r = pg_query(c->s, sql, n, v, l, c->err);
  if (!r) return -1;
  int rows = PQntuples(r);
  PQclear(r);
  return rows;
}

/* ---- streams ------------------------------------------------------------------ */

/* Insert the events of ts with seq > ts->trunc. */
static int pgc_events(pgc *c, txn_stream *ts) {
  for (size_t i = 0; i < ts->n; i++) {
    int64_t seq = ts->base.hwm + 1 + (int64_t)i;
    if (seq <= ts->trunc) continue;
    sx_buf enc = SX_BUF_INIT;
    if (store_encode(&enc, ts->events[i], c->err)) return -1;
    char s8[8];
    pg_put_int8(s8, seq);
    const char *v[3] = {sx_str_data(ts->name), s8, enc.data ? enc.data : ""};
    int l[3] = {(int)sx_str_len(ts->name), 8, (int)enc.len};
    int rc = pg_exec(c->s, "INSERT INTO S.events VALUES ($1, $2, $3)", 3, v, l, c->err);
    sx_buf_free(&enc);
    if (rc) return -1;
  }
  return 0;
}

/* Lock the stream's row, check what was read, then write. */
static int pgc_stream(pgc *c, txn_stream *ts) {
  const char *name = sx_str_data(ts->name);
  int nl = (int)sx_str_len(ts->name);
  PGresult *r = pg_query(c->s, "SELECT hwm, first_seq FROM S.streams WHERE name = $1 FOR UPDATE", 1, &name, &nl, c->err);
  if (!r) return -1;
  bool exists = PQntuples(r) > 0;
  int64_t hwm = exists ? pg_int8(r, 0, 0) : 0, first = exists ? pg_int8(r, 0, 1) : 1;
  PQclear(r);
  if ((ts->hwm_read && (uint64_t)hwm != ts->base.hwm_rv.ver) ||
      (ts->content_read && (uint64_t)(hwm + first) != ts->base.content_rv.ver))
    return pgc_conflict(c, "stream", ts->name);
  if (ts->n) {
    char h8[8];
    pg_put_int8(h8, ts->base.hwm + (int64_t)ts->n);
    const char *v[2] = {name, h8};
    int l[2] = {nl, 8};
    if (exists) {
      if (pg_exec(c->s, "UPDATE S.streams SET hwm = $2 WHERE name = $1", 2, v, l, c->err)) return -1;
    } else { /* no row to lock: another writer may be creating it too */
      int got = pgc_insert(c, "INSERT INTO S.streams VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1", 2, v, l);
      if (got <= 0) return got < 0 ? -1 : pgc_conflict(c, "stream", ts->name);
    }
    if (pgc_events(c, ts)) return -1;
    c->new_stream |= !exists;
  }
  if (ts->trunc) {
    char n8[8];
    pg_put_int8(n8, ts->trunc);
    const char *v[2] = {name, n8};
    int l[2] = {nl, 8};
    if (pg_exec(c->s, "DELETE FROM S.events WHERE stream = $1 AND seq <= $2", 2, v, l, c->err) ||
        pg_exec(c->s, "UPDATE S.streams SET first_seq = GREATEST(first_seq, $2::bigint + 1) WHERE name = $1", 2, v, l, c->err))
      return -1;
  }
  return 0;
}

/* ---- kv ------------------------------------------------------------------------ */

static int pgc_key(pgc *c, txn_key *tk) {
  const char *key = sx_str_data(tk->key);
  int kl = (int)sx_str_len(tk->key);
  PGresult *r = pg_query(c->s, "SELECT value IS NOT NULL, ver FROM S.kv WHERE key = $1 FOR UPDATE", 1, &key, &kl, c->err);
  if (!r) return -1;
  bool exists = PQntuples(r) > 0, live = exists && *PQgetvalue(r, 0, 0);
  uint64_t ver = exists ? (uint64_t)pg_int8(r, 0, 1) : 0;
  PQclear(r);
  if (tk->read && ver != tk->rv.ver) return pgc_conflict(c, "kv key", tk->key);
  if (tk->state == TK_PUT) {
    sx_buf enc = SX_BUF_INIT;
    if (store_encode(&enc, tk->val, c->err)) return -1;
    const char *v[2] = {key, enc.data ? enc.data : ""};
    int l[2] = {kl, (int)enc.len};
    int got = 1;
    if (!exists && tk->read) /* it read the key absent: someone creating it meanwhile is a conflict */
      got = pgc_insert(c, "INSERT INTO S.kv VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1", 2, v, l);
    else if (pg_exec(c->s, "INSERT INTO S.kv VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE"
                           " SET value = EXCLUDED.value, ver = S.kv.ver + 1", 2, v, l, c->err))
      got = -1;
    sx_buf_free(&enc);
    if (got <= 0) return got < 0 ? -1 : pgc_conflict(c, "kv key", tk->key);
    c->keys_changed |= !live;
  } else if (tk->state == TK_DELETED && live) {
    if (pg_exec(c->s, "UPDATE S.kv SET value = NULL, ver = ver + 1 WHERE key = $1", 1, &key, &kl, c->err)) return -1;
    c->keys_changed = true;
  }
  return 0;
}

/* ---- the listing clocks --------------------------------------------------------------- */

static int pgc_clock(pgc *c, const char *id, bool read, const store_rv *rv, bool bump, const char *what) {
  if (!read && !bump) return 0;
  int il = (int)strlen(id);
  PGresult *r = pg_query(c->s, bump ? "SELECT n FROM S.clocks WHERE id = $1 FOR UPDATE"
                                    : "SELECT n FROM S.clocks WHERE id = $1 FOR SHARE", 1, &id, &il, c->err);
  if (!r) return -1;
  uint64_t n = PQntuples(r) ? (uint64_t)pg_int8(r, 0, 0) : 0;
  PQclear(r);
  if (read && n != rv->ver) return pgc_conflict(c, what, 0);
  return bump ? pg_exec(c->s, "UPDATE S.clocks SET n = n + 1 WHERE id = $1", 1, &id, &il, c->err) : 0;
}

/* ---- the transaction ---------------------------------------------------------------- */

static int pgc_body(pgc *c) {
  store_txn *t = c->t;
  txn_stream **ss = malloc((t->nstreams + 1) * sizeof *ss);
  txn_key **ks = malloc((t->nkeys + 1) * sizeof *ks);
  if (!ss || !ks) abort();
  size_t ns = 0, nk = 0;
  for (size_t i = 0; i < t->nstreams; i++) ss[ns++] = &t->streams[i];
  for (size_t i = 0; i < t->nkeys; i++)
    if (t->keys[i].read || t->keys[i].state != TK_UNTOUCHED) ks[nk++] = &t->keys[i];
  qsort(ss, ns, sizeof *ss, cmp_streams);
  qsort(ks, nk, sizeof *ks, cmp_keys);
  int rc = 0;
  for (size_t i = 0; i < ns && !rc; i++) rc = pgc_stream(c, ss[i]);
  for (size_t i = 0; i < nk && !rc; i++) rc = pgc_key(c, ks[i]);
  if (!rc) rc = pgc_clock(c, "catalog", t->catalog_read, &t->catalog_rv, c->new_stream, "the stream list");
  if (!rc) rc = pgc_clock(c, "keys", t->keys_read, &t->keys_rv, c->keys_changed, "the kv key list");
  free(ss);
  free(ks);
  return rc;
}

/* How many things the transaction read. */
static size_t pgc_reads(store_txn *t) {
  size_t n = t->catalog_read + t->keys_read;
  for (size_t i = 0; i < t->nstreams; i++) n += t->streams[i].hwm_read || t->streams[i].content_read;
  for (size_t i = 0; i < t->nkeys; i++) n += t->keys[i].read;
  return n;
}

int pgstore_commit(store *base, store_txn *t, uint64_t *ticket, sx_val *err) {
  pgstore *s = (pgstore *)base;
  *ticket = 0;
  if (t->nrecords == 0 && pgc_reads(t) <= 1) return STORE_OK; /* one read is always consistent */
  if (t->nrecords && base->opts.read_only) {
    *err = store_errorf("store %s is open read-only", s->shown);
    return STORE_EFAIL;
  }
  pgc c = {s, t, err, false, false};
  pthread_mutex_lock(&s->mu);
  int rc = pg_exec(s, "BEGIN", 0, NULL, NULL, err);
  if (rc == 0) rc = pgc_body(&c);
  if (rc == 0 && t->nrecords == 0) rc = pg_exec(s, "ROLLBACK", 0, NULL, NULL, err); /* reads validated */
  else if (rc == 0) rc = pg_exec(s, "COMMIT", 0, NULL, NULL, err);
  else {
    sx_val ignored = SX_NIL;
    if (s->conn) pg_exec(s, "ROLLBACK", 0, NULL, NULL, &ignored);
  }
  pthread_mutex_unlock(&s->mu);
  if (rc == STORE_ECONFLICT) return rc;
  return rc ? STORE_EFAIL : STORE_OK;
}
