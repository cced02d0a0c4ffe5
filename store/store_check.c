/* store_check.c — verifying a whole store directory offline: every frame
 * and record of the log (store_log_scan with value decoding) and every
 * blob (blob_check_dir). The one place that knows both. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"

/* A store whose creation never got as far as the log: the directory holds
 * nothing but what store_open makes before it (lock, log.tmp). */
static bool check_not_created(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return false;
  bool only = true;
  for (struct dirent *e; only && (e = readdir(d));)
    only = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "lock") ||
           !strcmp(e->d_name, "log.tmp");
  closedir(d);
  return only;
}

static int check_log(const char *dir, sx_buf *report) {
  store_opts o = {.read_only = true};
  fstore *s = fstore_new(dir, &o);
  sx_val err;
  s->fd = open(s->log_path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0 && errno == ENOENT && check_not_created(dir)) {
    /* the log is created (via log.tmp) after the directory and the lock:
     * a crash in between leaves a store a writer opens as empty */
    sx_buf_printf(report, "%s: no log yet (the store's creation did not finish): an empty store, ok\n",
                  s->log_path);
    fstore_free(s);
    return 0;
  }
  if (s->fd < 0) {
    sx_buf_printf(report, "%s: cannot open: %s\n", s->log_path, strerror(errno));
    fstore_free(s);
    return -1;
  }
  if (store_log_check_header(s->fd, s->log_path, &err)) {
    sx_buf_printf(report, "%s\n", sx_str_data(err));
    fstore_free(s);
    return 1;
  }
  scan_result r;
  store_log_scan(s, true, 0, &r);
  int rc = 0;
  if (r.kind == SCAN_IOERR) {
    sx_buf_printf(report, "%s: cannot read: %s\n", s->log_path, r.reason);
    rc = -1;
  } else if (r.kind == SCAN_DAMAGE) {
    sx_buf_printf(report, "%s: damaged at offset %llu: %s\n", s->log_path, (unsigned long long)r.bad_at,
                  r.reason);
    rc = 1;
  } else if (r.kind == SCAN_OK && r.zero_tail) {
    sx_buf_printf(report, "%s: data ends at offset %llu, then %llu bytes of zero-filled space\n", s->log_path,
                  (unsigned long long)r.end, (unsigned long long)r.zero_tail);
  } else if (r.kind == SCAN_TORN) {
    sx_buf_printf(report,
                  "%s: torn tail at offset %llu (%llu bytes, %s): an interrupted commit, "
                  "discarded by the next writable open\n",
                  s->log_path, (unsigned long long)r.bad_at, (unsigned long long)(r.file_size - r.end),
                  r.reason);
  }
  sx_buf_printf(report, "%s: %zu frames, %zu records, %zu streams, %zu events, %zu kv keys, %s\n",
                s->log_path, r.frames, r.records, s->nstreams, s->nevents, s->kv_live,
                rc == 0 ? "ok" : "NOT ok");
  fstore_free(s);
  return rc;
}

int store_check(const char *dir, sx_buf *report) {
  if (store_is_url(dir)) {
#ifdef SX_HAVE_POSTGRES
    return pgstore_check(dir, report);
#else
    sx_buf_printf(report, "store %s: this build of sx has no PostgreSQL support\n", dir);
    return -1;
#endif
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    sx_buf_printf(report, "store %s does not exist\n", dir);
    return -1;
  }
  int rc = check_log(dir, report);
  int brc = blob_check_dir(dir, report);
  if (rc < 0 || brc < 0) return -1;
  return rc || brc ? 1 : 0;
}
