/* test_api_vm.c — libsx VMs through the public header: version and code
 * names, independent VMs, closing and freeing (every call on a closed VM
 * is SXAPI_ERR_CLOSED, never a crash), NULL and foreign handles, output
 * redirection, interrupts (from C and from a signal handler), the load path
 * and loading files, and pins. */
#include "sx_test_api.h"

#include <signal.h>
#include <sys/stat.h>

TestSuite(api_vm, .init = api_setup, .fini = api_teardown);

Test(api_vm, version_is_the_project_version) { cr_assert_str_eq(sxapi_version(), SX_VERSION); }

Test(api_vm, every_code_has_its_own_name) {
  sxapi_code codes[] = {SXAPI_OK,         SXAPI_SUSPENDED,      SXAPI_ERR_EVAL,
                        SXAPI_ERR_SYNTAX, SXAPI_ERR_INCOMPLETE, SXAPI_ERR_ARG,
                        SXAPI_ERR_TYPE,   SXAPI_ERR_NOTFOUND,   SXAPI_ERR_CLOSED,
                        SXAPI_ERR_STATE,  SXAPI_ERR_BUSY,       SXAPI_ERR_THREAD,
                        SXAPI_ERR_IO,     SXAPI_ERR_STORE};
  size_t n = sizeof codes / sizeof *codes;
  for (size_t i = 0; i < n; i++) {
    const char *name = sxapi_code_name(codes[i]);
    cr_assert(strncmp(name, "SXAPI_", 6) == 0 && strcmp(name, "SXAPI_?") != 0, "%d: %s", codes[i], name);
    for (size_t j = 0; j < i; j++) cr_assert_str_neq(name, sxapi_code_name(codes[j]));
  }
  cr_assert_str_eq(sxapi_code_name(SXAPI_OK), "SXAPI_OK");
  cr_assert_str_eq(sxapi_code_name(SXAPI_ERR_TYPE), "SXAPI_ERR_TYPE");
  cr_assert_str_eq(sxapi_code_name((sxapi_code)99), "SXAPI_?");
}

Test(api_vm, vms_are_independent) {
  sxapi_vm *other = sxapi_open();
  cr_assert_not_null(other);
  CODE(sxapi_eval(vm, "(define x 1)", NULL), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_eval(other, "x", &v), SXAPI_ERR_EVAL);
  MSG_HAS("unbound symbol x");
  CODE(sxapi_eval(other, "(define x 2)", NULL), SXAPI_OK);
  EVAL_OK("x", "1");
  CODE(sxapi_free(other), SXAPI_OK);
  EVAL_OK("(+ x 1)", "2");
}

static sxapi_code noop_fn(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *r, void *ud) {
  (void)v, (void)argc, (void)argv, (void)r, (void)ud;
  return SXAPI_OK;
}

static sxapi_code noop_resolver(sxapi_vm *v, const char *op, sxapi_value a, sxapi_value rq, sxapi_value *r,
                                void *ud) {
  (void)v, (void)op, (void)a, (void)rq, (void)r, (void)ud;
  return SXAPI_OK;
}

/* Every call that takes a VM reports the given code (for a closed VM:
 * SXAPI_ERR_CLOSED; for NULL: SXAPI_ERR_ARG); value constructors give nil. */
