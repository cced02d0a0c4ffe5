/* test_api_txn.c — per-evaluation transactions through the public header:
 * suspended tasks of one VM keep their writes to themselves, a failed or
 * abandoned task drops only its own, racing commits get
 * SXAPI_ERR_CONFLICT and store nothing, reads are isolated, persist/commit
 * still commits early, asynchronous commits report SXAPI_SYNCING
 * until durable, a flush beside an open transaction writes only what was
 * committed, and every op refuses one argument too few and one too many.
 * The scenarios run the unchanged persist library, on the file store, or
 * with SX_TXN_PG=1 on the PostgreSQL cluster SX_TEST_PG names (a fresh
 * schema per test). The blob listing and sizes, which both stores serve
 * through the same handle calls, are checked here too. */
#include "sx_test_api.h"

#include <poll.h>

static char *dir;
static char store_path[600];

static const char *persist_prelude =
    "(load \"lib/persist/event.sx\") (load \"lib/persist/backend.sx\") (load \"lib/persist/log.sx\")"
    " (load \"lib/persist/kv.sx\") (load \"lib/persist/durable.sx\")"
    " (define db (persist/durable-backend))";

static sxapi_vm *open_on_store(void) {
  sxapi_vm *v = sxapi_open();
  cr_assert_not_null(v);
  CODE(sxapi_store_open(v, store_path, NULL), SXAPI_OK);
  CODE(sxapi_eval(v, persist_prelude, NULL), SXAPI_OK);
  return v;
}

static bool on_postgres(void) {
  const char *v = getenv("SX_TXN_PG");
  return v && *v == '1';
}

static void txn_setup(void) {
  dir = scratch_dir();
  snprintf(store_path, sizeof store_path, "%s/store", dir);
  if (on_postgres()) { /* each test runs in a process of its own */
    const char *url = getenv("SX_TEST_PG");
    cr_assert(url && *url, "SX_TXN_PG=1 needs SX_TEST_PG (a PostgreSQL URL)");
    snprintf(store_path, sizeof store_path, "%s&sx_schema=txn_%ld", url, (long)getpid());
  }
  vm = open_on_store();
}

static void txn_teardown(void) {
  api_teardown();
  scratch_remove(dir);
}

TestSuite(api_txn, .init = txn_setup, .fini = txn_teardown);

static sxapi_task *begin(const char *src, sxapi_code want) {
  sxapi_task *t = NULL;
  CODE(sxapi_begin(vm, src, strlen(src), "<task>", &t), want);
  return t;
}

/* The kv key as the store has it after reopening ("absent" if none). */
static const char *reopened_kv(const char *key) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store();
  sxapi_value v;
  if (sxapi_store_kv_get(vm, key, &v) == SXAPI_ERR_NOTFOUND) return "absent";
  return show(v);
}

Test(api_txn, a_failed_task_does_not_commit_through_another_tasks_finish) {
  /* task A writes, then suspends on a payment; task B writes and finishes;
   * A is resumed with "card declined" */
  sxapi_task *a = begin("(persist/kv-put db \"a\" 1) (perform {:op \"pay/charge\"}) :paid", SXAPI_SUSPENDED);
  sxapi_task *b = begin("(persist/kv-put db \"b\" 1) :done", SXAPI_OK);
  CODE(sxapi_resume_error(a, sxapi_cstring(vm, "card declined")), SXAPI_ERR_EVAL);
  MSG_HAS("card declined");
  sxapi_task_free(a);
  sxapi_task_free(b);
  cr_assert_str_eq(reopened_kv("a"), "absent");
  cr_assert_str_eq(reopened_kv("b"), "1");
}

