#!/usr/bin/env bash
# tests/test_durable.sh — the durable host end to end through the real sx
# binary: persist on persist/durable-backend survives SIGKILL and restart
# (a second process replays to the projections and values the first one
# saw, the seq continues, blobs come back), a second writer is refused with
# the owner's pid, an evaluation that fails commits none of its writes, the
# batch and off sync modes chosen on the command line behave as documented,
# and a store whose disk fails (SX_STORE_FAULT, honoured only by the
# test-only sx-fault build) raises catchable errors while the server keeps
# answering and nothing stored before is lost, and `sx store compact`
# shrinks the log to the same state. SX_TEST_LIBPQ, too, is honoured by
# sx-fault only.
#   test_durable.sh SX_BINARY SX_FAULT_BINARY
set -u
SX=$1
SXF=${2:?usage: test_durable.sh SX_BINARY SX_FAULT_BINARY}
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
PRELUDE='(begin (load "lib/persist/event.sx") (load "lib/persist/backend.sx") (load "lib/persist/log.sx") (load "lib/persist/kv.sx") (load "lib/persist/project.sx") (load "lib/persist/snapshot.sx") (load "lib/persist/compaction.sx") (load "lib/persist/durable.sx") (load "lib/persist/blob.sx") (define db (persist/durable-backend)) (define blobs (persist/blob-store-backend)) (define (count acc e) (+ acc 1)) (define (total acc e) (+ acc (get (persist/event-data e) :n))))'
# everything a process can see of the state process 1 leaves behind
STATE='(list (persist/project-value (persist/replay db "a" "cnt" count 0)) (persist/project-value (persist/replay db "a" "sum" total 0)) (persist/project-value (persist/replay db "b" "sumb" total 0)) (persist/last-seq db "a") (persist/last-seq db "b") (map persist/event-seq (persist/read db "a")) (persist/kv-get db "cfg") (persist/kv-get db "snapshot/cnt") (persist/blob-fetch blobs (persist/kv-get db "inv")))'
q() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# process 1: writes across several streams, kv, a checkpoint, compaction, a blob; then SIGKILL
mkfifo "$DIR/in"
"$SX" --store "$DIR/s" server < "$DIR/in" > "$DIR/out1" 2>/dev/null &
SRV=$!
exec 3> "$DIR/in"
{
  echo "(eval \"$(q "$PRELUDE")\")"
  echo "(eval \"$(q '(begin (persist/append db "a" "x" 1 {:n 1}) (persist/append db "a" "x" 2 {:n 2}) (persist/append db "b" "y" 3 {:n 3}) (persist/kv-put db "cfg" {:mode "on"}) (persist/append db "a" "x" 4 {:n 4}) (persist/compact db "a" "cnt" count 0) (persist/checkpoint db "a" "sum" total 0) (persist/append db "b" "y" 4 {:n 6}) (persist/append db "a" "x" 5 {:n 5}) (persist/kv-put db "inv" (persist/blob-store blobs "PDFBYTES" "application/pdf")) :ok)')\")"
  echo "(eval \"$(q "$STATE")\")"
} >&3
for _ in $(seq 50); do [ "$(grep -c '^(ok' "$DIR/out1")" -ge 3 ] && break; sleep 0.1; done
check "process 1 acknowledged its writes" "(ok 0 \"ok\")" "$(sed -n 2p "$DIR/out1")"
seen1=$(sed -n '3s/^(ok 0 \(.*\))$/\1/p' "$DIR/out1")
check "process 1's view of its state" '(4 5 9 4 2 (4) {:mode "on"} {:seq 3 :value 3} "PDFBYTES")' "$seen1"
# a second writer is refused while process 1 holds the store
second=$("$SX" --store "$DIR/s" -e '(perform {:op "persist/kv-put" :args (list "x" 1)})' 2>&1)
check "second writer is refused naming the owner" "yes" "$(grep -q "store $DIR/s is locked by pid $SRV" <<<"$second" && echo yes || echo "no: $second")"
kill -9 $SRV; wait $SRV 2>/dev/null; exec 3>&-

# process 2: same directory
r=$("$SX" --store "$DIR/s" -e "$PRELUDE $STATE" 2>&1)
check "restart replays to the projections and values process 1 saw" "$seen1" "$r"
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

