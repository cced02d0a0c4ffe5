/* test_compact.c — offline compaction (store_compact): after appends,
 * truncations, kv overwrites and deletes, a compacted store reopens to the
 * same streams, events, high-water marks and kv entries in a smaller log;
 * the seq continues (also for a stream truncated to nothing); compacting
 * again writes the same bytes; a failure at every compaction write site
 * leaves the old log intact; a held writer lock refuses it; a leftover
 * temporary file is ignored; a read-only handle notices the swap. Also
 * the other whole-log writers (store_dump.c): a restore builds truncated
 * streams and refuses what no store could hold or a store that is not
 * empty; a backup copies a store and refuses an existing destination. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "codec.h"
#include "store.h"
#include "store_io.h"
#include "sx_dict.h"
#include "sx_test_dir.h"

static char dir[64], log_path[96], tmp_path[96];

static void setup(void) {
  sx_gc_init();
  strcpy(dir, "/tmp/sxcompact-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  snprintf(tmp_path, sizeof tmp_path, "%s/log.compact", dir);
}
static void teardown(void) {
  store_fault_clear();
  rm_tree(dir);
}
TestSuite(compact, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers --------------------------------------------------------------- */

static sx_val str(const char *s) { return sx_string_cstr(s); }
static const char *msg(sx_val err) { return sx_is_string(err) ? sx_str_data(err) : "(no message)"; }

static sx_val ev(int64_t seq) {
  sx_val d = sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq));
  d = sx_dict_assoc(d, str("n"), sx_float((double)seq / 7));
  return sx_dict_assoc(d, str("note"), str("an event payload of some length"));
}

static store *open_w(void) {
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, NULL, &s, &err), 0, "open failed: %s", msg(err));
  return s;
}

static void close_ok(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(s, &err), 0, "close failed: %s", msg(err));
}

static void ok(int rc, sx_val err) { cr_assert_eq(rc, 0, "%s", msg(err)); }

static void append_n(store *s, const char *stream, int n) {
  sx_val err = SX_NIL;
  for (int i = 0; i < n; i++) {
    int64_t seq = store_last_seq(s, str(stream)) + 1;
    ok(store_append(s, str(stream), ev(seq), &err), err);
  }
}

/* A store with history: truncations (partial, to nothing, none), kv
 * overwrites and deletes, odd names, over several commits. */
static void build_history(size_t big) {
  store *s = open_w();
  sx_val err = SX_NIL;
  sx_val odd = sx_string_new("odd\0name\xff", 9);
  for (int round = 0; round < 5; round++) {
    append_n(s, "orders", 40);
    append_n(s, "gone", 3);
    append_n(s, "kept", 2);
    ok(store_append(s, odd, ev(store_last_seq(s, odd) + 1), &err), err);
    ok(store_kv_put(s, str("counter"), sx_int(round), &err), err);
    ok(store_kv_put(s, str("tmp"), str("short-lived"), &err), err);
    ok(store_kv_delete(s, str("tmp"), &err), err);
    ok(store_commit(s, &err), err);
  }
  ok(store_truncate(s, str("orders"), 190, &err), err);
  ok(store_truncate(s, str("gone"), 1000, &err), err);
  ok(store_kv_put(s, str("cfg"), str("on"), &err), err);
  ok(store_kv_put(s, str("dropped"), sx_int(1), &err), err);
  ok(store_kv_delete(s, str("dropped"), &err), err);
  if (big) {
    char *p;
    sx_val v = sx_string_alloc(big, &p);
    memset(p, 'b', big);
    ok(store_kv_put(s, str("big"), v, &err), err);
  }
  ok(store_commit(s, &err), err);
  close_ok(s);
}

/* Everything a reader can see in the store at d, as canonical bytes
 * (equal state, equal bytes). */
static sx_buf fingerprint_of(const char *d) {
  store_opts o = {.read_only = true};
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(d, &o, &s, &err), 0, "open failed: %s", msg(err));
  sx_val items = SX_EMPTY;
  for (sx_val l = store_streams(s); sx_is_cons(l); l = sx_cdr(l)) {
    sx_val name = sx_car(l);
    items =
        sx_cons(sx_list(3, (sx_val[]){name, sx_int(store_last_seq(s, name)), store_read(s, name)}), items);
  }
  for (sx_val l = store_kv_keys(s); sx_is_cons(l); l = sx_cdr(l))
    items = sx_cons(sx_list(2, (sx_val[]){sx_car(l), store_kv_get(s, sx_car(l))}), items);
  sx_buf b = SX_BUF_INIT;
  cr_assert_eq(store_encode(&b, items, &err), 0, "%s", msg(err));
  close_ok(s);
  return b;
}

