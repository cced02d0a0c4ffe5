/* thread_store.c — transactions of one store handle on many threads, a
 * plain C program (no Criterion, so it also runs under ThreadSanitizer).
 *
 * Eight threads share one full-mode store. Each runs 40 transactions that
 * read a shared counter and put it back plus one (a read-modify-write that
 * must never lose an update), append to a stream of its own and to one
 * shared stream, retrying on STORE_ECONFLICT, and waits for durability;
 * after each it reads both streams whole, which must run without a gap.
 * A ninth thread meanwhile keeps truncating the shared stream to its last
 * few events. Afterwards (and again after reopening): the counter equals
 * the number of acknowledged transactions, every stream's seqs are
 * contiguous, the shared stream's last seq is the number of acknowledged
 * transactions (how many syncs the commits took is printed). Then,
 * deterministically: ten transactions committed before one wait share one
 * fdatasync.
 *
 * With SX_TEST_PG set (a PostgreSQL URL), the same runs again on a fresh
 * schema there, reading 7 events per query (sx_read_chunk=7), so the long
 * reads come in pipelined chunks on the handle's pooled connections while
 * other threads commit and truncate. */
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS /* threads register themselves */
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "sx_dict.h"
#include "sx_test_dir.h"

#define THREADS 8
#define ROUNDS 40

static store *st;
static int failures;

#define EXPECT(cond, ...)                                                                                    \
  do {                                                                                                       \
    if (!(cond)) {                                                                                           \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                   \
      fprintf(stderr, __VA_ARGS__);                                                                          \
      fputc('\n', stderr);                                                                                   \
      failures++;                                                                                            \
    }                                                                                                        \
  } while (0)

static sx_val event(int64_t seq, int who) {
  sx_val d = sx_dict_empty();
  d = sx_dict_assoc(d, sx_string_cstr("seq"), sx_int(seq));
  return sx_dict_assoc(d, sx_string_cstr("who"), sx_int(who));
}

/* One transaction: counter += 1, an event on "own" and one on "shared". */
static int txn_once(int who, sx_val own, sx_val *err) {
  store_txn *t = store_txn_begin(st);
  sx_val key = sx_string_cstr("counter"), shared = sx_string_cstr("shared");
  sx_val n = store_txn_kv_get(t, key);
  int64_t v = sx_is_int(n) ? sx_int_val(n) : 0;
  if (store_txn_kv_put(t, key, sx_int(v + 1), err) ||
      store_txn_append(t, own, event(store_txn_last_seq(t, own) + 1, who), err) ||
      store_txn_append(t, shared, event(store_txn_last_seq(t, shared) + 1, who), err)) {
    store_txn_abort(t);
    return STORE_EFAIL;
  }
  uint64_t ticket;
  int rc = store_txn_commit(t, &ticket, err);
  return rc ? rc : store_wait_durable(st, ticket, err);
}

typedef struct worker {
  int who, acked, conflicts;
  pthread_t th;
} worker;

static int64_t contiguous(sx_val stream, int64_t *first);
static volatile int working; /* workers still running (the truncator stops at 0) */

static void *work(void *arg) {
  worker *w = arg;
  struct GC_stack_base sb;
  GC_get_stack_base(&sb);
  GC_register_my_thread(&sb);
  char name[32];
  snprintf(name, sizeof name, "own-%d", w->who);
  sx_val own = sx_string_cstr(name);
  for (int i = 0; i < ROUNDS; i++) {
    sx_val err = SX_NIL;
    int rc;
    while ((rc = txn_once(w->who, own, &err)) == STORE_ECONFLICT) w->conflicts++;
    EXPECT(rc == STORE_OK, "thread %d: %s", w->who, sx_is_string(err) ? sx_str_data(err) : "?");
    if (rc == STORE_OK) w->acked++;
    int64_t first;
    EXPECT(contiguous(own, &first) == w->acked && first == 1, "thread %d: its stream after %d", w->who, w->acked);
    contiguous(sx_string_cstr("shared"), &first); /* whole, however truncated */
  }
  __atomic_sub_fetch(&working, 1, __ATOMIC_RELEASE);
  GC_unregister_my_thread();
  return NULL;
}

/* Truncate the shared stream to its last 10 events, again and again
 * while the workers run. */
static void *truncate_shared(void *arg) {
  int *rounds = arg;
  struct GC_stack_base sb;
  GC_get_stack_base(&sb);
  GC_register_my_thread(&sb);
  sx_val shared = sx_string_cstr("shared");
  while (__atomic_load_n(&working, __ATOMIC_ACQUIRE) > 0) {
    store_txn *t = store_txn_begin(st);
    sx_val err = SX_NIL;
    int64_t last = store_txn_last_seq(t, shared);
    uint64_t ticket;
    int rc = last > 10 ? store_txn_truncate(t, shared, last - 10, &err) : 0;
    if (rc) store_txn_abort(t);
    else rc = store_txn_commit(t, &ticket, &err);
    EXPECT(rc == STORE_OK || rc == STORE_ECONFLICT, "truncate: %s", sx_is_string(err) ? sx_str_data(err) : "?");
    if (rc == STORE_OK && last > 10) ++*rounds;
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
  }
  GC_unregister_my_thread();
  return NULL;
}

/* The stream's events run without a gap from the first (in *first) to
 * the last; returns the last seq (0: none). */
static int read_retries;

