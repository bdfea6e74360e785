/* Fuzz harness: the Message-ID scan of the header (smtpd_header.c). The
 * first input byte seeds the split points; the rest is message content.
 * Fed all at once, a byte at a time and in pseudo-random pieces, the
 * result must be the same; it must be printable ASCII, at most
 * SMTPD_MESSAGE_ID_MAX bytes, with no blank at either end. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/smtpd/smtpd_header.h"
#include "fuzz.h"

/* Scans in pieces (piece 0: all at once; else seeded pieces of 1 to
 * piece bytes) and copies the result into out. */
static void
scan(const uint8_t *in, size_t len, size_t piece, unsigned seed,
    char *out)
{
	struct smtpd_header_scan s;
	size_t pos = 0;

	smtpd_header_init(&s);
	while (pos < len) {
		size_t n = len - pos;

		if (piece > 0) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % piece;
			if (n > len - pos)
				n = len - pos;
		}
		smtpd_header_feed(&s, (const char *)in + pos, n);
		pos += n;
	}
	strcpy(out, smtpd_header_message_id(&s));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char whole[SMTPD_MESSAGE_ID_MAX + 1];
	static char split[SMTPD_MESSAGE_ID_MAX + 1];
	size_t n;

	if (size == 0)
		return 0;
	scan(data + 1, size - 1, 0, 0, whole);
	n = strlen(whole);
	CHECK(n <= SMTPD_MESSAGE_ID_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(whole[i] >= 0x20 && whole[i] < 0x7f);
	CHECK(n == 0 || (whole[0] != ' ' && whole[n - 1] != ' '));
	scan(data + 1, size - 1, 1, data[0], split);
	CHECK(strcmp(whole, split) == 0);
	scan(data + 1, size - 1, 7, data[0], split);
	CHECK(strcmp(whole, split) == 0);
	return 0;
}
