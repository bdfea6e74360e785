# Benchmarks: never part of `make check`; run by hand (see bench/README.md).
EXTRA_DIST += bench/README.md bench/compare bench/compare.py \
	bench/benchlib.py bench/loadgen.c bench/sink.c
EXTRA_DIST += bench/resumption.sh bench/resumption.py bench/resumption_load.c
EXTRA_DIST += bench/throughput.sh bench/throughput.py
EXTRA_DIST += bench/build.sh bench/cluster bench/cluster.py
