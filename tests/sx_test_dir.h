/* sx_test_dir.h — temporary store directories for the store test suites:
 * remove a whole tree (after a test) with rm_tree. */
#ifndef SX_TEST_DIR_H
#define SX_TEST_DIR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

/* Remove p and everything below it (no error when it is absent). */
static inline void rm_tree(const char *p) { nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

#endif
