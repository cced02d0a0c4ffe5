/* test_crashsim.c — crash-state exploration (issue 14). A scripted
 * workload runs through the real store API in each sync mode while the
 * test build of store_io records every file-system change
 * (store_iosim.h): transactions (in full mode several committed before one
 * store_wait_durable, so group commit writes their frames in one write),
 * kv puts and deletes, truncations, a blob, store_compact, a commit whose
 * write is cut short and left in the log, and the open that discards that
 * torn tail. Then every crash point is replayed in many variants (unsynced
 * writes lost, kept, torn at 512-byte sectors, reordered; names journaled
 * in order); each distinct disk state is written to a directory and
 * checked:
 *   - store_check and store_open agree, and open succeeds unless the log
 *     is reported damaged (never in full mode, never after a mere process
 *     crash);
 *   - the store holds exactly the state after its first m transactions
 *     (no part of a transaction without the rest, no failed commit, no
 *     wrong byte), where m covers every promised transaction: full mode
 *     every one whose store_wait_durable returned; batch and off mode every
 *     one a later fdatasync of the log covered (and after a process crash
 *     every one acknowledged; off mode acknowledges at flush or close);
 *   - the blob reads back right or is absent, present once promised;
 *   - the reopened store accepts a commit.
 * SX_CRASHSIM_SCALE=N (./run.sh crashsim) makes the workload and the
 * random variants N times larger. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_io.h"
#include "store_iosim.h"
#include "sx_dict.h"
#include "sx_test_dir.h"

#define MAXTX 1024
#define NEVER SIZE_MAX

static char base[64], live[128], livestore[160];
static int scale = 1;

static void setup(void) {
  sx_gc_init();
  store_set_warning_hook(NULL, NULL);
  struct stat st;
  bool shm = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0;
  strcpy(base, shm ? "/dev/shm/sxcrashsim-XXXXXX" : "/tmp/sxcrashsim-XXXXXX");
  cr_assert_not_null(mkdtemp(base));
  snprintf(live, sizeof live, "%s/live", base);
  snprintf(livestore, sizeof livestore, "%s/store", live);
  cr_assert_eq(mkdir(live, 0755), 0);
  const char *sc = getenv("SX_CRASHSIM_SCALE");
  scale = sc && atoi(sc) > 0 ? atoi(sc) : 1;
}
static void teardown(void) {
  store_iosim_stop();
  store_fault_clear();
  rm_tree(base);
}
TestSuite(crashsim, .init = setup, .fini = teardown, .timeout = 1200);

/* ---- the workload ---------------------------------------------------------------- */

/* What the workload did, in recorded operations. */
typedef struct {
  store_sync mode;
  int ntx;                 /* transactions committed */
  int acked;               /* transactions acknowledged so far */
  sx_val snap[MAXTX + 1];  /* the state after the first i */
  size_t begin[MAXTX + 1]; /* operations when its commit started */
  size_t ack[MAXTX + 1];   /* operations when it was acknowledged */
  sx_val blob, cid;
  size_t blob_end; /* operations when blob_put returned */
} workload;

static workload W; /* static: the collector scans it */

static sx_val str(const char *s) { return sx_string_cstr(s); }
static const char *msg(sx_val e) { return sx_is_string(e) ? sx_str_data(e) : "(no message)"; }

static sx_val keyf(const char *fmt, int i) {
  char b[32];
  snprintf(b, sizeof b, fmt, i);
  return str(b);
}

/* Everything a transaction sees, as one comparable value. */
static sx_val snapshot(store *s) {
  store_txn *t = store_txn_begin(s);
  sx_val out = SX_EMPTY;
  for (sx_val l = store_txn_streams(t); sx_is_cons(l); l = sx_cdr(l)) {
    sx_val n = sx_car(l);
    out = sx_cons(sx_list(3, (sx_val[]){n, sx_int(store_txn_last_seq(t, n)), store_txn_read(t, n)}), out);
  }
  for (sx_val l = store_txn_kv_keys(t); sx_is_cons(l); l = sx_cdr(l))
    out = sx_cons(sx_list(2, (sx_val[]){sx_car(l), store_txn_kv_get(t, sx_car(l))}), out);
  store_txn_abort(t);
  return out;
}

