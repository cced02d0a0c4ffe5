/* sx_persist.h — attach a durable store to a VM: the persist and blob
 * IO resolver plus commit-per-top-level-evaluation (see sx_persist.c). */
#ifndef SX_PERSIST_H
#define SX_PERSIST_H

#include "store.h"
#include "sx_vm.h"

typedef struct sx_persist sx_persist;

/* Register the resolvers for the store in dir (opened on first use with
 * opts, which may be NULL for the defaults: sync full). */
sx_persist *sx_persist_attach(sx_vm *vm, const char *dir, const store_opts *opts);
/* The open store (opening it now if needed), or NULL with *err set. */
store *sx_persist_store(sx_persist *p, sx_val *err);
/* Roll back anything uncommitted and close the store. */
int sx_persist_close(sx_persist *p, sx_val *err);

#endif
