/* repl_buf.h — a growable byte buffer for the REPL's text (malloc-backed,
 * explicitly freed, always NUL-terminated after its len bytes). */
#ifndef REPL_BUF_H
#define REPL_BUF_H

#include <stddef.h>

typedef struct repl_buf {
  char *data;
  size_t len, cap;
} repl_buf;

#define REPL_BUF_INIT                                                                                        \
  { NULL, 0, 0 }

void repl_buf_put(repl_buf *b, const void *bytes, size_t n);
void repl_buf_putc(repl_buf *b, char c);
void repl_buf_puts(repl_buf *b, const char *s);
void repl_buf_printf(repl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void repl_buf_reset(repl_buf *b); /* len = 0, keeps the memory */
void repl_buf_free(repl_buf *b);

#endif
