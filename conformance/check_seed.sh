#!/usr/bin/env bash
# conformance/check_seed.sh — lib/persist must stay byte-identical to the
# seed copy (scoreboard.* excepted: conformance.sh regenerates them).
# Checks the files against conformance/seed.sha256 (taken from the seed),
# that no file was added or removed, and, when the seed directory is
# beside the checkout (../shared/seed), compares the trees directly.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
if (cd lib/persist && sha256sum -c --quiet ../../conformance/seed.sha256); then ok; else bad "lib/persist differs from the recorded seed sums"; fi
listed=$(awk '{print $2}' conformance/seed.sha256 | sort)
present=$(cd lib/persist && find . -type f ! -name 'scoreboard.*' | sort)
if [ "$listed" = "$present" ]; then ok; else bad "files were added to or removed from lib/persist"; fi
seed=../shared/seed/lib/persist
if [ -d "$seed" ]; then
  if diff -rq --exclude='scoreboard.*' "$seed" lib/persist; then ok; else bad "lib/persist differs from $seed"; fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
