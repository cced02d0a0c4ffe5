/* listen_bench.c — appends at full durability through `sx server --listen`,
 * one event per evaluation, from 1, 8, 32 and 64 concurrent clients, next
 * to the disk's fdatasync ceiling measured in the same directory.
 *
 *   listen_bench SX SOURCE_ROOT [CLIENTS,...] [SECONDS] [SYNC]
 *
 * With LISTEN_BENCH_PG set to a PostgreSQL URL, the store is a fresh
 * schema in that database instead (the fdatasync ceiling is still the
 * local directory's).
 *
 * For each client count: a fresh store and server; every client connects,
 * loads persist and binds db, then (all together) sends
 * (eval "(persist/append db \"c<k>\" \"tick\" 0 {:n i})") and waits for the
 * answer, again and again, for SECONDS (default 3). Printed: acknowledged
 * events per second, the ratio to one client, and how many commits each
 * fdatasync covered (events / syncs counted by the fdatasync ceiling's own
 * measure of the disk). Each figure is one timed window, so run it on a
 * quiet machine; the ratio matters more than the absolute numbers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *sx, *root, *sync_mode = "full";
static double seconds = 3.0;
static char sock_path[200];
static atomic_int ready, go, stop;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the disk's ceiling ----------------------------------------------------- */

/* Small writes each followed by fdatasync, into a pre-allocated file (what
 * a full-mode commit costs at best): syncs per second. */
static double fsync_ceiling(const char *dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/ceiling", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  static char zero[1 << 20];
  if (write(fd, zero, sizeof zero) != (ssize_t)sizeof zero || fsync(fd)) return 0;
  char rec[128];
  memset(rec, 'x', sizeof rec);
  int n = 0;
  double t0 = now();
  while (now() - t0 < 1.0 && n < 20000) {
    if (pwrite(fd, rec, sizeof rec, (off_t)(n * sizeof rec) % (off_t)sizeof zero) < 0 || fdatasync(fd)) break;
    n++;
  }
  double rate = n / (now() - t0);
  close(fd);
  unlink(path);
  return rate;
}

/* ---- a client ---------------------------------------------------------------- */

typedef struct client {
  int id, fd;
  FILE *in;
  long acked;
  pthread_t th;
} client;

static bool ask(client *c, const char *line) {
  char buf[4096];
  if (write(c->fd, line, strlen(line)) < 0) return false;
  if (!fgets(buf, sizeof buf, c->in)) return false;
  return strncmp(buf, "(ok", 3) == 0;
}

static bool client_setup(client *c) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, sock_path);
  c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a)) return false;
  c->in = fdopen(dup(c->fd), "r");
  static const char *mods[] = {"event", "backend", "log", "kv", "durable"};
  char line[200];
  for (size_t i = 0; i < 5; i++) {
    snprintf(line, sizeof line, "(load \"lib/persist/%s.sx\")\n", mods[i]);
    if (!ask(c, line)) return false;
  }
  return ask(c, "(eval \"(define db (persist/durable-backend))\")\n");
}

static void *client_main(void *arg) {
  client *c = arg;
  bool ok = client_setup(c);
  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&go)) usleep(100);
  char line[200];
  for (long i = 0; ok && !atomic_load(&stop); i++) {
    snprintf(line, sizeof line, "(eval \"(persist/append db \\\"c%d\\\" \\\"tick\\\" 0 {:n %ld})\")\n", c->id,
             i);
    if (!(ok = ask(c, line))) fprintf(stderr, "client %d: an append failed\n", c->id);
    else c->acked++;
  }
  if (c->in) fclose(c->in);
  close(c->fd);
  return NULL;
}

/* ---- one run ------------------------------------------------------------------ */

static pid_t server_start(const char *store) {
  unlink(sock_path);
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(root)) _exit(127);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(sx, sx, "--store", store, "--sync", sync_mode, "server", "--listen", sock_path, (char *)NULL);
    _exit(127);
  }
  struct stat st;
  for (int i = 0; i < 3000 && stat(sock_path, &st) != 0; i++) usleep(1000);
  return pid;
}

/* Acknowledged appends per second with n clients. */
static double run(int n, const char *dir) {
  char store[1024];
  const char *pg = getenv("LISTEN_BENCH_PG"); /* a PostgreSQL URL: a fresh schema per run there */
  if (pg && *pg)
    snprintf(store, sizeof store, "%s%csx_schema=listen_%d_%d", pg, strchr(pg, '?') ? '&' : '?', (int)getpid(), n);
  else snprintf(store, sizeof store, "%s/store-%d", dir, n);
  pid_t pid = server_start(store);
  client *cs = calloc((size_t)n, sizeof *cs);
  atomic_store(&ready, 0);
  atomic_store(&go, 0);
  atomic_store(&stop, 0);
  for (int i = 0; i < n; i++) {
    cs[i].id = i;
    pthread_create(&cs[i].th, NULL, client_main, &cs[i]);
  }
  while (atomic_load(&ready) < n) usleep(1000);
  double t0 = now();
  atomic_store(&go, 1);
  usleep((useconds_t)(seconds * 1e6));
  atomic_store(&stop, 1);
  long total = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(cs[i].th, NULL);
    total += cs[i].acked;
  }
  double rate = total / (now() - t0);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  free(cs);
  return rate;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: listen_bench SX SOURCE_ROOT [CLIENTS,...] [SECONDS] [SYNC]\n");
    return 2;
  }
  sx = argv[1];
  root = argv[2];
  const char *list = argc > 3 ? argv[3] : "1,8,32,64";
  if (argc > 4) seconds = atof(argv[4]);
  if (argc > 5) sync_mode = argv[5];
  char dir[] = "/var/tmp/sx-listen-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(sock_path, sizeof sock_path, "%s/sock", dir);
  signal(SIGPIPE, SIG_IGN);
  double ceiling = fsync_ceiling(dir);
  printf("listen: appends at sync %s, one event per evaluation, %.0f s per point\n", sync_mode, seconds);
  printf("  disk: %.0f fdatasyncs/s (small write + fdatasync, same directory)\n", ceiling);
  printf("  %8s %12s %10s %16s\n", "clients", "events/s", "x 1 client", "events per sync*");
  double one = 0;
  char *copy = strdup(list);
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int n = atoi(tok);
    if (n < 1) continue;
    double r = run(n, dir);
    if (one == 0) one = r;
    printf("  %8d %12.0f %10.1f %16.1f\n", n, r, one > 0 ? r / one : 0, ceiling > 0 ? r / ceiling : 0);
    fflush(stdout);
  }
  printf("  * events/s divided by the disk's fdatasyncs/s: above 1 only when commits share syncs\n");
  free(copy);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}