/* A read of the stream in a transaction of its own, again while it is
 * refused as a conflict (a truncation came between the stream's mark
 * and its events, as for an evaluation, which fails and is retried). */
static sx_val read_whole(sx_val stream) {
  for (int i = 0;; i++) {
    store_txn *t = store_txn_begin(st);
    sx_val list = store_txn_read(t, stream), msg = SX_NIL;
    bool conflict = store_txn_conflicted(t, &msg);
    store_txn_abort(t);
    if (!conflict || i == 1000) return list;
    __atomic_add_fetch(&read_retries, 1, __ATOMIC_RELAXED);
  }
}

static int64_t contiguous(sx_val stream, int64_t *first) {
  sx_val list = read_whole(stream);
  EXPECT(sx_is_list(list), "read %s: %s", sx_str_data(stream),
         sx_is(list, SX_T_ERROR) && sx_is_string(((sx_error *)list)->message) ? sx_str_data(((sx_error *)list)->message) : "?");
  int64_t want = 0;
  *first = 0;
  for (; sx_is_cons(list); list = sx_cdr(list), want++) {
    sx_val seq = sx_dict_lookup(sx_car(list), sx_string_cstr("seq"));
    if (!want && seq != SX_UNDEF) want = *first = sx_int_val(seq);
    EXPECT(seq != SX_UNDEF && sx_int_val(seq) == want, "a gap in the seqs before %lld", (long long)want);
  }
  return want ? want - 1 : 0;
}

static void check_state(int acked, const char *when) {
  sx_val n = store_kv_get(st, sx_string_cstr("counter"));
  EXPECT(sx_is_int(n) && sx_int_val(n) == acked, "%s: counter %lld, acknowledged %d", when,
         sx_is_int(n) ? (long long)sx_int_val(n) : -1LL, acked);
  int64_t first;
  EXPECT(contiguous(sx_string_cstr("shared"), &first) == acked,
         "%s: the shared stream's last seq is the number acknowledged", when);
  for (int t = 0; t < THREADS; t++) {
    char name[32];
    snprintf(name, sizeof name, "own-%d", t);
    EXPECT(contiguous(sx_string_cstr(name), &first) == ROUNDS && first == 1, "%s: stream %s holds its %d events",
           when, name, ROUNDS);
  }
}

static void open_store(const char *where) {
  sx_val err = SX_NIL;
  if (store_open(where, NULL, &st, &err)) {
    fprintf(stderr, "open: %s\n", sx_str_data(err));
    exit(1);
  }
}

/* Ten commits, then one wait: a single fdatasync makes them all durable. */
static void grouped_without_threads(void) {
  store_stats before, after;
  store_get_stats(st, &before);
  uint64_t ticket = 0;
  for (int i = 0; i < 10; i++) {
    store_txn *t = store_txn_begin(st);
    sx_val err = SX_NIL;
    char key[16];
    snprintf(key, sizeof key, "g%d", i);
    EXPECT(store_txn_kv_put(t, sx_string_cstr(key), sx_int(i), &err) == 0, "put");
    EXPECT(store_txn_commit(t, &ticket, &err) == 0, "commit");
  }
  sx_val err = SX_NIL;
  EXPECT(store_wait_durable(st, ticket, &err) == 0, "wait");
  store_get_stats(st, &after);
  EXPECT(after.commits - before.commits == 10 && after.syncs - before.syncs == 1,
         "10 commits took %llu syncs", (unsigned long long)(after.syncs - before.syncs));
}

/* The workers and the truncator on the open store; the acknowledged count. */
static int run_threads(void) {
  worker w[THREADS];
  working = THREADS;
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.who = i};
    pthread_create(&w[i].th, NULL, work, &w[i]);
  }
  int truncations = 0;
  pthread_t tr;
  pthread_create(&tr, NULL, truncate_shared, &truncations);
  int acked = 0, conflicts = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(w[i].th, NULL);
    acked += w[i].acked;
    conflicts += w[i].conflicts;
  }
  pthread_join(tr, NULL);
  check_state(acked, "live");
  store_stats s;
  store_get_stats(st, &s);
  printf("%d transactions on %d threads, %d truncations: %d conflicts and %d reads retried, %llu commits in %llu "
         "syncs\n",
         acked, THREADS, truncations, conflicts, read_retries, (unsigned long long)s.commits,
         (unsigned long long)s.syncs);
  return acked;
}

/* The same on PostgreSQL (SX_TEST_PG), in a schema of its own. */
static void on_postgres(const char *base) {
  char url[1024];
  snprintf(url, sizeof url, "%s%csx_schema=threads_%ld&sx_read_chunk=7", base, strchr(base, '?') ? '&' : '?',
           (long)getpid());
  open_store(url);
  int acked = run_threads();
  sx_val err = SX_NIL;
  EXPECT(store_close(st, &err) == 0, "close");
  open_store(url);
  check_state(acked, "PostgreSQL, another handle");
  store_close(st, &err);
}

int main(void) {
  GC_INIT();
  GC_allow_register_threads();
  char dir[64];
  strcpy(dir, "/tmp/sx-threads-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  open_store(dir);
  int acked = run_threads();
  grouped_without_threads();
  sx_val err = SX_NIL;
  EXPECT(store_close(st, &err) == 0, "close");
  open_store(dir);
  check_state(acked, "reopened");
  store_close(st, &err);
  rm_tree(dir);
  const char *pg = getenv("SX_TEST_PG");
  if (pg && *pg) on_postgres(pg);
  printf("%s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