static sx_buf fingerprint(void) { return fingerprint_of(dir); }

static void same_state_of(const char *d, sx_buf *a, const char *when) {
  sx_buf b = fingerprint_of(d);
  cr_assert(a->len == b.len && memcmp(a->data, b.data, a->len) == 0, "%s: the state of %s differs", when, d);
  sx_buf_free(&b);
}

static void same_state(sx_buf *a, const char *when) {
  sx_buf b = fingerprint();
  cr_assert(a->len == b.len && memcmp(a->data, b.data, a->len) == 0, "%s: the state changed", when);
  sx_buf_free(&b);
}

static void check_clean(const char *when) {
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &report), 0, "%s: store check: %s", when, report.data);
  sx_buf_free(&report);
}

static off_t file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? st.st_size : -1;
}

static char *slurp(const char *p, size_t *n) {
  FILE *f = fopen(p, "rb");
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  rewind(f);
  char *d = malloc(*n + 1);
  cr_assert_eq(fread(d, 1, *n, f), *n);
  fclose(f);
  return d;
}

static store_compact_stats compact_ok(void) {
  store_compact_stats st;
  sx_val err = SX_NIL;
  cr_assert_eq(store_compact(dir, &st, &err), 0, "compact failed: %s", msg(err));
  return st;
}

/* ---- tests ----------------------------------------------------------------- */

Test(compact, keeps_the_state_in_a_smaller_log) {
  build_history(0);
  sx_buf before = fingerprint();
  store_compact_stats st = compact_ok();
  cr_assert_lt(st.log_after, st.log_before, "%llu !< %llu", (unsigned long long)st.log_after,
               (unsigned long long)st.log_before);
  cr_assert_eq((off_t)st.log_after, file_size(log_path));
  cr_assert_eq(st.streams, 4);
  cr_assert_eq(st.events, 10 + 10 + 5); /* orders 191..200, kept, odd */
  cr_assert_eq(st.kv_keys, 2);
  cr_assert_eq(file_size(tmp_path), -1, "the temporary file is left behind");
  same_state(&before, "after compaction");
  check_clean("after compaction");
  sx_buf_free(&before);
}

Test(compact, seqs_continue_and_truncated_streams_keep_their_mark) {
  build_history(0);
  compact_ok();
  store *s = open_w();
  sx_val err = SX_NIL;
  cr_assert_eq(store_last_seq(s, str("orders")), 200);
  cr_assert_eq(store_last_seq(s, str("gone")), 15);
  cr_assert_eq(store_read(s, str("gone")), SX_EMPTY);
  sx_val first = sx_car(store_read(s, str("orders")));
  cr_assert_eq(sx_int_val(sx_dict_lookup(first, str("seq"))), 191);
  cr_assert_neq(store_append(s, str("gone"), ev(1), &err), 0, "a seq below the mark was accepted");
  ok(store_append(s, str("gone"), ev(16), &err), err);
  ok(store_append(s, str("orders"), ev(201), &err), err);
  ok(store_truncate(s, str("orders"), 195, &err), err);
  ok(store_commit(s, &err), err);
  close_ok(s);
  sx_buf before = fingerprint();
  compact_ok(); /* a compacted log compacts again, with the new writes */
  same_state(&before, "second compaction");
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("gone")), 16);
  cr_assert_eq(sx_list_length(store_read(s, str("orders"))), 6);
  close_ok(s);
  check_clean("after writes and a second compaction");
  sx_buf_free(&before);
}

Test(compact, compacting_twice_writes_the_same_bytes) {
  build_history(0);
  compact_ok();
  size_t n1, n2;
  char *a = slurp(log_path, &n1);
  store_compact_stats st = compact_ok();
  cr_assert_eq(st.log_before, st.log_after);
  char *b = slurp(log_path, &n2);
  cr_assert(n1 == n2 && memcmp(a, b, n1) == 0, "the second compaction changed the log");
  free(a);
  free(b);
}