static store *open_mode(const char *d, store_sync mode, sx_val *err) {
  store_opts o = {.sync = mode, .batch_window_ms = 2};
  store *s = NULL;
  return store_open(d, &o, &s, err) == 0 ? s : NULL;
}

static store *open_ok(store_sync mode) {
  sx_val err = SX_NIL;
  store *s = open_mode(livestore, mode, &err);
  cr_assert_not_null(s, "open: %s", msg(err));
  return s;
}

/* Transaction i's writes: an event padded to ~1200 bytes on s<i%3>, kv
 * k<i%5> = i and last = i; every 4th deletes a key, every 7th truncates. */
static void tx_writes(store_txn *t, int i) {
  sx_val err = SX_NIL, sn = keyf("s%d", i % 3);
  char pad[1200];
  for (size_t j = 0; j < sizeof pad - 1; j++) pad[j] = (char)('a' + (i * 7 + (int)j) % 26);
  pad[sizeof pad - 1] = '\0';
  int64_t seq = store_txn_last_seq(t, sn) + 1;
  sx_val ev = sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq));
  ev = sx_dict_assoc(sx_dict_assoc(ev, str("i"), sx_int(i)), str("pad"), str(pad));
  cr_assert_eq(store_txn_append(t, sn, ev, &err), 0, "%s", msg(err));
  cr_assert_eq(store_txn_kv_put(t, keyf("k%d", i % 5), sx_int(i), &err), 0, "%s", msg(err));
  cr_assert_eq(store_txn_kv_put(t, str("last"), sx_int(i), &err), 0, "%s", msg(err));
  if (i % 4 == 0) cr_assert_eq(store_txn_kv_delete(t, keyf("k%d", (i + 2) % 5), &err), 0);
  if (i % 7 == 0) cr_assert_eq(store_txn_truncate(t, sn, seq - 2, &err), 0, "%s", msg(err));
}

/* Commit the next transaction (not waiting); its ticket. */
static uint64_t tx_commit(store *s) {
  int i = W.ntx + 1;
  cr_assert(i <= MAXTX);
  store_txn *t = store_txn_begin(s);
  tx_writes(t, i);
  W.begin[i] = store_iosim_ops();
  uint64_t ticket = 0;
  sx_val err = SX_NIL;
  cr_assert_eq(store_txn_commit(t, &ticket, &err), 0, "commit %d: %s", i, msg(err));
  W.ntx = i;
  W.snap[i] = snapshot(s);
  W.ack[i] = NEVER;
  return ticket;
}

/* Every committed transaction is acknowledged now. */
static void ack_all(void) {
  size_t now = store_iosim_ops();
  for (; W.acked < W.ntx; W.acked++) W.ack[W.acked + 1] = now;
}

static void tx_wait(store *s, uint64_t ticket) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_wait_durable(s, ticket, &err), 0, "%s", msg(err));
  if (W.mode != STORE_SYNC_OFF) ack_all(); /* off mode: only at flush or close */
}

static void flush_ok(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_flush(s, &err), 0, "%s", msg(err));
  ack_all();
}

static void close_ok(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(s, &err), 0, "%s", msg(err));
  ack_all();
}

/* n transactions the mode's way: in full mode groups of one to three
 * committed before one wait (group commit: one write, one fdatasync);
 * batch mode pauses now and then so the flusher syncs; off mode flushes
 * every eighth. */
static void run_txs(store *s, int n) {
  for (int j = 0, g = 0; j < n; j++) {
    for (int more = W.mode == STORE_SYNC_FULL ? g++ % 3 : 0; more > 0 && j + 1 < n; more--, j++) tx_commit(s);
    tx_wait(s, tx_commit(s));
    if (W.mode == STORE_SYNC_BATCH && j % 5 == 4) nanosleep(&(struct timespec){0, 5000000}, NULL);
    if (W.mode == STORE_SYNC_OFF && j % 8 == 7) flush_ok(s);
  }
}

static void put_blob(store *s) {
  char b[3000];
  for (size_t j = 0; j < sizeof b; j++) b[j] = (char)(j * 31 + 7);
  W.blob = sx_string_new(b, sizeof b);
  sx_val err = SX_NIL;
  cr_assert_eq(store_blob_put(s, b, sizeof b, &W.cid, &err), 0, "%s", msg(err));
  W.blob_end = store_iosim_ops();
}

