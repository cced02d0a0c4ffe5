/* sx_main.c — the `sx` command: run files, evaluate expressions, serve the
 * sx_server protocol, open the REPL, and the store tools (sx_tools.c).
 *
 *   sx run FILE... | -  run each top-level form of each file (or stdin) in turn
 *   sx -e EXPR          evaluate EXPR and print the result
 *   sx server           speak the line protocol on stdin/stdout
 *   sx repl             the interactive REPL (also `sx` alone on a terminal,
 *                       and `echo FORMS | sx`: the piped REPL)
 *   sx store SUBCOMMAND check, compact, dump, load, export, backup, tail
 *   sx help [COMMAND]   a command's usage (also COMMAND --help)
 *
 * Global options (-I DIR, --store DIR, --sync MODE, --persist) may come
 * before or after the command. Built on the public embedding API
 * (include/sx.h) only.
 */
#include "sx_host.h"
#include "sx_repl.h"
#include "sx_tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char global_options[] =
    "\n"
    "  -I DIR             search DIR when loading files (also: SX_PATH=DIR:DIR)\n"
    "  --store DIR|URL    the store persist/* and blob/* requests use: a directory,\n"
    "                     or a postgresql:// URL (docs/postgres.md)\n"
    "                     (also: SX_STORE; default ./.sx-store, created on first use)\n"
    "  --sync MODE        full (default), batch or off (also: SX_SYNC)\n"
    "  --persist          load lib/persist first and bind `db` and `blobs` to the store\n"
    "                     (run, -e, server; the REPL always does)\n"
    "  Options may come before or after the command.\n";

static void usage(FILE *to) {
  fputs("usage: sx [OPTIONS] COMMAND [ARGS]\n"
        "\n"
        "  sx run FILE...       run the top-level forms of each file in order (- : stdin)\n"
        "  sx -e EXPR           evaluate EXPR and print its value\n"
        "  sx server [--bridge] serve the sx_server line protocol on stdin/stdout\n"
        "  sx server --listen PATH\n"
        "                       serve it on a Unix-domain socket to many clients at once\n"
        "  sx repl [--read-only] [FILE...]\n"
        "                       the interactive REPL on the store (also: sx alone on a\n"
        "                       terminal; echo FORMS | sx evaluates piped forms)\n"
        "  sx store check DIR   verify every frame and blob of a store (exit 1 on damage)\n"
        "  sx store compact DIR rewrite the store's log to hold only its current state\n"
        "  sx store dump DIR    write the whole store to stdout as text\n"
        "  sx store load DIR    rebuild a dump read from stdin into a new, empty store\n"
        "  sx store export DIR STREAM --format json|csv\n"
        "                       write a stream's events for other tools\n"
        "  sx store backup DIR DEST\n"
        "                       copy a store consistently, even while it is written\n"
        "  sx store tail DIR STREAM [-n N] [-f]\n"
        "                       print a stream's last events; -f: follow new ones\n"
        "  sx help [COMMAND]    print a command's usage (also: sx COMMAND --help)\n"
        "  sx --version         print the version\n",
        to);
  fputs(global_options, to);
}

static const char run_usage[] = "usage: sx run [OPTIONS] FILE... \n"
                                "       sx run [OPTIONS] -\n"
                                "\n"
                                "  Run the top-level forms of each FILE in order; each form is its own\n"
                                "  evaluation, committed to the store as it ends. Stops at the first error\n"
                                "  (exit 1). `-` reads the program from stdin. A first line starting #! is\n"
                                "  skipped, so scripts can start with #!/usr/bin/env -S sx run.\n";
static const char eval_usage[] =
    "usage: sx [OPTIONS] -e EXPR\n"
    "\n"
    "  Evaluate EXPR (one or more forms, as one evaluation) and print the value of\n"
    "  the last one. Exit 1 on an error.\n";
static const char server_usage[] =
    "usage: sx server [OPTIONS] [--bridge]\n"
    "       sx server [OPTIONS] --listen PATH\n"
    "\n"
    "  Serve the sx_server line protocol (docs/server.md) on stdin/stdout, or with\n"
    "  --listen on the Unix-domain socket PATH to many clients at once (one VM per\n"
    "  connection). --bridge forwards performs no resolver owns to the parent\n"
    "  process (docs/bridge.md).\n";
