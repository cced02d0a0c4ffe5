/* sx_buf.c — growable byte buffer (see sx_buf.h). */
#include "sx_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sx_buf_reserve(sx_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) abort();
  b->data = p;
  b->cap = cap;
}

void sx_buf_puts(sx_buf *b, const char *s) { sx_buf_put(b, s, strlen(s)); }

void sx_buf_vprintf(sx_buf *b, const char *fmt, va_list ap) {
  char small[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if ((size_t)n < sizeof small) {
    sx_buf_put(b, small, (size_t)n);
  } else {
    sx_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

void sx_buf_printf(sx_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sx_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void sx_buf_reset(sx_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void sx_buf_free(sx_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
