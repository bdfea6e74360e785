/* stats_family: the metric families, their labels and their help texts
 * (man/tlsrelayd.8, METRICS, says the same). */
#include "config.h"

#include "stats_int.h"

const struct stats_family_def stats_families[STAT_N_FAMILIES] = {
	[STAT_SMTPD_CONNECTIONS] = {
		"smtpd_connections", 0, 1, { "service" },
		"Connections accepted by the SMTP server, by master.cf "
		"service.",
	},
	[STAT_TLS_HANDSHAKES] = {
		"tls_handshakes", 0, 3, { "side", "protocol", "cipher" },
		"TLS handshakes completed, by side (smtpd: we are the server; "
		"smtp: the client), protocol and cipher.",
	},
	[STAT_TLS_HANDSHAKE_FAILURES] = {
		"tls_handshake_failures", 0, 2, { "side", "reason" },
		"TLS handshakes that failed, by side and reason class.",
	},
	[STAT_DELIVERIES] = {
		"deliveries", 0, 2, { "status", "tls_level" },
		"Delivery attempts per recipient, by status (sent, deferred, "
		"bounced) and the destination's TLS security level.",
	},
	[STAT_DEFERRALS] = {
		"deferrals", 0, 1, { "reason" },
		"Recipients deferred, by reason class.",
	},
	[STAT_TLS_SESSION_CACHE] = {
		"tls_session_cache_lookups", 0, 2, { "side", "result" },
		"TLS session cache lookups, by side and result (hit, miss).",
	},
	[STAT_SMTP_CONNECTIONS_ACTIVE] = {
		"smtp_connections_active", 1, 1, { "class" },
		"Outbound SMTP connections open now, by destination class "
		"(relayhost, transport, mx).",
	},
};
