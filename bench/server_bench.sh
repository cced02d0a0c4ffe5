#!/usr/bin/env bash
# bench/server_bench.sh — the cost of one top-level evaluation through the
# stdin protocol of `sx server` (sync off): N trivial evaluations
# (eval "1"), and N one-event persist/append evaluations. Each figure is
# the run with N commands minus the same process with none (start-up and
# the persist prelude), divided by N: microseconds per evaluation (median
# of REPS paired runs, with the range) and, when valgrind is installed,
# instructions per evaluation (callgrind, N_IR commands).
#   bench/server_bench.sh [SX]      SX defaults to build/hosts/sx
set -u
cd "$(dirname "$0")/.."
SX=${1:-${SX:-build/hosts/sx}}
[ -x "$SX" ] || { echo "server_bench: no sx at $SX" >&2; exit 2; }
N=${N_SERVER:-20000}
N_IR=${N_SERVER_IR:-2000}
REPS=${BENCH_REPS:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cat > "$TMP/prelude.sx" <<'EOS'
(load "lib/persist/event.sx")
(load "lib/persist/backend.sx")
(load "lib/persist/log.sx")
(load "lib/persist/durable.sx")
(define db (persist/durable-backend))
EOS

# cmds KIND N FILE: the command file for N evaluations of KIND.
cmds() {
  { echo "(load \"$TMP/prelude.sx\")"
    awk -v n="$2" -v k="$1" 'BEGIN { for (i = 1; i <= n; i++)
      if (k == "trivial") print "(eval \"1\")";
      else printf "(eval \"(persist/append db \\\"s\\\" \\\"t\\\" %d {:n %d})\")\n", i, i }'
  } > "$3"
}

# run FILE: wall nanoseconds of one server over FILE (fresh store), or n/a
# when some command did not answer ok.
run() {
  rm -rf "$TMP/s"
  local t0 t1 want
  want=$(wc -l < "$1")
  t0=$(date +%s%N)
  "$SX" --store "$TMP/s" --sync off server < "$1" > "$TMP/out" 2>/dev/null
  t1=$(date +%s%N)
  [ "$(grep -c '^(ok' "$TMP/out")" -eq "$want" ] || { echo n/a; return; }
  echo $((t1 - t0))
}

# ir FILE: instructions of one server over FILE (fresh store).
ir() {
  rm -rf "$TMP/s"
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$SX" --store "$TMP/s" --sync off server < "$1" 2>&1 >/dev/null |
    awk '/Collected/ { print $NF }'
}

median_range() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
  m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
  printf "%.2f (%.2f-%.2f)\n", m, a[1], a[NR] }'; }

echo "== one top-level evaluation through 'sx server' (sync off)"
printf '%-28s %26s %14s\n' what "us/eval median (range)" "instr/eval"
cmds trivial 0 "$TMP/base"
for kind in trivial append; do
  cmds $kind "$N" "$TMP/cmds"
  : > "$TMP/us"
  for ((r = 0; r < REPS; r++)); do  # paired: base, measured, base, measured...
    b=$(run "$TMP/base"); m=$(run "$TMP/cmds")
    [[ $b == n/a || $m == n/a ]] && continue
    awk -v b="$b" -v m="$m" -v n="$N" 'BEGIN { printf "%.3f\n", (m - b) / n / 1000 }' >> "$TMP/us"
  done
  us=$(median_range < "$TMP/us")
  irs="-"
  if command -v valgrind >/dev/null; then
    cmds $kind "$N_IR" "$TMP/cmds_ir"
    ib=$(ir "$TMP/base"); im=$(ir "$TMP/cmds_ir")
    [[ -n $ib && -n $im ]] && irs=$(awk -v b="$ib" -v m="$im" -v n="$N_IR" 'BEGIN { printf "%.0f", (m - b) / n }')
  fi
  label="trivial (eval \"1\")"; [ $kind = append ] && label="one-event persist/append"
  printf '%-28s %26s %14s\n' "$label" "$us" "$irs"
done
echo "(target: <= 3 us per trivial evaluation)"
