/* sx_tools.h — `sx store SUBCOMMAND`: the store tools (check, compact,
 * dump, load, export, backup, tail), on the public API (include/sx.h). */
#ifndef SX_TOOLS_H
#define SX_TOOLS_H

#include "sx_host.h"

#include <stdio.h>

/* Run `sx store ARGS...` (argv holds what follows "store"); returns the
 * exit status. A missing DIR argument defaults to --store when given. */
int sx_store_cmd(sxapi_vm *vm, const sx_host_opts *o, int argc, char **argv);
/* Print the usage of `sx store SUB` (all of them when sub is NULL) to to;
 * false when there is no such subcommand. */
bool sx_store_help(const char *sub, FILE *to);
/* Print the events of stream committed after seq *after as they come,
 * polling the read-only store of vm (reopened after a compaction) until
 * *stop becomes true or an error (then false, message printed to stderr
 * prefixed by who). *after advances past each event printed. */
bool sx_follow(sxapi_vm *vm, const char *stream, int64_t *after, volatile int *stop, const char *who);

#endif
