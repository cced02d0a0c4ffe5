/* sx_value.c — allocation, constructors, interning and generic equality
 * for SX values (see sx_value.h for the representation). */
#include "sx_value.h"
#include "sx_dict.h"

#include <gc.h>
#include <gc/gc_inline.h>
#include <gc/gc_mark.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation ----------------------------------------------------- */

#define SX_GC_INITIAL_HEAP (4u << 20)

/* The collector runs once a program has allocated about (scanned heap in
 * use) / divisor bytes since the last collection. The library's default
 * divisor, 3, collects a growing heap after every third of it: a program
 * that builds a large structure then marks that structure again and again
 * as it grows (11 full collections for a list of 1M small dicts, over 40%
 * of the run). With 1 a collection waits for about twice the live
 * pointer-holding data to be allocated (Lua's default pause waits for
 * the heap to double): 6 collections there. The price is a larger heap
 * for a program that makes much garbage: up to about three times its live
 * data rather than five thirds. */
#define SX_GC_FREE_SPACE_DIVISOR 1

/* Cons cells come from their own collector kind, whose objects are
 * scanned to the last word and carry no pad byte, so a cell costs exactly
 * its two words. The pad only exists so that a pointer just past an
 * object's end keeps that object alive; SX code reaches a cell only
 * through its tagged start, never through such a pointer. */
static int pair_kind;

static void pair_kind_init(void) { pair_kind = (int)GC_new_kind(GC_new_free_list(), GC_DS_LENGTH, 1, 1); }

/* The heap's size and growth policy. A variable the user set in the
 * environment (GC_INITIAL_HEAP_SIZE, GC_FREE_SPACE_DIVISOR), which GC_INIT
 * has already applied, wins over the defaults chosen here. */
static void gc_policy_init(void) {
  /* Start with a few megabytes of heap: the collector otherwise begins at
   * a few hundred kilobytes and collects every ~200 KB allocated, and the
   * fixed cost of each collection (scanning roots) then dominates call-heavy
   * code. */
  if (!getenv("GC_INITIAL_HEAP_SIZE")) GC_expand_hp(SX_GC_INITIAL_HEAP);
  if (!getenv("GC_FREE_SPACE_DIVISOR")) GC_set_free_space_divisor(SX_GC_FREE_SPACE_DIVISOR);
}

void sx_gc_init(void) {
  static bool done;
  if (done) return;
  done = true;
  GC_INIT();
  gc_policy_init();
  pair_kind_init();
}

void *sx_alloc_large(size_t bytes) {
  void *p = GC_MALLOC(bytes);
  if (!p) abort();
  return p; /* GC_MALLOC memory is already zeroed */
}

char *sx_format_int(int64_t v, char *end) {
  uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do *--end = (char)('0' + m % 10);
  while ((m /= 10) != 0);
  if (v < 0) *--end = '-';
  return end;
}

/* ---- the small-object cache ----------------------------------------- */

__thread sx_alloc_cache *sx_tls_alloc SX_TLS_FAST;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* A thread's cache is an uncollectable (hence scanned) object, so the
 * objects on its free lists stay reserved; it is released at thread exit. */
static void cache_release(void *c) { GC_FREE(c); }
static void cache_key_init(void) { pthread_key_create(&cache_key, cache_release); }

static sx_alloc_cache *cache_create(void) {
  sx_gc_init();
  pthread_once(&cache_once, cache_key_init);
  sx_alloc_cache *c = GC_MALLOC_UNCOLLECTABLE(sizeof *c);
  if (!c) abort();
  pthread_setspecific(cache_key, c);
  sx_tls_alloc = c;
  return c;
}

/* Refill size class cls with a batch from the collector and take one. The
 * request is one byte short of the class size because the collector adds
 * a byte to every object (for pointers just past the end) and does not
 * scan an ordinary object's last word, which that byte overlaps. */
void *sx_alloc_refill(size_t cls) {
  sx_alloc_cache *c = sx_tls_alloc ? sx_tls_alloc : cache_create();
  if (!c->free[cls]) c->free[cls] = GC_malloc_many((cls + 1) * 16 - 1);
  if (!c->free[cls]) abort();
  return sx_alloc_pop(&c->free[cls]);
}

