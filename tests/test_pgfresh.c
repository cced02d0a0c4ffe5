/* test_pgfresh.c — when a PostgreSQL store handle may answer from what it
 * learnt instead of asking the database (pgstore_cache.c, "freshness"), on
 * the cluster SX_TEST_PG names, a fresh schema per test.
 *
 * Two handles on one schema stand for two processes. A transaction begun
 * with store_txn_since(t, c) evaluates a request that was in at clock c:
 * it must see every commit that finished before c (from any handle), may
 * miss one that finished after (its commit then fails with a conflict,
 * storing nothing), and needs no round trip for what its handle learnt
 * after c. Round trips are counted by store_get_stats. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "sx_dict.h"

static char url[768];

static void setup(void) {
  sx_gc_init();
  const char *u = getenv("SX_TEST_PG");
  cr_assert(u && *u, "test_pgfresh needs SX_TEST_PG (a PostgreSQL URL: tests/pg_cluster.sh start DIR)");
  snprintf(url, sizeof url, "%s&sx_schema=pgfresh_%ld", u, (long)getpid()); /* a process per test */
}

TestSuite(pgfresh, .init = setup, .timeout = 120);

/* ---- helpers ---------------------------------------------------------------------- */

static sx_val str(const char *s) { return sx_string_cstr(s); }

static const char *msg(sx_val e) {
  if (sx_is(e, SX_T_ERROR)) e = ((sx_error *)e)->message;
  return sx_is_string(e) ? sx_str_data(e) : "(no message)";
}

static store *open_url(void) {
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(url, NULL, &s, &err), 0, "open: %s", msg(err));
  return s;
}

static uint64_t round_trips(store *s) {
  store_stats st;
  store_get_stats(s, &st);
  return st.round_trips;
}

static sx_val ev(int64_t seq) { return sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq)); }

/* A transaction for a request that was in at clock since (0: none given). */
static store_txn *txn(store *s, uint64_t since, bool given) {
  store_txn *t = store_txn_begin(s);
  if (given) store_txn_since(t, since);
  return t;
}

/* Append the next event to stream in t and commit: 0, or the error's code
 * with *err set. */
static int append_next(store_txn *t, const char *stream, sx_val *err) {
  int64_t last = store_txn_last_seq(t, str(stream));
  cr_assert_eq(store_txn_append(t, str(stream), ev(last + 1), err), 0, "%s", msg(*err));
  uint64_t ticket;
  return store_txn_commit(t, &ticket, err);
}

static void append_ok(store *s, const char *stream) {
  sx_val err = SX_NIL;
  cr_assert_eq(append_next(txn(s, 0, false), stream, &err), 0, "append: %s", msg(err));
}

static void put_ok(store *s, const char *key, int64_t v) {
  store_txn *t = txn(s, 0, false);
  sx_val err = SX_NIL;
  uint64_t ticket;
  cr_assert_eq(store_txn_kv_put(t, str(key), sx_int(v), &err), 0, "%s", msg(err));
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "put: %s", msg(err));
}

static int64_t last_seq_fresh(const char *stream) {
  store *s = open_url();
  int64_t n = store_last_seq(s, str(stream));
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(s, &err), 0);
  return n;
}

/* ---- streams ---------------------------------------------------------------------- */

Test(pgfresh, requests_in_early_append_with_one_round_trip_each) {
  store *a = open_url(), *b = open_url();
  append_ok(a, "s");
  uint64_t in = store_clock(a), before = round_trips(a);
  for (int i = 0; i < 5; i++) {
    sx_val err = SX_NIL;
    cr_assert_eq(append_next(txn(a, in, true), "s", &err), 0, "append %d: %s", i, msg(err));
  }
  uint64_t used = round_trips(a) - before;
  /* the first asks for the mark (nothing was learnt after the request was
   * in); each commit tells the next the mark it made */
  cr_assert_eq(used, 6, "a read, then one commit each: %llu round trips", (unsigned long long)used);
  cr_assert_eq(last_seq_fresh("s"), 6);
  cr_assert_eq(store_last_seq(b, str("s")), 6, "another handle sees every event");
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(a, &err), 0);
  cr_assert_eq(store_close(b, &err), 0);
}

