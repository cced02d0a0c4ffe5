/* test_stdlib.c — the standard library: every primitive of SX-LANGUAGE.md
 * and of the stdlib C files and prelude.sx, with normal cases and error cases
 * (exact messages), numeric rules (overflow is an error, `/` gives floats,
 * rounding gives integers), list/dict/string functions, sort, parse-int. */
#include "sx_test_eval.h"

TestSuite(stdlib, .init = setup, .fini = teardown);

typedef struct {
  const char *src, *want;
} case_t;

/* every entry of a table: OK when want does not start with "!", else ERR
 * with the rest of want as the exact message */
static void table(const case_t *cs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (cs[i].want[0] == '!') ERR(cs[i].src, cs[i].want + 1);
    else OK(cs[i].src, cs[i].want);
  }
}
#define TABLE(...)                                                                                           \
  do {                                                                                                       \
    static const case_t cs_[] = {__VA_ARGS__};                                                               \
    table(cs_, sizeof cs_ / sizeof *cs_);                                                                    \
  } while (0)

/* ---- arithmetic ---------------------------------------------------------- */
Test(stdlib, arithmetic) {
  TABLE({"(+)", "0"}, {"(+ 1 2 3)", "6"}, {"(+ 1 2.5)", "3.5"}, {"(- 10 3)", "7"}, {"(- 5)", "-5"},
        {"(- 2.5)", "-2.5"}, {"(- 10 1 2)", "7"}, {"(*)", "1"}, {"(* 2 3 4)", "24"}, {"(* 2 1.5)", "3.0"},
        {"(/ 1 2)", "0.5"}, {"(/ 4 2)", "2.0"}, {"(/ 2)", "0.5"}, {"(/ 1.0 0)", "+inf.0"},
        {"(quotient 7 2)", "3"}, {"(quotient -7 2)", "-3"}, {"(remainder -7 3)", "-1"}, {"(mod -7 3)", "2"},
        {"(mod 7 -3)", "-2"}, {"(modulo 7 3)", "1"}, {"(mod 7.5 2)", "1.5"}, {"(inc 1)", "2"},
        {"(dec 1)", "0"}, {"(inc 1.5)", "2.5"}, {"(abs -5)", "5"}, {"(abs -2.5)", "2.5"},
        {"(min 3 1 2)", "1"}, {"(max 3 1 2)", "3"}, {"(max 1 2.0)", "2.0"}, {"(min 1 2.0)", "1.0"},
        {"(sqrt 16)", "4.0"}, {"(pow 2 10)", "1024"}, {"(pow 2 -1)", "0.5"},
        {"(pow 2 0.5)", "1.4142135623730951"}, {"(expt 3 3)", "27"}, {"(pow 0 0)", "1"},
        {"(pow -2 63)", "-9223372036854775808"}, {"(pow 1 1000000000000000)", "1"},
        {"(pow -1 1000000000000001)", "-1"}, {"(float 3)", "3.0"});
}

Test(stdlib, division_always_float) {
  OK("(float? (/ 6 3))", "true");
  OK("(/ 7 2)", "3.5");
}

Test(stdlib, rounding_gives_integers) {
  TABLE({"(floor 3.7)", "3"}, {"(floor -3.2)", "-4"}, {"(ceil 3.2)", "4"}, {"(round 2.5)", "3"},
        {"(round -2.5)", "-3"}, {"(round 2.4)", "2"}, {"(truncate -3.7)", "-3"}, {"(floor 5)", "5"},
        {"(integer? (floor 3.7))", "true"}, {"(integer? (round 1.5))", "true"},
        {"(floor 1e300)", "!floor: 1e300 does not fit in an integer"});
}

Test(stdlib, integer_overflow_is_an_error) {
  TABLE({"(+ 9223372036854775807 1)", "!+: integer overflow"},
        {"(+ 4611686018427387903 4611686018427387903)", "9223372036854775806"},
        {"(* 4611686018427387904 2)", "!*: integer overflow"},
        {"(* 3037000500 3037000500)", "!*: integer overflow"},
        {"(- -9223372036854775807 2)", "!-: integer overflow"},
        {"(- (- -9223372036854775807 1))", "!-: integer overflow"},
        {"(inc 9223372036854775807)", "!inc: integer overflow"},
        {"(dec (- -9223372036854775807 1))", "!dec: integer overflow"},
        {"(abs (- -9223372036854775807 1))", "!abs: integer overflow"},
        {"(quotient (- -9223372036854775807 1) -1)", "!quotient: integer overflow"},
        {"(remainder (- -9223372036854775807 1) -1)", "0"}, {"(pow 2 63)", "!pow: integer overflow"},
        {"(pow 3 40)", "!pow: integer overflow"}, {"(pow 2 62)", "4611686018427387904"},
        {"(- 9223372036854775807)", "-9223372036854775807"},
        {"(+ 9223372036854775806 1)", "9223372036854775807"});
}

