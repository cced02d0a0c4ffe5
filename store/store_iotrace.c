/* store_iotrace.c — the call trace behind store_iotrace.h (test builds
 * only): an array of entries under a mutex, paths of descriptors read
 * from /proc/self/fd. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_iotrace.h"
#include "store_mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
  pthread_mutex_t mu;
  int on;
  store_iotrace_ent *e;
  size_t n, cap;
} trace = {.mu = PTHREAD_MUTEX_INITIALIZER};

void store_iotrace_start(void) {
  pthread_mutex_lock(&trace.mu);
  trace.n = 0;
  __atomic_store_n(&trace.on, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&trace.mu);
}

void store_iotrace_stop(void) { __atomic_store_n(&trace.on, 0, __ATOMIC_RELEASE); }

size_t store_iotrace_count(void) {
  pthread_mutex_lock(&trace.mu);
  size_t n = trace.n;
  pthread_mutex_unlock(&trace.mu);
  return n;
}

bool store_iotrace_get(size_t i, store_iotrace_ent *out) {
  pthread_mutex_lock(&trace.mu);
  bool have = i < trace.n;
  if (have) *out = trace.e[i];
  pthread_mutex_unlock(&trace.mu);
  return have;
}

const char *store_iotrace_call_name(store_iotrace_call c) {
  static const char *const names[] = {"open", "write", "fsync", "fdatasync", "truncate", "rename", "mkdir"};
  return c <= IOT_MKDIR ? names[c] : "?";
}

/* A new entry (the mutex held), or NULL when not recording. */
static store_iotrace_ent *iot_push(store_io_site site, store_iotrace_call call) {
  if (!__atomic_load_n(&trace.on, __ATOMIC_ACQUIRE)) return NULL;
  pthread_mutex_lock(&trace.mu);
  if (trace.n == trace.cap) {
    trace.cap = trace.cap * 2 + 64;
    trace.e = store_xrealloc(trace.e, trace.cap * sizeof *trace.e);
  }
  store_iotrace_ent *e = &trace.e[trace.n++];
  memset(e, 0, sizeof *e);
  e->site = site;
  e->call = call;
  return e;
}

void store_iotrace_fd(store_io_site site, store_iotrace_call call, int fd, const void *p, uint64_t off,
                      uint64_t len) {
  store_iotrace_ent *e = iot_push(site, call);
  if (!e) return;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, e->path, sizeof e->path - 1);
  e->path[n > 0 ? n : 0] = '\0';
  e->off = off;
  e->len = len;
  e->zeros = p != NULL;
  for (uint64_t i = 0; p && i < len && e->zeros; i++) e->zeros = ((const unsigned char *)p)[i] == 0;
  pthread_mutex_unlock(&trace.mu);
}

void store_iotrace_path(store_io_site site, store_iotrace_call call, const char *path, const char *from,
                        bool create) {
  store_iotrace_ent *e = iot_push(site, call);
  if (!e) return;
  if (!realpath(path, e->path)) snprintf(e->path, sizeof e->path, "%s", path);
  if (from) snprintf(e->from, sizeof e->from, "%s", from);
  e->create = create;
  pthread_mutex_unlock(&trace.mu);
}
