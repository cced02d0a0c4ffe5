/* sx_server.c — the sx_server line protocol on stdin/stdout.
 *
 * Commands, one per line: (epoch N), (load "path"), (eval "source").
 * Responses: (ok N value), or (ok-len N BYTES) followed by a line of exactly
 * BYTES bytes, or (error N "message"). Every malformed command gets exactly
 * one error response and the server goes on to the next line; nothing but
 * responses is ever written to stdout (print/display go to stderr). EOF on
 * stdin ends the server with status 0.
 *
 * Bridge mode (--bridge): a perform that no in-process resolver owns is
 * forwarded to the parent process as a request line, (perform N request) or
 * (perform-len N BYTES) plus a line of BYTES bytes, and the evaluation waits
 * for the parent's response line, (resume N value) or (resume-error N
 * "message"). The shapes are specified in docs/bridge.md.
 */
#include "sx_host.h"
#include "sx_print.h"
#include "sx_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_LEN_THRESHOLD 4096

typedef struct server {
  sx_vm *vm;
  long long epoch;
  sx_buf out;
  bool bridge;  /* forward unowned performs to the parent */
  bool eof;     /* stdin ended (possibly while waiting for a response) */
  char *line;   /* getline buffer */
  size_t cap;
} server;

static void respond_raw(server *s) {
  fwrite(s->out.data, 1, s->out.len, stdout);
  fflush(stdout);
  sx_buf_reset(&s->out);
}

/* (TAG N value), or (TAG-len N BYTES) and the value on a line of its own
 * when it is long or holds a newline. TAG is ok for results, perform for
 * bridge requests. */
static void respond_value(server *s, const char *tag, sx_val v) {
  sx_buf val = SX_BUF_INIT;
  sx_print(&val, v);
  if (val.len > OK_LEN_THRESHOLD || memchr(val.data, '\n', val.len)) {
    sx_buf_printf(&s->out, "(%s-len %lld %zu)\n", tag, s->epoch, val.len);
    sx_buf_put(&s->out, val.data, val.len);
    sx_buf_putc(&s->out, '\n');
  } else {
    sx_buf_printf(&s->out, "(%s %lld ", tag, s->epoch);
    sx_buf_put(&s->out, val.data, val.len);
    sx_buf_puts(&s->out, ")\n");
  }
  sx_buf_free(&val);
  respond_raw(s);
}

static void respond_ok(server *s, sx_val v) { respond_value(s, "ok", v); }

static void respond_error_msg(server *s, sx_val msg) {
  sx_buf_printf(&s->out, "(error %lld ", s->epoch);
  sx_print(&s->out, msg);
  sx_buf_puts(&s->out, ")\n");
  respond_raw(s);
}

static void respond_error(server *s, const char *msg) { respond_error_msg(s, sx_string_cstr(msg)); }

void sx_host_format_error(sx_buf *b, sx_val err) {
  sx_val msg = sx_error_message(err);
  sx_buf_put(b, sx_str_data(msg), sx_str_len(msg));
  if (sx_is(err, SX_T_ERROR)) {
    sx_val where = ((sx_error *)err)->where;
    if (sx_is_string(where) && strncmp(sx_str_data(msg), sx_str_data(where), sx_str_len(where)) != 0)
      sx_buf_printf(b, " (at %s)", sx_str_data(where));
  }
}

static void respond_status(server *s, sx_status st, sx_val v) {
  if (st == SX_DONE) {
    respond_ok(s, v);
    return;
  }
  sx_buf b = SX_BUF_INIT;
  sx_host_format_error(&b, v);
  respond_error_msg(s, sx_string_new(b.data, b.len));
  sx_buf_free(&b);
}

/* ---- bridge mode ------------------------------------------------------------ */

/* Read the next line of stdin into s->line without its line end; false at
 * EOF. */
static bool read_line(server *s, size_t *len) {
  ssize_t n = getline(&s->line, &s->cap, stdin);
  if (n < 0) {
    s->eof = true;
    return false;
  }
  *len = (size_t)n;
  while (*len && (s->line[*len - 1] == '\n' || s->line[*len - 1] == '\r')) (*len)--;
  return true;
}

#define RESPONSE_SHAPES "(resume N value) or (resume-error N \"message\")"

/* Parse a response line. Returns true with *raise false and *v the value
 * to resume with, or true with *raise true and *v the error to raise;
 * false with *v an error value when the line is not a valid response. */
static bool parse_response(server *s, const char *line, size_t len, sx_val *v, bool *raise) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(line, len, sx_string_cstr("<response>"), &err);
  if (forms == SX_UNDEF) {
    *v = sx_make_error("bridge: unreadable response: %s", sx_str_data(err));
    return false;
  }
  sx_val r = sx_is_cons(forms) ? sx_car(forms) : SX_NIL;
  sx_val items[3];
  size_t n = 0;
  for (sx_val l = r; sx_is_cons(l) && n < 3; l = sx_cdr(l)) items[n++] = sx_car(l);
  bool shaped = sx_is_cons(forms) && sx_cdr(forms) == SX_EMPTY && n == 3 && sx_list_length(r) == 3 &&
                sx_is_symbol(items[0]) && sx_is_int(items[1]);
  const char *head = shaped ? sx_str_data(sx_sym_name(items[0])) : "";
  *raise = strcmp(head, "resume-error") == 0;
  if (!*raise && strcmp(head, "resume") != 0) {
    *v = sx_make_error("bridge: malformed response: expected " RESPONSE_SHAPES);
    return false;
  }
  if (sx_int_val(items[1]) != s->epoch) {
    *v = sx_make_error("bridge: the response's epoch %lld does not match the request's epoch %lld",
                       (long long)sx_int_val(items[1]), s->epoch);
    return false;
  }
  if (*raise && !sx_is_string(items[2])) {
    *v = sx_make_error("bridge: resume-error: expected a message string");
    return false;
  }
  *v = *raise ? sx_error_new(items[2], SX_NIL) : items[2];
  return true;
}

