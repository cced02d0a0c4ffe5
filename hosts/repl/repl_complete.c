/* repl_complete.c — Tab completion for the REPL (see repl_complete.h). */
#include "repl_complete.h"

#include "repl_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 200 /* matches listed at most */

/* Special forms complete like symbols (the analyser knows them by name). */
static const char *const special_forms[] = {
    "and",   "begin",  "case",   "cond",    "define",           "defmacro", "do", "fn",      "guard",
    "if",    "lambda", "let",    "let*",    "letrec",           "letrec*",  "or", "perform", "quasiquote",
    "quote", "set!",   "unless", "unquote", "unquote-splicing", "when",
};

static bool symbol_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 ||
         (c && strchr("/?!-+*<>=&._%", c));
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* The meta-command a line names (unique prefix allowed), or -1. */
static int meta_named(const char *name, size_t len) {
  size_t n;
  const repl_cmd_info *cmds = repl_meta_commands(&n);
  int found = -1, matches = 0;
  for (size_t i = 0; i < n; i++) {
    if (strlen(cmds[i].name) == len && memcmp(cmds[i].name, name, len) == 0) return (int)cmds[i].cmd;
    if (strncmp(cmds[i].name, name, len) == 0) found = (int)cmds[i].cmd, matches++;
  }
  return matches == 1 ? found : -1;
}

static repl_comp_kind meta_context(const char *line, size_t cursor, size_t *start) {
  size_t colon = 0;
  while (blank(line[colon])) colon++;
  size_t end = colon;
  while (end < cursor && line[end] && !blank(line[end])) end++;
  *start = colon;
  if (cursor <= end) return REPL_COMP_COMMAND;
  /* only the first argument completes */
  size_t arg = end;
  while (arg < cursor && blank(line[arg])) arg++;
  for (size_t i = arg; i < cursor; i++)
    if (blank(line[i]) && line[arg] != '"') return REPL_COMP_NONE;
  *start = arg + (line[arg] == '"' && arg < cursor);
  int cmd = meta_named(line + colon + 1, end - colon - 1);
  if (cmd == REPL_CMD_TAIL || cmd == REPL_CMD_SHOW) return REPL_COMP_STREAM;
  if (cmd == REPL_CMD_KV || cmd == REPL_CMD_GET) return REPL_COMP_KEY;
  if (cmd == REPL_CMD_DOC) return REPL_COMP_SYMBOL;
  return REPL_COMP_NONE;
}

repl_comp_kind repl_complete_context(const char *line, size_t cursor, bool continuation, size_t *start) {
  size_t i = 0;
  while (blank(line[i])) i++;
  if (!continuation && line[i] == ':') return meta_context(line, cursor, start);
  bool in_string = false;
  size_t quote = 0;
  for (i = 0; i < cursor; i++) {
    if (in_string && line[i] == '\\' && i + 1 < cursor) i++;
    else if (line[i] == '"') in_string = !in_string, quote = i;
    else if (!in_string && line[i] == ';') return REPL_COMP_NONE;
  }
  if (in_string) {
    *start = quote + 1;
    return REPL_COMP_STRING;
  }
  size_t s = cursor;
  while (s > 0 && symbol_char((unsigned char)line[s - 1])) s--;
  *start = s;
  if (s == cursor || (s > 0 && line[s - 1] == ':')) return REPL_COMP_NONE; /* blank, keyword */
  return REPL_COMP_SYMBOL;
}

void repl_matches_init(repl_matches *m) { memset(m, 0, sizeof *m); }

void repl_matches_add(repl_matches *m, const char *s, size_t len, const char *prefix, size_t plen) {
  if (len < plen || (plen && memcmp(s, prefix, plen) != 0)) return;
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 32;
    m->items = realloc(m->items, m->cap * sizeof *m->items);
    if (!m->items) abort();
  }
  m->items[m->n++] = strndup(s, len);
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void repl_matches_sort(repl_matches *m) {
  if (!m->n) return;
  qsort(m->items, m->n, sizeof *m->items, str_cmp);
  size_t j = 1;
  for (size_t i = 1; i < m->n; i++) {
    if (strcmp(m->items[i], m->items[j - 1]) == 0) free(m->items[i]);
    else m->items[j++] = m->items[i];
  }
  m->n = j;
}

void repl_matches_free(repl_matches *m) {
  for (size_t i = 0; i < m->n; i++) free(m->items[i]);
  free(m->items);
  repl_matches_init(m);
}