Test(compact, empty_and_missing_stores) {
  store *s = open_w();
  close_ok(s);
  store_compact_stats st = compact_ok();
  cr_assert_eq(st.log_after, 16); /* the header alone */
  check_clean("empty store");
  sx_val err = SX_NIL;
  char missing[128];
  snprintf(missing, sizeof missing, "%s/nothing", dir);
  cr_assert_neq(store_compact(missing, &st, &err), 0);
  cr_assert(strstr(msg(err), "does not exist"), "%s", msg(err));
  cr_assert_eq(file_size(missing), -1, "compaction created a store");
}

Test(compact, a_held_writer_lock_refuses_it) {
  build_history(0);
  off_t size = file_size(log_path);
  store *s = open_w();
  sx_val err = SX_NIL;
  store_compact_stats st;
  cr_assert_neq(store_compact(dir, &st, &err), 0);
  char want[160];
  snprintf(want, sizeof want, "store %s is locked by pid %d", dir, (int)getpid());
  cr_assert(strstr(msg(err), want), "%s", msg(err));
  cr_assert_eq(file_size(log_path), size);
  close_ok(s);
}

Test(compact, a_leftover_temporary_file_is_ignored_and_replaced) {
  build_history(0);
  sx_buf before = fingerprint();
  int fd = open(tmp_path, O_WRONLY | O_CREAT, 0644); /* a compaction that crashed half way */
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "SXSTORE\0garbage", 15), 15);
  close(fd);
  same_state(&before, "with a leftover log.compact");
  check_clean("with a leftover log.compact");
  compact_ok();
  cr_assert_eq(file_size(tmp_path), -1);
  same_state(&before, "after compaction");
  sx_buf_free(&before);
}

Test(compact, a_read_only_handle_notices_the_swap) {
  build_history(0);
  store_opts o = {.read_only = true};
  store *ro = NULL;
  sx_val err = SX_NIL;
  ok(store_open(dir, &o, &ro, &err), err);
  cr_assert_eq(store_refresh(ro, &err), 0);
  compact_ok();
  cr_assert_eq(store_last_seq(ro, str("orders")), 200, "the old handle still reads its file");
  cr_assert_neq(store_refresh(ro, &err), 0);
  cr_assert(strstr(msg(err), "was replaced"), "%s", msg(err));
  store_close(ro, &err);
}

/* Fail the nth call at a site (and every one after): the old log must stay
 * intact and openable. Returns false once the compaction made fewer calls. */
static bool fail_at(store_io_site site, unsigned nth, int eno, sx_buf *want) {
  store_fault_inject(site, nth, eno, true);
  store_compact_stats st;
  sx_val err = SX_NIL;
  int rc = store_compact(dir, &st, &err);
  unsigned fired = store_fault_fired();
  store_fault_clear();
  char what[160];
  snprintf(what, sizeof what, "%s call %u fails with %s", store_io_site_name(site), nth, strerror(eno));
  if (!fired) {
    cr_assert_eq(rc, 0, "%s: %s", what, msg(err));
    return false;
  }
  cr_assert_neq(rc, 0, "%s: the compaction reported success", what);
  cr_assert(strstr(msg(err), strerror(eno)) && strstr(msg(err), dir), "%s: unclear error: %s", what,
            msg(err));
  if (site != STORE_IO_DIR_SYNC) cr_assert_eq(file_size(tmp_path), -1, "%s: log.compact left", what);
  same_state(want, what);
  check_clean(what);
  store *s = open_w(); /* and it takes writes */
  sx_val e2 = SX_NIL;
  ok(store_kv_put(s, str("after"), sx_int(nth), &e2), e2);
  ok(store_commit(s, &e2), e2);
  ok(store_kv_delete(s, str("after"), &e2), e2);
  ok(store_commit(s, &e2), e2);
  close_ok(s);
  return true;
}

/* Streams "a-bulk" and "b-bulk", each one event larger than a compacted
 * frame: the new log's frames then also end before an append ("b-bulk"
 * after "a-bulk") and before an H record ("gone", truncated to nothing). */
