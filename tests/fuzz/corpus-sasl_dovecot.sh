#!/bin/sh
# make check: fuzz_sasl_dovecot over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_sasl_dovecot