# a torn tail: check exits 3 (clean, but a commit was interrupted); the next
# writable open discards it and says so on stderr
cp -r "$DIR/s" "$DIR/torn"
end=$("$SX" store check "$DIR/torn" 2>&1 | sed -nE 's/.*data ends at offset ([0-9]+),.*/\1/p')
printf 'SXF2 half a frame' | dd of="$DIR/torn/log" bs=1 seek="$end" conv=notrunc 2>/dev/null
r=$("$SX" store check "$DIR/torn" 2>&1); rc=$?
check "store check exits 3 on a torn tail" "3 yes" "$rc $(grep -q "torn tail at offset $end" <<<"$r" && echo yes || echo "no: $r")"
r=$("$SX" --store "$DIR/torn" -e '(perform {:op "persist/last-seq" :args (list "a")})' 2>&1 >/dev/null)
check "a writable open says what it discards" "yes" "$(grep -q "sx: warning: store $DIR/torn: discarded [0-9]* bytes of $DIR/torn/log at offset $end: a torn tail" <<<"$r" && echo yes || echo "no: $r")"
"$SX" store check "$DIR/torn" > /dev/null 2>&1
check "after it the store checks clean" "0" "$?"
mkdir -p "$DIR/unborn"
"$SX" store check "$DIR/unborn" > /dev/null 2>&1
check "store check: an empty directory is an empty store" "0" "$?"

# sync modes from the command line: batch keeps an acknowledged write
# through SIGKILL and makes it visible to readers at once; off buffers it in
# the process (readers do not see it yet) and writes it at exit
frames() { "$SX" store check "$1" 2>&1 | sed -nE 's/.*: ([0-9]+) frames,.*/\1/p'; }
for mode in batch off; do
  S=$DIR/sync-$mode; rm -f "$DIR/in"; mkfifo "$DIR/in"
  if [ $mode = batch ]; then "$SX" --store "$S" --sync batch server < "$DIR/in" > "$DIR/out2" 2>&1 &
  else SX_SYNC=off "$SX" --store "$S" server < "$DIR/in" > "$DIR/out2" 2>&1 & fi
  SRV=$!; exec 3> "$DIR/in"
  echo "(eval \"$(q "$PRELUDE")\")" >&3
  echo "(eval \"$(q '(begin (persist/append db "m" "x" 1 {:n 1}) (persist/kv-put db "mode" "first") :w1)')\")" >&3
  for _ in $(seq 50); do grep -q '^(ok 0 "w1")' "$DIR/out2" && break; sleep 0.1; done
  check "$mode: write acknowledged" '(ok 0 "w1")' "$(tail -1 "$DIR/out2")"
  if [ $mode = batch ]; then
    check "batch: a reader sees the acknowledged commit at once" "1" "$(frames "$S")"
    kill -9 $SRV; wait $SRV 2>/dev/null; exec 3>&-
  else
    check "off: the acknowledged commit is still buffered in the writer" "0" "$(frames "$S")"
    exec 3>&-; wait $SRV
    check "off: end of input writes it" "1" "$(frames "$S")"
  fi
  r=$("$SX" --store "$S" -e "$PRELUDE (list (persist/last-seq db \"m\") (persist/kv-get db \"mode\"))" 2>&1)
  check "$mode: the write is there after the writer is gone" '(1 "first")' "$r"
done
SRV=

# the shipped binary ignores SX_STORE_FAULT: only the test build honours it
r=$(SX_STORE_FAULT=log-write:1:ENOSPC:sticky "$SX" --store "$DIR/s" -e "$PRELUDE (persist/kv-put db \"shipped\" 1) :stored" 2>&1)
check "the shipped sx ignores SX_STORE_FAULT" '"stored"' "$r"
r=$("$SX" --store "$DIR/s" -e "$PRELUDE (persist/kv-get db \"shipped\")" 2>&1)
check "and its write is stored" '1' "$r"

