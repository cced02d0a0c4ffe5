/* store_iosim.c — the crash-state simulator behind store_iosim.h: records
 * the store's file-system changes below a root, then rebuilds the disk as
 * a crash at any recorded point could have left it (test builds only). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_iosim.h"
#include "store_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512u
#define TEAR_LAST 6  /* pending writes (from the last) torn sector by sector */
#define TEAR_CUTS 32 /* at most this many prefix cuts per torn write */

typedef enum { OP_CREATE, OP_MKDIR, OP_RENAME, OP_WRITE, OP_TRUNC, OP_SYNC, OP_DIRSYNC } op_kind;
static const char *const op_names[] = {"create", "mkdir", "rename", "write", "truncate", "sync", "dir-sync"};

typedef struct {
  op_kind kind;
  int ino;             /* the model inode (create, write, truncate, sync) */
  char *path, *path2;  /* root-relative; rename: from, to */
  uint64_t off, len;   /* write: where; truncate: the new size */
  unsigned char *data; /* write: the bytes, NULL for zeros */
  size_t covers;       /* syncs: operations before the sync started */
} sim_op;

typedef struct {
  char *path;
  int ino; /* -1: a directory */
} ns_ent;

typedef struct {
  ns_ent *e;
  size_t n, cap;
} ns_t;

static struct {
  pthread_mutex_t mu;
  int on; /* read without the mutex first */
  char root[4096];
  size_t rootlen;
  sim_op *ops;
  size_t nops, cap;
  ns_t live; /* the names as the process sees them */
  struct {
    ino_t real;
    int ino;
  } * map; /* real inode -> model inode */
  size_t nmap;
  int ninos;
  unsigned nrandom;
} sim = {.mu = PTHREAD_MUTEX_INITIALIZER, .nrandom = 8};

/* Every size asked for is at least 1 (counts + 1, or a write's n > 0). */
static void *xrealloc(void *p, size_t n) { return store_xrealloc(p, n); }

static char *xstrdup(const char *s) { return store_xstrdup(s); }

/* ---- names ------------------------------------------------------------------ */

static ns_ent *ns_find(ns_t *ns, const char *p) {
  for (size_t i = 0; i < ns->n; i++)
    if (strcmp(ns->e[i].path, p) == 0) return &ns->e[i];
  return NULL;
}

static void ns_set(ns_t *ns, const char *p, int ino) {
  ns_ent *e = ns_find(ns, p);
  if (e) {
    e->ino = ino;
    return;
  }
  if (ns->n == ns->cap) ns->e = xrealloc(ns->e, (ns->cap = ns->cap * 2 + 8) * sizeof *ns->e);
  ns->e[ns->n++] = (ns_ent){xstrdup(p), ino};
}

/* A name the model does not know (made before the recording) stays unknown. */
static void ns_rename(ns_t *ns, const char *from, const char *to) {
  ns_ent *e = ns_find(ns, from);
  if (!e) return;
  int ino = e->ino;
  free(e->path);
  *e = ns->e[--ns->n];
  ns_set(ns, to, ino);
}

static void ns_free(ns_t *ns) {
  for (size_t i = 0; i < ns->n; i++) free(ns->e[i].path);
  free(ns->e);
  *ns = (ns_t){0};
}

static const char *ns_name_of(ns_t *ns, int ino) {
  for (size_t i = 0; i < ns->n; i++)
    if (ns->e[i].ino == ino) return ns->e[i].path;
  return "?";
}

/* ---- recording --------------------------------------------------------------- */

static void rec_clear(void) {
  for (size_t i = 0; i < sim.nops; i++) {
    free(sim.ops[i].path);
    free(sim.ops[i].path2);
    free(sim.ops[i].data);
  }
  free(sim.ops);
  sim.ops = NULL;
  sim.nops = sim.cap = 0;
  ns_free(&sim.live);
  free(sim.map);
  sim.map = NULL;
  sim.nmap = 0;
  sim.ninos = 0;
}

void store_iosim_start(const char *root) {
  pthread_mutex_lock(&sim.mu);
  rec_clear();
  snprintf(sim.root, sizeof sim.root, "%s", root);
  sim.rootlen = strlen(sim.root);
  __atomic_store_n(&sim.on, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&sim.mu);
}

void store_iosim_stop(void) { __atomic_store_n(&sim.on, 0, __ATOMIC_RELEASE); }

