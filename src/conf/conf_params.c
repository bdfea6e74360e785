/* conf_params: every parameter tlsrelay implements, declared once with its
 * type and default, in name order (C byte order: bsearch relies on it).
 *
 * Meanings are Postfix's (postconf(5)). Where Postfix's default depends on
 * compatibility_level, the table holds the modern (level 3.6) value.
 *
 * Computed defaults: myhostname is this machine's name from gethostname()
 * (".localdomain" appended when it has no dot); mydomain is $myhostname
 * minus its first label. mynetworks follows mynetworks_style (the map
 * subsystem lists this host's networks); both are computed when values
 * are resolved (conf_resolve.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

static const struct conf_param_def params[] = {
	{ "2bounce_notice_recipient", CONF_STR, "", 0 },
	{ "bounce_queue_lifetime", CONF_TIME, "5d", 'd' },
	{ "bounce_size_limit", CONF_INT, "50000", 0 },
	{ "data_directory", CONF_STR, LOCALSTATEDIR "/lib/tlsrelay", 0 },
	{ "default_destination_concurrency_failed_cohort_limit", CONF_INT, "1",
	    0 },
	{ "default_destination_concurrency_limit", CONF_INT, "20", 0 },
	{ "default_process_limit", CONF_INT, "100", 0 },
	{ "delay_warning_time", CONF_TIME, "0h", 'h' },
	{ "disable_vrfy_command", CONF_BOOL, "no", 0 },
	{ "inet_interfaces", CONF_STR, "all", 0 },
	{ "inet_protocols", CONF_STR, "all", 0 },
	{ "initial_destination_concurrency", CONF_INT, "5", 0 },
	{ "line_length_limit", CONF_INT, "2048", 0 },
	{ "mail_name", CONF_STR, "tlsrelay", 0 },
	{ "mail_owner", CONF_STR, "tlsrelay", 0 },
	{ "mail_version", CONF_STR, PACKAGE_VERSION, 0 },
	{ "maillog_file", CONF_STR, "", 0 },
	{ "maximal_backoff_time", CONF_TIME, "4000s", 's' },
	{ "maximal_queue_lifetime", CONF_TIME, "5d", 'd' },
	{ "message_size_limit", CONF_SIZE, "10240000", 0 },
	{ "minimal_backoff_time", CONF_TIME, "300s", 's' },
	/* computed: $myhostname minus its first label */
	{ "mydomain", CONF_STR, NULL, 0 },
	/* computed: see conf_param_computed_default() */
	{ "myhostname", CONF_STR, NULL, 0 },
	/* computed from mynetworks_style: see conf_resolve.c */
	{ "mynetworks", CONF_STR, NULL, 0 },
	{ "mynetworks_style", CONF_STR, "host", 0 },
	{ "myorigin", CONF_STR, "$myhostname", 0 },
	{ "parent_domain_matches_subdomains", CONF_STR,
	    "debug_peer_list,fast_flush_domains,mynetworks,"
	    "permit_mx_backup_networks,"
	    "qmqpd_authorized_clients,relay_domains,"
	    "smtpd_access_maps", 0 },
	{ "qmgr_message_active_limit", CONF_INT, "20000", 0 },
	{ "queue_directory", CONF_STR, LOCALSTATEDIR "/spool/tlsrelay", 0 },
	{ "queue_minfree", CONF_SIZE, "0", 0 },
	{ "queue_run_delay", CONF_TIME, "300s", 's' },
	{ "relay_clientcerts", CONF_STR, "", 0 },
	{ "relay_domains", CONF_STR, "", 0 },
	{ "relayhost", CONF_STR, "", 0 },
	{ "service_throttle_time", CONF_TIME, "60s", 's' },
	{ "setgid_group", CONF_STR, "tlsdrop", 0 },
	{ "smtp_connect_timeout", CONF_TIME, "30s", 's' },
	{ "smtp_connection_cache_on_demand", CONF_BOOL, "yes", 0 },
	{ "smtp_connection_cache_time_limit", CONF_TIME, "2s", 's' },
	{ "smtp_connection_reuse_time_limit", CONF_TIME, "300s", 's' },
	{ "smtp_data_done_timeout", CONF_TIME, "600s", 's' },
	{ "smtp_data_init_timeout", CONF_TIME, "120s", 's' },
	{ "smtp_data_xfer_timeout", CONF_TIME, "180s", 's' },
	{ "smtp_destination_concurrency_failed_cohort_limit", CONF_INT,
	    "$default_destination_concurrency_failed_cohort_limit", 0 },
	{ "smtp_destination_concurrency_limit", CONF_INT,
	    "$default_destination_concurrency_limit", 0 },
	{ "smtp_dns_support_level", CONF_STR, "", 0 },
	/* obsolete: smtp_tls_security_level */
	{ "smtp_enforce_tls", CONF_BOOL, "no", 0 },
	{ "smtp_fallback_relay", CONF_STR, "", 0 },
	{ "smtp_helo_name", CONF_STR, "$myhostname", 0 },
	{ "smtp_helo_timeout", CONF_TIME, "300s", 's' },
	{ "smtp_initial_destination_concurrency", CONF_INT,
	    "$initial_destination_concurrency", 0 },
	{ "smtp_mail_timeout", CONF_TIME, "300s", 's' },
	{ "smtp_mx_address_limit", CONF_INT, "5", 0 },
	{ "smtp_quit_timeout", CONF_TIME, "300s", 's' },
	{ "smtp_rcpt_timeout", CONF_TIME, "300s", 's' },
	{ "smtp_rset_timeout", CONF_TIME, "20s", 's' },
	{ "smtp_sasl_auth_enable", CONF_BOOL, "no", 0 },
	{ "smtp_sasl_mechanism_filter", CONF_STR, "", 0 },
	{ "smtp_sasl_password_maps", CONF_STR, "", 0 },
	{ "smtp_sasl_security_options", CONF_STR,
	    "noplaintext, noanonymous", 0 },
	{ "smtp_sasl_tls_security_options", CONF_STR,
	    "$smtp_sasl_security_options", 0 },
	{ "smtp_sasl_tls_verified_security_options", CONF_STR,
	    "$smtp_sasl_tls_security_options", 0 },
	{ "smtp_starttls_timeout", CONF_TIME, "300s", 's' },
	{ "smtp_tcp_port", CONF_STR, "smtp", 0 },
	{ "smtp_tls_CAfile", CONF_STR, "", 0 },
	{ "smtp_tls_CApath", CONF_STR, "", 0 },
	{ "smtp_tls_cert_file", CONF_STR, "", 0 },
	{ "smtp_tls_chain_files", CONF_STR, "", 0 },
	{ "smtp_tls_ciphers", CONF_STR, "medium", 0 },
	{ "smtp_tls_eccert_file", CONF_STR, "", 0 },
	{ "smtp_tls_eckey_file", CONF_STR, "$smtp_tls_eccert_file", 0 },
	{ "smtp_tls_exclude_ciphers", CONF_STR, "", 0 },
	{ "smtp_tls_fingerprint_cert_match", CONF_STR, "", 0 },
	{ "smtp_tls_fingerprint_digest", CONF_STR, "sha256", 0 },
	{ "smtp_tls_key_file", CONF_STR, "$smtp_tls_cert_file", 0 },
	{ "smtp_tls_loglevel", CONF_INT, "0", 0 },
	{ "smtp_tls_mandatory_ciphers", CONF_STR, "medium", 0 },
	{ "smtp_tls_mandatory_exclude_ciphers", CONF_STR, "", 0 },
	{ "smtp_tls_mandatory_protocols", CONF_STR, ">=TLSv1", 0 },
	{ "smtp_tls_note_starttls_offer", CONF_BOOL, "no", 0 },
	{ "smtp_tls_policy_maps", CONF_STR, "", 0 },
	{ "smtp_tls_protocols", CONF_STR, ">=TLSv1", 0 },
	{ "smtp_tls_secure_cert_match", CONF_STR, "nexthop, dot-nexthop", 0 },
	{ "smtp_tls_security_level", CONF_STR, "", 0 },
	{ "smtp_tls_servername", CONF_STR, "", 0 },
	{ "smtp_tls_session_cache_database", CONF_STR, "", 0 },
	{ "smtp_tls_session_cache_timeout", CONF_TIME, "3600s", 's' },
	{ "smtp_tls_trust_anchor_file", CONF_STR, "", 0 },
	{ "smtp_tls_verify_cert_match", CONF_STR, "hostname", 0 },
	/* obsolete: smtp_tls_security_level */
	{ "smtp_use_tls", CONF_BOOL, "no", 0 },
	{ "smtpd_banner", CONF_STR, "$myhostname ESMTP $mail_name", 0 },
	{ "smtpd_client_connection_count_limit", CONF_INT, "50", 0 },
	{ "smtpd_client_event_limit_exceptions", CONF_STR, "$mynetworks", 0 },
	{ "smtpd_client_restrictions", CONF_STR, "", 0 },
	{ "smtpd_delay_reject", CONF_BOOL, "yes", 0 },
	/* obsolete: smtpd_tls_security_level */
	{ "smtpd_enforce_tls", CONF_BOOL, "no", 0 },
	{ "smtpd_error_sleep_time", CONF_TIME, "1s", 's' },
	{ "smtpd_forbid_bare_newline", CONF_STR, "normalize", 0 },
	{ "smtpd_forbid_bare_newline_exclusions", CONF_STR, "$mynetworks", 0 },
	{ "smtpd_hard_error_limit", CONF_INT, "20", 0 },
	{ "smtpd_helo_required", CONF_BOOL, "no", 0 },
	{ "smtpd_helo_restrictions", CONF_STR, "", 0 },
	/* reverse lookups come with the DNS subsystem */
	{ "smtpd_peername_lookup", CONF_BOOL, "no", 0 },
	{ "smtpd_recipient_limit", CONF_INT, "1000", 0 },
	{ "smtpd_recipient_restrictions", CONF_STR, "", 0 },
	{ "smtpd_relay_restrictions", CONF_STR,
	    "permit_mynetworks, permit_sasl_authenticated,"
	    " defer_unauth_destination", 0 },
	{ "smtpd_sasl_auth_enable", CONF_BOOL, "no", 0 },
	{ "smtpd_sasl_authenticated_header", CONF_BOOL, "no", 0 },
	{ "smtpd_sasl_security_options", CONF_STR, "noanonymous", 0 },
	{ "smtpd_sasl_tls_security_options", CONF_STR,
	    "$smtpd_sasl_security_options", 0 },
	{ "smtpd_sender_login_maps", CONF_STR, "", 0 },
	{ "smtpd_sender_restrictions", CONF_STR, "", 0 },
	{ "smtpd_soft_error_limit", CONF_INT, "10", 0 },
	{ "smtpd_starttls_timeout", CONF_TIME, "300s", 's' },
	{ "smtpd_timeout", CONF_TIME, "300s", 's' },
	{ "smtpd_tls_CAfile", CONF_STR, "", 0 },
	{ "smtpd_tls_CApath", CONF_STR, "", 0 },
	{ "smtpd_tls_ask_ccert", CONF_BOOL, "no", 0 },
	{ "smtpd_tls_auth_only", CONF_BOOL, "no", 0 },
	{ "smtpd_tls_ccert_verifydepth", CONF_INT, "9", 0 },
	{ "smtpd_tls_cert_file", CONF_STR, "", 0 },
	{ "smtpd_tls_chain_files", CONF_STR, "", 0 },
	{ "smtpd_tls_ciphers", CONF_STR, "medium", 0 },
	{ "smtpd_tls_dh1024_param_file", CONF_STR, "", 0 },
	{ "smtpd_tls_eccert_file", CONF_STR, "", 0 },
	{ "smtpd_tls_eckey_file", CONF_STR, "$smtpd_tls_eccert_file", 0 },
	{ "smtpd_tls_eecdh_grade", CONF_STR, "auto", 0 },
	{ "smtpd_tls_exclude_ciphers", CONF_STR, "", 0 },
	{ "smtpd_tls_fingerprint_digest", CONF_STR, "sha256", 0 },
	{ "smtpd_tls_key_file", CONF_STR, "$smtpd_tls_cert_file", 0 },
	{ "smtpd_tls_loglevel", CONF_INT, "0", 0 },
	{ "smtpd_tls_mandatory_ciphers", CONF_STR, "medium", 0 },
	{ "smtpd_tls_mandatory_exclude_ciphers", CONF_STR, "", 0 },
	{ "smtpd_tls_mandatory_protocols", CONF_STR, ">=TLSv1", 0 },
	{ "smtpd_tls_protocols", CONF_STR, ">=TLSv1", 0 },
	{ "smtpd_tls_received_header", CONF_BOOL, "no", 0 },
	{ "smtpd_tls_req_ccert", CONF_BOOL, "no", 0 },
	{ "smtpd_tls_security_level", CONF_STR, "", 0 },
	{ "smtpd_tls_session_cache_database", CONF_STR, "", 0 },
	{ "smtpd_tls_session_cache_timeout", CONF_TIME, "3600s", 's' },
	{ "smtpd_tls_wrappermode", CONF_BOOL, "no", 0 },
	/* obsolete: smtpd_tls_security_level */
	{ "smtpd_use_tls", CONF_BOOL, "no", 0 },
	{ "syslog_facility", CONF_STR, "mail", 0 },
	{ "syslog_name", CONF_STR, "tlsrelay", 0 },
	{ "tls_append_default_CA", CONF_BOOL, "no", 0 },
	{ "tls_eecdh_auto_curves", CONF_STR,
	    "X25519 X448 prime256v1 secp521r1 secp384r1", 0 },
	{ "tls_export_cipherlist", CONF_STR,
	    "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH", 0 },
	{ "tls_high_cipherlist", CONF_STR, "aNULL:-aNULL:HIGH:@STRENGTH", 0 },
	{ "tls_low_cipherlist", CONF_STR,
	    "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH", 0 },
	{ "tls_medium_cipherlist", CONF_STR,
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", 0 },
	{ "tls_null_cipherlist", CONF_STR, "eNULL:!aNULL", 0 },
	{ "tls_preempt_cipherlist", CONF_BOOL, "no", 0 },
	{ "tls_session_ticket_cipher", CONF_STR, "aes-256-cbc", 0 },
	{ "tlsrelay_dns_servers", CONF_STR, "", 0 },
	{ "tlsrelay_smtpd_auth_failure_limit", CONF_INT, "3", 0 },
	{ "tlsrelay_smtpd_sasl_user_maps", CONF_STR, "", 0 },
	{ "tlsrelay_smtpd_workers", CONF_INT, "0", 0 },
	{ "transport_maps", CONF_STR, "", 0 },
};

