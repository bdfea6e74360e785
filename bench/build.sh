# build.sh: sourced by bench/compare and bench/cluster. With "$1" a build
# directory, uses the tlsrelayd there; otherwise builds one into
# build-bench/ with frame pointers (usable perf profiles). Sets $build
# and $shifted (1 when "$1" was the build directory), makes $tmp and
# compiles bench/loadgen.c and bench/sink.c into it.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "$(basename "$0"): run as root" >&2
	exit 2
fi
shifted=0
if [ $# -gt 0 ] && [ -d "$1" ]; then
	build=$(cd "$1" && pwd)
	shifted=1
else
	build=$top/build-bench
	echo "$(basename "$0"): building tlsrelayd in $build" >&2
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null)
	mkdir -p "$build"
	[ -f "$build/Makefile" ] || (cd "$build" && "$top/configure" -q \
		CFLAGS="-O2 -g -fno-omit-frame-pointer")
	make -C "$build" -j2 -s tlsrelayd tlsrelay >/dev/null
fi
[ -x "$build/tlsrelayd" ] || { echo "no tlsrelayd in $build" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-tools.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for tool in loadgen sink; do
	cc -O2 -Wall -Wextra -o "$tmp/$tool" "$top/bench/$tool.c" \
		-levent -levent_openssl -lssl -lcrypto
done
