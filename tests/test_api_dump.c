/* test_api_dump.c — whole stores as text through the public header
 * (docs/tools.md): dump and export report a failed write at any byte,
 * export maps every storable value to JSON and quotes CSV cells, load
 * names the line of each kind of bad record (and refuses a dump whose
 * end line counts other records than it holds), damage found while dumping
 * is an error, and the calls' misuse. */
#include "sx_test_api.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static char *dir;
static char store_path[600], other_path[600];

static void dump_setup(void) {
  api_setup();
  dir = scratch_dir();
  snprintf(store_path, sizeof store_path, "%s/store", dir);
  snprintf(other_path, sizeof other_path, "%s/other", dir);
}

static void dump_teardown(void) {
  api_teardown();
  scratch_remove(dir);
}

TestSuite(api_dump, .init = dump_setup, .fini = dump_teardown);

/* Evaluate src in a VM on the store at path (then closed). */
static void write_store(const char *path, const char *src) {
  sxapi_vm *w = sxapi_open();
  cr_assert_not_null(w);
  CODE(sxapi_store_open(w, path, NULL), SXAPI_OK);
  CODE(sxapi_eval(w, src, NULL), SXAPI_OK);
  CODE(sxapi_free(w), SXAPI_OK);
}

/* An event appended as the resolver takes it: seq given, no :at. */
#define APPEND(stream, seq, data)                                                                            \
  "(perform {:op \"persist/append\" :args (list \"" stream "\" {:seq " #seq " :type \"t\" :data " data "})})"
#define KV_PUT(key, value) "(perform {:op \"persist/kv-put\" :args (list \"" key "\" " value ")})"
#define BLOB_PUT(bytes) "(perform {:op \"blob/put\" :args (list " bytes " \"text/plain\")})"

/* The whole of what fn writes to a memory stream, as a NUL-terminated string. */
/* Not inlined: at -O3 GCC 12 takes the returned buffer for the address of
 * the local `buf` and warns of a dangling pointer. */
__attribute__((noinline)) static char *capture(sxapi_code (*fn)(FILE *), sxapi_code want) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  CODE(fn(f), want);
  fclose(f);
  return buf;
}

static sxapi_code dump_store(FILE *f) { return sxapi_store_dump(vm, store_path, f); }
static sxapi_code export_json(FILE *f) { return sxapi_store_export(vm, store_path, "s", "json", f); }
static sxapi_code export_csv(FILE *f) { return sxapi_store_export(vm, store_path, "s", "csv", f); }

/* fn, writing to a stream that takes only the first `room` bytes (> 0). */
static sxapi_code into_room(sxapi_code (*fn)(FILE *), size_t room) {
  char *buf = malloc(room);
  FILE *f = fmemopen(buf, room, "w");
  cr_assert_not_null(f);
  setvbuf(f, NULL, _IONBF, 0);
  sxapi_code rc = fn(f);
  fclose(f);
  free(buf);
  return rc;
}

/* ---- writing fails ------------------------------------------------------------- */

static const char *full_store =
    APPEND("s", 1, "1") " " APPEND("s", 2, "2") " " APPEND("u", 1, "3") " " KV_PUT("k", "{:a 1}") " " KV_PUT(
        "l", "2") " " BLOB_PUT("\"blob one\"") " " BLOB_PUT("\"blob two\"");

static void every_short_write_fails(sxapi_code (*fn)(FILE *), const char *what) {
  char *all = capture(fn, SXAPI_OK);
  size_t n = strlen(all);
  for (size_t room = 1; room < n; room++) {
    CODE(into_room(fn, room), SXAPI_ERR_IO);
    MSG_HAS(what);
  }
  CODE(into_room(fn, n), SXAPI_OK);
  free(all);
}

Test(api_dump, a_dump_that_cannot_be_written_at_any_byte_is_an_io_error) {
  write_store(store_path, full_store);
  every_short_write_fails(dump_store, "sxapi_store_dump: writing the dump failed");
}