static const char help_usage[] =
    "usage: sx help [COMMAND [SUBCOMMAND]]\n"
    "\n"
    "  Print the usage of a command (run, -e, server, repl, store, store check, ...)\n"
    "  or, without one, of sx.\n";

/* Print the usage of the command named by argv[0] (and argv[1] for store);
 * false when there is no such command. */
static bool command_help(sxapi_vm *vm, int argc, char **argv, FILE *to) {
  const char *cmd = argv[0], *text = NULL;
  if (strcmp(cmd, "run") == 0) text = run_usage;
  else if (strcmp(cmd, "-e") == 0 || strcmp(cmd, "eval") == 0) text = eval_usage;
  else if (strcmp(cmd, "server") == 0) text = server_usage;
  else if (strcmp(cmd, "help") == 0) text = help_usage;
  else if (strcmp(cmd, "store") == 0)
    return sx_store_help(argc > 1 && argv[1][0] != '-' ? argv[1] : NULL, to);
  else if (strcmp(cmd, "repl") == 0) {
    char *h[] = {"--help", NULL};
    sx_repl_main(vm, 1, h, NULL, NULL);
    return true;
  }
  if (!text) return false;
  fputs(text, to);
  fputs(global_options, to);
  return true;
}

/* Print an uncaught error: message, position, backtrace. */
static void report_error(sxapi_vm *vm, sxapi_value err) {
  sxapi_value text = sxapi_nil();
  sxapi_error_text(vm, err, true, &text);
  fputs("sx: error: ", stderr);
  sx_host_put_text(vm, text, stderr);
}

/* The whole of f into a malloc'd buffer (*len bytes); NULL on a read error. */
static char *slurp(FILE *f, size_t *len) {
  size_t cap = 1 << 16, n = 0, got;
  char *b = malloc(cap);
  if (!b) abort();
  while ((got = fread(b + n, 1, cap - n, f)) > 0)
    if ((n += got) == cap && !(b = realloc(b, cap *= 2))) abort();
  if (ferror(f)) {
    free(b);
    return NULL;
  }
  *len = n;
  return b;
}

/* Run the program text b[0..len) form by form, each its own evaluation. A
 * first line starting #! becomes a comment (line numbers stay right). */
static int run_text(sxapi_vm *vm, char *b, size_t len, const char *name) {
  sxapi_value forms, form, v;
  if (len >= 2 && b[0] == '#' && b[1] == '!') b[0] = b[1] = ';';
  if (sxapi_read(vm, b, len, name, &forms) != SXAPI_OK) {
    report_error(vm, forms);
    return 1;
  }
  sxapi_pin(vm, forms);
  sxapi_iter it;
  int rc = 0;
  sxapi_iter_init(vm, forms, &it);
  while (!rc && sxapi_iter_next(&it, NULL, &form))
    if (sxapi_eval_form(vm, form, &v) != SXAPI_OK) {
      report_error(vm, v);
      rc = 1;
    }
  sxapi_unpin(vm, forms);
  return rc;
}

/* Does the file start with "#!"? (false when it cannot be read: load says why) */
static bool has_shebang(const char *path) {
  FILE *f = fopen(path, "rb");
  char two[2] = {0};
  if (!f) return false;
  bool yes = fread(two, 1, 2, f) == 2 && two[0] == '#' && two[1] == '!';
  fclose(f);
  return yes;
}

static int run_one(sxapi_vm *vm, const char *path) {
  sxapi_value v;
  size_t len = 0;
  if (strcmp(path, "-") != 0 && !has_shebang(path)) {
    if (sxapi_load_each(vm, path, &v) == SXAPI_OK) return 0;
    report_error(vm, v);
    return 1;
  }
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  char *b = f ? slurp(f, &len) : NULL;
  if (f && f != stdin) fclose(f);
  if (!b) {
    fprintf(stderr, "sx run: cannot read %s\n", strcmp(path, "-") == 0 ? "stdin" : path);
    return 1;
  }
  int rc = run_text(vm, b, len, strcmp(path, "-") == 0 ? "<stdin>" : path);
  free(b);
  return rc;
}

