/* test_pqload.c — what a PostgreSQL store says when libpq cannot be used
 * (store/pq_load.c). The test build of the store opens the library that
 * SX_TEST_LIBPQ names instead of libpq.so.5: a file that is not there (no
 * libpq installed), a library without any libpq function, and a stand-in
 * for libpq 13 (tests/pq13_stub.c, built next to this test) that lacks
 * the pipeline functions. Each time every way into a PostgreSQL store —
 * opening one, checking one, loading a dump into one — fails with a
 * message naming what is missing, and the outcome does not change on a
 * second try. libpq is loaded once per process: Criterion runs each test
 * in a process of its own. No database is needed: the load comes first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pq_load.h"
#include "store.h"
#include "sx_buf.h"

#define URL "postgresql:///postgres?host=/nonexistent-sx-dir&user=postgres"

static void setup(void) { sx_gc_init(); }

TestSuite(pqload, .init = setup, .timeout = 60);

static const char *msg(sx_val e) {
  if (sx_is(e, SX_T_ERROR)) e = ((sx_error *)e)->message;
  return sx_is_string(e) ? sx_str_data(e) : "(no message)";
}

#define HAS(hay, needle) cr_assert(strstr((hay), (needle)), "expected \"%s\" in: %s", (needle), (hay))

/* Loading libpq from lib fails, saying each of needles, through pq_load
 * and through every entry that opens a PostgreSQL store. */
static void assert_refused(const char *lib, const char *const *needles) {
  cr_assert_eq(setenv("SX_TEST_LIBPQ", lib, 1), 0);
  sx_val err = SX_NIL;
  cr_assert_not(pq_load(&err), "loading %s must fail", lib);
  for (const char *const *n = needles; *n; n++) HAS(msg(err), *n);
  sx_val again = SX_NIL;
  cr_assert_not(pq_load(&again), "the first outcome stays");
  cr_assert_str_eq(msg(again), msg(err));

  store *s = NULL;
  sx_val open_err = SX_NIL;
  cr_assert_eq(store_open(URL, NULL, &s, &open_err), STORE_EFAIL);
  cr_assert_null(s);
  cr_assert_str_eq(msg(open_err), msg(err), "opening a store says the same");

  store_restore *r = NULL;
  sx_val load_err = SX_NIL;
  cr_assert_eq(store_restore_begin(URL, &r, &load_err), -1);
  cr_assert_null(r);
  cr_assert_str_eq(msg(load_err), msg(err), "so does a load");

  sx_buf report = SX_BUF_INIT;
  cr_assert_eq(store_check(URL, &report), -1);
  sx_buf_putc(&report, '\0');
  HAS(report.data, msg(err));
  sx_buf_free(&report);
}

Test(pqload, no_libpq_installed) {
  static const char *const needles[] = {"PostgreSQL stores need libpq (libpq.so.5; Debian: libpq5)",
                                        "/nonexistent-sx-dir/libpq.so.5", "No such file", NULL};
  assert_refused("/nonexistent-sx-dir/libpq.so.5", needles);
}

Test(pqload, a_library_that_is_not_libpq) {
  static const char *const needles[] = {"libpq has no PQconnectdb (version 14 or later needed)", NULL};
  assert_refused("libc.so.6", needles);
}

Test(pqload, a_libpq_older_than_14) {
  char exe[1024] = {0}, stub[1100];
  cr_assert_gt(readlink("/proc/self/exe", exe, sizeof exe - 1), 0);
  snprintf(stub, sizeof stub, "%s/libpq13_stub.so", dirname(exe)); /* tests/meson.build builds it here */
  cr_assert_eq(access(stub, R_OK), 0, "%s: not built", stub);
  static const char *const needles[] = {"libpq has no PQenterPipelineMode (version 14 or later needed)",
                                        NULL};
  assert_refused(stub, needles);
}

/* Without SX_TEST_LIBPQ the real libpq.so.5 loads, and a store then fails
 * only for want of a database. */
static void assert_loads(void) {
  sx_val err = SX_NIL;
  cr_assert(pq_load(&err), "%s", msg(err));
  cr_assert(PQconnectdb != NULL); /* pq_api.PQconnectdb */
  cr_assert(PQsendQueryPrepared != NULL, "the last function is there too");
  store *s = NULL;
  cr_assert_eq(store_open(URL, NULL, &s, &err), STORE_EFAIL);
  HAS(msg(err), "cannot connect to the database");
}

Test(pqload, the_installed_libpq_loads) {
  cr_assert_eq(unsetenv("SX_TEST_LIBPQ"), 0);
  assert_loads();
}

Test(pqload, an_empty_sx_test_libpq_is_as_if_unset) {
  cr_assert_eq(setenv("SX_TEST_LIBPQ", "", 1), 0);
  assert_loads();
}
