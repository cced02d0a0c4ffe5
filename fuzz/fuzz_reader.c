/* fuzz_reader.c — libFuzzer target: the reader and printer round trip.
 * Every form the input reads to is printed and read back: the second read
 * must give exactly one form that prints to the same bytes (the printer's
 * promise: reading a print gives an equal? value, floats bit-exact). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sx_buf.h"
#include "sx_print.h"
#include "sx_read.h"
#include "sx_value.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  sx_gc_init();
  return 0;
}

static void fail(const char *what, const sx_buf *a, const sx_buf *b) {
  fprintf(stderr, "fuzz_reader: %s\n  first:  %.*s\n  second: %.*s\n", what, (int)a->len, a->data,
          b ? (int)b->len : 0, b ? b->data : "");
  abort();
}

/* Print f, read the print back, print that: the same bytes, one form. */
static void round_trip(sx_val f) {
  sx_buf a = SX_BUF_INIT, b = SX_BUF_INIT;
  sx_print(&a, f);
  sx_val err = SX_NIL, back = sx_read_all(a.data ? a.data : "", a.len, SX_NIL, &err);
  if (back == SX_UNDEF) fail("the print does not read back", &a, NULL);
  if (!sx_is_cons(back) || sx_is_cons(sx_cdr(back))) fail("the print reads as other than one form", &a, NULL);
  sx_print(&b, sx_car(back));
  if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) fail("the reprint differs", &a, &b);
  sx_buf_free(&a);
  sx_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sx_val err = SX_NIL, forms = sx_read_all((const char *)data, size, SX_NIL, &err);
  if (forms == SX_UNDEF) return 0;
  for (sx_val l = forms; sx_is_cons(l); l = sx_cdr(l)) round_trip(sx_car(l));
  return 0;
}