/* A commit whose frame is written only in part (a nearly full disk) and
 * whose cutting back fails too, so it stays in the log; it fails. */
static void ghost_commit(store *s) {
  flush_ok(s);
  store_stats st;
  store_get_stats(s, &st);
  store_fault_space(STORE_IO_LOG_WRITE, st.log_bytes + 40); /* the head and a little */
  store_fault_inject(STORE_IO_LOG_TRUNC, 1, EIO, false);
  store_txn *t = store_txn_begin(s);
  sx_val err = SX_NIL;
  cr_assert_eq(store_txn_kv_put(t, str("last"), sx_int(MAXTX + 1), &err), 0);
  cr_assert_eq(store_txn_kv_put(t, str("ghost"), str("never stored"), &err), 0);
  uint64_t ticket = 0;
  int rc = store_txn_commit(t, &ticket, &err);
  if (rc == 0) rc = store_wait_durable(s, ticket, &err);
  if (rc == 0) rc = store_flush(s, &err);
  cr_assert_neq(rc, 0, "the ghost commit must fail");
  cr_assert_eq(store_fault_fired(), 1, "the log was not left holding the partial frame");
  store_fault_clear();
  store_close(s, &err); /* refuses: the handle is in doubt */
}

/* Transactions per phase: full and off mode write fewer, larger frames
 * (fewer states per transaction), so they run more. */
static int phase_txs(int n) { return n * scale * (W.mode == STORE_SYNC_BATCH ? 1 : 2); }

static void workload_run(store_sync mode) {
  memset(&W, 0, sizeof W);
  W.mode = mode;
  W.snap[0] = SX_EMPTY;
  store_iosim_start(live);
  store *s = open_ok(mode);
  run_txs(s, phase_txs(30));
  put_blob(s);
  run_txs(s, phase_txs(10));
  close_ok(s);
  store_compact_stats cs;
  sx_val err = SX_NIL;
  cr_assert_eq(store_compact(livestore, &cs, &err), 0, "%s", msg(err));
  s = open_ok(mode);
  run_txs(s, phase_txs(20));
  ghost_commit(s);
  s = open_ok(mode);
  const char *warn = store_warning(s);
  cr_assert(warn && strstr(warn, "torn tail"), "the reopen did not discard a torn tail: %s",
            warn ? warn : "(nothing)");
  run_txs(s, phase_txs(20));
  close_ok(s);
  store_iosim_stop();
}

/* ---- the oracle ---------------------------------------------------------------------- */

typedef struct {
  size_t points, variants, distinct, refused, violations;
  uint64_t *seen;
  size_t nseen, cap;
} tally;

static bool seen_add(tally *t, uint64_t h) {
  for (size_t i = 0; i < t->nseen; i++)
    if (t->seen[i] == h) return false;
  if (t->nseen == t->cap) t->seen = realloc(t->seen, (t->cap = t->cap * 2 + 1024) * sizeof *t->seen);
  t->seen[t->nseen++] = h;
  return true;
}

/* Was the log fdatasync'd (by a sync that started at or after a) before k? */
static bool synced_between(size_t a, size_t k) {
  for (size_t j = a; j < k; j++) {
    const char *path;
    size_t covers;
    const char *kind = store_iosim_op(j, &path, &covers);
    if (strcmp(kind, "sync") == 0 && strcmp(path, "store/log") == 0 && covers >= a) return true;
  }
  return false;
}

/* The transactions a crash at k (a process crash: kept_all) must keep. */
static int promised(size_t k, bool kept_all) {
  int m = 0;
  for (int i = 1; i <= W.ntx; i++) {
    size_t a = W.ack[i];
    bool kept = a != NEVER && a <= k && (W.mode == STORE_SYNC_FULL || kept_all || synced_between(a, k));
    if (!kept) break;
    m = i;
  }
  return m;
}

