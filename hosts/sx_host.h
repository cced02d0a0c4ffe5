/* sx_host.h — pieces shared by the sx command-line tools: the server loop
 * and error reporting. */
#ifndef SX_HOST_H
#define SX_HOST_H

#include "sx_buf.h"
#include "sx_vm.h"

/* Run the sx_server line protocol on stdin/stdout until EOF. Returns the
 * process exit status. bridge: forward performs no resolver owns to the
 * parent process (docs/bridge.md). sx_server_main is sx_server_run without
 * the bridge; sx_server_cli takes the arguments after `server`
 * ([--bridge]). */
int sx_server_run(sx_vm *vm, bool bridge);
int sx_server_main(sx_vm *vm);
int sx_server_cli(sx_vm *vm, int argc, char **argv);

/* Options shared by the sx tools: -I DIR, --store DIR, --sync MODE.
 * Parses argv from *i while options remain; returns false (message
 * printed) on a malformed option. Attaches the store resolver. */
typedef struct sx_host_opts {
  const char *store_dir;
  const char *sync;
} sx_host_opts;
bool sx_host_parse_opt(sx_vm *vm, int argc, char **argv, int *i, sx_host_opts *o);
bool sx_host_attach_store(sx_vm *vm, const sx_host_opts *o);
/* The same, returning the attachment (not yet opened) or NULL with the
 * problem in err; read_only attaches without taking the writer's lock. */
struct sx_persist;
struct sx_persist *sx_host_store(sx_vm *vm, const sx_host_opts *o, bool read_only, sx_buf *err);

/* "message (at file:line:col)" for an error value, without the backtrace. */
void sx_host_format_error(sx_buf *b, sx_val err);

#endif