size_t store_iosim_ops(void) {
  pthread_mutex_lock(&sim.mu);
  size_t n = sim.nops;
  pthread_mutex_unlock(&sim.mu);
  return n;
}

void store_iosim_set_random(unsigned n) { sim.nrandom = n; }

const char *store_iosim_op(size_t i, const char **path, size_t *covers) {
  if (i >= sim.nops) return NULL;
  sim_op *o = &sim.ops[i];
  if (path) *path = o->kind == OP_RENAME ? o->path2 : o->path;
  if (covers) *covers = o->covers;
  return op_names[o->kind];
}

/* Take the mutex if recording; the root-relative form of path (NULL when
 * outside the root) in *rel. */
static bool rec_enter(void) {
  if (!__atomic_load_n(&sim.on, __ATOMIC_ACQUIRE)) return false;
  pthread_mutex_lock(&sim.mu);
  if (sim.on) return true;
  pthread_mutex_unlock(&sim.mu);
  return false;
}

static const char *rel(const char *path) {
  if (strncmp(path, sim.root, sim.rootlen) != 0 || path[sim.rootlen] != '/') return NULL;
  return path + sim.rootlen + 1;
}

static sim_op *rec_push(op_kind kind, const char *path) {
  if (sim.nops == sim.cap) sim.ops = xrealloc(sim.ops, (sim.cap = sim.cap * 2 + 64) * sizeof *sim.ops);
  sim_op *o = &sim.ops[sim.nops++];
  *o = (sim_op){.kind = kind, .ino = -1, .path = xstrdup(path)}; /* a root-relative name, "" or "?" */
  return o;
}

static int map_find(ino_t real) {
  for (size_t i = 0; i < sim.nmap; i++)
    if (sim.map[i].real == real) return sim.map[i].ino;
  return -1;
}

static void map_bind(ino_t real, int ino) {
  for (size_t i = 0; i < sim.nmap; i++)
    if (sim.map[i].real == real) {
      sim.map[i].ino = ino;
      return;
    }
  sim.map = xrealloc(sim.map, (sim.nmap + 1) * sizeof *sim.map);
  sim.map[sim.nmap].real = real;
  sim.map[sim.nmap++].ino = ino;
}

/* The model inode of fd, or -1 (not a file the recording knows). */
static int fd_ino(int fd, bool *is_dir) {
  struct stat st;
  if (fstat(fd, &st)) return -1;
  if (is_dir) *is_dir = S_ISDIR(st.st_mode);
  return map_find(st.st_ino);
}

void store_iosim_open(const char *path, int fd, int flags) {
  if (!rec_enter()) return;
  const char *r = rel(path);
  struct stat st;
  if (r && fstat(fd, &st) == 0) {
    ns_ent *e = ns_find(&sim.live, r);
    if (e && e->ino >= 0 && map_find(st.st_ino) == e->ino) { /* an existing file */
      if (flags & O_TRUNC) rec_push(OP_TRUNC, r)->ino = e->ino;
    } else if (flags & O_CREAT) { /* a new inode under that name */
      int ino = sim.ninos++;
      map_bind(st.st_ino, ino);
      rec_push(OP_CREATE, r)->ino = ino;
      ns_set(&sim.live, r, ino);
    }
  }
  pthread_mutex_unlock(&sim.mu);
}

void store_iosim_mkdir(const char *path) {
  if (!rec_enter()) return;
  const char *r = rel(path);
  if (r) {
    rec_push(OP_MKDIR, r);
    ns_set(&sim.live, r, -1);
  }
  pthread_mutex_unlock(&sim.mu);
}

void store_iosim_rename(const char *from, const char *to) {
  if (!rec_enter()) return;
  const char *a = rel(from), *b = rel(to);
  if (a && b) {
    rec_push(OP_RENAME, a)->path2 = xstrdup(b);
    ns_rename(&sim.live, a, b);
  }
  pthread_mutex_unlock(&sim.mu);
}

static bool all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

void store_iosim_write(int fd, const void *p, size_t n, uint64_t off) {
  if (!rec_enter()) return;
  int ino = fd_ino(fd, NULL);
  if (ino >= 0) { /* store_io reports only writes that wrote something (n > 0) */
    sim_op *o = rec_push(OP_WRITE, ns_name_of(&sim.live, ino));
    o->ino = ino;
    o->off = off;
    o->len = n;
    if (!all_zero(p, n)) {
      o->data = xrealloc(NULL, n);
      memcpy(o->data, p, n);
    }
  }
  pthread_mutex_unlock(&sim.mu);
}

