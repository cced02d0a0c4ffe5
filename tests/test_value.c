/* test_value.c — unit tests for the value representation in
 * kernel/value/sx_value.h: immediates, the tagged header-less cons cell (its
 * size, its type, the reader's positioned variant) and that cells reached
 * only through other heap objects survive collections; and the heap policy
 * sx_gc_init sets (the environment overriding it); the per-thread recent
 * strings (sx_string_recent, sx_string_key). */
#include "sx_dict.h"
#include "sx_value.h"

#include <criterion/criterion.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void setup(void) { sx_gc_init(); }

TestSuite(value, .init = setup);

/* (0 1 ... n-1) where element i is the string "s<i>" when strings is set,
 * else the fixnum i. Built back to front so only the head is returned. */
static sx_val build(long n, bool strings) {
  sx_val l = SX_EMPTY;
  for (long i = n - 1; i >= 0; i--) {
    char buf[32];
    int k = snprintf(buf, sizeof buf, "s%ld", i);
    l = sx_cons(strings ? sx_string_new(buf, (size_t)k) : sx_fixnum(i), l);
  }
  return l;
}

static void check(sx_val l, long n, bool strings) {
  long i = 0;
  for (; sx_is_cons(l); l = sx_cdr(l), i++) {
    sx_val x = sx_car(l);
    if (strings) {
      char buf[32];
      snprintf(buf, sizeof buf, "s%ld", i);
      cr_assert(sx_is_string(x), "element %ld is not a string", i);
      cr_assert_str_eq(sx_str_data(x), buf);
    } else {
      cr_assert_eq(x, sx_fixnum(i), "element %ld is wrong", i);
    }
  }
  cr_assert_eq(l, SX_EMPTY);
  cr_assert_eq(i, n);
}

/* Allocate a few megabytes of garbage of every kind and collect. */
static void churn(void) {
  for (int i = 0; i < 200000; i++) {
    (void)sx_cons(sx_fixnum(-1), sx_fixnum(-1));
    (void)sx_string_cstr("garbage");
  }
  GC_gcollect();
}

Test(value, fixnums_are_immediate) {
  GC_gcollect();
  size_t before = GC_get_total_bytes();
  for (int64_t i = -1000; i < 1000; i++) {
    sx_val v = sx_int(i);
    cr_assert(sx_is_fixnum(v));
    cr_assert_eq(sx_int_val(v), i);
  }
  cr_assert_eq(GC_get_total_bytes(), before, "making fixnums allocated");
  cr_assert(!sx_is_fixnum(sx_int(SX_FIXNUM_MAX + 1)));
}

Test(value, cons_is_a_tagged_sixteen_byte_cell) {
  sx_val c = sx_cons(sx_fixnum(1), SX_EMPTY);
  cr_assert(sx_is_cons(c));
  cr_assert(sx_is_list(c));
  cr_assert(!sx_is_ptr(c), "a cons is not a header-carrying object");
  cr_assert_eq(sx_type_of(c), SX_T_LIST);
  cr_assert_eq(c & 15, SX_TAG_CONS);
  cr_assert_eq(GC_size(sx_pair_of(c)), 16);
  cr_assert_eq(sx_cons_pos_of(c), NULL);
  cr_assert_str_eq(sx_type_name(c), "list");
  cr_assert_eq(sx_type_of(SX_EMPTY), SX_T_LIST);
  cr_assert(!sx_is_cons(SX_EMPTY));
  /* no immediate or fixnum looks like a cons */
  sx_val imm[] = {SX_NIL, SX_TRUE, SX_FALSE, SX_EMPTY, SX_UNDEF, sx_fixnum(4), sx_fixnum(-3)};
  for (size_t i = 0; i < sizeof imm / sizeof *imm; i++) cr_assert(!sx_is_cons(imm[i]));
}

Test(value, a_million_cells_allocate_sixteen_bytes_each) {
  GC_gcollect();
  size_t before = GC_get_total_bytes();
  sx_val l = build(1000000, false);
  size_t per = (GC_get_total_bytes() - before) / 1000000;
  cr_assert_leq(per, 16, "%zu bytes per cell", per);
  check(l, 1000000, false);
}

Test(value, reader_cells_carry_a_position) {
  sx_val file = sx_string_cstr("f.sx");
  sx_val c = sx_cons_at(sx_fixnum(7), SX_EMPTY, file, 3, 14);
  cr_assert(sx_is_cons(c));
  cr_assert_eq(sx_type_of(c), SX_T_LIST);
  cr_assert_eq(c & 15, SX_TAG_CONS_POS);
  const sx_cons_pos *p = sx_cons_pos_of(c);
  cr_assert_not_null(p);
  cr_assert_eq(p->line, 3);
  cr_assert_eq(p->col, 14);
  cr_assert_eq(p->file, file);
  cr_assert_eq(sx_car(c), sx_fixnum(7));
  cr_assert(sx_equal(c, sx_cons(sx_fixnum(7), SX_EMPTY)), "position is not part of the value");
}