Test(stdlib, arithmetic_errors) {
  TABLE({"(+ 1 \"a\")", "!+: expected a number, got \"a\""}, {"(- nil)", "!-: expected a number, got nil"},
        {"(* 2 (list))", "!*: expected a number, got ()"}, {"(/ 1 0)", "!/: division by zero"},
        {"(/ \"x\" 1)", "!/: expected a number, got \"x\""},
        {"(quotient 1 0)", "!quotient: division by zero"}, {"(mod 1 0)", "!mod: division by zero"},
        {"(mod 1.0 0)", "!mod: division by zero"}, {"(abs :a)", "!abs: expected a number, got \"a\""},
        {"(sqrt \"4\")", "!sqrt: expected a number, got \"4\""},
        {"(inc nil)", "!inc: expected a number, got nil"},
        {"(floor \"1\")", "!floor: expected a number, got \"1\""},
        {"(min 1 \"2\")", "!min: expected a number, got \"2\""},
        {"(pow 2 \"a\")", "!pow: expected a number, got \"a\""},
        {"(odd? 1.5)", "!odd?: expected an integer, got 1.5"},
        {"(zero? \"0\")", "!zero?: expected a number, got \"0\""});
  ERR_HAS("(-)", "-"); /* arity */
  ERR_HAS("(inc)", "inc");
  ERR_HAS("(inc 1 2)", "inc");
}

Test(stdlib, comparison) {
  TABLE({"(= 1 1)", "true"}, {"(= 1 1.0)", "true"}, {"(= 1 2)", "false"}, {"(= 1 1 1)", "true"},
        {"(< 1 2)", "true"}, {"(< 2 1)", "false"}, {"(< 1 2 3)", "true"}, {"(< 1 3 2)", "false"},
        {"(> 2 1)", "true"}, {"(<= 1 1)", "true"}, {"(>= 1 2)", "false"}, {"(< 1 1.5)", "true"},
        {"(< \"a\" \"b\")", "true"}, {"(< \"b\" \"a\")", "false"},
        {"(< 1 \"a\")", "!<: expected numbers or strings, got \"a\""},
        {"(> nil 1)", "!>: expected numbers or strings, got nil"}, {"(!= 1 2)", "true"},
        {"(!= 1 1)", "false"});
}

/* != is the negation of = for every argument list = accepts: numbers of
 * either kind, NaN, strings, lists, any argument count. */
Test(stdlib, not_equal_is_the_negation_of_numeric_equal) {
  static const char *args[] = {"1 1.0",
                               "1 1",
                               "1 2",
                               "1.5 1.5",
                               "0.0 -0.0",
                               "1",
                               "1 1 1",
                               "1 1 2",
                               "1 1.0 1",
                               "(/ 0.0 0.0) (/ 0.0 0.0)",
                               "\"a\" \"a\"",
                               "\"a\" \"b\"",
                               "1 \"1\"",
                               "(list 1) (list 1)",
                               "(list 1) (list 1.0)",
                               "nil nil",
                               "9007199254740993 9007199254740992.0"};
  char src[200];
  for (size_t i = 0; i < sizeof args / sizeof *args; i++) {
    snprintf(src, sizeof src, "(list (!= %s) (not (= %s)))", args[i], args[i]);
    sx_val out;
    cr_assert_eq(run_src(src, &out), SX_DONE, "%s: %s", src, errmsg(out));
    cr_assert_eq(sx_car(out), sx_car(sx_cdr(out)), "%s gives %s", src, printed(out));
  }
  TABLE({"(!= 1 1.0)", "false"}, {"(!= 1 2.0)", "true"}, {"(!= 1)", "false"}, {"(!= 2 2 3)", "true"});
}

/* equal? is structural: numbers of different kinds differ, = compares
 * values; both see through how a list or dict was built. */
Test(stdlib, equality_kinds) {
  TABLE({"(equal? 1 1.0)", "false"}, {"(= 1 1.0)", "true"}, {"(equal? 1.5 1.5)", "true"},
        {"(equal? (list 1 2) (list 1 2.0))", "false"}, {"(equal? {:a 1} {:a 1})", "true"},
        {"(equal? {:a 1} {:a 1.0})", "false"}, {"(contains? (list 1 2) 2.0)", "false"},
        {"(equal? (list 1 (list 2)) (cons 1 (list (list 2))))", "true"}, {"(equal? 0.0 -0.0)", "true"},
        /* nested in the head 100 deep: what is left to compare piles up */
        {"(equal? (reduce (fn (a i) (list a i)) 0 (range 100)) (reduce (fn (a i) (list a i)) 0 (range 100)))",
         "true"},
        {"(equal? (reduce (fn (a i) (list a i)) 0 (range 100)) (reduce (fn (a i) (list a i)) 1 (range 100)))",
         "false"});
}

/* A float in an error message is spelled as the printer spells it, so it
 * reads back: +nan.0 (never -nan or nan), +inf.0, every digit. */
Test(stdlib, floats_in_error_messages_print_readably) {
  TABLE({"(floor (sqrt -1))", "!floor: +nan.0 does not fit in an integer"},
        {"(round (/ 0.0 0.0))", "!round: +nan.0 does not fit in an integer"},
        {"(ceil (/ 1.0 0))", "!ceil: +inf.0 does not fit in an integer"},
        {"(truncate (/ -1.0 0))", "!truncate: -inf.0 does not fit in an integer"},
        {"(floor 1.2345678901e300)", "!floor: 1.2345678901e300 does not fit in an integer"},
        {"(str (sqrt -1))", "\"+nan.0\""}, {"(sqrt -1)", "+nan.0"},
        {"(guard (e (true (error-message e))) (error \"bad\" (sqrt -1)))", "\"bad +nan.0\""});
}

Test(stdlib, numeric_predicates) {
  TABLE({"(zero? 0)", "true"}, {"(zero? 0.0)", "true"}, {"(zero? 1)", "false"}, {"(odd? 3)", "true"},
        {"(even? 3)", "false"}, {"(even? -2)", "true"}, {"(pos? 1)", "true"}, {"(neg? -1)", "true"},
        {"(number? 1)", "true"}, {"(number? 1.5)", "true"}, {"(number? \"1\")", "false"},
        {"(integer? 1)", "true"}, {"(integer? 1.0)", "false"}, {"(float? 1.0)", "true"},
        {"(float? 1)", "false"});
}

