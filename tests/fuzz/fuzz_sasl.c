/* Fuzz harness: what an SMTP AUTH client sends. Each LF-separated line
 * goes through the base64, PLAIN and LOGIN decoders as the server gets
 * it; the raw input is also base64-encoded and fed to them, so that the
 * fuzzer reaches the PLAIN and LOGIN checks with any bytes inside.
 * Checked: accepted base64 is canonical (it encodes back to itself),
 * decoded messages respect the limits and hold no NUL, and a PLAIN
 * message put back together is exactly what was decoded. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/sasl.h"
#include "fuzz.h"

static void
check_base64(const char *b64)
{
	size_t len = strlen(b64), room = len / 4 * 3 + 3;
	unsigned char *out = malloc(room);
	long n;

	CHECK(out != NULL);
	n = sasl_base64_decode(b64, out, room);
	if (n >= 0) {
		char *again = sasl_base64_encode(out, (size_t)n);

		CHECK((size_t)n <= len / 4 * 3);
		/* "=" is the empty response, "" encodes nothing. */
		CHECK(strcmp(again, b64) == 0 ||
		    (n == 0 && strcmp(b64, "=") == 0));
		free(again);
		/* Exactly enough room is enough; one byte less is not. */
		if (n > 0)
			CHECK(sasl_base64_decode(b64, out,
			    (size_t)n - 1) == -1);
	}
	free(out);
}

static void
check_plain(const char *b64)
{
	struct sasl_credentials cred;
	unsigned char *raw;
	size_t room = strlen(b64) / 4 * 3 + 3;
	long n;

	switch (sasl_plain_decode(b64, &cred)) {
	case SASL_DECODE_BASE64:
		CHECK(cred.authcid == NULL);
		raw = malloc(room);
		CHECK(raw != NULL);
		CHECK(sasl_base64_decode(b64, raw, room) < 0);
		free(raw);
		return;
	case SASL_DECODE_FORM:
		CHECK(cred.authcid == NULL && cred.passwd == NULL);
		return;
	case SASL_DECODE_OK:
		break;
	}
	CHECK(cred.authzid != NULL && cred.authcid != NULL &&
	    cred.passwd != NULL);
	CHECK(*cred.authcid != '\0' && *cred.passwd != '\0');
	CHECK(strlen(cred.authzid) <= SASL_NAME_MAX);
	CHECK(strlen(cred.authcid) <= SASL_NAME_MAX);
	CHECK(strlen(cred.passwd) <= SASL_PASSWD_MAX);
	raw = malloc(room);
	CHECK(raw != NULL);
	n = sasl_base64_decode(b64, raw, room);
	{
		size_t a = strlen(cred.authzid), c = strlen(cred.authcid);
		size_t p = strlen(cred.passwd);

		CHECK(n >= 0 && (size_t)n == a + c + p + 2);
		CHECK(memcmp(raw, cred.authzid, a) == 0 && raw[a] == '\0');
		CHECK(memcmp(raw + a + 1, cred.authcid, c) == 0);
		CHECK(raw[a + 1 + c] == '\0');
		CHECK(memcmp(raw + a + c + 2, cred.passwd, p) == 0);
	}
	free(raw);
	sasl_credentials_clear(&cred);
	CHECK(cred.passwd == NULL);
}

static void
check_login(const char *b64)
{
	static const size_t limits[] = { SASL_NAME_MAX, SASL_PASSWD_MAX, 1 };

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		char *out = NULL;

		if (sasl_login_decode(b64, limits[i], &out) == SASL_DECODE_OK) {
			CHECK(out != NULL);
			CHECK(*out != '\0' && strlen(out) <= limits[i]);
			sasl_secret_free(out);
		} else
			CHECK(out == NULL);
	}
}

static void
check_text(const char *text)
{
	check_base64(text);
	check_plain(text);
	check_login(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *encoded;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char *line = malloc(len + 1);

		CHECK(line != NULL);
		memcpy(line, p, len);
		line[len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		check_text(line);
		free(line);
		p = nl ? nl + 1 : end;
	}
	/* The input as the bytes of a message. */
	encoded = sasl_base64_encode(data, size);
	check_text(encoded);
	free(encoded);
	return 0;
}
