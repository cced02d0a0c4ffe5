/* repl_pretty.c — the REPL's pretty-printer (see repl_pretty.h). Values
 * are inspected and printed through the public API (sx.h). */
#include "repl_pretty.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this prints with sxapi_print (iterative, no colour),
 * so a deep value cannot exhaust the C stack. */
#define PP_MAX_DEPTH 200

#define SGR_NUMBER "\033[36m"
#define SGR_STRING "\033[32m"
#define SGR_CONST "\033[33m"
#define SGR_KEY "\033[35m"

typedef struct pp {
  sxapi_vm *vm;
  repl_buf *b;
  bool colour;
  size_t max_items;
  size_t stop; /* flat output may stop once b->len passes this (measuring) */
} pp;

/* A dict entry; the key is the dict's own string (kept alive by it). */
typedef struct entry {
  sxapi_value key, val;
  const char *name;
} entry;

static const char *const event_keys[] = {"seq", "stream", "type", "at", "data"};
#define NEVENT_KEYS (sizeof event_keys / sizeof *event_keys)

size_t repl_columns(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

/* The entry of dict d named key, or false. */
static bool has(sxapi_vm *vm, sxapi_value d, const char *key, sxapi_value *v) {
  return sxapi_dict_get(vm, d, key, v) == SXAPI_OK;
}

bool repl_is_event(sxapi_vm *vm, sxapi_value v) {
  sxapi_value seq, stream, x;
  if (sxapi_typeof(v) != SXAPI_TDICT) return false;
  return has(vm, v, "seq", &seq) && sxapi_typeof(seq) == SXAPI_TINT && has(vm, v, "stream", &stream) &&
         sxapi_typeof(stream) == SXAPI_TSTRING && has(vm, v, "type", &x) && has(vm, v, "data", &x);
}

static size_t list_len(sxapi_vm *vm, sxapi_value v) {
  size_t n = 0;
  return sxapi_list_length(vm, v, &n) == SXAPI_OK ? n : 0;
}

static bool is_container(sxapi_vm *vm, sxapi_value v) {
  sxapi_type t = sxapi_typeof(v);
  return t == SXAPI_TDICT || (t == SXAPI_TLIST && list_len(vm, v) > 0);
}

/* Append the printed form of v (what sxapi_print gives). */
static void print_to(sxapi_vm *vm, repl_buf *b, sxapi_value v) {
  sxapi_value text;
  const char *s;
  size_t len;
  if (sxapi_print(vm, v, &text) == SXAPI_OK && sxapi_to_string(vm, text, &s, &len) == SXAPI_OK)
    repl_buf_put(b, s, len);
}

/* Display columns of v's printed form. */
static size_t printed_columns(sxapi_vm *vm, sxapi_value v) {
  repl_buf t = REPL_BUF_INIT;
  print_to(vm, &t, v);
  size_t n = repl_columns(t.data ? t.data : "", t.len);
  repl_buf_free(&t);
  return n;
}

static const char *atom_colour(sxapi_value v) {
  switch (sxapi_typeof(v)) {
    case SXAPI_TINT:
    case SXAPI_TFLOAT: return SGR_NUMBER;
    case SXAPI_TSTRING: return SGR_STRING;
    case SXAPI_TNIL:
    case SXAPI_TBOOL: return SGR_CONST;
    case SXAPI_TKEYWORD: return SGR_KEY;
    case SXAPI_TERROR: return REPL_SGR_ERROR;
    case SXAPI_TFUNCTION:
    case SXAPI_TOTHER: return REPL_SGR_DIM;
    default: return NULL;
  }
}

static void atom(pp *p, sxapi_value v) {
  const char *c = p->colour ? atom_colour(v) : NULL;
  if (c) repl_buf_puts(p->b, c);
  print_to(p->vm, p->b, v);
  if (c) repl_buf_puts(p->b, REPL_SGR_RESET);
}

/* Append how a dict key prints (":name" or a quoted string). */
static void key_text(sxapi_vm *vm, repl_buf *b, sxapi_value k) {
  sxapi_value text;
  const char *s;
  size_t len;
  if (sxapi_print_key(vm, k, &text) == SXAPI_OK && sxapi_to_string(vm, text, &s, &len) == SXAPI_OK)
    repl_buf_put(b, s, len);
}

static void key(pp *p, sxapi_value k) {
  if (p->colour) repl_buf_puts(p->b, SGR_KEY);
  key_text(p->vm, p->b, k);
  if (p->colour) repl_buf_puts(p->b, REPL_SGR_RESET);
}

static size_t key_columns(sxapi_vm *vm, sxapi_value k) {
  repl_buf t = REPL_BUF_INIT;
  key_text(vm, &t, k);
  size_t n = repl_columns(t.data ? t.data : "", t.len);
  repl_buf_free(&t);
  return n;
}

static void more(pp *p, size_t n) {
  if (p->colour) repl_buf_puts(p->b, REPL_SGR_DIM);
  repl_buf_printf(p->b, "... %zu more", n);
  if (p->colour) repl_buf_puts(p->b, REPL_SGR_RESET);
}

static int event_rank(const char *name) {
  for (size_t j = 0; j < NEVENT_KEYS; j++)
    if (strcmp(name, event_keys[j]) == 0) return (int)j;
  return -1;
}

/* A dict's entries in display order: for events the reading order, then
 * the remaining keys in byte order. Returns the count; *out is malloc'd. */
static size_t dict_entries(sxapi_vm *vm, sxapi_value d, entry **out) {
  size_t n = 0, i = 0;
  sxapi_dict_count(vm, d, &n);
  entry *all = malloc((n + 1) * sizeof *all), *e = malloc((n + 1) * sizeof *e);
  if (!all || !e) abort();
  sxapi_iter it;
  if (sxapi_iter_init(vm, d, &it) == SXAPI_OK)
    while (i < n && sxapi_iter_next(&it, &all[i].key, &all[i].val)) {
      if (sxapi_to_string(vm, all[i].key, &all[i].name, NULL) != SXAPI_OK) all[i].name = "";
      i++;
    }
  n = i;
  size_t k = 0;
  bool ev = repl_is_event(vm, d);
  for (size_t j = 0; ev && j < NEVENT_KEYS; j++)
    for (i = 0; i < n; i++)
      if (event_rank(all[i].name) == (int)j) e[k++] = all[i];
  for (i = 0; i < n; i++)
    if (!ev || event_rank(all[i].name) < 0) e[k++] = all[i];
  free(all);
  *out = e;
  return k;
}

static bool stopped(const pp *p) { return p->b->len > p->stop; }

static void flat(pp *p, sxapi_value v, int depth);

static void flat_list(pp *p, sxapi_value v, int depth) {
  size_t n = list_len(p->vm, v), i = 0;
  sxapi_iter it;
  sxapi_value x;
  repl_buf_putc(p->b, '(');
  sxapi_iter_init(p->vm, v, &it);
  for (; !stopped(p) && sxapi_iter_next(&it, NULL, &x); i++) {
    if (i) repl_buf_putc(p->b, ' ');
    if (p->max_items && i == p->max_items) {
      more(p, n - i);
      break;
    }
    flat(p, x, depth + 1);
  }
  repl_buf_putc(p->b, ')');
}

static void flat_dict(pp *p, sxapi_value d, int depth) {
  entry *e;
  size_t n = dict_entries(p->vm, d, &e);
  repl_buf_putc(p->b, '{');
  for (size_t i = 0; i < n && !stopped(p); i++) {
    if (i) repl_buf_putc(p->b, ' ');
    if (p->max_items && i == p->max_items) {
      more(p, n - i);
      break;
    }
    key(p, e[i].key);
    repl_buf_putc(p->b, ' ');
    flat(p, e[i].val, depth + 1);
  }
  repl_buf_putc(p->b, '}');
  free(e);
}

static void flat(pp *p, sxapi_value v, int depth) {
  if (depth > PP_MAX_DEPTH && is_container(p->vm, v)) print_to(p->vm, p->b, v);
  else if (sxapi_typeof(v) == SXAPI_TDICT) flat_dict(p, v, depth);
  else if (is_container(p->vm, v)) flat_list(p, v, depth);
  else atom(p, v);
}

/* Columns v takes on one line, or more than limit when it does not fit. */
static size_t flat_columns(const pp *p, sxapi_value v, size_t limit, int depth) {
  repl_buf scratch = REPL_BUF_INIT;
  pp m = {p->vm, &scratch, false, p->max_items, 4 * limit + 8};
  flat(&m, v, depth);
  size_t cols = repl_columns(scratch.data ? scratch.data : "", scratch.len);
  repl_buf_free(&scratch);
  return cols;
}

static void newline_indent(pp *p, int col) {
  repl_buf_putc(p->b, '\n');
  for (int i = 0; i < col; i++) repl_buf_putc(p->b, ' ');
}

static int layout(pp *p, sxapi_value v, int col, int width, int depth, int trail);

static bool all_atoms(sxapi_vm *vm, sxapi_value v) {
  sxapi_iter it;
  sxapi_value x;
  if (sxapi_iter_init(vm, v, &it) != SXAPI_OK) return true;
  while (sxapi_iter_next(&it, NULL, &x))
    if (is_container(vm, x)) return false;
  return true;
}

/* A list of atoms fills lines like a paragraph, wrapping under its first
 * item; trail closing brackets follow it. */
static int fill_list(pp *p, sxapi_value v, int col, int width, int trail) {
  size_t n = list_len(p->vm, v);
  sxapi_iter it;
  sxapi_value x;
  repl_buf_putc(p->b, '(');
  int at = col + 1;
  sxapi_iter_init(p->vm, v, &it);
  for (size_t i = 0; sxapi_iter_next(&it, NULL, &x); i++) {
    if (p->max_items && i == p->max_items) {
      repl_buf_putc(p->b, ' ');
      more(p, n - i);
      at += 20;
      break;
    }
    int w = (int)printed_columns(p->vm, x);
    int need = w + (i + 1 == n ? 1 + trail : 0);
    if (i && at + 1 + need > width) {
      newline_indent(p, col + 1);
      at = col + 1;
    } else if (i) {
      repl_buf_putc(p->b, ' ');
      at++;
    }
    atom(p, x);
    at += w;
  }
  repl_buf_putc(p->b, ')');
  return at + 1;
}

static int layout_list(pp *p, sxapi_value v, int col, int width, int depth, int trail) {
  if (all_atoms(p->vm, v)) return fill_list(p, v, col, width, trail);
  size_t n = list_len(p->vm, v), i = 0;
  sxapi_iter it;
  sxapi_value x;
  repl_buf_putc(p->b, '(');
  int end = col + 1;
  sxapi_iter_init(p->vm, v, &it);
  for (; sxapi_iter_next(&it, NULL, &x); i++) {
    if (i) newline_indent(p, col + 1);
    if (p->max_items && i == p->max_items) {
      more(p, n - i);
      end = col + 1 + 20;
      break;
    }
    int t = i + 1 == n ? trail + 1 : 0;
    end = layout(p, x, col + 1, width, depth + 1, t);
  }
  repl_buf_putc(p->b, ')');
  return end + 1;
}

static bool header_key(const char *name) {
  int r = event_rank(name);
  return r >= 0 && (size_t)r + 1 < NEVENT_KEYS; /* all but :data */
}

/* An event's leading entries with atom values (seq, stream, type, at)
 * share lines, so each event reads as a header line then its data.
 * Returns how many entries it placed; *end is the column after them. */
static size_t event_header(pp *p, const entry *e, size_t n, int col, int width, int *end) {
  size_t i = 0;
  int at = col + 1;
  for (; i < n && header_key(e[i].name) && !is_container(p->vm, e[i].val); i++) {
    int w = (int)(key_columns(p->vm, e[i].key) + 1 + printed_columns(p->vm, e[i].val));
    if (i && at + 1 + w > width) {
      newline_indent(p, col + 1);
      at = col + 1;
    } else if (i) {
      repl_buf_putc(p->b, ' ');
      at++;
    }
    key(p, e[i].key);
    repl_buf_putc(p->b, ' ');
    atom(p, e[i].val);
    at += w;
  }
  *end = at;
  return i;
}

static int layout_dict(pp *p, sxapi_value d, int col, int width, int depth, int trail) {
  entry *e;
  size_t n = dict_entries(p->vm, d, &e);
  repl_buf_putc(p->b, '{');
  int end = col + 1;
  size_t first = repl_is_event(p->vm, d) ? event_header(p, e, n, col, width, &end) : 0;
  for (size_t i = first; i < n; i++) {
    if (i) newline_indent(p, col + 1);
    if (p->max_items && i == p->max_items) {
      more(p, n - i);
      end = col + 1 + 20;
      break;
    }
    key(p, e[i].key);
    repl_buf_putc(p->b, ' ');
    int t = i + 1 == n ? trail + 1 : 0;
    end = layout(p, e[i].val, col + 1 + (int)key_columns(p->vm, e[i].key) + 1, width, depth + 1, t);
  }
  repl_buf_putc(p->b, '}');
  free(e);
  return end + 1;
}

/* Lay v out starting at column col, with trail closing brackets to follow
 * it on its last line; returns the column after it. */
static int layout(pp *p, sxapi_value v, int col, int width, int depth, int trail) {
  size_t room = width > col + trail ? (size_t)(width - col - trail) : 0;
  bool container = is_container(p->vm, v);
  size_t cols = container && depth <= PP_MAX_DEPTH ? flat_columns(p, v, room, depth) : 0;
  if (!container || depth > PP_MAX_DEPTH || cols <= room) {
    size_t start = p->b->len;
    flat(p, v, depth);
    return col + (int)repl_columns(p->b->data + start, p->b->len - start);
  }
  return sxapi_typeof(v) == SXAPI_TDICT ? layout_dict(p, v, col, width, depth, trail)
                                        : layout_list(p, v, col, width, depth, trail);
}

/* The entries gathered while printing live in malloc'd arrays the
 * collector cannot see: v stays pinned (and with it all it holds). */
void repl_pretty(repl_buf *b, sxapi_value v, const repl_pretty_opts *o) {
  pp p = {o->vm, b, o->colour, o->max_items, (size_t)-1};
  bool pinned = sxapi_pin(o->vm, v) == SXAPI_OK;
  if (o->width <= 0) flat(&p, v, 0);
  else layout(&p, v, 0, o->width, 0, 0);
  if (pinned) sxapi_unpin(o->vm, v);
}

void repl_pretty_line(sxapi_vm *vm, repl_buf *b, sxapi_value v, int width) {
  repl_buf line = REPL_BUF_INIT;
  size_t limit = width > 0 ? (size_t)width : 0;
  pp p = {vm, &line, false, 0, 4 * limit + 8};
  bool pinned = sxapi_pin(vm, v) == SXAPI_OK;
  flat(&p, v, 0);
  if (pinned) sxapi_unpin(vm, v);
  if (repl_columns(line.data ? line.data : "", line.len) <= limit) {
    repl_buf_put(b, line.data, line.len);
  } else { /* keep width-3 columns, never splitting a UTF-8 character */
    size_t cols = 0, i = 0, keep = limit > 3 ? limit - 3 : 0;
    for (; i < line.len; i++) {
      if (((unsigned char)line.data[i] & 0xC0) != 0x80 && cols++ == keep) break;
    }
    repl_buf_put(b, line.data, i);
    repl_buf_puts(b, "...");
  }
  repl_buf_free(&line);
}
