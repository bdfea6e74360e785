/* Fuzz harness: certificate name matching (tls_verify_name in
 * src/tls/tls_verify.c), the check of verify and secure levels. The input
 * is lines; the first byte of each says what the rest is:
 *   d  a DNS subjectAltName of the server's certificate (any bytes)
 *   c  a CommonName of its subject (any bytes)
 *   p  a match pattern of the policy ("hostname", "nexthop",
 *      "dot-nexthop", ".example.com", "mx.example.com")
 *   h  the server's host name;  n  the next hop's domain
 * A certificate with those names is built (unsigned: only the names are
 * looked at). Checked: a match names a certificate name byte for byte --
 * a subjectAltName when there is one, the CommonName only when there is
 * none -- and that name stands for the name compared: equal but for case,
 * or a wildcard that is a whole left-most label followed by at least two
 * labels and covering exactly one label (never a partial wildcard), or
 * (for ".domain") a name below the domain; never a name with a NUL.
 * And a plain host name that a certificate name equals but for case
 * always matches. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "fuzz.h"

#define MAX_NAMES	16

struct name {
	const char *bytes;
	size_t len;
};

struct input {
	struct name dns[MAX_NAMES], cn[MAX_NAMES];
	size_t n_dns, n_cn;
	char *patterns[MAX_NAMES];
	size_t n_patterns;
	char *hostname, *nexthop;
};

static X509 *
make_cert(const struct input *in)
{
	X509 *cert = X509_new();
	X509_NAME *subject = X509_NAME_new();

	CHECK(cert != NULL && subject != NULL);
	CHECK(X509_set_version(cert, X509_VERSION_3) == 1);
	for (size_t i = 0; i < in->n_cn; i++)
		CHECK(X509_NAME_add_entry_by_NID(subject, NID_commonName,
		    V_ASN1_UTF8STRING, (const unsigned char *)in->cn[i].bytes,
		    (int)in->cn[i].len, -1, 0) == 1);
	/* A CommonName that is not UTF-8 cannot be encoded: no peer can
	 * send such a certificate. */
	if (X509_set_subject_name(cert, subject) != 1) {
		X509_NAME_free(subject);
		X509_free(cert);
		return NULL;
	}
	X509_NAME_free(subject);
	if (in->n_dns > 0) {
		GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();

		for (size_t i = 0; i < in->n_dns; i++) {
			GENERAL_NAME *gn = GENERAL_NAME_new();
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();

			CHECK(gn != NULL && s != NULL);
			CHECK(ASN1_STRING_set(s, in->dns[i].bytes,
			    (int)in->dns[i].len) == 1);
			GENERAL_NAME_set0_value(gn, GEN_DNS, s);
			CHECK(sk_GENERAL_NAME_push(names, gn) > 0);
		}
		CHECK(X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0,
		    X509V3_ADD_DEFAULT) == 1);
		GENERAL_NAMES_free(names);
	}
	return cert;
}

/* What a pattern asks for, as tls_verify.c reads it; NULL: nothing. */
static const char *
wanted(const char *pattern, const struct input *in, char *buf, size_t len)
{
	if (strcasecmp(pattern, "hostname") == 0)
		return in->hostname && *in->hostname ? in->hostname : NULL;
	if (strcasecmp(pattern, "nexthop") == 0)
		return in->nexthop && *in->nexthop ? in->nexthop : NULL;
	if (strcasecmp(pattern, "dot-nexthop") == 0) {
		if (in->nexthop == NULL || *in->nexthop == '\0')
			return NULL;
		snprintf(buf, len, ".%s", in->nexthop);
		return buf;
	}
	if (*pattern == '\0' || strcmp(pattern, ".") == 0)
		return NULL;
	return pattern;
}

static size_t
count_dots(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '.';
	return n;
}

