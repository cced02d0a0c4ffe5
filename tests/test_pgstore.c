/* test_pgstore.c — the PostgreSQL store when the database misbehaves under
 * a live handle, on the cluster SX_TEST_PG names (tests/pg_cluster.sh; a
 * fresh schema per test): a connection cut mid-read, mid-commit and
 * mid-load, a table dropped under the handle (statements that fail to
 * prepare, alone and in a commit's pipeline, until the handle has no
 * statement slots left), a role without the privileges it needs, damaged
 * rows, a read-only handle, a tiny read cache, a schema name that needs
 * quoting, and a load refused at each of its steps (a role short of a
 * privilege, a damaged schema, rows sent to a lost connection, a deferred
 * constraint at COMMIT). Each time the call that failed says what broke, nothing
 * stored before is lost, nothing of the failed commit or load is stored,
 * and the handle works again once the database does. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS /* threads register themselves */
#include <gc.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "pgstore.h" /* libpq through pq_load.h, as the store loads it */
#include "store.h"
#include "sx_buf.h"
#include "sx_dict.h"

static char base_url[512], url[768], schema[64], app[64];
static PGconn *admin;

static void setup(void) {
  sx_gc_init();
  const char *u = getenv("SX_TEST_PG");
  cr_assert(u && *u, "test_pgstore needs SX_TEST_PG (a PostgreSQL URL: tests/pg_cluster.sh start DIR)");
  snprintf(base_url, sizeof base_url, "%s", u);
  snprintf(schema, sizeof schema, "pgunit_%ld", (long)getpid()); /* each test runs in a process of its own */
  snprintf(app, sizeof app, "sxvictim_%ld", (long)getpid());
  snprintf(url, sizeof url, "%s&sx_schema=%s&application_name=%s", base_url, schema, app);
  sx_val err = SX_NIL;
  cr_assert(pq_load(&err), "%s", sx_is_string(err) ? sx_str_data(err) : "libpq");
  admin = PQconnectdb(base_url);
  cr_assert_eq(PQstatus(admin), CONNECTION_OK, "admin connection: %s", PQerrorMessage(admin));
  /* a schema left by an earlier run's process with the same pid */
  PGresult *r = PQexecParams(admin, "SET client_min_messages = warning", 0, NULL, NULL, NULL, NULL, 0);
  PQclear(r);
  char q[128];
  snprintf(q, sizeof q, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
  r = PQexecParams(admin, q, 0, NULL, NULL, NULL, NULL, 0);
  cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", q, PQerrorMessage(admin));
  PQclear(r);
}

static void teardown(void) {
  if (admin) PQfinish(admin);
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---------------------------------------------------------------------- */

static sx_val str(const char *s) { return sx_string_cstr(s); }
static const char *msg(sx_val e) {
  if (sx_is(e, SX_T_ERROR)) e = ((sx_error *)e)->message;
  return sx_is_string(e) ? sx_str_data(e) : "(no message)";
}

static sx_val ev(int64_t seq, const char *data) {
  sx_val d = sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq));
  return sx_dict_assoc(d, str("data"), str(data));
}

/* Run q on the admin connection (libpq's PQexec, which the store does not load). */
static PGresult *admin_exec(const char *q) { return PQexecParams(admin, q, 0, NULL, NULL, NULL, NULL, 0); }

/* Run SQL as the superuser (printf-style); it must succeed. */
__attribute__((format(printf, 1, 2))) static void admin_sql(const char *fmt, ...) {
  char *q;
  va_list ap;
  va_start(ap, fmt);
  cr_assert(vasprintf(&q, fmt, ap) >= 0);
  va_end(ap);
  PGresult *r = admin_exec(q);
  ExecStatusType st = PQresultStatus(r);
  cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(admin));
  PQclear(r);
  free(q);
}

/* The single number a query returns. */
static long admin_count(const char *fmt, const char *arg) {
  char q[512];
  snprintf(q, sizeof q, fmt, arg);
  PGresult *r = admin_exec(q);
  cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(admin));
  long n = atol(PQgetvalue(r, 0, 0));
  PQclear(r);
  return n;
}

/* Cut the store's connection (its backend is the one named app) and wait
 * until the server has let it go. */
static void cut_connection(void) {
  admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '%s'", app);
  for (int i = 0;
       i < 200 && admin_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'", app);
       i++)
    usleep(10000);
}

static store *open_url(const char *u, const store_opts *o) {
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(u, o, &s, &err), 0, "open %s: %s", u, msg(err));
  return s;
}

static void close_store(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(s, &err), 0, "close: %s", msg(err));
}

/* Append events seq from..to of stream and commit. */
static void put_events(store *s, const char *stream, int from, int to) {
  sx_val err = SX_NIL;
  for (int i = from; i <= to; i++)
    cr_assert_eq(store_append(s, str(stream), ev(i, "payload"), &err), 0, "%s", msg(err));
  cr_assert_eq(store_commit(s, &err), 0, "commit: %s", msg(err));
}

static size_t len_of(sx_val list) { return sx_is_list(list) ? sx_list_length(list) : (size_t)-1; }

#define HAS(hay, needle) cr_assert(strstr((hay), (needle)), "expected \"%s\" in: %s", (needle), (hay))

/* What a fresh handle sees of stream: its last seq and how many events. */
static void assert_stream(const char *stream, int64_t last, size_t n, const char *when) {
  store *s = open_url(url, NULL);
  cr_assert_eq(store_last_seq(s, str(stream)), last, "%s: last seq of %s", when, stream);
  cr_assert_eq(len_of(store_read(s, str(stream))), n, "%s: events of %s", when, stream);
  close_store(s);
}

/* The store URL as role, a login without any privilege granted. */
static void limited_url(char *out, size_t cap, char *role, size_t rcap) {
  snprintf(role, rcap, "sxlim_%ld", (long)getpid());
  admin_sql("DROP ROLE IF EXISTS %s", role);
  admin_sql("CREATE ROLE %s LOGIN", role);
  const char *q = strchr(base_url, '?');
  cr_assert_not_null(q);
  char host[256];
  const char *h = strstr(q, "host=");
  cr_assert_not_null(h);
  snprintf(host, sizeof host, "%.*s", (int)strcspn(h, "&"), h);
  snprintf(out, cap, "postgresql:///postgres?%s&user=%s&sx_schema=%s", host, role, schema);
}

/* ---- a lost connection ---------------------------------------------------------------- */

Test(pg, connection_cut_under_a_read) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 2);
  cr_assert_eq(len_of(store_read(s, str("a"))), 2);
  cut_connection();
  sx_val got = store_read(s, str("a"));
  cr_assert(sx_is(got, SX_T_ERROR), "a read over a cut connection fails");
  HAS(msg(got), "the database connection was lost");
  HAS(msg(got), "store postgresql://");
  cr_assert_eq(len_of(store_read(s, str("a"))), 2, "the next read reconnects and sees everything");
  cr_assert_eq(store_last_seq(s, str("a")), 2);
  close_store(s);
}

Test(pg, connection_cut_before_a_commit) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 1);
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(s, str("a"), ev(2, "lost"), &err), 0);
  cr_assert_eq(store_kv_put(s, str("k"), str("lost"), &err), 0);
  cut_connection();
  cr_assert_eq(store_commit(s, &err), STORE_EFAIL, "a commit over a cut connection fails");
  HAS(msg(err), "connection");
  assert_stream("a", 1, 1, "after the failed commit");
  cr_assert_eq(store_kv_get(s, str("k")), SX_NIL, "nothing of the failed commit is stored");
  put_events(s, "a", 2, 3); /* the handle reconnects */
  assert_stream("a", 3, 3, "after the next commit");
  close_store(s);
}

Test(pg, stats_over_a_cut_connection) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 3);
  store_stats st;
  store_get_stats(s, &st);
  cr_assert_eq(st.streams, 1);
  cr_assert_eq(st.events, 3);
  cut_connection();
  store_get_stats(s, &st); /* the query fails: nothing counted, nothing made up */
  cr_assert_eq(st.streams, 0);
  cr_assert_eq(st.events, 0);
  store_get_stats(s, &st);
  cr_assert_eq(st.events, 3, "the next call reconnects");
  close_store(s);
}

Test(pg, connection_cut_before_a_commit_too_big_to_buffer) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 1);
  char big[2048];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  sx_val err = SX_NIL;
  for (int i = 2; i <= 300; i++) cr_assert_eq(store_append(s, str("a"), ev(i, big), &err), 0);
  cut_connection();
  cr_assert_eq(store_commit(s, &err), STORE_EFAIL, "sending to a cut connection fails");
  HAS(msg(err), "store postgresql://");
  assert_stream("a", 1, 1, "after the failed commit");
  put_events(s, "a", 2, 2);
  assert_stream("a", 2, 2, "after the next commit");
  close_store(s);
}

/* The database refuses the handle's reconnect (its role may no longer log
 * in): every call says it cannot connect; once it may, all works again. */