static void violation(tally *t, size_t k, unsigned v, const char *what, const char *detail) {
  if (t->violations++ < 8) {
    const char *path = "", *kind = k ? store_iosim_op(k - 1, &path, NULL) : "start";
    fprintf(stderr, "crashsim %s: crash after op %zu (%s %s), variant %u: %s%s%s\n", store_sync_name(W.mode),
            k, kind, path, v, what, *detail ? ": " : "", detail);
  }
}

/* The state's stored data against the promise; NULL when right. */
static const char *state_wrong(store *s, size_t k, bool kept_all, bool *blob_bad, char *why, size_t cap) {
  sx_val last = store_kv_get(s, str("last"));
  int m = sx_is_int(last) ? (int)sx_int_val(last) : 0;
  if (m < 0 || m > W.ntx) return snprintf(why, cap, "last = %d, never committed", m), why;
  if (!sx_equal(snapshot(s), W.snap[m]))
    return snprintf(why, cap, "not the state after %d transactions (partial or wrong)", m), why;
  int want = promised(k, kept_all);
  if (m < want) return snprintf(why, cap, "%d transactions kept, %d promised", m, want), why;
  if (m > 0 && W.begin[m] >= k) return snprintf(why, cap, "transaction %d kept before it began", m), why;
  sx_val bytes = SX_NIL, err = SX_NIL;
  int rc = store_blob_get(s, W.cid, &bytes, &err);
  bool blob_promised = W.mode != STORE_SYNC_OFF && W.blob_end <= k;
  if (rc == 0 && !(bytes == SX_NIL) && !sx_equal(bytes, W.blob)) return "the blob reads wrong bytes";
  if (rc == 0 && (bytes == SX_NIL) && blob_promised) return "the stored blob is gone";
  *blob_bad = rc != 0; /* off mode syncs no blob: its name may outlive its bytes */
  if (rc != 0 && W.mode != STORE_SYNC_OFF)
    return snprintf(why, cap, "the blob is unreadable: %s", msg(err)), why;
  return NULL;
}

static bool commits(store *s) {
  store_txn *t = store_txn_begin(s);
  sx_val err = SX_NIL;
  uint64_t ticket;
  return store_txn_kv_put(t, str("probe"), sx_int(1), &err) == 0 && store_txn_commit(t, &ticket, &err) == 0 &&
         store_wait_durable(s, ticket, &err) == 0;
}

/* store_check of a crash state: 0 clean, 1 damaged, -1 unreadable. */
static int check_rc(const char *sdir, sx_buf *rep) {
  struct stat st;
  int crc = store_check(sdir, rep);
  return crc == -1 && stat(sdir, &st) != 0 ? 0 : crc; /* nothing of the store reached the disk */
}

/* Open (and on every third state also check and write to) the store
 * crash state dest holds, against the promise. */
static void check_state(tally *t, size_t k, unsigned v, bool kept_all, const char *dest) {
  char sdir[300], why[512];
  snprintf(sdir, sizeof sdir, "%s/store", dest);
  bool thorough = t->distinct % 3 == 0;
  sx_buf rep = SX_BUF_INIT;
  int crc = thorough ? check_rc(sdir, &rep) : 0;
  sx_val err = SX_NIL;
  store *s = open_mode(sdir, STORE_SYNC_FULL, &err);
  if (!s) {
    if (!thorough) crc = check_rc(sdir, &rep);
    bool damage = strstr(msg(err), "is damaged") != NULL;
    if (!damage || W.mode == STORE_SYNC_FULL || kept_all) violation(t, k, v, "open failed", msg(err));
    else if (crc != 1) violation(t, k, v, "open reports damage, check does not", msg(err));
    else t->refused++;
  } else {
    bool blob_bad = false;
    const char *wrong = state_wrong(s, k, kept_all, &blob_bad, why, sizeof why);
    if (wrong) violation(t, k, v, wrong, "");
    else if (crc != 0 && !(crc == 1 && blob_bad))
      violation(t, k, v, "check disagrees with open", rep.data ? rep.data : "");
    else if (thorough && !commits(s)) violation(t, k, v, "the reopened store refuses a commit", "");
    store_close(s, &err);
  }
  sx_buf_free(&rep);
  rm_tree(dest);
}

