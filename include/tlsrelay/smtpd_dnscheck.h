/* smtpd_dnscheck: the DNS answers the SMTP server's restrictions and its
 * client name need (Postfix's reject_rbl_client, reject_rhsbl_*,
 * reject_unknown_*_domain, reject_unknown_client_hostname, and
 * smtpd_peername_lookup), looked up through c-ares without blocking.
 *
 * Each session holds one struct smtpd_dnscheck: a memo of the answers it
 * has asked for. The restriction engine (smtpd_restrict*.c) asks for an
 * answer; when it is not known yet the lookup starts, the call returns
 * DNSCHECK_PENDING and the engine returns RESTRICT_PENDING; once every
 * pending lookup of the session is answered (or timed out), the
 * session's resume callback runs and the session evaluates the stage
 * again from the start, now finding the answers in the memo. So the
 * evaluation itself stays a plain function of the query and the memo.
 * Every lookup is bounded in time; a timeout is a temporary failure. */
#ifndef TLSRELAY_SMTPD_DNSCHECK_H
#define TLSRELAY_SMTPD_DNSCHECK_H

#include <stddef.h>

struct dns;
struct smtpd_dnscheck;

enum dnscheck_state {
	DNSCHECK_DONE,		/* the answer is in *out */
	DNSCHECK_PENDING,	/* asked; the resume callback will run */
};

enum dnscheck_status {
	DNSCHECK_FOUND,		/* listed / exists / name confirmed */
	DNSCHECK_NOTFOUND,	/* not listed / NXDOMAIN or no records */
	DNSCHECK_TEMPFAIL,	/* SERVFAIL, timeout, no server */
};

/* reject_rbl_client zone[=filter], reject_rhsbl_*: the A records of the
 * query name (an address reversed, or a domain, under zone) and, when
 * listed, the TXT records (for the reply's text, joined with " / " and
 * cut at 500 bytes as Postfix does); filter is the text after "=" in
 * Postfix's "zone=127.0.0.N" form (each number may be a [a;b] list or an
 * [a..b] range), NULL when any A record means listed (Postfix). A
 * temporary failure is TEMPFAIL (Postfix then gives the client the
 * benefit of the doubt). */
struct dnsbl_answer {
	enum dnscheck_status status;
	char *addr;		/* the first matching A record, "127.0.0.2" */
	char *txt;		/* NULL when there is none */
};

/* reject_unknown_*_domain: does the domain have MX, A or AAAA records?
 * (Postfix: a domain with a null MX counts as unknown to mail.) */
struct domain_answer {
	enum dnscheck_status status;
	int null_mx;		/* "MX 0 ." */
};

/* The client's name: PTR of its address, then A/AAAA of that name
 * containing the address (forward-confirmed). name is "unknown" unless
 * FOUND. status TEMPFAIL: a lookup failed temporarily (Postfix's
 * reject_unknown_client_hostname then defers with 450). reverse_name and
 * reverse_status are the PTR alone (Postfix's reverse_name, for
 * reject_unknown_reverse_client_hostname and
 * reject_rhsbl_reverse_client). */
struct client_name_answer {
	enum dnscheck_status status;
	const char *name;	/* "mail.example.com" or "unknown" */
	/* reverse_only: PTR found but not confirmed forward (Postfix's
	 * reject_unknown_reverse_client_hostname passes it). */
	int reverse_only;
	enum dnscheck_status reverse_status;
	const char *reverse_name;	/* the PTR name or "unknown" */
};

typedef void smtpd_dnscheck_resume_fn(void *arg);

/* One per session; dns is the worker's resolver (tlsrelay_dns_servers),
 * timeout_ms bounds each lookup. resume(arg) runs once after the last
 * pending lookup of a batch is answered. */
struct smtpd_dnscheck *smtpd_dnscheck_new(struct dns *dns, long timeout_ms,
    smtpd_dnscheck_resume_fn *resume, void *arg);
/* Cancels what is pending: resume is not called after this. */
void smtpd_dnscheck_free(struct smtpd_dnscheck *dc);

/* The answers; out points into the memo, valid until smtpd_dnscheck_free.
 * A DONE answer for the same question is returned from the memo. */
enum dnscheck_state smtpd_dnscheck_rbl(struct smtpd_dnscheck *dc,
    const char *zone, const char *filter, const char *client_addr,
    const struct dnsbl_answer **out);
enum dnscheck_state smtpd_dnscheck_rhsbl(struct smtpd_dnscheck *dc,
    const char *zone, const char *filter, const char *domain,
    const struct dnsbl_answer **out);
enum dnscheck_state smtpd_dnscheck_domain(struct smtpd_dnscheck *dc,
    const char *domain, const struct domain_answer **out);
enum dnscheck_state smtpd_dnscheck_client_name(struct smtpd_dnscheck *dc,
    const char *client_addr, const struct client_name_answer **out);
/* 1 while a lookup is pending: the session must not read the next
 * command's verdict yet. */
int smtpd_dnscheck_busy(const struct smtpd_dnscheck *dc);

/* The reply filter of "zone=filter" (smtpd_dnsbl_filter.c), parsed. */
struct dnsbl_filter {
	unsigned char octet[4][32];	/* a set of 0..255 per octet */
};
/* Returns 0, or -1 with *err set (caller frees). */
int dnsbl_filter_parse(const char *text, struct dnsbl_filter *f,
    char **err);
/* 1 when the IPv4 address (text) is in the filter's sets. */
int dnsbl_filter_match(const struct dnsbl_filter *f, const char *addr);

#endif
