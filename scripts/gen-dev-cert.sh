#!/bin/sh
# Creates a self-signed development certificate pair in DIR (RSA 2048 and
# ECDSA P-256, both for CN NAME, default localhost) unless they exist.
# Usage: gen-dev-cert.sh DIR [NAME]
# Never use these outside a test set-up: anyone can make the same.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: gen-dev-cert.sh DIR [NAME]" >&2
	exit 2
fi
dir=$1
name=${2:-localhost}
san="DNS:$name,IP:127.0.0.1,IP:::1"
[ "$name" = localhost ] || san="$san,DNS:localhost"
mkdir -p "$dir"

# gen TYPE KEYOPTS...: DIR/TYPE.key and DIR/TYPE.crt, valid ten years.
gen() {
	type=$1
	shift
	[ -s "$dir/$type.key" ] && [ -s "$dir/$type.crt" ] && return 0
	(umask 077 && openssl genpkey -quiet "$@" -out "$dir/$type.key")
	openssl req -new -x509 -key "$dir/$type.key" -out "$dir/$type.crt" \
	    -days 3650 -subj "/CN=$name" \
	    -addext "subjectAltName=$san" \
	    2>/dev/null
	echo "gen-dev-cert.sh: created $dir/$type.crt (self-signed, CN=$name)"
}

gen rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
gen ec -algorithm EC -pkeyopt ec_paramgen_curve:P-256
