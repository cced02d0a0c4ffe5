/* test_fault.c — failing writes and syncs at every write site of the store
 * and the blob store (store/store_io.h). For each site, each errno
 * (ENOSPC, EIO) and each scenario (creating a store, full/batch/off
 * commits, opening a log with a torn tail, storing a blob, compacting the
 * log), the Nth call at
 * that site is made to fail — and every call after it (a full disk stays
 * full) — for N = 1, 2, ... until the scenario no longer reaches an Nth
 * call. Each time:
 *   - the failing operation returns an error naming the store and the
 *     errno's message;
 *   - with the fault still armed, the data stored before is readable (by
 *     the scenario's own handle, if it opened, and by a read-only handle);
 *   - once the fault is cleared, a reopened store holds exactly the data
 *     stored before plus the commits that were acknowledged (an off-mode
 *     store may lose acknowledged commits it had not written yet, but never
 *     part of one), nothing of a failed commit or blob, accepts writes, and
 *     `store_check` finds it clean;
 *   - the failing handle itself, before it is closed, and the reopened
 *     store show exactly the acknowledged commits: last seq, events, kv
 *     value and both listings, also when the handle had read and listed a
 *     commit whose group then failed.
 * Finally every write site must have failed in at least one scenario. */
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
#include "store.h"
#include "store_io.h"
#include "sx_dict.h"
#include "sx_test_dir.h"

static char root[64], dir[128], fresh[128];

static void setup(void) {
  sx_gc_init();
  /* the faults are simulated, so a RAM file system serves (and is fast) */
  struct stat st;
  bool shm = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0;
  strcpy(root, shm ? "/dev/shm/sxfault-test-XXXXXX" : "/tmp/sxfault-test-XXXXXX");
  cr_assert_not_null(mkdtemp(root));
  snprintf(dir, sizeof dir, "%s/store", root);
  snprintf(fresh, sizeof fresh, "%s/fresh/store", root);
}
static void teardown(void) {
  store_fault_clear();
  rm_tree(root);
}
TestSuite(fault, .init = setup, .fini = teardown, .timeout = 240);

/* ---- helpers ------------------------------------------------------------------ */

static sx_val str(const char *s) { return sx_string_cstr(s); }
static const char *msg(sx_val e) { return sx_is_string(e) ? sx_str_data(e) : "(no message)"; }

static sx_val ev(int64_t seq) {
  sx_val d = sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq));
  return sx_dict_assoc(d, str("data"), str("payload"));
}

static store *open_mode(const char *d, store_sync mode, sx_val *err) {
  store_opts o = {.sync = mode, .batch_window_ms = 1};
  store *s = NULL;
  return store_open(d, &o, &s, err) == 0 ? s : NULL;
}

#define BASE_BLOB "the blob stored before any fault"
#define NEW_BLOB "a blob stored while faults are armed"

