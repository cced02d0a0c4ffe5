/* test_recovery.c — telling a torn tail from damage (issue 14): frames
 * copied into a string of an interrupted commit, one flipped byte anywhere
 * in a compacted log, a checksummed frame whose value does not decode,
 * the warning a writable open gives when it discards bytes, opening a
 * store written in log format 1 (tests/fixtures/store-v1), and commits on
 * a nearly full disk. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "store.h"
#include "store_io.h"
#include "sx_dict.h"
#include "sx_test_dir.h"

static char dir[64];
static char heard[2048];
static int heard_count;

/* The warning hook: remember the last warning. */
static void hear(const char *msg, void *ctx) {
  (void)ctx;
  snprintf(heard, sizeof heard, "%s", msg);
  heard_count++;
}

static void setup(void) {
  sx_gc_init();
  strcpy(dir, "/tmp/sxrecov-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  store_set_warning_hook(hear, NULL);
  heard[0] = '\0';
  heard_count = 0;
}
static void teardown(void) {
  store_fault_clear();
  rm_tree(dir);
}
TestSuite(recovery, .init = setup, .fini = teardown);

/* ---- helpers --------------------------------------------------------------- */

static sx_val str(const char *s) { return sx_string_cstr(s); }
static const char *msg(sx_val err) { return sx_is_string(err) ? sx_str_data(err) : "(no message)"; }

static sx_val ev(int64_t seq, sx_val payload) {
  sx_val d = sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(seq));
  return sx_dict_assoc(d, str("data"), payload);
}

static store *open_w(void) {
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, NULL, &s, &err), 0, "open failed: %s", msg(err));
  return s;
}

static void close_ok(store *s) {
  sx_val err = SX_NIL;
  cr_assert_eq(store_close(s, &err), 0, "close failed: %s", msg(err));
}

static int append(store *s, const char *stream, int64_t seq, sx_val payload, sx_val *err) {
  if (store_append(s, str(stream), ev(seq, payload), err)) return -1;
  return store_commit(s, err);
}

static void append_ok(store *s, const char *stream, int64_t seq, sx_val payload) {
  sx_val err = SX_NIL;
  cr_assert_eq(append(s, stream, seq, payload, &err), 0, "append failed: %s", msg(err));
}

static uint64_t data_end(store *s) {
  store_stats st;
  store_get_stats(s, &st);
  return st.log_bytes;
}

static char *path_in(const char *name) {
  static char p[4][160];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
  return p[i];
}

static unsigned char *slurp(const char *p, size_t *n) {
  FILE *f = fopen(p, "rb");
  cr_assert_not_null(f, "cannot read %s", p);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len + 1);
  cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

