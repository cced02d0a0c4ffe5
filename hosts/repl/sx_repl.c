/* sx_repl.c — the interactive REPL: options, the session (persist loaded,
 * `db` and `blobs` bound to the store), the read-eval-print loop for a
 * terminal and for piped input, evaluation with Ctrl-C, and results.
 *
 * On a terminal: a banner, prompts, line editing and history (repl_term.c),
 * multi-line entries (repl_input.c), pretty results (repl_pretty.c),
 * meta-commands (repl_cmds.c). Ctrl-C at the prompt drops the entry; during
 * an evaluation it interrupts it (sxapi_interrupt: "interrupted" is raised
 * at its next step) and, the evaluation having failed, its writes are
 * rolled back. Built on the public API (sx.h) only.
 * Piped (stdin or stdout not a terminal): no banner, prompts, colour or
 * editing; one result line per form on stdout, errors on stderr, exit
 * status 1 if anything failed.
 */
#include "sx_repl.h"
#include "sx_host.h"

#include "repl.h"
#include "repl_meta.h"
#include "repl_pretty.h"
#include "repl_term.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TTY_MAX_ITEMS 100 /* entries of one list or dict shown on a terminal */

static sxapi_vm *volatile interrupt_vm;

volatile int repl_interrupted;

static void on_sigint(int sig) {
  (void)sig;
  repl_interrupted = 1;
  if (interrupt_vm) sxapi_interrupt(interrupt_vm);
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

/* Parse the arguments after `repl`; files are left in argv[*nfiles...].
 * sx takes the global options (-I, --store, --sync) and -h out of its
 * arguments wherever they are, so they never come here. */
static int parse_args(int argc, char **argv, bool *read_only, char ***files, int *nfiles) {
  int i = 0;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--read-only") == 0) *read_only = true;
    else if (strcmp(argv[i], "--help") == 0) return usage(stdout), 0;
    else if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else {
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

static void out_buf(repl_buf *b) {
  fwrite(b->data, 1, b->len, stdout);
  fflush(stdout);
  repl_buf_free(b);
}

void repl_show_value(repl *r, sxapi_value v) {
  repl_buf b = REPL_BUF_INIT;
  repl_pretty_opts o = {r->vm, r->tty ? repl_width(r) : 0, r->colour, r->tty ? r->limit : 0};
  if (r->tty) {
    repl_pretty(&b, v, &o);
  } else {
    sxapi_value text;
    const char *s;
    size_t len;
    if (sxapi_print(r->vm, v, &text) == SXAPI_OK && sxapi_to_string(r->vm, text, &s, &len) == SXAPI_OK)
      repl_buf_put(&b, s, len);
  }
  repl_buf_putc(&b, '\n');
  out_buf(&b);
  repl_page_note(r, v);
}

void repl_say_error(repl *r, const char *msg) {
  r->failures++;
  FILE *to = r->tty ? stdout : stderr;
  fflush(stdout);
  if (r->colour && r->tty) fprintf(to, REPL_SGR_ERROR "%s" REPL_SGR_RESET "\n", msg);
  else fprintf(to, "%s\n", msg);
  fflush(to);
}

/* "error: message (at file:line:col)", without the backtrace; the
 * position is left out when the message already starts with it. */
void repl_show_error(repl *r, sxapi_value err) {
  repl_buf b = REPL_BUF_INIT;
  if (r->last_error) sxapi_unpin(r->vm, r->last_error);
  r->last_error = sxapi_pin(r->vm, err) == SXAPI_OK ? err : 0;
  sxapi_error_info e;
  repl_buf_puts(&b, "error: ");
  if (sxapi_error_info_of(r->vm, err, &e) != SXAPI_OK) e = (sxapi_error_info){.message = "?"};
  repl_buf_puts(&b, e.message);
  if (e.where && strncmp(e.message, e.where, strlen(e.where)) != 0) repl_buf_printf(&b, " (at %s)", e.where);
  repl_say_error(r, b.data);
  repl_buf_free(&b);
}

static void plural(repl_buf *b, size_t n, const char *what) {
  repl_buf_printf(b, "%zu %s%s", n, what, n == 1 ? "" : "s");
}

void repl_banner(repl *r) {
  sxapi_store_stats s = {0};
  sxapi_store_stats_of(r->vm, &s);
  repl_buf b = REPL_BUF_INIT;
  repl_buf_printf(&b, "sx %s, store %s%s: ", sxapi_version(), sxapi_store_label(r->vm),
                  r->read_only ? " (read-only)" : "");
  plural(&b, s.streams, "stream");
  repl_buf_puts(&b, ", ");
  plural(&b, s.events, "event");
  repl_buf_puts(&b, " (db, blobs bound; :help for commands)\n");
  out_buf(&b);
}

/* ---- evaluation ---------------------------------------------------------- */

static bool is_interrupt(repl *r, sxapi_value err) {
  sxapi_error_info e;
  return sxapi_error_info_of(r->vm, err, &e) == SXAPI_OK && strcmp(e.message, "interrupted") == 0;
}

sxapi_code repl_eval(repl *r, sxapi_value form, sxapi_value *out) {
  return sxapi_eval_form(r->vm, form, out);
}

void repl_eval_forms(repl *r, sxapi_value forms) {
  sxapi_iter it;
  sxapi_value form, v;
  if (sxapi_iter_init(r->vm, forms, &it) != SXAPI_OK) return;
  while (sxapi_iter_next(&it, NULL, &form)) {
    if (repl_eval(r, form, &v) == SXAPI_OK) {
      repl_show_value(r, v);
      continue;
    }
    if (is_interrupt(r, v)) {
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
static void handle_line(repl *r, const char *line, size_t len, repl_buf *entry) {
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  if (!repl_input_pending(&r->input) && is_meta_line(line)) {
    char *copy = strndup(line, len);
    repl_input_skip_line(&r->input);
    if (r->term) repl_term_remember(r->term, copy);
    repl_run_meta(r, copy);
    free(copy);
    return;
  }
  if (entry->len) repl_buf_putc(entry, ' ');
  repl_buf_put(entry, line, len);
  sxapi_value out;
  repl_input_state st = repl_input_line(&r->input, line, len, &out);
  if (st == REPL_INPUT_MORE) return;
  if (r->term && st != REPL_INPUT_EMPTY) repl_term_remember(r->term, entry->data);
  repl_buf_reset(entry);
  if (st == REPL_INPUT_READY) repl_eval_forms(r, out);
  else if (st == REPL_INPUT_ERROR) repl_show_error(r, out);
}

static void run_terminal(repl *r) {
  repl_buf entry = REPL_BUF_INIT;
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
      repl_buf_reset(&entry);
      continue;
    }
    handle_line(r, line, len, &entry);
  }
  repl_buf_free(&entry);
}

static void run_piped(repl *r) {
  repl_buf entry = REPL_BUF_INIT;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while (!r->quit && (n = getline(&line, &cap, stdin)) >= 0) handle_line(r, line, (size_t)n, &entry);
  free(line);
  repl_buf_free(&entry);
  sxapi_value out;
  if (!r->quit && repl_input_finish(&r->input, &out) == REPL_INPUT_ERROR) repl_show_error(r, out);
}

/* ---- setup ------------------------------------------------------------------ */

static bool load_persist(repl *r) {
  sxapi_value v;
  if (sx_host_load_persist(r->vm, &v)) return true;
  repl_show_error(r, v);
  return false;
}

bool repl_load(repl *r, const char *path) {
  sxapi_value v;
  if (sxapi_load_each(r->vm, path, &v) == SXAPI_OK) return true;
  if (is_interrupt(r, v)) repl_say_error(r, "interrupted (the form it was running was not committed)");
  else repl_show_error(r, v);
  return false;
}

static void catch_interrupts(sxapi_vm *vm) {
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

/* Close the store (flushing it); false when that failed. */
static bool close_store(repl *r) {
  if (sxapi_store_close(r->vm) == SXAPI_OK) return true;
  repl_buf b = REPL_BUF_INIT;
  repl_buf_printf(&b, "error: %s", repl_api_message());
  repl_say_error(r, b.data);
  repl_buf_free(&b);
  return false;
}

/* Open the store, else say why on stderr. */
static bool open_store(repl *r, const char *store_dir, const char *sync) {
  repl_buf err = REPL_BUF_INIT;
  bool ok = repl_store_open(r->vm, store_dir, sync, r->read_only, &err);
  if (!ok)
    fprintf(stderr, "sx repl: %s%s\n", err.data ? err.data : "",
            strstr(err.data ? err.data : "", "locked") ? " (--read-only inspects it without writing)" : "");
  repl_buf_free(&err);
  return ok;
}

static void run(repl *r) {
  if (r->tty) {
    catch_interrupts(r->vm);
    r->term = repl_term_open(r);
    repl_banner(r);
    run_terminal(r);
    repl_term_close(r->term);
    interrupt_vm = NULL;
  } else {
    run_piped(r);
  }
}

int sx_repl_main(sxapi_vm *vm, int argc, char **argv, const char *store_dir, const char *sync) {
  bool read_only = false;
  char **files;
  int nfiles, rc = parse_args(argc, argv, &read_only, &files, &nfiles);
  if (rc >= 0) return rc;
  repl r = {.vm = vm, .read_only = read_only, .store_dir = store_dir, .sync = sync, .limit = TTY_MAX_ITEMS};
  r.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  r.colour = r.tty && colour_wanted();
  if (!open_store(&r, store_dir, sync)) return 1;
  repl_input_init(&r.input, vm, r.tty ? "<repl>" : "<stdin>", !r.tty);
  bool ok = load_persist(&r);
  for (int i = 0; ok && i < nfiles; i++) /* on a terminal, carry on to the prompt */
    ok = repl_load(&r, files[i]) || r.tty;
  if (ok) run(&r);
  repl_input_free(&r.input);
  if (r.page) sxapi_unpin(vm, r.page);
  if (!close_store(&r) || !ok) return 1;
  return !r.tty && r.failures ? 1 : 0;
}