# SX_TEST_LIBPQ (a library to load instead of libpq) is honoured by the test
# build only (tests/test_pqload.c): sx-fault says libpq is missing, the
# shipped sx loads the real one and gets as far as connecting. Skipped
# when sx is built without PostgreSQL stores.
PGQ='(perform {:op "persist/kv-keys" :args (list)})'
PGURL="postgresql:///postgres?host=$DIR/nowhere&user=postgres"
r=$("$SX" --store "$PGURL" -e "$PGQ" 2>&1)
if grep -q "cannot connect to the database" <<<"$r"; then
  r=$(SX_TEST_LIBPQ=/nonexistent-sx/libpq.so.5 "$SXF" --store "$PGURL" -e "$PGQ" 2>&1)
  check "without libpq the error names it" "1" \
    "$(grep -c 'PostgreSQL stores need libpq (libpq.so.5; Debian: libpq5): /nonexistent-sx/libpq.so.5: cannot open' <<<"$r")"
  r=$(SX_TEST_LIBPQ=/nonexistent-sx/libpq.so.5 "$SX" --store "$PGURL" -e "$PGQ" 2>&1)
  check "the shipped sx ignores SX_TEST_LIBPQ" "1 0" \
    "$(grep -c 'cannot connect to the database' <<<"$r") $(grep -c 'need libpq' <<<"$r")"
fi

# a failing disk: every log write fails with ENOSPC. Reads of what is
# stored still work, each failing write is an error the program can catch
# (or the command's error response), and the server keeps answering.
rm -f "$DIR/in"; mkfifo "$DIR/in"
SX_STORE_FAULT=log-write:1:ENOSPC:sticky "$SXF" --store "$DIR/s" server < "$DIR/in" > "$DIR/out3" 2> "$DIR/err3" &
SRV=$!; exec 3> "$DIR/in"
{
  echo "(eval \"$(q "$PRELUDE")\")"
  echo "(eval \"$(q '(guard (e (true (error-message e))) (persist/kv-put db "full" 1) (perform {:op "persist/commit" :args (list)}) :stored)')\")"
  echo "(eval \"$(q '(list (persist/kv-get db "cfg") (persist/kv-has? db "full") (persist/last-seq db "a"))')\")"
  echo "(eval \"$(q '(persist/append db "a" "x" 0 {:n 7})')\")"
  echo '(eval "(+ 1 2)")'
} >&3
exec 3>&-; wait $SRV; SRV=
want="store $DIR/s: write to $DIR/s/log failed: No space left on device"
check "a failed write is a catchable error naming the problem" "(ok 0 \"$want\")" "$(sed -n 2p "$DIR/out3")"
check "reads keep working on a failing disk" '(ok 0 ({:mode "on"} false 5))' "$(sed -n 3p "$DIR/out3")"
check "an uncaught failing write is the command's error" "(error 0 \"$want\")" "$(sed -n 4p "$DIR/out3")"
check "the server keeps answering" "(ok 0 3)" "$(sed -n 5p "$DIR/out3")"
r=$("$SX" --store "$DIR/s" -e "$PRELUDE (list (persist/kv-has? db \"full\") (persist/last-seq db \"a\") (persist/kv-get db \"cfg\"))" 2>&1)
check "after the failing disk: nothing lost, nothing of the failed writes" '(false 5 {:mode "on"})' "$r"
"$SX" store check "$DIR/s" > /dev/null 2>&1
check "store check is clean after the failures" "0" "$?"

# sx run commits each top-level form when it ends: on a failing disk the
# first form that writes fails naming the problem, and nothing after runs
printf '%s\n(persist/kv-put db "run1" 1)\n(persist/kv-put db "run2" 2)\n' "$PRELUDE" > "$DIR/run.sx"
r=$(SX_STORE_FAULT=log-write:1:ENOSPC:sticky "$SXF" --store "$DIR/s" run "$DIR/run.sx" 2>&1); rc=$?
check "sx run on a failing disk exits 1" "1" "$rc"
check "naming the failed write once, at the form that wrote" "1 1" \
  "$(grep -c "$want" <<<"$r") $(grep -c "in top level at $DIR/run.sx:2:1" <<<"$r")"