Test(api_txn, abandoning_a_task_keeps_the_other_tasks_writes) {
  sxapi_task *a = begin("(persist/kv-put db \"a\" 1) (perform {:op \"ext/wait\"}) :a", SXAPI_SUSPENDED);
  sxapi_task *b = begin("(persist/kv-put db \"b\" 2) (perform {:op \"ext/wait\"}) :b", SXAPI_SUSPENDED);
  CODE(sxapi_task_free(a), SXAPI_OK); /* abandoned while b is suspended too */
  CODE(sxapi_resume(b, sxapi_nil()), SXAPI_OK);
  sxapi_task_free(b);
  cr_assert_str_eq(reopened_kv("a"), "absent");
  cr_assert_str_eq(reopened_kv("b"), "2");
}

Test(api_txn, a_task_reads_its_own_writes_but_not_another_unfinished_tasks) {
  sxapi_task *a =
      begin("(persist/kv-put db \"x\" :mine) (perform {:op \"ext/wait\"}) (persist/kv-get db \"x\")",
            SXAPI_SUSPENDED);
  EVAL_OK("(persist/kv-get db \"x\")", "nil"); /* another evaluation does not see it */
  CODE(sxapi_resume(a, sxapi_nil()), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(a)), "\"mine\"");
  sxapi_task_free(a);
  EVAL_OK("(persist/kv-get db \"x\")", "\"mine\"");
}

Test(api_txn, two_tasks_appending_to_one_stream_one_wins_the_other_conflicts) {
  const char *src = "(persist/append db \"orders\" \"placed\" 1 {:by %s}) (perform {:op \"ext/wait\"}) :ok";
  char s1[200], s2[200];
  snprintf(s1, sizeof s1, src, ":one");
  snprintf(s2, sizeof s2, src, ":two");
  sxapi_task *one = begin(s1, SXAPI_SUSPENDED);
  sxapi_task *two = begin(s2, SXAPI_SUSPENDED);
  CODE(sxapi_resume(one, sxapi_nil()), SXAPI_OK);
  CODE(sxapi_resume(two, sxapi_nil()), SXAPI_ERR_CONFLICT);
  MSG_HAS("conflict: stream \"orders\"");
  CODE(sxapi_task_status(two), SXAPI_ERR_CONFLICT);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, sxapi_task_result(two), &info), SXAPI_OK);
  cr_assert(strncmp(info.message, "conflict: ", 10) == 0, "%s", info.message);
  sxapi_task_free(one);
  sxapi_task_free(two);
  EVAL_OK("(map (fn (e) (get (persist/event-data e) :by)) (persist/read db \"orders\"))", "(\"one\")");
  /* run again, the loser now succeeds after the winner's event */
  sxapi_task *again = begin(s2, SXAPI_SUSPENDED);
  CODE(sxapi_resume(again, sxapi_nil()), SXAPI_OK);
  sxapi_task_free(again);
  EVAL_OK(
      "(map (fn (e) (list (persist/event-seq e) (get (persist/event-data e) :by))) (persist/read db \"orders\"))",
      "((1 \"one\") (2 \"two\"))");
}

Test(api_txn, a_read_modify_write_that_lost_a_race_conflicts) {
  EVAL_OK("(persist/kv-put db \"n\" 10)", "10");
  sxapi_task *inc = begin(
      "(define v (persist/kv-get db \"n\")) (perform {:op \"ext/wait\"}) (persist/kv-put db \"n\" (+ v 1))",
      SXAPI_SUSPENDED);
  EVAL_OK("(persist/kv-put db \"n\" 100)", "100"); /* committed meanwhile */
  CODE(sxapi_resume(inc, sxapi_nil()), SXAPI_ERR_CONFLICT);
  MSG_HAS("conflict: kv key \"n\"");
  sxapi_task_free(inc);
  EVAL_OK("(persist/kv-get db \"n\")", "100"); /* no lost update */
}

Test(api_txn, blind_writes_do_not_conflict) {
  sxapi_task *a = begin("(persist/kv-put db \"k\" :a) (perform {:op \"ext/wait\"}) :a", SXAPI_SUSPENDED);
  EVAL_OK("(persist/kv-put db \"k\" :b)", "\"b\"");
  CODE(sxapi_resume(a, sxapi_nil()), SXAPI_OK); /* read nothing: serializable after b */
  sxapi_task_free(a);
  EVAL_OK("(persist/kv-get db \"k\")", "\"a\"");
}

