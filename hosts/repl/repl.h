/* repl.h — the REPL session shared by its modules: sx_repl.c (options, the
 * loop, evaluation and results), repl_cmds.c (meta-commands), repl_doc.c
 * (:doc, :apropos), repl_page.c (:more), repl_term.c (line editing) and
 * repl_complete.c (completion). */
#ifndef REPL_H
#define REPL_H

#include "repl_input.h"
#include "repl_store.h"

#include <stdio.h>

typedef struct repl_term repl_term;

typedef struct repl {
  sxapi_vm *vm; /* with the store open on it */
  bool read_only;
  bool tty;    /* a person at a terminal: prompts, line editing */
  bool colour; /* ANSI colour on stdout */
  repl_input input;
  repl_term *term; /* line editing (tty only) */
  int failures;    /* forms and commands that failed */
  bool quit;
  const char *store_dir, *sync; /* as given (NULL: the defaults), for :reopen */
  size_t limit;                 /* entries of one list or dict shown on a terminal (0: all) */
  sxapi_value last_error;       /* pinned, for :bt; 0 when none */
  sxapi_value page;             /* pinned: the last result, cut at limit, for :more; 0 when none */
  size_t page_from;             /* its first entry :more has not shown */
} repl;

/* Set by Ctrl-C while the terminal REPL runs (:follow polls it). */
extern volatile int repl_interrupted;

/* sx_repl.c */
/* Evaluate one top-level form: commit on success, roll back on error;
 * Ctrl-C interrupts it. *out is the value or the error. */
sxapi_code repl_eval(repl *r, sxapi_value form, sxapi_value *out);
/* Evaluate each form of an entry in turn, printing each result; stops
 * after an interrupted one. */
void repl_eval_forms(repl *r, sxapi_value forms);
void repl_show_value(repl *r, sxapi_value v);
void repl_show_error(repl *r, sxapi_value err);
/* A plain message to the user (stderr for piped input). */
void repl_say_error(repl *r, const char *msg);
int repl_width(const repl *r); /* columns to lay results out in */
void repl_banner(repl *r);
/* Load a file form by form (each committed as it ends); false on error. */
bool repl_load(repl *r, const char *path);

/* repl_cmds.c: run one meta-command line. */
void repl_run_meta(repl *r, const char *line);

/* repl_doc.c: :doc NAME and :apropos TEXT. */
void repl_cmd_doc(repl *r, const char *name);
void repl_cmd_apropos(repl *r, const char *text);

/* repl_page.c: after a result is shown, remember it if it was cut at the
 * limit (saying so); :more shows its next entries. */
void repl_page_note(repl *r, sxapi_value v);
void repl_page_more(repl *r);

#endif
