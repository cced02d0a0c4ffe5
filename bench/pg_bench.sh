#!/usr/bin/env bash
# bench/pg_bench.sh — the PostgreSQL store against pgbench on one throwaway
# cluster. Prints figures only:
#   1. appends at full durability (synchronous_commit on), one event per
#      evaluation, from 1, 8 and 32 concurrent sx processes (each `sx
#      server` on its own stream), next to pgbench doing single-row inserts
#      with the same number of clients on the same server, and next to
#      pgbench sending the one statement an append needs (the lone
#      append: the insert of the event where the stream's row allows it;
#      what sx sends per append when requests queue up), each client on
#      its own stream; none counts its start-up (pgbench reports tps without its
#      connection time);
#   2. a read of a 100,000-event stream from a fresh process: events/s.
#   bench/pg_bench.sh [SX] [SECONDS]     SX defaults to build/hosts/sx
# Environment: PG_BENCH_ROUNDS (3) interleaved rounds per client count,
# each an sx window, then pgbench's two; PG_BENCH_CLIENTS ("1 8 32");
# PG_BENCH_BASE=OTHER_SX adds a window of that binary to every round and
# prints sx / it (a change measured in pairs); PG_BENCH_PIN=1 runs
# PostgreSQL on the first CPU and every client on the others, as if the
# database had a host of its own. PG_BENCH_CPU=M measures the clients'
# CPU instead of rates: per client count and round, n sx processes append
# M events each (their start-up, measured alone, subtracted) and pgbench's
# n clients insert M rows each; printed in µs of user+system CPU per
# evaluation or transaction, which the machine's noise moves far less
# than the rates (for the cost of a change, with PG_BENCH_BASE).
set -u
cd "$(dirname "$0")/.."
SX=$(realpath "${1:-build/hosts/sx}")
SECS=${2:-5}
ROUNDS=${PG_BENCH_ROUNDS:-3}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BIN/pgbench" ] || { echo "pg_bench: pgbench not found (postgresql-15)" >&2; exit 2; }
DIR=$(mktemp -d /tmp/sx-pgbench-XXXXXX)
chmod 755 "$DIR" # the postgres user reaches the cluster inside
trap 'tests/pg_cluster.sh stop "$DIR/pg"; rm -rf "$DIR"' EXIT
URL=$(tests/pg_cluster.sh start "$DIR/pg") || exit 1
BASE=${PG_BENCH_BASE:+$(realpath "$PG_BENCH_BASE")}
CLIENT=()
if [ "${PG_BENCH_PIN:-0}" = 1 ]; then # the server's processes (and the backends they fork) on CPU 0
  for p in $(pgrep -u postgres -f "$DIR/pg" ; pgrep -P "$(head -1 "$DIR/pg/data/postmaster.pid")"); do taskset -a -cp 0 "$p" >/dev/null; done
  CLIENT=(taskset -c "1-$(($(nproc) - 1))")
fi
as_pg() { if [ "$(id -u)" -eq 0 ]; then "${CLIENT[@]}" runuser -u postgres -- "$@"; else "${CLIENT[@]}" "$@"; fi; }
PGB() { as_pg "$BIN/pgbench" -h "$DIR/pg" -U postgres "$@" postgres; }
as_pg "$BIN/psql" -h "$DIR/pg" -U postgres -qc "CREATE TABLE ins (id bigserial PRIMARY KEY, v bytea)" postgres
echo "INSERT INTO ins (v) VALUES ('\\x0102030405060708');" > "$DIR/ins.sql"
# The lone append of store/pgstore_commit.c (pgc_append_one) with a
# typical encoded event, client k on stream k (2 bytes, unlike sx's); the
# seq is drawn at random from a range wide enough never to collide (sx
# sends the next seq, which it knows; the statement does the same work).
NAME="decode(lpad(to_hex((:k)::int), 4, '0'), 'hex')"
cat > "$DIR/append.sql" <<SQL
\\set k :client_id + 1
\\set s random(1, 1000000000000)
INSERT INTO bench.events SELECT $NAME, :s, '\\x0a05026174040004646174610a01016e04020373657104020673747265616d060270310474797065060174'::bytea FROM bench.streams WHERE name = $NAME AND hwm_floor < :s AND first_seq = 1;
SQL
chmod a+r "$DIR/ins.sql" "$DIR/append.sql"

PRELUDE='(load "lib/persist/event.sx") (load "lib/persist/backend.sx") (load "lib/persist/log.sx") (load "lib/persist/durable.sx") (define db (persist/durable-backend))'
# One sx process per stream, fed by yes(1) (so the feeding costs next to
# nothing, as pgbench's own loop does). Like pgbench's figure "without
# initial connection time", start-up is not counted: every appender loads
# persist, then waits on a FIFO; the window of SECS seconds starts when it
# is released and ends with a SIGKILL; what was acknowledged by then counts.
mkfifo "$DIR/go"
appender() { # K SX: start appender K (not a job of this shell); its pid goes to $DIR/pid.K
  ( "${CLIENT[@]}" "$2" --store "$URL&sx_schema=bench" server \
      < <(echo "(eval \"$(printf '%s' "$PRELUDE" | sed 's/"/\\"/g')\")"; cat "$DIR/go" >/dev/null
          yes "(eval \"(persist/append db \\\"p$1\\\" \\\"t\\\" 0 {:n 1})\")") \
      > "$DIR/out.$1" 2>/dev/null &
    echo $! > "$DIR/pid.$1" )
}
ready() { # N: have all N appenders loaded persist?
  for k in $(seq "$1"); do grep -q '^(ok 0 db)' "$DIR/out.$k" 2>/dev/null || return 1; done
}

