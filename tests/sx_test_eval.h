/* sx_test_eval.h — helpers shared by the evaluator test suites: a fresh VM
 * per test (setup/teardown), evaluation of source text, and assertion
 * macros comparing printed results (OK) or error messages (ERR, ERR_HAS),
 * and (trip!), an interrupt raised from SX. */
#ifndef SX_TEST_EVAL_H
#define SX_TEST_EVAL_H

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"
#include "sx_stdlib.h"
#include "sx_vm.h"

static sx_vm *vm;

static inline void setup(void) { vm = sx_stdlib_vm_create(); }
static inline void teardown(void) { sx_vm_close(vm); }

/* Evaluate src; return the status and store the value or error in *out. */
static inline sx_status run_src(const char *src, sx_val *out) {
  return sx_eval_string(vm, src, strlen(src), sx_string_cstr("<test>"), out);
}

static inline const char *printed(sx_val v) { return sx_str_data(sx_print_to_string(v)); }
static inline const char *errmsg(sx_val e) { return sx_str_data(sx_error_message(e)); }

/* src evaluates without error and prints as expected */
#define OK(src, expected)                                                                                    \
  do {                                                                                                       \
    sx_val out_;                                                                                             \
    sx_status st_ = run_src(src, &out_);                                                                     \
    cr_assert_eq(st_, SX_DONE, "%s: expected success, got error: %s", src,                                   \
                 st_ == SX_ERROR ? errmsg(out_) : "(suspended)");                                            \
    cr_assert_str_eq(printed(out_), expected, "%s", src);                                                    \
  } while (0)

/* src raises an error whose message is exactly msg */
#define ERR(src, msg)                                                                                        \
  do {                                                                                                       \
    sx_val out_;                                                                                             \
    sx_status st_ = run_src(src, &out_);                                                                     \
    cr_assert_eq(st_, SX_ERROR, "%s: expected an error, got %s", src,                                        \
                 st_ == SX_DONE ? printed(out_) : "(suspended)");                                            \
    cr_assert_str_eq(errmsg(out_), msg, "%s", src);                                                          \
  } while (0)

/* src raises an error whose message contains part */
#define ERR_HAS(src, part)                                                                                   \
  do {                                                                                                       \
    sx_val out_;                                                                                             \
    sx_status st_ = run_src(src, &out_);                                                                     \
    cr_assert_eq(st_, SX_ERROR, "%s: expected an error, got %s", src,                                        \
                 st_ == SX_DONE ? printed(out_) : "(suspended)");                                            \
    cr_assert(strstr(errmsg(out_), part) != NULL, "%s: message '%s' lacks '%s'", src, errmsg(out_), part);   \
  } while (0)

/* (trip!) stands in for a SIGINT handler: it sets the VM's interrupt flag. */
static inline sx_val p_trip(sx_vm *v, int argc, sx_val *argv) {
  (void)argc;
  (void)argv;
  v->interrupt = 1;
  return SX_NIL;
}

#endif
