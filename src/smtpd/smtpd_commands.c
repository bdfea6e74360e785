/* smtpd_commands: what each SMTP command does, with Postfix's replies. One
 * table pairs every verb with its handler and its counter in the
 * disconnect line. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <sys/time.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/conn.h"
#include "tlsrelay/log.h"
#include "smtpd_restrict.h"
#include "smtpd_session.h"

static void
reply_must_starttls(struct smtpd_session *s)
{
	session_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
}

static int
tls_required(const struct smtpd_session *s)
{
	return s->policy->tls_level >= TLS_LEV_ENCRYPT && !s->tls_active;
}

void
session_reset_transaction(struct smtpd_session *s)
{
	if (s->spool) {
		spool_abort(s->spool);
		s->spool = NULL;
	}
	free(s->sender);
	s->sender = NULL;
	for (size_t i = 0; i < s->n_recipients; i++)
		free(s->recipients[i]);
	free(s->recipients);
	s->recipients = NULL;
	s->n_recipients = s->recipients_cap = 0;
	s->rcpt_attempts = 0;
	s->rcpt_overshoot = 0;
	memset(&s->mail_params, 0, sizeof(s->mail_params));
	free(s->header);
	s->header = NULL;
	strbuf_reset(&s->content);
	s->data_too_big = 0;
	s->data_write_errno = 0;
	s->data_size = 0;
	s->txn_actions = 0;
}

static enum restrict_result check_point(struct smtpd_session *s,
    enum restrict_point point, const char *where, const char *rcpt);

void
session_greet(struct smtpd_session *s)
{
	/* With smtpd_delay_reject = no the client restrictions answer
	 * first; a client they refuse hears 503 to everything but QUIT
	 * (RFC 5321 3.1), as from Postfix. */
	s->resume = RESUME_GREETING;
	switch (check_point(s, RESTRICT_AT_CONNECT, "CONNECT", NULL)) {
	case RESTRICT_PENDING:
		return;
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		s->access_denied = 1;
		return;
	default:
		session_reply(s, "220 %s", s->policy->banner);
		/* The first command's time starts now. */
		session_deadline_wait(s);
	}
}

void
session_count(struct smtpd_session *s, enum session_counter c, int ok)
{
	s->total[c]++;
	if (ok)
		s->ok[c]++;
}

static const char *const counter_names[CNT_MAX] = {
	[CNT_HELO] = "helo", [CNT_EHLO] = "ehlo",
	[CNT_STARTTLS] = "starttls", [CNT_AUTH] = "auth",
	[CNT_MAIL] = "mail", [CNT_RCPT] = "rcpt", [CNT_DATA] = "data",
	[CNT_BDAT] = "bdat", [CNT_RSET] = "rset", [CNT_NOOP] = "noop",
	[CNT_VRFY] = "vrfy", [CNT_ETRN] = "etrn", [CNT_HELP] = "help",
	[CNT_QUIT] = "quit",
	[CNT_UNKNOWN] = "unknown",
};

void
session_log_disconnect(struct smtpd_session *s)
{
	struct strbuf sb;
	int ok = 0, total = 0;

	strbuf_init(&sb);
	for (int c = 0; c < CNT_MAX; c++) {
		if (s->total[c] == 0)
			continue;
		ok += s->ok[c];
		total += s->total[c];
		if (s->ok[c] == s->total[c])
			strbuf_printf(&sb, " %s=%d", counter_names[c], s->ok[c]);
		else
			strbuf_printf(&sb, " %s=%d/%d", counter_names[c],
			    s->ok[c], s->total[c]);
	}
	if (ok == total)
		strbuf_printf(&sb, " commands=%d", ok);
	else
		strbuf_printf(&sb, " commands=%d/%d", ok, total);
	msg_info("disconnect from %s[%s]%s", s->name, s->addr, sb.data);
	strbuf_free(&sb);
}

static const char *
protocol_name(const struct smtpd_session *s)
{
	if (!s->esmtp)
		return "SMTP";
	return s->tls_active ? "ESMTPS" : "ESMTP";
}

