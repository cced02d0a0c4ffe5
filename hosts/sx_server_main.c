/* sx_server_main.c — `sx-server`: the line-protocol server as a program of
 * its own, for drivers that start SX_SERVER with no arguments (the persist
 * conformance script does). Same as `sx server`; accepts -I DIR, --store
 * DIR, --sync MODE and --bridge (docs/bridge.md). Built on include/sx.h. */
#include "sx_host.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  sxapi_vm *vm = sxapi_open();
  if (!vm) {
    fprintf(stderr, "sx-server: %s\n", sxapi_errmsg());
    return 2;
  }
  sx_host_opts opts = {0};
  bool bridge = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--bridge") == 0) {
      bridge = true;
      continue;
    }
    if (!sx_host_parse_opt(vm, argc, argv, &i, &opts)) {
      fprintf(stderr, "sx-server: unknown option '%s' (expected -I DIR, --store DIR, --sync MODE, --bridge)\n", argv[i]);
      return 2;
    }
  }
  if (!sx_host_attach_store(vm, &opts)) return 2;
  return sx_server_run(vm, bridge);
}
