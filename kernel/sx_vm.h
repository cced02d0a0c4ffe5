/* sx_vm.h — the evaluator's internal interface: analysed code (nodes,
 * prototypes), environments, closures, primitives, fibers (suspendable CEK
 * machine states) and the VM that owns globals, the load path and the IO
 * resolvers.
 *
 * Code runs in two steps. The analyser (sx_analyse.c) turns a read form into
 * a tree of sx_node once: special forms are resolved, local variables become
 * (depth, index) addresses and globals become direct pointers to their
 * cells. The CEK machine (sx_cek.c) then runs nodes with its continuation in
 * a heap-allocated frame stack owned by a fiber, never the C stack, so a
 * `perform` can suspend the fiber at any depth and the host can resume it
 * later from any C stack frame.
 */
#ifndef SX_VM_H
#define SX_VM_H

#include "sx_buf.h"
#include "sx_value.h"

#include <stdio.h>

typedef struct sx_vm sx_vm;
typedef struct sx_node sx_node;
typedef struct sx_fiber sx_fiber;

/* ---- source positions ----------------------------------------------- */
typedef struct sx_srcpos {
  sx_val file; /* string or SX_NIL */
  uint32_t line, col;
  sx_val fn_name; /* name of the enclosing function, or SX_NIL */
} sx_srcpos;

/* ---- environments and globals --------------------------------------- */
typedef struct sx_env {
  sx_hdr h;
  struct sx_env *parent;
  uint32_t n;
  sx_val slots[];
} sx_env;

typedef struct sx_cell { /* a global binding */
  sx_hdr h;
  sx_val sym;
  sx_val value; /* SX_UNDEF when unbound */
} sx_cell;

/* ---- analysed code ---------------------------------------------------- */
typedef enum sx_op {
  OP_CONST,
  OP_LOCAL,
  OP_GLOBAL,
  OP_SET_LOCAL,
  OP_SET_GLOBAL,
  OP_DEF_GLOBAL,
  OP_IF,
  OP_SEQ,
  OP_AND,
  OP_OR,
  OP_FN,
  OP_CALL,
  OP_LET,
  OP_LETREC,
  OP_GUARD,
  OP_PERFORM,
  OP_DICT,
  OP_DEFMACRO
} sx_op;

typedef struct sx_proto {
  sx_val name;        /* string or SX_NIL */
  sx_val params;      /* the parameter list as written: for doc and arity errors */
  uint32_t nparams;   /* required parameters */
  bool rest;          /* a &rest parameter follows them */
  uint32_t nslots;    /* params + rest + internal defines */
  bool noclosure;     /* its body creates no closure: nothing can keep its
                        environment once it returns */
  uint32_t bind_argc; /* nparams when noclosure and no &rest (a call with
                        that many operands may bind straight into a pooled
                        environment, see direct_bind), else UINT32_MAX */
  sx_node *body;
  const sx_srcpos *pos;
} sx_proto;

#define NF_FAST                                                                                              \
  0x01 /* a call whose operator is a constant or variable and
                            whose operands are simple or NF_FAST: may run
                            without frames when every operator is a primitive */
#define NF_CACHEABLE                                                                                         \
  0x02 /* NF_FAST and no operator in it is a local variable,
                            so its primitive check can be cached per node */
#define NF_TAIL                                                                                              \
  0x08                  /* a call in tail position of a function that creates
                            no closures: its frame may be reused by the callee */
#define NF_TAILPOS 0x10 /* a call in tail position of a function body */
#define NF_SELF                                                                                              \
  0x20 /* a call in tail position of a closure-free function
                            through the variable that names it (a named let's
                            name, a defined function's global) with exactly
                            its parameters: u.call.self is the function's
                            proto and depth the frames between the call's
                            environment and the function's. If that variable
                            still holds a closure of self over the same
                            parent, the call rebinds the function's
                            environment in place and jumps (a loop) */
#define NF_ARITH                                                                                             \
  0x04 /* a two-operand call of a global that named an
                            inline-arithmetic primitive (fop) when analysed */
#define NF_QUICK                                                                                             \
  0x40 /* a call whose operator and operands all have shapes
                            the machine may evaluate in place (quick):
                            constants, variables, NF_ARITH calls of such. The
                            paths binding straight from quick operands are
                            tried only for these (and still check each value) */

