/* sx_print.h — the SX printer: SX values to text.
 *
 * sx_print writes the readable form: reading it back gives an equal? value
 * for every data value (nil, booleans, numbers, strings, symbols, keywords,
 * lists, dicts), floats bit-exact, dict keys in byte order. Functions print
 * as <fn name>, errors as <error "message">.
 *
 * Printed forms:
 *   nil true false  42 -7  3.5 1.0 -0.0 1e21 5e-324 +inf.0 -inf.0 +nan.0
 *   "str"       bytes 0x20..0x7E print as themselves except " and \ which
 *               print as \" and \\; newline, tab and carriage return print
 *               as \n \t \r; every well-formed multi-byte UTF-8 character
 *               prints as itself; every other byte (controls, NUL, DEL,
 *               bytes of invalid UTF-8) prints as \xHH (lowercase hex), which
 *               the reader turns back into that exact byte.
 *   (1 2 3)  ()  (1 . 2) for a cons whose cdr is not a list (the reader
 *               has no dotted pairs, so such a value does not read back)
 *   {:a 1 "has space" 2}  keys in byte order; a key prints as a keyword
 *               when sx_is_plain_identifier, otherwise as a string
 *   :name       keywords; symbols print bare (their name as it is)
 *   <fn name> <fn>  closures and primitives (anonymous: <fn>)
 *   <macro name> <macro>  macros
 *   <error "message">  error values
 *   <internal>  anything else (continuations, environments, SX_UNDEF)
 *
 * The printer is iterative (explicit stack on the GC heap), so neither a
 * long list nor deep nesting can overflow the C stack; it writes straight
 * into the sx_buf, allocating only a dict iterator's scratch per dict.
 *
 * sx_display writes what (str x) produces: strings without quotes, nil as
 * nothing, everything else as sx_print.
 */
#ifndef SX_PRINT_H
#define SX_PRINT_H

#include "sx_buf.h"
#include "sx_value.h"

void sx_print(sx_buf *b, sx_val v);
void sx_display(sx_buf *b, sx_val v);
sx_val sx_print_to_string(sx_val v);   /* GC string of sx_print */
sx_val sx_display_to_string(sx_val v); /* GC string of sx_display */

/* Shortest text that reads back as exactly d (always with '.', 'e', or an
 * inf/nan spelling so it reads back as a float). Returns length written;
 * buf must hold at least 32 bytes. Layout (as JavaScript does it): plain
 * decimal when the decimal exponent is in [-6, 21) ("0.1", "0.000001",
 * "123456789.0", "100000000000000000000.0"), otherwise "d.ddde[-]X" with
 * no '+' and no leading zeros in X ("1e21", "1e-7", "1.5e-300").
 * Any NaN prints as +nan.0 (its sign and payload are not kept). */
int sx_format_float(char *buf, double d);

/* True if s can be printed bare as a keyword or symbol name: non-empty,
 * only symbol characters (see sx_read.h), and not a number or anything the
 * reader would take for one. Defined in sx_read.c with the token rules. */
bool sx_is_plain_identifier(const char *s, size_t len);

#endif