#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static int
def_compare(const void *key, const void *elem)
{
	return strcmp(key, ((const struct conf_param_def *)elem)->name);
}

const struct conf_param_def *
conf_param_lookup(const char *name)
{
	return bsearch(name, params, N_PARAMS, sizeof(params[0]), def_compare);
}

const struct conf_param_def *
conf_param_table(size_t *count)
{
	*count = N_PARAMS;
	return params;
}

size_t
conf_param_index(const struct conf_param_def *def)
{
	return (size_t)(def - params);
}

enum conf_status
conf_param_status(const char *name)
{
	if (strcmp(name, "smtpd_use_tls") == 0 ||
	    strcmp(name, "smtpd_enforce_tls") == 0)
		return CONF_OBSOLETE;
	if (conf_param_lookup(name))
		return CONF_IMPLEMENTED;
	if (conf_is_postfix_name(name))
		return CONF_IGNORED;
	return CONF_UNKNOWN;
}

char *
conf_domain_of(const char *hostname)
{
	const char *dot = strchr(hostname, '.');

	if (dot == NULL || dot[1] == '\0')
		return xstrdup("localdomain");
	return xstrdup(dot + 1);
}

char *
conf_param_computed_default(const struct conf_param_def *def)
{
	char host[256];

	if (strcmp(def->name, "myhostname") != 0)
		return NULL;
	/* No DNS here: the name the machine calls itself is the answer. */
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (strchr(host, '.') == NULL)
		return xasprintf("%s.localdomain", host);
	return xstrdup(host);
}
