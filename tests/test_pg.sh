#!/usr/bin/env bash
# tests/test_pg.sh — the PostgreSQL store end to end through the real sx
# binary, on the throwaway cluster ./run.sh test starts (SX_TEST_PG is its
# URL, SX_TEST_PG_DIR its directory; without them the test says so and
# passes nothing).
#  - restart: one process appends to streams, puts kv, checkpoints,
#    compacts and stores a blob, is killed with SIGKILL; a new process sees
#    the same values and its next append continues the seqs;
#  - sx store check URL is clean; sx store compact URL has nothing to do;
#  - a bad URL, a refused connection, a wrong password and a schema from a
#    newer version each give one clear error naming the problem (never the
#    password);
#  - a live process's read cache never hides another process's commits,
#    nor a schema replaced under it;
#  - the REPL's :stats on a database counts round trips instead of a log;
#  - moving a store from a directory into PostgreSQL and back with dump/load;
#  - a database restart under a live server: the evaluation in flight may
#    fail with a clear error, the next one reconnects and works.
#   test_pg.sh SX_BINARY
set -u
SX=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ -z "${SX_TEST_PG:-}" ]; then echo "no SX_TEST_PG: the PostgreSQL tests need ./run.sh test's cluster"; echo "0 passed, 0 failed"; exit 0; fi
pass=0; fail=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1"; echo "  expected: $2"; echo "  actual:   $3"; fi
}
has() { # name needle haystack
  case "$3" in *"$2"*) pass=$((pass + 1)) ;; *) fail=$((fail + 1)); echo "FAIL: $1"; echo "  wanted: $2"; echo "  got:    $3" ;; esac
}
URL="$SX_TEST_PG&sx_schema=pgtest_$$"
PRELUDE='(load "lib/persist/event.sx") (load "lib/persist/backend.sx") (load "lib/persist/log.sx") (load "lib/persist/kv.sx") (load "lib/persist/project.sx") (load "lib/persist/snapshot.sx") (load "lib/persist/compaction.sx") (load "lib/persist/durable.sx") (load "lib/persist/blob.sx") (define db (persist/durable-backend)) (define blobs (persist/blob-store-backend)) (define (count acc e) (+ acc 1)) (define (total acc e) (+ acc (get (persist/event-data e) :n)))'
STATE='(list (persist/project-value (persist/replay db "a" "cnt" count 0)) (persist/project-value (persist/replay db "a" "sum" total 0)) (persist/last-seq db "a") (persist/last-seq db "b") (map persist/event-seq (persist/read db "a")) (persist/kv-get db "cfg") (persist/blob-fetch blobs (persist/kv-get db "inv")))'

# ---- restart after SIGKILL ------------------------------------------------------
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"; kill -9 $SRV 2>/dev/null' EXIT
SRV=
mkfifo "$DIR/in"
"$SX" --store "$URL" server < "$DIR/in" > "$DIR/out1" 2>"$DIR/err1" &
SRV=$!
exec 3> "$DIR/in"
q() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
{
  echo "(eval \"$(q "$PRELUDE")\")"
  echo "(eval \"$(q '(begin (persist/append db "a" "x" 1 {:n 1}) (persist/append db "a" "x" 2 {:n 2}) (persist/append db "b" "y" 3 {:n 3}) (persist/kv-put db "cfg" {:mode "on"}) (persist/append db "a" "x" 4 {:n 4}) (persist/compact db "a" "cnt" count 0) (persist/checkpoint db "a" "sum" total 0) (persist/append db "a" "x" 5 {:n 5}) (persist/kv-put db "inv" (persist/blob-store blobs "PDFBYTES" "application/pdf")) :ok)')\")"
  echo "(eval \"$(q "$STATE")\")"
} >&3
for _ in $(seq 100); do [ "$(grep -c '^(ok' "$DIR/out1")" -ge 3 ] && break; sleep 0.1; done
check "process 1 acknowledged its writes" '(ok 0 "ok")' "$(sed -n 2p "$DIR/out1")"
BEFORE=$(sed -n 3p "$DIR/out1")
kill -9 $SRV; wait $SRV 2>/dev/null; SRV=
exec 3>&-
AFTER=$(printf '(eval "%s")\n(eval "%s")\n(eval "%s")\n' "$(q "$PRELUDE")" "$(q "$STATE")" \
  "$(q '(persist/event-seq (persist/append db "a" "x" 6 {:n 6}))')" | "$SX" --store "$URL" server 2>/dev/null)
