/* codec.c — encode SX data values to the store's binary format and decode
 * them back (see codec.h; layout in docs/store-format.md). Encoding refuses
 * anything that is not plain data, leaving the output buffer untouched. */
#include "codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sx_dict.h"

/* ---- errors ----------------------------------------------------------- */

sx_val store_errorf(const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
  return sx_string_new(tmp, (size_t)n);
}

/* ---- varints ---------------------------------------------------------- */

size_t codec_uvarint_encode(unsigned char out[10], uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (unsigned char)v;
  return n;
}

void codec_put_uvarint(sx_buf *b, uint64_t v) {
  if (v < 0x80) { /* most lengths and small ints: one byte, no memcpy */
    sx_buf_putc(b, (char)v);
    return;
  }
  unsigned char tmp[10];
  sx_buf_put(b, tmp, codec_uvarint_encode(tmp, v));
}

size_t codec_get_uvarint(const unsigned char *p, size_t len, uint64_t *v) {
  uint64_t r = 0;
  for (size_t i = 0; i < len && i < 10; i++) {
    uint64_t byte = p[i] & 0x7f;
    if (i == 9 && byte > 1) return 0; /* would overflow 64 bits */
    r |= byte << (7 * i);
    if (!(p[i] & 0x80)) {
      *v = r;
      return i + 1;
    }
  }
  return 0;
}

/* ---- encoding --------------------------------------------------------- */

static int enc_value(sx_buf *b, sx_val v, int depth, sx_val *err);

static void enc_bytes(sx_buf *b, int tag, const char *p, size_t n) {
  if (tag >= 0) sx_buf_putc(b, (char)tag);
  codec_put_uvarint(b, n);
  sx_buf_put(b, p, n);
}

static void enc_float(sx_buf *b, double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  unsigned char out[9];
  out[0] = CODEC_FLOAT;
  for (int i = 0; i < 8; i++) out[1 + i] = (unsigned char)(bits >> (8 * i));
  sx_buf_put(b, out, sizeof out);
}

static int enc_list(sx_buf *b, sx_val v, int depth, sx_val *err) {
  size_t n = 0;
  sx_val p = v;
  for (; sx_is_cons(p); p = sx_cdr(p)) n++;
  if (p != SX_EMPTY) {
    *err = store_errorf("cannot store an improper (dotted) list: only proper lists are data");
    return -1;
  }
  sx_buf_putc(b, CODEC_LIST);
  codec_put_uvarint(b, n);
  for (p = v; sx_is_cons(p); p = sx_cdr(p))
    if (enc_value(b, sx_car(p), depth + 1, err)) return -1;
  return 0;
}

static int enc_dict(sx_buf *b, sx_val v, int depth, sx_val *err) {
  sx_buf_putc(b, CODEC_DICT);
  codec_put_uvarint(b, sx_dict_count(v));
  sx_dict_iter it;
  sx_val k, val;
  sx_dict_iter_init(&it, v);
  while (sx_dict_iter_next(&it, &k, &val)) {
    enc_bytes(b, -1, sx_str_data(k), sx_str_len(k));
    if (enc_value(b, val, depth + 1, err)) return -1;
  }
  return 0;
}

static int enc_refuse(sx_val v, sx_val *err) {
  *err = store_errorf("cannot store a value of type %s: only nil, booleans, numbers, "
                      "strings, keywords, symbols, lists and dicts can be stored",
                      sx_type_name(v));
  return -1;
}

static int enc_value(sx_buf *b, sx_val v, int depth, sx_val *err) {
  if (depth > CODEC_MAX_DEPTH) {
    *err = store_errorf("cannot store a value nested more than %d levels deep", CODEC_MAX_DEPTH);
    return -1;
  }
  switch (v) {
    case SX_NIL: sx_buf_putc(b, CODEC_NIL); return 0;
    case SX_FALSE: sx_buf_putc(b, CODEC_FALSE); return 0;
    case SX_TRUE: sx_buf_putc(b, CODEC_TRUE); return 0;
    case SX_EMPTY: sx_buf_putc(b, CODEC_EMPTY); return 0;
    default: break;
  }
  if (sx_is_fixnum(v) || sx_is(v, SX_T_INT)) {
    sx_buf_putc(b, CODEC_INT);
    codec_put_uvarint(b, codec_zigzag(sx_int_val(v)));
    return 0;
  }
  if (sx_is_cons(v)) return enc_list(b, v, depth, err);
  if (!sx_is_ptr(v)) return enc_refuse(v, err);
  switch (sx_hdr_of(v)->type) {
    case SX_T_FLOAT: enc_float(b, sx_float_val(v)); return 0;
    case SX_T_STRING: enc_bytes(b, CODEC_STRING, sx_str_data(v), sx_str_len(v)); return 0;
    case SX_T_KEYWORD: {
      sx_val name = ((sx_keyword *)v)->name;
      enc_bytes(b, CODEC_KEYWORD, sx_str_data(name), sx_str_len(name));
      return 0;
    }
    case SX_T_SYMBOL: {
      sx_val name = sx_sym_name(v);
      enc_bytes(b, CODEC_SYMBOL, sx_str_data(name), sx_str_len(name));
      return 0;
    }
    case SX_T_DICT: return enc_dict(b, v, depth, err);
    default: return enc_refuse(v, err);
  }
}

