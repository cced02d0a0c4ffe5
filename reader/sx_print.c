/* sx_print.c — the SX printer: SX values to readable text (see sx_print.h).
 *
 * Containers are walked with an explicit stack so long lists and deep
 * nesting never grow the C stack. Atoms are formatted straight into the
 * caller's sx_buf. Floats print the shortest decimal that reads back
 * bit-exact: short decimals by an exact floating-point fast path, the rest
 * from printf's 17 digits, shortened and checked with strtod. */
#include "sx_print.h"
#include "sx_dict.h"
#include "sx_read.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer fast paths ----------------------------------------------------
 * Inline appends for the common case where the buffer has room; sx_buf
 * keeps data NUL-terminated with cap counting the NUL. */

static inline void putn(sx_buf *b, const void *s, size_t n) {
  if (b->data && b->len + n < b->cap) {
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
  } else {
    sx_buf_put(b, s, n);
  }
}

static inline void put1(sx_buf *b, char c) {
  if (b->data && b->len + 1 < b->cap) {
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
  } else {
    sx_buf_put(b, &c, 1);
  }
}

/* ---- integers ----------------------------------------------------------- */

static void print_int(sx_buf *b, int64_t i) {
  char tmp[SX_INT_TEXT_MAX];
  char *end = tmp + sizeof tmp, *p = sx_format_int(i, end);
  putn(b, p, (size_t)(end - p));
}

/* ---- floats ------------------------------------------------------------- */

/* A decimal d1.d2...dk x 10^e (digits as characters). */
typedef struct decimal {
  bool neg;
  int k, e;
  char dig[24];
} decimal;

/* From printf's "%.*e" text: [-]d[.ddd]e(+|-)xx. Any non-digit before the
 * 'e' (the locale's decimal point) is skipped. */
static void dec_parse(decimal *x, const char *s) {
  x->neg = *s == '-';
  if (x->neg) s++;
  x->k = 0;
  for (; *s && *s != 'e' && *s != 'E'; s++)
    if (*s >= '0' && *s <= '9' && x->k < (int)sizeof x->dig) x->dig[x->k++] = *s;
  x->e = *s ? atoi(s + 1) : 0;
}

static void dec_trim(decimal *x) {
  while (x->k > 1 && x->dig[x->k - 1] == '0') x->k--;
}

static bool dec_reads_as(const decimal *x, double d) {
  char tmp[48];
  int n = 0;
  if (x->neg) tmp[n++] = '-';
  tmp[n++] = x->dig[0];
  tmp[n++] = '.';
  memcpy(tmp + n, x->dig + 1, (size_t)x->k - 1);
  n += x->k - 1;
  snprintf(tmp + n, sizeof tmp - (size_t)n, "e%d", x->e);
  return strtod(tmp, NULL) == d;
}

/* Add dir (+1 or -1) to the last digit; false if the result would need
 * fewer digits. */
static bool dec_step(decimal *x, int dir) {
  int i = x->k - 1;
  char carry_from = dir > 0 ? '9' : '0', carry_to = dir > 0 ? '0' : '9';
  while (i >= 0 && x->dig[i] == carry_from) x->dig[i--] = carry_to;
  if (i < 0) {
    if (dir < 0) return false;
    x->dig[0] = '1'; /* 99..9 + 1 = 100..0, one decade up */
    x->e++;
    return true;
  }
  x->dig[i] = (char)(x->dig[i] + dir);
  return x->dig[0] != '0';
}

/* Nearest decimal with prec significant digits (printf is exact). */
static void dec_nearest(decimal *x, double d, int prec) {
  char tmp[48];
  snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
  dec_parse(x, tmp);
}

/* full (17 digits, the nearest to d) rounded to p digits: equal to
 * dec_nearest(d, p) except when the dropped digits are exactly 5000...,
 * where d may lie on either side of the midpoint; then ask printf. */
