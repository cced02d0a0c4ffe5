/* sx_read.c — the SX reader: UTF-8 source text to SX data.
 *
 * The syntax, positions and error messages are specified in sx_read.h.
 * The reader is a loop over an explicit stack of open forms (lists, dicts,
 * pending quote sugar) rather than C recursion, so no input can overflow
 * the C stack. Every byte access is checked against r->len. */
#include "sx_read.h"
#include "sx_dict.h"
#include "sx_print.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_SHOWN 40 /* bytes of a bad token quoted in an error */

/* ---- character classes ---------------------------------------------- */

enum { C_SPACE = 1, C_DELIM = 2, C_SYM = 4 };

/* Class bits of every byte value; bytes >= 0x80 have none (UTF-8 is
 * checked separately). Letters and digits are C_SYM too (is_sym_ascii):
 * no range designators, so the portable build stays ISO C. */
static const unsigned char char_class[256] = {
    ['/'] = C_SYM,
    ['?'] = C_SYM,
    ['!'] = C_SYM,
    ['-'] = C_SYM,
    ['+'] = C_SYM,
    ['*'] = C_SYM,
    ['<'] = C_SYM,
    ['>'] = C_SYM,
    ['='] = C_SYM,
    ['&'] = C_SYM,
    ['.'] = C_SYM,
    ['_'] = C_SYM,
    ['%'] = C_SYM,
    [' '] = C_SPACE | C_DELIM,
    ['\t'] = C_SPACE | C_DELIM,
    ['\n'] = C_SPACE | C_DELIM,
    ['\r'] = C_SPACE | C_DELIM,
    ['\f'] = C_SPACE | C_DELIM,
    ['\v'] = C_SPACE | C_DELIM,
    ['('] = C_DELIM,
    [')'] = C_DELIM,
    ['['] = C_DELIM,
    [']'] = C_DELIM,
    ['{'] = C_DELIM,
    ['}'] = C_DELIM,
    ['"'] = C_DELIM,
    [';'] = C_DELIM,
    ['\''] = C_DELIM,
    ['`'] = C_DELIM,
    [','] = C_DELIM,
};

