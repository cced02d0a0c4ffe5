/* repl_cmds.c — running the REPL's meta-commands (parsed by repl_meta.c):
 * :help :streams :tail :show :kv :get :blobs :stats :load :time :refresh
 * :follow :reopen :bt :set :quit (:doc and :apropos are repl_doc.c's, :more
 * repl_page.c's). Tables are plain text; nothing here writes to the store. */
#include "repl.h"
#include "repl_meta.h"
#include "repl_pretty.h"
#include "sx_tools.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a small text table ------------------------------------------------ */

typedef struct table {
  size_t ncols, n, cap;
  const char *align; /* per column: 'l' or 'r' */
  bool no_header;    /* the first row is data too */
  char **cells;      /* row-major, the first row is the header */
} table;

static void table_add(table *t, const char *cell) {
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 32;
    t->cells = realloc(t->cells, t->cap * sizeof *t->cells);
    if (!t->cells) abort();
  }
  t->cells[t->n++] = strdup(cell);
}

static void table_addf(table *t, const char *fmt, long long v) {
  char cell[32];
  snprintf(cell, sizeof cell, fmt, v);
  table_add(t, cell);
}

static void table_print(const repl *r, table *t) {
  size_t *w = calloc(t->ncols, sizeof *w);
  if (!w) abort();
  for (size_t i = 0; i < t->n; i++) {
    size_t c = repl_columns(t->cells[i], strlen(t->cells[i]));
    if (c > w[i % t->ncols]) w[i % t->ncols] = c;
  }
  repl_buf b = REPL_BUF_INIT;
  for (size_t i = 0; i < t->n; i++) {
    size_t col = i % t->ncols, len = strlen(t->cells[i]);
    size_t pad = w[col] - repl_columns(t->cells[i], len);
    bool header = i < t->ncols && !t->no_header, last = col + 1 == t->ncols;
    if (header && r->colour) repl_buf_puts(&b, REPL_SGR_BOLD);
    if (t->align[col] == 'r') repl_buf_printf(&b, "%*s", (int)pad, "");
    repl_buf_put(&b, t->cells[i], len);
    if (header && r->colour) repl_buf_puts(&b, REPL_SGR_RESET);
    if (t->align[col] != 'r' && !last) repl_buf_printf(&b, "%*s", (int)pad, "");
    repl_buf_puts(&b, last ? "\n" : "  ");
    free(t->cells[i]);
  }
  fwrite(b.data, 1, b.len, stdout);
  repl_buf_free(&b);
  free(t->cells);
  free(w);
}

static void say(const char *fmt, const char *a) {
  printf(fmt, a);
  fputc('\n', stdout);
}

static void err_f(repl *r, const char *fmt, const char *a, long long n) {
  char msg[1024];
  snprintf(msg, sizeof msg, fmt, a, n);
  repl_say_error(r, msg);
}

/* ---- the commands -------------------------------------------------------- */

static void cmd_help(repl *r, const char *about) {
  size_t n;
  const repl_cmd_info *cmds = repl_meta_commands(&n);
  if (about) {
    repl_buf err = REPL_BUF_INIT;
    const char *name = about[0] == ':' ? about + 1 : about;
    const repl_cmd_info *c = repl_meta_find(name, strlen(name), &err);
    repl_buf_putc(&err, '\0');
    if (c) printf(":%s%s%s\n  %s\n", c->name, *c->usage ? " " : "", c->usage, c->help);
    else repl_say_error(r, err.data);
    repl_buf_free(&err);
    return;
  }
  table t = {.ncols = 2, .align = "ll", .no_header = true};
  for (size_t i = 0; i < n; i++) {
    char use[64];
    snprintf(use, sizeof use, ":%s%s%s", cmds[i].name, *cmds[i].usage ? " " : "", cmds[i].usage);
    table_add(&t, use);
    table_add(&t, cmds[i].help);
  }
  table_print(r, &t);
  puts("Anything else is SX: a form evaluates when its brackets balance, and its\n"
       "writes commit when it ends (an error or Ctrl-C rolls them back). `db` is\n"
       "the store's durable backend, `blobs` its blob store: (persist/read db \"S\").\n"
       "Tab completes symbols, commands, stream names and kv keys; Ctrl-C cancels\n"
       "the entry or interrupts an evaluation; Ctrl-D leaves.");
}