/* What every run starts from: 3 events in "base", kv "cfg", one blob. */
static void baseline(void) {
  rm_tree(dir);
  rm_tree(fresh);
  sx_val err = SX_NIL, cid;
  store *s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_not_null(s, "baseline open: %s", msg(err));
  for (int i = 1; i <= 3; i++) cr_assert_eq(store_append(s, str("base"), ev(i), &err), 0);
  cr_assert_eq(store_kv_put(s, str("cfg"), str("on"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "baseline commit: %s", msg(err));
  cr_assert_eq(store_blob_put(s, BASE_BLOB, strlen(BASE_BLOB), &cid, &err), 0);
  cr_assert_eq(store_close(s, &err), 0);
}

/* The baseline is intact in s. */
static void assert_baseline(store *s, const char *when) {
  sx_val evs = store_read(s, str("base")), err = SX_NIL, bytes = SX_NIL;
  cr_assert(sx_is_list(evs) && sx_list_length(evs) == 3, "%s: the base stream lost events", when);
  cr_assert_eq(store_last_seq(s, str("base")), 3, "%s", when);
  sx_val cfg = store_kv_get(s, str("cfg"));
  cr_assert(sx_is_string(cfg) && strcmp(sx_str_data(cfg), "on") == 0, "%s: kv cfg lost", when);
  char cid[BLOB_CID_LEN + 1];
  blob_cid_of(BASE_BLOB, strlen(BASE_BLOB), cid);
  cr_assert_eq(store_blob_get(s, str(cid), &bytes, &err), 0, "%s: blob: %s", when, msg(err));
  cr_assert(sx_is_string(bytes) && strcmp(sx_str_data(bytes), BASE_BLOB) == 0, "%s: blob lost", when);
}

/* Is name among the strings of list? */
static bool listed(sx_val list, const char *name) {
  for (; sx_is_cons(list); list = sx_cdr(list))
    if (strcmp(sx_str_data(sx_car(list)), name) == 0) return true;
  return false;
}

/* What s shows of stream "w" and key "w" is exactly the first acked
 * commits: last seq, events, value, and both listings. */
static void assert_acked_view(store *s, int acked, const char *what, const char *who) {
  int64_t w = store_last_seq(s, str("w"));
  cr_assert_eq(w, acked, "%s: %s shows stream w at %lld, %d acknowledged", what, who, (long long)w, acked);
  sx_val evs = store_read(s, str("w")), kw = store_kv_get(s, str("w"));
  cr_assert(sx_is_list(evs) && sx_list_length(evs) == (size_t)acked, "%s: %s reads %zu events of w", what,
            who, sx_is_list(evs) ? sx_list_length(evs) : 0);
  cr_assert(acked == 0 ? kw == SX_NIL : sx_is_int(kw) && sx_int_val(kw) == acked, "%s: %s shows kv w wrong",
            what, who);
  cr_assert_eq(store_kv_has(s, str("w")), acked > 0, "%s: %s", what, who);
  cr_assert_eq(listed(store_streams(s), "w"), acked > 0, "%s: %s lists stream w wrongly", what, who);
  cr_assert_eq(listed(store_kv_keys(s), "w"), acked > 0, "%s: %s lists key w wrongly", what, who);
}

/* ---- scenarios ------------------------------------------------------------------ */

typedef struct run {
  store *s; /* the scenario's handle, if it opened */
  store_sync mode;
  int acked; /* commits to "w" that returned 0 */
  bool blob_failed, blob_tried;
  char first_err[1200];
} run;

static void note_err(run *r, sx_val err) {
  if (!r->first_err[0]) snprintf(r->first_err, sizeof r->first_err, "%s", msg(err));
}

/* Commit k: append to "w" and set kv "w" to k (commit 2 also writes a value
 * of 1.5 MiB, so the log must grow and be zero-filled ahead). */
static void commits(run *r, int n, useconds_t pause) {
  sx_val err = SX_NIL;
  for (int k = 1; k <= n; k++) {
    int64_t seq = store_last_seq(r->s, str("w")) + 1;
    if (store_append(r->s, str("w"), ev(seq), &err) || store_kv_put(r->s, str("w"), sx_int(seq), &err)) {
      note_err(r, err);
      store_rollback(r->s);
      continue;
    }
    if (k == 2 || r->mode == STORE_SYNC_OFF) {
      size_t big = k == 2 ? (3u << 19) : (30u << 10);
      char *p;
      sx_val v = sx_string_alloc(big, &p);
      memset(p, 'v', big);
      cr_assert_eq(store_kv_put(r->s, str("big"), v, &err), 0);
    }
    if (store_commit(r->s, &err)) note_err(r, err);
    else r->acked++;
    if (pause) usleep(pause);
  }
}

static void sc_commits(run *r, store_sync mode) {
  sx_val err = SX_NIL;
  r->mode = mode;
  r->s = open_mode(dir, mode, &err);
  if (!r->s) {
    note_err(r, err);
    return;
  }
  commits(r, 3, mode == STORE_SYNC_BATCH ? 20000 : 0);
  if (mode == STORE_SYNC_BATCH && store_flush(r->s, &err)) note_err(r, err); /* sync now */
  if (mode == STORE_SYNC_OFF) { /* close writes what is still buffered */
    if (store_close(r->s, &err)) note_err(r, err);
    r->s = NULL;
  }
}
static void sc_full(run *r) { sc_commits(r, STORE_SYNC_FULL); }
static void sc_batch(run *r) { sc_commits(r, STORE_SYNC_BATCH); }
static void sc_off(run *r) { sc_commits(r, STORE_SYNC_OFF); }

static void sc_create(run *r) {
  sx_val err = SX_NIL;
  store *s = open_mode(fresh, STORE_SYNC_FULL, &err);
  if (!s) {
    note_err(r, err);
    return;
  }
  if (store_close(s, &err)) note_err(r, err);
}

/* A log whose last commit was torn: the writable open cuts it off. */
static void sc_torn(run *r) {
  sx_val err = SX_NIL;
  r->s = open_mode(dir, STORE_SYNC_FULL, &err);
  if (!r->s) {
    note_err(r, err);
    return;
  }
}

static void sc_blob(run *r) {
  sx_val err = SX_NIL, cid;
  r->s = open_mode(dir, STORE_SYNC_FULL, &err);
  if (!r->s) {
    note_err(r, err);
    return;
  }
  r->blob_tried = true;
  if (store_blob_put(r->s, NEW_BLOB, strlen(NEW_BLOB), &cid, &err)) {
    note_err(r, err);
    r->blob_failed = true;
  }
}

/* Offline compaction: the old log stays until the new one is complete. */
static void sc_compact(run *r) {
  sx_val err = SX_NIL;
  if (store_compact(dir, NULL, &err)) note_err(r, err);
}

/* Append the start of a frame after the log's data (a torn commit). */
static void tear_log(void) {
  sx_val err = SX_NIL;
  store_opts o = {.read_only = true};
  store *s = NULL;
  cr_assert_eq(store_open(dir, &o, &s, &err), 0);
  store_stats st;
  store_get_stats(s, &st);
  store_close(s, &err);
  char path[200];
  snprintf(path, sizeof path, "%s/log", dir);
  int fd = open(path, O_WRONLY);
  cr_assert_geq(fd, 0);
  static const unsigned char torn[] = {0x53, 0x58, 0x46, 0x31, 0x40, 0, 0, 0, 'A', 1};
  cr_assert_eq(pwrite(fd, torn, sizeof torn, (off_t)st.log_bytes), (ssize_t)sizeof torn);
  close(fd);
}

typedef struct scenario {
  const char *name;
  void (*fn)(run *);
  bool torn;
} scenario;

static const scenario scenarios[] = {
    {"create", sc_create, false},   {"full", sc_full, false}, {"batch", sc_batch, false},
    {"off", sc_off, false},         {"torn", sc_torn, true},  {"blob", sc_blob, false},
    {"compact", sc_compact, false},
};

/* ---- checks ---------------------------------------------------------------------- */

static void check_error(const run *r, const char *what, int eno) {
  cr_assert(r->first_err[0], "%s: a fault fired but no operation reported an error", what);
  cr_assert(strstr(r->first_err, strerror(eno)), "%s: the error does not name the problem: %s", what,
            r->first_err);
  cr_assert(strstr(r->first_err, root), "%s: the error does not name the store: %s", what, r->first_err);
}

/* With the fault still armed: reads work, further writes fail cleanly. */
static void check_while_failing(run *r, const char *what) {
  sx_val err = SX_NIL;
  store_opts o = {.read_only = true};
  store *ro = NULL;
  if (store_open(dir, &o, &ro, &err) == 0) { /* absent only when the store never opened */
    assert_baseline(ro, what);
    store_close(ro, &err);
  }
  if (!r->s) return;
  assert_baseline(r->s, what);
  assert_acked_view(r->s, r->acked, what, "the failing handle");
  int64_t seq = store_last_seq(r->s, str("w")) + 1;
  if (store_append(r->s, str("w"), ev(seq), &err) == 0 &&
      store_kv_put(r->s, str("w"), sx_int(seq), &err) == 0 && store_commit(r->s, &err) == 0) {
    r->acked++;
  } else {
    cr_assert(strstr(msg(err), root), "%s: a later write failed without naming the store: %s", what,
              msg(err));
    store_rollback(r->s);
  }
}

/* After the fault is cleared and the store reopened. */
static void check_after(run *r, const scenario *sc, const char *what) {
  sx_val err = SX_NIL;
  if (r->s) store_close(r->s, &err); /* may report the failure again; must not crash */
  r->s = NULL;
  store *s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_not_null(s, "%s: reopening after the fault failed: %s", what, msg(err));
  assert_baseline(s, what);
  if (r->mode != STORE_SYNC_OFF) assert_acked_view(s, r->acked, what, "the reopened store");
  int64_t w = store_last_seq(s, str("w"));
  if (r->mode == STORE_SYNC_OFF)
    cr_assert(w <= r->acked, "%s: %lld commits stored, only %d acknowledged", what, (long long)w, r->acked);
  else cr_assert_eq(w, r->acked, "%s: %lld commits stored, %d acknowledged", what, (long long)w, r->acked);
  sx_val kw = store_kv_get(s, str("w"));
  cr_assert(w == 0 ? kw == SX_NIL : (sx_is_int(kw) && sx_int_val(kw) == w),
            "%s: part of a commit is stored (stream w at %lld)", what, (long long)w);
  if (r->blob_tried) {
    char cid[BLOB_CID_LEN + 1];
    blob_cid_of(NEW_BLOB, strlen(NEW_BLOB), cid);
    bool has = false;
    cr_assert_eq(store_blob_has(s, str(cid), &has, &err), 0);
    cr_assert_eq(has, !r->blob_failed, "%s: the blob is %s after its put %s", what,
                 has ? "present" : "absent", r->blob_failed ? "failed" : "succeeded");
  }
  cr_assert_eq(store_append(s, str("w"), ev(w + 1), &err), 0, "%s: %s", what, msg(err));
  cr_assert_eq(store_kv_put(s, str("w"), sx_int(w + 1), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s: the store does not accept writes: %s", what, msg(err));
  cr_assert_eq(store_close(s, &err), 0);
  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &report), 0, "%s: store check: %s", what, report.data);
  sx_buf_free(&report);
  if (sc->fn == sc_create) {
    store *f = open_mode(fresh, STORE_SYNC_FULL, &err); /* a failed creation can be retried */
    cr_assert_not_null(f, "%s: creating the store again failed: %s", what, msg(err));
    store_close(f, &err);
  }
}

/* Fail the nth call at site (and all after it) during scenario sc.
 * Returns false when the scenario made fewer than nth calls there. */
static bool run_one(const scenario *sc, store_io_site site, unsigned nth, int eno) {
  char what[160];
  snprintf(what, sizeof what, "scenario %s, %s call %u fails with %s", sc->name, store_io_site_name(site),
           nth, strerror(eno));
  baseline();
  if (sc->torn) tear_log();
  run r = {.mode = STORE_SYNC_FULL};
  store_fault_inject(site, nth, eno, true);
  sc->fn(&r);
  if (store_fault_fired() == 0) {
    store_fault_clear();
    check_after(&r, sc, what); /* the scenario ran cleanly: its writes are all there */
    return false;
  }
  check_error(&r, what, eno);
  check_while_failing(&r, what);
  store_fault_clear();
  check_after(&r, sc, what);
  return true;
}

Test(fault, every_write_site_fails_cleanly) {
  unsigned fired[STORE_IO_NSITES] = {0};
  static const int errnos[] = {ENOSPC, EIO};
  for (size_t c = 0; c < sizeof scenarios / sizeof scenarios[0]; c++)
    for (int site = 1; site < STORE_IO_NSITES; site++)
      for (size_t e = 0; e < 2; e++)
        for (unsigned nth = 1; nth <= 64 && run_one(&scenarios[c], (store_io_site)site, nth, errnos[e]);
             nth++)
          fired[site]++;
  for (int site = 1; site < STORE_IO_NSITES; site++)
    cr_expect_gt(fired[site], 0, "no scenario reached the write site %s", store_io_site_name(site));
}

Test(fault, one_shot_fault_then_the_store_carries_on) {
  baseline();
  sx_val err = SX_NIL;
  store *s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_not_null(s);
  store_fault_inject(STORE_IO_LOG_WRITE, 1, ENOSPC, false);
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), -1);
  cr_assert(strstr(msg(err), "write to") && strstr(msg(err), "/log failed: No space left on device"), "%s",
            msg(err));
  cr_assert_eq(store_last_seq(s, str("w")), 0, "the failed commit is undone in memory");
  /* a write failure is not a sync failure: once space is back, writes work */
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0, "%s", msg(err));
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  cr_assert_eq(store_close(s, &err), 0);
  s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_eq(store_last_seq(s, str("w")), 1);
  store_close(s, &err);
}

