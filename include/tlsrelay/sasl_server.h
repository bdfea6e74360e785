/* sasl_server: the SMTP server's authentication backends behind one
 * interface, chosen by smtpd_sasl_type as in Postfix:
 *
 *	tlsrelay	the built-in password table
 *			(tlsrelay_smtpd_sasl_user_maps; PLAIN and LOGIN),
 *	dovecot		Dovecot's auth server over its socket
 *			(smtpd_sasl_path), protocol 1.x,
 *	cyrus		the Cyrus SASL library (application smtpd_sasl_path,
 *			configuration in cyrus_sasl_config_path).
 *
 * smtpd_auth.c speaks SMTP (RFC 4954: 334 challenges, "*" to cancel,
 * 235/535/454, the log lines) and relays base64 blobs; a backend turns
 * them into a verdict. Every verdict may come later, from the worker's
 * event loop: a backend that blocks (crypt(3), a library that calls
 * saslauthd) runs that part through offload.h, one that talks to a
 * server does it without blocking. */
#ifndef TLSRELAY_SASL_SERVER_H
#define TLSRELAY_SASL_SERVER_H

#include <stddef.h>

struct conf;
struct event_base;
struct sasl_server;
struct sasl_exchange;

/* What a mechanism exposes, as Cyrus SASL and Dovecot describe it;
 * smtpd_sasl_security_options and smtpd_sasl_tls_security_options
 * (noplaintext, noactive, nodictionary, noanonymous, mutual_auth,
 * forward_secrecy) filter on these. */
#define SASL_MECH_F_PLAINTEXT		0x01
#define SASL_MECH_F_ACTIVE		0x02	/* open to active attacks */
#define SASL_MECH_F_DICTIONARY		0x04
#define SASL_MECH_F_ANONYMOUS		0x08
#define SASL_MECH_F_MUTUAL_AUTH		0x10	/* has it */
#define SASL_MECH_F_FORWARD_SECRECY	0x20	/* has it */

struct sasl_mech {
	char *name;		/* upper case: "PLAIN", "CRAM-MD5" */
	unsigned flags;		/* SASL_MECH_F_* */
};

/* What the backend may pass on (Dovecot's rip=, lip=, secured; Cyrus's
 * iplocalport/ipremoteport and SSF). */
struct sasl_client_info {
	const char *client_addr;	/* text */
	int client_port;
	const char *local_addr;
	int local_port;
	int tls_active;			/* "secured" */
	int tls_cipher_bits;		/* 0 without TLS */
	const char *service;		/* "smtp" */
};

enum sasl_verdict {
	SASL_CONTINUE,		/* send "334 " challenge, wait for a reply */
	SASL_SUCCESS,		/* 235: username is the authenticated name */
	SASL_FAILURE,		/* 535 5.7.8 */
	SASL_TEMPFAIL,		/* 454 4.7.0 Temporary authentication failure */
	SASL_BADPROTO,		/* 501 5.5.2: the reply was not base64 or not
				 * a message of the mechanism */
};

struct sasl_result {
	enum sasl_verdict verdict;
	const char *challenge;	/* CONTINUE: base64, "" for an empty one */
	const char *username;	/* SUCCESS */
	/* FAILURE, TEMPFAIL: the reason Postfix puts in the log line and
	 * after "535 5.7.8 Error: authentication failed: " or "454 4.7.0
	 * Temporary authentication failure: " ("authentication failure",
	 * Dovecot's reason=): never a secret. */
	const char *reason;
	/* The login name the client gave, when the backend knows it (the
	 * log's sasl_username= of a failure); NULL otherwise. */
	const char *attempted;
};

/* Called once per start or step, perhaps before start/step returns,
 * perhaps later from the loop. The strings live until the next call on
 * the exchange or its end. After a final verdict (anything but
 * CONTINUE) the backend no longer touches the exchange, and fn may call
 * end() on it when the call came from the loop. */
typedef void sasl_result_fn(void *arg, const struct sasl_result *result);

struct sasl_backend {
	const char *type;	/* smtpd_sasl_type's value */
	/* Per service, in the supervisor (as root, before any fork): reads
	 * and checks what the service's configuration names. NULL with
	 * *err = "FILE:LINE: parameter: reason". */
	struct sasl_server *(*server_new)(const struct conf *conf,
	    char **err);
	void (*server_free)(struct sasl_server *server);
	/* In a worker, after the fork, before the first session: the
	 * loop the exchanges run in. 0, or -1 with *err. */
	int (*server_attach)(struct sasl_server *server,
	    struct event_base *base, char **err);
	/* The mechanisms the backend offers now, in its order. 0 when it
	 * cannot say (the auth server is down): no AUTH in EHLO. */
	size_t (*mechanisms)(struct sasl_server *server,
	    const struct sasl_mech **mechs);
	/* AUTH mech [initial]: initial is the base64 initial response, "="
	 * for an empty one, NULL for none. mech is one of mechanisms(). */
	struct sasl_exchange *(*start)(struct sasl_server *server,
	    const struct sasl_client_info *client, const char *mech,
	    const char *initial, sasl_result_fn *fn, void *arg);
	/* The client's base64 reply to a CONTINUE. */
	void (*step)(struct sasl_exchange *exchange, const char *response);
	/* Ends an exchange: after SUCCESS/FAILURE/TEMPFAIL/BADPROTO, on
	 * "*" (RFC 4954 cancel), or when the session goes away while a
	 * verdict is pending (fn is not called after this). */
	void (*end)(struct sasl_exchange *exchange);
};

extern const struct sasl_backend sasl_backend_tlsrelay;
extern const struct sasl_backend sasl_backend_dovecot;
extern const struct sasl_backend sasl_backend_cyrus;

/* The backend named by smtpd_sasl_type (src/smtpd/sasl_server.c holds
 * the table); NULL with *err (caller frees) when it is not one of the
 * above, or was not built in. */
const struct sasl_backend *sasl_backend_find(const char *type, char **err);

#endif