int store_encode(sx_buf *b, sx_val v, sx_val *err) {
  size_t mark = b->len;
  if (enc_value(b, v, 0, err) == 0) return 0;
  b->len = mark; /* nothing written */
  if (b->data) b->data[mark] = '\0';
  return -1;
}

/* ---- decoding --------------------------------------------------------- */

typedef struct dec {
  const unsigned char *p;
  size_t len, pos;
  sx_val *err;
} dec;

static int dec_fail(dec *d, const char *what) {
  *d->err = store_errorf("malformed stored value at byte %zu: %s", d->pos, what);
  return -1;
}

static inline int dec_uvarint(dec *d, uint64_t *v) {
  if (d->pos < d->len && d->p[d->pos] < 0x80) return *v = d->p[d->pos++], 0; /* most are one byte */
  size_t n = codec_get_uvarint(d->p + d->pos, d->len - d->pos, v);
  if (!n) return dec_fail(d, "bad or truncated varint");
  d->pos += n;
  return 0;
}

/* A length-prefixed byte run; *p points into the input. */
static int dec_bytes(dec *d, const char **p, size_t *n) {
  uint64_t len;
  if (dec_uvarint(d, &len)) return -1;
  if (len > d->len - d->pos) return dec_fail(d, "length runs past the end");
  *p = (const char *)d->p + d->pos;
  *n = (size_t)len;
  d->pos += (size_t)len;
  return 0;
}

static int dec_value(dec *d, int depth, sx_val *out);

static int dec_list(dec *d, int depth, sx_val *out) {
  uint64_t n;
  if (dec_uvarint(d, &n)) return -1;
  if (n == 0 || n > d->len - d->pos) return dec_fail(d, "bad list length");
  sx_val *items = sx_alloc((size_t)n * sizeof *items);
  for (uint64_t i = 0; i < n; i++)
    if (dec_value(d, depth + 1, &items[i])) return -1;
  *out = sx_list((size_t)n, items);
  return 0;
}

/* Entry i of a dict: its key (in order after prev, when there is one)
 * and value. */
static int dec_entry(dec *d, int depth, sx_val prev, sx_val *key, sx_val *val) {
  const char *kp;
  size_t kn;
  if (dec_bytes(d, &kp, &kn)) return -1;
  *key = sx_string_key(kp, kn);
  if (prev && sx_string_cmp(prev, *key) >= 0) return dec_fail(d, "dict keys out of order");
  return dec_value(d, depth + 1, val);
}

/* A dict of up to SX_DICT_SMALL_MAX entries is built in one allocation
 * (its keys arrive in order, checked); a bigger one by assoc. */
static int dec_dict(dec *d, int depth, sx_val *out) {
  uint64_t n;
  if (dec_uvarint(d, &n)) return -1;
  if (n > d->len - d->pos) return dec_fail(d, "bad dict size");
  if (n == 0) return *out = sx_dict_empty(), 0;
  if (n <= SX_DICT_SMALL_MAX) {
    sx_val keys[SX_DICT_SMALL_MAX], vals[SX_DICT_SMALL_MAX];
    for (uint64_t i = 0; i < n; i++)
      if (dec_entry(d, depth, i ? keys[i - 1] : 0, &keys[i], &vals[i])) return -1;
    *out = sx_dict_literal_new(keys, (uint32_t)n);
    for (uint32_t i = 0; i < n; i++) sx_dict_literal_set(*out, i, vals[i]);
    return 0;
  }
  sx_val dict = sx_dict_empty(), prev = 0;
  for (uint64_t i = 0; i < n; i++) {
    sx_val key, val;
    if (dec_entry(d, depth, prev, &key, &val)) return -1;
    dict = sx_dict_assoc(dict, key, val);
    prev = key;
  }
  *out = dict;
  return 0;
}

static int dec_float(dec *d, sx_val *out) {
  if (d->len - d->pos < 8) return dec_fail(d, "truncated float");
  uint64_t bits = 0;
  for (int i = 0; i < 8; i++) bits |= (uint64_t)d->p[d->pos + i] << (8 * i);
  d->pos += 8;
  double x;
  memcpy(&x, &bits, sizeof x);
  *out = sx_float(x);
  return 0;
}