Test(pg, a_reconnect_the_database_refuses) {
  char lim[768], role[64];
  limited_url(lim, sizeof lim, role, sizeof role);
  store *owner = open_url(url, NULL);
  put_events(owner, "a", 1, 1);
  admin_sql("GRANT USAGE ON SCHEMA \"%s\" TO %s", schema, role);
  admin_sql("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA \"%s\" TO %s", schema, role);
  char lim_app[900];
  snprintf(lim_app, sizeof lim_app, "%s&application_name=%s", lim, app);
  store *s = open_url(lim_app, NULL);
  cr_assert_eq(store_last_seq(s, str("a")), 1);
  admin_sql("ALTER ROLE %s NOLOGIN", role);
  cut_connection();
  sx_val got = store_read(s, str("a")); /* finds the connection gone */
  cr_assert(sx_is(got, SX_T_ERROR));
  got = store_kv_get(s, str("k"));
  cr_assert(sx_is(got, SX_T_ERROR));
  HAS(msg(got), "cannot connect to the database");
  HAS(msg(got), "not permitted to log in");
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(s, str("a"), ev(2, "x"), &err), STORE_EFAIL, "an append needs the stream's mark");
  HAS(msg(err), "cannot connect to the database");
  cr_assert_eq(store_truncate(s, str("a"), 1, &err), STORE_EFAIL, "so does a truncation");
  HAS(msg(err), "cannot connect to the database");
  store_stats st;
  store_get_stats(s, &st); /* nothing counted, nothing made up */
  cr_assert_eq(st.streams, 0);
  cr_assert_eq(st.events, 0);
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_kv_put(t, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_txn_kv_put(t, str("j"), str("v"), &err), 0);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_EFAIL);
  HAS(msg(err), "cannot connect to the database");
  store_rollback(s);
  admin_sql("ALTER ROLE %s LOGIN", role);
  cr_assert_eq(store_last_seq(s, str("a")), 1, "it reconnects once it may");
  put_events(s, "a", 2, 2);
  assert_stream("a", 2, 2, "after the reconnect");
  close_store(s);
  close_store(owner);
  admin_sql("DROP OWNED BY %s", role);
  admin_sql("DROP ROLE %s", role);
}

/* Another session holds the stream-list clock's row; once the commit waits
 * for it, that session (from a thread) inserts the stream the commit
 * inserted: a deadlock, which PostgreSQL breaks by failing one of them. */
static void *insert_the_same_stream(void *arg) {
  (void)arg;
  usleep(300000); /* the commit is waiting for the clock's row by now */
  char q[256];
  snprintf(q, sizeof q, "INSERT INTO \"%s\".streams VALUES ('\\x64'::bytea, 1, 1)", schema);
  PQclear(admin_exec(q)); /* waits for the commit's row until the deadlock is broken */
  PQclear(admin_exec("ROLLBACK"));
  return NULL;
}

Test(pg, a_deadlock_in_the_database_is_a_conflict) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 1);
  admin_sql("BEGIN");
  admin_sql("UPDATE \"%s\".clocks SET n = n WHERE id = 'catalog'", schema);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, insert_the_same_stream, NULL), 0);
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(s, str("d"), ev(1, "x"), &err), 0);
  int rc = store_commit(s, &err);
  pthread_join(th, NULL);
  cr_assert_eq(rc, STORE_ECONFLICT, "%s", msg(err));
  HAS(msg(err), "conflict: the commit lost a race in the database: deadlock detected");
  assert_stream("d", 0, 0, "after the lost race");
  put_events(s, "d", 1, 1); /* the host runs it again */
  assert_stream("d", 1, 1, "after running it again");
  close_store(s);
}

/* ---- a table dropped under the handle ---------------------------------------------------- */

static void recreate_kv(void) {
  admin_sql("CREATE TABLE \"%s\".kv (key bytea PRIMARY KEY, value bytea, ver bigint NOT NULL)", schema);
}

Test(pg, a_read_whose_statement_cannot_be_prepared) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 2);
  admin_sql("DROP TABLE \"%s\".kv", schema);
  sx_val got = store_kv_get(s, str("k"));
  cr_assert(sx_is(got, SX_T_ERROR));
  HAS(msg(got), "kv\" does not exist");
  store_txn *t = store_txn_begin(s);
  cr_assert(sx_is(store_txn_kv_get(t, str("k")), SX_T_ERROR));
  sx_val why = SX_NIL, err = SX_NIL;
  cr_assert(store_txn_failed(t, &why), "a transaction whose read failed is failed");
  cr_assert_eq(store_txn_append(t, str("a"), ev(3, "x"), &err), 0);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_EFAIL, "and cannot commit");
  HAS(msg(err), "does not exist");
  cr_assert_eq(len_of(store_read(s, str("a"))), 2, "the streams are untouched");
  recreate_kv();
  cr_assert_eq(store_kv_get(s, str("k")), SX_NIL, "the statement is prepared again once the table is back");
  cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  cr_assert_str_eq(msg(store_kv_get(s, str("k"))), "v");
  close_store(s);
}

Test(pg, a_commit_whose_statements_cannot_be_prepared) {
  store *setup_handle = open_url(url, NULL);
  put_events(setup_handle, "a", 1, 1);
  close_store(setup_handle);
  admin_sql("DROP TABLE \"%s\".kv", schema);
  store *s = open_url(url, NULL);
  sx_val err = SX_NIL;
  /* more failed commits than the handle has statement slots: each one
   * gives up the slot of the statement that failed to prepare */
  for (int i = 0; i < 70; i++) {
    cr_assert_eq(store_append(s, str("a"), ev(2, "x"), &err), 0);
    cr_assert_eq(store_append(s, str("new"), ev(1, "x"), &err), 0);
    cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), 0);
    err = SX_NIL;
    cr_assert_eq(store_commit(s, &err), STORE_EFAIL, "commit %d", i);
    HAS(msg(err), "kv\" does not exist");
  }
  assert_stream("a", 1, 1, "after the failed commits");
  assert_stream("new", 0, 0, "after the failed commits");
  recreate_kv();
  cr_assert_eq(store_append(s, str("a"), ev(2, "x"), &err), 0);
  cr_assert_eq(store_append(s, str("new"), ev(1, "x"), &err), 0);
  cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "the handle still commits (unprepared): %s", msg(err));
  cr_assert_str_eq(msg(store_kv_get(s, str("k"))), "v");
  cr_assert(store_kv_has(s, str("k")));
  cr_assert_eq(len_of(store_kv_keys(s)), 1, "a listing without parameters runs unprepared too");
  cr_assert_eq(len_of(store_streams(s)), 2);
  assert_stream("a", 2, 2, "after the table came back");
  assert_stream("new", 1, 1, "after the table came back");
  close_store(s);
}

/* ---- privileges ------------------------------------------------------------------------ */

Test(pg, a_role_without_privileges) {
  char lim[768], role[64];
  limited_url(lim, sizeof lim, role, sizeof role);
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(lim, NULL, &s, &err), STORE_EFAIL, "a role that may not create the schema");
  HAS(msg(err), "permission denied");
  cr_assert_eq(admin_count("SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", schema), 0,
               "nothing was created");

  store *owner = open_url(url, NULL); /* the schema made by a role that may */
  put_events(owner, "a", 1, 2);
  cr_assert_eq(store_kv_put(owner, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_commit(owner, &err), 0);
  admin_sql("GRANT USAGE ON SCHEMA \"%s\" TO %s", schema, role);
  admin_sql("GRANT SELECT ON ALL TABLES IN SCHEMA \"%s\" TO %s", schema, role);

  s = open_url(lim, NULL);
  cr_assert_eq(len_of(store_read(s, str("a"))), 2, "a reader may read");
  cr_assert_str_eq(msg(store_kv_get(s, str("k"))), "v");
  cr_assert_eq(store_append(s, str("a"), ev(3, "x"), &err), 0);
  err = SX_NIL;
  cr_assert_eq(store_commit(s, &err), STORE_EFAIL, "but not write: a failure, not a conflict");
  HAS(msg(err), "permission denied for table streams");
  sx_val cid = SX_NIL;
  cr_assert_eq(store_blob_put(s, "bytes", 5, &cid, &err), STORE_EFAIL);
  HAS(msg(err), "permission denied for table blobs");
  assert_stream("a", 2, 2, "after the refused commit");

  store_restore *r = NULL;
  cr_assert_eq(store_restore_begin(lim, &r, &err), -1, "nor load");
  HAS(msg(err), "permission denied");
  cr_assert_null(r);
  close_store(s);
  close_store(owner);
  admin_sql("DROP OWNED BY %s", role);
  admin_sql("DROP ROLE %s", role);
}

/* ---- damaged rows ------------------------------------------------------------------------ */

/* The report of store_check on the test's schema, and its result. */
static int check_report(sx_buf *report) {
  *report = (sx_buf)SX_BUF_INIT;
  int rc = store_check(url, report);
  sx_buf_putc(report, '\0');
  return rc;
}

Test(pg, damaged_rows_are_reported_never_served) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 3);
  sx_val err = SX_NIL, cid = SX_NIL, bytes = SX_NIL;
  cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0);
  cr_assert_eq(store_blob_put(s, "the bytes", 9, &cid, &err), 0);
  sx_buf report;
  cr_assert_eq(check_report(&report), 0, "%s", report.data);
  sx_buf_free(&report);

  admin_sql("UPDATE \"%s\".events SET value = '\\xff' WHERE seq = 2", schema);
  sx_val got = store_read(s, str("a"));
  cr_assert(sx_is(got, SX_T_ERROR));
  HAS(msg(got), "a stored value does not decode");
  admin_sql("UPDATE \"%s\".kv SET value = '\\xff', ver = ver + 1", schema);
  got = store_kv_get(s, str("k"));
  cr_assert(sx_is(got, SX_T_ERROR));
  HAS(msg(got), "does not decode");
  admin_sql("UPDATE \"%s\".blobs SET bytes = 'other bytes'", schema);
  cr_assert_eq(store_blob_get(s, cid, &bytes, &err), STORE_EFAIL);
  HAS(msg(err), "its bytes do not match its id");
  bool has = false;
  cr_assert_eq(store_blob_has(s, cid, &has, &err), 0);
  cr_assert(has, "a damaged blob is still there, only not served");
  uint64_t size = 0;
  cr_assert_eq(store_blob_size(s, cid, &size, &err), 0);
  cr_assert_eq(size, 11);
  admin_sql("DELETE FROM \"%s\".events WHERE seq = 1", schema);

  cr_assert_eq(check_report(&report), 1, "%s", report.data);
  HAS(report.data, "stream \"a\": its events are not seqs 1..3 (2 stored): damaged");
  HAS(report.data, "a stored event does not decode: damaged");
  HAS(report.data, "a kv value does not decode: damaged");
  HAS(report.data, "a blob does not hash to its id: damaged");
  HAS(report.data, "NOT ok");
  sx_buf_free(&report);

  admin_sql("DROP TABLE \"%s\".blobs", schema);
  cr_assert_eq(check_report(&report), -1, "a check that cannot read a table fails");
  HAS(report.data, "blobs\" does not exist");
  sx_buf_free(&report);
  sx_val listed = store_blobs(s);
  cr_assert(sx_is(listed, SX_T_ERROR), "the blob listing fails the same way");
  cr_assert_eq(store_blob_has(s, cid, &has, &err), STORE_EFAIL);
  cr_assert_eq(store_blob_size(s, cid, &size, &err), STORE_EFAIL);
  close_store(s);
}

