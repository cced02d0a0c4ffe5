#!/usr/bin/env bash
# bench/startup.sh — issue-3 figures: (1) process start + loading the stdlib
# files and all 22 persist sources through sx-server, best of 20 runs;
# (2) wall time of the whole 20-suite conformance run. Prints figures only.
set -u
cd "$(dirname "$0")/.."
SERVER=${1:-build/hosts/sx-server}
cmds=$(mktemp)
{ echo '(epoch 1)'; echo '(load "spec/stdlib.sx")'; echo '(load "lib/r7rs.sx")'
  for f in event backend log kv project concurrency snapshot compaction durable blob view \
           catalog query batch upcast idempotency global examples/acl subscribe api; do
    echo "(load \"lib/persist/$f.sx\")"; done; } > "$cmds"
best=999999
for _ in $(seq 20); do
  s=$(date +%s%N); "$SERVER" < "$cmds" > /dev/null 2>&1; e=$(date +%s%N)
  us=$(( (e - s) / 1000 )); [ "$us" -lt "$best" ] && best=$us
done
rm -f "$cmds"
printf 'start + load stdlib and 22 persist files: %d.%03d ms (best of 20; target <= 10 ms)\n' $((best / 1000)) $((best % 1000))
s=$(date +%s%N); conformance/run.sh "$SERVER" > /dev/null 2>&1; rc=$?; e=$(date +%s%N)
ms=$(( (e - s) / 1000000 ))
printf 'whole 20-suite conformance run (incl. lib/persist/conformance.sh): %d ms, exit %d (target <= 2000 ms)\n' "$ms" "$rc"
