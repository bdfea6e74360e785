/* smtpd_auth: SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN
 * mechanisms against the password table tlsrelay_smtpd_sasl_user_maps,
 * with Postfix's replies and log lines (fail2ban's postfix-sasl filter
 * reads the failure line). Both mechanisms carry the password itself, so
 * smtpd_sasl_security_options decides whether they may be used without
 * TLS. Hashing runs in the worker's event loop: a login holds up the other
 * sessions of that worker for one crypt(3). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/log.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/util.h"
#include "smtpd_session.h"

enum auth_step {
	AUTH_IDLE = 0,
	AUTH_PLAIN,		/* "334 " sent, waiting for the message */
	AUTH_LOGIN_USER,	/* "334 VXNlcm5hbWU6" (Username:) sent */
	AUTH_LOGIN_PASS,	/* "334 UGFzc3dvcmQ6" (Password:) sent */
};

static const struct {
	const char *name;
	unsigned bit;
} mechanisms[] = {
	{ "PLAIN", SASL_MECH_PLAIN },
	{ "LOGIN", SASL_MECH_LOGIN },
};

#define ALL_MECHS	(SASL_MECH_PLAIN | SASL_MECH_LOGIN)

int
smtpd_sasl_mechanisms(const char *value, unsigned *mechs, char **err)
{
	/* Cyrus SASL's properties: PLAIN and LOGIN are plaintext, open to
	 * dictionary and active attacks, without mutual authentication or
	 * forward secrecy; neither is anonymous. */
	static const char *const excluding[] = {
		"noplaintext", "noactive", "nodictionary", "mutual_auth",
		"forward_secrecy",
	};
	char **words = strlist_split(value, LIST_SEPARATORS, NULL);
	int ret = 0;

	*mechs = ALL_MECHS;
	for (char **w = words; *w != NULL; w++) {
		size_t i, n = sizeof(excluding) / sizeof(excluding[0]);

		if (strcasecmp(*w, "noanonymous") == 0)
			continue;
		for (i = 0; i < n; i++)
			if (strcasecmp(*w, excluding[i]) == 0)
				break;
		if (i < n) {
			*mechs &= ~(unsigned)ALL_MECHS;
			continue;
		}
		*err = xasprintf("unknown SASL security option \"%s\" (use "
		    "noanonymous, noplaintext, noactive, nodictionary, "
		    "mutual_auth, forward_secrecy)", *w);
		ret = -1;
		break;
	}
	strlist_free(words);
	return ret;
}

enum sasl_result
smtpd_sasl_check(const struct smtpd_policy *p, const char *user,
    const char *password)
{
	const char *hash = NULL;
	int error = 0;

	/* A name no table can hold still costs a crypt(3). */
	if (p->sasl_users != NULL && sasl_username_valid(user)) {
		hash = smtpd_table_lookup(p->sasl_users, user, &error);
		if (error)
			return SASL_AUTH_TEMPFAIL;
	}
	return sasl_password_check(hash, password) ? SASL_AUTH_OK :
	    SASL_AUTH_FAIL;
}

/* The mechanisms this session may use now. */
static unsigned
mechs_now(const struct smtpd_session *s)
{
	const struct smtpd_policy *p = s->policy;

	if (!p->sasl_enabled)
		return 0;
	if (s->tls_active)
		return p->sasl_tls_mechs;
	return p->tls_auth_only ? 0 : p->sasl_mechs;
}

const char *
smtpd_auth_ehlo(const struct smtpd_session *s)
{
	switch (mechs_now(s)) {
	case SASL_MECH_PLAIN | SASL_MECH_LOGIN:
		return "PLAIN LOGIN";
	case SASL_MECH_PLAIN:
		return "PLAIN";
	case SASL_MECH_LOGIN:
		return "LOGIN";
	default:
		return NULL;
	}
}

static void
exchange_end(struct smtpd_session *s)
{
	s->auth_step = AUTH_IDLE;
	free(s->auth_login_user);
	s->auth_login_user = NULL;
}