/* Add the strings of a list (of names) starting with prefix. */
static void add_strings(repl_matches *m, sxapi_vm *vm, sxapi_value list, const char *prefix, size_t plen) {
  sxapi_iter it;
  sxapi_value v;
  const char *s;
  size_t len;
  if (sxapi_iter_init(vm, list, &it) != SXAPI_OK) return;
  while (sxapi_iter_next(&it, NULL, &v))
    if (sxapi_to_string(vm, v, &s, &len) == SXAPI_OK) repl_matches_add(m, s, len, prefix, plen);
}

/* Every bound global and every special form. */
static void add_symbols(repl_matches *m, sxapi_vm *vm, const char *prefix, size_t plen) {
  sxapi_value names;
  if (sxapi_globals(vm, &names) == SXAPI_OK) add_strings(m, vm, names, prefix, plen);
  for (size_t i = 0; i < sizeof special_forms / sizeof *special_forms; i++)
    repl_matches_add(m, special_forms[i], strlen(special_forms[i]), prefix, plen);
}

static void add_commands(repl_matches *m, const char *prefix, size_t plen) {
  size_t n;
  const repl_cmd_info *cmds = repl_meta_commands(&n);
  for (size_t i = 0; i < n; i++) {
    char name[32];
    int len = snprintf(name, sizeof name, ":%s", cmds[i].name);
    repl_matches_add(m, name, (size_t)len, prefix, plen);
  }
}

void repl_complete_gather(repl_matches *m, repl_comp_kind kind, const char *prefix, size_t plen,
                          sxapi_vm *vm) {
  sxapi_value list;
  repl_matches_init(m);
  if (kind == REPL_COMP_SYMBOL && vm) add_symbols(m, vm, prefix, plen);
  if (kind == REPL_COMP_COMMAND) add_commands(m, prefix, plen);
  bool store = vm && sxapi_store_dir(vm) != NULL;
  if ((kind == REPL_COMP_STREAM || kind == REPL_COMP_STRING) && store &&
      sxapi_store_streams(vm, &list) == SXAPI_OK)
    add_strings(m, vm, list, prefix, plen);
  if ((kind == REPL_COMP_KEY || kind == REPL_COMP_STRING) && store &&
      sxapi_store_kv_keys(vm, &list) == SXAPI_OK)
    add_strings(m, vm, list, prefix, plen);
  repl_matches_sort(m);
}

static size_t common_prefix(const repl_matches *m) {
  size_t n = strlen(m->items[0]);
  for (size_t i = 1; i < m->n; i++) {
    size_t j = 0;
    while (j < n && m->items[i][j] == m->items[0][j]) j++;
    n = j;
  }
  return n;
}

static void list_columns(const repl_matches *m, int width, repl_buf *out) {
  size_t shown = m->n < LIST_MAX ? m->n : LIST_MAX, colw = 1;
  for (size_t i = 0; i < shown; i++)
    if (strlen(m->items[i]) + 2 > colw) colw = strlen(m->items[i]) + 2;
  size_t cols = width > 0 && (size_t)width > colw ? (size_t)width / colw : 1;
  size_t rows = (shown + cols - 1) / cols;
  for (size_t r = 0; r < rows; r++) {
    for (size_t c = 0; c < cols && c * rows + r < shown; c++) {
      const char *s = m->items[c * rows + r];
      bool last = c + 1 == cols || (c + 1) * rows + r >= shown;
      if (last) repl_buf_puts(out, s);
      else repl_buf_printf(out, "%-*s", (int)colw, s);
    }
    repl_buf_putc(out, '\n');
  }
  if (shown < m->n) repl_buf_printf(out, "... %zu more\n", m->n - shown);
}

void repl_complete_apply(const repl_matches *m, repl_comp_kind kind, size_t plen, bool quoted, int width,
                         repl_buf *insert, repl_buf *listing) {
  if (m->n == 0) return;
  if (m->n == 1) {
    repl_buf_puts(insert, m->items[0] + plen);
    if (quoted) repl_buf_putc(insert, '"');
    if (kind == REPL_COMP_COMMAND || kind == REPL_COMP_STREAM || kind == REPL_COMP_KEY)
      repl_buf_putc(insert, ' ');
    return;
  }
  size_t common = common_prefix(m);
  if (common > plen) repl_buf_put(insert, m->items[0] + plen, common - plen);
  else list_columns(m, width, listing);
}