static void expect_all_fail(sxapi_vm *bad, sxapi_code want) {
  sxapi_value v = sxapi_nil(), out;
  sxapi_task *task = (sxapi_task *)1;
  sxapi_iter it;
  sxapi_error_info info;
  sxapi_store_stats stats;
  int64_t i64;
  double d;
  bool b;
  size_t n;
  const char *s;
  int fd;
  uint64_t size;
  CODE(sxapi_set_output(bad, stdout), want);
  CODE(sxapi_add_path(bad, "/tmp"), want);
  CODE(sxapi_set_path(bad, "/tmp"), want);
  CODE(sxapi_find_file(bad, "x.sx", &out), want);
  cr_assert_eq(sxapi_equal(bad, v, v), false);
  cr_assert_eq(sxapi_int(bad, 1), sxapi_nil());
  cr_assert_eq(sxapi_float(bad, 1.0), sxapi_nil());
  cr_assert_eq(sxapi_string(bad, "a", 1), sxapi_nil());
  cr_assert_eq(sxapi_cstring(bad, "a"), sxapi_nil());
  cr_assert_eq(sxapi_symbol(bad, "a"), sxapi_nil());
  cr_assert_eq(sxapi_keyword(bad, "a"), sxapi_nil());
  cr_assert_eq(sxapi_list(bad, 0, NULL), sxapi_nil());
  cr_assert_eq(sxapi_dict(bad), sxapi_nil());
  cr_assert_eq(sxapi_error(bad, "m"), sxapi_nil());
  CODE(sxapi_dict_set(bad, v, "k", v, &out), want);
  CODE(sxapi_dict_remove(bad, v, "k", &out), want);
  CODE(sxapi_to_bool(bad, v, &b), want);
  CODE(sxapi_to_int(bad, v, &i64), want);
  CODE(sxapi_to_float(bad, v, &d), want);
  CODE(sxapi_to_string(bad, v, &s, &n), want);
  CODE(sxapi_to_name(bad, v, &s), want);
  CODE(sxapi_list_length(bad, v, &n), want);
  CODE(sxapi_list_get(bad, v, 0, &out), want);
  CODE(sxapi_dict_count(bad, v, &n), want);
  CODE(sxapi_dict_get(bad, v, "k", &out), want);
  CODE(sxapi_iter_init(bad, v, &it), want);
  CODE(sxapi_error_info_of(bad, v, &info), want);
  CODE(sxapi_print(bad, v, &out), want);
  CODE(sxapi_display(bad, v, &out), want);
  CODE(sxapi_read(bad, "1", 1, NULL, &out), want);
  CODE(sxapi_read_at(bad, "1", 1, NULL, 1, &out), want);
  CODE(sxapi_read_file(bad, "x.sx", &out), want);
  CODE(sxapi_print_key(bad, v, &out), want);
  CODE(sxapi_error_text(bad, v, true, &out), want);
  CODE(sxapi_eval_form(bad, v, &out), want);
  CODE(sxapi_load_each(bad, "x.sx", &out), want);
  CODE(sxapi_eval_forms(bad, v, NULL, &out), want);
  CODE(sxapi_begin_forms(bad, v, NULL, &task), want);
  CODE(sxapi_globals(bad, &out), want);
  CODE(sxapi_set_async_commit(bad, true), want);
  CODE(sxapi_set_commit_check(bad, NULL, NULL), want);
  CODE(sxapi_store_durable_fd(bad, &fd), want);
  CODE(sxapi_store_compact(bad, "/tmp/none", NULL), want);
  CODE(sxapi_store_blob_size(bad, "bafkrei", &size), want);
  cr_assert_null(sxapi_store_label(bad));
  CODE(sxapi_pin(bad, v), want);
  CODE(sxapi_unpin(bad, v), want);
  CODE(sxapi_define(bad, "x", v), want);
  CODE(sxapi_global(bad, "car", &out), want);
  CODE(sxapi_new_function(bad, "f", 0, 0, noop_fn, NULL, &out), want);
  CODE(sxapi_define_function(bad, "f", 0, 0, noop_fn, NULL), want);
  CODE(sxapi_eval(bad, "1", &out), want);
  CODE(sxapi_eval_buffer(bad, "1", 1, NULL, &out), want);
  CODE(sxapi_load(bad, "x.sx", &out), want);
  CODE(sxapi_call(bad, v, 0, NULL, &out), want);
  CODE(sxapi_begin(bad, "1", 1, NULL, &task), want);
  CODE(sxapi_begin_load(bad, "x.sx", &task), want);
  CODE(sxapi_begin_call(bad, v, 0, NULL, &task), want);
  CODE(sxapi_add_resolver(bad, "a/", noop_resolver, NULL), want);
  CODE(sxapi_remove_resolver(bad, "a/"), want);
  CODE(sxapi_store_open(bad, "/tmp/none", NULL), want);
  CODE(sxapi_store_flush(bad), want);
  CODE(sxapi_store_close(bad), want);
  CODE(sxapi_store_refresh(bad), want);
  CODE(sxapi_store_stats_of(bad, &stats), want);
  cr_assert_null(sxapi_store_dir(bad));
  CODE(sxapi_store_streams(bad, &out), want);
  CODE(sxapi_store_last_seq(bad, "s", &i64), want);
  CODE(sxapi_store_read(bad, "s", &out), want);
  CODE(sxapi_store_kv_keys(bad, &out), want);
  CODE(sxapi_store_kv_get(bad, "k", &out), want);
  CODE(sxapi_store_blobs(bad, &out), want);
  CODE(sxapi_store_blob_get(bad, "bafkrei", &out), want);
  CODE(sxapi_store_check(bad, "/tmp/none", &out), want);
  sxapi_interrupt(bad); /* ignored */
}