static bool is_space(unsigned char c) { return char_class[c] & C_SPACE; }
static bool is_delim(unsigned char c) { return char_class[c] & C_DELIM; }
static bool is_sym_ascii(unsigned char c) {
  return (unsigned char)((c | 32) - 'a') < 26 || (unsigned char)(c - '0') < 10 || (char_class[c] & C_SYM);
}
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_val(unsigned char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t sx_utf8_char_len(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (n == 0 || u[0] < 0xC2 || u[0] > 0xF4) return 0;
  size_t k = u[0] < 0xE0 ? 2 : u[0] < 0xF0 ? 3 : 4;
  if (n < k) return 0;
  for (size_t i = 1; i < k; i++)
    if ((u[i] & 0xC0) != 0x80) return 0;
  if (u[0] == 0xE0 && u[1] < 0xA0) return 0;  /* overlong */
  if (u[0] == 0xED && u[1] >= 0xA0) return 0; /* surrogate */
  if (u[0] == 0xF0 && u[1] < 0x90) return 0;  /* overlong */
  if (u[0] == 0xF4 && u[1] >= 0x90) return 0; /* beyond U+10FFFF */
  return k;
}

size_t sx_utf8_cut(const char *s, size_t n, size_t max) {
  if (max >= n) return n;
  size_t k = max;
  while (k > 0 && max - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
  return ((unsigned char)s[k] & 0xC0) == 0x80 ? max : k; /* not UTF-8: bytes */
}

/* ---- errors ----------------------------------------------------------- */

static sx_read_status fail(sx_reader *r, uint32_t line, uint32_t col, bool incomplete, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static sx_read_status fail(sx_reader *r, uint32_t line, uint32_t col, bool incomplete, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *fname = "<input>";
  size_t flen = 7;
  if (sx_is_string(r->file)) {
    fname = sx_str_data(r->file);
    flen = sx_str_len(r->file);
  }
  char pos[48];
  int plen = snprintf(pos, sizeof pos, ":%u:%u: ", (unsigned)line, (unsigned)col);
  size_t mlen = strlen(msg);
  char *d;
  r->error = sx_string_alloc(flen + (size_t)plen + mlen, &d);
  memcpy(d, fname, flen);
  memcpy(d + flen, pos, (size_t)plen);
  memcpy(d + flen + plen, msg, mlen);
  r->incomplete = incomplete;
  return SX_READ_ERROR;
}

/* A token for an error message: at most TOKEN_SHOWN bytes, then "...". */
static void show_token(char out[TOKEN_SHOWN + 4], const char *s, size_t n) {
  size_t k = sx_utf8_cut(s, n, TOKEN_SHOWN);
  memcpy(out, s, k);
  strcpy(out + k, n > k ? "..." : "");
}

/* ---- scanning --------------------------------------------------------- */

void sx_reader_init(sx_reader *r, const char *src, size_t len, sx_val file) {
  memset(r, 0, sizeof *r);
  r->src = src ? src : "";
  r->len = src ? len : 0;
  r->line = r->col = 1;
  r->file = file;
  r->error = SX_NIL;
}

static bool at_end(const sx_reader *r) { return r->pos >= r->len; }
static unsigned char peek(const sx_reader *r) { return (unsigned char)r->src[r->pos]; }

/* Where the byte c leaves line and column (in characters): a newline
 * starts a line, and a UTF-8 continuation byte is no new column. */
static inline void count_byte(unsigned char c, uint32_t *line, uint32_t *col) {
  if (c == '\n') ++*line, *col = 1;
  else *col += (c & 0xC0) != 0x80;
}

/* Consume one byte, keeping line and column up to date. */
static void adv(sx_reader *r) { count_byte((unsigned char)r->src[r->pos++], &r->line, &r->col); }

static void skip_space_and_comments(sx_reader *r) {
  while (!at_end(r)) {
    unsigned char c = peek(r);
    if (is_space(c)) {
      adv(r);
    } else if (c == ';') {
      while (!at_end(r) && peek(r) != '\n') adv(r);
    } else {
      return;
    }
  }
}

/* ---- numbers ---------------------------------------------------------- */

typedef enum num_kind { NUM_NOT, NUM_OK, NUM_BAD, NUM_INT_RANGE, NUM_FLOAT_RANGE } num_kind;

static bool looks_numeric(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  if (i < n && s[i] == '.') i++;
  return i < n && is_digit((unsigned char)s[i]);
}

static bool token_is(const char *s, size_t n, const char *lit) {
  return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static num_kind parse_int(const char *s, size_t n, sx_val *out) {
  bool neg = s[0] == '-';
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t mag = 0;
  for (; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (mag > (limit - d) / 10) return NUM_INT_RANGE;
    mag = mag * 10 + d;
  }
  int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
  *out = sx_int(v);
  return NUM_OK;
}

static num_kind parse_float(const char *s, size_t n, sx_val *out) {
  char small[128];
  char *copy = n < sizeof small ? small : malloc(n + 1);
  if (!copy) abort();
  memcpy(copy, s, n);
  copy[n] = '\0';
  double d = strtod(copy, NULL);
  if (copy != small) free(copy);
  if (isinf(d)) return NUM_FLOAT_RANGE;
  *out = sx_float(d);
  return NUM_OK;
}

static size_t skip_digits(const char *s, size_t i, size_t n) {
  while (i < n && is_digit((unsigned char)s[i])) i++;
  return i;
}

/* Classify and convert a bare token (which holds only symbol characters). */
static num_kind classify_number(const char *s, size_t n, sx_val *out) {
  if (n == 0 || !(is_digit((unsigned char)s[0]) || s[0] == '+' || s[0] == '-' || s[0] == '.'))
    return NUM_NOT; /* every number starts so */
  if (token_is(s, n, "+inf.0")) return *out = sx_float(INFINITY), NUM_OK;
  if (token_is(s, n, "-inf.0")) return *out = sx_float(-INFINITY), NUM_OK;
  if (token_is(s, n, "+nan.0")) return *out = sx_float(NAN), NUM_OK;
  if (token_is(s, n, "-nan.0")) return *out = sx_float(-NAN), NUM_OK;
  if (!looks_numeric(s, n)) return NUM_NOT;
  size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  size_t j = skip_digits(s, i, n);
  size_t nint = j - i, nfrac = 0;
  bool is_float = false;
  if (j < n && s[j] == '.') {
    is_float = true;
    size_t k = skip_digits(s, j + 1, n);
    nfrac = k - (j + 1);
    j = k;
  }
  if (nint == 0 && nfrac == 0) return NUM_BAD;
  if (j < n && (s[j] == 'e' || s[j] == 'E')) {
    is_float = true;
    j++;
    if (j < n && (s[j] == '+' || s[j] == '-')) j++;
    size_t k = skip_digits(s, j, n);
    if (k == j) return NUM_BAD;
    j = k;
  }
  if (j != n) return NUM_BAD;
  return is_float ? parse_float(s, n, out) : parse_int(s, n, out);
}

bool sx_parse_number(const char *s, size_t len, sx_val *out) {
  if (!s) return false;
  for (size_t i = 0; i < len; i++)
    if (!is_sym_ascii((unsigned char)s[i])) return false;
  sx_val v;
  if (classify_number(s, len, &v) != NUM_OK) return false;
  *out = v;
  return true;
}

/* ---- plain identifiers (shared with the printer) ---------------------- */

/* Length in bytes of the valid token characters at s[0..n): stops at the
 * first byte that may not appear in a token. *chars: how many characters
 * they are (their width in columns). */
static size_t token_chars(const char *s, size_t n, size_t *chars) {
  size_t i = 0, wide = 0; /* wide: bytes beyond the first of a character */
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      if (!is_sym_ascii(c)) break;
      i++;
    } else {
      size_t k = sx_utf8_char_len(s + i, n - i);
      if (!k) break;
      i += k;
      wide += k - 1;
    }
  }
  *chars = i - wide;
  return i;
}

bool sx_is_plain_identifier(const char *s, size_t len) {
  size_t chars;
  if (!s || len == 0 || token_chars(s, len, &chars) != len) return false;
  sx_val ignored;
  return classify_number(s, len, &ignored) == NUM_NOT;
}

/* ---- strings ---------------------------------------------------------- */

static void put_utf8(char **d, uint32_t cp) {
  unsigned char *p = (unsigned char *)*d;
  if (cp < 0x80) {
    *p++ = (unsigned char)cp;
  } else if (cp < 0x800) {
    *p++ = (unsigned char)(0xC0 | (cp >> 6));
    *p++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *p++ = (unsigned char)(0xE0 | (cp >> 12));
    *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *p++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else {
    *p++ = (unsigned char)(0xF0 | (cp >> 18));
    *p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *p++ = (unsigned char)(0x80 | (cp & 0x3F));
  }
  *d = (char *)p;
}

/* Read k hex digits at src[i..] (all before end), or -1. */
static long hex_digits(const char *src, size_t i, size_t end, int k) {
  long v = 0;
  for (int j = 0; j < k; j++) {
    if (i + (size_t)j >= end) return -1;
    int h = hex_val((unsigned char)src[i + (size_t)j]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* Consume n bytes (any), as n calls of adv would (counting in registers). */
static inline void adv_n(sx_reader *r, size_t n) {
  const unsigned char *p = (const unsigned char *)r->src + r->pos, *e = p + n;
  uint32_t line = r->line, col = r->col;
  for (; p < e; p++) count_byte(*p, &line, &col);
  r->pos += n;
  r->line = line;
  r->col = col;
}

/* Decode a \u escape at r->pos (the backslash); end = closing quote. */
static sx_read_status read_u_escape(sx_reader *r, size_t end, char **d) {
  uint32_t line = r->line, col = r->col;
  long hi = hex_digits(r->src, r->pos + 2, end, 4);
  if (hi < 0) return fail(r, line, col, false, "invalid \\u escape: expected 4 hex digits");
  uint32_t cp = (uint32_t)hi;
  size_t used = 6;
  if (cp >= 0xD800 && cp <= 0xDFFF) {
    long lo = -1;
    if (cp <= 0xDBFF && r->pos + 7 < end && r->src[r->pos + 6] == '\\' && r->src[r->pos + 7] == 'u')
      lo = hex_digits(r->src, r->pos + 8, end, 4);
    if (lo < 0xDC00 || lo > 0xDFFF)
      return fail(r, line, col, false, "invalid \\u escape: unpaired surrogate %04X", (unsigned)cp);
    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    used = 12;
  }
  put_utf8(d, cp);
  adv_n(r, used);
  return SX_READ_OK;
}

/* Decode the escape at r->pos (a backslash before end) into *d. */
static sx_read_status read_escape(sx_reader *r, size_t end, char **d) {
  uint32_t line = r->line, col = r->col;
  unsigned char e = (unsigned char)r->src[r->pos + 1];
  char simple = e == '"' ? '"' : e == '\\' ? '\\' : e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : 0;
  if (simple) {
    *(*d)++ = simple;
    adv_n(r, 2);
    return SX_READ_OK;
  }
  if (e == 'u') return read_u_escape(r, end, d);
  if (e == 'x') {
    long b = hex_digits(r->src, r->pos + 2, end, 2);
    if (b < 0) return fail(r, line, col, false, "invalid \\x escape: expected 2 hex digits");
    *(*d)++ = (char)b;
    adv_n(r, 4);
    return SX_READ_OK;
  }
  if (e >= 0x21 && e < 0x7F) return fail(r, line, col, false, "unknown escape '\\%c' in string", e);
  return fail(r, line, col, false, "unknown escape (backslash then byte 0x%02x) in string", e);
}

/* Index of the closing quote of the string whose body starts at i, or
 * len when the input ends first. Sets *escapes when a '\' occurs. */
static size_t find_string_end(const sx_reader *r, size_t i, bool *escapes) {
  while (i < r->len) {
    char c = r->src[i];
    if (c == '"') return i;
    if (c == '\\') {
      *escapes = true;
      i += 2;
    } else {
      i++;
    }
  }
  return r->len;
}

static sx_read_status read_string(sx_reader *r, sx_val *out) {
  uint32_t line = r->line, col = r->col;
  bool escapes = false;
  size_t start = r->pos + 1, end = find_string_end(r, start, &escapes);
  if (end >= r->len) {
    adv_n(r, r->len - r->pos);
    return fail(r, r->line, r->col, true, "unterminated string starting at %u:%u", (unsigned)line,
                (unsigned)col);
  }
  adv(r);
  if (!escapes) {
    *out = sx_string_recent(r->src + start, end - start);
    adv_n(r, end - start + 1);
    return SX_READ_OK;
  }
  char *data;
  sx_val s = sx_string_alloc(end - start, &data); /* escapes only shrink */
  char *d = data;
  while (r->pos < end) {
    const char *at = r->src + r->pos, *bs = memchr(at, '\\', end - r->pos);
    size_t run = bs ? (size_t)(bs - at) : end - r->pos; /* bytes up to the next escape */
    memcpy(d, at, run);
    d += run;
    adv_n(r, run);
    if (bs && read_escape(r, end, &d) != SX_READ_OK) return SX_READ_ERROR;
  }
  adv(r); /* closing quote */
  sx_str(s)->len = (size_t)(d - data);
  *d = '\0';
  *out = s;
  return SX_READ_OK;
}

/* ---- tokens: numbers, keywords, symbols, literals --------------------- */

static sx_read_status bad_char(sx_reader *r, uint32_t line, uint32_t col) {
  unsigned char c = peek(r);
  if (c >= 0x80) return fail(r, line, col, false, "invalid UTF-8 byte 0x%02x", c);
  if (c > 0x20 && c < 0x7F) return fail(r, line, col, false, "invalid character '%c'", c);
  return fail(r, line, col, false, "invalid byte 0x%02x", c);
}

static sx_read_status number_error(sx_reader *r, num_kind k, const char *s, size_t n, uint32_t line,
                                   uint32_t col) {
  char tok[TOKEN_SHOWN + 4];
  show_token(tok, s, n);
  const char *what = k == NUM_INT_RANGE     ? "integer literal %s out of range (64-bit)"
                     : k == NUM_FLOAT_RANGE ? "float literal %s out of range"
                                            : "malformed number %s";
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  return fail(r, line, col, false, what, tok);
#pragma GCC diagnostic pop
}

static sx_read_status read_token(sx_reader *r, sx_val *out) {
  uint32_t line = r->line, col = r->col;
  size_t start = r->pos;
  bool keyword = peek(r) == ':';
  if (keyword) adv(r);
  size_t chars, n = token_chars(r->src + r->pos, r->len - r->pos, &chars);
  r->pos += n; /* a token holds no newline */
  r->col += (uint32_t)chars;
  if (!at_end(r) && !is_delim(peek(r))) return bad_char(r, r->line, r->col);
  const char *s = r->src + start;
  size_t len = r->pos - start;
  if (keyword) {
    if (len == 1) return fail(r, line, col, false, "expected a keyword name after ':'");
    *out = sx_keyword_new(sx_string_recent(s + 1, len - 1));
    return SX_READ_OK;
  }
  if (token_is(s, len, "true")) return *out = SX_TRUE, SX_READ_OK;
  if (token_is(s, len, "false")) return *out = SX_FALSE, SX_READ_OK;
  if (token_is(s, len, "nil")) return *out = SX_NIL, SX_READ_OK;
  num_kind k = classify_number(s, len, out);
  if (k == NUM_OK) return SX_READ_OK;
  if (k != NUM_NOT) return number_error(r, k, s, len, line, col);
  *out = sx_symbol_intern(s, len);
  return SX_READ_OK;
}

/* ---- the frame stack of open forms ------------------------------------ */

typedef enum frame_kind { F_LIST, F_DICT, F_QUOTE } frame_kind;

typedef struct frame {
  uint8_t kind;       /* frame_kind */
  char open, close;   /* bracket characters (lists and dicts) */
  uint32_t line, col; /* where the opener stood */
  sx_val head, tail;  /* list: cells so far */
  sx_val dict, key;   /* dict: built so far; pending key or SX_UNDEF */
  bool computed;      /* dict: some key is an expression (see close_dict) */
  sx_val qsym;        /* quote: quote / quasiquote / ... */
  const char *qtext;  /* quote: the sugar as written, for errors */
} frame;

typedef struct fstack {
  frame *f;
  size_t n, cap;
} fstack;

/* Push a zeroed frame. The stack lives on the GC heap (scanned), because
 * frames hold the only references to partly built values. */
static frame *push(sx_reader *r, fstack *st, uint32_t line, uint32_t col) {
  if (st->n >= SX_READ_MAX_DEPTH) {
    fail(r, line, col, false, "nesting deeper than %d levels", SX_READ_MAX_DEPTH);
    return NULL;
  }
  if (st->n == st->cap) {
    size_t ncap = st->cap * 2;
    frame *nf = sx_alloc(ncap * sizeof *nf);
    memcpy(nf, st->f, st->n * sizeof *nf);
    st->f = nf;
    st->cap = ncap;
  }
  frame *f = &st->f[st->n++];
  memset(f, 0, sizeof *f);
  f->line = line;
  f->col = col;
  f->key = SX_UNDEF;
  r->depth = (int)st->n;
  return f;
}

/* Make the pushed frame f an open list or dict. */
static void init_open(frame *f, char open) {
  f->kind = open == '{' ? F_DICT : F_LIST;
  f->open = open;
  f->close = open == '(' ? ')' : open == '[' ? ']' : '}';
  f->head = f->tail = SX_EMPTY;
  if (open == '{') f->dict = sx_dict_empty();
}

/* Consume quote sugar at r->pos and push its frame. */
static bool push_quote(sx_reader *r, fstack *st) {
  uint32_t line = r->line, col = r->col;
  frame *f = push(r, st, line, col);
  if (!f) return false;
  f->kind = F_QUOTE;
  char c = (char)peek(r);
  adv(r);
  if (c == '\'') {
    f->qsym = sx_symbol_cstr("quote");
    f->qtext = "'";
  } else if (c == '`') {
    f->qsym = sx_symbol_cstr("quasiquote");
    f->qtext = "`";
  } else if (!at_end(r) && peek(r) == '@') {
    adv(r);
    f->qsym = sx_symbol_cstr("unquote-splicing");
    f->qtext = ",@";
  } else {
    f->qsym = sx_symbol_cstr("unquote");
    f->qtext = ",";
  }
  return true;
}

static void pop(sx_reader *r, fstack *st) {
  st->n--;
  r->depth = (int)st->n;
}

/* Error for input that ended while st still has open frames. */
static sx_read_status fail_eof(sx_reader *r, const fstack *st) {
  const frame *f = &st->f[st->n - 1];
  if (f->kind == F_QUOTE)
    return fail(r, r->line, r->col, true, "expected a form after %s at %u:%u", f->qtext, (unsigned)f->line,
                (unsigned)f->col);
  return fail(r, r->line, r->col, true, "unclosed '%c' opened at %u:%u", f->open, (unsigned)f->line,
              (unsigned)f->col);
}

/* The value of a closed dict literal. With only keyword and string keys it
 * is the dict itself (its values are evaluated by the analyser); when some
 * key is an expression it is the form (dict-literal k v ...), whose keys and
 * values are all evaluated, in order. */
static sx_val close_dict(sx_reader *r, frame *f) {
  if (!f->computed) return f->dict;
  return sx_cons_at(sx_symbol_cstr("dict-literal"), f->head, r->file, f->line, f->col);
}

/* A closing bracket at r->pos: check it matches, pop, and give the form. */
static sx_read_status close_form(sx_reader *r, fstack *st, sx_val *out) {
  uint32_t line = r->line, col = r->col;
  char c = (char)peek(r);
  if (st->n == 0) return fail(r, line, col, false, "unexpected '%c'", c);
  frame *f = &st->f[st->n - 1];
  if (f->kind == F_QUOTE)
    return fail(r, line, col, false, "expected a form after %s at %u:%u, found '%c'", f->qtext,
                (unsigned)f->line, (unsigned)f->col, c);
  if (c != f->close)
    return fail(r, line, col, false, "mismatched '%c': expected '%c' to close '%c' opened at %u:%u", c,
                f->close, f->open, (unsigned)f->line, (unsigned)f->col);
  if (f->kind == F_DICT && f->key != SX_UNDEF)
    return fail(r, line, col, false, "dict literal opened at %u:%u has a key without a value",
                (unsigned)f->line, (unsigned)f->col);
  adv(r);
  *out = f->kind == F_DICT ? close_dict(r, f) : f->head;
  pop(r, st);
  return SX_READ_OK;
}

static void list_add(sx_reader *r, frame *f, sx_val v, uint32_t line, uint32_t col);

/* Check a literal dict key (a keyword or a string, given as the string) is
 * not already in the dict frame f. */
static sx_read_status dict_check_dup(sx_reader *r, frame *f, sx_val k, uint32_t line, uint32_t col) {
  if (!sx_dict_has(f->dict, k)) return SX_READ_OK;
  char tok[TOKEN_SHOWN + 4];
  sx_val shown = sx_print_to_string(k); /* quoted and escaped */
  show_token(tok, sx_str_data(shown), sx_str_len(shown));
  return fail(r, line, col, false, "duplicate key %s in dict literal", tok);
}

/* Add a key or value (read at line:col) to the dict frame f. Keys are
 * keywords, strings, or expressions (symbols and lists) evaluated later. */
static sx_read_status dict_add(sx_reader *r, frame *f, sx_val v, uint32_t line, uint32_t col) {
  list_add(r, f, v, line, col);
  if (f->key != SX_UNDEF) {
    if (f->key != SX_NIL) f->dict = sx_dict_assoc(f->dict, f->key, v);
    f->key = SX_UNDEF;
    return SX_READ_OK;
  }
  if (sx_is_symbol(v) || sx_is_cons(v)) {
    f->computed = true;
    f->key = SX_NIL; /* no literal key to record */
    return SX_READ_OK;
  }
  sx_val k = sx_is(v, SX_T_KEYWORD) ? ((sx_keyword *)v)->name : v;
  if (!sx_is_string(k))
    return fail(r, line, col, false, "dict key must be a keyword, a string or an expression (got %s)",
                sx_type_name(v));
  sx_read_status st = dict_check_dup(r, f, k, line, col);
  if (st == SX_READ_OK) f->key = k;
  return st;
}

static void list_add(sx_reader *r, frame *f, sx_val v, uint32_t line, uint32_t col) {
  bool first = f->head == SX_EMPTY;
  sx_val cell = sx_cons_at(v, SX_EMPTY, r->file, first ? f->line : line, first ? f->col : col);
  if (first) f->head = cell;
  else sx_pair_of(f->tail)->cdr = cell;
  f->tail = cell;
}

/* Hand a finished form *v (which started at line:col) to the open frames,
 * wrapping it in the quote frames it completes. Sets *done when *v is a
 * whole top-level form. */
static sx_read_status deliver(sx_reader *r, fstack *st, sx_val *v, uint32_t line, uint32_t col, bool *done) {
  *done = false;
  while (st->n > 0) {
    frame *f = &st->f[st->n - 1];
    if (f->kind == F_LIST) {
      list_add(r, f, *v, line, col);
      return SX_READ_OK;
    }
    if (f->kind == F_DICT) return dict_add(r, f, *v, line, col);
    sx_val arg = sx_cons_at(*v, SX_EMPTY, r->file, line, col);
    *v = sx_cons_at(f->qsym, arg, r->file, f->line, f->col);
    line = f->line;
    col = f->col;
    pop(r, st);
  }
  *done = true;
  return SX_READ_OK;
}

/* Read one atom or close one bracket at r->pos into *v. */
static sx_read_status read_item(sx_reader *r, fstack *st, sx_val *v) {
  unsigned char c = peek(r);
  if (c == ')' || c == ']' || c == '}') return close_form(r, st, v);
  if (c == '"') return read_string(r, v);
  return read_token(r, v);
}

sx_read_status sx_read_next(sx_reader *r, sx_val *out) {
  frame inline_frames[16];
  fstack st = {inline_frames, 0, 16};
  r->incomplete = false;
  r->depth = 0;
  for (;;) {
    skip_space_and_comments(r);
    if (at_end(r)) return st.n == 0 ? SX_READ_EOF : fail_eof(r, &st);
    uint32_t line = r->line, col = r->col;
    unsigned char c = peek(r);
    if (c == '(' || c == '[' || c == '{') {
      frame *f = push(r, &st, line, col);
      if (!f) return SX_READ_ERROR;
      init_open(f, (char)c);
      adv(r);
      continue;
    }
    if (c == '\'' || c == '`' || c == ',') {
      if (!push_quote(r, &st)) return SX_READ_ERROR;
      continue;
    }
    bool closing = c == ')' || c == ']' || c == '}';
    if (closing && st.n > 0) {
      line = st.f[st.n - 1].line; /* a finished form starts at its opener */
      col = st.f[st.n - 1].col;
    }
    sx_val v = SX_NIL;
    if (read_item(r, &st, &v) != SX_READ_OK) return SX_READ_ERROR;
    bool done;
    if (deliver(r, &st, &v, line, col, &done) != SX_READ_OK) return SX_READ_ERROR;
    if (done) {
      *out = v;
      return SX_READ_OK;
    }
  }
}

sx_val sx_read_all(const char *src, size_t len, sx_val file, sx_val *error) {
  sx_reader r;
  sx_reader_init(&r, src, len, file);
  sx_val head = SX_EMPTY, tail = SX_EMPTY, form;
  sx_read_status st;
  while ((st = sx_read_next(&r, &form)) == SX_READ_OK) {
    sx_val cell = sx_cons(form, SX_EMPTY);
    if (head == SX_EMPTY) head = cell;
    else sx_pair_of(tail)->cdr = cell;
    tail = cell;
  }
  if (st == SX_READ_EOF) return head;
  if (error) *error = r.error;
  return SX_UNDEF;
}
