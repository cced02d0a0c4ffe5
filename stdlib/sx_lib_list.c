/* sx_lib_list.c — list primitives. Lists are immutable cons lists; nil is
 * accepted wherever a list is read and treated as the empty list. Index
 * and access functions return nil when out of range (like get). */
#include "sx_lib.h"

#include <string.h>

/* 128-bit counting for range (a GNU extension, marked so for -Wpedantic) */
__extension__ typedef __int128 sx_i128;

static bool listish(sx_val v) { return sx_listish(v); }

static sx_val p_list(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  return sx_list((size_t)argc, argv);
}

static sx_val p_cons(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "cons", 1, listish, "a list as the second argument");
  return sx_cons(argv[0], sx_as_list(argv[1]));
}

static sx_val p_first(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "first", 0, listish, "a list");
  return sx_is_cons(argv[0]) ? sx_car(argv[0]) : SX_NIL;
}

static sx_val p_rest(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "rest", 0, listish, "a list");
  return sx_is_cons(argv[0]) ? sx_cdr(argv[0]) : SX_EMPTY;
}

static sx_val p_nth(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "nth", 0, listish, "a list");
  if (!sx_is_int(argv[1])) return sx_type_error(vm, "nth", "an integer index", argv[1]);
  int64_t i = sx_int_val(argv[1]);
  sx_val l = argv[0];
  if (i < 0) return SX_NIL;
  while (i-- > 0 && sx_is_cons(l)) l = sx_cdr(l);
  return sx_is_cons(l) ? sx_car(l) : SX_NIL;
}

static sx_val p_last(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "last", 0, listish, "a list");
  sx_val l = argv[0], out = SX_NIL;
  for (; sx_is_cons(l); l = sx_cdr(l)) out = sx_car(l);
  return out;
}

static sx_val p_len(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  sx_val v = argv[0];
  if (v == SX_NIL) return sx_fixnum(0);
  if (sx_is_list(v)) return sx_int((int64_t)sx_list_length(v));
  if (sx_is_string(v)) return sx_int((int64_t)sx_str_len(v));
  if (sx_is_dict(v)) return sx_int((int64_t)sx_dict_count(v));
  return sx_type_error(vm, "len", "a list, string or dict", v);
}

static sx_val p_reverse(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "reverse", 0, listish, "a list");
  return sx_list_reverse(sx_as_list(argv[0]));
}

/* prepend the elements of a list, in order, before tail */
static sx_val prepend(sx_val list, sx_val tail) {
  if (tail == SX_EMPTY) return list;
  sx_val rev = sx_list_reverse(list);
  for (; sx_is_cons(rev); rev = sx_cdr(rev)) tail = sx_cons(sx_car(rev), tail);
  return tail;
}

/* (append lst x ...): a list argument is concatenated, anything else is
 * added as one element */
static sx_val p_append(sx_vm *vm, int argc, sx_val *argv) {
  if (argc == 0) return SX_EMPTY;
  SX_CHECK(vm, "append", 0, listish, "a list as the first argument");
  sx_val out = SX_EMPTY;
  for (int i = argc - 1; i >= 1; i--)
    out = sx_is_list(argv[i]) ? prepend(argv[i], out) : sx_cons(argv[i], out);
  return prepend(sx_as_list(argv[0]), out);
}

static sx_val p_concat(sx_vm *vm, int argc, sx_val *argv) {
  sx_val out = SX_EMPTY;
  for (int i = argc - 1; i >= 0; i--) {
    if (!listish(argv[i])) return sx_type_error(vm, "concat", "lists", argv[i]);
    out = prepend(sx_as_list(argv[i]), out);
  }
  return out;
}

static sx_val p_contains(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  sx_val c = argv[0], x = argv[1];
  if (listish(c)) {
    for (sx_val l = c; sx_is_cons(l); l = sx_cdr(l))
      if (sx_equal(sx_car(l), x)) return SX_TRUE;
    return SX_FALSE;
  }
  if (sx_is_dict(c)) return sx_bool(sx_is_string(x) && sx_dict_has(c, x));
  if (sx_is_string(c)) {
    if (!sx_is_string(x)) return sx_type_error(vm, "contains?", "a string to look for", x);
    return sx_bool(memmem(sx_str_data(c), sx_str_len(c), sx_str_data(x), sx_str_len(x)) != NULL);
  }
  return sx_type_error(vm, "contains?", "a list, dict or string", c);
}