Test(api_txn, a_conflict_seen_by_a_later_read_fails_the_evaluation) {
  EVAL_OK("(persist/kv-put db \"p\" 1)", "1");
  sxapi_task *t = begin("(define a (persist/kv-get db \"p\")) (perform {:op \"ext/wait\"})"
                        " (define b (persist/kv-get db \"p\")) (list a b)",
                        SXAPI_SUSPENDED);
  EVAL_OK("(persist/kv-put db \"p\" 2)", "2");
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_ERR_CONFLICT);
  MSG_HAS("conflict: kv key \"p\"");
  sxapi_task_free(t);
}

Test(api_txn, a_read_only_evaluation_needs_only_a_consistent_moment) {
  EVAL_OK("(persist/kv-put db \"r\" 1)", "1");
  /* one read, then a commit changes it: the read was consistent when made */
  sxapi_task *t =
      begin("(define v (persist/kv-get db \"r\")) (perform {:op \"ext/wait\"}) v", SXAPI_SUSPENDED);
  EVAL_OK("(persist/kv-put db \"r\" 2)", "2");
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "1");
  sxapi_task_free(t);
}

Test(api_txn, listings_conflict_when_a_key_or_stream_appears) {
  sxapi_task *t = begin(
      "(define ks (persist/kv-keys db)) (perform {:op \"ext/wait\"}) (persist/kv-put db \"count\" (len ks))",
      SXAPI_SUSPENDED);
  EVAL_OK("(persist/kv-put db \"new\" 1)", "1");
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_ERR_CONFLICT);
  MSG_HAS("conflict: the kv key list");
  sxapi_task_free(t);
  t = begin(
      "(define ss (perform {:op \"persist/streams\" :args (list)})) (perform {:op \"ext/wait\"}) (persist/kv-put db \"streams\" (len ss))",
      SXAPI_SUSPENDED);
  EVAL_OK("(persist/event-seq (persist/append db \"fresh\" \"t\" 1 {}))", "1");
  CODE(sxapi_resume(t, sxapi_nil()), SXAPI_ERR_CONFLICT);
  MSG_HAS("conflict: the stream list");
  sxapi_task_free(t);
}

Test(api_txn, own_writes_merge_into_reads_and_listings) {
  EVAL_OK(
      "(persist/append db \"s\" \"t\" 1 {:n 1}) (persist/kv-put db \"k1\" 1) (persist/kv-put db \"k2\" 2)",
      "2");
  EVAL_OK(
      "(persist/append db \"s\" \"t\" 2 {:n 2}) (persist/append db \"new\" \"t\" 3 {:n 3})"
      " (persist/kv-delete db \"k1\") (persist/kv-put db \"k3\" 3)"
      " (list (map (fn (e) (get (persist/event-data e) :n)) (persist/read db \"s\"))"
      "       (perform {:op \"persist/streams\" :args (list)}) (persist/kv-keys db) (persist/last-seq db \"s\"))",
      "((1 2) (\"new\" \"s\") (\"k2\" \"k3\") 2)");
}

Test(api_txn, persist_commit_still_commits_early) {
  sxapi_task *t = begin(
      "(persist/kv-put db \"early\" 1) (perform {:op \"persist/commit\" :args (list)}) (perform {:op \"ext/wait\"}) :x",
      SXAPI_SUSPENDED);
  sxapi_value v;
  CODE(sxapi_store_kv_get(vm, "early", &v), SXAPI_OK); /* committed before the task finished */
  CODE(sxapi_task_free(t), SXAPI_OK);
  cr_assert_str_eq(reopened_kv("early"), "1");
}

