/* store_iosim.h — crash-state simulation for tests (issue 14), in the
 * spirit of SQLite's crash VFS. Compiled only into the test build of the
 * store (STORE_IO_TEST, the sxstore_test library); the shipped library
 * has no trace of it.
 *
 * While recording, every file-system change store_io makes below a root
 * directory is kept as an operation: file creation, mkdir, rename, pwrite
 * and write (with their bytes), ftruncate, fsync/fdatasync of a file and
 * fsync of a directory. A crash point k means operations [0, k) happened.
 * The disk model at a crash point:
 *  - a write or truncation of a file is durable once a later fsync or
 *    fdatasync of that file that started after it has returned; anything
 *    else may be lost, kept, or kept in part (512-byte sectors), in any
 *    combination, so later writes may survive earlier ones (reordering);
 *  - names (create, mkdir, rename) are journaled in order: a crash keeps a
 *    prefix of them, and a directory fsync makes every earlier one durable.
 * Each crash point has a list of variants: 0 keeps nothing unsynced, 1
 * keeps everything (the process died, the disk did not), then each of the
 * last pending writes torn at every sector boundary (earlier ones kept,
 * later ones lost), then name-prefix cuts, then random drops and tears. */
#ifndef STORE_IOSIM_H
#define STORE_IOSIM_H

#include <stddef.h>
#include <stdint.h>

/* Forget any recording and record from now on what happens below root (an
 * absolute path without a trailing slash). */
void store_iosim_start(const char *root);
void store_iosim_stop(void);
size_t store_iosim_ops(void); /* operations recorded so far */

/* Operation i: its kind ("create", "mkdir", "rename", "write", "truncate",
 * "sync", "dir-sync"), the root-relative name of its file at the time
 * (the target for rename) and, for syncs, how many operations it covers
 * (those before the sync started). */
const char *store_iosim_op(size_t i, const char **path, size_t *covers);

/* Random variants per crash point (default 8). */
void store_iosim_set_random(unsigned n);

/* Crash state v of crash point k. Returns -1 when v is past the last
 * variant; else fills *hash (equal states hash equal), writes the state
 * below dest when dest is not NULL (dest is created; names keep their
 * root-relative paths), and returns 1 for variant 1 (everything kept) and
 * 0 for the others; -2 when dest cannot be written. */
int store_iosim_crash(size_t k, unsigned v, const char *dest, uint64_t *hash);

/* Hooks for store_io.c (STORE_IO_TEST only). */
void store_iosim_open(const char *path, int fd, int flags);
void store_iosim_mkdir(const char *path);
void store_iosim_rename(const char *from, const char *to);
void store_iosim_write(int fd, const void *p, size_t n, uint64_t off);
void store_iosim_truncate(int fd, uint64_t len);
size_t store_iosim_sync_begin(void);
void store_iosim_sync_end(int fd, size_t covers);

#endif
