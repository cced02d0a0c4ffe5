/* store_io.c — the store's file-system write calls and the fault injector
 * that can make any of them fail (see store_io.h). The armed state is
 * shared by all threads (the batch flusher syncs from its own thread) and
 * guarded by a mutex; the unarmed fast path is one atomic load. In the
 * test build (STORE_IO_TEST) SX_STORE_FAULT arms it from the environment,
 * and every change that succeeded is also reported to the crash simulator
 * (store_iosim.h) and the call trace (store_iotrace.h); elsewhere those
 * hooks are empty. */
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

#ifdef STORE_IO_TEST
#include "store_iosim.h"
#include "store_iotrace.h"
#else
static inline void store_iosim_open(const char *path, int fd, int flags) {
  (void)path, (void)fd, (void)flags;
}
static inline void store_iosim_mkdir(const char *path) { (void)path; }
static inline void store_iosim_rename(const char *from, const char *to) { (void)from, (void)to; }
static inline void store_iosim_write(int fd, const void *p, size_t n, uint64_t off) {
  (void)fd, (void)p, (void)n, (void)off;
}
static inline void store_iosim_truncate(int fd, uint64_t len) { (void)fd, (void)len; }
static inline size_t store_iosim_sync_begin(void) { return 0; }
static inline void store_iosim_sync_end(int fd, size_t covers) { (void)fd, (void)covers; }
typedef enum {
  IOT_OPEN,
  IOT_WRITE,
  IOT_FSYNC,
  IOT_FDATASYNC,
  IOT_TRUNCATE,
  IOT_RENAME,
  IOT_MKDIR
} store_iotrace_call;
static inline void store_iotrace_fd(store_io_site site, store_iotrace_call call, int fd, const void *p,
                                    uint64_t off, uint64_t len) {
  (void)site, (void)call, (void)fd, (void)p, (void)off, (void)len;
}
static inline void store_iotrace_path(store_io_site site, store_iotrace_call call, const char *path,
                                      const char *from, bool create) {
  (void)site, (void)call, (void)path, (void)from, (void)create;
}
#endif

static const char *const site_names[STORE_IO_NSITES] = {"any",          "mkdir",          "lock",
                                                        "log-create",   "log-write",      "log-sync",
                                                        "log-truncate", "batch-sync",     "rename",
                                                        "dir-sync",     "blob-create",    "blob-write",
                                                        "blob-sync",    "compact-create", "compact-write",
                                                        "compact-sync", "compact-rename"};

static struct {
  pthread_mutex_t mu;
  int armed; /* read without the mutex on the fast path */
  store_io_site site;
  unsigned left; /* matching calls still to let through + 1 */
  int eno;
  bool sticky, tripped;
  unsigned fired;
} fault = {PTHREAD_MUTEX_INITIALIZER, 0, STORE_IO_ANY, 0, 0, false, false, 0};

#ifdef STORE_IO_TEST
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
#endif

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

#ifdef STORE_IO_TEST
static int env_errno(const char *s) {
  static const struct {
    const char *name;
    int eno;
  } names[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS}, {"EFBIG", EFBIG}};
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
#endif

/* Should this call fail? Sets errno when it should. */
static bool fault_fire(store_io_site site) {
#ifdef STORE_IO_TEST
  pthread_once(&env_once, env_arm);
#endif
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
  if (fault_fire(site)) return -1;
  int fd = open(path, flags, mode);
  if (fd >= 0) store_iosim_open(path, fd, flags);
  if (fd >= 0) store_iotrace_path(site, IOT_OPEN, path, NULL, (flags & O_CREAT) != 0);
  return fd;
}

ssize_t store_io_write(store_io_site site, int fd, const void *p, size_t n) {
  if (fault_fire(site)) return -1;
  ssize_t w = write(fd, p, n);
  if (w > 0) store_iosim_write(fd, p, (size_t)w, (uint64_t)(lseek(fd, 0, SEEK_CUR) - w));
  if (w > 0) store_iotrace_fd(site, IOT_WRITE, fd, p, (uint64_t)(lseek(fd, 0, SEEK_CUR) - w), (uint64_t)w);
  return w;
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
  ssize_t w = pwrite(fd, p, n, off);
  if (w > 0) store_iosim_write(fd, p, (size_t)w, (uint64_t)off);
  if (w > 0) store_iotrace_fd(site, IOT_WRITE, fd, p, (uint64_t)off, (uint64_t)w);
  return w;
}

/* fsync or fdatasync (data only) fd; the simulator hears which writes the
 * sync covered: those that returned before it started. */
static int io_sync(store_io_site site, int fd, bool data_only) {
  if (fault_fire(site)) return -1;
  size_t covers = store_iosim_sync_begin();
  int rc = data_only ? fdatasync(fd) : fsync(fd);
  if (rc == 0) store_iosim_sync_end(fd, covers);
  if (rc == 0) store_iotrace_fd(site, data_only ? IOT_FDATASYNC : IOT_FSYNC, fd, NULL, 0, 0);
  return rc;
}

int store_io_fsync(store_io_site site, int fd) { return io_sync(site, fd, false); }

int store_io_fdatasync(store_io_site site, int fd) { return io_sync(site, fd, true); }

int store_io_ftruncate(store_io_site site, int fd, off_t len) {
  if (fault_fire(site) || ftruncate(fd, len)) return -1;
  store_iosim_truncate(fd, (uint64_t)len);
  store_iotrace_fd(site, IOT_TRUNCATE, fd, NULL, 0, (uint64_t)len);
  return 0;
}

int store_io_rename(store_io_site site, const char *from, const char *to) {
  if (fault_fire(site) || rename(from, to)) return -1;
  store_iosim_rename(from, to);
  store_iotrace_path(site, IOT_RENAME, to, from, false);
  return 0;
}

int store_io_mkdir(store_io_site site, const char *path, mode_t mode) {
  if (fault_fire(site) || mkdir(path, mode)) return -1;
  store_iosim_mkdir(path);
  store_iotrace_path(site, IOT_MKDIR, path, NULL, true);
  return 0;
}

int store_io_unlink(const char *path) { return unlink(path); }

int store_io_rmdir(const char *path) { return rmdir(path); }

int store_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = store_io_fsync(STORE_IO_DIR_SYNC, fd), e = errno;
  close(fd);
  errno = e;
  return rc;
}
