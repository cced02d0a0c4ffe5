#!/usr/bin/env python3
"""test_bank.py — many clients on one store through `sx server --listen`.

The bank: 8 clients make random transfers between 10 accounts, each a
plain read-modify-write (persist/kv-get, persist/kv-put) plus one ledger
persist/append, retrying when the server answers `conflict:`. Afterwards
the balances sum to the starting total, the ledger's seqs are contiguous,
replaying the ledger from the starting balances gives exactly the stored
balances, and the ledger holds exactly the acknowledged transfers. Then
the same with the server killed (SIGKILL) mid-run and restarted: every
acknowledged transfer is present and the invariants hold.

Also: a client that disconnects before its evaluation commits has it
rolled back; SIGTERM lets a running evaluation finish, commit and answer,
then the server exits 0; each connection has its own globals; options
may come before or after `server`.

usage: test_bank.py SX SOURCE_ROOT   (prints "N passed, M failed")
"""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from sx_checks import check, summary

SX, ROOT = sys.argv[1], sys.argv[2]
ACCOUNTS, START, CLIENTS, TRANSFERS = 10, 100, 8, 30
PERSIST = ["event", "backend", "log", "kv", "durable"]
SERVER_LOGS = set()


# ---- a tiny reader for the server's printed values -------------------------

def parse(text):
    """Integers, strings, symbols/keywords (as str), nil and nested lists."""
    pos = 0

    def skip():
        nonlocal pos
        while pos < len(text) and text[pos] in " \t\n":
            pos += 1

    def value():
        nonlocal pos
        skip()
        c = text[pos]
        if c == "(":
            pos += 1
            items = []
            skip()
            while text[pos] != ")":
                items.append(value())
                skip()
            pos += 1
            return items
        if c == '"':
            pos += 1
            out = []
            while text[pos] != '"':
                if text[pos] == "\\":
                    pos += 1
                out.append(text[pos])
                pos += 1
            pos += 1
            return "".join(out)
        start = pos
        while pos < len(text) and text[pos] not in " \t\n()":
            pos += 1
        atom = text[start:pos]
        if atom == "nil":
            return None
        try:
            return int(atom)
        except ValueError:
            return atom

    return value()


def sx_string(src):
    """src as an SX string literal on one line."""
    return '"' + src.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ---- a client -------------------------------------------------------------

class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw", encoding="utf-8", newline="\n")

    def command(self, line):
        """One command line; returns (ok, text) or raises on a dead server."""
        self.f.write(line + "\n")
        self.f.flush()
        head = self.f.readline()
        if not head:
            raise ConnectionError("the server closed the connection")
        head = head.rstrip("\n")
        if head.startswith("(ok-len "):
            n = int(head[:-1].split()[2])
            body = self.f.read(n)
            self.f.readline()
            return True, body
        if head.startswith("(ok "):
            return True, head[4:-1].split(" ", 1)[1]
        return False, head

    def eval(self, src):
        return self.command("(eval " + sx_string(src) + ")")

    def load_persist(self):
        for m in PERSIST:
            ok, text = self.command('(load "lib/persist/%s.sx")' % m)
            assert ok, text
        ok, text = self.eval("(define db (persist/durable-backend))")
        assert ok, text

    def close(self):
        for x in (self.f, self.sock):  # the file holds the socket open too
            try:
                x.close()
            except OSError:
                pass


# ---- the server -------------------------------------------------------------

def start_server(store, sock, order):
    if os.path.exists(sock):
        os.unlink(sock)
    args = [SX, "--store", store, "server", "--listen", sock] if order == 0 else \
        [SX, "server", "--listen", sock, "--store", store]
    log = open(sock + ".log", "ab")
    proc = subprocess.Popen(args, cwd=ROOT, stderr=log)
    SERVER_LOGS.add(sock + ".log")
    for _ in range(3000):
        if os.path.exists(sock):
            return proc
        if proc.poll() is not None:
            raise RuntimeError("the server exited: " + open(sock + ".log").read())
        time.sleep(0.01)
    raise RuntimeError("the server never listened")


def check_logs():
    """A sanitizer build reports to the server's stderr: any report fails."""
    for path in sorted(SERVER_LOGS):
        text = open(path, errors="replace").read()
        check("Sanitizer" not in text and "runtime error" not in text,
              "%s: a sanitizer report:\n%s" % (os.path.basename(path), text[:3000]))


