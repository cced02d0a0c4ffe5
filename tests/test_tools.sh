#!/usr/bin/env bash
# tests/test_tools.sh — the sx tools end to end through the real binary:
# options before or after the command, every --help, the man page covering
# every command and option they show, (doc NAME), apropos
# and the REPL's :doc and :apropos, run - and #! scripts,
# piped forms, --persist in run, -e and server; store dump -> load -> dump
# byte-identical (truncated streams, unicode and binary keys, floats,
# nested values, blobs), load refusing a non-empty store, export as JSON
# and CSV, a backup taken while a writer commits (passes check, holds a
# prefix of the commits), and tail -f seeing another process's commits
# within a second, across a compaction; the options' and commands' errors.
#   test_tools.sh SX_BINARY
set -u
SX=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$DIR"' EXIT
pass=0; fail=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1"; echo "  expected: $2"; echo "  actual:   $3"; fi
}

# ---- options anywhere, help -------------------------------------------------------
check "options after -e" "3" "$("$SX" -e '(+ 1 2)' --store "$DIR/o")"
check "options after the command, = form" "3" "$("$SX" -e '(+ 1 2)' --sync=off --store="$DIR/o")"
for c in "run" "server" "repl" "store" "store check" "store compact" "store dump" "store load" \
         "store export" "store backup" "store tail" "help"; do
  out=$("$SX" $c --help 2>&1); rc=$?
  check "sx $c --help exits 0" "0" "$rc"
  check "sx $c --help prints its usage" "usage: sx ${c%% *}" "$(printf '%s\n' "$out" | head -1 | grep -o "^usage: sx ${c%% *}")"
  check "sx help $c" "$out" "$("$SX" help $c 2>&1)"
done
check "sx help names --persist" "1" "$("$SX" help | grep -c -- '--persist')"
"$SX" help nosuch >/dev/null 2>&1; check "sx help of an unknown command" "2" "$?"

# ---- the man page covers every command and option the help shows --------------------
# Commands: the first words of each `sx help` line (a .TP heading each in the man
# page), and each REPL command of :help. Options: every -x and --name in the usage
# of sx and of each command (anywhere in the man page).
man_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' docs/man/sx.1)
man_heads=$(awk '/^\.TP/ {getline; print}' <<<"$man_text")
commands=$("$SX" help | sed -n 's/^  sx //p' | sed 's/  .*//' |
  awk '{c = $1; for (i = 2; i <= NF && $i ~ /^[a-z]+$/; i++) c = c " " $i; print c}' | sort -u)
check "sx help lists the commands" "13" "$(wc -l <<<"$commands")"
usages=$("$SX" help; while read -r c; do [ "$c" = --version ] || "$SX" help $c; done <<<"$commands")
options=$(grep -oE '(^|[] [|(])--?[A-Za-z][A-Za-z-]*' <<<"$usages" | sed 's/^[] [|(]//' | sort -u)
check "the usages show the options" "1 1 1" "$(grep -cx -- --read-only <<<"$options") $(grep -cx -- -n <<<"$options") $(grep -cx -- --persist <<<"$options")"
repl_commands=$(echo :help | "$SX" repl --store "$DIR/o" | grep -oE '^:[a-z]+( limit)?')
check ":help lists the REPL commands" "19" "$(wc -l <<<"$repl_commands")"
missing=$( { while read -r c; do grep -qE -- "^$c( |$)" <<<"$man_heads" || echo "command $c"; done <<<"$commands$(printf '\n%s' "$repl_commands")"
             while read -r o; do grep -qE -- "(^|[^A-Za-z-])$o([^A-Za-z-]|\$)" <<<"$man_text" || echo "option $o"; done <<<"$options"; } | tr '\n' ',')
check "docs/man/sx.1 covers every command and option" "" "$missing"

# ---- help on names: (doc NAME), apropos, the REPL's :doc and :apropos ---------------
check "(doc NAME) of a builtin" '"(get coll key [default]): the value under key in a dict (or index in a list), else default (nil)"' \
  "$("$SX" -e '(doc get)')"
