/* store_io.c — the store's file-system write calls and the fault injector
 * that can make any of them fail (see store_io.h). The armed state is
 * shared by all threads (the batch flusher syncs from its own thread) and
 * guarded by a mutex; the unarmed fast path is one atomic load. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const site_names[STORE_IO_NSITES] = {
    "any",       "mkdir",     "lock",       "log-create",  "log-write",  "log-sync", "log-truncate",
    "batch-sync", "rename",   "dir-sync",   "blob-create", "blob-write", "blob-sync",
    "compact-create", "compact-write", "compact-sync", "compact-rename"};

static struct {
  pthread_mutex_t mu;
  int armed; /* read without the mutex on the fast path */
  store_io_site site;
  unsigned left; /* matching calls still to let through + 1 */
  int eno;
  bool sticky, tripped;
  unsigned fired;
} fault = {PTHREAD_MUTEX_INITIALIZER, 0, STORE_IO_ANY, 0, 0, false, false, 0};

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* A simulated full disk: pwrites at a site may not reach past a file offset. */
static struct {
  int site; /* store_io_site + 1; 0 = no limit */
  uint64_t limit;
} space;

const char *store_io_site_name(store_io_site site) {
  return site >= 0 && site < STORE_IO_NSITES ? site_names[site] : "?";
}

int store_io_site_find(const char *name) {
  for (int i = 0; i < STORE_IO_NSITES; i++)
    if (strcmp(site_names[i], name) == 0) return i;
  return -1;
}

void store_fault_inject(store_io_site site, unsigned nth, int eno, bool sticky) {
  pthread_mutex_lock(&fault.mu);
  fault.site = site;
  fault.left = nth;
  fault.eno = eno;
  fault.sticky = sticky;
  fault.tripped = false;
  fault.fired = 0;
  __atomic_store_n(&fault.armed, nth > 0, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&fault.mu);
}

void store_fault_clear(void) {
  store_fault_inject(STORE_IO_ANY, 0, 0, false);
  __atomic_store_n(&space.site, 0, __ATOMIC_RELEASE);
}

unsigned store_fault_fired(void) {
  pthread_mutex_lock(&fault.mu);
  unsigned n = fault.fired;
  pthread_mutex_unlock(&fault.mu);
  return n;
}

static int env_errno(const char *s) {
  static const struct { const char *name; int eno; } names[] = {
      {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS}, {"EFBIG", EFBIG}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i].name) == 0) return names[i].eno;
  return atoi(s);
}

/* SX_STORE_FAULT=SITE:NTH:ERRNO[:sticky] */
static void env_arm(void) {
  const char *v = getenv("SX_STORE_FAULT");
  if (!v || !*v) return;
  char buf[128], *save = NULL;
  snprintf(buf, sizeof buf, "%s", v);
  char *site = strtok_r(buf, ":", &save), *nth = strtok_r(NULL, ":", &save);
  char *eno = strtok_r(NULL, ":", &save), *sticky = strtok_r(NULL, ":", &save);
  int si = site ? store_io_site_find(site) : -1;
  if (si < 0 || !nth || !eno || atoi(nth) <= 0 || env_errno(eno) <= 0) {
    fprintf(stderr, "sx: ignoring malformed SX_STORE_FAULT=%s (expected SITE:NTH:ERRNO[:sticky])\n", v);
    return;
  }
  store_fault_inject((store_io_site)si, (unsigned)atoi(nth), env_errno(eno),
                     sticky && strcmp(sticky, "sticky") == 0);
}

/* Should this call fail? Sets errno when it should. */
static bool fault_fire(store_io_site site) {
  pthread_once(&env_once, env_arm);
  if (!__atomic_load_n(&fault.armed, __ATOMIC_ACQUIRE)) return false;
  pthread_mutex_lock(&fault.mu);
  bool fire = false;
  if (fault.armed && (fault.site == STORE_IO_ANY || fault.site == site)) {
    if (fault.tripped) fire = fault.sticky;
    else if (--fault.left == 0) fire = fault.tripped = true;
    if (!fault.sticky && fault.tripped && !fire) __atomic_store_n(&fault.armed, 0, __ATOMIC_RELEASE);
  }
  if (fire) fault.fired++;
  int eno = fault.eno;
  pthread_mutex_unlock(&fault.mu);
  if (fire) errno = eno;
  return fire;
}

int store_io_open(store_io_site site, const char *path, int flags, mode_t mode) {
  return fault_fire(site) ? -1 : open(path, flags, mode);
}

ssize_t store_io_write(store_io_site site, int fd, const void *p, size_t n) {
  return fault_fire(site) ? -1 : write(fd, p, n);
}

void store_fault_space(store_io_site site, uint64_t limit) {
  __atomic_store_n(&space.limit, limit, __ATOMIC_RELEASE);
  __atomic_store_n(&space.site, (int)site + 1, __ATOMIC_RELEASE);
}

/* Clip a write to the simulated free space (as a disk does: a short write,
 * then ENOSPC). Returns false with errno ENOSPC when nothing fits. */
static bool space_clip(store_io_site site, off_t off, size_t *n) {
  int sp = __atomic_load_n(&space.site, __ATOMIC_ACQUIRE);
  if (!sp || (sp != 1 && sp != (int)site + 1)) return true;
  uint64_t limit = __atomic_load_n(&space.limit, __ATOMIC_ACQUIRE);
  if ((uint64_t)off + *n <= limit) return true;
  if ((uint64_t)off >= limit) {
    errno = ENOSPC;
    return false;
  }
  *n = (size_t)(limit - (uint64_t)off);
  return true;
}

ssize_t store_io_pwrite(store_io_site site, int fd, const void *p, size_t n, off_t off) {
  if (fault_fire(site) || !space_clip(site, off, &n)) return -1;
  return pwrite(fd, p, n, off);
}

int store_io_fsync(store_io_site site, int fd) { return fault_fire(site) ? -1 : fsync(fd); }

int store_io_fdatasync(store_io_site site, int fd) {
  return fault_fire(site) ? -1 : fdatasync(fd);
}

int store_io_ftruncate(store_io_site site, int fd, off_t len) {
  return fault_fire(site) ? -1 : ftruncate(fd, len);
}

int store_io_rename(store_io_site site, const char *from, const char *to) {
  return fault_fire(site) ? -1 : rename(from, to);
}

int store_io_mkdir(store_io_site site, const char *path, mode_t mode) {
  return fault_fire(site) ? -1 : mkdir(path, mode);
}

int store_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = store_io_fsync(STORE_IO_DIR_SYNC, fd), e = errno;
  close(fd);
  errno = e;
  return rc;
}
