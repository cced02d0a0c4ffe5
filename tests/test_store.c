/* test_store.c — the file-backed store: log and kv facets, the five persist
 * invariants, the seq rule, transactions (commit, rollback, own writes),
 * reopen, crash recovery (torn tails at every byte, kill -9), damage
 * detection, the writer lock, read-only handles and sync modes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "sx_dict.h"
#include "sx_test_dir.h"

static char dir[64];

static void setup(void) {
  sx_gc_init();
  strcpy(dir, "/tmp/sxstore-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) { rm_tree(dir); }
TestSuite(store, .init = setup, .fini = teardown);

/* ---- helpers --------------------------------------------------------------- */

static sx_val str(const char *s) { return sx_string_cstr(s); }

static sx_val ev(int64_t seq, const char *type) {
  sx_val data = sx_dict_assoc(sx_dict_empty(), str("n"), sx_float((double)seq / 3));
  data = sx_dict_assoc(data, str("tags"), sx_list(2, (sx_val[]){str("x"), sx_keyword_new(str("k"))}));
  sx_val d = sx_dict_empty();
  d = sx_dict_assoc(d, str("seq"), sx_int(seq));
  d = sx_dict_assoc(d, str("type"), str(type));
  d = sx_dict_assoc(d, str("at"), sx_int(1700000000 + seq));
  return sx_dict_assoc(d, str("data"), data);
}

static const char *msg(sx_val err) { return sx_is_string(err) ? sx_str_data(err) : "(no message)"; }

static store *open_opts(const store_opts *o) {
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, o, &s, &err), 0, "open failed: %s", msg(err));
  return s;
}
static store *open_w(void) { return open_opts(NULL); }
static store *open_ro(void) {
  store_opts o = {.read_only = true};
  return open_opts(&o);
}

static void close_ok(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(s, &err), 0, "close failed: %s", msg(err));
}

static void append_ok(store *s, const char *stream, int64_t seq) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(s, str(stream), ev(seq, "t"), &err), 0, "append failed: %s", msg(err));
}

static void commit_ok(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_commit(s, &err), 0, "commit failed: %s", msg(err));
}

static void put_ok(store *s, const char *k, sx_val v) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_kv_put(s, str(k), v, &err), 0, "put failed: %s", msg(err));
}

/* Everything observable through the API, as one comparable value. */
static sx_val snapshot(store *s) {
  sx_val out = SX_EMPTY;
  for (sx_val l = store_streams(s); sx_is_cons(l); l = sx_cdr(l)) {
    sx_val n = sx_car(l);
    out = sx_cons(sx_list(3, (sx_val[]){n, sx_int(store_last_seq(s, n)), store_read(s, n)}), out);
  }
  for (sx_val l = store_kv_keys(s); sx_is_cons(l); l = sx_cdr(l))
    out = sx_cons(sx_list(2, (sx_val[]){sx_car(l), store_kv_get(s, sx_car(l))}), out);
  return out;
}

static char *log_path(void) {
  static char p[128];
  snprintf(p, sizeof p, "%s/log", dir);
  return p;
}

static off_t file_size(const char *p) {
  struct stat st;
  cr_assert_eq(stat(p, &st), 0);
  return st.st_size;
}

static uint64_t data_end(store *s) {
  store_stats st;
  store_get_stats(s, &st);
  return st.log_bytes;
}

static void copy_prefix(const char *from, const char *to, off_t n) {
  int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cr_assert(a >= 0 && b >= 0);
  char *buf = malloc((size_t)n + 1);
  cr_assert_eq(pread(a, buf, (size_t)n, 0), n);
  cr_assert_eq(pwrite(b, buf, (size_t)n, 0), n);
  free(buf);
  close(a);
  close(b);
}

static void flip_bit(const char *p, off_t at) {
  int fd = open(p, O_RDWR);
  unsigned char c;
  cr_assert_eq(pread(fd, &c, 1, at), 1);
  c ^= 0x10;
  cr_assert_eq(pwrite(fd, &c, 1, at), 1);
  close(fd);
}

/* End a forked child without running the test runner's exit handlers; a
 * coverage build first writes the child's counts. */
#ifdef SX_COVERAGE
void __gcov_dump(void);
#endif
static _Noreturn void child_exit(int code) {
#ifdef SX_COVERAGE
  __gcov_dump();
#endif
  _exit(code);
}

/* ---- log facet and the invariants --------------------------------------------- */

Test(store, append_read_last_seq_streams) {
  store *s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 0);
  cr_assert_eq(store_read(s, str("a")), SX_EMPTY);
  cr_assert_eq(store_streams(s), SX_EMPTY);
  for (int i = 1; i <= 3; i++) append_ok(s, "a", i);
  append_ok(s, "b", 1);
  commit_ok(s);
  cr_assert_eq(store_last_seq(s, str("a")), 3);
  sx_val l = store_read(s, str("a"));
  cr_assert_eq(sx_list_length(l), 3);
  for (int i = 1; i <= 3; i++, l = sx_cdr(l)) cr_assert(sx_equal(sx_car(l), ev(i, "t")), "event %d", i);
  cr_assert(sx_equal(store_streams(s), sx_list(2, (sx_val[]){str("a"), str("b")})));
  close_ok(s);
}

Test(store, state_survives_reopen) {
  store *s = open_w();
  for (int i = 1; i <= 50; i++) append_ok(s, i % 2 ? "odd" : "even", (i + 1) / 2);
  put_ok(s, "k", ev(9, "kv"));
  commit_ok(s);
  sx_val before = snapshot(s);
  close_ok(s);
  s = open_w();
  cr_assert(sx_equal(snapshot(s), before));
  cr_assert_eq(store_last_seq(s, str("odd")), 25);
  append_ok(s, "odd", 26);
  commit_ok(s);
  close_ok(s);
}

Test(store, wrong_seq_is_refused_and_nothing_written) {
  store *s = open_w();
  append_ok(s, "a", 1);
  commit_ok(s);
  off_t size = file_size(log_path());
  sx_val err = SX_NIL;
  int64_t bad[] = {1, 3, 0, -1, 100};
  for (size_t i = 0; i < 5; i++) {
    cr_assert_eq(store_append(s, str("a"), ev(bad[i], "t"), &err), -1);
    cr_assert(strstr(msg(err), "does not follow") != NULL, "%s", msg(err));
  }
  cr_assert_eq(store_append(s, str("new"), ev(2, "t"), &err), -1, "a new stream starts at 1");
  cr_assert_not(store_pending(s));
  commit_ok(s);
  cr_assert_eq(file_size(log_path()), size);
  cr_assert_eq(store_last_seq(s, str("a")), 1);
  cr_assert(sx_equal(store_streams(s), sx_list(1, (sx_val[]){str("a")})));
  close_ok(s);
}

Test(store, non_data_and_non_dict_events_are_refused) {
  store *s = open_w();
  sx_val err = SX_NIL;
  sx_fnhead *fn = sx_obj_new(SX_T_FN, sizeof *fn);
  fn->name = SX_NIL;
  sx_val e = sx_dict_assoc(ev(1, "t"), str("callback"), (sx_val)fn);
  cr_assert_eq(store_append(s, str("a"), e, &err), -1);
  cr_assert(strstr(msg(err), "function") != NULL, "%s", msg(err));
  cr_assert_eq(store_append(s, str("a"), sx_list(1, (sx_val[]){sx_int(1)}), &err), -1);
  cr_assert(strstr(msg(err), "dict") != NULL, "%s", msg(err));
  cr_assert_eq(store_append(s, str("a"), sx_dict_empty(), &err), -1);
  cr_assert(strstr(msg(err), ":seq") != NULL, "%s", msg(err));
  cr_assert_eq(store_append(s, sx_int(5), ev(1, "t"), &err), -1);
  cr_assert_eq(store_kv_put(s, str("k"), (sx_val)fn, &err), -1);
  cr_assert(strstr(msg(err), "function") != NULL);
  cr_assert_not(store_pending(s), "nothing was written");
  cr_assert_eq(store_last_seq(s, str("a")), 0);
  cr_assert_not(store_kv_has(s, str("k")));
  close_ok(s);
}

Test(store, truncate_keeps_high_water_mark_and_catalog) {
  store *s = open_w();
  for (int i = 1; i <= 10; i++) append_ok(s, "a", i);
  append_ok(s, "b", 1);
  commit_ok(s);
  sx_val err = SX_NIL;
  cr_assert_eq(store_truncate(s, str("a"), 7, &err), 0);
  cr_assert_eq(store_truncate(s, str("b"), 5, &err), 0, "truncate past the end drops all");
  cr_assert_eq(store_truncate(s, str("never"), 5, &err), 0, "unknown stream: no-op");
  cr_assert_eq(store_last_seq(s, str("a")), 10);
  cr_assert_eq(store_last_seq(s, str("b")), 1);
  sx_val l = store_read(s, str("a"));
  cr_assert_eq(sx_list_length(l), 3);
  cr_assert(sx_equal(sx_car(l), ev(8, "t")));
  cr_assert_eq(store_read(s, str("b")), SX_EMPTY);
  commit_ok(s);
  close_ok(s);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 10);
  cr_assert_eq(store_last_seq(s, str("b")), 1, "hwm survives full truncation");
  cr_assert(sx_equal(store_streams(s), sx_list(2, (sx_val[]){str("a"), str("b")})));
  cr_assert_eq(sx_list_length(store_read(s, str("a"))), 3);
  cr_assert_eq(store_read(s, str("b")), SX_EMPTY);
  cr_assert_eq(store_append(s, str("b"), ev(1, "t"), &err), -1, "a truncated stream never reuses a seq");
  append_ok(s, "b", 2);
  append_ok(s, "a", 11);
  cr_assert_eq(store_truncate(s, str("a"), 9, &err), 0);
  commit_ok(s);
  close_ok(s);
  s = open_w();
  l = store_read(s, str("a"));
  cr_assert_eq(sx_list_length(l), 2);
  cr_assert(sx_equal(sx_car(l), ev(10, "t")));
  cr_assert(sx_equal(store_read(s, str("b")), sx_list(1, (sx_val[]){ev(2, "t")})));
  close_ok(s);
}

