/* sx_host.h — pieces shared by the sx command-line tools (sx, sx-server),
 * built only on the public embedding API (include/sx.h): their options,
 * the store they attach, and the server loop. */
#ifndef SX_HOST_H
#define SX_HOST_H

#include "sx.h"

/* Options shared by the sx tools: -I DIR, --store DIR, --sync MODE. */
typedef struct sx_host_opts {
  const char *store_dir;
  const char *sync;
} sx_host_opts;

/* Parse the option at argv[*i], advancing *i past its value. -I adds to
 * vm's load path at once; --store and --sync are kept in o. False when
 * argv[*i] is not one of these options; exits with status 2 when an
 * option lacks its value. */
bool sx_host_parse_opt(sxapi_vm *vm, int argc, char **argv, int *i, sx_host_opts *o);

/* Attach the store (opened on first use) that persist and blob ops
 * use: o's directory, else SX_STORE, else ./.sx-store; o's sync mode, else
 * SX_SYNC, else full. False (message printed) on a bad sync mode. */
bool sx_host_attach_store(sxapi_vm *vm, const sx_host_opts *o);

/* Open the store for vm: dir, else SX_STORE, else ./.sx-store; sync, else
 * SX_SYNC, else full. lazy: open it on first use. False with the problem
 * in msg (cap bytes). */
bool sx_host_open_store(sxapi_vm *vm, const char *dir, const char *sync, bool read_only,
                        bool lazy, char *msg, size_t cap);

/* Run the sx_server line protocol on stdin/stdout until EOF. Returns the
 * process exit status. bridge: forward performs no resolver owns to the
 * parent process (docs/bridge.md). sx_server_cli takes the arguments after
 * `server` ([--bridge]). */
int sx_server_run(sxapi_vm *vm, bool bridge);
int sx_server_cli(sxapi_vm *vm, int argc, char **argv);

#endif
