/* sx_doc_builtins.c — the signature and one-line description of every
 * special form and every global the standard library binds, by section.
 * `(doc NAME)`, the REPL and docs/reference.md are all made from this
 * table; tests/test_doc.c fails when a bound name has no entry, an entry
 * names nothing, or a signature disagrees with the arity. Conventions in
 * sx_doc.h. Names starting with % are internal and not listed. */
#include "sx_doc.h"

#define N(a) (sizeof a / sizeof *a)

static const sx_doc_entry special_forms[] = {
  {"quote", "(quote x)", "x itself, unevaluated; 'x is the same"},
  {"quasiquote", "(quasiquote x)", "x as a template: unevaluated but for its unquote and unquote-splicing parts; `x is the same"},
  {"unquote", "(unquote x)", "inside a quasiquote, the value of x; ,x is the same"},
  {"unquote-splicing", "(unquote-splicing x)", "inside a quasiquote, the elements of the list x spliced in; ,@x is the same"},
  {"define", "(define name value) | (define (name param...) body...)", "bind a global (or, in a body, a local) name to a value or a function"},
  {"fn", "(fn (param... [&rest more]) body...)", "a function; &rest collects the remaining arguments as a list"},
  {"lambda", "(lambda (param... [&rest more]) body...)", "the same as fn"},
  {"let", "(let ((name value)...) body...) | (let loop ((name value)...) body...)", "bind names in parallel for body; the named form loops by calling its name"},
  {"let*", "(let* ((name value)...) body...)", "bind names one after another, each seeing the ones before"},
  {"letrec", "(letrec ((name value)...) body...)", "bind names that may refer to each other (mutually recursive functions)"},
  {"letrec*", "(letrec* ((name value)...) body...)", "the same as letrec"},
  {"if", "(if test then [else])", "then when test is true (anything but false and nil), else otherwise (nil when absent)"},
  {"cond", "(cond (test expr...)... [(else expr...)])", "the exprs of the first clause whose test is true; (test => f) calls f with the test's value"},
  {"case", "(case key ((datum...) expr...)... [(else expr...)])", "the exprs of the first clause listing a datum equal? to key"},
  {"when", "(when test body...)", "body when test is true, else nil"},
  {"unless", "(unless test body...)", "body when test is false or nil, else nil"},
  {"begin", "(begin expr...)", "evaluate each expr in turn; the value of the last"},
  {"do", "(do ((var init step)...) (test result...) body...)", "loop: bind the vars, run body and step them until test is true, then the results"},
  {"set!", "(set! name value)", "assign a new value to a bound name"},
  {"and", "(and expr...)", "the first false or nil value, else the last value (true when there are none)"},
  {"or", "(or expr...)", "the first value that is neither false nor nil, else the last value (nil when there are none)"},
  {"guard", "(guard (e clause...) body...)", "run body; if it raises, bind e to what was raised and try the cond-like clauses (none matching raises it again)"},
  {"perform", "(perform request)", "suspend the evaluation with a request (a dict with :op and :args) for the host or a resolver; its answer is the value"},
  {"defmacro", "(defmacro name (param...) body...)", "define a macro: a function of the unevaluated forms whose result is evaluated in their place"},
  {"dict-literal", "(dict-literal key value...)", "what the reader makes of a dict literal with computed keys: a dict of the evaluated keys and values"},
};

