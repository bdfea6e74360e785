#!/bin/sh
# check-docs.sh: the documentation says what the code does.
#
#  1. man/tlsrelay.5 has a ".TP" entry "\fBname\fR (default: ...)" for every
#     parameter `tlsrelay conf -d` prints, with the same default, and no
#     entry for a parameter tlsrelay does not implement.
#  2. The three manual pages format without a warning (groff -ww; mandoc
#     -Tlint too when mandoc is installed).
#  3. conf/main.cf and conf/master.cf load with `tlsrelay conf -c conf`
#     (with the files they name made in a temporary directory): exit 0,
#     no warning, every parameter set in main.cf implemented.
#
# Run by `make check`, which exports TLSRELAY, TOP_SRCDIR and TOP_BUILDDIR;
# by hand: TLSRELAY=build/tlsrelay sh tests/docs/check-docs.sh

LC_ALL=C
export LC_ALL

: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TOP_BUILDDIR:=$(pwd)}"
: "${TLSRELAY:=$TOP_BUILDDIR/tlsrelay}"

MAN5=$TOP_SRCDIR/man/tlsrelay.5
PAGES="$TOP_SRCDIR/man/tlsrelayd.8 $TOP_SRCDIR/man/tlsrelay.1 $MAN5"
SAMPLES=$TOP_SRCDIR/conf

# Defaults that depend on the host or on the build: the manual explains
# them in words ("see tlsrelay conf -d output"); checked one by one below.
HOST_DEFAULTS="myhostname mydomain mail_version mynetworks"

