/* store_mem.c — the store's allocators that abort instead of returning
 * NULL (store_mem.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_mem.h"
#include "sx_value.h"

#include <gc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *mem_check(void *p) {
  if (!p) abort();
  return p;
}

void *store_xmalloc(size_t n) { return mem_check(malloc(n)); }
void *store_xcalloc(size_t count, size_t size) { return mem_check(calloc(count, size)); }
/* realloc(p, 0) may free p and return NULL: ask for one byte instead. */
void *store_xrealloc(void *p, size_t n) { return mem_check(realloc(p, n + !n)); }
char *store_xstrdup(const char *s) { return mem_check(strdup(s)); }
void *store_xgc(size_t n) { return sx_alloc_large(n); } /* the value layer's: zeroed, aborts */
void *store_xgc_atomic(size_t n) { return mem_check(GC_MALLOC_ATOMIC(n)); }
void *store_xgc_uncollectable(size_t n) { return mem_check(GC_MALLOC_UNCOLLECTABLE(n)); }

char *store_xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = NULL;
  if (vasprintf(&out, fmt, ap) < 0) abort();
  va_end(ap);
  return out;
}