static const sx_doc_entry values[] = {
  {"equal?", "(equal? a b)", "structural equality: same type and same contents (1 and 1.0 differ)"},
  {"eq?", "(eq? a b)", "identity: the very same object (small integers and literals always are)"},
  {"eqv?", "(eqv? a b)", "identity, or equal numbers of the same type, or strings of the same bytes"},
  {"not", "(not x)", "true when x is false or nil, else false"},
  {"identity", "(identity x)", "x"},
  {"nil?", "(nil? x)", "is x nil?"},
  {"boolean?", "(boolean? x)", "is x true or false?"},
  {"symbol?", "(symbol? x)", "is x a symbol?"},
  {"keyword?", "(keyword? x)", "is x a keyword (a quoted :name; evaluated, a keyword is a string)?"},
  {"list?", "(list? x)", "is x a list (the empty list included)?"},
  {"dict?", "(dict? x)", "is x a dict?"},
  {"fn?", "(fn? x)", "is x a function, primitive or continuation (something callable)?"},
  {"error?", "(error? x)", "is x an error value (what error and the kernel raise)?"},
  {"type-of", "(type-of x)", "the name of x's type as a string: \"integer\", \"string\", \"list\", \"dict\", ..."},
  {"gensym", "(gensym [prefix])", "a fresh symbol, prefix (default \"g\") followed by a counter"},
};

static const sx_doc_entry errors[] = {
  {"error", "(error message irritant...)", "raise an error value; the irritants are printed after the message"},
  {"raise", "(raise x)", "raise x itself (any value); a guard receives it unchanged"},
  {"error-message", "(error-message e)", "an error's message; any other raised value as a string"},
  {"error-irritants", "(error-irritants e)", "the irritants an error was raised with, as a list (() when none)"},
  {"error-where", "(error-where e)", "where an error was raised, \"file:line:col\", or nil"},
};

static const sx_doc_entry output[] = {
  {"print", "(print x...)", "write the values, strings without quotes, separated by spaces; nil"},
  {"display", "(display x...)", "the same as print"},
  {"println", "(println x...)", "print, then a newline"},
  {"write", "(write x...)", "write the values as the printer reads them back (strings quoted); nil"},
  {"newline", "(newline)", "write a newline"},
};

static const sx_doc_entry numbers[] = {
  {"+", "(+ x...)", "the sum (0 for none); integers stay integers, overflow is an error"},
  {"-", "(- x y...)", "x minus each y; (- x) negates"},
  {"*", "(* x...)", "the product (1 for none)"},
  {"/", "(/ x y...)", "x divided by each y, always a float; (/ x) is 1/x"},
  {"quotient", "(quotient a b)", "integer division truncated towards zero"},
  {"remainder", "(remainder a b)", "the remainder of quotient: it has a's sign"},
  {"mod", "(mod a b)", "a modulo b: it has b's sign"},
  {"modulo", "(modulo a b)", "the same as mod"},
  {"<", "(< x y...)", "are the numbers (or strings) strictly increasing?"},
  {">", "(> x y...)", "are the numbers (or strings) strictly decreasing?"},
  {"<=", "(<= x y...)", "are the numbers (or strings) non-decreasing?"},
  {">=", "(>= x y...)", "are the numbers (or strings) non-increasing?"},
  {"=", "(= x y...)", "are they all equal, numbers by value across kinds ((= 1 1.0) is true), anything else by equal?"},
  {"!=", "(!= x y...)", "(not (= x y...))"},
  {"min", "(min x y...)", "the smallest number"},
  {"max", "(max x y...)", "the largest number"},
  {"abs", "(abs x)", "the absolute value"},
  {"inc", "(inc x)", "x + 1"},
  {"dec", "(dec x)", "x - 1"},
  {"floor", "(floor x)", "the largest integer not above x"},
  {"ceil", "(ceil x)", "the smallest integer not below x"},
  {"round", "(round x)", "the nearest integer, halves away from zero"},
  {"truncate", "(truncate x)", "the integer part of x, towards zero"},
  {"sqrt", "(sqrt x)", "the square root, a float"},
  {"pow", "(pow base exponent)", "base raised to exponent: an integer for integers and an exponent >= 0, else a float"},
  {"expt", "(expt base exponent)", "the same as pow"},
  {"zero?", "(zero? x)", "is x zero?"},
  {"odd?", "(odd? n)", "is the integer n odd?"},
  {"even?", "(even? n)", "is the integer n even?"},
  {"pos?", "(pos? x)", "is x greater than zero?"},
  {"neg?", "(neg? x)", "is x less than zero?"},
  {"number?", "(number? x)", "is x an integer or a float?"},
  {"integer?", "(integer? x)", "is x an integer?"},
  {"float?", "(float? x)", "is x a float?"},
  {"float", "(float x)", "x as a float"},
};