Test(api_vm, a_closed_vm_refuses_every_call) {
  CODE(sxapi_close(vm), SXAPI_OK);
  expect_all_fail(vm, SXAPI_ERR_CLOSED);
  cr_assert(strstr(sxapi_errmsg(), "the VM is closed") != NULL, "%s", sxapi_errmsg());
  CODE(sxapi_close(vm), SXAPI_OK); /* closing twice is harmless */
}

Test(api_vm, a_null_vm_is_a_bad_argument) {
  expect_all_fail(NULL, SXAPI_ERR_ARG);
  MSG_HAS("the VM is NULL");
  CODE(sxapi_free(NULL), SXAPI_OK);
  CODE(sxapi_close(NULL), SXAPI_ERR_ARG);
}

Test(api_vm, a_foreign_pointer_is_not_a_vm) {
  uint64_t junk[16] = {0};
  sxapi_value v;
  CODE(sxapi_eval((sxapi_vm *)junk, "1", &v), SXAPI_ERR_ARG);
  MSG_HAS("not a VM handle");
  CODE(sxapi_close((sxapi_vm *)junk), SXAPI_ERR_ARG);
}

Test(api_vm, errors_leave_a_message_naming_the_call) {
  int64_t i;
  CODE(sxapi_to_int(vm, sxapi_cstring(vm, "x"), &i), SXAPI_ERR_TYPE);
  cr_assert_str_eq(sxapi_errmsg(), "sxapi_to_int: expected an integer, got \"x\"");
  EVAL_OK("1", "1"); /* success leaves the message alone */
  cr_assert_str_eq(sxapi_errmsg(), "sxapi_to_int: expected an integer, got \"x\"");
}

Test(api_vm, a_long_message_is_kept_whole) {
  char name[2001];
  memset(name, 'n', 2000);
  name[2000] = '\0';
  sxapi_value v;
  CODE(sxapi_global(vm, name, &v), SXAPI_ERR_NOTFOUND);
  cr_assert_eq(strlen(sxapi_errmsg()), strlen("sxapi_global: ") + 2000 + strlen(" is not defined"));
  cr_assert(strncmp(sxapi_errmsg(), "sxapi_global: nnn", 17) == 0);
  cr_assert(strcmp(sxapi_errmsg() + strlen(sxapi_errmsg()) - 15, " is not defined") == 0, "%s",
            sxapi_errmsg());
}

