/* pgstore_read.c — the rest of a long stream read on PostgreSQL. A read's
 * first query (pg_read_once, pgstore.c) returns the stream's marks and
 * its first s->read_chunk events (sx_read_chunk=, default PG_READ_CHUNK);
 * the events after those come in queries of as many seqs each, sent in a
 * pipeline PG_READ_AHEAD at a time before the first query's events are
 * decoded, and each decoded while the
 * server runs and sends the next (the decoder reads the connection now
 * and then, so the server is not held up by a full socket). A long read
 * so costs about the larger of the server's time and the decoding, not
 * their sum, and holds one chunk's result at a time.
 *
 * Consistency without a snapshot: every seq from the first seq to the
 * mark holds an event, and an event never changes once committed, so each
 * chunk must return exactly its seqs' count of rows as of the first
 * query; only a truncation committed in between can take rows away (an
 * append only adds past the mark). A chunk short of rows is PGR_CHANGED:
 * the caller reads the stream again in one statement. Each query is
 * followed by its own sync point, so one failing does not abort the
 * others, and the server sends each result whole without waiting for
 * more input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pgstore.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h" /* store_errorf */

static const char pgr_sql[] = "SELECT value, seq FROM S.events WHERE stream = $1 AND seq >= $2 AND seq <= $3";

void pg_items_room(pg_items *it, size_t more) {
  if (it->v && it->n + more <= it->cap) return;
  size_t cap = it->cap * 2 > it->n + more ? it->cap * 2 : it->n + more;
  sx_val *v = store_xgc((cap + 1) * sizeof *v);
  if (it->n) memcpy(v, it->v, it->n * sizeof *v);
  it->v = v;
  it->cap = cap;
}

static bool pgr_failed(pgr *rd, sx_val *err) {
  *err = store_errorf("store %s: %s", rd->s->shown, PQerrorMessage(rd->pc->conn));
  return false;
}

static pgr_status pgr_lost(pgr *rd, sx_val *err) {
  *err = store_errorf("store %s: the database connection was lost during a read", rd->s->shown);
  return PGR_FAILED;
}

/* Ask for the next chunk (seqs next .. next + read_chunk - 1, at most
 * last) and its sync point. */
static bool pgr_send(pgr *rd, sx_val *err) {
  int64_t lo = rd->next, n = rd->s->read_chunk, hi = rd->last - lo < n ? rd->last : lo + n - 1;
  char lo8[8], hi8[8];
  pg_put_int8(lo8, lo);
  pg_put_int8(hi8, hi);
  const char *v[3] = {sx_str_data(rd->stream), lo8, hi8};
  int l[3] = {(int)sx_str_len(rd->stream), 8, 8}, f[3] = {1, 1, 1};
  PGconn *conn = rd->pc->conn;
  int ok = rd->name[0] ? PQsendQueryPrepared(conn, rd->name, 3, v, l, f, 1)
                       : PQsendQueryParams(conn, rd->text, 3, NULL, v, l, f, 1);
  if (!ok || !PQpipelineSync(conn)) return pgr_failed(rd, err);
  rd->want[(rd->head + rd->out) % PG_READ_AHEAD] = hi - lo + 1;
  rd->out++;
  rd->all_sent = hi == rd->last;
  if (!rd->all_sent) rd->next = hi + 1;
  return true;
}

static bool pgr_fill(pgr *rd, sx_val *err) {
  while (rd->out < PG_READ_AHEAD && !rd->all_sent)
    if (!pgr_send(rd, err)) return false;
  return true;
}

bool pgr_begin(pgr *rd, pgstore *s, pgconn *pc, sx_val stream, int64_t lo, int64_t hi, sx_val *err) {
  *rd = (pgr){.s = s, .pc = pc, .stream = stream, .next = lo, .last = hi};
  if (!pg_prepared_on(s, pc, pgr_sql, 3, rd->name, err)) return false;
  if (!rd->name[0]) rd->text = pg_sql(s, pgr_sql);
  if (!PQenterPipelineMode(pc->conn)) {
    free(rd->text);
    return pgr_failed(rd, err);
  }
  s->round_trips++;
  if (pgr_fill(rd, err)) return true;
  sx_val ignored;
  pgr_end(rd, NULL, NULL, NULL, &ignored); /* read off what was sent */
  return false;
}

/* Decode the oldest chunk's result r into out: PGR_CHANGED when it holds
 * fewer rows than its seqs. */
static pgr_status pgr_take(pgr *rd, PGresult *r, pg_items *out, size_t *encoded, sx_val *bad, sx_val *err) {
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    *err = store_errorf("store %s: %s", rd->s->shown, PQresultErrorMessage(r));
    return PGR_FAILED;
  }
  if (PQntuples(r) != rd->want[rd->head]) return PGR_CHANGED;
  pg_items_room(out, (size_t)PQntuples(r));
  int k = pg_events_of(rd->s, r, 0, rd->pc->conn, out->v + out->n, encoded, bad);
  if (k < 0) return PGR_BAD;
  out->n += (size_t)k;
  return PGR_OK;
}

pgr_status pgr_end(pgr *rd, pg_items *out, size_t *encoded, sx_val *bad, sx_val *err) {
  PGconn *conn = rd->pc->conn;
  pgr_status st = out ? PGR_OK : PGR_FAILED;
  while (rd->out > 0) {
    PGresult *r = PQgetResult(conn); /* the chunk's rows (NULL: the connection broke) */
    if (st == PGR_OK) st = r ? pgr_take(rd, r, out, encoded, bad, err) : pgr_lost(rd, err);
    bool got = r != NULL;
    PQclear(r);
    if (got)
      while ((r = PQgetResult(conn))) PQclear(r); /* to the NULL that ends the query's results */
    PQclear(PQgetResult(conn));                   /* its sync point */
    rd->head = (rd->head + 1) % PG_READ_AHEAD;
    rd->out--;
    if (st == PGR_OK && !pgr_fill(rd, err)) st = PGR_FAILED;
  }
  PQexitPipelineMode(conn);
  free(rd->text);
  if (PQstatus(conn) != CONNECTION_OK) { /* the server went away: the next query reconnects */
    if (st == PGR_OK) st = pgr_lost(rd, err);
    pg_lost_conn(rd->s, rd->pc);
  }
  return st;
}