/* What the restrictions and their log lines see of the session. */
static void
session_query(struct smtpd_session *s, struct restrict_query *q,
    const char *where, const char *rcpt)
{
	memset(q, 0, sizeof(*q));
	q->client_addr = s->addr;
	q->client_name = s->name;
	q->helo = s->helo;
	q->sender = s->sender;
	q->recipient = rcpt;
	q->sasl_authenticated = s->sasl_username != NULL;
	q->sasl_username = s->sasl_username;
	q->tls_client_trusted = s->tls_active && s->tls->peer_trusted;
	if (s->tls_active && s->tls->peer_cert) {
		q->ccert_fingerprint = s->tls->peer_cert_fprint;
		q->ccert_pkey_fingerprint = s->tls->peer_pkey_fprint;
	}
	q->queue_id = s->spool ? spool_id(s->spool) : NULL;
	q->where = where;
	/* Postfix's connect-time lines have no helo and say SMTP. */
	q->protocol = protocol_name(s);
	q->improper_pipelining = s->improper_pipelining;
	q->dnscheck = s->dnscheck;
}

/* Postfix's "NOQUEUE: reject: ..." line. */
static void
log_reject(struct smtpd_session *s, const char *stage, const char *reply,
    const char *rcpt)
{
	struct restrict_query q;

	session_query(s, &q, stage, rcpt);
	restrict_log(&q, "reject", reply);
}

/* Runs the restrictions that belong to point; a reject or defer is
 * logged and answered here. PENDING: the session waits for DNS and
 * does s->resume again (the caller sets it). A DISCARD earlier in the
 * transaction accepts everything after it, as in Postfix. */
static enum restrict_result
check_point(struct smtpd_session *s, enum restrict_point point,
    const char *where, const char *rcpt)
{
	struct restrict_query q;
	struct restrict_verdict v;

	if ((s->txn_actions & RESTRICT_ACTION_DISCARD) &&
	    point >= RESTRICT_AT_RCPT)
		return RESTRICT_PERMIT;
	session_query(s, &q, where, rcpt);
	switch (smtpd_restrict_check(s->policy, point, &q, &v)) {
	case RESTRICT_PENDING:
		session_wait_dns(s);
		return RESTRICT_PENDING;
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		log_reject(s, where, v.reply, rcpt);
		session_reply(s, "%s", v.reply);
		return v.result;
	default:
		s->txn_actions |= v.actions;
		return v.result;
	}
}

