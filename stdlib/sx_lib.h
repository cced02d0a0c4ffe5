/* sx_lib.h — helpers shared by the C primitives of the standard library:
 * argument checking that raises clear, uniform errors, and the install
 * functions of each primitive group. */
#ifndef SX_LIB_H
#define SX_LIB_H

#include "sx_dict.h"
#include "sx_print.h"
#include "sx_stdlib.h"
#include "sx_vm.h"

/* Inside a primitive: check argv[i] or return the raised error. */
#define SX_CHECK(vm, who, i, pred, what)                                                                     \
  do {                                                                                                       \
    if (!(pred)(argv[i])) return sx_type_error(vm, who, what, argv[i]);                                      \
  } while (0)

/* nil stands for the empty list wherever a list is expected */
static inline bool sx_listish(sx_val v) { return v == SX_NIL || sx_is_list(v); }
static inline sx_val sx_as_list(sx_val v) { return v == SX_NIL ? SX_EMPTY : v; }

/* Integer result with overflow reported as an error. */
sx_val sx_lib_int_result(sx_vm *vm, const char *who, int64_t v, bool overflow);

void sx_lib_num_install(sx_vm *vm);
void sx_lib_list_install(sx_vm *vm);
void sx_lib_dict_install(sx_vm *vm);
void sx_lib_str_install(sx_vm *vm);

#endif
