#!/bin/sh
# make check: fuzz_mtasts_policy over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_mtasts_policy
