#!/bin/sh
# Runs one fuzz harness, built with standalone_main.c, over its committed
# seed corpus: tests/fuzz/run-corpus.sh fuzz_smtpd_cmd. A harness signals a
# bug by crashing, so the exit status is the verdict.
name=${1:?usage: run-corpus.sh HARNESS}
bin="${TOP_BUILDDIR:-.}/tests/fuzz/$name"
corpus="${TOP_SRCDIR:-.}/tests/fuzz/corpus/$name"

if [ ! -x "$bin" ]; then
	echo "run-corpus.sh: $bin not built" >&2
	exit 99
fi
if [ -d "$corpus" ]; then
	exec "$bin" "$corpus"
fi
echo "run-corpus.sh: no seed corpus $corpus; running the empty input" >&2
exec "$bin"
