/* smtpd_received: the one header the relay adds (RFC 5321 4.4, protocol
 * names per RFC 3848), laid out as Postfix writes it so that tools that
 * parse Postfix's Received headers keep working. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/util.h"
#include "smtpd_session.h"

/* "Sun, 22 Nov 2026 07:48:00 +0000 (UTC)" */
static void
rfc5322_date(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	char zone[16];

	localtime_r(&now, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
	strftime(zone, sizeof(zone), "%Z", &tm);
	if (zone[0] != '\0' && strlen(buf) + strlen(zone) + 4 < len) {
		strcat(buf, " (");
		strcat(buf, zone);
		strcat(buf, ")");
	}
}

char *
smtpd_received_header(const struct smtpd_session *s, const char *queue_id)
{
	struct strbuf sb;
	char date[64];
	const char *proto;

	/* RFC 3848: "A" for an authenticated client, "S" for TLS. */
	if (!s->esmtp)
		proto = "SMTP";
	else if (s->sasl_username != NULL)
		proto = s->tls_active ? "ESMTPSA" : "ESMTPA";
	else if (s->tls_active)
		proto = "ESMTPS";
	else
		proto = "ESMTP";

	strbuf_init(&sb);
	strbuf_printf(&sb, "Received: from %s (%s [%s])\r\n",
	    s->helo ? s->helo : s->name, s->name, s->addr);
	if (s->tls_active && s->policy->tls_received_header) {
		char tlsdesc[160];

		tls_info_format(s->tls, tlsdesc, sizeof(tlsdesc));
		strbuf_printf(&sb, "\t(using %s)\r\n", tlsdesc);
		if (!s->tls->peer_cert)
			strbuf_puts(&sb, "\t(No client certificate requested)\r\n");
		else
			strbuf_printf(&sb, "\t(Client CN \"%s\", Issuer \"%s\" "
			    "(%s))\r\n", s->tls->peer_subject_cn,
			    s->tls->peer_issuer_cn,
			    s->tls->peer_trusted ? "verified OK" :
			    "not verified");
	}
	/* Naming the user is off by default: it tells the world who sent
	 * the mail through which account. */
	if (s->sasl_username != NULL && s->policy->sasl_authenticated_header)
		strbuf_printf(&sb, "\t(Authenticated sender: %s)\r\n",
		    s->sasl_username);
	strbuf_printf(&sb, "\tby %s (%s) with %s id %s", s->policy->myhostname,
	    conf_str(s->policy->conf, P_mail_name), proto, queue_id);
	rfc5322_date(date, sizeof(date));
	if (s->n_recipients == 1)
		strbuf_printf(&sb, "\r\n\tfor <%s>; %s\r\n", s->recipients[0],
		    date);
	else
		strbuf_printf(&sb, ";\r\n\t%s\r\n", date);
	return strbuf_steal(&sb);
}
