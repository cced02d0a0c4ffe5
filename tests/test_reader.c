/* test_reader.c — Criterion tests for the SX reader (reader/sx_read.c):
 * every form, every error message with its position, the incomplete flag,
 * list-cell positions, quote and dict shapes, the depth limit, and
 * robustness against random and mutated bytes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sx_dict.h"
#include "sx_print.h"
#include "sx_read.h"

static void setup(void) { sx_gc_init(); }
TestSuite(reader, .init = setup);

/* ---- helpers -------------------------------------------------------------- */

static sx_val read_n(const char *src, size_t len) {
  sx_reader r;
  sx_reader_init(&r, src, len, SX_NIL);
  sx_val v = SX_UNDEF;
  sx_read_status st = sx_read_next(&r, &v);
  cr_assert_eq(st, SX_READ_OK, "reading [%s] failed: %s", src,
               st == SX_READ_ERROR ? sx_str_data(r.error) : "eof");
  sx_val rest;
  cr_assert_eq(sx_read_next(&r, &rest), SX_READ_EOF, "[%s] has more than one form", src);
  return v;
}

static sx_val read1(const char *src) { return read_n(src, strlen(src)); }

static const char *show(sx_val v) { return sx_str_data(sx_print_to_string(v)); }

/* Reads src (as file) expecting an error; checks message and incomplete. */
static void expect_error_in(const char *src, size_t len, sx_val file, const char *msg, bool incomplete) {
  sx_reader r;
  sx_reader_init(&r, src, len, file);
  sx_val v;
  sx_read_status st;
  while ((st = sx_read_next(&r, &v)) == SX_READ_OK) {
  }
  cr_assert_eq(st, SX_READ_ERROR, "[%s] should fail with: %s", src, msg);
  cr_assert(sx_is_string(r.error));
  cr_assert_str_eq(sx_str_data(r.error), msg, "[%s]", src);
  cr_assert_eq(r.incomplete, incomplete, "[%s] incomplete should be %d", src, incomplete);
}

static void expect_error(const char *src, const char *msg, bool incomplete) {
  expect_error_in(src, strlen(src), SX_NIL, msg, incomplete);
}

static int64_t int_of(sx_val v) {
  cr_assert(sx_is_int(v), "not an integer: %s", show(v));
  return sx_int_val(v);
}

static double float_of(sx_val v) {
  cr_assert(sx_is_float(v), "not a float: %s", show(v));
  return sx_float_val(v);
}

static void expect_string(const char *src, const char *bytes, size_t len) {
  sx_val v = read1(src);
  cr_assert(sx_is_string(v), "[%s] is not a string", src);
  cr_assert_eq(sx_str_len(v), len, "[%s] length %zu, want %zu", src, sx_str_len(v), len);
  cr_assert(memcmp(sx_str_data(v), bytes, len) == 0, "[%s] bytes differ", src);
  cr_assert_eq(sx_str_data(v)[len], '\0');
}

static sx_val nth(sx_val l, size_t i) {
  while (i-- > 0) l = sx_cdr(l);
  return l; /* the cell */
}

static void expect_pos(sx_val cell, uint32_t line, uint32_t col) {
  cr_assert(sx_is_cons(cell));
  const sx_cons_pos *p = sx_cons_pos_of(cell);
  cr_assert(p, "cell carries no position");
  cr_assert_eq(p->line, line, "line %u, want %u", p->line, line);
  cr_assert_eq(p->col, col, "col %u, want %u", p->col, col);
}

/* ---- atoms ---------------------------------------------------------------- */

Test(reader, integers) {
  cr_assert_eq(int_of(read1("42")), 42);
  cr_assert_eq(int_of(read1("-3")), -3);
  cr_assert_eq(int_of(read1("+5")), 5);
  cr_assert_eq(int_of(read1("0")), 0);
  cr_assert_eq(int_of(read1("-0")), 0);
  cr_assert_eq(int_of(read1("007")), 7);
  cr_assert_eq(int_of(read1("9223372036854775807")), INT64_MAX);
  cr_assert_eq(int_of(read1("-9223372036854775808")), INT64_MIN);
  cr_assert_eq(int_of(read1("4611686018427387904")), SX_FIXNUM_MAX + 1);
  cr_assert(!sx_is_fixnum(read1("4611686018427387904")), "beyond fixnums is boxed");
  cr_assert_eq(int_of(read1("-4611686018427387905")), SX_FIXNUM_MIN - 1);
  cr_assert(sx_is_fixnum(read1("4611686018427387903")));
}

