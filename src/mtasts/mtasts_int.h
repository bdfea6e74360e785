/* mtasts_int.h: what the files of src/mtasts share and nothing else
 * sees. */
#ifndef TLSRELAY_MTASTS_INT_H
#define TLSRELAY_MTASTS_INT_H

#include <stddef.h>

/* An extension's name, the same grammar in the TXT record (sts-ext-name)
 * and the policy (sts-policy-ext-name): (ALPHA / DIGIT) *31(ALPHA /
 * DIGIT / "_" / "-" / "."). */
int mtasts_ext_name_valid(const char *s, size_t len);

#endif