/* Cons cells: see pair_kind. */
void *sx_alloc_pair_refill(void) {
  sx_alloc_cache *c = sx_tls_alloc ? sx_tls_alloc : cache_create();
  if (!c->pairs) GC_generic_malloc_many(sizeof(sx_pair), pair_kind, &c->pairs);
  if (!c->pairs) abort();
  return sx_alloc_pop(&c->pairs);
}

void *sx_alloc_atomic(size_t bytes) {
  void *p = GC_MALLOC_ATOMIC(bytes);
  if (!p) abort();
  memset(p, 0, bytes);
  return p;
}

/* ---- numbers -------------------------------------------------------- */

sx_val sx_int_boxed(int64_t i) {
  sx_boxint *b = sx_obj_new(SX_T_INT, sizeof *b);
  b->i = i;
  return (sx_val)b;
}

sx_val sx_float(double d) {
  sx_flonum *f = GC_MALLOC_ATOMIC(sizeof *f);
  if (!f) abort();
  f->h = (sx_hdr){.type = SX_T_FLOAT};
  f->d = d;
  return (sx_val)f;
}

/* ---- strings -------------------------------------------------------- */

sx_val sx_string_alloc(size_t len, char **data_out) {
  sx_string *s = GC_MALLOC_ATOMIC(sizeof *s + len + 1);
  if (!s) abort();
  s->h = (sx_hdr){.type = SX_T_STRING};
  s->len = len;
  s->data[len] = '\0';
  *data_out = s->data;
  return (sx_val)s;
}

sx_val sx_string_new(const char *bytes, size_t len) {
  char *d;
  sx_val s = sx_string_alloc(len, &d);
  if (len) memcpy(d, bytes, len);
  return s;
}

sx_val sx_string_cstr(const char *cstr) { return sx_string_new(cstr, strlen(cstr)); }

static uint32_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, folded to 32 bits */
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 0x100000001b3ull;
  }
  return (uint32_t)(h ^ (h >> 32));
}

/* Threads that hash one string at once store the same value. */
uint32_t sx_string_hash(sx_val v) {
  sx_string *s = sx_str(v);
  if (sx_str_flags(s) & SX_F_HASHED) return __atomic_load_n(&s->h.hash, __ATOMIC_RELAXED);
  uint32_t h = hash_bytes(s->data, s->len);
  __atomic_store_n(&s->h.hash, h, __ATOMIC_RELAXED);
  sx_str_set_flags(s, SX_F_HASHED);
  return h;
}

bool sx_string_eq(sx_val a, sx_val b) {
  if (a == b) return true;
  sx_string *x = sx_str(a), *y = sx_str(b);
  if (x->len != y->len) return false;
  if ((sx_str_flags(x) & sx_str_flags(y) & SX_F_HASHED) &&
      __atomic_load_n(&x->h.hash, __ATOMIC_RELAXED) != __atomic_load_n(&y->h.hash, __ATOMIC_RELAXED))
    return false;
  return memcmp(x->data, y->data, x->len) == 0;
}