Test(pgfresh, a_new_streams_first_commit_tells_the_next_request_its_mark) {
  store *a = open_url();
  append_ok(a, "other"); /* prepares the read of a mark (a round trip of its own) */
  uint64_t in = store_clock(a), before = round_trips(a);
  sx_val err = SX_NIL;
  cr_assert_eq(append_next(txn(a, in, true), "new", &err), 0, "%s", msg(err)); /* asks: absent */
  cr_assert_eq(append_next(txn(a, in, true), "new", &err), 0, "%s", msg(err));
  uint64_t used = round_trips(a) - before;
  cr_assert_eq(used, 3, "a read and two commits: %llu", (unsigned long long)used);
  cr_assert_eq(last_seq_fresh("new"), 2);
  cr_assert_eq(store_close(a, &err), 0);
}

Test(pgfresh, without_a_note_every_evaluation_asks) {
  store *a = open_url();
  append_ok(a, "s");
  uint64_t before = round_trips(a);
  for (int i = 0; i < 3; i++) append_ok(a, "s");
  uint64_t used = round_trips(a) - before;
  cr_assert_eq(used, 6, "a read and a commit each: %llu", (unsigned long long)used);
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(a, &err), 0);
}

Test(pgfresh, a_commit_that_finished_before_the_request_is_always_seen) {
  store *a = open_url(), *b = open_url();
  append_ok(a, "s");
  append_ok(a, "s"); /* a learns the mark it made: 2 */
  append_ok(b, "s"); /* finished before the request below was in */
  uint64_t in = store_clock(a);
  store_txn *t = txn(a, in, true);
  cr_assert_eq(store_txn_last_seq(t, str("s")), 3, "b's commit finished before the request: it must be seen");
  store_txn_abort(t);
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(a, &err), 0);
  cr_assert_eq(store_close(b, &err), 0);
}

Test(pgfresh, a_commit_after_the_request_may_be_missed_and_then_conflicts) {
  store *a = open_url(), *b = open_url();
  append_ok(a, "s");
  uint64_t in = store_clock(a);
  append_ok(a, "s"); /* a learns the mark it made, after the request was in */
  append_ok(b, "s"); /* finished after the request was in: a may not know it */
  uint64_t before = round_trips(a);
  store_txn *t = txn(a, in, true);
  cr_assert_eq(store_txn_last_seq(t, str("s")), 2, "answered from what a learnt after the request was in");
  cr_assert_eq(round_trips(a), before, "without asking");
  sx_val err = SX_NIL;
  uint64_t ticket;
  cr_assert_eq(store_txn_append(t, str("s"), ev(3), &err), 0);
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_ECONFLICT, "must conflict: %s", msg(err));
  cr_assert(strstr(msg(err), "conflict: stream \"s\""), "%s", msg(err));
  cr_assert_eq(last_seq_fresh("s"), 3, "nothing of the conflicting commit stored, b's kept");
  /* the conflict made a forget: the same request asks again and succeeds */
  err = SX_NIL;
  cr_assert_eq(append_next(txn(a, in, true), "s", &err), 0, "retry: %s", msg(err));
  cr_assert_eq(last_seq_fresh("s"), 4);
  cr_assert_eq(store_close(a, &err), 0);
  cr_assert_eq(store_close(b, &err), 0);
}

Test(pgfresh, a_failed_commit_forgets_what_it_only_read) {
  store *a = open_url(), *b = open_url();
  append_ok(a, "x");
  append_ok(a, "y");
  uint64_t in = store_clock(a);
  append_ok(a, "x"); /* a learns x's mark, 2, after the request was in */
  append_ok(b, "x"); /* 3, unknown to a */
  for (int attempt = 0; attempt < 2; attempt++) {
    store_txn *t = txn(a, in, true); /* reads x, appends to y */
    int64_t x = store_txn_last_seq(t, str("x"));
    sx_val err = SX_NIL;
    uint64_t ticket;
    cr_assert_eq(store_txn_append(t, str("y"), ev(store_txn_last_seq(t, str("y")) + 1), &err), 0);
    int rc = store_txn_commit(t, &ticket, &err);
    if (attempt == 0) {
      cr_assert_eq(x, 2, "the mark a learnt");
      cr_assert_eq(rc, STORE_ECONFLICT, "x changed since: %s", msg(err));
    } else {
      cr_assert_eq(x, 3, "the failed commit made a ask again");
      cr_assert_eq(rc, 0, "%s", msg(err));
    }
  }
  cr_assert_eq(last_seq_fresh("y"), 2);
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(a, &err), 0);
  cr_assert_eq(store_close(b, &err), 0);
}