void store_iosim_truncate(int fd, uint64_t len) {
  if (!rec_enter()) return;
  int ino = fd_ino(fd, NULL);
  if (ino >= 0) {
    sim_op *o = rec_push(OP_TRUNC, ns_name_of(&sim.live, ino));
    o->ino = ino;
    o->len = len;
  }
  pthread_mutex_unlock(&sim.mu);
}

size_t store_iosim_sync_begin(void) {
  if (!rec_enter()) return 0;
  size_t n = sim.nops;
  pthread_mutex_unlock(&sim.mu);
  return n;
}

void store_iosim_sync_end(int fd, size_t covers) {
  if (!rec_enter()) return;
  bool dir = false;
  int ino = fd_ino(fd, &dir);
  if (dir) rec_push(OP_DIRSYNC, "")->covers = covers;
  else if (ino >= 0) {
    sim_op *o = rec_push(OP_SYNC, ns_name_of(&sim.live, ino));
    o->ino = ino;
    o->covers = covers;
  }
  pthread_mutex_unlock(&sim.mu);
}

/* ---- crash plans ------------------------------------------------------------------ */

/* What a crash at k keeps of each operation not yet durable. */
typedef struct {
  size_t k;
  size_t *pend, npend;   /* pending data operations (write, truncate), in order */
  size_t *names, nnames; /* pending name operations, in order */
  unsigned char *how;    /* per pending data op: 0 lost, 1 kept, 2 kept in part */
  unsigned char **mask;  /* how 2: per sector, kept or not */
  size_t keep_names;     /* a prefix of the pending names is kept */
  int *slot;             /* per operation < k: its index in pend/names, -1 durable */
} plan;

static size_t op_sectors(const sim_op *o) {
  return o->kind == OP_WRITE ? (size_t)((o->off + o->len - 1) / SECTOR - o->off / SECTOR + 1) : 1;
}

static bool is_name_op(op_kind k) { return k == OP_CREATE || k == OP_MKDIR || k == OP_RENAME; }

/* Sort the operations before k into durable and pending ones. */
static void plan_init(plan *pl, size_t k) {
  *pl = (plan){.k = k};
  size_t *cover = store_xcalloc((size_t)sim.ninos + 1, sizeof *cover), dircover = 0;
  for (size_t j = 0; j < k; j++) {
    sim_op *o = &sim.ops[j];
    if (o->kind == OP_SYNC && o->covers > cover[o->ino]) cover[o->ino] = o->covers;
    if (o->kind == OP_DIRSYNC && o->covers > dircover) dircover = o->covers;
  }
  pl->pend = xrealloc(NULL, (k + 1) * sizeof *pl->pend);
  pl->names = xrealloc(NULL, (k + 1) * sizeof *pl->names);
  pl->slot = xrealloc(NULL, (k + 1) * sizeof *pl->slot);
  for (size_t j = 0; j < k; j++) {
    sim_op *o = &sim.ops[j];
    pl->slot[j] = -1;
    if ((o->kind == OP_WRITE || o->kind == OP_TRUNC) && j >= cover[o->ino]) {
      pl->slot[j] = (int)pl->npend;
      pl->pend[pl->npend++] = j;
    } else if (is_name_op(o->kind) && j >= dircover) {
      pl->slot[j] = (int)pl->nnames;
      pl->names[pl->nnames++] = j;
    }
  }
  free(cover);
  pl->how = store_xcalloc(pl->npend + 1, 1);
  pl->mask = store_xcalloc(pl->npend + 1, sizeof *pl->mask);
}

static void plan_free(plan *pl) {
  for (size_t i = 0; i < pl->npend; i++) free(pl->mask[i]);
  free(pl->mask);
  free(pl->how);
  free(pl->pend);
  free(pl->names);
  free(pl->slot);
}

/* Keep pending data operations [0, upto) whole and lose the rest. */
static void plan_keep(plan *pl, size_t upto) {
  for (size_t i = 0; i < pl->npend; i++) pl->how[i] = i < upto;
}

/* Tear shapes of a write: prefix cuts (the first s sectors reach the disk)
 * then three suffix cuts (only the last s do). Zero writes: one cut. */
