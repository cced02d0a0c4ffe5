/* repl_cmds.c — running the REPL's meta-commands (parsed by repl_meta.c):
 * :help :streams :tail :show :kv :get :blobs :stats :load :time :refresh
 * :quit. Tables are plain text; nothing here writes to the store. */
#include "repl.h"
#include "repl_meta.h"
#include "repl_pretty.h"

#include "sx_dict.h"
#include "sx_read.h"

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
  sx_buf b = SX_BUF_INIT;
  for (size_t i = 0; i < t->n; i++) {
    size_t col = i % t->ncols, len = strlen(t->cells[i]);
    size_t pad = w[col] - repl_columns(t->cells[i], len);
    bool header = i < t->ncols && !t->no_header, last = col + 1 == t->ncols;
    if (header && r->colour) sx_buf_puts(&b, REPL_SGR_BOLD);
    if (t->align[col] == 'r') sx_buf_printf(&b, "%*s", (int)pad, "");
    sx_buf_put(&b, t->cells[i], len);
    if (header && r->colour) sx_buf_puts(&b, REPL_SGR_RESET);
    if (t->align[col] != 'r' && !last) sx_buf_printf(&b, "%*s", (int)pad, "");
    sx_buf_puts(&b, last ? "\n" : "  ");
    free(t->cells[i]);
  }
  fwrite(b.data, 1, b.len, stdout);
  sx_buf_free(&b);
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
    sx_buf err = SX_BUF_INIT;
    const char *name = about[0] == ':' ? about + 1 : about;
    const repl_cmd_info *c = repl_meta_find(name, strlen(name), &err);
    sx_buf_putc(&err, '\0');
    if (c) printf(":%s%s%s\n  %s\n", c->name, *c->usage ? " " : "", c->usage, c->help);
    else repl_say_error(r, err.data);
    sx_buf_free(&err);
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
  size_t n = repl_store_streams(r->st, &rows);
  if (!n) {
    puts("no streams yet");
    return;
  }
  table t = {.ncols = 4, .align = "lrrr"};
  const char *head[] = {"stream", "stored events", "last seq", "first stored seq"};
  for (int i = 0; i < 4; i++) table_add(&t, head[i]);
  for (size_t i = 0; i < n; i++) {
    table_add(&t, sx_str_data(rows[i].name));
    table_addf(&t, "%lld", (long long)rows[i].stored);
    table_addf(&t, "%lld", (long long)rows[i].last_seq);
    if (rows[i].first_seq) table_addf(&t, "%lld", (long long)rows[i].first_seq);
    else table_add(&t, "-");
  }
  table_print(r, &t);
}

/* Is there a stream of that name (ever appended to)? Says so if not. */
static bool stream_known(repl *r, const char *name, sx_val *stream) {
  *stream = sx_string_cstr(name);
  for (sx_val s = store_streams(r->st); sx_is_cons(s); s = sx_cdr(s))
    if (sx_string_eq(sx_car(s), *stream)) return true;
  err_f(r, "no stream \"%s\" (:streams lists them)", name, 0);
  return false;
}

/* A value in a cell, printed on one line and cut to width; a short
 * one-line string bare when bare. */
static void cell_value(table *t, sx_val v, int width, bool bare) {
  sx_buf b = SX_BUF_INIT;
  if (bare && sx_is_string(v) && sx_str_len(v) <= (size_t)width && !memchr(sx_str_data(v), '\n', sx_str_len(v)))
    sx_buf_put(&b, sx_str_data(v), sx_str_len(v));
  else repl_pretty_line(&b, v, width);
  sx_buf_putc(&b, '\0');
  table_add(t, b.data);
  sx_buf_free(&b);
}

static sx_val field(sx_val event, const char *name) {
  return sx_dict_get(event, sx_string_cstr(name), SX_NIL);
}

static void cmd_tail(repl *r, const char *name, int64_t n) {
  sx_val stream;
  if (!stream_known(r, name, &stream)) return;
  sx_val evs = repl_store_tail(r->st, stream, (size_t)n);
  if (evs == SX_EMPTY) {
    printf("%s: no stored events (last seq %lld)\n", name, (long long)store_last_seq(r->st, stream));
    return;
  }
  table t = {.ncols = 4, .align = "rlll"};
  const char *head[] = {"seq", "type", "at", "data"};
  for (int i = 0; i < 4; i++) table_add(&t, head[i]);
  int width = repl_width(r);
  for (; sx_is_cons(evs); evs = sx_cdr(evs)) {
    sx_val e = sx_car(evs);
    cell_value(&t, field(e, "seq"), 20, true);
    cell_value(&t, field(e, "type"), 24, true);
    cell_value(&t, field(e, "at"), 24, true);
    cell_value(&t, field(e, "data"), width > 60 ? width - 36 : 24, false);
  }
  table_print(r, &t);
}

