#!/bin/sh
# make check: fuzz_defer_log over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_defer_log
