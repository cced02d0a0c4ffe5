/* repl_pretty.h — the REPL's pretty-printer: SX values laid out for a
 * person reading a terminal.
 *
 * A list or dict that fits in the remaining width prints on one line, as
 * sxapi_print would print it; one that does not breaks with one element (or
 * one key and its value) per line, nested ones indented under their
 * opening bracket; a list of atoms fills lines instead:
 *
 *   ({:seq 1 :stream "orders" :type "placed" :at 1 :data {:amount 250 :id 1}}
 *    {:seq 2 :stream "orders" :type "placed" :at 2 :data {:amount 120 :id 2}})
 *
 * Events (dicts with :seq, :stream, :type and :data) list their keys in the
 * order a person reads them — seq, stream, type, at, data, then any others
 * — instead of byte order, and when one must break, its seq, stream, type
 * and at share a header line above the data. The text still reads back as
 * an equal? value.
 * Long lists and dicts can be cut after max_items entries ("... N more").
 * With colour, atoms are wrapped in ANSI SGR codes by type.
 */
#ifndef REPL_PRETTY_H
#define REPL_PRETTY_H

#include "repl_buf.h"
#include "sx.h"

typedef struct repl_pretty_opts {
  sxapi_vm *vm;     /* inspects and prints values with it */
  int width;        /* columns available; <= 0: everything on one line */
  bool colour;      /* ANSI colours */
  size_t max_items; /* entries of one list or dict shown; 0: all of them */
} repl_pretty_opts;

/* Append v laid out for o (no trailing newline). */
void repl_pretty(repl_buf *b, sxapi_value v, const repl_pretty_opts *o);
/* Append v on one line, cut to at most width columns (ending in "...")
 * when longer; never coloured. For table cells and previews. */
void repl_pretty_line(sxapi_vm *vm, repl_buf *b, sxapi_value v, int width);
/* Does v look like a persist event? */
bool repl_is_event(sxapi_vm *vm, sxapi_value v);
/* Display columns of s[0..len) (UTF-8 characters, not bytes). */
size_t repl_columns(const char *s, size_t len);

/* SGR codes used for colour (also by the REPL for its own messages). */
#define REPL_SGR_RESET "\033[0m"
#define REPL_SGR_ERROR "\033[31m"
#define REPL_SGR_DIM "\033[2m"
#define REPL_SGR_BOLD "\033[1m"

#endif