static void cmd_streams(repl *r) {
  repl_stream_row *rows;
  size_t n = repl_store_streams(r->vm, &rows);
  if (!n) {
    free(rows);
    puts("no streams yet");
    return;
  }
  table t = {.ncols = 4, .align = "lrrr"};
  const char *head[] = {"stream", "stored events", "last seq", "first stored seq"};
  for (int i = 0; i < 4; i++) table_add(&t, head[i]);
  for (size_t i = 0; i < n; i++) {
    table_add(&t, rows[i].name);
    table_addf(&t, "%lld", (long long)rows[i].stored);
    table_addf(&t, "%lld", (long long)rows[i].last_seq);
    if (rows[i].first_seq) table_addf(&t, "%lld", (long long)rows[i].first_seq);
    else table_add(&t, "-");
  }
  repl_store_rows_free(rows, n);
  table_print(r, &t);
}

/* Is there a stream of that name (ever appended to)? Says so if not. */
static bool stream_known(repl *r, const char *name) {
  if (repl_store_has_stream(r->vm, name)) return true;
  err_f(r, "no stream \"%s\" (:streams lists them)", name, 0);
  return false;
}

/* A value in a cell, printed on one line and cut to width; a short
 * one-line string bare when bare. */
static void cell_value(repl *r, table *t, sxapi_value v, int width, bool bare) {
  repl_buf b = REPL_BUF_INIT;
  const char *s;
  size_t len;
  if (bare && sxapi_to_string(r->vm, v, &s, &len) == SXAPI_OK && len <= (size_t)width &&
      !memchr(s, '\n', len))
    repl_buf_put(&b, s, len);
  else repl_pretty_line(r->vm, &b, v, width);
  repl_buf_putc(&b, '\0');
  table_add(t, b.data);
  repl_buf_free(&b);
}

static sxapi_value field(repl *r, sxapi_value event, const char *name) {
  sxapi_value v;
  return sxapi_dict_get(r->vm, event, name, &v) == SXAPI_OK ? v : sxapi_nil();
}

static size_t count(repl *r, sxapi_value list) {
  size_t n = 0;
  sxapi_list_length(r->vm, list, &n);
  return n;
}

static void cmd_tail(repl *r, const char *name, int64_t n) {
  if (!stream_known(r, name)) return;
  sxapi_value evs = repl_store_tail(r->vm, name, (size_t)n), e;
  if (count(r, evs) == 0) {
    printf("%s: no stored events (last seq %lld)\n", name, (long long)repl_store_last_seq(r->vm, name));
    return;
  }
  table t = {.ncols = 4, .align = "rlll"};
  const char *head[] = {"seq", "type", "at", "data"};
  for (int i = 0; i < 4; i++) table_add(&t, head[i]);
  int width = repl_width(r);
  sxapi_iter it;
  sxapi_iter_init(r->vm, evs, &it);
  while (sxapi_iter_next(&it, NULL, &e)) {
    cell_value(r, &t, field(r, e, "seq"), 20, true);
    cell_value(r, &t, field(r, e, "type"), 24, true);
    cell_value(r, &t, field(r, e, "at"), 24, true);
    cell_value(r, &t, field(r, e, "data"), width > 60 ? width - 36 : 24, false);
  }
  table_print(r, &t);
}

static void cmd_show(repl *r, const char *name, int64_t seq) {
  if (!stream_known(r, name)) return;
  sxapi_value e = repl_store_event(r->vm, name, seq);
  if (sxapi_typeof(e) != SXAPI_TNIL) {
    repl_show_value(r, e);
    return;
  }
  int64_t last = repl_store_last_seq(r->vm, name);
  if (seq > last) err_f(r, "stream \"%s\" has no event %lld", name, (long long)seq);
  else err_f(r, "event %2$lld of stream \"%1$s\" is no longer stored (compacted away)", name, (long long)seq);
}

