/* repl_meta.c — the meta-command table and parser (see repl_meta.h). */
#include "repl_meta.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const repl_cmd_info commands[] = {
    {REPL_CMD_HELP,
     "help",
     "[COMMAND]",
     "list the commands, or explain one",
     {REPL_ARG_WORD, REPL_ARG_NONE},
     0},
    {REPL_CMD_DOC,
     "doc",
     "NAME",
     "the signature and description of a function or special form",
     {REPL_ARG_WORD, REPL_ARG_NONE},
     1},
    {REPL_CMD_APROPOS,
     "apropos",
     "TEXT",
     "the names containing TEXT, with their descriptions",
     {REPL_ARG_WORD, REPL_ARG_NONE},
     1},
    {REPL_CMD_STREAMS,
     "streams",
     "",
     "table of streams: stored events, last seq, first stored seq",
     {REPL_ARG_NONE, REPL_ARG_NONE},
     0},
    {REPL_CMD_TAIL,
     "tail",
     "STREAM [N]",
     "the last N events of a stream (default 10)",
     {REPL_ARG_WORD, REPL_ARG_INT},
     1},
    {REPL_CMD_SHOW, "show", "STREAM SEQ", "one event in full", {REPL_ARG_WORD, REPL_ARG_INT}, 2},
    {REPL_CMD_KV,
     "kv",
     "[PREFIX]",
     "kv keys (starting with PREFIX) and their values",
     {REPL_ARG_WORD, REPL_ARG_NONE},
     0},
    {REPL_CMD_GET, "get", "KEY", "one kv value in full", {REPL_ARG_WORD, REPL_ARG_NONE}, 1},
    {REPL_CMD_BLOBS, "blobs", "", "the blobs in the store: id and size", {REPL_ARG_NONE, REPL_ARG_NONE}, 0},
    {REPL_CMD_STATS, "stats", "", "store size, counts and sync mode", {REPL_ARG_NONE, REPL_ARG_NONE}, 0},
    {REPL_CMD_LOAD, "load", "FILE", "evaluate every form of a file", {REPL_ARG_REST, REPL_ARG_NONE}, 1},
    {REPL_CMD_TIME,
     "time",
     "EXPR",
     "evaluate EXPR and say how long it took",
     {REPL_ARG_REST, REPL_ARG_NONE},
     1},
    {REPL_CMD_REFRESH,
     "refresh",
     "",
     "read-only: pick up what the writer committed since",
     {REPL_ARG_NONE, REPL_ARG_NONE},
     0},
    {REPL_CMD_FOLLOW,
     "follow",
     "STREAM",
     "print the stream's new events as they are committed (Ctrl-C stops)",
     {REPL_ARG_WORD, REPL_ARG_NONE},
     1},
    {REPL_CMD_REOPEN,
     "reopen",
     "",
     "close and reopen the store (after a compaction)",
     {REPL_ARG_NONE, REPL_ARG_NONE},
     0},
    {REPL_CMD_MORE,
     "more",
     "",
     "the next entries of the last result cut at the limit",
     {REPL_ARG_NONE, REPL_ARG_NONE},
     0},
    {REPL_CMD_BT, "bt", "", "the backtrace of the last error", {REPL_ARG_NONE, REPL_ARG_NONE}, 0},
    {REPL_CMD_SET,
     "set",
     "limit N",
     "show at most N entries of a list or dict on a terminal",
     {REPL_ARG_WORD, REPL_ARG_INT},
     2},
    {REPL_CMD_QUIT, "quit", "", "leave the REPL (also Ctrl-D)", {REPL_ARG_NONE, REPL_ARG_NONE}, 0},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

const repl_cmd_info *repl_meta_commands(size_t *count) {
  *count = NCOMMANDS;
  return commands;
}

const repl_cmd_info *repl_meta_info(repl_cmd cmd) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (commands[i].cmd == cmd) return &commands[i];
  return NULL;
}

/* Levenshtein distance between a[0..la) and b[0..lb), both short. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb) {
  size_t row[64];
  if (lb >= sizeof row / sizeof *row) return (size_t)-1;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (tolower((unsigned char)a[i - 1]) != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *repl_meta_nearest(const char *name, size_t len) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < NCOMMANDS; i++) {
    const char *c = commands[i].name;
    size_t d = edit_distance(name, len, c, strlen(c));
    if (d < best_d) best_d = d, best = c;
  }
  /* a typo is at most two edits, and fewer than the name has characters */
  return best_d <= 2 && best_d < len ? best : NULL;
}