/* Forward the fiber's request to the parent and resume it with the
 * parent's answer (or with an error saying why there is none). */
static sx_status bridge_resume(server *s, sx_fiber *f) {
  respond_value(s, "perform", f->request);
  size_t len = 0;
  while (read_line(s, &len) && len == 0) continue; /* blank lines are not responses */
  if (s->eof)
    return sx_fiber_resume_error(f, sx_make_error("bridge: stdin closed while waiting for the response to a perform"));
  sx_val v;
  bool raise;
  if (!parse_response(s, s->line, len, &v, &raise) || raise) return sx_fiber_resume_error(f, v);
  return sx_fiber_resume(f, v);
}

/* Run forms as one top-level evaluation. */
static sx_status run_forms(server *s, sx_val forms, sx_val file, sx_val *out) {
  sx_fiber *f = sx_fiber_new(s->vm);
  sx_fiber_start_forms(f, forms, file, false);
  sx_status st;
  if (!s->bridge) {
    st = sx_fiber_finish(f);
  } else {
    st = sx_fiber_run(f);
    while (st == SX_SUSPENDED) st = bridge_resume(s, f);
  }
  *out = st == SX_DONE ? f->value : f->error;
  return st;
}

/* (load "path") or (eval "source"): read, then run. */
static sx_status run_command(server *s, bool is_load, sx_val arg, sx_val *out) {
  sx_val file = is_load ? arg : sx_string_cstr("<eval>"), err = SX_NIL, forms;
  if (is_load) {
    forms = sx_read_source_file(s->vm, sx_str_data(arg), &err);
  } else {
    forms = sx_read_all(sx_str_data(arg), sx_str_len(arg), file, &err);
    if (forms == SX_UNDEF) err = sx_error_new(err, SX_NIL);
  }
  if (forms == SX_UNDEF) {
    *out = err;
    return SX_ERROR;
  }
  return run_forms(s, forms, file, out);
}

/* ---- commands ------------------------------------------------------------------- */

/* One command line: returns after writing zero (epoch) or one response. */
static void server_command(server *s, const char *line, size_t len) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(line, len, sx_string_cstr("<command>"), &err);
  if (forms == SX_UNDEF) {
    respond_error_msg(s, err);
    return;
  }
  if (forms == SX_EMPTY) return; /* blank or comment-only line */
  sx_val cmd = sx_car(forms);
  if (sx_cdr(forms) != SX_EMPTY || !sx_is_cons(cmd) || !sx_is_symbol(sx_car(cmd))) {
    respond_error(s, "malformed command: expected one of (epoch N), (load \"path\"), (eval \"source\")");
    return;
  }
  const char *name = sx_str_data(sx_sym_name(sx_car(cmd)));
  sx_val arg = sx_is_cons(sx_cdr(cmd)) ? sx_car(sx_cdr(cmd)) : SX_UNDEF;
  bool one_arg = arg != SX_UNDEF && sx_cdr(sx_cdr(cmd)) == SX_EMPTY;
  if (strcmp(name, "epoch") == 0) {
    if (!one_arg || !sx_is_int(arg)) respond_error(s, "epoch: expected (epoch N) with an integer N");
    else s->epoch = sx_int_val(arg);
    return;
  }
  bool is_load = strcmp(name, "load") == 0, is_eval = strcmp(name, "eval") == 0;
  if (!is_load && !is_eval) {
    sx_buf b = SX_BUF_INIT;
    sx_buf_printf(&b, "unknown command %s: expected epoch, load or eval", name);
    respond_error(s, b.data);
    sx_buf_free(&b);
    return;
  }
  if (!one_arg || !sx_is_string(arg)) {
    respond_error(s, is_load ? "load: expected (load \"path\") with a string path"
                             : "eval: expected (eval \"source\") with a string");
    return;
  }
  sx_val v;
  sx_status st = run_command(s, is_load, arg, &v);
  sx_val problem = sx_toplevel_end(s->vm, st); /* commit (or roll back) its writes */
  if (problem != SX_NIL) {
    st = SX_ERROR;
    v = problem;
  }
  respond_status(s, st, v);
}

int sx_server_run(sx_vm *vm, bool bridge) {
  server s = {.vm = vm, .bridge = bridge};
  vm->out = stderr;
  size_t len;
  /* server_command reads the line into SX values before running anything,
   * so a bridged perform may reuse the line buffer for its response */
  while (!s.eof && read_line(&s, &len)) server_command(&s, s.line, len);
  free(s.line);
  sx_buf_free(&s.out);
  return 0;
}

int sx_server_main(sx_vm *vm) { return sx_server_run(vm, false); }

int sx_server_cli(sx_vm *vm, int argc, char **argv) {
  bool bridge = false;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--bridge") != 0) {
      fprintf(stderr, "sx server: unknown option '%s' (expected --bridge)\n", argv[i]);
      return 2;
    }
    bridge = true;
  }
  return sx_server_run(vm, bridge);
}
