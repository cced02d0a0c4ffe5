/* sx_lib_core.c — core primitives: equality, type predicates, errors and
 * output, plus sx_stdlib_install, which registers every primitive group,
 * the machine-level higher-order primitives, and runs the SX prelude. */
#include "sx_doc.h"
#include "sx_lib.h"

#include <stdlib.h>
#include <string.h>

extern const char sx_prelude_source[]; /* stdlib/prelude.sx, embedded */
extern const size_t sx_prelude_length;

static sx_val p_equal(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_equal(argv[0], argv[1]));
}
static sx_val p_eq(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(argv[0] == argv[1]);
}
static sx_val p_eqv(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_eqv(argv[0], argv[1]));
}
static sx_val p_not(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(!sx_truthy(argv[0]));
}
static sx_val p_identity(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return argv[0];
}

static sx_val p_nil_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(argv[0] == SX_NIL);
}
static sx_val p_boolean_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(argv[0] == SX_TRUE || argv[0] == SX_FALSE);
}
static sx_val p_symbol_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is_symbol(argv[0]));
}
static sx_val p_keyword_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is(argv[0], SX_T_KEYWORD));
}
static sx_val p_list_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is_list(argv[0]));
}
static sx_val p_dict_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is_dict(argv[0]));
}
static sx_val p_error_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is(argv[0], SX_T_ERROR));
}

static sx_val p_fn_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is(argv[0], SX_T_FN) || sx_is(argv[0], SX_T_PRIM) || sx_is(argv[0], SX_T_CONT));
}

static sx_val p_type_of(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_string_cstr(sx_type_name(argv[0]));
}

/* (error msg irritant...) raises an error value; irritants are appended to
 * the message in printed form */
static sx_val p_error(sx_vm *vm, int argc, sx_val *argv) {
  sx_buf b = SX_BUF_INIT;
  sx_display(&b, argv[0]);
  for (int i = 1; i < argc; i++) {
    sx_buf_putc(&b, ' ');
    sx_print(&b, argv[i]);
  }
  sx_val msg = sx_string_new(b.data ? b.data : "", b.len);
  sx_buf_free(&b);
  sx_val e = sx_error_new(msg, SX_NIL);
  if (argc > 1) ((sx_error *)e)->payload = sx_list((size_t)argc - 1, argv + 1);
  return sx_throw(vm, e);
}

static sx_val p_raise(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return sx_throw(vm, argv[0]);
}

static sx_val p_error_message(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_error_message(argv[0]);
}

static sx_val p_error_irritants(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  if (!sx_is(argv[0], SX_T_ERROR)) return SX_EMPTY;
  sx_val p = ((sx_error *)argv[0])->payload;
  return sx_is_list(p) ? p : SX_EMPTY;
}

static sx_val p_error_where(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_is(argv[0], SX_T_ERROR) ? ((sx_error *)argv[0])->where : SX_NIL;
}

static sx_val write_out(sx_vm *vm, int argc, sx_val *argv, bool readable, bool newline) {
  sx_buf b = SX_BUF_INIT;
  for (int i = 0; i < argc; i++) {
    if (i) sx_buf_putc(&b, ' ');
    if (readable) sx_print(&b, argv[i]);
    else sx_display(&b, argv[i]);
  }
  if (newline) sx_buf_putc(&b, '\n');
  if (b.len) fwrite(b.data, 1, b.len, vm->out);
  fflush(vm->out);
  sx_buf_free(&b);
  return SX_NIL;
}

static sx_val p_print(sx_vm *vm, int argc, sx_val *argv) { return write_out(vm, argc, argv, false, false); }
static sx_val p_println(sx_vm *vm, int argc, sx_val *argv) { return write_out(vm, argc, argv, false, true); }
static sx_val p_write(sx_vm *vm, int argc, sx_val *argv) { return write_out(vm, argc, argv, true, false); }
static sx_val p_newline(sx_vm *vm, int argc, sx_val *argv) { return write_out(vm, argc, argv, false, true); }

