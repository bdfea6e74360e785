/* The libFuzzer entry points. Each harness defines LLVMFuzzerTestOneInput;
 * standalone_main.c runs it over files for `make check`, libFuzzer's own
 * main runs it under scripts/fuzz.sh. */
#ifndef TLSRELAY_FUZZ_H
#define TLSRELAY_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
