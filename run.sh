#!/usr/bin/env bash
# run.sh — set up, build and run sx on Debian 12.
#
#   ./run.sh           install what is missing, build, open the REPL on the
#                      default store (./.sx-store) with the example order
#                      ledger loaded (examples/ledger.sx)
#   ./run.sh test      install what is missing, build, run every test
#   ./run.sh bench     build and run the benchmarks in bench/
#   ./run.sh torture [N]  build, then kill a writer N times (default 200, as
#                      CI does) with SIGKILL and N times with SIGTERM,
#                      checking the store after each (tests/test_crash.sh)
#   ./run.sh fuzz [SECONDS]  build the libFuzzer targets in fuzz/ (clang,
#                      ASan+UBSan, build-fuzz/) and run each for SECONDS
#                      (default 60) from its seed corpus; fails on any finding
#   ./run.sh crashsim [SCALE]  the crash-state simulation (tests/test_crashsim.c)
#                      with a workload and random variants SCALE times (default
#                      4) those of the unit suite
#
# Installing packages needs root (or sudo). Builds go to build/ (release-ish),
# build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer) and build-tsan/
# (ThreadSanitizer, for the threaded tests of the 'threads' suite).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential meson ninja-build pkg-config python3 git
          libgc-dev libcriterion-dev libedit-dev libsqlite3-dev lua5.4
          tmux postgresql-15 libpq-dev)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  echo "run.sh: checking the packages it needs" >&2
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "run.sh: installing ${missing[*]} (apt-get; this can take a few minutes)" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() { # build DIR [meson options...]; shows the tool's output only on failure
  local dir=$1 log; shift
  log=$(mktemp)
  [ -f "$dir/build.ninja" ] || echo "run.sh: configuring $dir (meson setup)" >&2
  if [ ! -f "$dir/build.ninja" ] && ! meson setup "$dir" "$@" > "$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "run.sh: meson setup $dir failed" >&2; exit 1
  fi
  # a directory configured earlier takes this run's options too
  if [ $# -gt 0 ] && ! meson configure "$dir" "$@" > "$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "run.sh: meson configure $dir failed" >&2; exit 1
  fi
  echo "run.sh: building in $dir (ninja)" >&2
  if ! ninja -C "$dir" > "$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "run.sh: build in $dir failed" >&2; exit 1
  fi
  rm -f "$log"
  echo "run.sh: built $dir" >&2
}

FUZZ_TARGETS=(reader codec store server)

# Build the fuzz targets and run each for $1 seconds; new corpus entries go
# to build-fuzz/corpus/, findings to build-fuzz/ (crash-*, leak-*, ...).
run_fuzz() {
  local secs=$1 t failed=0 log
  PACKAGES=(clang libclang-rt-14-dev); install_packages # libFuzzer is in the latter (only recommended by clang)
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
      -Db_lundef=false >/dev/null || { echo "run.sh: meson setup build-fuzz failed" >&2; exit 1; }
  fi
  ninja -C build-fuzz "${FUZZ_TARGETS[@]/#/fuzz/fuzz_}" >/dev/null || { echo "run.sh: fuzz build failed" >&2; exit 1; }
  for t in "${FUZZ_TARGETS[@]}"; do
    mkdir -p "build-fuzz/corpus/$t"; log="build-fuzz/fuzz_$t.log"
    if ASAN_OPTIONS=detect_leaks=0 build-fuzz/fuzz/fuzz_$t -max_total_time="$secs" -timeout=10 \
         -artifact_prefix=build-fuzz/ -print_final_stats=1 "build-fuzz/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1; then
      echo "fuzz_$t: $(grep -E '^#[0-9]+.*DONE' "$log" | sed -E 's/^#([0-9]+).*DONE +/\1 execs, /')"
    else
      failed=$((failed + 1)); echo "fuzz_$t: FINDING (see $log)"; grep -E 'ERROR|SUMMARY|fuzz_[a-z]+:' "$log" | head -5
    fi
  done
  echo "$(( ${#FUZZ_TARGETS[@]} - failed )) passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# Sum meson test results into the running totals.
count_meson() { # LOGFILE
  local ok fail
  ok=$(grep -E '^Ok: ' "$1" | awk '{print $2}'); fail=$(grep -E '^Fail: ' "$1" | awk '{print $2}')
  PASSED=$((PASSED + ${ok:-0})); FAILED=$((FAILED + ${fail:-0}))
}

# Add a "N passed, M failed" last line to the totals (a missing one fails).
count_summary() { # LOGFILE
  local line; line=$(tail -1 "$1")
  if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    PASSED=$((PASSED + BASH_REMATCH[1])); FAILED=$((FAILED + BASH_REMATCH[2]))
  else
    FAILED=$((FAILED + 1))
  fi
}

# A throwaway PostgreSQL cluster for the PostgreSQL store's tests, stopped
# and removed when the script exits (also on failure).
start_postgres() {
  PG_DIR=$(mktemp -d /tmp/sx-pg-XXXXXX)
  trap 'tests/pg_cluster.sh stop "$PG_DIR"' EXIT
  if SX_TEST_PG=$(tests/pg_cluster.sh start "$PG_DIR"); then
    export SX_TEST_PG SX_TEST_PG_DIR=$PG_DIR
  else
    echo "run.sh: could not start a PostgreSQL cluster; its tests will fail" >&2
    export SX_TEST_PG="postgresql:///postgres?host=$PG_DIR&user=postgres" SX_TEST_PG_DIR=$PG_DIR
  fi
}

# The integration tests against the ASan+UBSan binaries (the crash torture
# with 100 kills instead of 200). A sanitizer report from any process --
# also from a writer that was killed later, whose exit nobody checks --
# lands in a file under a fresh directory, and any such file is a failure.
run_asan_integration() { # LOGFILE
  local log=$1 reports; reports=$(mktemp -d)
  echo "== integration tests under ASan+UBSan (build-asan/)"
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$reports/asan \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan SX_CRASH_CYCLES=100 \
    meson test -C build-asan durable-host server-protocol listen-bank crash-torture --print-errorlogs \
    | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):' || true
  count_meson "$log"
  if [ -n "$(ls -A "$reports")" ]; then
    echo "FAIL: sanitizer reports from the integration tests:"; head -40 "$reports"/*
    FAILED=$((FAILED + 1))
  fi
  rm -rf "$reports"
}

run_tests() {
  PASSED=0; FAILED=0
  local log; log=$(mktemp)
  start_postgres
  echo "== unit and integration tests (build/)"
  meson test -C build --print-errorlogs | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):' || true
  count_meson "$log"
  echo "== unit tests under ASan+UBSan (build-asan/)"
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --suite unit --print-errorlogs | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):' || true
  count_meson "$log"
  echo "== unit tests of the portable dispatch build (build-switch/, -Ddispatch=switch, -Wpedantic)"
  meson test -C build-switch --suite unit --print-errorlogs | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):' || true
  count_meson "$log"
  echo "== threads under ThreadSanitizer (build-tsan/, suite threads)"
  TSAN_OPTIONS=halt_on_error=1 \
    meson test -C build-tsan --suite threads --print-errorlogs | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):' || true
  count_meson "$log"
  run_asan_integration "$log"
  echo "== persist conformance (conformance/run.sh)"
  conformance/run.sh build/hosts/sx-server | tee "$log" || true
  count_summary "$log"
  echo "== persist conformance on the real store (conformance/run.sh --real-store)"
  conformance/run.sh --real-store build/hosts/sx-server | tee "$log" || true
  count_summary "$log"
  echo "== persist conformance on PostgreSQL (conformance/run.sh --real-store-pg)"
  conformance/run.sh --real-store-pg "$SX_TEST_PG" build/hosts/sx-server | tee "$log" || true
  count_summary "$log"
  rm -f "$log"
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

case "${1:-demo}" in
  demo)
    install_packages
    build build
    if [ -t 0 ] && [ -t 1 ]; then
      echo "run.sh: opening the REPL on ./.sx-store with examples/ledger.sx" >&2
      exec build/hosts/sx repl examples/ledger.sx
    fi
    # not at a terminal: show what the REPL would, without waiting for input
    printf ':streams\n:tail orders 3\n(outstanding)\n' | build/hosts/sx repl examples/ledger.sx ;;
  test)
    install_packages
    build build
    build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    build build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
    build build-switch -Ddispatch=switch
    run_tests ;;
  bench)
    install_packages
    build build
    bench/run ;;
  torture)
    install_packages
    build build
    n=${2:-200}
    SX_CRASH_SIGNAL=KILL tests/test_crash.sh build/hosts/sx "$n"
    SX_CRASH_SIGNAL=TERM tests/test_crash.sh build/hosts/sx "$n" ;;
  fuzz)
    install_packages
    run_fuzz "${2:-60}" ;;
  coverage)
    # branch coverage of the unit, integration and conformance tests, per file
    PACKAGES+=(gcovr); install_packages
    build build-cov -Db_coverage=true -Dbuildtype=debug "-Dc_args=['-fprofile-update=atomic','-DSX_COVERAGE=1']"
    start_postgres
    find build-cov -name '*.gcda' -delete
    meson test -C build-cov --print-errorlogs | grep -E '^(Ok|Fail|Timeout):' || true
    conformance/run.sh build-cov/hosts/sx-server | tail -1
    conformance/run.sh --real-store build-cov/hosts/sx-server | tail -1
    conformance/run.sh --real-store-pg "$SX_TEST_PG" build-cov/hosts/sx-server | tail -1
    gcovr -r . build-cov --branches --gcov-ignore-parse-errors --exclude 'tests/' --exclude 'fuzz/' --exclude 'build-cov/' \
      --exclude 'bench/' --exclude 'examples/' --sort-percentage 2>/dev/null ;;
  crashsim)
    install_packages
    build build
    SX_CRASHSIM_SCALE=${2:-4} build/tests/test_crashsim --jobs 1 ;;
  *)
    echo "usage: ./run.sh [demo|test|bench|torture [N]|crashsim [SCALE]|fuzz [SECONDS]|coverage]" >&2; exit 2 ;;
esac
