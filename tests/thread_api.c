/* thread_api.c — many VMs on many threads sharing one store through libsx,
 * a plain C program (no Criterion, so it also runs under ThreadSanitizer).
 *
 * Four threads each open their own VM on the same store directory (libsx
 * shares one handle), load persist, and run 30 evaluations that read a
 * kv counter, put it back plus one and append an event to a shared
 * stream, running each again while it ends in SXAPI_ERR_CONFLICT. In the
 * end the counter and the stream both equal the number of evaluations
 * acknowledged, and the stream's seqs are 1..n. Every thread prints the
 * events it appended: their keys are strings all the VMs share, whose
 * printing caches a flag in them on first use. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sx.h"
#include "sx_test_dir.h"

#define THREADS 4
#define ROUNDS 30

static char store_dir[64];
static const char *root;
static int failures;

static const char *prelude =
    "(load \"lib/persist/event.sx\") (load \"lib/persist/backend.sx\") (load \"lib/persist/log.sx\")"
    " (load \"lib/persist/kv.sx\") (load \"lib/persist/durable.sx\") (define db (persist/durable-backend))";

static const char *step = "(let ((n (or (persist/kv-get db \"counter\") 0)))"
                          "  (persist/kv-put db \"counter\" (+ n 1))"
                          "  (persist/append db \"shared\" \"tick\" 0 {:n n}))";

typedef struct worker {
  pthread_t th;
  int acked, conflicts, errors;
} worker;

static sxapi_vm *open_vm(void) {
  sxapi_vm *vm = sxapi_open();
  if (!vm || sxapi_add_path(vm, root) || sxapi_store_open(vm, store_dir, NULL) ||
      sxapi_eval(vm, prelude, NULL)) {
    fprintf(stderr, "setup: %s\n", sxapi_errmsg());
    exit(1);
  }
  return vm;
}

static void *work(void *arg) {
  worker *w = arg;
  sxapi_thread_attach();
  sxapi_vm *vm = open_vm();
  for (int i = 0; i < ROUNDS; i++) {
    sxapi_code rc;
    sxapi_value ev, text;
    const char *shown = "";
    while ((rc = sxapi_eval(vm, step, &ev)) == SXAPI_ERR_CONFLICT) w->conflicts++;
    if (rc == SXAPI_OK && sxapi_print(vm, ev, &text) == SXAPI_OK) sxapi_to_string(vm, text, &shown, NULL);
    if (rc == SXAPI_OK && strncmp(shown, "{:at 0 :data {:n ", 17) == 0) w->acked++;
    else w->errors++, fprintf(stderr, "FAIL: %s (printed %s)\n", sxapi_errmsg(), shown);
  }
  sxapi_free(vm);
  sxapi_thread_detach();
  return NULL;
}

static void expect_eval(sxapi_vm *vm, const char *src, const char *want) {
  sxapi_value v, text;
  const char *got = "?";
  if (sxapi_eval(vm, src, &v) == SXAPI_OK && sxapi_print(vm, v, &text) == SXAPI_OK)
    sxapi_to_string(vm, text, &got, NULL);
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "FAIL: %s gave %s, expected %s\n", src, got, want);
    failures++;
  }
}

int main(int argc, char **argv) {
  root = argc > 1 ? argv[1] : ".";
  sxapi_vm *main_vm = sxapi_open(); /* initialises libsx on the main thread */
  strcpy(store_dir, "/tmp/sx-api-threads-XXXXXX");
  if (!main_vm || !mkdtemp(store_dir)) return 1;
  worker w[THREADS];
  memset(w, 0, sizeof w);
  for (int i = 0; i < THREADS; i++) pthread_create(&w[i].th, NULL, work, &w[i]);
  int acked = 0, conflicts = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(w[i].th, NULL);
    acked += w[i].acked;
    conflicts += w[i].conflicts;
    failures += w[i].errors;
  }
  sxapi_vm *vm = open_vm();
  char want[32];
  snprintf(want, sizeof want, "%d", acked);
  expect_eval(vm, "(persist/kv-get db \"counter\")", want);
  expect_eval(vm, "(len (persist/read db \"shared\"))", want);
  expect_eval(
      vm,
      "(= (map persist/event-seq (persist/read db \"shared\")) (range 1 (+ 1 (len (persist/read db \"shared\")))))",
      "true");
  printf("%d evaluations on %d VMs and threads, %d conflicts run again\n", acked, THREADS, conflicts);
  if (acked != THREADS * ROUNDS) failures++;
  sxapi_free(vm);
  sxapi_free(main_vm);
  rm_tree(store_dir);
  printf("%s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