static int cmd_run(sxapi_vm *vm, int argc, char **argv) {
  int ran = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) continue;
    ran++;
    int rc = run_one(vm, argv[i]);
    if (rc) return rc;
  }
  if (ran) return 0;
  fputs("sx run: expected a file to run (or - for stdin)\n", stderr);
  return 2;
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

/* Is --help or -h among the command's arguments (before any "--")? */
static bool wants_help(int argc, char **argv) {
  for (int i = strcmp(argv[0], "-e") == 0 ? 2 : 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) return false;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

static int cmd_help(sxapi_vm *vm, int argc, char **argv) {
  if (argc == 0) {
    usage(stdout);
    return 0;
  }
  if (command_help(vm, argc, argv, stdout)) return 0;
  bool store = strcmp(argv[0], "store") == 0; /* then the subcommand is what is unknown */
  fprintf(stderr, "sx help: unknown command '%s%s%s'\n", argv[0], store ? " " : "", store ? argv[1] : "");
  return 2;
}

/* The command (argv[0]) and its arguments, the global options taken out. */
static int dispatch(sxapi_vm *vm, sx_host_opts *o, int argc, char **argv) {
  const char *cmd = argv[0];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) return cmd_help(vm, 0, argv);
  if (strcmp(cmd, "help") == 0 && !wants_help(argc, argv)) return cmd_help(vm, argc - 1, argv + 1);
  if (strcmp(cmd, "--version") == 0) {
    printf("sx %s\n", sxapi_version());
    return 0;
  }
  if (wants_help(argc, argv) && command_help(vm, argc, argv, stdout)) return 0;
  if (strcmp(cmd, "repl") == 0) return sx_repl_main(vm, argc - 1, argv + 1, o->store_dir, o->sync);
  /* the server attaches its store once it has read its own options */
  if (strcmp(cmd, "server") == 0) return sx_server_cli(vm, o, argc - 1, argv + 1);
  if (strcmp(cmd, "store") == 0) return sx_store_cmd(vm, o, argc - 1, argv + 1);
  if (strcmp(cmd, "run") != 0 && strcmp(cmd, "-e") != 0) {
    fprintf(stderr, "sx: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
  }
  if (!sx_host_attach_store(vm, o)) return 2;
  if (strcmp(cmd, "run") == 0) return cmd_run(vm, argc - 1, argv + 1);
  if (argc < 2) {
    fputs("sx -e: expected an expression\n", stderr);
    return 2;
  }
  return cmd_eval(vm, argv[1]);
}

/* Take the global options out of argv[1..] wherever they are (into o; -I
 * goes on vm's load path), leaving the command and its arguments in rest.
 * The argument of -e and everything after "--" are left alone. */
static int split_args(sxapi_vm *vm, int argc, char **argv, sx_host_opts *o, char **rest) {
  int n = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      while (i < argc) rest[n++] = argv[i++];
      break;
    }
    if (n == 1 && strcmp(rest[0], "-e") == 0) rest[n++] = argv[i];
    else if (!sx_host_parse_opt(vm, argc, argv, &i, o)) rest[n++] = argv[i];
  }
  rest[n] = NULL;
  return n;
}

int main(int argc, char **argv) {
  sxapi_set_warning_hook(sx_host_print_warning, NULL);
  sxapi_vm *vm = sxapi_open();
  if (!vm) {
    fprintf(stderr, "sx: %s\n", sxapi_errmsg());
    return 2;
  }
  sx_host_opts opts = {0};
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  if (!rest) abort();
  int n = split_args(vm, argc, argv, &opts, rest);
  if (n > 0) return dispatch(vm, &opts, n, rest);
  bool in_tty = isatty(STDIN_FILENO), out_tty = isatty(STDOUT_FILENO);
  if (!in_tty || out_tty) /* a terminal, or forms piped in */
    return sx_repl_main(vm, 0, rest, opts.store_dir, opts.sync);
  usage(stderr);
  return 2;
}
