#!/usr/bin/env bash
# conformance/run.sh — run the 20 persist conformance suites through our
# server and hold them to the expected counts in conformance/expected.txt.
#
#   conformance/run.sh [SERVER]      SERVER defaults to build/hosts/sx-server
#   conformance/run.sh --real-store [SERVER]
#   conformance/run.sh --real-store-pg URL [SERVER]   (the same on PostgreSQL:
#                      one fresh schema per suite in the database at URL)
#
# --real-store: the same suites with every backend and blob store they build
# served by the real store (conformance/real_store.sx, loaded after the
# sources, says exactly what is rebound), one fresh store directory per
# suite; after each suite `sx store check` must find that store clean, and
# the table shows what the suite left in it. See docs/conformance.md.
#
# Each suite runs in a fresh server process with exactly the command
# sequence lib/persist/conformance.sh sends. A suite fails if its pass/fail
# counts differ from the expected ones or if the server answered any
# command with an (error ...) response — an error part-way through a test
# file would otherwise silently shrink the suite. Ends with the unchanged
# lib/persist/conformance.sh itself (the headline check); the scoreboard
# files it rewrites are restored afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
REAL=0 PG=""
if [ "${1:-}" = --real-store ]; then REAL=1; shift; fi
if [ "${1:-}" = --real-store-pg ]; then REAL=1; PG=$2; shift 2; fi
SERVER=${1:-${SX_SERVER:-build/hosts/sx-server}}
[ -x "$SERVER" ] || { echo "conformance: no server at $SERVER (build first)" >&2; exit 2; }
SERVER=$(cd "$(dirname "$SERVER")" && pwd)/$(basename "$SERVER")
SX=$(dirname "$SERVER")/sx
if [ $REAL = 1 ]; then
  [ -x "$SX" ] || { echo "conformance: no sx beside $SERVER (needed for store check)" >&2; exit 2; }
  STORES=$(mktemp -d)
  trap 'rm -rf "$STORES"' EXIT
fi

FILES=(event backend log kv project concurrency snapshot compaction durable blob
       view catalog query batch upcast idempotency global examples/acl subscribe api)

commands() { # the exact sequence conformance.sh sends, for suite $1
  echo '(epoch 1)'
  echo '(load "spec/stdlib.sx")'
  echo '(load "lib/r7rs.sx")'
  for f in "${FILES[@]}"; do echo "(load \"lib/persist/$f.sx\")"; done
  [ $REAL = 1 ] && echo '(load "conformance/real_store.sx")'
  echo '(epoch 2)'
  echo '(eval "(define persist-test-pass 0)")'
  echo '(eval "(define persist-test-fail 0)")'
  echo '(eval "(define persist-test (fn (name got expected) (if (equal? got expected) (set! persist-test-pass (+ persist-test-pass 1)) (set! persist-test-fail (+ persist-test-fail 1)))))")'
  echo '(epoch 3)'
  echo "(load \"lib/persist/tests/$1.sx\")"
  echo '(epoch 4)'
  echo '(eval "(list persist-test-pass persist-test-fail)")'
}

# real-store mode: run the server on a fresh store; afterwards check it and
# say what the suite stored ("-" when it built no backend at all)
serve() { # suite
  if [ $REAL = 0 ]; then timeout 120 "$SERVER" 2>/dev/null; return; fi
  timeout 120 "$SERVER" --store "$(store_of "$1")" 2>/dev/null
}
store_of() { # suite -> its fresh store: a directory, or a schema of its own
  if [ -n "$PG" ]; then echo "$PG&sx_schema=conf_$$_${1//\//_}"; else echo "$STORES/$1"; fi
}
store_note() { # suite -> sets status on damage, prints "streams/events/keys"
  [ $REAL = 1 ] || return 0
  local d rep
  d=$(store_of "$1")
  [ -n "$PG" ] || [ -d "$d" ] || { stored="-"; return 0; }
  if ! rep=$("$SX" store check "$d" 2>&1); then status="FAIL: store check: $(grep -m1 -i 'damaged\|cannot' <<<"$rep")"; fi
  stored=$(sed -nE 's/.* ([0-9]+) streams, ([0-9]+) events, ([0-9]+) kv keys.*/\1\/\2\/\3/p' <<<"$rep")
  [ -n "$(ls -A "$d/blobs" 2>/dev/null)" ] && stored="$stored +blobs"
  rm -rf "$d"
}

passed=0; failed=0; bad_suites=0
if [ $REAL = 1 ]; then
  printf '%-12s %6s %6s %8s  %-22s %s\n' suite pass fail expected "store (str/ev/kv)" status
else
  printf '%-12s %6s %6s %8s  %s\n' suite pass fail expected status
fi
while read -r suite exp_pass exp_fail; do
  case "$suite" in ''|'#'*) continue ;; esac
  out=$(commands "$suite" | serve "$suite")
  errors=$(grep -c '^(error' <<<"$out")
  line=$(grep -E '^\(ok 4 \([0-9]+ [0-9]+\)\)$' <<<"$out" | tail -1)
  p=$(sed -E 's/^\(ok 4 \(([0-9]+) ([0-9]+)\)\)$/\1/' <<<"$line"); p=${p:-0}
  f=$(sed -E 's/^\(ok 4 \(([0-9]+) ([0-9]+)\)\)$/\2/' <<<"$line"); f=${f:-0}
  status=ok
  if [ "$errors" -gt 0 ]; then status="FAIL: $errors error response(s): $(grep -m1 '^(error' <<<"$out")"
  elif [ "$p" != "$exp_pass" ] || [ "$f" != "$exp_fail" ]; then status="FAIL: counts differ"; fi
  stored=""; store_note "$suite"
  if [ $REAL = 1 ]; then
    printf '%-12s %6s %6s %8s  %-22s %s\n' "$suite" "$p" "$f" "$exp_pass/$((exp_pass + exp_fail))" "$stored" "$status"
  else
    printf '%-12s %6s %6s %8s  %s\n' "$suite" "$p" "$f" "$exp_pass/$((exp_pass + exp_fail))" "$status"
  fi
  if [ "$status" = ok ]; then passed=$((passed + p)); else
    bad_suites=$((bad_suites + 1)); passed=$((passed + p))
    missing=$((exp_pass - p)); [ "$missing" -lt 0 ] && missing=0
    failed=$((failed + f + missing + (errors > 0 && missing == 0 ? 1 : 0)))
    continue
  fi
  failed=$((failed + f))
done < conformance/expected.txt

if [ $REAL = 1 ]; then # the headline script runs the in-memory mode only
  if [ -n "$PG" ]; then echo "real store: every suite ran on a fresh PostgreSQL schema"
  else echo "real store: every suite ran on a fresh store directory"; fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

# the headline check: the unchanged script from lib/persist
saved=$(mktemp -d)
cp lib/persist/scoreboard.json lib/persist/scoreboard.md "$saved/"
headline=$(SX_SERVER="$SERVER" bash lib/persist/conformance.sh 2>&1 | grep '^Total:')
cp "$saved/scoreboard.json" "$saved/scoreboard.md" lib/persist/; rm -rf "$saved"
echo "lib/persist/conformance.sh: ${headline:-no Total line}"
if [ "$headline" != "Total: $((passed - failed < 0 ? 0 : passed)) pass, 0 fail" ] || [ "$bad_suites" -gt 0 ]; then
  [ "$headline" = "Total: 201 pass, 0 fail" ] || { echo "conformance: headline check failed" >&2; failed=$((failed + 1)); }
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
