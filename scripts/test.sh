#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, a plain build with
# `make check` in build/, an AddressSanitizer + UndefinedBehaviorSanitizer
# build with `make check` in build-asan/, a short fuzz smoke run, then one
# summary line "tests: N passed, M failed". Run as root from anywhere.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

scripts/setup-debian.sh --test
autoreconf -fi >/dev/null 2>autoreconf.log || { cat autoreconf.log >&2; exit 1; }
rm -f autoreconf.log

passed=0
failed=0
failed_logs=()

# build DIR CONFIGURE-ARGS...: configure and build in DIR, run make check.
# A build failure counts as one failed test; test results are counted
# afterwards from DIR/test-suite.log.
build_and_check() {
	local dir=$1
	shift
	echo "== $dir: configure $*"
	mkdir -p "$top/$dir"
	if ! (cd "$top/$dir" && "$top/configure" -q "$@" &&
	    make -j"$jobs" >/dev/null); then
		echo "== $dir: BUILD FAILED"
		failed=$((failed + 1))
		return 0
	fi
	echo "== $dir: make check"
	rm -f "$top/$dir/test-suite.log"
	(cd "$top/$dir" && make -j"$jobs" check) || true
	count_results "$top/$dir"
}

# Adds the counts of an automake test-suite.log ("# PASS:  12") and
# remembers the logs of tests that did not pass.
count_results() {
	local dir=$1 log=$1/test-suite.log n trs
	if [ ! -f "$log" ]; then
		echo "== $dir: no test-suite.log (make check did not run)"
		failed=$((failed + 1))
		return 0
	fi
	for key in PASS XFAIL; do
		n=$(sed -n "s/^# $key: *\([0-9]*\)$/\1/p" "$log")
		passed=$((passed + ${n:-0}))
	done
	for key in FAIL XPASS ERROR; do
		n=$(sed -n "s/^# $key: *\([0-9]*\)$/\1/p" "$log")
		failed=$((failed + ${n:-0}))
	done
	while IFS= read -r trs; do
		failed_logs+=("${trs%.trs}.log")
	done < <(grep -lE '^:test-result: (FAIL|XPASS|ERROR)' \
	    $(find "$dir" -name '*.trs') /dev/null)
}

build_and_check build
ASAN_OPTIONS=detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
UBSAN_OPTIONS=print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} \
    build_and_check build-asan --enable-sanitizers

# The fuzz smoke run counts as one test.
if [ -f scripts/fuzz.sh ]; then
	echo "== fuzz smoke: scripts/fuzz.sh 20"
	if bash scripts/fuzz.sh 20 >fuzz-smoke.log 2>&1; then
		passed=$((passed + 1))
		rm -f fuzz-smoke.log
	else
		failed=$((failed + 1))
		failed_logs+=("$top/fuzz-smoke.log")
	fi
fi

for log in "${failed_logs[@]+"${failed_logs[@]}"}"; do
	echo
	echo "======== $log"
	cat "$log" || true
done

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
