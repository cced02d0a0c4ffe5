/* sx_api_dump.c — whole stores as text and copies (docs/tools.md): dump
 * (SX data, one record per line, canonical order), load (a dump rebuilt
 * into an empty store through store_restore_*), export of one stream as
 * JSON or CSV, and online backup (store_backup). Each opens its own
 * read-only handle (or none) on the directory it is given, not the VM's. */
#include "sx_api_int.h"

#include "blob.h"
#include "codec.h"
#include "sx_dict.h"
#include "sx_print.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DUMP_VERSION 1

/* err: the store's message string, or an error value read from it. */
static sxapi_code dump_fail(const char *who, sx_val err) {
  return api_fail(SXAPI_ERR_STORE, who, "%s", sx_str_data(sx_error_message(err)));
}

/* A read-only handle on dir. A scan next to a writer can race its copy of
 * a frame and take it for damage (real damage stays): try a few times. */
static int open_ro(const char *dir, store **s, sx_val *err) {
  store_opts o = {.read_only = true};
  for (int tries = 0;; tries++) {
    if (store_open(dir, &o, s, err) == 0) return 0;
    if (tries == 9 || !strstr(sx_str_data(sx_error_message(*err)), "damaged")) return -1;
    usleep(20000);
  }
}

/* ---- dump ------------------------------------------------------------------- */

typedef struct dumper {
  FILE *out;
  sx_buf line;
  size_t streams, events, kv, blobs;
} dumper;

static void put_str(sx_buf *b, const char *s) { sx_buf_put(b, s, strlen(s)); }

/* Write the line built so far (and a newline); false on a write error. */
static bool emit(dumper *d) {
  sx_buf_putc(&d->line, '\n');
  bool ok = fwrite(d->line.data, 1, d->line.len, d->out) == d->line.len;
  sx_buf_reset(&d->line);
  return ok;
}

static bool dump_stream(dumper *d, store *s, sx_val name) {
  put_str(&d->line, "{:stream ");
  sx_print(&d->line, name);
  char n[32];
  snprintf(n, sizeof n, " :last-seq %lld}", (long long)store_last_seq(s, name));
  put_str(&d->line, n);
  if (!emit(d)) return false;
  d->streams++;
  for (sx_val l = store_read(s, name); sx_is_cons(l); l = sx_cdr(l)) {
    put_str(&d->line, "{:stream ");
    sx_print(&d->line, name);
    put_str(&d->line, " :event ");
    sx_print(&d->line, sx_car(l));
    put_str(&d->line, "}");
    if (!emit(d)) return false;
    d->events++;
  }
  return true;
}

static bool dump_kv(dumper *d, store *s, sx_val key) {
  put_str(&d->line, "{:kv ");
  sx_print(&d->line, key);
  put_str(&d->line, " :value ");
  sx_print(&d->line, store_kv_get(s, key));
  put_str(&d->line, "}");
  d->kv++;
  return emit(d);
}

static bool dump_blob(dumper *d, store *s, sx_val cid, sx_val *err) {
  sx_val bytes = SX_NIL;
  if (store_blob_get(s, cid, &bytes, err)) return false;
  if (bytes == SX_NIL) return true; /* removed since it was listed */
  put_str(&d->line, "{:blob ");
  sx_print(&d->line, cid);
  put_str(&d->line, " :bytes ");
  sx_print(&d->line, bytes);
  put_str(&d->line, "}");
  d->blobs++;
  return emit(d);
}

/* Every record of s in canonical order; false with *err (or a write error). */
static bool dump_all(dumper *d, store *s, sx_val *err) {
  char head[64];
  snprintf(head, sizeof head, "{:sx-dump %d}", DUMP_VERSION);
  put_str(&d->line, head);
  if (!emit(d)) return false;
  for (sx_val l = store_streams(s); sx_is_cons(l); l = sx_cdr(l)) {
    sx_val evs = store_read(s, sx_car(l));
    if (sx_is(evs, SX_T_ERROR)) return *err = evs, false;
    if (!dump_stream(d, s, sx_car(l))) return false;
  }
  for (sx_val l = store_kv_keys(s); sx_is_cons(l); l = sx_cdr(l)) {
    if (sx_is(store_kv_get(s, sx_car(l)), SX_T_ERROR)) return *err = store_kv_get(s, sx_car(l)), false;
    if (!dump_kv(d, s, sx_car(l))) return false;
  }
  sx_val cids = store_blobs(s);
  if (sx_is(cids, SX_T_ERROR)) return *err = cids, false;
  for (sx_val l = cids; sx_is_cons(l); l = sx_cdr(l))
    if (!dump_blob(d, s, sx_car(l), err)) return false;
  snprintf(head, sizeof head, "{:end {:streams %zu :events %zu :kv %zu :blobs %zu}}", d->streams, d->events,
           d->kv, d->blobs);
  put_str(&d->line, head);
  return emit(d) && fflush(d->out) == 0;
}

