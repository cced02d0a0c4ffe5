/* test_ioorder.c — the order of the store's file-system calls, from the
 * call trace of the test build (store/store_iotrace.h): a commit's write
 * is followed by its fdatasync before it is acknowledged; the zero-filled
 * growth of the log is synced before a frame is written into it; an open
 * syncs the log before it writes; flush and close sync what they wrote;
 * the batch flusher syncs within its window; and every new name (the
 * store's directories, the log, blobs and their shards, the compacted log)
 * is followed by an fsync of its directory, its data synced before the
 * rename. Each sync call of the store is needed by one of these. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "store_iotrace.h"
#include "sx_dict.h"
#include "sx_test_dir.h"

static char root[PATH_MAX], dir[PATH_MAX + 16], log_path[PATH_MAX + 32];

static void setup(void) {
  sx_gc_init();
  char tmpl[] = "/tmp/sxioorder-test-XXXXXX";
  cr_assert_not_null(mkdtemp(tmpl));
  cr_assert_not_null(realpath(tmpl, root));
  snprintf(dir, sizeof dir, "%s/store", root);
  snprintf(log_path, sizeof log_path, "%s/log", dir);
}
static void teardown(void) {
  store_iotrace_stop();
  rm_tree(root);
}
TestSuite(ioorder, .init = setup, .fini = teardown);

/* ---- helpers ------------------------------------------------------------------ */

static sx_val str(const char *s) { return sx_string_cstr(s); }
static const char *msg(sx_val e) { return sx_is_string(e) ? sx_str_data(e) : "(no message)"; }

static store *open_mode(store_sync mode, unsigned window_ms) {
  store_opts o = {.sync = mode, .batch_window_ms = window_ms};
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, &o, &s, &err), 0, "%s", msg(err));
  return s;
}

static void close_ok(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(s, &err), 0, "%s", msg(err));
}

/* Commit one append to stream (without waiting); returns its ticket. */
static uint64_t commit_one(store *s, const char *stream) {
  store_txn *t = store_txn_begin(s);
  int64_t seq = store_txn_last_seq(t, str(stream)) + 1;
  sx_val ev = sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq)), err = SX_NIL;
  cr_assert_eq(store_txn_append(t, str(stream), ev, &err), 0, "%s", msg(err));
  uint64_t ticket;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "%s", msg(err));
  return ticket;
}

static store_iotrace_ent at(size_t i) {
  store_iotrace_ent e;
  cr_assert(store_iotrace_get(i, &e), "no trace entry %zu", i);
  return e;
}

static bool is_sync(const store_iotrace_ent *e) { return e->call == IOT_FSYNC || e->call == IOT_FDATASYNC; }

/* The index of the last (from the end: before `before`) entry that is a
 * write to path with data (zeros: only zero bytes), or -1. */
static long last_write(const char *path, bool zeros, size_t before) {
  for (size_t i = before; i-- > 0;) {
    store_iotrace_ent e = at(i);
    if (e.call == IOT_WRITE && e.zeros == zeros && strcmp(e.path, path) == 0) return (long)i;
  }
  return -1;
}

/* Is there a sync of path at an index in (from, to)? */
static bool synced_between(const char *path, long from, size_t to) {
  for (size_t i = (size_t)(from + 1); i < to; i++) {
    store_iotrace_ent e = at(i);
    if (is_sync(&e) && strcmp(e.path, path) == 0) return true;
  }
  return false;
}

/* Every data write to the log recorded so far is followed by a sync. */
static void assert_log_synced(const char *when) {
  size_t n = store_iotrace_count();
  long w = last_write(log_path, false, n);
  cr_assert_geq(w, 0, "%s: nothing was written to the log", when);
  cr_assert(synced_between(log_path, w, n), "%s: the log's last write (entry %ld) is not synced", when, w);
}

