/* sx_lib_num.c — numeric primitives: arithmetic with 64-bit integers that
 * raise on overflow (never wrap), floats, comparison and rounding.
 * Integer op integer stays an integer; any float operand gives a float;
 * `/` always gives a float. */
#include "sx_lib.h"

#include <math.h>

sx_val sx_lib_int_result(sx_vm *vm, const char *who, int64_t v, bool overflow) {
  if (overflow) return sx_throwf(vm, "%s: integer overflow", who);
  return sx_int(v);
}

static double as_double(sx_val v) { return sx_is_float(v) ? sx_float_val(v) : (double)sx_int_val(v); }

static sx_val check_numbers(sx_vm *vm, const char *who, int argc, sx_val *argv, bool *any_float) {
  *any_float = false;
  for (int i = 0; i < argc; i++) {
    if (!sx_is_number(argv[i])) return sx_type_error(vm, who, "a number", argv[i]);
    if (sx_is_float(argv[i])) *any_float = true;
  }
  return SX_NIL;
}

static sx_val p_add(sx_vm *vm, int argc, sx_val *argv) {
  bool fl;
  if (check_numbers(vm, "+", argc, argv, &fl) == SX_UNDEF) return SX_UNDEF;
  if (fl) {
    double d = 0;
    for (int i = 0; i < argc; i++) d += as_double(argv[i]);
    return sx_float(d);
  }
  int64_t acc = 0;
  for (int i = 0; i < argc; i++)
    if (__builtin_add_overflow(acc, sx_int_val(argv[i]), &acc)) return sx_throwf(vm, "+: integer overflow");
  return sx_int(acc);
}

static sx_val p_mul(sx_vm *vm, int argc, sx_val *argv) {
  bool fl;
  if (check_numbers(vm, "*", argc, argv, &fl) == SX_UNDEF) return SX_UNDEF;
  if (fl) {
    double d = 1;
    for (int i = 0; i < argc; i++) d *= as_double(argv[i]);
    return sx_float(d);
  }
  int64_t acc = 1;
  for (int i = 0; i < argc; i++)
    if (__builtin_mul_overflow(acc, sx_int_val(argv[i]), &acc)) return sx_throwf(vm, "*: integer overflow");
  return sx_int(acc);
}

static sx_val p_sub(sx_vm *vm, int argc, sx_val *argv) {
  bool fl;
  if (check_numbers(vm, "-", argc, argv, &fl) == SX_UNDEF) return SX_UNDEF;
  if (argc == 1) {
    if (fl) return sx_float(-sx_float_val(argv[0]));
    int64_t r;
    bool o = __builtin_sub_overflow((int64_t)0, sx_int_val(argv[0]), &r);
    return sx_lib_int_result(vm, "-", r, o);
  }
  if (fl) {
    double d = as_double(argv[0]);
    for (int i = 1; i < argc; i++) d -= as_double(argv[i]);
    return sx_float(d);
  }
  int64_t acc = sx_int_val(argv[0]);
  for (int i = 1; i < argc; i++)
    if (__builtin_sub_overflow(acc, sx_int_val(argv[i]), &acc)) return sx_throwf(vm, "-: integer overflow");
  return sx_int(acc);
}

static sx_val p_div(sx_vm *vm, int argc, sx_val *argv) {
  bool fl;
  if (check_numbers(vm, "/", argc, argv, &fl) == SX_UNDEF) return SX_UNDEF;
  double d = argc == 1 ? 1.0 : as_double(argv[0]);
  for (int i = argc == 1 ? 0 : 1; i < argc; i++) {
    double x = as_double(argv[i]);
    if (x == 0 && !fl) return sx_throwf(vm, "/: division by zero");
    d /= x;
  }
  return sx_float(d);
}

