/* sx_main.c — the `sx` command: run files, evaluate expressions, serve the
 * sx_server protocol.
 *
 *   sx run FILE...      run each top-level form of each file in turn
 *   sx -e EXPR          evaluate EXPR and print the result
 *   sx server           speak the line protocol on stdin/stdout
 *   sx repl             the interactive REPL (also `sx` alone on a terminal)
 *   sx store check DIR / sx store compact DIR   verify / compact a store
 *   -I DIR              add DIR to the load path (also SX_PATH=DIR:DIR)
 *   --store DIR         the durable store that persist and blob ops use
 *                       (also SX_STORE; default ./.sx-store, created on use)
 *   --sync MODE         full (default), batch or off (also SX_SYNC)
 *
 * Built on the public embedding API (include/sx.h) only.
 */
#include "sx_host.h"
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
        "  sx server --listen PATH\n"
        "                       serve it on a Unix-domain socket to many clients at once\n"
        "  sx repl [--read-only] [FILE...]\n"
        "                     the interactive REPL on the store (also: sx alone on a terminal)\n"
        "  sx store check DIR verify every frame and blob of a store (exit 1 on damage)\n"
        "  sx store compact DIR\n"
        "                     rewrite the store's log to hold only its current state\n"
        "  sx --version       print the version\n"
        "  sx --help          print this help\n"
        "\n"
        "  -I DIR             search DIR when loading files (also: SX_PATH=DIR:DIR)\n"
        "  --store DIR        the store persist/* and blob/* requests use\n"
        "                     (also: SX_STORE; default ./.sx-store, created on first use)\n"
        "  --sync MODE        full (default), batch or off (also: SX_SYNC)\n",
        to);
}

/* Write the bytes of a string value, then a newline unless it ends with one. */
static void put_text(sxapi_vm *vm, sxapi_value text, FILE *to) {
  const char *b = "";
  size_t len = 0;
  sxapi_to_string(vm, text, &b, &len);
  fwrite(b, 1, len, to);
  if (len == 0 || b[len - 1] != '\n') fputc('\n', to);
}

/* Print an uncaught error: message, position, backtrace. */
static void report_error(sxapi_vm *vm, sxapi_value err) {
  sxapi_value text = sxapi_nil();
  sxapi_error_text(vm, err, true, &text);
  fputs("sx: error: ", stderr);
  put_text(vm, text, stderr);
}

static int cmd_run(sxapi_vm *vm, int argc, char **argv) {
  if (argc < 1) {
    fputs("sx run: expected a file to run\n", stderr);
    return 2;
  }
  for (int i = 0; i < argc; i++) {
    sxapi_value v;
    if (sxapi_load_each(vm, argv[i], &v) != SXAPI_OK) {
      report_error(vm, v);
      return 1;
    }
  }
  return 0;
}

/* sx store compact DIR: 0 compacted, 1 failed (the old log is intact). */
static int cmd_compact(sxapi_vm *vm, const char *dir) {
  sxapi_store_compact_stats st;
  if (sxapi_store_compact(vm, dir, &st) != SXAPI_OK) {
    fprintf(stderr, "sx: %s\n", sxapi_errmsg());
    return 1;
  }
  printf("%s/log: %llu bytes of data (%llu on disk) before, %llu after\n"
         "%s/log: %zu streams, %zu events, %zu kv keys, %zu records kept\n",
         dir, (unsigned long long)st.log_before, (unsigned long long)st.file_before,
         (unsigned long long)st.log_after, dir, st.streams, st.events, st.kv_keys, st.records);
  return 0;
}

/* sx store check DIR: 0 clean, 1 damaged, 2 cannot be read, 3 clean but
 * ending in a torn tail (an interrupted commit the next writer discards). */
static int cmd_store(sxapi_vm *vm, int argc, char **argv) {
  if (argc == 2 && strcmp(argv[0], "compact") == 0) return cmd_compact(vm, argv[1]);
  if (argc != 2 || strcmp(argv[0], "check") != 0) {
    fputs("usage: sx store check DIR\n       sx store compact DIR\n", stderr);
    return 2;
  }
  sxapi_value report = sxapi_nil();
  sxapi_code rc = sxapi_store_check(vm, argv[1], &report);
  const char *b = "";
  size_t len = 0;
  sxapi_to_string(vm, report, &b, &len);
  if (len) put_text(vm, report, rc == SXAPI_OK ? stdout : stderr);
  if (rc == SXAPI_OK && len && strstr(b, ": torn tail at offset")) return 3; /* b ends in NUL */
  return rc == SXAPI_OK ? 0 : rc == SXAPI_ERR_STORE ? 1 : 2;
}

static int cmd_eval(sxapi_vm *vm, const char *expr) {
  sxapi_value v = sxapi_nil(), text = sxapi_nil();
  if (sxapi_eval_buffer(vm, expr, strlen(expr), "<-e>", &v) != SXAPI_OK) {
    report_error(vm, v);
    return 1;
  }
  const char *b = "";
  size_t len = 0;
  sxapi_print(vm, v, &text);
  sxapi_to_string(vm, text, &b, &len);
  fwrite(b, 1, len, stdout);
  fputc('\n', stdout);
  return 0;
}

/* The command after the options; returns the exit status. */
static int dispatch(sxapi_vm *vm, sx_host_opts *o, int argc, char **argv, int i) {
  const char *cmd = argv[i];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("sx %s\n", sxapi_version());
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
  if (strcmp(cmd, "server") == 0) return sx_server_cli(vm, o, argc - i - 1, argv + i + 1);
  if (strcmp(cmd, "store") == 0) return cmd_store(vm, argc - i - 1, argv + i + 1);
  fprintf(stderr, "sx: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}

int main(int argc, char **argv) {
  sxapi_vm *vm = sxapi_open();
  if (!vm) {
    fprintf(stderr, "sx: %s\n", sxapi_errmsg());
    return 2;
  }
  sx_host_opts opts = {0};
  int i = 1;
  while (i < argc && sx_host_parse_opt(vm, argc, argv, &i, &opts)) i++;
  if (i >= argc && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
    return sx_repl_main(vm, 0, argv + i, opts.store_dir, opts.sync);
  if (i < argc && strcmp(argv[i], "repl") == 0)
    return sx_repl_main(vm, argc - i - 1, argv + i + 1, opts.store_dir, opts.sync);
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  /* the server attaches its store once it has read its own options */
  if (strcmp(argv[i], "server") != 0 && !sx_host_attach_store(vm, &opts)) return 2;
  return dispatch(vm, &opts, argc, argv, i);
}
