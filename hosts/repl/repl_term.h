/* repl_term.h — line editing for the REPL on a terminal, with libedit:
 * emacs key bindings, history kept across sessions, Tab completion, and
 * Ctrl-C at the prompt cancelling the entry instead of raising a signal. */
#ifndef REPL_TERM_H
#define REPL_TERM_H

#include "repl.h"

/* History lives in $SX_HISTORY, else ~/.sx_history (none if neither can be
 * named). */
repl_term *repl_term_open(repl *r);
void repl_term_close(repl_term *t);
/* Read one line (without its newline) after the prompt, or the
 * continuation prompt. NULL at end of input (Ctrl-D). *cancelled is set
 * when the line was ended by Ctrl-C. */
const char *repl_term_read(repl_term *t, bool continuation, size_t *len, bool *cancelled);
/* Add an entry to the history and save the history file. */
void repl_term_remember(repl_term *t, const char *entry);

#endif