/* The index of the first entry (from `from`) with call and path, or -1. */
static long find(store_iotrace_call call, const char *path, size_t from) {
  for (size_t i = from; i < store_iotrace_count(); i++) {
    store_iotrace_ent e = at(i);
    if (e.call == call && strcmp(e.path, path) == 0) return (long)i;
  }
  return -1;
}

/* Every new name (mkdir, a created file but the lock, a rename) is
 * followed by an fsync of its directory; a renamed file's data is synced
 * before the rename. */
static void assert_names_durable(void) {
  size_t n = store_iotrace_count(), names = 0;
  for (size_t i = 0; i < n; i++) {
    store_iotrace_ent e = at(i);
    bool name = e.call == IOT_MKDIR || e.call == IOT_RENAME || (e.call == IOT_OPEN && e.create);
    if (!name || e.site == STORE_IO_LOCK) continue; /* the lock file holds no data */
    names++;
    char parent[sizeof e.path];
    snprintf(parent, sizeof parent, "%s", e.path);
    dirname(parent);
    long ds = find(IOT_FSYNC, parent, i + 1);
    if (e.call == IOT_OPEN) { /* a temporary file: durable through its rename */
      long rn = -1;
      for (size_t j = i + 1; j < n && rn < 0; j++) {
        store_iotrace_ent r = at(j);
        if (r.call == IOT_RENAME && strcmp(r.from, e.path) == 0) rn = (long)j;
      }
      cr_assert_geq(rn, 0, "%s is created but never renamed into place", e.path);
      cr_assert(synced_between(e.path, (long)i, (size_t)rn), "%s is renamed before its data is synced",
                e.path);
      continue;
    }
    cr_assert_geq(ds, 0, "the new name %s (%s, entry %zu) is never made durable: no fsync of %s", e.path,
                  store_iotrace_call_name(e.call), i, parent);
    cr_assert_eq(at((size_t)ds).site, STORE_IO_DIR_SYNC);
  }
  cr_assert_gt(names, 0, "no name was made");
}

/* ---- commits -------------------------------------------------------------------- */

Test(ioorder, a_full_mode_commit_is_written_and_fdatasynced_before_it_is_acknowledged) {
  store *s = open_mode(STORE_SYNC_FULL, 0);
  for (int i = 0; i < 3; i++) {
    store_iotrace_start();
    uint64_t ticket = commit_one(s, "a");
    sx_val err = SX_NIL;
    cr_assert_eq(store_wait_durable(s, ticket, &err), 0, "%s", msg(err));
    size_t n = store_iotrace_count();
    long w = last_write(log_path, false, n);
    cr_assert_geq(w, 0, "commit %d wrote nothing", i);
    cr_assert_eq(at((size_t)w).site, STORE_IO_LOG_WRITE);
    bool data_sync = false;
    for (size_t j = (size_t)w + 1; j < n; j++) {
      store_iotrace_ent e = at(j);
      data_sync |= e.call == IOT_FDATASYNC && e.site == STORE_IO_LOG_SYNC && strcmp(e.path, log_path) == 0;
    }
    cr_assert(data_sync, "commit %d is acknowledged before the fdatasync of its write", i);
  }
  close_ok(s);
}

/* Commits nobody waited for are written and synced by close; one group
 * sync covers every commit before it. */
Test(ioorder, close_syncs_commits_nobody_waited_for_and_one_sync_covers_a_group) {
  store *s = open_mode(STORE_SYNC_FULL, 0);
  store_iotrace_start();
  commit_one(s, "a");
  commit_one(s, "b");
  uint64_t last = commit_one(s, "c");
  cr_assert_eq(last_write(log_path, false, store_iotrace_count()), -1, "full mode writes in the wait");
  sx_val err = SX_NIL;
  cr_assert_eq(store_wait_durable(s, last, &err), 0, "%s", msg(err));
  size_t syncs = 0;
  for (size_t i = 0; i < store_iotrace_count(); i++) syncs += at(i).call == IOT_FDATASYNC;
  cr_assert_eq(syncs, 2, "one sync for the log's growth, one for the group of three commits");
  store_iotrace_start();
  commit_one(s, "d");
  close_ok(s);
  assert_log_synced("close");
}