static int
cmd_helo(struct smtpd_session *s, const char *arg, int esmtp)
{
	const struct smtpd_policy *p = s->policy;

	if (*arg == '\0') {
		session_reply(s, "501 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return 0;
	}
	session_reset_transaction(s);
	free(s->helo);
	s->helo = xstrndup(arg, strcspn(arg, " \t"));
	switch (check_point(s, RESTRICT_AT_HELO, esmtp ? "EHLO" : "HELO",
	    NULL)) {
	case RESTRICT_PENDING:
		return -1;
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		free(s->helo);	/* Postfix forgets a refused name */
		s->helo = NULL;
		return 0;
	default:
		break;
	}
	s->esmtp = esmtp;
	if (!esmtp) {
		session_reply(s, "250 %s", p->myhostname);
		return 1;
	}
	session_reply(s, "250-%s", p->myhostname);
	session_reply(s, "250-PIPELINING");
	if (p->message_size_limit > 0)
		session_reply(s, "250-SIZE %lld", p->message_size_limit);
	else
		session_reply(s, "250-SIZE");
	if (!p->vrfy_disabled)
		session_reply(s, "250-VRFY");
	if (s->listener->ssl_ctx != NULL && !s->tls_active &&
	    p->tls_level > TLS_LEV_NONE)
		session_reply(s, "250-STARTTLS");
	smtpd_auth_ehlo(s);
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	session_reply(s, "250 8BITMIME");
	return 1;
}

static int
cmd_ehlo(struct smtpd_session *s, const char *arg)
{
	return cmd_helo(s, arg, 1);
}

static int
cmd_helo_plain(struct smtpd_session *s, const char *arg)
{
	return cmd_helo(s, arg, 0);
}

static int
cmd_starttls(struct smtpd_session *s, const char *arg)
{
	if (s->tls_active) {
		session_reply(s, "554 5.5.1 Error: TLS already active");
		return 0;
	}
	if (s->listener->ssl_ctx == NULL ||
	    s->policy->tls_level == TLS_LEV_NONE) {
		session_reply(s, "502 5.5.1 Error: command not implemented");
		return 0;
	}
	if (*arg != '\0') {
		session_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return 0;
	}
	if (s->sender) {
		session_reply(s, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
		return 0;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	session_start_tls(s);
	return 1;
}

/* Enough room on the queue file system for this message? */
static int
storage_ok(const struct smtpd_session *s, unsigned long long size)
{
	struct statvfs vfs;
	unsigned long long avail;

	if (statvfs(s->policy->queue_directory, &vfs) != 0)
		return 1;	/* the write itself will tell */
	avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	if (avail < (unsigned long long)s->policy->queue_minfree)
		return 0;
	return size == 0 || avail / 3 * 2 >= size;	/* 1.5 x size */
}

static int
cmd_mail(struct smtpd_session *s, const char *arg)
{
	const struct smtpd_policy *p = s->policy;
	char replybuf[SMTPD_REPLY_MAX];
	struct smtp_mail_params params;
	const char *reply;
	char *addr = NULL;

	/* RFC 3207 4.2: after TLS the client starts over with EHLO. */
	if ((p->helo_required || s->tls_active) && s->helo == NULL) {
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return 0;
	}
	if (s->sender) {
		session_reply(s, "503 5.5.1 Error: nested MAIL command");
		return 0;
	}
	memset(&params, 0, sizeof(params));
	reply = smtpd_parse_mail(arg, &addr, &params, replybuf,
	    sizeof(replybuf));
	if (reply != NULL) {
		session_reply(s, "%s", reply);
		return 0;
	}
	if (params.has_size && p->message_size_limit > 0 &&
	    params.size > (unsigned long long)p->message_size_limit) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		free(addr);
		return 0;
	}
	if (!storage_ok(s, params.has_size ? params.size : 0)) {
		msg_warn("not enough free space in %s for %s[%s]",
		    p->queue_directory, s->name, s->addr);
		session_reply(s, "452 4.3.1 Insufficient system storage");
		free(addr);
		return 0;
	}
	/* RFC 4954 5: the submitter a client names with AUTH= is kept only
	 * from a client we trust to say so, one that has logged in. */
	if (params.has_auth && s->sasl_username == NULL)
		params.auth[0] = '\0';
	s->sender = addr;
	s->mail_params = params;
	switch (check_point(s, RESTRICT_AT_MAIL, "MAIL", NULL)) {
	case RESTRICT_PENDING:
		session_reset_transaction(s);
		return -1;
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		session_reset_transaction(s);
		return 0;
	default:
		break;
	}
	session_reply(s, "250 2.1.0 Ok");
	return 1;
}

static int
cmd_rcpt(struct smtpd_session *s, const char *arg)
{
	const struct smtpd_policy *p = s->policy;
	char replybuf[SMTPD_REPLY_MAX];
	const char *reply;
	char *addr = NULL;

	if (s->sender == NULL) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	reply = smtpd_parse_rcpt(arg, &addr, replybuf, sizeof(replybuf));
	if (reply != NULL) {
		session_reply(s, "%s", reply);
		return 0;
	}
	s->rcpt_attempts++;
	if (s->n_recipients >= (size_t)p->recipient_limit) {
		session_reply(s, "452 4.5.3 Error: too many recipients");
		/* Postfix's smtpd_recipient_overshoot_limit: a client that
		 * pipelines a long list is told 452 for the rest and sends
		 * them again later; only past that many do they count as
		 * errors (and end the session at smtpd_hard_error_limit). */
		if (++s->rcpt_overshoot <= (size_t)p->recipient_overshoot_limit)
			s->errors--;
		free(addr);
		return 0;
	}
	switch (check_point(s, RESTRICT_AT_RCPT, "RCPT", addr)) {
	case RESTRICT_PENDING:
		s->rcpt_attempts--;	/* counted when it is answered */
		free(addr);
		return -1;
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		free(addr);
		return 0;
	default:
		break;
	}
	if (s->n_recipients == s->recipients_cap) {
		s->recipients_cap = s->recipients_cap ? s->recipients_cap * 2 : 4;
		s->recipients = xrealloc(s->recipients,
		    s->recipients_cap * sizeof(*s->recipients));
	}
	s->recipients[s->n_recipients++] = addr;
	session_reply(s, "250 2.1.5 Ok");
	return 1;
}

static int
open_queue_file(struct smtpd_session *s)
{
	struct spool_envelope env;
	char tlsdesc[160] = "";
	struct timeval now;
	char *err = NULL, *received;

	gettimeofday(&now, NULL);
	if (s->tls_active)
		tls_info_format(s->tls, tlsdesc, sizeof(tlsdesc));
	memset(&env, 0, sizeof(env));
	env.sender = s->sender;
	env.recipients = (const char *const *)s->recipients;
	env.n_recipients = s->n_recipients;
	env.client_name = s->name;
	env.client_addr = s->addr;
	env.helo_name = s->helo ? s->helo : "";
	env.protocol = protocol_name(s);
	env.tls_info = tlsdesc;
	env.body_8bitmime = s->mail_params.body_8bitmime;
	env.arrival_sec = now.tv_sec;
	env.arrival_usec = now.tv_usec;
	s->spool = spool_open(s->policy->queue_directory, &env, &err);
	if (s->spool == NULL) {
		msg_warn("%s[%s]: cannot create queue file: %s", s->name,
		    s->addr, err);
		free(err);
		return -1;
	}
	received = smtpd_received_header(s, spool_id(s->spool));
	if (spool_write(s->spool, received, strlen(received)) < 0)
		s->data_write_errno = errno;
	s->data_size = strlen(received);
	free(received);
	return 0;
}

static int
cmd_data(struct smtpd_session *s, const char *arg)
{
	if (*arg != '\0') {
		session_reply(s, "501 5.5.4 Syntax: DATA");
		return 0;
	}
	if (s->sender == NULL) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	if (s->n_recipients == 0) {
		if (s->rcpt_attempts > 0)
			session_reply(s, "554 5.5.1 Error: no valid recipients");
		else
			session_reply(s, "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	switch (check_point(s, RESTRICT_AT_DATA, "DATA",
	    s->n_recipients == 1 ? s->recipients[0] : NULL)) {
	case RESTRICT_PENDING:
		return -1;
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		return 0;
	default:
		break;
	}
	if (open_queue_file(s) < 0) {
		session_reply(s, "451 4.3.0 Error: queue file write error");
		return 0;
	}
	if (s->sasl_username != NULL)
		msg_info("%s: client=%s[%s], sasl_method=%s, "
		    "sasl_username=%s%s%s", spool_id(s->spool), s->name,
		    s->addr, s->auth_mech, s->sasl_username,
		    s->mail_params.auth[0] ? ", sasl_sender=" : "",
		    s->mail_params.auth);
	else
		msg_info("%s: client=%s[%s]", spool_id(s->spool), s->name,
		    s->addr);
	if (s->header == NULL)
		s->header = xmalloc(sizeof(*s->header));
	smtpd_header_init(s->header);
	smtpd_data_init(&s->reader, s->bare_lf_reject ? BARE_LF_REJECT :
	    BARE_LF_NORMALIZE);
	s->state = SS_DATA;
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	return -1;	/* counted when the message is answered */
}

/* The answer to the final dot: counts DATA, ends the transaction. */
static void
data_answer(struct smtpd_session *s, const char *reply, int ok)
{
	session_count(s, CNT_DATA, ok);
	session_reset_transaction(s);
	session_reply(s, "%s", reply);
}

/* The final dot has arrived: the commit thread makes the message durable
 * and the answer waits for it (session_data_committed), unless the
 * message cannot be queued at all. */
static void
data_finish(struct smtpd_session *s)
{
	const char *id = spool_id(s->spool);
	char reply[SMTPD_REPLY_MAX];

	s->state = SS_COMMAND;
	if (s->data_too_big) {
		snprintf(reply, sizeof(reply), "552 5.3.4 Message size exceeds "
		    "fixed limit");
		log_reject(s, "END-OF-MESSAGE", reply, NULL);
	} else if (s->data_write_errno != 0) {
		msg_warn("%s: queue file write error: %s", id,
		    strerror(s->data_write_errno));
		if (s->data_write_errno == ENOSPC ||
		    s->data_write_errno == EDQUOT)
			snprintf(reply, sizeof(reply), "452 4.3.1 Insufficient "
			    "system storage");
		else
			snprintf(reply, sizeof(reply), "451 4.3.0 Error: queue "
			    "file write error");
	} else {
		session_data_end(s);
		return;
	}
	data_answer(s, reply, 0);
}

/* smtpd_end_of_data_restrictions, then the commit: a reject there
 * leaves nothing in the queue; DISCARD is answered 250 and dropped;
 * HOLD commits into hold/. */
void
session_data_end(struct smtpd_session *s)
{
	const char *id = spool_id(s->spool);
	char reply[SMTPD_REPLY_MAX];
	struct spool_writer *w;

	s->resume = RESUME_END_OF_DATA;
	switch (check_point(s, RESTRICT_AT_END_OF_DATA, "END-OF-MESSAGE",
	    NULL)) {
	case RESTRICT_PENDING:
		return;
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:	/* answered */
		session_count(s, CNT_DATA, 0);
		session_reset_transaction(s);
		return;
	default:
		break;
	}
	if (s->txn_actions & RESTRICT_ACTION_DISCARD) {
		snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s",
		    id);
		data_answer(s, reply, 1);
		return;
	}
	if (s->txn_actions & RESTRICT_ACTION_HOLD)
		spool_hold(s->spool);
	snprintf(s->queue_id, sizeof(s->queue_id), "%s", id);
	w = s->spool;
	s->spool = NULL;
	session_commit(s, w);
}

static void data_committed(struct smtpd_session *s, const char *err);

void
session_data_committed(struct smtpd_session *s, const char *err)
{
	struct log_name saved;

	/* From the commit thread's result, not a callback of the session's
	 * connection: the session's log name by hand. */
	conn_log_enter(s->conn, &saved);
	data_committed(s, err);
	conn_log_leave(&saved);
}

static void
data_committed(struct smtpd_session *s, const char *err)
{
	const char *id = s->queue_id, *message_id;
	char reply[SMTPD_REPLY_MAX];

	if (err != NULL) {
		msg_warn("%s: %s", id, err);
		data_answer(s, strstr(err, strerror(ENOSPC)) ?
		    "452 4.3.1 Insufficient system storage" :
		    "451 4.3.0 Error: queue file write error", 0);
		return;
	}
	/* Postfix's cleanup line; the queue manager logs from=, size= and
	 * nrcpt= when it takes the message, as Postfix's qmgr does. */
	message_id = smtpd_header_message_id(s->header);
	msg_info("%s: message-id=%s", id, *message_id ? message_id : "<>");
	/* Best effort: the qmgr also scans incoming/. A held message waits
	 * in hold/ for `tlsrelay queue release`. */
	if (!(s->txn_actions & RESTRICT_ACTION_HOLD))
		(void)queue_notify(s->policy->queue_directory,
		    QUEUE_NOTIFY_NEW, id);
	snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s", id);
	data_answer(s, reply, 1);
}

size_t
session_data(struct smtpd_session *s, const char *in, size_t len)
{
	const struct smtpd_policy *p = s->policy;
	size_t consumed = 0;
	enum data_result r;

	r = smtpd_data_feed(&s->reader, in, len, &s->content, &consumed);
	if (s->content.len > 0) {
		s->data_size += s->content.len;
		smtpd_header_feed(s->header, s->content.data, s->content.len);
		if (p->message_size_limit > 0 &&
		    s->data_size > (unsigned long long)p->message_size_limit)
			s->data_too_big = 1;
		/* Past the limit or after a write error we keep reading to
		 * the end of the data, but store nothing more. */
		if (!s->data_too_big && s->data_write_errno == 0 &&
		    spool_write(s->spool, s->content.data, s->content.len) < 0)
			s->data_write_errno = errno ? errno : EIO;
		strbuf_reset(&s->content);
	}
	switch (r) {
	case DATA_MORE:
		break;
	case DATA_DONE:
		data_finish(s);
		break;
	case DATA_BARE_LF:
		msg_info("disconnect: bare <LF> received from %s[%s] after "
		    "DATA", s->name, s->addr);
		session_count(s, CNT_DATA, 0);
		session_reset_transaction(s);
		session_reply(s, "521 5.5.2 %s Error: bare <LF> received",
		    p->myhostname);
		session_close_after_reply(s);
		break;
	}
	return consumed;
}

static int
cmd_rset(struct smtpd_session *s, const char *arg)
{
	if (*arg != '\0') {
		session_reply(s, "501 5.5.4 Syntax: RSET");
		return 0;
	}
	session_reset_transaction(s);
	session_reply(s, "250 2.0.0 Ok");
	return 1;
}

static int
cmd_noop(struct smtpd_session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "250 2.0.0 Ok");
	return 1;
}

