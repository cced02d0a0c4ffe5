/* sx_host.c — option handling shared by the sx command-line tools: the
 * load path (-I), the store directory (--store, SX_STORE) and its sync mode
 * (--sync, SX_SYNC). */
#include "sx_host.h"
#include "sx_persist.h"

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

bool sx_host_parse_opt(sx_vm *vm, int argc, char **argv, int *i, sx_host_opts *o) {
  const char *a = argv[*i], *v;
  if (strcmp(a, "-I") == 0 && *i + 1 < argc) {
    sx_add_load_dir(vm, argv[++*i]);
    return true;
  }
  if (strncmp(a, "-I", 2) == 0 && a[2]) {
    sx_add_load_dir(vm, a + 2);
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

static bool parse_sync(const char *s, store_sync *out) {
  if (!s || strcmp(s, "full") == 0) *out = STORE_SYNC_FULL;
  else if (strcmp(s, "batch") == 0) *out = STORE_SYNC_BATCH;
  else if (strcmp(s, "off") == 0) *out = STORE_SYNC_OFF;
  else return false;
  return true;
}

sx_persist *sx_host_store(sx_vm *vm, const sx_host_opts *o, bool read_only, sx_buf *err) {
  const char *dir = o->store_dir ? o->store_dir : getenv("SX_STORE");
  const char *sync = o->sync ? o->sync : getenv("SX_SYNC");
  store_opts opts = {.read_only = read_only};
  if (!parse_sync(sync, &opts.sync)) {
    sx_buf_printf(err, "unknown sync mode '%s' (expected full, batch or off)", sync);
    return NULL;
  }
  return sx_persist_attach(vm, dir && *dir ? dir : DEFAULT_STORE_DIR, &opts);
}

bool sx_host_attach_store(sx_vm *vm, const sx_host_opts *o) {
  sx_buf err = SX_BUF_INIT;
  bool ok = sx_host_store(vm, o, false, &err) != NULL;
  if (!ok) fprintf(stderr, "sx: %.*s\n", (int)err.len, err.data);
  sx_buf_free(&err);
  return ok;
}