check "(doc NAME) of a persist function reads its parameters" '"(persist/kv-put b key val): store a value under key; the value"' \
  "$("$SX" --persist --store "$DIR/o" -e '(doc persist/kv-put)')"
check "(doc NAME) of an unknown name" "sx: error: doc: nothing is named nope (apropos finds names) (at <-e>:1:1)" \
  "$("$SX" -e '(doc nope)' 2>&1 | head -1)"
check "(apropos TEXT)" '("ends-with?" "starts-with?")' "$("$SX" -e '(apropos "-with?")')"
check "a persist function's arity error names its parameters" \
  "sx: error: persist/read: expected 2 arguments (b stream), got 1 (at <-e>:1:1)" \
  "$("$SX" --persist --store "$DIR/o" -e '(persist/read db)' 2>&1 | head -1)"
out=$(printf ':doc sort-by\n:apropos zip\n:doc 42\n' | "$SX" repl --store "$DIR/o" 2>"$DIR/err")
check "piped :doc and :apropos" "(sort-by key lst)|  lst sorted ascending by (key x)|zip        pairs of the elements of a and b at the same index, as long as the shorter|zip-pairs  consecutive elements as pairs: (a b c d) gives ((a b) (c d))" \
  "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
check "piped :doc of a number" "error: doc: nothing is named 42 (apropos finds names)" "$(cat "$DIR/err")"

# ---- run -, #!, piped forms ---------------------------------------------------------
check "sx run - reads stdin" "hi3" "$(printf '(display "hi")\n(display (+ 1 2))\n' | "$SX" run -)"
printf '#!/usr/bin/env -S sx run\n(display "script")\n(car 5)\n' > "$DIR/s.sx"
out=$("$SX" run "$DIR/s.sx" 2>&1); rc=$?
check "a #! line is skipped" "script" "$(printf '%s' "$out" | head -c 6)"
check "... and positions keep their line" "1" "$(printf '%s' "$out" | grep -c 'error: .*s.sx:3:')"
check "... and the error is the exit status" "1" "$rc"
check "echo FORMS | sx" "$(printf '42\n(1 2)')" "$(echo '(+ 40 2) (list 1 2)' | "$SX" --store "$DIR/o")"

# ---- --persist ------------------------------------------------------------------------
S=$DIR/p
check "--persist in -e" "1" "$("$SX" -e '(persist/append db "a" "x" 1 {:n 1})' --persist --store "$S" >/dev/null; "$SX" --persist --store "$S" -e '(persist/last-seq db "a")')"
printf '(persist/append db "a" "x" 2 {:n 2})\n(display (persist/last-seq db "a"))\n' > "$DIR/p.sx"
check "--persist in run" "2" "$("$SX" run "$DIR/p.sx" --store "$S" --persist | tail -c 1)"
check "--persist in server" '(ok 0 2)' "$(echo '(eval "(persist/last-seq db \"a\")")' | "$SX" server --persist --store "$S")"
check "without --persist, no db" "1" "$("$SX" -e 'db' --store "$S" 2>&1 | grep -c 'unbound symbol db')"

