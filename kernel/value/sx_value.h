/* sx_value.h — the SX value representation.
 *
 * Every SX value is one machine word (sx_val). Small integers are unboxed
 * (low bit 1, 63-bit payload) and never allocate. nil, true, false and the
 * empty list are immediate constants. A cons is a tagged pointer (low bits
 * 100) to a header-less two-word cell, so a list costs 16 bytes per
 * element. Everything else is a pointer to a Boehm-GC heap object that
 * starts with an sx_hdr naming its type.
 *
 * Invariants:
 *  - strings, lists and dicts are immutable once built;
 *  - symbols are interned: two symbols with the same name are eq;
 *  - dict keys are always strings;
 *  - integers that fit in 63 bits are always fixnums (sx_int normalises),
 *    so two equal integers compare equal without looking at boxes.
 */
#ifndef SX_VALUE_H
#define SX_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uintptr_t sx_val;

/* ---- immediates ---------------------------------------------------- */
#define SX_NIL ((sx_val)0x02)
#define SX_FALSE ((sx_val)0x06)
#define SX_TRUE ((sx_val)0x0A)
#define SX_EMPTY ((sx_val)0x0E) /* the empty list () */
#define SX_UNDEF ((sx_val)0x12) /* internal: "no value" / error pending */

#define SX_FIXNUM_MAX ((int64_t)(INT64_MAX >> 1))
#define SX_FIXNUM_MIN ((int64_t)(INT64_MIN >> 1))

static inline bool sx_is_fixnum(sx_val v) { return (v & 1) != 0; }
static inline int64_t sx_fixnum_val(sx_val v) { return ((int64_t)v) >> 1; }
static inline sx_val sx_fixnum(int64_t i) { return ((sx_val)i << 1) | 1; }
/* Forced inlining for the hottest small tests. The coverage build
 * (SX_COVERAGE) leaves inlining to the compiler, so that each function's
 * branches are counted once rather than once per call site. */
#ifdef SX_COVERAGE
#define SX_ALWAYS_INLINE inline
#else
#define SX_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

/* always_inline: a test of a few instructions that must not become a call
 * inside the evaluator's big machine() function. */
static SX_ALWAYS_INLINE bool sx_is_ptr(sx_val v) { return v != 0 && (v & 7) == 0; }

/* Cons tags. Cells are 16-byte aligned, so the low four bits are free: a
 * plain cons is cell|0x4; a cons the reader built, which carries a source
 * position after its two words (sx_cons_pos), is cell|0xC. The collector
 * sees either as a pointer into the cell (interior pointers are on). */
#define SX_TAG_CONS ((sx_val)0x4)
#define SX_TAG_CONS_POS ((sx_val)0xC)
static inline bool sx_is_cons(sx_val v) { return (v & 7) == 4; }
static inline sx_val sx_bool(bool b) { return b ? SX_TRUE : SX_FALSE; }
static inline bool sx_truthy(sx_val v) { return v != SX_FALSE && v != SX_NIL; }

/* ---- heap objects --------------------------------------------------- */
typedef enum sx_type {
  SX_T_NIL,
  SX_T_BOOL,
  SX_T_INT,
  SX_T_FLOAT,
  SX_T_STRING,
  SX_T_SYMBOL,
  SX_T_KEYWORD,
  SX_T_LIST, /* a cons cell, or SX_EMPTY */
  SX_T_DICT,
  SX_T_FN,    /* closure */
  SX_T_PRIM,  /* C primitive */
  SX_T_MACRO, /* defmacro transformer */
  SX_T_ERROR,
  SX_T_CONT, /* escape continuation from call/cc */
  SX_T_OTHER /* internal objects: environments, cells, ... */
} sx_type;

/* Object flags (sx_hdr.flags). */
#define SX_F_HASHED 0x02      /* string: hash field is valid */
#define SX_F_INTERRUPT 0x04   /* error: raised by vm->interrupt; guards do not catch it */
#define SX_F_IDENT_KNOWN 0x08 /* string: whether SX_F_IDENT is set has been worked out */
#define SX_F_IDENT 0x10       /* string: its bytes are a plain identifier (printed as :name) */

