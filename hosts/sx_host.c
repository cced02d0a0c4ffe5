/* sx_host.c — option handling shared by the sx command-line tools: the
 * load path (-I), the store directory (--store, SX_STORE) and its sync mode
 * (--sync, SX_SYNC). Built on include/sx.h only. */
#include "sx_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STORE_DIR ".sx-store"

/* "--name VALUE" or "--name=VALUE"; advances *i past what it used. */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0) return NULL;
  if (a[n] == '=') return a + n + 1;
  if (a[n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    fprintf(stderr, "sx: %s needs a value\n", name);
    exit(2);
  }
  return argv[++*i];
}

bool sx_host_parse_opt(sxapi_vm *vm, int argc, char **argv, int *i, sx_host_opts *o) {
  const char *a = argv[*i], *v;
  const char *inc = strcmp(a, "-I") == 0 && *i + 1 < argc ? argv[++*i]
                    : strncmp(a, "-I", 2) == 0 && a[2]  ? a + 2
                                                        : NULL;
  if (inc) {
    if (vm) sxapi_add_path(vm, inc);
    if (o->nincludes < SX_HOST_MAX_INCLUDES) o->includes[o->nincludes++] = inc;
    return true;
  }
  if ((v = opt_value(argc, argv, i, "--store"))) {
    o->store_dir = v;
    return true;
  }
  if ((v = opt_value(argc, argv, i, "--sync"))) {
    o->sync = v;
    return true;
  }
  return false;
}

bool sx_host_open_store(sxapi_vm *vm, const char *dir, const char *sync, bool read_only,
                        bool lazy, char *msg, size_t cap) {
  if (!dir) dir = getenv("SX_STORE");
  if (!sync) sync = getenv("SX_SYNC");
  sxapi_store_options opts = {.lazy = lazy, .read_only = read_only};
  if (sync && sxapi_sync_parse(sync, &opts.sync) != SXAPI_OK) {
    snprintf(msg, cap, "unknown sync mode '%s' (expected full, batch or off)", sync);
    return false;
  }
  if (sxapi_store_open(vm, dir && *dir ? dir : DEFAULT_STORE_DIR, &opts) == SXAPI_OK) return true;
  snprintf(msg, cap, "%s", sxapi_errmsg());
  return false;
}

bool sx_host_attach_store(sxapi_vm *vm, const sx_host_opts *o) {
  char msg[512];
  if (sx_host_open_store(vm, o->store_dir, o->sync, false, true, msg, sizeof msg)) return true;
  fprintf(stderr, "sx: %s\n", msg);
  return false;
}

sxapi_vm *sx_host_new_vm(const sx_host_opts *o, char *msg, size_t cap) {
  sxapi_vm *vm = sxapi_open();
  if (!vm) {
    snprintf(msg, cap, "%s", sxapi_errmsg());
    return NULL;
  }
  for (int i = 0; i < o->nincludes; i++) sxapi_add_path(vm, o->includes[i]);
  if (sx_host_open_store(vm, o->store_dir, o->sync, false, true, msg, cap)) return vm;
  sxapi_free(vm);
  return NULL;
}