static size_t tear_count(const sim_op *o) {
  size_t ns = op_sectors(o);
  if (o->kind != OP_WRITE || ns < 2) return 0;
  if (!o->data) return 1;
  return (ns - 1 < TEAR_CUTS ? ns - 1 : TEAR_CUTS) + 3;
}

static void tear(plan *pl, size_t i, size_t shape) {
  const sim_op *o = &sim.ops[pl->pend[i]];
  size_t ns = op_sectors(o), npre = ns - 1 < TEAR_CUTS ? ns - 1 : TEAR_CUTS;
  unsigned char *m = pl->mask[i] = store_xcalloc(ns, 1);
  pl->how[i] = 2;
  if (!o->data || shape < npre) {
    size_t s = o->data ? 1 + shape * (ns - 1) / npre : ns / 2;
    memset(m, 1, s);
  } else {
    size_t which = shape - npre, s = which == 0 ? 1 : which == 1 ? ns / 2 : ns - 1;
    memset(m + ns - s, 1, s);
  }
}

static uint64_t rng_next(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void plan_random(plan *pl, unsigned v) {
  uint64_t x = (pl->k + 1) * 0x9E3779B97F4A7C15ull ^ (v + 1) * 0xD1B54A32D192ED03ull;
  for (int i = 0; i < 4; i++) rng_next(&x);
  for (size_t i = 0; i < pl->npend; i++) {
    unsigned r = (unsigned)(rng_next(&x) % 4);
    const sim_op *o = &sim.ops[pl->pend[i]];
    pl->how[i] = r == 0 ? 0 : (r == 1 || o->kind != OP_WRITE) ? 1 : 2;
    if (pl->how[i] != 2) continue;
    size_t ns = op_sectors(o);
    pl->mask[i] = store_xcalloc(ns, 1);
    for (size_t j = 0; j < ns; j++) pl->mask[i][j] = rng_next(&x) % 2;
  }
  pl->keep_names = (size_t)(rng_next(&x) % (pl->nnames + 1));
}

/* Fill in variant v (see the header); false when there is none. */
static bool plan_variant(plan *pl, unsigned v) {
  if (v < 2) {
    plan_keep(pl, v ? pl->npend : 0);
    pl->keep_names = v ? pl->nnames : 0;
    return true;
  }
  size_t left = v - 2;
  for (size_t t = 0; t < TEAR_LAST && t < pl->npend; t++) { /* the last writes, torn */
    size_t i = pl->npend - 1 - t, n = tear_count(&sim.ops[pl->pend[i]]);
    if (left < n) {
      plan_keep(pl, i);
      tear(pl, i, left);
      pl->keep_names = pl->nnames;
      return true;
    }
    left -= n;
  }
  if (left < 2 * pl->nnames) { /* a prefix of the names, with all or no data */
    plan_keep(pl, left % 2 ? pl->npend : 0);
    pl->keep_names = left / 2;
    return true;
  }
  left -= 2 * pl->nnames;
  if (left >= sim.nrandom || pl->npend + pl->nnames == 0) return false;
  plan_random(pl, v);
  return true;
}

/* ---- rebuilding a disk ---------------------------------------------------------------- */

typedef struct {
  unsigned char *b; /* bytes [0, nz); b[nz, cap) are zero */
  uint64_t size, nz, cap;
} sfile;

static void sf_grow(sfile *f, uint64_t need) {
  if (need <= f->cap) return;
  uint64_t cap = f->cap * 2 > need ? f->cap * 2 : need;
  f->b = xrealloc(f->b, (size_t)cap);
  memset(f->b + f->cap, 0, (size_t)(cap - f->cap));
  f->cap = cap;
}

/* Apply bytes [from, to) of write o. */
static void sf_write(sfile *f, const sim_op *o, uint64_t from, uint64_t to) {
  if (o->data) {
    sf_grow(f, to);
    memcpy(f->b + from, o->data + (from - o->off), (size_t)(to - from));
    if (to > f->nz) f->nz = to;
  } else if (from < f->nz) {
    memset(f->b + from, 0, (size_t)((to < f->nz ? to : f->nz) - from));
  }
  if (to > f->size) f->size = to;
}

static void sf_truncate(sfile *f, uint64_t len) {
  if (len < f->nz) {
    memset(f->b + len, 0, (size_t)(f->nz - len));
    f->nz = len;
  }
  f->size = len;
}

/* Apply write o, whole or the sectors mask keeps. */
static void apply_write(sfile *f, const sim_op *o, const unsigned char *mask) {
  if (!mask) {
    sf_write(f, o, o->off, o->off + o->len);
    return;
  }
  uint64_t first = o->off / SECTOR, end = o->off + o->len;
  for (size_t i = 0; i < op_sectors(o); i++) {
    uint64_t a = (first + i) * SECTOR, b = a + SECTOR;
    if (mask[i]) sf_write(f, o, a < o->off ? o->off : a, b > end ? end : b);
  }
}

static void apply_op(sfile *files, ns_t *ns, const sim_op *o, const unsigned char *mask) {
  switch (o->kind) {
    case OP_CREATE: ns_set(ns, o->path, o->ino); break;
    case OP_MKDIR: ns_set(ns, o->path, -1); break;
    case OP_RENAME: ns_rename(ns, o->path, o->path2); break;
    case OP_WRITE: apply_write(&files[o->ino], o, mask); break;
    case OP_TRUNC: sf_truncate(&files[o->ino], o->len); break;
    default: break;
  }
}

/* Replay the operations before the crash as the plan keeps them. */
static sfile *replay(const plan *pl, ns_t *ns) {
  sfile *files = store_xcalloc((size_t)sim.ninos + 1, sizeof *files);
  for (size_t j = 0; j < pl->k; j++) {
    const sim_op *o = &sim.ops[j];
    int s = pl->slot[j];
    if (s < 0) apply_op(files, ns, o, NULL);
    else if (is_name_op(o->kind)) {
      if ((size_t)s < pl->keep_names) apply_op(files, ns, o, NULL);
    } else if (pl->how[s]) {
      apply_op(files, ns, o, pl->how[s] == 2 ? pl->mask[s] : NULL);
    }
  }
  return files;
}

static int ent_cmp(const void *a, const void *b) {
  return strcmp(((const ns_ent *)a)->path, ((const ns_ent *)b)->path);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001B3ull;
  return h;
}

/* Hash of the names and contents (trailing zeros up to the size do not
 * count twice: the size is hashed). */
static uint64_t state_hash(sfile *files, ns_t *ns) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (size_t i = 0; i < ns->n; i++) {
    ns_ent *e = &ns->e[i];
    h = fnv(h, e->path, strlen(e->path) + 1);
    if (e->ino < 0) {
      h = fnv(h, "/", 1);
      continue;
    }
    sfile *f = &files[e->ino];
    while (f->nz > 0 && f->b[f->nz - 1] == 0) f->nz--;
    h = fnv(h, &f->size, sizeof f->size);
    h = fnv(h, f->b, (size_t)f->nz);
  }
  return h;
}

