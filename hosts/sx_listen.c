/* sx_listen.c — `sx server --listen PATH`: the line protocol on a
 * Unix-domain socket, to many clients at once, built on include/sx.h only.
 *
 * Each connection gets a thread and a VM of its own (its own globals and
 * epochs), all on the one store of the process: libsx shares one store
 * handle per directory, every evaluation is its own transaction, and
 * commits that are ready together share one fdatasync. A client that
 * disconnects before its evaluation commits has it rolled back (the
 * commit check sees the hang-up). SIGTERM or SIGINT stops accepting, lets
 * the evaluations in progress finish, commit and answer, then exits 0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sx_host.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct conn {
  int fd;
  bool done; /* the thread has finished (guarded by conns_lock) */
  pthread_t th;
  const sx_host_opts *opts;
  struct conn *next;
} conn;

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static conn *conns;

/* ---- one connection ---------------------------------------------------------- */

/* Has the client hung up? (A half-close, shutdown of its writing side, is
 * not a hang-up: it may still wait for its answers.) */
static bool conn_gone(void *ud) {
  conn *c = ud;
  struct pollfd p = {.fd = c->fd, .events = 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

static void conn_refuse(FILE *out, const char *msg) {
  fputs("(error 0 \"", out);
  for (const char *p = msg; *p; p++) {
    if (*p == '"' || *p == '\\') fputc('\\', out);
    fputc(*p, out);
  }
  fputs("\")\n", out);
  fflush(out);
}

static void *conn_main(void *arg) {
  conn *c = arg;
  int wfd = dup(c->fd);
  FILE *in = fdopen(c->fd, "r"), *out = wfd >= 0 ? fdopen(wfd, "w") : NULL;
  char msg[600];
  sxapi_vm *vm = NULL;
  if (in && out && sxapi_thread_attach() == SXAPI_OK) {
    vm = sx_host_new_vm(c->opts, msg, sizeof msg);
    if (vm) sx_server_serve(vm, in, out, false, conn_gone, c);
    else conn_refuse(out, msg);
  }
  sxapi_free(vm);
  sxapi_thread_detach();
  pthread_mutex_lock(&conns_lock);
  if (out) fclose(out);
  else if (wfd >= 0) close(wfd);
  if (in) fclose(in); /* closes c->fd */
  else close(c->fd);
  c->fd = -1;
  c->done = true;
  pthread_mutex_unlock(&conns_lock);
  return NULL;
}

static void conn_start(int fd, const sx_host_opts *o) {
  conn *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->fd = fd;
  c->opts = o;
  pthread_mutex_lock(&conns_lock);
  c->next = conns;
  conns = c;
  pthread_mutex_unlock(&conns_lock);
  if (pthread_create(&c->th, NULL, conn_main, c) != 0) {
    fprintf(stderr, "sx server: cannot start a thread for a connection: %s\n", strerror(errno));
    pthread_mutex_lock(&conns_lock);
    close(c->fd);
    c->fd = -1;
    c->done = true;
    c->th = pthread_self(); /* nothing to join */
    pthread_mutex_unlock(&conns_lock);
  }
}

/* Join and free the connections whose threads have finished (all of them
 * with wait_all, after asking each to stop reading). */
static void conns_reap(bool wait_all) {
  pthread_mutex_lock(&conns_lock);
  if (wait_all)
    for (conn *c = conns; c; c = c->next)
      if (!c->done && c->fd >= 0) shutdown(c->fd, SHUT_RD); /* the answer still goes out */
  conn **p = &conns;
  while (*p) {
    conn *c = *p;
    if (!c->done && !wait_all) {
      p = &c->next;
      continue;
    }
    *p = c->next;
    pthread_mutex_unlock(&conns_lock);
    if (!pthread_equal(c->th, pthread_self())) pthread_join(c->th, NULL);
    free(c);
    pthread_mutex_lock(&conns_lock);
  }
  pthread_mutex_unlock(&conns_lock);
}

/* ---- the listening socket -------------------------------------------------------- */

/* A socket file left by a server that is gone is replaced; a live one, or
 * anything that is not a socket, is an error. */
static bool listen_path_free(const char *path, struct sockaddr_un *a) {
  struct stat st;
  if (lstat(path, &st) != 0) return true;
  if (!S_ISSOCK(st.st_mode)) {
    fprintf(stderr, "sx server: %s exists and is not a socket\n", path);
    return false;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool live = fd >= 0 && connect(fd, (struct sockaddr *)a, sizeof *a) == 0;
  if (fd >= 0) close(fd);
  if (live) {
    fprintf(stderr, "sx server: another server is listening on %s\n", path);
    return false;
  }
  unlink(path);
  return true;
}

/* The socket is bound and listening under a temporary name first and then
 * renamed into place, so a client never finds PATH without a listener. */
static int listen_open(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX}, t = {.sun_family = AF_UNIX};
  int n = snprintf(t.sun_path, sizeof t.sun_path, "%s.%d", path, (int)getpid());
  if (strlen(path) >= sizeof a.sun_path || n < 0 || (size_t)n >= sizeof t.sun_path) {
    fprintf(stderr, "sx server: the socket path %s is too long (at most %zu bytes)\n", path,
            sizeof a.sun_path - 12);
    return -1;
  }
  strcpy(a.sun_path, path);
  if (!listen_path_free(path, &a)) return -1;
  unlink(t.sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  mode_t old = umask(077); /* the socket is created mode 0600 */
  int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&t, sizeof t);
  umask(old);
  if (rc == 0) rc = chmod(t.sun_path, 0600);
  if (rc == 0) rc = listen(fd, 128);
  if (rc == 0) rc = rename(t.sun_path, path);
  if (rc != 0) {
    fprintf(stderr, "sx server: cannot listen on %s: %s\n", path, strerror(errno));
    if (fd >= 0) close(fd);
    unlink(t.sun_path);
    return -1;
  }
  return fd;
}

/* Accept until a stop is requested. */
static void listen_loop(int lfd, const sx_host_opts *o) {
  struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sx_server_stop_fd(), .events = POLLIN}};
  while (!sx_server_stop_requested()) {
    if (poll(p, p[1].fd >= 0 ? 2 : 1, 1000) <= 0) {
      conns_reap(false);
      continue;
    }
    if (!(p[0].revents & POLLIN)) continue;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) conn_start(fd, o);
    else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
      fprintf(stderr, "sx server: accept on the socket failed: %s\n", strerror(errno));
    conns_reap(false);
  }
}

int sx_listen_run(const sx_host_opts *o, const char *path) {
  sx_server_signals();
  /* the process holds the store open for as long as it serves: errors
   * (a locked store, a bad sync mode) show before anything is accepted */
  sxapi_vm *holder = sxapi_open();
  char msg[600];
  if (!holder || !sx_host_open_store(holder, o->store_dir, o->sync, false, false, msg, sizeof msg)) {
    fprintf(stderr, "sx server: %s\n", holder ? msg : sxapi_errmsg());
    sxapi_free(holder);
    return 2;
  }
  int lfd = listen_open(path);
  if (lfd < 0) {
    sxapi_free(holder);
    return 2;
  }
  fprintf(stderr, "sx server: listening on %s (store %s)\n", path, sxapi_store_label(holder));
  listen_loop(lfd, o);
  close(lfd);
  unlink(path);
  conns_reap(true); /* running evaluations finish, commit and answer */
  sxapi_code rc = sxapi_free(holder) == SXAPI_OK ? SXAPI_OK : SXAPI_ERR_STORE;
  if (rc != SXAPI_OK) fprintf(stderr, "sx server: closing the store: %s\n", sxapi_errmsg());
  return rc == SXAPI_OK ? 0 : 1;
}