static int dec_value(dec *d, int depth, sx_val *out) {
  if (depth > CODEC_MAX_DEPTH) return dec_fail(d, "nesting too deep");
  if (d->pos >= d->len) return dec_fail(d, "unexpected end of data");
  int tag = d->p[d->pos++];
  const char *bp;
  size_t bn;
  uint64_t u;
  switch (tag) {
    case CODEC_NIL: *out = SX_NIL; return 0;
    case CODEC_FALSE: *out = SX_FALSE; return 0;
    case CODEC_TRUE: *out = SX_TRUE; return 0;
    case CODEC_EMPTY: *out = SX_EMPTY; return 0;
    case CODEC_INT:
      if (dec_uvarint(d, &u)) return -1;
      *out = sx_int(codec_unzigzag(u));
      return 0;
    case CODEC_FLOAT: return dec_float(d, out);
    case CODEC_STRING:
    case CODEC_KEYWORD:
    case CODEC_SYMBOL:
      if (dec_bytes(d, &bp, &bn)) return -1;
      if (tag == CODEC_STRING) *out = sx_string_recent(bp, bn);
      else if (tag == CODEC_KEYWORD) *out = sx_keyword_new(sx_string_recent(bp, bn));
      else *out = sx_symbol_intern(bp, bn);
      return 0;
    case CODEC_LIST: return dec_list(d, depth, out);
    case CODEC_DICT: return dec_dict(d, depth, out);
    default: d->pos--; return dec_fail(d, "unknown type tag");
  }
}

int store_decode(const void *p, size_t len, size_t *used, sx_val *out, sx_val *err) {
  dec d = {p, len, 0, err};
  sx_val v;
  if (dec_value(&d, 0, &v)) return -1;
  *out = v;
  if (used) *used = d.pos;
  return 0;
}

/* A name that does not fit is cut and ends in "...": each step leaves room
 * for one more escape (4 bytes) and the dots, so they follow the last
 * character copied (they used to be put at cap - 4, leaving the bytes in
 * between unwritten, and to be added to a name that fit exactly). */
const char *store_quote(sx_val str, char *buf, size_t cap) {
  size_t o = 0, n = sx_str_len(str), i = 0;
  const unsigned char *p = (const unsigned char *)sx_str_data(str);
  for (; i < n && o + 8 < cap; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') buf[o++] = (char)p[i];
    else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", p[i]);
  }
  if (i < n && cap >= 4) memcpy(buf + o, "...", 3), o += 3;
  buf[o] = '\0';
  return buf;
}

/* ---- validating without decoding -------------------------------------- */

/* Walks an encoding exactly as dec_value does, allocating nothing: the
 * recovery scan checks every stored value this way at open. */
static int val_value(dec *d, int depth);

static int val_bytes(dec *d, const unsigned char **p, size_t *n) {
  const char *cp;
  if (dec_bytes(d, &cp, n)) return -1;
  *p = (const unsigned char *)cp;
  return 0;
}

/* Byte order of two strings, as sx_string_cmp orders dict keys. */
static int val_keycmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

static int val_dict(dec *d, int depth) {
  uint64_t n;
  const unsigned char *prev = NULL, *kp;
  size_t prevn = 0, kn;
  if (dec_uvarint(d, &n)) return -1;
  if (n > d->len - d->pos) return dec_fail(d, "bad dict size");
  for (uint64_t i = 0; i < n; i++) {
    if (val_bytes(d, &kp, &kn)) return -1;
    if (prev && val_keycmp(prev, prevn, kp, kn) >= 0) return dec_fail(d, "dict keys out of order");
    if (val_value(d, depth + 1)) return -1;
    prev = kp, prevn = kn;
  }
  return 0;
}

static int val_value(dec *d, int depth) {
  if (depth > CODEC_MAX_DEPTH) return dec_fail(d, "nesting too deep");
  if (d->pos >= d->len) return dec_fail(d, "unexpected end of data");
  int tag = d->p[d->pos++];
  const unsigned char *bp;
  size_t bn;
  uint64_t u;
  switch (tag) {
    case CODEC_NIL:
    case CODEC_FALSE:
    case CODEC_TRUE:
    case CODEC_EMPTY: return 0;
    case CODEC_INT: return dec_uvarint(d, &u);
    case CODEC_FLOAT:
      if (d->len - d->pos < 8) return dec_fail(d, "truncated float");
      d->pos += 8;
      return 0;
    case CODEC_STRING:
    case CODEC_KEYWORD:
    case CODEC_SYMBOL: return val_bytes(d, &bp, &bn);
    case CODEC_LIST:
      if (dec_uvarint(d, &u)) return -1;
      if (u == 0 || u > d->len - d->pos) return dec_fail(d, "bad list length");
      for (uint64_t i = 0; i < u; i++)
        if (val_value(d, depth + 1)) return -1;
      return 0;
    case CODEC_DICT: return val_dict(d, depth);
    default: d->pos--; return dec_fail(d, "unknown type tag");
  }
}

int store_validate(const void *p, size_t len, size_t *used, sx_val *err) {
  dec d = {p, len, 0, err};
  if (val_value(&d, 0)) return -1;
  if (used) *used = d.pos;
  return 0;
}
