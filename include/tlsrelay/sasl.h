/* sasl: SMTP AUTH on the server side: the decoders of what the client
 * sends (untrusted bytes, fuzzed), password hashes, the password table.
 * The backends that check logins are in sasl_server.h. */
#ifndef TLSRELAY_SASL_H
#define TLSRELAY_SASL_H

#include <stddef.h>

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
 * constant-time. Any thread may call it (offload.h). */
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
/* ---- Dovecot's authentication protocol, version 1.x: what the auth
 * server sends (src/smtpd/sasl_dovecot_parse.c; untrusted, fuzzed) ---- */

/* A longer line from the server ends the connection. */
#define DOVECOT_LINE_MAX	16384
/* RFC 4422 3.1: a mechanism name is 1 to 20 of A-Z 0-9 - _. */
#define SASL_MECH_NAME_MAX	20

enum dovecot_line {
	DOVECOT_BAD,		/* malformed: the connection is dropped */
	DOVECOT_OTHER,		/* SPID, CUID, COOKIE, a newer command */
	DOVECOT_VERSION,	/* major, minor */
	DOVECOT_MECH,		/* mech, flags, private */
	DOVECOT_DONE,		/* end of the handshake */
	DOVECOT_OK,		/* id, user */
	DOVECOT_CONT,		/* id, data */
	DOVECOT_FAIL,		/* id, [user], [reason], temp */
};

struct dovecot_reply {
	unsigned major, minor;
	char mech[SASL_MECH_NAME_MAX + 1];	/* upper case */
	unsigned flags;		/* SASL_MECH_F_* (sasl_server.h) */
	int private_mech;	/* "private": not to be announced */
	unsigned id;
	const char *data;	/* CONT: base64, perhaps "" */
	const char *user;	/* OK: never NULL; FAIL: NULL when absent */
	const char *reason;	/* FAIL: NULL when absent */
	int temp;		/* FAIL: "temp", a temporary failure */
};

/* Parses one line (without its LF) as the server sent it, in place: the
 * strings of r point into line, with Dovecot's tab escapes undone. A
 * user name has 1 to SASL_NAME_MAX bytes and no control character; CONT
 * data holds base64 characters only. */
enum dovecot_line dovecot_parse_line(char *line, struct dovecot_reply *r);

/* 1 when name can be a table key and a SASL login name: 1 to
 * SASL_NAME_MAX printable bytes, no white space, not starting with '#'. */
int sasl_username_valid(const char *name);

#endif