Test(reader, integer_overflow_is_an_error_naming_it) {
  expect_error("9223372036854775808",
               "<input>:1:1: integer literal 9223372036854775808 out of range (64-bit)", false);
  expect_error("(a -9223372036854775809)",
               "<input>:1:4: integer literal -9223372036854775809 out of range (64-bit)", false);
  expect_error("123456789012345678901234567890123456789012345678901234567890",
               "<input>:1:1: integer literal 1234567890123456789012345678901234567890... out "
               "of range (64-bit)",
               false);
}

Test(reader, floats) {
  cr_assert_eq(float_of(read1("-3.14")), -3.14);
  cr_assert_eq(float_of(read1("1e3")), 1000.0);
  cr_assert_eq(float_of(read1("1E3")), 1000.0);
  cr_assert_eq(float_of(read1("2.5e-3")), 2.5e-3);
  cr_assert_eq(float_of(read1("+1.5e+2")), 150.0);
  cr_assert_eq(float_of(read1(".5")), 0.5);
  cr_assert_eq(float_of(read1("-.5")), -0.5);
  cr_assert_eq(float_of(read1("1.")), 1.0);
  cr_assert_eq(float_of(read1("1.0")), 1.0);
  cr_assert_eq(float_of(read1("0.1")), 0.1);
  double nz = float_of(read1("-0.0"));
  cr_assert(nz == 0 && signbit(nz), "-0.0 keeps its sign");
  cr_assert_eq(float_of(read1("5e-324")), 5e-324);
  cr_assert_eq(float_of(read1("1e-400")), 0.0, "underflow rounds as IEEE does");
  cr_assert_eq(float_of(read1("1.7976931348623157e308")), 1.7976931348623157e308);
}

Test(reader, non_finite_floats) {
  cr_assert(isinf(float_of(read1("+inf.0"))) && float_of(read1("+inf.0")) > 0);
  cr_assert(isinf(float_of(read1("-inf.0"))) && float_of(read1("-inf.0")) < 0);
  cr_assert(isnan(float_of(read1("+nan.0"))));
  cr_assert(isnan(float_of(read1("-nan.0"))));
  cr_assert(sx_is_symbol(read1("inf")));
  cr_assert(sx_is_symbol(read1("+inf")));
}

Test(reader, float_overflow_and_malformed_numbers) {
  expect_error("1e400", "<input>:1:1: float literal 1e400 out of range", false);
  expect_error("-1e999", "<input>:1:1: float literal -1e999 out of range", false);
  expect_error("1abc", "<input>:1:1: malformed number 1abc", false);
  expect_error("1e", "<input>:1:1: malformed number 1e", false);
  expect_error("1.2.3", "<input>:1:1: malformed number 1.2.3", false);
  expect_error("0x10", "<input>:1:1: malformed number 0x10", false);
  expect_error("  -1a", "<input>:1:3: malformed number -1a", false);
  expect_error(".5.", "<input>:1:1: malformed number .5.", false);
  expect_error("1e+", "<input>:1:1: malformed number 1e+", false);
}

Test(reader, number_like_symbols) {
  const char *syms[] = {"-", "+", "...", "->", "-x", ".foo", "+.", "-.", "e1", "inf.0", "1+"};
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    sx_reader r;
    sx_reader_init(&r, syms[i], strlen(syms[i]), SX_NIL);
    sx_val v;
    sx_read_status st = sx_read_next(&r, &v);
    if (strcmp(syms[i], "1+") == 0) {
      cr_assert_eq(st, SX_READ_ERROR, "1+ starts like a number");
      continue;
    }
    cr_assert_eq(st, SX_READ_OK, "%s", syms[i]);
    cr_assert(sx_is_symbol(v), "%s should be a symbol", syms[i]);
    cr_assert_str_eq(sx_str_data(sx_sym_name(v)), syms[i]);
  }
}

