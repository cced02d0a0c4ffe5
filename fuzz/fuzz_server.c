/* fuzz_server.c — libFuzzer target: the sx_server line protocol. The input
 * is fed as the command stream to sx_server_serve (through a memfd: the
 * server reads its input's descriptor) on one VM
 * with a store in a temporary directory; the output must be well-formed:
 * each response is (ok N value), (error N "message"), or (ok-len N BYTES)
 * followed by a line of exactly BYTES bytes. A watchdog interrupts an
 * evaluation that runs past a second (an input may loop forever). Inputs
 * naming device or proc files are skipped (load would block on them). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sx_host.h"

static sxapi_vm *vm;
static char dir[64];
static volatile time_t deadline; /* 0: nothing running */

static void *watchdog(void *arg) {
  (void)arg;
  for (;;) {
    usleep(20000);
    time_t d = deadline;
    if (d && time(NULL) > d) sxapi_interrupt(vm);
  }
  return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(dir, sizeof dir, "%s",
           access("/dev/shm", W_OK) == 0 ? "/dev/shm/sxfuzz-srv-XXXXXX" : "/tmp/sxfuzz-srv-XXXXXX");
  if (!mkdtemp(dir)) abort();
  sx_host_opts o = {.store_dir = dir, .sync = "off"};
  char msg[512];
  vm = sx_host_new_vm(&o, msg, sizeof msg);
  if (!vm) {
    fprintf(stderr, "fuzz_server: %s\n", msg);
    abort();
  }
  pthread_t th;
  if (pthread_create(&th, NULL, watchdog, NULL)) abort();
  return 0;
}

static void fail(const char *what, const char *out, size_t n) {
  fprintf(stderr, "fuzz_server: %s in the output:\n%.*s\n", what, (int)n, out);
  abort();
}

/* Check the responses in out[0..n). */
static void check_output(const char *out, size_t n) {
  size_t at = 0;
  while (at < n) {
    const char *nl = memchr(out + at, '\n', n - at);
    if (!nl) fail("an unterminated response", out, n);
    const char *line = out + at;
    size_t len = (size_t)(nl - line);
    long long epoch;
    size_t bytes;
    int used = 0;
    at += len + 1;
    if (sscanf(line, "(ok-len %lld %zu)%n", &epoch, &bytes, &used) == 2 && (size_t)used == len) {
      if (at + bytes >= n + 1 || out[at + bytes] != '\n') fail("an ok-len value of the wrong length", out, n);
      at += bytes + 1;
    } else if (!((len > 4 && memcmp(line, "(ok ", 4) == 0) || (len > 7 && memcmp(line, "(error ", 7) == 0)) ||
               line[len - 1] != ')') {
      fail("a malformed response", out, n);
    }
  }
}

static bool skip(const uint8_t *d, size_t n) {
  static const char *const bad[] = {"/dev", "/proc", "/sys", "print", "display", "newline"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (memmem(d, n, bad[i], strlen(bad[i]))) return true;
  return false;
}

/* A stream over a memfd holding data, read from its start. */
static FILE *input_of(const uint8_t *data, size_t size) {
  int fd = memfd_create("fuzz_server_in", 0);
  if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) abort();
  FILE *f = fdopen(fd, "r");
  if (!f) abort();
  return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || skip(data, size)) return 0;
  FILE *in = input_of(data, size);
  char *out = NULL;
  size_t outlen = 0;
  FILE *o = open_memstream(&out, &outlen);
  if (!in || !o) abort();
  deadline = time(NULL) + 1;
  sx_server_serve(vm, in, o, false, NULL, NULL);
  deadline = 0;
  fclose(in);
  fclose(o);
  check_output(out, outlen);
  free(out);
  return 0;
}