static void spit(const char *p, const void *b, size_t n) {
  FILE *f = fopen(p, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* Everything observable through the API, as one comparable value. */
static sx_val snapshot(store *s) {
  sx_val out = SX_EMPTY;
  for (sx_val l = store_streams(s); sx_is_cons(l); l = sx_cdr(l)) {
    sx_val n = sx_car(l);
    out = sx_cons(sx_list(3, (sx_val[]){n, sx_int(store_last_seq(s, n)), store_read(s, n)}), out);
  }
  for (sx_val l = store_kv_keys(s); sx_is_cons(l); l = sx_cdr(l))
    out = sx_cons(sx_list(2, (sx_val[]){sx_car(l), store_kv_get(s, sx_car(l))}), out);
  return out;
}

static int check(char **report) {
  sx_buf rep = SX_BUF_INIT;
  int rc = store_check(dir, &rep);
  static char keep[4096];
  snprintf(keep, sizeof keep, "%s", rep.data ? rep.data : "");
  sx_buf_free(&rep);
  if (report) *report = keep;
  return rc;
}

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- 1: user data cannot make a torn tail look like damage ------------------- */

Test(recovery, frames_copied_into_an_interrupted_commit_are_not_frames) {
  store *s = open_w();
  append_ok(s, "a", 1, str("first"));
  append_ok(s, "a", 2, str("second"));
  uint64_t before = data_end(s);
  sx_val committed = snapshot(s);
  close_ok(s);
  /* A string holding every frame written so far, byte for byte. */
  size_t n;
  unsigned char *log = slurp(path_in("log"), &n);
  sx_val copy = sx_string_new((const char *)log + 16, (size_t)before - 16);
  free(log);
  s = open_w();
  append_ok(s, "a", 3, sx_list(2, (sx_val[]){copy, copy}));
  uint64_t after = data_end(s);
  close_ok(s);
  log = slurp(path_in("log"), &n);
  /* The commit is interrupted: cut its last bytes at every point past the
   * copies (and once in the middle of them). */
  uint64_t cuts[] = {after - 1, after - 4, after - 5, after - 40, before + 60, (before + after) / 2};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    spit(path_in("log"), log, (size_t)cuts[i]);
    char *rep;
    cr_assert_eq(check(&rep), 0, "cut at %llu: a torn tail, not damage: %s",
                 (unsigned long long)cuts[i], rep);
    cr_assert(strstr(rep, "torn tail") != NULL, "%s", rep);
    s = open_w();
    cr_assert(sx_equal(snapshot(s), committed), "cut at %llu", (unsigned long long)cuts[i]);
    cr_assert_eq(data_end(s), before);
    close_ok(s);
  }
  /* Also with the commit's own head zeroed (a lost first sector). */
  memset(log + before, 0, 28);
  spit(path_in("log"), log, (size_t)after);
  cr_assert_eq(check(NULL), 0);
  s = open_w();
  cr_assert(sx_equal(snapshot(s), committed));
  close_ok(s);
  free(log);
}

Test(recovery, damage_before_a_later_frame_is_still_damage) {
  store *s = open_w();
  append_ok(s, "a", 1, str("first"));
  uint64_t second = data_end(s);
  append_ok(s, "a", 2, str("second"));
  append_ok(s, "a", 3, str("third"));
  close_ok(s);
  for (uint64_t at = second; at < second + 40; at += 3) { /* head, payload */
    size_t n;
    unsigned char *log = slurp(path_in("log"), &n);
    log[at] ^= 0x20;
    spit(path_in(".damaged"), log, n);
    log[at] ^= 0x20;
    spit(path_in(".good"), log, n);
    free(log);
    rename(path_in(".damaged"), path_in("log"));
    char *rep;
    cr_assert_eq(check(&rep), 1, "flip at %llu: %s", (unsigned long long)at, rep);
    store *t = NULL;
    sx_val err = SX_NIL;
    cr_assert_eq(store_open(dir, NULL, &t, &err), -1, "flip at %llu", (unsigned long long)at);
    cr_assert(strstr(msg(err), "is damaged at offset") != NULL, "%s", msg(err));
    rename(path_in(".good"), path_in("log"));
  }
}

/* ---- 2: damage in a compacted log is damage; discarding is said ---------------- */

Test(recovery, one_flipped_byte_in_a_compacted_log_is_never_silent) {
  store *s = open_w();
  for (int i = 1; i <= 5; i++) append_ok(s, "a", i, sx_int(i * 7));
  sx_val err = SX_NIL;
  cr_assert_eq(store_kv_put(s, str("k"), str("v"), &err), 0);
  cr_assert_eq(store_commit(s, &err), 0);
  close_ok(s);
  cr_assert_eq(store_compact(dir, NULL, &err), 0, "%s", msg(err));
  s = open_w();
  sx_val want = snapshot(s);
  close_ok(s);
  size_t n;
  unsigned char *good = slurp(path_in("log"), &n);
  size_t data = n; /* the compacted log has no zero-filled space, but the open added some */
  while (data > 16 && good[data - 1] == 0) data--;
  size_t seal = data - 32; /* the empty frame that ends a compacted log */
  for (size_t at = 16; at < data; at++) {
    good[at] ^= 0x01;
    spit(path_in("log"), good, n);
    good[at] ^= 0x01;
    char *rep;
    int rc = check(&rep);
    if (at < seal || at >= seal + 28) {
      cr_assert_eq(rc, 1, "flip at %zu must be damage: %s", at, rep);
      store *t = NULL;
      cr_assert_eq(store_open(dir, NULL, &t, &err), -1, "flip at %zu opened", at);
      size_t m;
      unsigned char *now = slurp(path_in("log"), &m);
      cr_assert(m == n && memcmp(now, good, n) != 0, "the damaged log was left as it was");
      free(now);
    } else { /* the seal's own head: no data behind it, but never silent */
      cr_assert(rc == 1 || strstr(rep, "torn tail"), "flip at %zu: %s", at, rep);
      heard_count = 0;
      s = open_w();
      cr_assert(sx_equal(snapshot(s), want), "flip at %zu lost data", at);
      cr_assert(rc == 1 || (heard_count == 1 && store_warning(s)), "flip at %zu: not said", at);
      close_ok(s);
    }
  }
  free(good);
}

Test(recovery, a_writable_open_says_what_it_discards) {
  store *s = open_w();
  append_ok(s, "a", 1, str("kept"));
  uint64_t end = data_end(s);
  cr_assert_null(store_warning(s));
  close_ok(s);
  int fd = open(path_in("log"), O_WRONLY);
  static const char junk[] = "SXF2 an interrupted commit";
  cr_assert_eq(pwrite(fd, junk, sizeof junk, (off_t)end), (ssize_t)sizeof junk);
  close(fd);
  char *rep;
  cr_assert_eq(check(&rep), 0, "%s", rep);
  cr_assert(strstr(rep, "torn tail") != NULL, "%s", rep);
  cr_assert_eq(heard_count, 0, "check changes nothing and warns of nothing");
  store_opts ro = {.read_only = true};
  store *r = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, &ro, &r, &err), 0, "%s", msg(err));
  cr_assert_null(store_warning(r), "a read-only open discards nothing");
  store_close(r, &err);
  s = open_w();
  const char *w = store_warning(s);
  cr_assert_not_null(w);
  char want[200];
  snprintf(want, sizeof want, "bytes of %s/log at offset %llu", dir, (unsigned long long)end);
  cr_assert(strstr(w, want) != NULL, "%s", w);
  cr_assert(strstr(w, "torn tail") != NULL, "%s", w);
  cr_assert_eq(heard_count, 1);
  cr_assert_str_eq(heard, w);
  close_ok(s);
  s = open_w();
  cr_assert_null(store_warning(s), "nothing left to discard");
  close_ok(s);
  cr_assert_eq(heard_count, 1);
}