struct sx_node {
  uint8_t op;     /* sx_op */
  uint8_t flags;  /* NF_* */
  uint16_t depth; /* OP_LOCAL / OP_SET_LOCAL: frames to walk up */
  uint32_t idx;   /* slot index, or item count */
  const sx_srcpos *pos;
  sx_val sym;          /* variable name for error messages */
  uint32_t fast_epoch; /* NF_CACHEABLE: vm->global_epoch when last verified */
  uint8_t fop;         /* NF_ARITH: the FOP_* of u.call.prim */
  uint8_t ashape;      /* NF_ARITH: its operands' kinds (ARITH_SHAPE) */
  union {
    sx_val k;      /* OP_CONST */
    sx_cell *cell; /* globals */
    struct {
      sx_node *test, *then, *els;
    } iff; /* OP_IF */
    struct {
      sx_node **items;
    } seq; /* SEQ/AND/OR, idx = n */
    struct {
      sx_node *fn;
      sx_node **args;
      union {
        sx_val prim;
        sx_proto *self;
      };
    } call;          /* idx = argc;
                                                  prim: NF_ARITH's primitive;
                                                  self: NF_SELF's function */
    sx_proto *proto; /* OP_FN */
    struct {
      sx_node **inits;
      sx_node *body;
      uint32_t nslots;
    } let; /* idx = n */
    struct {
      sx_node *body;
      sx_node *handler;
    } guard; /* OP_GUARD */
    struct {
      sx_val *keys;
      sx_node **vals;
    } dict; /* idx = n */
  } u;
  sx_node *val; /* OP_SET_*, OP_DEF_GLOBAL, OP_PERFORM, OP_DEFMACRO */
};

/* ---- callables -------------------------------------------------------- */
typedef struct sx_closure {
  sx_hdr h;
  sx_val name;
  sx_proto *proto;
  sx_env *env;
} sx_closure;

typedef sx_val (*sx_prim_fn)(sx_vm *vm, int argc, sx_val *argv);

/* Primitives that call back into SX run on the machine itself. */
typedef enum sx_special {
  SP_NONE,
  SP_APPLY,
  SP_MAP,
  SP_FILTER,
  SP_REDUCE,
  SP_FOR_EACH,
  SP_SOME,
  SP_EVERY,
  SP_CALLCC,
  SP_DYNAMIC_WIND,
  SP_LOAD,
  SP_EVAL,
  SP_MAP_INDEXED,
  SP_SORT, /* a merge sort in C; an SX comparator runs on the machine */
  SP_HOST  /* an embedder's C function: called like a plain primitive but never
             on the frameless fast path, so its fn finds its own sx_prim (and
             the ud there) at argv[-1] */
} sx_special;

/* The kinds of an NF_ARITH call's operands, decided when analysed so the
 * machine reads them without testing what they are: a local of the
 * current frame (depth 0), a constant, anything else, or a call that
 * always needs the machine (not NF_ARITH): AK_ENTER when it is NF_QUICK
 * and its operator is a variable that did not hold a primitive when
 * analysed (likely a function the machine may enter straight from the
 * arithmetic's frame, see arith_enter), else AK_CALL. The kinds from
 * AK_CALL on need the machine. */
enum { AK_LOCAL0, AK_CONST, AK_OTHER, AK_CALL, AK_ENTER };
#define ARITH_SHAPE(k0, k1) ((uint8_t)((k0)*8 + (k1)))
#define ARITH_KIND0(shape) ((shape) >> 3)
#define ARITH_KIND1(shape) ((shape)&7)

/* Primitives with an inline fast path in the machine (sx_prim.h.aux). */
enum { FOP_NONE, FOP_ADD, FOP_SUB, FOP_MUL, FOP_LT, FOP_GT, FOP_LE, FOP_GE, FOP_NUMEQ };

typedef struct sx_prim {
  sx_hdr h; /* aux: FOP_* */
  sx_val name;
  sx_prim_fn fn;
  int16_t min_args, max_args; /* max -1: variadic */
  uint8_t special;            /* sx_special */
  void *ud;
} sx_prim;

typedef struct sx_macro {
  sx_hdr h;
  sx_val name;
  sx_val fn; /* closure taking the unevaluated forms */
} sx_macro;

typedef struct sx_contobj { /* escape continuation */
  sx_hdr h;
  sx_val name;
  sx_fiber *fiber;
  size_t ksp; /* the frame stack height to return to */
  uint64_t id;
  bool live;
} sx_contobj;

