#!/bin/sh
# test_reference.sh DOCGEN REFERENCE — docs/reference.md must be exactly what
# sx-docgen makes of the doc tables, so it cannot drift from (doc NAME).
set -u
docgen=$1 reference=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$docgen" "$out" || { echo "FAIL: $docgen could not write the reference"; exit 1; }
if ! diff -u "$reference" "$out"; then
  echo "FAIL: $reference is out of date: run ninja -C build reference"
  exit 1
fi
echo "ok: $reference matches the doc tables"
