#!/usr/bin/env bash
# tests/test_repl_pty.sh — `sx repl` end to end through a pseudo-terminal.
# tmux runs the real binary; the test types into it as a person would (a
# multi-line form, Tab completion, an error, Ctrl-C of an infinite loop,
# meta-commands on a store holding the example ledger, :doc, :apropos and
# :more) and checks what the screen shows. Also: piped mode, history
# across sessions, --read-only with :refresh while another process writes,
# and that the store stays clean.
#   test_repl_pty.sh SX_BINARY
set -u
SX=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d)
SOCK="$DIR/tmux.sock"
WRITER=
T() { tmux -S "$SOCK" "$@"; }
cleanup() {
  stop
  [ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
  exec 3>&- 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { # name [detail]
  fail=$((fail + 1)); echo "FAIL: $1"; [ -n "${2:-}" ] && echo "$2"
  echo "--- screen:"; screen | grep -v '^$' | tail -25; echo "---"
}
check() { # name expected actual
  if [ "$2" = "$3" ]; then ok; else bad "$1" "  expected: $2
  actual:   $3"; fi
}

# ---- the terminal --------------------------------------------------------
stop() { # end the terminal server, and wait until it has gone
  T kill-server 2>/dev/null
  for _ in $(seq 50); do [ -S "$SOCK" ] || return 0; T has-session 2>/dev/null || { rm -f "$SOCK"; return 0; }; sleep 0.1; done
}
start() { # ARGS...: run `sx ARGS` in a fresh 100x50 terminal
  stop
  T new-session -d -s repl -x 100 -y 50 \
    "env -u NO_COLOR HOME='$DIR' TERM=xterm-256color '$SX' $*; echo \"[exited \$?]\"; sleep 600"
}
screen() { T capture-pane -p -J -S - -t repl 2>/dev/null; }
wait_for() { # ERE: poll the screen until a line matches (up to 10 s)
  for _ in $(seq 100); do screen | grep -qE -- "$1" && return 0; sleep 0.1; done
  return 1
}
expect() { # name ERE
  if wait_for "$2"; then ok; else bad "$1" "  no line matches: $2"; fi
}
prompts() { screen | grep -cE '^sx> '; }
type_line() { # TEXT: type it and press Enter, then wait for the next prompt
  local before; before=$(prompts)
  T send-keys -t repl -l -- "$1"
  T send-keys -t repl Enter
  for _ in $(seq 100); do [ "$(prompts)" -gt "$before" ] && return 0; sleep 0.1; done
}
# the line right after the first line containing TEXT
line_after() { screen | grep -A1 -F -- "$1" | sed -n 2p; }

# ---- a store holding the example ledger (piped mode seeds it) ---------------
out=$("$SX" repl --store "$DIR/s" examples/ledger.sx < /dev/null 2>&1)
check "piped: the ledger loads" "ledger: 5 orders, 3 payments, 325 outstanding" "$out"

# ---- piped: no prompts or colour, one result per form, errors on stderr -------
out=$(printf '(+ 1 2)\n(list 1\n  {:a 2})\n:get config/currency\n(no-such 1)\n"after"\n' |
      "$SX" repl --store "$DIR/s" 2>"$DIR/err"); rc=$?
check "piped: one result per form" '3|(1 {:a 2})|"GBP"|"after"' "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
check "piped: the error goes to stderr with its position" \
  "error: unbound symbol no-such (at <stdin>:5:1)" "$(cat "$DIR/err")"
check "piped: exit status 1 after an error" "1" "$rc"
check "piped: no escape codes" "0" "$(grep -c $'\033' <<<"$out")"

# ---- piped meta-commands that read the store -----------------------------------
out=$(printf ':kv customer/\n:blobs\n:stats\n:get nope\n' | "$SX" repl --store "$DIR/s" 2>"$DIR/err")
check ":kv PREFIX lists the matching keys" "customer/ada customer/bob customer/cy" \
  "$(grep -oE '^customer/[a-z]+' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
check ":kv previews the values" "1" "$(grep -cE '^customer/ada +\{:city "London" :name "Ada" :since 2019\}$' <<<"$out")"
check ":blobs lists the invoice by id and size" "1" "$(grep -cE '^bafkrei[a-z2-7]{52} +44$' <<<"$out")"
check ":stats counts events" "1" "$(grep -cE '^events +8 stored$' <<<"$out")"
check ":stats counts kv keys and blobs" "2" "$(grep -cE '^(kv keys +5|blobs +1 \(44 bytes\))$' <<<"$out")"
check ":get of a missing key is an error" 'no kv key "nope" (:kv lists them)' "$(cat "$DIR/err")"

# ---- a session at the terminal -------------------------------------------------
start repl --store "'$DIR/s'"
expect "banner names the store and its counts" "^sx .*store $DIR/s: 2 streams, 8 events \(db, blobs bound; :help for commands\)$"

type_line ":streams"
expect ":streams shows orders" "^orders +5 +5 +1$"
expect ":streams shows payments" "^payments +3 +3 +1$"

type_line ":tail orders 2"
expect ":tail shows event 4" "^ +4 +placed +2024-05-03T08:55 +\{:amount 300 :customer \"cy\" :id 4\}$"
expect ":tail shows event 5" "^ +5 +placed +2024-05-03T17:21 +\{:amount 50 :customer \"bob\" :id 5\}$"
check ":tail 2 shows no older event" "0" "$(screen | grep -cE '^ +3 +placed')"

type_line ":show payments 3"
expect ":show prints the event in reading order" '^\{:seq 3 :stream "payments" :type "paid" :at "2024-05-04T12:00" :data \{:amount 100 :order 4\}\}$'

# multi-line: the open form continues at a "... " prompt
T send-keys -t repl -l -- "(+ 1000"; T send-keys -t repl Enter
expect "an open form gets the continuation prompt" '^\.\.\. $'
type_line "234)"
check "the completed form evaluates" "1234" "$(line_after '... 234)')"

# Ctrl-C at a continuation prompt drops the entry
T send-keys -t repl -l -- "(list 7"; T send-keys -t repl Enter
wait_for '^\.\.\. $'
T send-keys -t repl C-c
type_line "(+ 2 3)"
check "Ctrl-C dropped the unfinished entry" "5" "$(line_after 'sx> (+ 2 3)')"

# Tab completion: a symbol, then a stream name inside a string
T send-keys -t repl -l -- "(persist/last-s"; T send-keys -t repl Tab
T send-keys -t repl -l -- ' db "pay'; T send-keys -t repl Tab
T send-keys -t repl -l -- ")"
expect "Tab completed the symbol and the stream" '^sx> \(persist/last-seq db "payments"\)$'
type_line ""
check "the completed form evaluates" "3" "$(line_after 'sx> (persist/last-seq db "payments")')"

# Tab completion of a meta-command and its stream argument
T send-keys -t repl -l -- ":sh"; T send-keys -t repl Tab
T send-keys -t repl -l -- "pay"; T send-keys -t repl Tab
T send-keys -t repl -l -- "2"
expect "Tab completed the command and the stream" '^sx> :show payments 2$'
type_line ""
expect ":show of the completed line" '^\{:seq 2 :stream "payments" :type "paid" :at "2024-05-02T11:30" :data \{:amount 120 :order 2\}\}$'

# an error: message and position, and the REPL carries on
type_line "(map inc (no-such-list))"
expect "an error shows message and position" '^error: unbound symbol no-such-list \(at <repl>:1:10\)$'
type_line "(* 6 7)"
check "the REPL continues after an error" "42" "$(line_after 'sx> (* 6 7)')"

# Ctrl-C interrupts an infinite loop; its write is not committed
type_line "(define (spin n) (spin (+ n 1)))"
before=$(prompts)
T send-keys -t repl -l -- '(begin (persist/append db "orders" "placed" "later" {:id 6 :amount 1}) (spin 0))'
T send-keys -t repl Enter
sleep 1
check "the loop is still running (no new prompt)" "$before" "$(prompts)"
T send-keys -t repl C-c
expect "Ctrl-C interrupts the loop" "^interrupted; nothing it wrote was committed$"
type_line '(persist/last-seq db "orders")'
check "the interrupted write was rolled back" "5" "$(line_after 'sx> (persist/last-seq db "orders")')"

type_line ":strams"
expect "an unknown command suggests the nearest" "^unknown command :strams \(did you mean :streams\?\)$"

# :doc, :apropos, and :more for a result cut at the limit
type_line ":doc persist/read"
check ":doc gives the signature from the definition" "(persist/read b stream)" "$(line_after 'sx> :doc persist/read')"
check "... then the description" "  every event stored in a stream, oldest first" "$(line_after '(persist/read b stream)')"
type_line ":doc no-such-name"
expect ":doc of an unknown name is an error" '^error: doc: nothing is named no-such-name \(apropos finds names\)$'
type_line ":apropos kv-ke"
expect ":apropos lists a name with its description" "^persist/kv-keys +every kv key$"
check ":apropos lists every name containing the text" "3" "$(screen | grep -cE '^persist/(backend-|req-)?kv-keys +')"
T send-keys -t repl -l -- ":doc persist/read-wh"; T send-keys -t repl Tab
expect "Tab completes the name after :doc" '^sx> :doc persist/read-where$'
type_line ""
expect ":doc of the completed name" '^  a stream.s events for which pred is true$'
type_line ":set limit 4"
type_line "(range 10)"
expect "a cut result shows the limit" '^\(0 1 2 3 \.\.\. 6 more\)$'
expect "... and says :more continues it" '^\(6 more: :more shows the next 4\)$'
type_line ":more"
expect ":more shows the next page" '^entries 5 to 8 of 10:$'
check ":more shows entries 5 to 8" "(4 5 6 7)" "$(line_after 'entries 5 to 8 of 10:')"
type_line ":more"
check ":more shows the last page" "(8 9)" "$(line_after 'entries 9 to 10 of 10:')"
type_line ":more"
expect ":more with nothing left says so" '^nothing more to show'
type_line ":set limit 100"

# results are coloured on a terminal
type_line "(list 1 \"two\")"
coloured() { T capture-pane -e -p -J -S - -t repl | grep -A1 -F 'sx> (list 1 "two")' | sed -n 2p; }
check "results are coloured" "1" "$(coloured | grep -c $'\033\\[36m1')"

T send-keys -t repl C-d
expect "Ctrl-D leaves cleanly" '^\[exited 0\]$'

# ---- history survives into the next session ------------------------------------
start repl --store "'$DIR/s'"
wait_for ":help"
T send-keys -t repl Up
expect "Up recalls the last entry of the previous session" '^sx> \(list 1 "two"\)$'
T send-keys -t repl C-u C-d
expect "second session leaves cleanly" '^\[exited 0\]$'

# NO_COLOR turns colour off even on a terminal
stop
T new-session -d -s repl -x 100 -y 50 "env NO_COLOR=1 HOME='$DIR' '$SX' repl --store '$DIR/s'; sleep 600"
wait_for ":help"
type_line "(list 1 \"two\")"
wait_for '^\(1 "two"\)$'
check "NO_COLOR: no colour" '(1 "two")' "$(coloured)"
T send-keys -t repl C-d

# ---- the store is consistent after all of that ---------------------------------
sleep 0.3
"$SX" store check "$DIR/s" > /dev/null 2>&1
check "store check passes" "0" "$?"

# ---- --read-only next to a writer, and :refresh -----------------------------------
mkfifo "$DIR/in"
"$SX" --store "$DIR/s" server < "$DIR/in" > "$DIR/wout" 2>/dev/null &
WRITER=$!
exec 3> "$DIR/in"
start repl --read-only --store "'$DIR/s'"
expect "read-only banner" "^sx .*store $DIR/s \(read-only\): 2 streams, 8 events \("
echo '(eval "(perform {:op \"persist/append\" :args (list \"orders\" {:seq 6 :stream \"orders\" :type \"placed\" :at \"now\" :data {:id 6}})})")' >&3
for _ in $(seq 50); do grep -q '^(ok' "$DIR/wout" && break; sleep 0.1; done
type_line ":streams"
check "before :refresh the committed append is not seen" "1" "$(screen | grep -cE '^orders +5 +5 +1$')"
type_line ":refresh"
expect ":refresh reports the new counts" "^refreshed: 2 streams, 9 events, 5 kv keys$"
type_line ":streams"
expect "after :refresh the append is seen" "^orders +6 +6 +1$"
# :follow: new events as the writer commits them, Ctrl-C stops it
T send-keys -t repl -l -- ":follow orders"
T send-keys -t repl Enter
expect ":follow starts after the last seq" '^following "orders" after seq 6; Ctrl-C stops$'
echo '(eval "(perform {:op \"persist/append\" :args (list \"orders\" {:seq 7 :stream \"orders\" :type \"placed\" :at \"now\" :data {:id 7}})})")' >&3
expect ":follow prints the writer's commit" ':seq 7 :stream "orders"'
before=$(prompts); T send-keys -t repl C-c
for _ in $(seq 50); do [ "$(prompts)" -gt "$before" ] && break; sleep 0.1; done
check "Ctrl-C ends :follow at a prompt" "1" "$([ "$(prompts)" -gt "$before" ] && echo 1 || echo 0)"
type_line ":reopen"
expect ":reopen opens the store again" "^reopened $DIR/s: 2 streams, 10 events, 5 kv keys$"
type_line '(persist/kv-put db "x" 1)'
expect "a read-only REPL refuses writes" "^error: store $DIR/s is open read-only"
T send-keys -t repl C-d
expect "read-only session leaves cleanly" '^\[exited 0\]$'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