Test(value, cells_linked_only_through_cdrs_survive_collection) {
  sx_val l = build(300000, true); /* strings in the car, cells in the cdr */
  churn();
  churn();
  check(l, 300000, true);
}

Test(value, cells_held_by_other_objects_survive_collection) {
  sx_val d = sx_dict_empty();
  for (int i = 0; i < 40; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    d = sx_dict_assoc(d, sx_string_cstr(k), build(1000 + i, false));
  }
  sx_val positioned = SX_EMPTY;
  for (int i = 999; i >= 0; i--) positioned = sx_cons_at(sx_fixnum(i), positioned, SX_NIL, 1, 1);
  sx_val holder = sx_cons(positioned, sx_cons(d, SX_EMPTY));
  d = positioned = SX_NIL;
  churn();
  check(sx_car(holder), 1000, false);
  sx_val dd = sx_car(sx_cdr(holder));
  for (int i = 0; i < 40; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    check(sx_dict_lookup(dd, sx_string_cstr(k)), 1000 + i, false);
  }
}

/* Every string of up to 24 bytes over a two-letter alphabet, in rounds:
 * sx_string_recent must give back exactly the bytes asked for (strings
 * that differ in any one byte, the middle ones included, are not
 * confused), the same object while it is still recent, and a fresh one
 * above SX_RECENT_MAX bytes. */
Test(value, recent_strings_are_the_bytes_asked_for) {
  char buf[32];
  for (int round = 0; round < 2; round++)
    for (size_t n = 0; n <= 24; n++)
      for (unsigned pat = 0; pat < 64; pat++) {
        for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + ((pat >> (i % 6)) & 1) + (i == n / 2 ? 2 : 0));
        sx_val s = sx_string_recent(buf, n);
        cr_assert(sx_is_string(s));
        cr_assert_eq(sx_str_len(s), n);
        cr_assert(memcmp(sx_str_data(s), buf, n) == 0, "length %zu, pattern %u: wrong bytes", n, pat);
        cr_assert_eq(sx_str_data(s)[n], '\0');
        cr_assert_eq(sx_string_recent(buf, n) == s, n <= SX_RECENT_MAX, "length %zu: shared or not", n);
      }
}

/* Symbols answered from the thread's recent ones are the interned ones:
 * the same name is the same symbol however it is asked for, and names
 * that differ in any byte (a middle one included) are different symbols. */
Test(value, recent_symbols_are_the_interned_ones) {
  char buf[32];
  sx_val first[24][8];
  for (int round = 0; round < 3; round++)
    for (size_t n = 1; n <= 20; n++)
      for (unsigned pat = 0; pat < 8; pat++) {
        for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + ((pat >> (i % 3)) & 1) + (i == n / 2 ? 2 : 0));
        buf[n] = '\0';
        sx_val sym = round == 1 ? sx_symbol_cstr(buf) : sx_symbol_intern(buf, n);
        cr_assert_eq(sx_str_len(sx_sym_name(sym)), n);
        cr_assert(memcmp(sx_str_data(sx_sym_name(sym)), buf, n) == 0, "length %zu, pattern %u", n, pat);
        if (round == 0) first[n][pat] = sym;
        else cr_assert_eq(sym, first[n][pat], "length %zu, pattern %u: one symbol", n, pat);
      }
  for (size_t n = 1; n <= 20; n++)
    for (unsigned a = 0; a < 8; a++)
      for (unsigned b = a + 1; b < 8; b++)
        if (n >= 3 || (a & 3) != (b & 3)) /* short names repeat patterns */
          cr_assert(first[n][a] != first[n][b] || memcmp(sx_str_data(sx_sym_name(first[n][a])),
                                                        sx_str_data(sx_sym_name(first[n][b])), n) == 0);
}

/* Names alike but in their last byte, or a middle one: each its own
 * string and symbol, at every length. */
