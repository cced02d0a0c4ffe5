/* thread_store.c — transactions of one store handle on many threads, a
 * plain C program (no Criterion, so it also runs under ThreadSanitizer).
 *
 * Eight threads share one full-mode store. Each runs 40 transactions that
 * read a shared counter and put it back plus one (a read-modify-write that
 * must never lose an update), append to a stream of its own and to one
 * shared stream, retrying on STORE_ECONFLICT, and waits for durability.
 * Afterwards (and again after reopening): the counter equals the number
 * of acknowledged transactions, every stream's seqs are contiguous, the
 * shared stream holds exactly one event per acknowledged transaction (how
 * many syncs the commits took is printed). Then, deterministically: ten
 * transactions committed before one wait share one fdatasync. */
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS /* threads register themselves */
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  }
  GC_unregister_my_thread();
  return NULL;
}

/* The seqs of a stream's events are 1..n; returns n. */
static int64_t contiguous(sx_val stream) {
  sx_val list = store_read(st, stream);
  int64_t want = 1;
  for (; sx_is_cons(list); list = sx_cdr(list), want++) {
    sx_val seq = sx_dict_lookup(sx_car(list), sx_string_cstr("seq"));
    EXPECT(seq != SX_UNDEF && sx_int_val(seq) == want, "a gap in the seqs before %lld", (long long)want);
  }
  return want - 1;
}

static void check_state(int acked, const char *when) {
  sx_val n = store_kv_get(st, sx_string_cstr("counter"));
  EXPECT(sx_is_int(n) && sx_int_val(n) == acked, "%s: counter %lld, acknowledged %d", when,
         sx_is_int(n) ? (long long)sx_int_val(n) : -1LL, acked);
  EXPECT(contiguous(sx_string_cstr("shared")) == acked, "%s: the shared stream holds every acknowledged one",
         when);
  for (int t = 0; t < THREADS; t++) {
    char name[32];
    snprintf(name, sizeof name, "own-%d", t);
    EXPECT(contiguous(sx_string_cstr(name)) == ROUNDS, "%s: stream %s holds its %d events", when, name,
           ROUNDS);
  }
}

static void open_store(const char *dir) {
  sx_val err = SX_NIL;
  if (store_open(dir, NULL, &st, &err)) {
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

int main(void) {
  GC_INIT();
  GC_allow_register_threads();
  char dir[64];
  strcpy(dir, "/tmp/sx-threads-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  open_store(dir);
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.who = i};
    pthread_create(&w[i].th, NULL, work, &w[i]);
  }
  int acked = 0, conflicts = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(w[i].th, NULL);
    acked += w[i].acked;
    conflicts += w[i].conflicts;
  }
  check_state(acked, "live");
  store_stats s;
  store_get_stats(st, &s);
  printf("%d transactions on %d threads: %d conflicts retried, %llu commits in %llu syncs\n", acked, THREADS,
         conflicts, (unsigned long long)s.commits, (unsigned long long)s.syncs);
  grouped_without_threads();
  sx_val err = SX_NIL;
  EXPECT(store_close(st, &err) == 0, "close");
  open_store(dir);
  check_state(acked, "reopened");
  store_close(st, &err);
  rm_tree(dir);
  printf("%s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
