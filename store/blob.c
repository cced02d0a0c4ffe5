/* blob.c — content-addressed blobs in DIR/blobs (see blob.h and
 * docs/store-format.md). Hashing is SHA-256 (sha256.c); files are written
 * to a temporary name, synced, renamed into place and the directory synced,
 * so a blob file is either absent or complete. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "sha256.h"
#include "store_io.h"

#define CID_BIN_LEN 36 /* 0x01 0x55 0x12 0x20 + 32-byte digest */

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
static const unsigned char cid_prefix[4] = {0x01, 0x55, 0x12, 0x20};

/* ---- ids ---------------------------------------------------------------------- */

static void cid_from_digest(const unsigned char md[32], char out[BLOB_CID_LEN + 1]) {
  unsigned char bin[CID_BIN_LEN];
  memcpy(bin, cid_prefix, 4);
  memcpy(bin + 4, md, 32);
  size_t o = 0;
  out[o++] = 'b';
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < CID_BIN_LEN; i++) {
    acc = (acc << 8) | bin[i];
    bits += 8;
    while (bits >= 5) {
      out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  out[o++] = b32_alphabet[(acc << (5 - bits)) & 31]; /* 288 bits: 57 characters and 3 bits left */
  out[o] = '\0';
}

void blob_cid_of(const char *bytes, size_t len, char out[BLOB_CID_LEN + 1]) {
  unsigned char md[32];
  sha256(bytes, len, md);
  cid_from_digest(md, out);
}

/* Decode a candidate id to its 36 binary bytes; false if malformed. */
static bool cid_decode(const char *s, size_t len, unsigned char bin[CID_BIN_LEN]) {
  if (len != BLOB_CID_LEN || s[0] != 'b') return false;
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 1; i < len; i++) {
    const char *p = s[i] ? strchr(b32_alphabet, s[i]) : NULL;
    if (!p) return false;
    acc = (acc << 5) | (uint32_t)(p - b32_alphabet);
    bits += 5;
    if (bits >= 8) {
      bin[o++] = (unsigned char)(acc >> (bits - 8));
      bits -= 8;
    }
  }
  /* 58 characters are 290 bits: always the 36 bytes and 2 bits that must be 0 */
  if ((acc & ((1u << bits) - 1)) != 0) return false; /* non-canonical */
  return memcmp(bin, cid_prefix, 4) == 0;
}

bool blob_cid_valid(const char *s, size_t len) {
  unsigned char bin[CID_BIN_LEN];
  return s && cid_decode(s, len, bin);
}

static int blob_check_id(sx_val cid, unsigned char bin[CID_BIN_LEN], sx_val *err) {
  char q[96];
  if (!sx_is_string(cid)) {
    *err = store_errorf("blob id must be a string, got %s", sx_type_name(cid));
    return -1;
  }
  if (!cid_decode(sx_str_data(cid), sx_str_len(cid), bin)) {
    *err = store_errorf("malformed blob id \"%s\": expected a CIDv1 (raw, sha2-256, base32) "
                        "of 59 characters starting \"bafkrei\"",
                        store_quote(cid, q, sizeof q));
    return -1;
  }
  return 0;
}

int blob_id_ok(sx_val cid, sx_val *err) {
  unsigned char bin[CID_BIN_LEN];
  return blob_check_id(cid, bin, err);
}

/* ---- paths and files ------------------------------------------------------------- */

/* DIR/blobs/<shard> where shard is the id's next-to-last two characters. */
static void blob_shard_dir(const char *dir, const char *cid, char *out, size_t cap) {
  snprintf(out, cap, "%s/blobs/%.2s", dir, cid + BLOB_CID_LEN - 3);
}

static void blob_path(const char *dir, const char *cid, char *out, size_t cap) {
  snprintf(out, cap, "%s/blobs/%.2s/%s", dir, cid + BLOB_CID_LEN - 3, cid);
}

/* The stored size of blob cid in the store at dir, without reading it:
 * 0 and *size set, 1 when absent, -1 when cid is not a blob id. */
int blob_size(const char *dir, const char *cid, uint64_t *size) {
  if (!blob_cid_valid(cid, strlen(cid))) return -1;
  char path[4096];
  blob_path(dir, cid, path, sizeof path);
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 1;
  *size = (uint64_t)st.st_size;
  return 0;
}