# ---- the options' and commands' errors ----------------------------------------------------
# run CMD...: stdout+stderr -> $out, status -> $rc
run() { out=$("$@" 2>&1 </dev/null); rc=$?; }
mkdir -p "$DIR/inc" "$DIR/cwd" "$DIR/broken/lib/persist"
echo '(define inc 5)' > "$DIR/inc/inc.sx"
echo '(define' > "$DIR/broken/lib/persist/event.sx" # the working directory comes first on the load path
run "$SX" --store; check "an option without its value" "2|sx: --store needs a value" "$rc|$out"
run "$SX" -e 1 -I; check "... -I too, after -e EXPR" "2|sx: -I needs a value" "$rc|$out"
run "$SX" --storex d -e 1; check "an option's name with more after it" "2|sx: unknown command '--storex'" "$rc|$(head -1 <<<"$out")"
check "-I DIR and -IDIR" "5 5" "$("$SX" -I "$DIR/inc" -e '(load "inc.sx") inc' --store "$DIR/o") $("$SX" -I"$DIR/inc" -e '(load "inc.sx") inc' --store "$DIR/o")"
run "$SX" --sync bogus -e 1; check "a bad sync mode" "2|sx: unknown sync mode 'bogus' (expected full, batch or off)" "$rc|$out"
out=$(SX_SYNC=bogus "$SX" -e 1 --store "$DIR/o" 2>&1); check "... also from SX_SYNC" "sx: unknown sync mode 'bogus' (expected full, batch or off)" "$out"
run "$SX" server --sync bogus; check "... also for the server" "2" "$rc"
(cd "$DIR/cwd" && "$SX" --store "" -e '(perform {:op "persist/kv-put" :args (list "a" 1)})' >/dev/null)
check "--store '' is the default store" "yes" "$([ -d "$DIR/cwd/.sx-store" ] && echo yes || echo no)"
out=$(cd "$DIR/broken" && "$SX" --persist -e 1 2>&1); rc=$?
check "--persist that cannot load" "2|sx: --persist: lib/persist/event.sx:2:1: unclosed '(' opened at 1:1" "$rc|$out"
run "$SX" --version; check "--version" "0|1" "$rc|$(grep -cE '^sx [0-9]+\.[0-9]+\.[0-9]+$' <<<"$out")"
run "$SX" help -e; check "help -e" "usage: sx [OPTIONS] -e EXPR" "$(head -1 <<<"$out")"
run "$SX" help nosuch; check "help of an unknown command" "2|sx help: unknown command 'nosuch'" "$rc|$out"
run "$SX" help store nosuch; check "help of an unknown store subcommand" "2|sx help: unknown command 'store nosuch'" "$rc|$out"
run "$SX" frob; check "an unknown command" "2|sx: unknown command 'frob'" "$rc|$(head -1 <<<"$out")"
run "$SX" run --store "$DIR/o"; check "run without a file" "2|sx run: expected a file to run (or - for stdin)" "$rc|$out"
run "$SX" --store "$DIR/o" -e; check "-e without an expression" "2|sx -e: expected an expression" "$rc|$out"
out=$(echo '(car' | "$SX" run - --store "$DIR/o" 2>&1); rc=$?
check "run - of a form left open" "1|sx: error: <stdin>:2:1: unclosed '(' opened at 1:1" "$rc|$out"
run "$SX" store; check "store without a subcommand" "2|usage: sx store SUBCOMMAND ARGS (sx help store SUBCOMMAND for one)" "$rc|$(head -1 <<<"$out")"
run "$SX" store frob; check "an unknown store subcommand" "2|sx store: unknown subcommand 'frob'" "$rc|$(head -1 <<<"$out")"
run "$SX" store dump --bogus; check "an unknown store option" "2|sx store dump: unknown option '--bogus'" "$rc|$out"
run "$SX" store export "$DIR/o" a --format; check "--format without its value" "2|sx store export: unknown option '--format'" "$rc|$out"
run "$SX" store export "$DIR/o"; check "a missing argument shows the usage" "2|usage: sx store export DIR STREAM [--format json|csv]" "$rc|$(head -1 <<<"$out")"
run "$SX" store tail "$DIR/nosuch" s; check "tail of a missing store" "1|sx store tail: store $DIR/nosuch does not exist" "$rc|$out"
run "$SX" store dump --help; check "store dump --help" "0|usage: sx store dump DIR" "$rc|$(head -1 <<<"$out")"