/* ---- type predicates & core ---------------------------------------------- */
Test(stdlib, type_predicates) {
  TABLE({"(nil? nil)", "true"}, {"(nil? false)", "false"}, {"(nil? (list))", "false"},
        {"(boolean? false)", "true"}, {"(boolean? nil)", "false"}, {"(string? \"s\")", "true"},
        {"(string? :k)", "true"}, {"(list? (list 1))", "true"}, {"(list? ())", "true"},
        {"(list? nil)", "false"}, {"(dict? {})", "true"}, {"(dict? (list))", "false"}, {"(fn? +)", "true"},
        {"(fn? (fn () 1))", "true"}, {"(fn? 1)", "false"}, {"(symbol? 'a)", "true"},
        {"(symbol? \"a\")", "false"}, {"(keyword? :a)", "false"}, {"(keyword? (keyword \"a\"))", "true"},
        {"(error? (guard (e (true e)) (error \"x\")))", "true"}, {"(error? \"x\")", "false"});
}

Test(stdlib, type_of) {
  TABLE({"(type-of 1)", "\"integer\""}, {"(type-of 1.5)", "\"float\""}, {"(type-of \"s\")", "\"string\""},
        {"(type-of nil)", "\"nil\""}, {"(type-of true)", "\"boolean\""}, {"(type-of (list))", "\"list\""},
        {"(type-of {})", "\"dict\""}, {"(type-of +)", "\"function\""},
        {"(type-of (fn () 1))", "\"function\""}, {"(type-of 'x)", "\"symbol\""},
        {"(call/cc (fn (k) (type-of k)))", "\"continuation\""},
        {"(guard (e (true (type-of e))) (error \"x\"))", "\"error\""},
        {"(begin (defmacro m (x) x) (type-of m))", "\"macro\""});
}

Test(stdlib, equality) {
  TABLE({"(equal? (list 1 (list 2 {:a \"x\"})) (list 1 (list 2 {:a \"x\"})))", "true"},
        {"(equal? (list 1 2) (list 1 3))", "false"}, {"(equal? (list 1 2) (list 1 2 3))", "false"},
        {"(equal? {:a 1 :b 2} {:b 2 :a 1})", "true"},
        {"(equal? {:a 1 :b (list 1 2)} (assoc {:b (list 1 2)} :a 1))", "true"},
        {"(equal? {:a 1} {:a 1 :b 2})", "false"}, {"(equal? {:a 1} {:a 2})", "false"},
        {"(equal? (map inc (list 1 2)) (list 2 3))", "true"}, {"(equal? \"a\" \"a\")", "true"},
        {"(equal? nil false)", "false"}, {"(equal? nil (list))", "false"}, {"(equal? 'a 'a)", "true"},
        {"(eq? 'a 'a)", "true"}, {"(eq? (list 1) (list 1))", "false"},
        {"(let ((l (list 1))) (eq? l l))", "true"}, {"(eqv? \"a\" \"a\")", "true"}, {"(eqv? 1 1)", "true"},
        {"(eqv? 1 1.0)", "false"}, {"(eqv? 1.5 (+ 1.0 0.5))", "true"}, {"(eqv? 1.5 2.5)", "false"},
        {"(eqv? (str \"a\" \"b\") \"ab\")", "true"}, {"(eqv? (list 1) (list 1))", "false"},
        {"(eqv? 1 \"1\")", "false"}, {"(not nil)", "true"}, {"(not 0)", "false"}, {"(identity 5)", "5"});
}

Test(stdlib, errors_and_raise) {
  TABLE({"(error \"boom\")", "!boom"}, {"(error \"bad value:\" 42 \"s\")", "!bad value: 42 \"s\""},
        {"(raise \"plain\")", "!plain"}, {"(raise 42)", "!42"},
        {"(guard (e (true e)) (raise {:code 1}))", "{:code 1}"},
        {"(error-message (guard (e (true e)) (error \"m\" 1)))", "\"m 1\""},
        {"(error-irritants (guard (e (true e)) (error \"m\" 1 2)))", "(1 2)"},
        {"(error-irritants (guard (e (true e)) (error \"m\")))", "()"}, {"(error-message \"s\")", "\"s\""},
        {"(error-where 5)", "nil"});
}

Test(stdlib, gensym_is_fresh) {
  OK("(symbol? (gensym))", "true");
  OK("(eq? (gensym) (gensym))", "false");
}

/* ---- lists ----------------------------------------------------------------- */
Test(stdlib, list_basics) {
  TABLE({"(list)", "()"}, {"(list 1 2)", "(1 2)"}, {"(cons 1 (list 2))", "(1 2)"}, {"(cons 1 nil)", "(1)"},
        {"(cons 1 2)", "!cons: expected a list as the second argument, got 2"}, {"(first (list 1 2))", "1"},
        {"(first (list))", "nil"}, {"(first nil)", "nil"},
        {"(first \"abc\")", "!first: expected a list, got \"abc\""}, {"(rest (list 1 2))", "(2)"},
        {"(rest (list))", "()"}, {"(rest nil)", "()"}, {"(rest 5)", "!rest: expected a list, got 5"},
        {"(nth (list 1 2 3) 0)", "1"}, {"(nth (list 1 2 3) 2)", "3"}, {"(nth (list 1 2) 5)", "nil"},
        {"(nth (list 1 2) -1)", "nil"}, {"(nth nil 0)", "nil"},
        {"(nth (list 1) \"0\")", "!nth: expected an integer index, got \"0\""},
        {"(nth 5 0)", "!nth: expected a list, got 5"}, {"(last (list 1 2 3))", "3"}, {"(last (list))", "nil"},
        {"(reverse (list 1 2 3))", "(3 2 1)"}, {"(reverse nil)", "()"},
        {"(reverse \"ab\")", "!reverse: expected a list, got \"ab\""});
}