Test(pg, check_of_an_unreachable_database) {
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check("postgresql:///postgres?host=/nonexistent-sx-dir&user=postgres", &report), -1);
  sx_buf_putc(&report, '\0');
  HAS(report.data, "cannot connect to the database");
  sx_buf_free(&report);
}

/* ---- read-only handles, the cache, the schema name ----------------------------------------- */

Test(pg, a_read_only_handle_refuses_writes) {
  store *w = open_url(url, NULL);
  put_events(w, "a", 1, 1);
  store_opts ro = {.read_only = true};
  store *s = open_url(url, &ro);
  sx_val err = SX_NIL, cid = SX_NIL;
  cr_assert_eq(store_append(s, str("a"), ev(2, "x"), &err), STORE_EFAIL);
  HAS(msg(err), "is open read-only");
  cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), STORE_EFAIL);
  cr_assert_eq(store_blob_put(s, "x", 1, &cid, &err), STORE_EFAIL);
  HAS(msg(err), "is open read-only");
  store_txn *t = store_txn_begin(s); /* a reader's reads still validate */
  cr_assert_eq(store_txn_last_seq(t, str("a")), 1);
  cr_assert_eq(len_of(store_txn_kv_keys(t)), 0);
  uint64_t ticket = 99;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "%s", msg(err));
  close_store(s);
  close_store(w);
}

Test(pg, a_tiny_read_cache_serves_what_is_committed) {
  store_opts o = {.cache_bytes = 2048};
  store *s = open_url(url, &o), *w = open_url(url, NULL);
  char big[400];
  memset(big, 'b', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  sx_val err = SX_NIL;
  for (int i = 1; i <= 20; i++) cr_assert_eq(store_append(w, str("big"), ev(i, big), &err), 0);
  for (int i = 0; i < 100; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    cr_assert_eq(store_kv_put(w, str(k), str(k), &err), 0);
  }
  cr_assert_eq(store_commit(w, &err), 0);
  for (int round = 0; round < 2; round++) { /* too big to cache; the keys overflow the budget */
    cr_assert_eq(len_of(store_read(s, str("big"))), 20);
    for (int i = 0; i < 100; i++) {
      char k[16];
      snprintf(k, sizeof k, "k%d", i);
      cr_assert_str_eq(msg(store_kv_get(s, str(k))), k);
    }
  }
  store_stats st;
  store_get_stats(s, &st);
  cr_assert_leq(st.cache_bytes, 2048);
  cr_assert_eq(store_kv_put(w, str("k3"), str("changed"), &err), 0);
  cr_assert_eq(store_append(w, str("big"), ev(21, "small"), &err), 0);
  cr_assert_eq(store_commit(w, &err), 0);
  cr_assert_str_eq(msg(store_kv_get(s, str("k3"))), "changed");
  cr_assert_eq(len_of(store_read(s, str("big"))), 21);
  close_store(s);
  close_store(w);
}

Test(pg, a_schema_name_that_needs_quoting) {
  char odd[64], u[900];
  snprintf(odd, sizeof odd, "Odd\"Name_%ld", (long)getpid());
  const char *q = strchr(base_url, '?');
  /* sx_schema first, an empty parameter, then libpq's own */
  snprintf(u, sizeof u, "%.*s?sx_schema=%s&&%s", (int)(q - base_url), base_url, odd, q + 1);
  store *s = open_url(u, NULL);
  put_events(s, "a", 1, 2);
  close_store(s);
  char ident[80];
  snprintf(ident, sizeof ident, "Odd\"\"Name_%ld", (long)getpid());
  cr_assert_eq(admin_count("SELECT count(*) FROM \"%s\".events", ident), 2, "the rows are in that schema");
  admin_sql("DROP SCHEMA \"%s\" CASCADE", ident);
}

/* ---- a load into PostgreSQL that fails half-way ------------------------------------------ */

static store_restore *load_begin(void) {
  store_restore *r = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_restore_begin(url, &r, &err), 0, "%s", msg(err));
  return r;
}

/* Stream "a" with n events (each call after a failure must say so too). */
static int load_stream(store_restore *r, int n, sx_val *err) {
  int rc = store_restore_stream(r, str("a"), n, err);
  for (int i = 1; i <= n && rc == 0; i++) rc = store_restore_event(r, ev(i, "loaded"), err);
  return rc;
}

static void assert_empty(const char *when) {
  store *s = open_url(url, NULL);
  cr_assert_eq(len_of(store_streams(s)), 0, "%s: no stream", when);
  cr_assert_eq(len_of(store_kv_keys(s)), 0, "%s: no key", when);
  cr_assert_eq(len_of(store_blobs(s)), 0, "%s: no blob", when);
  close_store(s);
}

Test(pg, a_load_with_a_duplicate_row_stores_nothing) {
  store_restore *r = load_begin();
  sx_val err = SX_NIL, bytes = str("blob bytes");
  char cid[BLOB_CID_LEN + 1];
  blob_cid_of("blob bytes", 10, cid);
  cr_assert_eq(store_restore_blob(r, str(cid), bytes, &err), 0);
  cr_assert_eq(store_restore_blob(r, str(cid), bytes, &err), 0, "sent; its failure comes back later");
  cr_assert_eq(load_stream(r, 600, &err), -1, "the first round trip (512 rows) reports the duplicate");
  HAS(msg(err), "duplicate key");
  sx_val again = SX_NIL;
  cr_assert_eq(store_restore_blob(r, str(cid), bytes, &again), -1, "later rows are refused");
  HAS(msg(again), "the load has failed");
  cr_assert_eq(store_restore_finish(r, &again), -1);
  assert_empty("after the failed load");
}

Test(pg, a_load_that_fails_at_its_end_stores_nothing) {
  store_restore *r = load_begin();
  sx_val err = SX_NIL, bytes = str("blob bytes");
  char cid[BLOB_CID_LEN + 1];
  blob_cid_of("blob bytes", 10, cid);
  cr_assert_eq(load_stream(r, 600, &err), 0, "more rows than one round trip: %s", msg(err));
  cr_assert_eq(store_restore_kv(r, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_restore_blob(r, str(cid), bytes, &err), 0);
  cr_assert_eq(store_restore_blob(r, str(cid), bytes, &err), 0);
  err = SX_NIL;
  cr_assert_eq(store_restore_finish(r, &err), -1);
  HAS(msg(err), "duplicate key");
  assert_empty("after the failed load");
}

Test(pg, a_load_whose_connection_is_cut) {
  store_restore *r = load_begin();
  sx_val err = SX_NIL;
  cr_assert_eq(load_stream(r, 100, &err), 0);
  cut_connection();
  int rc = 0;
  for (int i = 0; i < 1200 && rc == 0; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    rc = store_restore_kv(r, str(k), str("v"), &err);
  }
  cr_assert_eq(rc, -1, "the load notices the cut within a round trip");
  cr_assert(sx_is_string(err), "and says why");
  sx_val again = SX_NIL;
  cr_assert_eq(store_restore_kv(r, str("later"), str("v"), &again), -1, "later rows are refused");
  HAS(msg(again), "store postgresql://");
  cr_assert_eq(store_restore_finish(r, &again), -1);
  assert_empty("after the cut load");
}

Test(pg, a_load_refuses_a_blob_whose_bytes_do_not_match_and_values_that_are_not_data) {
  store_restore *r = load_begin();
  sx_val err = SX_NIL;
  char cid[BLOB_CID_LEN + 1];
  blob_cid_of("other bytes", 11, cid);
  cr_assert_eq(store_restore_blob(r, str(cid), str("blob bytes"), &err), -1);
  HAS(msg(err), "its bytes have the id");
  cr_assert_eq(store_restore_blob(r, sx_int(3), str("blob bytes"), &err), -1);
  HAS(msg(err), "blob ?: its bytes have the id");
  cr_assert_eq(store_restore_blob(r, str("bafkshort"), str("blob bytes"), &err), -1, "nor an id cut short");
  HAS(msg(err), "blob bafkshort: its bytes have the id");
  sx_val fn = (sx_val)sx_obj_new(SX_T_FN, sizeof(sx_fnhead));
  cr_assert_eq(store_restore_kv(r, str("k"), fn, &err), -1, "nor a value that is not data");
  HAS(msg(err), "cannot store a value of type");
  cr_assert_eq(store_restore_stream(r, str("s"), 1, &err), 0);
  cr_assert_eq(store_restore_event(r, sx_dict_assoc(ev(1, "x"), str("f"), fn), &err), -1);
  HAS(msg(err), "cannot store a value of type");
  store_restore_abandon(r);
  assert_empty("after the abandoned load");
}

Test(pg, a_load_into_an_unreachable_database) {
  store_restore *r = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_restore_begin("postgresql:///postgres?host=/nonexistent-sx-dir&user=postgres", &r, &err),
               -1);
  HAS(msg(err), "cannot connect to the database");
  cr_assert_null(r);
}

/* ---- the schema in SQL ------------------------------------------------------------------ */

