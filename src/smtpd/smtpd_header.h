/* smtpd_header: the Message-ID of the message's own header, found while
 * the content streams to the queue file. smtpd logs it as Postfix's
 * cleanup does ("ID: message-id=<...>", or "message-id=<>" when there is
 * none), the line log tools such as pflogsumm expect at receipt. */
#ifndef TLSRELAY_SMTPD_HEADER_H
#define TLSRELAY_SMTPD_HEADER_H

#include <stddef.h>

/* RFC 5322 2.1.1: a line is at most 998 characters; a longer value is
 * cut there. */
#define SMTPD_MESSAGE_ID_MAX 998

struct smtpd_header_scan {
	int state;
	char name[16];		/* the field name so far, lower case */
	size_t name_len;	/* > sizeof(name) - 1: not a name we want */
	int capturing;		/* inside the first Message-ID field */
	int found;		/* that field has ended */
	char value[SMTPD_MESSAGE_ID_MAX + 1];
	size_t value_len;
};

void smtpd_header_init(struct smtpd_header_scan *scan);
/* Content bytes in order, as the client sent them after un-stuffing; the
 * way they are split into calls never changes the result. */
void smtpd_header_feed(struct smtpd_header_scan *scan, const char *data,
    size_t len);
/* Once the content is complete: the first Message-ID field's value,
 * unfolded and trimmed, with every byte outside printable ASCII replaced
 * by '?' (it goes into the log); "" when the header has none. */
const char *smtpd_header_message_id(struct smtpd_header_scan *scan);

#endif