Test(stdlib, len_counts) {
  TABLE({"(len (list 1 2 3))", "3"}, {"(len ())", "0"}, {"(len nil)", "0"}, {"(len \"abc\")", "3"},
        {"(len \"h\\u00e9llo\")", "6"}, /* bytes, not characters */
        {"(len {:a 1 :b 2})", "2"}, {"(len 5)", "!len: expected a list, string or dict, got 5"},
        {"(len true)", "!len: expected a list, string or dict, got true"});
}

Test(stdlib, append_semantics) {
  TABLE({"(append (list 1 2) (list 3 4))", "(1 2 3 4)"}, {"(append (list 1 2) 3)", "(1 2 3)"},
        {"(append (list 1) (list (list 2)))", "(1 (2))"}, {"(append (list 1) \"s\")", "(1 \"s\")"},
        {"(append (list 1) {:a 1})", "(1 {:a 1})"}, {"(append nil 1)", "(1)"},
        {"(append (list) (list))", "()"}, {"(append)", "()"},
        {"(append 1 2)", "!append: expected a list as the first argument, got 1"});
  /* the original list is untouched */
  OK("(define a (list 1 2)) (append a 3) a", "(1 2)");
}

Test(stdlib, concat_contains_empty) {
  TABLE({"(concat (list 1) nil (list 2 3))", "(1 2 3)"}, {"(concat)", "()"},
        {"(concat (list 1) 2)", "!concat: expected lists, got 2"},
        {"(contains? (list 1 (list 2)) (list 2))", "true"}, {"(contains? (list 1 2) 3)", "false"},
        {"(contains? nil 1)", "false"}, {"(contains? (list {:a 1}) {:a 1})", "true"},
        {"(contains? {:a 1} \"a\")", "true"}, {"(contains? \"hello\" \"ell\")", "true"},
        {"(contains? \"hello\" 1)", "!contains?: expected a string to look for, got 1"},
        {"(contains? 5 1)", "!contains?: expected a list, dict or string, got 5"},
        {"(empty? (list))", "true"}, {"(empty? nil)", "true"}, {"(empty? (list 1))", "false"},
        {"(empty? \"\")", "true"}, {"(empty? {})", "true"}, {"(empty? {:a 1})", "false"},
        {"(empty? 5)", "!empty?: expected a list, string or dict, got 5"});
}

Test(stdlib, higher_order) {
  TABLE({"(map inc (list 1 2 3))", "(2 3 4)"}, {"(map inc nil)", "()"}, {"(map inc (list))", "()"},
        {"(filter odd? (list 1 2 3 4 5))", "(1 3 5)"}, {"(filter odd? nil)", "()"},
        {"(reduce + 0 (list 1 2 3))", "6"}, {"(reduce + 0 nil)", "0"}, {"(reduce + (list 1 2 3))", "6"},
        {"(reduce (fn (acc x) (cons x acc)) (list) (list 1 2 3))", "(3 2 1)"}, /* (f acc item) */
        {"(reduce (fn (acc x) (- acc x)) 100 (list 1 2))", "97"},
        {"(reduce (fn (acc x) (str acc x)) \"\" (list \"a\" \"b\"))", "\"ab\""},
        {"(some even? (list 1 2 3))", "true"}, {"(some even? (list 1 3))", "nil"},
        {"(some (fn (x) (and (> x 1) (* x 10))) (list 1 2 3))", "20"}, {"(every? odd? (list 1 3))", "true"},
        {"(every? odd? (list 1 2))", "false"}, {"(every? odd? (list))", "true"},
        {"(apply + (list 1 2 3))", "6"}, {"(apply + 1 2 (list 3))", "6"}, {"(apply max (list 1 5 2))", "5"},
        {"(map-indexed (fn (i x) (list i x)) (list :a :b))", "((0 \"a\") (1 \"b\"))"});
  OK("(define out (list)) (for-each (fn (x) (set! out (cons x out))) (list 1 2 3)) out", "(3 2 1)");
  OK("(for-each inc nil)", "nil");
  ERR("(map 5 (list 1))", "map: expected a function, got 5");
  ERR("(reduce \"f\" 0 (list 1))", "reduce: expected a function, got \"f\"");
  ERR_HAS("(map inc 5)", "map");
  ERR_HAS("(filter odd? \"abc\")", "filter");
  ERR_HAS("(reduce + 0 5)", "reduce");
  ERR_HAS("(apply + 5)", "apply");
}