static void add_bulk_streams(void) {
  store *s = open_w();
  sx_val err = SX_NIL;
  static const char *names[] = {"a-bulk", "b-bulk"};
  for (int i = 0; i < 2; i++) {
    char *p;
    sx_val v = sx_string_alloc((3u << 20) / 2, &p);
    memset(p, 'x' + i, (3u << 20) / 2);
    ok(store_append(s, str(names[i]), sx_dict_assoc(ev(1), str("bulk"), v), &err), err);
  }
  ok(store_commit(s, &err), err);
  close_ok(s);
}

Test(compact, a_failure_at_every_write_site_leaves_the_store_intact) {
  static const store_io_site sites[] = {STORE_IO_LOCK,           STORE_IO_COMPACT_CREATE,
                                        STORE_IO_COMPACT_WRITE,  STORE_IO_COMPACT_SYNC,
                                        STORE_IO_COMPACT_RENAME, STORE_IO_DIR_SYNC};
  static const int errnos[] = {ENOSPC, EIO};
  build_history(3u << 20); /* a 3 MiB value: the new log takes several frames and writes */
  add_bulk_streams();
  sx_buf want = fingerprint();
  for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
    unsigned failed = 0;
    for (size_t e = 0; e < 2; e++)
      for (unsigned nth = 1; nth <= 16 && fail_at(sites[i], nth, errnos[e], &want); nth++) failed++;
    cr_assert_gt(failed, 0, "compaction never reached the site %s", store_io_site_name(sites[i]));
  }
  compact_ok();
  same_state(&want, "a compaction after all the failures");
  sx_buf_free(&want);
}

/* ---- restore and backup (store_dump.c): what they refuse ------------------------ */

static sx_val seq_ev(int64_t seq) { return sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq)); }

/* Begin a restore into a fresh directory below dir. */
static store_restore *restore_into(const char *name) {
  char d[160];
  snprintf(d, sizeof d, "%s/%s", dir, name);
  store_restore *r = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_restore_begin(d, &r, &err), 0, "%s", msg(err));
  return r;
}

/* The restore r refuses step (rc -1) with a message holding want. */
static void refused(store_restore *r, int rc, const sx_val *err, const char *want) {
  cr_assert_eq(rc, -1, "accepted; expected: %s", want);
  cr_assert(strstr(msg(*err), want), "%s (expected: %s)", msg(*err), want);
  store_restore_abandon(r);
}

Test(compact, a_restore_refuses_what_no_store_could_hold) {
  sx_val err = SX_NIL;
  store_restore *r = NULL;
  cr_assert_eq(store_restore_begin("", &r, &err), -1);
  cr_assert(strstr(msg(err), "directory name is empty"), "%s", msg(err));
  r = restore_into("a");
  refused(r, store_restore_event(r, seq_ev(1), &err), &err, "an event before any stream");
  r = restore_into("b");
  refused(r, store_restore_stream(r, str("s"), -1, &err), &err, "negative last-seq");
  r = restore_into("c");
  cr_assert_eq(store_restore_stream(r, str("s"), 3, &err), 0);
  refused(r, store_restore_event(r, seq_ev(4), &err), &err,
          "event seq 4 out of order (last-seq 3, previous 0)");
  r = restore_into("d");
  cr_assert_eq(store_restore_stream(r, str("s"), 3, &err), 0);
  cr_assert_eq(store_restore_event(r, seq_ev(1), &err), 0);
  refused(r, store_restore_event(r, seq_ev(3), &err), &err, "event seq 3 out of order");
  r = restore_into("e");
  cr_assert_eq(store_restore_stream(r, str("s"), 3, &err), 0);
  refused(r, store_restore_event(r, str("not a dict"), &err), &err, "event seq 0 out of order");
  r = restore_into("f");
  cr_assert_eq(store_restore_stream(r, str("s"), 3, &err), 0);
  cr_assert_eq(store_restore_event(r, seq_ev(2), &err), 0);
  refused(r, store_restore_kv(r, str("k"), sx_int(1), &err), &err,
          "its events end at seq 2 but its last-seq is 3");
  r = restore_into("g");
  sx_val fn = sx_dict_assoc(seq_ev(1), str("f"), (sx_val)sx_obj_new(SX_T_FN, sizeof(sx_fnhead)));
  cr_assert_eq(store_restore_stream(r, str("s"), 1, &err), 0);
  refused(r, store_restore_event(r, fn, &err), &err, "cannot store a value of type");
  r = restore_into("h");
  refused(r, store_restore_kv(r, str("k"), (sx_val)sx_obj_new(SX_T_FN, sizeof(sx_fnhead)), &err), &err,
          "cannot store a value of type");
  r = restore_into("i");
  refused(r, store_restore_blob(r, str("not-the-id"), str("bytes"), &err), &err, "its bytes have the id");
  store_restore_abandon(NULL);
}

