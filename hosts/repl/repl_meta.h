/* repl_meta.h — the REPL's meta-commands (lines starting with ':'): the
 * command table and the parser that turns a line into a command and its
 * arguments. Running the commands is repl_cmds.c's job.
 *
 * Syntax: ":NAME ARG..." where NAME may be abbreviated to any unique prefix
 * (":q" is ":quit"). Arguments are separated by blanks; an argument holding
 * blanks is written in double quotes, with \" and \\ inside. :time and
 * :load take the rest of the line (an expression, a file name).
 */
#ifndef REPL_META_H
#define REPL_META_H

#include "repl_buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum repl_cmd {
  REPL_CMD_HELP,
  REPL_CMD_DOC,
  REPL_CMD_APROPOS,
  REPL_CMD_STREAMS,
  REPL_CMD_TAIL,
  REPL_CMD_SHOW,
  REPL_CMD_KV,
  REPL_CMD_GET,
  REPL_CMD_BLOBS,
  REPL_CMD_STATS,
  REPL_CMD_LOAD,
  REPL_CMD_TIME,
  REPL_CMD_REFRESH,
  REPL_CMD_FOLLOW,
  REPL_CMD_REOPEN,
  REPL_CMD_MORE,
  REPL_CMD_BT,
  REPL_CMD_SET,
  REPL_CMD_QUIT
} repl_cmd;

typedef enum repl_arg_kind {
  REPL_ARG_NONE, /* no argument */
  REPL_ARG_WORD, /* a word or quoted string */
  REPL_ARG_INT,  /* a positive integer */
  REPL_ARG_REST  /* the rest of the line, trimmed */
} repl_arg_kind;

typedef struct repl_cmd_info {
  repl_cmd cmd;
  const char *name;  /* without the ':' */
  const char *usage; /* its arguments, e.g. "STREAM [N]" */
  const char *help;  /* one line */
  repl_arg_kind arg[2];
  int min_args;
} repl_cmd_info;

#define REPL_TAIL_DEFAULT 10

typedef struct repl_meta {
  repl_cmd cmd;
  int argc;
  char *word; /* the word or rest-of-line argument (malloc'd), or NULL */
  int64_t n;  /* the integer argument: :tail N (default 10), :show SEQ */
} repl_meta;

/* The command table, in the order :help lists it. */
const repl_cmd_info *repl_meta_commands(size_t *count);
const repl_cmd_info *repl_meta_info(repl_cmd cmd);

/* The command named name[0..len) (no ':'): exact, or a unique prefix.
 * NULL with a message in *err when unknown (naming the nearest command)
 * or ambiguous (naming the candidates). */
const repl_cmd_info *repl_meta_find(const char *name, size_t len, repl_buf *err);

/* Parse a meta-command line (leading blanks, then ':'). Returns 0 and
 * fills *m (free with repl_meta_free), or -1 with a one-line message in
 * *err — for an unknown command it names the nearest one. */
int repl_meta_parse(const char *line, repl_meta *m, repl_buf *err);
void repl_meta_free(repl_meta *m);

/* The name of the command nearest to name by edit distance, or NULL when
 * none is close enough to be a likely typo. */
const char *repl_meta_nearest(const char *name, size_t len);

#endif
