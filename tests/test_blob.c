/* test_blob.c — the content-addressed blob store: CIDv1 ids checked against
 * independently computed values, put/get/has, dedupe, damage detection and
 * refusal of malformed (including path-like) ids. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "sx_test_dir.h"
#include "store.h"

static char dir[64];
static store *st;

static void setup(void) {
  sx_gc_init();
  strcpy(dir, "/tmp/sxblob-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(dir, NULL, &st, &err), 0);
}
static void teardown(void) {
  sx_val err;
  store_close(st, &err);
  rm_tree(dir);
}
TestSuite(blob, .init = setup, .fini = teardown);

/* Verified independently with python3 hashlib + base64.b32encode of
 * bytes([1, 0x55, 0x12, 0x20]) + sha256(data). */
#define CID_EMPTY "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
#define CID_HELLO "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"

static const char *msg(sx_val e) { return sx_is_string(e) ? sx_str_data(e) : "(none)"; }

static sx_val put(const char *bytes, size_t n) {
  sx_val cid = SX_NIL, err = SX_NIL;
  cr_assert_eq(store_blob_put(st, bytes, n, &cid, &err), 0, "put: %s", msg(err));
  return cid;
}

static void blob_file(const char *cid, char *out, size_t cap) {
  snprintf(out, cap, "%s/blobs/%.2s/%s", dir, cid + strlen(cid) - 3, cid);
}

Test(blob, known_cids) {
  cr_assert_str_eq(sx_str_data(put("", 0)), CID_EMPTY);
  cr_assert_str_eq(sx_str_data(put("hello", 5)), CID_HELLO);
  char out[BLOB_CID_LEN + 1];
  blob_cid_of("hello", 5, out);
  cr_assert_str_eq(out, CID_HELLO);
}

Test(blob, put_get_has_roundtrip_any_bytes) {
  const char raw[] = {0, 1, 2, (char)0xff, 'x', 0};
  sx_val cid = put(raw, sizeof raw);
  bool has = false;
  sx_val err = SX_NIL, bytes = SX_NIL;
  cr_assert_eq(store_blob_has(st, cid, &has, &err), 0);
  cr_assert(has);
  cr_assert_eq(store_blob_get(st, cid, &bytes, &err), 0, "%s", msg(err));
  cr_assert_eq(sx_str_len(bytes), sizeof raw);
  cr_assert_eq(memcmp(sx_str_data(bytes), raw, sizeof raw), 0);
  sx_val other = sx_string_cstr(CID_HELLO);
  cr_assert_eq(store_blob_has(st, other, &has, &err), 0);
  cr_assert_not(has);
  cr_assert_eq(store_blob_get(st, other, &bytes, &err), 0);
  cr_assert_eq(bytes, SX_NIL, "an absent blob reads as nil");
}

Test(blob, equal_bytes_are_stored_once) {
  sx_val a = put("same bytes", 10), b = put("same bytes", 10);
  cr_assert(sx_equal(a, b));
  char shard[256];
  snprintf(shard, sizeof shard, "%s/blobs/%.2s", dir, sx_str_data(a) + BLOB_CID_LEN - 3);
  DIR *d = opendir(shard);
  cr_assert_not_null(d);
  int files = 0;
  for (struct dirent *e; (e = readdir(d));) files += e->d_name[0] != '.';
  closedir(d);
  cr_assert_eq(files, 1);
}

Test(blob, survives_reopen) {
  sx_val cid = put("persistent", 10);
  sx_val err = SX_NIL, bytes = SX_NIL;
  store_close(st, &err);
  cr_assert_eq(store_open(dir, NULL, &st, &err), 0);
  cr_assert_eq(store_blob_get(st, cid, &bytes, &err), 0);
  cr_assert(sx_equal(bytes, sx_string_cstr("persistent")));
}

Test(blob, damaged_blob_is_reported_not_served) {
  sx_val cid = put("precious data", 13);
  char path[512];
  blob_file(sx_str_data(cid), path, sizeof path);
  chmod(path, 0644);
  int fd = open(path, O_WRONLY);
  cr_assert(fd >= 0);
  cr_assert_eq(pwrite(fd, "P", 1, 0), 1);
  close(fd);
  sx_val err = SX_NIL, bytes = SX_NIL;
  cr_assert_eq(store_blob_get(st, cid, &bytes, &err), -1);
  cr_assert(strstr(msg(err), "damaged") != NULL, "%s", msg(err));
  cr_assert(strstr(msg(err), path) != NULL, "names the file: %s", msg(err));
  cr_assert_eq(bytes, SX_NIL, "nothing served");
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 1);
  cr_assert(strstr(rep.data, path) != NULL, "%s", rep.data);
  sx_buf_free(&rep);
  put("precious data", 13); /* a new put repairs the damaged copy */
  cr_assert_eq(store_blob_get(st, cid, &bytes, &err), 0, "%s", msg(err));
  cr_assert(sx_equal(bytes, sx_string_cstr("precious data")));
  cr_assert_eq(store_check(dir, &rep), 0, "%s", rep.data);
  sx_buf_free(&rep);
}