run_sx() { # N SECS [SX]: the events/s N appenders acknowledge in a window of SECS
  local n=$1 secs=$2 k
  for k in $(seq "$n"); do appender "$k" "${3:-$SX}"; done
  until ready "$n"; do sleep 0.05; done
  local t0 t1 total=0
  t0=$(date +%s%N); : > "$DIR/go"  # opening and closing the FIFO releases them all
  sleep "$secs"
  for k in $(seq "$n"); do kill -9 "$(cat "$DIR/pid.$k")" 2>/dev/null; done
  t1=$(date +%s%N)
  for k in $(seq "$n"); do while kill -0 "$(cat "$DIR/pid.$k")" 2>/dev/null; do sleep 0.01; done; done
  for k in $(seq "$n"); do total=$((total + $(grep -c '^(ok 0 {' "$DIR/out.$k"))); done
  awk -v n="$total" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }'
}
run_pgbench() { # N SECS SCRIPT: pgbench's tps
  PGB -n -M prepared -c "$1" -j "$1" -T "$2" -f "$DIR/$3" 2>/dev/null | sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1
}
# median (min-max) of the numbers on stdin, with format F
summary() { sort -g | awk -v f="$1" '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf f " (" f "-" f ")", m, v[1], v[NR] }'; }

# the schema, and one stream per pgbench client
"$SX" --store "$URL&sx_schema=bench" -e "$PRELUDE (persist/last-seq db \"none\")" >/dev/null 2>&1
as_pg "$BIN/psql" -h "$DIR/pg" -U postgres -qc \
  "INSERT INTO bench.streams SELECT decode(lpad(to_hex(g), 4, '0'), 'hex'), 0, 1 FROM generate_series(1, 64) g" postgres
# A fresh cluster is slower at first (new WAL segments, tables and indexes
# growing from nothing), and whoever runs first would pay for it: one short
# uncounted round of each warms it up.
run_sx 32 2 >/dev/null; run_pgbench 32 2 ins.sql >/dev/null; run_pgbench 32 2 append.sql >/dev/null
# ---- PG_BENCH_CPU: the clients' CPU per evaluation ----
feed() { # K M: the requests of appender K, M appends after the prelude
  echo "(eval \"$(printf '%s' "$PRELUDE" | sed 's/"/\\"/g')\")"
  yes "(eval \"(persist/append db \\\"c$1\\\" \\\"t\\\" 0 {:n 1})\")" | head -n "$2"
}
cpu_sx() { # N M SX: µs of CPU N appenders spend per append (their start-up subtracted)
  local n=$1 m=$2 k t
  for k in $(seq "$n"); do feed "$k" "$m" > "$DIR/feed.$k"; feed "$k" 0 > "$DIR/feed0.$k"; done
  for t in feed0 feed; do
    /usr/bin/time -f "%U %S" -o "$DIR/cpu.$t" "${CLIENT[@]}" bash -c \
      "for k in \$(seq $n); do '$3' --store '$URL&sx_schema=bench' server < '$DIR/$t.'\$k > /dev/null & done; wait"
  done
  awk -v n="$n" -v m="$m" 'NR == 1 { z = $1 + $2 } NR == 2 { printf "%.1f", ($1 + $2 - z) / (n * m) * 1e6 }' \
    "$DIR/cpu.feed0" "$DIR/cpu.feed"
}
cpu_pgbench() { # N M: µs of CPU pgbench's client spends per insert
  local run=("$BIN/pgbench" -h "$DIR/pg" -U postgres -n -M prepared -c "$1" -j "$1" -t "$2" -f "$DIR/ins.sql" postgres)
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres -- "${run[@]}")
  /usr/bin/time -f "%U %S" -o "$DIR/cpu.pgb" "${CLIENT[@]}" "${run[@]}" > /dev/null 2>&1
  awk -v t=$(($1 * $2)) '{ printf "%.1f", ($1 + $2) / t * 1e6 }' "$DIR/cpu.pgb"
}
if [ -n "${PG_BENCH_CPU:-}" ]; then
  [ -x /usr/bin/time ] || { echo "pg_bench: PG_BENCH_CPU needs /usr/bin/time (package time)" >&2; exit 2; }
  M=$PG_BENCH_CPU
  printf 'pg: client CPU (user+system) per append, µs; %s appends per process, %s interleaved rounds%s:\n' \
    "$M" "$ROUNDS" "${CLIENT:+ (PostgreSQL on CPU 0, clients on the others)}"
  printf '  %5s %18s %22s' procs "sx µs/append" "pgbench µs/insert"
  [ -n "$BASE" ] && printf ' %18s %14s' "base µs/append" "sx / base"
  echo
  for n in ${PG_BENCH_CLIENTS:-1 8 32}; do
    for f in c.sx c.pgb c.base c.q; do : > "$DIR/$f"; done
    for r in $(seq "$ROUNDS"); do
      if [ -n "$BASE" ] && [ $((r % 2)) = 0 ]; then
        b=$(cpu_sx "$n" "$M" "$BASE"); x=$(cpu_sx "$n" "$M" "$SX")
      else
        x=$(cpu_sx "$n" "$M" "$SX"); [ -n "$BASE" ] && b=$(cpu_sx "$n" "$M" "$BASE")
      fi
      echo "$x" >> "$DIR/c.sx"; cpu_pgbench "$n" "$M" >> "$DIR/c.pgb"; echo >> "$DIR/c.pgb"
      [ -n "$BASE" ] && { echo "$b" >> "$DIR/c.base"; awk -v a="$x" -v b="$b" 'BEGIN { print a / b }' >> "$DIR/c.q"; }
    done
    printf '  %5d %18s %22s' "$n" "$(summary %.1f < "$DIR/c.sx")" "$(summary %.1f < "$DIR/c.pgb")"
    [ -n "$BASE" ] && printf ' %18s %14s' "$(summary %.1f < "$DIR/c.base")" "$(summary %.2f < "$DIR/c.q")"
    echo
  done
  exit 0
