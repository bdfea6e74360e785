/* smtp_sasl: SMTP AUTH (RFC 4954) to servers that want a login, as
 * Postfix's client does with smtp_sasl_auth_enable = yes. After the last
 * EHLO, when the server offers AUTH and smtp_sasl_password_maps has a
 * "user:password" for it, the session logs in before its first MAIL FROM:
 * PLAIN with the initial response (RFC 4616), else LOGIN with its two 334
 * rounds.
 *
 * The mechanisms are our own (no Cyrus SASL), so the security options are
 * decided here with Cyrus's meanings: both mechanisms send the password
 * itself, which every option but noanonymous forbids. Postfix's defaults
 * ("noplaintext, noanonymous", for TLS sessions too) therefore never let
 * a password out; the smarthost recipe sets
 * smtp_sasl_tls_security_options = noanonymous, as SASL_README does.
 *
 * Failures are Postfix's: "no mechanism available" when nothing usable is
 * left, "server X said: 535 ..." when the login is refused; either way
 * the next server is tried and the mail is deferred, never bounced
 * (Postfix's default smtp_sasl_auth_soft_bounce = yes). Passwords are
 * never logged, not even with -v. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/tls.h"
#include "smtp_int.h"

#define PASSWORD_MAPS	"smtp_sasl_password_maps"

struct smtp_sasl {
	char *maps_spec;
	struct table_list *passwords;
	unsigned opts;			/* smtp_sasl_security_options */
	unsigned tls_opts;		/* smtp_sasl_tls_security_options */
	unsigned verified_opts;		/* ..._tls_verified_... */
	char **filter;			/* smtp_sasl_mechanism_filter */
	size_t n_filter;
};

/* Cyrus SASL's option names (Postfix's xsasl_cyrus). */
static const struct {
	const char *name;
	unsigned flag;
} option_names[] = {
	{ "noplaintext", SMTP_SASL_NOPLAINTEXT },
	{ "noactive", SMTP_SASL_NOACTIVE },
	{ "nodictionary", SMTP_SASL_NODICTIONARY },
	{ "noanonymous", SMTP_SASL_NOANONYMOUS },
	{ "mutual_auth", SMTP_SASL_MUTUAL_AUTH },
	{ "forward_secrecy", SMTP_SASL_FORWARD_SECRECY },
};

/* Our mechanisms in order of preference. Both pass the password in the
 * clear (under whatever TLS there is) and resist none of the attacks the
 * options name, but they are not anonymous. */
static const char *const mechanisms[] = { "PLAIN", "LOGIN" };
#define MECH_ALLOWED	SMTP_SASL_NOANONYMOUS

/* ---- settings ------------------------------------------------------------ */

int
smtp_sasl_parse_options(const char *name, const char *value, unsigned *opts,
    char **err)
{
	size_t n;
	char **words = strlist_split(value, LIST_SEPARATORS, &n);

	*opts = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < sizeof(option_names) / sizeof(option_names[0]);
		    j++)
			if (strcasecmp(words[i], option_names[j].name) == 0)
				break;
		if (j == sizeof(option_names) / sizeof(option_names[0])) {
			*err = xasprintf("unknown %s value \"%s\" in \"%s\"",
			    name, words[i], value);
			strlist_free(words);
			return -1;
		}
		*opts |= option_names[j].flag;
	}
	strlist_free(words);
	return 0;
}

/* Mechanism names and "!name"; Postfix's /file/name and type:table forms
 * are refused rather than ignored, as the filter is a restriction. */
static int
parse_filter(struct smtp_sasl *sasl, const char *value, char **err)
{
	sasl->filter = strlist_split(value, LIST_SEPARATORS,
	    &sasl->n_filter);
	for (size_t i = 0; i < sasl->n_filter; i++) {
		const char *p = sasl->filter[i];

		if (*p == '!')
			p++;
		if (*p == '\0' || strchr(p, '/') != NULL ||
		    strchr(p, ':') != NULL) {
			*err = xasprintf("smtp_sasl_mechanism_filter: \"%s\": "
			    "only mechanism names and !names are supported",
			    sasl->filter[i]);
			return -1;
		}
	}
	return 0;
}