Test(api_txn, async_commit_reports_syncing_until_durable) {
  if (on_postgres()) cr_skip_test("a PostgreSQL commit is durable when it returns");
  CODE(sxapi_set_async_commit(vm, true), SXAPI_OK);
  int fd = -1;
  CODE(sxapi_store_durable_fd(vm, &fd), SXAPI_OK);
  cr_assert_geq(fd, 0);
  sxapi_task *t = NULL;
  const char *src = "(persist/kv-put db \"async\" 1) :done";
  sxapi_code rc = sxapi_begin(vm, src, strlen(src), NULL, &t);
  cr_assert(rc == SXAPI_SYNCING || rc == SXAPI_OK, "%s", sxapi_code_name(rc));
  while (sxapi_task_status(t) == SXAPI_SYNCING) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_geq(poll(&p, 1, 5000), 1, "the durability descriptor never became readable");
    uint64_t n;
    cr_assert_eq(read(fd, &n, sizeof n), (ssize_t)sizeof n);
  }
  CODE(sxapi_task_status(t), SXAPI_OK);
  cr_assert_str_eq(show(sxapi_task_result(t)), "\"done\"");
  sxapi_task_free(t);
  t = NULL;
  src = "(persist/kv-put db \"w\" 2)";
  rc = sxapi_begin(vm, src, strlen(src), NULL, &t);
  cr_assert(rc == SXAPI_SYNCING || rc == SXAPI_OK, "%s", sxapi_code_name(rc));
  CODE(sxapi_task_wait(t), SXAPI_OK);
  sxapi_task_free(t);
  cr_assert_str_eq(reopened_kv("w"), "2");
}

Test(api_txn, blobs_are_listed_and_sized_by_either_store) {
  sxapi_value cid, cids;
  CODE(sxapi_eval(vm, "(perform {:op \"blob/put\" :args (list \"twelve bytes\" \"text/plain\")})", &cid),
       SXAPI_OK);
  CODE(sxapi_eval(vm, "(perform {:op \"blob/put\" :args (list \"x\" \"text/plain\")})", NULL), SXAPI_OK);
  CODE(sxapi_store_blobs(vm, &cids), SXAPI_OK);
  size_t n;
  CODE(sxapi_list_length(vm, cids, &n), SXAPI_OK);
  cr_assert_eq(n, 2, "%s", show(cids));
  const char *id;
  CODE(sxapi_to_string(vm, cid, &id, NULL), SXAPI_OK);
  uint64_t size = 0;
  CODE(sxapi_store_blob_size(vm, id, &size), SXAPI_OK);
  cr_assert_eq(size, 12);
  CODE(sxapi_store_blob_size(vm, "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &size),
       SXAPI_ERR_NOTFOUND);
  CODE(sxapi_store_blob_size(vm, "not-a-cid", &size), SXAPI_ERR_ARG);
}

/* ---- the op table's arity, and flush beside an open transaction -------------- */

typedef struct op_arity {
  const char *op;
  int nargs;
  const char *params;
} op_arity;

static const op_arity op_arities[] = {
    {"persist/append", 2, "stream event"},
    {"persist/read", 1, "stream"},
    {"persist/last-seq", 1, "stream"},
    {"persist/streams", 0, ""},
    {"persist/truncate", 2, "stream n"},
    {"persist/kv-get", 1, "key"},
    {"persist/kv-put", 2, "key value"},
    {"persist/kv-delete", 1, "key"},
    {"persist/kv-has?", 1, "key"},
    {"persist/kv-keys", 0, ""},
    {"persist/commit", 0, ""},
    {"blob/put", 2, "bytes mime"},
    {"blob/get", 1, "cid"},
    {"blob/has?", 1, "cid"},
};

/* Perform op with n string arguments: the error it raises must name the
 * op, the arity, the parameters and the count given. */
static void arity_refused(const op_arity *a, int n) {
  char src[256], want[200];
  int o = snprintf(src, sizeof src, "(perform {:op \"%s\" :args (list", a->op);
  for (int i = 0; i < n; i++) o += snprintf(src + o, sizeof src - (size_t)o, " \"x\"");
  snprintf(src + o, sizeof src - (size_t)o, ")})");
  snprintf(want, sizeof want, "%s: expected %d argument%s (%s), got %d", a->op, a->nargs,
           a->nargs == 1 ? "" : "s", a->params, n);
  sxapi_value v;
  CODE(sxapi_eval(vm, src, &v), SXAPI_ERR_EVAL);
  MSG_HAS(want);
}

Test(api_txn, every_op_refuses_one_argument_too_few_and_one_too_many) {
  for (size_t i = 0; i < sizeof op_arities / sizeof op_arities[0]; i++) {
    const op_arity *a = &op_arities[i];
    if (a->nargs > 0) arity_refused(a, a->nargs - 1);
    if (a->nargs > 1) arity_refused(a, 0);
    arity_refused(a, a->nargs + 1);
    arity_refused(a, a->nargs + 3);
  }
  /* nothing of a refused op is stored, and the store still works */
  EVAL_OK("(list (perform {:op \"persist/streams\"}) (perform {:op \"persist/kv-keys\"}))", "(() ())");
  static const char *const refusals[][2] = {
      {"(perform {:op \"persist/kv-keys\" :args 5})", "persist/kv-keys: expected an argument list, got 5"},
      {"(perform {:op \"persist/read\" :args (list 5)})",
       "persist/read: expected a stream name string, got 5"},
      {"(perform {:op \"persist/truncate\" :args (list \"s\" \"1\")})",
       "persist/truncate: expected an integer seq, got \"1\""},
      {"(perform {:op \"persist/append\" :args (list \"s\" 1)})",
       "persist/append: expected an event dict, got 1"},
      {"(perform {:op \"persist/nothing\" :args (list)})",
       "persist/nothing: unknown op (persist/* ops: append read last-seq streams truncate kv-get kv-put kv-delete kv-has? kv-keys commit)"},
      {"(perform {:op \"blob/nothing\"})", "blob/nothing: unknown op (blob/* ops: put get has?)"},
  };
  for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
    sxapi_value v;
    CODE(sxapi_eval(vm, refusals[i][0], &v), SXAPI_ERR_EVAL);
    MSG_HAS(refusals[i][1]);
  }
  EVAL_OK("(list (perform {:op \"persist/kv-keys\"}) (perform {:op \"persist/commit\" :args (list)}))",
          "(() nil)");
}

