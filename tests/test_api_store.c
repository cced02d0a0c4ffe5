/* test_api_store.c — the durable store through the public header: persist
 * on the durable backend commits per top-level evaluation and survives a
 * new VM; failed and abandoned evaluations roll back; lazy and read-only
 * opens; a second writer is refused; flush, stats, inspection (streams,
 * events, kv, blobs), the offline check, offline compaction, sync-mode
 * names, and misuse. */
#include "sx_test_api.h"

#include <fcntl.h>
#include <sys/stat.h>

static char *dir;
static char store_path[600];

static void store_setup(void) {
  api_setup();
  dir = scratch_dir();
  snprintf(store_path, sizeof store_path, "%s/store", dir);
}

static void store_teardown(void) {
  api_teardown();
  scratch_remove(dir);
}

TestSuite(api_store, .init = store_setup, .fini = store_teardown);

static const char *persist_prelude =
    "(load \"lib/persist/event.sx\") (load \"lib/persist/backend.sx\") (load \"lib/persist/log.sx\")"
    " (load \"lib/persist/kv.sx\") (load \"lib/persist/durable.sx\") (load \"lib/persist/blob.sx\")"
    " (define db (persist/durable-backend)) (define blobs (persist/blob-store-backend))";

static sxapi_vm *open_on_store(const sxapi_store_options *opts) {
  sxapi_vm *v = sxapi_open();
  cr_assert_not_null(v);
  CODE(sxapi_store_open(v, store_path, opts), SXAPI_OK);
  CODE(sxapi_eval(v, persist_prelude, NULL), SXAPI_OK);
  return v;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

Test(api_store, persist_writes_survive_a_new_vm) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  EVAL_OK(
      "(persist/append db \"orders\" \"placed\" 100 {:id 1}) (persist/append db \"orders\" \"placed\" 101 {:id 2})"
      " (persist/kv-put db \"cfg\" {:mode \"on\"}) (persist/last-seq db \"orders\")",
      "2");
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  EVAL_OK(
      "(list (persist/last-seq db \"orders\") (map (fn (e) (get (persist/event-data e) :id)) (persist/read db \"orders\"))"
      " (persist/kv-get db \"cfg\"))",
      "(2 (1 2) {:mode \"on\"})");
}

