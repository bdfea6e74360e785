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

/* SMTP AUTH mechanisms (smtpd_auth.c). */
#define SASL_MECH_PLAIN	0x01
#define SASL_MECH_LOGIN	0x02

struct smtpd_policy {
	const struct conf *conf;
	const char *myhostname;
	char *banner;			/* expanded smtpd_banner */
	const char *queue_directory;
	int tls_level;			/* enum tls_level */
	int wrappermode;
	int tls_loglevel;
	int tls_received_header;
	int helo_required;
	int vrfy_disabled;
	long long message_size_limit;	/* 0 = unlimited */
	long long queue_minfree;
	size_t line_limit;		/* line_length_limit, >= 512 */
	long long recipient_limit;
	long long timeout;		/* seconds */
	long long starttls_timeout;
	long long hard_error_limit;
	long long soft_error_limit;
	long long error_sleep_time;
	long long conn_count_limit;	/* 0 = unlimited */
	enum bare_lf_mode bare_lf_mode;
	struct cidr_list *mynetworks;
	struct cidr_list *bare_lf_exclusions;
	struct cidr_list *event_limit_exceptions;
	struct domain_list *relay_domains;
	struct restrict_set *restrictions;	/* smtpd_restrict*.c */

	/* SMTP AUTH and client certificates. */
	int sasl_enabled;		/* smtpd_sasl_auth_enable */
	int tls_auth_only;		/* smtpd_tls_auth_only, or level
					 * encrypt: AUTH only under TLS */
	unsigned sasl_mechs;		/* SASL_MECH_* without TLS */
	unsigned sasl_tls_mechs;	/* ... and under TLS */
	int sasl_authenticated_header;
	long long auth_failure_limit;	/* 0: smtpd_hard_error_limit */
	const char *fingerprint_digest;
	struct smtpd_table *sasl_users;	/* the password table */
	struct smtpd_table *sender_login_maps;
	struct smtpd_table *relay_clientcerts;
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

/* smtpd_auth.c: the mechanisms smtpd_sasl_security_options (value)
 * leaves, as SASL_MECH_* bits; -1 with *err on an unknown option. */
int smtpd_sasl_mechanisms(const char *value, unsigned *mechs, char **err);


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