Test(reader, parse_number_matches_reader) {
  sx_val v;
  cr_assert(sx_parse_number("42", 2, &v) && sx_int_val(v) == 42);
  cr_assert(sx_parse_number("-2.5", 4, &v) && sx_float_val(v) == -2.5);
  cr_assert(sx_parse_number("+inf.0", 6, &v) && isinf(sx_float_val(v)));
  cr_assert(sx_parse_number("123", 2, &v) && sx_int_val(v) == 12, "respects len");
  cr_assert_not(sx_parse_number("abc", 3, &v));
  cr_assert_not(sx_parse_number("", 0, &v));
  cr_assert_not(sx_parse_number(" 1", 2, &v));
  cr_assert_not(sx_parse_number("1 ", 2, &v));
  cr_assert_not(sx_parse_number("1e999", 5, &v));
  cr_assert_not(sx_parse_number("99999999999999999999", 20, &v));
  cr_assert_not(sx_parse_number("1x", 2, &v));
}

Test(reader, literals) {
  cr_assert_eq(read1("true"), SX_TRUE);
  cr_assert_eq(read1("false"), SX_FALSE);
  cr_assert_eq(read1("nil"), SX_NIL);
  cr_assert(sx_is_symbol(read1("nil?")));
  cr_assert(sx_is_symbol(read1("truex")));
}

Test(reader, symbols) {
  const char *syms[] = {"persist/kv-has?",
                        "set!",
                        "&rest",
                        "call/cc",
                        "->",
                        "a.b",
                        "%x",
                        "<=",
                        "=",
                        "*",
                        "a_b",
                        "λ",
                        "café",
                        "x1",
                        "A-Z"};
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    sx_val v = read1(syms[i]);
    cr_assert(sx_is_symbol(v), "%s should be a symbol", syms[i]);
    cr_assert_str_eq(sx_str_data(sx_sym_name(v)), syms[i]);
    cr_assert_eq(v, sx_symbol_cstr(syms[i]), "symbols are interned");
  }
}

Test(reader, keywords) {
  sx_val k = read1(":name");
  cr_assert(sx_is(k, SX_T_KEYWORD));
  cr_assert_str_eq(sx_str_data(((sx_keyword *)k)->name), "name");
  k = read1(":persist/append");
  cr_assert_str_eq(sx_str_data(((sx_keyword *)k)->name), "persist/append");
  k = read1(":42");
  cr_assert_str_eq(sx_str_data(((sx_keyword *)k)->name), "42");
  expect_error(":", "<input>:1:1: expected a keyword name after ':'", false);
  expect_error("(: x)", "<input>:1:2: expected a keyword name after ':'", false);
  expect_error(":a:b", "<input>:1:3: invalid character ':'", false);
  expect_error("a:b", "<input>:1:2: invalid character ':'", false);
}

Test(reader, invalid_characters) {
  expect_error("#t", "<input>:1:1: invalid character '#'", false);
  expect_error("(a $b)", "<input>:1:4: invalid character '$'", false);
  expect_error("ab@", "<input>:1:3: invalid character '@'", false);
  expect_error("\\", "<input>:1:1: invalid character '\\'", false);
  expect_error_in("(a\0b)", 5, SX_NIL, "<input>:1:3: invalid byte 0x00", false);
  expect_error("\x01", "<input>:1:1: invalid byte 0x01", false);
  expect_error("\x7f", "<input>:1:1: invalid byte 0x7f", false);
  expect_error("a\xff", "<input>:1:2: invalid UTF-8 byte 0xff", false);
  expect_error("\xc3(", "<input>:1:1: invalid UTF-8 byte 0xc3", false);
  expect_error("\xc0\x80", "<input>:1:1: invalid UTF-8 byte 0xc0", false); /* overlong */
  expect_error("\xed\xa0\x80", "<input>:1:1: invalid UTF-8 byte 0xed", false);
}

Test(reader, file_name_in_errors) {
  sx_val f = sx_string_cstr("lib/x.sx");
  expect_error_in("\n  )", 4, f, "lib/x.sx:2:3: unexpected ')'", false);
}

/* ---- strings ---------------------------------------------------------- */

Test(reader, strings) {
  expect_string("\"\"", "", 0);
  expect_string("\"hello\"", "hello", 5);
  expect_string("\"a\\\"b\"", "a\"b", 3);
  expect_string("\"a\\\\b\"", "a\\b", 3);
  expect_string("\"\\n\\t\\r\"", "\n\t\r", 3);
  expect_string("\"line1\nline2\"", "line1\nline2", 11);
  expect_string("\"caf\xc3\xa9\"", "caf\xc3\xa9", 5);
  expect_string("\"raw \xff\xfe bytes\"", "raw \xff\xfe bytes", 12);
  expect_string("\"semi ; colon ( ) { }\"", "semi ; colon ( ) { }", 20);
}