static sx_val p_empty(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  sx_val v = argv[0];
  if (v == SX_NIL || v == SX_EMPTY) return SX_TRUE;
  if (sx_is_cons(v)) return SX_FALSE;
  if (sx_is_string(v)) return sx_bool(sx_str_len(v) == 0);
  if (sx_is_dict(v)) return sx_bool(sx_dict_count(v) == 0);
  return sx_type_error(vm, "empty?", "a list, string or dict", v);
}

static sx_val p_range(sx_vm *vm, int argc, sx_val *argv) {
  for (int i = 0; i < argc; i++)
    if (!sx_is_int(argv[i])) return sx_type_error(vm, "range", "integers", argv[i]);
  int64_t start = argc > 1 ? sx_int_val(argv[0]) : 0;
  int64_t end = sx_int_val(argv[argc > 1 ? 1 : 0]);
  int64_t stepv = argc > 2 ? sx_int_val(argv[2]) : 1;
  if (stepv == 0) return sx_throwf(vm, "range: step must not be 0");
  /* count in 128 bits: end - start and i += step can overflow int64 */
  sx_i128 span = (sx_i128)end - start, st = stepv, n = 0;
  if (stepv > 0 && span > 0) n = (span + st - 1) / st;
  else if (stepv < 0 && span < 0) n = (-span + -st - 1) / -st;
  if (n > 100000000) return sx_throwf(vm, "range: more than 100000000 elements");
  sx_val out = SX_EMPTY;
  for (int64_t k = (int64_t)n; k-- > 0;) {
    if ((k & 0xFFFFF) == 0 && sx_poll_interrupt(vm)) return SX_UNDEF; /* Ctrl-C */
    out = sx_cons(sx_int((int64_t)(start + (sx_i128)k * stepv)), out);
  }
  return out;
}

static sx_val flatten_into(sx_val l, sx_val acc) {
  for (; sx_is_cons(l); l = sx_cdr(l)) {
    sx_val x = sx_car(l);
    acc = sx_is_list(x) ? flatten_into(x, acc) : sx_cons(x, acc);
  }
  return acc;
}

static sx_val p_flatten(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "flatten", 0, listish, "a list");
  return sx_list_reverse(flatten_into(argv[0], SX_EMPTY));
}

/* (zip-pairs (a b c d)) => ((a b) (c d)) */
static sx_val p_zip_pairs(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "zip-pairs", 0, listish, "a list");
  sx_val out = SX_EMPTY;
  for (sx_val l = argv[0]; sx_is_cons(l); l = sx_cdr(l)) {
    sx_val a = sx_car(l), b = SX_NIL;
    if (sx_is_cons(sx_cdr(l))) {
      l = sx_cdr(l);
      b = sx_car(l);
    }
    out = sx_cons(sx_list(2, (sx_val[]){a, b}), out);
  }
  return sx_list_reverse(out);
}

static sx_val p_zip(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "zip", 0, listish, "a list");
  SX_CHECK(vm, "zip", 1, listish, "a list");
  sx_val out = SX_EMPTY, a = argv[0], b = argv[1];
  for (; sx_is_cons(a) && sx_is_cons(b); a = sx_cdr(a), b = sx_cdr(b))
    out = sx_cons(sx_list(2, (sx_val[]){sx_car(a), sx_car(b)}), out);
  return sx_list_reverse(out);
}

static sx_val p_take(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "take", 0, listish, "a list");
  if (!sx_is_int(argv[1])) return sx_type_error(vm, "take", "an integer", argv[1]);
  int64_t n = sx_int_val(argv[1]);
  sx_val out = SX_EMPTY;
  for (sx_val l = argv[0]; n-- > 0 && sx_is_cons(l); l = sx_cdr(l)) out = sx_cons(sx_car(l), out);
  return sx_list_reverse(out);
}

static sx_val p_drop(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "drop", 0, listish, "a list");
  if (!sx_is_int(argv[1])) return sx_type_error(vm, "drop", "an integer", argv[1]);
  int64_t n = sx_int_val(argv[1]);
  sx_val l = sx_as_list(argv[0]);
  while (n-- > 0 && sx_is_cons(l)) l = sx_cdr(l);
  return l;
}

/* clamp a (possibly negative, counted from the end) index into [0, len] */
static int64_t clamp_index(int64_t i, int64_t len) {
  if (i < 0) i += len;
  return i < 0 ? 0 : i > len ? len : i;
}

