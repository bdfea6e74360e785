/* smtpd: the inbound SMTP server. The parsers below see untrusted bytes:
 * each has a Check suite (tests/unit) and a fuzz harness (tests/fuzz). */
#ifndef TLSRELAY_SMTPD_H
#define TLSRELAY_SMTPD_H

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
struct smtp_mail_params {
	int has_size;
	unsigned long long size;
	int body_8bitmime;	/* BODY=8BITMIME (0 for 7BIT or absent) */
	int smtputf8;		/* SMTPUTF8 */
};

/* Parses the argument of MAIL ("FROM:<a@b> SIZE=10 BODY=8BITMIME"). On
 * success returns NULL and sets *addr (malloc'd, without angle brackets;
 * "" for the null sender). On error returns the complete SMTP reply to
 * send, e.g. "501 5.5.4 Syntax: MAIL FROM:<address>", "501 5.1.7 Bad
 * sender address syntax", "555 5.5.4 Unsupported option: FOO=1"; *addr is
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

/* ---- connection counting across workers (src/smtpd/anvil.c) ---- */

/* A table in shared memory, created by the supervisor before it forks the
 * workers, counting open connections per client address over all workers
 * (smtpd_client_connection_count_limit). Each worker owns one column, so
 * the supervisor can clear the counts of a worker that died. */
struct anvil;

struct anvil *anvil_create(int max_workers);
void anvil_destroy(struct anvil *anvil);
/* Counts a new connection; returns the client's total after counting. */
int anvil_connect(struct anvil *anvil, int worker, const char *addr);
void anvil_disconnect(struct anvil *anvil, int worker, const char *addr);
void anvil_worker_reset(struct anvil *anvil, int worker);

/* ---- per-service policy (src/smtpd/smtpd_policy.c) ---- */

struct conf;

/* Everything a session needs from its service's conf, parsed and checked
 * once before the workers start: limits, mynetworks, relay_domains, the
 * restriction lists. */
struct smtpd_policy;

/* Returns NULL with *err naming the parameter (and its file:line) when a
 * value is invalid, a restriction is unknown, or the restrictions would
 * make an open relay (no reject_unauth_destination, defer_unauth_destination,
 * reject or defer in smtpd_relay_restrictions or
 * smtpd_recipient_restrictions, as Postfix requires). */
struct smtpd_policy *smtpd_policy_new(const struct conf *conf, char **err);
void smtpd_policy_free(struct smtpd_policy *policy);

enum restrict_result { RESTRICT_DUNNO, RESTRICT_PERMIT, RESTRICT_REJECT };

/* What the restrictions may look at. */
struct restrict_query {
	const char *client_addr;	/* text form */
	const char *client_name;
	const char *helo;		/* may be NULL */
	const char *sender;		/* may be NULL */
	const char *recipient;		/* may be NULL */
	int sasl_authenticated;
	const char *sasl_username;	/* the login name, NULL when none */
	int tls_client_trusted;
	/* Fingerprints of the client certificate (smtpd_tls_fingerprint_digest,
	 * "AB:CD:..."), NULL without one: permit_tls_clientcerts. */
	const char *ccert_fingerprint;
	const char *ccert_pkey_fingerprint;
};

/* Evaluates smtpd_client_, helo_, sender_, relay_ and recipient_
 * restrictions in that order for one RCPT (smtpd_delay_reject). On
 * RESTRICT_REJECT, reply gets the full SMTP reply, e.g. "554 5.7.1 <x@y>:
 * Relay access denied". */
enum restrict_result smtpd_policy_check_rcpt(const struct smtpd_policy *policy,
    const struct restrict_query *query, char *reply, size_t replylen);
/* 1 when addr is in mynetworks. */
int smtpd_policy_in_mynetworks(const struct smtpd_policy *policy,
    const char *addr);

/* ---- SMTP AUTH (RFC 4954): src/smtpd/sasl_*.c, smtpd_auth.c ---- */

/* RFC 4616 asks a server to take names and passwords of 255 octets;
 * passwords may be longer here (passphrases). */
#define SASL_NAME_MAX	255
#define SASL_PASSWD_MAX	1024

/* Decodes base64 (RFC 4648: padding required, no white space) into out,
 * which has room for outlen bytes. Returns the decoded length, or -1 when
 * in is not base64 or does not fit. "=" is RFC 4954's empty response and
 * decodes to 0 bytes. */
