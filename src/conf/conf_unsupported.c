/* conf_unsupported: Postfix parameters that tlsrelay does not implement
 * and whose absence changes what is checked or who may relay. Every other
 * Postfix name is accepted quietly (alias_maps, biff, ...); these are
 * refused at start, or warned about once with what tlsrelay does instead.
 * man/tlsrelay.5 ("Postfix parameters tlsrelay refuses or warns about")
 * has the same list. A name counts when main.cf, or an -o of a service
 * tlsrelay runs, sets it to anything but empty or "no". */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

enum action { REFUSE, WARN };

static const struct unsupported {
	const char *name;
	enum action action;
	const char *why;	/* what happens without it */
} unsupported[] = {
	{ "non_smtpd_milters", REFUSE, "milters are not supported: mail "
	    "would pass without the filtering or signing they do" },
	{ "smtp_tls_block_early_mail_reply", WARN, "not implemented: early "
	    "replies after STARTTLS are not looked for" },
	{ "smtp_tls_dcert_file", WARN, "DSA certificates are not supported; "
	    "the line is not used" },
	{ "smtp_tls_dkey_file", WARN, "DSA certificates are not supported; "
	    "the line is not used" },
	{ "smtp_tls_force_insecure_host_tlsa_lookup", WARN, "not "
	    "implemented: no TLSA lookup is made for a host whose address "
	    "records are insecure" },
	{ "smtp_tls_per_site", REFUSE, "not implemented: use "
	    "smtp_tls_policy_maps (ignoring its MUST entries would lower "
	    "security)" },
	{ "smtp_tls_scert_verifydepth", WARN, "not implemented: OpenSSL's "
	    "default verification depth applies" },
	{ "smtp_tls_wrappermode", REFUSE, "implicit TLS to the next hop is "
	    "not implemented: every delivery would fail" },
	{ "smtpd_milter_maps", REFUSE, "milters are not supported: mail "
	    "would pass without the filtering or signing they do" },
	{ "smtpd_milters", REFUSE, "milters are not supported: mail would "
	    "pass without the filtering or signing they do" },
	{ "smtpd_proxy_filter", REFUSE, "before-queue content filters are not "
	    "supported: mail would pass unfiltered" },
	{ "smtpd_relay_before_recipient_restrictions", WARN, "not "
	    "implemented: smtpd_relay_restrictions are applied first, as "
	    "with Postfix's default" },
	{ "smtpd_tls_dcert_file", WARN, "DSA certificates are not supported; "
	    "the line is not used" },
	{ "smtpd_tls_dh512_param_file", WARN, "export ciphers are gone; the "
	    "file is not used: remove the line" },
	{ "smtpd_tls_dkey_file", WARN, "DSA certificates are not supported; "
	    "the line is not used" },
};

static const struct unsupported *
find(const char *name)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]);
	    i++)
		if (strcmp(unsupported[i].name, name) == 0)
			return &unsupported[i];
	return NULL;
}

static int
active(const char *raw)
{
	return raw != NULL && *raw != '\0' && strcasecmp(raw, "no") != 0;
}

/* One name set at where: 0, or -1 with *err for a refused one. */
static int
judge(const char *name, const char *raw, const char *where, char **err)
{
	const struct unsupported *u = find(name);

	if (u == NULL || !active(raw))
		return 0;
	if (u->action == REFUSE) {
		*err = xasprintf("%s: %s = %s: %s", where, name, raw, u->why);
		return -1;
	}
	msg_warn_once("%s: %s = %s: %s", where, name, raw, u->why);
	return 0;
}

int
conf_check_unsupported(const struct conf *conf, char **err)
{
	struct errlist errors;
	char *why = NULL;

	errlist_init(&errors);
	for (size_t i = 0; i < conf->n_set; i++)
		if (!conf->set[i].from_master && judge(conf->set[i].name,
		    conf->set[i].raw, conf->set[i].origin, &why) < 0) {
			errlist_add(&errors, why);
			free(why);
		}
	for (size_t i = 0; conf->services && i < conf->services->count; i++) {
		const struct master_service *svc = conf->services->list[i];

		/* Only the services tlsrelay runs: a Postfix "smtps unix
		 * ... smtp -o smtp_tls_wrappermode=yes" transport is
		 * ignored as a whole already. */
		if (strcmp(svc->type, "inet") != 0 ||
		    strcmp(svc->command, "smtpd") != 0)
			continue;
		for (size_t j = 0; j < svc->n_overrides; j++) {
			const struct conf_override *ov = &svc->overrides[j];
			char *where = xasprintf("%s:%d", svc->file, ov->line);

			if (judge(ov->name, ov->value, where, &why) < 0) {
				errlist_add(&errors, why);
				free(why);
			}
			free(where);
		}
	}
	if ((*err = errlist_steal(&errors)) != NULL)
		return -1;
	return 0;
}