Test(store, stream_names_and_keys_of_any_bytes_in_byte_order) {
  store *s = open_w();
  sx_val names[] = {sx_string_new("a\0b", 3), sx_string_new("\xff", 1), str(""), str("../etc/passwd"),
                    str("a")};
  sx_val err = SX_NIL;
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(store_append(s, names[i], ev(1, "t"), &err), 0, "%s", msg(err));
    cr_assert_eq(store_kv_put(s, names[i], sx_int(i), &err), 0);
  }
  commit_ok(s);
  close_ok(s);
  s = open_w();
  sx_val want = sx_list(5, (sx_val[]){names[2], names[3], names[4], names[0], names[1]});
  cr_assert(sx_equal(store_streams(s), want));
  cr_assert(sx_equal(store_kv_keys(s), want));
  cr_assert(sx_equal(store_kv_get(s, names[0]), sx_int(0)));
  cr_assert_eq(store_last_seq(s, names[1]), 1);
  close_ok(s);
}

/* ---- kv facet -------------------------------------------------------------------- */

Test(store, kv_put_get_has_delete_keys) {
  store *s = open_w();
  sx_val err = SX_NIL;
  cr_assert_eq(store_kv_get(s, str("x")), SX_NIL);
  cr_assert_not(store_kv_has(s, str("x")));
  put_ok(s, "x", sx_int(1));
  put_ok(s, "y", SX_NIL); /* a stored nil is still a key */
  put_ok(s, "x", ev(3, "v"));
  put_ok(s, "z", sx_float(-0.0));
  cr_assert(sx_equal(store_kv_get(s, str("x")), ev(3, "v")));
  cr_assert(store_kv_has(s, str("y")));
  cr_assert_eq(store_kv_delete(s, str("z"), &err), 0);
  cr_assert_eq(store_kv_delete(s, str("absent"), &err), 0);
  cr_assert(sx_equal(store_kv_keys(s), sx_list(2, (sx_val[]){str("x"), str("y")})));
  commit_ok(s);
  close_ok(s);
  s = open_w();
  cr_assert(sx_equal(store_kv_get(s, str("x")), ev(3, "v")));
  cr_assert(store_kv_has(s, str("y")));
  cr_assert_eq(store_kv_get(s, str("y")), SX_NIL);
  cr_assert_not(store_kv_has(s, str("z")));
  cr_assert(sx_equal(store_kv_keys(s), sx_list(2, (sx_val[]){str("x"), str("y")})));
  put_ok(s, "z", SX_TRUE);
  commit_ok(s);
  close_ok(s);
  s = open_w();
  cr_assert_eq(store_kv_get(s, str("z")), SX_TRUE);
  close_ok(s);
}

/* ---- transactions ----------------------------------------------------------------- */

/* A writer on a store holding event 1 of "a" and k = 1. */
static store *open_with_a_and_k(void) {
  store *s = open_w();
  append_ok(s, "a", 1);
  put_ok(s, "k", sx_int(1));
  commit_ok(s);
  return s;
}

Test(store, own_writes_visible_and_rollback_discards) {
  store *s = open_with_a_and_k();
  sx_val committed = snapshot(s);
  append_ok(s, "a", 2);
  append_ok(s, "new", 1);
  put_ok(s, "k", sx_int(2));
  put_ok(s, "k2", sx_int(3));
  sx_val err;
  cr_assert_eq(store_kv_delete(s, str("k"), &err), 0);
  cr_assert_eq(store_truncate(s, str("a"), 1, &err), 0);
  cr_assert(store_pending(s));
  cr_assert_eq(store_last_seq(s, str("a")), 2);
  cr_assert_eq(store_last_seq(s, str("new")), 1);
  cr_assert(sx_equal(store_read(s, str("a")), sx_list(1, (sx_val[]){ev(2, "t")})));
  cr_assert_not(store_kv_has(s, str("k")));
  cr_assert(sx_equal(store_kv_get(s, str("k2")), sx_int(3)));
  store_rollback(s);
  cr_assert_not(store_pending(s));
  cr_assert(sx_equal(snapshot(s), committed));
  append_ok(s, "a", 2); /* the seq is free again */
  commit_ok(s);
  close_ok(s);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 2);
  cr_assert_eq(store_last_seq(s, str("new")), 0);
  cr_assert(sx_equal(store_kv_get(s, str("k")), sx_int(1)));
  close_ok(s);
}

Test(store, close_rolls_back_pending_writes) {
  store *s = open_w();
  append_ok(s, "a", 1);
  commit_ok(s);
  append_ok(s, "a", 2);
  put_ok(s, "k", SX_TRUE);
  close_ok(s);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 1);
  cr_assert_not(store_kv_has(s, str("k")));
  close_ok(s);
}

Test(store, one_frame_per_commit_and_empty_commit_writes_nothing) {
  store *s = open_w();
  off_t empty = file_size(log_path());
  commit_ok(s);
  cr_assert_eq(file_size(log_path()), empty);
  append_ok(s, "a", 1);
  commit_ok(s);
  cr_assert_gt(file_size(log_path()), empty);
  close_ok(s);
}

/* ---- reads and the cache ------------------------------------------------------------- */

Test(store, repeated_reads_share_the_cached_list) {
  store *s = open_w();
  for (int i = 1; i <= 100; i++) append_ok(s, "a", i);
  commit_ok(s);
  close_ok(s);
  s = open_w();
  sx_val l1 = store_read(s, str("a")), l2 = store_read(s, str("a"));
  cr_assert_eq(l1, l2, "the immutable list is handed out again");
  append_ok(s, "a", 101);
  sx_val l3 = store_read(s, str("a"));
  cr_assert_eq(sx_list_length(l1), 100, "old list unchanged");
  cr_assert_eq(sx_list_length(l3), 101);
  cr_assert(sx_equal(sx_car(l3), ev(1, "t")));
  close_ok(s);
}

Test(store, tiny_cache_budget_still_reads_correctly) {
  store_opts o = {.cache_bytes = 256};
  store *s = open_opts(&o);
  for (int i = 1; i <= 200; i++) append_ok(s, i % 2 ? "a" : "b", (i + 1) / 2);
  put_ok(s, "k", ev(1, "kv"));
  commit_ok(s);
  close_ok(s);
  s = open_opts(&o);
  for (int round = 0; round < 3; round++) {
    cr_assert_eq(sx_list_length(store_read(s, str("a"))), 100);
    cr_assert_eq(sx_list_length(store_read(s, str("b"))), 100);
    cr_assert(sx_equal(store_kv_get(s, str("k")), ev(1, "kv")));
  }
  store_stats st;
  store_get_stats(s, &st);
  cr_assert_eq(st.events, 200);
  cr_assert_eq(st.streams, 2);
  cr_assert_eq(st.kv_keys, 1);
  close_ok(s);
}

/* ---- crash recovery -------------------------------------------------------------------- */

Test(store, torn_tail_at_every_byte_recovers_previous_commit) {
  store *s = open_w();
  for (int i = 1; i <= 3; i++) append_ok(s, "a", i);
  put_ok(s, "k", sx_int(1));
  commit_ok(s);
  sx_val committed = snapshot(s);
  off_t before = (off_t)data_end(s);
  append_ok(s, "a", 4);
  append_ok(s, "b", 1);
  put_ok(s, "k", sx_int(2));
  sx_val err;
  cr_assert_eq(store_truncate(s, str("a"), 2, &err), 0);
  commit_ok(s);
  off_t after = (off_t)data_end(s);
  close_ok(s);
  char src[128], sub[128];
  snprintf(src, sizeof src, "%s/full-log", dir);
  rename(log_path(), src);
  snprintf(sub, sizeof sub, "%s/lock", dir);
  unlink(sub);
  for (off_t cut = before; cut < after; cut++) {
    copy_prefix(src, log_path(), cut);
    sx_buf rep = SX_BUF_INIT;
    cr_assert_eq(store_check(dir, &rep), 0, "a torn tail is not damage: %s", rep.data);
    if (cut > before) cr_assert(strstr(rep.data, "torn tail") != NULL);
    sx_buf_free(&rep);
    s = open_w();
    cr_assert(sx_equal(snapshot(s), committed), "cut at %lld", (long long)cut);
    cr_assert_eq(data_end(s), (uint64_t)before);
    close_ok(s);
    cr_assert_eq(file_size(log_path()), before, "the torn tail is discarded");
  }
  copy_prefix(src, log_path(), after);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("b")), 1);
  close_ok(s);
}

Test(store, garbage_after_last_frame_is_a_torn_tail) {
  store *s = open_w();
  append_ok(s, "a", 1);
  commit_ok(s);
  off_t size = (off_t)data_end(s);
  close_ok(s);
  int fd = open(log_path(), O_WRONLY | O_APPEND);
  cr_assert_eq(write(fd, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0garbage", 27), 27);
  close(fd);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 1);
  close_ok(s);
  cr_assert_eq(file_size(log_path()), size);
}

Test(store, flipped_bit_mid_file_is_reported_with_file_and_offset) {
  store *s = open_w();
  append_ok(s, "a", 1);
  commit_ok(s);
  off_t second = (off_t)data_end(s);
  append_ok(s, "a", 2);
  commit_ok(s);
  append_ok(s, "a", 3);
  commit_ok(s);
  close_ok(s);
  flip_bit(log_path(), second + 12); /* inside the second frame's payload */
  store *t = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, NULL, &t, &err), -1);
  char want[160];
  snprintf(want, sizeof want, "%s is damaged at offset %lld", log_path(), (long long)second);
  cr_assert(strstr(msg(err), want) != NULL, "message: %s", msg(err));
  store_opts ro = {.read_only = true};
  cr_assert_eq(store_open(dir, &ro, &t, &err), -1, "never served read-only either");
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 1);
  snprintf(want, sizeof want, "%s: damaged at offset %lld", log_path(), (long long)second);
  cr_assert(strstr(rep.data, want) != NULL, "report: %s", rep.data);
  sx_buf_free(&rep);
}