Test(api_dump, an_export_that_cannot_be_written_is_an_io_error) {
  write_store(store_path, full_store);
  CODE(into_room(export_json, 3), SXAPI_ERR_IO);
  MSG_HAS("sxapi_store_export: writing the export failed");
  CODE(into_room(export_csv, 3), SXAPI_ERR_IO);
}

/* ---- export -------------------------------------------------------------------- */

Test(api_dump, export_maps_every_storable_value_to_json) {
  write_store(
      store_path,
      APPEND(
          "s", 1,
          "(list nil true false -7 1.5 (/ 1.0 0) (- (/ 1.0 0)) 'sym (keyword \"kw\") (list) (list 1 (list 2)))"));
  char *json = capture(export_json, SXAPI_OK);
  cr_assert(strstr(json, "\"data\":[null,true,false,-7,1.5,null,null,\"sym\",\":kw\",[],[1,[2]]]"), "%s",
            json);
  cr_assert(strncmp(json, "[\n{\"data\":", 9) == 0 && strstr(json, "\"seq\":1,\"type\":\"t\"}\n]\n"), "%s",
            json);
  free(json);
}

Test(api_dump, export_json_escapes_control_bytes_and_broken_utf8) {
  /* quote, backslash, \n \t \r, \x01 and DEL; UTF-8 of 2, 3 and 4 bytes kept;
   * a stray continuation byte, a lead byte of an overlong form, a lead byte
   * past U+10FFFF, a bad continuation and a sequence cut at the end escaped */
  write_store(store_path, APPEND("s", 1,
                                 "\"q\\\"b\\\\n\\nt\\tr\\rc\\x01d\\x7fé€😀"
                                 "\\x80\\xc0\\xf5\\xe2x\\xe2\\x82\""));
  char *json = capture(export_json, SXAPI_OK);
  const char *want = "\"data\":\"q\\\"b\\\\n\\nt\\tr\\rc\\u0001d\\u007fé€😀"
                     "\\u0080\\u00c0\\u00f5\\u00e2x\\u00e2\\u0082\"";
  cr_assert(strstr(json, want), "%s\nlacks %s", json, want);
  free(json);
}

Test(api_dump, export_csv_quotes_cells_and_leaves_absent_keys_empty) {
  write_store(store_path,
              APPEND("s", 1, "\"a,b\"") " (perform {:op \"persist/append\" :args (list \"s\" {:seq 2 :type "
                                        "\"say \\\"hi\\\"\" :x \"l1\\nl2\" :y \"cr\\r\"})})");
  char *csv = capture(export_csv, SXAPI_OK);
  char *rows = strchr(csv, '\n');
  cr_assert_not_null(rows);
  *rows++ = '\0';
  cr_assert_str_eq(csv, "seq,data,type,x,y");
  cr_assert(strstr(rows, "1,\"a,b\",t,,\n"), "%s", rows);
  cr_assert(strstr(rows, "2,,\"say \"\"hi\"\"\",\"l1\nl2\",\"cr\r\"\n"), "%s", rows);
  free(csv);
}

Test(api_dump, export_of_a_stream_never_written_is_empty) {
  write_store(store_path, APPEND("u", 1, "1"));
  char *json = capture(export_json, SXAPI_OK), *csv = capture(export_csv, SXAPI_OK);
  cr_assert_str_eq(json, "[\n]\n");
  cr_assert_str_eq(csv, "seq\n");
  free(json);
  free(csv);
}

/* ---- load ---------------------------------------------------------------------- */

/* Load text into a fresh store; the code, with the message in sxapi_errmsg. */
static sxapi_code load_text(const char *text, sxapi_store_load_stats *st) {
  static int n;
  char path[700];
  snprintf(path, sizeof path, "%s/load%d", dir, n++);
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  cr_assert_not_null(in);
  sxapi_code rc = sxapi_store_load(vm, path, in, st);
  fclose(in);
  return rc;
}

#define HEAD "{:sx-dump 1}\n"
#define END "{:end {:streams 0 :events 0 :kv 0 :blobs 0}}\n"

static void refused(const char *text, const char *msg) {
  CODE(load_text(text, NULL), SXAPI_ERR_STORE);
  MSG_HAS(msg);
}

