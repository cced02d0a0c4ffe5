/* repl_complete.h — Tab completion for the REPL: deciding what kind of
 * word is before the cursor, collecting the candidates (symbols in scope,
 * meta-commands, stream names, kv keys) and deciding what Tab inserts or
 * lists. The libedit glue is in repl_term.c. */
#ifndef REPL_COMPLETE_H
#define REPL_COMPLETE_H

#include "repl_buf.h"
#include "sx.h"

#include <stdbool.h>

typedef enum repl_comp_kind {
  REPL_COMP_NONE,    /* nothing to complete here (a comment, a blank) */
  REPL_COMP_SYMBOL,  /* a symbol in scope */
  REPL_COMP_COMMAND, /* a meta-command name (the word includes its ':') */
  REPL_COMP_STREAM,  /* a meta-command's stream argument */
  REPL_COMP_KEY,     /* a meta-command's kv key argument */
  REPL_COMP_STRING   /* inside a string literal: stream names and kv keys */
} repl_comp_kind;

/* The kind of word that ends at line[cursor]; *start is where it begins.
 * continuation: the line continues an unfinished form (so a ':' at its
 * start is a keyword, not a meta-command). */
repl_comp_kind repl_complete_context(const char *line, size_t cursor, bool continuation, size_t *start);

typedef struct repl_matches {
  char **items; /* malloc'd strings, sorted, no duplicates after _sort */
  size_t n, cap;
} repl_matches;

void repl_matches_init(repl_matches *m);
/* Add s[0..len) when it starts with prefix[0..plen). */
void repl_matches_add(repl_matches *m, const char *s, size_t len, const char *prefix, size_t plen);
void repl_matches_sort(repl_matches *m); /* sort and drop duplicates */
void repl_matches_free(repl_matches *m);

/* Collect (initialised, sorted) the candidates of kind starting with prefix:
 * symbols from vm's globals, stream names and kv keys from vm's store (none
 * when vm is NULL or has no store). */
void repl_complete_gather(repl_matches *m, repl_comp_kind kind, const char *prefix, size_t plen,
                          sxapi_vm *vm);
/* What Tab does for a word of plen bytes (quoted: it follows a '"'):
 * append the text to insert to *insert — the rest of a single match and
 * what closes it (a blank after a command or argument, the closing quote
 * of a string), or the longest common prefix of several — or, when there
 * is nothing to insert, the matches laid out in columns of width to
 * *listing. */
void repl_complete_apply(const repl_matches *m, repl_comp_kind kind, size_t plen, bool quoted, int width,
                         repl_buf *insert, repl_buf *listing);

#endif
