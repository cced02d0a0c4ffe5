/* sx_stdlib.h — the standard library's entry points: install every
 * primitive group and the SX prelude into a VM. The evaluator never calls
 * these; whoever creates a VM for SX programs does (libsx, the tests). */
#ifndef SX_STDLIB_H
#define SX_STDLIB_H

#include "sx_vm.h"

/* Define the primitives, special forms and prelude functions in vm. */
bool sx_stdlib_install(sx_vm *vm); /* false: the built-in prelude failed */
/* sx_vm_create followed by sx_stdlib_install; NULL when either fails. */
sx_vm *sx_stdlib_vm_create(void);

#endif