static int
cmd_quit(struct smtpd_session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "221 2.0.0 Bye");
	session_close_after_reply(s);
	return 1;
}

static int
cmd_vrfy(struct smtpd_session *s, const char *arg)
{
	char replybuf[SMTPD_REPLY_MAX];
	char *addr = NULL;
	char *to;
	const char *reply;

	if (s->policy->vrfy_disabled) {
		session_reply(s, "502 5.5.1 VRFY command is disabled");
		return 0;
	}
	if (*arg == '\0') {
		session_reply(s, "501 5.5.4 Syntax: VRFY address");
		return 0;
	}
	/* A relay cannot know; RFC 5321 3.5.3 says 252 then. */
	to = xasprintf("TO:%s", arg);
	reply = smtpd_parse_rcpt(to, &addr, replybuf, sizeof(replybuf));
	free(to);
	if (reply != NULL) {
		session_reply(s, "501 5.1.3 Bad recipient address syntax");
		return 0;
	}
	session_reply(s, "252 2.0.0 %s", addr);
	free(addr);
	return 1;
}

static int
cmd_help(struct smtpd_session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET "
	    "NOOP QUIT VRFY HELP STARTTLS");
	return 1;
}

static int
cmd_not_implemented(struct smtpd_session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "502 5.5.1 Error: command not implemented");
	return 0;
}

