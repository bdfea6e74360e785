# Benchmarks: never part of `make check`; run by hand (see each script).
EXTRA_DIST += bench/resumption.sh bench/resumption.py bench/resumption_load.c
EXTRA_DIST += bench/throughput.sh bench/throughput.py bench/throughput_load.c