typedef struct sx_hdr {
  uint8_t type;  /* sx_type */
  uint8_t flags; /* SX_F_* */
  uint16_t aux;  /* per-type: symbol special-form id, dict kind, ... */
  uint32_t hash; /* strings: cached hash when SX_F_HASHED */
} sx_hdr;

typedef struct sx_string {
  sx_hdr h;
  size_t len;
  char data[]; /* len bytes, then a NUL not counted in len */
} sx_string;

/* A string may be shared by every thread of the process (an interned
 * name, a constant of code that several VMs run), and two of its caches
 * are filled in on first use: the hash (SX_F_HASHED) and whether it is a
 * plain identifier (SX_F_IDENT_KNOWN). So its flags are read and set
 * atomically; setting publishes what was cached before it (release), and
 * a reader that sees a flag sees that (acquire). On x86 both orders cost
 * nothing more than plain loads and one locked OR per string. */
static inline unsigned sx_str_flags(const sx_string *s) {
  return __atomic_load_n(&s->h.flags, __ATOMIC_ACQUIRE);
}
static inline void sx_str_set_flags(sx_string *s, unsigned f) {
  __atomic_fetch_or(&s->h.flags, (uint8_t)f, __ATOMIC_RELEASE);
}

typedef struct sx_symbol {
  sx_hdr h;    /* aux: special-form id (0 = none) */
  sx_val name; /* string */
} sx_symbol;

typedef struct sx_keyword {
  sx_hdr h;
  sx_val name; /* string, without the leading ':' */
} sx_keyword;

/* The cdr comes first on purpose. The collector scans a cell's words in
 * address order and pushes each unmarked object it finds onto its mark
 * stack, so the one in the last word is marked next. With the car last,
 * marking a long list whose elements are objects (records) goes into each
 * element before the rest of the list, and the stack stays a few entries
 * deep; with the cdr last it runs down the spine first, leaves every
 * element on the stack, and overflows it (each overflow costing a rescan
 * of the heap). Code names the fields; nothing depends on their order. */
typedef struct sx_pair { /* no header: the pointer's tag says "cons" */
  sx_val cdr;
  sx_val car;
} sx_pair;

/* A cons built by the reader remembers where its '(' stood. */
typedef struct sx_cons_pos {
  sx_pair c;
  uint32_t line, col;
  sx_val file; /* string or SX_NIL */
} sx_cons_pos;

typedef struct sx_flonum {
  sx_hdr h;
  double d;
} sx_flonum;

typedef struct sx_boxint { /* an integer outside the fixnum range */
  sx_hdr h;
  int64_t i;
} sx_boxint;

typedef struct sx_error {
  sx_hdr h;
  sx_val message;   /* string */
  sx_val payload;   /* the raised value for (raise v); SX_NIL for (error ..) */
  sx_val where;     /* "file:line:col" string or SX_NIL */
  sx_val backtrace; /* list of strings, innermost first */
} sx_error;

/* Closures, primitives and macros all begin with this prefix, so code that
 * only needs a callable's name (the printer, backtraces) needs no more. */
typedef struct sx_fnhead {
  sx_hdr h;
  sx_val name; /* string, or SX_NIL when anonymous */
} sx_fnhead;

static inline sx_hdr *sx_hdr_of(sx_val v) { return (sx_hdr *)v; }

static inline sx_type sx_type_of(sx_val v) {
  if (sx_is_fixnum(v)) return SX_T_INT;
  if (sx_is_ptr(v)) return (sx_type)((sx_hdr *)v)->type;
  if (sx_is_cons(v)) return SX_T_LIST;
  switch (v) {
    case SX_NIL: return SX_T_NIL;
    case SX_TRUE:
    case SX_FALSE: return SX_T_BOOL;
    case SX_EMPTY: return SX_T_LIST;
    default: return SX_T_OTHER;
  }
}

