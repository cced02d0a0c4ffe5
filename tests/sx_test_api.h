/* sx_test_api.h — helpers shared by the libsx API test suites, which use
 * the public header only: a fresh VM per test, evaluation with printed
 * results, assertion macros on return codes and messages, and scratch
 * directories for stores. */
#ifndef SX_TEST_API_H
#define SX_TEST_API_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sx.h"

static sxapi_vm *vm;

static inline void api_setup(void) {
  vm = sxapi_open();
  cr_assert_not_null(vm, "sxapi_open: %s", sxapi_errmsg());
}
static inline void api_teardown(void) { sxapi_free(vm); }

/* The printed form of v (a C string owned by the GC heap). */
static inline const char *show(sxapi_value v) {
  sxapi_value text;
  const char *s = NULL;
  cr_assert_eq(sxapi_print(vm, v, &text), SXAPI_OK, "sxapi_print: %s", sxapi_errmsg());
  cr_assert_eq(sxapi_to_string(vm, text, &s, NULL), SXAPI_OK);
  return s;
}

/* rc must equal want; the message names both codes and the error text. */
#define CODE(rc, want)                                                                                       \
  do {                                                                                                       \
    sxapi_code got_ = (rc);                                                                                  \
    cr_assert_eq(got_, (want), "%s: got %s, expected %s (%s)", #rc, sxapi_code_name(got_),                   \
                 sxapi_code_name(want), sxapi_errmsg());                                                     \
  } while (0)

/* The last error message contains text. */
#define MSG_HAS(text)                                                                                        \
  cr_assert(strstr(sxapi_errmsg(), (text)) != NULL, "message \"%s\" lacks \"%s\"", sxapi_errmsg(), (text))

/* call is refused as a bad argument, with a message containing text. */
#define ARG_REFUSED(call, text)                                                                              \
  do {                                                                                                       \
    CODE(call, SXAPI_ERR_ARG);                                                                               \
    MSG_HAS(text);                                                                                           \
  } while (0)

/* src evaluates to a value printing as expected. */
#define EVAL_OK(src, expected)                                                                               \
  do {                                                                                                       \
    sxapi_value v_;                                                                                          \
    CODE(sxapi_eval(vm, (src), &v_), SXAPI_OK);                                                              \
    cr_assert_str_eq(show(v_), (expected), "%s", (src));                                                     \
  } while (0)

/* ---- scratch directories -------------------------------------------------- */

static inline char *scratch_dir(void) {
  char *d = strdup("/tmp/sx-api-test-XXXXXX");
  cr_assert_not_null(mkdtemp(d));
  return d;
}

static inline int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}

static inline void scratch_remove(char *d) {
  nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(d);
}

#endif