Test(compact, a_restore_builds_truncated_streams_and_refuses_a_store_that_is_not_empty) {
  store_restore *r = restore_into("x");
  sx_val err = SX_NIL, cid;
  cr_assert_eq(store_restore_stream(r, str("gone"), 5, &err), 0); /* truncated to nothing */
  cr_assert_eq(store_restore_stream(r, str("tail"), 4, &err), 0); /* its first events truncated */
  cr_assert_eq(store_restore_event(r, seq_ev(3), &err), 0);
  cr_assert_eq(store_restore_event(r, seq_ev(4), &err), 0);
  cr_assert_eq(store_restore_stream(r, str("never"), 0, &err), 0);
  cr_assert_eq(store_restore_kv(r, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_restore_finish(r, &err), 0, "%s", msg(err));
  char d[160];
  snprintf(d, sizeof d, "%s/x", dir);
  store *s = NULL;
  cr_assert_eq(store_open(d, NULL, &s, &err), 0, "%s", msg(err));
  cr_assert_eq(store_last_seq(s, str("gone")), 5);
  cr_assert_eq(store_read(s, str("gone")), SX_EMPTY);
  cr_assert_eq(store_last_seq(s, str("tail")), 4);
  cr_assert_eq(sx_list_length(store_read(s, str("tail"))), 2);
  cr_assert_eq(store_last_seq(s, str("never")), 0);
  cr_assert(sx_equal(store_kv_get(s, str("k")), str("v")));
  cr_assert_eq(store_blob_put(s, "b", 1, &cid, &err), 0);
  cr_assert_eq(store_close(s, &err), 0);
  cr_assert_eq(store_restore_begin(d, &r, &err), -1);
  cr_assert(strstr(msg(err), "is not empty (2 streams, 1 kv keys, blobs)"), "%s", msg(err));
  /* a backup of it: a copy that reads the same; an existing destination or a non-store is refused */
  char bk[200];
  snprintf(bk, sizeof bk, "%s/bk", dir);
  store_backup_stats st;
  cr_assert_eq(store_backup(d, bk, &st, &err), 0, "%s", msg(err));
  cr_assert(st.streams == 2 && st.events == 2 && st.kv_keys == 1 && st.blobs == 1);
  cr_assert_eq(store_backup(d, bk, NULL, &err), -1);
  cr_assert(strstr(msg(err), "the destination must not exist"), "%s", msg(err));
  snprintf(bk, sizeof bk, "%s/bk2", dir);
  cr_assert_eq(store_backup(dir, bk, NULL, &err), -1);
  cr_assert(strstr(msg(err), "is not a store"), "%s", msg(err));
  cr_assert_eq(sx_list_length(store_blob_list(d)), 1);
  cr_assert_eq(store_blob_list(bk), SX_EMPTY);
}

/* ---- restore and backup under failing writes ------------------------------------ */

static bool exists_in(const char *d, const char *name) {
  char p[300];
  snprintf(p, sizeof p, "%s/%s", d, name);
  return file_size(p) >= 0;
}

/* Restore into dest what build_history stored (one kv value past a frame's
 * size, so the log takes several frames) and a blob; -1 at the first
 * refusal (the restore then abandoned). */
static int restore_history(const char *dest, sx_val *err) {
  store_restore *r = NULL;
  if (store_restore_begin(dest, &r, err)) return -1;
  store *s = NULL;
  store_opts ro = {.read_only = true};
  cr_assert_eq(store_open(dir, &ro, &s, err), 0, "%s", msg(*err));
  int rc = 0;
  for (sx_val l = store_streams(s); sx_is_cons(l) && !rc; l = sx_cdr(l)) {
    rc = store_restore_stream(r, sx_car(l), store_last_seq(s, sx_car(l)), err);
    for (sx_val e = store_read(s, sx_car(l)); sx_is_cons(e) && !rc; e = sx_cdr(e))
      rc = store_restore_event(r, sx_car(e), err);
  }
  for (sx_val l = store_kv_keys(s); sx_is_cons(l) && !rc; l = sx_cdr(l))
    rc = store_restore_kv(r, sx_car(l), store_kv_get(s, sx_car(l)), err);
  char cid[BLOB_CID_LEN + 1];
  blob_cid_of("restored bytes", 14, cid);
  if (!rc) rc = store_restore_blob(r, str(cid), str("restored bytes"), err);
  close_ok(s);
  if (rc) {
    store_restore_abandon(r);
    return -1;
  }
  return store_restore_finish(r, err);
}

static int backup_history(const char *dest, sx_val *err) { return store_backup(dir, dest, NULL, err); }

/* Run op into a fresh destination with the nth call at site failing (and
 * every one after it). The failure names the errno; the source is intact;
 * the destination holds no temporary log, and a log there is the whole
 * state (a failure after the rename: syncing the directory) or none.
 * Returns false once op made fewer calls at the site. */
static bool fail_copy_at(int (*op)(const char *, sx_val *), store_io_site site, unsigned nth, sx_buf *want) {
  static unsigned run;
  char dest[200], what[160];
  snprintf(dest, sizeof dest, "%s/copy%u", dir, ++run);
  snprintf(what, sizeof what, "%s call %u fails", store_io_site_name(site), nth);
  sx_val err = SX_NIL;
  store_fault_inject(site, nth, EIO, true);
  int rc = op(dest, &err);
  unsigned fired = store_fault_fired();
  store_fault_clear();
  if (!fired) {
    cr_assert_eq(rc, 0, "%s: %s", what, msg(err));
    same_state_of(dest, want, what);
    return false;
  }
  cr_assert_eq(rc, -1, "%s: reported success", what);
  cr_assert(strstr(msg(err), strerror(EIO)), "%s: the error does not name the errno: %s", what, msg(err));
  same_state(want, what);
  cr_assert(!exists_in(dest, "log.restore") && !exists_in(dest, "log.backup"), "%s: a temporary log is left",
            what);
  if (exists_in(dest, "log") && site != STORE_IO_LOCK && site != STORE_IO_MKDIR) {
    store *s = NULL;
    store_opts ro = {.read_only = true};
    cr_assert_eq(store_open(dest, &ro, &s, &err), 0, "%s: %s", what, msg(err));
    bool empty = store_streams(s) == SX_EMPTY && store_kv_keys(s) == SX_EMPTY;
    close_ok(s);
    if (!empty) same_state_of(dest, want, what);
  }
  return true;
}

static void fail_every_site(int (*op)(const char *, sx_val *), const store_io_site *sites, size_t n) {
  build_history(3u << 20);
  sx_buf want = fingerprint();
  for (size_t i = 0; i < n; i++) {
    unsigned failed = 0;
    for (unsigned nth = 1; nth <= 12 && fail_copy_at(op, sites[i], nth, &want); nth++) failed++;
    cr_assert_gt(failed, 0, "never reached the site %s", store_io_site_name(sites[i]));
  }
  check_clean("the source after every failure");
  sx_buf_free(&want);
}

Test(compact, a_restore_that_fails_at_any_write_leaves_no_partial_log) {
  static const store_io_site sites[] = {STORE_IO_MKDIR,     STORE_IO_LOCK,        STORE_IO_LOG_CREATE,
                                        STORE_IO_LOG_WRITE, STORE_IO_LOG_SYNC,    STORE_IO_RENAME,
                                        STORE_IO_DIR_SYNC,  STORE_IO_BLOB_CREATE, STORE_IO_BLOB_WRITE,
                                        STORE_IO_BLOB_SYNC};
  fail_every_site(restore_history, sites, sizeof sites / sizeof *sites);
}

Test(compact, a_backup_that_fails_at_any_write_leaves_the_source_intact) {
  static const store_io_site sites[] = {STORE_IO_MKDIR,       STORE_IO_LOG_CREATE, STORE_IO_LOG_WRITE,
                                        STORE_IO_LOG_SYNC,    STORE_IO_RENAME,     STORE_IO_DIR_SYNC,
                                        STORE_IO_BLOB_CREATE, STORE_IO_BLOB_WRITE, STORE_IO_BLOB_SYNC};
  sx_val cid = SX_NIL, err = SX_NIL;
  store *s = open_w();
  ok(store_blob_put(s, "a blob to copy", 14, &cid, &err), err);
  close_ok(s);
  fail_every_site(backup_history, sites, sizeof sites / sizeof *sites);
}

/* ---- restore and backup: the remaining refusals -------------------------------- */

static char *path_below(const char *name) {
  static char p[4][200];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
  return p[i];
}

Test(compact, a_restore_refuses_a_store_holding_only_keys_or_only_blobs) {
  sx_val err = SX_NIL, cid;
  store *s = NULL;
  cr_assert_eq(store_open(path_below("keys"), NULL, &s, &err), 0, "%s", msg(err));
  ok(store_kv_put(s, str("k"), sx_int(1), &err), err);
  ok(store_commit(s, &err), err);
  close_ok(s);
  store_restore *r = NULL;
  cr_assert_eq(store_restore_begin(path_below("keys"), &r, &err), -1);
  cr_assert(strstr(msg(err), "is not empty (0 streams, 1 kv keys)"), "%s", msg(err));
  cr_assert_eq(store_open(path_below("blobs"), NULL, &s, &err), 0, "%s", msg(err));
  ok(store_blob_put(s, "b", 1, &cid, &err), err);
  close_ok(s);
  cr_assert_eq(store_restore_begin(path_below("blobs"), &r, &err), -1);
  cr_assert(strstr(msg(err), "is not empty (0 streams, 0 kv keys, blobs)"), "%s", msg(err));
  cr_assert_eq(store_restore_begin(NULL, &r, &err), -1);
  cr_assert(strstr(msg(err), "directory name is empty"), "%s", msg(err));
  cr_assert_null(r);
}

Test(compact, a_restore_into_an_unreachable_database_fails_at_begin) {
  sx_val err = SX_NIL;
  store_restore *r = NULL;
  cr_assert_eq(store_restore_begin("postgresql:///sx?host=/nonexistent-sx-socket-dir", &r, &err), -1);
  cr_assert_null(r);
  cr_assert(strstr(msg(err), "cannot connect to the database") || strstr(msg(err), "no PostgreSQL support") ||
                strstr(msg(err), "libpq"),
            "it says why: %s", msg(err));
}

Test(compact, a_restore_of_nothing_is_an_empty_store) {
  store_restore *r = restore_into("empty");
  sx_val err = SX_NIL;
  ok(store_restore_finish(r, &err), err);
  store *s = NULL;
  store_opts ro = {.read_only = true};
  cr_assert_eq(store_open(path_below("empty"), &ro, &s, &err), 0, "%s", msg(err));
  cr_assert(store_streams(s) == SX_EMPTY && store_kv_keys(s) == SX_EMPTY);
  close_ok(s);
  cr_assert_eq(file_size(path_below("empty/log")), 16, "a header and no frame");
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(path_below("empty"), &report), 0, "%s", report.data);
  sx_buf_free(&report);
}