struct smtp_sasl *
smtp_sasl_new(const struct conf *conf, char **err)
{
	struct smtp_sasl *sasl;
	const char *maps;

	*err = NULL;
	if (!conf_bool(conf, P_smtp_sasl_auth_enable))
		return NULL;
	maps = conf_str(conf, P_smtp_sasl_password_maps);
	if (*maps == '\0') {
		*err = xstrdup("smtp_sasl_auth_enable = yes needs a password "
		    "table in " PASSWORD_MAPS);
		return NULL;
	}
	sasl = xcalloc(1, sizeof(*sasl));
	sasl->maps_spec = xstrdup(maps);
	if (smtp_sasl_parse_options("smtp_sasl_security_options",
	    conf_str(conf, P_smtp_sasl_security_options), &sasl->opts,
	    err) < 0 ||
	    smtp_sasl_parse_options("smtp_sasl_tls_security_options",
	    conf_str(conf, P_smtp_sasl_tls_security_options), &sasl->tls_opts,
	    err) < 0 ||
	    smtp_sasl_parse_options("smtp_sasl_tls_verified_security_options",
	    conf_str(conf, P_smtp_sasl_tls_verified_security_options),
	    &sasl->verified_opts, err) < 0 ||
	    parse_filter(sasl, conf_str(conf, P_smtp_sasl_mechanism_filter),
	    err) < 0)
		goto fail;
	if ((sasl->passwords = table_list_open(maps, 0, err)) == NULL) {
		char *why = *err;

		*err = xasprintf(PASSWORD_MAPS ": %s", why);
		free(why);
		goto fail;
	}
	return sasl;
fail:
	smtp_sasl_free(sasl);
	return NULL;
}

void
smtp_sasl_free(struct smtp_sasl *sasl)
{
	if (sasl == NULL)
		return;
	if (sasl->passwords != NULL)
		table_list_close(sasl->passwords);
	strlist_free(sasl->filter);
	free(sasl->maps_spec);
	free(sasl);
}

unsigned
smtp_sasl_options(const struct smtp_sasl *sasl, int tls_active,
    int verified)
{
	if (!tls_active)
		return sasl->opts;
	return verified ? sasl->verified_opts : sasl->tls_opts;
}

/* ---- passwords ----------------------------------------------------------- */

char *
smtp_sasl_lookup(struct smtp_sasl *sasl, const char *host,
    const char *nexthop, int *error)
{
	const char *keys[2] = { host, nexthop };
	const char *value = NULL;

	*error = 0;
	table_list_refresh(sasl->passwords, PASSWORD_MAPS);
	/* Postfix's order (smtp_sender_dependent_authentication = no): the
	 * server's name, then the next hop as written, e.g.
	 * "[smtp.example.com]:587" or the recipient domain. */
	for (size_t i = 0; i < 2 && value == NULL && !*error; i++)
		if (keys[i] != NULL && *keys[i] != '\0')
			value = table_list_lookup(sasl->passwords, keys[i],
			    error);
	return value != NULL && !*error ? xstrdup(value) : NULL;
}

/* ---- mechanisms ---------------------------------------------------------- */

/* Postfix's match list: the first pattern that names mech decides; no
 * pattern naming it means no. */
static int
filter_allows(const struct smtp_sasl *sasl, const char *mech)
{
	if (sasl->n_filter == 0)
		return 1;
	for (size_t i = 0; i < sasl->n_filter; i++) {
		const char *p = sasl->filter[i];
		int negate = *p == '!';

		if (strcasecmp(p + negate, mech) == 0)
			return !negate;
	}
	return 0;
}

size_t
smtp_sasl_filtered(const struct smtp_sasl *sasl, char *const *offered,
    size_t n_offered)
{
	size_t n = 0;

	for (size_t i = 0; i < n_offered; i++)
		n += filter_allows(sasl, offered[i]);
	return n;
}

const char *
smtp_sasl_choose(const struct smtp_sasl *sasl, char *const *offered,
    size_t n_offered, unsigned opts)
{
	if ((opts & ~MECH_ALLOWED) != 0)
		return NULL;
	for (size_t m = 0; m < sizeof(mechanisms) / sizeof(mechanisms[0]);
	    m++) {
		if (!filter_allows(sasl, mechanisms[m]))
			continue;
		for (size_t i = 0; i < n_offered; i++)
			if (strcasecmp(offered[i], mechanisms[m]) == 0)
				return mechanisms[m];
	}
	return NULL;
}

void
smtp_sasl_ehlo(struct smtp_sasl_session *s, const struct smtp_reply *ehlo)
{
	strlist_free(s->mechs);
	s->mechs = NULL;
	s->n_mechs = 0;
	/* "AUTH PLAIN LOGIN", and the pre-RFC "AUTH=PLAIN LOGIN" that old
	 * servers send as well or instead. */
	for (size_t i = 1; i < ehlo->n_lines; i++) {
		const char *line = ehlo->lines[i];
		char **words;
		size_t n;

		if (strncasecmp(line, "AUTH", 4) != 0 ||
		    (line[4] != ' ' && line[4] != '=' && line[4] != '\0'))
			continue;
		words = strlist_split(line + 4 + (line[4] != '\0'), " \t",
		    &n);
		s->mechs = xrealloc(s->mechs,
		    (s->n_mechs + n + 1) * sizeof(*s->mechs));
		for (size_t j = 0; j < n; j++)
			s->mechs[s->n_mechs++] = xstrdup(words[j]);
		s->mechs[s->n_mechs] = NULL;
		strlist_free(words);
	}
	s->offered = ehlo->n_lines > 0 &&
	    (s->n_mechs > 0 || smtp_reply_has_ext(ehlo, "AUTH", NULL));
}

