/* test_api_thread.c — the threading rules of sx.h, checked: a thread that
 * is not attached is refused; a VM in use by one thread is reported busy
 * to another (synchronised with condition variables, not timing); a task
 * may be resumed on another thread; different VMs, each with its own
 * store, run on different threads at the same time. */
#include "sx_test_api.h"

#include <pthread.h>

TestSuite(api_thread, .init = api_setup, .fini = api_teardown);

static void *unattached(void *arg) {
  (void)arg;
  sxapi_code *out = malloc(4 * sizeof *out);
  out[0] = sxapi_eval(vm, "1", NULL);
  out[1] = sxapi_int(vm, 5) == sxapi_nil() ? SXAPI_ERR_THREAD : SXAPI_OK;
  out[2] = sxapi_open() == NULL ? SXAPI_ERR_THREAD : SXAPI_OK;
  out[3] = strstr(sxapi_errmsg(), "not attached") ? SXAPI_OK : SXAPI_ERR_ARG;
  return out;
}

Test(api_thread, a_thread_must_attach_first) {
  pthread_t th;
  sxapi_code *got;
  cr_assert_eq(pthread_create(&th, NULL, unattached, NULL), 0);
  pthread_join(th, (void **)&got);
  CODE(got[0], SXAPI_ERR_THREAD);
  CODE(got[1], SXAPI_ERR_THREAD);
  CODE(got[2], SXAPI_ERR_THREAD);
  CODE(got[3], SXAPI_OK);
  free(got);
}

static void *attached(void *arg) {
  (void)arg;
  sxapi_code *out = malloc(2 * sizeof *out);
  out[0] = sxapi_thread_attach();
  sxapi_value v = sxapi_nil();
  out[1] = sxapi_eval(vm, "(apply str (map (fn (i) (str i)) (range 0 2000)))", &v);
  if (out[1] == SXAPI_OK) out[1] = sxapi_typeof(v) == SXAPI_TSTRING ? SXAPI_OK : SXAPI_ERR_TYPE;
  sxapi_thread_detach();
  return out;
}

Test(api_thread, an_attached_thread_may_use_a_vm) {
  pthread_t th;
  sxapi_code *got;
  cr_assert_eq(pthread_create(&th, NULL, attached, NULL), 0);
  pthread_join(th, (void **)&got);
  CODE(got[0], SXAPI_OK);
  CODE(got[1], SXAPI_OK);
  free(got);
  CODE(sxapi_thread_attach(), SXAPI_OK); /* idempotent, also on the first thread */
  CODE(sxapi_thread_detach(), SXAPI_OK); /* ... which stays attached */
  EVAL_OK("(+ 1 1)", "2");
}

/* ---- busy: another thread calls while this one is inside the VM -------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase; /* 1: the worker is inside the VM; 2: the main thread is done poking */

static sxapi_code wait_inside(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *r, void *ud) {
  (void)v, (void)argc, (void)argv, (void)ud;
  pthread_mutex_lock(&mu);
  phase = 1;
  pthread_cond_broadcast(&cv);
  while (phase != 2) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  *r = sxapi_int(v, 99);
  return SXAPI_OK;
}

static void *worker(void *arg) {
  (void)arg;
  sxapi_code *out = malloc(sizeof *out);
  sxapi_thread_attach();
  sxapi_value v;
  *out = sxapi_eval(vm, "(+ 1 (wait-inside))", &v);
  if (*out == SXAPI_OK && strcmp(show(v), "100") != 0) *out = SXAPI_ERR_EVAL;
  sxapi_thread_detach();
  return out;
}