static void dec_round(decimal *out, const decimal *full, double d, int p) {
  bool tie = full->dig[p] == '5';
  for (int i = p + 1; tie && i < full->k; i++) tie = full->dig[i] == '0';
  if (tie) {
    dec_nearest(out, d, p);
    return;
  }
  *out = *full;
  out->k = p;
  if (full->dig[p] >= '5') dec_step(out, 1);
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Fast path for the common short decimals (12.5, 0.37, 1700000000.25):
 * the fewest fraction digits k such that m = round(|d| * 10^k) has at most
 * 15 digits and m / 10^k == |d|. Both m and 10^k are exact doubles, so the
 * division is the correctly rounded value of the decimal m.10^-k, which is
 * therefore exactly what strtod gives for it; fewer fraction digits means
 * fewer significant digits, so the first k found is the shortest (and, at
 * <= 15 digits, the nearest). */
static bool dec_short_fixed(decimal *x, double d) {
  double a = fabs(d);
  if (!(a < 1e15)) return false;
  for (int k = 0; k <= 22; k++) {
    double m = nearbyint(a * pow10_exact[k]);
    if (m >= 1e15) return false;
    if (m == 0 || m / pow10_exact[k] != a) continue;
    char tmp[24], *end = tmp + sizeof tmp, *q = end;
    for (uint64_t u = (uint64_t)m; u; u /= 10) *--q = (char)('0' + u % 10);
    int n = (int)(end - q);
    x->neg = d < 0;
    memcpy(x->dig, q, (size_t)n);
    x->k = n;
    x->e = n - 1 - k;
    return true;
  }
  return false;
}

/* The shortest decimal that reads back as d (finite, non-zero), nearest
 * to d among the shortest. After the fast path: for a normal d, the
 * nearest 15-digit decimal is exact whenever any <= 15-digit one is
 * (DBL_DIG); with 16 digits the nearest can miss when the rounding interval
 * is lopsided (d a power of two), so its two neighbours are tried too; 17
 * digits always suffice. Subnormals carry fewer bits, so for them every
 * length is tried from 1 up (their rounding interval is symmetric). */
static void dec_shortest(decimal *x, double d) {
  if (dec_short_fixed(x, d)) return;
  decimal full, y;
  dec_nearest(&full, d, 17);
  bool subnormal = fabs(d) < DBL_MIN;
  for (int p = subnormal ? 1 : 15; p <= 16; p++) {
    dec_round(&y, &full, d, p);
    if (dec_reads_as(&y, d)) {
      *x = y;
      return;
    }
    for (int dir = -1; p == 16 && !subnormal && dir <= 1; dir += 2) {
      decimal z = y;
      if (dec_step(&z, dir) && dec_reads_as(&z, d)) {
        *x = z;
        return;
      }
    }
  }
  *x = full;
}

static int dec_layout(const decimal *x, char *buf) {
  char *p = buf;
  int k = x->k, e = x->e;
  if (x->neg) *p++ = '-';
  if (e >= 21 || e < -6) {
    *p++ = x->dig[0];
    if (k > 1) {
      *p++ = '.';
      memcpy(p, x->dig + 1, (size_t)k - 1);
      p += k - 1;
    }
    p += sprintf(p, "e%d", e);
  } else if (e >= 0) {
    for (int i = 0; i <= e; i++) *p++ = i < k ? x->dig[i] : '0';
    *p++ = '.';
    if (k > e + 1) {
      memcpy(p, x->dig + e + 1, (size_t)(k - e - 1));
      p += k - e - 1;
    } else {
      *p++ = '0';
    }
  } else {
    *p++ = '0';
    *p++ = '.';
    for (int i = 0; i < -e - 1; i++) *p++ = '0';
    memcpy(p, x->dig, (size_t)k);
    p += k;
  }
  *p = '\0';
  return (int)(p - buf);
}

int sx_format_float(char *buf, double d) {
  const char *special = isnan(d)   ? "+nan.0"
                        : isinf(d) ? (d > 0 ? "+inf.0" : "-inf.0")
                        : d == 0   ? (signbit(d) ? "-0.0" : "0.0")
                                   : NULL;
  if (special) {
    strcpy(buf, special);
    return (int)strlen(special);
  }
  decimal x;
  dec_shortest(&x, d);
  dec_trim(&x);
  return dec_layout(&x, buf);
}

/* ---- strings ------------------------------------------------------------ */

static void print_escape(sx_buf *b, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  char e[4] = {'\\', 0, 0, 0};
  size_t n = 2;
  switch (c) {
    case '"': e[1] = '"'; break;
    case '\\': e[1] = '\\'; break;
    case '\n': e[1] = 'n'; break;
    case '\t': e[1] = 't'; break;
    case '\r': e[1] = 'r'; break;
    default:
      e[1] = 'x';
      e[2] = hex[c >> 4];
      e[3] = hex[c & 15];
      n = 4;
  }
  putn(b, e, n);
}

static void print_string(sx_buf *b, const char *s, size_t n) {
  sx_buf_reserve(b, n + 2);
  put1(b, '"');
  size_t run = 0, i = 0; /* s[run..i) is waiting to be copied as is */
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      i++;
      continue;
    }
    if (c >= 0x80) {
      size_t k = sx_utf8_char_len(s + i, n - i);
      if (k) {
        i += k;
        continue;
      }
    }
    putn(b, s + run, i - run);
    print_escape(b, c);
    run = ++i;
  }
  putn(b, s + run, i - run);
  put1(b, '"');
}

