/* sx_main.c — the `sx` command: run files, evaluate expressions, serve the
 * sx_server protocol.
 *
 *   sx run FILE...      run each top-level form of each file in turn
 *   sx -e EXPR          evaluate EXPR and print the result
 *   sx server           speak the line protocol on stdin/stdout
 *   sx repl             the interactive REPL (also `sx` alone on a terminal)
 *   -I DIR              add DIR to the load path (also SX_PATH=DIR:DIR)
 *   --store DIR         the durable store that persist and blob ops use
 *                       (also SX_STORE; default ./.sx-store, created on use)
 *   --sync MODE         full (default), batch or off (also SX_SYNC)
 */
#include "sx_host.h"
#include "store.h"
#include "sx_print.h"
#include "sx_repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *to) {
  fputs("usage: sx [-I DIR]... [--store DIR] [--sync MODE] COMMAND\n"
        "\n"
        "  sx run FILE...     run the top-level forms of each file in order\n"
        "  sx -e EXPR         evaluate EXPR and print its value\n"
        "  sx server [--bridge] serve the sx_server line protocol on stdin/stdout\n"
        "  sx repl [--read-only] [FILE...]\n"
        "                     the interactive REPL on the store (also: sx alone on a terminal)\n"
        "  sx store check DIR verify every frame and blob of a store (exit 1 on damage)\n"
        "  sx --version       print the version\n"
        "  sx --help          print this help\n"
        "\n"
        "  -I DIR             search DIR when loading files (also: SX_PATH=DIR:DIR)\n"
        "  --store DIR        the store persist/* and blob/* requests use\n"
        "                     (also: SX_STORE; default ./.sx-store, created on first use)\n"
        "  --sync MODE        full (default), batch or off (also: SX_SYNC)\n",
        to);
}

/* Print an uncaught error: message, position, backtrace. */
static void report_error(sx_val err) {
  sx_buf b = SX_BUF_INIT;
  sx_buf_puts(&b, "sx: error: ");
  sx_host_format_error(&b, err);
  sx_buf_putc(&b, '\n');
  if (sx_is(err, SX_T_ERROR))
    for (sx_val bt = ((sx_error *)err)->backtrace; sx_is_cons(bt); bt = sx_cdr(bt))
      sx_buf_printf(&b, "  %s\n", sx_str_data(sx_car(bt)));
  fwrite(b.data, 1, b.len, stderr);
  sx_buf_free(&b);
}

static int cmd_run(sx_vm *vm, int argc, char **argv) {
  if (argc < 1) {
    fputs("sx run: expected a file to run\n", stderr);
    return 2;
  }
  for (int i = 0; i < argc; i++) {
    sx_val v;
    if (sx_load_file(vm, argv[i], true, &v) != SX_DONE) {
      report_error(v);
      return 1;
    }
  }
  return 0;
}

/* sx store check DIR: 0 clean, 1 damaged, 2 cannot be read. */
static int cmd_store(int argc, char **argv) {
  if (argc != 2 || strcmp(argv[0], "check") != 0) {
    fputs("usage: sx store check DIR\n", stderr);
    return 2;
  }
  sx_buf report = SX_BUF_INIT;
  int rc = store_check(argv[1], &report);
  if (report.len) fwrite(report.data, 1, report.len, rc == 0 ? stdout : stderr);
  if (report.len && report.data[report.len - 1] != '\n') fputc('\n', rc == 0 ? stdout : stderr);
  sx_buf_free(&report);
  return rc == 0 ? 0 : rc == 1 ? 1 : 2;
}

static int cmd_eval(sx_vm *vm, const char *expr) {
  sx_val v;
  sx_status st = sx_eval_string(vm, expr, strlen(expr), sx_string_cstr("<-e>"), &v);
  sx_val problem = sx_toplevel_end(vm, st);
  if (problem != SX_NIL) {
    st = SX_ERROR;
    v = problem;
  }
  if (st != SX_DONE) {
    report_error(v);
    return 1;
  }
  sx_buf b = SX_BUF_INIT;
  sx_print(&b, v);
  sx_buf_putc(&b, '\n');
  fwrite(b.data, 1, b.len, stdout);
  sx_buf_free(&b);
  return 0;
}

int main(int argc, char **argv) {
  sx_vm *vm = sx_vm_create();
  sx_host_opts opts = {0};
  int i = 1;
  while (i < argc && sx_host_parse_opt(vm, argc, argv, &i, &opts)) i++;
  if (i >= argc && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) return sx_repl_main(vm, 0, argv + i, &opts);
  if (i < argc && strcmp(argv[i], "repl") == 0) return sx_repl_main(vm, argc - i - 1, argv + i + 1, &opts);
  if (!sx_host_attach_store(vm, &opts)) return 2;
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[i];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("sx %s\n", SX_VERSION);
    return 0;
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(vm, argc - i - 1, argv + i + 1);
  if (strcmp(cmd, "-e") == 0) {
    if (i + 1 >= argc) {
      fputs("sx -e: expected an expression\n", stderr);
      return 2;
    }
    return cmd_eval(vm, argv[i + 1]);
  }
  if (strcmp(cmd, "server") == 0) return sx_server_cli(vm, argc - i - 1, argv + i + 1);
  if (strcmp(cmd, "store") == 0) return cmd_store(argc - i - 1, argv + i + 1);
  fprintf(stderr, "sx: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