Test(blob, malformed_ids_are_rejected) {
  const char *bad[] = {
      "../etc/passwd",
      "bafkrei",
      "",
      "BAFKREIBM6JG3UX5QUMHCN2B3FLC3TYU6DMLB4XA7U5BF44YEGNRJHC4YEQ",  /* uppercase */
      "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4ye",   /* short */
      "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeqa", /* long */
      "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yer",  /* non-canonical tail bits */
      "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc/yeq",  /* slash */
      "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc.yeq",
      "bafyreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq", /* dag-cbor codec */
      "Qmbm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeqaaaaa",
      "/bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4ye",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cr_assert_not(blob_cid_valid(bad[i], strlen(bad[i])), "%s accepted", bad[i]);
    sx_val err = SX_NIL, bytes = SX_NIL;
    bool has = true;
    cr_assert_eq(store_blob_get(st, sx_string_cstr(bad[i]), &bytes, &err), -1, "%s", bad[i]);
    cr_assert(strstr(msg(err), "malformed blob id") != NULL, "%s", msg(err));
    cr_assert_eq(store_blob_has(st, sx_string_cstr(bad[i]), &has, &err), -1);
  }
  const char nul_inside[BLOB_CID_LEN] = "bafkrei";
  cr_assert_not(blob_cid_valid(nul_inside, sizeof nul_inside));
  sx_val err = SX_NIL, bytes;
  cr_assert_eq(store_blob_get(st, sx_int(3), &bytes, &err), -1);
  cr_assert(blob_cid_valid(CID_HELLO, strlen(CID_HELLO)));
  cr_assert(blob_cid_valid(CID_EMPTY, strlen(CID_EMPTY)));
}

Test(blob, read_only_handle_cannot_put_but_can_get) {
  sx_val cid = put("abc", 3);
  store_opts o = {.read_only = true};
  store *r = NULL;
  sx_val err = SX_NIL, out = SX_NIL, bytes = SX_NIL;
  cr_assert_eq(store_open(dir, &o, &r, &err), 0, "%s", msg(err));
  cr_assert_eq(store_blob_put(r, "x", 1, &out, &err), -1);
  cr_assert_eq(store_blob_get(r, cid, &bytes, &err), 0);
  cr_assert(sx_equal(bytes, sx_string_cstr("abc")));
  store_close(r, &err);
}

Test(blob, large_blob) {
  size_t n = 3u << 20;
  char *big = malloc(n);
  for (size_t i = 0; i < n; i++) big[i] = (char)(i * 131 + (i >> 9));
  sx_val cid = put(big, n);
  sx_val err = SX_NIL, bytes = SX_NIL;
  cr_assert_eq(store_blob_get(st, cid, &bytes, &err), 0);
  cr_assert_eq(sx_str_len(bytes), n);
  cr_assert_eq(memcmp(sx_str_data(bytes), big, n), 0);
  free(big);
}

/* Something that is not a readable blob file where a blob should be: each
 * call says so, none serves it or makes it up, and store check names it. */
