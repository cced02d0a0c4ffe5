/* sx_tools.c — `sx store SUBCOMMAND`: check and compact a store, dump it
 * as text and load a dump into a new store, export a stream as JSON or CSV,
 * back a store up while it is written, and tail a stream (following new
 * events with -f across compactions). Built on include/sx.h only; the
 * formats are documented in docs/tools.md. */
#include "sx_tools.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FOLLOW_POLL_MS 100

typedef struct store_sub {
  const char *name;
  int nargs;        /* positional arguments, DIR first */
  const char *args; /* their names, for usage lines */
  const char *text;
} store_sub;

static const store_sub subs[] = {
    {"check", 1, "DIR",
     "  Verify every frame and blob of the store. Exit 0 clean, 1 damaged, 2 unreadable,\n"
     "  3 clean but ending in a torn tail (an interrupted commit the next writer drops).\n"},
    {"compact", 1, "DIR",
     "  Rewrite the log to hold only the current state (the store must not be open for\n"
     "  writing). Read-only handles opened before must reopen.\n"},
    {"dump", 1, "DIR",
     "  Write the whole store to stdout as SX data, one record per line (streams with\n"
     "  their last-seq, events, kv entries, blobs' bytes), in a canonical order: equal\n"
     "  stores dump identically. Safe next to a running writer (a read-only snapshot).\n"},
    {"load", 1, "DIR",
     "  Rebuild a dump read from stdin into DIR, which must be new or empty. Everything\n"
     "  reads back the same, truncated streams and their last-seq included.\n"},
    {"export", 2, "DIR STREAM",
     "  Write a stream's events for other tools: --format json (default; an array, one\n"
     "  event a line) or --format csv (a column per top-level key, seq first).\n"},
    {"backup", 2, "DIR DEST",
     "  Copy the store to DEST (which must not exist) consistently, even while another\n"
     "  process writes it: the log up to its last complete commit, then the blobs.\n"},
    {"tail", 2, "DIR STREAM",
     "  Print the stream's last N events (-n N, default 10), one a line. With -f, keep\n"
     "  printing new events as they are committed (works next to a live writer and\n"
     "  across compactions) until interrupted.\n"},
};
#define NSUBS (sizeof subs / sizeof *subs)

static const store_sub *find_sub(const char *name) {
  for (size_t i = 0; name && i < NSUBS; i++)
    if (strcmp(subs[i].name, name) == 0) return &subs[i];
  return NULL;
}

static void sub_usage(const store_sub *s, FILE *to, bool text) {
  fprintf(to, "%s sx store %s %s%s\n", text ? "usage:" : "      ", s->name, s->args,
          strcmp(s->name, "export") == 0 ? " [--format json|csv]"
          : strcmp(s->name, "tail") == 0 ? " [-n N] [-f]"
                                         : "");
  if (text) fprintf(to, "\n%s\n  DIR may be left out when --store DIR is given.\n", s->text);
}

bool sx_store_help(const char *sub, FILE *to) {
  const store_sub *s = find_sub(sub);
  if (s) {
    sub_usage(s, to, true);
    return true;
  }
  if (sub) return false;
  fputs("usage: sx store SUBCOMMAND ARGS (sx help store SUBCOMMAND for one)\n", to);
  for (size_t i = 0; i < NSUBS; i++) sub_usage(&subs[i], to, false);
  return true;
}

/* sxapi_errmsg() without the name of the function that failed. */
static const char *api_message(void) {
  const char *m = sxapi_errmsg(), *colon = strstr(m, ": ");
  return strncmp(m, "sxapi_", 6) == 0 && colon ? colon + 2 : m;
}

static int fail(const char *sub) {
  fprintf(stderr, "sx store %s: %s\n", sub, api_message());
  return 1;
}

/* ---- check, compact ------------------------------------------------------------ */

static int cmd_check(sxapi_vm *vm, const char *dir) {
  sxapi_value report = sxapi_nil();
  sxapi_code rc = sxapi_store_check(vm, dir, &report);
  const char *b = "";
  size_t len = 0;
  sxapi_to_string(vm, report, &b, &len);
  if (len) sx_host_put_text(vm, report, rc == SXAPI_OK ? stdout : stderr);
  if (rc == SXAPI_OK && len && strstr(b, ": torn tail at offset")) return 3; /* b ends in NUL */
  return rc == SXAPI_OK ? 0 : rc == SXAPI_ERR_STORE ? 1 : 2;
}

