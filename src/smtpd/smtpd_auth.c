/* smtpd_auth: SMTP AUTH (RFC 4954) in front of a backend (sasl_server.h:
 * the built-in password table, Dovecot, Cyrus SASL), chosen by
 * smtpd_sasl_type. This file speaks SMTP: which mechanisms EHLO offers
 * (the backend's, filtered by smtpd_sasl_security_options or, under TLS,
 * smtpd_sasl_tls_security_options), the 334 challenges, "*" to cancel,
 * Postfix's replies and log lines (fail2ban's postfix filter reads the
 * failure line) and the per-session failure limit. A backend's verdict
 * may come later, from the loop: the session reads nothing meanwhile
 * (SS_AUTH), so the other sessions of the worker go on. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conn.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/util.h"
#include "smtpd_session.h"

enum auth_step {
	AUTH_IDLE = 0,
	AUTH_CHALLENGED,	/* "334" sent, the client's line is a reply */
	AUTH_VERDICT,		/* the backend has the last line */
};

static const struct {
	const char *name;
	unsigned flag;
	int required;		/* the mechanism must have it, else must not */
} security_options[] = {
	{ "noplaintext", SASL_MECH_F_PLAINTEXT, 0 },
	{ "noactive", SASL_MECH_F_ACTIVE, 0 },
	{ "nodictionary", SASL_MECH_F_DICTIONARY, 0 },
	{ "noanonymous", SASL_MECH_F_ANONYMOUS, 0 },
	{ "mutual_auth", SASL_MECH_F_MUTUAL_AUTH, 1 },
	{ "forward_secrecy", SASL_MECH_F_FORWARD_SECRECY, 1 },
};

int
smtpd_sasl_security(const char *value, struct sasl_security *sec, char **err)
{
	char **words = strlist_split(value, LIST_SEPARATORS, NULL);
	size_t n = sizeof(security_options) / sizeof(security_options[0]);
	int ret = 0;

	sec->forbid = sec->require = 0;
	for (char **w = words; *w != NULL; w++) {
		size_t i;

		for (i = 0; i < n; i++)
			if (strcasecmp(*w, security_options[i].name) == 0)
				break;
		if (i == n) {
			*err = xasprintf("unknown SASL security option \"%s\" "
			    "(use noanonymous, noplaintext, noactive, "
			    "nodictionary, mutual_auth, forward_secrecy)", *w);
			ret = -1;
			break;
		}
		if (security_options[i].required)
			sec->require |= security_options[i].flag;
		else
			sec->forbid |= security_options[i].flag;
	}
	strlist_free(words);
	return ret;
}

int
sasl_security_allows(const struct sasl_security *sec, unsigned flags)
{
	return (flags & sec->forbid) == 0 &&
	    (flags & sec->require) == sec->require;
}

void
smtpd_auth_attach(struct smtpd_policy *p, struct event_base *base)
{
	char *err = NULL;

	if (p->sasl_server == NULL)
		return;
	if (p->sasl_backend->server_attach(p->sasl_server, base, &err) < 0)
		msg_fatal("SASL %s: %s", p->sasl_backend->type, err);
}

/* The mechanism named name that the session may use under tls (0 or 1),
 * or NULL. */
static const struct sasl_mech *
mech_allowed(const struct smtpd_session *s, int tls, const char *name)
{
	const struct smtpd_policy *p = s->policy;
	const struct sasl_security *sec = tls ? &p->sasl_tls_sec :
	    &p->sasl_sec;
	const struct sasl_mech *mechs;
	size_t n = p->sasl_backend->mechanisms(p->sasl_server, &mechs);

	if (!tls && p->tls_auth_only)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((name == NULL || strcasecmp(mechs[i].name, name) == 0) &&
		    sasl_security_allows(sec, mechs[i].flags))
			return &mechs[i];
	return NULL;
}

/* The mechanisms EHLO offers now, space-separated, or "" for none. */
static void
mechs_now(const struct smtpd_session *s, char *buf, size_t len)
{
	const struct smtpd_policy *p = s->policy;
	const struct sasl_security *sec = s->tls_active ? &p->sasl_tls_sec :
	    &p->sasl_sec;
	const struct sasl_mech *mechs;
	size_t n, used = 0;

	buf[0] = '\0';
	if (!p->sasl_enabled || (!s->tls_active && p->tls_auth_only))
		return;
	n = p->sasl_backend->mechanisms(p->sasl_server, &mechs);
	for (size_t i = 0; i < n; i++) {
		int w;

		if (!sasl_security_allows(sec, mechs[i].flags))
			continue;
		w = snprintf(buf + used, len - used, "%s%s",
		    used ? " " : "", mechs[i].name);
		if (w < 0 || (size_t)w >= len - used) {
			buf[used] = '\0';	/* a whole name or none */
			break;
		}
		used += (size_t)w;
	}
}

