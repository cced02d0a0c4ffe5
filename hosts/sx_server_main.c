/* sx_server_main.c — `sx-server`: the line-protocol server as a program of
 * its own, for drivers that start SX_SERVER with no arguments (the persist
 * conformance script does). Same as `sx server`; accepts -I DIR, --store
 * DIR, --sync MODE, --bridge (docs/bridge.md) and --listen PATH
 * (docs/server.md). Built on include/sx.h. */
#include "sx_host.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  sxapi_set_warning_hook(sx_host_print_warning, NULL);
  sxapi_vm *vm = sxapi_open();
  if (!vm) {
    fprintf(stderr, "sx-server: %s\n", sxapi_errmsg());
    return 2;
  }
  sx_host_opts opts = {0};
  return sx_server_cli(vm, &opts, argc - 1, argv + 1);
}