sxapi_code sxapi_store_dump(sxapi_vm *vm, const char *dir, FILE *out) {
  static const char *who = "sxapi_store_dump";
  API_ENTER(vm, who);
  if (!dir || !out) return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "dir and out must not be NULL"));
  store *s;
  sx_val err = SX_NIL, ignored;
  if (open_ro(dir, &s, &err)) return api_leave(vm, dump_fail(who, err));
  dumper d = {.out = out, .line = SX_BUF_INIT};
  bool ok = dump_all(&d, s, &err);
  sx_buf_free(&d.line);
  store_close(s, &ignored);
  if (ok) return api_leave(vm, SXAPI_OK);
  if (err == SX_NIL) return api_leave(vm, api_fail(SXAPI_ERR_IO, who, "writing the dump failed"));
  return api_leave(vm, dump_fail(who, err));
}

/* ---- load ------------------------------------------------------------------- */

static sx_val field(sx_val d, const char *name) { return sx_dict_get(d, sx_string_cstr(name), SX_UNDEF); }

/* The counts an end record gives (each may be left out) are those read:
 * a dump that lost lines in the middle is refused like one cut short. */
static int end_counts_match(sx_val end, const sxapi_store_load_stats *st, sx_val *err) {
  const char *names[] = {"streams", "events", "kv", "blobs"};
  size_t read[] = {st->streams, st->events, st->kv_keys, st->blobs};
  for (int i = 0; i < 4; i++) {
    sx_val n = sx_is_dict(end) ? field(end, names[i]) : SX_UNDEF;
    if (n == SX_UNDEF || (sx_is_int(n) && sx_int_val(n) == (int64_t)read[i])) continue;
    *err = store_errorf("the end line counts %s %s, but the dump holds %zu (lines lost?)",
                        sx_str_data(sx_print_to_string(n)), names[i], read[i]);
    return -1;
  }
  return 0;
}

/* One dump line (a dict) into r; *ended when it was the end record. */
static int load_record(store_restore *r, sx_val d, sxapi_store_load_stats *st, bool *ended, sx_val *err) {
  sx_val a, b;
  if ((a = field(d, "sx-dump")) != SX_UNDEF) {
    if (sx_is_int(a) && sx_int_val(a) == DUMP_VERSION) return 0;
    return *err = sx_string_cstr("not a dump of a version this sx reads"), -1;
  }
  if ((a = field(d, "stream")) != SX_UNDEF && sx_is_string(a)) {
    if ((b = field(d, "event")) != SX_UNDEF) return st->events++, store_restore_event(r, b, err);
    b = field(d, "last-seq");
    if (!sx_is_int(b)) return *err = sx_string_cstr("a stream record without :last-seq"), -1;
    return st->streams++, store_restore_stream(r, a, sx_int_val(b), err);
  }
  if ((a = field(d, "kv")) != SX_UNDEF && sx_is_string(a) && (b = field(d, "value")) != SX_UNDEF)
    return st->kv_keys++, store_restore_kv(r, a, b, err);
  if ((a = field(d, "blob")) != SX_UNDEF && sx_is_string(a) && sx_is_string(b = field(d, "bytes")))
    return st->blobs++, store_restore_blob(r, a, b, err);
  if ((a = field(d, "end")) != SX_UNDEF) return *ended = true, end_counts_match(a, st, err);
  return *err = sx_string_cstr("not a dump record"), -1;
}

/* Read the dump from in into r; 0, or -1 with *err naming the line. */
static int load_lines(store_restore *r, FILE *in, sxapi_store_load_stats *st, sx_val *err) {
  char *buf = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t n;
  bool ended = false, headed = false;
  int rc = 0;
  while (!rc && !ended && (n = getline(&buf, &cap, in)) >= 0) {
    lineno++;
    sx_val forms, rerr = SX_NIL;
    if (api_read_forms(buf, (size_t)n, sx_string_cstr("<dump>"), &forms, &rerr) != SXAPI_OK) {
      *err = sx_error_message(rerr);
      rc = -1;
    } else if (forms == SX_EMPTY) {
      continue;
    } else if (!sx_is_dict(sx_car(forms)) || sx_cdr(forms) != SX_EMPTY) {
      *err = sx_string_cstr("expected one dict per line");
      rc = -1;
    } else if (!headed && field(sx_car(forms), "sx-dump") == SX_UNDEF) {
      *err = sx_string_cstr("not an sx dump (no {:sx-dump N} line first)");
      rc = -1;
    } else {
      headed = true;
      rc = load_record(r, sx_car(forms), st, &ended, err);
    }
  }
  free(buf);
  if (rc) *err = store_errorf("line %zu: %s", lineno, sx_str_data(sx_error_message(*err)));
  else if (!ended) *err = sx_string_cstr("the dump ends without its {:end ...} line (cut short?)"), rc = -1;
  return rc;
}

