/* sx_server.c — the sx_server line protocol on a pair of streams (stdin and
 * stdout, or one client's connection: sx_listen.c), built on include/sx.h
 * only.
 *
 * Commands, one per line: (epoch N), (load "path"), (eval "source").
 * Responses: (ok N value), or (ok-len N BYTES) followed by a line of exactly
 * BYTES bytes, or (error N "message"). Every malformed command gets exactly
 * one error response and the server goes on to the next line; nothing but
 * responses is ever written to stdout (print/display go to stderr). EOF on
 * stdin ends the server with status 0. Answers to requests that arrived
 * together may be held and written together (response_done).
 *
 * Bridge mode (--bridge): a perform that no in-process resolver owns is
 * forwarded to the parent process as a request line, (perform N request) or
 * (perform-len N BYTES) plus a line of BYTES bytes, and the evaluation waits
 * for the parent's response line, (resume N value) or (resume-error N
 * "message"). The shapes are specified in docs/bridge.md.
 */
#include "sx_host.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OK_LEN_THRESHOLD 4096
#define IN_CHUNK 65536    /* bytes asked of one read(2) */
#define HOLD_NS 1000000LL /* a held response waits at most this long between evaluations */
#define HOLD_MAX 16       /* and at most this many responses are held */

/* Input read from the descriptor into a buffer of our own, so the server
 * knows what has arrived: every read(2) that returns bytes is followed by
 * sxapi_note_input (every request then evaluated was in by that note, which
 * lets a PostgreSQL store answer from what it learnt after it: sx.h), and
 * a response may be held while the next request is already here. */
typedef struct srv_in {
  int fd;
  char *buf;
  size_t start, end, cap; /* unread bytes: buf[start, end) */
} srv_in;

typedef struct server {
  sxapi_vm *vm;
  srv_in in;
  FILE *out;
  long long epoch;
  char epoch_text[24]; /* epoch in decimal, for the responses */
  bool bridge;         /* forward unowned performs to the parent */
  bool eof;            /* stdin ended (possibly while waiting for a response) */
  char *line;          /* the line read last, NUL-terminated */
  size_t cap;
  char *resp;          /* a response put together (respond_line) */
  size_t resp_cap;
  long long held_since; /* a response is written but not flushed since then (0: none) */
  int held;             /* responses written but not flushed */
} server;

/* ---- values and text ------------------------------------------------------- */

/* The bytes of a string value (empty for anything else). */
static const char *bytes_of(server *s, sxapi_value str, size_t *len) {
  const char *b = "";
  *len = 0;
  sxapi_to_string(s->vm, str, &b, len);
  return b;
}

