/* The libFuzzer entry points. Each harness defines LLVMFuzzerTestOneInput;
 * standalone_main.c runs it over files for `make check`, libFuzzer's own
 * main runs it under scripts/fuzz.sh. */
#ifndef TLSRELAY_FUZZ_H
#define TLSRELAY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness's check of what the code under test said: a failed one
 * stops the run with the line, as a crash would. */
#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
	    #cond); \
	abort(); } } while (0)

#endif
