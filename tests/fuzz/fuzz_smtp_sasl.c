/* Fuzz harness: what a hostile server answers the smtp client's SMTP AUTH
 * (src/smtp/smtp_sasl.c). The first byte picks the settings (bit 0: a
 * mechanism filter that allows only LOGIN); the rest is the server's
 * lines, as in fuzz_smtp_reply. The first complete reply is the EHLO
 * answer: its AUTH list is taken, a mechanism chosen, and the exchange
 * started; every later reply goes to smtp_sasl_exchange until it ends.
 * Checked: the mechanisms are words of the EHLO reply; the chosen one is
 * ours, offered and allowed by the filter; every line sent is one line
 * without CR or LF ("AUTH PLAIN <base64>", "AUTH LOGIN", then base64
 * only) that carries exactly the user name and password of the table
 * and nothing else; LOGIN answers at most two 334 challenges and PLAIN
 * none; a 2XX reply ends it logged in, anything else ends it with a
 * reason of one line and a 4.X.X status, so a server's refusal never
 * bounces the mail. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/smtp.h"
#include "tlsrelay/util.h"
#include "../../src/smtp/smtp_int.h"	/* smtp_sasl.c is internal */
#include "fuzz.h"

#define USER		"relay@example.com"
#define PASSWORD	"pa:ss=w\xc3\xb6rd"
#define LABEL		"mx.example.com[192.0.2.1]:587"

static struct smtp_sasl *
settings(int login_only)
{
	static struct smtp_sasl *sasl[2];
	static const char *const main_cf[2] = {
		"smtp_sasl_auth_enable = yes\n"
		"smtp_sasl_password_maps = static:" USER ":" PASSWORD "\n"
		"smtp_sasl_security_options = noanonymous\n",
		"smtp_sasl_auth_enable = yes\n"
		"smtp_sasl_password_maps = static:" USER ":" PASSWORD "\n"
		"smtp_sasl_security_options = noanonymous\n"
		"smtp_sasl_mechanism_filter = !plain, login\n",
	};
	char *err = NULL;

	if (sasl[login_only] == NULL) {
		struct conf *conf;

		if (log_open("/dev/null", 0, NULL, &err) < 0)
			free(err);
		err = NULL;
		conf = conf_load_strings(main_cf[login_only], "main.cf", NULL,
		    "master.cf", &err);
		CHECK(conf != NULL);
		sasl[login_only] = smtp_sasl_new(conf, &err);
		CHECK(sasl[login_only] != NULL);
		/* The settings are copied; the password table is open. */
		conf_free(conf);
	}
	return sasl[login_only];
}