Test(fault, failed_sync_refuses_writes_until_reopened) {
  baseline();
  sx_val err = SX_NIL;
  store *s = open_mode(dir, STORE_SYNC_FULL, &err);
  store_fault_inject(STORE_IO_LOG_SYNC, 1, EIO, false);
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), -1);
  cr_assert(strstr(msg(err), "fdatasync of") && strstr(msg(err), "Input/output error") &&
                strstr(msg(err), "refuses further writes until it is reopened"),
            "%s", msg(err));
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), -1, "the next write is refused");
  cr_assert(strstr(msg(err), "fdatasync of"), "and names the first failure: %s", msg(err));
  assert_baseline(s, "after a failed sync");
  store_close(s, &err);
  s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_eq(store_last_seq(s, str("w")), 0, "the unsynced commit was cut off the log");
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "a reopened store accepts writes: %s", msg(err));
  store_close(s, &err);
}

/* A commit is applied before its group is synced (full mode): reads and
 * listings taken in between fill the handle's caches with it. When the
 * write or the sync then fails, the handle's own view must go back to the
 * acknowledged state, and so must the reopened store's. */
static void failing_commit_after_cached_reads(store_io_site site) {
  baseline();
  sx_val err = SX_NIL;
  store *s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_kv_put(s, str("w"), sx_int(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_append(t, str("w"), ev(2), &err), 0);
  cr_assert_eq(store_txn_kv_put(t, str("w"), sx_int(2), &err), 0);
  cr_assert_eq(store_txn_append(t, str("new"), ev(1), &err), 0);
  cr_assert_eq(store_txn_kv_put(t, str("new"), sx_int(1), &err), 0);
  cr_assert_eq(store_txn_kv_delete(t, str("cfg"), &err), 0);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "%s", msg(err));
  /* the applied, not yet durable commit, read into every cache */
  cr_assert_eq(store_last_seq(s, str("w")), 2);
  cr_assert_eq(sx_list_length(store_read(s, str("w"))), 2);
  cr_assert_eq(sx_int_val(store_kv_get(s, str("w"))), 2);
  cr_assert(listed(store_streams(s), "new") && listed(store_kv_keys(s), "new") &&
            !listed(store_kv_keys(s), "cfg"));
  store_fault_inject(site, 1, EIO, true);
  cr_assert_eq(store_wait_durable(s, ticket, &err), -1, "%s: the group's IO failed",
               store_io_site_name(site));
  const char *what = store_io_site_name(site);
  assert_acked_view(s, 1, what, "the failing handle");
  assert_baseline(s, what);
  cr_assert(!listed(store_streams(s), "new") && !listed(store_kv_keys(s), "new"),
            "%s: listings keep the failed commit", what);
  cr_assert_eq(store_last_seq(s, str("new")), 0, "%s", what);
  cr_assert_eq(store_read(s, str("new")), SX_EMPTY, "%s", what);
  cr_assert(!store_kv_has(s, str("new")) && store_kv_has(s, str("cfg")), "%s", what);
  store_stats st;
  store_get_stats(s, &st);
  cr_assert(st.streams == 2 && st.events == 4 && st.kv_keys == 2, "%s: stats count the failed commit", what);
  store_fault_clear();
  store_close(s, &err);
  s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_not_null(s, "%s", msg(err));
  assert_acked_view(s, 1, what, "the reopened store");
  cr_assert(!listed(store_streams(s), "new") && store_kv_has(s, str("cfg")), "%s", what);
  store_close(s, &err);
}

