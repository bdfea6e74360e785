/* smtp_xfer: one mail transaction on a set-up session. The commands are
 * MAIL, one RCPT per recipient, DATA, in that order; with PIPELINING they
 * leave in one write and the replies are matched in the same order. The
 * outcome of each recipient follows the reply that decided it: RCPT, or
 * DATA and the final "." for those RCPT accepted. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "tlsrelay/log.h"
#include "smtp_int.h"

/* Content is written while the output holds less than BODY_HIGH bytes;
 * the write callback comes back when it drains below BODY_LOW. */
#define BODY_LOW	(64 * 1024)
#define BODY_HIGH	(256 * 1024)

/* Command k of the transaction: 0 MAIL, 1..n RCPT, n+1 DATA. */
static size_t
n_commands(const struct smtp_conn *conn)
{
	return conn->run->job->n_rcpts + 2;
}

static void
send_command(struct smtp_conn *conn, size_t k)
{
	const struct smtp_job *job = conn->run->job;
	char size[32] = "";

	if (k == 0) {
		if (conn->has_size)
			snprintf(size, sizeof(size), " SIZE=%lld",
			    (long long)job->content_length);
		smtp_conn_send(conn, "MAIL FROM:<%s>%s%s\r\n", job->sender,
		    job->body_8bitmime && conn->eightbitmime ?
		    " BODY=8BITMIME" : "", size);
	} else if (k <= job->n_rcpts)
		smtp_conn_send(conn, "RCPT TO:<%s>\r\n",
		    job->rcpts[k - 1].address);
	else
		smtp_conn_send(conn, "DATA\r\n");
	conn->n_sent = k + 1;
}

static long long
reply_timeout(const struct smtp_conn *conn, size_t k)
{
	const struct smtp_settings *set = &conn->pool->set;

	if (k == 0)
		return set->mail_timeout;
	if (k <= conn->run->job->n_rcpts)
		return set->rcpt_timeout;
	return set->data_init_timeout;
}

const char *
smtp_xfer_doing(const struct smtp_conn *conn)
{
	size_t k = conn->n_replied;

	if (conn->state == CS_BODY)
		return "sending message body";
	if (conn->state == CS_DOT)
		return "sending end of data -- message may be sent more "
		    "than once";
	if (k == 0)
		return "sending MAIL FROM";
	if (conn->run == NULL || k <= conn->run->job->n_rcpts)
		return "sending RCPT TO";
	return "sending DATA command";
}

static void
xfer_done(struct smtp_conn *conn)
{
	smtp_run_finish(conn->pool, conn->run);
	conn->run = NULL;
	smtp_conn_after_run(conn);
}

void
smtp_xfer_start(struct smtp_conn *conn)
{
	struct smtp_run *run = conn->run;
	const struct smtp_job *job = run->job;

	conn->n_sent = conn->n_replied = conn->n_accepted = 0;
	conn->mail_ok = 0;
	conn->state = CS_XFER;
	/* SIZE (RFC 1870): do not send what the server says it refuses. */
	if (conn->has_size && conn->size_limit > 0 &&
	    (unsigned long long)job->content_length > conn->size_limit) {
		char *reason = xasprintf("message size %lld exceeds size "
		    "limit %llu of server %s", (long long)job->content_length,
		    conn->size_limit, conn->label);

		smtp_run_set_rest(run, SMTP_BOUNCE, "5.3.4", conn->relay,
		    reason);
		free(reason);
		xfer_done(conn);
		return;
	}
	send_command(conn, 0);
	if (conn->pipelining)
		for (size_t k = 1; k < n_commands(conn); k++)
			send_command(conn, k);
	smtp_conn_timeout(conn, conn->pool->set.mail_timeout);
}

static void
body_start(struct smtp_conn *conn)
{
	const struct smtp_job *job = conn->run->job;

	smtp_body_init(&conn->body, job->content_fd, job->content_offset,
	    job->content_length, conn->pool->set.line_length_limit);
	conn->content_deadline_ms = 0;
	conn->state = CS_BODY;
	conn_set_write_low(conn->io, BODY_LOW);
	smtp_xfer_writable(conn);
}

