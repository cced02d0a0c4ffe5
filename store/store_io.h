/* store_io.h — every call by which the store and the blob store change the
 * file system goes through these wrappers, each tagged with its write site.
 * A fault can be armed on a site (tests, or SX_STORE_FAULT for a whole
 * process of a test build) so that a chosen call fails with a chosen errno;
 * unarmed, the wrappers are the plain system calls.
 *
 * SX_STORE_FAULT=SITE:NTH:ERRNO[:sticky] arms the fault at the first IO of
 * the process, in test builds only (STORE_IO_TEST: the sxstore_test
 * library, libsx_fault and the sx-fault binary; the shipped library
 * ignores it): SITE is a name below (or "any"), NTH counts matching calls
 * from 1, ERRNO is ENOSPC, EIO, EDQUOT, EROFS or a number; with "sticky"
 * every later matching call fails too (a full disk stays full). */
#ifndef STORE_IO_H
#define STORE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum store_io_site {
  STORE_IO_ANY = 0,
  STORE_IO_MKDIR,          /* "mkdir": the store directory, blobs/ and shards */
  STORE_IO_LOCK,           /* "lock": recording the owner's pid in DIR/lock */
  STORE_IO_LOG_CREATE,     /* "log-create": creating DIR/log.tmp */
  STORE_IO_LOG_WRITE,      /* "log-write": the header, zero-fill, frames */
  STORE_IO_LOG_SYNC,       /* "log-sync": fsync/fdatasync of the log */
  STORE_IO_LOG_TRUNC,      /* "log-truncate": cutting a torn tail or failed frame */
  STORE_IO_BATCH_SYNC,     /* "batch-sync": the batch-mode flusher's fdatasync */
  STORE_IO_RENAME,         /* "rename": log.tmp -> log, blob temp -> blob */
  STORE_IO_DIR_SYNC,       /* "dir-sync": fsync of a directory */
  STORE_IO_BLOB_CREATE,    /* "blob-create": creating a blob's temporary file */
  STORE_IO_BLOB_WRITE,     /* "blob-write" */
  STORE_IO_BLOB_SYNC,      /* "blob-sync" */
  STORE_IO_COMPACT_CREATE, /* "compact-create": creating DIR/log.compact */
  STORE_IO_COMPACT_WRITE,  /* "compact-write": the compacted log's header and frames */
  STORE_IO_COMPACT_SYNC,   /* "compact-sync": fsync of DIR/log.compact */
  STORE_IO_COMPACT_RENAME, /* "compact-rename": log.compact -> log */
  STORE_IO_NSITES
} store_io_site;

const char *store_io_site_name(store_io_site site);
/* Site named name, or -1. */
int store_io_site_find(const char *name);

/* Make the nth matching call from now (1 = the next) fail with errno eno;
 * with sticky, every matching call after it fails too. nth 0 disarms. */
void store_fault_inject(store_io_site site, unsigned nth, int eno, bool sticky);
void store_fault_clear(void);
unsigned store_fault_fired(void); /* failures produced since last armed */
/* Simulate a nearly full disk: pwrites at site (STORE_IO_ANY: all) may not
 * reach past file offset limit; one that would is cut short there, and one
 * starting at or past it fails with ENOSPC. store_fault_clear lifts it. */
void store_fault_space(store_io_site site, uint64_t limit);

int store_io_open(store_io_site site, const char *path, int flags, mode_t mode);
ssize_t store_io_write(store_io_site site, int fd, const void *p, size_t n);
ssize_t store_io_pwrite(store_io_site site, int fd, const void *p, size_t n, off_t off);
int store_io_fsync(store_io_site site, int fd);
int store_io_fdatasync(store_io_site site, int fd);
int store_io_ftruncate(store_io_site site, int fd, off_t len);
int store_io_rename(store_io_site site, const char *from, const char *to);
int store_io_mkdir(store_io_site site, const char *path, mode_t mode);

/* Cleanup after a failure: take back a temporary file or a directory just
 * made. No fault site (nothing can go wrong that matters: a leftover is
 * harmless, and the result is not used), and the crash simulator does not
 * model removals (a removed name survives in its crash states, as it may
 * on a real disk). */
int store_io_unlink(const char *path);
int store_io_rmdir(const char *path);

/* fsync the directory dir (through the dir-sync site). */
int store_fsync_dir(const char *dir);

#endif
