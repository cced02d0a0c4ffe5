/* sha256.h — SHA-256 (FIPS 180-4), for the blob store's content ids.
 * One-shot (sha256) or incremental (init, update any number of times,
 * final). Not constant-time and not meant for secrets: it names content. */
#ifndef SX_SHA256_H
#define SX_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

typedef struct {
  uint32_t h[8];  /* the chaining state */
  uint64_t total; /* bytes hashed so far */
  unsigned char buf[64];
  size_t fill; /* bytes waiting in buf (< 64) */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *p, size_t n);
void sha256_final(sha256_ctx *c, unsigned char out[SHA256_DIGEST_LEN]);

/* The digest of n bytes at p. */
void sha256(const void *p, size_t n, unsigned char out[SHA256_DIGEST_LEN]);

#endif