Test(pg, only_a_whole_word_s_dot_names_the_schema) {
  pgstore s = {.schema = "\"q\""};
  char *sql = pg_sql(&s, "S.a xS.b {S.c AS.d [S.e 0S.f :S.g _S.h /S.i zS.j ~S.k ZS.l 9S.m S");
  cr_assert_str_eq(
      sql, "\"q\".a xS.b {\"q\".c AS.d [\"q\".e 0S.f :\"q\".g _S.h /\"q\".i zS.j ~\"q\".k ZS.l 9S.m S");
  free(sql);
}

Test(pg, a_load_refuses_a_schema_with_only_a_key_or_a_blob) {
  store *s = open_url(url, NULL);
  sx_val err = SX_NIL, cid = SX_NIL;
  cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0);
  store_restore *r = NULL;
  cr_assert_eq(store_restore_begin(url, &r, &err), -1);
  HAS(msg(err), "is not empty (0 streams, 1 kv keys, 0 blobs)");
  cr_assert_eq(store_kv_delete(s, str("k"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0);
  cr_assert_eq(store_blob_put(s, "b", 1, &cid, &err), 0);
  cr_assert_eq(store_restore_begin(url, &r, &err), -1);
  HAS(msg(err), "is not empty (0 streams, 0 kv keys, 1 blobs)");
  cr_assert_eq(len_of(store_blobs(s)), 1, "the refused loads changed nothing");
  cr_assert_eq(len_of(store_kv_keys(s)), 0);
  close_store(s);
}

/* ---- a load into PostgreSQL: more ways it fails (pgstore_restore.c) ----------------------- */

/* A value of n bytes (the load's rows fill libpq's output buffer fast). */
static sx_val big_value(size_t n) {
  char *b = malloc(n + 1);
  cr_assert_not_null(b);
  memset(b, 'v', n);
  b[n] = '\0';
  sx_val v = str(b);
  free(b);
  return v;
}

/* The connection is cut while rows are being sent: once libpq has found
 * the connection gone (its output buffer full, it reads the server's
 * goodbye), sending the next row fails at once — within the batch, before
 * any result is read back — and says so; so does the end of the load. */
Test(pg, a_load_whose_connection_is_cut_while_rows_are_sent) {
  store_restore *r = load_begin();
  sx_val err = SX_NIL, v = big_value(256 * 1024);
  cr_assert_eq(store_restore_kv(r, str("k0"), v, &err), 0, "%s", msg(err));
  cut_connection();
  int rc = 0, sent = 1;
  for (; sent < 400 && rc == 0; sent++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", sent);
    rc = store_restore_kv(r, str(k), v, &err);
  }
  cr_assert_eq(rc, -1, "a send to a lost connection fails");
  cr_assert_lt(sent, 400, "before the batch's results were read back");
  HAS(msg(err), "store postgresql://");
  HAS(msg(err), "connection");
  sx_val again = SX_NIL;
  cr_assert_eq(store_restore_finish(r, &again), -1, "the load cannot end");
  HAS(msg(again), "store postgresql://");
  assert_empty("after the cut load");
}

/* A load of keys and blobs only (no stream left open at its end) whose
 * batch failed: ending it fails too, and says why. */
Test(pg, a_load_that_failed_cannot_end) {
  store_restore *r = load_begin();
  sx_val err = SX_NIL, bytes = str("blob bytes");
  char cid[BLOB_CID_LEN + 1];
  blob_cid_of("blob bytes", 10, cid);
  cr_assert_eq(store_restore_blob(r, str(cid), bytes, &err), 0);
  cr_assert_eq(store_restore_blob(r, str(cid), bytes, &err), 0);
  int rc = 0;
  for (int i = 0; i < 600 && rc == 0; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    rc = store_restore_kv(r, str(k), str("v"), &err);
  }
  cr_assert_eq(rc, -1, "the first round trip reports the duplicate blob");
  HAS(msg(err), "duplicate key");
  sx_val end = SX_NIL;
  cr_assert_eq(store_restore_finish(r, &end), -1);
  HAS(msg(end), "the load has failed (an earlier row was refused); nothing is stored");
  assert_empty("after the failed load");
}

/* A role that may lock the tables (LOCK ... IN EXCLUSIVE MODE needs
 * UPDATE, DELETE or TRUNCATE) but lacks a privilege the load needs later:
 * reading the tables to see they are empty, or bumping the listing clocks
 * at the end. Each time the load fails naming the table, and nothing is
 * stored. */
Test(pg, a_load_by_a_role_short_of_a_privilege) {
  char lim[768], role[64];
  limited_url(lim, sizeof lim, role, sizeof role);
  close_store(open_url(url, NULL)); /* the schema, made by its owner */
  admin_sql("GRANT USAGE ON SCHEMA \"%s\" TO %s", schema, role);
  admin_sql("GRANT SELECT ON \"%s\".meta TO %s", schema, role);
  admin_sql("GRANT UPDATE ON ALL TABLES IN SCHEMA \"%s\" TO %s", schema, role);

  store_restore *r = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_restore_begin(lim, &r, &err), -1, "it cannot see whether the store is empty");
  HAS(msg(err), "permission denied for table streams");
  cr_assert_null(r);

  admin_sql("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA \"%s\" TO %s", schema, role);
  admin_sql("REVOKE UPDATE ON \"%s\".clocks FROM %s", schema, role);
  admin_sql("GRANT DELETE ON \"%s\".clocks TO %s", schema, role); /* it may still lock it */
  err = SX_NIL;
  cr_assert_eq(store_restore_begin(lim, &r, &err), 0, "%s", msg(err));
  cr_assert_eq(load_stream(r, 3, &err), 0, "%s", msg(err));
  cr_assert_eq(store_restore_kv(r, str("k"), str("v"), &err), 0, "%s", msg(err));
  err = SX_NIL;
  cr_assert_eq(store_restore_finish(r, &err), -1, "but not bump the clocks");
  HAS(msg(err), "permission denied for table clocks");
  assert_empty("after the refused load");
  admin_sql("DROP OWNED BY %s", role);
  admin_sql("DROP ROLE %s", role);
}

/* A schema whose table lost a column: the load's statement for it does
 * not prepare, and the load does not begin. */
Test(pg, a_load_into_a_damaged_schema) {
  close_store(open_url(url, NULL));
  admin_sql("ALTER TABLE \"%s\".blobs DROP COLUMN bytes", schema);
  store_restore *r = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_restore_begin(url, &r, &err), -1);
  HAS(msg(err), "INSERT has more expressions than target columns");
  cr_assert_null(r);
}

/* A constraint the database checks only at COMMIT (a deferred one, added
 * by whoever runs the database): every row is accepted, the COMMIT is
 * refused, and nothing is stored. */
Test(pg, a_load_whose_commit_is_refused) {
  close_store(open_url(url, NULL));
  admin_sql(
      "ALTER TABLE \"%s\".kv ADD CONSTRAINT one_key_per_value UNIQUE (value) DEFERRABLE INITIALLY DEFERRED",
      schema);
  store_restore *r = load_begin();
  sx_val err = SX_NIL;
  cr_assert_eq(load_stream(r, 2, &err), 0, "%s", msg(err));
  cr_assert_eq(store_restore_kv(r, str("k1"), str("same"), &err), 0, "%s", msg(err));
  cr_assert_eq(store_restore_kv(r, str("k2"), str("same"), &err), 0, "%s", msg(err));
  err = SX_NIL;
  cr_assert_eq(store_restore_finish(r, &err), -1);
  HAS(msg(err), "one_key_per_value");
  assert_empty("after the refused commit");
}

/* ---- more of the handle's paths (pgstore.c, pgstore_commit.c) ----------------------------- */

/* A commit of many big keys to a connection cut under it: libpq finds the
 * connection gone while the pipeline is being sent, the statements after
 * that are not sent, and the commit fails naming the store; nothing of it
 * is stored and the handle reconnects for the next one. */
