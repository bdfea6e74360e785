#!/bin/sh
# make check: fuzz_smtpd_auth over its seed corpus.
exec sh "$TOP_SRCDIR/tests/fuzz/run-corpus.sh" fuzz_smtpd_auth