static void cmd_kv(repl *r, const char *prefix) {
  sxapi_value keys = repl_store_kv_keys(r->vm, prefix), k, v;
  if (count(r, keys) == 0) {
    if (prefix) say("no kv keys start with \"%s\"", prefix);
    else puts("no kv keys yet");
    return;
  }
  table t = {.ncols = 2, .align = "ll"};
  table_add(&t, "key");
  table_add(&t, "value");
  int width = repl_width(r);
  sxapi_iter it;
  sxapi_iter_init(r->vm, keys, &it);
  const char *s;
  while (sxapi_iter_next(&it, NULL, &k)) {
    if (sxapi_to_string(r->vm, k, &s, NULL) != SXAPI_OK) continue;
    table_add(&t, s);
    if (sxapi_store_kv_get(r->vm, s, &v) != SXAPI_OK) v = sxapi_nil();
    cell_value(r, &t, v, width > 50 ? width - 26 : 24, false);
  }
  table_print(r, &t);
}

static void cmd_get(repl *r, const char *key) {
  sxapi_value v;
  if (sxapi_store_kv_get(r->vm, key, &v) != SXAPI_OK) err_f(r, "no kv key \"%s\" (:kv lists them)", key, 0);
  else repl_show_value(r, v);
}

static void cmd_blobs(repl *r) {
  repl_blob_row *rows;
  size_t n = repl_store_blobs(r->vm, &rows);
  if (!n) {
    free(rows);
    puts("no blobs yet");
    return;
  }
  table t = {.ncols = 2, .align = "lr"};
  table_add(&t, "blob");
  table_add(&t, "bytes");
  for (size_t i = 0; i < n; i++) {
    table_add(&t, rows[i].cid);
    table_addf(&t, "%lld", (long long)rows[i].size);
  }
  free(rows);
  table_print(r, &t);
}

