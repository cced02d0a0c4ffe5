/* sx_docgen.c — writes docs/reference.md from the doc tables (sx_doc.h):
 * `sx-docgen` prints it, `sx-docgen FILE` writes FILE. Built, never
 * installed; the `reference` test compares its output with the file. */
#include "sx_doc.h"

#include <stdio.h>

int main(int argc, char **argv) {
  FILE *out = argc > 1 ? fopen(argv[1], "w") : stdout;
  if (!out) {
    perror(argv[1]);
    return 1;
  }
  sx_doc_markdown(out);
  if (out != stdout ? fclose(out) != 0 : fflush(out) != 0) {
    perror(argc > 1 ? argv[1] : "stdout");
    return 1;
  }
  return 0;
}