/* ---- 4: a checksummed frame whose value does not decode ----------------------- */

Test(recovery, an_undecodable_value_under_a_valid_checksum_is_refused_at_open) {
  store *s = open_w();
  append_ok(s, "a", 1, str("fine"));
  uint64_t second = data_end(s);
  append_ok(s, "a", 2, sx_list(2, (sx_val[]){sx_int(1), sx_int(2)}));
  uint64_t third = data_end(s);
  close_ok(s);
  size_t n;
  unsigned char *log = slurp(path_in("log"), &n);
  /* the second frame's list: tag 0x09 count 2, 0x04 2, 0x04 4 -> bad tag */
  unsigned char *p = memmem(log + second, (size_t)(third - second), "\x09\x02\x04\x02\x04\x04", 6);
  cr_assert_not_null(p);
  p[2] = 0x7f;
  size_t head = 28, plen = rd32(log + second + 4);
  uint32_t crc = store_crc32c(0, log + second, head + plen);
  for (int i = 0; i < 4; i++) log[second + head + plen + (size_t)i] = (unsigned char)(crc >> (8 * i));
  spit(path_in("log"), log, n);
  free(log);
  char *rep;
  cr_assert_eq(check(&rep), 1, "%s", rep);
  store *t = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, NULL, &t, &err), -1, "a writable open served a damaged log");
  cr_assert(strstr(msg(err), "does not decode") != NULL, "%s", msg(err));
  store_opts ro = {.read_only = true};
  cr_assert_eq(store_open(dir, &ro, &t, &err), -1, "nor read-only");
}