Test(reader, string_with_raw_nul) {
  sx_val v = read_n("\"a\0b\"", 5);
  cr_assert_eq(sx_str_len(v), 3);
  cr_assert(memcmp(sx_str_data(v), "a\0b", 3) == 0);
}

Test(reader, unicode_escapes) {
  expect_string("\"\\u00e9\"", "\xc3\xa9", 2);
  expect_string("\"\\u00E9\"", "\xc3\xa9", 2);
  expect_string("\"\\u0041\"", "A", 1);
  expect_string("\"\\u20AC\"", "\xe2\x82\xac", 3);
  expect_string("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4);
  expect_string("\"\\u0000\"", "\0", 1);
  expect_string("\"x\\u00e9y\"", "x\xc3\xa9y", 4);
}

Test(reader, byte_escapes) {
  expect_string("\"\\x00\"", "\0", 1);
  expect_string("\"\\xff\\xFE\"", "\xff\xfe", 2);
  expect_string("\"\\x41\\x0a\"", "A\n", 2);
  for (int b = 0; b < 256; b++) {
    char src[16];
    snprintf(src, sizeof src, "\"\\x%02x\"", b);
    sx_val v = read1(src);
    cr_assert_eq(sx_str_len(v), 1);
    cr_assert_eq((unsigned char)sx_str_data(v)[0], b);
  }
}

Test(reader, string_errors) {
  expect_error("\"abc", "<input>:1:5: unterminated string starting at 1:1", true);
  expect_error("(x\n  \"ab\ncd", "<input>:3:3: unterminated string starting at 2:3", true);
  expect_error("\"abc\\", "<input>:1:6: unterminated string starting at 1:1", true);
  expect_error("\"abc\\\"", "<input>:1:7: unterminated string starting at 1:1", true);
  expect_error("\"a\\qb\"", "<input>:1:3: unknown escape '\\q' in string", false);
  expect_error_in("\"\\\0\"", 4, SX_NIL, "<input>:1:2: unknown escape (backslash then byte 0x00) in string",
                  false);
  expect_error("\"\\u12\"", "<input>:1:2: invalid \\u escape: expected 4 hex digits", false);
  expect_error("\"\\u12g4\"", "<input>:1:2: invalid \\u escape: expected 4 hex digits", false);
  expect_error("\"\\uD800\"", "<input>:1:2: invalid \\u escape: unpaired surrogate D800", false);
  expect_error("\"\\uD800\\u0041\"", "<input>:1:2: invalid \\u escape: unpaired surrogate D800", false);
  expect_error("\"\\uDC00\"", "<input>:1:2: invalid \\u escape: unpaired surrogate DC00", false);
  expect_error("\"\\x4\"", "<input>:1:2: invalid \\x escape: expected 2 hex digits", false);
  expect_error("\"\\xg0\"", "<input>:1:2: invalid \\x escape: expected 2 hex digits", false);
}

/* ---- comments, whitespace, several forms --------------------------------- */

Test(reader, comments_and_eof) {
  cr_assert_eq(int_of(read1("; a comment\n  42 ; trailing")), 42);
  cr_assert_eq(int_of(read1("\t\r\n\f\v42")), 42);
  const char *empties[] = {"", "   ", "; only a comment", "; c1\n; c2\n", "\n\n"};
  for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
    sx_reader r;
    sx_reader_init(&r, empties[i], strlen(empties[i]), SX_NIL);
    sx_val v;
    cr_assert_eq(sx_read_next(&r, &v), SX_READ_EOF, "[%s]", empties[i]);
  }
  sx_reader r;
  sx_reader_init(&r, NULL, 0, SX_NIL);
  sx_val v;
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_EOF);
}

Test(reader, several_forms) {
  sx_reader r;
  const char *src = "1 (a) \"s\";c\n:k";
  sx_reader_init(&r, src, strlen(src), SX_NIL);
  sx_val v;
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_OK);
  cr_assert_eq(int_of(v), 1);
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_OK);
  cr_assert_str_eq(show(v), "(a)");
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_OK);
  cr_assert(sx_is_string(v));
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_OK);
  cr_assert(sx_is(v, SX_T_KEYWORD));
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_EOF);
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_EOF, "EOF is sticky");
}