static sx_val p_slice(sx_vm *vm, int argc, sx_val *argv) {
  sx_val c = argv[0];
  for (int i = 1; i < argc; i++)
    if (!sx_is_int(argv[i]) && argv[i] != SX_NIL)
      return sx_type_error(vm, "slice", "an integer index", argv[i]);
  int64_t len;
  if (sx_is_string(c)) len = (int64_t)sx_str_len(c);
  else if (listish(c)) len = (int64_t)sx_list_length(c);
  else return sx_type_error(vm, "slice", "a list or string", c);
  /* a nil start means 0 (sx_int_val(nil) would read through a bad pointer) */
  int64_t s = argv[1] == SX_NIL ? 0 : clamp_index(sx_int_val(argv[1]), len);
  int64_t e = argc > 2 && argv[2] != SX_NIL ? clamp_index(sx_int_val(argv[2]), len) : len;
  if (e < s) e = s;
  if (sx_is_string(c)) return sx_string_new(sx_str_data(c) + s, (size_t)(e - s));
  sx_val l = sx_as_list(c), out = SX_EMPTY;
  for (int64_t i = 0; i < s; i++) l = sx_cdr(l);
  for (int64_t i = s; i < e; i++, l = sx_cdr(l)) out = sx_cons(sx_car(l), out);
  return sx_list_reverse(out);
}

static sx_val p_index_of(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  sx_val c = argv[0], x = argv[1];
  if (sx_is_string(c)) {
    if (!sx_is_string(x)) return sx_type_error(vm, "index-of", "a string to look for", x);
    const char *hit = memmem(sx_str_data(c), sx_str_len(c), sx_str_data(x), sx_str_len(x));
    return sx_int(hit ? hit - sx_str_data(c) : -1);
  }
  if (!listish(c)) return sx_type_error(vm, "index-of", "a list or string", c);
  int64_t i = 0;
  for (sx_val l = c; sx_is_cons(l); l = sx_cdr(l), i++)
    if (sx_equal(sx_car(l), x)) return sx_int(i);
  return sx_fixnum(-1);
}

/* a total order over numbers and strings, used by sort without a comparator */
static sx_val p_sort_default_less(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  sx_val a = argv[0], b = argv[1];
  if (sx_is_number(a) && sx_is_number(b)) {
    double x = sx_is_float(a) ? sx_float_val(a) : (double)sx_int_val(a);
    double y = sx_is_float(b) ? sx_float_val(b) : (double)sx_int_val(b);
    if (sx_is_int(a) && sx_is_int(b)) return sx_bool(sx_int_val(a) < sx_int_val(b));
    return sx_bool(x < y);
  }
  if (sx_is_string(a) && sx_is_string(b)) return sx_bool(sx_string_cmp(a, b) < 0);
  return sx_throwf(vm, "sort: cannot compare %s with %s (pass a comparator)", sx_type_name(a),
                   sx_type_name(b));
}

void sx_lib_list_install(sx_vm *vm) {
  sx_defprim(vm, "list", p_list, 0, -1);
  sx_defprim(vm, "cons", p_cons, 2, 2);
  sx_defprim(vm, "first", p_first, 1, 1);
  sx_defprim(vm, "rest", p_rest, 1, 1);
  sx_defprim(vm, "nth", p_nth, 2, 2);
  sx_defprim(vm, "last", p_last, 1, 1);
  sx_defprim(vm, "len", p_len, 1, 1);
  sx_defprim(vm, "reverse", p_reverse, 1, 1);
  sx_defprim(vm, "append", p_append, 0, -1);
  sx_defprim(vm, "concat", p_concat, 0, -1);
  sx_defprim(vm, "contains?", p_contains, 2, 2);
  sx_defprim(vm, "empty?", p_empty, 1, 1);
  sx_defprim(vm, "range", p_range, 1, 3);
  sx_defprim(vm, "flatten", p_flatten, 1, 1);
  sx_defprim(vm, "zip-pairs", p_zip_pairs, 1, 1);
  sx_defprim(vm, "zip", p_zip, 2, 2);
  sx_defprim(vm, "take", p_take, 2, 2);
  sx_defprim(vm, "drop", p_drop, 2, 2);
  sx_defprim(vm, "slice", p_slice, 2, 3);
  sx_defprim(vm, "index-of", p_index_of, 2, 2);
  sx_defprim(vm, "%sort-less", p_sort_default_less, 2, 2);
}
