#!/usr/bin/env bash
# tests/test_embed.sh — install sx into a temporary directory and build the
# embedding example (examples/embed/embed.c) against the installed files
# only, through the installed pkg-config file, linked shared and static;
# then run both builds on a fresh durable store.
#   test_embed.sh BUILD_DIR SOURCE_DIR SANITIZE   (SANITIZE: none, or -fsanitize's list)
set -u
BUILD=$1 SRC=$2 SAN=${3:-none}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1"; echo "  expected: $2"; echo "  actual:   $3"; fi
}

if ! meson install -C "$BUILD" --no-rebuild --destdir "$TMP/root" > "$TMP/install.log" 2>&1; then
  cat "$TMP/install.log"; echo "FAIL: meson install"; exit 1
fi
PC=$(find "$TMP/root" -name sx.pc | head -1)
check "the pkg-config file is installed" "yes" "$([ -n "$PC" ] && echo yes || echo no)"
[ -n "$PC" ] || exit 1
PREFIX="$TMP/root$(sed -n 's/^prefix=//p' "$PC")"
pc() { PKG_CONFIG_PATH=$(dirname "$PC") pkg-config --define-variable=prefix="$PREFIX" "$@" sx; }
INCDIR=$(pc --variable=includedir)
LIBDIR=$(pc --variable=libdir)
check "sx.h is the one installed header" "sx.h" "$(ls "$INCDIR")"
check "the shared library exports only sxapi_ names" "" \
  "$(nm -D --defined-only "$LIBDIR/libsx.so" | awk '{print $3}' | grep -v '^sxapi_' | grep -v '^SX' || true)"

SANFLAGS=()
[ "$SAN" != none ] && SANFLAGS=(-fsanitize="$SAN")
CFLAGS=(-std=c11 -pedantic -Wall -Wextra -Werror "${SANFLAGS[@]}")
# shared: exactly what the guide tells a host to do
if ! cc "${CFLAGS[@]}" -o "$TMP/embed" "$SRC/examples/embed/embed.c" $(pc --cflags) $(pc --libs) 2> "$TMP/cc.log"; then
  cat "$TMP/cc.log"; echo "FAIL: building the example against the installed library"; exit 1
fi
# static: the archive and its private dependencies (an archive built for
# coverage, ./run.sh coverage, also needs gcov's runtime)
GCOV=()
nm "$LIBDIR/libsx.a" 2>/dev/null | grep -q ' U __gcov_' && GCOV=(-lgcov)
if ! cc "${CFLAGS[@]}" -o "$TMP/embed-static" "$SRC/examples/embed/embed.c" $(pc --cflags) \
     "$LIBDIR/libsx.a" $(pc --static --libs-only-l | sed 's/-lsx\b//') "${GCOV[@]}" 2> "$TMP/cc.log"; then
  cat "$TMP/cc.log"; echo "FAIL: building the example against the static library"; exit 1
fi
check "the static build needs no libsx.so" "" "$(ldd "$TMP/embed-static" | grep libsx || true)"

EXPECTED='suspended on mail/send to ops@example.org
result: (1 "queued-42")
after reopen: orders last seq 1, 1 event(s)
first order total: 750'
export ASAN_OPTIONS=detect_leaks=0
for exe in embed embed-static; do
  out=$(cd "$TMP" && LD_LIBRARY_PATH="$LIBDIR" SX_PATH="$PREFIX/share/sx" "./$exe" "$TMP/store-$exe" 2>&1)
  check "$exe runs persist on a durable store, suspends and resumes" "$EXPECTED" "$out"
  check "$exe left a store behind" "yes" "$([ -f "$TMP/store-$exe/log" ] && echo yes || echo no)"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