static sx_val p_gensym(sx_vm *vm, int argc, sx_val *argv) {
  static uint64_t counter; /* shared by VMs on any thread: atomic */
  char name[64];
  unsigned long long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
  snprintf(name, sizeof name, "%s%llu", argc && sx_is_string(argv[0]) ? sx_str_data(argv[0]) : "g", n);
  (void)vm;
  return sx_symbol_cstr(name);
}

static void install_core(sx_vm *vm) {
  sx_defprim(vm, "equal?", p_equal, 2, 2);
  sx_defprim(vm, "eq?", p_eq, 2, 2);
  sx_defprim(vm, "eqv?", p_eqv, 2, 2);
  sx_defprim(vm, "not", p_not, 1, 1);
  sx_defprim(vm, "identity", p_identity, 1, 1);
  sx_defprim(vm, "nil?", p_nil_p, 1, 1);
  sx_defprim(vm, "boolean?", p_boolean_p, 1, 1);
  sx_defprim(vm, "symbol?", p_symbol_p, 1, 1);
  sx_defprim(vm, "keyword?", p_keyword_p, 1, 1);
  sx_defprim(vm, "list?", p_list_p, 1, 1);
  sx_defprim(vm, "dict?", p_dict_p, 1, 1);
  sx_defprim(vm, "fn?", p_fn_p, 1, 1);
  sx_defprim(vm, "error?", p_error_p, 1, 1);
  sx_defprim(vm, "type-of", p_type_of, 1, 1);
  sx_defprim(vm, "error", p_error, 1, -1);
  sx_defprim(vm, "raise", p_raise, 1, 1);
  sx_defprim(vm, "error-message", p_error_message, 1, 1);
  sx_defprim(vm, "error-irritants", p_error_irritants, 1, 1);
  sx_defprim(vm, "error-where", p_error_where, 1, 1);
  sx_defprim(vm, "print", p_print, 0, -1);
  sx_defprim(vm, "display", p_print, 0, -1);
  sx_defprim(vm, "println", p_println, 0, -1);
  sx_defprim(vm, "write", p_write, 0, -1);
  sx_defprim(vm, "newline", p_newline, 0, 0);
  sx_defprim(vm, "gensym", p_gensym, 0, 1);
}

static void install_specials(sx_vm *vm) {
  sx_defspecial(vm, "apply", SP_APPLY, 2, -1);
  sx_defspecial(vm, "map", SP_MAP, 2, 2);
  sx_defspecial(vm, "map-indexed", SP_MAP_INDEXED, 2, 2);
  sx_defspecial(vm, "filter", SP_FILTER, 2, 2);
  sx_defspecial(vm, "reduce", SP_REDUCE, 2, 3);
  sx_defspecial(vm, "for-each", SP_FOR_EACH, 2, 2);
  sx_defspecial(vm, "some", SP_SOME, 2, 2);
  sx_defspecial(vm, "every?", SP_EVERY, 2, 2);
  sx_defspecial(vm, "sort", SP_SORT, 1, 2);
  sx_defspecial(vm, "call/cc", SP_CALLCC, 1, 1);
  sx_defspecial(vm, "call-with-current-continuation", SP_CALLCC, 1, 1);
  sx_defspecial(vm, "dynamic-wind", SP_DYNAMIC_WIND, 3, 3);
  sx_defspecial(vm, "load", SP_LOAD, 1, 1);
  sx_defspecial(vm, "eval", SP_EVAL, 1, 1);
}

bool sx_stdlib_install(sx_vm *vm) {
  install_core(vm);
  install_specials(vm);
  sx_lib_num_install(vm);
  sx_lib_list_install(vm);
  sx_lib_dict_install(vm);
  sx_lib_str_install(vm);
  sx_lib_doc_install(vm);
  sx_val err; /* the prelude is part of the build: it fails only when broken */
  return sx_eval_string(vm, sx_prelude_source, sx_prelude_length, sx_string_cstr("<prelude>"), &err) ==
         SX_DONE;
}

sx_vm *sx_stdlib_vm_create(void) {
  sx_vm *vm = sx_vm_create();
  if (vm && !sx_stdlib_install(vm)) {
    sx_vm_close(vm);
    return NULL;
  }
  return vm;
}