void
smtp_sasl_session_clear(struct smtp_sasl_session *s)
{
	strlist_free(s->mechs);
	if (s->cred != NULL) {
		OPENSSL_cleanse(s->cred, strlen(s->cred));
		free(s->cred);
	}
	memset(s, 0, sizeof(*s));
}

/* ---- the exchange -------------------------------------------------------- */

char *
smtp_sasl_base64(const void *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* "user:password": split at the first ':' (passwords may hold more);
 * no ':' means an empty password, as in Postfix. */
static void
split_cred(const char *cred, const char **user, size_t *user_len,
    const char **pass)
{
	const char *colon = strchr(cred, ':');

	*user = cred;
	*user_len = colon ? (size_t)(colon - cred) : strlen(cred);
	*pass = colon ? colon + 1 : "";
}

char *
smtp_sasl_plain_response(const char *cred)
{
	const char *user, *pass;
	size_t ulen, plen, len;
	char *buf, *out;

	split_cred(cred, &user, &ulen, &pass);
	plen = strlen(pass);
	/* authzid (empty) NUL authcid NUL password */
	len = 1 + ulen + 1 + plen;
	buf = xmalloc(len);
	buf[0] = '\0';
	memcpy(buf + 1, user, ulen);
	buf[1 + ulen] = '\0';
	memcpy(buf + 2 + ulen, pass, plen);
	out = smtp_sasl_base64(buf, len);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return out;
}

static char *
login_response(const char *cred, int round)
{
	const char *user, *pass;
	size_t ulen;

	split_cred(cred, &user, &ulen, &pass);
	return round == 0 ? smtp_sasl_base64(user, ulen) :
	    smtp_sasl_base64(pass, strlen(pass));
}

enum smtp_sasl_status
smtp_sasl_exchange(struct smtp_sasl_session *s, const struct smtp_reply *reply,
    char **line)
{
	char *arg;

	*line = NULL;
	if (reply == NULL) {
		s->round = 0;
		if (strcmp(s->mech, "PLAIN") == 0) {
			arg = smtp_sasl_plain_response(s->cred);
			*line = xasprintf("AUTH PLAIN %s", arg);
			OPENSSL_cleanse(arg, strlen(arg));
			free(arg);
		} else
			*line = xstrdup("AUTH LOGIN");
		return SMTP_SASL_SEND;
	}
	if (reply->code / 100 == 2)
		return SMTP_SASL_DONE;
	if (reply->code != 334)
		return SMTP_SASL_REFUSED;
	/* PLAIN said everything at once; LOGIN answers "Username:" and
	 * "Password:" and nothing else. */
	if (strcmp(s->mech, "LOGIN") != 0 || s->round >= 2)
		return SMTP_SASL_FAILED;
	*line = login_response(s->cred, s->round++);
	return SMTP_SASL_SEND;
}

char *
smtp_sasl_reason(enum smtp_sasl_status status, const struct smtp_reply *reply,
    const char *label, char dsn[16])
{
	char *line, *reason;

	if (status != SMTP_SASL_REFUSED) {
		snprintf(dsn, 16, "4.7.0");
		return xasprintf("SASL authentication failed; cannot "
		    "authenticate to server %s: unexpected server challenge",
		    label);
	}
	line = smtp_reply_line(reply);
	smtp_reply_dsn(reply, dsn);
	/* Deferred, as with smtp_sasl_auth_soft_bounce = yes; a 3XX other
	 * than 334 has no status class of its own ("330" is no 3.0.0). */
	dsn[0] = '4';
	reason = xasprintf("SASL authentication failed; server %s said: %s",
	    label, line);
	free(line);
	return reason;
}

/* ---- the session --------------------------------------------------------- */

/* A line that may carry a secret: "-v" logs the command word and the
 * mechanism only. */
static void
send_secret(struct smtp_conn *conn, char *line)
{
	size_t shown = 0;

	if (strncmp(line, "AUTH ", 5) == 0)
		shown = 5 + strcspn(line + 5, " ");
	if (conn->io != NULL) {
		msg_debug("> %s: %.*s%s%s", conn->label, (int)shown, line,
		    shown > 0 && line[shown] != '\0' ? " " : "",
		    line[shown] != '\0' ? "[credentials not shown]" : "");
		conn_printf(conn->io, "%s\r\n", line);
	}
	OPENSSL_cleanse(line, strlen(line));
	free(line);
}

/* Whether the session's server certificate was matched as the level
 * demands (Postfix's "verified" for smtp_sasl_tls_verified_...). */
static int
verified(const struct smtp_conn *conn)
{
	return conn->tls_active && conn->tls_level >= TLS_LEV_FPRINT;
}

/* As Postfix, for a server whose AUTH list the filter leaves empty. */
static void
warn_no_mechanisms(const struct smtp_conn *conn)
{
	struct strbuf words;

	if (conn->sasl.n_mechs == 0) {
		msg_warn("%s offered null AUTH mechanism list", conn->relay);
		return;
	}
	strbuf_init(&words);
	for (size_t i = 0; i < conn->sasl.n_mechs; i++) {
		if (i > 0)
			strbuf_puts(&words, " ");
		strbuf_puts(&words, conn->sasl.mechs[i]);
	}
	msg_warn("%s offered no supported AUTH mechanisms: '%s'", conn->relay,
	    words.data);
	strbuf_free(&words);
}

static enum smtp_sasl_status
begin(struct smtp_conn *conn, char dsn[16], char **reason)
{
	struct smtp_sasl *sasl = conn->pool->sasl;
	struct smtp_sasl_session *s = &conn->sasl;
	const struct smtp_job *job = conn->run->job;
	unsigned opts;
	int error;

	/* Nothing to do unless enabled and offered after the last EHLO. */
	if (sasl == NULL || !conn->esmtp || !s->offered)
		return SMTP_SASL_DONE;
	if (smtp_sasl_filtered(sasl, s->mechs, s->n_mechs) == 0)
		warn_no_mechanisms(conn);
	s->looked_up = 1;
	s->cred = smtp_sasl_lookup(sasl, conn->hostname, job->nexthop,
	    &error);
	if (error) {
		msg_warn("%s: %s lookup error", job->queue_id,
		    sasl->maps_spec);
		snprintf(dsn, 16, "4.3.0");
		*reason = xasprintf("local data error while talking to %s",
		    conn->label);
		return SMTP_SASL_FAILED;
	}
	/* No password for this server: deliver without a login. */
	if (s->cred == NULL)
		return SMTP_SASL_DONE;
	if (smtp_sasl_filtered(sasl, s->mechs, s->n_mechs) == 0) {
		snprintf(dsn, 16, "4.7.0");
		*reason = xasprintf("SASL authentication failed: server %s "
		    "offered no compatible authentication mechanisms for "
		    "this type of connection security", conn->label);
		return SMTP_SASL_FAILED;
	}
	opts = smtp_sasl_options(sasl, conn->tls_active, verified(conn));
	s->mech = smtp_sasl_choose(sasl, s->mechs, s->n_mechs, opts);
	if (s->mech == NULL) {
		snprintf(dsn, 16, "4.7.0");
		*reason = xasprintf("SASL authentication failed; cannot "
		    "authenticate to server %s: no mechanism available",
		    conn->label);
		return SMTP_SASL_FAILED;
	}
	return SMTP_SASL_SEND;
}

enum smtp_sasl_status
smtp_sasl_step(struct smtp_conn *conn, const struct smtp_reply *reply,
    char dsn[16], char **reason)
{
	struct smtp_sasl_session *s = &conn->sasl;
	enum smtp_sasl_status status;
	char *line = NULL;

	*reason = NULL;
	if (reply == NULL && (status = begin(conn, dsn, reason)) !=
	    SMTP_SASL_SEND)
		return status;
	status = smtp_sasl_exchange(s, reply, &line);
	switch (status) {
	case SMTP_SASL_SEND:
		send_secret(conn, line);
		conn->state = CS_AUTH;
		smtp_conn_timeout(conn, conn->pool->set.helo_timeout);
		break;
	case SMTP_SASL_DONE:
		break;
	case SMTP_SASL_REFUSED:
	case SMTP_SASL_FAILED:
		*reason = smtp_sasl_reason(status, reply, conn->label, dsn);
		break;
	}
	return status;
}

int
smtp_sasl_fits(const struct smtp_conn *conn, const struct smtp_run *run)
{
	const struct smtp_sasl_session *s = &conn->sasl;
	char *cred;
	int error, fits;

	/* A session that never looked for a password stays as it is. */
	if (conn->pool->sasl == NULL || !s->looked_up)
		return 1;
	cred = smtp_sasl_lookup(conn->pool->sasl, conn->hostname,
	    run->job->nexthop, &error);
	if (error)
		fits = 0;
	else if (cred == NULL || s->cred == NULL)
		fits = cred == NULL && s->cred == NULL;
	else
		fits = strcmp(cred, s->cred) == 0;
	if (cred != NULL) {
		OPENSSL_cleanse(cred, strlen(cred));
		free(cred);
	}
	return fits;
}
