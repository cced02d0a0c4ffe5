/* test_sha256.c — the store's SHA-256 against the FIPS 180-4 example
 * messages, every length around the padding boundaries (against digests
 * computed independently with Python's hashlib), incremental hashing
 * split at every point, and, where the tests were built with libcrypto,
 * OpenSSL's output for the same inputs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

#if SX_TEST_LIBCRYPTO
#include <openssl/sha.h>
#endif

static void hex(const unsigned char md[SHA256_DIGEST_LEN], char out[2 * SHA256_DIGEST_LEN + 1]) {
  for (int i = 0; i < SHA256_DIGEST_LEN; i++) sprintf(out + 2 * i, "%02x", md[i]);
}

static void check(const void *p, size_t n, const char *want) {
  unsigned char md[SHA256_DIGEST_LEN];
  char got[2 * SHA256_DIGEST_LEN + 1];
  sha256(p, n, md);
  hex(md, got);
  cr_assert_str_eq(got, want, "length %zu", n);
}

Test(sha256, fips_examples) {
  check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                     "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  check(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  char *million = malloc(1000000);
  memset(million, 'a', 1000000);
  check(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(million);
}

/* Lengths 0..199 (one, two and three blocks, both sides of 55/56 bytes
 * where the length stops fitting): the digest of their digests. */
Test(sha256, every_length_to_199) {
  unsigned char data[200], md[SHA256_DIGEST_LEN];
  for (int i = 0; i < 200; i++) data[i] = (unsigned char)((i * 7 + 3) % 256);
  sha256_ctx all;
  sha256_init(&all);
  for (size_t n = 0; n < 200; n++) {
    sha256(data, n, md);
    sha256_update(&all, md, sizeof md);
  }
  char got[2 * SHA256_DIGEST_LEN + 1];
  sha256_final(&all, md);
  hex(md, got);
  cr_assert_str_eq(got, "615d67a99b8c846e1f0582dfe127019e93c33a66e89ced6a4f81f932c82ece87");
}

Test(sha256, incremental_equals_one_shot) {
  unsigned char data[300], whole[SHA256_DIGEST_LEN], parts[SHA256_DIGEST_LEN];
  for (int i = 0; i < 300; i++) data[i] = (unsigned char)(i * 31 + 1);
  sha256(data, sizeof data, whole);
  for (size_t a = 0; a <= sizeof data; a += 7) {
    for (size_t b = a; b <= sizeof data; b += 13) {
      sha256_ctx c;
      sha256_init(&c);
      sha256_update(&c, data, a);
      sha256_update(&c, data + a, b - a);
      sha256_update(&c, data + b, sizeof data - b);
      sha256_final(&c, parts);
      cr_assert_arr_eq(parts, whole, sizeof whole, "split at %zu and %zu", a, b);
    }
  }
}

#if SX_TEST_LIBCRYPTO
Test(sha256, same_as_libcrypto) {
  unsigned char *data = malloc(5000), ours[SHA256_DIGEST_LEN], theirs[SHA256_DIGEST_LEN];
  srand(42);
  for (int i = 0; i < 5000; i++) data[i] = (unsigned char)rand();
  for (size_t n = 0; n < 5000; n += 1 + n / 8) {
    sha256(data, n, ours);
    SHA256(data, n, theirs);
    cr_assert_arr_eq(ours, theirs, sizeof ours, "length %zu", n);
  }
  free(data);
}
#endif