static int cmd_compact(sxapi_vm *vm, const char *dir) {
  sxapi_store_compact_stats st;
  if (sxapi_store_compact(vm, dir, &st) != SXAPI_OK) return fail("compact");
  if (sxapi_store_name_is_url(dir)) {
    char *shown = sxapi_store_name_label(dir);
    printf("%s: nothing to compact: PostgreSQL reclaims the space of deleted rows itself (autovacuum)\n",
           shown);
    free(shown);
    return 0;
  }
  printf("%s/log: %llu bytes of data (%llu on disk) before, %llu after\n"
         "%s/log: %zu streams, %zu events, %zu kv keys, %zu records kept\n",
         dir, (unsigned long long)st.log_before, (unsigned long long)st.file_before,
         (unsigned long long)st.log_after, dir, st.streams, st.events, st.kv_keys, st.records);
  return 0;
}

/* ---- dump, load, export, backup ------------------------------------------------------ */

static int cmd_load(sxapi_vm *vm, const char *dir) {
  sxapi_store_load_stats st;
  if (sxapi_store_load(vm, dir, stdin, &st) != SXAPI_OK) return fail("load");
  char *shown = sxapi_store_name_label(dir); /* a URL's password is never printed */
  fprintf(stderr, "sx store load: %s: %zu streams, %zu events, %zu kv keys, %zu blobs\n", shown, st.streams,
          st.events, st.kv_keys, st.blobs);
  free(shown);
  return 0;
}

static int cmd_backup(sxapi_vm *vm, const char *dir, const char *dest) {
  sxapi_store_backup_stats st;
  if (sxapi_store_backup(vm, dir, dest, &st) != SXAPI_OK) return fail("backup");
  printf("%s: %llu bytes of log, %zu streams, %zu events, %zu kv keys, %zu blobs\n", dest,
         (unsigned long long)st.log_bytes, st.streams, st.events, st.kv_keys, st.blobs);
  return 0;
}

/* ---- tail and follow --------------------------------------------------------------- */

static void print_event(sxapi_vm *vm, sxapi_value e) {
  sxapi_value text;
  const char *s;
  size_t len;
  if (sxapi_print(vm, e, &text) == SXAPI_OK && sxapi_to_string(vm, text, &s, &len) == SXAPI_OK) {
    fwrite(s, 1, len, stdout);
    fputc('\n', stdout);
  }
}

static int64_t seq_of(sxapi_vm *vm, sxapi_value e) {
  sxapi_value s;
  int64_t n = 0;
  if (sxapi_dict_get(vm, e, "seq", &s) == SXAPI_OK) sxapi_to_int(vm, s, &n);
  return n;
}

/* Print the stored events with seq > after, at most the last `most` of
 * them (SIZE_MAX: all); returns the highest seq printed, or after. */
static int64_t print_after(sxapi_vm *vm, const char *stream, int64_t after, size_t most) {
  sxapi_value evs, e;
  size_t n = 0, skip = 0, i = 0;
  if (sxapi_store_read(vm, stream, &evs) != SXAPI_OK) return after;
  sxapi_list_length(vm, evs, &n);
  sxapi_iter it;
  sxapi_iter_init(vm, evs, &it);
  for (size_t k = 0; k < n && sxapi_list_get(vm, evs, k, &e) == SXAPI_OK; k++)
    if (seq_of(vm, e) <= after) skip = k + 1;
  if (n - skip > most) skip = n - most;
  for (i = skip; i < n && sxapi_list_get(vm, evs, i, &e) == SXAPI_OK; i++) {
    print_event(vm, e);
    after = seq_of(vm, e);
  }
  fflush(stdout);
  return after;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) return; /* a signal: let the caller look */
}

/* Reopen the VM's store on dir read-only (after a compaction replaced its log). */
static bool reopen(sxapi_vm *vm, const char *dir) {
  sxapi_store_options ro = {.read_only = true};
  if (sxapi_store_dir(vm)) sxapi_store_close(vm);
  return sxapi_store_open(vm, dir, &ro) == SXAPI_OK;
}