Test(api_store, inspection_sees_streams_events_and_kv) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  CODE(
      sxapi_eval(
          vm,
          "(persist/append db \"b\" \"t\" 1 {:n 1}) (persist/append db \"a\" \"t\" 2 {:n 2})"
          " (persist/append db \"a\" \"t\" 3 {:n 3}) (persist/kv-put db \"k2\" 2) (persist/kv-put db \"k1\" 1)",
          NULL),
      SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_store_streams(vm, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "(\"a\" \"b\")");
  int64_t seq;
  CODE(sxapi_store_last_seq(vm, "a", &seq), SXAPI_OK);
  cr_assert_eq(seq, 2);
  CODE(sxapi_store_last_seq(vm, "none", &seq), SXAPI_OK);
  cr_assert_eq(seq, 0);
  CODE(sxapi_store_read(vm, "a", &v), SXAPI_OK);
  cr_assert_str_eq(
      show(v),
      "({:at 2 :data {:n 2} :seq 1 :stream \"a\" :type \"t\"} {:at 3 :data {:n 3} :seq 2 :stream \"a\" :type \"t\"})");
  CODE(sxapi_store_read(vm, "none", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "()");
  CODE(sxapi_store_kv_keys(vm, &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "(\"k1\" \"k2\")");
  CODE(sxapi_store_kv_get(vm, "k2", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "2");
  CODE(sxapi_store_kv_get(vm, "k3", &v), SXAPI_ERR_NOTFOUND);
  MSG_HAS("no key \"k3\"");
  sxapi_store_stats st;
  CODE(sxapi_store_stats_of(vm, &st), SXAPI_OK);
  cr_assert_eq(st.streams, 2);
  cr_assert_eq(st.events, 3);
  cr_assert_eq(st.kv_keys, 2);
  cr_assert_gt(st.log_bytes, 0);
  cr_assert_eq(st.sync, SXAPI_SYNC_FULL);
  cr_assert(!st.read_only);
  cr_assert_str_eq(sxapi_store_dir(vm), store_path);
  cr_assert_str_eq(sxapi_store_label(vm), store_path); /* a directory shows as itself */
  CODE(sxapi_store_read(vm, NULL, &v), SXAPI_ERR_ARG);
  CODE(sxapi_store_stats_of(vm, NULL), SXAPI_ERR_ARG);
}

Test(api_store, blobs_are_listed_and_fetched) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  sxapi_value cid, cids, bytes;
  CODE(sxapi_eval(vm, "(perform {:op \"blob/put\" :args (list \"hello blob\" \"text/plain\")})", &cid),
       SXAPI_OK);
  CODE(sxapi_eval(vm, "(perform {:op \"blob/put\" :args (list \"another\" \"text/plain\")})", NULL),
       SXAPI_OK);
  CODE(sxapi_eval(vm, "(perform {:op \"blob/put\" :args (list \"hello blob\" \"text/plain\")})", NULL),
       SXAPI_OK);
  CODE(sxapi_store_blobs(vm, &cids), SXAPI_OK);
  size_t n;
  CODE(sxapi_list_length(vm, cids, &n), SXAPI_OK);
  cr_assert_eq(n, 2, "equal bytes are stored once: %s", show(cids));
  const char *id, *a, *b;
  CODE(sxapi_to_string(vm, cid, &id, NULL), SXAPI_OK);
  sxapi_value first, second;
  sxapi_list_get(vm, cids, 0, &first);
  sxapi_list_get(vm, cids, 1, &second);
  sxapi_to_string(vm, first, &a, NULL);
  sxapi_to_string(vm, second, &b, NULL);
  cr_assert(strcmp(a, b) < 0, "sorted");
  cr_assert(strcmp(a, id) == 0 || strcmp(b, id) == 0);
  CODE(sxapi_store_blob_get(vm, id, &bytes), SXAPI_OK);
  cr_assert_str_eq(show(bytes), "\"hello blob\"");
  CODE(sxapi_store_blob_get(vm, "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &bytes),
       SXAPI_ERR_NOTFOUND);
  CODE(sxapi_store_blob_get(vm, "not-a-cid", &bytes), SXAPI_ERR_STORE);
}

Test(api_store, a_failed_evaluation_commits_nothing) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  sxapi_value v;
  CODE(sxapi_eval(vm, "(persist/kv-put db \"half\" 1) (error \"boom\")", &v), SXAPI_ERR_EVAL);
  CODE(sxapi_store_kv_get(vm, "half", &v), SXAPI_ERR_NOTFOUND);
  CODE(sxapi_eval(vm, "(persist/kv-put db \"whole\" 1)", &v), SXAPI_OK);
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  CODE(sxapi_store_kv_get(vm, "half", &v), SXAPI_ERR_NOTFOUND);
  CODE(sxapi_store_kv_get(vm, "whole", &v), SXAPI_OK);
}

Test(api_store, a_task_commits_when_it_finishes_and_rolls_back_when_abandoned) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  sxapi_value v;
  sxapi_task *t;
  const char *src = "(persist/kv-put db \"k\" (perform {:op \"ext/value\"})) (perform {:op \"ext/confirm\"})";
  CODE(sxapi_begin(vm, src, strlen(src), NULL, &t), SXAPI_SUSPENDED);
  CODE(sxapi_resume(t, sxapi_int(vm, 7)), SXAPI_SUSPENDED);
  CODE(sxapi_store_kv_get(vm, "k", &v), SXAPI_ERR_NOTFOUND); /* isolated until it finishes */
  CODE(sxapi_task_free(t), SXAPI_OK);                        /* abandoned: rolled back */
  CODE(sxapi_store_kv_get(vm, "k", &v), SXAPI_ERR_NOTFOUND);

  CODE(sxapi_begin(vm, src, strlen(src), NULL, &t), SXAPI_SUSPENDED);
  CODE(sxapi_resume(t, sxapi_int(vm, 8)), SXAPI_SUSPENDED);
  CODE(sxapi_resume(t, sxapi_bool(true)), SXAPI_OK);
  sxapi_task_free(t);
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  CODE(sxapi_store_kv_get(vm, "k", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "8");
}

Test(api_store, a_lazy_store_is_created_on_first_use) {
  sxapi_store_options o = {.lazy = true};
  CODE(sxapi_store_open(vm, store_path, &o), SXAPI_OK);
  EVAL_OK("(+ 1 2)", "3");
  cr_assert(!exists(store_path), "nothing created before a persist op");
  EVAL_OK("(perform {:op \"persist/kv-put\" :args (list \"a\" 1)})", "nil");
  cr_assert(exists(store_path));
}

Test(api_store, one_writer_at_a_time) {
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  sxapi_vm *second = sxapi_open();
  sxapi_store_options off = {.sync = SXAPI_SYNC_OFF};
  CODE(sxapi_store_open(second, store_path, &off), SXAPI_ERR_STORE); /* shared: modes must agree */
  MSG_HAS("is already open in this process with sync full");
  CODE(sxapi_store_close(second), SXAPI_ERR_STATE); /* the failed open left no store */
  sxapi_value v;
  CODE(sxapi_eval(second, "(perform {:op \"persist/kv-keys\"})", &v), SXAPI_ERR_EVAL); /* nor its resolvers */
  MSG_HAS("no resolver for op persist/kv-keys");
  CODE(sxapi_store_close(vm), SXAPI_OK);
  CODE(sxapi_store_open(second, store_path, NULL), SXAPI_OK); /* released by close */
  sxapi_free(second);
}

Test(api_store, a_read_only_view_follows_the_writer_after_refresh) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  EVAL_OK("(persist/kv-put db \"v\" 1)", "1");
  sxapi_vm *reader = sxapi_open();
  sxapi_store_options ro = {.read_only = true};
  CODE(sxapi_store_open(reader, store_path, &ro), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_store_kv_get(reader, "v", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "1");
  EVAL_OK("(persist/kv-put db \"v\" 2)", "2");
  CODE(sxapi_store_kv_get(reader, "v", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "1", "not before a refresh");
  CODE(sxapi_store_refresh(reader), SXAPI_OK);
  CODE(sxapi_store_kv_get(reader, "v", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "2");
  sxapi_store_stats st;
  CODE(sxapi_store_stats_of(reader, &st), SXAPI_OK);
  cr_assert(st.read_only);
  CODE(sxapi_eval(reader, "(perform {:op \"persist/kv-put\" :args (list \"v\" 3)})", &v), SXAPI_ERR_EVAL);
  MSG_HAS("is open read-only");
  CODE(sxapi_eval(reader, "(perform {:op \"blob/put\" :args (list \"bytes\" \"text/plain\")})", &v),
       SXAPI_ERR_EVAL);
  MSG_HAS("is open read-only");
  CODE(sxapi_eval(reader, "(perform {:op \"blob/get\" :args (list \"bafkrei-not-an-id\")})", &v),
       SXAPI_ERR_EVAL);
  MSG_HAS("malformed blob id \"bafkrei-not-an-id\"");
  CODE(sxapi_eval(reader, "(perform {:op \"blob/has?\" :args (list \"../../etc/passwd\")})", &v),
       SXAPI_ERR_EVAL);
  MSG_HAS("malformed blob id");
  CODE(sxapi_eval(reader, "(perform {:op \"persist/kv-get\" :args (list \"v\")})", &v), SXAPI_OK);
  cr_assert_str_eq(show(v), "2", "the reader goes on after the refusals");
  sxapi_free(reader);
}

Test(api_store, buffered_modes_flush_and_close_cleanly) {
  CODE(sxapi_free(vm), SXAPI_OK);
  sxapi_store_options off = {.sync = SXAPI_SYNC_OFF};
  vm = open_on_store(&off);
  sxapi_store_stats st;
  CODE(sxapi_store_stats_of(vm, &st), SXAPI_OK);
  cr_assert_eq(st.sync, SXAPI_SYNC_OFF);
  EVAL_OK("(persist/kv-put db \"a\" 1)", "1");
  CODE(sxapi_store_flush(vm), SXAPI_OK);
  EVAL_OK("(persist/kv-put db \"b\" 2)", "2");
  CODE(sxapi_store_close(vm), SXAPI_OK); /* writes what was buffered */
  sxapi_value v;
  CODE(sxapi_eval(vm, "(persist/kv-get db \"a\")", &v),
       SXAPI_ERR_EVAL); /* the resolvers went with the store */
  sxapi_store_options batch = {.sync = SXAPI_SYNC_BATCH, .batch_window_ms = 5};
  CODE(sxapi_store_open(vm, store_path, &batch), SXAPI_OK);
  EVAL_OK("(list (persist/kv-get db \"a\") (persist/kv-get db \"b\"))", "(1 2)");
  CODE(sxapi_store_stats_of(vm, &st), SXAPI_OK);
  cr_assert_eq(st.sync, SXAPI_SYNC_BATCH);
  CODE(sxapi_store_flush(vm), SXAPI_OK);
}

Test(api_store, the_offline_check_finds_damage) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  /* two evaluations, two frames: damage in the first is not a torn tail */
  EVAL_OK("(persist/append db \"s\" \"t\" 1 {:payload \"0123456789012345678901234567890123456789\"}) :ok",
          "\"ok\"");
  EVAL_OK("(persist/append db \"s\" \"t\" 2 {:payload \"abc\"}) :ok", "\"ok\"");
  sxapi_value report;
  CODE(sxapi_store_check(vm, store_path, &report), SXAPI_OK);
  CODE(sxapi_store_close(vm), SXAPI_OK);
  /* flip a byte inside the first frame's payload */
  char log[700];
  snprintf(log, sizeof log, "%s/log", store_path);
  int fd = open(log, O_RDWR);
  cr_assert_geq(fd, 0);
  char c;
  cr_assert_eq(pread(fd, &c, 1, 60), 1);
  c ^= 0x20;
  cr_assert_eq(pwrite(fd, &c, 1, 60), 1);
  close(fd);
  CODE(sxapi_store_check(vm, store_path, &report), SXAPI_ERR_STORE);
  const char *text;
  CODE(sxapi_to_string(vm, report, &text, NULL), SXAPI_OK);
  cr_assert(strstr(text, "log") != NULL, "the report names the file: %s", text);
  CODE(sxapi_store_check(vm, "/nonexistent/store", NULL), SXAPI_ERR_IO);
  CODE(sxapi_store_check(vm, NULL, NULL), SXAPI_ERR_ARG);
}

Test(api_store, offline_compaction_keeps_the_state) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  EVAL_OK("(begin (persist/append db \"s\" \"t\" 1 {:n 1}) (persist/append db \"s\" \"t\" 2 {:n 2})"
          " (persist/append db \"s\" \"t\" 3 {:n 3}) (persist/kv-put db \"k\" 1) (persist/kv-put db \"k\" 2)"
          " (persist/kv-put db \"gone\" 1) (persist/kv-delete db \"gone\") :ok)",
          "\"ok\"");
  EVAL_OK("(perform {:op \"persist/truncate\" :args (list \"s\" 2)})", "nil");
  sxapi_store_compact_stats st;
  CODE(sxapi_store_compact(vm, store_path, &st), SXAPI_ERR_STORE); /* this VM holds the lock */
  char want[700];
  snprintf(want, sizeof want, "store %s is locked by pid %d", store_path, (int)getpid());
  MSG_HAS(want);
  CODE(sxapi_store_close(vm), SXAPI_OK);
  CODE(sxapi_store_compact(vm, store_path, &st), SXAPI_OK);
  cr_assert_lt(st.log_after, st.log_before);
  cr_assert(st.streams == 1 && st.events == 1 && st.kv_keys == 1, "%zu %zu %zu", st.streams, st.events,
            st.kv_keys);
  CODE(sxapi_store_check(vm, store_path, NULL), SXAPI_OK);
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  EVAL_OK("(list (persist/last-seq db \"s\") (map persist/event-seq (persist/read db \"s\"))"
          " (persist/kv-get db \"k\") (persist/kv-has? db \"gone\"))",
          "(3 (3) 2 false)");
  CODE(sxapi_store_compact(vm, NULL, NULL), SXAPI_ERR_ARG);
}

Test(api_store, sync_modes_have_names) {
  sxapi_sync modes[] = {SXAPI_SYNC_FULL, SXAPI_SYNC_BATCH, SXAPI_SYNC_OFF}, m;
  for (size_t i = 0; i < 3; i++) {
    CODE(sxapi_sync_parse(sxapi_sync_name(modes[i]), &m), SXAPI_OK);
    cr_assert_eq(m, modes[i]);
  }
  cr_assert_str_eq(sxapi_sync_name(SXAPI_SYNC_BATCH), "batch");
  CODE(sxapi_sync_parse("sometimes", &m), SXAPI_ERR_ARG);
  MSG_HAS("unknown sync mode 'sometimes'");
  CODE(sxapi_sync_parse(NULL, &m), SXAPI_ERR_ARG);
  cr_assert_str_eq(sxapi_sync_name((sxapi_sync)9), "?");
}

Test(api_store, misuse_is_reported) {
  sxapi_value v;
  int64_t seq;
  CODE(sxapi_store_streams(vm, &v), SXAPI_ERR_STATE);
  MSG_HAS("the VM has no store");
  CODE(sxapi_store_last_seq(vm, "s", &seq), SXAPI_ERR_STATE);
  CODE(sxapi_store_flush(vm), SXAPI_ERR_STATE);
  CODE(sxapi_store_close(vm), SXAPI_ERR_STATE);
  cr_assert_null(sxapi_store_dir(vm));
  cr_assert_null(sxapi_store_label(vm));
  CODE(sxapi_store_open(vm, NULL, NULL), SXAPI_ERR_ARG);
  sxapi_store_options bad = {.sync = (sxapi_sync)7};
  CODE(sxapi_store_open(vm, store_path, &bad), SXAPI_ERR_ARG);
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_ERR_STATE);
  MSG_HAS("the VM already has a store");
  char file[700];
  snprintf(file, sizeof file, "%s/plain-file", dir);
  fclose(fopen(file, "w"));
  sxapi_vm *other = sxapi_open();
  CODE(sxapi_store_open(other, file, NULL), SXAPI_ERR_STORE); /* not a directory */
  sxapi_free(other);
  CODE(sxapi_close(vm), SXAPI_OK); /* closes the store too */
  CODE(sxapi_store_streams(vm, &v), SXAPI_ERR_CLOSED);
}

Test(api_store, null_out_pointers_and_names_are_refused) {
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  int64_t seq;
  sxapi_value v;
  uint64_t size;
  ARG_REFUSED(sxapi_store_stats_of(vm, NULL), "sxapi_store_stats_of: the out pointer is NULL");
  ARG_REFUSED(sxapi_store_durable_fd(vm, NULL), "sxapi_store_durable_fd: the out pointer is NULL");
  ARG_REFUSED(sxapi_store_streams(vm, NULL), "sxapi_store_streams: the out pointer is NULL");
  ARG_REFUSED(sxapi_store_kv_keys(vm, NULL), "sxapi_store_kv_keys: the out pointer is NULL");
  ARG_REFUSED(sxapi_store_blobs(vm, NULL), "sxapi_store_blobs: the out pointer is NULL");
  ARG_REFUSED(sxapi_store_last_seq(vm, NULL, &seq), "stream and out must not be NULL");
  ARG_REFUSED(sxapi_store_last_seq(vm, "s", NULL), "stream and out must not be NULL");
  ARG_REFUSED(sxapi_store_read(vm, NULL, &v), "stream and events must not be NULL");
  ARG_REFUSED(sxapi_store_read(vm, "s", NULL), "stream and events must not be NULL");
  ARG_REFUSED(sxapi_store_kv_get(vm, NULL, &v), "key and out must not be NULL");
  ARG_REFUSED(sxapi_store_kv_get(vm, "k", NULL), "key and out must not be NULL");
  ARG_REFUSED(sxapi_store_blob_get(vm, NULL, &v), "cid and bytes must not be NULL");
  ARG_REFUSED(sxapi_store_blob_get(vm, "c", NULL), "cid and bytes must not be NULL");
  ARG_REFUSED(sxapi_store_blob_size(vm, NULL, &size), "cid and size must not be NULL");
  ARG_REFUSED(sxapi_store_blob_size(vm, "c", NULL), "cid and size must not be NULL");
  ARG_REFUSED(sxapi_store_blob_size(vm, "not-a-cid", &size), "'not-a-cid' is not a blob id");
  ARG_REFUSED(sxapi_sync_parse(NULL, NULL), "sxapi_sync_parse: name and out must not be NULL");
  ARG_REFUSED(sxapi_store_open(vm, "", NULL), "the directory is NULL or empty");
  cr_assert_null(sxapi_store_name_label(NULL));
  CODE(sxapi_close(vm), SXAPI_OK);
  CODE(sxapi_store_compact(vm, store_path, NULL), SXAPI_ERR_CLOSED);
  cr_assert_null(sxapi_store_label(vm));
}

/* ---- the warning hook ----------------------------------------------------------- */

static char heard[1024];
static int heard_count;
static void hear(const char *msg, void *ctx) {
  (void)ctx;
  snprintf(heard, sizeof heard, "%s", msg);
  heard_count++;
}

/* Leave a torn tail (half a frame after the data) in the store. */
static void tear_store(void) {
  sxapi_value report;
  const char *text, *at;
  char log[700];
  struct stat st;
  snprintf(log, sizeof log, "%s/log", store_path);
  CODE(sxapi_store_check(vm, store_path, &report), SXAPI_OK);
  CODE(sxapi_to_string(vm, report, &text, NULL), SXAPI_OK);
  /* the data ends where zero-filled space starts, or at the end of the file */
  cr_assert_eq(stat(log, &st), 0);
  at = strstr(text, "data ends at offset ");
  long end = at ? atol(at + strlen("data ends at offset ")) : (long)st.st_size;
  int fd = open(log, O_RDWR);
  cr_assert_geq(fd, 0);
  cr_assert_eq(pwrite(fd, "SXF2 half a frame", 17, end), 17);
  close(fd);
}

Test(api_store, a_discarded_torn_tail_reaches_the_warning_hook_and_never_stderr) {
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = open_on_store(NULL);
  EVAL_OK("(persist/append db \"s\" \"t\" 1 {:n 1}) :ok", "\"ok\"");
  CODE(sxapi_store_close(vm), SXAPI_OK);
  tear_store();
  /* no hook: the library says nothing on stderr */
  char errpath[700];
  snprintf(errpath, sizeof errpath, "%s/stderr", dir);
  int saved = dup(2), efd = open(errpath, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  cr_assert(saved >= 0 && efd >= 0);
  fflush(stderr);
  dup2(efd, 2);
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  fflush(stderr);
  dup2(saved, 2);
  close(saved), close(efd);
  struct stat st;
  cr_assert_eq(stat(errpath, &st), 0);
  cr_assert_eq(st.st_size, 0, "the library wrote %lld bytes to stderr", (long long)st.st_size);
  CODE(sxapi_store_close(vm), SXAPI_OK);
  /* a hook hears the next one */
  tear_store();
  heard_count = 0;
  sxapi_set_warning_hook(hear, NULL);
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  sxapi_set_warning_hook(NULL, NULL);
  cr_assert_eq(heard_count, 1);
  cr_assert(strstr(heard, "torn tail") && strstr(heard, store_path), "heard: %s", heard);
  EVAL_OK("(load \"lib/persist/event.sx\") (load \"lib/persist/backend.sx\") (load \"lib/persist/log.sx\")"
          " (load \"lib/persist/kv.sx\") (load \"lib/persist/durable.sx\")"
          " (persist/last-seq (persist/durable-backend) \"s\")",
          "1");
}

/* ---- the persist resolver's edges ---------------------------------------------------- */

Test(api_store, an_early_commit_before_any_store_op_opens_nothing) {
  sxapi_store_options o = {.lazy = true};
  CODE(sxapi_store_open(vm, store_path, &o), SXAPI_OK);
  EVAL_OK("(perform {:op \"persist/commit\" :args ()})", "nil");
  cr_assert(!exists(store_path), "the lazy store was not created");
  EVAL_OK("(perform {:op \"persist/streams\"})", "()");           /* no :args at all: no arguments */
  EVAL_OK("(perform {:op \"persist/kv-keys\" :args nil})", "()"); /* nil: no arguments either */
  cr_assert(exists(store_path), "the first real op creates it");
  sxapi_value v;
  CODE(sxapi_eval(vm, "(perform {:op \"persist/streams\" :args \"s\"})", &v), SXAPI_ERR_EVAL);
  MSG_HAS("persist/streams: expected an argument list, got \"s\"");
}

Test(api_store, blob_has_refuses_a_malformed_id) {
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_eval(vm, "(perform {:op \"blob/has?\" :args (list \"not-an-id\")})", &v), SXAPI_ERR_EVAL);
  MSG_HAS("malformed blob id \"not-an-id\"");
  EVAL_OK("(define cid (perform {:op \"blob/put\" :args (list \"bytes\" \"text/plain\")}))"
          " (perform {:op \"blob/has?\" :args (list cid)})",
          "true");
  EVAL_OK(
      "(perform {:op \"blob/has?\" :args (list \"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku\")})",
      "false");
}

/* Closing the store of a VM that attached before another one: each VM
 * keeps its own. */
Test(api_store, closing_the_store_of_an_earlier_vm_leaves_a_later_one_attached) {
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  char other_path[700];
  snprintf(other_path, sizeof other_path, "%s/other", dir);
  sxapi_vm *other = sxapi_open();
  CODE(sxapi_store_open(other, other_path, NULL), SXAPI_OK);
  EVAL_OK("(perform {:op \"persist/kv-put\" :args (list \"k\" 1)})", "nil");
  CODE(sxapi_store_close(vm), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_eval(other,
                  "(perform {:op \"persist/kv-put\" :args (list \"k\" 2)}) "
                  "(perform {:op \"persist/kv-get\" :args (list \"k\")})",
                  &v),
       SXAPI_OK);
  CODE(sxapi_free(other), SXAPI_OK);
  other = sxapi_open();
  CODE(sxapi_store_open(other, other_path, NULL), SXAPI_OK);
  CODE(sxapi_eval(other, "(perform {:op \"persist/kv-get\" :args (list \"k\")})", &v), SXAPI_OK);
  int64_t n = 0;
  CODE(sxapi_to_int(other, v, &n), SXAPI_OK);
  cr_assert_eq(n, 2);
  CODE(sxapi_free(other), SXAPI_OK);
}

/* A value damaged on disk after the store opened fails the op that reads
 * it, even one whose own result (a boolean) could not carry the error. */
Test(api_store, a_value_damaged_after_the_open_fails_the_op_that_reads_it) {
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  EVAL_OK("(perform {:op \"persist/kv-put\" :args (list \"k\" \"value-to-damage\")})", "nil");
  CODE(sxapi_free(vm), SXAPI_OK);
  vm = sxapi_open();
  CODE(sxapi_store_open(vm, store_path, NULL), SXAPI_OK);
  EVAL_OK("(perform {:op \"persist/kv-has?\" :args (list \"other\")})", "false"); /* opens it */
  char log[700];
  snprintf(log, sizeof log, "%s/log", store_path);
  FILE *f = fopen(log, "r+b");
  cr_assert_not_null(f);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  char *at = memmem(buf, n, "value-to-damage", 15);
  cr_assert_not_null(at);
  cr_assert_eq(fseek(f, (at - buf) - 2, SEEK_SET), 0); /* the string's tag */
  cr_assert_eq(fputc(0x7f, f), 0x7f);
  fclose(f);
  sxapi_value v;
  CODE(sxapi_eval(vm, "(perform {:op \"persist/kv-has?\" :args (list \"k\")})", &v), SXAPI_ERR_EVAL);
  MSG_HAS("does not decode");
}
