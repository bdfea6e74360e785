/* The fixtures shared by the Check suites: the Check main, a temporary
 * directory per run, commands, certificates and in-memory TLS handshakes,
 * queues, configurations and policies loaded from text, stderr capture.
 * Every helper fails the test (or, outside a test, the whole run) when
 * its set-up does not work, so a suite never goes on with half a
 * fixture. */
#ifndef TLSRELAY_TESTUTIL_H
#define TLSRELAY_TESTUTIL_H

#include <stddef.h>

#include <check.h>
#include <openssl/types.h>

#include "tlsrelay/util.h"

struct conf;
struct smtpd_policy;

/* ---- the Check main ----------------------------------------------------- */

/* Makes the run's temporary directory, calls up (if any), runs the tests
 * of make_suite() (each in a process of its own), calls down (if any),
 * removes the directory whatever the outcome and returns the exit status:
 * EXIT_SUCCESS when every test passed. CHECK_KEEP=1 in the environment
 * keeps the directory. */
int tu_main(const char *argv0, Suite *(*make_suite)(void), void (*up)(void),
    void (*down)(void));

#define CHECK_MAIN(make_suite) CHECK_MAIN_WITH(make_suite, NULL, NULL)
#define CHECK_MAIN_WITH(make_suite, up, down) \
	int main(int argc, char **argv) \
	{ \
		(void)argc; \
		return tu_main(argv[0], (make_suite), (up), (down)); \
	}

/* ---- files and commands ------------------------------------------------- */

/* The run's temporary directory, /tmp/PROGRAM.XXXXXX, shared by the
 * tests. */
const char *tu_tmpdir(void);

/* A fresh directory of a test's own, tu_tmpdir()/PREFIX.XXXXXX, its path
 * in path[size]. */
void tu_make_dir(char *path, size_t size, const char *prefix);

/* Runs the shell command made from fmt in dir, its output discarded; ends
 * the process when it fails (a fixture that cannot be built). */
void tu_run(const char *dir, const char *fmt, ...) PRINTFLIKE(2, 3);
/* Same, returning what the command wrote on stdout (caller frees). */
char *tu_run_output(const char *dir, const char *fmt, ...) PRINTFLIKE(2, 3);
/* Runs the shell command cmd, which may fail on purpose: its exit status,
 * what it wrote on stdout in *out (when out is not NULL; caller frees). */
int tu_run_status(const char *cmd, char **out);

/* The whole file, NUL-terminated (caller frees); *len (when not NULL) is
 * its length. tu_read_file fails the test when the file cannot be read,
 * tu_slurp returns "" (a file that may not have been written yet). */
char *tu_read_file(const char *path, size_t *len);
char *tu_slurp(const char *path, size_t *len);

/* ---- certificates and handshakes ---------------------------------------- */

/* One key and certificate made with the openssl command: NAME.key and
 * NAME.crt in the directory, valid for two days. */
struct tu_cert {
	const char *name;
	const char *subject;	/* -subj, e.g. "/CN=mx.test" */
	const char *issuer;	/* a cert made before; NULL: self-signed */
	const char *key;	/* "ec" (P-256, the default) or "rsa" (2048) */
	const char *ext;	/* more `openssl req` options, or NULL */
};

/* The extensions of a CA, a server and a client, for tu_cert.ext. */
#define TU_EXT_CA "-addext basicConstraints=critical,CA:TRUE " \
	"-addext keyUsage=critical,keyCertSign,cRLSign"
#define TU_EXT_LEAF "-addext basicConstraints=CA:FALSE " \
	"-addext extendedKeyUsage=serverAuth"
#define TU_EXT_CLIENT "-addext basicConstraints=CA:FALSE " \
	"-addext extendedKeyUsage=clientAuth"

/* Makes each certificate in order (an issuer before what it signs). */
void tu_make_certs(const char *dir, const struct tu_cert *certs, size_t n);

/* Connects client and server (SSL objects made and set up by the caller)
 * over a BIO pair in memory and runs the handshake to its end: 1 when both
 * sides finished it, 0 when either failed. */
int tu_tls_handshake(SSL *client, SSL *server);

/* ---- queues, configurations, policies ----------------------------------- */

/* A fresh, initialised queue directory (made as by tu_make_dir). */
void tu_make_queue(char *path, size_t size, const char *prefix);

/* The checked fixture of a suite whose tests each want a fresh queue:
 * tcase_add_checked_fixture(tc, tu_queue_setup, tu_queue_teardown). The
 * queue is tu_queue_dir. */
extern char tu_queue_dir[160];
void tu_queue_setup(void);
void tu_queue_teardown(void);

/* Queues a message from client.test[127.0.0.1], committed to incoming/;
 * its ID in id[QUEUE_ID_MAX]. */
void tu_queue_message(const char *queue, char *id, const char *sender,
    const char *const *rcpts, size_t n, long long arrival,
    const char *content, size_t len);

/* Entries in dir/sub, "." and ".." aside. */
int tu_count_files(const char *dir, const char *sub);
/* tu_queue_dir/sub/name (caller frees), and whether something is there. */
char *tu_queue_path(const char *sub, const char *name);
int tu_queue_has(const char *sub, const char *name);

/* main_cf as main.cf (with an empty master.cf); fails the test when the
 * configuration does not load. */
struct conf *tu_conf_load(const char *main_cf);

/* The restrictions of main_cf (one policy at a time: the configuration
 * it came from is kept until tu_policy_unload, which frees both). */
struct smtpd_policy *tu_policy_load(const char *main_cf);
void tu_policy_unload(struct smtpd_policy *policy);

/* ---- stderr ------------------------------------------------------------- */

/* Sends stderr (where msg_warn goes before log_open) to a temporary file
 * until tu_capture_end(), which returns what was written (caller frees). */
void tu_capture_begin(void);
char *tu_capture_end(void);

#endif
