#!/usr/bin/env bash
# tests/test_repl_piped.sh — the REPL's meta-commands and options with
# input piped (docs/repl.md, "Piped"): what each command prints on a store
# with a stream truncated to nothing, on an empty store, after an error and
# read-only; each command's errors on stderr with exit status 1; :quit;
# the width previews are cut to;
# the refusals of `sx repl` (an unknown option, a bad sync mode, a locked
# store, a file that fails to load).
#   test_repl_piped.sh SX_BINARY
set -u
SX=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT
pass=0; fail=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3"
  fi
}
# repl INPUT [ARGS...]: stdout -> $out, stderr -> $err, status -> $rc
repl() {
  local input=$1; shift
  out=$(printf '%s' "$input" | "$SX" repl "$@" 2>"$DIR/err"); rc=$?
  err=$(cat "$DIR/err")
}
append() { printf '(perform {:op "persist/append" :args (list "%s" {:seq %s :type "t" :data %s})})\n' "$1" "$2" "$3"; }

# ---- an empty store -------------------------------------------------------------
repl $':streams\n:kv\n:kv x/\n:blobs\n:bt\n' --store "$DIR/empty"
check "empty: every listing says there is nothing" \
  'no streams yet|no kv keys yet|no kv keys start with "x/"|no blobs yet|no error yet' "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
check "empty: exit status 0" "0" "$rc"

# ---- a stream truncated to nothing ----------------------------------------------------
S="$DIR/s"
repl "$(append s 1 1; append s 2 2; append s 3 3; append u 1 4)
$(printf '(perform {:op "persist/truncate" :args (list "s" 3)})')
:tail s
:streams
:show u 1
" --store "$S"
check ":tail of a stream without stored events" "s: no stored events (last seq 3)" "$(sed -n 6p <<<"$out")"
check ":streams shows - for no first stored seq" "s                   0         3                 -" "$(sed -n 8p <<<"$out")"
check ":show of a stored event" '{:data 4 :seq 1 :type "t"}' "$(tail -1 <<<"$out")"
repl $':show s 2\n:show u 9\n:tail nope\n:show nope 1\n' --store "$S"
check ":show and :tail say what is missing" \
  'event 2 of stream "s" is no longer stored (compacted away)|stream "u" has no event 9|no stream "nope" (:streams lists them)|no stream "nope" (:streams lists them)' \
  "$(tr '\n' '|' <<<"$err" | sed 's/|$//')"
check "... with exit status 1" "1" "$rc"

# ---- help, errors, :bt, :time, :set, :load, :quit ---------------------------------------
printf '(define loaded 7)\n' >"$DIR/f.sx"
repl ":help tail
:help :kv
:help nosuch
(car 1)
:bt
:time (+ 1 2)
:time (+ 1
:set limit 5
:set colour 1
:load $DIR/f.sx
:load $DIR/missing.sx
loaded
)
:quit
(+ 1 1)
" --store "$S"
check ":help COMMAND gives its usage and help" ":tail STREAM [N]|  the last N events of a stream (default 10)" \
  "$(sed -n 1,2p <<<"$out" | tr '\n' '|' | sed 's/|$//')"
check ":help :COMMAND too" ":kv [PREFIX]" "$(sed -n 3p <<<"$out")"
check ":bt shows the last error with its backtrace" \
  "unbound symbol car (at <stdin>:4:1)|  in top level at <stdin>:4:1" "$(sed -n 5,6p <<<"$out" | tr '\n' '|' | sed 's/|$//')"
check ":time prints the value and the time" "1" "$(sed -n 7,8p <<<"$out" | tr '\n' '|' | grep -cE '^3\|time: [0-9]+\.[0-9]{3} ms\|$')"
check ":set limit" "limit: at most 5 entries of a list or dict are shown" "$(sed -n 9p <<<"$out")"
check ":load loads the file" "loaded $DIR/f.sx|7" "$(sed -n 10,11p <<<"$out" | tr '\n' '|' | sed 's/|$//')"
check ":quit leaves: nothing after it runs" "11" "$(wc -l <<<"$out" | tr -d ' ')"
check "the errors, one per failing line" "unknown command :nosuch (:help lists the commands)
error: unbound symbol car (at <stdin>:4:1)
error: <time>:1:5: unclosed '(' opened at 1:1
unknown setting 'colour' (expected limit)
error: load: cannot find $DIR/missing.sx (searched the working directory and the load path)
error: <stdin>:13:1: unexpected ')'" "$err"
check "exit status 1 after errors" "1" "$rc"

# ---- :refresh, :reopen, :stats -------------------------------------------------------------
repl $'(perform {:op "persist/kv-put" :args (list "big" (join "" (map (fn (i) "0123456789") (range 300))))})\n:refresh\n:reopen\n:stats\n' --store "$S"
check ":refresh when the REPL is the writer" "this REPL owns the store for writing, so it is always up to date" "$(sed -n 2p <<<"$out")"
check ":reopen opens the store again" "reopened $S: 2 streams, 1 event, 1 kv key" "$(sed -n 3p <<<"$out")"
check ":stats gives the log size in KiB" "1" "$(grep -cE '^log +[0-9]+\.[0-9] KiB$' <<<"$out")"
repl $':refresh\n:stats\n' --read-only --store "$S"
check ":refresh read-only counts what it sees" "refreshed: 2 streams, 1 event, 1 kv key" "$(sed -n 1p <<<"$out")"
check ":stats says read-only" "store      $S (read-only)" "$(sed -n 2p <<<"$out")"

# ---- the width piped output is cut to: $COLUMNS, else 80 -------------------------------------
kv_width() { printf ':kv big\n' | COLUMNS=$1 "$SX" repl --store "$S" | tail -1 | awk '{print length($0)}'; }
check ":kv previews cut to 80 columns, COLUMNS wider, nonsense ignored" "59 79 59" "$(kv_width '') $(kv_width 100) $(kv_width junk)"

# ---- options and refusals ------------------------------------------------------------------
repl "" --help
check "repl --help prints the usage and exits 0" "0|usage: sx repl [-I DIR]... [--store DIR] [--sync MODE] [--read-only] [FILE...]" \
  "$rc|$(head -1 <<<"$out")"
repl "" --frob
check "an unknown option exits 2" "2|sx repl: unknown option '--frob'" "$rc|$(head -1 <<<"$err")"
repl "" --store "$S" --sync sometimes
check "a bad sync mode" "1|sx repl: unknown sync mode 'sometimes' (expected full, batch or off)" "$rc|$err"
printf '(car 1)\n' >"$DIR/bad.sx"
repl $'"never"\n' --store "$S" -- "$DIR/bad.sx"
check "a file that fails to load: no forms run, exit 1" "1||error: unbound symbol car (at $DIR/bad.sx:1:1)" "$rc|$out|$err"
"$SX" server --listen "$DIR/sock" --store "$S" 2>/dev/null &
SERVER=$!
for _ in $(seq 300); do [ -S "$DIR/sock" ] && break; sleep 0.02; done
repl $'1\n' --store "$S"
check "a locked store is refused, suggesting --read-only" "1|1" "$rc|$(grep -cE '^sx repl: .*locked by pid [0-9]+ \(--read-only inspects it without writing\)$' <<<"$err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