/* For types whose objects carry a header (not SX_T_LIST: see sx_is_cons). */
static SX_ALWAYS_INLINE bool sx_is(sx_val v, sx_type t) { return sx_is_ptr(v) && ((sx_hdr *)v)->type == t; }
static inline bool sx_is_list(sx_val v) { return v == SX_EMPTY || sx_is_cons(v); }
static inline bool sx_is_string(sx_val v) { return sx_is(v, SX_T_STRING); }
static inline bool sx_is_symbol(sx_val v) { return sx_is(v, SX_T_SYMBOL); }
static inline bool sx_is_int(sx_val v) { return sx_is_fixnum(v) || sx_is(v, SX_T_INT); }
static inline bool sx_is_float(sx_val v) { return sx_is(v, SX_T_FLOAT); }
static inline bool sx_is_number(sx_val v) { return sx_is_int(v) || sx_is_float(v); }

static inline sx_pair *sx_pair_of(sx_val v) { return (sx_pair *)(v & ~(sx_val)15); }
static inline sx_val sx_car(sx_val v) { return sx_pair_of(v)->car; }
static inline sx_val sx_cdr(sx_val v) { return sx_pair_of(v)->cdr; }
/* The reader's position record, or NULL for a cons built at run time. */
static inline const struct sx_cons_pos *sx_cons_pos_of(sx_val v) {
  return (v & 15) == SX_TAG_CONS_POS ? (const struct sx_cons_pos *)sx_pair_of(v) : NULL;
}
static inline sx_string *sx_str(sx_val v) { return (sx_string *)v; }
static inline const char *sx_str_data(sx_val v) { return ((sx_string *)v)->data; }
static inline size_t sx_str_len(sx_val v) { return ((sx_string *)v)->len; }
static inline sx_val sx_sym_name(sx_val v) { return ((sx_symbol *)v)->name; }
static inline double sx_float_val(sx_val v) { return ((sx_flonum *)v)->d; }
static inline int64_t sx_int_val(sx_val v) {
  return sx_is_fixnum(v) ? sx_fixnum_val(v) : ((sx_boxint *)v)->i;
}

/* ---- allocation ----------------------------------------------------- */
void sx_gc_init(void);               /* idempotent */
void *sx_alloc_atomic(size_t bytes); /* never scanned (no pointers) */

/* Objects up to SX_SMALL_MAX bytes come from per-thread free lists that the
 * collector fills in batches (see sx_value.c); popping one is a handful of
 * instructions. The lists hang off a per-thread root the collector scans.
 * Cons cells have a list of their own: they are exactly 16 bytes, from a
 * collector kind that scans the whole object (see sx_alloc_pair_refill).
 * An object of n bytes takes class n / 16, whose slots are (n / 16 + 1) * 16
 * bytes: for the word-multiple sizes of our structs, always at least a word
 * more than n, so the slot's last word (which the collector leaves
 * unscanned: sx_alloc_refill) never holds part of the object. Above
 * SX_SMALL_MAX bytes, the collector's own allocator (several times the
 * work). */
#define SX_SMALL_MAX 255
/* Strings (sx_string_recent) or symbols (sx_symbol_intern) this thread
 * made or found recently, by their bytes: 64 sets of 2 slots. */
#define SX_RECENT_SLOTS 128
typedef struct sx_recent {
  sx_val v[SX_RECENT_SLOTS];
  uint64_t bytes[SX_RECENT_SLOTS][2]; /* the bytes, as sx_value.c packs them */
  uint8_t len[SX_RECENT_SLOTS];
} sx_recent;
typedef struct sx_alloc_cache {
  void *free[(SX_SMALL_MAX + 1) / 16]; /* by size class: 16, 32, ..., 256 bytes */
  void *pairs;                         /* 16-byte cons cells */
  sx_recent strings, symbols;
} sx_alloc_cache;
/* A thread-local read on every evaluation step or API call: the
 * initial-exec model reads it with one instruction, where the default model
 * of a shared library calls __tls_get_addr. It takes static TLS space, of
 * which glibc keeps only a small surplus (about 1.5 KB) for libraries
 * loaded with dlopen: only a few small variables are marked so. */
#define SX_TLS_FAST __attribute__((tls_model("initial-exec")))
extern __thread sx_alloc_cache *sx_tls_alloc SX_TLS_FAST;
void *sx_alloc_refill(size_t cls);
void *sx_alloc_pair_refill(void);
void *sx_alloc_large(size_t bytes);
/* The decimal text of v written backwards so that it ends just before
 * end (room for SX_INT_TEXT_MAX bytes); returns where it starts. */