static const sx_doc_entry lists[] = {
  {"list", "(list x...)", "a list of the arguments"},
  {"cons", "(cons x lst)", "a list of x followed by the elements of lst"},
  {"first", "(first lst)", "the first element, or nil when lst is empty"},
  {"rest", "(rest lst)", "every element but the first (() when empty)"},
  {"nth", "(nth lst i)", "the element at index i (from 0), or nil out of range"},
  {"last", "(last lst)", "the last element, or nil when lst is empty"},
  {"len", "(len x)", "the number of elements of a list, entries of a dict, or bytes of a string"},
  {"reverse", "(reverse lst)", "the elements in reverse order"},
  {"append", "(append [lst] x...)", "lst followed by each x: a list x is concatenated, anything else added as one element"},
  {"concat", "(concat lst...)", "the lists joined end to end"},
  {"contains?", "(contains? coll x)", "is x an element of a list (equal?), a key of a dict, or a substring of a string?"},
  {"empty?", "(empty? x)", "is the list, string or dict empty (nil is)?"},
  {"range", "(range [start] end [step])", "the integers from start (default 0) up to but not including end, by step (default 1)"},
  {"flatten", "(flatten lst)", "the atoms of lst and its nested lists, in order, as one flat list"},
  {"zip-pairs", "(zip-pairs lst)", "consecutive elements as pairs: (a b c d) gives ((a b) (c d))"},
  {"zip", "(zip a b)", "pairs of the elements of a and b at the same index, as long as the shorter"},
  {"take", "(take lst n)", "the first n elements"},
  {"drop", "(drop lst n)", "every element after the first n"},
  {"slice", "(slice x start [end])", "the elements (or bytes of a string) from start up to end; negative indexes count from the end"},
  {"index-of", "(index-of x item)", "the index of the first element equal? to item, or byte offset of a substring; -1 when absent"},
};

static const sx_doc_entry functions[] = {
  {"apply", "(apply f arg... lst)", "call f with the args followed by the elements of lst"},
  {"map", "(map f lst)", "a list of (f x) for each element x"},
  {"map-indexed", "(map-indexed f lst)", "a list of (f i x) for each element x at index i"},
  {"filter", "(filter pred lst)", "the elements for which pred is true"},
  {"reduce", "(reduce f [init] lst)", "fold: (f acc x) for each element, starting from init (default: the first element)"},
  {"for-each", "(for-each f lst)", "call f on each element for its effects; nil"},
  {"some", "(some pred lst)", "the first true value of (pred x), else false"},
  {"every?", "(every? pred lst)", "is (pred x) true for every element?"},
  {"sort", "(sort lst [less?])", "a stable sort, ascending numbers or strings, or by less? (also (sort less? lst))"},
  {"sort-by", "(sort-by key lst)", "lst sorted ascending by (key x)"},
  {"remove", "(remove pred lst)", "the elements for which pred is false"},
  {"distinct", "(distinct lst)", "lst without repeated (equal?) elements, first occurrences kept in order"},
  {"count", "(count pred lst)", "how many elements satisfy pred"},
  {"find", "(find pred lst)", "the first element satisfying pred, or nil"},
  {"compose", "(compose f...)", "a function applying the fs right to left: ((compose f g) x) is (f (g x))"},
  {"partial", "(partial f arg...)", "f with its first arguments fixed to the args"},
};

