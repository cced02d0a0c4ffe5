/* store_bench.c — benchmarks for the durable store (figures only, no
 * pass/fail):
 *   1. append throughput, one commit per append, vs SQLite in WAL mode doing
 *      the same logical work (insert the encoded event row + advance the
 *      stream's counter, one transaction per append) at equal durability:
 *      our full mode vs synchronous=FULL, our off mode vs synchronous=OFF;
 *   2. reopen time and index bytes per event for 1,000,000 events across
 *      1,000 streams;
 *   3. repeated read of a 100,000-event stream.
 * Usage: store_bench [scale] [appends|reopen|reads]
 *   (scale < 1 shortens every phase; a phase name runs only that one) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "store.h"
#include "sx_dict.h"
#ifdef STORE_BENCH_SQLITE
#include <sqlite3.h>
#endif

static double scale = 1.0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void fresh_dir(char *buf, size_t cap, const char *tag) {
  snprintf(buf, cap, "/tmp/sxbench-%s-XXXXXX", tag);
  if (!mkdtemp(buf)) {
    perror("mkdtemp");
    exit(1);
  }
}

static void die(const char *what, sx_val err) {
  fprintf(stderr, "%s: %s\n", what, sx_is_string(err) ? sx_str_data(err) : "?");
  exit(1);
}

static sx_val str(const char *s) { return sx_string_cstr(s); }

/* A typical persist event: {:stream :seq :type :at :data {:id :name}}. */
static sx_val event(sx_val stream, int64_t seq) {
  sx_val data = sx_dict_assoc(sx_dict_empty(), str("id"), sx_int(seq));
  data = sx_dict_assoc(data, str("name"), str("item"));
  sx_val d = sx_dict_empty();
  d = sx_dict_assoc(d, str("stream"), stream);
  d = sx_dict_assoc(d, str("seq"), sx_int(seq));
  d = sx_dict_assoc(d, str("type"), str("created"));
  d = sx_dict_assoc(d, str("at"), sx_int(1700000000 + seq));
  return sx_dict_assoc(d, str("data"), data);
}

/* ---- 1. append throughput -------------------------------------------------------- */

/* Appends with a commit each, for at most max_n events or secs seconds. */
static double bench_store_appends(store_sync mode, long max_n, double secs) {
  char dir[64];
  fresh_dir(dir, sizeof dir, "append");
  store_opts o = {.sync = mode};
  store *s;
  sx_val err;
  if (store_open(dir, &o, &s, &err)) die("open", err);
  sx_val stream = str("orders");
  double t0 = now(), t = t0;
  long n = 0;
  while (n < max_n && (n & 63 || (t = now()) - t0 < secs)) {
    n++;
    if (store_append(s, stream, event(stream, n), &err) || store_commit(s, &err)) die("append", err);
  }
  if (store_close(s, &err)) die("close", err); /* off mode: the buffered tail is written */
  double rate = (double)n / (now() - t0);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return rate;
}

#ifdef STORE_BENCH_SQLITE
static void sq_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s: %s\n", sql, msg);
    exit(1);
  }
}

static void sq_step(sqlite3_stmt *st) {
  if (sqlite3_step(st) != SQLITE_DONE) {
    fprintf(stderr, "sqlite step failed\n");
    exit(1);
  }
  sqlite3_reset(st);
}

/* The same logical work in SQLite WAL: encode the event, insert the row,
 * advance the stream counter, commit. */
static double bench_sqlite_appends(const char *sync, long max_n, double secs) {
  char dir[64], path[128], pragma[64];
  fresh_dir(dir, sizeof dir, "sqlite");
  snprintf(path, sizeof path, "%s/db", dir);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) exit(1);
  sq_exec(db, "PRAGMA journal_mode=WAL");
  snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s", sync);
  sq_exec(db, pragma);
  sq_exec(db, "CREATE TABLE events(stream TEXT, seq INTEGER, body BLOB, PRIMARY KEY(stream, seq))");
  sq_exec(db, "CREATE TABLE streams(name TEXT PRIMARY KEY, hwm INTEGER)");
  sqlite3_stmt *ins, *hwm, *begin, *commit;
  sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?1, ?2, ?3)", -1, &ins, NULL);
  sqlite3_prepare_v2(db, "INSERT INTO streams VALUES(?1, ?2) ON CONFLICT(name) DO UPDATE SET hwm=?2", -1,
                     &hwm, NULL);
  sqlite3_prepare_v2(db, "BEGIN", -1, &begin, NULL);
  sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
  sx_val stream = str("orders");
  sx_buf b = SX_BUF_INIT;
  sx_val err;
  double t0 = now(), t = t0;
  long n = 0;
  while (n < max_n && (n & 63 || (t = now()) - t0 < secs)) {
    n++;
    sx_buf_reset(&b);
    if (store_encode(&b, event(stream, n), &err)) die("encode", err);
    sq_step(begin);
    sqlite3_bind_text(ins, 1, "orders", -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, n);
    sqlite3_bind_blob(ins, 3, b.data, (int)b.len, SQLITE_STATIC);
    sq_step(ins);
    sqlite3_bind_text(hwm, 1, "orders", -1, SQLITE_STATIC);
    sqlite3_bind_int64(hwm, 2, n);
    sq_step(hwm);
    sq_step(commit);
  }
  double rate = (double)n / (now() - t0);
  sqlite3_finalize(ins);
  sqlite3_finalize(hwm);
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);
  sqlite3_close(db);
  sx_buf_free(&b);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return rate;
}
#endif

