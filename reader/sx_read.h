/* sx_read.h — the SX reader: source text to SX data.
 *
 * The reader turns UTF-8 source into SX values: integers, floats, strings,
 * symbols, keywords, lists (cons cells carrying their source position) and
 * dicts. Quote sugar becomes (quote x), (quasiquote x), (unquote x),
 * (unquote-splicing x). A dict literal {k v ...} becomes a dict whose keys
 * are strings (a keyword key :k gives "k") and whose values are the read
 * forms, unevaluated; the analyser evaluates them when the dict is code.
 *
 * The reader never reads outside [src, src+len) and never crashes, whatever
 * the input; every syntax error names file:line:col and what was expected.
 * It is iterative (an explicit frame stack, not C recursion), so deep input
 * costs heap, and nesting is bounded by SX_READ_MAX_DEPTH.
 *
 * Syntax accepted (SX-LANGUAGE.md "Reader", plus our decisions):
 *  - whitespace: space \t \n \r \f \v; comments: ';' to end of line.
 *  - delimiters end a token: whitespace ( ) [ ] { } " ; ' ` ,
 *  - integers: [+-]?digits, 64-bit; a literal outside int64 is an error.
 *  - floats: [+-]? (digits '.' digits* | '.' digits | digits) with an
 *    optional exponent [eE][+-]?digits, and at least a '.' or an exponent:
 *    3.5 -3.14 1e3 .5 1. 2.5E-3. Also +inf.0 -inf.0 +nan.0 -nan.0.
 *    A finite literal too large for a double is an error (never silently
 *    infinity); one too small rounds as IEEE does (to a subnormal or 0).
 *    A token that starts like a number (a digit, or [+-.] then a digit) but
 *    is not one, e.g. 1abc or 0x10, is an error, not a symbol.
 *    Floats are parsed with strtod, so LC_NUMERIC must stay "C".
 *  - strings "...": raw bytes are taken as they are (newlines, any byte
 *    including invalid UTF-8) except '\' escapes:
 *      \"  \\  \n  \t  \r     the usual characters
 *      \uXXXX                 exactly 4 hex digits: that code point as
 *                             UTF-8; a surrogate pair \uD83D\uDE00 gives one
 *                             4-byte character; an unpaired surrogate is an
 *                             error; \u0000 gives a single NUL byte
 *      \xHH                   exactly 2 hex digits: that one raw byte
 *                             (0..255), whatever it is — the printer uses
 *                             this for every byte that is not printable
 *                             ASCII nor part of a valid UTF-8 character,
 *                             so every byte string round-trips exactly
 *    any other escape is an error.
 *  - keywords: ':' followed by a name (the rest of the token, non-empty):
 *    :name reads as sx_keyword_new("name"). :42 is the keyword "42".
 *  - symbols: letters, digits, / ? ! - + * < > = & . _ % and any valid
 *    non-ASCII UTF-8 character (we do not classify Unicode letters; every
 *    well-formed multi-byte character is accepted). Other ASCII characters
 *    (# $ ^ ~ | @ \ : inside a token, control bytes, NUL) and invalid
 *    UTF-8 bytes outside strings are errors.
 *  - true false nil read as SX_TRUE SX_FALSE SX_NIL.
 *  - lists ( ... ); square brackets [ ... ] read exactly like ( ... ) and
 *    must be closed by the same kind of bracket. () and [] read as SX_EMPTY.
 *  - dict literals { k v ... }: each key must read as a keyword or a
 *    string and becomes a string key; an odd number of forms, another kind
 *    of key, or a repeated key is an error.
 *  - quote sugar: 'x `x ,x ,@x give (quote x) (quasiquote x) (unquote x)
 *    (unquote-splicing x).
 *
 * Positions (line and column are 1-based; a column counts UTF-8
 * characters, a tab counts as one column): every cons cell the reader
 * builds is an sx_cons_pos (tag SX_TAG_CONS_POS; see sx_cons_pos_of). The FIRST cell of a list holds
 * the position of its opening bracket; every later cell holds the position
 * where its own element starts (so an analyser can point at the exact
 * argument). The (quote x) list made by sugar has the position of the
 * quote character in its first cell. Dicts carry no position. The list
 * returned by sx_read_all is made of plain cells.
 *
 * Errors are strings "FILE:LINE:COL: message", FILE being "<input>" when
 * the reader's file is SX_NIL, LINE:COL the point where the error was
 * found (for unterminated forms: where the input ended). A message names
 * a position of its own only when it is another one (where a bracket was
 * opened, a string started, a quote stood), so no position appears twice:
 *   unterminated string starting at L:C            (incomplete)
 *   unclosed '(' opened at L:C                     (incomplete; also [ {)
 *   expected a form after ' at L:C                 (incomplete at the end
 *                                     of input; also ` , ,@)
 *   expected a form after ' at L:C, found ')'      (not incomplete)
 *   unexpected ')'                                 (nothing open)
 *   mismatched ']': expected ')' to close '(' opened at L:C
 *   integer literal TOKEN out of range (64-bit)
 *   float literal TOKEN out of range
 *   malformed number TOKEN
 *   invalid character '#' / invalid byte 0x00 / invalid UTF-8 byte 0xff
 *   expected a keyword name after ':'
 *   unknown escape '\q' in string
 *   invalid \u escape: expected 4 hex digits
 *   invalid \u escape: unpaired surrogate D800
 *   invalid \x escape: expected 2 hex digits
 *   dict key must be a keyword, a string or an expression (got TYPE)
 *   duplicate key "k" in dict literal
 *   dict literal opened at L:C has a key without a value
 *   nesting deeper than 10000 levels
 * (A long TOKEN is cut to its first 40 bytes followed by "...".)
 */