static int
cmd_unknown(struct smtpd_session *s, const char *arg)
{
	(void)arg;
	session_reply(s, "500 5.5.2 Error: command not recognized");
	return 0;
}

/* pre_tls: allowed before STARTTLS when TLS is mandatory (Postfix's
 * SMTPD_CMD_FLAG_PRE_TLS); everything else gets 530 first. A handler
 * returns 1 (ok) or 0 (refused) for the disconnect line's counters, or
 * -1 when the command is counted later (DATA, an AUTH exchange). */
static const struct {
	enum smtp_verb verb;
	const char *name;		/* for "timeout after X" */
	enum session_counter counter;
	int pre_tls;
	int (*handler)(struct smtpd_session *, const char *);
} commands[] = {
	{ SMTP_VERB_HELO, "HELO", CNT_HELO, 1, cmd_helo_plain },
	{ SMTP_VERB_EHLO, "EHLO", CNT_EHLO, 1, cmd_ehlo },
	{ SMTP_VERB_STARTTLS, "STARTTLS", CNT_STARTTLS, 1, cmd_starttls },
	{ SMTP_VERB_AUTH, "AUTH", CNT_AUTH, 0, smtpd_auth_command },
	{ SMTP_VERB_MAIL, "MAIL", CNT_MAIL, 0, cmd_mail },
	{ SMTP_VERB_RCPT, "RCPT", CNT_RCPT, 0, cmd_rcpt },
	{ SMTP_VERB_DATA, "DATA", CNT_DATA, 0, cmd_data },
	{ SMTP_VERB_BDAT, "BDAT", CNT_BDAT, 0, cmd_not_implemented },
	{ SMTP_VERB_RSET, "RSET", CNT_RSET, 0, cmd_rset },
	{ SMTP_VERB_NOOP, "NOOP", CNT_NOOP, 1, cmd_noop },
	{ SMTP_VERB_VRFY, "VRFY", CNT_VRFY, 0, cmd_vrfy },
	{ SMTP_VERB_EXPN, "EXPN", CNT_UNKNOWN, 0, cmd_not_implemented },
	{ SMTP_VERB_ETRN, "ETRN", CNT_ETRN, 0, cmd_not_implemented },
	{ SMTP_VERB_HELP, "HELP", CNT_HELP, 1, cmd_help },
	{ SMTP_VERB_QUIT, "QUIT", CNT_QUIT, 1, cmd_quit },
};

