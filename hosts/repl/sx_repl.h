/* sx_repl.h — the interactive REPL: `sx repl [--store DIR] [--read-only]
 * [FILE...]` (and `sx` alone on a terminal). See docs/repl.md. */
#ifndef SX_REPL_H
#define SX_REPL_H

#include "sx_host.h"

/* argv holds the arguments after "repl"; pre holds the options given
 * before it. Attaches the store itself. Returns the exit status. */
int sx_repl_main(sx_vm *vm, int argc, char **argv, const sx_host_opts *pre);

#endif