# ---- dump and load ----------------------------------------------------------------------
S=$DIR/d
"$SX" --persist --store "$S" -e '(begin
  (persist/append db "a" "x" 1 {:n 1.5 :s "é\x01" :nested {:l (list 1 (list 2 {:z nil}) "t") :kw :k}})
  (persist/append db "a" "x" 2 {:n -0.0 :big 9007199254740993 :f 1e-300})
  (persist/append db "a" "x" 3 {:n 0.1})
  (persist/truncate db "a" 1)
  (persist/append db "gone" "x" 1 {}) (persist/append db "gone" "x" 2 {}) (persist/truncate db "gone" 2)
  (persist/append db "ключ\x00\xff" "x" 1 {:v "bin"})
  (persist/kv-put db "k\x00bin\xfe" {:v -0.0 :inf +inf.0})
  (persist/kv-put db "ü" 1e300)
  (persist/kv-put db "gone" 1) (persist/kv-delete db "gone")
  (persist/blob-store blobs "BYTES\x00\xff\n" "application/octet-stream")
  (persist/blob-store blobs "second" "text/plain"))' > /dev/null
"$SX" store dump "$S" > "$DIR/d1"; check "dump exits 0" "0" "$?"
check "dump records the truncated stream's mark" "1" "$(grep -c '^{:stream "gone" :last-seq 2}$' "$DIR/d1")"
check "dump holds the binary key" "1" "$(grep -c 'k\\x00bin\\xfe' "$DIR/d1")"
check "dump: 2 blobs" "2" "$(grep -c '^{:blob ' "$DIR/d1")"
"$SX" store load "$DIR/d2s" < "$DIR/d1" 2>/dev/null; check "load exits 0" "0" "$?"
"$SX" store dump "$DIR/d2s" > "$DIR/d2"
check "dump -> load -> dump is byte-identical" "" "$(cmp "$DIR/d1" "$DIR/d2" 2>&1)"
"$SX" store check "$DIR/d2s" > /dev/null; check "the loaded store passes check" "0" "$?"
check "the loaded store reads the same" \
  "$("$SX" --persist --store "$S" -e '(list (persist/last-seq db "a") (persist/last-seq db "gone") (map persist/event-seq (persist/read db "a")) (persist/kv-get db "ü") (persist/blob-fetch blobs (persist/kv-get db "none")))' 2>&1)" \
  "$("$SX" --persist --store "$DIR/d2s" -e '(list (persist/last-seq db "a") (persist/last-seq db "gone") (map persist/event-seq (persist/read db "a")) (persist/kv-get db "ü") (persist/blob-fetch blobs (persist/kv-get db "none")))' 2>&1)"
check "the loaded store continues the truncated stream's seqs" "3" \
  "$("$SX" --persist --store "$DIR/d2s" -e '(begin (persist/append db "gone" "x" 3 {}) (persist/last-seq db "gone"))' 2>&1)"
out=$("$SX" store load "$DIR/d2s" < "$DIR/d1" 2>&1); rc=$?
check "load refuses a non-empty store" "1" "$rc"
check "... saying so" "1" "$(printf '%s' "$out" | grep -c 'is not empty')"
head -n 3 "$DIR/d1" | "$SX" store load "$DIR/d3s" > /dev/null 2>&1
check "a dump cut short is refused" "1" "$?"
check "... and leaves no log" "no" "$([ -s "$DIR/d3s/log" ] && [ "$(stat -c %s "$DIR/d3s/log")" -gt 16 ] && echo yes || echo no)"
"$SX" store load "$DIR/d4s" < "$DIR/d1" 2>/dev/null; "$SX" store compact "$DIR/d4s" > /dev/null
check "a loaded then compacted store dumps the same" "" "$("$SX" store dump "$DIR/d4s" | cmp - "$DIR/d1" 2>&1)"
"$SX" store dump "$DIR/nosuch" > /dev/null 2>&1; check "dump of a missing store fails" "1" "$?"
check "store tools name no internal function" "0" "$("$SX" store compact "$DIR/nosuch" 2>&1 | grep -c sxapi_)"

