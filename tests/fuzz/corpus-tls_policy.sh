#!/bin/sh
# make check: fuzz_tls_policy over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_tls_policy
