/* repl_term.c — libedit line editing for the REPL (see repl_term.h). */
#include "repl_term.h"

#include "repl_complete.h"

#include <histedit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_SIZE 1000
#define PROMPT "sx> "
#define CONTINUATION_PROMPT "... "

struct repl_term {
  repl *r;
  EditLine *el;
  History *hist;
  char *hist_path;
  bool continuation; /* which prompt to show */
  bool cancelled;    /* the line was ended by Ctrl-C */
};

static const char *prompt(EditLine *el) {
  repl_term *t;
  el_get(el, EL_CLIENTDATA, &t);
  return t->continuation ? CONTINUATION_PROMPT : PROMPT;
}

/* Ctrl-C: end the line now and mark it cancelled. */
static unsigned char cancel_line(EditLine *el, int ch) {
  (void)ch;
  repl_term *t;
  el_get(el, EL_CLIENTDATA, &t);
  t->cancelled = true;
  return CC_NEWLINE;
}

/* Tab: complete the word before the cursor. */
static unsigned char complete(EditLine *el, int ch) {
  (void)ch;
  repl_term *t;
  el_get(el, EL_CLIENTDATA, &t);
  const LineInfo *li = el_line(el);
  size_t cursor = (size_t)(li->cursor - li->buffer), start;
  char *line = strndup(li->buffer, (size_t)(li->lastchar - li->buffer));
  repl_comp_kind kind = repl_complete_context(line, cursor, t->continuation, &start);
  bool quoted = start > 0 && line[start - 1] == '"';
  repl_matches m;
  repl_complete_gather(&m, kind, line + start, cursor - start, t->r->vm);
  free(line);
  repl_buf insert = REPL_BUF_INIT, listing = REPL_BUF_INIT;
  repl_complete_apply(&m, kind, cursor - start, quoted, repl_width(t->r), &insert, &listing);
  repl_matches_free(&m);
  unsigned char rc = CC_REFRESH;
  if (insert.len) {
    repl_buf_putc(&insert, '\0');
    el_insertstr(el, insert.data);
  } else if (listing.len) {
    fputc('\n', stdout);
    fwrite(listing.data, 1, listing.len, stdout);
    fflush(stdout);
    rc = CC_REDISPLAY;
  } else {
    rc = CC_REFRESH_BEEP;
  }
  repl_buf_free(&insert);
  repl_buf_free(&listing);
  return rc;
}

static char *history_path(void) {
  const char *env = getenv("SX_HISTORY"), *home = getenv("HOME");
  if (env && *env) return strdup(env);
  if (!home || !*home) return NULL;
  size_t n = strlen(home) + sizeof "/.sx_history";
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/.sx_history", home);
  return p;
}

static void open_history(repl_term *t) {
  HistEvent ev;
  t->hist = history_init();
  history(t->hist, &ev, H_SETSIZE, HISTORY_SIZE);
  history(t->hist, &ev, H_SETUNIQUE, 1);
  t->hist_path = history_path();
  if (t->hist_path) history(t->hist, &ev, H_LOAD, t->hist_path); /* absent: fine */
  el_set(t->el, EL_HIST, history, t->hist);
}

repl_term *repl_term_open(repl *r) {
  repl_term *t = calloc(1, sizeof *t);
  if (!t) abort();
  t->r = r;
  t->el = el_init("sx", stdin, stdout, stderr);
  el_set(t->el, EL_CLIENTDATA, t);
  el_set(t->el, EL_EDITOR, "emacs");
  el_set(t->el, EL_PROMPT, prompt);
  /* Ctrl-C at the prompt is a key, not a signal: it cancels the entry.
   * During an evaluation the terminal is back in its own mode, where
   * Ctrl-C raises SIGINT and interrupts the evaluation. */
  el_set(t->el, EL_SETTY, "-d", "-isig", NULL);
  el_set(t->el, EL_ADDFN, "sx-cancel", "cancel the entry", cancel_line);
  el_set(t->el, EL_BIND, "^C", "sx-cancel", NULL);
  el_set(t->el, EL_ADDFN, "sx-complete", "complete the word", complete);
  el_set(t->el, EL_BIND, "^I", "sx-complete", NULL);
  open_history(t);
  el_source(t->el, NULL); /* the user's ~/.editrc, if any */
  return t;
}

const char *repl_term_read(repl_term *t, bool continuation, size_t *len, bool *cancelled) {
  int n;
  t->continuation = continuation;
  t->cancelled = false;
  const char *line = el_gets(t->el, &n);
  *cancelled = t->cancelled;
  if (t->cancelled) {
    *len = 0;
    return "";
  }
  if (!line || n <= 0) return NULL;
  *len = (size_t)n;
  if (*len && line[*len - 1] == '\n') (*len)--;
  return line;
}

void repl_term_remember(repl_term *t, const char *entry) {
  HistEvent ev;
  while (*entry == ' ') entry++;
  if (!*entry) return;
  history(t->hist, &ev, H_ENTER, entry);
  if (t->hist_path) history(t->hist, &ev, H_SAVE, t->hist_path);
}

void repl_term_close(repl_term *t) {
  if (!t) return;
  el_end(t->el);
  history_end(t->hist);
  free(t->hist_path);
  free(t);
}