Test(api_vm, output_goes_where_the_host_says) {
  FILE *f = tmpfile();
  cr_assert_not_null(f);
  CODE(sxapi_set_output(vm, f), SXAPI_OK);
  CODE(sxapi_eval(vm, "(println \"hello\" 42)", NULL), SXAPI_OK);
  rewind(f);
  char buf[64] = {0};
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  cr_assert_str_eq(buf, "hello 42\n", "got %zu bytes", got);
  CODE(sxapi_set_output(vm, NULL), SXAPI_ERR_ARG);
}

/* ---- interrupts --------------------------------------------------------- */

static sxapi_code interrupt_me(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *r, void *ud) {
  (void)argc, (void)argv, (void)r, (void)ud;
  sxapi_interrupt(v);
  return SXAPI_OK;
}

static const char *spin = "(define (spin n) (if (< n 0) n (spin (+ n 1))))";

Test(api_vm, an_interrupt_stops_a_running_loop) {
  CODE(sxapi_define_function(vm, "interrupt-me", 0, 0, interrupt_me, NULL), SXAPI_OK);
  CODE(sxapi_eval(vm, spin, NULL), SXAPI_OK);
  sxapi_value err;
  CODE(sxapi_eval(vm, "(interrupt-me) (spin 0)", &err), SXAPI_ERR_EVAL);
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, err, &info), SXAPI_OK);
  cr_assert_str_eq(info.message, "interrupted");
  /* guards let it through to the host; the VM carries on */
  CODE(sxapi_eval(vm, "(guard (e (true :caught)) (interrupt-me) (spin 0))", &err), SXAPI_ERR_EVAL);
  MSG_HAS("interrupted");
  EVAL_OK("(+ 1 2)", "3");
}

Test(api_vm, an_interrupt_while_idle_is_forgotten) {
  CODE(sxapi_eval(vm, "(define (count-to n i) (if (= i n) i (count-to n (+ i 1))))", NULL), SXAPI_OK);
  sxapi_interrupt(vm);
  EVAL_OK("(count-to 100 0)", "100");
}

static sxapi_vm *signal_vm;
static void on_signal(int sig) {
  (void)sig;
  sxapi_interrupt(signal_vm);
}

static sxapi_code raise_signal(sxapi_vm *v, int argc, const sxapi_value *argv, sxapi_value *r, void *ud) {
  (void)v, (void)argc, (void)argv, (void)r, (void)ud;
  raise(SIGUSR1);
  return SXAPI_OK;
}

Test(api_vm, an_interrupt_may_come_from_a_signal_handler) {
  signal_vm = vm;
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
  CODE(sxapi_define_function(vm, "raise-signal", 0, 0, raise_signal, NULL), SXAPI_OK);
  CODE(sxapi_eval(vm, spin, NULL), SXAPI_OK);
  sxapi_value err;
  CODE(sxapi_eval(vm, "(raise-signal) (spin 0)", &err), SXAPI_ERR_EVAL);
  MSG_HAS("interrupted");
}

/* ---- the load path ---------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

Test(api_vm, the_load_path_finds_and_loads_files) {
  char *dir = scratch_dir();
  char sub[512];
  snprintf(sub, sizeof sub, "%s/lib", dir);
  cr_assert_eq(mkdir(sub, 0700), 0);
  write_file(sub, "greet.sx", "(define greeting \"hi\")\n(define (greet who) (str greeting \", \" who))\n");
  sxapi_value found;
  CODE(sxapi_set_path(vm, ""), SXAPI_OK);
  CODE(sxapi_find_file(vm, "lib/greet.sx", &found), SXAPI_ERR_NOTFOUND);
  CODE(sxapi_load(vm, "lib/greet.sx", NULL), SXAPI_ERR_IO);
  MSG_HAS("cannot find lib/greet.sx");
  CODE(sxapi_add_path(vm, dir), SXAPI_OK);
  CODE(sxapi_find_file(vm, "lib/greet.sx", &found), SXAPI_OK);
  char want[600];
  snprintf(want, sizeof want, "\"%s/lib/greet.sx\"", dir);
  cr_assert_str_eq(show(found), want);
  CODE(sxapi_set_path(vm, "/nonexistent:"), SXAPI_OK); /* replaces: dir is gone again */
  CODE(sxapi_find_file(vm, "lib/greet.sx", &found), SXAPI_ERR_NOTFOUND);
  char list[600];
  snprintf(list, sizeof list, "/nonexistent:%s", dir);
  CODE(sxapi_set_path(vm, list), SXAPI_OK);
  sxapi_value v;
  CODE(sxapi_load(vm, "lib/greet.sx", &v), SXAPI_OK);
  EVAL_OK("(greet \"you\")", "\"hi, you\"");
  CODE(sxapi_add_path(vm, ""), SXAPI_ERR_ARG);
  CODE(sxapi_set_path(vm, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_find_file(vm, NULL, &found), SXAPI_ERR_ARG);
  scratch_remove(dir);
}

