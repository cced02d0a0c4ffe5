/* repl_pretty.c — the REPL's pretty-printer (see repl_pretty.h). */
#include "repl_pretty.h"

#include "sx_dict.h"
#include "sx_print.h"

#include <string.h>

/* Deeper nesting than this prints with sx_print (iterative, no colour), so
 * a deep value cannot exhaust the C stack. */
#define PP_MAX_DEPTH 200

#define SGR_NUMBER "\033[36m"
#define SGR_STRING "\033[32m"
#define SGR_CONST "\033[33m"
#define SGR_KEY "\033[35m"

typedef struct pp {
  sx_buf *b;
  bool colour;
  size_t max_items;
  size_t stop; /* flat output may stop once b->len passes this (measuring) */
} pp;

static const char *const event_keys[] = {"seq", "stream", "type", "at", "data"};
#define NEVENT_KEYS (sizeof event_keys / sizeof *event_keys)

size_t repl_columns(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

bool repl_is_event(sx_val v) {
  if (!sx_is_dict(v)) return false;
  return sx_is_int(sx_dict_get(v, sx_string_cstr("seq"), SX_NIL)) &&
         sx_is_string(sx_dict_get(v, sx_string_cstr("stream"), SX_NIL)) &&
         sx_dict_has(v, sx_string_cstr("type")) && sx_dict_has(v, sx_string_cstr("data"));
}

static bool is_proper_list(sx_val v) {
  while (sx_is_cons(v)) v = sx_cdr(v);
  return v == SX_EMPTY;
}

static bool is_container(sx_val v) {
  return sx_is_dict(v) || (sx_is_cons(v) && is_proper_list(v));
}

static const char *atom_colour(sx_val v) {
  switch (sx_type_of(v)) {
  case SX_T_INT:
  case SX_T_FLOAT: return SGR_NUMBER;
  case SX_T_STRING: return SGR_STRING;
  case SX_T_NIL:
  case SX_T_BOOL: return SGR_CONST;
  case SX_T_KEYWORD: return SGR_KEY;
  case SX_T_ERROR: return REPL_SGR_ERROR;
  case SX_T_FN:
  case SX_T_PRIM:
  case SX_T_MACRO:
  case SX_T_CONT:
  case SX_T_OTHER: return REPL_SGR_DIM;
  default: return NULL;
  }
}

static void atom(pp *p, sx_val v) {
  const char *c = p->colour ? atom_colour(v) : NULL;
  if (c) sx_buf_puts(p->b, c);
  sx_print(p->b, v);
  if (c) sx_buf_puts(p->b, REPL_SGR_RESET);
}

static void key(pp *p, sx_val k) {
  if (p->colour) sx_buf_puts(p->b, SGR_KEY);
  if (sx_is_plain_identifier(sx_str_data(k), sx_str_len(k))) {
    sx_buf_putc(p->b, ':');
    sx_buf_put(p->b, sx_str_data(k), sx_str_len(k));
  } else {
    sx_print(p->b, k);
  }
  if (p->colour) sx_buf_puts(p->b, REPL_SGR_RESET);
}

static size_t key_columns(sx_val k) {
  if (sx_is_plain_identifier(sx_str_data(k), sx_str_len(k)))
    return 1 + repl_columns(sx_str_data(k), sx_str_len(k));
  sx_val s = sx_print_to_string(k);
  return repl_columns(sx_str_data(s), sx_str_len(s));
}

static void more(pp *p, size_t n) {
  if (p->colour) sx_buf_puts(p->b, REPL_SGR_DIM);
  sx_buf_printf(p->b, "... %zu more", n);
  if (p->colour) sx_buf_puts(p->b, REPL_SGR_RESET);
}

/* A dict's entries in display order: for events the reading order, then
 * the remaining keys in byte order. Returns the count; keys/vals are GC
 * arrays. */
static size_t dict_entries(sx_val d, sx_val **keys, sx_val **vals) {
  size_t n = sx_dict_count(d), i = 0;
  *keys = sx_alloc(n * sizeof **keys + 1);
  *vals = sx_alloc(n * sizeof **vals + 1);
  bool ev = repl_is_event(d);
  if (ev)
    for (size_t j = 0; j < NEVENT_KEYS; j++) {
      sx_val k = sx_string_cstr(event_keys[j]), v = sx_dict_lookup(d, k);
      if (v != SX_UNDEF) (*keys)[i] = k, (*vals)[i++] = v;
    }
  sx_dict_iter it;
  sx_dict_iter_init(&it, d);
  sx_val k, v;
  while (sx_dict_iter_next(&it, &k, &v)) {
    bool seen = false;
    for (size_t j = 0; ev && j < NEVENT_KEYS && !seen; j++)
      seen = strcmp(sx_str_data(k), event_keys[j]) == 0;
    if (!seen) (*keys)[i] = k, (*vals)[i++] = v;
  }
  return i;
}

static bool stopped(const pp *p) { return p->b->len > p->stop; }

static void flat(pp *p, sx_val v, int depth);

static void flat_list(pp *p, sx_val v, int depth) {
  sx_buf_putc(p->b, '(');
  size_t i = 0;
  for (; sx_is_cons(v) && !stopped(p); v = sx_cdr(v), i++) {
    if (i) sx_buf_putc(p->b, ' ');
    if (p->max_items && i == p->max_items) {
      more(p, sx_list_length(v));
      break;
    }
    flat(p, sx_car(v), depth + 1);
  }
  sx_buf_putc(p->b, ')');
}

static void flat_dict(pp *p, sx_val d, int depth) {
  sx_val *keys, *vals;
  size_t n = dict_entries(d, &keys, &vals);
  sx_buf_putc(p->b, '{');
  for (size_t i = 0; i < n && !stopped(p); i++) {
    if (i) sx_buf_putc(p->b, ' ');
    if (p->max_items && i == p->max_items) {
      more(p, n - i);
      break;
    }
    key(p, keys[i]);
    sx_buf_putc(p->b, ' ');
    flat(p, vals[i], depth + 1);
  }
  sx_buf_putc(p->b, '}');
}

static void flat(pp *p, sx_val v, int depth) {
  if (depth > PP_MAX_DEPTH && is_container(v)) sx_print(p->b, v);
  else if (sx_is_dict(v)) flat_dict(p, v, depth);
  else if (sx_is_cons(v) && is_proper_list(v)) flat_list(p, v, depth);
  else atom(p, v);
}

/* Columns v takes on one line, or more than limit when it does not fit. */
static size_t flat_columns(const pp *p, sx_val v, size_t limit, int depth) {
  sx_buf scratch = SX_BUF_INIT;
  pp m = {&scratch, false, p->max_items, 4 * limit + 8};
  flat(&m, v, depth);
  size_t cols = repl_columns(scratch.data, scratch.len);
  sx_buf_free(&scratch);
  return cols;
}

static void newline_indent(pp *p, int col) {
  sx_buf_putc(p->b, '\n');
  for (int i = 0; i < col; i++) sx_buf_putc(p->b, ' ');
}

static int layout(pp *p, sx_val v, int col, int width, int depth, int trail);

static bool all_atoms(sx_val v) {
  for (; sx_is_cons(v); v = sx_cdr(v))
    if (is_container(sx_car(v))) return false;
  return true;
}

/* A list of atoms fills lines like a paragraph, wrapping under its first
 * item; trail closing brackets follow it. */
static int fill_list(pp *p, sx_val v, int col, int width, int trail) {
  sx_buf_putc(p->b, '(');
  int at = col + 1;
  for (size_t i = 0; sx_is_cons(v); v = sx_cdr(v), i++) {
    if (p->max_items && i == p->max_items) {
      sx_buf_putc(p->b, ' ');
      more(p, sx_list_length(v));
      at += 20;
      break;
    }
    sx_val s = sx_print_to_string(sx_car(v));
    int w = (int)repl_columns(sx_str_data(s), sx_str_len(s));
    int need = w + (sx_cdr(v) == SX_EMPTY ? 1 + trail : 0);
    if (i && at + 1 + need > width) {
      newline_indent(p, col + 1);
      at = col + 1;
    } else if (i) {
      sx_buf_putc(p->b, ' ');
      at++;
    }
    atom(p, sx_car(v));
    at += w;
  }
  sx_buf_putc(p->b, ')');
  return at + 1;
}

static int layout_list(pp *p, sx_val v, int col, int width, int depth, int trail) {
  if (all_atoms(v)) return fill_list(p, v, col, width, trail);
  sx_buf_putc(p->b, '(');
  size_t i = 0;
  int end = col + 1;
  for (; sx_is_cons(v); v = sx_cdr(v), i++) {
    if (i) newline_indent(p, col + 1);
    if (p->max_items && i == p->max_items) {
      more(p, sx_list_length(v));
      end = col + 1 + 20;
      break;
    }
    int t = sx_cdr(v) == SX_EMPTY ? trail + 1 : 0;
    end = layout(p, sx_car(v), col + 1, width, depth + 1, t);
  }
  sx_buf_putc(p->b, ')');
  return end + 1;
}

static bool header_key(sx_val k) {
  for (size_t j = 0; j + 1 < NEVENT_KEYS; j++) /* all but :data */
    if (strcmp(sx_str_data(k), event_keys[j]) == 0) return true;
  return false;
}

/* An event's leading entries with atom values (seq, stream, type, at)
 * share lines, so each event reads as a header line then its data.
 * Returns how many entries it placed; *end is the column after them. */
static size_t event_header(pp *p, const sx_val *keys, const sx_val *vals, size_t n, int col,
                           int width, int *end) {
  size_t i = 0;
  int at = col + 1;
  for (; i < n && header_key(keys[i]) && !is_container(vals[i]); i++) {
    sx_val s = sx_print_to_string(vals[i]);
    int w = (int)(key_columns(keys[i]) + 1 + repl_columns(sx_str_data(s), sx_str_len(s)));
    if (i && at + 1 + w > width) {
      newline_indent(p, col + 1);
      at = col + 1;
    } else if (i) {
      sx_buf_putc(p->b, ' ');
      at++;
    }
    key(p, keys[i]);
    sx_buf_putc(p->b, ' ');
    atom(p, vals[i]);
    at += w;
  }
  *end = at;
  return i;
}

static int layout_dict(pp *p, sx_val d, int col, int width, int depth, int trail) {
  sx_val *keys, *vals;
  size_t n = dict_entries(d, &keys, &vals);
  sx_buf_putc(p->b, '{');
  int end = col + 1;
  size_t first = repl_is_event(d) ? event_header(p, keys, vals, n, col, width, &end) : 0;
  for (size_t i = first; i < n; i++) {
    if (i) newline_indent(p, col + 1);
    if (p->max_items && i == p->max_items) {
      more(p, n - i);
      end = col + 1 + 20;
      break;
    }
    key(p, keys[i]);
    sx_buf_putc(p->b, ' ');
    int t = i + 1 == n ? trail + 1 : 0;
    end = layout(p, vals[i], col + 1 + (int)key_columns(keys[i]) + 1, width, depth + 1, t);
  }
  sx_buf_putc(p->b, '}');
  return end + 1;
}

/* Lay v out starting at column col, with trail closing brackets to follow
 * it on its last line; returns the column after it. */
static int layout(pp *p, sx_val v, int col, int width, int depth, int trail) {
  size_t room = width > col + trail ? (size_t)(width - col - trail) : 0;
  size_t cols = is_container(v) && depth <= PP_MAX_DEPTH ? flat_columns(p, v, room, depth) : 0;
  if (!is_container(v) || depth > PP_MAX_DEPTH || cols <= room) {
    size_t start = p->b->len;
    flat(p, v, depth);
    return col + (int)repl_columns(p->b->data + start, p->b->len - start);
  }
  return sx_is_dict(v) ? layout_dict(p, v, col, width, depth, trail)
                       : layout_list(p, v, col, width, depth, trail);
}

void repl_pretty(sx_buf *b, sx_val v, const repl_pretty_opts *o) {
  pp p = {b, o->colour, o->max_items, (size_t)-1};
  if (o->width <= 0) flat(&p, v, 0);
  else layout(&p, v, 0, o->width, 0, 0);
}

void repl_pretty_line(sx_buf *b, sx_val v, int width) {
  sx_buf line = SX_BUF_INIT;
  size_t limit = width > 0 ? (size_t)width : 0;
  pp p = {&line, false, 0, 4 * limit + 8};
  flat(&p, v, 0);
  if (repl_columns(line.data, line.len) <= limit) {
    sx_buf_put(b, line.data, line.len);
  } else { /* keep width-3 columns, never splitting a UTF-8 character */
    size_t cols = 0, i = 0, keep = limit > 3 ? limit - 3 : 0;
    for (; i < line.len; i++) {
      if (((unsigned char)line.data[i] & 0xC0) != 0x80 && cols++ == keep) break;
    }
    sx_buf_put(b, line.data, i);
    sx_buf_puts(b, "...");
  }
  sx_buf_free(&line);
}