Test(compact, a_stream_whose_events_stop_short_is_refused_when_the_next_begins) {
  store_restore *r = restore_into("short");
  sx_val err = SX_NIL;
  ok(store_restore_stream(r, str("s"), 3, &err), err);
  ok(store_restore_event(r, seq_ev(1), &err), err);
  refused(r, store_restore_stream(r, str("t"), 1, &err), &err,
          "its events end at seq 1 but its last-seq is 3");
  r = restore_into("short-at-the-end");
  ok(store_restore_stream(r, str("s"), 3, &err), err);
  ok(store_restore_event(r, seq_ev(2), &err), err);
  cr_assert_eq(store_restore_finish(r, &err), -1, "the last stream is checked at the finish");
  cr_assert(strstr(msg(err), "its events end at seq 2 but its last-seq is 3"), "%s", msg(err));
  cr_assert(!exists_in(path_below("short-at-the-end"), "log.restore"), "the partial log is removed");
  store *s = NULL;
  store_opts ro = {.read_only = true};
  cr_assert_eq(store_open(path_below("short-at-the-end"), &ro, &s, &err), 0, "%s", msg(err));
  cr_assert_eq(store_streams(s), SX_EMPTY, "the store stays empty");
  close_ok(s);
}

/* A restore whose first frame is full (one event past 1 MiB): the next
 * record seals and writes it, and that write fails. */
