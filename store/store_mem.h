/* store_mem.h — allocation for the store and the resolver. Out of memory
 * ends the process (docs/internals.md, "branches no test reaches"), so
 * these never return NULL and callers have no failure branch to write:
 * the one check lives here. */
#ifndef STORE_MEM_H
#define STORE_MEM_H

#include <stddef.h>

void *store_xmalloc(size_t n);
void *store_xcalloc(size_t count, size_t size);
void *store_xrealloc(void *p, size_t n);
char *store_xstrdup(const char *s);
char *store_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Collected memory: zeroed and scanned; atomic (never scanned, not
 * zeroed); uncollectable (scanned, zeroed, freed only by GC_FREE). */
void *store_xgc(size_t n);
void *store_xgc_atomic(size_t n);
void *store_xgc_uncollectable(size_t n);

#endif
