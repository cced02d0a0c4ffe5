/* pgstore_restore.c — `sx store load` into a PostgreSQL store: the rows of
 * a dump written in one transaction, so a failed or cut-short load leaves
 * the schema as it was. store_dump.c checks the records' order and calls
 * these for a URL; they only write.
 *
 * The transaction locks the tables against writers (EXCLUSIVE: readers go
 * on), checks that the store is empty, then sends the rows through a libpq
 * pipeline, reading the results back every PGR_BATCH statements, so a large
 * dump costs few round trips. A stream's row (its high-water mark and
 * first seq) is written when the stream ends; the listing clocks are bumped
 * at the end so no reader keeps an old listing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pgstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"

#define PGR_BATCH 512 /* statements sent before their results are read */

struct pgstore_restore {
  pgstore *s;
  int queued;  /* statements sent whose results are not read yet */
  bool failed; /* a statement failed: the transaction is aborted */
};

/* The statements a load runs, prepared once before the pipeline starts. */
static const char *const pgr_sql[] = {
    "INSERT INTO S.streams VALUES ($1, $2, $3)",
    "INSERT INTO S.events VALUES ($1, $2, $3)",
    "INSERT INTO S.kv VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ver = S.kv.ver + 1",
    "INSERT INTO S.blobs VALUES ($1, $2)",
};
enum { PGR_STREAM, PGR_EVENT, PGR_KV, PGR_BLOB, PGR_NSTMT };

static void pgr_free(pgstore_restore *r);

static int pgr_fail(pgstore_restore *r, sx_val *err) {
  *err = store_errorf("store %s: %s", r->s->shown, PQerrorMessage(r->s->main.conn));
  return -1;
}

/* A batch failed earlier: the transaction is aborted, and so is the load. */
static int pgr_refused(pgstore_restore *r, sx_val *err) {
  *err = store_errorf("store %s: the load has failed (an earlier row was refused); nothing is stored",
                      r->s->shown);
  return -1;
}

/* Read back every result of what was sent; the first error decides. After
 * a failed batch nothing more was sent: the load stays failed. */
static int pgr_drain(pgstore_restore *r, sx_val *err) {
  if (!PQpipelineSync(r->s->main.conn)) return pgr_fail(r, err);
  int rc = 0;
  for (int i = 0; i <= r->queued; i++) { /* the statements, then the sync point */
    for (PGresult *res; (res = PQgetResult(r->s->main.conn));) {
      ExecStatusType st = PQresultStatus(res);
      if (rc == 0 && (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED)) {
        *err = store_errorf("store %s: %s", r->s->shown,
                            st == PGRES_FATAL_ERROR ? PQresultErrorMessage(res) : "the load was aborted");
        rc = -1;
      }
      bool sync = st == PGRES_PIPELINE_SYNC;
      PQclear(res);
      if (sync) break;
    }
  }
  if (rc == 0 && r->failed) rc = pgr_refused(r, err);
  r->queued = 0;
  r->failed = rc != 0;
  return rc;
}

static int pgr_send(pgstore_restore *r, int stmt, int n, const char *const *v, const int *l, sx_val *err) {
  static const int fmts[3] = {1, 1, 1};
  char name[24];
  snprintf(name, sizeof name, "sx_restore_%d", stmt);
  if (r->failed) return pgr_refused(r, err);
  if (!PQsendQueryPrepared(r->s->main.conn, name, n, v, l, fmts, 0)) return pgr_fail(r, err);
  return ++r->queued < PGR_BATCH ? 0 : pgr_drain(r, err);
}

static int pgr_send_value(pgstore_restore *r, int stmt, sx_val name, const char *i8, sx_val value,
                          sx_val *err) {
  sx_buf enc = SX_BUF_INIT;
  if (store_encode(&enc, value, err)) return sx_buf_free(&enc), -1;
  const char *v[3] = {sx_str_data(name), i8 ? i8 : enc.data, enc.data}; /* an encoded value is never empty */
  int l[3] = {(int)sx_str_len(name), i8 ? 8 : (int)enc.len, (int)enc.len};
  int rc = pgr_send(r, stmt, i8 ? 3 : 2, v, l, err);
  sx_buf_free(&enc);
  return rc;
}

/* ---- beginning: lock, check empty, prepare ----------------------------------- */

