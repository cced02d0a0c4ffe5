/* sx_buf.h — a growable byte buffer (malloc-backed, explicitly freed),
 * used by the printer, the store codec and the protocol writers. */
#ifndef SX_BUF_H
#define SX_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct sx_buf {
  char *data; /* always NUL-terminated when non-NULL */
  size_t len, cap;
} sx_buf;

#define SX_BUF_INIT                                                                                          \
  { NULL, 0, 0 }

void sx_buf_reserve(sx_buf *b, size_t extra);

/* Appends (inline: the encoder and the printer call them per byte or
 * token; only growing leaves the line). */
static inline void sx_buf_put(sx_buf *b, const void *bytes, size_t n) {
  if (b->len + n + 1 > b->cap) sx_buf_reserve(b, n);
  if (n) memcpy(b->data + b->len, bytes, n);
  b->len += n;
  b->data[b->len] = '\0';
}
static inline void sx_buf_putc(sx_buf *b, char c) {
  if (b->len + 2 > b->cap) sx_buf_reserve(b, 1);
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}
void sx_buf_puts(sx_buf *b, const char *s);
void sx_buf_printf(sx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sx_buf_vprintf(sx_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void sx_buf_reset(sx_buf *b); /* len = 0, keeps the memory */
void sx_buf_free(sx_buf *b);

#endif
