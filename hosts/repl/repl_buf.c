/* repl_buf.c — the REPL's growable byte buffer (see repl_buf.h). */
#include "repl_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL after them. */
static void reserve(repl_buf *b, size_t n) {
  if (b->len + n + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + n + 1) cap *= 2;
  b->data = realloc(b->data, cap);
  if (!b->data) abort();
  b->cap = cap;
}

void repl_buf_put(repl_buf *b, const void *bytes, size_t n) {
  reserve(b, n);
  if (n) memcpy(b->data + b->len, bytes, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void repl_buf_putc(repl_buf *b, char c) { repl_buf_put(b, &c, 1); }

void repl_buf_puts(repl_buf *b, const char *s) { repl_buf_put(b, s, strlen(s)); }

void repl_buf_printf(repl_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void repl_buf_reset(repl_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void repl_buf_free(repl_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
