#!/bin/sh
# make check: fuzz_smtp_sasl over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_smtp_sasl