Test(pg, a_commit_sent_to_a_lost_connection) {
  store *s = open_url(url, NULL);
  sx_val err = SX_NIL, v = big_value(64 * 1024);
  cr_assert_eq(store_kv_put(s, str("k0"), str("before"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  cut_connection();
  for (int i = 1; i <= 200; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%03d", i);
    cr_assert_eq(store_kv_put(s, str(k), v, &err), 0);
  }
  err = SX_NIL;
  cr_assert_eq(store_commit(s, &err), STORE_EFAIL);
  HAS(msg(err), "store postgresql://");
  store *fresh = open_url(url, NULL);
  cr_assert_eq(len_of(store_kv_keys(fresh)), 1, "nothing of the failed commit is stored");
  close_store(fresh);
  cr_assert_eq(store_kv_put(s, str("k1"), str("after"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "the next commit reconnects: %s", msg(err));
  cr_assert_str_eq(msg(store_kv_get(s, str("k1"))), "after");
  close_store(s);
}

/* store_check when a table is missing: each query that cannot run fails
 * the check (-1), naming the table, and stops the checks after it. */
Test(pg, check_of_a_schema_missing_a_table) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 2);
  close_store(s);
  static const char *const tables[] = {"kv", "events", "streams"};
  for (int i = 0; i < 3; i++) {
    admin_sql("DROP TABLE \"%s\".%s", schema, tables[i]);
    sx_buf report;
    cr_assert_eq(check_report(&report), -1, "without %s: %s", tables[i], report.data);
    char want[64];
    snprintf(want, sizeof want, "%s\" does not exist", tables[i]);
    HAS(report.data, want);
    cr_assert_null(strstr(report.data, " ok\n"), "no verdict: %s", report.data);
    sx_buf_free(&report);
  }
}

/* Damage store_check finds that a count does not: a stream's events
 * shifted, another's last one moved up a seq (as many events as before,
 * not the seqs from the first to the mark, which the newest event
 * raised), a blob whose id was cut short. */
Test(pg, check_finds_shifted_events_and_a_cut_blob_id) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 3);
  sx_val err = SX_NIL, cid = SX_NIL;
  cr_assert_eq(store_blob_put(s, "the bytes", 9, &cid, &err), 0);
  put_events(s, "b", 1, 3);
  close_store(s);
  admin_sql("UPDATE \"%s\".events SET seq = 4 WHERE stream = '\\x62' AND seq = 3", schema);
  admin_sql("UPDATE \"%s\".events SET seq = seq + 10 WHERE stream = '\\x61'", schema);
  admin_sql("UPDATE \"%s\".blobs SET cid = left(cid, 10)", schema);
  sx_buf report;
  cr_assert_eq(check_report(&report), 1, "%s", report.data);
  HAS(report.data, "stream \"a\": its events are not seqs 1..13 (3 stored): damaged");
  HAS(report.data, "stream \"b\": its events are not seqs 1..4 (3 stored): damaged");
  HAS(report.data, "a blob does not hash to its id: damaged");
  HAS(report.data, "NOT ok");
  sx_buf_free(&report);
}

/* A read whose stream row is there but whose events table is not: the
 * read fails naming it (so does the mark, which needs the newest event);
 * so does a blob read without the blobs table, while an absent blob is no
 * error. */
Test(pg, reads_of_a_table_that_is_gone) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 2);
  sx_val err = SX_NIL, bytes = str("x"), cid = SX_NIL;
  char absent[BLOB_CID_LEN + 1];
  blob_cid_of("never stored", 12, absent);
  cr_assert_eq(store_blob_get(s, str(absent), &bytes, &err), 0, "%s", msg(err));
  cr_assert_eq(bytes, SX_NIL, "an absent blob is nil");
  cr_assert_eq(store_blob_put(s, "stored", 6, &cid, &err), 0);
  admin_sql("DROP TABLE \"%s\".events", schema);
  admin_sql("DROP TABLE \"%s\".blobs", schema);
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_append(t, str("a"), ev(3, "x"), &err), STORE_EFAIL, "the mark cannot be read");
  HAS(msg(err), "events\" does not exist");
  store_txn_abort(t);
  sx_val got = store_read(s, str("a"));
  cr_assert(sx_is(got, SX_T_ERROR), "the read fails");
  HAS(msg(got), "events\" does not exist");
  bytes = SX_NIL;
  cr_assert_eq(store_blob_get(s, cid, &bytes, &err), STORE_EFAIL);
  HAS(msg(err), "blobs\" does not exist");
  cr_assert_eq(bytes, SX_NIL);
  close_store(s);
}

/* A deleted key read back (its row stays, with no value), and a key read
 * absent, put and deleted in one transaction: nothing to write, the
 * commit succeeds. */
Test(pg, deleted_and_never_stored_keys) {
  store *s = open_url(url, NULL);
  sx_val err = SX_NIL;
  cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0);
  cr_assert_eq(store_kv_delete(s, str("k"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  store *other = open_url(url, NULL);
  cr_assert_eq(store_kv_get(other, str("k")), SX_NIL, "another handle reads it deleted");
  cr_assert_not(store_kv_has(other, str("k")));
  close_store(other);
  cr_assert_eq(store_kv_get(s, str("k")), SX_NIL);

  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_kv_get(t, str("never")), SX_NIL);
  cr_assert_eq(store_txn_kv_put(t, str("never"), str("v"), &err), 0);
  cr_assert_eq(store_txn_kv_delete(t, str("never"), &err), 0);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "%s", msg(err));
  cr_assert_eq(admin_count("SELECT count(*) FROM \"%s\".kv WHERE key = '\\x6e65766572'", schema), 0,
               "no row for it");
  cr_assert_eq(len_of(store_kv_keys(s)), 0);
  close_store(s);
}

/* A value bigger than the whole read cache is served, just not cached. */
Test(pg, a_key_too_big_for_the_read_cache) {
  store_opts o = {.cache_bytes = 2048};
  store *s = open_url(url, &o);
  sx_val err = SX_NIL, v = big_value(8192);
  cr_assert_eq(store_kv_put(s, str("big"), v, &err), 0);
  cr_assert_eq(store_commit(s, &err), 0);
  for (int i = 0; i < 2; i++) cr_assert_eq(sx_str_len(store_kv_get(s, str("big"))), 8192);
  store_stats st;
  store_get_stats(s, &st);
  cr_assert_leq(st.cache_bytes, 2048);
  close_store(s);
}

/* The sync mode reaches the database: off (and batch) commit without
 * waiting for PostgreSQL's WAL flush, full waits for it. */
static void assert_sync_setting(store_sync sync, const char *want) {
  store_opts o = {.sync = sync};
  store *s = open_url(url, &o);
  PGresult *r = PQexecParams(((pgstore *)s)->main.conn, "SHOW synchronous_commit", 0, NULL, NULL, NULL, NULL, 0);
  cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
  cr_assert_str_eq(PQgetvalue(r, 0, 0), want, "sync mode %d", (int)sync);
  PQclear(r);
  close_store(s);
}

Test(pg, the_sync_mode_sets_synchronous_commit) {
  assert_sync_setting(STORE_SYNC_FULL, "on");
  assert_sync_setting(STORE_SYNC_OFF, "off");
  assert_sync_setting(STORE_SYNC_BATCH, "off");
}

/* A URL without parameters: nothing to take out, the label is the URL. */
Test(pg, a_url_without_parameters) {
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open("postgresql://127.0.0.1:1/nodb", NULL, &s, &err), STORE_EFAIL);
  HAS(msg(err), "store postgresql://127.0.0.1:1/nodb: cannot connect to the database");
  cr_assert_eq(store_open("postgresql://127.0.0.1:1/nodb?", NULL, &s, &err), STORE_EFAIL,
               "nor after a bare ?");
  HAS(msg(err), "store postgresql://127.0.0.1:1/nodb: cannot connect to the database");
}

/* A schema whose version row is gone (the rest intact) is completed: the
 * row comes back and the data is all there. */
Test(pg, a_schema_without_its_version_row) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 2);
  close_store(s);
  admin_sql("DELETE FROM \"%s\".meta", schema);
  assert_stream("a", 2, 2, "after the version row went");
  cr_assert_eq(admin_count("SELECT value::int FROM \"%s\".meta WHERE key = 'schema_version'", schema),
               PG_SCHEMA_VERSION);
}

/* A stream another handle truncates, then replaces (same mark, an
 * earlier first seq), under a handle that cached it: the handle drops
 * the truncated head, then reads the replaced stream afresh. */
Test(pg, a_cached_stream_replaced_with_an_earlier_first_seq) {
  store *s = open_url(url, NULL), *w = open_url(url, NULL);
  put_events(w, "a", 1, 3);
  sx_val err = SX_NIL;
  cr_assert_eq(len_of(store_read(s, str("a"))), 3, "cached: seqs 1..3");
  cr_assert_eq(store_truncate(w, str("a"), 2, &err), 0);
  cr_assert_eq(store_commit(w, &err), 0, "%s", msg(err));
  cr_assert_eq(len_of(store_read(s, str("a"))), 1, "truncated by the other handle: seq 3 only");
  admin_sql("DELETE FROM \"%s\".events", schema);
  admin_sql("DELETE FROM \"%s\".streams", schema);
  put_events(w, "a", 1, 3);
  cr_assert_eq(len_of(store_read(s, str("a"))), 3, "all three, not the cached tail");
  close_store(s);
  close_store(w);
}

/* One append and a truncation of an existing stream in one commit (not
 * the single-append fast path): both land, another handle sees them. */
Test(pg, one_append_and_a_truncation_in_one_commit) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 3);
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(s, str("a"), ev(4, "x"), &err), 0);
  cr_assert_eq(store_truncate(s, str("a"), 2, &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  assert_stream("a", 4, 2, "after the commit");
  close_store(s);
}

/* A kv value of a fresh handle (nil when absent). */
static sx_val kv_of(const char *key) {
  store *s = open_url(url, NULL);
  sx_val v = store_kv_get(s, str(key));
  close_store(s);
  return v;
}

/* One commit of more streams and keys than a small commit sorts on the
 * stack, and more statements than it records in place
 * (pgstore_commit.c): all of it is stored; when another handle moved one
 * of the streams first, none of it is. */
Test(pg, a_commit_of_many_streams_and_keys_is_all_or_nothing) {
  enum { N = 12 };
  store *s = open_url(url, NULL), *other = open_url(url, NULL);
  char name[16];
  sx_val err = SX_NIL;
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "m%02d", i);
    put_events(s, name, 1, 1);
  }
  for (int round = 0; round < 2; round++) {
    for (int i = N - 1; i >= 0; i--) { /* out of order: the commit sorts them */
      snprintf(name, sizeof name, "m%02d", i);
      cr_assert_eq(store_append(s, str(name), ev(2 + round, "x"), &err), 0, "%s", msg(err));
      cr_assert_eq(store_kv_put(s, str(name), sx_int(round + 1), &err), 0, "%s", msg(err));
    }
    if (round == 1) put_events(other, "m07", 3, 3);
    int rc = store_commit(s, &err);
    cr_assert_eq(rc, round == 0 ? STORE_OK : STORE_ECONFLICT, "round %d: %s", round, msg(err));
  }
  HAS(msg(err), "conflict: stream \"m07\"");
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "m%02d", i);
    assert_stream(name, i == 7 ? 3 : 2, i == 7 ? 3 : 2, "after the commit that conflicted");
    cr_assert_eq(kv_of(name), sx_int(1), "kv %s keeps the first commit's value", name);
  }
  close_store(other);
  close_store(s);
}

/* A truncation past the mark cuts through the mark: an event appended
 * after it (same commit, or a later one) is read, by another handle too,
 * and the store checks clean. */
