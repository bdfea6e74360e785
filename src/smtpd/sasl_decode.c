/* sasl_decode: what an SMTP AUTH client sends, taken apart: base64
 * (RFC 4648), the PLAIN message (RFC 4616) and the two LOGIN responses.
 * Every byte here comes from an unauthenticated client. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/sasl.h"
#include "tlsrelay/util.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
sasl_base64_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t len = strlen(in), n = 0;

	if (strcmp(in, "=") == 0)
		return 0;
	if (len == 0 || len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		unsigned long group;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=') {
				/* Padding only at the very end, at most two. */
				if (i + 4 != len || k < 2)
					return -1;
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad > 0 || (v[k] = b64_value(c)) < 0)
				return -1;
		}
		group = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		    (unsigned long)v[2] << 6 | (unsigned long)v[3];
		/* Bits beyond the last byte must be zero (canonical form). */
		if ((pad == 1 && (group & 0xff) != 0) ||
		    (pad == 2 && (group & 0xffff) != 0))
			return -1;
		if (n + (size_t)(3 - pad) > outlen)
			return -1;
		out[n++] = (unsigned char)(group >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(group >> 8);
		if (pad < 1)
			out[n++] = (unsigned char)group;
	}
	return (long)n;
}

char *
sasl_base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < len; i += 3) {
		unsigned long group = (unsigned long)p[i] << 16;

		if (i + 1 < len)
			group |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			group |= p[i + 2];
		*o++ = b64_alphabet[(group >> 18) & 63];
		*o++ = b64_alphabet[(group >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(group >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64_alphabet[group & 63] : '=';
	}
	*o = '\0';
	return out;
}

void
sasl_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

void
sasl_credentials_clear(struct sasl_credentials *cred)
{
	free(cred->authzid);
	free(cred->authcid);
	sasl_secret_free(cred->passwd);
	memset(cred, 0, sizeof(*cred));
}

/* Decodes b64 into a fresh buffer of at most max bytes; *len gets the
 * length. NULL when it is not base64 (or longer than max: *too_long). */
static unsigned char *
decode_alloc(const char *b64, size_t max, size_t *len, int *too_long)
{
	/* Every 4 characters give at most 3 bytes. The whole text is
	 * decoded (a command line is short), so that bad base64 and a long
	 * message get their own replies. */
	size_t room = strlen(b64) / 4 * 3;
	unsigned char *buf;
	long n;

	*too_long = 0;
	buf = xmalloc(room + 1);
	n = sasl_base64_decode(b64, buf, room);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	if ((size_t)n > max)
		*too_long = 1;
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

enum sasl_decode
sasl_plain_decode(const char *b64, struct sasl_credentials *cred)
{
	size_t max = 2 * SASL_NAME_MAX + SASL_PASSWD_MAX + 2, len;
	const char *authzid, *authcid, *passwd, *nul1, *nul2;
	unsigned char *buf;
	int too_long;

	memset(cred, 0, sizeof(*cred));
	if ((buf = decode_alloc(b64, max, &len, &too_long)) == NULL)
		return SASL_DECODE_BASE64;
	if (too_long)
		goto form;
	authzid = (const char *)buf;
	if ((nul1 = memchr(buf, '\0', len)) == NULL)
		goto form;
	authcid = nul1 + 1;
	nul2 = memchr(authcid, '\0', len - (size_t)(authcid - authzid));
	if (nul2 == NULL || nul2 == authcid)
		goto form;
	passwd = nul2 + 1;
	/* The password runs to the end; a third NUL is malformed. */
	if ((size_t)(passwd - authzid) >= len ||
	    strlen(passwd) != len - (size_t)(passwd - authzid))
		goto form;
	if (strlen(authzid) > SASL_NAME_MAX || strlen(authcid) > SASL_NAME_MAX
	    || strlen(passwd) > SASL_PASSWD_MAX)
		goto form;
	cred->authzid = xstrdup(authzid);
	cred->authcid = xstrdup(authcid);
	cred->passwd = xstrdup(passwd);
	explicit_bzero(buf, len);
	free(buf);
	return SASL_DECODE_OK;
form:
	explicit_bzero(buf, len);
	free(buf);
	return SASL_DECODE_FORM;
}

enum sasl_decode
sasl_login_decode(const char *b64, size_t max, char **out)
{
	unsigned char *buf;
	size_t len;
	int too_long;

	*out = NULL;
	if ((buf = decode_alloc(b64, max, &len, &too_long)) == NULL)
		return SASL_DECODE_BASE64;
	if (too_long || len == 0 || memchr(buf, '\0', len) != NULL) {
		explicit_bzero(buf, len);
		free(buf);
		return SASL_DECODE_FORM;
	}
	*out = (char *)buf;
	return SASL_DECODE_OK;
}