static store_restore *restore_with_a_full_frame(const char *name) {
  store_restore *r = restore_into(name);
  sx_val err = SX_NIL;
  char *p;
  sx_val big = sx_string_alloc((1u << 20) + 10, &p);
  memset(p, 'b', (1u << 20) + 10);
  ok(store_restore_stream(r, str("a"), 1, &err), err);
  ok(store_restore_event(r, sx_dict_assoc(seq_ev(1), str("big"), big), &err), err);
  store_fault_inject(STORE_IO_LOG_WRITE, 1, EIO, true);
  return r;
}

Test(compact, a_restore_whose_frame_cannot_be_written_fails_at_the_record_that_sealed_it) {
  sx_val err = SX_NIL;
  const char *want = "log.restore failed: Input/output error";
  store_restore *r = restore_with_a_full_frame("f1"); /* a truncated stream's first event */
  ok(store_restore_stream(r, str("b"), 5, &err), err);
  refused(r, store_restore_event(r, seq_ev(3), &err), &err, want);
  store_fault_clear();
  r = restore_with_a_full_frame("f2"); /* an event */
  ok(store_restore_stream(r, str("b"), 5, &err), err);
  refused(r, store_restore_event(r, seq_ev(1), &err), &err, want);
  store_fault_clear();
  r = restore_with_a_full_frame("f3"); /* the mark of a stream truncated to nothing */
  ok(store_restore_stream(r, str("b"), 5, &err), err);
  refused(r, store_restore_stream(r, str("c"), 1, &err), &err, want);
  store_fault_clear();
  r = restore_with_a_full_frame("f4"); /* a kv value */
  refused(r, store_restore_kv(r, str("k"), sx_int(1), &err), &err, want);
  store_fault_clear();
  cr_assert(!exists_in(path_below("f1"), "log.restore") && !exists_in(path_below("f4"), "log.restore"),
            "no temporary log is left");
}