failures=0
fail()
{
	echo "FAIL: $*"
	failures=$((failures + 1))
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-docs.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

# A missing tool is an error, not a reason to skip: CI must notice.
if ! command -v groff >/dev/null 2>&1; then
	echo "ERROR: groff not found (Debian package groff-base)"
	exit 99
fi
if [ ! -x "$TLSRELAY" ]; then
	echo "ERROR: $TLSRELAY not built"
	exit 99
fi

# ---- 1. parameters and defaults --------------------------------------------

if ! "$TLSRELAY" conf -d >"$tmp/defaults" 2>"$tmp/defaults.err"; then
	fail "tlsrelay conf -d failed:"
	cat "$tmp/defaults.err"
fi
if [ ! -s "$tmp/defaults" ]; then
	fail "tlsrelay conf -d printed nothing"
fi
if [ -s "$tmp/defaults.err" ]; then
	fail "tlsrelay conf -d wrote to standard error:"
	cat "$tmp/defaults.err"
fi

# "name = value" -> "name<TAB>value" (value may be empty).
awk '
	{
		eq = index($0, " =")
		if (eq == 0) {
			print "unparsable line of tlsrelay conf -d: " $0 \
			    > "/dev/stderr"
			bad = 1
			next
		}
		name = substr($0, 1, eq - 1)
		value = substr($0, eq + 2)
		sub(/^ /, "", value)
		printf "%s\t%s\n", name, value
	}
	END { exit bad }
' "$tmp/defaults" >"$tmp/code" || fail "tlsrelay conf -d output is not name = value"

# The entry after each ".TP": \fBname\fR (default: text), roff escapes
# removed from text.
awk '
	function unroff(s) {
		gsub(/\\f[BIRP]/, "", s)
		gsub(/\\-/, "-", s)
		gsub(/\\[:&]/, "", s)
		gsub(/\\\(aq/, "\047", s)
		gsub(/\\\(dq/, "\"", s)
		gsub(/\\e/, "\\", s)
		return s
	}
	prev == ".TP" && /^\\fB[A-Za-z0-9_]+\\fR \(default: .*\)$/ {
		name = $0
		sub(/^\\fB/, "", name)
		sub(/\\fR.*/, "", name)
		def = $0
		sub(/^[^(]*\(default: /, "", def)
		sub(/\)$/, "", def)
		printf "%s\t%s\n", name, unroff(def)
	}
	{ prev = $0 }
' "$MAN5" >"$tmp/man"

if [ ! -s "$tmp/man" ]; then
	fail "no parameter entries found in $MAN5"
fi

awk -F '\t' -v host_defaults="$HOST_DEFAULTS" '
	BEGIN {
		n = split(host_defaults, h, " ")
		for (i = 1; i <= n; i++)
			hostdep[h[i]] = 1
	}
	FILENAME == ARGV[1] { code[$1] = $2; order[++ncode] = $1; next }
	{
		if ($1 in man) {
			print "FAIL: " $1 ": documented twice in tlsrelay.5"
			bad++
		}
		man[$1] = $2
	}
	END {
		for (i = 1; i <= ncode; i++) {
			name = order[i]
			value = code[name]
			if (!(name in man)) {
				print "FAIL: " name ": no entry in tlsrelay.5 " \
				    "(default: " value ")"
				bad++
				continue
			}
			doc = man[name]
			# Explained in words; checked further below.
			if (name in hostdep)
				continue
			if (doc ~ /^localstatedir\//) {
				tail = substr(doc, length("localstatedir") + 1)
				if (substr(value, 1, 1) != "/" ||
				    length(value) < length(tail) ||
				    substr(value, length(value) - \
				    length(tail) + 1) != tail) {
					print "FAIL: " name ": tlsrelay.5 says " \
					    "\"" doc "\", tlsrelay conf -d " \
					    "says \"" value "\""
					bad++
				}
				continue
			}
			if (doc == "empty")
				doc = ""
			if (doc != value) {
				print "FAIL: " name ": tlsrelay.5 says " \
				    "default \"" doc "\", tlsrelay conf -d " \
				    "says \"" value "\""
				bad++
			}
		}
		for (name in man)
			if (!(name in code)) {
				print "FAIL: " name ": documented in " \
				    "tlsrelay.5 but not a parameter of " \
				    "tlsrelay conf -d"
				bad++
			}
		exit (bad > 100 ? 100 : bad)
	}
' "$tmp/code" "$tmp/man"
failures=$((failures + $?))

# What the manual says about the host-dependent defaults.
default_of()
{
	awk -F '\t' -v name="$1" '$1 == name { print $2 }' "$tmp/code"
}
myhostname=$(default_of myhostname)
mydomain=$(default_of mydomain)
case $myhostname in
*.*) ;;
*) fail "default myhostname \"$myhostname\" has no dot" ;;
esac
if [ "$mydomain" != "${myhostname#*.}" ]; then
	fail "default mydomain \"$mydomain\" is not myhostname \"$myhostname\" without its first label"
fi
if [ -r "$TOP_BUILDDIR/config.h" ]; then
	version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' \
	    "$TOP_BUILDDIR/config.h")
	if [ "$(default_of mail_version)" != "$version" ]; then
		fail "default mail_version \"$(default_of mail_version)\" is not the package version $version"
	fi
fi

# ---- 2. the pages format cleanly --------------------------------------------

for page in $PAGES; do
	if [ ! -r "$page" ]; then
		fail "$page missing"
		continue
	fi
	groff -man -Tutf8 -ww -z "$page" >"$tmp/groff.out" 2>&1
	if [ -s "$tmp/groff.out" ] || ! grep -q '^\.TH ' "$page"; then
		fail "groff -man -ww $page:"
		cat "$tmp/groff.out"
	fi
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tlint "$page" >"$tmp/mandoc.out" 2>&1
		if [ -s "$tmp/mandoc.out" ]; then
			fail "mandoc -Tlint $page:"
			cat "$tmp/mandoc.out"
		fi
	fi
done
command -v mandoc >/dev/null 2>&1 ||
    echo "note: mandoc not installed, pages checked with groff only"

# ---- 3. the sample configuration --------------------------------------------

if [ ! -r "$SAMPLES/main.cf" ] || [ ! -r "$SAMPLES/master.cf" ]; then
	fail "sample configuration missing in $SAMPLES"
else
	# tlsrelay conf builds what the daemon builds, so the files the
	# samples name must exist: /etc/tlsrelay and the spool move to $tmp.
	sample=$tmp/sample
	mkdir -p "$sample/etc"
	sed -e "s|/etc/tlsrelay/|$sample/etc/|g" \
	    -e "s|/var/spool/tlsrelay|$sample/queue|g" \
	    -e "s|/var/lib/tlsrelay|$sample/data|g" \
	    "$SAMPLES/main.cf" >"$sample/main.cf"
	cp "$SAMPLES/master.cf" "$sample/master.cf"
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=relay.test \
	    -days 30 -keyout "$sample/etc/rsa.key" \
	    -out "$sample/etc/rsa.crt" 2>"$tmp/openssl.err" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -subj /CN=relay.test -days 30 \
	    -keyout "$sample/etc/ecdsa.key" \
	    -out "$sample/etc/ecdsa.crt" 2>>"$tmp/openssl.err" ||
	    fail "openssl req: $(cat "$tmp/openssl.err")"
	echo "user@example.com {SSHA256}x" >"$sample/etc/sasl_users"
	"$TLSRELAY" map "hash:$sample/etc/sasl_users" ||
	    fail "tlsrelay map hash:$sample/etc/sasl_users failed"
	"$TLSRELAY" conf -c "$sample" -n >"$tmp/sample.out" \
	    2>"$tmp/sample.err"
	status=$?
	if [ $status -ne 0 ]; then
		fail "tlsrelay conf -c conf -n exits $status"
	fi
	if [ -s "$tmp/sample.err" ]; then
		fail "tlsrelay conf -c conf -n complains about the samples:"
		cat "$tmp/sample.err"
	fi
	if grep '^#' "$tmp/sample.out" >"$tmp/ignored"; then
		fail "conf/main.cf sets parameters tlsrelay ignores:"
		cat "$tmp/ignored"
	fi
	# Every name set in the sample, straight from the file.
	for name in $(sed -n 's/^\([A-Za-z0-9_]*\)[ 	]*=.*/\1/p' \
	    "$SAMPLES/main.cf"); do
		if ! awk -F '\t' -v n="$name" '$1 == n { f = 1 } END { exit !f }' \
		    "$tmp/code"; then
			fail "conf/main.cf sets $name, which is not an implemented parameter"
		fi
		if ! grep -q "^$name = " "$tmp/sample.out"; then
			fail "conf/main.cf sets $name but tlsrelay conf -n does not show it"
		fi
	done
fi

if [ $failures -ne 0 ]; then
	echo "check-docs: $failures failure(s)"
	exit 1
fi
echo "check-docs: $(wc -l <"$tmp/man") parameters documented, pages and samples clean"
exit 0
