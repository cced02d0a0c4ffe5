#!/usr/bin/env bash
# tests/test_crash.sh — crash torture for the durable host. A writer (the
# real `sx server` running the unchanged persist stack on
# persist/durable-backend) evaluates `(w)` as fast as it can; each (w) is one
# top-level evaluation that appends to two streams, puts three kv values,
# sometimes stores a blob and truncates streams. The writer is killed with
# SIGKILL after a random delay, CYCLES times (default 200), cycling through
# the sync modes full, batch and off; every 50 kills the store starts afresh
# (so some kills land while the store is being created). After every kill a fresh process
# checks the store:
#   - every acknowledged evaluation is present (full and batch modes: an
#     evaluation is acknowledged when its `(ok ...)` response was written),
#     and at most 17 beyond the last acknowledged: the one in flight and
#     the 16 whose responses the server may hold while more requests wait
#     (hosts/sx_server.c, HOLD_MAX);
#   - no partial evaluation is visible: the kv counter, the "all" stream's
#     high-water mark and the sum of the four shard streams' high-water marks
#     agree, the shard that the last evaluation wrote ends with it, the kv
#     value it wrote is there, and the blob its ref names has its bytes;
#   - every stream's stored events have contiguous seqs ending at its
#     high-water mark (whatever was truncated before them), and in "all"
#     every event's :i equals its :seq (no evaluation lost or repeated);
#   - `sx store check` reports the store clean.
#   `sx store check` exits 3 for a torn tail (clean, an interrupted commit).
#   test_crash.sh SX_BINARY [CYCLES]
# SX_CRASH_SIGNAL=TERM (default KILL) kills the writer with that signal.
# SX_CRASH_KEEP=DIR keeps, for every failing cycle, the store as the previous
# cycle left it, as the kill left it, and the writer's output, in DIR/cycle-N.
set -u
SX=$(realpath "${1:?usage: test_crash.sh SX_BINARY [CYCLES]}")
CYCLES=${2:-${SX_CRASH_CYCLES:-200}}
SIG=${SX_CRASH_SIGNAL:-KILL}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d)
WPID=
trap '[ -n "$WPID" ] && kill -9 $WPID 2>/dev/null; rm -rf "$DIR"' EXIT
STORE=$DIR/store
fail=0
KEEP=${SX_CRASH_KEEP:-}
failmsg() {
  fail=$((fail + 1)); echo "FAIL (cycle $1, sync $2): $3"
  if [ -n "$KEEP" ]; then
    local k="$KEEP/cycle-$1"; mkdir -p "$k"
    [ -d "$DIR/before" ] && cp -a "$DIR/before" "$k/store-before"
    cp -a "$DIR/after" "$k/store-after" 2>/dev/null; cp -a "$STORE" "$k/store-now" 2>/dev/null
    cp "$DIR/out" "$DIR/err" "$k/" 2>/dev/null; echo "  kept in $k"
  fi
}

cat > "$DIR/common.sx" <<'EOF'
(load "lib/persist/event.sx")
(load "lib/persist/backend.sx")
(load "lib/persist/log.sx")
(load "lib/persist/kv.sx")
(load "lib/persist/durable.sx")
(load "lib/persist/blob.sx")
(define db (persist/durable-backend))
(define blobs (persist/blob-store-backend))
(define (last-i) (let ((v (persist/kv-get db "last"))) (if v v 0)))
(define (shard i) (str "s" (mod i 4)))
EOF

cat > "$DIR/writer.sx" <<'EOF'
(define (w)
  (let ((i (+ 1 (last-i))))
    (let ((sj (shard i)))
      (begin
        (persist/append db "all" "w" i {:i i})
        (persist/append db sj "w" i {:i i :pad "0123456789abcdef0123456789abcdef"})
        (if (= 0 (mod i 10))
            (persist/kv-put db "blob" {:i i :ref (persist/blob-store blobs (str "blob-" i) "text/plain")})
            nil)
        (persist/kv-put db (str "k" (mod i 7)) i)
        (persist/kv-put db "last" i)
        (if (= 0 (mod i 25)) (persist/truncate db "all" (- i 10)) nil)
        (if (= 0 (mod i 9)) (persist/truncate db sj (- (persist/last-seq db sj) 3)) nil)
        i))))
EOF

cat > "$DIR/verify.sx" <<'EOF'
(define (contig? es want)
  (cond ((empty? es) true)
        ((= (persist/event-seq (first es)) want) (contig? (rest es) (+ want 1)))
        (else false)))
(define (stream-ok? s)
  (let ((es (persist/read db s)))
    (or (empty? es)
        (and (contig? es (persist/event-seq (first es)))
             (= (persist/event-seq (last es)) (persist/last-seq db s))))))
