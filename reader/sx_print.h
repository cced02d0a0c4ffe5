/* sx_print.h — the SX printer: SX values to text.
 *
 * sx_print writes the readable form: reading it back gives an equal? value
 * for every data value (nil, booleans, numbers, strings, symbols, keywords,
 * lists, dicts), floats bit-exact, dict keys in byte order. Functions print
 * as <fn name>, errors as <error "message">.
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
 * buf must hold at least 32 bytes. */
int sx_format_float(char *buf, double d);

/* True if s can be printed bare as a keyword or symbol name. */
bool sx_is_plain_identifier(const char *s, size_t len);

#endif