Test(api_dump, load_names_the_line_of_a_bad_record) {
  refused("(1 2\n", "line 1: ");
  refused("[1 2]\n", "line 1: expected one dict per line");
  refused(HEAD "{:kv \"a\" :value 1} {:kv \"b\" :value 2}\n" END, "line 2: expected one dict per line");
  refused("{:kv \"a\" :value 1}\n" HEAD END, "line 1: not an sx dump (no {:sx-dump N} line first)");
  refused("{:sx-dump 2}\n" END, "line 1: not a dump of a version this sx reads");
  refused("{:sx-dump \"1\"}\n" END, "not a dump of a version this sx reads");
  refused(HEAD "{:stream \"s\"}\n" END, "line 2: a stream record without :last-seq");
  refused(HEAD "{:stream \"s\" :last-seq \"3\"}\n" END, "a stream record without :last-seq");
  refused(HEAD "{:stream :s :last-seq 3}\n" END, "line 2: not a dump record");
  refused(HEAD "{:kv \"k\"}\n" END, "line 2: not a dump record");
  refused(HEAD "{:kv 1 :value 2}\n" END, "line 2: not a dump record");
  refused(HEAD "{:blob \"x\" :bytes 5}\n" END, "line 2: not a dump record");
  refused(HEAD "{:blob 5 :bytes \"x\"}\n" END, "line 2: not a dump record");
  refused(HEAD "{:what 1}\n" END, "line 2: not a dump record");
  refused(HEAD, "the dump ends without its {:end ...} line (cut short?)");
  refused("", "the dump ends without its {:end ...} line");
}

Test(api_dump, load_skips_blank_lines_and_counts_what_it_read) {
  sxapi_store_load_stats st;
  CODE(load_text("\n" HEAD "\n{:stream \"s\" :last-seq 4}\n   \n"
                 "{:kv \"k\" :value 1}\n{:end {:streams 1 :events 0 :kv 1 :blobs 0}}\n",
                 &st),
       SXAPI_OK);
  cr_assert_eq(st.streams, 1);
  cr_assert_eq(st.events, 0);
  cr_assert_eq(st.kv_keys, 1);
  CODE(load_text(HEAD "{:end {}}\n", NULL), SXAPI_OK); /* the counts may be left out */
}

Test(api_dump, load_refuses_a_dump_that_lost_lines_in_the_middle) {
  write_store(store_path, full_store);
  char *all = capture(dump_store, SXAPI_OK);
  CODE(load_text(all, NULL), SXAPI_OK);
  for (const char *kind = "{:stream \"s\" :event"; kind; kind = strcmp(kind, "{:blob") ? "{:blob" : NULL) {
    char *cut = strdup(all), *line = strstr(cut, kind);
    memmove(line, strchr(line, '\n') + 1, strlen(strchr(line, '\n') + 1) + 1);
    CODE(load_text(cut, NULL), SXAPI_ERR_STORE);
    MSG_HAS(strcmp(kind, "{:blob") ? "the end line counts 3 events, but the dump holds 2 (lines lost?)"
                                   : "the end line counts 2 blobs, but the dump holds 1");
    free(cut);
  }
  refused(HEAD "{:end {:streams \"none\"}}\n",
          "line 2: the end line counts \"none\" streams, but the dump holds 0");
  free(all);
}

/* ---- damage and misuse ----------------------------------------------------------- */

/* The one entry of directory path that is not . or .., into name. */
static void only_entry(const char *path, char *name, size_t cap) {
  DIR *d = opendir(path);
  cr_assert_not_null(d, "%s", path);
  struct dirent *e;
  while ((e = readdir(d)) && e->d_name[0] == '.') {
  }
  cr_assert_not_null(e, "%s is empty", path);
  snprintf(name, cap, "%s", e->d_name);
  closedir(d);
}

