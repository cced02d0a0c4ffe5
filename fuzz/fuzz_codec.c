/* fuzz_codec.c — libFuzzer target: the store's value codec. For any bytes,
 * store_validate and store_decode agree (both accept, consuming the same
 * length, or both refuse); a decoded value encodes, the encoding decodes
 * to a value that encodes to the very same bytes (canonical, floats
 * bit-exact), and it validates to its own length. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "sx_buf.h"
#include "sx_value.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  sx_gc_init();
  return 0;
}

static void fail(const char *what) {
  fprintf(stderr, "fuzz_codec: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t used_v = 0, used_d = 0;
  sx_val err = SX_NIL, v = SX_NIL;
  int rv = store_validate(data, size, &used_v, &err);
  int rd = store_decode(data, size, &used_d, &v, &err);
  if ((rv == 0) != (rd == 0)) fail("store_validate and store_decode disagree");
  if (rd != 0) return 0;
  if (used_v != used_d || used_d > size) fail("validate and decode consume different lengths");
  sx_buf a = SX_BUF_INIT, b = SX_BUF_INIT;
  if (store_encode(&a, v, &err)) fail("a decoded value does not encode");
  sx_val w = SX_NIL;
  size_t used = 0;
  if (store_decode(a.data, a.len, &used, &w, &err) || used != a.len) fail("an encoding does not decode");
  if (store_encode(&b, w, &err)) fail("a re-decoded value does not encode");
  if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) fail("encoding is not canonical");
  if (store_validate(a.data, a.len, &used, &err) || used != a.len) fail("an encoding does not validate");
  sx_buf_free(&a);
  sx_buf_free(&b);
  return 0;
}