Test(pg, events_appended_after_a_truncation_past_the_mark_stay) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 2);
  sx_val err = SX_NIL;
  cr_assert_eq(store_truncate(s, str("a"), 10, &err), 0);
  cr_assert_eq(store_append(s, str("a"), ev(3, "x"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  assert_stream("a", 3, 1, "after truncating past the mark and appending");
  cr_assert_eq(store_truncate(s, str("a"), 50, &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  put_events(s, "a", 4, 4);
  assert_stream("a", 4, 1, "after a second cut past the mark and an append");
  close_store(s);
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(url, &report), 0, "%.*s", (int)report.len, report.data);
  sx_buf_free(&report);
}

/* store_check by a role that may list the streams and count their events
 * (column privileges on events.stream and events.seq) but not read the
 * values: the check fails (-1) at the values, naming the table. */
Test(pg, check_by_a_role_that_may_not_read_the_values) {
  char lim[768], role[64];
  limited_url(lim, sizeof lim, role, sizeof role);
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 2);
  close_store(s);
  admin_sql("GRANT USAGE ON SCHEMA \"%s\" TO %s", schema, role);
  admin_sql("GRANT SELECT ON \"%s\".meta, \"%s\".streams, \"%s\".clocks TO %s", schema, schema, schema, role);
  admin_sql("GRANT SELECT (stream, seq) ON \"%s\".events TO %s", schema, role);
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(lim, &report), -1);
  sx_buf_putc(&report, '\0');
  HAS(report.data, "permission denied for table events");
  cr_assert_null(strstr(report.data, "damaged"), "nothing is called damaged: %s", report.data);
  sx_buf_free(&report);
  admin_sql("DROP OWNED BY %s", role);
  admin_sql("DROP ROLE %s", role);
}

/* ---- the lone append (schema version 2) ----------------------------------------------------- */

/* a (handle) knows stream "a" up to seq 4 as of a clock after *in; b
 * appended seq 5 since, unknown to a. */
static void a_knows_4_b_made_5(store *a, store *b, uint64_t *in) {
  put_events(a, "a", 1, 3);
  *in = store_clock(a);
  put_events(a, "a", 4, 4); /* a learns the mark it made, after *in */
  put_events(b, "a", 5, 5);
}

typedef struct {
  store *s;
  uint64_t in;
  int rc;
  sx_val err;
} lone_append;

/* Threads that allocate values are known to the collector. */
static void *gc_thread(void *(*fn)(void *), void *arg) {
  struct GC_stack_base sb;
  GC_get_stack_base(&sb);
  GC_register_my_thread(&sb);
  void *r = fn(arg);
  GC_unregister_my_thread();
  return r;
}
static void gc_threads_on(void) { GC_allow_register_threads(); }

/* Append the seq after what the handle knows, for a request in at `in`. */
static void *append_after_what_it_knows(void *arg);
static void *append_after_what_it_knows_thread(void *arg) { return gc_thread(append_after_what_it_knows, arg); }
static void *append_after_what_it_knows(void *arg) {
  lone_append *la = arg;
  store_txn *t = store_txn_begin(la->s);
  store_txn_since(t, la->in);
  int64_t last = store_txn_last_seq(t, str("a"));
  cr_assert_eq(last, 4, "answered from what the handle knew");
  la->err = SX_NIL;
  uint64_t ticket;
  la->rc = store_txn_append(t, str("a"), ev(last + 1, "stale"), &la->err);
  if (la->rc == 0) la->rc = store_txn_commit(t, &ticket, &la->err);
  else store_txn_abort(t);
  return NULL;
}

static int waiting_on_locks(void) {
  return (int)admin_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'"
                          " AND wait_event_type = 'Lock'",
                          app);
}

/* A truncation in flight (sent as pgstore_commit.c sends it, held open
 * here) through the seq a lone append would take: the append waits for
 * the truncation's table lock, and its statement then sees the moved
 * floor: a conflict, never an event hidden under the first seq. */
Test(pg, a_lone_append_waits_for_a_truncation_in_flight_then_conflicts) {
  store *a = open_url(url, NULL), *b = open_url(url, NULL);
  lone_append la = {.s = a};
  a_knows_4_b_made_5(a, b, &la.in);
  admin_sql("BEGIN");
  admin_sql("DO $l$ BEGIN LOCK TABLE \"%s\".events IN SHARE ROW EXCLUSIVE MODE; END $l$", schema);
  admin_sql("UPDATE \"%s\".streams SET hwm_floor = 5, first_seq = 6 WHERE name = '\\x61'", schema);
  admin_sql("DELETE FROM \"%s\".events WHERE stream = '\\x61' AND seq <= 5", schema);
  pthread_t th;
  gc_threads_on();
  cr_assert_eq(pthread_create(&th, NULL, append_after_what_it_knows_thread, &la), 0);
  for (int i = 0; i < 500 && !waiting_on_locks(); i++) usleep(10000);
  cr_assert_eq(waiting_on_locks(), 1, "the append waits for the truncation");
  admin_sql("COMMIT");
  pthread_join(th, NULL);
  cr_assert_eq(la.rc, STORE_ECONFLICT, "%s", msg(la.err));
  HAS(msg(la.err), "conflict: stream \"a\" was changed");
  assert_stream("a", 5, 0, "after the truncation");
  cr_assert_eq(admin_count("SELECT count(*) FROM \"%s\".events", schema), 0, "no event under the first seq");
  put_events(a, "a", 6, 6); /* the host runs it again */
  assert_stream("a", 6, 1, "after running it again");
  close_store(a);
  close_store(b);
}

/* The committed forms of the same races, from another handle: appends and
 * a truncation through them (the floor moved past the seq), and a
 * truncation alone (the first seq moved): the lone append conflicts, and
 * once more after learning the stream it succeeds. */
Test(pg, a_lone_append_after_a_truncation_elsewhere_conflicts) {
  store *a = open_url(url, NULL), *b = open_url(url, NULL);
  lone_append la = {.s = a};
  a_knows_4_b_made_5(a, b, &la.in);
  sx_val err = SX_NIL;
  cr_assert_eq(store_truncate(b, str("a"), 5, &err), 0);
  cr_assert_eq(store_commit(b, &err), 0, "%s", msg(err));
  append_after_what_it_knows(&la);
  cr_assert_eq(la.rc, STORE_ECONFLICT, "the floor moved past seq 5: %s", msg(la.err));
  assert_stream("a", 5, 0, "after the conflict");
  put_events(a, "a", 6, 6);
  la.in = store_clock(a);
  put_events(a, "a", 7, 7); /* a knows 7 after la.in */
  cr_assert_eq(store_truncate(b, str("a"), 6, &err), 0);
  cr_assert_eq(store_commit(b, &err), 0, "%s", msg(err));
  store_txn *t = store_txn_begin(a);
  store_txn_since(t, la.in);
  uint64_t ticket;
  cr_assert_eq(store_txn_append(t, str("a"), ev(8, "x"), &err), 0);
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_ECONFLICT, "the first seq moved: %s", msg(err));
  put_events(a, "a", 8, 8);
  assert_stream("a", 8, 2, "seqs 7 and 8 after the second truncation");
  close_store(a);
  close_store(b);
}

/* Write skew: each evaluation appends to one stream only if the other
 * still has one event. Serially only one of the two can; run together
 * (both read before either commits), they must not both succeed — the
 * append of an evaluation that read another stream is not lone, and
 * locks its stream's row. */
typedef struct {
  store *s;
  const char *mine, *other;
  pthread_barrier_t *bar;
  int rc;
} skew;

static void *append_if_other_untouched(void *arg);
static void *append_if_other_untouched_thread(void *arg) { return gc_thread(append_if_other_untouched, arg); }
static void *append_if_other_untouched(void *arg) {
  skew *k = arg;
  store_txn *t = store_txn_begin(k->s);
  int64_t other = store_txn_last_seq(t, str(k->other)), mine = store_txn_last_seq(t, str(k->mine));
  pthread_barrier_wait(k->bar);
  sx_val err = SX_NIL;
  uint64_t ticket;
  k->rc = -9;
  if (other == 1 && store_txn_append(t, str(k->mine), ev(mine + 1, "x"), &err) == 0)
    k->rc = store_txn_commit(t, &ticket, &err);
  else store_txn_abort(t);
  return NULL;
}

Test(pg, two_evaluations_each_reading_what_the_other_appends_to_never_both_commit) {
  store *a = open_url(url, NULL), *b = open_url(url, NULL);
  int won = 0;
  gc_threads_on();
  for (int round = 0; round < 20; round++) {
    char x[16], y[16];
    snprintf(x, sizeof x, "x%d", round);
    snprintf(y, sizeof y, "y%d", round);
    put_events(a, x, 1, 1);
    put_events(a, y, 1, 1);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    skew k1 = {a, x, y, &bar, 0}, k2 = {b, y, x, &bar, 0};
    pthread_t t1, t2;
    cr_assert_eq(pthread_create(&t1, NULL, append_if_other_untouched_thread, &k1), 0);
    cr_assert_eq(pthread_create(&t2, NULL, append_if_other_untouched_thread, &k2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&bar);
    cr_assert(!(k1.rc == 0 && k2.rc == 0), "round %d: both committed (write skew)", round);
    cr_assert(k1.rc == 0 || k1.rc == STORE_ECONFLICT, "round %d: %d", round, k1.rc);
    cr_assert(k2.rc == 0 || k2.rc == STORE_ECONFLICT, "round %d: %d", round, k2.rc);
    won += (k1.rc == 0) + (k2.rc == 0);
    store *f = open_url(url, NULL);
    cr_assert_eq(store_last_seq(f, str(x)) + store_last_seq(f, str(y)), 2 + (k1.rc == 0) + (k2.rc == 0));
    close_store(f);
  }
  cr_assert_gt(won, 0, "some evaluation got through");
  close_store(a);
  close_store(b);
}

/* A version 1 schema (the mark in column hwm; one stream's first seq
 * pushed past events appended after a truncation past the mark, as
 * version 1 sx did) is upgraded on open: the column becomes the floor,
 * the hidden events come back, the version row says 2, the check is
 * clean, and appends go on. */
Test(pg, a_version_1_schema_is_upgraded_on_open) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 3);
  put_events(s, "b", 1, 2);
  close_store(s);
  admin_sql("ALTER TABLE \"%s\".streams RENAME COLUMN hwm_floor TO hwm", schema);
  admin_sql("UPDATE \"%s\".streams s SET hwm = (SELECT max(seq) FROM \"%s\".events WHERE stream = s.name)",
            schema, schema);
  admin_sql("DELETE FROM \"%s\".events WHERE stream = '\\x62' AND seq = 1", schema);
  admin_sql("UPDATE \"%s\".streams SET first_seq = 11 WHERE name = '\\x62'", schema);
  admin_sql("UPDATE \"%s\".meta SET value = '1' WHERE key = 'schema_version'", schema);
  assert_stream("a", 3, 3, "after the upgrade");
  assert_stream("b", 2, 1, "the event hidden by version 1 is back");
  cr_assert_eq(admin_count("SELECT value::int FROM \"%s\".meta WHERE key = 'schema_version'", schema), 2);
  sx_buf report;
  cr_assert_eq(check_report(&report), 0, "%s", report.data);
  sx_buf_free(&report);
  s = open_url(url, NULL);
  put_events(s, "b", 3, 3);
  close_store(s);
  assert_stream("b", 3, 2, "appending on after the upgrade");
}