Test(store, zero_filled_space_after_the_data_is_clean) {
  store *s = open_w();
  append_ok(s, "a", 1);
  commit_ok(s);
  uint64_t end = data_end(s);
  close_ok(s);
  off_t size = file_size(log_path());
  cr_assert_gt(size, (off_t)end, "the log is zero-filled ahead of the data");
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 0, "%s", rep.data);
  cr_assert(strstr(rep.data, "zero-filled") != NULL, "%s", rep.data);
  sx_buf_free(&rep);
  s = open_w();
  cr_assert_eq(data_end(s), end);
  append_ok(s, "a", 2);
  commit_ok(s);
  close_ok(s);
  cr_assert_eq(file_size(log_path()), size, "commits overwrite the zero-filled space");
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 2);
  close_ok(s);
}

Test(store, damaged_header_is_reported) {
  store *s = open_w();
  close_ok(s);
  flip_bit(log_path(), 2);
  store *t = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, NULL, &t, &err), -1);
  cr_assert(strstr(msg(err), "offset 0") != NULL, "%s", msg(err));
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 1);
  sx_buf_free(&rep);
}

Test(store, check_of_an_interrupted_creation) {
  /* a crash after the lock was taken but before the log was installed */
  char path[128];
  snprintf(path, sizeof path, "%s/lock", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fclose(f);
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 0, "%s", rep.data);
  cr_assert(strstr(rep.data, "no log yet") != NULL, "%s", rep.data);
  sx_buf_free(&rep);
  remove(path); /* nor had it taken the lock: an empty directory */
  cr_assert_eq(store_check(dir, &rep), 0, "%s", rep.data);
  cr_assert(strstr(rep.data, "no log yet") != NULL, "%s", rep.data);
  sx_buf_free(&rep);
  snprintf(path, sizeof path, "%s/log.tmp", dir); /* or it crashed while writing the log */
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("SXST", f);
  fclose(f);
  cr_assert_eq(store_check(dir, &rep), 0, "%s", rep.data);
  cr_assert(strstr(rep.data, "empty store") != NULL, "%s", rep.data);
  sx_buf_free(&rep);
  snprintf(path, sizeof path, "%s/notes.txt", dir); /* anything else is not a store */
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fclose(f);
  cr_assert_eq(store_check(dir, &rep), -1, "%s", rep.data);
  sx_buf_free(&rep);
  remove(path);
  store *s = open_w(); /* and the next open creates it */
  append_ok(s, "a", 1);
  commit_ok(s);
  close_ok(s);
  cr_assert_eq(store_check(dir, &rep), 0, "%s", rep.data);
  sx_buf_free(&rep);
}

Test(store, check_clean_store) {
  store *s = open_w();
  append_ok(s, "a", 1);
  put_ok(s, "k", sx_int(1));
  commit_ok(s);
  close_ok(s);
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 0, "%s", rep.data);
  cr_assert(strstr(rep.data, "1 streams, 1 events, 1 kv keys, ok") != NULL, "%s", rep.data);
  sx_buf_free(&rep);
  cr_assert_eq(store_check("/tmp/definitely-not-a-store-dir", &rep), -1);
  sx_buf_free(&rep);
}

/* Child: append in transactions of two events, reporting each commit. */
static void crash_child(int wfd, store_sync mode) {
  store_opts o = {.sync = mode};
  store *s = NULL;
  sx_val err;
  if (store_open(dir, &o, &s, &err)) _exit(2);
  for (int64_t i = 1;; i += 2) {
    if (store_append(s, str("a"), ev(i, "t"), &err) || store_append(s, str("a"), ev(i + 1, "t"), &err) ||
        store_kv_put(s, str("last"), sx_int(i + 1), &err) || store_commit(s, &err))
      _exit(3);
    if (write(wfd, &i, sizeof i) != sizeof i) _exit(4);
  }
}

static void kill9_keeps_acknowledged(store_sync mode) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    crash_child(p[1], mode);
  }
  close(p[1]);
  int64_t acked = 0, i;
  while (acked < 301 && read(p[0], &i, sizeof i) == sizeof i) acked = i + 1;
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  while (read(p[0], &i, sizeof i) == sizeof i) acked = i + 1; /* reported before death */
  close(p[0]);
  store *s = open_w();
  int64_t last = store_last_seq(s, str("a"));
  cr_assert_geq(last, acked, "every acknowledged commit survives (%lld < %lld)", (long long)last,
                (long long)acked);
  cr_assert_eq(last % 2, 0, "transactions are atomic");
  cr_assert(sx_equal(store_kv_get(s, str("last")), sx_int(last)), "kv and log agree");
  cr_assert_eq((int64_t)sx_list_length(store_read(s, str("a"))), last);
  close_ok(s);
}

Test(store, kill9_full_mode) { kill9_keeps_acknowledged(STORE_SYNC_FULL); }
Test(store, kill9_batch_mode) { kill9_keeps_acknowledged(STORE_SYNC_BATCH); }

/* ---- lock, read-only handles ------------------------------------------------------------ */

Test(store, second_writer_gets_locked_by_pid) {
  store *s = open_w();
  char want[160];
  snprintf(want, sizeof want, "store %s is locked by pid %d", dir, (int)getpid());
  store *t = NULL;
  sx_val err = SX_NIL;
  /* inside the process a second writable open shares the handle ... */
  cr_assert_eq(store_open(dir, NULL, &t, &err), 0);
  cr_assert_eq(t, s);
  store_opts off = {.sync = STORE_SYNC_OFF}; /* ... when the sync modes agree */
  store *u = NULL;
  cr_assert_eq(store_open(dir, &off, &u, &err), -1);
  cr_assert(strstr(msg(err), "already open in this process with sync full"), "%s", msg(err));
  close_ok(t);
  /* another process gets the owner's pid (a forked child does not share
   * the handle it inherited) */
  pid_t pid = fork();
  if (pid == 0) {
    store *c = NULL;
    sx_val e = SX_NIL;
    child_exit(store_open(dir, NULL, &c, &e) == -1 && strcmp(msg(e), want) == 0 ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child saw the lock message");
  close_ok(s);
  s = open_w(); /* released on close */
  close_ok(s);
}

static void wait_byte(int fd) {
  char c;
  cr_assert_eq(read(fd, &c, 1), 1);
}

Test(store, reader_works_beside_writer_process_and_refreshes) {
  store *s = open_w();
  close_ok(s);
  int to_child[2], to_parent[2];
  cr_assert_eq(pipe(to_child), 0);
  cr_assert_eq(pipe(to_parent), 0);
  pid_t pid = fork();
  if (pid == 0) {
    store *w = NULL;
    sx_val e;
    char c;
    if (store_open(dir, NULL, &w, &e)) _exit(2);
    store_append(w, str("a"), ev(1, "t"), &e);
    store_kv_put(w, str("k"), sx_int(1), &e);
    if (store_commit(w, &e)) _exit(3);
    if (write(to_parent[1], "a", 1) != 1 || read(to_child[0], &c, 1) != 1) _exit(4);
    store_append(w, str("a"), ev(2, "t"), &e);
    store_append(w, str("b"), ev(1, "t"), &e);
    store_kv_put(w, str("k"), sx_int(2), &e);
    if (store_commit(w, &e)) _exit(5);
    if (write(to_parent[1], "c", 1) != 1 || read(to_child[0], &c, 1) != 1) _exit(6);
    store_close(w, &e);
    _exit(0);
  }
  wait_byte(to_parent[0]);
  store *r = open_ro();
  cr_assert_eq(store_last_seq(r, str("a")), 1);
  cr_assert(sx_equal(store_kv_get(r, str("k")), sx_int(1)));
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(r, str("a"), ev(2, "t"), &err), -1);
  cr_assert(strstr(msg(err), "read-only") != NULL);
  store *t = NULL;
  char want[160];
  snprintf(want, sizeof want, "store %s is locked by pid %d", dir, (int)pid);
  cr_assert_eq(store_open(dir, NULL, &t, &err), -1);
  cr_assert_str_eq(msg(err), want);
  cr_assert_eq(write(to_child[1], "b", 1), 1);
  wait_byte(to_parent[0]);
  cr_assert_eq(store_last_seq(r, str("a")), 1, "no change until refresh");
  cr_assert_eq(store_refresh(r, &err), 0, "%s", msg(err));
  cr_assert_eq(store_last_seq(r, str("a")), 2);
  cr_assert_eq(sx_list_length(store_read(r, str("a"))), 2);
  cr_assert(sx_equal(store_streams(r), sx_list(2, (sx_val[]){str("a"), str("b")})));
  cr_assert(sx_equal(store_kv_get(r, str("k")), sx_int(2)));
  cr_assert_eq(write(to_child[1], "d", 1), 1);
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer child status %d", status);
  close_ok(r);
}

Test(store, read_only_open_of_missing_store_fails) {
  char p[128];
  snprintf(p, sizeof p, "%s/nothing-here", dir);
  store_opts o = {.read_only = true};
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(p, &o, &s, &err), -1);
  cr_assert(strstr(msg(err), "does not exist") != NULL, "%s", msg(err));
}