Test(api_thread, a_vm_in_use_is_busy_for_other_threads) {
  CODE(sxapi_define_function(vm, "wait-inside", 0, 0, wait_inside, NULL), SXAPI_OK);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, worker, NULL), 0);
  pthread_mutex_lock(&mu);
  while (phase != 1) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  sxapi_value v;
  CODE(sxapi_eval(vm, "1", &v), SXAPI_ERR_BUSY);
  MSG_HAS("the VM is in use by another thread");
  cr_assert_eq(sxapi_int(vm, 1), sxapi_nil());
  CODE(sxapi_close(vm), SXAPI_ERR_BUSY);
  pthread_mutex_lock(&mu);
  phase = 2;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  sxapi_code *got;
  pthread_join(th, (void **)&got);
  CODE(*got, SXAPI_OK);
  free(got);
  EVAL_OK("(+ 1 2)", "3"); /* free again once the worker left */
}

/* ---- a task resumed on another thread ------------------------------------------ */

static void *resume_elsewhere(void *arg) {
  sxapi_task *t = arg;
  sxapi_code *out = malloc(sizeof *out);
  sxapi_thread_attach();
  *out = sxapi_resume(t, sxapi_cstring(sxapi_task_vm(t), "from another thread"));
  sxapi_thread_detach();
  return out;
}

Test(api_thread, a_task_may_be_resumed_on_another_thread) {
  sxapi_task *t;
  const char *src = "(str \"got: \" (perform {:op \"io/slow\"}))";
  CODE(sxapi_begin(vm, src, strlen(src), NULL, &t), SXAPI_SUSPENDED);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, resume_elsewhere, t), 0);
  sxapi_code *got;
  pthread_join(th, (void **)&got);
  CODE(*got, SXAPI_OK);
  free(got);
  cr_assert_str_eq(show(sxapi_task_result(t)), "\"got: from another thread\"");
  sxapi_task_free(t);
}

/* ---- independent VMs in parallel ----------------------------------------------------- */

typedef struct job {
  char store[600];
  int id;
  sxapi_code rc;
  char result[128];
} job;

/* Own VM, own store: append events through persist, read them back. */
static void *run_job(void *arg) {
  job *j = arg;
  sxapi_thread_attach();
  sxapi_vm *mine = sxapi_open();
  sxapi_value v;
  char src[512];
  snprintf(
      src, sizeof src,
      "(load \"lib/persist/event.sx\") (load \"lib/persist/backend.sx\") (load \"lib/persist/log.sx\")"
      " (load \"lib/persist/durable.sx\") (define db (persist/durable-backend))"
      " (for-each (fn (i) (persist/append db \"s%d\" \"t\" i {:i i :who %d})) (range 0 150))"
      " (list (persist/last-seq db \"s%d\") (reduce + 0 (map (fn (e) (get (persist/event-data e) :i)) (persist/read db \"s%d\"))))",
      j->id, j->id, j->id, j->id);
  j->rc = sxapi_store_open(mine, j->store, NULL);
  if (j->rc == SXAPI_OK) j->rc = sxapi_eval(mine, src, &v);
  if (j->rc == SXAPI_OK) {
    sxapi_value text;
    const char *s;
    sxapi_print(mine, v, &text);
    sxapi_to_string(mine, text, &s, NULL);
    snprintf(j->result, sizeof j->result, "%s", s);
  } else {
    snprintf(j->result, sizeof j->result, "%s", sxapi_errmsg());
  }
  sxapi_free(mine);
  sxapi_thread_detach();
  return NULL;
}

Test(api_thread, different_vms_run_at_the_same_time) {
  char *dir = scratch_dir();
  enum { N = 3 };
  job jobs[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    jobs[i] = (job){.id = i};
    snprintf(jobs[i].store, sizeof jobs[i].store, "%s/store%d", dir, i);
    cr_assert_eq(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
  }
  /* meanwhile this thread keeps using its own VM */
  EVAL_OK("(reduce + 0 (map (fn (i) (* i i)) (range 0 1000)))", "332833500");
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    CODE(jobs[i].rc, SXAPI_OK);
    cr_assert_str_eq(jobs[i].result, "(150 11175)", "job %d", i);
  }
  scratch_remove(dir);
}