/* ---- IO resolvers ------------------------------------------------------ */
/* Services a perform request whose :op starts with the resolver's prefix.
 * Returns 0 with *result set, or -1 with *result holding an error message
 * string (or an error value), which is raised at the perform. */
typedef int (*sx_resolver_fn)(sx_vm *vm, void *ud, sx_val op, sx_val args, sx_val request, sx_val *result);

/* ---- fibers ------------------------------------------------------------ */
typedef enum sx_status { SX_DONE, SX_SUSPENDED, SX_ERROR } sx_status;

typedef struct sx_kframe sx_kframe;

#define SX_ENV_POOL 8 /* environments of up to 7 slots are recycled */

struct sx_fiber {
  sx_vm *vm;
  sx_kframe *ks; /* continuation frames: the K of the CEK machine */
  size_t ksp, kcap;
  sx_val *vs; /* operand stack for calls in progress */
  size_t vsp, vcap;
  sx_status status;
  bool running;
  sx_val value;                           /* SX_DONE: the result */
  sx_val error;                           /* SX_ERROR: an error value (sx_error) */
  sx_val request;                         /* SX_SUSPENDED: the performed request */
  sx_val raised, raised_where, raised_bt; /* where a non-error value was first raised */
  const sx_srcpos *perform_at;            /* SX_SUSPENDED: the perform, for a resume with an error */
  struct sx_env *env_pool[SX_ENV_POOL];   /* returned environments by slot count,
                                          chained through parent */
  bool nested;                            /* run from C inside another evaluation: cannot suspend */
  uint8_t start;                          /* how the next sx_fiber_run begins (internal) */
  sx_node *start_node;
};

/* ---- the VM ----------------------------------------------------------- */
typedef struct sx_resolver {
  char *prefix;
  size_t prefix_len;
  sx_resolver_fn fn;
  void *ud;
} sx_resolver;

struct sx_vm {
  sx_cell **globals; /* open-addressed by symbol pointer */
  size_t gcap, gcount;
  char **load_path;
  size_t nload_path;
  sx_resolver *resolvers;
  size_t nresolvers;
  size_t max_depth;       /* nested SX calls allowed (tail calls do not nest);
                            the frame stack holds 8 frames per call */
  sx_val pending;         /* raised value set by a primitive returning SX_UNDEF */
  volatile int interrupt; /* set asynchronously (SIGINT): raise at the next step */
  uint64_t next_cont_id;
  uint32_t global_epoch; /* bumped when a global holding a primitive changes */
  sx_fiber *current;     /* fiber being run (for nested runs) */
  /* the stacks of the last fiber that ended, for the next sx_fiber_new: a
   * top-level evaluation then allocates no stacks (see give_stacks) */
  sx_kframe *spare_ks;
  sx_val *spare_vs;
  size_t spare_kcap, spare_vcap;
  /* the source names made last (sx_vm_source_name), newest first */
  sx_val recent_names[2];
  /* called when a top-level evaluation ends (one protocol command, one
   * form of a file run by `sx run`, one API evaluation); a returned error
   * value (e.g. a failed commit) replaces a successful result */
  sx_val (*on_toplevel)(sx_vm *vm, void *ud, sx_status st);
  void *on_toplevel_ud;
  /* the host's state for the running top-level evaluation (the resolver
   * keeps its store transaction here); a host running several suspended
   * evaluations swaps it in and out with them. Scanned by the collector. */
  void *eval_state;
  int closed;
  FILE *out;  /* where print/display write (stdout; the server uses stderr) */
  void *host; /* embedding host's data */
};

/* VM lifecycle and globals */
/* The string value of a source name ("<eval>", a path) for positions and
 * errors. Hosts name request after request alike: the two made last are
 * kept and given again (strings are immutable). */
sx_val sx_vm_source_name(sx_vm *vm, const char *name);
sx_vm *sx_vm_create(void);
void sx_vm_close(sx_vm *vm);
sx_cell *sx_global_cell(sx_vm *vm, sx_val sym); /* creates an unbound cell */
void sx_define(sx_vm *vm, const char *name, sx_val value);
sx_val sx_global_ref(sx_vm *vm, const char *name); /* SX_UNDEF if unbound */
sx_val sx_defprim(sx_vm *vm, const char *name, sx_prim_fn fn, int min, int max);
void sx_set_fast_op(sx_vm *vm, const char *name, int fop);
sx_val sx_defspecial(sx_vm *vm, const char *name, sx_special sp, int min, int max);
void sx_add_load_dir(sx_vm *vm, const char *dir);
char *sx_resolve_load_path(sx_vm *vm, const char *path); /* malloc'd or NULL */
void sx_add_resolver(sx_vm *vm, const char *prefix, sx_resolver_fn fn, void *ud);
const sx_resolver *sx_find_resolver(sx_vm *vm, sx_val request, sx_val *op, sx_val *args);