Test(store, creates_nested_directories) {
  char p[128];
  snprintf(p, sizeof p, "%s/x/y/z", dir);
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(p, NULL, &s, &err), 0, "%s", msg(err));
  close_ok(s);
}

/* ---- sync modes ------------------------------------------------------------------------------ */

static void sync_mode_roundtrip(store_sync mode) {
  store_opts o = {.sync = mode, .batch_window_ms = 5};
  store *s = open_opts(&o);
  for (int i = 1; i <= 500; i++) {
    append_ok(s, "a", i);
    commit_ok(s);
  }
  store_stats st;
  store_get_stats(s, &st);
  cr_assert_eq(st.sync, mode);
  close_ok(s);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 500);
  cr_assert_eq(sx_list_length(store_read(s, str("a"))), 500);
  close_ok(s);
}

Test(store, batch_mode_roundtrip) { sync_mode_roundtrip(STORE_SYNC_BATCH); }
Test(store, off_mode_roundtrip) { sync_mode_roundtrip(STORE_SYNC_OFF); }

Test(store, off_mode_buffers_until_flush) {
  store_opts o = {.sync = STORE_SYNC_OFF};
  store *s = open_opts(&o);
  append_ok(s, "a", 1);
  commit_ok(s);
  cr_assert_eq(store_last_seq(s, str("a")), 1);
  cr_assert(sx_equal(store_read(s, str("a")), sx_list(1, (sx_val[]){ev(1, "t")})));
  store *r = open_ro();
  cr_assert_eq(store_last_seq(r, str("a")), 0, "still in the writer's buffer");
  sx_val err = SX_NIL;
  cr_assert_eq(store_flush(s, &err), 0, "%s", msg(err));
  cr_assert_eq(store_refresh(r, &err), 0);
  cr_assert_eq(store_last_seq(r, str("a")), 1);
  close_ok(r);
  close_ok(s);
}

/* Messages name a PostgreSQL store without its password. */
Test(store, labels_drop_passwords) {
  const char *cases[][2] = {
      {"postgresql://app:s3cret@db/rose?sx_schema=p", "postgresql://app@db/rose?sx_schema=p"},
      {"postgres:///rose?host=/tmp/x&password=s3cret&user=u", "postgres:///rose?host=/tmp/x&user=u"},
      {"postgresql:///rose?password=s3cret", "postgresql:///rose"},
      {"/var/lib/store", "/var/lib/store"},
      {"/srv/a:b@c", "/srv/a:b@c"},
      {"postgresql://app@db:5433/rose", "postgresql://app@db:5433/rose"},
      {"postgresql://app@db/rose", "postgresql://app@db/rose"},
      {"postgresql://db:5433/rose?", "postgresql://db:5433/rose"},
      {"postgres://db/rose?password=s3cret&", "postgres://db/rose"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *l = store_label(cases[i][0]);
    cr_assert_str_eq(l, cases[i][1]);
    cr_assert_null(strstr(l, "s3cret"));
    free(l);
  }
}

/* ---- caches inside one handle ----------------------------------------------------
 * Listings and reads are cached (the handle's stream and key lists, a
 * stream's event list, decoded values): a listing taken, then a key or
 * stream added or removed, then listed again must show the change, inside
 * one transaction (its own writes) and across transactions (commits). */

/* The strings of a list, joined by spaces. */
static const char *joined(sx_val list) {
  static char buf[512];
  size_t o = 0;
  buf[0] = '\0';
  for (; sx_is_cons(list); list = sx_cdr(list))
    o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", o ? " " : "", sx_str_data(sx_car(list)));
  return buf;
}

static int txn_ok(int rc, sx_val err) {
  cr_assert_eq(rc, 0, "%s", msg(err));
  return rc;
}

Test(store, listings_in_one_transaction_follow_its_own_writes) {
  store *s = open_w();
  put_ok(s, "b", sx_int(1));
  put_ok(s, "d", sx_int(1));
  append_ok(s, "m", 1);
  commit_ok(s);
  store_txn *t = store_txn_begin(s);
  sx_val err = SX_NIL;
  cr_assert_str_eq(joined(store_txn_kv_keys(t)), "b d");
  cr_assert_str_eq(joined(store_txn_streams(t)), "m");
  txn_ok(store_txn_kv_put(t, str("a"), sx_int(2), &err), err);
  cr_assert_str_eq(joined(store_txn_kv_keys(t)), "a b d", "a key put in the transaction");
  txn_ok(store_txn_kv_delete(t, str("b"), &err), err);
  cr_assert_str_eq(joined(store_txn_kv_keys(t)), "a d", "a committed key deleted in the transaction");
  txn_ok(store_txn_kv_delete(t, str("a"), &err), err);
  cr_assert_str_eq(joined(store_txn_kv_keys(t)), "d", "a key put and deleted again");
  txn_ok(store_txn_kv_put(t, str("b"), sx_int(3), &err), err);
  cr_assert_str_eq(joined(store_txn_kv_keys(t)), "b d", "a deleted key put back");
  txn_ok(store_txn_append(t, str("z"), ev(1, "t"), &err), err);
  txn_ok(store_txn_append(t, str("a"), ev(1, "t"), &err), err);
  cr_assert_str_eq(joined(store_txn_streams(t)), "a m z", "streams appended to in the transaction");
  txn_ok(store_txn_append(t, str("m"), ev(2, "t"), &err), err);
  cr_assert_str_eq(joined(store_txn_streams(t)), "a m z", "an existing stream is listed once");
  cr_assert_eq(sx_list_length(store_txn_read(t, str("m"))), 2);
  txn_ok(store_txn_truncate(t, str("m"), 1, &err), err);
  cr_assert_eq(sx_list_length(store_txn_read(t, str("m"))), 1, "a truncation in the transaction");
  uint64_t ticket;
  txn_ok(store_txn_commit(t, &ticket, &err), err);
  cr_assert_eq(store_wait_durable(s, ticket, &err), 0);
  cr_assert_str_eq(joined(store_kv_keys(s)), "b d");
  cr_assert_str_eq(joined(store_streams(s)), "a m z");
  close_ok(s);
}

Test(store, listings_and_reads_across_transactions_follow_the_commits) {
  store *s = open_w();
  sx_val err = SX_NIL;
  cr_assert_str_eq(joined(store_kv_keys(s)), "");
  cr_assert_str_eq(joined(store_streams(s)), "");
  put_ok(s, "k1", sx_int(1));
  commit_ok(s);
  cr_assert_str_eq(joined(store_kv_keys(s)), "k1", "a key added by a commit");
  put_ok(s, "k1", sx_int(2)); /* an overwrite keeps the list */
  put_ok(s, "k0", sx_int(0));
  commit_ok(s);
  cr_assert_str_eq(joined(store_kv_keys(s)), "k0 k1");
  cr_assert_eq(sx_int_val(store_kv_get(s, str("k1"))), 2, "the cached value follows an overwrite");
  cr_assert_eq(store_kv_delete(s, str("k1"), &err), 0);
  commit_ok(s);
  cr_assert_str_eq(joined(store_kv_keys(s)), "k0", "a key removed by a commit");
  cr_assert_eq(store_kv_get(s, str("k1")), SX_NIL);
  put_ok(s, "k1", sx_int(3));
  commit_ok(s);
  cr_assert_str_eq(joined(store_kv_keys(s)), "k0 k1", "a removed key put back");
  cr_assert_eq(sx_int_val(store_kv_get(s, str("k1"))), 3);
  append_ok(s, "s2", 1);
  commit_ok(s);
  cr_assert_str_eq(joined(store_streams(s)), "s2", "a stream added by a commit");
  cr_assert_eq(sx_list_length(store_read(s, str("s2"))), 1);
  append_ok(s, "s1", 1);
  append_ok(s, "s2", 2);
  commit_ok(s);
  cr_assert_str_eq(joined(store_streams(s)), "s1 s2");
  cr_assert_eq(sx_list_length(store_read(s, str("s2"))), 2, "the cached event list follows an append");
  cr_assert_eq(store_truncate(s, str("s2"), 1, &err), 0);
  commit_ok(s);
  sx_val evs = store_read(s, str("s2"));
  cr_assert_eq(sx_list_length(evs), 1, "the cached event list follows a truncation");
  append_ok(s, "s2", 3);
  commit_ok(s);
  evs = store_read(s, str("s2"));
  cr_assert_eq(sx_list_length(evs), 2);
  cr_assert_eq(sx_int_val(sx_dict_lookup(sx_car(sx_cdr(evs)), str("seq"))), 3);
  cr_assert_eq(store_truncate(s, str("s2"), 3, &err), 0);
  commit_ok(s);
  cr_assert_eq(store_read(s, str("s2")), SX_EMPTY, "truncated to nothing");
  cr_assert_str_eq(joined(store_streams(s)), "s1 s2", "a stream truncated to nothing stays listed");
  close_ok(s);
  s = open_w(); /* the same after a replay */
  cr_assert_str_eq(joined(store_kv_keys(s)), "k0 k1");
  cr_assert_str_eq(joined(store_streams(s)), "s1 s2");
  cr_assert_eq(store_last_seq(s, str("s2")), 3);
  close_ok(s);
}

/* ---- what stands in the way of opening, refreshing and naming ---------------------------- */

/* Opening dir fails with a message holding want. */
static void open_fails(const char *d, const store_opts *o, const char *want) {
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(d, o, &s, &err), STORE_EFAIL, "%s opened; expected: %s", d, want);
  cr_assert(strstr(msg(err), want), "%s (expected: %s)", msg(err), want);
  cr_assert_null(s);
}