/* An error value whose message is formatted like printf. */
static sxapi_value errorf(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sxapi_value errorf(server *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  int n = vasprintf(&msg, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  sxapi_value e = sxapi_error(s->vm, msg);
  free(msg);
  return e;
}

/* "message (at file:line:col)" for any raised value. */
static sxapi_value error_text(server *s, sxapi_value err) {
  sxapi_value text = sxapi_nil();
  sxapi_error_text(s->vm, err, false, &text);
  return text;
}

/* ---- responses ---------------------------------------------------------------- */

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Is a whole request line already waiting in the input? */
static bool in_has_line(const srv_in *in) {
  return memchr(in->buf + in->start, '\n', in->end - in->start) != NULL;
}

static void flush_out(server *s) {
  fflush(s->out);
  s->held_since = 0;
  s->held = 0;
}

/* A response is written: send it now, unless the next request is already
 * here (then it goes with the next ones; read_line sends everything held
 * before it would wait for input, server_command before an evaluation once
 * a response has been held for HOLD_NS, and HOLD_MAX responses go at once).
 * So a response waits only for requests already queued behind it. */
static void response_done(server *s) {
  if (!in_has_line(&s->in) || ++s->held >= HOLD_MAX) flush_out(s);
  else if (!s->held_since) s->held_since = now_ns();
}

/* (TAG N value), or (TAG-len N BYTES) and the value on a line of its own
 * when it is long or holds a newline. TAG is ok for results, perform for
 * bridge requests. */
static void set_epoch(server *s, long long n) {
  s->epoch = n;
  snprintf(s->epoch_text, sizeof s->epoch_text, "%lld", n);
}

/* "(TAG EPOCH TEXT)" and a newline, put together first and written with
 * one call (every stdio call locks the stream). */
static void respond_line(server *s, const char *tag, const char *text, size_t len) {
  size_t tl = strlen(tag), el = strlen(s->epoch_text), n = tl + el + len + 5;
  if (n > s->resp_cap) {
    s->resp_cap = 2 * n;
    if (!(s->resp = realloc(s->resp, s->resp_cap))) abort();
  }
  char *p = s->resp;
  *p++ = '(';
  memcpy(p, tag, tl), p += tl, *p++ = ' ';
  memcpy(p, s->epoch_text, el), p += el, *p++ = ' ';
  memcpy(p, text, len), p += len;
  *p++ = ')', *p++ = '\n';
  fwrite(s->resp, 1, (size_t)(p - s->resp), s->out);
}

static void respond_value(server *s, const char *tag, sxapi_value v) {
  sxapi_value printed = sxapi_nil();
  sxapi_print(s->vm, v, &printed);
  size_t len;
  const char *text = bytes_of(s, printed, &len);
  if (len > OK_LEN_THRESHOLD || memchr(text, '\n', len)) {
    fprintf(s->out, "(%s-len %lld %zu)\n", tag, s->epoch, len);
    fwrite(text, 1, len, s->out);
    fputc('\n', s->out);
  } else {
    respond_line(s, tag, text, len);
  }
  if (strcmp(tag, "perform") == 0) flush_out(s); /* the parent must see it to answer */
  else response_done(s);
}

/* (error N "message") for a message string value. */
static void respond_error_msg(server *s, sxapi_value msg) {
  sxapi_value printed = sxapi_nil();
  sxapi_print(s->vm, msg, &printed);
  size_t len;
  const char *text = bytes_of(s, printed, &len);
  respond_line(s, "error", text, len);
  response_done(s);
}

static void respond_error(server *s, const char *msg) { respond_error_msg(s, sxapi_cstring(s->vm, msg)); }

/* The response to an evaluation that ended with code rc and value v. */
static void respond_result(server *s, sxapi_code rc, sxapi_value v) {
  if (rc == SXAPI_OK) respond_value(s, "ok", v);
  else respond_error_msg(s, error_text(s, v));
}

/* ---- bridge mode ------------------------------------------------------------ */

/* Copy n bytes into s->line, NUL-terminated. */
static void take_line(server *s, const char *p, size_t n) {
  if (n + 1 > s->cap) {
    s->cap = n + 1 > 2 * s->cap ? n + 1 : 2 * s->cap;
    if (!(s->line = realloc(s->line, s->cap))) abort();
  }
  memcpy(s->line, p, n);
  s->line[n] = '\0';
}

/* Read more input after what is buffered: bytes read (then noted), 0 at
 * EOF, -1 on an error or a stop request. Sends what is held first. */
static ssize_t in_fill(server *s) {
  srv_in *in = &s->in;
  flush_out(s); /* about to wait: nothing may stay unsent */
  if (in->start > 0) {
    memmove(in->buf, in->buf + in->start, in->end - in->start);
    in->end -= in->start, in->start = 0;
  }
  if (in->cap - in->end < IN_CHUNK) {
    in->cap = in->end + IN_CHUNK;
    if (!(in->buf = realloc(in->buf, in->cap))) abort();
  }
  for (;;) {
    if (sx_server_stop_requested()) return -1;
    ssize_t n = read(in->fd, in->buf + in->end, in->cap - in->end);
    if (n > 0) in->end += (size_t)n, sxapi_note_input(s->vm);
    if (n >= 0 || errno != EINTR) return n;
  }
}

/* The next line from the buffer (the last one before EOF may lack its newline); false at
 * EOF, on an error, or when a stop was requested while waiting. */
static bool in_next_line(server *s, size_t *len) {
  srv_in *in = &s->in;
  for (;;) {
    char *p = in->buf + in->start, *nl = memchr(p, '\n', in->end - in->start);
    if (nl) {
      take_line(s, p, (size_t)(nl - p));
      in->start += (size_t)(nl - p) + 1;
      *len = (size_t)(nl - p);
      return true;
    }
    ssize_t got = in_fill(s);
    if (got > 0) continue;
    if (got < 0 || in->end == in->start) return false; /* a stop or an error: a partial line is no request */
    take_line(s, in->buf + in->start,
              in->end - in->start); /* the last line, without a newline (in_fill moved the buffer) */
    *len = in->end - in->start;
    in->start = in->end;
    return true;
  }
}

/* Read the next line of input into s->line without its line end; false at
 * EOF (or when a stop was requested while waiting). */
static bool read_line(server *s, size_t *len) {
  if (!in_next_line(s, len)) {
    s->eof = true;
    return false;
  }
  while (*len && (s->line[*len - 1] == '\n' || s->line[*len - 1] == '\r')) (*len)--;
  return true;
}

#define RESPONSE_SHAPES "(resume N value) or (resume-error N \"message\")"

/* The one form of a line read as name: its list items (up to 3) in items
 * and their count, or false with *v an error value when it does not read. */
static bool read_response(server *s, const char *line, size_t len, sxapi_value items[3], size_t *n,
                          sxapi_value *v) {
  sxapi_value forms, r = sxapi_nil();
  if (sxapi_read(s->vm, line, len, "<response>", &forms) != SXAPI_OK) {
    sxapi_error_info info;
    sxapi_error_info_of(s->vm, forms, &info);
    *v = errorf(s, "bridge: unreadable response: %s", info.message);
    return false;
  }
  size_t nforms = 0, nitems = 0;
  sxapi_list_length(s->vm, forms, &nforms);
  if (nforms == 1) sxapi_list_get(s->vm, forms, 0, &r);
  if (sxapi_typeof(r) == SXAPI_TLIST) sxapi_list_length(s->vm, r, &nitems);
  *n = nforms == 1 ? nitems : 0;
  for (size_t i = 0; i < 3 && i < *n; i++) sxapi_list_get(s->vm, r, i, &items[i]);
  return true;
}

/* Parse a response line. Returns true with *raise false and *v the value
 * to resume with, or true with *raise true and *v the error to raise;
 * false with *v an error value when the line is not a valid response. */
static bool parse_response(server *s, const char *line, size_t len, sxapi_value *v, bool *raise) {
  sxapi_value items[3];
  size_t n = 0;
  if (!read_response(s, line, len, items, &n, v)) return false;
  bool shaped = n == 3 && sxapi_typeof(items[0]) == SXAPI_TSYMBOL && sxapi_typeof(items[1]) == SXAPI_TINT;
  const char *head = "";
  if (shaped) sxapi_to_name(s->vm, items[0], &head);
  *raise = strcmp(head, "resume-error") == 0;
  if (!*raise && strcmp(head, "resume") != 0) {
    *v = errorf(s, "bridge: malformed response: expected " RESPONSE_SHAPES);
    return false;
  }
  int64_t epoch = 0;
  sxapi_to_int(s->vm, items[1], &epoch);
  if (epoch != s->epoch) {
    *v = errorf(s, "bridge: the response's epoch %lld does not match the request's epoch %lld",
                (long long)epoch, s->epoch);
    return false;
  }
  if (*raise && sxapi_typeof(items[2]) != SXAPI_TSTRING) {
    *v = errorf(s, "bridge: resume-error: expected a message string");
    return false;
  }
  *v = items[2]; /* a string given to sxapi_resume_error becomes the error's message */
  return true;
}

/* Forward the task's request to the parent and resume it with the
 * parent's answer (or with an error saying why there is none). */
static sxapi_code bridge_resume(server *s, sxapi_task *t) {
  respond_value(s, "perform", sxapi_task_request(t));
  size_t len = 0;
  while (read_line(s, &len) && len == 0) continue; /* blank lines are not responses */
  if (s->eof)
    return sxapi_resume_error(t,
                              errorf(s, "bridge: stdin closed while waiting for the response to a perform"));
  sxapi_value v;
  bool raise;
  if (!parse_response(s, s->line, len, &v, &raise) || raise) return sxapi_resume_error(t, v);
  return sxapi_resume(t, v);
}

/* ---- running ---------------------------------------------------------------------- */

/* Run forms as one top-level evaluation (its store writes commit or roll
 * back when it ends); *out the value or the error. */
static sxapi_code run_forms(server *s, sxapi_value forms, const char *name, sxapi_value *out) {
  if (!s->bridge) return sxapi_eval_forms(s->vm, forms, name, out);
  sxapi_task *t = NULL;
  sxapi_code rc = sxapi_begin_forms(s->vm, forms, name, &t);
  while (rc == SXAPI_SUSPENDED) rc = bridge_resume(s, t);
  *out = t ? sxapi_task_result(t) : sxapi_error(s->vm, sxapi_errmsg());
  sxapi_task_free(t);
  return rc;
}

/* (load "path") or (eval "source"): read, then run. */
static sxapi_code run_command(server *s, bool is_load, sxapi_value arg, sxapi_value *out) {
  size_t len;
  const char *text = bytes_of(s, arg, &len);
  sxapi_value forms;
  sxapi_code rc =
      is_load ? sxapi_read_file(s->vm, text, &forms) : sxapi_read(s->vm, text, len, "<eval>", &forms);
  if (rc != SXAPI_OK) {
    *out = forms;
    return rc;
  }
  return run_forms(s, forms, is_load ? text : "<eval>", out);
}

/* ---- commands ------------------------------------------------------------------- */

#define COMMAND_SHAPES "(epoch N), (load \"path\"), (eval \"source\")"

/* The command of a line: false after responding when the line does not
 * read or is not one list headed by a symbol; *cmd nil for a blank line. */
static bool command_of(server *s, const char *line, size_t len, sxapi_value *cmd) {
  sxapi_value forms;
  *cmd = sxapi_nil();
  if (sxapi_read(s->vm, line, len, "<command>", &forms) != SXAPI_OK) {
    respond_error_msg(s, error_text(s, forms));
    return false;
  }
  size_t nforms = 0, nitems = 0;
  sxapi_list_length(s->vm, forms, &nforms);
  if (nforms == 0) return true; /* blank or comment-only line */
  sxapi_list_get(s->vm, forms, 0, cmd);
  if (sxapi_typeof(*cmd) == SXAPI_TLIST) sxapi_list_length(s->vm, *cmd, &nitems);
  sxapi_value head = sxapi_nil();
  if (nitems) sxapi_list_get(s->vm, *cmd, 0, &head);
  if (nforms != 1 || sxapi_typeof(head) != SXAPI_TSYMBOL) {
    respond_error(s, "malformed command: expected one of " COMMAND_SHAPES);
    return false;
  }
  return true;
}

/* (epoch N): set the epoch later responses carry. */
static void epoch_command(server *s, bool one_arg, sxapi_value arg) {
  int64_t n;
  if (!one_arg || sxapi_typeof(arg) != SXAPI_TINT || sxapi_to_int(s->vm, arg, &n) != SXAPI_OK)
    respond_error(s, "epoch: expected (epoch N) with an integer N");
  else set_epoch(s, n);
}

/* (load "path") and (eval "source"): exactly one response. */
static void run_command_line(server *s, bool is_load, bool one_arg, sxapi_value arg) {
  if (!one_arg || sxapi_typeof(arg) != SXAPI_TSTRING) {
    respond_error(s, is_load ? "load: expected (load \"path\") with a string path"
                             : "eval: expected (eval \"source\") with a string");
    return;
  }
  sxapi_value v;
  sxapi_code rc = run_command(s, is_load, arg, &v);
  respond_result(s, rc, v);
}

/* The source of a line that is exactly (eval "...") with one string
 * literal, the shape clients send, read without building the command's
 * list (about 7% of the work of a small request). False for any other
 * line, and for one whose literal does not read: command_of reads those
 * and gives their errors. */
static bool plain_eval(server *s, const char *line, size_t len, sxapi_value *src) {
  static const char head[] = "(eval \"";
  size_t h = sizeof head - 1, i = h;
  if (len < h + 2 || memcmp(line, head, h) != 0 || line[len - 1] != ')') return false;
  while (i < len && line[i] != '"') i += line[i] == '\\' ? 2 : 1; /* the literal's closing quote */
  if (i != len - 2) return false;                                 /* must stand just before the ')' */
  sxapi_value forms;
  size_t n = 0;
  if (sxapi_read(s->vm, line + h - 1, len - h, "<command>", &forms) != SXAPI_OK ||
      sxapi_list_length(s->vm, forms, &n) != SXAPI_OK || n != 1)
    return false;
  return sxapi_list_get(s->vm, forms, 0, src) == SXAPI_OK && sxapi_typeof(*src) == SXAPI_TSTRING;
}

/* About to evaluate: a response held since long before goes first. */
static void before_evaluation(server *s) {
  if (s->held_since && now_ns() - s->held_since > HOLD_NS) flush_out(s); /* an evaluation may take long */
}

/* One command line: returns after writing zero (epoch) or one response. */
static void server_command(server *s, const char *line, size_t len) {
  sxapi_value cmd, head, arg = sxapi_nil();
  if (plain_eval(s, line, len, &arg)) {
    before_evaluation(s);
    run_command_line(s, false, true, arg);
    return;
  }
  if (!command_of(s, line, len, &cmd) || sxapi_typeof(cmd) != SXAPI_TLIST) return;
  size_t nitems = 0;
  sxapi_list_length(s->vm, cmd, &nitems);
  sxapi_list_get(s->vm, cmd, 0, &head);
  if (nitems > 1) sxapi_list_get(s->vm, cmd, 1, &arg);
  bool one_arg = nitems == 2;
  const char *name = "";
  sxapi_to_name(s->vm, head, &name);
  if (strcmp(name, "epoch") == 0) {
    epoch_command(s, one_arg, arg);
    return;
  }
  bool is_load = strcmp(name, "load") == 0, is_eval = strcmp(name, "eval") == 0;
  if (!is_load && !is_eval) {
    char *msg = NULL;
    if (asprintf(&msg, "unknown command %s: expected epoch, load or eval", name) < 0) abort();
    respond_error(s, msg);
    free(msg);
    return;
  }
  before_evaluation(s);
  run_command_line(s, is_load, one_arg, arg);
}

/* ---- stopping ----------------------------------------------------------------------- */

static atomic_int stop_requested; /* lock-free: safe in a handler and across threads */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
  (void)sig;
  atomic_store(&stop_requested, 1);
  if (stop_pipe[1] >= 0) {
    ssize_t w = write(stop_pipe[1], "x", 1);
    (void)w;
  }
}

bool sx_server_stop_requested(void) { return atomic_load(&stop_requested) != 0; }
int sx_server_stop_fd(void) { return stop_pipe[0]; }

/* SIGTERM and SIGINT request a stop: a read waiting for the next command
 * returns (no SA_RESTART), the command in progress finishes and answers. */
void sx_server_signals(void) {
  if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) stop_pipe[0] = stop_pipe[1] = -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a client that went away is an EPIPE, not a death */
}