Test(stdlib, range_flatten_zip_take_drop_slice) {
  TABLE({"(range 5)", "(0 1 2 3 4)"}, {"(range 1 4)", "(1 2 3)"}, {"(range 1 10 3)", "(1 4 7)"},
        {"(range 5 0 -2)", "(5 3 1)"}, {"(range 0)", "()"}, {"(range 3 1)", "()"},
        {"(range 1 2 0)", "!range: step must not be 0"},
        {"(range \"a\")", "!range: expected integers, got \"a\""},
        {"(range 9223372036854775800 9223372036854775807 5)", "(9223372036854775800 9223372036854775805)"},
        {"(range -9223372036854775807 9223372036854775807)", "!range: more than 100000000 elements"},
        {"(flatten (list 1 (list 2 (list 3)) 4))", "(1 2 3 4)"}, {"(flatten nil)", "()"},
        {"(zip-pairs (list 1 2 3 4))", "((1 2) (3 4))"}, {"(zip-pairs (list 1 2 3))", "((1 2) (3 nil))"},
        {"(zip (list 1 2) (list :a :b :c))", "((1 \"a\") (2 \"b\"))"}, {"(take (list 1 2 3) 2)", "(1 2)"},
        {"(take (list 1 2) 5)", "(1 2)"}, {"(take (list 1 2) -1)", "()"}, {"(drop (list 1 2 3) 2)", "(3)"},
        {"(drop (list 1) 5)", "()"}, {"(take (list 1) \"a\")", "!take: expected an integer, got \"a\""},
        {"(slice (list 1 2 3 4) 1 3)", "(2 3)"}, {"(slice (list 1 2 3 4) 2)", "(3 4)"},
        {"(slice \"hello\" 1 3)", "\"el\""}, {"(slice \"hello\" -3)", "\"llo\""},
        {"(slice (list 1 2) 5)", "()"}, {"(slice (list 1 2 3) 2 1)", "()"},
        {"(slice (list 1 2 3) nil)", "(1 2 3)"}, {"(slice (list 1 2 3) nil 2)", "(1 2)"},
        {"(slice 5 1)", "!slice: expected a list or string, got 5"},
        {"(slice (list 1) \"a\")", "!slice: expected an integer index, got \"a\""},
        {"(index-of (list 1 2 3) 3)", "2"}, {"(index-of (list 1 2 3) 9)", "-1"},
        {"(index-of \"hello\" \"l\")", "2"}, {"(index-of \"hello\" \"z\")", "-1"});
}

Test(stdlib, prelude_list_functions) {
  TABLE({"(distinct (list 1 2 1 3 2))", "(1 2 3)"}, {"(count odd? (list 1 2 3))", "2"},
        {"(find even? (list 1 2 4))", "2"}, {"(find even? (list 1 3))", "nil"}, {"(find even? nil)", "nil"},
        {"(remove odd? (list 1 2 3))", "(2)"}, {"((compose inc inc) 1)", "3"},
        {"((compose (fn (x) (* x 2)) inc) 5)", "12"}, /* right to left */
        {"((partial list 1) 2 3)", "(1 2 3)"});
}

Test(stdlib, sort) {
  TABLE({"(sort (list 3 1 2))", "(1 2 3)"}, {"(sort (list 2.5 1 3))", "(1 2.5 3)"},
        {"(sort (list \"b\" \"a\" \"B\"))", "(\"B\" \"a\" \"b\")"}, {"(sort (list))", "()"},
        {"(sort nil)", "()"}, {"(sort (list 3 1 2) >)", "(3 2 1)"}, {"(sort > (list 3 1 2))", "(3 2 1)"},
        {"(sort (list 1 \"a\"))", "!sort: cannot compare string with integer (pass a comparator)"},
        {"(sort-by len (list \"ccc\" \"a\" \"bb\"))", "(\"a\" \"bb\" \"ccc\")"},
        /* stable: equal keys keep their order */
        {"(sort-by first (list (list 1 :a) (list 0 :b) (list 1 :c) (list 0 :d)))",
         "((0 \"b\") (0 \"d\") (1 \"a\") (1 \"c\"))"});
  OK("(equal? (sort (map (fn (i) (mod (* i 7919) 1000)) (range 1000))) (range 1000))", "true");
}

/* ---- dicts ------------------------------------------------------------------ */
Test(stdlib, dict_access) {
  TABLE({"(get {:a 1} :a)", "1"}, {"(get {:a 1} \"a\")", "1"}, {"(get {:a 1} :b)", "nil"},
        {"(get {:a 1} :b 99)", "99"}, {"(get nil :a)", "nil"}, {"(get (list 10 20) 1)", "20"},
        {"(get (list 10 20) 5)", "nil"}, {"(get {:a 1} 1)", "nil"},
        {"(get 42 :a)", "!get: expected a dict or list, got 42"},
        {"(get \"s\" 0)", "!get: expected a dict or list, got \"s\""}, {"(has-key? {:a nil} :a)", "true"},
        {"(has-key? {:a 1} :b)", "false"}, {"(has-key? nil :a)", "false"},
        {"(has-key? 5 :a)", "!has-key?: expected a dict, got 5"},
        {"(get-in {:a {:b (list 10 20)}} (list :a :b 1))", "20"}, {"(get-in {:a 1} (list :x :y))", "nil"},
        {"(get-in {:a 1} (list :x) 7)", "7"});
}

Test(stdlib, dict_update) {
  TABLE({"(assoc {:a 1} :b 2)", "{:a 1 :b 2}"}, {"(assoc {:a 1} :a 2)", "{:a 2}"},
        {"(assoc nil :a 1)", "{:a 1}"}, {"(assoc {} :a 1 :b 2)", "{:a 1 :b 2}"},
        {"(assoc {} 1 2)", "!assoc: expected a string or keyword key, got 1"},
        {"(assoc 5 :a 1)", "!assoc: expected a dict, got 5"},
        {"(assoc {} :a)", "!assoc: expected a dict then key/value pairs, got 2 arguments"},
        {"(dissoc {:a 1 :b 2} :a)", "{:b 2}"}, {"(dissoc {:a 1} :zz)", "{:a 1}"},
        {"(dissoc {:a 1 :b 2 :c 3} :a :c)", "{:b 2}"},
        {"(merge {:a 1 :b 2} {:b 3} nil {:c 4})", "{:a 1 :b 3 :c 4}"}, {"(merge)", "{}"},
        {"(merge {:a 1} 5)", "!merge: expected dicts, got 5"}, {"(dict :a 1 :b 2)", "{:a 1 :b 2}"},
        {"(dict :a)", "!dict: expected key/value pairs, got 1 arguments"},
        {"(update {:a 1} :a + 10)", "{:a 11}"}, {"(assoc-in {} (list :a :b) 1)", "{:a {:b 1}}"},
        {"(into {} (list (list \"a\" 1)))", "{:a 1}"}, {"(into (list 1) {:a 1})", "(1 (\"a\" 1))"},
        {"(into (list 1) (list 2 3))", "(1 2 3)"});
  /* originals untouched */
  OK("(define d {:a 1}) (assoc d :b 2) (dissoc d :a) d", "{:a 1}");
}