Test(blob, an_unreadable_blob_file_is_an_error_not_an_absence) {
  sx_val cid = put("hello", 5), bytes = SX_NIL, err = SX_NIL;
  char path[512];
  blob_file(CID_HELLO, path, sizeof path);
  cr_assert_eq(unlink(path), 0);
  cr_assert_eq(mkdir(path, 0755), 0); /* opens, but cannot be read */
  cr_assert_eq(store_blob_get(st, cid, &bytes, &err), -1);
  cr_assert(strstr(msg(err), "cannot read blob") && strstr(msg(err), "Is a directory"), "%s", msg(err));
  bool has = true;
  cr_assert_eq(store_blob_has(st, cid, &has, &err), 0);
  cr_assert(!has, "a directory is no blob");
  uint64_t size = 0;
  cr_assert_eq(store_blob_size(st, cid, &size, &err), 1, "nor has it a size");
  sx_val again = SX_NIL;
  cr_assert_eq(store_blob_put(st, "hello", 5, &again, &err), -1,
               "storing it again cannot replace a directory");
  cr_assert(strstr(msg(err), "renaming into place"), "%s", msg(err));
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 1);
  sx_buf_putc(&rep, '\0');
  cr_assert(strstr(rep.data, "cannot read: Is a directory"), "%s", rep.data);
  sx_buf_free(&rep);
  cr_assert_eq(rmdir(path), 0);
  cr_assert_str_eq(sx_str_data(put("hello", 5)), CID_HELLO, "stored again once the way is clear");
  cr_assert_eq(store_blob_get(st, cid, &bytes, &err), 0, "%s", msg(err));
}

/* Files in the blob directory that cannot be blobs are damage. */
Test(blob, check_reports_misnamed_and_misplaced_files) {
  put("hello", 5);
  char shard[512], p[700];
  snprintf(shard, sizeof shard, "%s/blobs/%.2s", dir, CID_HELLO + strlen(CID_HELLO) - 3);
  snprintf(p, sizeof p, "%s/not-a-blob-id", shard);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fclose(f);
  snprintf(p, sizeof p, "%s/blobs/zz", dir);
  cr_assert_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/blobs/zz/%s", dir, CID_EMPTY);
  f = fopen(p, "w");
  cr_assert_not_null(f);
  fclose(f);
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 1);
  sx_buf_putc(&rep, '\0');
  cr_assert(strstr(rep.data, "not-a-blob-id: damaged: the file name is not a blob id"), "%s", rep.data);
  cr_assert(strstr(rep.data, "damaged: the blob is in the wrong shard directory"), "%s", rep.data);
  sx_buf_free(&rep);
}

/* A file where blobs/ should be makes the check fail and say why; a file
 * among the shard directories holds no blob and is passed over. */
Test(blob, check_of_a_blob_directory_that_is_not_one) {
  put("hello", 5);
  char p[700];
  snprintf(p, sizeof p, "%s/blobs/stray", dir);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fclose(f);
  sx_buf rep = SX_BUF_INIT;
  cr_assert_eq(store_check(dir, &rep), 0, "a stray file is no blob");
  sx_buf_putc(&rep, '\0');
  cr_assert(strstr(rep.data, "1 files, ok"), "%s", rep.data);
  sx_buf_free(&rep);
  char other[600];
  snprintf(other, sizeof other, "%s/other", dir);
  store *o = NULL;
  sx_val err = SX_NIL;
  cr_assert_eq(store_open(other, NULL, &o, &err), 0, "%s", msg(err));
  store_close(o, &err);
  snprintf(p, sizeof p, "%s/blobs", other);
  f = fopen(p, "w");
  cr_assert_not_null(f);
  fclose(f);
  rep = (sx_buf)SX_BUF_INIT;
  cr_assert_eq(store_check(other, &rep), -1);
  sx_buf_putc(&rep, '\0');
  cr_assert(strstr(rep.data, "/blobs: cannot read: Not a directory"), "%s", rep.data);
  sx_buf_free(&rep);
}

Test(blob, ids_that_are_not_blob_ids_have_no_size) {
  uint64_t size = 7;
  cr_assert_eq(blob_size(dir, "not-an-id", &size), -1);
  cr_assert_eq(size, 7);
  cr_assert(!blob_cid_valid(NULL, 0));
  cr_assert_eq(blob_size(dir, CID_HELLO, &size), 1, "absent");
  put("hello", 5);
  cr_assert_eq(blob_size(dir, CID_HELLO, &size), 0);
  cr_assert_eq(size, 5);
}

/* A file where a blob's shard directory should be: reading the blob is an
 * error naming the cause, not an absence. */
Test(blob, a_file_in_place_of_a_shard_directory_is_an_error) {
  char p[700];
  snprintf(p, sizeof p, "%s/blobs", dir);
  cr_assert_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/blobs/%.2s", dir, CID_HELLO + strlen(CID_HELLO) - 3);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fclose(f);
  sx_val bytes = SX_NIL, err = SX_NIL;
  cr_assert_eq(store_blob_get(st, sx_string_cstr(CID_HELLO), &bytes, &err), -1);
  cr_assert(strstr(msg(err), "cannot read blob") && strstr(msg(err), "Not a directory"), "%s", msg(err));
}