/* A read-only view of the store as the file holds it. */
static const char *on_disk_kv(const char *key) {
  sxapi_vm *r = sxapi_open();
  sxapi_store_options ro = {.read_only = true};
  CODE(sxapi_store_open(r, store_path, &ro), SXAPI_OK);
  sxapi_value v;
  static char out[64];
  snprintf(out, sizeof out, "%s", sxapi_store_kv_get(r, key, &v) == SXAPI_ERR_NOTFOUND ? "absent" : show(v));
  sxapi_free(r);
  return out;
}

/* A flush while a task's transaction is open writes the commits made so
 * far and nothing of the open transaction; the task's writes follow its
 * own end (its commit, or nothing when it is abandoned). */
Test(api_txn, a_flush_while_a_transaction_is_open_writes_only_what_was_committed) {
  if (on_postgres()) cr_skip_test("only the file store buffers commits in the process (off mode)");
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = sxapi_open();
  sxapi_store_options off = {.sync = SXAPI_SYNC_OFF};
  CODE(sxapi_store_open(vm, store_path, &off), SXAPI_OK);
  CODE(sxapi_eval(vm, persist_prelude, NULL), SXAPI_OK);
  sxapi_task *a =
      begin("(persist/kv-put db \"a\" 1) (perform {:op \"ext/wait\"}) (persist/kv-put db \"a2\" 2) :a",
            SXAPI_SUSPENDED);
  sxapi_task *c = begin("(persist/kv-put db \"c\" 3) (perform {:op \"ext/wait\"}) :c", SXAPI_SUSPENDED);
  EVAL_OK("(persist/kv-put db \"b\" 2) :b", "\"b\"");
  cr_assert_str_eq(on_disk_kv("b"), "absent", "off mode buffers the commit");
  CODE(sxapi_store_flush(vm), SXAPI_OK);
  cr_assert_str_eq(on_disk_kv("b"), "2");
  cr_assert_str_eq(on_disk_kv("a"), "absent", "the flush wrote an open transaction's write");
  sxapi_value v;
  CODE(sxapi_store_kv_get(vm, "a", &v), SXAPI_ERR_NOTFOUND);
  CODE(sxapi_resume(a, sxapi_nil()), SXAPI_OK);
  sxapi_task_free(a);
  sxapi_task_free(c); /* abandoned: its write goes */
  CODE(sxapi_store_flush(vm), SXAPI_OK);
  cr_assert_str_eq(on_disk_kv("a"), "1");
  cr_assert_str_eq(on_disk_kv("a2"), "2");
  cr_assert_str_eq(on_disk_kv("c"), "absent");
}