/* sort is a merge sort in C: the default order and a plain primitive run
 * in C, any other comparator on the machine. The edges of each path. */
Test(stdlib, sort_paths_and_their_edges) {
  TABLE(
      {"(sort (list 1))", "(1)"}, {"(sort (list 2 1))", "(1 2)"},
      {"(sort (list 1 2 3 4 5 6 7 8 9))", "(1 2 3 4 5 6 7 8 9)"},
      {"(sort (list 9 8 7 6 5 4 3 2 1))", "(1 2 3 4 5 6 7 8 9)"},
      {"(sort (list 4611686018427387904 1 -4611686018427387905))",
       "(-4611686018427387905 1 4611686018427387904)"},
      {"(sort (list 2 1.5 1))", "(1 1.5 2)"}, {"(sort (list 3 1 2) <)", "(1 2 3)"},
      {"(sort (list 3 1 2) (fn (a b) (> a b)))", "(3 2 1)"}, {"(sort (list 1 2 3) min)", "(3 2 1)"},
      {"(sort (list 3 \"a\") <)", "!<: expected numbers or strings, got 3"},
      {"(sort (list 3 1 2) 5)", "!sort: expected a function, got 5"},
      {"(sort 5)", "!sort: expected a list, got 5"},
      {"(sort (list 1 2) (fn (a) true))", "!anonymous fn: expected 1 argument (a), got 2"},
      /* stable on every path: equal keys keep their order */
      {"(map last (sort (fn (a b) (< (first a) (first b))) (list (list 1 :a) (list 0 :b) (list 1 :c) (list 0 :d))))",
       "(\"b\" \"d\" \"a\" \"c\")"},
      {"(sort (list 1 1.0 0))", "(0 1 1.0)"}, {"(sort (list 1.0 1 0))", "(0 1.0 1)"},
      /* a comparator may call back into SX and escape */
      {"(call/cc (fn (k) (sort (list 3 1 2) (fn (a b) (k :out)))))", "\"out\""},
      {"(guard (e (true (error-message e))) (sort (list 3 1 2) (fn (a b) (raise \"no\"))))", "\"no\""});
  OK("(define xs (map (fn (i) (mod (* i 7919) 1001)) (range 3000)))"
     " (equal? (sort xs (fn (a b) (< a b))) (sort xs))",
     "true");
}

Test(stdlib, dict_keys_sorted_by_byte_order) {
  TABLE({"(keys {:b 1 :a 2 \"Z\" 3 \"aa\" 4})", "(\"Z\" \"a\" \"aa\" \"b\")"},
        {"(vals {:b 1 :a 2})", "(2 1)"}, {"(keys {})", "()"}, {"(keys nil)", "()"},
        {"(keys 5)", "!keys: expected a dict, got 5"},
        {"(keys (assoc (assoc (assoc {} :c 1) :a 2) :b 3))", "(\"a\" \"b\" \"c\")"},
        {"(keys {\"\\u00e9\" 1 :z 2 \"A\" 3})", "(\"A\" \"z\" \"\xc3\xa9\")"});
  OK("(equal? (str (assoc (assoc {} :x 1) :y 2)) (str (assoc (assoc {} :y 2) :x 1)))", "true");
}

/* ---- strings ---------------------------------------------------------------- */
Test(stdlib, str_formatting) {
  TABLE({"(str 1 \"a\" nil 2.5 :k (list 1 \"x\") true)", "\"1a2.5k(1 \\\"x\\\")true\""}, {"(str)", "\"\""},
        {"(str nil)", "\"\""}, {"(str \"a\\nb\")", "\"a\\nb\""}, {"(str {:a \"x\"})", "\"{:a \\\"x\\\"}\""},
        {"(str 1.0)", "\"1.0\""}, {"(str -0)", "\"0\""}, {"(str false)", "\"false\""});
}

/* str of strings and small integers is built on the stack up to 256 bytes;
 * the printer does the rest. Both sides of each edge give the same text. */
Test(stdlib, str_of_strings_and_integers_at_its_edges) {
  TABLE({"(str \"k\" 0 -7 \"\")", "\"k0-7\""},
        {"(str 4611686018427387903 -4611686018427387904)", "\"4611686018427387903-4611686018427387904\""},
        {"(str 9223372036854775807 \"|\" -9223372036854775808)",
         "\"9223372036854775807|-9223372036854775808\""},
        {"(str 1 :k)", "\"1k\""});
  /* 255, 256 and 257 bytes: a string of n-1 bytes and one digit */
  for (int n = 255; n <= 257; n++) {
    char src[128], want[32];
    snprintf(
        src, sizeof src,
        "(let ((s (str %d (join \"\" (map (fn (i) \"x\") (range 0 %d)))))) (list (len s) (slice s 0 2)))", 7,
        n - 1);
    snprintf(want, sizeof want, "(%d \"7x\")", n);
    OK(src, want);
  }
}

