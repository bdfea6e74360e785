#!/bin/sh
# throughput.sh: tlsrelayd and a private Postfix 3.7 instance doing the
# same job on loopback, measured in one run: N messages (default 2000 of
# 10 KB) over C concurrent connections (default 20), each relayed to an
# smtp-sink on 127.0.0.1. Per relay: acceptance rate (until the load
# generator is done), end-to-end rate (until the sink has all N), peak
# RSS and PSS summed over the relay's processes (sampled every 100 ms)
# and their CPU time; then a table with the ratios tlsrelayd/postfix.
# Plaintext load: smtp-source; STARTTLS load: bench/loadgen.c
# (smtp-source has no TLS). bench/compare is the fuller comparison.
# Needs root (the daemon drops to the tlsrelay user), the postfix
# package, and a build of tlsrelayd.
#
#	bench/throughput.sh [BUILD_DIR] [-n MESSAGES] [-c CONNECTIONS]
#	    [--size BYTES] [--workers N] [--modes plain,tls,tls-resumed]
#	    [--queue-base DIR] [--no-postfix]
#
# Stays on 127.0.0.1, stops everything it started by PID, finishes in
# under 5 minutes. Not part of make check: timings are never asserted.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top
if [ $# -gt 0 ] && [ -d "$1" ]; then
	build=$(cd "$1" && pwd)
	shift
fi
[ -x "$build/tlsrelayd" ] || { echo "no tlsrelayd in $build" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/throughput-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cc -O2 -Wall -o "$tmp/loadgen" "$top/bench/loadgen.c" \
	-levent -levent_openssl -lssl -lcrypto
TLSRELAYD=$build/tlsrelayd TLSRELAY=$build/tlsrelay \
	/usr/bin/python3 "$top/bench/throughput.py" \
	--load "$tmp/loadgen" "$@"