/* The same on a store whose first commit fails: nothing is left to list. */
static void failing_first_commit_after_cached_listings(store_io_site site) {
  rm_tree(fresh);
  sx_val err = SX_NIL;
  store *s = open_mode(fresh, STORE_SYNC_FULL, &err);
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_append(t, str("new"), ev(1), &err), 0);
  cr_assert_eq(store_txn_kv_put(t, str("new"), sx_int(1), &err), 0);
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "%s", msg(err));
  cr_assert(listed(store_streams(s), "new") && listed(store_kv_keys(s), "new"));
  store_fault_inject(site, 1, ENOSPC, true);
  cr_assert_eq(store_wait_durable(s, ticket, &err), -1);
  cr_assert_eq(store_streams(s), SX_EMPTY, "%s: the stream list keeps the failed commit",
               store_io_site_name(site));
  cr_assert_eq(store_kv_keys(s), SX_EMPTY, "%s: the key list keeps the failed commit",
               store_io_site_name(site));
  store_fault_clear();
  store_close(s, &err);
}

Test(fault, a_failed_group_takes_back_what_the_handle_had_read_of_it) {
  failing_commit_after_cached_reads(STORE_IO_LOG_SYNC);
  failing_commit_after_cached_reads(STORE_IO_LOG_WRITE);
  failing_first_commit_after_cached_listings(STORE_IO_LOG_SYNC);
  failing_first_commit_after_cached_listings(STORE_IO_LOG_WRITE);
}