/* ---- atoms -------------------------------------------------------------- */

static void print_named(sx_buf *b, const char *kind, sx_val name) {
  put1(b, '<');
  putn(b, kind, strlen(kind));
  if (sx_is_string(name)) {
    put1(b, ' ');
    putn(b, sx_str_data(name), sx_str_len(name));
  }
  put1(b, '>');
}

static void print_atom(sx_buf *b, sx_val v) {
  switch (sx_type_of(v)) {
    case SX_T_NIL: putn(b, "nil", 3); return;
    case SX_T_BOOL: v == SX_TRUE ? putn(b, "true", 4) : putn(b, "false", 5); return;
    case SX_T_INT: print_int(b, sx_int_val(v)); return;
    case SX_T_FLOAT: {
      char tmp[32];
      putn(b, tmp, (size_t)sx_format_float(tmp, sx_float_val(v)));
      return;
    }
    case SX_T_STRING: print_string(b, sx_str_data(v), sx_str_len(v)); return;
    case SX_T_SYMBOL: {
      sx_val n = sx_sym_name(v);
      putn(b, sx_str_data(n), sx_str_len(n));
      return;
    }
    case SX_T_KEYWORD: {
      sx_val n = ((sx_keyword *)v)->name;
      put1(b, ':');
      putn(b, sx_str_data(n), sx_str_len(n));
      return;
    }
    case SX_T_LIST: putn(b, "()", 2); return; /* only SX_EMPTY gets here */
    case SX_T_FN:
    case SX_T_PRIM: print_named(b, "fn", ((sx_fnhead *)v)->name); return;
    case SX_T_MACRO: print_named(b, "macro", ((sx_fnhead *)v)->name); return;
    case SX_T_ERROR: {
      sx_val m = ((sx_error *)v)->message;
      putn(b, "<error", 6);
      if (sx_is_string(m)) {
        put1(b, ' ');
        print_string(b, sx_str_data(m), sx_str_len(m));
      }
      put1(b, '>');
      return;
    }
    default: putn(b, "<internal>", 10); return;
  }
}

/* Is the string k a plain identifier? Worked out once per string (they
 * are immutable, like the hash sx_string_hash caches): the same keys are
 * printed again and again. */