Test(value, recent_strings_and_symbols_alike_but_in_one_byte) {
  for (int round = 0; round < 2; round++)
    for (size_t n = 1; n <= 20; n++) {
      char v[3][24];
      for (int k = 0; k < 3; k++) memset(v[k], 'a', n), v[k][n] = '\0';
      v[1][n - 1] = 'b';
      v[2][n / 2] = 'c';
      for (int k = 0; k < 3; k++) {
        sx_val str = sx_string_recent(v[k], n), sym = sx_symbol_intern(v[k], n);
        cr_assert_str_eq(sx_str_data(str), v[k], "length %zu, variant %d", n, k);
        cr_assert_str_eq(sx_str_data(sx_sym_name(sym)), v[k], "length %zu, variant %d", n, k);
      }
    }
}

Test(value, a_key_with_an_interned_name_is_that_name) {
  sx_val seq = sx_string_shared("seq");
  cr_assert_eq(sx_string_key("seq", 3), seq);
  cr_assert_eq(sx_string_key("seq", 3), seq, "a recent hit is still the interned name");
  sx_val other = sx_string_key("no-such-symbol-7", 16);
  cr_assert_str_eq(sx_str_data(other), "no-such-symbol-7");
  cr_assert_neq(sx_string_shared("no-such-symbol-7"), other, "a key is looked up, not interned");
}

Test(value, recent_strings_survive_collection) {
  sx_val keep[64];
  for (int i = 0; i < 64; i++) {
    char k[16];
    int n = snprintf(k, sizeof k, "key%d", i);
    keep[i] = sx_string_recent(k, (size_t)n);
  }
  churn();
  for (int i = 0; i < 64; i++) {
    char k[16];
    int n = snprintf(k, sizeof k, "key%d", i);
    sx_val again = sx_string_recent(k, (size_t)n);
    cr_assert_str_eq(sx_str_data(again), k);
    cr_assert_str_eq(sx_str_data(keep[i]), k);
  }
}

Test(value, list_equality_and_the_empty_list) {
  sx_val a = build(5, false), b = build(5, false);
  cr_assert(sx_equal(a, b));
  cr_assert(!sx_equal(a, build(4, false)));
  cr_assert(!sx_equal(build(4, false), a));
  cr_assert(!sx_equal(SX_EMPTY, a));
  cr_assert(!sx_equal(a, SX_EMPTY));
  cr_assert(sx_equal(SX_EMPTY, SX_EMPTY));
  cr_assert(!sx_equal(a, sx_string_cstr("x")));
  cr_assert(!sx_equal(sx_cons(sx_fixnum(1), sx_fixnum(2)), sx_cons(sx_fixnum(1), SX_EMPTY)));
}

/* The heap policy of sx_gc_init, each test in a process of its own
 * (Criterion forks), with the collector not yet initialised: the chosen
 * free-space divisor by default, and whatever the user put in the
 * environment otherwise. */
TestSuite(gc_policy);

Test(gc_policy, default_divisor_lets_the_heap_double) {
  unsetenv("GC_FREE_SPACE_DIVISOR");
  sx_gc_init();
  cr_assert_eq(GC_get_free_space_divisor(), 1);
}

Test(gc_policy, environment_divisor_wins) {
  setenv("GC_FREE_SPACE_DIVISOR", "5", 1);
  sx_gc_init();
  cr_assert_eq(GC_get_free_space_divisor(), 5);
}

Test(gc_policy, initial_heap_from_the_environment_wins) {
  setenv("GC_INITIAL_HEAP_SIZE", "33554432", 1); /* 32 MiB, far above the 4 MiB default */
  sx_gc_init();
  cr_assert_geq(GC_get_heap_size(), (size_t)32 << 20);
}

Test(gc_policy, default_initial_heap_is_a_few_megabytes) {
  unsetenv("GC_INITIAL_HEAP_SIZE");
  sx_gc_init();
  cr_assert_geq(GC_get_heap_size(), (size_t)4 << 20);
  cr_assert_lt(GC_get_heap_size(), (size_t)16 << 20);
}

/* A long list whose elements are objects (the shape of a list of records)
 * survives repeated full collections intact: the shape that overflowed
 * the collector's mark stack before the cell's cdr came first. */
Test(gc_policy, long_list_of_objects_survives_collections) {
  sx_gc_init();
  sx_val l = SX_EMPTY;
  for (long i = 0; i < 200000; i++) {
    sx_val rec = sx_dict_assoc(sx_dict_empty(), sx_string_cstr("amt"), sx_fixnum(i));
    l = sx_cons(rec, l);
    if (i % 50000 == 0) GC_gcollect();
  }
  GC_gcollect();
  long i = 199999;
  for (; sx_is_cons(l); l = sx_cdr(l), i--)
    cr_assert_eq(sx_int_val(sx_dict_lookup(sx_car(l), sx_string_cstr("amt"))), i);
  cr_assert_eq(i, -1);
}