/* The injector itself (issue 18): a fault at the site "any" fails the first
 * write call whatever its site; sites are found and named by name. */
Test(fault, a_fault_at_any_site_fails_the_first_call_of_any_site) {
  store_fault_inject(STORE_IO_ANY, 1, EROFS, false);
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(fresh, NULL, &s, &err), -1);
  cr_assert(strstr(msg(err), "Read-only file system"), "%s", msg(err));
  cr_assert_eq(store_fault_fired(), 1);
  s = open_mode(fresh, STORE_SYNC_FULL, &err); /* one-shot: the next open works */
  cr_assert_not_null(s, "%s", msg(err));
  /* the second call of any site, within the commit, fails once */
  store_fault_inject(STORE_IO_ANY, 2, EIO, false);
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), -1);
  cr_assert(strstr(msg(err), "Input/output error"), "%s", msg(err));
  cr_assert_eq(store_fault_fired(), 1);
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "one-shot: %s", msg(err));
  /* a disk full at any site, up to the data written so far */
  store_stats st;
  store_get_stats(s, &st);
  store_fault_space(STORE_IO_ANY, st.log_bytes);
  cr_assert_eq(store_append(s, str("w"), ev(2), &err), 0);
  cr_assert_eq(store_commit(s, &err), -1);
  cr_assert(strstr(msg(err), "No space left on device"), "%s", msg(err));
  store_fault_clear();
  cr_assert_eq(store_last_seq(s, str("w")), 1);
  store_close(s, &err);
  cr_assert_eq(store_io_site_find("log-write"), STORE_IO_LOG_WRITE);
  cr_assert_eq(store_io_site_find("no-such-site"), -1);
  cr_assert_str_eq(store_io_site_name(STORE_IO_COMPACT_RENAME), "compact-rename");
  cr_assert_str_eq(store_io_site_name(STORE_IO_NSITES), "?");
  cr_assert_str_eq(store_io_site_name((store_io_site)-1), "?");
}

