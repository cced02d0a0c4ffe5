/* sx_repl.h — the interactive REPL: `sx repl [--store DIR] [--read-only]
 * [FILE...]` (and `sx` alone on a terminal). See docs/repl.md. Built only
 * on the public embedding API (include/sx.h). */
#ifndef SX_REPL_H
#define SX_REPL_H

#include "sx.h"

/* Run the REPL on vm. argv holds the arguments after "repl"; store_dir and
 * sync are the --store and --sync values given before it (NULL when not
 * given: the REPL then uses SX_STORE / SX_SYNC, else ./.sx-store and full).
 * Opens the store itself. Returns the exit status. */
int sx_repl_main(sxapi_vm *vm, int argc, char **argv, const char *store_dir, const char *sync);

#endif
