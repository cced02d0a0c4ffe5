#!/usr/bin/env python3
"""test_listen.py — `sx server --listen` at its edges (docs/server.md).

What makes it refuse to start (a path that is too long, not a socket, in
a missing directory or served by a live server; a locked store; a bad
sync mode; --bridge with --listen; an unknown option), each with exit
status 2 and a message; a socket left by a server that is gone is
replaced, and the socket is created mode 0600. Then what it does with its
clients: bad lines each get one error and the connection carries on, a
client that leaves mid-line does not disturb the others, -I reaches every
connection's load path, a client still connected when the server stops
has its connection closed, and with --persist a connection whose VM
cannot load persist is told why (quotes escaped) and closed.

usage: test_listen.py SX SOURCE_ROOT   (prints "N passed, M failed")
"""
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

from sx_checks import check, summary

SX, ROOT = sys.argv[1], sys.argv[2]


def refused(args, message, cwd=ROOT):
    """The server exits 2 at once, saying message on stderr."""
    r = subprocess.run([SX] + args, cwd=cwd, capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and message in r.stderr,
          "%s: exit 2 with %r (got %d: %r)" % (" ".join(args), message, r.returncode, r.stderr))


def serve(args, sock, cwd=ROOT):
    """Start a server; returns it once sock accepts connections."""
    proc = subprocess.Popen([SX] + args, cwd=cwd, stderr=subprocess.PIPE)
    for _ in range(3000):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(sock)
            return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server exited: %s" % proc.stderr.read())
        time.sleep(0.01)
    raise RuntimeError("the server never listened")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(30)
    proc.stderr.close()
    return rc


def connect(sock):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock)
    return s, s.makefile("rw", encoding="utf-8", newline="\n")


def ask(f, line):
    f.write(line + "\n")
    f.flush()
    return f.readline().rstrip("\n")


def refusals(tmp):
    store = os.path.join(tmp, "refusals")
    sock = os.path.join(tmp, "r.sock")
    long_path = os.path.join(tmp, "x" * 120)
    refused(["server", "--listen", long_path, "--store", store], "is too long (at most")
    plain = os.path.join(tmp, "plain")
    open(plain, "w").close()
    refused(["server", "--listen", plain, "--store", store], "%s exists and is not a socket" % plain)
    refused(["server", "--listen", os.path.join(tmp, "nodir", "s.sock"), "--store", store], "cannot listen on")
    refused(["server", "--listen", sock, "--bridge"], "--bridge and --listen cannot be combined")
    refused(["server", "--listen", sock, "--frob"], "unknown option '--frob'")
    refused(["server", "--listen", sock, "--store", store, "--sync", "sometimes"], "unknown sync mode 'sometimes'")
    proc = serve(["server", "--listen=" + sock, "--store", store], sock)
    check(stat.S_IMODE(os.stat(sock).st_mode) == 0o600, "the socket is created mode 0600")
    refused(["server", "--listen", sock, "--store", os.path.join(tmp, "another")],
            "another server is listening on %s" % sock)
    refused(["server", "--listen", os.path.join(tmp, "second.sock"), "--store", store], "is locked by pid")
    check(stop(proc) == 0, "refusals: the first server stops with status 0")


def stale_socket_is_replaced(tmp):
    sock = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()  # the file stays, nobody listens
    proc = serve(["server", "--listen", sock, "--store", os.path.join(tmp, "stale")], sock)
    c, f = connect(sock)
    check(ask(f, '(eval "(+ 1 2)")') == "(ok 0 3)", "stale: the new server answers on the old path")
    c.close()
    f.close()
    check(stop(proc) == 0, "stale: the server stops with status 0")


def clients(tmp):
    sock, lib = os.path.join(tmp, "c.sock"), os.path.join(tmp, "lib")
    os.mkdir(lib)
    with open(os.path.join(lib, "here.sx"), "w") as f:
        f.write("(define here 42)\n")
    proc = serve(["server", "--listen", sock, "-I", lib, "--store", os.path.join(tmp, "clients")], sock)
    a, fa = connect(sock)
    for line in ["garbage", "(frobnicate 1)", '(eval "(+ 1")', "(eval 1 2)"]:
        check(ask(fa, line).startswith('(error 0 "'), "clients: %r is answered by one error" % line)
    check(ask(fa, '(load "here.sx")') == "(ok 0 here)", "clients: -I reaches the connection's load path")
    b, fb = connect(sock)
    b.sendall(b'(eval "(+ 1')  # half a line, then gone
    b.close()
    fb.close()
    check(ask(fa, '(eval "here")') == "(ok 0 42)", "clients: another client leaving mid-line changes nothing")
    a.close()
    fa.close()
    c, fc = connect(sock)
    check(ask(fc, '(eval "(* 6 7)")') == "(ok 0 42)", "clients: a new client is served afterwards")
    check(stop(proc) == 0, "clients: the server stops with status 0, a client still connected")
    check(fc.readline() == "", "clients: ... whose connection it closed")
    c.close()
    fc.close()


def persist_that_cannot_load(tmp):
    sock = os.path.join(tmp, "p.sock")
    os.makedirs(os.path.join(tmp, "lib", "persist"))
    with open(os.path.join(tmp, "lib", "persist", "event.sx"), "w") as f:
        f.write('(error "said \\"no\\"")\n')  # the working directory comes first on the load path
    proc = serve(["server", "--listen", sock, "--persist", "--store", os.path.join(tmp, "persist")], sock, cwd=tmp)
    c, f = connect(sock)
    answer = f.readline().rstrip("\n")
    check(answer.startswith('(error 0 "--persist: ') and 'said \\"no\\"' in answer,
          "persist: the connection is told why it has no VM (%r)" % answer)
    check(f.readline() == "", "persist: ... and closed")
    c.close()
    f.close()
    check(stop(proc) == 0, "persist: the server stops with status 0")
    sock = os.path.join(tmp, "q.sock")
    proc = serve(["server", "--listen", sock, "--persist", "--store", os.path.join(tmp, "persist2")], sock)
    c, f = connect(sock)
    check(ask(f, '(eval "(persist/kv-put db \\"k\\" 1)")').startswith("(ok 0 "),
          "persist: loaded where it can be found, `db` is bound")
    c.close()
    f.close()
    check(stop(proc) == 0, "persist: the second server stops with status 0")


def main():
    with tempfile.TemporaryDirectory(prefix="sx-listen-") as tmp:
        for test in [refusals, stale_socket_is_replaced, clients, persist_that_cannot_load]:
            try:
                test(tmp)
            except Exception as e:  # a crash of the harness is a failure, not a stop
                check(False, "%s: %r" % (test.__name__, e))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
