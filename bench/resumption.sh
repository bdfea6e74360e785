#!/bin/sh
# resumption.sh: TLS handshakes per second, full vs resumed (TLS 1.2 by
# session ID and by ticket, TLS 1.3 by ticket), against tlsrelayd with
# several workers and a private Postfix instance measured in the same run;
# prints each rate and the ratios. Needs root (the daemon drops to the
# tlsrelay user), the postfix package, and a build of tlsrelayd.
#
#	bench/resumption.sh [BUILD_DIR] [--procs N] [--workers N]
#	    [--seconds S] [--no-postfix]
#
# Not part of make check: timings are never asserted.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top
if [ $# -gt 0 ] && [ -d "$1" ]; then
	build=$(cd "$1" && pwd)
	shift
fi
[ -x "$build/tlsrelayd" ] || { echo "no tlsrelayd in $build" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resumption-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cc -O2 -Wall -o "$tmp/resumption_load" "$top/bench/resumption_load.c" \
	-lssl -lcrypto
TLSRELAYD=$build/tlsrelayd TLSRELAY=$build/tlsrelay \
	/usr/bin/python3 "$top/bench/resumption.py" \
	--load "$tmp/resumption_load" "$@"
