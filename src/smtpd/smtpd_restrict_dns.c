/* smtpd_restrict_dns: the DNS-based restrictions (reject_rbl_client,
 * reject_rhsbl_*, reject_unknown_*), through smtpd_dnscheck.h.
 *
 * PLACEHOLDER so that the restriction engine builds: every function
 * answers DUNNO and the smtpd_dnscheck functions do nothing. The
 * dnscheck branch replaces this whole file (and implements
 * smtpd_dnscheck.h elsewhere). Until then a configuration that names
 * one of these restrictions starts but does not apply it (with a
 * warning when it is met): do not ship this file. */
#include "config.h"

#include <stdlib.h>

#include "tlsrelay/log.h"
#include "tlsrelay/smtpd_dnscheck.h"
#include "smtpd_restrict.h"

#define PLACEHOLDER(name) \
enum restrict_result \
restrict_reject_##name(struct restrict_ctx *ctx, \
    const struct restrict_item *item) \
{ \
	(void)ctx; \
	(void)item; \
	msg_warn_once("reject_" #name ": not implemented yet: skipped"); \
	return RESTRICT_DUNNO; \
}

PLACEHOLDER(rbl_client)
PLACEHOLDER(rhsbl_client)
PLACEHOLDER(rhsbl_sender)
PLACEHOLDER(rhsbl_helo)
PLACEHOLDER(rhsbl_reverse_client)
PLACEHOLDER(unknown_sender_domain)
PLACEHOLDER(unknown_recipient_domain)
PLACEHOLDER(unknown_helo_hostname)
PLACEHOLDER(unknown_client_hostname)
PLACEHOLDER(unknown_reverse_client_hostname)

struct smtpd_dnscheck *
smtpd_dnscheck_new(struct dns *dns, long timeout_ms,
    smtpd_dnscheck_resume_fn *resume, void *arg)
{
	(void)dns;
	(void)timeout_ms;
	(void)resume;
	(void)arg;
	return NULL;
}

void
smtpd_dnscheck_free(struct smtpd_dnscheck *dc)
{
	(void)dc;
}

int
smtpd_dnscheck_busy(const struct smtpd_dnscheck *dc)
{
	(void)dc;
	return 0;
}