/* ---- serving ------------------------------------------------------------------------ */

typedef struct gone_check {
  bool (*fn)(void *);
  void *ud;
} gone_check;

static bool commit_allowed(sxapi_vm *vm, void *ud) {
  (void)vm;
  gone_check *g = ud;
  return !g->fn(g->ud);
}

int sx_server_serve(sxapi_vm *vm, FILE *in, FILE *out, bool bridge, bool (*gone)(void *), void *ud) {
  server s = {.vm = vm, .in = {.fd = fileno(in), .cap = IN_CHUNK}, .out = out, .bridge = bridge};
  set_epoch(&s, 0);
  if (!(s.in.buf = malloc(IN_CHUNK))) abort(); /* never NULL: no arithmetic on a null pointer */
  gone_check g = {gone, ud};
  sxapi_set_output(vm, stderr);
  if (gone) sxapi_set_commit_check(vm, commit_allowed, &g);
  size_t len;
  /* server_command reads the line into SX values before running anything,
   * so a bridged perform may reuse the line buffer for its response */
  while (!s.eof && read_line(&s, &len)) server_command(&s, s.line, len);
  if (gone) sxapi_set_commit_check(vm, NULL, NULL);
  flush_out(&s);
  free(s.in.buf);
  free(s.line);
  free(s.resp);
  return 0;
}

int sx_server_run(sxapi_vm *vm, bool bridge) {
  sx_server_signals();
  return sx_server_serve(vm, stdin, stdout, bridge, NULL, NULL);
}

int sx_server_cli(sxapi_vm *vm, sx_host_opts *o, int argc, char **argv) {
  bool bridge = false;
  const char *listen = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--bridge") == 0) bridge = true;
    else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) listen = argv[++i];
    else if (strncmp(argv[i], "--listen=", 9) == 0) listen = argv[i] + 9;
    else if (!sx_host_parse_opt(vm, argc, argv, &i, o)) {
      fprintf(
          stderr,
          "sx server: unknown option '%s' (expected --bridge, --listen PATH, -I DIR, --store DIR, --sync MODE)\n",
          argv[i]);
      return 2;
    }
  }
  if (listen && bridge) {
    fputs("sx server: --bridge and --listen cannot be combined\n", stderr);
    return 2;
  }
  if (listen) return sx_listen_run(o, listen);
  if (!sx_host_attach_store(vm, o)) return 2;
  return sx_server_run(vm, bridge);
}