Test(stdlib, string_functions) {
  TABLE({"(starts-with? \"abc\" \"ab\")", "true"}, {"(starts-with? \"abc\" \"bc\")", "false"},
        {"(starts-with? \"a\" \"abc\")", "false"}, {"(starts-with? \"abc\" \"\")", "true"},
        {"(starts-with? \"abc\" 1)", "!starts-with?: expected a string prefix, got 1"},
        {"(starts-with? 1 \"a\")", "!starts-with?: expected a string, got 1"},
        {"(ends-with? \"abc\" \"bc\")", "true"}, {"(ends-with? \"abc\" \"ab\")", "false"},
        {"(string-length \"abc\")", "3"}, {"(string-length 1)", "!string-length: expected a string, got 1"},
        {"(string-contains? \"abc\" \"bc\")", "true"}, {"(string-contains? \"abc\" \"x\")", "false"},
        {"(substring \"hello\" 1 3)", "\"el\""}, {"(substring \"hello\" 2)", "\"llo\""},
        {"(substring \"hello\" 3 10)", "!substring: range 3..10 is outside a string of length 5"},
        {"(substring \"hello\" -1 2)", "!substring: range -1..2 is outside a string of length 5"},
        {"(split \"a,b,,c\" \",\")", "(\"a\" \"b\" \"\" \"c\")"},
        {"(split \"abc\" \"\")", "(\"a\" \"b\" \"c\")"}, {"(split \"\" \",\")", "(\"\")"},
        {"(split \"a--b\" \"--\")", "(\"a\" \"b\")"}, {"(split 1 \",\")", "!split: expected a string, got 1"},
        {"(join \", \" (list 1 \"a\" :b))", "\"1, a, b\""}, {"(join (list \"x\" \"y\") \"-\")", "\"x-y\""},
        {"(join \",\" (list))", "\"\""}, {"(join 1 2)", "!join: expected a separator string, got 1"},
        {"(replace \"aXbXc\" \"X\" \"--\")", "\"a--b--c\""}, {"(replace \"aaa\" \"aa\" \"b\")", "\"ba\""},
        {"(replace \"abc\" \"\" \"x\")", "\"abc\""},
        {"(replace \"a\" 1 \"b\")", "!replace: expected strings, got 1"},
        {"(upcase \"abc \\u00e9\")", "\"ABC \xc3\xa9\""}, {"(downcase \"ABC\")", "\"abc\""},
        {"(upcase 1)", "!upcase: expected a string, got 1"}, {"(trim \"  x y \\n\")", "\"x y\""},
        {"(trim \"\")", "\"\""}, {"(symbol->string 'abc)", "\"abc\""}, {"(name :k)", "\"k\""},
        {"(string->symbol \"xy\")", "xy"}, {"(keyword \"k\")", ":k"},
        {"(name 1)", "!name: expected a symbol, keyword or string, got 1"});
}