/* ---- flush, close and later commits after a failure ------------------------------ */

/* Commit to "w" through a transaction without waiting: the ticket. */
static uint64_t commit_nowait(store *s, int64_t seq) {
  sx_val err = SX_NIL;
  store_txn *t = store_txn_begin(s);
  cr_assert_eq(store_txn_append(t, str("w"), ev(seq), &err), 0, "%s", msg(err));
  cr_assert_eq(store_txn_kv_put(t, str("w"), sx_int(seq), &err), 0);
  uint64_t ticket = 0;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "%s", msg(err));
  return ticket;
}

/* A full-mode flush whose write or sync fails fails the commits nobody had
 * waited for; a commit made durable before stays durable, and only a failed
 * sync makes the handle refuse writes. */
static void failing_flush(store_io_site site, int eno) {
  const char *what = store_io_site_name(site);
  baseline();
  sx_val err = SX_NIL;
  store *s = open_mode(dir, STORE_SYNC_FULL, &err);
  uint64_t first = commit_nowait(s, 1);
  cr_assert_eq(store_wait_durable(s, first, &err), 0, "%s", msg(err));
  uint64_t second = commit_nowait(s, 2);
  store_fault_inject(site, 1, eno, false);
  cr_assert_eq(store_flush(s, &err), -1, "%s: the flush fails", what);
  cr_assert(strstr(msg(err), strerror(eno)) && strstr(msg(err), root), "%s: %s", what, msg(err));
  store_fault_clear();
  cr_assert_eq(store_wait_durable(s, first, &err), 0, "%s: the earlier commit stays durable: %s", what,
               msg(err));
  cr_assert_eq(store_wait_durable(s, second, &err), -1, "%s: the flushed commit failed", what);
  cr_assert(strstr(msg(err), strerror(eno)), "%s: and says why: %s", what, msg(err));
  assert_acked_view(s, 1, what, "the handle whose flush failed");
  int rc = store_append(s, str("w"), ev(2), &err);
  if (rc == 0) {
    cr_assert_eq(site, STORE_IO_LOG_WRITE, "%s: a failed sync must refuse writes", what);
    cr_assert_eq(store_kv_put(s, str("w"), sx_int(2), &err), 0);
    cr_assert_eq(store_commit(s, &err), 0, "%s: a failed write does not stop the handle: %s", what, msg(err));
  } else {
    cr_assert_eq(site, STORE_IO_LOG_SYNC, "%s: a failed write must not refuse writes: %s", what, msg(err));
    cr_assert(strstr(msg(err), "refuses further writes"), "%s: %s", what, msg(err));
  }
  store_close(s, &err);
  s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert_not_null(s, "%s", msg(err));
  assert_acked_view(s, rc == 0 ? 2 : 1, what, "the reopened store");
  store_close(s, &err);
}