#ifndef SX_READ_H
#define SX_READ_H

#include "sx_value.h"

/* Open brackets plus pending quote sugar; deeper input is an error. */
#define SX_READ_MAX_DEPTH 10000

typedef enum sx_read_status {
  SX_READ_OK,   /* *out holds the next form */
  SX_READ_EOF,  /* no more forms (only whitespace/comments remained) */
  SX_READ_ERROR /* r->error holds the message; r->incomplete tells whether
                    the input merely ended too early (REPL continuation) */
} sx_read_status;

typedef struct sx_reader {
  const char *src;
  size_t len, pos;
  uint32_t line, col; /* 1-based position of src[pos] */
  sx_val file;        /* string naming the source, or SX_NIL */
  sx_val error;       /* string "file:line:col: message" after SX_READ_ERROR */
  bool incomplete;    /* the error is "input ended inside a form" */
  int depth;          /* nesting depth (bounded: deep input is an error) */
} sx_reader;

/* file may be SX_NIL; it is used only in error messages and positions. */
void sx_reader_init(sx_reader *r, const char *src, size_t len, sx_val file);
/* Reads the next form. After SX_READ_ERROR the reader should be discarded
 * (its position is where the error was found). */
sx_read_status sx_read_next(sx_reader *r, sx_val *out);

/* Read every form of src into a list. On error returns SX_UNDEF and stores
 * the message in *error (a string) when error is not NULL. */
sx_val sx_read_all(const char *src, size_t len, sx_val file, sx_val *error);

/* Parse a number token exactly as the reader does; false if not a number
 * (including malformed or out-of-range literals). */
bool sx_parse_number(const char *s, size_t len, sx_val *out);

/* Length (2..4) of the well-formed multi-byte UTF-8 character at s (no
 * overlongs, no surrogates, at most U+10FFFF), or 0 when s[0] is ASCII or
 * does not begin one. Reads at most n bytes. */
size_t sx_utf8_char_len(const char *s, size_t n);

/* Where to cut s[0..n) to keep at most max bytes without splitting a
 * UTF-8 character: max, or a little less when s[max] continues one. */
size_t sx_utf8_cut(const char *s, size_t n, size_t max);

#endif