static bool plain_key(sx_val k) {
  sx_string *s = sx_str(k);
  unsigned f = sx_str_flags(s);
  if (!(f & SX_F_IDENT_KNOWN)) {
    f = SX_F_IDENT_KNOWN | (sx_is_plain_identifier(s->data, s->len) ? SX_F_IDENT : 0);
    sx_str_set_flags(s, f);
  }
  return f & SX_F_IDENT;
}

static void print_key(sx_buf *b, sx_val k) {
  if (!sx_is_string(k)) {
    print_atom(b, k);
  } else if (plain_key(k)) {
    put1(b, ':');
    putn(b, sx_str_data(k), sx_str_len(k));
  } else {
    print_string(b, sx_str_data(k), sx_str_len(k));
  }
}

/* ---- containers ----------------------------------------------------------- */

typedef struct pframe {
  bool dict, first;
  sx_val rest;     /* list: the cells still to print */
  sx_dict_iter it; /* dict: position in the keys */
} pframe;

typedef struct pstack {
  pframe *f;
  size_t n, cap;
} pstack;

/* Frames live on the C stack, then on the GC heap: they hold the only
 * reference to a dict iterator's scratch array. */
static pframe *ppush(pstack *st, bool dict) {
  if (st->n == st->cap) {
    size_t ncap = st->cap * 2;
    pframe *nf = sx_alloc(ncap * sizeof *nf);
    memcpy(nf, st->f, st->n * sizeof *nf);
    st->f = nf;
    st->cap = ncap;
  }
  pframe *f = &st->f[st->n++];
  f->dict = dict;
  f->first = true;
  f->rest = SX_EMPTY;
  return f;
}

/* Advance the innermost open container: print separators, closers and
 * dict keys, and put the next value to print in *v. False when done. */
static bool next_value(sx_buf *b, pstack *st, sx_val *v) {
  while (st->n > 0) {
    pframe *f = &st->f[st->n - 1];
    bool first = f->first;
    f->first = false;
    if (!f->dict) {
      if (sx_is_cons(f->rest)) {
        if (!first) put1(b, ' ');
        *v = sx_car(f->rest);
        f->rest = sx_cdr(f->rest);
        return true;
      }
      if (f->rest != SX_EMPTY) { /* improper tail */
        putn(b, " . ", 3);
        *v = f->rest;
        f->rest = SX_EMPTY;
        return true;
      }
      put1(b, ')');
      st->n--;
      continue;
    }
    sx_val key, val;
    if (sx_dict_iter_next(&f->it, &key, &val)) {
      if (!first) put1(b, ' ');
      print_key(b, key);
      put1(b, ' ');
      *v = val;
      return true;
    }
    put1(b, '}');
    st->n--;
  }
  return false;
}

void sx_print(sx_buf *b, sx_val v) {
  pframe inline_frames[32];
  pstack st = {inline_frames, 0, 32};
  do {
    if (sx_is_cons(v)) {
      put1(b, '(');
      ppush(&st, false)->rest = v;
    } else if (sx_is_dict(v)) {
      put1(b, '{');
      sx_dict_iter_init(&ppush(&st, true)->it, v);
    } else {
      print_atom(b, v);
    }
  } while (next_value(b, &st, &v));
}

void sx_display(sx_buf *b, sx_val v) {
  if (v == SX_NIL) return;
  if (sx_is_string(v)) putn(b, sx_str_data(v), sx_str_len(v));
  else sx_print(b, v);
}

static sx_val buf_to_string(sx_buf *b) {
  sx_val s = sx_string_new(b->data ? b->data : "", b->len);
  sx_buf_free(b);
  return s;
}

sx_val sx_print_to_string(sx_val v) {
  sx_buf b = SX_BUF_INIT;
  sx_print(&b, v);
  return buf_to_string(&b);
}

sx_val sx_display_to_string(sx_val v) {
  sx_buf b = SX_BUF_INIT;
  sx_display(&b, v);
  return buf_to_string(&b);
}