Test(reader, adjacent_tokens_split_at_delimiters) {
  sx_val all = sx_read_all("a\"s\"b(c)'d", 10, SX_NIL, NULL);
  cr_assert_str_eq(show(all), "(a \"s\" b (c) (quote d))");
}

Test(reader, read_all) {
  sx_val err = SX_NIL;
  sx_val all = sx_read_all("(define x 1) x ; end", 20, SX_NIL, &err);
  cr_assert_eq(sx_list_length(all), 2);
  cr_assert_str_eq(show(all), "((define x 1) x)");
  cr_assert_eq(sx_read_all("  ", 2, SX_NIL, &err), SX_EMPTY);
  cr_assert_eq(sx_read_all("(a", 2, sx_string_cstr("f.sx"), &err), SX_UNDEF);
  cr_assert_str_eq(sx_str_data(err), "f.sx:1:3: unclosed '(' opened at 1:1");
  cr_assert_eq(sx_read_all(")", 1, SX_NIL, NULL), SX_UNDEF, "error may be NULL");
}

/* ---- lists -------------------------------------------------------------- */

Test(reader, lists) {
  cr_assert_eq(read1("()"), SX_EMPTY);
  cr_assert_eq(read1("( )"), SX_EMPTY);
  cr_assert_eq(read1("[]"), SX_EMPTY);
  cr_assert_str_eq(show(read1("(1 2 3)")), "(1 2 3)");
  cr_assert_str_eq(show(read1("(a (b (c)) () d)")), "(a (b (c)) () d)");
  cr_assert_str_eq(show(read1("[1 [2] (3)]")), "(1 (2) (3))");
  cr_assert_str_eq(show(read1("(let [(x 1)] x)")), "(let ((x 1)) x)");
  cr_assert_eq(sx_list_length(read1("(1 2 3)")), 3);
}

Test(reader, bracket_errors) {
  expect_error(")", "<input>:1:1: unexpected ')'", false);
  expect_error("(a))", "<input>:1:4: unexpected ')'", false);
  expect_error("]", "<input>:1:1: unexpected ']'", false);
  expect_error("  }", "<input>:1:3: unexpected '}'", false);
  expect_error("(1 2]", "<input>:1:5: mismatched ']': expected ')' to close '(' opened at 1:1", false);
  expect_error("[1 2)", "<input>:1:5: mismatched ')': expected ']' to close '[' opened at 1:1", false);
  expect_error("{:a 1)", "<input>:1:6: mismatched ')': expected '}' to close '{' opened at 1:1", false);
  expect_error("(a\n (b", "<input>:2:4: unclosed '(' opened at 2:2", true);
  expect_error("[1 2", "<input>:1:5: unclosed '[' opened at 1:1", true);
  expect_error("(a ; comment)", "<input>:1:14: unclosed '(' opened at 1:1", true);
}

Test(reader, list_positions) {
  sx_val file = sx_string_cstr("pos.sx");
  const char *src = "; header\n(define (f x)\n  (g x\t\"\xc3\xa9\" y))";
  sx_val err = SX_NIL;
  sx_val all = sx_read_all(src, strlen(src), file, &err);
  cr_assert_neq(all, SX_UNDEF);
  sx_val form = sx_car(all);
  expect_pos(form, 2, 1); /* '(' of (define ...) */
  cr_assert_eq(sx_cons_pos_of(form)->file, file);
  expect_pos(nth(form, 1), 2, 9);                  /* (f x) starts at 2:9 */
  expect_pos(sx_car(nth(form, 1)), 2, 9);          /* its own first cell */
  expect_pos(nth(sx_car(nth(form, 1)), 1), 2, 12); /* x */
  sx_val body = sx_car(nth(form, 2));
  expect_pos(body, 3, 3);
  expect_pos(nth(body, 1), 3, 6);  /* x */
  expect_pos(nth(body, 2), 3, 8);  /* "é" after a tab */
  expect_pos(nth(body, 3), 3, 12); /* y: é is one column */
}

/* Columns count characters, across escapes, multi-byte symbols and a
 * string that spans lines. */
Test(reader, positions_after_escapes_and_wide_symbols) {
  const char *src = "(a \"x\\\"\xc3\xa9\\n\ny\" \xc3\xa9t\xc3\xa9 b)";
  sx_val err = SX_NIL;
  sx_val all = sx_read_all(src, strlen(src), SX_NIL, &err);
  cr_assert_neq(all, SX_UNDEF);
  sx_val form = sx_car(all);
  cr_assert_str_eq(sx_str_data(sx_car(sx_cdr(form))), "x\"\xc3\xa9\n\ny");
  expect_pos(nth(form, 1), 1, 4); /* the string */
  expect_pos(nth(form, 2), 2, 4); /* été, after y" and a space */
  expect_pos(nth(form, 3), 2, 8); /* b: été is three columns */
}

