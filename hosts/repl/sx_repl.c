/* sx_repl.c — the interactive REPL: options, the session (persist loaded,
 * `db` and `blobs` bound to the store), the read-eval-print loop for a
 * terminal and for piped input, evaluation with Ctrl-C, and results.
 *
 * On a terminal: a banner, prompts, line editing and history (repl_term.c),
 * multi-line entries (repl_input.c), pretty results (repl_pretty.c),
 * meta-commands (repl_cmds.c). Ctrl-C at the prompt drops the entry; during
 * an evaluation it interrupts it (the kernel raises "interrupted" at its
 * next step) and, the evaluation having failed, its writes are rolled back.
 * Piped (stdin or stdout not a terminal): no banner, prompts, colour or
 * editing; one result line per form on stdout, errors on stderr, exit
 * status 1 if anything failed.
 */
#include "sx_repl.h"

#include "repl.h"
#include "repl_meta.h"
#include "repl_pretty.h"
#include "repl_term.h"
#include "sx_print.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The persist sources, in dependency order. */
static const char *const persist_files[] = {
  "lib/persist/event.sx", "lib/persist/backend.sx", "lib/persist/log.sx",
  "lib/persist/kv.sx", "lib/persist/project.sx", "lib/persist/concurrency.sx",
  "lib/persist/snapshot.sx", "lib/persist/compaction.sx", "lib/persist/durable.sx",
  "lib/persist/blob.sx", "lib/persist/view.sx", "lib/persist/catalog.sx",
  "lib/persist/query.sx", "lib/persist/batch.sx", "lib/persist/upcast.sx",
  "lib/persist/idempotency.sx", "lib/persist/global.sx", "lib/persist/subscribe.sx",
  "lib/persist/api.sx",
};
static const char bind_backends[] =
  "(define db (persist/durable-backend)) (define blobs (persist/blob-store-backend))";

#define TTY_MAX_ITEMS 100 /* entries of one list or dict shown on a terminal */

static sx_vm *volatile interrupt_vm;

static void on_sigint(int sig) {
  (void)sig;
  if (interrupt_vm) interrupt_vm->interrupt = 1;
}

static void usage(FILE *to) {
  fputs("usage: sx repl [-I DIR]... [--store DIR] [--sync MODE] [--read-only] [FILE...]\n"
        "\n"
        "  Explore a store interactively: persist is loaded, `db` is the store's\n"
        "  durable backend and `blobs` its blob store. FILEs are loaded first.\n"
        "  Type :help at the prompt for the meta-commands.\n"
        "\n"
        "  --store DIR    the store (also: SX_STORE; default ./.sx-store)\n"
        "  --sync MODE    full (default), batch or off (also: SX_SYNC)\n"
        "  --read-only    inspect a store another process owns; :refresh catches up\n",
        to);
}

