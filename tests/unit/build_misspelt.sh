#!/bin/sh
# build_misspelt.sh: a parameter is read through its compile-time
# identifier, so a misspelt name does not build, and neither does a getter
# of the wrong type (-Wextra brings -Wenum-conversion); the right spelling
# and type do. Run by `make check` (TOP_SRCDIR, TOP_BUILDDIR); by hand:
# TOP_SRCDIR=. TOP_BUILDDIR=build sh tests/unit/build_misspelt.sh

: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TOP_BUILDDIR:=$(pwd)}"
: "${CC:=cc}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/build_misspelt.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

failures=0

# compile NAME EXPRESSION: 0 when a reader of EXPRESSION compiles with the
# project's warnings as errors; the compiler's messages in $tmp/NAME.err.
compile()
{
	cat >"$tmp/$1.c" <<EOT
#include "tlsrelay/conf.h"

long long reader(const struct conf *conf);

long long
reader(const struct conf *conf)
{
	return $2;
}
EOT
	$CC -std=c11 -Wall -Wextra -Werror -I"$TOP_SRCDIR/include" \
	    -I"$TOP_BUILDDIR" -fsyntax-only "$tmp/$1.c" 2>"$tmp/$1.err"
}

if ! compile right 'conf_time(conf, P_minimal_backoff_time)'; then
	echo "FAIL: the right spelling does not compile:"
	cat "$tmp/right.err"
	failures=$((failures + 1))
fi
if compile misspelt 'conf_time(conf, P_minimal_bakoff_time)'; then
	echo "FAIL: a misspelt parameter name compiles"
	failures=$((failures + 1))
elif ! grep -q 'P_minimal_bakoff_time' "$tmp/misspelt.err"; then
	echo "FAIL: the error does not name the misspelt identifier:"
	cat "$tmp/misspelt.err"
	failures=$((failures + 1))
fi
if compile wrong_type 'conf_bool(conf, P_minimal_backoff_time)'; then
	echo "FAIL: a time parameter read as a boolean compiles"
	failures=$((failures + 1))
elif ! grep -q 'enum-conversion' "$tmp/wrong_type.err"; then
	echo "FAIL: the wrong type fails for another reason:"
	cat "$tmp/wrong_type.err"
	failures=$((failures + 1))
fi
if ! compile by_name_gone 'conf_origin(conf, P_smtpd_tls_cert_file) != 0'
then
	echo "FAIL: conf_origin does not take an identifier:"
	cat "$tmp/by_name_gone.err"
	failures=$((failures + 1))
fi
if compile string_read '(long long)conf_str(conf, "myhostname")'; then
	echo "FAIL: a parameter read by its string name compiles"
	failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] && echo "PASS: misspelt or mistyped reads do not build"
exit $((failures > 0))