static void cmd_show(repl *r, const char *name, int64_t seq) {
  sx_val stream;
  if (!stream_known(r, name, &stream)) return;
  sx_val e = repl_store_event(r->st, stream, seq);
  if (e != SX_NIL) {
    repl_show_value(r, e);
    return;
  }
  int64_t last = store_last_seq(r->st, stream);
  if (seq > last) err_f(r, "stream \"%s\" has no event %lld", name, (long long)seq);
  else err_f(r, "event %2$lld of stream \"%1$s\" is no longer stored (compacted away)", name, (long long)seq);
}

static void cmd_kv(repl *r, const char *prefix) {
  sx_val keys = repl_store_kv_keys(r->st, prefix);
  if (keys == SX_EMPTY) {
    if (prefix) say("no kv keys start with \"%s\"", prefix);
    else puts("no kv keys yet");
    return;
  }
  table t = {.ncols = 2, .align = "ll"};
  table_add(&t, "key");
  table_add(&t, "value");
  int width = repl_width(r);
  for (; sx_is_cons(keys); keys = sx_cdr(keys)) {
    table_add(&t, sx_str_data(sx_car(keys)));
    cell_value(&t, store_kv_get(r->st, sx_car(keys)), width > 50 ? width - 26 : 24, false);
  }
  table_print(r, &t);
}

static void cmd_get(repl *r, const char *key) {
  sx_val k = sx_string_cstr(key);
  if (!store_kv_has(r->st, k)) err_f(r, "no kv key \"%s\" (:kv lists them)", key, 0);
  else repl_show_value(r, store_kv_get(r->st, k));
}

static void cmd_blobs(repl *r) {
  repl_blob_row *rows;
  size_t n = repl_store_blobs(r->st, &rows);
  if (!n) {
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
  repl_store_summarise(r->st, &s);
  char log[32], blobs[32], index[32], cache[32];
  human_bytes(log, sizeof log, s.stats.log_bytes);
  human_bytes(blobs, sizeof blobs, s.blob_bytes);
  human_bytes(index, sizeof index, s.stats.index_bytes);
  human_bytes(cache, sizeof cache, s.stats.cache_bytes);
  printf("store      %s (%s)\n", store_dir(r->st), s.stats.read_only ? "read-only" : "open for writing");
  printf("sync mode  %s\n", store_sync_name(s.stats.sync));
  printf("log        %s\n", log);
  printf("streams    %zu\n", s.stats.streams);
  printf("events     %zu stored\n", s.stats.events);
  printf("kv keys    %zu\n", s.stats.kv_keys);
  printf("blobs      %zu (%s)\n", s.blobs, blobs);
  printf("memory     index %s, cache %s\n", index, cache);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void cmd_time(repl *r, const char *src) {
  sx_val err = SX_NIL;
  sx_val forms = sx_read_all(src, strlen(src), sx_string_cstr("<time>"), &err);
  if (forms == SX_UNDEF) {
    repl_show_error(r, sx_error_new(err, SX_NIL));
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
  sx_val err = SX_NIL;
  if (store_refresh(r->st, &err) != 0) {
    repl_show_error(r, err);
    return;
  }
  store_stats s;
  store_get_stats(r->st, &s);
  printf("refreshed: %zu stream%s, %zu event%s, %zu kv key%s\n", s.streams, s.streams == 1 ? "" : "s",
         s.events, s.events == 1 ? "" : "s", s.kv_keys, s.kv_keys == 1 ? "" : "s");
}

void repl_run_meta(repl *r, const char *line) {
  repl_meta m;
  sx_buf err = SX_BUF_INIT;
  if (repl_meta_parse(line, &m, &err) != 0) {
    sx_buf_putc(&err, '\0');
    repl_say_error(r, err.data);
    sx_buf_free(&err);
    return;
  }
  switch (m.cmd) {
  case REPL_CMD_HELP: cmd_help(r, m.word); break;
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
  case REPL_CMD_QUIT: r->quit = true; break;
  }
  fflush(stdout);
  repl_meta_free(&m);
}