/* Parse the arguments after `repl`; files are left in argv[*nfiles...]. */
static int parse_args(sx_vm *vm, int argc, char **argv, sx_host_opts *o, bool *read_only,
                      char ***files, int *nfiles) {
  int i = 0;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--read-only") == 0) *read_only = true;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return usage(stdout), 0;
    else if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (!sx_host_parse_opt(vm, argc, argv, &i, o)) {
      if (argv[i][0] != '-') break;
      fprintf(stderr, "sx repl: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  *files = argv + i;
  *nfiles = argc - i;
  return -1;
}

/* ---- output ------------------------------------------------------------ */

int repl_width(const repl *r) {
  struct winsize ws;
  if (r->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char *c = getenv("COLUMNS");
  int n = c ? atoi(c) : 0;
  return n > 0 ? n : 80;
}

static void out_buf(sx_buf *b) {
  fwrite(b->data, 1, b->len, stdout);
  fflush(stdout);
  sx_buf_free(b);
}

void repl_show_value(repl *r, sx_val v) {
  sx_buf b = SX_BUF_INIT;
  if (r->tty) {
    repl_pretty_opts o = {repl_width(r), r->colour, TTY_MAX_ITEMS};
    repl_pretty(&b, v, &o);
  } else {
    sx_print(&b, v);
  }
  sx_buf_putc(&b, '\n');
  out_buf(&b);
}

void repl_say_error(repl *r, const char *msg) {
  r->failures++;
  FILE *to = r->tty ? stdout : stderr;
  fflush(stdout);
  if (r->colour && r->tty) fprintf(to, REPL_SGR_ERROR "%s" REPL_SGR_RESET "\n", msg);
  else fprintf(to, "%s\n", msg);
  fflush(to);
}

void repl_show_error(repl *r, sx_val err) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_puts(&b, "error: ");
  sx_host_format_error(&b, err);
  sx_buf_putc(&b, '\0');
  repl_say_error(r, b.data);
  sx_buf_free(&b);
}

static void plural(sx_buf *b, size_t n, const char *what) {
  sx_buf_printf(b, "%zu %s%s", n, what, n == 1 ? "" : "s");
}

void repl_banner(repl *r) {
  store_stats s;
  store_get_stats(r->st, &s);
  sx_buf b = SX_BUF_INIT;
  sx_buf_printf(&b, "sx %s, store %s%s: ", SX_VERSION, store_dir(r->st), r->read_only ? " (read-only)" : "");
  plural(&b, s.streams, "stream");
  sx_buf_puts(&b, ", ");
  plural(&b, s.events, "event");
  sx_buf_puts(&b, " (db, blobs bound; :help for commands)\n");
  out_buf(&b);
}

/* ---- evaluation ---------------------------------------------------------- */

static bool is_interrupt(sx_val err) {
  sx_val msg = sx_error_message(err);
  return sx_is_string(msg) && strcmp(sx_str_data(msg), "interrupted") == 0;
}

sx_status repl_eval(repl *r, sx_val form, sx_val *out) {
  r->vm->interrupt = 0;
  sx_status st = sx_eval_form(r->vm, form, out);
  sx_val problem = sx_toplevel_end(r->vm, st);
  r->vm->interrupt = 0;
  if (problem != SX_NIL) {
    st = SX_ERROR;
    *out = problem;
  }
  return st;
}

void repl_eval_forms(repl *r, sx_val forms) {
  for (; sx_is_cons(forms); forms = sx_cdr(forms)) {
    sx_val v;
    if (repl_eval(r, sx_car(forms), &v) == SX_DONE) {
      repl_show_value(r, v);
      continue;
    }
    if (is_interrupt(v)) {
      if (r->tty) fputc('\n', stdout); /* after the terminal's ^C */
      repl_say_error(r, r->read_only ? "interrupted" : "interrupted; nothing it wrote was committed");
      return;
    }
    repl_show_error(r, v);
  }
}

/* ---- the loop -------------------------------------------------------------- */

static bool is_meta_line(const char *line) {
  while (*line == ' ' || *line == '\t') line++;
  return *line == ':';
}

/* One line of input. entry collects the lines of a multi-line entry for
 * the history. */
static void handle_line(repl *r, const char *line, size_t len, sx_buf *entry) {
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  if (!repl_input_pending(&r->input) && is_meta_line(line)) {
    char *copy = strndup(line, len);
    repl_input_skip_line(&r->input);
    if (r->term) repl_term_remember(r->term, copy);
    repl_run_meta(r, copy);
    free(copy);
    return;
  }
  if (entry->len) sx_buf_putc(entry, ' ');
  sx_buf_put(entry, line, len);
  sx_val out;
  repl_input_state st = repl_input_line(&r->input, line, len, &out);
  if (st == REPL_INPUT_MORE) return;
  if (r->term && st != REPL_INPUT_EMPTY) repl_term_remember(r->term, entry->data);
  sx_buf_reset(entry);
  if (st == REPL_INPUT_READY) repl_eval_forms(r, out);
  else if (st == REPL_INPUT_ERROR) repl_show_error(r, out);
}

static void run_terminal(repl *r) {
  sx_buf entry = SX_BUF_INIT;
  while (!r->quit) {
    bool cancelled = false;
    size_t len;
    const char *line = repl_term_read(r->term, repl_input_pending(&r->input), &len, &cancelled);
    if (!line) {
      fputc('\n', stdout); /* Ctrl-D */
      break;
    }
    if (cancelled) { /* Ctrl-C at the prompt: drop the entry */
      fputs("^C\n", stdout);
      repl_input_reset(&r->input);
      sx_buf_reset(&entry);
      continue;
    }
    handle_line(r, line, len, &entry);
  }
  sx_buf_free(&entry);
}

static void run_piped(repl *r) {
  sx_buf entry = SX_BUF_INIT;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while (!r->quit && (n = getline(&line, &cap, stdin)) >= 0) handle_line(r, line, (size_t)n, &entry);
  free(line);
  sx_buf_free(&entry);
  sx_val out;
  if (!r->quit && repl_input_finish(&r->input, &out) == REPL_INPUT_ERROR) repl_show_error(r, out);
}

/* ---- setup ------------------------------------------------------------------ */

static bool load_persist(repl *r) {
  sx_val v;
  for (size_t i = 0; i < sizeof persist_files / sizeof *persist_files; i++)
    if (sx_load_file(r->vm, persist_files[i], false, &v) != SX_DONE) {
      repl_show_error(r, v);
      return false;
    }
  sx_status st = sx_eval_string(r->vm, bind_backends, strlen(bind_backends), sx_string_cstr("<repl>"), &v);
  if (st != SX_DONE) repl_show_error(r, v);
  return st == SX_DONE;
}

bool repl_load(repl *r, const char *path) {
  sx_val v;
  r->vm->interrupt = 0;
  sx_status st = sx_load_file(r->vm, path, true, &v);
  r->vm->interrupt = 0;
  if (st == SX_DONE) return true;
  if (is_interrupt(v)) repl_say_error(r, "interrupted (the form it was running was not committed)");
  else repl_show_error(r, v);
  return false;
}

static void catch_interrupts(sx_vm *vm) {
  interrupt_vm = vm;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESTART; /* a store write in progress is never cut short */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

static bool colour_wanted(void) {
  const char *no = getenv("NO_COLOR");
  return isatty(STDOUT_FILENO) && !(no && *no);
}

int sx_repl_main(sx_vm *vm, int argc, char **argv, const sx_host_opts *pre) {
  sx_host_opts o = *pre;
  bool read_only = false;
  char **files;
  int nfiles, rc = parse_args(vm, argc, argv, &o, &read_only, &files, &nfiles);
  if (rc >= 0) return rc;
  repl r = {.vm = vm, .read_only = read_only};
  r.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  r.colour = r.tty && colour_wanted();
  repl_input_init(&r.input, r.tty ? "<repl>" : "<stdin>", !r.tty);
  sx_buf err = SX_BUF_INIT;
  r.persist = repl_store_attach(vm, &o, read_only, &r.st, &err);
  if (!r.persist) {
    fprintf(stderr, "sx repl: %.*s%s\n", (int)err.len, err.data,
            strstr(err.data ? err.data : "", "locked") ? " (--read-only inspects it without writing)" : "");
    sx_buf_free(&err);
    return 1;
  }
  if (!load_persist(&r)) return 1;
  for (int i = 0; i < nfiles; i++) /* on a terminal, carry on to the prompt */
    if (!repl_load(&r, files[i]) && !r.tty) return 1;
  if (r.tty) {
    catch_interrupts(vm);
    r.term = repl_term_open(&r);
    repl_banner(&r);
    run_terminal(&r);
    repl_term_close(r.term);
  } else {
    run_piped(&r);
  }
  repl_input_free(&r.input);
  sx_val cerr = SX_NIL;
  if (sx_persist_close(r.persist, &cerr) != 0) {
    repl_show_error(&r, cerr);
    return 1;
  }
  return !r.tty && r.failures ? 1 : 0;
}
