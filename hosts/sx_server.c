/* sx_server.c — the sx_server line protocol on stdin/stdout.
 *
 * Commands, one per line: (epoch N), (load "path"), (eval "source").
 * Responses: (ok N value), or (ok-len N BYTES) followed by a line of exactly
 * BYTES bytes, or (error N "message"). Every malformed command gets exactly
 * one error response and the server goes on to the next line; nothing but
 * responses is ever written to stdout (print/display go to stderr). EOF on
 * stdin ends the server with status 0.
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
} server;

static void respond_raw(server *s) {
  fwrite(s->out.data, 1, s->out.len, stdout);
  fflush(stdout);
  sx_buf_reset(&s->out);
}

static void respond_ok(server *s, sx_val v) {
  sx_buf val = SX_BUF_INIT;
  sx_print(&val, v);
  if (val.len > OK_LEN_THRESHOLD || memchr(val.data, '\n', val.len)) {
    sx_buf_printf(&s->out, "(ok-len %lld %zu)\n", s->epoch, val.len);
    sx_buf_put(&s->out, val.data, val.len);
    sx_buf_putc(&s->out, '\n');
  } else {
    sx_buf_printf(&s->out, "(ok %lld ", s->epoch);
    sx_buf_put(&s->out, val.data, val.len);
    sx_buf_puts(&s->out, ")\n");
  }
  sx_buf_free(&val);
  respond_raw(s);
}

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
  sx_status st = is_load ? sx_load_file(s->vm, sx_str_data(arg), false, &v)
                         : sx_eval_string(s->vm, sx_str_data(arg), sx_str_len(arg),
                                          sx_string_cstr("<eval>"), &v);
  sx_val problem = sx_toplevel_end(s->vm, st); /* commit (or roll back) its writes */
  if (problem != SX_NIL) {
    st = SX_ERROR;
    v = problem;
  }
  respond_status(s, st, v);
}

int sx_server_main(sx_vm *vm) {
  server s = {.vm = vm};
  vm->out = stderr;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    size_t len = (size_t)n;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    server_command(&s, line, len);
  }
  free(line);
  sx_buf_free(&s.out);
  return 0;
}
