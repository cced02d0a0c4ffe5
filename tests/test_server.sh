#!/usr/bin/env bash
# test_server.sh — drives the real sx-server binary through pipes and checks
# the line protocol of SERVER-PROTOCOL.md: epochs, ok / ok-len responses,
# exactly one (error N "...") per malformed command with the server still
# serving afterwards, EOF exits 0, nothing but responses on stdout.
# Usage: test_server.sh /path/to/sx-server
set -u
SERVER=$(realpath "${1:?usage: test_server.sh /path/to/sx-server}")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# keep any durable store the server opens inside the scratch directory
export SX_STORE="$TMP/store"
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run_server INPUTFILE: stdout → $TMP/out, stderr → $TMP/err, status → $rc
run_server() {
  (cd "$TMP" && timeout 60 "$SERVER" <"$1" >"$TMP/out" 2>"$TMP/err")
  rc=$?
}

expect_out() { # name expected-stdout
  if [ "$(cat "$TMP/out")" == "$2" ]; then ok; else
    bad "$1: stdout was:"; head -c 2000 "$TMP/out" >&2; echo >&2; echo "expected:" >&2; echo "$2" >&2
  fi
}
expect_rc0() { if [ "$rc" -eq 0 ]; then ok; else bad "$1: exit status $rc"; fi; }

# 1. basic ok responses and epochs
printf '%s\n' '(eval "(+ 1 2)")' '(epoch 7)' '(eval "(list 1 \"a\" {:k true})")' \
  '(epoch 8)' '(eval "(define x 5)")' '(eval "(* x 2)")' >"$TMP/in"
run_server "$TMP/in"
expect_out "ok and epoch" '(ok 0 3)
(ok 7 (1 "a" {:k true}))
(ok 8 x)
(ok 8 10)'
expect_rc0 "ok and epoch"

# 2. every malformed command gets exactly one error, and the next command runs
printf '%s\n' '(epoch 3)' '(eval "(+ 1"' '(eval "1")' '(frobnicate 1)' '(eval "2")' '(eval 42)' '(eval "3")' \
  '(load "/nonexistent/missing-file.sx")' '(eval "4")' '(epoch "x")' '(eval "5")' 'garbage' '(eval "6")' \
  '(eval "(car 1)")' '(eval "7")' '(eval "(+ 1" "extra")' '(eval "8")' ')' '(eval "9")' \
  '(eval "(error \"boom\")")' '(eval "10")' >"$TMP/in"
run_server "$TMP/in"
mapfile -t lines <"$TMP/out"
want_ok=("(ok 3 1)" "(ok 3 2)" "(ok 3 3)" "(ok 3 4)" "(ok 3 5)" "(ok 3 6)" "(ok 3 7)" "(ok 3 8)" "(ok 3 9)" "(ok 3 10)")
if [ "${#lines[@]}" -eq 20 ]; then ok; else bad "malformed: expected 20 response lines, got ${#lines[@]}"; cat "$TMP/out" >&2; fi
for i in $(seq 0 9); do
  e=${lines[$((2 * i))]:-} o=${lines[$((2 * i + 1))]:-}
  if [[ "$e" == "(error 3 \""* ]]; then ok; else bad "malformed #$i: expected an error line, got: $e"; fi
  if [ "$o" == "${want_ok[$i]}" ]; then ok; else bad "malformed #$i: expected ${want_ok[$i]}, got: $o"; fi
done
if grep -q 'missing-file.sx' <<<"${lines[6]:-}"; then ok; else bad "load error does not name the file: ${lines[6]:-}"; fi
if grep -q 'boom' <<<"${lines[18]:-}"; then ok; else bad "error message lost: ${lines[18]:-}"; fi
expect_rc0 "malformed"

# 3. long values use ok-len with the exact byte count
printf '%s\n' '(epoch 5)' '(eval "(join \"\" (map (fn (i) \"abcdefghij\") (range 1000)))")' '(eval "1")' \
  '(eval "\"line1\\nline2\"")' '(eval "2")' >"$TMP/in"
