/* sx_lib_dict.c — dict primitives. Dicts are immutable maps from string
 * keys (keywords evaluate to strings, so (get d :k) and (get d "k") are the
 * same lookup); assoc, dissoc and merge return new dicts. `get` also
 * indexes lists, and returns nil (or its default) for anything missing. */
#include "sx_lib.h"

static bool dictish(sx_val v) { return v == SX_NIL || sx_is_dict(v); }
static sx_val as_dict(sx_val v) { return v == SX_NIL ? sx_dict_empty() : v; }

static sx_val p_get(sx_vm *vm, int argc, sx_val *argv) {
  sx_val c = argv[0], k = argv[1], dflt = argc > 2 ? argv[2] : SX_NIL;
  if (sx_is_dict(c)) return sx_is_string(k) ? sx_dict_get(c, k, dflt) : dflt;
  if (c == SX_NIL) return dflt;
  if (sx_is_list(c)) {
    if (!sx_is_int(k)) return dflt;
    int64_t i = sx_int_val(k);
    sx_val l = c;
    if (i < 0) return dflt;
    while (i-- > 0 && sx_is_cons(l)) l = sx_cdr(l);
    return sx_is_cons(l) ? sx_car(l) : dflt;
  }
  return sx_type_error(vm, "get", "a dict or list", c);
}

static sx_val p_get_in(sx_vm *vm, int argc, sx_val *argv) {
  sx_val c = argv[0];
  if (!sx_listish(argv[1])) return sx_type_error(vm, "get-in", "a list of keys", argv[1]);
  for (sx_val path = argv[1]; sx_is_cons(path); path = sx_cdr(path)) {
    sx_val k = sx_car(path);
    if (sx_is_dict(c) && sx_is_string(k)) c = sx_dict_get(c, k, SX_NIL);
    else if (sx_is_list(c) && sx_is_int(k)) c = p_get(vm, 2, (sx_val[]){c, k});
    else c = SX_NIL;
    if (c == SX_NIL) break;
  }
  return c == SX_NIL && argc > 2 ? argv[2] : c;
}

static sx_val p_has_key(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  if (argv[0] == SX_NIL) return SX_FALSE;
  SX_CHECK(vm, "has-key?", 0, sx_is_dict, "a dict");
  return sx_bool(sx_is_string(argv[1]) && sx_dict_has(argv[0], argv[1]));
}

static sx_val p_assoc(sx_vm *vm, int argc, sx_val *argv) {
  SX_CHECK(vm, "assoc", 0, dictish, "a dict");
  if (argc % 2 == 0)
    return sx_throwf(vm, "assoc: expected a dict then key/value pairs, got %d arguments", argc);
  sx_val d = as_dict(argv[0]);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!sx_is_string(argv[i])) return sx_type_error(vm, "assoc", "a string or keyword key", argv[i]);
    d = sx_dict_assoc(d, argv[i], argv[i + 1]);
  }
  return d;
}

static sx_val p_dissoc(sx_vm *vm, int argc, sx_val *argv) {
  SX_CHECK(vm, "dissoc", 0, dictish, "a dict");
  sx_val d = as_dict(argv[0]);
  for (int i = 1; i < argc; i++)
    if (sx_is_string(argv[i])) d = sx_dict_dissoc(d, argv[i]);
  return d;
}

static sx_val p_keys(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  if (argv[0] == SX_NIL) return SX_EMPTY;
  SX_CHECK(vm, "keys", 0, sx_is_dict, "a dict");
  return sx_dict_keys(argv[0]);
}

static sx_val p_vals(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  if (argv[0] == SX_NIL) return SX_EMPTY;
  SX_CHECK(vm, "vals", 0, sx_is_dict, "a dict");
  return sx_dict_vals(argv[0]);
}

static sx_val p_merge(sx_vm *vm, int argc, sx_val *argv) {
  sx_val out = SX_NIL;
  for (int i = 0; i < argc; i++) {
    if (argv[i] == SX_NIL) continue;
    if (!sx_is_dict(argv[i])) return sx_type_error(vm, "merge", "dicts", argv[i]);
    if (out == SX_NIL) {
      out = argv[i];
      continue;
    }
    sx_dict_iter it;
    sx_val k, v;
    sx_dict_iter_init(&it, argv[i]);
    while (sx_dict_iter_next(&it, &k, &v)) out = sx_dict_assoc(out, k, v);
  }
  return out == SX_NIL ? sx_dict_empty() : out;
}

/* (dict k v ...) builds a dict from key/value arguments */
static sx_val p_dict(sx_vm *vm, int argc, sx_val *argv) {
  if (argc % 2) return sx_throwf(vm, "dict: expected key/value pairs, got %d arguments", argc);
  sx_val d = sx_dict_empty();
  for (int i = 0; i < argc; i += 2) {
    if (!sx_is_string(argv[i])) return sx_type_error(vm, "dict", "a string or keyword key", argv[i]);
    d = sx_dict_assoc(d, argv[i], argv[i + 1]);
  }
  return d;
}

static sx_val into_dict(sx_vm *vm, sx_val d, sx_val items) {
  for (sx_val l = items; sx_is_cons(l); l = sx_cdr(l)) {
    sx_val pair = sx_car(l);
    if (!sx_is_cons(pair) || !sx_is_cons(sx_cdr(pair)) || !sx_is_string(sx_car(pair)))
      return sx_type_error(vm, "into", "(key value) pairs with string keys", pair);
    d = sx_dict_assoc(d, sx_car(pair), sx_car(sx_cdr(pair)));
  }
  return d;
}

/* (into target items): pour items (a list, or a dict's (k v) pairs) into a
 * list or dict */
static sx_val p_into(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  sx_val target = argv[0], src = argv[1];
  if (sx_is_dict(src)) {
    sx_val pairs = SX_EMPTY, k, v;
    sx_dict_iter it;
    sx_dict_iter_init(&it, src);
    while (sx_dict_iter_next(&it, &k, &v)) pairs = sx_cons(sx_list(2, (sx_val[]){k, v}), pairs);
    src = sx_list_reverse(pairs);
  }
  if (!sx_listish(src)) return sx_type_error(vm, "into", "a list or dict to pour in", src);
  if (sx_is_dict(target)) return into_dict(vm, target, src);
  if (sx_listish(target)) {
    sx_val rev = sx_list_reverse(sx_as_list(target));
    for (sx_val l = src; sx_is_cons(l); l = sx_cdr(l)) rev = sx_cons(sx_car(l), rev);
    return sx_list_reverse(rev);
  }
  return sx_type_error(vm, "into", "a list or dict target", target);
}

void sx_lib_dict_install(sx_vm *vm) {
  sx_defprim(vm, "get", p_get, 2, 3);
  sx_defprim(vm, "get-in", p_get_in, 2, 3);
  sx_defprim(vm, "has-key?", p_has_key, 2, 2);
  sx_defprim(vm, "assoc", p_assoc, 1, -1);
  sx_defprim(vm, "dissoc", p_dissoc, 1, -1);
  sx_defprim(vm, "keys", p_keys, 1, 1);
  sx_defprim(vm, "vals", p_vals, 1, 1);
  sx_defprim(vm, "merge", p_merge, 0, -1);
  sx_defprim(vm, "dict", p_dict, 0, -1);
  sx_defprim(vm, "into", p_into, 2, 2);
}