bool sx_follow(sxapi_vm *vm, const char *stream, int64_t *after, volatile int *stop, const char *who) {
  char *dir = strdup(sxapi_store_dir(vm) ? sxapi_store_dir(vm) : ".");
  bool ok = true;
  if (!dir) abort();
  while (ok && !*stop) {
    sleep_ms(FOLLOW_POLL_MS);
    if (*stop) break;
    /* after a compaction, and after a scan that raced the writer's copy of
     * a frame (it looks like damage; real damage stays): reopen */
    for (int tries = 0; sxapi_store_refresh(vm) != SXAPI_OK; tries++) {
      if (tries == 9) {
        fprintf(stderr, "%s: %s\n", who, api_message());
        ok = false;
        break;
      }
      sleep_ms(20);
      reopen(vm, dir); /* failing, the next refresh fails too and says why */
    }
    if (!ok) break;
    int64_t last = 0;
    sxapi_store_last_seq(vm, stream, &last);
    if (last > *after) *after = print_after(vm, stream, *after, SIZE_MAX);
  }
  free(dir);
  return ok;
}

static volatile int never_stop;

static int cmd_tail(sxapi_vm *vm, const char *dir, const char *stream, size_t n, bool follow) {
  sxapi_store_options ro = {.read_only = true};
  if (sxapi_store_open(vm, dir, &ro) != SXAPI_OK) return fail("tail");
  int64_t last = 0;
  sxapi_store_last_seq(vm, stream, &last);
  if (!follow && last == 0) {
    fprintf(stderr, "sx store tail: no stream \"%s\" in %s\n", stream, sxapi_store_label(vm));
    return 1;
  }
  print_after(vm, stream, 0, n);
  if (!follow) return 0;
  return sx_follow(vm, stream, &last, &never_stop, "sx store tail") ? 0 : 1;
}

/* ---- arguments ------------------------------------------------------------------- */

typedef struct sub_args {
  const char *pos[3];
  int npos;
  const char *format;
  size_t n;
  bool follow;
} sub_args;

/* The positional arguments and the subcommand's own options; false
 * (message printed) on a bad one. */
static bool parse_sub(const store_sub *s, int argc, char **argv, sub_args *a) {
  for (int i = 1; i < argc; i++) {
    const char *x = argv[i];
    if (strcmp(s->name, "export") == 0 && strcmp(x, "--format") == 0 && i + 1 < argc) a->format = argv[++i];
    else if (strcmp(s->name, "export") == 0 && strncmp(x, "--format=", 9) == 0) a->format = x + 9;
    else if (strcmp(s->name, "tail") == 0 && strcmp(x, "-n") == 0 && i + 1 < argc)
      a->n = strtoul(argv[++i], NULL, 10);
    else if (strcmp(s->name, "tail") == 0 && strcmp(x, "-f") == 0) a->follow = true;
    else if (x[0] == '-' && x[1]) {
      fprintf(stderr, "sx store %s: unknown option '%s'\n", s->name, x);
      return false;
    } else if (a->npos < 3) a->pos[a->npos++] = x;
  }
  return true;
}

int sx_store_cmd(sxapi_vm *vm, const sx_host_opts *o, int argc, char **argv) {
  const store_sub *s = argc > 0 ? find_sub(argv[0]) : NULL;
  if (!s) {
    if (argc > 0) fprintf(stderr, "sx store: unknown subcommand '%s'\n", argv[0]);
    sx_store_help(NULL, stderr);
    return 2;
  }
  sub_args a = {.format = "json", .n = 10};
  if (!parse_sub(s, argc, argv, &a)) return 2;
  if (a.npos == s->nargs - 1 && o->store_dir) { /* DIR from --store */
    memmove(a.pos + 1, a.pos, sizeof a.pos[0] * 2);
    a.pos[0] = o->store_dir;
    a.npos++;
  }
  if (a.npos != s->nargs) {
    sub_usage(s, stderr, true);
    return 2;
  }
  const char *dir = a.pos[0];
  switch (s - subs) {
    case 0: return cmd_check(vm, dir);
    case 1: return cmd_compact(vm, dir);
    case 2: return sxapi_store_dump(vm, dir, stdout) == SXAPI_OK ? 0 : fail("dump");
    case 3: return cmd_load(vm, dir);
    case 4: return sxapi_store_export(vm, dir, a.pos[1], a.format, stdout) == SXAPI_OK ? 0 : fail("export");
    case 5: return cmd_backup(vm, dir, a.pos[1]);
    default: return cmd_tail(vm, dir, a.pos[1], a.n, a.follow);
  }
}