/* Files in blobs/ that are not shard directories are no blobs. */
Test(compact, a_stray_file_among_the_shards_is_not_listed_nor_copied) {
  sx_val err = SX_NIL, cid;
  store *s = open_w();
  ok(store_blob_put(s, "blob", 4, &cid, &err), err);
  close_ok(s);
  int fd = open(path_below("blobs/stray"), O_WRONLY | O_CREAT, 0644);
  cr_assert_geq(fd, 0);
  close(fd);
  sx_val l = store_blob_list(dir);
  cr_assert(sx_list_length(l) == 1 && sx_equal(sx_car(l), cid));
  store_backup_stats st;
  ok(store_backup(dir, path_below("bk"), &st, &err), err);
  cr_assert_eq(st.blobs, 1);
  cr_assert(!exists_in(path_below("bk"), "blobs/stray"));
}

Test(compact, a_backup_of_a_damaged_log_fails_and_writes_nothing) {
  build_history(0);
  int fd = open(log_path, O_RDWR); /* a byte of the first frame: later frames vouch for it */
  unsigned char c;
  cr_assert_eq(pread(fd, &c, 1, 50), 1);
  c ^= 0x40;
  cr_assert_eq(pwrite(fd, &c, 1, 50), 1);
  close(fd);
  sx_val err = SX_NIL;
  cr_assert_eq(store_backup(dir, path_below("bk"), NULL, &err), -1);
  cr_assert(strstr(msg(err), "is damaged at offset"), "%s", msg(err));
  cr_assert(!exists_in(path_below("bk"), "log") && !exists_in(path_below("bk"), "log.backup"));
}

Test(compact, a_backup_destination_that_cannot_be_a_directory_is_refused) {
  build_history(0);
  sx_val err = SX_NIL;
  cr_assert_eq(store_backup(dir, path_below("log/bk"), NULL, &err), -1, "below a file");
  cr_assert(strstr(msg(err), "Not a directory") && strstr(msg(err), "the destination must not exist"), "%s",
            msg(err));
  cr_assert_eq(store_backup(dir, "", NULL, &err), -1, "an empty name");
  cr_assert(strstr(msg(err), "No such file or directory"), "%s", msg(err));
}