Test(store, open_names_what_stands_in_its_way) {
  char p[160], lock[200];
  store_opts ro = {.read_only = true};
  snprintf(p, sizeof p, "%s/file", dir);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fclose(f);
  open_fails(p, &ro, "does not exist"); /* a file, not a directory */
  snprintf(p, sizeof p, "%s/file/store", dir);
  open_fails(p, NULL, "cannot create the directory: Not a directory");
  snprintf(p, sizeof p, "%s/lockdir", dir);
  snprintf(lock, sizeof lock, "%s/lock", p);
  cr_assert_eq(mkdir(p, 0755), 0);
  cr_assert_eq(mkdir(lock, 0755), 0);
  open_fails(p, NULL, "/lock: Is a directory");
  snprintf(p, sizeof p, "%s/logdir", dir);
  snprintf(lock, sizeof lock, "%s/log", p);
  cr_assert_eq(mkdir(p, 0755), 0);
  cr_assert_eq(mkdir(lock, 0755), 0);
  open_fails(p, NULL, "/log: Is a directory");
  cr_assert_eq(access(lock, F_OK), 0, "nothing was replaced");
}

Test(store, a_lock_held_by_an_owner_that_never_names_itself) {
  store *s = open_w();
  append_ok(s, "a", 1);
  commit_ok(s);
  close_ok(s);
  char lock[128];
  snprintf(lock, sizeof lock, "%s/lock", dir);
  int fd = open(lock, O_RDWR | O_TRUNC); /* a locker that died before writing its pid, or is slow */
  cr_assert_geq(fd, 0);
  cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
  open_fails(dir, NULL, "is locked by another process");
  store *r = open_ro(); /* a reader needs no lock */
  cr_assert_eq(store_last_seq(r, str("a")), 1);
  close_ok(r);
  close(fd);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), 1, "the store is intact once the lock is free");
  close_ok(s);
}

static uint64_t log_bytes(store *s) {
  store_stats st;
  store_get_stats(s, &st);
  return st.log_bytes;
}

Test(store, a_refresh_that_finds_damage_refuses_from_then_on) {
  store *w = open_w();
  append_ok(w, "a", 1);
  commit_ok(w);
  store *r = open_ro();
  uint64_t second = log_bytes(w);
  append_ok(w, "a", 2);
  commit_ok(w);
  append_ok(w, "a", 3); /* a later frame vouches for the damaged one: not a torn tail */
  commit_ok(w);
  char lp[128];
  snprintf(lp, sizeof lp, "%s/log", dir);
  int fd = open(lp, O_RDWR);
  cr_assert_geq(fd, 0);
  char c;
  cr_assert_eq(pread(fd, &c, 1, (off_t)second + 20), 1);
  c ^= 0x40;
  cr_assert_eq(pwrite(fd, &c, 1, (off_t)second + 20), 1);
  close(fd);
  sx_val err = SX_NIL;
  cr_assert_eq(store_refresh(r, &err), STORE_EFAIL);
  cr_assert(strstr(msg(err), "is damaged at offset"), "%s", msg(err));
  sx_val again = SX_NIL;
  cr_assert_eq(store_refresh(r, &again), STORE_EFAIL, "refused from then on");
  cr_assert_str_eq(msg(again), msg(err));
  cr_assert_eq(store_last_seq(r, str("a")), 1, "it still serves what it had read cleanly");
  cr_assert_eq(sx_list_length(store_read(r, str("a"))), 1);
  close_ok(r);
  close_ok(w);
}

Test(store, names_and_keys_that_are_not_strings) {
  store *s = open_with_a_and_k();
  sx_val bad = sx_int(7), err = SX_NIL;
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_last_seq(t, bad), 0, "read as absent");
  cr_assert_eq(store_txn_read(t, bad), SX_EMPTY);
  cr_assert_eq(store_txn_kv_get(t, bad), SX_NIL);
  cr_assert(!store_txn_kv_has(t, bad));
  cr_assert_eq(store_txn_append(t, bad, ev(1, "t"), &err), STORE_EFAIL, "refused as a write");
  cr_assert_str_eq(msg(err), "append: the stream name must be a string, got integer");
  cr_assert_eq(store_txn_truncate(t, bad, 1, &err), STORE_EFAIL);
  cr_assert_str_eq(msg(err), "truncate: the stream name must be a string, got integer");
  cr_assert_eq(store_txn_kv_put(t, bad, sx_int(1), &err), STORE_EFAIL);
  cr_assert_str_eq(msg(err), "kv-put: the key must be a string, got integer");
  cr_assert_eq(store_txn_kv_delete(t, bad, &err), STORE_EFAIL);
  cr_assert_str_eq(msg(err), "kv-delete: the key must be a string, got integer");
  cr_assert(!store_txn_dirty(t), "nothing was written");
  store_txn_abort(t);
  cr_assert_eq(store_last_seq(s, str("a")), 1);
  close_ok(s);
}

/* ---- transactions at their edges (issue 18): conflicts seen while running,
 * conflicts found at commit, reads the log can no longer serve ------------------ */

static const char *err_text(sx_val v) {
  cr_assert(sx_is(v, SX_T_ERROR), "not an error value");
  return msg(((const sx_error *)v)->message);
}

static store_txn *committed_txn(store *s, void (*writes)(store_txn *)) {
  store_txn *o = store_txn_begin(s);
  writes(o);
  uint64_t ticket;
  sx_val err = SX_NIL;
  txn_ok(store_txn_commit(o, &ticket, &err), err);
  return o;
}

static void w_s2_k2(store_txn *o) {
  sx_val err = SX_NIL;
  txn_ok(store_txn_append(o, str("s"), ev(2, "t"), &err), err);
  txn_ok(store_txn_kv_put(o, str("k"), sx_int(2), &err), err);
}

Test(store, a_reread_that_sees_another_commit_dooms_the_transaction) {
  store *s = open_w();
  append_ok(s, "s", 1);
  put_ok(s, "k", sx_int(1));
  commit_ok(s);
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(sx_list_length(store_txn_read(t, str("s"))), 1);
  cr_assert(sx_equal(store_txn_kv_get(t, str("k")), sx_int(1)));
  committed_txn(s, w_s2_k2);
  static const char doom[] = "conflict: stream \"s\" was changed by another evaluation while this one ran";
  cr_assert_str_eq(err_text(store_txn_read(t, str("s"))), doom);
  sx_val m = SX_NIL;
  cr_assert(store_txn_conflicted(t, &m));
  cr_assert_str_eq(msg(m), doom);
  /* the key changed too: the read fails, still naming the first conflict */
  cr_assert_str_eq(err_text(store_txn_kv_get(t, str("k"))), doom);
  sx_val err = SX_NIL;
  txn_ok(store_txn_kv_put(t, str("other"), sx_int(1), &err), err);
  uint64_t ticket = 99;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_ECONFLICT);
  cr_assert_str_eq(msg(err), doom);
  cr_assert_eq(ticket, 0);
  cr_assert(!store_kv_has(s, str("other")), "a doomed transaction wrote nothing");
  cr_assert(sx_equal(store_kv_get(s, str("k")), sx_int(2)));
  close_ok(s);
}

static void w_new_stream(store_txn *o) {
  sx_val err = SX_NIL;
  txn_ok(store_txn_append(o, str("new"), ev(1, "t"), &err), err);
}

Test(store, a_listing_that_changes_under_a_transaction_dooms_it) {
  store *s = open_w();
  append_ok(s, "s", 1);
  commit_ok(s);
  store_txn *t = store_txn_begin(s);
  cr_assert_str_eq(joined(store_txn_streams(t)), "s");
  committed_txn(s, w_new_stream);
  store_txn_streams(t);
  sx_val m = SX_NIL;
  cr_assert(store_txn_conflicted(t, &m));
  cr_assert_str_eq(msg(m), "conflict: the stream list changed by another evaluation while this one ran");
  store_txn_abort(t);
  close_ok(s);
}

static void w_trunc_s(store_txn *o) {
  sx_val err = SX_NIL;
  txn_ok(store_txn_truncate(o, str("s"), 1, &err), err);
}

static void w_k1_k2(store_txn *o) {
  sx_val err = SX_NIL;
  txn_ok(store_txn_kv_put(o, str("k1"), sx_int(10), &err), err);
  txn_ok(store_txn_kv_put(o, str("k2"), sx_int(20), &err), err);
}

/* A truncation changes a stream's contents but not its mark: a writing
 * transaction that read the contents conflicts on them at commit. */
Test(store, a_truncation_under_a_writing_transaction_that_read_the_stream_is_a_conflict) {
  store *s = open_w();
  append_ok(s, "s", 1);
  append_ok(s, "s", 2);
  commit_ok(s);
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(sx_list_length(store_txn_read(t, str("s"))), 2);
  committed_txn(s, w_trunc_s);
  sx_val err = SX_NIL;
  txn_ok(store_txn_kv_put(t, str("seen"), sx_int(2), &err), err);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_ECONFLICT);
  cr_assert_str_eq(msg(err),
                   "conflict: stream \"s\" was changed by another evaluation since this one read it");
  cr_assert(!store_kv_has(s, str("seen")));
  close_ok(s);
}

/* A read-only transaction needs one moment at which all its reads held:
 * none exists when it read k1, then k2 after a commit changed both. */
Test(store, a_read_only_transaction_without_one_consistent_moment_is_a_conflict) {
  store *s = open_w();
  put_ok(s, "k1", sx_int(1));
  put_ok(s, "k2", sx_int(2));
  commit_ok(s);
  store_txn *t = store_txn_begin(s);
  cr_assert(sx_equal(store_txn_kv_get(t, str("k1")), sx_int(1)));
  committed_txn(s, w_k1_k2);
  cr_assert(sx_equal(store_txn_kv_get(t, str("k2")), sx_int(20)));
  uint64_t ticket;
  sx_val err = SX_NIL;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_ECONFLICT);
  cr_assert_str_eq(msg(err),
                   "conflict: kv key \"k1\" was changed by another evaluation since this one read it");
  close_ok(s);
}