/* Every variant of every crash point; each distinct state checked once. */
static void explore(tally *t) {
  char dest[256];
  snprintf(dest, sizeof dest, "%s/state", base);
  size_t n = store_iosim_ops();
  for (size_t k = 0; k <= n; k++) {
    t->points++;
    uint64_t h;
    int rc;
    for (unsigned v = 0; (rc = store_iosim_crash(k, v, NULL, &h)) >= 0; v++) {
      t->variants++;
      if (!seen_add(t, h)) continue;
      t->distinct++;
      cr_assert_geq(store_iosim_crash(k, v, dest, &h), 0, "cannot write %s", dest);
      check_state(t, k, v, rc == 1, dest);
    }
  }
}

/* The model against the real directory: keeping everything at the end
 * must give the files the process wrote. */
static void model_matches_disk(void) {
  char dest[256], a[512], b[512], cmd[1200];
  snprintf(dest, sizeof dest, "%s/final", base);
  uint64_t h;
  cr_assert_eq(store_iosim_crash(store_iosim_ops(), 1, dest, &h), 1);
  snprintf(a, sizeof a, "%s/store", live);
  snprintf(b, sizeof b, "%s/store", dest);
  snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' >/dev/null", a, b);
  cr_assert_eq(system(cmd), 0, "the simulated disk differs from the real one (%s, %s)", a, b);
  rm_tree(dest);
}

static void explore_mode(store_sync mode) {
  store_iosim_set_random(32 * (unsigned)scale);
  workload_run(mode);
  model_matches_disk();
  tally t = {0};
  explore(&t);
  printf("crashsim %s: %d transactions, %zu operations, %zu crash points, %zu variants, "
         "%zu distinct states checked, %zu refused as damaged, %zu violations\n",
         store_sync_name(mode), W.ntx, store_iosim_ops(), t.points, t.variants, t.distinct, t.refused,
         t.violations);
  fflush(stdout);
  free(t.seen);
  cr_assert_geq(t.distinct, 2000, "only %zu distinct crash states", t.distinct);
  cr_assert_eq(t.violations, 0, "%zu crash states broke a promise (see stderr)", t.violations);
}

Test(crashsim, full) { explore_mode(STORE_SYNC_FULL); }
Test(crashsim, batch) { explore_mode(STORE_SYNC_BATCH); }
Test(crashsim, off) { explore_mode(STORE_SYNC_OFF); }

/* ---- the simulator itself, through store_io and its hooks ------------------------- */

static char *sim_path(const char *name) {
  static char p[4][300];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof p[i], "%s/%s", live, name);
  return p[i];
}

/* The size and bytes of the file name in crash state dest, or -1. */
static long state_file(const char *dest, const char *name, char *buf, size_t cap) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dest, name);
  FILE *f = fopen(p, "rb");
  if (!f) return -1;
  long n = (long)fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* What the model records, what it ignores, and how it rebuilds a disk:
 * names outside the root, descriptors it does not know, empty writes and
 * syncs that end out of order leave no trace or count as they should. */