/* s is well-formed UTF-8 */
static bool valid_utf8(sx_val s) {
  const char *d = sx_str_data(s);
  size_t n = sx_str_len(s);
  for (size_t i = 0; i < n;) {
    size_t k = (unsigned char)d[i] < 0x80 ? 1 : sx_utf8_char_len(d + i, n - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

/* (split s "") gives characters: whole UTF-8 sequences, never bytes of
 * one; any byte that is not part of a character stays a piece alone. */
Test(stdlib, split_on_empty_separator_gives_characters) {
  TABLE({"(split \"日本\" \"\")", "(\"日\" \"本\")"}, {"(split \"abc\" \"\")", "(\"a\" \"b\" \"c\")"},
        {"(split \"aé😀z\" \"\")", "(\"a\" \"é\" \"😀\" \"z\")"}, {"(split \"\" \"\")", "()"},
        {"(split \"a\\xffb\\xe6\" \"\")", "(\"a\" \"\\xff\" \"b\" \"\\xe6\")"},
        {"(len (split \"日本語\" \"\"))", "3"}, {"(join \"\" (split \"日本語x\" \"\"))", "\"日本語x\""});
  sx_val out;
  cr_assert_eq(run_src("(split \"ça 日本 ✓ 😀\" \"\")", &out), SX_DONE);
  for (sx_val l = out; sx_is_cons(l); l = sx_cdr(l))
    cr_assert(valid_utf8(sx_car(l)), "piece %s", printed(sx_car(l)));
}

/* The documented units: len, string-length, substring, slice and index-of
 * count bytes; split/replace on a UTF-8 separator keep characters whole;
 * upcase and downcase change ASCII letters only. */
Test(stdlib, string_functions_count_bytes_and_keep_characters) {
  TABLE({"(len \"日本\")", "6"}, {"(string-length \"é\")", "2"}, {"(index-of \"日本\" \"本\")", "3"},
        {"(substring \"日本\" 3 6)", "\"本\""}, {"(substring \"日本\" 3)", "\"本\""},
        {"(slice \"日本語\" 3 6)", "\"本\""}, {"(slice \"日本語\" -3)", "\"語\""},
        {"(split \"日,本\" \",\")", "(\"日\" \"本\")"}, {"(split \"日本日\" \"本\")", "(\"日\" \"日\")"},
        {"(replace \"日本\" \"本\" \"x\")", "\"日x\""}, {"(upcase \"straße é\")", "\"STRAßE é\""},
        {"(downcase \"ÀBÇ\")", "\"ÀbÇ\""});
}

/* Values shortened for an error message are cut between characters. */
Test(stdlib, error_messages_cut_long_values_between_characters) {
  char big[400] = "";
  for (int i = 0; i < 40; i++) strcat(big, "日本");
  const char *forms[] = {"(+ 1 \"%s\")", "(fn (\"%s\") 1)", "{\"%s\" 1 \"%s\" 2}"};
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
    char src[1000];
    snprintf(src, sizeof src, forms[i], big, big);
    sx_val out;
    cr_assert_eq(run_src(src, &out), SX_ERROR, "%s", src);
    sx_val msg = sx_error_message(out);
    cr_assert(valid_utf8(msg), "%s", sx_str_data(msg));
    cr_assert(strstr(sx_str_data(msg), "...") != NULL, "%s", sx_str_data(msg));
  }
}

Test(stdlib, parse_int_and_float) {
  TABLE({"(parse-int \"42\")", "42"}, {"(parse-int \"-7\")", "-7"}, {"(parse-int \"4x\")", "nil"},
        {"(parse-int \"\")", "nil"}, {"(parse-int \" 4\")", "nil"}, {"(parse-int \"4 \")", "nil"},
        {"(parse-int \"0x10\")", "nil"}, {"(parse-int \"99999999999999999999\")", "nil"},
        {"(parse-int \"9223372036854775807\")", "9223372036854775807"}, {"(parse-int 5)", "5"},
        {"(parse-int 3.5)", "!parse-int: expected a string, got 3.5"},
        {"(parse-int nil)", "!parse-int: expected a string, got nil"}, {"(parse-float \"2.5\")", "2.5"},
        {"(parse-float \"x\")", "nil"}, {"(parse-float 2)", "2"});
}

Test(stdlib, arity_errors_have_clear_messages) {
  ERR_HAS("(first)", "first");
  ERR_HAS("(first (list 1) 2)", "first");
  ERR_HAS("(get {})", "get");
  ERR_HAS("(cons 1)", "cons");
  /* the bound that was broken, in the singular when it is one */
  ERR("(sort)", "sort: expected at least 1 argument, got 0");
  ERR("(sort 1 2 3)", "sort: expected at most 2 arguments, got 3");
  ERR("(first 1 2)", "first: expected 1 argument, got 2");
  ERR("(cons 1)", "cons: expected 2 arguments, got 1");
}

/* A builtin given the wrong kind of argument names itself and what it
 * expected; a few take what they cannot use as nothing found. */
Test(stdlib, type_errors_name_the_builtin_and_what_it_expected) {
  TABLE({"(last 5)", "!last: expected a list, got 5"}, {"(flatten 5)", "!flatten: expected a list, got 5"},
        {"(zip-pairs 5)", "!zip-pairs: expected a list, got 5"},
        {"(zip 5 (list))", "!zip: expected a list, got 5"},
        {"(zip (list) 5)", "!zip: expected a list, got 5"}, {"(take 5 1)", "!take: expected a list, got 5"},
        {"(drop 5 1)", "!drop: expected a list, got 5"},
        {"(drop (list 1) \"a\")", "!drop: expected an integer, got \"a\""},
        {"(index-of 5 \"a\")", "!index-of: expected a list or string, got 5"},
        {"(index-of \"abc\" 5)", "!index-of: expected a string to look for, got 5"},
        {"(ends-with? 5 \"a\")", "!ends-with?: expected a string, got 5"},
        {"(ends-with? \"a\" 5)", "!ends-with?: expected a string suffix, got 5"},
        {"(string-contains? 5 \"a\")", "!string-contains?: expected a string, got 5"},
        {"(string-contains? \"a\" 5)", "!string-contains?: expected a string to look for, got 5"},
        {"(substring 5 1 2)", "!substring: expected a string, got 5"},
        {"(substring \"abc\" \"a\" 2)", "!substring: expected an integer index, got \"a\""},
        {"(split \"a,b\" 5)", "!split: expected a separator string, got 5"},
        {"(join \",\" 5)", "!join: expected a list, got 5"}, {"(trim 5)", "!trim: expected a string, got 5"},
        {"(string->symbol 5)", "!string->symbol: expected a string, got 5"},
        {"(keyword 5)", "!keyword: expected a string, got 5"},
        {"(dissoc 5 \"a\")", "!dissoc: expected a dict, got 5"},
        {"(vals 5)", "!vals: expected a dict, got 5"},
        {"(get-in {} 5)", "!get-in: expected a list of keys, got 5"},
        {"(dict 5 1)", "!dict: expected a string or keyword key, got 5"},
        {"(into (list) 5)", "!into: expected a list or dict to pour in, got 5"}, {"(vals nil)", "()"},
        {"(index-of (list 1) 5)", "-1"}, {"(get (list 1 2) \"a\")", "nil"}, {"(get (list 1 2) -1)", "nil"},
        {"(get-in (list 1 2) (list \"a\"))", "nil"},
        {"(get-in {:a (list 1 {:b 2})} (list \"a\" 1 \"b\"))", "2"}, {"(contains? {:a 1} 5)", "false"},
        {"(dissoc {:a 1 :b 2} 5 \"a\")", "{:b 2}"}, {"(parse-float \" 1.5\")", "nil"},
        {"(parse-float \"1.5x\")", "nil"}, {"(boolean? nil)", "false"},
        {"(fn? (call/cc (fn (k) k)))", "true"}, {"(range 0 -5 -2)", "(0 -2 -4)"},
        {"(slice (list 1 2 3) 1 nil)", "(2 3)"});
}