Test(pgfresh, a_truncation_elsewhere_is_seen_by_a_later_request) {
  store *a = open_url(), *b = open_url();
  for (int i = 0; i < 3; i++) append_ok(a, "s");
  cr_assert_eq(sx_list_length(store_read(a, str("s"))), 3);
  sx_val err = SX_NIL;
  cr_assert_eq(store_truncate(b, str("s"), 2, &err), 0, "%s", msg(err));
  cr_assert_eq(store_commit(b, &err), 0, "%s", msg(err));
  store_txn *t = txn(a, store_clock(a), true);
  sx_val l = store_txn_read(t, str("s"));
  cr_assert_eq(sx_list_length(l), 1, "the truncation finished before the request");
  store_txn_abort(t);
  cr_assert_eq(store_close(a, &err), 0);
  cr_assert_eq(store_close(b, &err), 0);
}

Test(pgfresh, a_read_of_a_whole_cached_stream_needs_no_round_trip) {
  store *a = open_url();
  for (int i = 0; i < 4; i++) append_ok(a, "s");
  store_txn *t = txn(a, 0, false);
  sx_val first = store_txn_read(t, str("s"));
  cr_assert_eq(sx_list_length(first), 4);
  store_txn_abort(t);
  uint64_t in = store_clock(a); /* the read above was answered before this */
  t = txn(a, in, true);
  uint64_t before = round_trips(a);
  cr_assert_eq(sx_list_length(store_txn_read(t, str("s"))), 4);
  cr_assert_eq(round_trips(a), before + 1, "learnt before the request was in: asked again");
  store_txn_abort(t);
  t = txn(a, in, true);
  before = round_trips(a);
  sx_val again = store_txn_read(t, str("s"));
  cr_assert_eq(round_trips(a), before, "learnt after the request was in: no round trip");
  cr_assert_eq(sx_list_length(again), 4);
  cr_assert_eq(store_txn_last_seq(t, str("s")), 4);
  store_txn_abort(t);
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(a, &err), 0);
}

/* ---- keys --------------------------------------------------------------------------- */

Test(pgfresh, kv_reads_follow_the_same_rule) {
  store *a = open_url(), *b = open_url();
  put_ok(a, "k", 1);
  uint64_t in = store_clock(a);
  cr_assert_eq(store_kv_get(a, str("k")), sx_int(1)); /* learnt after the request was in */
  put_ok(b, "k", 2);                                  /* finished after the request was in */
  store_txn *t = txn(a, in, true);
  uint64_t before = round_trips(a);
  cr_assert_eq(store_txn_kv_get(t, str("k")), sx_int(1), "what a learnt after the request was in");
  cr_assert_eq(round_trips(a), before);
  sx_val err = SX_NIL;
  uint64_t ticket;
  cr_assert_eq(store_txn_kv_put(t, str("k"), sx_int(10), &err), 0);
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_ECONFLICT, "a lost update must conflict: %s",
               msg(err));
  t = txn(a, store_clock(a), true); /* a request in after b's put */
  cr_assert_eq(store_txn_kv_get(t, str("k")), sx_int(2), "b's put finished before the request");
  store_txn_abort(t);
  cr_assert_eq(store_close(a, &err), 0);
  cr_assert_eq(store_close(b, &err), 0);
}

Test(pgfresh, a_handles_own_commit_is_not_answered_from_before_it) {
  /* Not required (the put finished after the request was in), but an
   * answer from before it could only lead to a conflict. */
  store *a = open_url();
  put_ok(a, "k", 1);
  uint64_t in = store_clock(a);
  cr_assert_eq(store_kv_get(a, str("k")), sx_int(1)); /* learnt after the request was in */
  put_ok(a, "k", 2);
  store_txn *t = txn(a, in, true);
  cr_assert_eq(store_txn_kv_get(t, str("k")), sx_int(2), "the handle forgot what its own commit changed");
  store_txn_abort(t);
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(a, &err), 0);
}