static const sx_doc_entry dicts[] = {
  {"get", "(get coll key [default])", "the value under key in a dict (or index in a list), else default (nil)"},
  {"get-in", "(get-in coll path [default])", "follow a list of keys (and list indexes) into nested values, else default (nil)"},
  {"has-key?", "(has-key? d key)", "does dict d hold key?"},
  {"assoc", "(assoc d [key value]...)", "a new dict: d with each key set to its value"},
  {"dissoc", "(dissoc d key...)", "a new dict: d without the keys"},
  {"keys", "(keys d)", "the keys of d, in byte order"},
  {"vals", "(vals d)", "the values of d, in the order of their keys"},
  {"merge", "(merge d...)", "one dict of all the entries, later dicts winning"},
  {"dict", "(dict [key value]...)", "a dict of the key/value arguments"},
  {"into", "(into target items)", "pour items (a list, or a dict's (key value) pairs) into a list or dict"},
  {"update", "(update d key f arg...)", "d with key set to (f (get d key) arg...)"},
  {"assoc-in", "(assoc-in d path value)", "d with value set at a list of keys, creating the dicts on the way"},
};

static const sx_doc_entry strings[] = {
  {"str", "(str x...)", "one string of the arguments: strings as they are, nil as nothing, anything else printed"},
  {"string?", "(string? x)", "is x a string?"},
  {"starts-with?", "(starts-with? s prefix)", "does s begin with prefix?"},
  {"ends-with?", "(ends-with? s suffix)", "does s end with suffix?"},
  {"string-length", "(string-length s)", "the length of s in bytes"},
  {"string-contains?", "(string-contains? s part)", "does s hold part?"},
  {"substring", "(substring s start [end])", "the bytes of s from start up to end (default: the end); out of range is an error"},
  {"split", "(split s sep)", "the pieces of s between separators; sep \"\" splits into characters"},
  {"join", "(join sep lst)", "the elements displayed and joined with sep between them"},
  {"replace", "(replace s old new)", "s with every occurrence of old replaced by new"},
  {"upcase", "(upcase s)", "s with ASCII letters in upper case"},
  {"downcase", "(downcase s)", "s with ASCII letters in lower case"},
  {"trim", "(trim s)", "s without ASCII whitespace at either end"},
  {"parse-int", "(parse-int s)", "the decimal integer s spells, or nil"},
  {"parse-float", "(parse-float s)", "the number s spells, as a float, or nil"},
  {"name", "(name x)", "the name of a symbol or keyword as a string (a string as it is)"},
  {"symbol->string", "(symbol->string x)", "the same as name"},
  {"string->symbol", "(string->symbol s)", "the symbol named s"},
  {"keyword", "(keyword s)", "the keyword named s"},
};

static const sx_doc_entry control[] = {
  {"call/cc", "(call/cc f)", "call f with an escape continuation: calling it returns its argument from call/cc"},
  {"call-with-current-continuation", "(call-with-current-continuation f)", "the same as call/cc"},
  {"dynamic-wind", "(dynamic-wind before body after)", "call the thunks in turn; after runs however body is left (return, escape or error)"},
  {"eval", "(eval form)", "evaluate a form (data) at top level"},
  {"load", "(load path)", "evaluate every form of a file found on the load path"},
  {"doc", "(doc name)", "the signature and one-line description of a name, as a string"},
  {"apropos", "(apropos text)", "the names bound or special whose name contains text, sorted"},
};

static const sx_doc_section sections[] = {
  {"Special forms", special_forms, N(special_forms)},
  {"Values and types", values, N(values)},
  {"Errors", errors, N(errors)},
  {"Output", output, N(output)},
  {"Numbers", numbers, N(numbers)},
  {"Lists", lists, N(lists)},
  {"Functions over lists", functions, N(functions)},
  {"Dicts", dicts, N(dicts)},
  {"Strings, symbols and keywords", strings, N(strings)},
  {"Control, evaluation and help", control, N(control)},
};

const sx_doc_section *sx_doc_builtin_sections(size_t *count) {
  *count = N(sections);
  return sections;
}