/* Read a whole file into a fresh SX string. 1 = absent, -1 = error. */
static int blob_read_file(const char *path, sx_val *out, int *eno) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *eno = errno;
    return errno == ENOENT ? 1 : -1;
  }
  struct stat st;
  if (fstat(fd, &st)) {
    *eno = errno;
    close(fd);
    return -1;
  }
  char *data;
  size_t n = (size_t)st.st_size, got = 0;
  *out = sx_string_alloc(n, &data);
  while (got < n) {
    ssize_t r = read(fd, data + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      *eno = r < 0 ? errno : EIO;
      close(fd);
      return -1;
    }
    got += (size_t)r;
  }
  close(fd);
  return 0;
}

static bool blob_matches(sx_val bytes, const unsigned char bin[CID_BIN_LEN]) {
  unsigned char md[32];
  sha256(sx_str_data(bytes), sx_str_len(bytes), md);
  return memcmp(md, bin + 4, 32) == 0;
}

static int blob_mkdir(const char *path, const char *parent, bool sync) {
  if (store_io_mkdir(STORE_IO_MKDIR, path, 0755) != 0) return errno == EEXIST ? 0 : -1;
  if (!sync || store_fsync_dir(parent) == 0) return 0;
  int e = errno; /* the new name may not be durable: take it back, so a retry syncs again */
  store_io_rmdir(path);
  errno = e;
  return -1;
}

/* Write bytes to tmp, sync it and rename it to path. On failure *what names
 * the step that failed (errno is kept) and tmp is removed. */