/* integer division family: quotient truncates, mod takes the divisor's sign */
static sx_val int_div(sx_vm *vm, const char *who, sx_val *argv, int kind) {
  if (!sx_is_number(argv[0])) return sx_type_error(vm, who, "a number", argv[0]);
  if (!sx_is_number(argv[1])) return sx_type_error(vm, who, "a number", argv[1]);
  if (sx_is_float(argv[0]) || sx_is_float(argv[1])) {
    double a = as_double(argv[0]), b = as_double(argv[1]);
    if (b == 0) return sx_throwf(vm, "%s: division by zero", who);
    if (kind == 0) return sx_float(trunc(a / b));
    double r = fmod(a, b);
    if (kind == 2 && r != 0 && ((r < 0) != (b < 0))) r += b;
    return sx_float(r);
  }
  int64_t a = sx_int_val(argv[0]), b = sx_int_val(argv[1]);
  if (b == 0) return sx_throwf(vm, "%s: division by zero", who);
  /* a == INT64_MIN: -a would overflow (undefined behaviour), so test first */
  if (b == -1)
    return kind == 0 ? sx_lib_int_result(vm, who, a == INT64_MIN ? 0 : -a, a == INT64_MIN) : sx_fixnum(0);
  if (kind == 0) return sx_int(a / b);
  int64_t r = a % b;
  if (kind == 2 && r != 0 && ((r < 0) != (b < 0))) r += b;
  return sx_int(r);
}

static sx_val p_quotient(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_div(vm, "quotient", argv, 0);
}
static sx_val p_remainder(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_div(vm, "remainder", argv, 1);
}
static sx_val p_mod(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_div(vm, "mod", argv, 2);
}

/* Compare two numbers or two strings: <0, 0, >0; *ok false on bad types. */
static int compare(sx_val a, sx_val b, bool *ok) {
  *ok = true;
  if (sx_is_int(a) && sx_is_int(b)) {
    int64_t x = sx_int_val(a), y = sx_int_val(b);
    return x < y ? -1 : x > y;
  }
  if (sx_is_number(a) && sx_is_number(b)) {
    double x = as_double(a), y = as_double(b);
    return x < y ? -1 : x > y ? 1 : (x == y ? 0 : 2); /* 2: unordered (NaN) */
  }
  if (sx_is_string(a) && sx_is_string(b)) return sx_string_cmp(a, b);
  *ok = false;
  return 0;
}

static sx_val chain(sx_vm *vm, const char *who, int argc, sx_val *argv, int op) {
  for (int i = 0; i + 1 < argc; i++) {
    bool ok;
    int c = compare(argv[i], argv[i + 1], &ok);
    if (!ok) {
      sx_val bad = sx_is_number(argv[i]) || sx_is_string(argv[i]) ? argv[i + 1] : argv[i];
      return sx_type_error(vm, who, "numbers or strings", bad);
    }
    bool r = c == 2 ? false : op == 0 ? c < 0 : op == 1 ? c > 0 : op == 2 ? c <= 0 : c >= 0;
    if (!r) return SX_FALSE;
  }
  return SX_TRUE;
}

static sx_val p_lt(sx_vm *vm, int argc, sx_val *argv) { return chain(vm, "<", argc, argv, 0); }
static sx_val p_gt(sx_vm *vm, int argc, sx_val *argv) { return chain(vm, ">", argc, argv, 1); }
static sx_val p_le(sx_vm *vm, int argc, sx_val *argv) { return chain(vm, "<=", argc, argv, 2); }
static sx_val p_ge(sx_vm *vm, int argc, sx_val *argv) { return chain(vm, ">=", argc, argv, 3); }

/* = is numeric equality on numbers and equal? on anything else */
static sx_val p_num_eq(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  for (int i = 0; i + 1 < argc; i++) {
    sx_val a = argv[i], b = argv[i + 1];
    bool eq = sx_is_number(a) && sx_is_number(b)
                  ? as_double(a) == as_double(b) &&
                        (!sx_is_int(a) || !sx_is_int(b) || sx_int_val(a) == sx_int_val(b))
                  : sx_equal(a, b);
    if (!eq) return SX_FALSE;
  }
  return SX_TRUE;
}

/* != is exactly (not (= ...)), for every argument count = accepts */
static sx_val p_num_ne(sx_vm *vm, int argc, sx_val *argv) {
  return sx_bool(p_num_eq(vm, argc, argv) == SX_FALSE);
}

