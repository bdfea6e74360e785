#!/bin/sh
# make check: fuzz_spool_read over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_spool_read