Test(crashsim, the_model_records_only_what_it_can_place) {
  char outside[200];
  snprintf(outside, sizeof outside, "%sx", live);          /* shares the root's prefix, not below it */
  int pre = open(sim_path("pre"), O_RDWR | O_CREAT, 0644); /* made before the recording */
  cr_assert_geq(pre, 0);
  store_iosim_start(live);
  cr_assert_eq(store_io_mkdir(STORE_IO_MKDIR, outside, 0755), 0, "outside the root");
  char elsewhere[200];
  snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", base);
  cr_assert_eq(store_io_mkdir(STORE_IO_MKDIR, elsewhere, 0755), 0, "not even a prefix of the root");
  cr_assert_eq(store_io_mkdir(STORE_IO_MKDIR, sim_path("d"), 0755), 0);
  int fd = store_io_open(STORE_IO_LOG_CREATE, sim_path("d/f"), O_RDWR | O_CREAT, 0644);
  cr_assert_geq(fd, 0);
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, fd, "hello", 5, 0), 5);
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, fd, "", 0, 5), 0, "an empty write");
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, pre, "x", 1, 0), 1, "a file the model does not know");
  cr_assert_eq(store_io_ftruncate(STORE_IO_LOG_TRUNC, pre, 0), 0);
  cr_assert_eq(store_io_fsync(STORE_IO_LOG_SYNC, pre), 0);
  cr_assert_eq(store_io_rename(STORE_IO_RENAME, sim_path("pre"), sim_path("pre2")), 0, "a name it never saw");
  char out_file[260];
  snprintf(out_file, sizeof out_file, "%s/o", outside);
  int ofd = open(out_file, O_WRONLY | O_CREAT, 0644);
  close(ofd);
  cr_assert_eq(store_io_rename(STORE_IO_RENAME, out_file, sim_path("in")), 0, "from outside the root");
  cr_assert_eq(store_io_rename(STORE_IO_RENAME, sim_path("in"), out_file), 0, "to outside the root");
  int ofd2 = store_io_open(STORE_IO_LOG_CREATE, out_file, O_RDWR | O_CREAT, 0644);
  cr_assert_geq(ofd2, 0, "a file outside the root");
  close(ofd2);
  int again = store_io_open(STORE_IO_LOG_CREATE, sim_path("d/f"), O_RDWR | O_TRUNC, 0644);
  cr_assert_geq(again, 0, "an existing file opened with O_TRUNC");
  close(again);
  again = store_io_open(STORE_IO_LOG_CREATE, sim_path("pre2"), O_RDWR, 0644);
  cr_assert_geq(again, 0, "an unknown file opened without O_CREAT");
  close(again);
  store_iosim_open(sim_path("d/f"), -1, O_CREAT); /* hooks given a closed descriptor */
  store_iosim_write(-1, "x", 1, 0);
  store_iosim_sync_end(-1, 0);
  int dfd = open(sim_path("d"), O_RDONLY | O_DIRECTORY);
  store_iosim_open(sim_path("d"), dfd, 0); /* a directory is no file */
  size_t early = store_iosim_sync_begin(); /* two syncs that end in reverse order */
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, fd, "world", 5, 0), 5);
  size_t late = store_iosim_sync_begin();
  store_iosim_sync_end(fd, late);
  store_iosim_sync_end(fd, early);
  store_iosim_sync_end(dfd, late);
  store_iosim_sync_end(dfd, early);
  close(dfd);
  static const char zeros[600];
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, fd, zeros, sizeof zeros, 1000), 600, "zeros past the end");
  close(fd);
  close(pre);
  size_t n = store_iosim_ops();
  static const struct {
    const char *kind, *path;
    size_t covers;
  } want[] = {{"mkdir", "d", 0},      {"create", "d/f", 0}, {"write", "d/f", 0}, {"rename", "pre2", 0},
              {"truncate", "d/f", 0}, {"write", "d/f", 0},  {"sync", "d/f", 6},  {"sync", "d/f", 5},
              {"dir-sync", "", 6},    {"dir-sync", "", 5},  {"write", "d/f", 0}};
  cr_assert_eq(n, sizeof want / sizeof *want, "%zu operations recorded", n);
  for (size_t i = 0; i < n; i++) {
    const char *path = NULL;
    size_t covers = 0;
    cr_assert_str_eq(store_iosim_op(i, &path, &covers), want[i].kind, "operation %zu", i);
    cr_assert_str_eq(path, want[i].path, "operation %zu", i);
    cr_assert_eq(covers, want[i].covers, "operation %zu", i);
  }
  const char *path = NULL;
  cr_assert_str_eq(store_iosim_op(2, NULL, NULL), "write");
  cr_assert_null(store_iosim_op(n, &path, NULL), "past the last operation");
  store_iosim_stop();
  /* the whole recording, kept: "d/f" holds "world" and its zero tail */
  char dest[300], buf[2048];
  snprintf(dest, sizeof dest, "%s/state-all", base);
  uint64_t h1, h2;
  cr_assert_eq(store_iosim_crash(n + 5, 1, dest, &h1), 1, "a crash point past the end is the end");
  cr_assert_eq(state_file(dest, "d/f", buf, sizeof buf), 1600);
  cr_assert_eq(memcmp(buf, "world", 5), 0);
  cr_assert_eq(state_file(dest, "in", buf, sizeof buf), -1, "renamed in from outside: not in the model");
  cr_assert_eq(store_iosim_crash(n, 1, NULL, &h2), 1);
  cr_assert_eq(h1, h2);
  /* nothing unsynced kept: the synced "world" stays, the zeros are gone */
  snprintf(dest, sizeof dest, "%s/state-none", base);
  cr_assert_eq(store_iosim_crash(n, 0, dest, &h2), 0);
  cr_assert_neq(h1, h2);
  cr_assert_eq(state_file(dest, "d/f", buf, sizeof buf), 5);
  /* a state that cannot be written: its directory would be below a file */
  snprintf(dest, sizeof dest, "%s/d/f/state", live);
  cr_assert_eq(store_iosim_crash(n, 1, dest, &h2), -2);
  snprintf(dest, sizeof dest, "%s/state-all/d/f/x", base);
  cr_assert_eq(store_iosim_crash(n, 1, dest, &h2), -2);
  /* a model file where the state has a directory of that name */
  snprintf(dest, sizeof dest, "%s/state-clash", base);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/d/f'", dest);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(store_iosim_crash(n, 1, dest, &h2), -2);
  /* a second recording forgets the first */
  store_iosim_start(live);
  cr_assert_eq(store_iosim_ops(), 0);
  store_iosim_stop();
}

