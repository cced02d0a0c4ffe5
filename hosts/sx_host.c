/* sx_host.c — option handling shared by the sx command-line tools: the
 * load path (-I), the store directory (--store, SX_STORE), its sync mode
 * (--sync, SX_SYNC) and persist preloaded (--persist). Built on
 * include/sx.h only. */
#include "sx_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STORE_DIR ".sx-store"

/* The persist sources, in dependency order. */
static const char *const persist_files[] = {
    "lib/persist/event.sx",       "lib/persist/backend.sx",    "lib/persist/log.sx",
    "lib/persist/kv.sx",          "lib/persist/project.sx",    "lib/persist/concurrency.sx",
    "lib/persist/snapshot.sx",    "lib/persist/compaction.sx", "lib/persist/durable.sx",
    "lib/persist/blob.sx",        "lib/persist/view.sx",       "lib/persist/catalog.sx",
    "lib/persist/query.sx",       "lib/persist/batch.sx",      "lib/persist/upcast.sx",
    "lib/persist/idempotency.sx", "lib/persist/global.sx",     "lib/persist/subscribe.sx",
    "lib/persist/api.sx",
};
static const char bind_backends[] =
    "(define db (persist/durable-backend)) (define blobs (persist/blob-store-backend))";

bool sx_host_load_persist(sxapi_vm *vm, sxapi_value *err) {
  for (size_t i = 0; i < sizeof persist_files / sizeof *persist_files; i++)
    if (sxapi_load(vm, persist_files[i], err) != SXAPI_OK) return false;
  return sxapi_eval_buffer(vm, bind_backends, strlen(bind_backends), "<persist>", err) == SXAPI_OK;
}

/* "--name VALUE" or "--name=VALUE"; advances *i past what it used. */
void sx_host_put_text(sxapi_vm *vm, sxapi_value text, FILE *to) {
  const char *b = "";
  size_t len = 0;
  sxapi_to_string(vm, text, &b, &len);
  fwrite(b, 1, len, to);
  if (len == 0 || b[len - 1] != '\n') fputc('\n', to);
}

void sx_host_print_warning(const char *msg, void *ctx) {
  (void)ctx;
  fprintf(stderr, "sx: warning: %s\n", msg);
}

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
  const char *inc = strncmp(a, "-I", 2) != 0 ? NULL : a[2] ? a + 2 : opt_value(argc, argv, i, "-I");
  if (inc) {
    sxapi_add_path(vm, inc);
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
  if (strcmp(a, "--persist") == 0) {
    o->persist = true;
    return true;
  }
  return false;
}

bool sx_host_open_store(sxapi_vm *vm, const char *dir, const char *sync, bool read_only, bool lazy, char *msg,
                        size_t cap) {
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
  if (!sx_host_open_store(vm, o->store_dir, o->sync, false, true, msg, sizeof msg)) {
    fprintf(stderr, "sx: %s\n", msg);
    return false;
  }
  sxapi_value err, text;
  const char *t = "";
  if (!o->persist || sx_host_load_persist(vm, &err)) return true;
  sxapi_error_text(vm, err, false, &text);
  sxapi_to_string(vm, text, &t, NULL);
  fprintf(stderr, "sx: --persist: %s\n", t);
  return false;
}

sxapi_vm *sx_host_new_vm(const sx_host_opts *o, char *msg, size_t cap) {
  sxapi_vm *vm = sxapi_open();
  if (!vm) {
    snprintf(msg, cap, "%s", sxapi_errmsg());
    return NULL;
  }
  for (int i = 0; i < o->nincludes; i++) sxapi_add_path(vm, o->includes[i]);
  sxapi_value err, text;
  const char *t = "";
  if (sx_host_open_store(vm, o->store_dir, o->sync, false, true, msg, cap)) {
    if (!o->persist || sx_host_load_persist(vm, &err)) return vm;
    sxapi_error_text(vm, err, false, &text);
    sxapi_to_string(vm, text, &t, NULL);
    snprintf(msg, cap, "--persist: %s", t);
  }
  sxapi_free(vm);
  return NULL;
}