/* The base64 text, decoded; NULL when it is not base64. */
static unsigned char *
decode64(const char *text, size_t *len)
{
	size_t n = strlen(text);
	unsigned char *out;
	int got;

	if (n % 4 != 0 || strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/=") != n)
		return NULL;
	out = xmalloc(n / 4 * 3 + 1);
	if ((got = EVP_DecodeBlock(out, (const unsigned char *)text,
	    (int)n)) < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as bytes. */
	*len = (size_t)got - (n >= 1 && text[n - 1] == '=') -
	    (n >= 2 && text[n - 2] == '=');
	return out;
}

static void
check_base64_is(const char *text, const void *want, size_t want_len)
{
	unsigned char *got;
	size_t len = 0;

	CHECK((got = decode64(text, &len)) != NULL);
	CHECK(len == want_len && memcmp(got, want, len) == 0);
	free(got);
}

static void
check_one_line(const char *s)
{
	CHECK(strchr(s, '\n') == NULL && strchr(s, '\r') == NULL);
}

static void
check_ehlo(const struct smtp_sasl_session *s, const struct smtp_reply *r)
{
	int offered = 0;

	CHECK(s->n_mechs == 0 || s->offered);
	for (size_t i = 0; i < s->n_mechs; i++) {
		CHECK(s->mechs[i][0] != '\0');
		CHECK(strpbrk(s->mechs[i], " \t") == NULL);
	}
	CHECK(s->mechs == NULL || s->mechs[s->n_mechs] == NULL);
	for (size_t i = 1; i < r->n_lines; i++)
		if (strncasecmp(r->lines[i], "AUTH", 4) == 0)
			offered = 1;
	CHECK(!s->offered || offered);
}

static void
check_chosen(const char *mech, const struct smtp_sasl_session *s,
    int login_only)
{
	int listed = 0;

	if (mech == NULL)
		return;
	CHECK(strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0);
	CHECK(!login_only || strcmp(mech, "LOGIN") == 0);
	for (size_t i = 0; i < s->n_mechs; i++)
		listed |= strcasecmp(s->mechs[i], mech) == 0;
	CHECK(listed);
}

/* The start: AUTH with PLAIN's whole answer, or LOGIN's first word. */
static void
check_start(const char *mech, const char *line)
{
	static const char plain[] = "\0" USER "\0" PASSWORD;

	check_one_line(line);
	if (strcmp(mech, "LOGIN") == 0) {
		CHECK(strcmp(line, "AUTH LOGIN") == 0);
		return;
	}
	CHECK(strncmp(line, "AUTH PLAIN ", 11) == 0);
	check_base64_is(line + 11, plain, sizeof(plain) - 1);
}

/* One reply to the exchange; 1 when it goes on. */
static int
step(struct smtp_sasl_session *s, const struct smtp_reply *r,
    int *challenges)
{
	enum smtp_sasl_status status;
	char *line = NULL, *reason, dsn[16];

	status = smtp_sasl_exchange(s, r, &line);
	switch (status) {
	case SMTP_SASL_SEND:
		CHECK(line != NULL);
		CHECK(r->code == 334 && strcmp(s->mech, "LOGIN") == 0);
		CHECK(++*challenges <= 2);
		check_one_line(line);
		if (*challenges == 1)
			check_base64_is(line, USER, strlen(USER));
		else
			check_base64_is(line, PASSWORD, strlen(PASSWORD));
		free(line);
		return 1;
	case SMTP_SASL_DONE:
		CHECK(line == NULL);
		CHECK(r->code / 100 == 2);
		return 0;
	case SMTP_SASL_REFUSED:
	case SMTP_SASL_FAILED:
		CHECK(line == NULL);
		CHECK(r->code / 100 != 2);
		CHECK(status == SMTP_SASL_FAILED || r->code != 334);
		memset(dsn, 'x', sizeof(dsn));
		reason = smtp_sasl_reason(status, r, LABEL, dsn);
		/* One line; a CR inside the server's text is the log's and
		 * the defer log's to blank, as for any other reply. */
		CHECK(reason != NULL && strchr(reason, '\n') == NULL);
		CHECK(strstr(reason, LABEL) != NULL);
		CHECK(memchr(dsn, '\0', sizeof(dsn)) != NULL);
		CHECK(dsn[0] == '4' && dsn[1] == '.');
		free(reason);
		return 0;
	}
	CHECK(!"unknown status");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *end;
	struct smtp_sasl_session s;
	struct smtp_reply reply;
	struct smtp_sasl *sasl;
	int login_only, have_ehlo = 0, going = 1, challenges = 0;

	if (size < 1)
		return 0;
	login_only = data[0] & 1;
	sasl = settings(login_only);
	memset(&s, 0, sizeof(s));
	memset(&reply, 0, sizeof(reply));
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p < end && going) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char *line = xstrndup(p, len);
		size_t text_len = strlen(line);	/* to a NUL, if any */

		p = nl ? nl + 1 : end;
		if (text_len > 0 && line[text_len - 1] == '\r')
			line[text_len - 1] = '\0';
		switch (smtp_reply_feed(&reply, line)) {
		case SMTP_REPLY_MORE:
			break;
		case SMTP_REPLY_BAD:
			smtp_reply_clear(&reply);
			break;
		case SMTP_REPLY_DONE:
			if (!have_ehlo) {
				char *start = NULL;
				const char *mech;

				have_ehlo = 1;
				smtp_sasl_ehlo(&s, &reply);
				check_ehlo(&s, &reply);
				mech = smtp_sasl_choose(sasl, s.mechs,
				    s.n_mechs, smtp_sasl_options(sasl, 0, 0));
				check_chosen(mech, &s, login_only);
				if (mech == NULL) {
					going = 0;
					break;
				}
				s.mech = mech;
				s.cred = xstrdup(USER ":" PASSWORD);
				CHECK(smtp_sasl_exchange(&s, NULL, &start) ==
				    SMTP_SASL_SEND);
				check_start(mech, start);
				free(start);
			} else
				going = step(&s, &reply, &challenges);
			smtp_reply_clear(&reply);
			break;
		}
		free(line);
	}
	smtp_reply_clear(&reply);
	smtp_sasl_session_clear(&s);
	return 0;
}