Test(reader, position_after_crlf_and_nil_file) {
  sx_val v = read1("\r\n\r\n  (x)");
  expect_pos(v, 3, 3);
  cr_assert_eq(sx_cons_pos_of(v)->file, SX_NIL);
}

/* ---- quote sugar ---------------------------------------------------------- */

Test(reader, quote_sugar) {
  cr_assert_str_eq(show(read1("'x")), "(quote x)");
  cr_assert_str_eq(show(read1("`x")), "(quasiquote x)");
  cr_assert_str_eq(show(read1(",x")), "(unquote x)");
  cr_assert_str_eq(show(read1(",@x")), "(unquote-splicing x)");
  cr_assert_str_eq(show(read1("'(1 2)")), "(quote (1 2))");
  cr_assert_str_eq(show(read1("''x")), "(quote (quote x))");
  cr_assert_str_eq(show(read1("`(a ,b ,@c)")), "(quasiquote (a (unquote b) (unquote-splicing c)))");
  cr_assert_str_eq(show(read1("' ; comment\n x")), "(quote x)");
  cr_assert_str_eq(show(read1("'()")), "(quote ())");
  cr_assert_str_eq(show(read1("'{:a 1}")), "(quote {:a 1})");
  sx_val q = read1("'x");
  cr_assert_eq(sx_car(q), sx_symbol_cstr("quote"));
  cr_assert_eq(sx_car(sx_cdr(q)), sx_symbol_cstr("x"));
  cr_assert_eq(sx_cdr(sx_cdr(q)), SX_EMPTY);
}

Test(reader, quote_positions) {
  sx_val v = read1("(a\n  'b)");
  sx_val q = sx_car(nth(v, 1));
  expect_pos(nth(v, 1), 2, 3); /* cell of the quoted element */
  expect_pos(q, 2, 3);         /* (quote b) at the ' */
  expect_pos(nth(q, 1), 2, 4); /* b */
}

Test(reader, quote_errors) {
  expect_error("'", "<input>:1:2: expected a form after ' at 1:1", true);
  expect_error("(a `", "<input>:1:5: expected a form after ` at 1:4", true);
  expect_error(",@", "<input>:1:3: expected a form after ,@ at 1:1", true);
  expect_error("'  ; c\n", "<input>:2:1: expected a form after ' at 1:1", true);
  expect_error("(a ')", "<input>:1:5: expected a form after ' at 1:4, found ')'", false);
  expect_error("(a ,])", "<input>:1:5: expected a form after , at 1:4, found ']'", false);
}

/* ---- dict literals -------------------------------------------------------- */

Test(reader, dict_literals) {
  sx_val d = read1("{:a 1 \"b c\" (x y) :n nil}");
  cr_assert(sx_is_dict(d));
  cr_assert_eq(sx_dict_count(d), 3);
  cr_assert_eq(int_of(sx_dict_get(d, sx_string_cstr("a"), SX_UNDEF)), 1);
  cr_assert_str_eq(show(sx_dict_get(d, sx_string_cstr("b c"), SX_UNDEF)), "(x y)");
  cr_assert_eq(sx_dict_get(d, sx_string_cstr("n"), SX_UNDEF), SX_NIL);
  sx_val e = read1("{}");
  cr_assert(sx_is_dict(e));
  cr_assert_eq(sx_dict_count(e), 0);
  /* values are unevaluated forms */
  sx_val code = read1("{:op \"persist/append\" :args (list stream event)}");
  cr_assert_str_eq(show(code), "{:args (list stream event) :op \"persist/append\"}");
  sx_val nested = read1("{:a {:b [1 2]}}");
  cr_assert_str_eq(show(nested), "{:a {:b (1 2)}}");
}

/* A dict literal with an expression key reads as (dict-literal k v ...),
 * every key and value kept in order, for the analyser to evaluate. */