long sasl_base64_decode(const char *in, unsigned char *out, size_t outlen);
/* The base64 text of len bytes; caller frees. */
char *sasl_base64_encode(const void *data, size_t len);

enum sasl_decode {
	SASL_DECODE_OK,
	SASL_DECODE_BASE64,	/* not base64 (501 5.5.2) */
	SASL_DECODE_FORM,	/* base64, but not a message of the mechanism */
};

struct sasl_credentials {
	char *authzid;		/* "" when the client sent none */
	char *authcid;
	char *passwd;
};

/* PLAIN (RFC 4616): the base64 of [authzid] NUL authcid NUL passwd.
 * authcid and passwd must not be empty, no part may hold another NUL,
 * names are at most SASL_NAME_MAX bytes and passwd SASL_PASSWD_MAX. On OK
 * cred holds copies; sasl_credentials_clear() wipes and frees them. */
enum sasl_decode sasl_plain_decode(const char *b64,
    struct sasl_credentials *cred);
/* LOGIN: one base64 response, the user name or the password, at most max
 * bytes, not empty, without NUL. On OK *out gets a copy (caller wipes
 * and frees). */
enum sasl_decode sasl_login_decode(const char *b64, size_t max, char **out);
void sasl_credentials_clear(struct sasl_credentials *cred);
/* Overwrites and frees a string that held a password. */
void sasl_secret_free(char *secret);

/* Passwords are crypt(3) hashes (libxcrypt). New ones are yescrypt; any
 * method libcrypt verifies is accepted ($y$, $6$ SHA-512-crypt, $2b$
 * bcrypt, ...). */
#define SASL_HASH_PREFIX	"$y$"

/* A hash of password with a fresh random salt for method prefix ("$y$",
 * "$6$", "$2b$"). NULL with *err set (caller frees). */
char *sasl_password_hash(const char *password, const char *prefix,
    char **err);
/* 1 when password matches hash, else 0. hash NULL means "no such user";
 * it and a hash not of the form "$id$..." (a locked "*" or "!", old DES)
 * are checked against a dummy hash of the kind seen last, so that they
 * take as long as a wrong password, and fail. The comparison is
 * constant-time. */
int sasl_password_check(const char *hash, const char *password);
/* Makes the dummy hash now (before the workers fork), not during the
 * first login of an unknown user. */
void sasl_password_prepare(void);
/* How many times sasl_password_check ran crypt(3): a test hook. */
unsigned long sasl_password_check_count(void);

/* `tlsrelay passwd`: sets (hash not NULL) or removes (hash NULL) user's
 * entry in the postmap-style text file path, keeping comments, the other
 * entries and their order. The new text goes to a temporary file in the
 * same directory, is synced and renamed over path, keeping path's mode
 * and (as root) owner; a new file gets mode 0600. user is folded to lower
 * case (table keys are). Returns 0; 1 when removing a user that has no
 * entry (nothing is written); -1 with *err set (caller frees). */
int sasl_passwd_update(const char *path, const char *user, const char *hash,
    char **err);
/* 1 when name can be a table key and a SASL login name: 1 to
 * SASL_NAME_MAX printable bytes, no white space, not starting with '#'. */
int sasl_username_valid(const char *name);

enum sasl_result { SASL_AUTH_OK, SASL_AUTH_FAIL, SASL_AUTH_TEMPFAIL };

/* Checks user and password against tlsrelay_smtpd_sasl_user_maps of the
 * policy (a table re-opened when its file changes). TEMPFAIL when the
 * lookup failed. An unknown user costs one crypt(3) like a known one. */
enum sasl_result smtpd_sasl_check(const struct smtpd_policy *policy,
    const char *user, const char *password);

/* ---- the worker (src/smtpd/smtpd_worker.c) ---- */

/* One inet service of master.cf: its listening socket, its conf (with -o
 * overrides) and its TLS context. */
struct smtpd_listener {
	int fd;
	char *name;		/* service name, for logging */
	struct conf *conf;	/* owned by the generation */
	struct ssl_ctx_st *ssl_ctx;	/* NULL when TLS is off */
	struct smtpd_policy *policy;	/* owned by the generation */
};

/* Runs the event loop of one worker until SIGTERM and the last session has
 * ended. Returns the exit status for the process. */
int smtpd_worker_run(struct smtpd_listener *listeners, size_t n_listeners,
    struct anvil *anvil, int worker_index);

#endif