fi

printf 'pg: appends at full durability, one event per evaluation, %s s windows, %s interleaved rounds%s:\n' \
  "$SECS" "$ROUNDS" "${CLIENT:+ (PostgreSQL on CPU 0, clients on the others)}"
printf 'pg: median (range) over the rounds; a ratio is sx / pgbench within one round (start-up not counted)\n'
[ -n "$BASE" ] && printf 'pg: base: %s, in the same rounds\n' "$BASE"
printf '  %5s %20s %20s %18s %20s %18s' procs "sx events/s" "pgbench insert" ratio "pgbench append" ratio
[ -n "$BASE" ] && printf ' %20s %18s' "base events/s" "sx / base"
echo
ratio() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { print (b > 0 ? a / b : 0) }'; }
for n in ${PG_BENCH_CLIENTS:-1 8 32}; do
  for f in r.sx r.ins r.app q.ins q.app r.base q.base; do : > "$DIR/$f"; done
  for r in $(seq "$ROUNDS"); do
    if [ -n "$BASE" ] && [ $((r % 2)) = 0 ]; then # the two binaries take turns at going first
      base=$(run_sx "$n" "$SECS" "$BASE"); sx=$(run_sx "$n" "$SECS")
    else
      sx=$(run_sx "$n" "$SECS"); [ -n "$BASE" ] && base=$(run_sx "$n" "$SECS" "$BASE")
    fi
    ins=$(run_pgbench "$n" "$SECS" ins.sql); app=$(run_pgbench "$n" "$SECS" append.sql)
    echo "$sx" >> "$DIR/r.sx"; echo "${ins:-0}" >> "$DIR/r.ins"; echo "${app:-0}" >> "$DIR/r.app"
    ratio "$sx" "$ins" >> "$DIR/q.ins"; ratio "$sx" "$app" >> "$DIR/q.app"
    [ -n "$BASE" ] && { echo "$base" >> "$DIR/r.base"; ratio "$sx" "$base" >> "$DIR/q.base"; }
  done
  printf '  %5d %20s %20s %18s %20s %18s' "$n" "$(summary %.0f < "$DIR/r.sx")" "$(summary %.0f < "$DIR/r.ins")" \
    "$(summary %.2f < "$DIR/q.ins")" "$(summary %.0f < "$DIR/r.app")" "$(summary %.2f < "$DIR/q.app")"
  [ -n "$BASE" ] && printf ' %20s %18s' "$(summary %.0f < "$DIR/r.base")" "$(summary %.2f < "$DIR/q.base")"
  echo
done

# a 100,000-event stream, read from a fresh process
printf '(eval "%s")\n' "$(printf '%s (define (fill i) (if (> i 100000) :done (begin (persist/append db "big" "t" i {:n i}) (fill (+ i 1))))) (fill 1)' "$PRELUDE" | sed 's/"/\\"/g')" \
  | "$SX" --store "$URL&sx_schema=bench" --sync off server >/dev/null 2>&1
t0=$(date +%s%N)
n=$("$SX" --store "$URL&sx_schema=bench" -e "$PRELUDE (len (persist/read db \"big\"))" 2>/dev/null)
t1=$(date +%s%N)
t2=$(date +%s%N)
"$SX" --store "$URL&sx_schema=bench" -e "$PRELUDE 0" >/dev/null 2>&1
t3=$(date +%s%N)
awk -v n="$n" -v r=$((t1 - t0)) -v base=$((t3 - t2)) 'BEGIN {
  printf "pg: read of a %d-event stream from a fresh process: %.3f s (start-up %.3f s subtracted): %.0f events/s\n",
         n, (r - base) / 1e9, base / 1e9, n / ((r - base) / 1e9) }'