sxapi_code sxapi_store_load(sxapi_vm *vm, const char *dir, FILE *in, sxapi_store_load_stats *out) {
  static const char *who = "sxapi_store_load";
  API_ENTER(vm, who);
  if (!dir || !in) return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "dir and in must not be NULL"));
  sxapi_store_load_stats st = {0};
  store_restore *r;
  sx_val err = SX_NIL;
  int rc = store_restore_begin(dir, &r, &err);
  if (!rc && load_lines(r, in, &st, &err)) {
    store_restore_abandon(r);
    rc = -1;
  } else if (!rc) {
    rc = store_restore_finish(r, &err);
  }
  if (out) *out = st;
  return api_leave(vm, rc ? dump_fail(who, err) : SXAPI_OK);
}

/* ---- backup ------------------------------------------------------------------- */

sxapi_code sxapi_store_backup(sxapi_vm *vm, const char *dir, const char *dest,
                              sxapi_store_backup_stats *out) {
  static const char *who = "sxapi_store_backup";
  API_ENTER(vm, who);
  if (!dir || !dest) return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "dir and dest must not be NULL"));
  store_backup_stats st;
  sx_val err = SX_NIL;
  int rc = store_backup(dir, dest, &st, &err);
  if (out) *out = (sxapi_store_backup_stats){st.log_bytes, st.streams, st.events, st.kv_keys, st.blobs};
  return api_leave(vm, rc ? dump_fail(who, err) : SXAPI_OK);
}

/* ---- export: JSON and CSV ----------------------------------------------------------- */

/* A JSON string of the bytes s[0..n): valid UTF-8 as itself, each other
 * byte as the code point of the same number (\u00HH). */
static void json_string(sx_buf *b, const char *s, size_t n) {
  sx_buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    size_t k = 0;
    if (c == '"' || c == '\\') sx_buf_putc(b, '\\'), sx_buf_putc(b, (char)c);
    else if (c == '\n') put_str(b, "\\n");
    else if (c == '\t') put_str(b, "\\t");
    else if (c == '\r') put_str(b, "\\r");
    else if (c < 0x20 || c == 0x7f) snprintf(esc, sizeof esc, "\\u%04x", c), put_str(b, esc);
    else if (c < 0x80) sx_buf_putc(b, (char)c);
    else {
      /* a well-formed UTF-8 sequence is copied; any other byte escaped */
      k = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = k && i + k <= n;
      for (size_t j = 1; ok && j < k; j++) ok = ((unsigned char)s[i + j] & 0xc0) == 0x80;
      if (ok) sx_buf_put(b, s + i, k), i += k - 1;
      else snprintf(esc, sizeof esc, "\\u%04x", c), put_str(b, esc);
    }
  }
  sx_buf_putc(b, '"');
}

static void json_value(sx_buf *b, sx_val v);

static void json_dict(sx_buf *b, sx_val v) {
  sx_buf_putc(b, '{');
  bool first = true;
  for (sx_val ks = sx_dict_keys(v); sx_is_cons(ks); ks = sx_cdr(ks), first = false) {
    if (!first) sx_buf_putc(b, ',');
    json_string(b, sx_str_data(sx_car(ks)), sx_str_len(sx_car(ks)));
    sx_buf_putc(b, ':');
    json_value(b, sx_dict_get(v, sx_car(ks), SX_NIL));
  }
  sx_buf_putc(b, '}');
}

/* The JSON mapping (docs/tools.md). Nesting is bounded by the codec's
 * limit (stored values nest at most CODEC_MAX_DEPTH deep). */