/* Overwrite with a bad tag the first byte of the value after the record
 * head rec (type, name) in the log's first n bytes: the value's length
 * (one byte) follows the head, and for an append the seq (one byte) first. */
static void damage_value_after(const char *rec, size_t reclen, size_t n) {
  int fd = open(log_path(), O_RDWR);
  unsigned char *buf = malloc(n);
  cr_assert_eq(pread(fd, buf, n, 0), (ssize_t)n);
  unsigned char *r = memmem(buf, n, rec, reclen);
  cr_assert_not_null(r);
  size_t skip = rec[0] == 'A' ? 2 : 1;
  cr_assert_eq(pwrite(fd, "\x7f", 1, (off_t)(r - buf) + (off_t)(reclen + skip)), 1);
  free(buf);
  close(fd);
}

/* Bytes of the log damaged after the open: the read fails naming the file
 * and offset, and the transaction that made it can only fail. */
Test(store, a_value_damaged_after_the_open_breaks_the_transaction_that_reads_it) {
  store *s = open_w();
  append_ok(s, "s", 1);
  put_ok(s, "k", str("a value to damage"));
  commit_ok(s);
  size_t end = (size_t)data_end(s);
  close_ok(s);
  s = open_w(); /* nothing decoded yet: every read goes to the log */
  damage_value_after("P\x01k", 3, end);
  damage_value_after("A\x01s", 3, end);
  store_txn *t = store_txn_begin(s);
  sx_val got = store_txn_kv_get(t, str("k"));
  cr_assert(strstr(err_text(got), "/log: the value at offset") && strstr(err_text(got), "does not decode"),
            "%s", err_text(got));
  sx_val why = SX_NIL;
  cr_assert(store_txn_failed(t, &why));
  cr_assert_str_eq(err_text(why), err_text(got));
  cr_assert(sx_is(store_txn_read(t, str("s")), SX_T_ERROR), "the event is damaged too");
  cr_assert(store_txn_failed(t, &why));
  cr_assert_str_eq(err_text(why), err_text(got), "the first failure is the one reported");
  sx_val err = SX_NIL;
  txn_ok(store_txn_kv_put(t, str("other"), sx_int(1), &err), err);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), STORE_EFAIL);
  cr_assert_str_eq(err_text(err), err_text(got));
  cr_assert(!store_kv_has(s, str("other")), "the broken transaction wrote nothing");
  t = store_txn_begin(s);
  got = store_txn_read(t, str("s"));
  cr_assert(strstr(err_text(got), "does not decode"), "%s", err_text(got));
  cr_assert(store_txn_failed(t, &why));
  store_txn_abort(t);
  close_ok(s);
}

Test(store, renewing_a_transaction_still_running_begins_another) {
  store *s = open_w();
  sx_val err = SX_NIL;
  store_txn *t = store_txn_begin(s);
  txn_ok(store_txn_kv_put(t, str("k"), sx_int(1), &err), err);
  store_txn *u = store_txn_renew(t, s);
  cr_assert_neq(u, t, "a running transaction is not reused");
  cr_assert(!store_txn_dirty(u));
  cr_assert(store_txn_dirty(t), "and keeps its writes");
  uint64_t ticket;
  txn_ok(store_txn_commit(t, &ticket, &err), err);
  cr_assert_eq(store_txn_renew(t, s), t, "a finished one is");
  store_txn_abort(t);
  store_txn_abort(u);
  cr_assert(sx_equal(store_kv_get(s, str("k")), sx_int(1)));
  close_ok(s);
}

Test(store, an_event_whose_seq_is_not_an_integer_is_refused) {
  store *s = open_w();
  sx_val err = SX_NIL;
  sx_val e = sx_dict_assoc(sx_dict_empty(), str("seq"), str("1"));
  cr_assert_eq(store_append(s, str("s"), e, &err), -1);
  cr_assert_str_eq(msg(err), "append to stream \"s\": the event has no integer :seq");
  cr_assert(!store_pending(s));
  close_ok(s);
}

/* Truncations inside one transaction, of its own events and twice over. */

/* Every event of stream is cut and its mark is last, on s (then closed) and
 * after reopening. */
static void assert_all_cut_and_closed(store *s, const char *stream, int64_t last) {
  for (int pass = 0; pass < 2; pass++) {
    cr_assert_eq(store_read(s, str(stream)), SX_EMPTY, "every event is cut (%s)", pass ? "reopened" : "open");
    cr_assert_eq(store_last_seq(s, str(stream)), last);
    close_ok(s);
    if (!pass) s = open_w();
  }
}

/* Stream "s" with seqs 1 and 2 committed, and a transaction begun after. */
static store_txn *txn_after_two(store *s) {
  append_ok(s, "s", 1);
  append_ok(s, "s", 2);
  commit_ok(s);
  return store_txn_begin(s);
}

Test(store, a_transaction_truncating_its_own_events_and_twice_reads_what_survives) {
  store *s = open_w();
  store_txn *t = txn_after_two(s);
  sx_val err = SX_NIL;
  for (int64_t q = 3; q <= 5; q++) txn_ok(store_txn_append(t, str("s"), ev(q, "t"), &err), err);
  txn_ok(store_txn_truncate(t, str("s"), 3, &err), err); /* two committed, one own */
  sx_val l = store_txn_read(t, str("s"));
  cr_assert_eq(sx_list_length(l), 2);
  cr_assert(sx_equal(sx_dict_lookup(sx_car(l), str("seq")), sx_int(4)));
  txn_ok(store_txn_truncate(t, str("s"), 2, &err), err); /* below the cut: drops nothing */
  txn_ok(store_txn_truncate(t, str("s"), 9, &err), err); /* past the mark: drops the rest */
  cr_assert_eq(store_txn_read(t, str("s")), SX_EMPTY);
  cr_assert_eq(store_txn_last_seq(t, str("s")), 5);
  txn_ok(store_txn_truncate(t, str("s"), 9, &err), err); /* nothing left to drop */
  uint64_t ticket;
  txn_ok(store_txn_commit(t, &ticket, &err), err);
  assert_all_cut_and_closed(s, "s", 5);
}

/* A truncation past the mark cuts through the mark, no further: events
 * appended after it, in the same transaction or a later one, stay. */
Test(store, events_appended_after_a_truncation_past_the_mark_stay) {
  store *s = open_w();
  store_txn *t = txn_after_two(s);
  sx_val err = SX_NIL;
  txn_ok(store_txn_truncate(t, str("s"), 10, &err), err);
  txn_ok(store_txn_append(t, str("s"), ev(3, "t"), &err), err);
  sx_val l = store_txn_read(t, str("s"));
  cr_assert_eq(sx_list_length(l), 1, "the own event appended after the cut is read");
  uint64_t ticket;
  txn_ok(store_txn_commit(t, &ticket, &err), err);
  cr_assert_eq(store_truncate(s, str("s"), 100, &err), 0, "%s", msg(err));
  commit_ok(s);
  append_ok(s, "s", 4);
  commit_ok(s);
  for (int pass = 0; pass < 2; pass++) {
    l = store_read(s, str("s"));
    cr_assert_eq(sx_list_length(l), 1, "seq 4 only (%s)", pass ? "reopened" : "open");
    cr_assert(sx_equal(sx_dict_lookup(sx_car(l), str("seq")), sx_int(4)));
    close_ok(s);
    s = open_w();
  }
  close_ok(s);
}

Test(store, truncating_a_stream_whose_events_are_all_gone_writes_nothing) {
  store *s = open_w();
  append_ok(s, "s", 1);
  commit_ok(s);
  sx_val err = SX_NIL;
  cr_assert_eq(store_truncate(s, str("s"), 1, &err), 0, "%s", msg(err));
  commit_ok(s);
  uint64_t end = data_end(s);
  cr_assert_eq(store_truncate(s, str("s"), 5, &err), 0, "%s", msg(err));
  cr_assert(!store_pending(s), "nothing left to drop: no record");
  commit_ok(s);
  cr_assert_eq(data_end(s), end);
  cr_assert_eq(store_last_seq(s, str("s")), 1);
  close_ok(s);
}

Test(store, a_read_only_handle_refuses_truncate_and_delete) {
  store *s = open_w();
  append_ok(s, "s", 1);
  put_ok(s, "k", sx_int(1));
  commit_ok(s);
  close_ok(s);
  store *r = open_ro();
  sx_val err = SX_NIL;
  cr_assert_eq(store_truncate(r, str("s"), 1, &err), -1);
  cr_assert(strstr(msg(err), "read-only"), "%s", msg(err));
  err = SX_NIL;
  cr_assert_eq(store_kv_delete(r, str("k"), &err), -1);
  cr_assert(strstr(msg(err), "read-only"), "%s", msg(err));
  cr_assert_eq(sx_list_length(store_read(r, str("s"))), 1);
  cr_assert(store_kv_has(r, str("k")));
  close_ok(r);
}

/* A stream only looked at (never stored, nothing appended) is not listed
 * beside one the transaction creates. */
Test(store, a_stream_only_looked_at_is_not_listed) {
  store *s = open_w();
  store_txn *t = store_txn_begin(s);
  sx_val err = SX_NIL;
  cr_assert_eq(store_txn_read(t, str("ghost")), SX_EMPTY);
  txn_ok(store_txn_append(t, str("fresh"), ev(1, "t"), &err), err);
  cr_assert_eq(store_txn_last_seq(t, str("other")), 0);
  cr_assert_str_eq(joined(store_txn_streams(t)), "fresh");
  txn_ok(store_txn_kv_put(t, str("k"), sx_int(1), &err), err);
  txn_ok(store_txn_kv_delete(t, str("k"), &err), err);
  cr_assert_eq(store_txn_kv_get(t, str("k")), SX_NIL, "deleted in the transaction");
  cr_assert(!store_txn_kv_has(t, str("k")));
  store_txn_abort(t);
  close_ok(s);
}

