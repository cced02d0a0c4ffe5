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
 */
#ifndef SX_READ_H
#define SX_READ_H

#include "sx_value.h"

typedef enum sx_read_status {
  SX_READ_OK,    /* *out holds the next form */
  SX_READ_EOF,   /* no more forms (only whitespace/comments remained) */
  SX_READ_ERROR  /* r->error holds the message; r->incomplete tells whether
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
sx_read_status sx_read_next(sx_reader *r, sx_val *out);

/* Read every form of src into a list. On error returns SX_UNDEF and stores
 * the message in *error (a string). */
sx_val sx_read_all(const char *src, size_t len, sx_val file, sx_val *error);

/* Parse a number token exactly as the reader does; false if not a number. */
bool sx_parse_number(const char *s, size_t len, sx_val *out);

#endif
