/* repl_input.h — the REPL's multi-line reader: lines accumulate into one
 * entry until the entry reads as complete forms.
 *
 * After each line the entry so far is read with the SX reader. If it ends
 * inside a form (an open bracket, an unterminated string, a quote with
 * nothing after it) the entry continues on the next line; if every form is
 * complete they are handed back to be evaluated; any other syntax error is
 * reported and the entry is dropped. Positions in forms and errors count
 * lines from the entry's first line, or — with continuous line numbers, as
 * for a piped script — from the first line ever given.
 */
#ifndef REPL_INPUT_H
#define REPL_INPUT_H

#include "repl_buf.h"
#include "sx.h"

typedef enum repl_input_state {
  REPL_INPUT_EMPTY, /* nothing but blanks and comments: nothing to do */
  REPL_INPUT_MORE,  /* the entry ends inside a form: ask for another line */
  REPL_INPUT_READY, /* *out is the list of forms of the entry */
  REPL_INPUT_ERROR  /* *out is the reader's error value */
} repl_input_state;

typedef struct repl_input {
  sxapi_vm *vm;        /* reads with it */
  repl_buf text;       /* the entry so far, lines joined by '\n' */
  char *file;          /* names the source in positions ("<repl>") */
  uint32_t first_line; /* line number of the entry's first line */
  uint32_t next_line;  /* line number the next line will get */
  bool continuous;     /* keep counting lines across entries */
} repl_input;

void repl_input_init(repl_input *in, sxapi_vm *vm, const char *file, bool continuous);
void repl_input_free(repl_input *in);
/* Add one line (its newline removed or not). After READY, ERROR and EMPTY
 * the next line starts a new entry. */
repl_input_state repl_input_line(repl_input *in, const char *line, size_t len, sxapi_value *out);
/* A line of the input went elsewhere (a meta-command): count it. */
void repl_input_skip_line(repl_input *in);
/* Is an entry in progress (so a continuation prompt is due)? */
bool repl_input_pending(const repl_input *in);
/* Drop the entry in progress (Ctrl-C at a continuation prompt). */
void repl_input_reset(repl_input *in);
/* The input has ended: an entry in progress is an error (*out = message). */
repl_input_state repl_input_finish(repl_input *in, sxapi_value *out);

#endif