check "process 2 sees what process 1 saw" "$BEFORE" "$(sed -n 2p <<<"$AFTER")"
has "the state is real" '"PDFBYTES"' "$BEFORE"
check "the next append continues the seq (a had 4)" "(ok 0 5)" "$(sed -n 3p <<<"$AFTER")"

# ---- tools -------------------------------------------------------------------------
OUT=$("$SX" store check "$URL" 2>&1); RC=$?
check "store check of a PostgreSQL store exits 0" "0" "$RC"
has "store check counts what is stored" "2 streams" "$OUT"
OUT=$("$SX" store compact "$URL" 2>&1); RC=$?
check "store compact of a PostgreSQL store exits 0" "0" "$RC"
has "store compact says it has nothing to do" "nothing to compact" "$OUT"
BAD="postgresql://sxuser:secret@/nosuchdb?host=$SX_TEST_PG_DIR&sx_schema=none"
OUT=$("$SX" store compact "$BAD" 2>&1); RC=$?
check "store compact of a database that cannot be reached fails" "1" "$RC"
has "its message names the database" "nosuchdb" "$OUT"
check "and never the password" "0" "$(grep -c secret <<<"$OUT")"
OUT=$("$SX" store backup "$URL" "$DIR/bk" 2>&1); RC=$?
check "store backup of a PostgreSQL store is refused" "1" "$RC"
has "it says what to use instead" "is a PostgreSQL store: back the database up with PostgreSQL's own tools" "$OUT"
check "and makes no destination" "no" "$([ -e "$DIR/bk" ] && echo yes || echo no)"