Test(api_dump, a_blob_whose_bytes_no_longer_match_its_id_fails_the_dump) {
  write_store(store_path, BLOB_PUT("\"blob one\""));
  char shard[256], cid[256], path[1200];
  snprintf(path, sizeof path, "%s/blobs", store_path);
  only_entry(path, shard, sizeof shard);
  snprintf(path, sizeof path, "%s/blobs/%s", store_path, shard);
  only_entry(path, cid, sizeof cid);
  snprintf(path, sizeof path, "%s/blobs/%s/%s", store_path, shard, cid);
  FILE *f = fopen(path, "r+");
  cr_assert_not_null(f);
  fputc('X', f);
  fclose(f);
  char *out = capture(dump_store, SXAPI_ERR_STORE);
  MSG_HAS("sxapi_store_dump: ");
  MSG_HAS(cid);
  free(out);
}

Test(api_dump, a_damaged_log_fails_the_dump_and_the_export) {
  write_store(store_path, APPEND("s", 1, "1") " " APPEND("s", 2, "\"some data to break\""));
  write_store(store_path, APPEND("s", 3, "3"));
  char log[700];
  snprintf(log, sizeof log, "%s/log", store_path);
  int fd = open(log, O_RDWR);
  cr_assert_geq(fd, 0);
  cr_assert_eq(pwrite(fd, "XXXX", 4, 40), 4);
  close(fd);
  char *out = capture(dump_store, SXAPI_ERR_STORE);
  MSG_HAS("damaged");
  free(out);
  out = capture(export_json, SXAPI_ERR_STORE);
  MSG_HAS("damaged");
  free(out);
}

Test(api_dump, misuse_is_reported) {
  FILE *f = fopen("/dev/null", "w");
  CODE(sxapi_store_dump(vm, NULL, f), SXAPI_ERR_ARG);
  MSG_HAS("sxapi_store_dump: dir and out must not be NULL");
  CODE(sxapi_store_dump(vm, store_path, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_store_load(vm, NULL, stdin, NULL), SXAPI_ERR_ARG);
  MSG_HAS("sxapi_store_load: dir and in must not be NULL");
  CODE(sxapi_store_load(vm, store_path, NULL, NULL), SXAPI_ERR_ARG);
  CODE(sxapi_store_backup(vm, NULL, other_path, NULL), SXAPI_ERR_ARG);
  MSG_HAS("sxapi_store_backup: dir and dest must not be NULL");
  CODE(sxapi_store_backup(vm, store_path, NULL, NULL), SXAPI_ERR_ARG);
  const char *args[4] = {store_path, "s", "json", NULL};
  for (int i = 0; i < 4; i++) {
    const char *a[4] = {args[0], args[1], args[2], args[3]};
    a[i] = NULL;
    CODE(sxapi_store_export(vm, a[0], a[1], a[2], i == 3 ? NULL : f), SXAPI_ERR_ARG);
    MSG_HAS("dir, stream, format and out must not be NULL");
  }
  CODE(sxapi_store_export(vm, store_path, "s", "xml", f), SXAPI_ERR_ARG);
  MSG_HAS("unknown format 'xml' (expected json or csv)");
  CODE(sxapi_store_dump(vm, store_path, f), SXAPI_ERR_STORE); /* no store there */
  CODE(sxapi_store_export(vm, store_path, "s", "csv", f), SXAPI_ERR_STORE);
  CODE(sxapi_close(vm), SXAPI_OK);
  CODE(sxapi_store_dump(vm, store_path, f), SXAPI_ERR_CLOSED);
  CODE(sxapi_store_load(vm, store_path, stdin, NULL), SXAPI_ERR_CLOSED);
  CODE(sxapi_store_backup(vm, store_path, other_path, NULL), SXAPI_ERR_CLOSED);
  CODE(sxapi_store_export(vm, store_path, "s", "json", f), SXAPI_ERR_CLOSED);
  fclose(f);
}

Test(api_dump, backup_without_stats_and_onto_an_existing_dest) {
  write_store(store_path, APPEND("s", 1, "1"));
  CODE(sxapi_store_backup(vm, store_path, other_path, NULL), SXAPI_OK);
  CODE(sxapi_store_backup(vm, store_path, other_path, NULL), SXAPI_ERR_STORE);
  char *a = capture(dump_store, SXAPI_OK);
  snprintf(store_path, sizeof store_path, "%s", other_path);
  char *b = capture(dump_store, SXAPI_OK);
  cr_assert_str_eq(a, b);
  free(a);
  free(b);
}