static int
ends_with_nocase(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* Whether the certificate name cert_name may stand for want. */
static int
stands_for(const char *cert_name, const char *want)
{
	const char *star = strchr(cert_name, '*');

	/* Any name below the domain; every name a wildcard below it can
	 * stand for is below it too, so OpenSSL compares the suffix only
	 * (Postfix's dot-nexthop, ".example.com"). It also takes the
	 * certificate name ".example.com" itself, as Postfix does: no CA
	 * issues a name with a leading dot. */
	if (*want == '.')
		return ends_with_nocase(cert_name, want);
	/* The very name, even one that the policy spells with a '*'. */
	if (strcasecmp(cert_name, want) == 0)
		return 1;
	if (star != NULL) {
		/* A whole left-most label, then at least two labels. */
		if (star != cert_name || cert_name[1] != '.' ||
		    strchr(star + 1, '*') != NULL ||
		    count_dots(cert_name + 2) < 1)
			return 0;
	}
	if (star == NULL)
		return 0;
	/* "*.example.com" for "mx.example.com": one label, not empty. */
	{
		const char *dot = strchr(want, '.');

		return dot != NULL && dot != want &&
		    strcasecmp(dot, cert_name + 1) == 0;
	}
}

/* A host name of letters, digits and hyphens in non-empty labels, with
 * at least two labels. */
static int
plain_hostname(const char *s, size_t len)
{
	int label = 0, dots = 0;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			dots++;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0 && s[len - 1] != '-' && dots > 0 &&
	    strstr(s, "-.") == NULL;
}

static void
parse(const uint8_t *data, size_t size, struct input *in)
{
	const char *p = (const char *)data, *end = p + size;

	memset(in, 0, sizeof(*in));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);

		if (len > 0) {
			struct name name = { p + 1, len - 1 };

			switch (*p) {
			case 'd':
				if (in->n_dns < MAX_NAMES)
					in->dns[in->n_dns++] = name;
				break;
			case 'c':
				if (in->n_cn < MAX_NAMES)
					in->cn[in->n_cn++] = name;
				break;
			case 'p':
				if (in->n_patterns < MAX_NAMES)
					in->patterns[in->n_patterns++] =
					    xstrndup(name.bytes, name.len);
				break;
			case 'h':
				free(in->hostname);
				in->hostname = xstrndup(name.bytes, name.len);
				break;
			case 'n':
				free(in->nexthop);
				in->nexthop = xstrndup(name.bytes, name.len);
				break;
			}
		}
		p = nl ? nl + 1 : end;
	}
}

static void
free_input(struct input *in)
{
	for (size_t i = 0; i < in->n_patterns; i++)
		free(in->patterns[i]);
	free(in->hostname);
	free(in->nexthop);
}

/* The certificate names a match may name: the DNS names, else the
 * CommonNames. */
static int
is_cert_name(const struct input *in, const char *matched)
{
	const struct name *names = in->n_dns > 0 ? in->dns : in->cn;
	size_t n = in->n_dns > 0 ? in->n_dns : in->n_cn;

	for (size_t i = 0; i < n; i++)
		if (names[i].len == strlen(matched) &&
		    memcmp(names[i].bytes, matched, names[i].len) == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	X509 *cert;
	char *matched = NULL, buf[1024];
	int rc;

	if (size > 8192)
		return 0;
	parse(data, size, &in);
	if ((cert = make_cert(&in)) == NULL) {
		free_input(&in);
		ERR_clear_error();
		return 0;
	}
	rc = tls_verify_name(cert, in.patterns, in.n_patterns, in.hostname,
	    in.nexthop, &matched);
	CHECK(rc == 0 || rc == 1);
	if (rc == 1) {
		int justified = 0;

		CHECK(matched != NULL);
		CHECK(is_cert_name(&in, matched));
		for (size_t i = 0; i < in.n_patterns && !justified; i++) {
			const char *want = wanted(in.patterns[i], &in, buf,
			    sizeof(buf));

			justified = want != NULL && stands_for(matched, want);
		}
		if (!justified)
			fprintf(stderr, "matched \"%s\"\n", matched);
		CHECK(justified);
	} else {
		const struct name *names = in.n_dns > 0 ? in.dns : in.cn;
		size_t n = in.n_dns > 0 ? in.n_dns : in.n_cn;

		CHECK(matched == NULL);
		/* An exact host name is never missed. */
		for (size_t i = 0; i < in.n_patterns; i++) {
			const char *want = wanted(in.patterns[i], &in, buf,
			    sizeof(buf));

			if (want == NULL || !plain_hostname(want, strlen(want)))
				continue;
			for (size_t k = 0; k < n; k++)
				CHECK(names[k].len != strlen(want) ||
				    strncasecmp(names[k].bytes, want,
				    names[k].len) != 0 ||
				    memchr(names[k].bytes, '\0',
				    names[k].len) != NULL);
		}
	}
	free(matched);
	X509_free(cert);
	free_input(&in);
	ERR_clear_error();
	return 0;
}