void
smtpd_auth_ehlo(struct smtpd_session *s)
{
	char mechs[512];

	mechs_now(s, mechs, sizeof(mechs));
	if (mechs[0] == '\0')
		return;
	session_reply(s, "250-AUTH %s", mechs);
	/* Outlook Express and old Microsoft clients read only this form. */
	if (s->policy->broken_sasl_auth_clients)
		session_reply(s, "250-AUTH=%s", mechs);
}

/* Ends the backend's exchange; the login, if any, stays. */
static void
exchange_end(struct smtpd_session *s)
{
	s->auth_step = AUTH_IDLE;
	if (s->auth_in_call) {
		/* The backend is still on the stack: end it on return. */
		s->auth_end_deferred = 1;
		return;
	}
	if (s->auth_exchange != NULL) {
		s->policy->sasl_backend->end(s->auth_exchange);
		s->auth_exchange = NULL;
	}
}

void
smtpd_auth_reset(struct smtpd_session *s)
{
	exchange_end(s);
	free(s->sasl_username);
	s->sasl_username = NULL;
	free(s->auth_mech);
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

/* A backend's reason (Dovecot's reason= comes from the server), fit for
 * a log line and a reply: printable ASCII, cut to fit. */
static void
printable_text(const char *in, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (in[i] >= ' ' && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

static void
auth_failed(struct smtpd_session *s, const struct sasl_result *r)
{
	const struct smtpd_policy *p = s->policy;
	const char *reason = r->reason ? r->reason : "authentication failure";
	char name[128], text[128];

	s->auth_failures++;
	if (r->attempted != NULL)
		printable_name(r->attempted, name, sizeof(name));
	printable_text(reason, text, sizeof(text));
	msg_warn("%s[%s]: SASL %s authentication failed: %s%s%s", s->name,
	    s->addr, s->auth_mech, text, r->attempted ? ", sasl_username=" :
	    "", r->attempted ? name : "");
	session_reply(s, "535 5.7.8 Error: authentication failed: %s", text);
	if (p->auth_failure_limit > 0 &&
	    s->auth_failures >= p->auth_failure_limit) {
		msg_info("too many authentication failures after AUTH from "
		    "%s[%s]", s->name, s->addr);
		session_reply(s, "421 4.7.0 %s Error: too many authentication "
		    "failures", p->myhostname);
		session_close_after_reply(s);
	}
}

/* What the backend said, for an exchange of this session. */
static void
auth_result(void *arg, const struct sasl_result *r)
{
	struct smtpd_session *s = arg;
	int ok = 0;
	char text[128];

	if (s->state == SS_CLOSING) {
		/* Told to go (shutdown, timeout) while the backend worked. */
		exchange_end(s);
		return;
	}
	if (r->verdict == SASL_CONTINUE) {
		s->auth_step = AUTH_CHALLENGED;
		session_reply(s, "334 %s", r->challenge);
		return;
	}
	/* r's strings may belong to the exchange: end it after use. */
	s->auth_step = AUTH_IDLE;
	switch (r->verdict) {
	case SASL_CONTINUE:
		break;
	case SASL_SUCCESS:
		s->sasl_username = xstrdup(r->username);
		msg_debug("%s[%s]: SASL %s authentication succeeded, "
		    "sasl_username=%s", s->name, s->addr, s->auth_mech,
		    s->sasl_username);
		session_reply(s, "235 2.7.0 Authentication successful");
		ok = 1;
		break;
	case SASL_FAILURE:
		auth_failed(s, r);
		break;
	case SASL_TEMPFAIL:
		printable_text(r->reason ? r->reason : "", text, sizeof(text));
		msg_warn("%s[%s]: SASL %s authentication failed: %s", s->name,
		    s->addr, s->auth_mech, text);
		session_reply(s, "454 4.7.0 Temporary authentication failure: "
		    "%s", text);
		break;
	case SASL_BADPROTO:
		session_reply(s, "501 5.5.2 Cannot decode response");
		break;
	}
	exchange_end(s);
	session_count(s, CNT_AUTH, ok);
}

/* After start or step: a verdict still to come stops the reading. */
static void
backend_returned(struct smtpd_session *s)
{
	s->auth_in_call = 0;
	if (s->auth_end_deferred) {
		s->auth_end_deferred = 0;
		if (s->auth_exchange != NULL)
			s->policy->sasl_backend->end(s->auth_exchange);
		s->auth_exchange = NULL;
	}
	if (s->auth_step == AUTH_VERDICT)
		session_auth_wait(s);
}

/* The backend's sasl_result_fn: inside its start or step, or later from
 * the loop, when the session then reads again. */
static void
backend_said(void *arg, const struct sasl_result *r)
{
	struct smtpd_session *s = arg;
	struct log_name saved;

	if (s->auth_in_call) {
		auth_result(s, r);
		return;
	}
	conn_log_enter(s->conn, &saved);
	auth_result(s, r);
	if (s->state == SS_AUTH)
		session_auth_resume(s);
	conn_log_leave(&saved);
}

static void
start_exchange(struct smtpd_session *s, const struct sasl_mech *mech,
    const char *initial)
{
	const struct smtpd_policy *p = s->policy;
	struct sasl_client_info info = {
		.client_addr = s->addr,
		.client_port = s->port,
		.local_addr = s->local_addr,
		.local_port = s->local_port,
		.tls_active = s->tls_active,
		.tls_cipher_bits = s->tls_active ? s->tls->cipher_bits : 0,
		.service = p->sasl_service,
	};
	struct sasl_exchange *x;

	free(s->auth_mech);
	s->auth_mech = xstrdup(mech->name);
	s->auth_step = AUTH_VERDICT;
	s->auth_in_call = 1;
	x = p->sasl_backend->start(p->sasl_server, &info, mech->name, initial,
	    backend_said, s);
	/* Ended at once by backend_returned if the verdict came already. */
	s->auth_exchange = x;
	backend_returned(s);
}

/* smtpd_client_auth_rate_limit: AUTH commands of this client on this
 * service over all workers, per anvil_rate_time_unit, as Postfix's anvil
 * counts them (smtpd_client_event_limit_exceptions are not counted). */
static int
over_auth_rate(struct smtpd_session *s)
{
	const struct smtpd_policy *p = s->policy;
	int rate;

	if (p->auth_rate_limit <= 0 || s->anvil == NULL ||
	    cidr_list_match_text(p->event_limit_exceptions, s->addr))
		return 0;
	rate = anvil_auth(s->anvil, s->listener->name, s->addr,
	    p->anvil_time_unit);
	if (rate <= p->auth_rate_limit)
		return 0;
	msg_warn("AUTH command rate limit exceeded: %d from %s[%s] for "
	    "service %s", rate, s->name, s->addr, s->listener->name);
	session_reply(s, "450 4.7.1 Error: too many AUTH commands from %s",
	    s->addr);
	return 1;
}

int
smtpd_auth_command(struct smtpd_session *s, const char *arg)
{
	const struct smtpd_policy *p = s->policy;
	const struct sasl_mech *mech;
	const char *initial;
	char **words;
	size_t n;

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
	    (mech_allowed(s, 0, NULL) == NULL &&
	    mech_allowed(s, 1, NULL) != NULL))) {
		session_reply(s, "504 5.5.4 Encryption required for requested "
		    "authentication mechanism");
		return 0;
	}
	if (s->sasl_username != NULL) {
		session_reply(s, "503 5.5.1 Error: already authenticated");
		return 0;
	}
	if (mech_allowed(s, s->tls_active, NULL) == NULL) {
		const struct sasl_mech *mechs;

		/* A backend that knows no mechanism now has lost its
		 * server: that passes. */
		if (p->sasl_backend->mechanisms(p->sasl_server, &mechs) == 0) {
			session_reply(s, "454 4.7.0 Temporary authentication "
			    "failure: authentication server unavailable");
			return 0;
		}
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
	if ((mech = mech_allowed(s, s->tls_active, words[0])) == NULL) {
		strlist_free(words);
		session_reply(s, "504 5.5.4 Unsupported authentication "
		    "mechanism");
		return 0;
	}
	if (over_auth_rate(s)) {
		strlist_free(words);
		return 0;
	}
	initial = n == 2 ? words[1] : NULL;
	start_exchange(s, mech, initial);
	/* The initial response may hold a password. */
	for (char **w = words; *w != NULL; w++)
		explicit_bzero(*w, strlen(*w));
	strlist_free(words);
	/* Counted with the verdict. */
	return -1;
}

void
smtpd_auth_response(struct smtpd_session *s, const char *line)
{
	if (s->line_cut) {
		exchange_end(s);
		session_reply(s, "500 5.5.6 Authentication exchange line is "
		    "too long");
		session_count(s, CNT_AUTH, 0);
	} else if (strcmp(line, "*") == 0) {
		exchange_end(s);
		msg_warn("%s[%s]: SASL %s authentication aborted", s->name,
		    s->addr, s->auth_mech);
		session_reply(s, "501 5.7.0 Authentication aborted");
		session_count(s, CNT_AUTH, 0);
	} else {
		s->auth_step = AUTH_VERDICT;
		s->auth_in_call = 1;
		s->policy->sasl_backend->step(s->auth_exchange, line);
		backend_returned(s);
	}
}
