/* sx_server_main.c — `sx-server`: the line-protocol server as a program of
 * its own, for drivers that start SX_SERVER with no arguments (the persist
 * conformance script does). Same as `sx server`; accepts -I DIR. */
#include "sx_host.h"

#include <string.h>

int main(int argc, char **argv) {
  sx_vm *vm = sx_vm_create();
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-I") == 0 && i + 1 < argc) sx_add_load_dir(vm, argv[++i]);
    else if (strncmp(argv[i], "-I", 2) == 0 && argv[i][2]) sx_add_load_dir(vm, argv[i] + 2);
  }
  return sx_server_main(vm);
}