# ---- moving a file store into PostgreSQL and back -------------------------------------
# dump a file store (a truncated stream, unicode and binary keys, floats,
# nested values, a blob), load it into a fresh schema, dump that: the same
# bytes; load the PostgreSQL dump into a new directory: the same again.
FS="$DIR/fs"
"$SX" --store "$FS" -e "$PRELUDE (persist/append db \"t\" \"x\" 1 {:n 1}) (persist/append db \"t\" \"x\" 2 {:n 2.5})
  (persist/append db \"t\" \"x\" 3 {:n (list 1 {:deep \"é\"})}) (persist/truncate db \"t\" 2)
  (persist/append db \"gone\" \"x\" 1 {}) (persist/truncate db \"gone\" 1)
  (persist/kv-put db \"clé\" {:f -0.125}) (persist/kv-put db \"bin\\x01\\x00key\" true)
  (persist/kv-put db \"doc\" (persist/blob-store blobs \"the bytes\" \"text/plain\")) :ok" >/dev/null 2>&1
"$SX" store dump "$FS" > "$DIR/fs.dump" 2>&1; check "the file store dumps" "0" "$?"
MOVED="$SX_TEST_PG&sx_schema=pgmove_$$"
"$SX" store load "$MOVED" < "$DIR/fs.dump" > /dev/null 2> "$DIR/load.err"; check "store load into a PostgreSQL URL exits 0" "0" "$?"
has "store load names the store without its password" "streams" "$(cat "$DIR/load.err")"
"$SX" store dump "$MOVED" > "$DIR/pg.dump" 2>&1
check "the PostgreSQL store dumps byte-identically (blobs included)" "" "$(cmp "$DIR/fs.dump" "$DIR/pg.dump" 2>&1)"
has "the dump holds the blob" '{:blob "bafkrei' "$(cat "$DIR/pg.dump")"
"$SX" store load "$DIR/back" < "$DIR/pg.dump" > /dev/null 2>&1; check "loading it back into a directory exits 0" "0" "$?"
"$SX" store dump "$DIR/back" > "$DIR/back.dump" 2>&1
check "and dumps identically again" "" "$(cmp "$DIR/fs.dump" "$DIR/back.dump" 2>&1)"
r=$("$SX" --store "$MOVED" -e "$PRELUDE (list (persist/last-seq db \"t\") (map persist/event-seq (persist/read db \"t\")) (persist/last-seq db \"gone\") (persist/event-seq (persist/append db \"t\" \"x\" 4 {})))" 2>&1)
check "the loaded store keeps marks and truncation and goes on" "(3 (3) 1 4)" "$r"
OUT=$("$SX" store load "$MOVED" < "$DIR/fs.dump" 2>&1); RC=$?
check "loading into a non-empty schema is refused" "1" "$RC"
has "saying why" "is not empty" "$OUT"
head -3 "$DIR/fs.dump" | "$SX" store load "$SX_TEST_PG&sx_schema=pgcut_$$" >/dev/null 2>&1
check "a dump cut short is refused" "1" "$?"
r=$("$SX" store dump "$SX_TEST_PG&sx_schema=pgcut_$$" 2>&1 | tail -1)
check "and leaves the schema empty" '{:end {:streams 0 :events 0 :kv 0 :blobs 0}}' "$r"

# ---- errors --------------------------------------------------------------------------
E=$("$SX" --store "postgresql:///postgres?host=$DIR/nowhere&user=postgres" -e '(perform {:op "persist/kv-keys" :args (list)})' 2>&1)
has "a refused connection names the problem" "cannot connect to the database" "$E"
E=$("$SX" --store "postgresql://postgres:s3cret@/postgres?host=$DIR/nowhere" -e '(perform {:op "persist/kv-keys" :args (list)})' 2>&1)
check "the password is never shown" "" "$(grep -o s3cret <<<"$E")"
E=$("$SX" --store "postgresql:///postgres?host=${SX_TEST_PG_DIR:-/x}&user=postgres&bogus=1" -e '(perform {:op "persist/kv-keys" :args (list)})' 2>&1)
has "a bad URL names the problem" "bogus" "$E"
NEWER="$SX_TEST_PG&sx_schema=pgnewer_$$"
"$SX" --store "$NEWER" -e '(perform {:op "persist/kv-keys" :args (list)})' >/dev/null 2>&1
"$SX" --store "$NEWER" -e '(perform {:op "persist/kv-keys" :args (list)})' >/dev/null 2>&1
psql_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/psql
if [ -x "$psql_bin" ]; then
  "$psql_bin" "$SX_TEST_PG" -qc "UPDATE \"pgnewer_$$\".meta SET value = '99' WHERE key = 'schema_version'" >/dev/null 2>&1
  E=$("$SX" --store "$NEWER" -e '(perform {:op "persist/kv-keys" :args (list)})' 2>&1)
  has "a schema from a newer version is refused" "written by a newer sx (schema version 99" "$E"
fi

# ---- a live process's cache never hides another process's commits ------------------------
# A keeps reading a stream and a key; B appends, truncates and puts between
# A's reads; A must see exactly what B committed. Then the schema is
# replaced under A with a shorter history: A must not serve its cache.
CU="$SX_TEST_PG&sx_schema=pgcache_$$"
READ="(eval \"$(q '(list (map persist/event-seq (persist/read db "c")) (persist/last-seq db "c") (persist/kv-get db "big"))')\")"
"$SX" --store "$CU" -e "$PRELUDE (persist/append db \"c\" \"x\" 1 {}) (persist/append db \"c\" \"x\" 2 {}) (persist/kv-put db \"big\" (str \"v1-\" (join \"\" (map (fn (i) \"0123456789\") (range 0 100)))))" >/dev/null 2>&1
mkfifo "$DIR/in3"
"$SX" --store "$CU" server < "$DIR/in3" > "$DIR/out3" 2>&1 &
SRV=$!
exec 5> "$DIR/in3"
waitlines() { for _ in $(seq 100); do [ "$(wc -l < "$DIR/out3")" -ge "$1" ] && break; sleep 0.05; done; }
echo "(eval \"$(q "$PRELUDE")\")" >&5; echo "$READ" >&5; echo "$READ" >&5; waitlines 3
"$SX" --store "$CU" -e "$PRELUDE (persist/append db \"c\" \"x\" 3 {}) (persist/append db \"c\" \"x\" 4 {}) (persist/truncate db \"c\" 2) (persist/kv-put db \"big\" \"v2\")" >/dev/null 2>&1
echo "$READ" >&5; echo "$READ" >&5; waitlines 5
if [ -x "$psql_bin" ]; then
  "$psql_bin" "$SX_TEST_PG" -qc "DROP SCHEMA \"pgcache_$$\" CASCADE" >/dev/null 2>&1
  "$SX" --store "$CU" -e "$PRELUDE (persist/append db \"c\" \"x\" 1 {}) (persist/kv-put db \"big\" \"v3\")" >/dev/null 2>&1
  echo "$READ" >&5; waitlines 6
fi
exec 5>&-; wait $SRV; SRV=
has "a first read" '(ok 0 ((1 2) 2 "v1-0123' "$(sed -n 2p "$DIR/out3")"
check "a second read from the cache is the same" "$(sed -n 2p "$DIR/out3")" "$(sed -n 3p "$DIR/out3")"
check "another process's appends, truncation and put are seen" '(ok 0 ((3 4) 4 "v2"))' "$(sed -n 4p "$DIR/out3")"
check "and read again unchanged" '(ok 0 ((3 4) 4 "v2"))' "$(sed -n 5p "$DIR/out3")"
if [ -x "$psql_bin" ]; then
  check "a replaced schema is read afresh, not from the cache" '(ok 0 ((1) 1 "v3"))' "$(sed -n 6p "$DIR/out3")"
fi

# ---- the REPL on a PostgreSQL store -------------------------------------------------------
r=$(printf '(persist/last-seq db "c")\n:stats\n' | "$SX" repl --store "$CU" 2>&1)
has ":stats counts the database's round trips" "round trips since open" "$r"
has ":stats shows the cache, not a log" "memory     cache " "$r"
check ":stats shows no log for a database" "" "$(grep '^log ' <<<"$r")"

# ---- a database restart under a live server ---------------------------------------------
if [ -n "${SX_TEST_PG_DIR:-}" ]; then
  mkfifo "$DIR/in2"
  "$SX" --store "$URL" server < "$DIR/in2" > "$DIR/out2" 2>/dev/null &
  SRV=$!
  exec 4> "$DIR/in2"
  echo '(eval "(perform {:op \"persist/kv-put\" :args (list \"r\" 1)})")' >&4
  for _ in $(seq 50); do [ -s "$DIR/out2" ] && break; sleep 0.1; done
  tests/pg_cluster.sh restart "$SX_TEST_PG_DIR" 3>&- 4>&- # the server must not inherit the pipe
  echo '(eval "(perform {:op \"persist/kv-put\" :args (list \"r\" 2)})")' >&4
  echo '(eval "(perform {:op \"persist/kv-put\" :args (list \"r\" 3)})")' >&4
  echo '(eval "(perform {:op \"persist/kv-get\" :args (list \"r\")})")' >&4
  exec 4>&-
  wait $SRV; SRV=
  L2=$(sed -n 2p "$DIR/out2")
  case "$L2" in '(ok 0 nil)'|*'connection'*|*'terminat'*) pass=$((pass + 1)) ;; *) fail=$((fail + 1)); echo "FAIL: the evaluation in flight across the restart: $L2" ;; esac
  check "the evaluation after the restart reconnects and commits" "(ok 0 nil)" "$(sed -n 3p "$DIR/out2")"
  check "... and reads it back" "(ok 0 3)" "$(sed -n 4p "$DIR/out2")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
