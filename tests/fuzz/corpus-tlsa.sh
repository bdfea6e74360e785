#!/bin/sh
# make check: fuzz_tlsa over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_tlsa
