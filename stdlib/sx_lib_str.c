/* sx_lib_str.c — string primitives. Strings are immutable byte strings
 * (UTF-8 by convention); lengths and indexes count bytes. A function whose
 * unit is the character (split on "") never cuts a UTF-8 sequence. */
#include "sx_lib.h"
#include "sx_read.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_str(sx_val v) { return sx_is_string(v); }

/* (str a ...): concatenation; strings raw, nil as nothing, else printed */
#define STR_SMALL 256

/* str of strings and integers whose text fits in STR_SMALL bytes, built
 * on the stack (the common (str "k" i)); false for anything else, which
 * goes through the printer. Both give the same text. */
static bool str_small(int argc, const sx_val *argv, sx_val *out) {
  char buf[STR_SMALL], digits[SX_INT_TEXT_MAX];
  size_t n = 0;
  for (int i = 0; i < argc; i++) {
    const char *p;
    size_t len;
    if (sx_is_string(argv[i])) {
      p = sx_str_data(argv[i]), len = sx_str_len(argv[i]);
    } else if (sx_is_fixnum(argv[i])) {
      p = sx_format_int(sx_fixnum_val(argv[i]), digits + sizeof digits);
      len = (size_t)(digits + sizeof digits - p);
    } else {
      return false;
    }
    if (len > sizeof buf - n) return false;
    memcpy(buf + n, p, len);
    n += len;
  }
  *out = sx_string_new(buf, n);
  return true;
}

static sx_val p_str(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  if (argc == 1 && sx_is_string(argv[0])) return argv[0];
  sx_val small;
  if (str_small(argc, argv, &small)) return small;
  sx_buf b = SX_BUF_INIT;
  for (int i = 0; i < argc; i++) sx_display(&b, argv[i]);
  sx_val s = sx_string_new(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  return s;
}

static sx_val p_string_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is_string(argv[0]));
}

static sx_val p_starts_with(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "starts-with?", 0, is_str, "a string");
  SX_CHECK(vm, "starts-with?", 1, is_str, "a string prefix");
  size_t n = sx_str_len(argv[1]);
  return sx_bool(sx_str_len(argv[0]) >= n && memcmp(sx_str_data(argv[0]), sx_str_data(argv[1]), n) == 0);
}

static sx_val p_ends_with(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "ends-with?", 0, is_str, "a string");
  SX_CHECK(vm, "ends-with?", 1, is_str, "a string suffix");
  size_t n = sx_str_len(argv[1]), m = sx_str_len(argv[0]);
  return sx_bool(m >= n && memcmp(sx_str_data(argv[0]) + m - n, sx_str_data(argv[1]), n) == 0);
}

static sx_val p_string_length(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "string-length", 0, is_str, "a string");
  return sx_int((int64_t)sx_str_len(argv[0]));
}

static sx_val p_string_contains(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "string-contains?", 0, is_str, "a string");
  SX_CHECK(vm, "string-contains?", 1, is_str, "a string to look for");
  return sx_bool(
      memmem(sx_str_data(argv[0]), sx_str_len(argv[0]), sx_str_data(argv[1]), sx_str_len(argv[1])) != NULL);
}

static sx_val p_substring(sx_vm *vm, int argc, sx_val *argv) {
  SX_CHECK(vm, "substring", 0, is_str, "a string");
  for (int i = 1; i < argc; i++)
    if (!sx_is_int(argv[i])) return sx_type_error(vm, "substring", "an integer index", argv[i]);
  int64_t len = (int64_t)sx_str_len(argv[0]);
  int64_t s = sx_int_val(argv[1]), e = argc > 2 ? sx_int_val(argv[2]) : len;
  if (s < 0 || e > len || s > e)
    return sx_throwf(vm, "substring: range %lld..%lld is outside a string of length %lld", (long long)s,
                     (long long)e, (long long)len);
  return sx_string_new(sx_str_data(argv[0]) + s, (size_t)(e - s));
}

/* The characters of s[0..n) as one-character strings: a well-formed UTF-8
 * sequence stays whole; any other byte is a piece of its own. */
static sx_val split_chars(const char *s, size_t n) {
  sx_val out = SX_EMPTY;
  for (size_t i = 0; i < n;) {
    size_t k = sx_utf8_char_len(s + i, n - i);
    if (k == 0) k = 1;
    out = sx_cons(sx_string_new(s + i, k), out);
    i += k;
  }
  return sx_list_reverse(out);
}

static sx_val p_split(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "split", 0, is_str, "a string");
  SX_CHECK(vm, "split", 1, is_str, "a separator string");
  const char *s = sx_str_data(argv[0]), *sep = sx_str_data(argv[1]);
  size_t n = sx_str_len(argv[0]), m = sx_str_len(argv[1]);
  if (m == 0) return split_chars(s, n);
  sx_val out = SX_EMPTY;
  size_t start = 0;
  for (size_t i = 0; i + m <= n;) {
    if (memcmp(s + i, sep, m) == 0) {
      out = sx_cons(sx_string_new(s + start, i - start), out);
      i += m;
      start = i;
    } else {
      i++;
    }
  }
  out = sx_cons(sx_string_new(s + start, n - start), out);
  return sx_list_reverse(out);
}