/* A host that notes its input (as sx server does) lets a PostgreSQL store
 * answer evaluations of requests that were in by the note from what it
 * learnt after it: one round trip per append instead of two. Without a
 * note every evaluation asks. The file store makes none either way. */
static uint64_t trips(void) {
  sxapi_store_stats st;
  CODE(sxapi_store_stats_of(vm, &st), SXAPI_OK);
  return st.round_trips;
}

static uint64_t trips_for_appends(int n, bool noted) {
  CODE(sxapi_eval(vm, "(persist/append db \"n\" \"t\" 0 {})", NULL), SXAPI_OK);
  if (noted) CODE(sxapi_note_input(vm), SXAPI_OK);
  uint64_t before = trips();
  for (int i = 0; i < n; i++) CODE(sxapi_eval(vm, "(persist/append db \"n\" \"t\" 0 {})", NULL), SXAPI_OK);
  return trips() - before;
}

Test(api_txn, noted_input_saves_a_round_trip_per_evaluation) {
  uint64_t plain = trips_for_appends(10, false), noted = trips_for_appends(10, true);
  if (!on_postgres()) {
    cr_assert_eq(plain + noted, 0, "the file store has no database to ask");
    return;
  }
  cr_assert_eq(plain, 20, "a read and a commit each: %llu", (unsigned long long)plain);
  cr_assert_eq(noted, 11, "one read, then a commit each: %llu", (unsigned long long)noted);
  sxapi_value v;
  CODE(sxapi_eval(vm, "(persist/last-seq db \"n\")", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "22");
}

/* The same when the input is noted before the store is opened (a lazy
 * open, as sx server's first read comes before any store op): the fresh
 * handle learns everything after the note. */
static uint64_t trips_from_a_lazy_open(bool noted) {
  sxapi_vm *v = sxapi_open();
  sxapi_store_options o = {.lazy = true};
  CODE(sxapi_store_open(v, store_path, &o), SXAPI_OK);
  CODE(sxapi_eval(v, persist_prelude, NULL), SXAPI_OK);
  if (noted) CODE(sxapi_note_input(v), SXAPI_OK);
  const char *stream =
      noted ? "(persist/append db \"lazy-noted\" \"t\" 0 {})" : "(persist/append db \"lazy\" \"t\" 0 {})";
  for (int i = 0; i < 10; i++) CODE(sxapi_eval(v, stream, NULL), SXAPI_OK);
  sxapi_store_stats st;
  CODE(sxapi_store_stats_of(v, &st), SXAPI_OK);
  CODE(sxapi_free(v), SXAPI_OK);
  return st.round_trips;
}

Test(api_txn, input_noted_before_a_lazy_open_counts_too) {
  uint64_t plain = trips_from_a_lazy_open(false), noted = trips_from_a_lazy_open(true);
  if (!on_postgres()) {
    cr_assert_eq(plain + noted, 0);
    return;
  }
  /* plain: a read and a commit each (and the statements' preparing);
   * noted: one read, then the commits */
  cr_assert_eq(plain - noted, 9, "plain %llu, noted %llu", (unsigned long long)plain,
               (unsigned long long)noted);
}