/* Raising from primitives: set vm->pending and return SX_UNDEF. */
sx_val sx_throw(sx_vm *vm, sx_val raised);
sx_val sx_throwf(sx_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
sx_val sx_type_error(sx_vm *vm, const char *who, const char *expected, sx_val got);
/* The error an interrupt raises (no guard catches it). A primitive that
 * may loop for long calls sx_poll_interrupt now and then: when the VM's
 * interrupt flag is set it clears it, throws that error and returns true
 * (the primitive then returns SX_UNDEF). */
sx_val sx_interrupt_error(void);
bool sx_poll_interrupt(sx_vm *vm);
/* v printed for an error message, cut to 80 bytes. */
sx_val sx_shown(sx_val v);
/* s cut to at most max bytes ending in "...", never inside a UTF-8
 * character; s itself when it is short enough. */
sx_val sx_shortened(sx_val s, size_t max);
sx_val sx_make_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A parameter list as written in a fn (sx_proto.params), without its
 * brackets: "a b &rest more"; a lone rest symbol as "&rest args". */
void sx_print_params(sx_buf *b, sx_val params);
sx_val sx_error_message(sx_val raised); /* a string describing any raised value */

/* Analysis */
sx_node *sx_analyse(sx_vm *vm, sx_val form, sx_val *error);
void sx_analyse_init(void); /* marks special-form symbols; idempotent */
/* Is name (a symbol or string) a special form the analyser knows? */
bool sx_special_form_p(sx_val name);
/* The i-th special form's name, NULL past the last. */
const char *sx_special_form_name(size_t i);
/* The forms of a top-level (begin form...) with at least one form, which
 * the machine runs one by one, analysing each just before it runs (see
 * sx_fiber_start_forms); SX_UNDEF for any other form. */
sx_val sx_toplevel_begin(sx_val form);

/* Running */
sx_fiber *sx_fiber_new(sx_vm *vm);
void sx_fiber_start_node(sx_fiber *f, sx_node *node);
void sx_fiber_start_apply(sx_fiber *f, sx_val fn, int argc, const sx_val *argv);
/* Evaluate forms one after another (a file); each form is analysed just
 * before it runs so macros defined earlier apply. toplevel: call
 * vm->on_toplevel after each form. */
void sx_fiber_start_forms(sx_fiber *f, sx_val forms, sx_val file, bool toplevel);
sx_status sx_fiber_run(sx_fiber *f);
sx_status sx_fiber_resume(sx_fiber *f, sx_val value);
sx_status sx_fiber_resume_error(sx_fiber *f, sx_val raised);

/* Conveniences that run to completion; performs go to the resolvers and an
 * op no resolver owns is an error. */
sx_status sx_apply(sx_vm *vm, sx_val fn, int argc, const sx_val *argv, sx_val *out);
sx_status sx_eval_form(sx_vm *vm, sx_val form, sx_val *out);
sx_status sx_eval_string(sx_vm *vm, const char *src, size_t len, sx_val file, sx_val *out);
sx_val sx_read_source_file(sx_vm *vm, const char *path, sx_val *err);
/* The bytes of the file path names on the load path, appended to *b. 0 on
 * success; otherwise *err is an error value in (load ...)'s words and the
 * result says which step failed (for SX_SLURP_OPEN errno tells why). */
enum { SX_SLURP_MISSING = 1, SX_SLURP_OPEN, SX_SLURP_READ };
int sx_slurp_load_file(sx_vm *vm, const char *path, sx_buf *b, sx_val *err);
sx_status sx_load_file(sx_vm *vm, const char *path, bool toplevel, sx_val *out);
/* End of a top-level evaluation: runs vm->on_toplevel. Returns SX_NIL or
 * an error value that must replace a successful result. */
sx_val sx_toplevel_end(sx_vm *vm, sx_status st);
/* Resolve every suspension of f through the resolvers until it ends. */
sx_status sx_fiber_finish(sx_fiber *f);

#endif