static sx_val minmax(sx_vm *vm, const char *who, int argc, sx_val *argv, bool want_max) {
  bool fl;
  if (check_numbers(vm, who, argc, argv, &fl) == SX_UNDEF) return SX_UNDEF;
  sx_val best = argv[0];
  for (int i = 1; i < argc; i++) {
    bool ok;
    int c = compare(argv[i], best, &ok);
    if (want_max ? c == 1 : c == -1) best = argv[i];
  }
  return fl && !sx_is_float(best) ? sx_float(as_double(best)) : best;
}

static sx_val p_min(sx_vm *vm, int argc, sx_val *argv) { return minmax(vm, "min", argc, argv, false); }
static sx_val p_max(sx_vm *vm, int argc, sx_val *argv) { return minmax(vm, "max", argc, argv, true); }

static sx_val p_abs(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "abs", 0, sx_is_number, "a number");
  if (sx_is_float(argv[0])) return sx_float(fabs(sx_float_val(argv[0])));
  int64_t i = sx_int_val(argv[0]);
  if (i == INT64_MIN) return sx_lib_int_result(vm, "abs", 0, true); /* -i would overflow */
  return sx_int(i < 0 ? -i : i);
}

static sx_val step(sx_vm *vm, const char *who, sx_val v, int64_t d) {
  if (!sx_is_number(v)) return sx_type_error(vm, who, "a number", v);
  if (sx_is_float(v)) return sx_float(sx_float_val(v) + (double)d);
  int64_t r;
  bool o = __builtin_add_overflow(sx_int_val(v), d, &r);
  return sx_lib_int_result(vm, who, r, o);
}

static sx_val p_inc(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return step(vm, "inc", argv[0], 1);
}
static sx_val p_dec(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return step(vm, "dec", argv[0], -1);
}

static sx_val to_int(sx_vm *vm, const char *who, sx_val v, double (*fn)(double)) {
  if (!sx_is_number(v)) return sx_type_error(vm, who, "a number", v);
  if (sx_is_int(v)) return v;
  double d = fn(sx_float_val(v));
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
    return sx_throwf(vm, "%s: %s does not fit in an integer", who, sx_str_data(sx_shown(v)));
  return sx_int((int64_t)d);
}

static sx_val p_floor(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return to_int(vm, "floor", argv[0], floor);
}
static sx_val p_ceil(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return to_int(vm, "ceil", argv[0], ceil);
}
static sx_val p_round(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return to_int(vm, "round", argv[0], round);
}
static sx_val p_truncate(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return to_int(vm, "truncate", argv[0], trunc);
}

static sx_val p_sqrt(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "sqrt", 0, sx_is_number, "a number");
  return sx_float(sqrt(as_double(argv[0])));
}

static sx_val p_pow(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "pow", 0, sx_is_number, "a number");
  SX_CHECK(vm, "pow", 1, sx_is_number, "a number");
  if (sx_is_int(argv[0]) && sx_is_int(argv[1]) && sx_int_val(argv[1]) >= 0) {
    /* square-and-multiply: a loop of e multiplications hangs on (pow 1 1e15) */
    int64_t base = sx_int_val(argv[0]), e = sx_int_val(argv[1]), r = 1;
    bool o = false, sq_o = false; /* sq_o: base no longer fits (only matters if used) */
    while (e > 0 && !o) {
      if (e & 1) o = sq_o || __builtin_mul_overflow(r, base, &r);
      e >>= 1;
      if (e > 0 && !sq_o) sq_o = __builtin_mul_overflow(base, base, &base);
    }
    return sx_lib_int_result(vm, "pow", r, o);
  }
  return sx_float(pow(as_double(argv[0]), as_double(argv[1])));
}

static sx_val int_pred(sx_vm *vm, const char *who, sx_val v, int kind) {
  if (!sx_is_number(v)) return sx_type_error(vm, who, "a number", v);
  if (kind == 0) return sx_bool(as_double(v) == 0);
  if (kind == 3) return sx_bool(as_double(v) > 0);
  if (kind == 4) return sx_bool(as_double(v) < 0);
  if (!sx_is_int(v)) return sx_type_error(vm, who, "an integer", v);
  bool odd = (sx_int_val(v) & 1) != 0;
  return sx_bool(kind == 1 ? odd : !odd);
}

