/* check: the findings of `tlsrelay check`, shared by its files
 * (cmd_check.c drives; check_certs.c, check_files.c look at what the
 * configuration names, check_dnssec.c asks the resolver). A finding is one line, "FILE:LINE: what is wrong:
 * the fix"; the same text is reported once however many services share
 * the line that causes it. */
#ifndef TLSRELAY_CLI_CHECK_H
#define TLSRELAY_CLI_CHECK_H

#include <stddef.h>

#include "tlsrelay/log.h"

struct conf;

struct check {
	char **seen;		/* texts reported so far */
	size_t n_seen;
	int errors;
};

void check_error(struct check *c, const char *fmt, ...) PRINTFLIKE(2, 3);
void check_warn(struct check *c, const char *fmt, ...) PRINTFLIKE(2, 3);

/* Where a parameter was set, "FILE:LINE"; "CONFDIR/main.cf" when it has
 * its default. Valid until the next call. */
const char *check_origin(const struct conf *conf, int param);

/* Certificates of the server (smtpd = 1) or of the client (smtpd = 0):
 * expired or expiring soon, chain not leading to a trusted root. */
void check_certs(struct check *c, const struct conf *conf, int smtpd);
/* Tables and directories: a .db older than its source, TLS policy table
 * entries, files mail_owner cannot read. */
void check_files(struct check *c, const struct conf *conf);
/* smtp_dns_support_level = dnssec: asks the resolver whether it
 * validates, and says so (a warning when it does not); a dane level
 * without it is a warning. Always one info line: the level mail routed
 * by MX gets, and why. */
void check_dnssec(struct check *c, const struct conf *conf);

#endif