# ---- export ---------------------------------------------------------------------------------
"$SX" store export "$S" a --format json > "$DIR/a.json"; check "export json exits 0" "0" "$?"
check "export json parses" "[2, 3]" "$(python3 -c 'import json,sys; print([e["seq"] for e in json.load(open(sys.argv[1]))])' "$DIR/a.json")"
check "export csv header" "seq,at,data,stream,type" "$("$SX" store export "$S" a --format=csv | head -1)"
check "export csv rows" "3" "$("$SX" store export "$S" a --format csv | wc -l | tr -d ' ')"
"$SX" store export "$S" a --format xml > /dev/null 2>&1; check "export refuses an unknown format" "1" "$?"

# ---- backup while a writer commits ---------------------------------------------------------------
S=$DIR/b
for i in $(seq 1 400); do echo "(persist/append db \"w\" \"t\" $i {:i $i})"; done > "$DIR/w.sx"
"$SX" --store "$S" --persist run "$DIR/w.sx" & W=$!; PIDS="$PIDS $W"
for _ in $(seq 100); do [ -s "$S/log" ] && break; sleep 0.02; done
sleep 0.2
"$SX" store backup "$S" "$DIR/bk" > /dev/null; check "backup while a writer runs exits 0" "0" "$?"
wait $W
"$SX" store check "$DIR/bk" > /dev/null; check "the backup passes check" "0" "$?"
seqs=$("$SX" --persist --store "$DIR/bk" -e '(map persist/event-seq (persist/read db "w"))')
n=$(printf '%s' "$seqs" | tr -d '()' | wc -w)
check "the backup holds a prefix of the commits" "(${seqs:1:${#seqs}-2})" "($(seq -s ' ' 1 "$n"))"
check "... an actual snapshot of a running writer" "yes" "$([ "$n" -ge 1 ] && echo yes || echo no)"
"$SX" store backup "$S" "$DIR/bk" > /dev/null 2>&1; check "backup refuses an existing destination" "1" "$?"

# ---- tail ----------------------------------------------------------------------------------------
check "tail -n 2" "399 400" "$("$SX" store tail "$S" w -n 2 | grep -o ':seq [0-9]*' | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
"$SX" store tail "$S" nosuch > /dev/null 2>&1; check "tail of a missing stream" "1" "$?"
"$SX" store tail "$S" w -n 1 -f > "$DIR/tail.out" 2> "$DIR/tail.err" & T=$!; PIDS="$PIDS $T"
sleep 0.3
"$SX" --store "$S" --persist -e '(persist/append db "w" "t" 401 {:i 401})' > /dev/null
seen=no; for _ in $(seq 10); do grep -q ':seq 401' "$DIR/tail.out" && { seen=yes; break; }; sleep 0.1; done
check "tail -f sees another process's commit within a second" "yes" "$seen"
"$SX" store compact "$S" > /dev/null
"$SX" --store "$S" --persist -e '(persist/append db "w" "t" 402 {:i 402})' > /dev/null
seen=no; for _ in $(seq 20); do grep -q ':seq 402' "$DIR/tail.out" && { seen=yes; break; }; sleep 0.1; done
check "tail -f carries on after a compaction" "yes" "$seen"
check "tail -f printed each event once" "400 401 402" "$(grep -o ':seq [0-9]*' "$DIR/tail.out" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
kill $T 2>/dev/null; wait $T 2>/dev/null

# ---- the REPL's :bt, :set limit, :reopen (piped) -------------------------------------------
out=$(printf '(define (f x) (g x))\n(f 1)\n:bt\n:set limit 3\n:reopen\n(persist/last-seq db "w")\n' | "$SX" repl --store "$S" 2>&1)
check ":bt shows the backtrace" "1" "$(printf '%s\n' "$out" | grep -c '^  in f at <stdin>:1:')"
check ":set limit" "1" "$(printf '%s\n' "$out" | grep -c '^limit: at most 3 entries')"
check ":reopen" "1" "$(printf '%s\n' "$out" | grep -c "^reopened $S: 1 stream, 402 events")"
check "the REPL works after :reopen" "402" "$(printf '%s\n' "$out" | tail -1)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