void
session_command(struct smtpd_session *s, char *line)
{
	struct smtp_command cmd;

	/* The lines of an AUTH exchange are responses, not commands. */
	if (s->auth_step != 0) {
		smtpd_auth_response(s, line);
		return;
	}
	s->current_line = line;
	s->resume = RESUME_COMMAND;
	smtpd_parse_command(line, &cmd);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int ret;

		if (commands[i].verb != cmd.verb)
			continue;
		s->last_command = commands[i].name;
		if (s->access_denied && cmd.verb != SMTP_VERB_QUIT) {
			session_reply(s, "503 5.7.0 Error: access denied for "
			    "%s[%s]", s->name, s->addr);
			session_count(s, commands[i].counter, 0);
			return;
		}
		if (!commands[i].pre_tls && tls_required(s)) {
			reply_must_starttls(s);
			session_count(s, commands[i].counter, 0);
			return;
		}
		if ((ret = commands[i].handler(s, cmd.arg)) >= 0)
			session_count(s, commands[i].counter, ret);
		return;
	}
	s->last_command = "UNKNOWN";
	session_count(s, CNT_UNKNOWN, 0);
	if (*line == '\0')
		session_reply(s, "500 5.5.2 Error: bad syntax");
	else
		cmd_unknown(s, cmd.arg);
}
