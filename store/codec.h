/* codec.h — the store's value codec: a compact, self-delimiting binary
 * encoding of SX data (nil, booleans, integers, floats bit-exact, strings of
 * any bytes, keywords, symbols, proper lists, dicts) plus the varint helpers
 * the log format shares. The byte layout is documented in
 * docs/store-format.md. */
#ifndef STORE_CODEC_H
#define STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sx_buf.h"
#include "sx_value.h"

/* Tags (first byte of every encoded value). */
enum {
  CODEC_NIL = 0x00,
  CODEC_FALSE = 0x01,
  CODEC_TRUE = 0x02,
  CODEC_EMPTY = 0x03,   /* the empty list */
  CODEC_INT = 0x04,     /* zigzag varint */
  CODEC_FLOAT = 0x05,   /* 8 bytes, IEEE-754 bits, little-endian */
  CODEC_STRING = 0x06,  /* varint length, bytes */
  CODEC_KEYWORD = 0x07, /* varint length, name bytes (no ':') */
  CODEC_SYMBOL = 0x08,  /* varint length, name bytes */
  CODEC_LIST = 0x09,    /* varint count (>= 1), items */
  CODEC_DICT = 0x0A     /* varint count, then count x (varint klen, key bytes, value);
                           keys strictly ascending in byte order */
};

/* Nesting deeper than this is refused by both encoder and decoder. */
#define CODEC_MAX_DEPTH 1000

/* Append the encoding of v to b. On error (a value that is not data, such
 * as a function, an improper list or too-deep nesting) returns -1, sets *err
 * to an SX string naming the problem and leaves b exactly as it was. */
int store_encode(sx_buf *b, sx_val v, sx_val *err);

/* Decode one value from p[0..len). On success stores it in *out, the number
 * of bytes consumed in *used (if used is non-NULL) and returns 0; on
 * malformed input returns -1 with *err set. Never reads past len. */
int store_decode(const void *p, size_t len, size_t *used, sx_val *out, sx_val *err);

/* Check that p[0..len) starts with one well-formed encoded value, exactly
 * as store_decode would, without building it (no allocation on success).
 * Returns 0 with *used set, or -1 with *err set as store_decode does. */
int store_validate(const void *p, size_t len, size_t *used, sx_val *err);

/* An SX string built printf-style: the store's error values. */
sx_val store_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printable rendering of a stream name or key for messages (into buf). */
const char *store_quote(sx_val str, char *buf, size_t cap);

/* LEB128 unsigned varints and zigzag mapping for signed integers. */
void codec_put_uvarint(sx_buf *b, uint64_t v);
size_t codec_uvarint_encode(unsigned char out[10], uint64_t v);
/* Returns bytes consumed, or 0 when p[0..len) holds no complete varint. */
size_t codec_get_uvarint(const unsigned char *p, size_t len, uint64_t *v);
static inline uint64_t codec_zigzag(int64_t i) { return ((uint64_t)i << 1) ^ (uint64_t)(i >> 63); }
static inline int64_t codec_unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

#endif