run_server "$TMP/in"
python3 - "$TMP/out" <<'PY' && ok || bad "ok-len framing"
import sys
data = open(sys.argv[1], 'rb').read()
def take_ok_len(data, epoch):
    head, rest = data.split(b'\n', 1)
    assert head.startswith(b'(ok-len %d ' % epoch) and head.endswith(b')'), head
    n = int(head.split()[2][:-1])
    body, rest = rest[:n], rest[n:]
    assert rest[:1] == b'\n', rest[:20]
    return body, rest[1:]
body, data = take_ok_len(data, 5)
assert body == b'"' + b'abcdefghij' * 1000 + b'"', body[:40]
line, data = data.split(b'\n', 1)
assert line == b'(ok 5 1)', line
if data.startswith(b'(ok-len'):
    body, data = take_ok_len(data, 5)
    assert body == b'"line1\\nline2"', body
else:
    line, data = data.split(b'\n', 1)
    assert line == b'(ok 5 "line1\\nline2")', line
line, data = data.split(b'\n', 1)
assert line == b'(ok 5 2)', line
assert data == b'', data
PY

# 4. binary junk: random bytes including NUL, then a valid command
{
  printf '(epoch 9)\n'
  head -c 3000 /dev/urandom | tr '\n' 'x'
  printf '\n'
  printf 'ab\0cd(eval \0 "x")\n'
  printf '\xff\xfe(((\n'
  printf '(eval "(+ 40 2)")\n'
} >"$TMP/in"
run_server "$TMP/in"
mapfile -t lines <"$TMP/out"
if [ "${#lines[@]}" -eq 4 ]; then ok; else bad "junk: expected 4 lines, got ${#lines[@]}"; head -c 3000 "$TMP/out" >&2; fi
for i in 0 1 2; do
  if [[ "${lines[$i]:-}" == "(error 9 \""* ]]; then ok; else bad "junk #$i: ${lines[$i]:-}"; fi
done
if [ "${lines[3]:-}" == "(ok 9 42)" ]; then ok; else bad "after junk: ${lines[3]:-}"; fi
expect_rc0 "junk"

# 5. a 10 MB line: one response, then the next command
python3 -c "
import sys
sys.stdout.write('(eval \"' + 'x' * (10 * 1024 * 1024) + '\n')
sys.stdout.write('(eval \"(len \\\\\"' + 'y' * (10 * 1024 * 1024) + '\\\\\")\")\n')
sys.stdout.write('(eval \"(+ 1 1)\")\n')
" >"$TMP/in"
run_server "$TMP/in"
mapfile -t lines <"$TMP/out"
if [ "${#lines[@]}" -eq 3 ]; then ok; else bad "10MB: expected 3 lines, got ${#lines[@]}"; fi
if [[ "${lines[0]:-}" == "(error 0 \""* ]]; then ok; else bad "10MB unterminated: ${lines[0]:0:200}"; fi
if [ "${lines[1]:-}" == "(ok 0 10485760)" ]; then ok; else bad "10MB string: ${lines[1]:0:200}"; fi
if [ "${lines[2]:-}" == "(ok 0 2)" ]; then ok; else bad "after 10MB: ${lines[2]:0:200}"; fi
expect_rc0 "10MB"

# 6. print/display go to stderr, never stdout
printf '%s\n' '(eval "(print 1)")' '(eval "(begin (println \"hello\") (display \"x\") (write \"y\") 5)")' >"$TMP/in"
run_server "$TMP/in"
expect_out "stdout clean" '(ok 0 nil)
(ok 0 5)'
if grep -q hello "$TMP/err" && grep -q '^1' "$TMP/err"; then ok; else bad "print output missing from stderr"; fi

# 7. load of a real file, with relative path against the working directory
printf '(define loaded-value 41)\n(+ loaded-value 1)\n' >"$TMP/prog.sx"
printf '%s\n' '(load "prog.sx")' '(eval "loaded-value")' >"$TMP/in"
(cd "$TMP" && timeout 60 "$SERVER" <"$TMP/in" >"$TMP/out" 2>"$TMP/err")
rc=$?
expect_out "load" '(ok 0 42)
(ok 0 41)'