/* "k004195" and "k052103" have the same store_hash (FNV-1a folded to 32
 * bits) and length, "n34371" and "n158328" the same hash: the transaction's
 * maps and the index keep them apart. */
Test(store, names_with_the_same_hash_stay_apart) {
  static const char *a = "k004195", *b = "k052103";
  store *s = open_w();
  store_txn *t = store_txn_begin(s);
  sx_val err = SX_NIL;
  txn_ok(store_txn_append(t, str(a), ev(1, "a"), &err), err);
  txn_ok(store_txn_append(t, str(b), ev(1, "b"), &err), err);
  txn_ok(store_txn_append(t, str(b), ev(2, "b"), &err), err);
  txn_ok(store_txn_kv_put(t, str(a), sx_int(1), &err), err);
  txn_ok(store_txn_kv_put(t, str(b), sx_int(2), &err), err);
  txn_ok(store_txn_append(t, str("n34371"), ev(1, "c"), &err), err);
  cr_assert_eq(store_txn_last_seq(t, str("n158328")), 0);
  txn_ok(store_txn_kv_put(t, str("n158328"), sx_int(3), &err), err);
  cr_assert(!store_txn_kv_has(t, str("n34371")));
  cr_assert_eq(store_txn_last_seq(t, str(a)), 1);
  cr_assert_eq(store_txn_last_seq(t, str(b)), 2);
  cr_assert(sx_equal(store_txn_kv_get(t, str(b)), sx_int(2)));
  uint64_t ticket;
  txn_ok(store_txn_commit(t, &ticket, &err), err);
  close_ok(s);
  s = open_w();
  cr_assert_eq(store_last_seq(s, str(a)), 1);
  cr_assert_eq(store_last_seq(s, str(b)), 2);
  cr_assert(sx_equal(sx_dict_lookup(sx_car(store_read(s, str(a))), str("type")), str("a")));
  cr_assert(sx_equal(store_kv_get(s, str(a)), sx_int(1)));
  cr_assert(sx_equal(store_kv_get(s, str(b)), sx_int(2)));
  cr_assert_str_eq(joined(store_streams(s)), "k004195 k052103 n34371");
  cr_assert_eq(store_last_seq(s, str("n158328")), 0);
  cr_assert(!store_kv_has(s, str("n34371")));
  cr_assert(sx_equal(store_kv_get(s, str("n158328")), sx_int(3)));
  close_ok(s);
}

/* ---- handles, the index and the cache at their edges (issue 18) ------------------ */

Test(store, open_and_close_at_the_edges_of_their_arguments) {
  store *s = (store *)1;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(NULL, NULL, &s, &err), STORE_EFAIL);
  cr_assert_null(s);
  cr_assert_str_eq(msg(err), "store_open: the store directory name is empty");
  err = SX_NIL;
  cr_assert_eq(store_open("", NULL, &s, &err), STORE_EFAIL);
  cr_assert_str_eq(msg(err), "store_open: the store directory name is empty");
  cr_assert_eq(store_close(NULL, &err), STORE_OK, "closing no handle is fine");
}

/* A URL goes to the PostgreSQL backend (or is refused by a build without
 * it); either way the message never shows the password. */
Test(store, a_url_that_cannot_be_opened_is_refused_without_its_password) {
  static const char url[] = "postgresql:///sx_none?host=/nonexistent-sx-dir&password=s3cret";
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(url, NULL, &s, &err), STORE_EFAIL);
  cr_assert_null(s);
  cr_assert(strstr(msg(err), "postgresql:///sx_none?host=/nonexistent-sx-dir"), "%s", msg(err));
  cr_assert_null(strstr(msg(err), "s3cret"), "%s", msg(err));
  store_opts ro = {.read_only = true};
  cr_assert_eq(store_open(url, &ro, &s, &err), STORE_EFAIL);
  cr_assert_null(strstr(msg(err), "s3cret"), "%s", msg(err));
}

/* Past the index's first allocation (16 entries, 64 buckets): 300 streams
 * and 300 keys, found again after commits and after a reopen. */
Test(store, hundreds_of_streams_and_keys_are_indexed) {
  store *s = open_w();
  char name[32];
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof name, "stream-%03d", i);
    append_ok(s, name, 1);
    snprintf(name, sizeof name, "key-%03d", i);
    put_ok(s, name, sx_int(i));
    if (i % 50 == 49) commit_ok(s);
  }
  for (int round = 0; round < 2; round++) {
    store_stats st;
    store_get_stats(s, &st);
    cr_assert_eq(st.streams, 300);
    cr_assert_eq(st.kv_keys, 300);
    cr_assert_eq(sx_list_length(store_streams(s)), 300);
    for (int i = 0; i < 300; i += 7) {
      snprintf(name, sizeof name, "stream-%03d", i);
      cr_assert_eq(store_last_seq(s, str(name)), 1, "%s", name);
      snprintf(name, sizeof name, "key-%03d", i);
      cr_assert(sx_equal(store_kv_get(s, str(name)), sx_int(i)), "%s", name);
    }
    cr_assert_eq(store_last_seq(s, str("stream-300")), 0);
    close_ok(s);
    s = open_w();
  }
  close_ok(s);
}

static sx_val big_ev(int64_t seq, size_t n) {
  char *p;
  sx_val v = sx_string_alloc(n, &p);
  memset(p, 'a' + (int)(seq % 26), n);
  return sx_dict_assoc(sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq)), str("data"), v);
}

/* Over budget, reading a stream drops the other streams' cached lists but
 * keeps its own when it fits; reading a key over budget drops them all. */
Test(store, the_cache_drops_other_streams_first_then_everything) {
  store_opts o = {.cache_bytes = 2000};
  store *s = open_opts(&o);
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(s, str("small"), big_ev(1, 500), &err), 0);
  for (int64_t q = 1; q <= 3; q++) cr_assert_eq(store_append(s, str("mid"), big_ev(q, 500), &err), 0);
  put_ok(s, "k1", str("a value of a few bytes"));
  char *p;
  sx_val bigv = sx_string_alloc(2500, &p);
  memset(p, 'k', 2500);
  put_ok(s, "k2", bigv);
  commit_ok(s);
  close_ok(s);
  s = open_opts(&o);
  sx_val small = store_read(s, str("small"));
  cr_assert_eq(store_read(s, str("small")), small, "cached");
  sx_val mid = store_read(s, str("mid"));
  cr_assert_eq(sx_list_length(mid), 3);
  cr_assert_eq(store_read(s, str("mid")), mid, "mid fits the budget: its list stays cached");
  sx_val small2 = store_read(s, str("small"));
  cr_assert_neq(small2, small, "small's list was dropped to make room");
  cr_assert(sx_equal(small2, small));
  mid = store_read(s, str("mid")); /* small (about 540) + mid (about 1600) */
  cr_assert(sx_equal(store_kv_get(s, str("k2")), bigv));
  cr_assert(sx_equal(store_kv_get(s, str("k1")), str("a value of a few bytes")));
  sx_val mid2 = store_read(s, str("mid"));
  cr_assert_neq(mid2, mid, "reading a key over budget dropped the streams' lists");
  cr_assert(sx_equal(mid2, mid));
  close_ok(s);
}

/* store_check and store_compact name what stands in their way. */
Test(store, check_and_compact_refuse_what_is_not_a_store) {
  char file[128], report_dir[128];
  snprintf(file, sizeof file, "%s/plain-file", dir);
  FILE *f = fopen(file, "w");
  cr_assert_not_null(f);
  fclose(f);
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(file, &rep), -1);
  cr_assert(strstr(rep.data, "does not exist"), "%s", rep.data);
  sx_buf_reset(&rep);
  sx_val err = SX_NIL;
  cr_assert_eq(store_compact(file, NULL, &err), -1);
  cr_assert(strstr(msg(err), "plain-file does not exist"), "%s", msg(err));
  cr_assert_eq(store_compact(NULL, NULL, &err), -1);
  cr_assert_str_eq(msg(err), "store_compact: the store directory name is empty");
  err = SX_NIL;
  cr_assert_eq(store_compact("", NULL, &err), -1);
  cr_assert_str_eq(msg(err), "store_compact: the store directory name is empty");
  /* a log that cannot be opened: a symbolic link to itself */
  snprintf(report_dir, sizeof report_dir, "%s/loop", dir);
  cr_assert_eq(mkdir(report_dir, 0755), 0);
  char link[160];
  snprintf(link, sizeof link, "%s/log", report_dir);
  cr_assert_eq(symlink(link, link), 0);
  cr_assert_eq(store_check(report_dir, &rep), -1);
  cr_assert(strstr(rep.data, "/loop/log: cannot open: Too many levels of symbolic links"), "%s", rep.data);
  sx_buf_free(&rep);
}

/* A blobs directory that cannot be listed fails the check (the log's part
 * of the report is still there). */
Test(store, check_fails_when_the_blob_directory_cannot_be_listed) {
  store *s = open_w();
  append_ok(s, "a", 1);
  commit_ok(s);
  close_ok(s);
  char blobs[128];
  snprintf(blobs, sizeof blobs, "%s/blobs", dir);
  FILE *f = fopen(blobs, "w"); /* a file where the directory belongs */
  cr_assert_not_null(f);
  fclose(f);
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), -1);
  cr_assert(strstr(rep.data, "1 frames, 1 records, 1 streams, 1 events, 0 kv keys, ok"), "%s", rep.data);
  sx_buf_free(&rep);
}

