/* fuzz_store.c — libFuzzer target: the store's open, scan and decode path.
 * The input is one flags byte and a log body (what follows the 16-byte
 * header). Before it is written as DIR/log, every frame in it (see
 * docs/store-format.md) gets its own offset and fresh head and payload
 * CRCs, so that mutations reach the record and value decoders instead of
 * dying at a checksum. Then:
 *   - store_check and a store_open agree: the open fails as damaged exactly
 *     when check finds damage (a torn tail is not damage);
 *   - an opened store reads every stream, event and kv value;
 *   - flags bit 0: the open is writable (it cuts a torn tail);
 *   - flags bit 1: store_compact succeeds and the compacted store reads
 *     the same (compared as printed). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "store.h"
#include "sx_buf.h"
#include "sx_print.h"
#include "sx_value.h"

#define HEADER 16
#define HEAD 28
#define TAIL 4
#define MAGIC 0x32465853u

static char dir[64], log_path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  sx_gc_init();
  store_set_warning_hook(NULL, NULL);
  snprintf(dir, sizeof dir, "%s",
           access("/dev/shm", W_OK) == 0 ? "/dev/shm/sxfuzz-XXXXXX" : "/tmp/sxfuzz-XXXXXX");
  if (!mkdtemp(dir)) abort();
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  return 0;
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

/* Give each frame in the log its offset and correct CRCs. */
static void seal_frames(unsigned char *log, size_t n) {
  for (size_t at = HEADER; at + HEAD + TAIL <= n;) {
    uint32_t len = le32(log + at + 4);
    if (le32(log + at) != MAGIC || len > n - at - HEAD - TAIL) {
      at++;
      continue;
    }
    put64(log + at + 8, at);
    put32(log + at + 24, store_crc32c(0, log + at, HEAD - 4));
    put32(log + at + HEAD + len, store_crc32c(0, log + at, HEAD + len));
    at += HEAD + len + TAIL;
  }
}

static void write_log(const uint8_t *body, size_t n) {
  unsigned char *log = malloc(HEADER + n + 1);
  if (!log) abort();
  memcpy(log, "SXSTORE\0", 8);
  put32(log + 8, 2);
  put32(log + 12, store_crc32c(0, log, 12));
  memcpy(log + HEADER, body, n);
  seal_frames(log, HEADER + n);
  int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, log, HEADER + n) != (ssize_t)(HEADER + n)) abort();
  close(fd);
  free(log);
}

/* Everything the store serves, printed. */
static void dump(store *s, sx_buf *out) {
  for (sx_val l = store_streams(s); sx_is_cons(l); l = sx_cdr(l)) {
    sx_print(out, sx_car(l));
    sx_buf_printf(out, " %lld ", (long long)store_last_seq(s, sx_car(l)));
    sx_print(out, store_read(s, sx_car(l)));
  }
  for (sx_val l = store_kv_keys(s); sx_is_cons(l); l = sx_cdr(l)) {
    sx_print(out, sx_car(l));
    sx_print(out, store_kv_get(s, sx_car(l)));
  }
}

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_store: %s: %s\n", what, detail);
  abort();
}

static const char *msg(sx_val e) { return sx_is_string(e) ? sx_str_data(e) : "?"; }

/* Compact and compare what the store serves before and after. */
static void compact_same(const sx_buf *before) {
  sx_val err = SX_NIL;
  store_compact_stats st;
  if (store_compact(dir, &st, &err)) fail("compaction of an open-able store failed", msg(err));
  store *s = NULL;
  store_opts ro = {.read_only = true};
  if (store_open(dir, &ro, &s, &err)) fail("the compacted store does not open", msg(err));
  sx_buf after = SX_BUF_INIT;
  dump(s, &after);
  store_close(s, &err);
  if (after.len != before->len || (after.len && memcmp(after.data, before->data, after.len) != 0))
    fail("the compacted store reads differently", "");
  sx_buf_free(&after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned flags = data[0];
  write_log(data + 1, size - 1);
  sx_buf rep = SX_BUF_INIT;
  int crc = store_check(dir, &rep);
  store *s = NULL;
  sx_val err = SX_NIL;
  store_opts o = {.read_only = !(flags & 1)};
  int rc = store_open(dir, &o, &s, &err);
  bool damaged = rc != 0 && strstr(msg(err), "is damaged") != NULL;
  if (rc == 0 ? crc != 0 : damaged != (crc == 1))
    fail(rc == 0 ? "check finds damage in a store that opens" : "check and open disagree",
         rep.data ? rep.data : msg(err));
  sx_buf_free(&rep);
  if (rc != 0) return 0;
  sx_buf before = SX_BUF_INIT;
  dump(s, &before);
  store_close(s, &err);
  if (flags & 2) compact_same(&before);
  sx_buf_free(&before);
  return 0;
}