void
smtpd_auth_reset(struct smtpd_session *s)
{
	exchange_end(s);
	free(s->sasl_username);
	s->sasl_username = NULL;
	s->auth_mech = NULL;
}

/* A client-chosen name, fit for a log line: printable ASCII, cut at 100
 * bytes as Postfix does. */
static void
printable_name(const char *in, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i < 100 && i + 1 < outlen; i++)
		out[i] = (in[i] > ' ' && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

static int
auth_failed(struct smtpd_session *s, const char *user, const char *reason)
{
	const struct smtpd_policy *p = s->policy;
	char name[128];

	s->auth_failures++;
	if (user != NULL)
		printable_name(user, name, sizeof(name));
	msg_warn("%s[%s]: SASL %s authentication failed: %s%s%s", s->name,
	    s->addr, s->auth_mech, reason, user ? ", sasl_username=" : "",
	    user ? name : "");
	session_reply(s, "535 5.7.8 Error: authentication failed: %s", reason);
	if (p->auth_failure_limit > 0 &&
	    s->auth_failures >= p->auth_failure_limit) {
		msg_info("too many authentication failures after AUTH from "
		    "%s[%s]", s->name, s->addr);
		session_reply(s, "421 4.7.0 %s Error: too many authentication "
		    "failures", p->myhostname);
		session_close_after_reply(s);
	}
	return 0;
}

static int
reply_cannot_decode(struct smtpd_session *s)
{
	session_reply(s, "501 5.5.2 Cannot decode response");
	return 0;
}

static int
verify(struct smtpd_session *s, const char *authzid, const char *user,
    const char *password)
{
	switch (smtpd_sasl_check(s->policy, user, password)) {
	case SASL_AUTH_OK:
		break;
	case SASL_AUTH_TEMPFAIL:
		msg_warn("%s[%s]: SASL %s authentication failed: password "
		    "table lookup error", s->name, s->addr, s->auth_mech);
		session_reply(s, "454 4.7.0 Temporary authentication failure: "
		    "lookup error");
		return 0;
	case SASL_AUTH_FAIL:
		return auth_failed(s, user, "authentication failure");
	}
	/* No proxy rights: a user may only act as itself. */
	if (*authzid != '\0' && strcasecmp(authzid, user) != 0)
		return auth_failed(s, user, "authentication failure");
	s->sasl_username = str_lower(xstrdup(user));
	msg_debug("%s[%s]: SASL %s authentication succeeded, sasl_username=%s",
	    s->name, s->addr, s->auth_mech, s->sasl_username);
	session_reply(s, "235 2.7.0 Authentication successful");
	return 1;
}

static int
plain_message(struct smtpd_session *s, const char *b64)
{
	struct sasl_credentials cred;
	int ret;

	exchange_end(s);
	switch (sasl_plain_decode(b64, &cred)) {
	case SASL_DECODE_BASE64:
		return reply_cannot_decode(s);
	case SASL_DECODE_FORM:
		return auth_failed(s, NULL, "bad protocol / cancel");
	case SASL_DECODE_OK:
		break;
	}
	ret = verify(s, cred.authzid, cred.authcid, cred.passwd);
	sasl_credentials_clear(&cred);
	return ret;
}

static int
login_username(struct smtpd_session *s, const char *b64)
{
	char *user;

	switch (sasl_login_decode(b64, SASL_NAME_MAX, &user)) {
	case SASL_DECODE_BASE64:
		exchange_end(s);
		return reply_cannot_decode(s);
	case SASL_DECODE_FORM:
		exchange_end(s);
		return auth_failed(s, NULL, "bad protocol / cancel");
	case SASL_DECODE_OK:
		break;
	}
	s->auth_login_user = user;
	s->auth_step = AUTH_LOGIN_PASS;
	session_reply(s, "334 UGFzc3dvcmQ6");
	return -1;
}

static int
login_password(struct smtpd_session *s, const char *b64)
{
	char *user = s->auth_login_user, *password;
	int ret;

	s->auth_login_user = NULL;
	exchange_end(s);
	switch (sasl_login_decode(b64, SASL_PASSWD_MAX, &password)) {
	case SASL_DECODE_BASE64:
		ret = reply_cannot_decode(s);
		break;
	case SASL_DECODE_FORM:
		ret = auth_failed(s, user, "authentication failure");
		break;
	default:
		ret = verify(s, "", user, password);
		sasl_secret_free(password);
		break;
	}
	free(user);
	return ret;
}

int
smtpd_auth_command(struct smtpd_session *s, const char *arg)
{
	const struct smtpd_policy *p = s->policy;
	unsigned avail = mechs_now(s);
	char **words;
	size_t n, i, nmech = sizeof(mechanisms) / sizeof(mechanisms[0]);
	int ret;

	if (!p->sasl_enabled) {
		session_reply(s, "503 5.5.1 Error: authentication not enabled");
		return 0;
	}
	if (s->helo == NULL) {
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return 0;
	}
	if (s->sender != NULL) {
		session_reply(s, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		return 0;
	}
	/* RFC 4954 section 4: say why, rather than "not enabled". */
	if (!s->tls_active && (p->tls_auth_only ||
	    (avail == 0 && p->sasl_tls_mechs != 0))) {
		session_reply(s, "504 5.5.4 Encryption required for requested "
		    "authentication mechanism");
		return 0;
	}
	if (s->sasl_username != NULL) {
		session_reply(s, "503 5.5.1 Error: already authenticated");
		return 0;
	}
	if (avail == 0) {
		session_reply(s, "503 5.5.1 Error: authentication not enabled");
		return 0;
	}
	if (s->line_cut) {
		session_reply(s, "500 5.5.6 Authentication exchange line is "
		    "too long");
		return 0;
	}
	words = strlist_split(arg, " \t", &n);
	if (n < 1 || n > 2) {
		strlist_free(words);
		session_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return 0;
	}
	for (i = 0; i < nmech; i++)
		if (strcasecmp(words[0], mechanisms[i].name) == 0 &&
		    (avail & mechanisms[i].bit))
			break;
	if (i == nmech) {
		strlist_free(words);
		session_reply(s, "504 5.5.4 Unsupported authentication "
		    "mechanism");
		return 0;
	}
	s->auth_mech = mechanisms[i].name;
	if (mechanisms[i].bit == SASL_MECH_PLAIN) {
		if (n == 2)
			ret = plain_message(s, words[1]);
		else {
			s->auth_step = AUTH_PLAIN;
			session_reply(s, "334 ");
			ret = -1;
		}
	} else {
		if (n == 2)
			ret = login_username(s, words[1]);
		else {
			s->auth_step = AUTH_LOGIN_USER;
			session_reply(s, "334 VXNlcm5hbWU6");
			ret = -1;
		}
	}
	/* The initial response may hold a password. */
	for (char **w = words; *w != NULL; w++)
		explicit_bzero(*w, strlen(*w));
	strlist_free(words);
	return ret;
}

void
smtpd_auth_response(struct smtpd_session *s, const char *line)
{
	int ret = 0;

	if (s->line_cut) {
		exchange_end(s);
		session_reply(s, "500 5.5.6 Authentication exchange line is "
		    "too long");
	} else if (strcmp(line, "*") == 0) {
		exchange_end(s);
		msg_warn("%s[%s]: SASL %s authentication aborted", s->name,
		    s->addr, s->auth_mech);
		session_reply(s, "501 5.7.0 Authentication aborted");
	} else {
		switch (s->auth_step) {
		case AUTH_PLAIN:
			ret = plain_message(s, line);
			break;
		case AUTH_LOGIN_USER:
			ret = login_username(s, line);
			break;
		case AUTH_LOGIN_PASS:
			ret = login_password(s, line);
			break;
		}
	}
	if (ret >= 0)
		session_count(s, CNT_AUTH, ret);
}