Test(reader, dict_expression_keys) {
  cr_assert_str_eq(show(read1("{x 2}")), "(dict-literal x 2)");
  cr_assert_str_eq(show(read1("{:a 1 (f y) [2] \"s\" 3}")), "(dict-literal :a 1 (f y) (2) \"s\" 3)");
  /* duplicate literal keys are still caught; computed ones cannot be */
  expect_error("{k 1 :a 2 :a 3}", "<input>:1:11: duplicate key \"a\" in dict literal", false);
}

Test(reader, dict_errors) {
  expect_error("{:a}", "<input>:1:4: dict literal opened at 1:1 has a key without a value", false);
  expect_error("{:a 1 :b}", "<input>:1:9: dict literal opened at 1:1 has a key without a value", false);
  expect_error("{1 2}", "<input>:1:2: dict key must be a keyword, a string or an expression (got integer)",
               false);
  expect_error("{nil 2}", "<input>:1:2: dict key must be a keyword, a string or an expression (got nil)",
               false);
  expect_error("{x}", "<input>:1:3: dict literal opened at 1:1 has a key without a value", false);
  expect_error("{:a 1 :a 2}", "<input>:1:7: duplicate key \"a\" in dict literal", false);
  expect_error("{:a 1 \"a\" 2}", "<input>:1:7: duplicate key \"a\" in dict literal", false);
  expect_error("{:a 1", "<input>:1:6: unclosed '{' opened at 1:1", true);
  expect_error("{:a", "<input>:1:4: unclosed '{' opened at 1:1", true);
}

/* ---- incomplete flag -------------------------------------------------------- */

Test(reader, incomplete_only_when_input_ends_inside_a_form) {
  const char *incomplete[] = {"(",     "(1 2", "[",  "{",    "{:a 1",  "\"abc",    "'",
                              "(a 'b", "`(",   ",@", "(\"a", "(a ; )", "((((a)))", "\"\\q"};
  for (size_t i = 0; i < sizeof incomplete / sizeof *incomplete; i++) {
    sx_reader r;
    sx_reader_init(&r, incomplete[i], strlen(incomplete[i]), SX_NIL);
    sx_val v;
    cr_assert_eq(sx_read_next(&r, &v), SX_READ_ERROR, "[%s]", incomplete[i]);
    cr_assert(r.incomplete, "[%s] should be incomplete", incomplete[i]);
  }
  const char *broken[] = {
      ")", "(1]", "')", ":", "#", "1abc", "(a #", "{1 2", "\"\\q\"", "{:a 1 :a", "9999999999999999999999"};
  for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
    sx_reader r;
    sx_reader_init(&r, broken[i], strlen(broken[i]), SX_NIL);
    sx_val v;
    sx_read_status st;
    while ((st = sx_read_next(&r, &v)) == SX_READ_OK) {
    }
    cr_assert_eq(st, SX_READ_ERROR, "[%s]", broken[i]);
    cr_assert_not(r.incomplete, "[%s] is wrong, not incomplete: %s", broken[i], sx_str_data(r.error));
  }
}

Test(reader, incomplete_then_continued) {
  const char *line1 = "(define (f x)";
  sx_reader r;
  sx_reader_init(&r, line1, strlen(line1), SX_NIL);
  sx_val v;
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_ERROR);
  cr_assert(r.incomplete);
  const char *both = "(define (f x)\n  (* x 2))";
  cr_assert_str_eq(show(read1(both)), "(define (f x) (* x 2))");
}

/* ---- depth limit, size ------------------------------------------------------ */

static char *nested(size_t depth, const char *open, const char *inner, const char *close) {
  size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
  char *s = malloc(depth * (lo + lc) + li + 1), *p = s;
  for (size_t i = 0; i < depth; i++, p += lo) memcpy(p, open, lo);
  memcpy(p, inner, li);
  p += li;
  for (size_t i = 0; i < depth; i++, p += lc) memcpy(p, close, lc);
  *p = '\0';
  return s;
}