Test(fault, a_failed_flush_fails_the_commits_nobody_waited_for) {
  failing_flush(STORE_IO_LOG_WRITE, ENOSPC);
  failing_flush(STORE_IO_LOG_SYNC, EIO);
}

/* A transaction begun before the handle started refusing cannot commit
 * after: it gets the first failure. */
Test(fault, a_transaction_begun_before_a_failed_sync_cannot_commit_after_it) {
  baseline();
  sx_val err = SX_NIL;
  store *s = open_mode(dir, STORE_SYNC_FULL, &err);
  store_txn *late = store_txn_begin(s);
  cr_assert_eq(store_txn_kv_put(late, str("late"), sx_int(1), &err), 0, "%s", msg(err));
  store_fault_inject(STORE_IO_LOG_SYNC, 1, EIO, false);
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), -1);
  store_fault_clear();
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(late, &ticket, &err), -1, "the refusing handle takes no commit");
  cr_assert(strstr(msg(err), "fdatasync of") && strstr(msg(err), "refuses further writes"),
            "it names the first failure: %s", msg(err));
  store_close(s, &err);
  s = open_mode(dir, STORE_SYNC_FULL, &err);
  cr_assert(!store_kv_has(s, str("late")), "nothing of it was stored");
  assert_baseline(s, "after the refused commit");
  store_close(s, &err);
}