static sx_val p_zero(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_pred(vm, "zero?", argv[0], 0);
}
static sx_val p_odd(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_pred(vm, "odd?", argv[0], 1);
}
static sx_val p_even(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_pred(vm, "even?", argv[0], 2);
}
static sx_val p_pos(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_pred(vm, "pos?", argv[0], 3);
}
static sx_val p_neg(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  return int_pred(vm, "neg?", argv[0], 4);
}

static sx_val p_number_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is_number(argv[0]));
}
static sx_val p_integer_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is_int(argv[0]));
}
static sx_val p_float_p(sx_vm *vm, int argc, sx_val *argv) {
  (void)vm;
  (void)argc;
  return sx_bool(sx_is_float(argv[0]));
}

static sx_val p_to_float(sx_vm *vm, int argc, sx_val *argv) {
  (void)argc;
  SX_CHECK(vm, "float", 0, sx_is_number, "a number");
  return sx_float(as_double(argv[0]));
}

void sx_lib_num_install(sx_vm *vm) {
  sx_defprim(vm, "+", p_add, 0, -1);
  sx_defprim(vm, "-", p_sub, 1, -1);
  sx_defprim(vm, "*", p_mul, 0, -1);
  sx_defprim(vm, "/", p_div, 1, -1);
  sx_defprim(vm, "quotient", p_quotient, 2, 2);
  sx_defprim(vm, "remainder", p_remainder, 2, 2);
  sx_defprim(vm, "mod", p_mod, 2, 2);
  sx_defprim(vm, "modulo", p_mod, 2, 2);
  sx_defprim(vm, "<", p_lt, 1, -1);
  sx_defprim(vm, ">", p_gt, 1, -1);
  sx_defprim(vm, "<=", p_le, 1, -1);
  sx_defprim(vm, ">=", p_ge, 1, -1);
  sx_defprim(vm, "=", p_num_eq, 1, -1);
  sx_defprim(vm, "!=", p_num_ne, 1, -1);
  sx_defprim(vm, "min", p_min, 1, -1);
  sx_defprim(vm, "max", p_max, 1, -1);
  sx_defprim(vm, "abs", p_abs, 1, 1);
  sx_defprim(vm, "inc", p_inc, 1, 1);
  sx_defprim(vm, "dec", p_dec, 1, 1);
  sx_defprim(vm, "floor", p_floor, 1, 1);
  sx_defprim(vm, "ceil", p_ceil, 1, 1);
  sx_defprim(vm, "round", p_round, 1, 1);
  sx_defprim(vm, "truncate", p_truncate, 1, 1);
  sx_defprim(vm, "sqrt", p_sqrt, 1, 1);
  sx_defprim(vm, "pow", p_pow, 2, 2);
  sx_defprim(vm, "expt", p_pow, 2, 2);
  sx_defprim(vm, "zero?", p_zero, 1, 1);
  sx_defprim(vm, "odd?", p_odd, 1, 1);
  sx_defprim(vm, "even?", p_even, 1, 1);
  sx_defprim(vm, "pos?", p_pos, 1, 1);
  sx_defprim(vm, "neg?", p_neg, 1, 1);
  sx_defprim(vm, "number?", p_number_p, 1, 1);
  sx_defprim(vm, "integer?", p_integer_p, 1, 1);
  sx_defprim(vm, "float?", p_float_p, 1, 1);
  sx_defprim(vm, "float", p_to_float, 1, 1);
  static const struct {
    const char *name;
    int fop;
  } fast[] = {{"+", FOP_ADD}, {"-", FOP_SUB}, {"*", FOP_MUL}, {"<", FOP_LT},
              {">", FOP_GT},  {"<=", FOP_LE}, {">=", FOP_GE}, {"=", FOP_NUMEQ}};
  for (size_t i = 0; i < sizeof fast / sizeof *fast; i++) sx_set_fast_op(vm, fast[i].name, fast[i].fop);
}