static void human_bytes(char *out, size_t cap, uint64_t n) {
  const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, u++;
  if (u == 0) snprintf(out, cap, "%llu bytes", (unsigned long long)n);
  else snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void cmd_stats(repl *r) {
  repl_store_summary s;
  repl_store_summarise(r->vm, &s);
  char log[32], blobs[32], index[32], cache[32];
  human_bytes(log, sizeof log, s.stats.log_bytes);
  human_bytes(blobs, sizeof blobs, s.blob_bytes);
  human_bytes(index, sizeof index, s.stats.index_bytes);
  human_bytes(cache, sizeof cache, s.stats.cache_bytes);
  const char *label = sxapi_store_label(r->vm);
  bool database = strncmp(label, "postgres", 8) == 0; /* postgres:// or postgresql:// */
  printf("store      %s (%s)\n", label, s.stats.read_only ? "read-only" : "open for writing");
  printf("sync mode  %s\n", sxapi_sync_name(s.stats.sync));
  if (database) printf("database   %llu round trips since open\n", (unsigned long long)s.stats.round_trips);
  else printf("log        %s\n", log);
  printf("streams    %zu\n", s.stats.streams);
  printf("events     %zu stored\n", s.stats.events);
  printf("kv keys    %zu\n", s.stats.kv_keys);
  printf("blobs      %zu (%s)\n", s.blobs, blobs);
  if (database) printf("memory     cache %s\n", cache);
  else printf("memory     index %s, cache %s\n", index, cache);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void cmd_time(repl *r, const char *src) {
  sxapi_value forms;
  if (sxapi_read(r->vm, src, strlen(src), "<time>", &forms) != SXAPI_OK) {
    repl_show_error(r, forms);
    return;
  }
  double start = now_ms();
  repl_eval_forms(r, forms);
  printf("time: %.3f ms\n", now_ms() - start);
}

static void cmd_load(repl *r, const char *path) {
  if (repl_load(r, path)) say("loaded %s", path);
}

static void cmd_refresh(repl *r) {
  if (!r->read_only) {
    puts("this REPL owns the store for writing, so it is always up to date");
    return;
  }
  if (sxapi_store_refresh(r->vm) != SXAPI_OK) {
    err_f(r, "error: %s", repl_api_message(), 0);
    return;
  }
  sxapi_store_stats s;
  sxapi_store_stats_of(r->vm, &s);
  printf("refreshed: %zu stream%s, %zu event%s, %zu kv key%s\n", s.streams, s.streams == 1 ? "" : "s",
         s.events, s.events == 1 ? "" : "s", s.kv_keys, s.kv_keys == 1 ? "" : "s");
}

/* :follow STREAM: new events as they are committed, until Ctrl-C. */
static void cmd_follow(repl *r, const char *stream) {
  int64_t after = repl_store_last_seq(r->vm, stream);
  if (!r->read_only) puts("(this REPL owns the store: only its own commits can appear)");
  printf("following \"%s\" after seq %lld; Ctrl-C stops\n", stream, (long long)after);
  fflush(stdout);
  repl_interrupted = 0;
  if (!sx_follow(r->vm, stream, &after, &repl_interrupted, "error")) r->failures++;
  if (repl_interrupted && r->tty) fputc('\n', stdout); /* after the terminal's ^C */
  repl_interrupted = 0;
}

/* :reopen: close the store and open it again as it was opened. */
static void cmd_reopen(repl *r) {
  repl_buf err = REPL_BUF_INIT;
  char *dir = strdup(sxapi_store_dir(r->vm) ? sxapi_store_dir(r->vm) : "");
  if (!dir) abort();
  if (sxapi_store_close(r->vm) != SXAPI_OK) err_f(r, "error: %s", repl_api_message(), 0);
  if (repl_store_open(r->vm, *dir ? dir : r->store_dir, r->sync, r->read_only, &err)) {
    sxapi_store_stats s;
    sxapi_store_stats_of(r->vm, &s);
    printf("reopened %s: %zu stream%s, %zu event%s, %zu kv key%s\n", sxapi_store_label(r->vm), s.streams,
           s.streams == 1 ? "" : "s", s.events, s.events == 1 ? "" : "s", s.kv_keys,
           s.kv_keys == 1 ? "" : "s");
  } else {
    repl_buf_putc(&err, '\0');
    err_f(r, "error: %s (:reopen tries again)", err.data, 0);
  }
  repl_buf_free(&err);
  free(dir);
}

/* :bt: the last error with its backtrace. */
static void cmd_bt(repl *r) {
  sxapi_value text;
  const char *s;
  size_t len;
  if (!r->last_error) {
    puts("no error yet");
    return;
  }
  if (sxapi_error_text(r->vm, r->last_error, true, &text) != SXAPI_OK ||
      sxapi_to_string(r->vm, text, &s, &len) != SXAPI_OK)
    return;
  fwrite(s, 1, len, stdout);
  fputc('\n', stdout);
}

/* :set limit N (the parser takes only N > 0). */
static void cmd_set(repl *r, const char *what, int64_t n) {
  if (strcmp(what, "limit") != 0) {
    err_f(r, "unknown setting '%s' (expected limit)", what, 0);
    return;
  }
  r->limit = (size_t)n;
  printf("limit: at most %lld entries of a list or dict are shown\n", (long long)n);
}

void repl_run_meta(repl *r, const char *line) {
  repl_meta m;
  repl_buf err = REPL_BUF_INIT;
  if (repl_meta_parse(line, &m, &err) != 0) {
    repl_buf_putc(&err, '\0');
    repl_say_error(r, err.data);
    repl_buf_free(&err);
    return;
  }
  switch (m.cmd) {
    case REPL_CMD_HELP: cmd_help(r, m.word); break;
    case REPL_CMD_DOC: repl_cmd_doc(r, m.word); break;
    case REPL_CMD_APROPOS: repl_cmd_apropos(r, m.word); break;
    case REPL_CMD_STREAMS: cmd_streams(r); break;
    case REPL_CMD_TAIL: cmd_tail(r, m.word, m.n); break;
    case REPL_CMD_SHOW: cmd_show(r, m.word, m.n); break;
    case REPL_CMD_KV: cmd_kv(r, m.word); break;
    case REPL_CMD_GET: cmd_get(r, m.word); break;
    case REPL_CMD_BLOBS: cmd_blobs(r); break;
    case REPL_CMD_STATS: cmd_stats(r); break;
    case REPL_CMD_LOAD: cmd_load(r, m.word); break;
    case REPL_CMD_TIME: cmd_time(r, m.word); break;
    case REPL_CMD_REFRESH: cmd_refresh(r); break;
    case REPL_CMD_FOLLOW: cmd_follow(r, m.word); break;
    case REPL_CMD_REOPEN: cmd_reopen(r); break;
    case REPL_CMD_MORE: repl_page_more(r); break;
    case REPL_CMD_BT: cmd_bt(r); break;
    case REPL_CMD_SET: cmd_set(r, m.word, m.n); break;
    case REPL_CMD_QUIT: r->quit = true; break;
  }
  fflush(stdout);
  repl_meta_free(&m);
}