static void bench_appends(void) {
  double secs = 4 * scale;
  printf("== append + commit, one commit per append (%.1f s per run)\n", secs);
  double full = bench_store_appends(STORE_SYNC_FULL, 1000000, secs);
  double batch = bench_store_appends(STORE_SYNC_BATCH, 2000000, secs);
  double off = bench_store_appends(STORE_SYNC_OFF, 5000000, secs);
  printf("  sx store full   %12.0f events/s\n", full);
  printf("  sx store batch  %12.0f events/s  (fdatasync within 10 ms)\n", batch);
  printf("  sx store off    %12.0f events/s\n", off);
#ifdef STORE_BENCH_SQLITE
  double sq_full = bench_sqlite_appends("FULL", 1000000, secs);
  double sq_off = bench_sqlite_appends("OFF", 5000000, secs);
  printf("  sqlite WAL FULL %12.0f events/s\n", sq_full);
  printf("  sqlite WAL OFF  %12.0f events/s\n", sq_off);
  printf("  ratio full/FULL %8.2fx   (target >= 1x)\n", full / sq_full);
  printf("  ratio off/OFF   %8.2fx   (target >= 5x)\n", off / sq_off);
#else
  printf("  (sqlite3 not found at build time: no comparison)\n");
#endif
}

/* ---- 2. reopen of a large store ------------------------------------------------------ */

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void bench_reopen(void) {
  long total = (long)(1000000 * scale), nstreams = 1000;
  if (total < nstreams) total = nstreams;
  printf("== reopen: %ld events across %ld streams\n", total, nstreams);
  char dir[64];
  fresh_dir(dir, sizeof dir, "reopen");
  store_opts o = {.sync = STORE_SYNC_OFF};
  store *s;
  sx_val err;
  if (store_open(dir, &o, &s, &err)) die("open", err);
  sx_val *names = sx_alloc((size_t)nstreams * sizeof *names); /* GC-scanned */
  for (long i = 0; i < nstreams; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "stream-%04ld", i);
    names[i] = str(nm);
  }
  double t0 = now();
  for (long i = 0; i < total; i++) {
    sx_val nm = names[i % nstreams];
    if (store_append(s, nm, event(nm, i / nstreams + 1), &err)) die("append", err);
    if (i % 1000 == 999 && store_commit(s, &err)) die("commit", err);
  }
  if (store_commit(s, &err) || store_close(s, &err)) die("close", err);
  printf("  build                 %8.2f s\n", now() - t0);
  long rss0 = rss_kb();
  t0 = now();
  if (store_open(dir, NULL, &s, &err)) die("reopen", err);
  double dt = now() - t0;
  long rss1 = rss_kb();
  store_stats st;
  store_get_stats(s, &st);
  printf("  reopen                %8.3f s   (target <= 1 s for 1M events)\n", dt);
  printf("  log size              %8.1f MB\n", (double)st.log_bytes / 1e6);
  printf("  index                 %8.1f bytes/event (target <= 64), %zu events\n",
         (double)st.index_bytes / (double)st.events, st.events);
  printf("  RSS growth on reopen  %8.1f bytes/event (includes scan buffers and GC heap)\n",
         (double)(rss1 - rss0) * 1024 / (double)st.events);
  store_close(s, &err);

  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- 3. repeated reads ------------------------------------------------------------------ */

static void bench_reads(void) {
  long n = 100000;
  printf("== read of a %ld-event stream\n", n);
  char dir[64];
  fresh_dir(dir, sizeof dir, "read");
  store_opts o = {.sync = STORE_SYNC_OFF};
  store *s;
  sx_val err, nm = str("big");
  if (store_open(dir, &o, &s, &err)) die("open", err);
  for (long i = 1; i <= n; i++)
    if (store_append(s, nm, event(nm, i), &err)) die("append", err);
  if (store_commit(s, &err) || store_close(s, &err)) die("close", err);
  if (store_open(dir, NULL, &s, &err)) die("reopen", err);
  double t0 = now();
  sx_val l = store_read(s, nm);
  double first = now() - t0;
  if ((long)sx_list_length(l) != n) die("read", str("wrong length"));
  long reps = (long)(2000 * scale) + 1;
  t0 = now();
  size_t walked = 0;
  for (long r = 0; r < reps; r++) {
    l = store_read(s, nm);
    for (sx_val p = l; sx_is_cons(p); p = sx_cdr(p)) walked += sx_car(p) != 0;
  }
  double dt = now() - t0;
  printf("  first read (decode)   %12.0f events/s\n", (double)n / first);
  printf("  repeated read + walk  %12.0f events/s   (target >= 10M; %ld reads)\n", (double)walked / dt, reps);
  store_close(s, &err);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv) {
  sx_gc_init();
  if (argc > 1) scale = atof(argv[1]);
  if (scale <= 0) scale = 1.0;
  const char *only = argc > 2 ? argv[2] : "";
  if (!*only || !strcmp(only, "appends")) bench_appends();
  if (!*only || !strcmp(only, "reopen")) bench_reopen();
  if (!*only || !strcmp(only, "reads")) bench_reads();
  return 0;
}