typedef struct {
  store *s;
  int rc;
  sx_val err;
} truncation;

static void *truncate_a_through_2(void *arg) {
  truncation *tr = arg;
  tr->err = SX_NIL;
  tr->rc = store_truncate(tr->s, str("a"), 2, &tr->err);
  if (tr->rc == 0) tr->rc = store_commit(tr->s, &tr->err);
  return NULL;
}
static void *truncate_a_through_2_thread(void *arg) { return gc_thread(truncate_a_through_2, arg); }

/* The other half: a truncation waits for every event insert in flight
 * (here another session's, of another stream, not yet committed) before it
 * deletes anything. */
Test(pg, a_truncation_waits_for_event_inserts_in_flight) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 3);
  admin_sql("BEGIN");
  admin_sql("INSERT INTO \"%s\".events VALUES ('\\x7a', 1, '\\x00')", schema);
  truncation tr = {.s = s};
  pthread_t th;
  gc_threads_on();
  cr_assert_eq(pthread_create(&th, NULL, truncate_a_through_2_thread, &tr), 0);
  for (int i = 0; i < 500 && !waiting_on_locks(); i++) usleep(10000);
  cr_assert_eq(waiting_on_locks(), 1, "the truncation waits for the insert in flight");
  admin_sql("ROLLBACK");
  pthread_join(th, NULL);
  cr_assert_eq(tr.rc, 0, "%s", msg(tr.err));
  assert_stream("a", 3, 1, "after the truncation");
  close_store(s);
}

/* ---- one handle, many threads ----------------------------------------------------------- */

typedef struct {
  store *s;
  int who, acked;
  int64_t before; /* its stream's last seq before */
} pool_worker;

/* Append to its own stream, read it back, and add one to a shared key,
 * again on conflict: 40 rounds. */
static void *pool_work(void *arg) {
  pool_worker *w = arg;
  char own[16];
  snprintf(own, sizeof own, "own%d", w->who);
  for (int i = 0; i < 40; i++) {
    for (;;) {
      store_txn *t = store_txn_begin(w->s);
      sx_val err = SX_NIL;
      int64_t last = store_txn_last_seq(t, str(own));
      sx_val n = store_txn_kv_get(t, str("shared"));
      int64_t count = sx_is_int(n) ? sx_int_val(n) : 0;
      uint64_t ticket;
      int rc = store_txn_append(t, str(own), ev(last + 1, "w"), &err);
      if (!rc) rc = store_txn_kv_put(t, str("shared"), sx_int(count + 1), &err);
      if (!rc) rc = store_txn_commit(t, &ticket, &err);
      else store_txn_abort(t);
      if (rc == STORE_ECONFLICT) continue;
      cr_assert_eq(rc, 0, "worker %d: %s", w->who, msg(err));
      w->acked++;
      break;
    }
    cr_assert_eq(len_of(store_read(w->s, str(own))), (size_t)(w->before + w->acked), "its own stream, read back");
  }
  return NULL;
}
static void *pool_work_thread(void *arg) { return gc_thread(pool_work, arg); }

/* n threads (at most 8) run pool_work on the handle the URL u opens; each
 * stream holds its appends and the shared key every increment after.
 * Returns how many pool connections the handle made. */
static int run_pool_workers(const char *u, int n) {
  store *s = open_url(u, NULL);
  pool_worker w[8];
  pthread_t th[8];
  int64_t before[8];
  for (int i = 0; i < n; i++) {
    char own[16];
    snprintf(own, sizeof own, "own%d", i);
    before[i] = store_last_seq(s, str(own));
  }
  sx_val was = store_kv_get(s, str("shared"));
  int64_t shared = sx_is_int(was) ? sx_int_val(was) : 0;
  gc_threads_on();
  for (int i = 0; i < n; i++) {
    w[i] = (pool_worker){.s = s, .who = i, .before = before[i]};
    cr_assert_eq(pthread_create(&th[i], NULL, pool_work_thread, &w[i]), 0);
  }
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  int made = ((pgstore *)s)->pool_made;
  close_store(s);
  int total = 0;
  for (int i = 0; i < n; i++) {
    char own[16];
    snprintf(own, sizeof own, "own%d", i);
    int64_t last = before[i] + w[i].acked;
    assert_stream(own, last, (size_t)last, "after the threads");
    total += w[i].acked;
  }
  s = open_url(url, NULL);
  cr_assert(sx_equal(store_kv_get(s, str("shared")), sx_int(shared + total)), "every increment is there");
  close_store(s);
  return made;
}

/* Eight threads on one handle read and commit at once: requests that find
 * the main connection busy go to the pool's, and nothing is lost or
 * doubled: each stream holds its appends, the shared key every increment. */
Test(pg, one_handle_serves_many_threads_through_its_pool) {
  cr_assert_gt(run_pool_workers(url, 8), 0, "some requests went to the pool");
}

/* sx_pool=N bounds the pool; 0 makes every request wait for the main
 * connection, and the threads' work is just as exact. */
Test(pg, sx_pool_bounds_the_pool) {
  char u[900];
  snprintf(u, sizeof u, "%s&sx_pool=0", url);
  cr_assert_eq(run_pool_workers(u, 4), 0, "no pool connection");
  snprintf(u, sizeof u, "%s&sx_pool=1", url);
  cr_assert_leq(run_pool_workers(u, 4), 1, "at most one");
}

Test(pg, a_bad_sx_pool_is_refused_naming_it) {
  const char *bad[] = {"abc", "-1", "65", "", "3x", " 2"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char u[900];
    snprintf(u, sizeof u, "%s&sx_pool=%s", url, bad[i]);
    store *s = NULL;
    sx_val err = SX_NIL;
    cr_assert_eq(store_open(u, NULL, &s, &err), STORE_EFAIL, "sx_pool=%s", bad[i]);
    HAS(msg(err), "sx_pool must be a number of connections from 0 to 64, got");
  }
}

/* The read leaves ordering to the client: rows that come back out of seq
 * order (an updated row moves to the end of the heap) are still read in
 * seq order. */
Test(pg, a_read_puts_rows_in_seq_order) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 5);
  close_store(s);
  admin_sql("UPDATE \"%s\".events SET value = value WHERE seq IN (2, 4)", schema);
  admin_sql("ANALYZE \"%s\".events", schema);
  s = open_url(url, NULL);
  sx_val l = store_read(s, str("a"));
  cr_assert_eq(len_of(l), 5);
  int64_t want = 1;
  for (; sx_is_cons(l); l = sx_cdr(l), want++)
    cr_assert(sx_equal(sx_dict_lookup(sx_car(l), str("seq")), sx_int(want)), "seq %lld in its place",
              (long long)want);
  close_store(s);
}

/* ---- long reads, in chunks (pgstore_read.c) ------------------------------------------------ */

/* The store's URL reading `chunk` events per query. */
static const char *chunked_url(int chunk) {
  static char u[900];
  snprintf(u, sizeof u, "%s&sx_read_chunk=%d", url, chunk);
  return u;
}

/* The events of list are seqs from..to, in order. */
static void assert_seqs(sx_val list, int64_t from, int64_t to, const char *when) {
  cr_assert(sx_is_list(list), "%s: %s", when, msg(list));
  cr_assert_eq(len_of(list), (size_t)(to - from + 1), "%s: %zu events", when, len_of(list));
  int64_t want = from;
  for (; sx_is_cons(list); list = sx_cdr(list), want++)
    cr_assert(sx_equal(sx_dict_lookup(sx_car(list), str("seq")), sx_int(want)), "%s: seq %lld in its place", when,
              (long long)want);
}

/* Streams of 0 to 14 events read 3 at a time, so the first query, whole
 * chunks, a short last chunk and more chunks than are sent at once all
 * happen; then a cached stream read on after more appends, and streams
 * truncated short of and past the first query's window. */
Test(pg, a_long_read_comes_in_chunks_whole_and_in_order) {
  store *w = open_url(url, NULL), *r = open_url(chunked_url(3), NULL);
  char name[16];
  for (int n = 1; n <= 14; n++) snprintf(name, sizeof name, "s%d", n), put_events(w, name, 1, n);
  for (int n = 0; n <= 14; n++) {
    snprintf(name, sizeof name, "s%d", n);
    assert_seqs(store_read(r, str(name)), 1, n, name);
  }
  put_events(w, "s14", 15, 27); /* r holds 1..14 */
  assert_seqs(store_read(r, str("s14")), 1, 27, "after more appends");
  sx_val err = SX_NIL;
  cr_assert_eq(store_truncate(w, str("s13"), 4, &err), 0, "%s", msg(err));
  cr_assert_eq(store_truncate(w, str("s12"), 10, &err), 0, "%s", msg(err));
  cr_assert_eq(store_commit(w, &err), 0, "%s", msg(err));
  store *fresh = open_url(chunked_url(3), NULL);
  assert_seqs(store_read(fresh, str("s13")), 5, 13, "truncated within the first window");
  assert_seqs(store_read(fresh, str("s12")), 11, 12, "truncated past the first window");
  assert_seqs(store_read(r, str("s13")), 5, 13, "truncated under a cache");
  close_store(fresh);
  close_store(r);
  close_store(w);
}