/* PostgreSQL reclaims space itself: compacting a URL rewrites nothing,
 * but like checking one it needs the store to open, so a server that
 * cannot be reached is an error naming it, not a silent success. */
Test(store, compact_and_check_of_a_url) {
  static const char url[] = "postgresql:///sx_none?host=/nonexistent-sx-dir";
  store_compact_stats st;
  sx_val err = SX_NIL;
  cr_assert_eq(store_compact(url, &st, &err), -1);
  cr_assert(sx_is_string(err) && strstr(sx_str_data(err), "nonexistent-sx-dir"), "%s",
            sx_is_string(err) ? sx_str_data(err) : "?");
  cr_assert_eq(st.log_before, 0);
  cr_assert_eq(st.log_after, 0);
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(url, &rep), -1);
  cr_assert(rep.len > 0 && strstr(rep.data, "nonexistent-sx-dir"), "the report names the server: %s",
            rep.data);
  sx_buf_free(&rep);
}

/* ---- commits that cut into their own appends, durability descriptors ---------- */

/* A transaction that appends and then truncates over its own new events, on
 * a stream whose events the handle has cached: the commit seeds the cache
 * only with the events that survive (it used to index the cache below its
 * start for the others, writing outside the array and counting values that
 * were never stored). */
Test(store, a_commit_that_truncates_its_own_appends_seeds_only_the_survivors) {
  store *s = open_w();
  append_ok(s, "s", 1);
  commit_ok(s);
  cr_assert_eq(sx_list_length(store_read(s, str("s"))), 1); /* the stream's cache exists now */
  store_stats before;
  store_get_stats(s, &before);
  sx_val err = SX_NIL;
  for (int64_t seq = 2; seq <= 6; seq++) append_ok(s, "s", seq);
  cr_assert_eq(store_truncate(s, str("s"), 5, &err), 0, "%s", msg(err));
  commit_ok(s);
  sx_val evs = store_read(s, str("s"));
  cr_assert_eq(sx_list_length(evs), 1, "only seq 6 survives");
  cr_assert(sx_equal(sx_car(evs), ev(6, "t")), "the survivor is seq 6");
  store_stats after;
  store_get_stats(s, &after);
  cr_assert_lt(after.cache_bytes - before.cache_bytes, 2 * 48 + 1000,
               "the cache counts only what it holds (%zu -> %zu bytes)", before.cache_bytes,
               after.cache_bytes);
  for (int64_t seq = 7; seq <= 9; seq++) append_ok(s, "s", seq);
  cr_assert_eq(store_truncate(s, str("s"), 9, &err), 0, "%s", msg(err));
  commit_ok(s);
  assert_all_cut_and_closed(s, "s", 9);
}

/* The durability descriptor: one eventfd per handle, whatever the mode. */
Test(store, every_handle_has_one_durability_descriptor) {
  store_opts full = {.sync = STORE_SYNC_FULL};
  store *s = open_opts(&full);
  int fd = store_durable_fd(s);
  cr_assert_geq(fd, 0);
  cr_assert_eq(store_durable_fd(s), fd, "asked again: the same descriptor");
  close_ok(s);
  store_opts batch = {.sync = STORE_SYNC_BATCH, .batch_window_ms = 1};
  s = open_opts(&batch);
  fd = store_durable_fd(s);
  cr_assert_geq(fd, 0);
  sx_val err = SX_NIL;
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_append(t, str("a"), ev(1, "t"), &err), 0);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "%s", msg(err));
  cr_assert_eq(store_poll_durable(s, ticket, &err), 1, "batch mode: durable at commit, no syncer needed");
  close_ok(s);
  s = open_ro();
  cr_assert_geq(store_durable_fd(s), 0, "a read-only handle has one too (nothing ever signals it)");
  cr_assert_eq(store_last_seq(s, str("a")), 1);
  close_ok(s);
}

/* Flush of a read-only handle and refresh of a writable one do nothing. */
Test(store, flush_of_a_reader_and_refresh_of_a_writer_change_nothing) {
  store *w = open_w();
  append_ok(w, "a", 1);
  commit_ok(w);
  sx_val err = SX_NIL;
  cr_assert_eq(store_refresh(w, &err), 0, "%s", msg(err));
  cr_assert_eq(store_last_seq(w, str("a")), 1);
  store *r = open_ro();
  append_ok(w, "a", 2);
  commit_ok(w);
  cr_assert_eq(store_flush(r, &err), 0, "%s", msg(err));
  cr_assert_eq(store_last_seq(r, str("a")), 1, "a flush does not refresh");
  cr_assert_eq(store_refresh(r, &err), 0, "%s", msg(err));
  cr_assert_eq(store_last_seq(r, str("a")), 2);
  close_ok(r);
  close_ok(w);
}

Test(store, read_only_open_of_a_directory_without_a_log_fails) {
  store_opts o = {.read_only = true};
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, &o, &s, &err), -1);
  cr_assert(strstr(msg(err), "has no log") && strstr(msg(err), "/log is missing"), "%s", msg(err));
  cr_assert_eq(access(log_path(), F_OK), -1, "and nothing was created");
}

/* A directory name too long for the file system is refused (the message,
 * cut at 511 bytes, is all name). */
Test(store, a_directory_name_too_long_is_refused) {
  char p[5000];
  int n = snprintf(p, sizeof p, "%s/", dir);
  memset(p + n, 'x', sizeof p - (size_t)n - 1);
  p[sizeof p - 1] = '\0';
  store *s = NULL;
  sx_val err = SX_NIL;
  errno = 0;
  cr_assert_eq(store_open(p, NULL, &s, &err), -1);
  cr_assert(strncmp(msg(err), "store /", 7) == 0 && strlen(msg(err)) == 511, "%.200s", msg(err));
  cr_assert_eq(access(dir, F_OK), 0);
  DIR *d = opendir(dir);
  int entries = 0;
  for (struct dirent *de; (de = readdir(d));) entries += de->d_name[0] != '.';
  closedir(d);
  cr_assert_eq(entries, 0, "nothing was created");
}

/* A relative name: the first directory made is synced through ".". */
Test(store, a_relative_directory_name_is_created_where_the_process_runs) {
  cr_assert_eq(chdir(dir), 0);
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open("rel/store", NULL, &s, &err), 0, "%s", msg(err));
  append_ok(s, "a", 1);
  commit_ok(s);
  close_ok(s);
  char p[128];
  snprintf(p, sizeof p, "%s/rel/store/log", dir);
  cr_assert_eq(access(p, F_OK), 0, "the log is at %s", p);
  cr_assert_eq(store_open("rel2", NULL, &s, &err), 0, "a single name: %s", msg(err));
  close_ok(s);
  snprintf(p, sizeof p, "%s/rel2/log", dir);
  cr_assert_eq(access(p, F_OK), 0);
}

/* Overwrite the byte before the first occurrence of needle in the log. */
static void damage_before(const char *needle, unsigned char with) {
  int fd = open(log_path(), O_RDWR);
  cr_assert_geq(fd, 0);
  off_t size = file_size(log_path());
  char *buf = malloc((size_t)size);
  cr_assert_eq(pread(fd, buf, (size_t)size, 0), size);
  char *at = memmem(buf, (size_t)size, needle, strlen(needle));
  cr_assert_not_null(at, "%s is in the log", needle);
  cr_assert_eq(pwrite(fd, &with, 1, (at - buf) - 2), 1); /* the string's tag, before its length */
  free(buf);
  close(fd);
}

/* Values are checked when a store opens; bytes damaged on disk after that
 * are found when the value is first read: the read gives an error value
 * naming the file and the offset, and the handle serves the rest. */
Test(store, a_value_damaged_after_the_open_is_an_error_value_when_read) {
  store *s = open_w();
  sx_val err = SX_NIL;
  cr_assert_eq(store_append(s, str("a"), ev(1, "event-to-damage"), &err), 0);
  put_ok(s, "k", str("kv-value-to-damage"));
  put_ok(s, "ok", str("intact"));
  commit_ok(s);
  close_ok(s);
  s = open_w(); /* nothing decoded yet */
  damage_before("event-to-damage", 0x7f);
  damage_before("kv-value-to-damage", 0x7f);
  sx_val evs = store_read(s, str("a"));
  cr_assert(sx_is(evs, SX_T_ERROR), "the event read fails");
  const char *m = sx_str_data(((sx_error *)evs)->message);
  cr_assert(strstr(m, log_path()) && strstr(m, "does not decode") && strstr(m, "at offset"), "%s", m);
  sx_val v = store_kv_get(s, str("k"));
  cr_assert(sx_is(v, SX_T_ERROR), "the kv read fails");
  m = sx_str_data(((sx_error *)v)->message);
  cr_assert(strstr(m, "does not decode") && strstr(m, "unknown type tag"), "%s", m);
  cr_assert_str_eq(sx_str_data(store_kv_get(s, str("ok"))), "intact");
  store_close(s, &err);
}

/* A reader whose log was removed (not replaced) keeps serving the file it
 * opened: a refresh finds nothing new and no error. */
Test(store, a_reader_whose_log_was_removed_keeps_what_it_opened) {
  store *w = open_w();
  append_ok(w, "a", 1);
  commit_ok(w);
  close_ok(w);
  store *r = open_ro();
  cr_assert_eq(unlink(log_path()), 0);
  sx_val err = SX_NIL;
  cr_assert_eq(store_refresh(r, &err), 0, "%s", msg(err));
  cr_assert_eq(store_last_seq(r, str("a")), 1);
  cr_assert_eq(sx_list_length(store_read(r, str("a"))), 1);
  close_ok(r);
}
