#!/bin/sh
# Fuzzes the parsers with libFuzzer: scripts/fuzz.sh [SECONDS [HARNESS...]]
#
# Builds the library and every harness tests/fuzz/fuzz_*.c (or only the ones
# named, e.g. fuzz_smtpd_data) with clang -fsanitize=fuzzer,address,undefined
# in a temporary directory, then runs each for SECONDS (default 30) starting
# from its seed corpus tests/fuzz/corpus/HARNESS/. New corpus entries stay in
# the temporary directory; copy the interesting ones into the seed corpus by
# hand. Exits non-zero when a harness does not build or finds a crash; the
# temporary directory with the crashing input is then kept and named.
set -u

secs=${1:-30}
[ $# -gt 0 ] && shift
case $secs in
''|*[!0-9]*) echo "usage: $0 [SECONDS [HARNESS...]]" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tlsrelay-fuzz.XXXXXX") || exit 1
log="$work/build.log"
fuzz_flags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined"
fuzz_flags="$fuzz_flags -fno-sanitize-recover=undefined"

cd "$work" || exit 1
if [ ! -x "$top/configure" ]; then
	echo "fuzz.sh: run autoreconf -i in $top first" >&2
	exit 1
fi
echo "fuzz.sh: building in $work"
# The library gets coverage instrumentation without libFuzzer's main().
if ! CC=clang CFLAGS="$fuzz_flags -fsanitize=fuzzer-no-link" \
    "$top/configure" -q --disable-werror >"$log" 2>&1 ||
    ! make -j"$(nproc 2>/dev/null || echo 2)" libtlsrelay.a >>"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "fuzz.sh: building the library failed; see $log" >&2
	exit 1
fi

# Compiler and linker flags as the project's Makefile has them.
make_var() {
	printf 'print-var:\n\t@echo "@@ %s"\n' "$1" |
	    make -s -f Makefile -f - print-var 2>>"$log" | sed -n 's/^@@ //p'
}
cflags=$(make_var '$(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) $(AM_CFLAGS)')
libs=$(make_var '$(LIBTLSRELAY) $(LIBS)')

if [ $# -eq 0 ]; then
	for src in "$top"/tests/fuzz/fuzz_*.c; do
		[ -f "$src" ] && set -- "$@" "$(basename "$src" .c)"
	done
fi

failed=""
for name in "$@"; do
	src="$top/tests/fuzz/$name.c"
	# shellcheck disable=SC2086
	if ! clang $cflags $fuzz_flags -fsanitize=fuzzer -I"$top/tests/fuzz" \
	    -o "$name" "$src" $libs >>"$log" 2>&1; then
		echo "fuzz.sh: $name does not build; see $log" >&2
		failed="$failed $name"
		continue
	fi
	mkdir -p "corpus/$name"
	seeds="$top/tests/fuzz/corpus/$name"
	[ -d "$seeds" ] || seeds=""
	echo "fuzz.sh: $name for ${secs}s"
	# shellcheck disable=SC2086
	if ! "./$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$work/$name-" \
	    "corpus/$name" $seeds >"$name.log" 2>&1; then
		tail -n 40 "$name.log" >&2
		echo "fuzz.sh: $name FAILED; log $work/$name.log," \
		    "inputs $work/$name-*" >&2
		failed="$failed $name"
		continue
	fi
	grep -E '^stat::number_of_executed_units|^Done' "$name.log" |
	    sed "s/^/  /"
done

if [ -n "$failed" ]; then
	echo "fuzz.sh: failed:$failed (kept $work)" >&2
	exit 1
fi
cd / && rm -rf "$work"
echo "fuzz.sh: all harnesses ran ${secs}s without a crash"