Test(ioorder, the_log_s_zero_filled_growth_is_synced_before_a_frame_is_written_into_it) {
  store_sync modes[] = {STORE_SYNC_FULL, STORE_SYNC_BATCH};
  for (size_t m = 0; m < 2; m++) {
    rm_tree(dir);
    store *s = open_mode(modes[m], 10000);
    store_iotrace_start();
    uint64_t ticket = commit_one(s, "a");
    sx_val err = SX_NIL;
    cr_assert_eq(store_wait_durable(s, ticket, &err), 0, "%s", msg(err));
    size_t n = store_iotrace_count();
    long frame = last_write(log_path, false, n), fill = last_write(log_path, true, (size_t)frame);
    cr_assert_geq(fill, 0, "%s: a fresh log is not extended before its first frame",
                  store_sync_name(modes[m]));
    cr_assert(synced_between(log_path, fill, (size_t)frame),
              "%s: a frame is written into zero-filled space that was never synced",
              store_sync_name(modes[m]));
    close_ok(s);
  }
}

Test(ioorder, an_open_syncs_the_log_before_it_writes) {
  store *s = open_mode(STORE_SYNC_FULL, 0);
  commit_one(s, "a");
  close_ok(s);
  FILE *f = fopen(log_path, "ab"); /* a torn tail for the open to cut */
  fputs("SXF2 torn", f);
  fclose(f);
  store_iotrace_start();
  s = open_mode(STORE_SYNC_FULL, 0);
  long cut = find(IOT_TRUNCATE, log_path, 0);
  cr_assert_geq(cut, 0, "the torn tail is not cut");
  long sync = find(IOT_FDATASYNC, log_path, (size_t)cut);
  cr_assert_geq(sync, 0, "the open does not sync the log after cutting it");
  uint64_t ticket = commit_one(s, "a");
  sx_val err = SX_NIL;
  cr_assert_eq(store_wait_durable(s, ticket, &err), 0);
  long w = find(IOT_WRITE, log_path, 0);
  cr_assert_gt(w, sync, "a write comes before the open's sync");
  close_ok(s);
}

Test(ioorder, flush_syncs_in_every_mode) {
  store_sync modes[] = {STORE_SYNC_FULL, STORE_SYNC_BATCH, STORE_SYNC_OFF};
  for (size_t m = 0; m < 3; m++) {
    rm_tree(dir);
    store *s = open_mode(modes[m], 10000);
    store_iotrace_start();
    commit_one(s, "a");
    sx_val err = SX_NIL;
    cr_assert_eq(store_flush(s, &err), 0, "%s", msg(err));
    assert_log_synced(store_sync_name(modes[m]));
    close_ok(s);
  }
}

Test(ioorder, batch_mode_writes_at_commit_and_syncs_within_the_window) {
  store *s = open_mode(STORE_SYNC_BATCH, 5);
  store_iotrace_start();
  commit_one(s, "a");
  long w = last_write(log_path, false, store_iotrace_count());
  cr_assert_geq(w, 0, "batch mode writes at commit");
  bool synced = false;
  for (int tries = 0; tries < 400 && !synced; tries++) {
    usleep(5000);
    synced = synced_between(log_path, w, store_iotrace_count());
  }
  cr_assert(synced, "the flusher did not sync the commit within two seconds");
  long bs = find(IOT_FDATASYNC, log_path, (size_t)w);
  cr_assert_eq(at((size_t)bs).site, STORE_IO_BATCH_SYNC);
  close_ok(s);
}

Test(ioorder, closing_in_batch_mode_syncs) {
  store *s = open_mode(STORE_SYNC_BATCH, 10000);
  store_iotrace_start();
  commit_one(s, "a");
  long w = last_write(log_path, false, store_iotrace_count());
  cr_assert(!synced_between(log_path, w, store_iotrace_count()), "synced before the window passed");
  close_ok(s);
  assert_log_synced("close in batch mode");
}

