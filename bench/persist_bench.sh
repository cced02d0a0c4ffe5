#!/usr/bin/env bash
# bench/persist_bench.sh — the durable host measured through the unchanged
# SX stack (lib/persist log.sx on persist/durable-backend, `perform` into the
# C store). Prints figures only:
#   1. persist/append, one event per top-level evaluation (one commit each,
#      the way a server command commits), in each sync mode: events/s;
#   2. persist/append of 100,000 events in one evaluation (one commit);
#   3. persist/count (len of persist/read) of a 100,000-event stream, repeated:
#      events/s delivered to SX (target >= 10M/s: a repeated read must not
#      decode the log again).
# Times are wall clock of whole processes; each figure subtracts a run of
# the same process that does none of the measured work.
#   bench/persist_bench.sh [SX]      SX defaults to build/hosts/sx
set -u
cd "$(dirname "$0")/.."
SX=${1:-${SX:-build/hosts/sx}}
[ -x "$SX" ] || { echo "persist_bench: no sx at $SX" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
N_FULL=${N_FULL:-2000}
N_FAST=${N_FAST:-50000}
BIG=100000
READS=${READS:-300}

cat > "$TMP/prelude.sx" <<'EOF'
(load "lib/persist/event.sx")
(load "lib/persist/backend.sx")
(load "lib/persist/log.sx")
(load "lib/persist/durable.sx")
(define db (persist/durable-backend))
(define (fill i n) (if (> i n) n (begin (persist/append db "big" "t" i {:n i :tag "bench"}) (fill (+ i 1) n))))
(define (reads k acc) (if (= k 0) acc (reads (- k 1) (+ acc (persist/count db "big")))))
EOF

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }'; }

# serve MODE N: a server that appends N events, one evaluation each.
serve() {
  rm -rf "$TMP/s"
  { echo "(load \"$TMP/prelude.sx\")"
    awk -v n="$2" 'BEGIN { for (i = 1; i <= n; i++)
      printf "(eval \"(persist/append db \\\"s\\\" \\\"t\\\" %d {:n %d :tag \\\"bench\\\"})\")\n", i, i }'
  } > "$TMP/cmds"
  local t0 t1
  t0=$(now)
  "$SX" --store "$TMP/s" --sync "$1" server < "$TMP/cmds" > "$TMP/out" 2>&1
  t1=$(now)
  if [ "$(grep -c '^(ok' "$TMP/out")" -ne $(($2 + 1)) ]; then echo "n/a"; return; fi
  secs "$t0" "$t1"
}

echo "== persist through the SX stack on persist/durable-backend"
printf '%-52s %8s %9s %12s\n' "what" events seconds "events/s"
base=$(serve off 0)
for mode in full batch off; do
  n=$N_FAST; [ $mode = full ] && n=$N_FULL
  t=$(serve $mode $n)
  [ "$t" = n/a ] && { printf '%-52s %8s %9s %12s\n' "append, 1 commit per event, sync $mode" "$n" n/a n/a; continue; }
  t=$(awk -v a="$t" -v b="$base" 'BEGIN { printf "%.3f", a - b }')
  printf '%-52s %8d %9s %12s\n' "append, 1 commit per event, sync $mode" "$n" "$t" "$(rate "$n" "$t")"
done

# 100,000 appends in one evaluation, then repeated reads
rm -rf "$TMP/r"
t0=$(now); "$SX" --store "$TMP/r" run "$TMP/prelude.sx" > /dev/null 2>&1; t1=$(now)
t_base=$(secs "$t0" "$t1")
rm -rf "$TMP/r"
t0=$(now); out=$("$SX" --store "$TMP/r" -e "(begin (load \"$TMP/prelude.sx\") (fill 1 $BIG))" 2>&1); t1=$(now)
if [ "$out" = "$BIG" ]; then
  t=$(awk -v a="$(secs "$t0" "$t1")" -v b="$t_base" 'BEGIN { printf "%.3f", a - b }')
  printf '%-52s %8d %9s %12s\n' "append, $BIG events in 1 evaluation (1 commit)" $BIG "$t" "$(rate $BIG "$t")"
else
  printf '%-52s %8s %9s %12s\n' "append, $BIG events in 1 evaluation" $BIG n/a "($out)"
fi

# reopen + one read (decodes the stream once) vs reopen + READS reads
read_run() { # K -> seconds, or n/a
  local t0 t1 o
  t0=$(now); o=$("$SX" --store "$TMP/r" -e "(begin (load \"$TMP/prelude.sx\") (reads $1 0))" 2>&1); t1=$(now)
  [ "$o" = "$(($1 * BIG))" ] && secs "$t0" "$t1" || echo n/a
}
best_read() { # K -> best of 3
  local b="" t
  for _ in 1 2 3; do
    t=$(read_run "$1"); [ "$t" = n/a ] && { echo n/a; return; }
    if [ -z "$b" ] || awk -v x="$t" -v y="$b" 'BEGIN { exit !(x < y) }'; then b=$t; fi
  done
  echo "$b"
}
t1r=$(best_read 1); tkr=$(best_read "$READS")
if [ "$t1r" != n/a ] && [ "$tkr" != n/a ]; then
  ev=$(( (READS - 1) * BIG ))
  t=$(awk -v a="$tkr" -v b="$t1r" 'BEGIN { printf "%.3f", a - b }')
  printf '%-52s %8d %9s %12s\n' "persist/count of a $BIG-event stream, x$((READS - 1))" "$ev" "$t" "$(rate "$ev" "$t")"
  printf '%-52s %8d %9s %12s\n' "  first read after reopen (open, scan, decode)" $BIG "$t1r" "$(rate $BIG "$t1r")"
else
  echo "repeated read: n/a"
fi
echo "(target: repeated reads >= 10000000 events/s)"