/* Names that change under the model: a file replaced behind its back is a
 * new file when opened again; a file renamed over loses its name, and a
 * write to it after that is recorded without one ("?"); zeros written
 * over data clear it. */
Test(crashsim, the_model_follows_names_replaced_and_renamed_over) {
  store_iosim_start(live);
  int a = store_io_open(STORE_IO_LOG_CREATE, sim_path("a"), O_RDWR | O_CREAT, 0644);
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, a, "aaaa", 4, 0), 4);
  int real = open(sim_path("k"), O_RDWR | O_CREAT, 0644); /* not through store_io */
  close(real);
  cr_assert_eq(rename(sim_path("k"), sim_path("a")), 0); /* "a" is now another file */
  int a2 = store_io_open(STORE_IO_LOG_CREATE, sim_path("a"), O_RDWR | O_CREAT, 0644);
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, a2, "new!", 4, 0), 4);
  int b = store_io_open(STORE_IO_LOG_CREATE, sim_path("b"), O_RDWR | O_CREAT, 0644);
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, b, "bbbb", 4, 0), 4);
  cr_assert_eq(store_io_rename(STORE_IO_RENAME, sim_path("b"), sim_path("a")), 0); /* over a2's name */
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, a2, "lost", 4, 0), 4);
  static const char zeros[2];
  cr_assert_eq(store_io_pwrite(STORE_IO_LOG_WRITE, b, zeros, 2, 1), 2);
  cr_assert_eq(link(sim_path("a"), sim_path("c")), 0); /* a second name for b's file */
  int c = store_io_open(STORE_IO_LOG_CREATE, sim_path("c"), O_RDWR | O_CREAT, 0644);
  cr_assert_geq(c, 0);
  close(a), close(a2), close(b), close(c);
  store_iosim_stop();
  static const char *const want[][2] = {{"create", "a"}, {"write", "a"}, {"create", "a"}, {"write", "a"},
                                        {"create", "b"}, {"write", "b"}, {"rename", "a"}, {"write", "?"},
                                        {"write", "a"},  {"create", "c"}};
  size_t n = store_iosim_ops();
  cr_assert_eq(n, sizeof want / sizeof *want, "%zu operations", n);
  for (size_t i = 0; i < n; i++) {
    const char *path;
    cr_assert_str_eq(store_iosim_op(i, &path, NULL), want[i][0], "operation %zu", i);
    cr_assert_str_eq(path, want[i][1], "operation %zu", i);
  }
  char dest[300], buf[64];
  snprintf(dest, sizeof dest, "%s/state-names", base);
  uint64_t h;
  cr_assert_eq(store_iosim_crash(n, 1, dest, &h), 1);
  cr_assert_eq(state_file(dest, "a", buf, sizeof buf), 4);
  cr_assert_eq(memcmp(buf, "b\0\0b", 4), 0, "b's bytes, two of them zeroed");
  cr_assert_eq(state_file(dest, "c", buf, sizeof buf), 0, "a new model file");
}
