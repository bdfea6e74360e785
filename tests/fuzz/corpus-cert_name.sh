#!/bin/sh
# make check: fuzz_cert_name over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_cert_name
