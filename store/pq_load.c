/* pq_load.c — loads libpq with dlopen on first use and fills pq_api with
 * its functions (see pq_load.h).
 *
 * The test build of the store (STORE_IO_TEST) opens the library that
 * SX_TEST_LIBPQ names instead, when it is set, so that tests can see what a
 * user without libpq, or with a libpq too old, is told; the shipped library
 * always opens libpq.so.5. */
#define PQ_LOAD_IMPL
#include "pq_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pq_api_table pq_api;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_failure[512]; /* empty once loaded */

/* Each function of PQ_FUNCS: its name and where its pointer goes in pq_api. */
#define PQ_ENTRY(ret, name, params) {#name, offsetof(pq_api_table, name)},
static const struct {
  const char *name;
  size_t offset;
} pq_entries[] = {PQ_FUNCS(PQ_ENTRY)};
#undef PQ_ENTRY

/* The file to dlopen: libpq's soname, or in test builds SX_TEST_LIBPQ. */
static const char *pq_library(void) {
#ifdef STORE_IO_TEST
  const char *test = getenv("SX_TEST_LIBPQ");
  if (test && *test) return test;
#endif
  return "libpq.so.5";
}

static void pq_load_once(void) {
  void *lib = dlopen(pq_library(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(pq_failure, sizeof pq_failure, "PostgreSQL stores need libpq (libpq.so.5; Debian: libpq5): %s",
             dlerror());
    return;
  }
  /* Every entry is a function pointer: pq_api holds nothing else. */
  for (size_t i = 0; i < sizeof pq_entries / sizeof pq_entries[0]; i++) {
    void *fn = dlsym(lib, pq_entries[i].name);
    if (!fn) {
      snprintf(pq_failure, sizeof pq_failure, "libpq has no %s (version 14 or later needed)",
               pq_entries[i].name);
      return; /* the library stays open: unloading it gains nothing in a process that failed */
    }
    memcpy((char *)&pq_api + pq_entries[i].offset, &fn, sizeof fn); /* ISO C has no cast from void * */
  }
}

bool pq_load(sx_val *err) {
  pthread_once(&pq_once, pq_load_once);
  if (pq_failure[0] == '\0') return true;
  *err = sx_string_cstr(pq_failure);
  return false;
}
