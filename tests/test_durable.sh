#!/usr/bin/env bash
# tests/test_durable.sh — the durable host end to end through the real sx
# binary: persist on persist/durable-backend survives SIGKILL and restart,
# the seq continues, blobs come back, a second writer is refused with the
# owner's pid, and an evaluation that fails commits none of its writes.
#   test_durable.sh SX_BINARY
set -u
SX=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"; kill -9 $SRV 2>/dev/null' EXIT
SRV=
pass=0; fail=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1"; echo "  expected: $2"; echo "  actual:   $3"; fi
}
PRELUDE='(begin (load "lib/persist/event.sx") (load "lib/persist/backend.sx") (load "lib/persist/log.sx") (load "lib/persist/kv.sx") (load "lib/persist/project.sx") (load "lib/persist/snapshot.sx") (load "lib/persist/compaction.sx") (load "lib/persist/durable.sx") (load "lib/persist/blob.sx") (define db (persist/durable-backend)) (define blobs (persist/blob-store-backend)) (define (count acc e) (+ acc 1)))'
q() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# process 1: writes across several streams, kv, a checkpoint, compaction, a blob; then SIGKILL
mkfifo "$DIR/in"
"$SX" --store "$DIR/s" server < "$DIR/in" > "$DIR/out1" 2>/dev/null &
SRV=$!
exec 3> "$DIR/in"
{
  echo "(eval \"$(q "$PRELUDE")\")"
  echo "(eval \"$(q '(begin (persist/append db "a" "x" 1 {:n 1}) (persist/append db "a" "x" 2 {:n 2}) (persist/append db "b" "y" 3 {:n 3}) (persist/kv-put db "cfg" {:mode "on"}) (persist/append db "a" "x" 4 {:n 4}) (persist/compact db "a" "cnt" count 0) (persist/append db "a" "x" 5 {:n 5}) (persist/kv-put db "inv" (persist/blob-store blobs "PDFBYTES" "application/pdf")) :ok)')\")"
} >&3
for _ in $(seq 50); do [ "$(grep -c '^(ok' "$DIR/out1")" -ge 2 ] && break; sleep 0.1; done
check "process 1 acknowledged its writes" "(ok 0 \"ok\")" "$(tail -1 "$DIR/out1")"
# a second writer is refused while process 1 holds the store
second=$("$SX" --store "$DIR/s" -e '(perform {:op "persist/kv-put" :args (list "x" 1)})' 2>&1)
check "second writer is refused naming the owner" "yes" "$(grep -q "store $DIR/s is locked by pid $SRV" <<<"$second" && echo yes || echo "no: $second")"
kill -9 $SRV; wait $SRV 2>/dev/null; exec 3>&-

# process 2: same directory
r=$("$SX" --store "$DIR/s" -e "$PRELUDE (list (persist/last-seq db \"a\") (persist/count db \"a\") (persist/project-value (persist/replay db \"a\" \"cnt\" count 0)) (persist/kv-get db \"cfg\") (persist/blob-fetch blobs (persist/kv-get db \"inv\")) (persist/event-seq (persist/append db \"a\" \"x\" 6 {})))" 2>&1)
check "restart replays to identical state and continues the seq" '(4 1 4 {:mode "on"} "PDFBYTES" 5)' "$r"

# an evaluation that fails after writing commits nothing
"$SX" --store "$DIR/s" -e "$PRELUDE (persist/kv-put db \"half\" 1) (error \"boom\")" >/dev/null 2>&1
r=$("$SX" --store "$DIR/s" -e "$PRELUDE (list (persist/kv-has? db \"half\") (persist/last-seq db \"a\"))" 2>&1)
check "a failed evaluation leaves no writes behind" "(false 5)" "$r"

# a wrong seq is refused with a clear, catchable error
r=$("$SX" --store "$DIR/s" -e '(guard (e (true (error-message e))) (perform {:op "persist/append" :args (list "a" {:seq 99})}))' 2>&1)
check "out-of-order seq is refused" '"append to stream \"a\": event :seq 99 does not follow the stream'"'"'s last seq 5 (expected 6)"' "$r"

# an op no resolver owns is an error, never nil
r=$("$SX" --store "$DIR/s" -e '(guard (e (true (error-message e))) (perform {:op "clock/now" :args (list)}))' 2>&1)
check "unowned op is an error" '"perform: no resolver for op clock/now"' "$r"

# sx store check: clean store passes; a flipped bit mid-log is reported with file and offset
"$SX" store check "$DIR/s" > /dev/null 2>&1
check "store check passes a clean store" "0" "$?"
cp -r "$DIR/s" "$DIR/bad"
printf '\xff' | dd of="$DIR/bad/log" bs=1 seek=30 conv=notrunc 2>/dev/null
r=$("$SX" store check "$DIR/bad" 2>&1); rc=$?
check "store check exits 1 on damage" "1" "$rc"
check "damage report names file and offset" "yes" "$(grep -q "$DIR/bad/log: damaged at offset" <<<"$r" && echo yes || echo "no: $r")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