static int blob_write_file(const char *path, const char *tmp, const char *bytes, size_t len, bool sync,
                           const char **what) {
  int fd = store_io_open(STORE_IO_BLOB_CREATE, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
  if (fd < 0) {
    *what = "creating";
    return -1;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t w = store_io_write(STORE_IO_BLOB_WRITE, fd, bytes + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) {
      *what = "writing";
      goto fail;
    }
    done += (size_t)w;
  }
  if (sync && store_io_fsync(STORE_IO_BLOB_SYNC, fd)) {
    *what = "fsync of";
    goto fail;
  }
  close(fd);
  if (store_io_rename(STORE_IO_RENAME, tmp, path)) {
    *what = "renaming into place";
    int e = errno;
    store_io_unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
fail:;
  int e = errno;
  close(fd);
  store_io_unlink(tmp);
  errno = e;
  return -1;
}

/* ---- API -------------------------------------------------------------------------------- */

int blob_put(const char *dir, bool sync, const char *bytes, size_t len, sx_val *cid_out, sx_val *err) {
  char cid[BLOB_CID_LEN + 1], path[4096], shard[4096], blobs[4096], tmp[4200];
  blob_cid_of(bytes, len, cid);
  unsigned char bin[CID_BIN_LEN];
  cid_decode(cid, BLOB_CID_LEN, bin);
  blob_path(dir, cid, path, sizeof path);
  sx_val have;
  int eno = 0;
  if (blob_read_file(path, &have, &eno) == 0 && blob_matches(have, bin)) {
    *cid_out = sx_string_new(cid, BLOB_CID_LEN); /* already stored: dedupe */
    return 0;
  }
  snprintf(blobs, sizeof blobs, "%s/blobs", dir);
  blob_shard_dir(dir, cid, shard, sizeof shard);
  static unsigned counter; /* stores may be open on several threads: atomic */
  snprintf(tmp, sizeof tmp, "%s/.tmp-%d-%u", shard, (int)getpid(),
           __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
  const char *what = "creating the directory", *where = blobs;
  if (blob_mkdir(blobs, dir, sync) || (where = shard, blob_mkdir(shard, blobs, sync)) ||
      (where = tmp, blob_write_file(path, tmp, bytes, len, sync, &what))) {
    *err = store_errorf("store %s: cannot store blob %s: %s %s failed: %s", dir, cid, what, where,
                        strerror(errno));
    return -1;
  }
  if (sync && store_fsync_dir(shard)) { /* the name may not be durable: take it back */
    *err = store_errorf("store %s: cannot store blob %s: fsync of the directory %s failed: %s", dir, cid,
                        shard, strerror(errno));
    store_io_unlink(path);
    return -1;
  }
  *cid_out = sx_string_new(cid, BLOB_CID_LEN);
  return 0;
}

int blob_get(const char *dir, sx_val cid, sx_val *bytes_out, sx_val *err) {
  unsigned char bin[CID_BIN_LEN];
  char path[4096];
  if (blob_check_id(cid, bin, err)) return -1;
  blob_path(dir, sx_str_data(cid), path, sizeof path);
  sx_val bytes;
  int eno = 0, rc = blob_read_file(path, &bytes, &eno);
  if (rc == 1) {
    *bytes_out = SX_NIL;
    return 0;
  }
  if (rc < 0) {
    *err = store_errorf("store %s: cannot read blob %s: %s", dir, path, strerror(eno));
    return -1;
  }
  if (!blob_matches(bytes, bin)) {
    *err = store_errorf("store %s: blob %s is damaged: the bytes in %s do not match its id "
                        "(not served)",
                        dir, sx_str_data(cid), path);
    return -1;
  }
  *bytes_out = bytes;
  return 0;
}

int blob_has(const char *dir, sx_val cid, bool *out, sx_val *err) {
  unsigned char bin[CID_BIN_LEN];
  char path[4096];
  if (blob_check_id(cid, bin, err)) return -1;
  blob_path(dir, sx_str_data(cid), path, sizeof path);
  struct stat st;
  *out = stat(path, &st) == 0 && S_ISREG(st.st_mode);
  return 0;
}

/* ---- check --------------------------------------------------------------------------------- */

/* Verify one file in a shard directory; returns 1 on damage. */
static int blob_check_file(const char *shard_path, const char *shard, const char *name, sx_buf *report) {
  char path[4800];
  snprintf(path, sizeof path, "%s/%s", shard_path, name);
  if (strncmp(name, ".tmp-", 5) == 0) {
    sx_buf_printf(report, "%s: leftover temporary file from an interrupted blob write (harmless)\n", path);
    return 0;
  }
  unsigned char bin[CID_BIN_LEN];
  size_t n = strlen(name);
  if (!cid_decode(name, n, bin)) {
    sx_buf_printf(report, "%s: damaged: the file name is not a blob id\n", path);
    return 1;
  }
  if (strncmp(name + BLOB_CID_LEN - 3, shard, 2) != 0) {
    sx_buf_printf(report, "%s: damaged: the blob is in the wrong shard directory\n", path);
    return 1;
  }
  sx_val bytes;
  int eno = 0;
  if (blob_read_file(path, &bytes, &eno)) {
    sx_buf_printf(report, "%s: cannot read: %s\n", path, strerror(eno));
    return 1;
  }
  if (!blob_matches(bytes, bin)) {
    sx_buf_printf(report, "%s: damaged at offset 0: the content does not match its id\n", path);
    return 1;
  }
  return 0;
}

int blob_check_dir(const char *dir, sx_buf *report) {
  char blobs[4096];
  snprintf(blobs, sizeof blobs, "%s/blobs", dir);
  DIR *d = opendir(blobs);
  if (!d && errno == ENOENT) return 0;
  if (!d) {
    sx_buf_printf(report, "%s: cannot read: %s\n", blobs, strerror(errno));
    return -1;
  }
  int damage = 0;
  size_t count = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char shard_path[4400];
    snprintf(shard_path, sizeof shard_path, "%s/%s", blobs, de->d_name);
    DIR *sd = opendir(shard_path);
    if (!sd) continue; /* not a shard directory: no blob is stored there (store_blob_list skips it too) */
    struct dirent *fe;
    while ((fe = readdir(sd))) {
      if (!strcmp(fe->d_name, ".") || !strcmp(fe->d_name, "..")) continue;
      damage |= blob_check_file(shard_path, de->d_name, fe->d_name, report);
      count++;
    }
    closedir(sd);
  }
  closedir(d);
  sx_buf_printf(report, "%s: %zu files, %s\n", blobs, count, damage ? "NOT ok" : "ok");
  return damage;
}