/* ---- the format rule: stores written in log format 1 still open -------------------- */

static void copy_fixture(void) {
  const char *root = getenv("SX_SOURCE_ROOT");
  cr_assert_not_null(root, "SX_SOURCE_ROOT is not set");
  char cmd[600];
  snprintf(cmd, sizeof cmd, "cp -r '%s/tests/fixtures/store-v1/.' '%s/'", root, dir);
  cr_assert_eq(system(cmd), 0);
}

/* What the fixture holds (orders: hwm more events appended since). */
static void fixture_reads(store *s, int64_t hwm) {
  sx_val orders = store_read(s, str("orders"));
  cr_assert_eq(store_last_seq(s, str("orders")), hwm);
  cr_assert_eq(sx_list_length(orders), (size_t)hwm - 1, "seq 1 was truncated away");
  sx_val e2 = sx_car(orders);
  cr_assert(sx_equal(sx_dict_lookup(e2, str("seq")), sx_int(2)));
  cr_assert(sx_equal(sx_dict_lookup(e2, str("type")), str("paid")));
  cr_assert(sx_equal(sx_dict_lookup(sx_car(sx_cdr(orders)), str("type")), str("shipped")));
  cr_assert_eq(store_last_seq(s, str("audit")), 1);
  sx_val cfg = store_kv_get(s, str("config"));
  cr_assert(sx_equal(sx_dict_lookup(cfg, str("currency")), str("EUR")));
  cr_assert(!store_kv_has(s, str("gone")));
}

Test(recovery, a_store_written_in_log_format_1_opens_reads_and_takes_writes) {
  copy_fixture();
  char *rep;
  cr_assert_eq(check(&rep), 0, "%s", rep);
  store_opts ro = {.read_only = true};
  store *s = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, &ro, &s, &err), 0, "%s", msg(err));
  fixture_reads(s, 3);
  store_close(s, &err);
  s = open_w();
  fixture_reads(s, 3);
  sx_val e = sx_dict_assoc(sx_dict_assoc(sx_dict_empty(), str("seq"), sx_int(4)), str("type"), str("x"));
  cr_assert_eq(store_append(s, str("orders"), e, &err), 0, "%s", msg(err));
  cr_assert_eq(store_commit(s, &err), 0, "%s", msg(err));
  close_ok(s);
  size_t n;
  unsigned char *log = slurp(path_in("log"), &n);
  cr_assert_eq(rd32(log + 8), 2, "the first writable open upgrades the header");
  free(log);
  cr_assert_eq(check(&rep), 0, "%s", rep);
  s = open_w();
  fixture_reads(s, 4);
  close_ok(s);
  cr_assert_eq(store_compact(dir, NULL, &err), 0, "%s", msg(err));
  s = open_w();
  fixture_reads(s, 4);
  close_ok(s);
}

/* ---- 6: a nearly full disk still takes commits that fit ------------------------------ */

Test(recovery, commits_that_fit_on_a_nearly_full_disk_are_taken) {
  store *s = open_w(); /* a fresh log: 16 bytes */
  store_fault_space(STORE_IO_LOG_WRITE, 256 * 1024); /* 256 KiB left for the log */
  sx_val err = SX_NIL;
  int64_t seq = 0;
  while (append(s, "a", seq + 1, str("an event of about a hundred bytes, give or take a few"), &err) == 0)
    seq++;
  cr_assert(strstr(msg(err), "No space left on device") != NULL, "%s", msg(err));
  cr_assert_gt(data_end(s), 200 * 1024, "the log filled the space (%llu bytes, %lld commits)",
               (unsigned long long)data_end(s), (long long)seq);
  cr_assert_eq(store_last_seq(s, str("a")), seq);
  close_ok(s);
  store_fault_clear();
  s = open_w();
  cr_assert_eq(store_last_seq(s, str("a")), seq);
  append_ok(s, "a", seq + 1, str("once there is space again"));
  close_ok(s);
  cr_assert_eq(check(NULL), 0);
}