/* smtp_data_xfer_timeout for each step of the content, as before; with
 * smtp_per_request_deadline for all of it, growing by a second per
 * smtp_min_data_rate bytes (Postfix): a server that takes one byte now
 * and then cannot hold a delivery for ever. */
static void
content_timeout(struct smtp_conn *conn, size_t added)
{
	const struct smtp_pool *pool = conn->pool;
	long long left;

	if (!pool->set.per_request_deadline) {
		smtp_conn_timeout(conn, pool->set.data_xfer_timeout);
		return;
	}
	if (conn->content_deadline_ms == 0)
		conn->content_deadline_ms = monotonic_ms() +
		    pool->set.data_xfer_timeout * 1000;
	conn->content_deadline_ms += (long long)added * 1000 /
	    pool->set.min_data_rate;
	left = conn->content_deadline_ms - monotonic_ms();
	smtp_conn_timeout(conn, left <= 0 ? 1 : (left + 999) / 1000);
}

void
smtp_xfer_writable(struct smtp_conn *conn)
{
	struct evbuffer *out = conn_output(conn->io);
	size_t queued = evbuffer_get_length(out);
	int status;

	/* The end of data is "sent" once it left our buffer: from then on
	 * a lost connection may have delivered the message. */
	if (conn->body.finished) {
		if (queued == 0) {
			conn->state = CS_DOT;
			smtp_conn_timeout(conn,
			    conn->pool->set.data_done_timeout);
		}
		return;
	}
	if (queued >= BODY_HIGH)
		return;
	status = smtp_body_fill(&conn->body, out, BODY_HIGH - queued,
	    conn->pool->iobuf, SMTP_IOBUF_SIZE);
	queued = evbuffer_get_length(out) - queued;	/* added now */
	if (status < 0) {
		char *reason = xasprintf("error reading the queue file: %s",
		    strerror(errno));

		msg_warn("%s: %s", conn->run->job->queue_id, reason);
		smtp_run_set_rest(conn->run, SMTP_DEFER, "4.3.0", "none",
		    reason);
		free(reason);
		smtp_run_finish(conn->pool, conn->run);
		conn->run = NULL;
		/* Half a message cannot be taken back: drop the session. */
		smtp_conn_close(conn);
		return;
	}
	content_timeout(conn, queued);
	/* All of it is queued: the next write callback comes when the
	 * buffer is empty. */
	if (status == 1)
		conn_set_write_low(conn->io, 0);
}

/* Gives every recipient RCPT accepted the outcome of this reply. A reply
 * that makes no sense here (2xx to DATA) is a temporary failure. */
static void
set_accepted(struct smtp_conn *conn, const char *in_reply_to,
    int unexpected)
{
	struct smtp_run *run = conn->run;
	const struct smtp_reply *reply = &conn->reply;
	enum smtp_outcome outcome = smtp_reply_outcome(reply);
	char dsn[16], *reason;

	smtp_reply_dsn(reply, dsn);
	if (unexpected) {
		outcome = SMTP_DEFER;
		snprintf(dsn, sizeof(dsn), "4.5.0");
	}
	reason = outcome == SMTP_SENT ? smtp_reply_line(reply) :
	    smtp_reply_reason(conn->label, reply, in_reply_to);
	for (size_t i = 0; i < run->job->n_rcpts; i++)
		if (run->rcpt_state[i] == RCPT_ACCEPTED)
			smtp_run_set(run, i, outcome, dsn, conn->relay,
			    reason);
	free(reason);
}

static void
mail_reply(struct smtp_conn *conn)
{
	char dsn[16], *reason;

	if (conn->reply.code / 100 == 2) {
		conn->mail_ok = 1;
		return;
	}
	smtp_reply_dsn(&conn->reply, dsn);
	reason = smtp_reply_reason(conn->label, &conn->reply,
	    "MAIL FROM command");
	smtp_run_set_rest(conn->run, smtp_reply_outcome(&conn->reply), dsn,
	    conn->relay, reason);
	free(reason);
}

