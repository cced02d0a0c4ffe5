/* sx_host.h — pieces shared by the sx command-line tools (sx, sx-server),
 * built only on the public embedding API (include/sx.h): their options,
 * the store they attach, and the server loop. */
#ifndef SX_HOST_H
#define SX_HOST_H

#include "sx.h"

/* Write the bytes of a string value to `to`, then a newline unless it
 * ends with one. */
void sx_host_put_text(sxapi_vm *vm, sxapi_value text, FILE *to);

/* The tools' warning hook (sxapi_set_warning_hook): "sx: warning: MSG" on
 * stderr. */
void sx_host_print_warning(const char *msg, void *ctx);

/* Options shared by the sx tools: -I DIR, --store DIR, --sync MODE,
 * --persist. */
#define SX_HOST_MAX_INCLUDES 64
typedef struct sx_host_opts {
  const char *store_dir;
  const char *sync;
  const char *includes[SX_HOST_MAX_INCLUDES]; /* the -I directories, in order */
  int nincludes;
  bool persist; /* --persist: load lib/persist, bind db and blobs */
} sx_host_opts;

/* Parse the option at argv[*i], advancing *i past its value. -I adds to
 * vm's load path at once; --store, --sync and --persist are kept in o. False when
 * argv[*i] is not one of these options; exits with status 2 when an
 * option lacks its value. */
bool sx_host_parse_opt(sxapi_vm *vm, int argc, char **argv, int *i, sx_host_opts *o);

/* Attach the store (opened on first use) that persist and blob ops
 * use: o's directory, else SX_STORE, else ./.sx-store; o's sync mode, else
 * SX_SYNC, else full; with o->persist, load persist (sx_host_load_persist).
 * False (message printed) on a bad sync mode or a failed load. */
bool sx_host_attach_store(sxapi_vm *vm, const sx_host_opts *o);

/* Open the store for vm: dir, else SX_STORE, else ./.sx-store; sync, else
 * SX_SYNC, else full. lazy: open it on first use. False with the problem
 * in msg (cap bytes). */
bool sx_host_open_store(sxapi_vm *vm, const char *dir, const char *sync, bool read_only, bool lazy, char *msg,
                        size_t cap);

/* Load lib/persist (found on the load path) and define `db` (the store's
 * durable backend) and `blobs` (its blob store), as the REPL does. False
 * with *err the error value. */
bool sx_host_load_persist(sxapi_vm *vm, sxapi_value *err);

/* A new VM like the one the options describe: the -I directories on its
 * load path, the store attached (lazily) and, with --persist, persist
 * loaded. NULL with the problem in msg. */
sxapi_vm *sx_host_new_vm(const sx_host_opts *o, char *msg, size_t cap);

/* Run the sx_server line protocol on in/out until EOF on in (or a stop
 * request: sx_server_stop_requested). Returns the process exit status.
 * bridge: forward performs no resolver owns to the parent process
 * (docs/bridge.md). gone (may be NULL) tells whether the client went away:
 * an evaluation that ends then is rolled back instead of committed. in
 * must not have been read from: its descriptor is read directly. */
int sx_server_serve(sxapi_vm *vm, FILE *in, FILE *out, bool bridge, bool (*gone)(void *), void *ud);
/* The stdin/stdout server (SIGTERM and SIGINT end it after the command in
 * progress, closing the store cleanly). */
int sx_server_run(sxapi_vm *vm, bool bridge);
/* `sx server [--bridge] [--listen PATH] [options]`: the arguments after
 * `server`; global options (-I, --store, --sync) may come here too. The
 * store is attached here, after every option is known. */
int sx_server_cli(sxapi_vm *vm, sx_host_opts *o, int argc, char **argv);
/* Serve the line protocol on the Unix-domain socket path (mode 0600) to
 * many clients at once, one VM (and thread) per connection, all on the
 * store of o (docs/server.md). */
int sx_listen_run(const sx_host_opts *o, const char *path);
/* Set by SIGTERM/SIGINT once sx_server_signals installed the handlers;
 * the write end of a pipe that becomes readable then, or -1. */
bool sx_server_stop_requested(void);
int sx_server_stop_fd(void);
void sx_server_signals(void);

#endif
