/* pq_load.c — loads libpq with dlopen on first use and fills pq_api with
 * its functions (see pq_load.h). */
#define PQ_LOAD_IMPL
#include "pq_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

pq_api_table pq_api;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_failure[512]; /* empty once loaded */

static void pq_load_once(void) {
  void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(pq_failure, sizeof pq_failure, "PostgreSQL stores need libpq: %s", dlerror());
    return;
  }
  void *fn;
#define PQ_RESOLVE(ret, name, params)                                                                        \
  if (!(fn = dlsym(lib, #name))) {                                                                           \
    snprintf(pq_failure, sizeof pq_failure, "libpq has no %s (version 14 or later needed)", #name);          \
    return;                                                                                                  \
  }                                                                                                          \
  memcpy(&pq_api.name, &fn, sizeof fn); /* ISO C has no cast from void * */
  PQ_FUNCS(PQ_RESOLVE)
#undef PQ_RESOLVE
}

bool pq_load(sx_val *err) {
  pthread_once(&pq_once, pq_load_once);
  if (pq_failure[0] == '\0') return true;
  *err = sx_string_cstr(pq_failure);
  return false;
}