/* (join sep list) — also accepts (join list sep) */
static sx_val p_join(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  sx_val sep = argv[0], lst = argv[1];
  if (sx_listish(sep) && sx_is_string(lst)) {
    sep = argv[1];
    lst = argv[0];
  }
  if (!sx_is_string(sep)) return sx_type_error(vm, "join", "a separator string", sep);
  if (!sx_listish(lst)) return sx_type_error(vm, "join", "a list", lst);
  sx_buf b = SX_BUF_INIT;
  for (sx_val l = lst; sx_is_cons(l); l = sx_cdr(l)) {
    if (l != lst) sx_buf_put(&b, sx_str_data(sep), sx_str_len(sep));
    sx_display(&b, sx_car(l));
  }
  sx_val s = sx_string_new(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  return s;
}

static sx_val p_replace(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  for (int i = 0; i < 3; i++)
    if (!sx_is_string(argv[i])) return sx_type_error(vm, "replace", "strings", argv[i]);
  const char *s = sx_str_data(argv[0]), *old = sx_str_data(argv[1]);
  size_t n = sx_str_len(argv[0]), m = sx_str_len(argv[1]);
  if (m == 0) return argv[0];
  sx_buf b = SX_BUF_INIT;
  for (size_t i = 0; i < n;) {
    if (i + m <= n && memcmp(s + i, old, m) == 0) {
      sx_buf_put(&b, sx_str_data(argv[2]), sx_str_len(argv[2]));
      i += m;
    } else {
      sx_buf_putc(&b, s[i++]);
    }
  }
  sx_val out = sx_string_new(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  return out;
}

static sx_val map_bytes(sx_vm *vm, const char *who, sx_val v, int (*fn)(int)) {
  if (!sx_is_string(v)) return sx_type_error(vm, who, "a string", v);
  char *d;
  size_t n = sx_str_len(v);
  sx_val out = sx_string_alloc(n, &d);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)sx_str_data(v)[i];
    d[i] = c < 128 ? (char)fn(c) : (char)c; /* ASCII only: UTF-8 bytes pass through */
  }
  return out;
}

static sx_val p_upcase(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return map_bytes(vm, "upcase", argv[0], toupper);
}
static sx_val p_downcase(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return map_bytes(vm, "downcase", argv[0], tolower);
}

static sx_val p_trim(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "trim", 0, is_str, "a string");
  const char *s = sx_str_data(argv[0]);
  size_t a = 0, b = sx_str_len(argv[0]);
  while (a < b && isspace((unsigned char)s[a])) a++;
  while (b > a && isspace((unsigned char)s[b - 1])) b--;
  return sx_string_new(s + a, b - a);
}

/* (parse-int s) => integer, or nil when s is not a whole decimal integer */
static sx_val p_parse_int(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  if (sx_is_int(argv[0])) return argv[0];
  SX_CHECK(vm, "parse-int", 0, is_str, "a string");
  const char *s = sx_str_data(argv[0]);
  if (!*s || strlen(s) != sx_str_len(argv[0]) || isspace((unsigned char)*s)) return SX_NIL;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end || errno == ERANGE) return SX_NIL;
  return sx_int(v);
}

static sx_val p_parse_float(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  if (sx_is_number(argv[0])) return argv[0];
  SX_CHECK(vm, "parse-float", 0, is_str, "a string");
  const char *s = sx_str_data(argv[0]);
  if (!*s || strlen(s) != sx_str_len(argv[0]) || isspace((unsigned char)*s)) return SX_NIL;
  char *end;
  double d = strtod(s, &end);
  return *end ? SX_NIL : sx_float(d);
}

/* The name of a symbol or keyword (a string as it is); who names the
 * primitive in the error. */
static sx_val name_of(sx_vm *vm, const char *who, sx_val v) {
  if (sx_is_symbol(v)) return sx_sym_name(v);
  if (sx_is(v, SX_T_KEYWORD)) return ((sx_keyword *)v)->name;
  if (sx_is_string(v)) return v;
  return sx_type_error(vm, who, "a symbol, keyword or string", v);
}

static sx_val p_name(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return name_of(vm, "name", argv[0]);
}

static sx_val p_symbol_to_string(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return name_of(vm, "symbol->string", argv[0]);
}

static sx_val p_string_to_symbol(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "string->symbol", 0, is_str, "a string");
  return sx_symbol_intern(sx_str_data(argv[0]), sx_str_len(argv[0]));
}

static sx_val p_string_to_keyword(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "keyword", 0, is_str, "a string");
  return sx_keyword_new(argv[0]);
}

void sx_lib_str_install(sx_vm *vm) {
  sx_defprim(vm, "str", p_str, 0, -1);
  sx_defprim(vm, "string?", p_string_p, 1, 1);
  sx_defprim(vm, "starts-with?", p_starts_with, 2, 2);
  sx_defprim(vm, "ends-with?", p_ends_with, 2, 2);
  sx_defprim(vm, "string-length", p_string_length, 1, 1);
  sx_defprim(vm, "string-contains?", p_string_contains, 2, 2);
  sx_defprim(vm, "substring", p_substring, 2, 3);
  sx_defprim(vm, "split", p_split, 2, 2);
  sx_defprim(vm, "join", p_join, 2, 2);
  sx_defprim(vm, "replace", p_replace, 3, 3);
  sx_defprim(vm, "upcase", p_upcase, 1, 1);
  sx_defprim(vm, "downcase", p_downcase, 1, 1);
  sx_defprim(vm, "trim", p_trim, 1, 1);
  sx_defprim(vm, "parse-int", p_parse_int, 1, 1);
  sx_defprim(vm, "parse-float", p_parse_float, 1, 1);
  sx_defprim(vm, "name", p_name, 1, 1);
  sx_defprim(vm, "symbol->string", p_symbol_to_string, 1, 1);
  sx_defprim(vm, "string->symbol", p_string_to_symbol, 1, 1);
  sx_defprim(vm, "keyword", p_string_to_keyword, 1, 1);
}
