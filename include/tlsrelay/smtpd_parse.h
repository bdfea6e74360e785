/* smtpd_parse: the parsers of what an SMTP client sends: command lines,
 * MAIL FROM / RCPT TO paths, the DATA stream. They see untrusted bytes:
 * each has a Check suite (tests/unit) and a fuzz harness (tests/fuzz). */
#ifndef TLSRELAY_SMTPD_PARSE_H
#define TLSRELAY_SMTPD_PARSE_H

#include <stddef.h>

#include "tlsrelay/util.h"

/* ---- command line parser (src/smtpd/smtpd_cmd.c) ---- */

/* Postfix's default line_length_limit (the session uses the configured
 * one): the line buffer size the parsers' tests and fuzzers assume. */
#define SMTPD_LINE_MAX 2048
#define SMTPD_REPLY_MAX 512

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT,
	SMTP_VERB_DATA, SMTP_VERB_RSET, SMTP_VERB_NOOP, SMTP_VERB_QUIT,
	SMTP_VERB_VRFY, SMTP_VERB_EXPN, SMTP_VERB_HELP, SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH, SMTP_VERB_BDAT, SMTP_VERB_ETRN,
};

struct smtp_command {
	enum smtp_verb verb;
	const char *arg;	/* after the verb and its white space; "" if
				 * none; points into the parsed line */
};

/* Splits one command line (CR LF already removed, NUL-terminated) into
 * verb and argument. Verbs are case-insensitive. Never fails: unknown text
 * gives SMTP_VERB_UNKNOWN. Trailing white space is cut off line in place,
 * so that arg ends with its last visible character. */
void smtpd_parse_command(char *line, struct smtp_command *cmd);
const char *smtpd_verb_name(enum smtp_verb verb);	/* "ehlo", "mail" ... */

/* ESMTP parameters of MAIL FROM. */
/* RFC 4954 5: the mailbox of AUTH=, xtext-decoded; as long as a path. */
#define SMTP_AUTH_PARAM_MAX	256

struct smtp_mail_params {
	int has_size;
	unsigned long long size;
	int body_8bitmime;	/* BODY=8BITMIME (0 for 7BIT or absent) */
	int smtputf8;		/* SMTPUTF8 */
	int has_auth;		/* AUTH= */
	char auth[SMTP_AUTH_PARAM_MAX + 1];	/* "" for AUTH=<> */
};

/* Parses the argument of MAIL ("FROM:<a@b> SIZE=10 BODY=8BITMIME"). On
 * success returns NULL and sets *addr (malloc'd, without angle brackets;
 * "" for the null sender). On error returns the complete SMTP reply to
 * send, e.g. "501 5.5.4 Syntax: MAIL FROM:<address>", "501 5.1.7 Bad
 * sender address syntax", "555 5.5.4 Unsupported option: FOO=1", "501
 * 5.5.4 Bad AUTH parameter syntax" (not xtext, a control character or
 * too long once decoded); *addr is
 * then NULL. A reply that quotes the input is written into replybuf
 * (SMTPD_REPLY_MAX bytes is enough) and replybuf is returned; others are
 * string literals. Lenient as Postfix with strict_rfc821_envelopes = no: a space
 * after the colon and a missing pair of angle brackets are accepted. */
const char *smtpd_parse_mail(const char *arg, char **addr,
    struct smtp_mail_params *params, char *replybuf, size_t replylen);
/* Same for RCPT ("TO:<a@b>"); the null address is refused with "501 5.1.3
 * Bad recipient address syntax". ESMTP parameters on RCPT are refused with
 * 555 (no extension we offer defines any). */
const char *smtpd_parse_rcpt(const char *arg, char **addr, char *replybuf,
    size_t replylen);

/* ---- DATA reader (src/smtpd/smtpd_data.c) ---- */

/* What to do with a line that ends in a bare LF (SMTP smuggling):
 * smtpd_forbid_bare_newline. The end of data is only ever CR LF . CR LF. */
enum bare_lf_mode {
	BARE_LF_NORMALIZE,	/* "normalize", "yes", "no": store as CR LF */
	BARE_LF_REJECT,		/* "reject": stop with 521 */
};

struct smtpd_data_reader {
	enum bare_lf_mode mode;
	int state;		/* private */
	int bare_lf_seen;	/* set when a bare LF was found */
	unsigned long long bytes_out;	/* content bytes produced so far */
};

enum data_result {
	DATA_MORE,		/* all input consumed, need more */
	DATA_DONE,		/* end-of-data line consumed */
	DATA_BARE_LF,		/* mode REJECT and a bare LF arrived */
};

void smtpd_data_init(struct smtpd_data_reader *reader, enum bare_lf_mode mode);
/* Consumes input bytes, appending the message content (dot-unstuffed, CR
 * LF line ends, without the final ".") to out. *consumed gets the number
 * of input bytes used: on DATA_DONE the bytes after the end-of-data line
 * belong to the next command (pipelining) and are not consumed. */
enum data_result smtpd_data_feed(struct smtpd_data_reader *reader,
    const char *in, size_t len, struct strbuf *out, size_t *consumed);

#endif