r=$("$SX" --store "$DIR/s" -e "$PRELUDE (list (persist/kv-has? db \"run1\") (persist/kv-has? db \"run2\"))" 2>&1)
check "neither form's write is stored" "(false false)" "$r"
# with sync off a commit is buffered until the process ends: a write that
# fails then is reported as a warning, never silently
r=$(SX_SYNC=off SX_STORE_FAULT=log-write:1:ENOSPC:sticky "$SXF" --store "$DIR/s" -e "$PRELUDE (persist/kv-put db \"off\" 1) :acked" 2>&1)
check "an off-mode commit lost at exit is reported" "1" "$(grep -c "warning: closing the store at exit: $want" <<<"$r")"
r=$("$SX" --store "$DIR/s" -e "$PRELUDE (persist/kv-has? db \"off\")" 2>&1)
check "and is not stored" "false" "$r"
"$SX" store check "$DIR/s" > /dev/null 2>&1
check "store check is clean after the lost commits" "0" "$?"

# SX_STORE_FAULT itself: an errno by number works as by name; a malformed
# value is ignored, saying so, and the store works as usual
r=$(SX_STORE_FAULT=log-write:1:28:sticky "$SXF" --store "$DIR/s" -e "$PRELUDE (persist/kv-put db \"num\" 1)" 2>&1)
check "an errno given by number" "1" "$(grep -c "$want" <<<"$r")"
for bad in nosuchsite:1:EIO log-write log-write:0:EIO log-write:1:EBOGUS : log-write:1; do
  r=$(SX_STORE_FAULT=$bad "$SXF" --store "$DIR/s" -e "$PRELUDE (persist/kv-put db \"ok\" 1) :stored" 2>&1)
  check "SX_STORE_FAULT=$bad is ignored, saying so" '1 "stored"' \
    "$(grep -c "ignoring malformed SX_STORE_FAULT=$bad (expected SITE:NTH:ERRNO\[:sticky\])" <<<"$r") $(tail -1 <<<"$r")"
done

# an empty value arms nothing and says nothing; a fourth field other than
# "sticky" makes a one-shot fault
r=$(SX_STORE_FAULT= "$SXF" --store "$DIR/s" -e "$PRELUDE (persist/kv-put db \"ok\" 1) :stored" 2>&1)
check "an empty SX_STORE_FAULT is no fault" '"stored"' "$r"
r=$(SX_STORE_FAULT=log-write:1:ENOSPC:once "$SXF" --store "$DIR/s" -e "$PRELUDE (persist/kv-put db \"once\" 1)" 2>&1)
check "a one-shot fault fails the first write" "1" "$(grep -c "$want" <<<"$r")"

# sx store compact: a failing disk leaves the log as it was; then the log
# shrinks to the current state, reads the same, checks clean, continues the seq
before=$("$SX" --store "$DIR/s" -e "$PRELUDE $STATE" 2>&1)
size0=$(stat -c %s "$DIR/s/log")
r=$(SX_STORE_FAULT=compact-write:1:ENOSPC "$SXF" store compact "$DIR/s" 2>&1); rc=$?
check "a compaction on a full disk exits 1 naming the problem" "1 yes" "$rc $(grep -q "No space left on device" <<<"$r" && echo yes || echo "no: $r")"
check "a failed compaction leaves the log as it was" "$size0" "$(stat -c %s "$DIR/s/log")"
r=$("$SX" store compact "$DIR/s" 2>&1)
check "store compact succeeds" "0" "$?"
check "store compact prints the sizes" "yes" "$(grep -qE "log: [0-9]+ bytes of data \([0-9]+ on disk\) before, [0-9]+ after" <<<"$r" && echo yes || echo "no: $r")"
check "the compacted log is smaller" "yes" "$([ "$(stat -c %s "$DIR/s/log")" -lt "$size0" ] && echo yes || echo no)"
check "the compacted store reads the same" "$before" "$("$SX" --store "$DIR/s" -e "$PRELUDE $STATE" 2>&1)"
"$SX" store check "$DIR/s" > /dev/null 2>&1
check "store check is clean after compaction" "0" "$?"
r=$("$SX" --store "$DIR/s" -e "$PRELUDE (persist/event-seq (persist/append db \"a\" \"x\" 6 {}))" 2>&1)
check "the seq continues after compaction" "6" "$r"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