static int write_file(const char *path, const sfile *f) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int rc = 0;
  uint64_t n = f->nz < f->size ? f->nz : f->size;
  if (n && write(fd, f->b, (size_t)n) != (ssize_t)n) rc = -1;
  if (ftruncate(fd, (off_t)f->size)) rc = -1;
  close(fd);
  return rc;
}

static int state_write(const char *dest, sfile *files, ns_t *ns) {
  if (mkdir(dest, 0755) && errno != EEXIST) return -1;
  char path[8192];
  for (size_t i = 0; i < ns->n; i++) {
    ns_ent *e = &ns->e[i];
    snprintf(path, sizeof path, "%s/%s", dest, e->path);
    if (e->ino < 0 ? (mkdir(path, 0755) && errno != EEXIST) : write_file(path, &files[e->ino]) != 0)
      return -1;
  }
  return 0;
}

int store_iosim_crash(size_t k, unsigned v, const char *dest, uint64_t *hash) {
  pthread_mutex_lock(&sim.mu);
  if (k > sim.nops) k = sim.nops;
  plan pl;
  plan_init(&pl, k);
  int rc = -1;
  if (plan_variant(&pl, v)) {
    ns_t ns = {0};
    sfile *files = replay(&pl, &ns);
    if (ns.n)
      qsort(ns.e, ns.n, sizeof *ns.e, ent_cmp); /* parents before children (qsort wants a non-NULL base) */
    *hash = state_hash(files, &ns);
    rc = v == 1;
    if (dest && state_write(dest, files, &ns)) rc = -2;
    for (int i = 0; i < sim.ninos; i++) free(files[i].b);
    free(files);
    ns_free(&ns);
  }
  plan_free(&pl);
  pthread_mutex_unlock(&sim.mu);
  return rc;
}
