/* store_iotrace.h — a trace of the store's file-system calls, for tests
 * that assert their order (a write followed by its sync, a new name
 * followed by the fsync of its directory). Compiled only into the test
 * build of the store (STORE_IO_TEST, the sxstore_test library), like the
 * crash simulator; the shipped library has no trace of it.
 *
 * While on, every call store_io makes that succeeded is recorded in order,
 * from any thread: its write site, the call, the path of its file (for a
 * call on a descriptor, the path the descriptor has at that moment) and,
 * for writes, the offset, the length and whether every byte was zero. */
#ifndef STORE_IOTRACE_H
#define STORE_IOTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_io.h"

typedef enum store_iotrace_call {
  IOT_OPEN,  /* a file opened (created when flags had O_CREAT) */
  IOT_WRITE, /* write or pwrite */
  IOT_FSYNC, /* fsync of a file or (site dir-sync) a directory */
  IOT_FDATASYNC,
  IOT_TRUNCATE, /* ftruncate; len is the new size */
  IOT_RENAME,   /* path is the new name, from the old one */
  IOT_MKDIR
} store_iotrace_call;

typedef struct store_iotrace_ent {
  store_io_site site;
  store_iotrace_call call;
  bool create; /* IOT_OPEN with O_CREAT */
  bool zeros;  /* IOT_WRITE of zero bytes only */
  uint64_t off, len;
  char path[512]; /* absolute */
  char from[512]; /* IOT_RENAME: the old name */
} store_iotrace_ent;

/* Forget what was recorded and record from now on; stop recording. */
void store_iotrace_start(void);
void store_iotrace_stop(void);
size_t store_iotrace_count(void);
/* A copy of entry i (false past the end). */
bool store_iotrace_get(size_t i, store_iotrace_ent *out);
const char *store_iotrace_call_name(store_iotrace_call c);

/* Hooks for store_io.c (STORE_IO_TEST only). */
void store_iotrace_fd(store_io_site site, store_iotrace_call call, int fd, const void *p, uint64_t off,
                      uint64_t len);
void store_iotrace_path(store_io_site site, store_iotrace_call call, const char *path, const char *from,
                        bool create);

#endif
