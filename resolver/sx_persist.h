/* sx_persist.h — attach a durable store to a VM: the persist/ and blob/
 * IO resolver (an op table) and one store transaction per top-level
 * evaluation, kept in vm->eval_state while it runs (see sx_persist.c). */
#ifndef SX_PERSIST_H
#define SX_PERSIST_H

#include "store.h"
#include "sx_vm.h"

typedef struct sx_persist sx_persist;

/* Register the resolvers for the store in dir (opened on first use with
 * opts). */
sx_persist *sx_persist_attach(sx_vm *vm, const char *dir, const store_opts *opts);
/* The open store (opening it now if needed), or NULL with *err set. */
store *sx_persist_store(sx_persist *p, sx_val *err);
/* Roll back anything uncommitted and close the store. */
int sx_persist_close(sx_persist *p, sx_val *err);

/* End the running top-level evaluation (vm->eval_state, cleared): st
 * SX_DONE commits it, anything else rolls it back. STORE_OK, STORE_EFAIL,
 * or STORE_ECONFLICT (also for a rolled-back evaluation whose reads had
 * already lost a race) with *err. *ticket (may be NULL) gets the point to
 * wait for; with wait the call waits for it itself. */
int sx_persist_end(sx_persist *p, sx_vm *vm, sx_status st, bool wait, uint64_t *ticket, sx_val *err);
/* The host has just received input: every evaluation it starts until the
 * next note evaluates a request that was in by now (sxapi_note_input). */
void sx_persist_note_input(sx_persist *p);
/* 1 when ticket is durable, 0 not yet (only without block), -1 failed. */
int sx_persist_poll(sx_persist *p, uint64_t ticket, bool block, sx_val *err);

#endif