/* Every call from the nth on fails (site "any"): for some n the group's
 * fdatasync fails and so does cutting its frames off again. The message
 * says both, the handle refuses writes, and the store reopens cleanly with
 * or without the commit (its frame may have reached the disk). */
Test(fault, a_failed_sync_whose_cut_fails_too_says_so) {
  bool seen = false;
  for (unsigned nth = 1; nth <= 8 && !seen; nth++) {
    baseline();
    sx_val err = SX_NIL;
    store *s = open_mode(dir, STORE_SYNC_FULL, &err);
    cr_assert_not_null(s, "%s", msg(err));
    uint64_t ticket = commit_nowait(s, 1);
    store_fault_inject(STORE_IO_ANY, nth, EIO, true);
    int rc = store_wait_durable(s, ticket, &err);
    store_fault_clear();
    if (rc == 0) {
      store_close(s, &err);
      break; /* nth is past the group's calls */
    }
    seen = strstr(msg(err), "cutting the unsynced commits off the log failed too") != NULL;
    if (seen) {
      cr_assert(strstr(msg(err), "fdatasync of") && strstr(msg(err), "Input/output error"), "%s", msg(err));
      cr_assert_eq(store_append(s, str("w"), ev(1), &err), -1, "the handle refuses writes");
      cr_assert(strstr(msg(err), "cutting the unsynced commits off the log failed too"), "%s", msg(err));
    }
    store_close(s, &err);
    s = open_mode(dir, STORE_SYNC_FULL, &err);
    cr_assert_not_null(s, "nth %u: reopening: %s", nth, msg(err));
    assert_baseline(s, "after the failed group");
    int64_t w = store_last_seq(s, str("w"));
    cr_assert(w == 0 || (w == 1 && sx_int_val(store_kv_get(s, str("w"))) == 1), "nth %u: part of a commit",
              nth);
    store_close(s, &err);
    sx_buf report = SX_BUF_INIT;
    cr_assert_eq(store_check(dir, &report), 0, "nth %u: %s", nth, report.data);
    sx_buf_free(&report);
  }
  cr_assert(seen, "no n made both the sync and the cut fail");
}

/* Batch mode: a background fdatasync that fails after the last commit is
 * reported when the store is closed. */
Test(fault, a_background_sync_failure_nobody_committed_after_is_reported_at_close) {
  baseline();
  sx_val err = SX_NIL;
  store *s = open_mode(dir, STORE_SYNC_BATCH, &err);
  store_fault_inject(STORE_IO_BATCH_SYNC, 1, EIO, false);
  cr_assert_eq(store_append(s, str("w"), ev(1), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  for (int i = 0; i < 2000 && store_fault_fired() == 0; i++) usleep(1000);
  cr_assert_eq(store_fault_fired(), 1, "the flusher synced within the window");
  store_fault_clear();
  cr_assert_eq(store_close(s, &err), -1, "close reports the failed background sync");
  cr_assert(strstr(msg(err), "a background fdatasync failed: Input/output error") && strstr(msg(err), root),
            "%s", msg(err));
  s = open_mode(dir, STORE_SYNC_FULL, &err);
  assert_baseline(s, "after the failed background sync");
  cr_assert_eq(store_last_seq(s, str("w")), 1, "close synced the commit itself");
  store_close(s, &err);
}