#define SX_INT_TEXT_MAX 20
char *sx_format_int(int64_t v, char *end);

static inline void *sx_alloc_pop(void **list) {
  void *p = *list;
  *list = *(void **)p;
  *(void **)p = NULL;
  return p;
}

/* Scanned by the GC, zeroed. */
static inline void *sx_alloc(size_t bytes) {
  if (bytes > SX_SMALL_MAX) return sx_alloc_large(bytes);
  size_t cls = bytes >> 4;
  sx_alloc_cache *c = sx_tls_alloc;
  if (__builtin_expect(!c || !c->free[cls], 0)) return sx_alloc_refill(cls);
  return sx_alloc_pop(&c->free[cls]);
}

/* Two scanned, zeroed words for a cons cell. */
static inline void *sx_alloc_pair(void) {
  sx_alloc_cache *c = sx_tls_alloc;
  if (__builtin_expect(!c || !c->pairs, 0)) return sx_alloc_pair_refill();
  return sx_alloc_pop(&c->pairs);
}

static inline void *sx_obj_new(sx_type t, size_t bytes) { /* sx_alloc + header */
  sx_hdr *h = sx_alloc(bytes);
  h->type = (uint8_t)t;
  return h;
}

/* ---- constructors --------------------------------------------------- */
sx_val sx_int_boxed(int64_t i);
static inline sx_val sx_int(int64_t i) { /* fixnum when it fits, else boxed */
  if (i >= SX_FIXNUM_MIN && i <= SX_FIXNUM_MAX) return sx_fixnum(i);
  return sx_int_boxed(i);
}
sx_val sx_float(double d);
sx_val sx_string_new(const char *bytes, size_t len); /* copies */
sx_val sx_string_cstr(const char *cstr);
sx_val sx_string_alloc(size_t len, char **data_out); /* fill data_out[0..len) */
/* A string of these bytes that may be shared (strings are immutable): for
 * up to SX_RECENT_MAX bytes, one this thread made or found recently for
 * the same bytes, else a new one. For what decoding makes over and over
 * (an event's type and stream) it saves the allocation. sx_string_key
 * also looks for the interned name (sx_string_shared) first: a decoded
 * dict key that code names as a keyword is then found by identity. */
#define SX_RECENT_MAX 16
sx_val sx_string_recent(const char *bytes, size_t len);
sx_val sx_string_key(const char *bytes, size_t len);
sx_val sx_symbol_intern(const char *name, size_t len);
sx_val sx_symbol_cstr(const char *name);
/* The string object every literal with these bytes shares (a keyword, a
 * string constant or a dict key written in code: sx_analyse.c), namely the
 * interned symbol's name: a dict lookup with it finds such a key by
 * identity (sx_dict.c). */
static inline sx_val sx_string_shared(const char *cstr) { return ((sx_symbol *)sx_symbol_cstr(cstr))->name; }
sx_val sx_keyword_new(sx_val name_string);
sx_val sx_cons(sx_val car, sx_val cdr);
sx_val sx_cons_at(sx_val car, sx_val cdr, sx_val file, uint32_t line, uint32_t col);
sx_val sx_error_new(sx_val message, sx_val payload);

/* list helpers */
sx_val sx_list(size_t n, const sx_val *items); /* (items[0] ... items[n-1]) */
sx_val sx_list_reverse(sx_val list);           /* proper lists only */
size_t sx_list_length(sx_val list);            /* proper lists; nil counts 0 */

/* ---- strings -------------------------------------------------------- */
uint32_t sx_string_hash(sx_val s); /* cached */
bool sx_string_eq(sx_val a, sx_val b);
int sx_string_cmp(sx_val a, sx_val b); /* byte order, then length */

/* ---- generic operations --------------------------------------------- */
const char *sx_type_name(sx_val v); /* "integer", "string", "dict", ... */
bool sx_equal(sx_val a, sx_val b);  /* deep structural equality (equal?) */
bool sx_eqv(sx_val a, sx_val b);    /* identity, but numbers/strings by value */

#endif