static void
rcpt_reply(struct smtp_conn *conn, size_t i)
{
	struct smtp_run *run = conn->run;
	char dsn[16], *reason;

	/* MAIL's reply decided already. */
	if (!conn->mail_ok)
		return;
	if (conn->reply.code / 100 == 2) {
		run->rcpt_state[i] = RCPT_ACCEPTED;
		conn->n_accepted++;
		return;
	}
	smtp_reply_dsn(&conn->reply, dsn);
	reason = smtp_reply_reason(conn->label, &conn->reply,
	    "RCPT TO command");
	/* Neither 2xx nor 5xx (a 1xx or 3xx) is not a refusal: retry. */
	smtp_run_set(run, i, conn->reply.code / 100 == 5 ? SMTP_BOUNCE :
	    SMTP_DEFER, dsn, conn->relay, reason);
	free(reason);
}

static void
data_reply(struct smtp_conn *conn)
{
	int go_ahead = conn->reply.code / 100 == 3;

	if (go_ahead && conn->mail_ok && conn->n_accepted > 0) {
		body_start(conn);
		return;
	}
	if (go_ahead) {
		/* Pipelined DATA got 354 although nobody was accepted: an
		 * empty message ends it; its reply changes nothing. */
		smtp_conn_send(conn, ".\r\n");
		conn->state = CS_DOT;
		smtp_conn_timeout(conn, conn->pool->set.data_done_timeout);
		return;
	}
	if (conn->mail_ok)
		set_accepted(conn, "DATA command",
		    conn->reply.code / 100 == 2);
	xfer_done(conn);
}

/* The reply to command k = n_replied; without PIPELINING, the next
 * command leaves once it is in. */
static void
command_reply(struct smtp_conn *conn)
{
	const struct smtp_job *job = conn->run->job;
	size_t k = conn->n_replied++;

	if (k == 0)
		mail_reply(conn);
	else if (k <= job->n_rcpts)
		rcpt_reply(conn, k - 1);
	else {
		data_reply(conn);
		return;
	}
	if (conn->n_replied < conn->n_sent) {
		/* Pipelined: the next reply is already on its way. */
		smtp_conn_timeout(conn, reply_timeout(conn, conn->n_replied));
		return;
	}
	if (!conn->mail_ok || (k == job->n_rcpts && conn->n_accepted == 0)) {
		xfer_done(conn);
		return;
	}
	send_command(conn, k + 1);
	smtp_conn_timeout(conn, reply_timeout(conn, k + 1));
}

static void
dot_reply(struct smtp_conn *conn)
{
	if (conn->mail_ok && conn->n_accepted > 0)
		set_accepted(conn, "end of DATA command", 0);
	xfer_done(conn);
}

/* A reply before the content was all sent. */
static void
early_reply(struct smtp_conn *conn)
{
	struct smtp_run *run = conn->run;
	char *line = smtp_reply_line(&conn->reply), *reason;

	if (conn->reply.code / 100 != 2)
		set_accepted(conn, "end of DATA command", 0);
	reason = xasprintf("host %s replied before the end of the message: "
	    "%s", conn->label, line);
	smtp_run_set_rest(run, SMTP_DEFER, "4.4.2", conn->relay, reason);
	free(reason);
	free(line);
	smtp_run_finish(conn->pool, run);
	conn->run = NULL;
	smtp_conn_close(conn);
}

void
smtp_xfer_reply(struct smtp_conn *conn)
{
	switch (conn->state) {
	case CS_XFER:
		command_reply(conn);
		break;
	case CS_BODY:
		/* All of it was queued, so the server has seen the end. */
		if (conn->body.finished)
			dot_reply(conn);
		else
			early_reply(conn);
		break;
	case CS_DOT:
		dot_reply(conn);
		break;
	default:
		break;
	}
}
