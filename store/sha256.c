/* sha256.c — SHA-256 as FIPS 180-4 section 6.2 describes it: the message
 * padded to a multiple of 64 bytes (a 1 bit, zeros, the bit length as a
 * big-endian 64-bit number), each 64-byte block expanded to a 64-word
 * schedule and mixed into the eight-word state by 64 rounds. */
#include "sha256.h"

#include <assert.h>
#include <string.h>

/* The first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes (FIPS 180-4, 4.2.2). */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t sha256_ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t sha256_load_be(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void sha256_store_be(unsigned char *p, uint32_t x) {
  p[0] = (unsigned char)(x >> 24);
  p[1] = (unsigned char)(x >> 16);
  p[2] = (unsigned char)(x >> 8);
  p[3] = (unsigned char)x;
}

/* The message schedule of one block: 16 words read, 48 derived. */
static void sha256_schedule(const unsigned char *block, uint32_t w[64]) {
  for (int t = 0; t < 16; t++) w[t] = sha256_load_be(block + 4 * t);
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = sha256_ror(w[t - 15], 7) ^ sha256_ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = sha256_ror(w[t - 2], 17) ^ sha256_ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
}

static void sha256_block(uint32_t st[8], const unsigned char *block) {
  uint32_t w[64];
  sha256_schedule(block, w);
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
  for (int t = 0; t < 64; t++) {
    uint32_t big1 = sha256_ror(e, 6) ^ sha256_ror(e, 11) ^ sha256_ror(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = h + big1 + ch + sha256_k[t] + w[t];
    uint32_t big0 = sha256_ror(a, 2) ^ sha256_ror(a, 13) ^ sha256_ror(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = big0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  st[0] += a;
  st[1] += b;
  st[2] += c;
  st[3] += d;
  st[4] += e;
  st[5] += f;
  st[6] += g;
  st[7] += h;
}

void sha256_init(sha256_ctx *c) {
  /* The first 32 bits of the fractional parts of the square roots of the
   * first 8 primes (FIPS 180-4, 5.3.3). */
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, iv, sizeof iv);
  c->total = 0;
  c->fill = 0;
}

void sha256_update(sha256_ctx *c, const void *p, size_t n) {
  const unsigned char *in = p;
  assert(c->fill < 64);
  c->total += n;
  if (c->fill > 0) { /* top up the partial block first */
    size_t take = 64 - c->fill < n ? 64 - c->fill : n;
    memcpy(c->buf + c->fill, in, take);
    c->fill += take;
    in += take;
    n -= take;
    if (c->fill < 64) return;
    sha256_block(c->h, c->buf);
    c->fill = 0;
  }
  for (; n >= 64; in += 64, n -= 64) sha256_block(c->h, in);
  memcpy(c->buf, in, n);
  c->fill = n;
}

void sha256_final(sha256_ctx *c, unsigned char out[SHA256_DIGEST_LEN]) {
  uint64_t bits = c->total * 8;
  c->buf[c->fill++] = 0x80;
  if (c->fill > 56) { /* no room for the length: one more block */
    memset(c->buf + c->fill, 0, 64 - c->fill);
    sha256_block(c->h, c->buf);
    c->fill = 0;
  }
  memset(c->buf + c->fill, 0, 56 - c->fill);
  for (int i = 0; i < 8; i++) c->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
  sha256_block(c->h, c->buf);
  for (int i = 0; i < 8; i++) sha256_store_be(out + 4 * i, c->h[i]);
  memset(c, 0, sizeof *c);
}

void sha256(const void *p, size_t n, unsigned char out[SHA256_DIGEST_LEN]) {
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, p, n);
  sha256_final(&c, out);
}
