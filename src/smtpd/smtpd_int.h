/* Internal to the smtpd subsystem: the parsed per-service policy and the
 * session entry points the worker calls. */
#ifndef TLSRELAY_SMTPD_INT_H
#define TLSRELAY_SMTPD_INT_H

#include <stddef.h>
#include <sys/socket.h>

#include "tlsrelay/anvil.h"
#include "tlsrelay/smtpd.h"
#include "tlsrelay/smtpd_parse.h"
#include "tlsrelay/smtpd_policy.h"

struct event_base;
struct cidr_list;
struct domain_list;
struct restrict_set;
struct smtpd_table;

struct sasl_backend;
struct sasl_server;

/* What smtpd_sasl_security_options (or its _tls_ twin) leaves: a
 * mechanism qualifies when it has none of forbid and all of require
 * (SASL_MECH_F_* of sasl_server.h). */
struct sasl_security {
	unsigned forbid;	/* noplaintext, noactive, ... */
	unsigned require;	/* mutual_auth, forward_secrecy */
};

struct smtpd_policy {
	const struct conf *conf;
	const char *myhostname;
	char *banner;			/* expanded smtpd_banner */
	const char *queue_directory;
	int tls_level;			/* enum tls_level */
	int wrappermode;
	int upstream_proxy;		/* a PROXY protocol header first */
	long long upstream_proxy_timeout;	/* seconds, for all of it */
	int tls_loglevel;
	int tls_received_header;
	int helo_required;
	int vrfy_disabled;
	long long message_size_limit;	/* 0 = unlimited */
	long long queue_minfree;
	size_t line_limit;		/* line_length_limit, >= 512 */
	long long recipient_limit;
	long long recipient_overshoot_limit;
	long long timeout;		/* seconds */
	long long starttls_timeout;
	int per_request_deadline;	/* smtpd_per_request_deadline */
	long long min_data_rate;	/* smtpd_min_data_rate, bytes/s */
	long long hard_error_limit;
	long long soft_error_limit;
	long long error_sleep_time;
	long long conn_count_limit;	/* 0 = unlimited */
	enum bare_lf_mode bare_lf_mode;
	struct cidr_list *mynetworks;
	struct cidr_list *bare_lf_exclusions;
	struct cidr_list *event_limit_exceptions;
	struct domain_list *relay_domains;
	/* Sender-specified routing in a local part (user%host@, user!host@,
	 * "user@host"@): allow_untrusted_routing, and which operators count
	 * (allow_percent_hack, swap_bangpath; '@' always). */
	int allow_untrusted_routing;
	int percent_routes, bang_routes;
	struct restrict_set *restrictions;	/* smtpd_restrict*.c */

	/* SMTP AUTH and client certificates. */
	int sasl_enabled;		/* smtpd_sasl_auth_enable */
	int tls_auth_only;		/* smtpd_tls_auth_only, or level
					 * encrypt: AUTH only under TLS */
	const struct sasl_backend *sasl_backend;	/* smtpd_sasl_type */
	struct sasl_server *sasl_server;	/* NULL without AUTH */
	const char *sasl_service;	/* smtpd_sasl_service */
	struct sasl_security sasl_sec;	/* without TLS */
	struct sasl_security sasl_tls_sec;	/* ... and under TLS */
	int broken_sasl_auth_clients;	/* also "AUTH=" in EHLO */
	int sasl_authenticated_header;
	long long auth_failure_limit;	/* 0: smtpd_hard_error_limit */
	long long auth_rate_limit;	/* smtpd_client_auth_rate_limit */
	long long anvil_time_unit;	/* anvil_rate_time_unit, seconds */
	const char *fingerprint_digest;
	struct smtpd_table *sender_login_maps;
	struct smtpd_table *relay_clientcerts;
	struct smtpd_table *rbl_reply_maps;	/* DNSBL domain -> template */
};

/* smtpd_tables.c: a parameter's table list, re-opened when its file
 * changes (see there). Open returns NULL with *err naming the parameter;
 * an empty value gives an empty table. */
struct smtpd_table *smtpd_table_open(const struct conf *conf,
    int param_id, char **err);
/* The same for a table list given by value (check_client_access
 * hash:/etc/x); label names it in log lines. *err without a parameter. */
struct smtpd_table *smtpd_table_open_spec(const char *spec,
    const char *label, char **err);
const char *smtpd_table_lookup(struct smtpd_table *t, const char *key,
    int *error);
const char *smtpd_table_last_name(const struct smtpd_table *t);
int smtpd_table_empty(const struct smtpd_table *t);
void smtpd_table_free(struct smtpd_table *t);

/* smtpd_auth.c: parses smtpd_sasl_security_options (value); -1 with
 * *err on an unknown option. */
int smtpd_sasl_security(const char *value, struct sasl_security *sec,
    char **err);
/* 1 when a mechanism with flags (SASL_MECH_F_*) qualifies. */
int sasl_security_allows(const struct sasl_security *sec, unsigned flags);
/* In a worker after the fork: the backend's exchanges run in base. */
void smtpd_auth_attach(struct smtpd_policy *policy, struct event_base *base);


struct anvil;

/* Starts a session on an accepted socket. done is called once when the
 * session has ended and freed itself. */
void smtpd_session_start(struct event_base *base, int fd,
    const struct sockaddr *sa, socklen_t salen,
    const struct smtpd_listener *listener, struct anvil *anvil,
    int worker_index, void (*done)(void));
/* Asks every session to end: idle ones get 421 at once, one in DATA
 * finishes its message first. */
void smtpd_sessions_shutdown(void);

/* smtpd_worker.c: 1 while the worker is under stress (its sessions at
 * three quarters of its cap): sessions then use Postfix's stress
 * defaults (smtpd_timeout 10s, per-request deadlines). */
int smtpd_worker_stressed(void);
/* smtpd_worker.c: the worker's resolver, for client names
 * (smtpd_peername_lookup) and the DNS restrictions. */
struct dns;
struct dns *smtpd_worker_dns(void);

/* smtpd_commit.c: the worker's commit thread, started with the loop
 * (msg_fatal when it cannot start) and stopped after it, when every
 * session, and so every commit, is over. */
void smtpd_commit_start(struct event_base *base);
void smtpd_commit_stop(void);

#endif