static int pgr_empty(pgstore_restore *r, sx_val *err) {
  PGresult *res =
      pg_query_once(r->s,
                    "SELECT (SELECT count(*) FROM S.streams), (SELECT count(*) FROM S.kv WHERE value IS "
                    "NOT NULL), (SELECT count(*) FROM S.blobs)",
                    err);
  if (!res) return -1;
  int64_t ns = pg_int8(res, 0, 0), nk = pg_int8(res, 0, 1), nb = pg_int8(res, 0, 2);
  PQclear(res);
  if (ns || nk || nb) {
    *err = store_errorf("store %s is not empty (%lld streams, %lld kv keys, %lld blobs); load into a new "
                        "schema (sx_schema=...)",
                        r->s->shown, (long long)ns, (long long)nk, (long long)nb);
    return -1;
  }
  return 0;
}

static int pgr_prepare(pgstore_restore *r, sx_val *err) {
  for (int i = 0; i < PGR_NSTMT; i++) {
    char name[24], *q = pg_sql(r->s, pgr_sql[i]);
    snprintf(name, sizeof name, "sx_restore_%d", i);
    PGresult *res = PQprepare(r->s->main.conn, name, q, 0, NULL);
    free(q);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) return pgr_fail(r, err);
  }
  return 0;
}

/* From here on statements go through the pipeline. */
static int pgr_pipeline(pgstore_restore *r, sx_val *err) {
  return PQenterPipelineMode(r->s->main.conn) ? 0 : pgr_fail(r, err);
}

int pgstore_restore_begin(const char *url, pgstore_restore **out, sx_val *err) {
  *out = NULL;
  store *base;
  store_opts o = {.sync = STORE_SYNC_FULL};
  if (pgstore_open(url, &o, &base, err)) return -1;
  pgstore_restore *r = store_xcalloc(1, sizeof *r);
  r->s = (pgstore *)base;
  if (pg_exec_once(r->s, "BEGIN", err) ||
      pg_exec_once(r->s, "LOCK TABLE S.streams, S.events, S.kv, S.blobs, S.clocks IN EXCLUSIVE MODE", err) ||
      pgr_empty(r, err) || pgr_prepare(r, err) || pgr_pipeline(r, err)) {
    pgstore_restore_abandon(r);
    return -1;
  }
  *out = r;
  return 0;
}

/* ---- rows ------------------------------------------------------------------------- */

int pgstore_restore_stream(pgstore_restore *r, sx_val name, int64_t hwm, int64_t first, sx_val *err) {
  char h8[8], f8[8];
  pg_put_int8(h8, hwm);
  pg_put_int8(f8, first);
  const char *v[3] = {sx_str_data(name), h8, f8};
  int l[3] = {(int)sx_str_len(name), 8, 8};
  return pgr_send(r, PGR_STREAM, 3, v, l, err);
}

int pgstore_restore_event(pgstore_restore *r, sx_val stream, int64_t seq, sx_val event, sx_val *err) {
  char s8[8];
  pg_put_int8(s8, seq);
  return pgr_send_value(r, PGR_EVENT, stream, s8, event, err);
}

int pgstore_restore_kv(pgstore_restore *r, sx_val key, sx_val val, sx_val *err) {
  return pgr_send_value(r, PGR_KV, key, NULL, val, err);
}

int pgstore_restore_blob(pgstore_restore *r, sx_val cid, sx_val bytes, sx_val *err) {
  char id[BLOB_CID_LEN + 1];
  blob_cid_of(sx_str_data(bytes), sx_str_len(bytes), id);
  if (!sx_is_string(cid) || sx_str_len(cid) != BLOB_CID_LEN ||
      memcmp(id, sx_str_data(cid), BLOB_CID_LEN) != 0) {
    *err = store_errorf("blob %s: its bytes have the id %s", sx_is_string(cid) ? sx_str_data(cid) : "?", id);
    return -1;
  }
  const char *v[2] = {id, sx_str_data(bytes)};
  int l[2] = {BLOB_CID_LEN, (int)sx_str_len(bytes)};
  return pgr_send(r, PGR_BLOB, 2, v, l, err);
}

/* ---- ending ------------------------------------------------------------------------ */

int pgstore_restore_finish(pgstore_restore *r, sx_val *err) {
  int rc = pgr_drain(r, err);
  if (!rc) PQexitPipelineMode(r->s->main.conn);
  if (!rc) rc = pg_exec_once(r->s, "UPDATE S.clocks SET n = n + 1", err) || pg_exec_once(r->s, "COMMIT", err);
  pgr_free(r); /* closing the connection rolls back a transaction left open */
  return rc ? -1 : 0;
}

static void pgr_free(pgstore_restore *r) {
  sx_val ignored;
  r->s->base.be->close(&r->s->base, &ignored); /* r->s is set as r is made */
  free(r);
}

void pgstore_restore_abandon(pgstore_restore *r) {
  if (r) pgr_free(r); /* closing the connection rolls the transaction back */
}