# 8. an unowned perform is an error, not silently nil
printf '%s\n' '(eval "(perform {:op \"nobody/x\"})")' '(eval "(guard (e (true :caught)) (perform {:op \"nobody/x\"}))")' >"$TMP/in"
run_server "$TMP/in"
mapfile -t lines <"$TMP/out"
if [[ "${lines[0]:-}" == '(error 0 "perform: no resolver for op nobody/x'* ]]; then ok; else bad "perform: ${lines[0]:-}"; fi
if [ "${lines[1]:-}" == '(ok 0 "caught")' ]; then ok; else bad "perform guard: ${lines[1]:-}"; fi

# 9. EOF (also without a trailing newline, also empty input) exits 0
printf '(eval "1")' >"$TMP/in"
run_server "$TMP/in"
expect_out "no trailing newline" '(ok 0 1)'
expect_rc0 "no trailing newline"
: >"$TMP/in"
run_server "$TMP/in"
expect_out "empty input" ''
expect_rc0 "empty input"

# 10. blank lines and comments produce no response
printf '\n; just a comment\n(eval "1")\n' >"$TMP/in"
run_server "$TMP/in"
expect_out "blank" '(ok 0 1)'

# 11. a reader error in an eval names its position once
printf '%s\n' '(eval "99999999999999999999999")' '(eval "  )")' '(eval "(1 2]")' '(eval "1abc")' >"$TMP/in"
run_server "$TMP/in"
want=$(cat <<'EOF'
(error 0 "<eval>:1:1: integer literal 99999999999999999999999 out of range (64-bit)")
(error 0 "<eval>:1:3: unexpected ')'")
(error 0 "<eval>:1:5: mismatched ']': expected ')' to close '(' opened at 1:1")
(error 0 "<eval>:1:1: malformed number 1abc")
EOF
)
expect_out "reader error positions" "$want"

# 12. SIGTERM while a request is half-received: the answered requests stand,
#     the half line is no request (no error for it), and the exit is 0
mkfifo "$TMP/fifo"
(cd "$TMP" && exec "$SERVER" <"$TMP/fifo" >"$TMP/out" 2>"$TMP/err") &
srv=$!
exec 7>"$TMP/fifo"
printf '(eval "1")\n(eval "(+ 1' >&7
for _ in $(seq 100); do [ -s "$TMP/out" ] && break; sleep 0.05; done
sleep 0.1
kill -TERM "$srv"
wait "$srv"
rc=$?
exec 7>&-
expect_out "SIGTERM mid-line" "(ok 0 1)"
expect_rc0 "SIGTERM mid-line"

# 13. a line of the shape (eval "...") is read by a shorter path; every
#     such line, and every near miss, answers exactly as the same line with a
#     space after it does (which the general command reader takes; a space
#     moves only the position of an error at the end of the line: those
#     lines are checked word for word)
printf '%s\n' '(eval "(+ 1 2)")' '(eval "1" "2")' '(eval "\q")' '(eval "a")x)' '(eval "\"a\\\\\"")' \
  '(eval "\u00e9")' '(eval "")' '(eval "\"\xc3\xa9\"")' '(eval "(+ 1 2)"))' '(eval "1\")")' \
  '(eval "(str \"\\\"\")")' >"$TMP/plain"
sed 's/$/ /' "$TMP/plain" >"$TMP/spaced"
run_server "$TMP/plain"
cp "$TMP/out" "$TMP/out.plain"
run_server "$TMP/spaced"
if cmp -s "$TMP/out.plain" "$TMP/out"; then ok; else
  bad "plain eval lines answer differently from the general reader:"; diff "$TMP/out.plain" "$TMP/out" >&2
fi
if [ "$(wc -l <"$TMP/out.plain")" -eq 11 ] && grep -qx '(ok 0 3)' "$TMP/out.plain" &&
  grep -qx '(ok 0 "a\\\\")' "$TMP/out.plain" &&
  grep -q '^(error 0 "<command>:1:8: unknown escape' "$TMP/out.plain"; then ok; else
  bad "plain eval answers:"; cat "$TMP/out.plain" >&2
fi
printf '%s\n' '(eval "1";x")' '(eval "x\")' '(eval "\")' >"$TMP/in"
run_server "$TMP/in"
want=$(cat <<'EOF'
(error 0 "<command>:1:14: unclosed '(' opened at 1:1")
(error 0 "<command>:1:12: unterminated string starting at 1:7")
(error 0 "<command>:1:11: unterminated string starting at 1:7")
EOF
)
expect_out "near misses of a plain eval" "$want"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