const repl_cmd_info *repl_meta_find(const char *name, size_t len, repl_buf *err) {
  const repl_cmd_info *found = NULL;
  int matches = 0;
  for (size_t i = 0; i < NCOMMANDS; i++) {
    const char *c = commands[i].name;
    if (strlen(c) == len && memcmp(c, name, len) == 0) return &commands[i];
    if (strncmp(c, name, len) == 0) found = &commands[i], matches++;
  }
  if (matches == 1) return found;
  if (matches > 1) {
    repl_buf_printf(err, ":%.*s is ambiguous:", (int)len, name);
    for (size_t i = 0; i < NCOMMANDS; i++)
      if (strncmp(commands[i].name, name, len) == 0) repl_buf_printf(err, " :%s", commands[i].name);
    return NULL;
  }
  const char *near = repl_meta_nearest(name, len);
  repl_buf_printf(err, "unknown command :%.*s", (int)len, name);
  if (near) repl_buf_printf(err, " (did you mean :%s?)", near);
  else repl_buf_puts(err, " (:help lists the commands)");
  return NULL;
}

static const char *skip_blanks(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* One argument at *pp: a quoted string or a run of non-blanks. Returns a
 * malloc'd copy and advances *pp, or NULL with a message. */
static char *take_word(const char **pp, repl_buf *err) {
  const char *p = *pp;
  repl_buf w = REPL_BUF_INIT;
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++) {
      if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
      repl_buf_putc(&w, *p);
    }
    if (*p != '"') {
      repl_buf_free(&w);
      repl_buf_puts(err, "unterminated quoted argument");
      return NULL;
    }
    p++;
  } else {
    while (*p && *p != ' ' && *p != '\t') repl_buf_putc(&w, *p++);
  }
  repl_buf_putc(&w, '\0');
  *pp = p;
  return w.data;
}

/* The rest of the line with blanks at both ends removed (malloc'd). */
static char *take_rest(const char **pp) {
  const char *p = skip_blanks(*pp), *end = p + strlen(p);
  while (end > p && isspace((unsigned char)end[-1])) end--;
  *pp = p + strlen(p);
  return strndup(p, (size_t)(end - p));
}

static bool parse_positive(const char *s, int64_t *out) {
  if (!isdigit((unsigned char)*s)) return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < 1) return false;
  *out = v;
  return true;
}

static int usage_error(const repl_cmd_info *c, repl_buf *err) {
  repl_buf_printf(err, "usage: :%s%s%s", c->name, *c->usage ? " " : "", c->usage);
  return -1;
}

/* Parse the arguments of c from p into m. */
static int parse_args(const repl_cmd_info *c, const char *p, repl_meta *m, repl_buf *err) {
  for (int i = 0; i < 2 && c->arg[i] != REPL_ARG_NONE; i++) {
    p = skip_blanks(p);
    if (!*p) break;
    if (c->arg[i] == REPL_ARG_REST) {
      m->word = take_rest(&p);
      if (*m->word == '"' && strlen(m->word) > 1 && m->word[strlen(m->word) - 1] == '"') {
        const char *q = m->word;
        char *unquoted = take_word(&q, err);
        if (!unquoted) return -1;
        free(m->word);
        m->word = unquoted;
      }
      m->argc++;
      continue;
    }
    char *w = take_word(&p, err);
    if (!w) return -1;
    m->argc++;
    if (c->arg[i] == REPL_ARG_INT) {
      bool ok = parse_positive(w, &m->n);
      if (!ok)
        repl_buf_printf(err, ":%s: %s must be a positive integer, got '%s'", c->name,
                        c->cmd == REPL_CMD_SHOW ? "SEQ" : "N", w);
      free(w);
      if (!ok) return -1;
    } else {
      m->word = w; /* every command has at most one word argument */
    }
  }
  if (*skip_blanks(p)) {
    repl_buf_printf(err, ":%s: unexpected '%s'; ", c->name, skip_blanks(p));
    return usage_error(c, err);
  }
  return m->argc < c->min_args ? usage_error(c, err) : 0;
}

int repl_meta_parse(const char *line, repl_meta *m, repl_buf *err) {
  memset(m, 0, sizeof *m);
  m->n = REPL_TAIL_DEFAULT;
  const char *p = skip_blanks(line);
  if (*p != ':') {
    repl_buf_puts(err, "a meta-command starts with ':'");
    return -1;
  }
  const char *name = ++p;
  while (*p && !isspace((unsigned char)*p)) p++;
  if (p == name) {
    repl_buf_puts(err, "expected a command name after ':' (:help lists the commands)");
    return -1;
  }
  const repl_cmd_info *c = repl_meta_find(name, (size_t)(p - name), err);
  if (!c) return -1;
  m->cmd = c->cmd;
  if (parse_args(c, p, m, err) != 0) {
    repl_meta_free(m);
    return -1;
  }
  return 0;
}

void repl_meta_free(repl_meta *m) {
  free(m->word);
  m->word = NULL;
}