static int between_calls;
static void truncate_between(pgstore *s) {
  (void)s;
  between_calls++;
  admin_sql("DELETE FROM \"%s\".events WHERE stream = '\\x61' AND seq <= 5", schema);
  admin_sql("UPDATE \"%s\".streams SET first_seq = 6 WHERE name = '\\x61'", schema);
}

/* A truncation committed after the first query takes rows from a chunk:
 * the read notices and reads the stream again in one statement, so it
 * never returns a stream with a hole. */
Test(pg, a_truncation_between_the_chunks_is_read_again_whole) {
  store *w = open_url(url, NULL), *r = open_url(chunked_url(3), NULL);
  put_events(w, "a", 1, 20);
  pg_read_between = truncate_between;
  sx_val got = store_read(r, str("a"));
  pg_read_between = NULL;
  cr_assert_eq(between_calls, 1);
  assert_seqs(got, 6, 20, "after the truncation in between");
  assert_seqs(store_read(r, str("a")), 6, 20, "from the cache");
  close_store(r);
  close_store(w);
}

static void cut_between(pgstore *s) {
  (void)s;
  between_calls++;
  cut_connection();
}

/* The connection cut after the first query: the read fails naming it
 * (before the chunk query is prepared, and once it is), and the next one
 * reconnects and reads everything. */
Test(pg, a_connection_cut_between_the_chunks) {
  char wurl[900]; /* the writer's connection is not the one cut */
  snprintf(wurl, sizeof wurl, "%s&sx_schema=%s&application_name=sxwriter", base_url, schema);
  store *w = open_url(wurl, NULL);
  put_events(w, "a", 1, 20);
  int64_t last = 20;
  for (int prepared = 0; prepared < 2; prepared++) {
    store *r = open_url(chunked_url(3), NULL);
    if (prepared) assert_seqs(store_read(r, str("a")), 1, last, "a read that prepares the chunk query");
    put_events(w, "a", (int)last + 1, (int)last + 10); /* so that r reads past its cache */
    last += 10;
    pg_read_between = cut_between;
    sx_val got = store_read(r, str("a"));
    pg_read_between = NULL;
    cr_assert(sx_is(got, SX_T_ERROR), "a read over a cut connection fails");
    HAS(msg(got), "connection");
    assert_seqs(store_read(r, str("a")), 1, last, "the next read");
    close_store(r);
  }
  close_store(w);
}

/* A value that does not decode, in the first query's events or in a
 * later chunk, fails the read with the store's error; the chunks in
 * flight are read off all the same, so the connection serves the next
 * read. */
Test(pg, a_damaged_value_in_a_long_read) {
  store *w = open_url(url, NULL), *r = open_url(chunked_url(3), NULL);
  const int64_t damaged[] = {2, 8}; /* in the first query's window; in a chunk */
  put_events(w, "b", 1, 2);
  for (int i = 0; i < 2; i++) {
    char name[8];
    snprintf(name, sizeof name, "a%d", i);
    put_events(w, name, 1, 20);
    admin_sql("UPDATE \"%s\".events SET value = '\\x99' WHERE stream = '\\x613%d' AND seq = %lld", schema, i,
              (long long)damaged[i]);
  }
  for (int i = 0; i < 2; i++) {
    char name[8];
    snprintf(name, sizeof name, "a%d", i);
    sx_val got = store_read(r, str(name));
    cr_assert(sx_is(got, SX_T_ERROR), "seq %lld: the damaged value is not served", (long long)damaged[i]);
    HAS(msg(got), "does not decode");
    assert_seqs(store_read(r, str("b")), 1, 2, "the next read");
  }
  close_store(r);
  close_store(w);
}

/* sx store check reads through cursors a batch at a time (sx_read_chunk
 * rows of events and kv, 16 blobs): damage past the first batch of each
 * is found, and every damaged value is reported. */
Test(pg, check_reads_in_batches) {
  store *s = open_url(url, NULL);
  put_events(s, "a", 1, 20);
  sx_val err = SX_NIL, cid = SX_NIL;
  for (int i = 0; i < 10; i++) {
    char k[8];
    snprintf(k, sizeof k, "k%d", i);
    cr_assert_eq(store_kv_put(s, str(k), sx_int(i), &err), 0, "%s", msg(err));
  }
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  for (int i = 0; i < 20; i++) {
    char b[16];
    int n = snprintf(b, sizeof b, "blob %d", i);
    cr_assert_eq(store_blob_put(s, b, (size_t)n, &cid, &err), 0, "%s", msg(err));
  }
  close_store(s);
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(chunked_url(3), &report), 0, "%.*s", (int)report.len, report.data);
  sx_buf_free(&report);
  admin_sql("UPDATE \"%s\".events SET value = '\\x99' WHERE seq IN (17, 19)", schema);
  admin_sql("UPDATE \"%s\".kv SET value = '\\x99' WHERE key = '\\x6b39'", schema); /* k9 */
  admin_sql("UPDATE \"%s\".blobs SET bytes = 'x' WHERE cid = (SELECT cid FROM \"%s\".blobs ORDER BY cid"
            " OFFSET 18 LIMIT 1)",
            schema, schema);
  report = (sx_buf)SX_BUF_INIT;
  cr_assert_eq(store_check(chunked_url(3), &report), 1);
  sx_buf_putc(&report, '\0');
  const char *p = report.data;
  int events = 0;
  while ((p = strstr(p, "a stored event does not decode"))) events++, p++;
  cr_assert_eq(events, 2, "both damaged events reported: %s", report.data);
  HAS(report.data, "a kv value does not decode: damaged");
  HAS(report.data, "a blob does not hash to its id: damaged");
  HAS(report.data, "1 streams, 20 events, 10 kv keys, NOT ok");
  sx_buf_free(&report);
}

/* A read-only open (the check, dump and tail tools, a --read-only REPL)
 * of a schema that holds no store fails naming it and creates nothing,
 * as for a directory that holds no store; once a writer has opened it,
 * read-only opens work. */
Test(pg, a_read_only_open_of_a_schema_without_a_store) {
  store_opts ro = {.read_only = true};
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_neq(store_open(url, &ro, &s, &err), 0, "a read-only open of nothing succeeded");
  HAS(msg(err), "there is no store in schema");
  HAS(msg(err), schema);
  cr_assert_eq(admin_count("SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", schema), 0,
               "the schema was not created");
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(url, &report), -1);
  sx_buf_free(&report);
  store *w = open_url(url, NULL);
  close_store(w);
  s = open_url(url, &ro);
  cr_assert_eq(len_of(store_read(s, str("a"))), 0);
  close_store(s);
}

Test(pg, a_bad_sx_read_chunk_is_refused_naming_it) {
  const char *bad[] = {"0", "x", "1000001", "-3", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char u[900];
    snprintf(u, sizeof u, "%s&sx_read_chunk=%s", url, bad[i]);
    store *s = NULL;
    sx_val err = SX_NIL;
    cr_assert_neq(store_open(u, NULL, &s, &err), 0, "sx_read_chunk=%s", bad[i]);
    HAS(msg(err), "sx_read_chunk must be a number of events from 1 to 1000000, got");
  }
}

/* ---- a database restart (run alone: test_pgstore_restart) ------------------------------- */

static void restart_cluster(void) {
  const char *dir = getenv("SX_TEST_PG_DIR");
  cr_assert(dir && *dir, "a restart needs SX_TEST_PG_DIR");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s/tests/pg_cluster.sh' restart '%s'", SX_SOURCE_ROOT, dir);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Append the next event to "a" and commit: 0 or the error's code. */
static int append_next_a(store *s, sx_val *err) {
  *err = SX_NIL;
  int rc = store_append(s, str("a"), ev(store_last_seq(s, str("a")) + 1, "x"), err);
  return rc ? rc : store_commit(s, err);
}

/* After a restart, every idle connection of the handle is dead, the main
 * one and the pool's. The first request to find its connection gone fails
 * with a clear error; no later one does, on any connection: one loss
 * makes every connection made before it reconnect at its next use. */
Test(pg, after_a_restart_only_the_first_request_fails_whatever_its_connection) {
  if (!getenv("SX_TEST_PG_RESTART")) cr_skip_test("restarts the cluster: run by test_pgstore_restart");
  pgstore *p;
  store *s = open_url(url, NULL);
  p = (pgstore *)s;
  sx_val err;
  cr_assert_eq(append_next_a(s, &err), 0, "%s", msg(err)); /* on the main connection */
  pthread_mutex_lock(&p->conn_mu);                       /* main busy: the pool's first */
  cr_assert_eq(append_next_a(s, &err), 0, "%s", msg(err));
  pthread_mutex_unlock(&p->conn_mu);
  cr_assert_eq(p->pool_made, 1, "one pool connection was made");
  restart_cluster();
  int failed = 0;
  for (int i = 0; i < 4; i++) { /* main, pool, main, pool */
    if (i % 2) pthread_mutex_lock(&p->conn_mu);
    int rc = append_next_a(s, &err);
    if (i % 2) pthread_mutex_unlock(&p->conn_mu);
    if (rc) {
      HAS(msg(err), "connection");
      failed++;
      cr_assert_eq(i, 0, "only the first request after the restart may fail: request %d: %s", i, msg(err));
    }
  }
  cr_assert_leq(failed, 1);
  assert_stream("a", 2 + 4 - failed, (size_t)(2 + 4 - failed), "after the restart");
  close_store(s);
}