Test(api_vm, loading_reports_syntax_and_incomplete_files) {
  char *dir = scratch_dir();
  write_file(dir, "bad.sx", "(define x 1)\n(car ))\n");
  write_file(dir, "cut.sx", "(define x 1)\n(define (f) (+ 1\n");
  CODE(sxapi_add_path(vm, dir), SXAPI_OK);
  sxapi_value err;
  CODE(sxapi_load(vm, "bad.sx", &err), SXAPI_ERR_SYNTAX);
  MSG_HAS("bad.sx:2:7: unexpected ')'");
  sxapi_error_info info;
  CODE(sxapi_error_info_of(vm, err, &info), SXAPI_OK);
  cr_assert(strstr(info.message, "bad.sx:2:7") != NULL, "%s", info.message);
  CODE(sxapi_load(vm, "cut.sx", &err), SXAPI_ERR_INCOMPLETE);
  MSG_HAS("cut.sx:3:1: unclosed '('");
  CODE(sxapi_eval(vm, "x", &err), SXAPI_ERR_EVAL); /* nothing of either file ran */
  CODE(sxapi_load(vm, NULL, &err), SXAPI_ERR_ARG);
  scratch_remove(dir);
}

/* ---- pins ------------------------------------------------------------------------ */

Test(api_vm, pinned_values_survive_collections_in_host_memory) {
  enum { N = 64 };
  sxapi_value *held = malloc(N * sizeof *held); /* memory the collector cannot see */
  for (int i = 0; i < N; i++) {
    char text[32];
    snprintf(text, sizeof text, "value number %d", i);
    held[i] = sxapi_cstring(vm, text);
    CODE(sxapi_pin(vm, held[i]), SXAPI_OK);
  }
  /* churn the heap: many megabytes of garbage force collections */
  EVAL_OK(
      "(define (churn n) (if (= n 0) 0 (begin (map (fn (i) (str \"garbage \" i)) (range 0 1000)) (churn (- n 1)))))"
      " (churn 300)",
      "0");
  for (int i = 0; i < N; i++) {
    char text[32];
    snprintf(text, sizeof text, "value number %d", i);
    const char *s;
    CODE(sxapi_to_string(vm, held[i], &s, NULL), SXAPI_OK);
    cr_assert_str_eq(s, text);
    CODE(sxapi_unpin(vm, held[i]), SXAPI_OK);
  }
  free(held);
}

Test(api_vm, pins_are_counted) {
  sxapi_value v = sxapi_cstring(vm, "x");
  CODE(sxapi_pin(vm, v), SXAPI_OK);
  CODE(sxapi_pin(vm, v), SXAPI_OK);
  CODE(sxapi_unpin(vm, v), SXAPI_OK);
  CODE(sxapi_unpin(vm, v), SXAPI_OK);
  CODE(sxapi_unpin(vm, v), SXAPI_ERR_NOTFOUND);
  MSG_HAS("not pinned");
}