Test(reader, depth_limit) {
  char *ok = nested(SX_READ_MAX_DEPTH, "(", "x", ")");
  sx_val v = read1(ok);
  size_t depth = 0;
  while (sx_is_cons(v)) {
    v = sx_car(v);
    depth++;
  }
  cr_assert_eq(depth, SX_READ_MAX_DEPTH);
  cr_assert_eq(v, sx_symbol_cstr("x"));
  free(ok);
  char *deep = nested(SX_READ_MAX_DEPTH + 1, "(", "x", ")");
  expect_error(deep, "<input>:1:10001: nesting deeper than 10000 levels", false);
  free(deep);
  char *quotes = nested(SX_READ_MAX_DEPTH + 1, "'", "x", "");
  expect_error(quotes, "<input>:1:10001: nesting deeper than 10000 levels", false);
  free(quotes);
  char *dicts = nested(SX_READ_MAX_DEPTH + 5, "{:a ", "1", "}");
  expect_error(dicts, "<input>:1:40001: nesting deeper than 10000 levels", false);
  free(dicts);
  char *huge = nested(1000000, "[", "", "]"); /* far too deep: error, no crash */
  sx_reader r;
  sx_reader_init(&r, huge, strlen(huge), SX_NIL);
  cr_assert_eq(sx_read_next(&r, &v), SX_READ_ERROR);
  free(huge);
}

Test(reader, long_list) {
  size_t n = 1000000;
  char *s = malloc(2 * n + 3), *p = s;
  *p++ = '(';
  for (size_t i = 0; i < n; i++) {
    *p++ = (char)('0' + i % 10);
    *p++ = ' ';
  }
  *p++ = ')';
  *p = '\0';
  sx_val v = read1(s);
  cr_assert_eq(sx_list_length(v), n);
  cr_assert_eq(int_of(sx_car(nth(v, 123457))), 7);
  free(s);
}

/* ---- robustness ------------------------------------------------------------ */

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint64_t next_rand(void) { /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}

/* Read everything in buf[0..n); the reader must stop cleanly. */
static void read_all_forms(const char *buf, size_t n, int iteration) {
  sx_reader r;
  sx_reader_init(&r, buf, n, SX_NIL);
  sx_val v;
  sx_read_status st;
  size_t forms = 0;
  while ((st = sx_read_next(&r, &v)) == SX_READ_OK) {
    cr_assert(++forms <= n, "iteration %d: more forms than bytes", iteration);
    cr_assert_leq(r.pos, n);
  }
  cr_assert(st == SX_READ_EOF || st == SX_READ_ERROR, "iteration %d", iteration);
  if (st == SX_READ_ERROR) {
    cr_assert(sx_is_string(r.error), "iteration %d", iteration);
    cr_assert(strncmp(sx_str_data(r.error), "<input>:", 8) == 0, "iteration %d: %s", iteration,
              sx_str_data(r.error));
  }
  cr_assert_leq(r.pos, n);
}

Test(reader, random_bytes_never_crash) {
  static const char syntax[] = "()[]{}\"\\';`,@:.-+e0123456789 \n\tabx#u";
  enum { N = 60000 };
  for (int it = 0; it < N; it++) {
    size_t n = next_rand() % 48;
    char *buf = malloc(n ? n : 1); /* exact size: ASan catches overreads */
    for (size_t i = 0; i < n; i++) {
      uint64_t x = next_rand();
      buf[i] = (x & 3) ? syntax[(x >> 8) % (sizeof syntax - 1)] : (char)(x >> 16);
    }
    read_all_forms(buf, n, it);
    free(buf);
  }
}

Test(reader, mutated_inputs_never_crash) {
  static const char *corpus[] = {
      "(define (f x) (if (< x 1) 'done (f (- x 1))))",
      "{:op \"persist/append\" :args (list stream {:seq 1 :at 2.5e3})}",
      "`(a ,b ,@(c d) \"s\\u00e9\\x00\\n\") ; comment\n[1 -2 .5 +inf.0]",
      "(let ((s \"caf\xc3\xa9\")) (str s :k nil true false -9223372036854775808))",
  };
  enum { N = 50000 };
  for (int it = 0; it < N; it++) {
    const char *base = corpus[next_rand() % 4];
    size_t n = strlen(base);
    char *buf = malloc(n + 8);
    memcpy(buf, base, n);
    int edits = 1 + (int)(next_rand() % 4);
    for (int e = 0; e < edits; e++) {
      uint64_t x = next_rand();
      size_t at = (x >> 8) % (n ? n : 1);
      switch (x % 4) {
        case 0: buf[at] = (char)(x >> 32); break; /* overwrite */
        case 1:
          if (n > 0) {
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
          }
          break;
        case 2:
          if (n < strlen(base) + 7) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = "()\"\\'{}"[x % 7];
            n++;
          }
          break;
        default: n = at; break; /* truncate */
      }
    }
    char *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    read_all_forms(exact, n, it);
    free(exact);
    free(buf);
  }
}
