/* embed.c — a host process embedding libsx the way an sx_server-style
 * service would: it services its own op (clock/now) in-process, keeps
 * persist events in a durable store, lets the program suspend on an op it
 * does not service itself (mail/send), does that "IO" on its own schedule
 * and resumes the evaluation with the answer. It then reopens the store in
 * a fresh VM to show the events survived.
 *
 *   embed STORE_DIR
 *
 * Built against the installed library: cc embed.c $(pkg-config --cflags --libs sx)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <sx.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what) {
  fprintf(stderr, "embed: %s: %s\n", what, sxapi_errmsg());
  exit(1);
}

static void check(sxapi_code rc, const char *what) {
  if (rc != SXAPI_OK) die(what);
}

/* The host's own op: (perform {:op "clock/now"}) gives milliseconds since
 * the epoch, without suspending the evaluation. */
static sxapi_code clock_now(sxapi_vm *vm, const char *op, sxapi_value args, sxapi_value request,
                            sxapi_value *result, void *ud) {
  (void)op, (void)args, (void)request, (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *result = sxapi_int(vm, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
  return SXAPI_OK;
}

/* A C function: (order-total qty unit-price) in cents. */
static sxapi_code order_total(sxapi_vm *vm, int argc, const sxapi_value *argv, sxapi_value *result,
                              void *ud) {
  (void)argc, (void)ud;
  int64_t qty, price;
  if (sxapi_to_int(vm, argv[0], &qty) != SXAPI_OK || sxapi_to_int(vm, argv[1], &price) != SXAPI_OK)
    return SXAPI_ERR_TYPE; /* the error raised in SX names the bad argument */
  *result = sxapi_int(vm, qty * price);
  return SXAPI_OK;
}

static const char *persist_files[] = {"lib/persist/event.sx", "lib/persist/backend.sx", "lib/persist/log.sx",
                                      "lib/persist/durable.sx"};

static sxapi_vm *open_vm(const char *store_dir) {
  sxapi_vm *vm = sxapi_open();
  if (!vm) die("sxapi_open");
  sxapi_store_options opts = {.sync = SXAPI_SYNC_FULL};
  check(sxapi_store_open(vm, store_dir, &opts), "opening the store");
  for (size_t i = 0; i < sizeof persist_files / sizeof *persist_files; i++)
    check(sxapi_load(vm, persist_files[i], NULL), persist_files[i]);
  return vm;
}

static const char *program =
    "(define db (persist/durable-backend))\n"
    "(define at (perform {:op \"clock/now\" :args ()}))\n"
    "(persist/append db \"orders\" \"placed\" at {:id 1 :total (order-total 3 250)})\n"
    "(define ack (perform {:op \"mail/send\" :args (list \"ops@example.org\" \"order 1 placed\")}))\n"
    "(list (persist/last-seq db \"orders\") ack)";

/* The host's asynchronous side: here it just makes up a receipt. */
static sxapi_value send_mail(sxapi_vm *vm, sxapi_value args) {
  sxapi_value to;
  const char *addr;
  check(sxapi_list_get(vm, args, 0, &to), "mail/send arguments");
  check(sxapi_to_string(vm, to, &addr, NULL), "mail/send address");
  printf("suspended on mail/send to %s\n", addr);
  return sxapi_cstring(vm, "queued-42");
}

static void print_value(sxapi_vm *vm, const char *label, sxapi_value v) {
  sxapi_value text;
  const char *s;
  check(sxapi_print(vm, v, &text), "printing");
  check(sxapi_to_string(vm, text, &s, NULL), "printing");
  printf("%s%s\n", label, s);
}

static void run_program(sxapi_vm *vm) {
  sxapi_task *task;
  sxapi_code rc = sxapi_begin(vm, program, strlen(program), "<embed>", &task);
  while (rc == SXAPI_SUSPENDED) {
    const char *op = sxapi_task_op(task);
    if (op && strcmp(op, "mail/send") == 0) rc = sxapi_resume(task, send_mail(vm, sxapi_task_args(task)));
    else rc = sxapi_resume_error(task, sxapi_cstring(vm, "embed: unknown op"));
  }
  if (rc != SXAPI_OK) die("running the program");
  print_value(vm, "result: ", sxapi_task_result(task));
  sxapi_task_free(task);
}

/* A fresh VM on the same directory sees what the first one committed. */
static void reopen_and_inspect(const char *store_dir) {
  sxapi_vm *vm = sxapi_open();
  if (!vm) die("sxapi_open");
  check(sxapi_store_open(vm, store_dir, NULL), "reopening the store");
  int64_t seq;
  sxapi_value events, first, data, total;
  size_t n;
  check(sxapi_store_last_seq(vm, "orders", &seq), "last seq");
  check(sxapi_store_read(vm, "orders", &events), "reading events");
  check(sxapi_list_length(vm, events, &n), "counting events");
  check(sxapi_list_get(vm, events, 0, &first), "first event");
  check(sxapi_dict_get(vm, first, "data", &data), "event data");
  check(sxapi_dict_get(vm, data, "total", &total), "event total");
  printf("after reopen: orders last seq %lld, %zu event(s)\n", (long long)seq, n);
  print_value(vm, "first order total: ", total);
  check(sxapi_free(vm), "closing the store");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: embed STORE_DIR\n");
    return 2;
  }
  sxapi_vm *vm = open_vm(argv[1]);
  check(sxapi_add_resolver(vm, "clock/", clock_now, NULL), "registering clock/");
  check(sxapi_define_function(vm, "order-total", 2, 2, order_total, NULL), "defining order-total");
  run_program(vm);
  check(sxapi_free(vm), "closing the VM");
  reopen_and_inspect(argv[1]);
  return 0;
}