def stop_server(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


# ---- the bank ---------------------------------------------------------------

TRANSFER = """(let ((a (persist/kv-get db "acct/%d")) (b (persist/kv-get db "acct/%d")))
  (if (< a %d) :insufficient
    (begin (persist/kv-put db "acct/%d" (- a %d))
           (persist/kv-put db "acct/%d" (+ b %d))
           (persist/append db "ledger" "transfer" 0 {:id "%s" :from %d :to %d :amt %d})
           :ok)))"""


class Teller(threading.Thread):
    def __init__(self, sock, n, seed):
        super().__init__()
        self.sock, self.n, self.rng = sock, n, random.Random(seed)
        self.acked, self.attempted, self.conflicts, self.errors = set(), set(), 0, []
        self.died = False

    def run(self):
        try:
            c = Client(self.sock)
            c.load_persist()
        except (OSError, ConnectionError, AssertionError) as e:
            self.died = True
            self.errors.append("setup: %s" % e)
            return
        for i in range(TRANSFERS):
            a, b = self.rng.sample(range(ACCOUNTS), 2)
            amt = self.rng.randint(1, 30)
            tid = "c%d-%d" % (self.n, i)
            src = TRANSFER % (a, b, amt, a, amt, b, amt, tid, a, b, amt)
            self.attempted.add(tid)
            try:
                while True:
                    ok, text = c.eval(src)
                    if ok:
                        if text == '"ok"':
                            self.acked.add(tid)
                        break
                    if "conflict:" in text:
                        self.conflicts += 1
                        continue
                    self.errors.append(text)
                    break
            except (OSError, ConnectionError):
                self.died = True
                break
        c.close()


def setup_accounts(sock):
    c = Client(sock)
    c.load_persist()
    ok, text = c.eval("(map (fn (i) (persist/kv-put db (str \"acct/\" i) %d)) (range 0 %d))" % (START, ACCOUNTS))
    c.close()
    return ok, text


def read_state(sock):
    c = Client(sock)
    c.load_persist()
    ok1, bal = c.eval("(map (fn (i) (persist/kv-get db (str \"acct/\" i))) (range 0 %d))" % ACCOUNTS)
    ok2, led = c.eval("(map (fn (e) (let ((d (persist/event-data e))) (list (persist/event-seq e) (get d :id)"
                      " (get d :from) (get d :to) (get d :amt)))) (persist/read db \"ledger\"))")
    c.close()
    assert ok1 and ok2, (bal, led)
    return parse(bal), parse(led)


def check_invariants(tag, balances, ledger):
    check(sum(balances) == START * ACCOUNTS, "%s: balances sum to %d (got %d)" % (tag, START * ACCOUNTS, sum(balances)))
    seqs = [e[0] for e in ledger]
    check(seqs == list(range(1, len(ledger) + 1)), "%s: ledger seqs are contiguous from 1" % tag)
    replay = [START] * ACCOUNTS
    for _, _, src, dst, amt in ledger:
        replay[src] -= amt
        replay[dst] += amt
    check(replay == balances, "%s: replaying the ledger gives the stored balances" % tag)
    check(all(b >= 0 for b in balances), "%s: no balance went negative" % tag)


def run_tellers(sock, seed):
    socks = sock if isinstance(sock, list) else [sock]
    tellers = [Teller(socks[n % len(socks)], n, seed * 100 + n) for n in range(CLIENTS)]
    for t in tellers:
        t.start()
    return tellers


def bank(tmp):
    store, sock = os.path.join(tmp, "bank"), os.path.join(tmp, "bank.sock")
    proc = start_server(store, sock, 0)
    check(setup_accounts(sock)[0], "bank: accounts set up")
    tellers = run_tellers(sock, 1)
    for t in tellers:
        t.join()
    errors = [e for t in tellers for e in t.errors]
    check(not errors, "bank: no unexpected errors (%s)" % errors[:3])
    acked = set().union(*(t.acked for t in tellers))
    conflicts = sum(t.conflicts for t in tellers)
    balances, ledger = read_state(sock)
    check_invariants("bank", balances, ledger)
    ids = [e[1] for e in ledger]
    check(len(ids) == len(set(ids)), "bank: no transfer is in the ledger twice")
    check(set(ids) == acked, "bank: the ledger holds exactly the acknowledged transfers")
    check(stop_server(proc) == 0, "bank: SIGTERM ends the server with status 0")
    print("bank: %d clients, %d transfers acknowledged, %d conflicts retried" % (CLIENTS, len(acked), conflicts))


def bank_killed(tmp):
    store, sock = os.path.join(tmp, "killed"), os.path.join(tmp, "killed.sock")
    proc = start_server(store, sock, 1)
    check(setup_accounts(sock)[0], "killed: accounts set up")
    tellers = run_tellers(sock, 2)
    deadline = time.time() + 20
    while sum(len(t.acked) for t in tellers) < CLIENTS * TRANSFERS // 3 and time.time() < deadline:
        time.sleep(0.005)
    proc.kill()  # SIGKILL mid-run
    proc.wait()
    for t in tellers:
        t.join()
    acked = set().union(*(t.acked for t in tellers))
    attempted = set().union(*(t.attempted for t in tellers))
    check(any(t.died for t in tellers), "killed: the kill came while clients were running")
    proc = start_server(store, sock, 0)
    balances, ledger = read_state(sock)
    check_invariants("killed", balances, ledger)
    ids = set(e[1] for e in ledger)
    check(acked <= ids, "killed: every acknowledged transfer survived (%d missing)" % len(acked - ids))
    check(ids <= attempted, "killed: the ledger holds only attempted transfers")
    # the restarted server takes writes again and keeps the seqs contiguous
    tellers = run_tellers(sock, 3)
    for t in tellers:
        t.join()
    balances, ledger = read_state(sock)
    check_invariants("after restart", balances, ledger)
    check(stop_server(proc) == 0, "killed: the restarted server stops with status 0")
    print("killed: %d acknowledged before the kill, %d in the ledger" % (len(acked), len(ids)))


def bank_postgres(tmp):
    """Two server processes on one PostgreSQL store, the clients split
    between them: the races are between processes, settled by the database."""
    url = os.environ["SX_TEST_PG"] + "&sx_schema=bank_%d" % os.getpid()
    socks = [os.path.join(tmp, "pg%d.sock" % i) for i in range(2)]
    procs = [start_server(url, s, i) for i, s in enumerate(socks)]
    check(setup_accounts(socks[0])[0], "postgres: accounts set up")
    tellers = run_tellers(socks, 4)
    for t in tellers:
        t.join()
    errors = [e for t in tellers for e in t.errors]
    check(not errors, "postgres: no unexpected errors (%s)" % errors[:3])
    acked = set().union(*(t.acked for t in tellers))
    balances, ledger = read_state(socks[1])
    check_invariants("postgres", balances, ledger)
    check(set(e[1] for e in ledger) == acked, "postgres: the ledger holds exactly the acknowledged transfers")
    for p in procs:
        check(stop_server(p) == 0, "postgres: SIGTERM ends each server with status 0")
    print("postgres: 2 processes, %d clients, %d transfers acknowledged, %d conflicts retried"
          % (CLIENTS, len(acked), sum(t.conflicts for t in tellers)))


def disconnect_rolls_back(tmp):
    store, sock = os.path.join(tmp, "gone"), os.path.join(tmp, "gone.sock")
    proc = start_server(store, sock, 0)
    c = Client(sock)
    c.f.write("(eval " + sx_string("(perform {:op \"persist/kv-put\" :args (list \"gone\" 1)})"
                                   " (define (spin n) (if (= n 0) :done (spin (- n 1)))) (spin 3000000)") + ")\n")
    c.f.flush()
    c.close()  # goes away before the evaluation ends
    time.sleep(1.5)
    d = Client(sock)
    ok, text = d.eval("(perform {:op \"persist/kv-has?\" :args (list \"gone\")})")
    check(ok and text == "false", "disconnect: the evaluation of a client that went away is rolled back (%s)" % text)
    # a half-close still gets its answer and commits
    e = Client(sock)
    e.f.write("(eval " + sx_string("(perform {:op \"persist/kv-put\" :args (list \"half\" 2)}) 2") + ")\n")
    e.f.flush()
    e.sock.shutdown(socket.SHUT_WR)
    check(e.f.readline().startswith("(ok 0 2)"), "disconnect: a client that only closed its writing side is answered")
    ok, text = d.eval("(perform {:op \"persist/kv-get\" :args (list \"half\")})")
    check(ok and text == "2", "disconnect: ... and its evaluation committed")
    # each connection has its own globals
    d.eval("(define mine 1)")
    ok, text = Client(sock).eval("mine")
    check(not ok and "unbound symbol mine" in text, "connections: a definition is invisible to other clients")
    d.close()
    e.close()
    stop_server(proc)


def sigterm_finishes(tmp):
    store, sock = os.path.join(tmp, "term"), os.path.join(tmp, "term.sock")
    proc = start_server(store, sock, 1)
    c = Client(sock)
    c.f.write("(eval " + sx_string("(define (spin n) (if (= n 0) :done (spin (- n 1)))) (spin 2000000)"
                                   " (perform {:op \"persist/kv-put\" :args (list \"late\" 7)}) 7") + ")\n")
    c.f.flush()
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    answer = c.f.readline()
    check(answer.startswith("(ok 0 7)"), "sigterm: the evaluation in progress finishes and answers (%r)" % answer)
    check(proc.wait(30) == 0, "sigterm: the server exits 0")
    check(not os.path.exists(sock), "sigterm: the socket file is removed")
    proc = start_server(store, sock, 0)
    ok, text = Client(sock).eval("(perform {:op \"persist/kv-get\" :args (list \"late\")})")
    check(ok and text == "7", "sigterm: its write was committed")
    stop_server(proc)


def main():
    with tempfile.TemporaryDirectory(prefix="sx-bank-") as tmp:
        tests = [bank, bank_killed, disconnect_rolls_back, sigterm_finishes]
        if os.environ.get("SX_TEST_PG"):
            tests.append(bank_postgres)
        for test in tests:
            try:
                test(tmp)
            except Exception as e:  # a crash of the harness is a failure, not a stop
                check(False, "%s: %r" % (test.__name__, e))
        check_logs()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