/* ---- names ------------------------------------------------------------------------ */

Test(ioorder, creating_a_store_makes_each_directory_and_the_log_durable) {
  snprintf(dir, sizeof dir, "%s/a/b/store", root);
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  store_iotrace_start();
  store *s = open_mode(STORE_SYNC_FULL, 0);
  assert_names_durable();
  cr_assert_geq(find(IOT_MKDIR, dir, 0), 0);
  cr_assert_geq(find(IOT_RENAME, log_path, 0), 0);
  close_ok(s);
}

Test(ioorder, a_blob_and_its_directories_are_durable) {
  store *s = open_mode(STORE_SYNC_FULL, 0);
  store_iotrace_start();
  sx_val cid, err = SX_NIL;
  cr_assert_eq(store_blob_put(s, "one", 3, &cid, &err), 0, "%s", msg(err));
  assert_names_durable();
  size_t mkdirs = 0, renames = 0;
  for (size_t i = 0; i < store_iotrace_count(); i++) {
    mkdirs += at(i).call == IOT_MKDIR;
    renames += at(i).call == IOT_RENAME;
  }
  cr_assert_eq(mkdirs, 2, "blobs/ and the shard");
  cr_assert_eq(renames, 1);
  store_iotrace_start(); /* the second blob of the shard */
  cr_assert_eq(store_blob_put(s, "one", 3, &cid, &err), 0);
  char bytes[64];
  for (int i = 0;; i++) { /* another blob in the same shard */
    snprintf(bytes, sizeof bytes, "blob %d", i);
    sx_val c2;
    store_iotrace_start();
    cr_assert_eq(store_blob_put(s, bytes, strlen(bytes), &c2, &err), 0);
    const char *a = sx_str_data(cid), *b = sx_str_data(c2);
    size_t la = strlen(a), lb = strlen(b);
    if (memcmp(a + la - 3, b + lb - 3, 2) == 0) break;
  }
  assert_names_durable();
  close_ok(s);
}

Test(ioorder, compaction_syncs_the_new_log_renames_it_and_syncs_the_directory) {
  store *s = open_mode(STORE_SYNC_FULL, 0);
  store_wait_durable(s, commit_one(s, "a"), &(sx_val){SX_NIL});
  close_ok(s);
  store_iotrace_start();
  sx_val err = SX_NIL;
  cr_assert_eq(store_compact(dir, NULL, &err), 0, "%s", msg(err));
  assert_names_durable();
  char tmp[PATH_MAX + 40];
  snprintf(tmp, sizeof tmp, "%s/log.compact", dir);
  long create = find(IOT_OPEN, tmp, 0), rn = find(IOT_RENAME, log_path, 0);
  cr_assert(create >= 0 && rn > create);
  cr_assert_eq(at((size_t)rn).site, STORE_IO_COMPACT_RENAME);
}

/* The trace itself (issue 18): entries in order, none past the end, every
 * call named. */
Test(ioorder, the_trace_lists_the_calls_and_nothing_past_its_end) {
  store_iotrace_start();
  store *s = open_mode(STORE_SYNC_FULL, 0);
  close_ok(s);
  size_t n = store_iotrace_count();
  cr_assert_gt(n, 0);
  store_iotrace_ent e;
  cr_assert(store_iotrace_get(n - 1, &e));
  cr_assert(!store_iotrace_get(n, &e), "an entry past the end");
  static const char *names[] = {"open", "write", "fsync", "fdatasync", "truncate", "rename", "mkdir"};
  for (int c = IOT_OPEN; c <= IOT_MKDIR; c++)
    cr_assert_str_eq(store_iotrace_call_name((store_iotrace_call)c), names[c]);
  cr_assert_str_eq(store_iotrace_call_name((store_iotrace_call)(IOT_MKDIR + 1)), "?");
  store_iotrace_start(); /* starts over */
  cr_assert_eq(store_iotrace_count(), 0);
}