int sx_string_cmp(sx_val a, sx_val b) {
  sx_string *x = sx_str(a), *y = sx_str(b);
  if (x->len && y->len && x->data[0] != y->data[0]) /* most differ in the first byte */
    return (unsigned char)x->data[0] < (unsigned char)y->data[0] ? -1 : 1;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = n ? memcmp(x->data, y->data, n) : 0;
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

/* ---- recent strings and symbols, per thread ---------------------------- */

/* Up to 16 bytes packed into two words with loads that may overlap (the
 * first and last 8, or 4, or three single bytes): with the length, the
 * pair tells the bytes apart exactly. */
static inline void recent_pack(const char *p, size_t n, uint64_t *w0, uint64_t *w1) {
  uint32_t x, y;
  if (n >= 8) {
    memcpy(w0, p, 8);
    memcpy(w1, p + n - 8, 8);
  } else if (n >= 4) {
    memcpy(&x, p, 4);
    memcpy(&y, p + n - 4, 4);
    *w0 = x, *w1 = y;
  } else {
    *w1 = 0;
    *w0 = n ? (uint64_t)(unsigned char)p[0] | (uint64_t)(unsigned char)p[n / 2] << 8 |
                  (uint64_t)(unsigned char)p[n - 1] << 16
            : 0;
  }
}

/* Where bytes of up to SX_RECENT_MAX are looked for in an sx_recent. */
typedef struct recent_key {
  size_t set, len;
  uint64_t w0, w1;
} recent_key;

static inline recent_key recent_key_of(const char *bytes, size_t len) {
  recent_key k = {.len = len};
  recent_pack(bytes, len, &k.w0, &k.w1);
  const uint64_t m = 0x9e3779b97f4a7c15ull;
  k.set = (size_t)(((k.w0 ^ (k.w1 * m)) + len) * m >> 58) * 2; /* 64 sets */
  return k;
}

/* The value in k's set with k's bytes, or 0. */
static inline sx_val recent_find(const sx_recent *r, const recent_key *k) {
  for (size_t i = k->set; i < k->set + 2; i++)
    if (r->v[i] && r->len[i] == k->len && r->bytes[i][0] == k->w0 && r->bytes[i][1] == k->w1) return r->v[i];
  return 0;
}

/* v goes first in k's set, the one that was first moving second. */
static void recent_put(sx_recent *r, const recent_key *k, sx_val v) {
  size_t i = k->set;
  r->v[i + 1] = r->v[i], r->len[i + 1] = r->len[i];
  r->bytes[i + 1][0] = r->bytes[i][0], r->bytes[i + 1][1] = r->bytes[i][1];
  r->v[i] = v, r->len[i] = (uint8_t)k->len;
  r->bytes[i][0] = k->w0, r->bytes[i][1] = k->w1;
}

/* ---- symbols: one process-wide intern table ------------------------- */

static struct {
  sx_val *slots; /* open addressing; 0 = empty */
  size_t cap, count;
  pthread_mutex_t lock;
} symtab = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void symtab_grow(void) {
  size_t ncap = symtab.cap ? symtab.cap * 2 : 1024;
  sx_val *ns = GC_MALLOC_UNCOLLECTABLE(ncap * sizeof *ns);
  if (!ns) abort();
  memset(ns, 0, ncap * sizeof *ns);
  for (size_t i = 0; i < symtab.cap; i++) {
    sx_val s = symtab.slots[i];
    if (!s) continue;
    size_t j = sx_string_hash(sx_sym_name(s)) & (ncap - 1);
    while (ns[j]) j = (j + 1) & (ncap - 1);
    ns[j] = s;
  }
  if (symtab.slots) GC_FREE(symtab.slots);
  symtab.slots = ns;
  symtab.cap = ncap;
}

/* The slot holding the symbol named name (hash h), or the empty slot
 * where it would go (the lock held; the table not empty). */
static size_t symtab_slot(const char *name, size_t len, uint32_t h) {
  size_t j = h & (symtab.cap - 1);
  for (sx_val s; (s = symtab.slots[j]); j = (j + 1) & (symtab.cap - 1)) {
    sx_val n = sx_sym_name(s);
    if (sx_str_len(n) == len && memcmp(sx_str_data(n), name, len) == 0) break;
  }
  return j;
}

static sx_val symtab_intern(const char *name, size_t len) {
  uint32_t h = hash_bytes(name, len);
  pthread_mutex_lock(&symtab.lock);
  if (symtab.count * 2 >= symtab.cap) symtab_grow();
  size_t j = symtab_slot(name, len, h);
  if (!symtab.slots[j]) {
    sx_symbol *sym = sx_obj_new(SX_T_SYMBOL, sizeof *sym);
    sym->name = sx_string_new(name, len);
    symtab.slots[j] = (sx_val)sym;
    symtab.count++;
  }
  sx_val sym = symtab.slots[j];
  pthread_mutex_unlock(&symtab.lock);
  return sym;
}

/* The symbols this thread interned recently answer first, without the
 * table's lock (symbols are never freed). */
sx_val sx_symbol_intern(const char *name, size_t len) {
  bool cached = len <= SX_RECENT_MAX;
  recent_key k;
  if (cached) {
    k = recent_key_of(name, len);
    sx_val sym = sx_tls_alloc ? recent_find(&sx_tls_alloc->symbols, &k) : 0;
    if (sym) return sym;
  }
  sx_val sym = symtab_intern(name, len);
  if (cached) recent_put(&(sx_tls_alloc ? sx_tls_alloc : cache_create())->symbols, &k, sym);
  return sym;
}

sx_val sx_symbol_cstr(const char *name) { return sx_symbol_intern(name, strlen(name)); }

/* The name of the interned symbol with these bytes (hash h), or 0: a
 * lookup only, so data never grows the table. */
static sx_val symtab_find_name(const char *name, size_t len, uint32_t h) {
  pthread_mutex_lock(&symtab.lock);
  sx_val sym = symtab.cap ? symtab.slots[symtab_slot(name, len, h)] : 0;
  pthread_mutex_unlock(&symtab.lock);
  return sym ? sx_sym_name(sym) : 0;
}

/* Not among the recent strings: a new one (the interned name, when
 * interned and there is one). */
static __attribute__((noinline)) sx_val recent_miss(const recent_key *k, const char *bytes, bool interned) {
  sx_alloc_cache *c = sx_tls_alloc ? sx_tls_alloc : cache_create();
  sx_val s = interned ? symtab_find_name(bytes, k->len, hash_bytes(bytes, k->len)) : 0;
  if (!s) s = sx_string_new(bytes, k->len);
  recent_put(&c->strings, k, s);
  return s;
}

static inline sx_val recent_string(const char *bytes, size_t len, bool interned) {
  if (len > SX_RECENT_MAX) return sx_string_new(bytes, len);
  recent_key k = recent_key_of(bytes, len);
  sx_alloc_cache *c = sx_tls_alloc;
  sx_val s = c ? recent_find(&c->strings, &k) : 0;
  return s ? s : recent_miss(&k, bytes, interned);
}

sx_val sx_string_recent(const char *bytes, size_t len) { return recent_string(bytes, len, false); }
sx_val sx_string_key(const char *bytes, size_t len) { return recent_string(bytes, len, true); }

sx_val sx_keyword_new(sx_val name) {
  sx_keyword *k = sx_obj_new(SX_T_KEYWORD, sizeof *k);
  k->name = name;
  return (sx_val)k;
}

/* ---- lists ---------------------------------------------------------- */

sx_val sx_cons(sx_val car, sx_val cdr) {
  sx_pair *c = sx_alloc_pair();
  c->car = car;
  c->cdr = cdr;
  return (sx_val)c | SX_TAG_CONS;
}

sx_val sx_cons_at(sx_val car, sx_val cdr, sx_val file, uint32_t line, uint32_t col) {
  sx_cons_pos *c = sx_alloc(sizeof *c);
  c->c.car = car;
  c->c.cdr = cdr;
  c->file = file;
  c->line = line;
  c->col = col;
  return (sx_val)c | SX_TAG_CONS_POS;
}

sx_val sx_list(size_t n, const sx_val *items) {
  sx_val l = SX_EMPTY;
  while (n > 0) l = sx_cons(items[--n], l);
  return l;
}

sx_val sx_list_reverse(sx_val list) {
  sx_val r = SX_EMPTY;
  for (; sx_is_cons(list); list = sx_cdr(list)) r = sx_cons(sx_car(list), r);
  return r;
}

size_t sx_list_length(sx_val list) {
  size_t n = 0;
  for (; sx_is_cons(list); list = sx_cdr(list)) n++;
  return n;
}

sx_val sx_error_new(sx_val message, sx_val payload) {
  sx_error *e = sx_obj_new(SX_T_ERROR, sizeof *e);
  e->message = message;
  e->payload = payload;
  e->where = SX_NIL;
  e->backtrace = SX_EMPTY;
  return (sx_val)e;
}

/* ---- generic -------------------------------------------------------- */

const char *sx_type_name(sx_val v) {
  switch (sx_type_of(v)) {
    case SX_T_NIL: return "nil";
    case SX_T_BOOL: return "boolean";
    case SX_T_INT: return "integer";
    case SX_T_FLOAT: return "float";
    case SX_T_STRING: return "string";
    case SX_T_SYMBOL: return "symbol";
    case SX_T_KEYWORD: return "keyword";
    case SX_T_LIST: return "list";
    case SX_T_DICT: return "dict";
    case SX_T_FN:
    case SX_T_PRIM: return "function";
    case SX_T_MACRO: return "macro";
    case SX_T_ERROR: return "error";
    case SX_T_CONT: return "continuation";
    default: return "internal";
  }
}

/* Two numbers of the same kind (callers check): equal values. */
static bool num_equal(sx_val a, sx_val b) {
  if (sx_is_int(a)) return sx_int_val(a) == sx_int_val(b);
  return sx_float_val(a) == sx_float_val(b);
}

bool sx_eqv(sx_val a, sx_val b) {
  if (a == b) return true;
  if (sx_is_number(a) && sx_is_number(b)) return sx_is_float(a) == sx_is_float(b) && num_equal(a, b);
  if (sx_is_string(a) && sx_is_string(b)) return sx_string_eq(a, b);
  return false;
}

/* sx_equal walks with a heap stack of value pairs still to compare, never
 * the C stack, so any depth of nesting (a 1,000,000-deep list) is fine.
 * Every pair is reachable from the two roots, so the stack need not be
 * scanned by the GC. */
typedef struct eq_stack {
  sx_val *v; /* pairs: v[2i], v[2i+1] */
  size_t n, cap;
  sx_val local[64];
} eq_stack;

static void eq_push(eq_stack *st, sx_val a, sx_val b) {
  if (a == b) return;
  if (st->n + 2 > st->cap) {
    size_t cap = st->cap * 2;
    sx_val *v = st->v == st->local ? malloc(cap * sizeof *v) : realloc(st->v, cap * sizeof *v);
    if (!v) abort();
    if (st->v == st->local) memcpy(v, st->local, st->n * sizeof *v);
    st->v = v;
    st->cap = cap;
  }
  st->v[st->n++] = a;
  st->v[st->n++] = b;
}

/* Compare a and b one level down: false if they differ here, else their
 * parts are pushed. */
static bool eq_step(eq_stack *st, sx_val a, sx_val b) {
  if (a == b) return true;
  sx_type ta = sx_type_of(a), tb = sx_type_of(b);
  /* structural: an integer and a float are different values even when
   * numerically equal (= compares numbers across kinds) */
  if (ta == tb && (ta == SX_T_INT || ta == SX_T_FLOAT)) return num_equal(a, b);
  if (ta != tb) return false;
  switch (ta) {
    case SX_T_STRING: return sx_string_eq(a, b);
    case SX_T_KEYWORD: return sx_string_eq(((sx_keyword *)a)->name, ((sx_keyword *)b)->name);
    case SX_T_LIST:
      if (!sx_is_cons(a) || !sx_is_cons(b)) return false;
      eq_push(st, sx_cdr(a), sx_cdr(b)); /* the rest after the head */
      eq_push(st, sx_car(a), sx_car(b));
      return true;
    case SX_T_DICT: {
      if (sx_dict_count(a) != sx_dict_count(b)) return false;
      sx_dict_iter it;
      sx_val k, v, w;
      sx_dict_iter_init(&it, a);
      while (sx_dict_iter_next(&it, &k, &v)) {
        if ((w = sx_dict_lookup(b, k)) == SX_UNDEF) return false;
        eq_push(st, v, w);
      }
      return true;
    }
    case SX_T_ERROR:
      eq_push(st, ((sx_error *)a)->payload, ((sx_error *)b)->payload);
      eq_push(st, ((sx_error *)a)->message, ((sx_error *)b)->message);
      return true;
    default: return false;
  }
}

bool sx_equal(sx_val a, sx_val b) {
  if (a == b) return true;
  eq_stack st;
  st.v = st.local;
  st.n = 0;
  st.cap = sizeof st.local / sizeof st.local[0];
  bool same = eq_step(&st, a, b);
  while (same && st.n) {
    st.n -= 2;
    same = eq_step(&st, st.v[st.n], st.v[st.n + 1]);
  }
  if (st.v != st.local) free(st.v);
  return same;
}