static void json_value(sx_buf *b, sx_val v) {
  char num[40];
  if (v == SX_NIL) put_str(b, "null");
  else if (v == SX_TRUE) put_str(b, "true");
  else if (v == SX_FALSE) put_str(b, "false");
  else if (sx_is_int(v)) snprintf(num, sizeof num, "%lld", (long long)sx_int_val(v)), put_str(b, num);
  else if (sx_is_float(v) && !isfinite(sx_float_val(v))) put_str(b, "null");
  else if (sx_is_float(v)) sx_buf_put(b, num, (size_t)sx_format_float(num, sx_float_val(v)));
  else if (sx_is_string(v) || sx_is_symbol(v)) {
    sx_val s = sx_is_string(v) ? v : sx_sym_name(v);
    json_string(b, sx_str_data(s), sx_str_len(s));
  } else if (sx_is(v, SX_T_KEYWORD)) {
    sx_val s = sx_print_to_string(v); /* ":name" */
    json_string(b, sx_str_data(s), sx_str_len(s));
  } else if (sx_is_dict(v)) json_dict(b, v);
  else { /* a list: the codec stores no other kind of value */ sx_buf_putc(b, '[');
    for (sx_val l = v; sx_is_cons(l); l = sx_cdr(l)) {
      json_value(b, sx_car(l));
      if (sx_is_cons(sx_cdr(l))) sx_buf_putc(b, ',');
    }
    sx_buf_putc(b, ']');
  }
}

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
static void csv_field(sx_buf *b, const char *s, size_t n) {
  bool quote = false;
  for (size_t i = 0; i < n && !quote; i++) quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
  if (!quote) {
    sx_buf_put(b, s, n);
    return;
  }
  sx_buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') sx_buf_putc(b, '"');
    sx_buf_putc(b, s[i]);
  }
  sx_buf_putc(b, '"');
}

/* The columns: every top-level key of the events, "seq" first, then byte
 * order. Stored events are dicts: the resolver appends nothing else, and a
 * load takes an event's seq from its dict. */
static sx_val csv_columns(sx_val evs) {
  sx_val all = sx_dict_empty();
  for (sx_val l = evs; sx_is_cons(l); l = sx_cdr(l))
    for (sx_val ks = sx_dict_keys(sx_car(l)); sx_is_cons(ks); ks = sx_cdr(ks))
      all = sx_dict_assoc(all, sx_car(ks), SX_TRUE);
  sx_val seq = sx_string_cstr("seq");
  return sx_cons(seq, sx_dict_keys(sx_dict_dissoc(all, seq)));
}

/* A cell: a string as its bytes, nothing for an absent key, else JSON. */
static void csv_cell(sx_buf *b, sx_val v) {
  sx_buf cell = SX_BUF_INIT;
  if (sx_is_string(v)) sx_buf_put(&cell, sx_str_data(v), sx_str_len(v));
  else if (v != SX_UNDEF) json_value(&cell, v);
  csv_field(b, cell.data ? cell.data : "", cell.len);
  sx_buf_free(&cell);
}

static void export_csv(sx_buf *b, sx_val evs) {
  sx_val cols = csv_columns(evs);
  for (sx_val c = cols; sx_is_cons(c); c = sx_cdr(c)) {
    csv_field(b, sx_str_data(sx_car(c)), sx_str_len(sx_car(c)));
    sx_buf_putc(b, sx_is_cons(sx_cdr(c)) ? ',' : '\n');
  }
  for (sx_val l = evs; sx_is_cons(l); l = sx_cdr(l))
    for (sx_val c = cols; sx_is_cons(c); c = sx_cdr(c)) {
      csv_cell(b, sx_dict_get(sx_car(l), sx_car(c), SX_UNDEF));
      sx_buf_putc(b, sx_is_cons(sx_cdr(c)) ? ',' : '\n');
    }
}

/* A JSON array, one event a line. */
static void export_json(sx_buf *b, sx_val evs) {
  sx_buf_putc(b, '[');
  for (sx_val l = evs; sx_is_cons(l); l = sx_cdr(l)) {
    sx_buf_putc(b, '\n');
    json_value(b, sx_car(l));
    if (sx_is_cons(sx_cdr(l))) sx_buf_putc(b, ',');
  }
  put_str(b, "\n]\n");
}

sxapi_code sxapi_store_export(sxapi_vm *vm, const char *dir, const char *stream, const char *format,
                              FILE *out) {
  static const char *who = "sxapi_store_export";
  API_ENTER(vm, who);
  if (!dir || !stream || !format || !out)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "dir, stream, format and out must not be NULL"));
  bool json = strcmp(format, "json") == 0;
  if (!json && strcmp(format, "csv") != 0)
    return api_leave(vm, api_fail(SXAPI_ERR_ARG, who, "unknown format '%s' (expected json or csv)", format));
  store *s;
  sx_val err = SX_NIL, ignored;
  if (open_ro(dir, &s, &err)) return api_leave(vm, dump_fail(who, err));
  sx_val evs = store_read(s, sx_string_cstr(stream));
  sxapi_code rc = SXAPI_OK;
  if (sx_is(evs, SX_T_ERROR)) rc = dump_fail(who, evs);
  else {
    sx_buf b = SX_BUF_INIT;
    if (json) export_json(&b, evs);
    else export_csv(&b, evs);
    if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0)
      rc = api_fail(SXAPI_ERR_IO, who, "writing the export failed");
    sx_buf_free(&b);
  }
  store_close(s, &ignored);
  return api_leave(vm, rc);
}
