#!/usr/bin/env python3
"""test_bridge.py — the server's bridge mode driven by a scripted parent.

The parent starts `sx-server --bridge` (and `sx server --bridge`), sends
commands, answers each (perform N request) line with (resume N value) or
(resume-error N "message"), and checks every line the server writes
(docs/bridge.md). Ops the server owns (persist/*) never reach the parent;
without --bridge an unowned op is an error and nothing is forwarded.

    test_bridge.py SX_SERVER SX
"""
import os
import shutil
import subprocess
import sys
import tempfile

SERVER, SX = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, expected, actual):
    global passed, failed
    if expected == actual:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {name}\n  expected: {expected!r}\n  actual:   {actual!r}")


def sx_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Server:
    """A server process spoken to line by line."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def send(self, line):
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def eval(self, src):
        self.send(f"(eval {sx_string(src)})")

    def line(self):
        return self.p.stdout.readline().decode().rstrip("\n")

    def read_bytes(self, n):
        data = self.p.stdout.read(n)
        self.p.stdout.read(1)  # the newline after the value
        return data.decode()

    def finish(self):
        self.p.stdin.close()
        rest = self.p.stdout.read().decode()
        err = self.p.stderr.read().decode()
        return self.p.wait(), rest, err


store = tempfile.mkdtemp(prefix="sx-bridge-test-")
try:
    s = Server([SERVER, "--bridge", "--store", os.path.join(store, "s")])

    # one perform: forwarded, answered, the evaluation continues
    s.send("(epoch 1)")
    s.eval('(+ 1 (perform {:op "clock/now" :args (list "utc")}))')
    check("a perform no resolver owns is forwarded", '(perform 1 {:args ("utc") :op "clock/now"})', s.line())
    s.send("(resume 1 41)")
    check("the response's value is the perform's value", "(ok 1 42)", s.line())

    # the response carries data: dicts, lists, strings, nil, booleans
    s.send("(epoch 2)")
    s.eval('(let ((r (perform {:op "db/get" :args (list 7)}))) (list (get r :name) (nth (get r :tags) 1) (get r :gone) (get r :ok)))')
    check("request with args", '(perform 2 {:args (7) :op "db/get"})', s.line())
    s.send('(resume 2 {:name "ada" :tags ("x" "y") :gone nil :ok true})')
    check("data round-trips through a response", '(ok 2 ("ada" "y" nil true))', s.line())

    # several performs in one command, one inside a map callback
    s.eval('(map (fn (k) (perform {:op "kv/get" :args (list k)})) (list "a" "b"))')
    check("first perform of a map", '(perform 2 {:args ("a") :op "kv/get"})', s.line())
    s.send("(resume 2 1)")
    check("second perform of a map", '(perform 2 {:args ("b") :op "kv/get"})', s.line())
    s.send("(resume 2 2)")
    check("the map completes with both answers", "(ok 2 (1 2))", s.line())

    # resume-error raises at the perform: a guard catches it ...
    s.send("(epoch 3)")
    s.eval('(guard (e (true (str "caught: " (error-message e)))) (perform {:op "mail/send"}))')
    check("request without args", '(perform 3 {:op "mail/send"})', s.line())
    s.send('(resume-error 3 "smtp down")')
    check("resume-error is catchable", '(ok 3 "caught: smtp down")', s.line())
    # ... and an uncaught one is the command's error response
    s.eval('(perform {:op "mail/send"})')
    s.line()
    s.send('(resume-error 3 "smtp down")')
    check("uncaught resume-error, placed at its perform", '(error 3 "smtp down (at <eval>:1:1)")', s.line())

    # a response for another epoch, or of another shape, fails the perform
    s.eval('(perform {:op "x/y"})')
    s.line()
    s.send("(resume 2 1)")
    check("epoch mismatch", '(error 3 "bridge: the response\'s epoch 2 does not match the request\'s epoch 3 (at <eval>:1:1)")', s.line())
    s.eval('(perform {:op "x/y"})')
    s.line()
    s.send('(eval "1")')
    check("a command is not a response",
          '(error 3 "bridge: malformed response: expected (resume N value) or (resume-error N \\"message\\") (at <eval>:1:1)")', s.line())
    s.eval('(perform {:op "x/y"})')
    s.line()
    s.send('(resume-error 3 42)')
    check("resume-error needs a message", '(error 3 "bridge: resume-error: expected a message string (at <eval>:1:1)")', s.line())

    # long requests use perform-len with an exact byte count
    s.send("(epoch 4)")
    s.eval('(perform {:op "net/huge" :args (list (apply str (map (fn (i) "abcdefghij") (range 0 500))))})')
    head = s.line()
    check("a long request is announced by perform-len", True, head.startswith("(perform-len 4 "))
    n = int(head.split()[2].rstrip(")"))
    body = s.read_bytes(n)
    check("the perform-len line holds exactly BYTES bytes", '{:args ("' + "abcdefghij" * 500 + '") :op "net/huge"}', body)
    s.send("(resume 4 5000)")
    check("and is resumed like any other", "(ok 4 5000)", s.line())

    # persist ops are served in process: nothing is forwarded
    s.send("(epoch 5)")
    s.eval('(perform {:op "persist/kv-put" :args (list "k" {:v 1})}) (perform {:op "persist/kv-get" :args (list "k")})')
    check("persist ops stay in process", "(ok 5 {:v 1})", s.line())

    # print output goes to stderr, and EOF while waiting fails the perform
    s.eval('(println "to stderr") (perform {:op "late/op"})')
    check("the request after a print", '(perform 5 {:op "late/op"})', s.line())
    rc, rest, err = s.finish()
    check("EOF while waiting fails the perform", '(error 5 "bridge: stdin closed while waiting for the response to a perform (at <eval>:1:23)")\n', rest)
    check("the server exits 0 at EOF", 0, rc)
    check("print output went to stderr", True, "to stderr" in err)

    # `sx server --bridge` behaves the same
    s = Server([SX, "--store", os.path.join(store, "s2"), "server", "--bridge"])
    s.send("(epoch 9)")
    s.eval('(* 2 (perform {:op "clock/now"}))')
    check("sx server --bridge forwards", '(perform 9 {:op "clock/now"})', s.line())
    s.send("(resume 9 21)")
    check("sx server --bridge resumes", "(ok 9 42)", s.line())
    s.finish()

    # requests sent together: the answers to the first ones may be held while
    # the rest wait, but never while the server waits on the parent: they
    # reach it before the perform it must answer (else both would wait)
    s = Server([SERVER, "--bridge", "--store", os.path.join(store, "s4")])
    s.p.stdin.write(b"(epoch 3)\n" + b'(eval "1")\n' * 3 + b'(eval "(+ 1 (perform {:op \\"ask\\"}))")\n')
    s.p.stdin.flush()
    got = [s.line() for _ in range(4)]
    check("held answers come before the perform", ["(ok 3 1)"] * 3 + ['(perform 3 {:op "ask"})'], got)
    s.send("(resume 3 41)")
    check("and the evaluation goes on", "(ok 3 42)", s.line())
    # twenty at once: every answer arrives, in order, without more input
    s.p.stdin.write(b"".join(b'(eval "%d")\n' % i for i in range(20)))
    s.p.stdin.flush()
    check("twenty requests sent together are all answered", [f"(ok 3 {i})" for i in range(20)],
          [s.line() for _ in range(20)])
    s.finish()

    # without --bridge an unowned op is an error and nothing is forwarded
    s = Server([SERVER, "--store", os.path.join(store, "s3")])
    s.send("(epoch 1)")
    s.eval('(perform {:op "clock/now"})')
    check("without --bridge an unowned op is an error", '(error 1 "perform: no resolver for op clock/now (at <eval>:1:1)")', s.line())
    rc, rest, _ = s.finish()
    check("and nothing else is written", "", rest)

    p = subprocess.run([SX, "server", "--bogus"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    check("an unknown server option is refused", 2, p.returncode)
finally:
    shutil.rmtree(store, ignore_errors=True)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