(define (last-i-of s)
  (let ((es (persist/read db s))) (if (empty? es) 0 (get (persist/event-data (last es)) :i))))
(define (shard-ok? L j)
  (or (< L 4) (= (last-i-of (str "s" j)) (- L (mod (- L j) 4)))))
(define L (last-i))
(define b (persist/kv-get db "blob"))
(print (list L
  (every? stream-ok? (persist/backend-streams db))
  (every? (fn (e) (= (get (persist/event-data e) :i) (persist/event-seq e))) (persist/read db "all"))
  (= (persist/last-seq db "all") L)
  (= (+ (persist/last-seq db "s0") (persist/last-seq db "s1") (persist/last-seq db "s2") (persist/last-seq db "s3")) L)
  (and (shard-ok? L 0) (shard-ok? L 1) (shard-ok? L 2) (shard-ok? L 3))
  (or (= L 0) (= (persist/kv-get db (str "k" (mod L 7))) L))
  (or (nil? b) (and (= (get b :i) (- L (mod L 10))) (equal? (persist/blob-fetch blobs (get b :ref)) (str "blob-" (get b :i)))))))
EOF
GOOD="true true true true true true true"

floor=0     # highest evaluation acknowledged in full or batch mode
prev=0      # L found by the previous verification
modes=(full batch off)
writes=0
torn=0      # kills that left a partly written commit
for ((c = 1; c <= CYCLES; c++)); do
  mode=${modes[$((c % 3))]}
  if [ $((c % 50)) -eq 1 ]; then  # a fresh store now and then: crashes while creating it
    rm -rf "$STORE"; floor=0; prev=0
  fi
  rm -rf "$DIR/before" "$DIR/after"
  [ -n "$KEEP" ] && [ -d "$STORE" ] && cp -a "$STORE" "$DIR/before"
  # the writer: the prelude, then (w) forever until it is killed
  "$SX" --store "$STORE" --sync "$mode" server \
    < <(echo '(load "'"$DIR"'/common.sx")'; echo '(load "'"$DIR"'/writer.sx")'; yes '(eval "(w)")') \
    > "$DIR/out" 2> "$DIR/err" &
  WPID=$!
  sleep "$(printf '0.%03d' $((RANDOM % 70 + 1)))"
  kill -s "$SIG" $WPID 2>/dev/null; wait $WPID 2>/dev/null; WPID=
  # the highest acknowledged evaluation of this run
  [ -n "$KEEP" ] && [ -d "$STORE" ] && cp -a "$STORE" "$DIR/after"
  acked=$(grep -E '^\(ok 0 [0-9]+\)$' "$DIR/out" | tail -1 | sed -E 's/^\(ok 0 ([0-9]+)\)$/\1/')
  if grep -q '^(error' "$DIR/out"; then failmsg $c $mode "writer error: $(grep -m1 '^(error' "$DIR/out")"; fi
  # the store as the kill left it: clean apart from, perhaps, a torn tail
  chk=$("$SX" store check "$STORE" 2>&1); rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 3 ] && [ -e "$STORE/lock" ]; then
    failmsg $c $mode "store check after the kill: $chk"; break
  fi
  grep -q 'torn tail' <<<"$chk" && torn=$((torn + 1))
  full=$("$SX" --store "$STORE" run "$DIR/common.sx" "$DIR/verify.sx" 2>&1); r=$(tail -1 <<<"$full")
  L=${r%% *}; L=${L#(}; rest=${r#* }; rest=${rest%)}
  if ! [[ "$L" =~ ^[0-9]+$ ]] || [ "$rest" != "$GOOD" ]; then
    failmsg $c $mode "verification: $full"
    break
  fi
  if [ -n "$acked" ] && [ "$mode" != off ] && [ "$acked" -gt "$floor" ]; then floor=$acked; fi
  [ "$L" -ge "$floor" ] || failmsg $c $mode "acknowledged evaluation $floor lost (store has $L)"
  limit=$(( ${acked:-$prev} > prev ? ${acked:-$prev} : prev ))
  [ "$L" -le $((limit + 17)) ] || failmsg $c $mode "store has $L, beyond the held and in-flight evaluations $((limit + 17))"
  if ! chk=$("$SX" store check "$STORE" 2>&1); then failmsg $c $mode "store check: $chk"; break; fi
  writes=$((writes + L - prev)); prev=$L
  [ "$fail" -gt 5 ] && break
done
echo "$((c > CYCLES ? CYCLES : c)) kills with SIG$SIG ($torn left a torn commit); $writes evaluations kept across them"
echo "$((fail == 0 ? 1 : 0)) passed, $((fail == 0 ? 0 : 1)) failed"
[ "$fail" -eq 0 ]
