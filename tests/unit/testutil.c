/* The fixtures shared by the Check suites (testutil.h). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/util.h"
#include "testutil.h"

/* ---- the Check main ----------------------------------------------------- */

static char run_tmpdir[128];

int
tu_main(const char *argv0, Suite *(*make_suite)(void), void (*up)(void),
    void (*down)(void))
{
	const char *slash = strrchr(argv0, '/');
	const char *name = slash != NULL ? slash + 1 : argv0;
	SRunner *sr;
	int failed;

	snprintf(run_tmpdir, sizeof(run_tmpdir), "/tmp/%s.XXXXXX", name);
	if (mkdtemp(run_tmpdir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	if (up != NULL)
		up();
	sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (down != NULL)
		down();
	if (getenv("CHECK_KEEP") != NULL)
		fprintf(stderr, "%s: kept %s\n", name, run_tmpdir);
	else
		remove_tree(run_tmpdir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- files and commands ------------------------------------------------- */

const char *
tu_tmpdir(void)
{
	return run_tmpdir;
}

void
tu_make_dir(char *path, size_t size, const char *prefix)
{
	ck_assert_int_lt(snprintf(path, size, "%s/%s.XXXXXX", run_tmpdir,
	    prefix), (int)size);
	ck_assert_ptr_nonnull(mkdtemp(path));
}

void
tu_run(const char *dir, const char *fmt, ...)
{
	va_list ap;
	char *cmd, *line;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	line = xasprintf("cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	if (system(line) != 0) {
		fprintf(stderr, "failed: %s\n", line);
		exit(EXIT_FAILURE);
	}
	free(line);
	free(cmd);
}

/* popen(line) to its end: stdout in *out (or dropped), the wait status. */
static int
read_command(const char *line, char **out)
{
	struct strbuf sb;
	char buf[4096];
	FILE *fp;
	size_t n;
	int status;

	if ((fp = popen(line, "r")) == NULL)
		return -1;
	strbuf_init(&sb);
	strbuf_puts(&sb, "");
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		strbuf_append(&sb, buf, n);
	status = pclose(fp);
	if (out != NULL)
		*out = strbuf_steal(&sb);
	else
		strbuf_free(&sb);
	return status;
}

char *
tu_run_output(const char *dir, const char *fmt, ...)
{
	va_list ap;
	char *cmd, *line, *out;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	line = xasprintf("cd '%s' && (%s) 2>/dev/null", dir, cmd);
	if (read_command(line, &out) != 0) {
		fprintf(stderr, "failed: %s\n", line);
		exit(EXIT_FAILURE);
	}
	free(line);
	free(cmd);
	return out;
}

int
tu_run_status(const char *cmd, char **out)
{
	int status = read_command(cmd, out);

	ck_assert_msg(status != -1, "cannot run %s", cmd);
	ck_assert_msg(WIFEXITED(status), "%s: no normal exit", cmd);
	return WEXITSTATUS(status);
}

char *
tu_read_file(const char *path, size_t *len)
{
	char *err = NULL, *text = file_read(path, len, &err);

	ck_assert_msg(text != NULL, "%s", err ? err : path);
	return text;
}

char *
tu_slurp(const char *path, size_t *len)
{
	char *err = NULL, *text = file_read(path, len, &err);

	if (text == NULL) {
		free(err);
		if (len != NULL)
			*len = 0;
		return xstrdup("");
	}
	return text;
}

/* ---- certificates ------------------------------------------------------- */

void
tu_make_certs(const char *dir, const struct tu_cert *certs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct tu_cert *c = &certs[i];
		const char *key = c->key != NULL && strcmp(c->key, "rsa") == 0 ?
		    "-newkey rsa:2048 -nodes" :
		    "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
		char *ca = c->issuer == NULL ? xstrdup("") :
		    xasprintf("-CA %s.crt -CAkey %s.key", c->issuer,
		    c->issuer);

		tu_run(dir, "openssl req -x509 -days 2 %s %s %s -keyout %s.key "
		    "-out %s.crt -subj '%s'", key, ca, c->ext ? c->ext : "",
		    c->name, c->name, c->subject);
		free(ca);
	}
}

/* One step of a handshake: 0 to go on, -1 on failure. */
static int
handshake_step(SSL *ssl, int *done)
{
	int r, e;

	if (*done)
		return 0;
	if ((r = SSL_do_handshake(ssl)) == 1) {
		*done = 1;
		return 0;
	}
	e = SSL_get_error(ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

int
tu_tls_handshake(SSL *client, SSL *server)
{
	BIO *cbio, *sbio;
	int cdone = 0, sdone = 0;

	ck_assert_int_eq(BIO_new_bio_pair(&cbio, 0, &sbio, 0), 1);
	SSL_set_bio(client, cbio, cbio);
	SSL_set_bio(server, sbio, sbio);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	for (int i = 0; i < 100 && !(cdone && sdone); i++)
		if (handshake_step(client, &cdone) < 0 ||
		    handshake_step(server, &sdone) < 0)
			break;
	return cdone && sdone;
}

/* ---- queues, configurations, policies ---------------------------------- */

void
tu_make_queue(char *path, size_t size, const char *prefix)
{
	char *err = NULL;

	tu_make_dir(path, size, prefix);
	ck_assert_msg(spool_init(path, (uid_t)-1, (gid_t)-1, &err) == 0,
	    "spool_init: %s", err);
}

char tu_queue_dir[160];

void
tu_queue_setup(void)
{
	tu_make_queue(tu_queue_dir, sizeof(tu_queue_dir), "q");
}

void
tu_queue_teardown(void)
{
	remove_tree(tu_queue_dir);
}

void
tu_queue_message(const char *queue, char *id, const char *sender,
    const char *const *rcpts, size_t n, long long arrival,
    const char *content, size_t len)
{
	struct spool_envelope env;
	struct spool_writer *w;
	char *err = NULL;

	memset(&env, 0, sizeof(env));
	env.sender = sender;
	env.recipients = rcpts;
	env.n_recipients = n;
	env.client_name = "client.test";
	env.client_addr = "127.0.0.1";
	env.helo_name = "client.test";
	env.protocol = "ESMTP";
	env.tls_info = "";
	env.arrival_sec = arrival;
	w = spool_open(queue, &env, &err);
	ck_assert_msg(w != NULL, "spool_open: %s", err);
	snprintf(id, QUEUE_ID_MAX, "%s", spool_id(w));
	ck_assert_int_eq(spool_write(w, content, len), 0);
	ck_assert_msg(spool_commit(w, &err) == 0, "spool_commit: %s", err);
}

char *
tu_queue_path(const char *sub, const char *name)
{
	return xasprintf("%s/%s/%s", tu_queue_dir, sub, name);
}

int
tu_queue_has(const char *sub, const char *name)
{
	char *path = tu_queue_path(sub, name);
	struct stat st;
	int rc = lstat(path, &st) == 0;

	free(path);
	return rc;
}

int
tu_count_files(const char *dir, const char *sub)
{
	char *path = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	free(path);
	return n;
}

struct conf *
tu_conf_load(const char *main_cf)
{
	char *err = NULL;
	struct conf *conf = conf_load_strings(main_cf, "main.cf", NULL,
	    "master.cf", &err);

	ck_assert_msg(conf != NULL, "conf: %s", err ? err : "?");
	return conf;
}

static struct conf *policy_conf;

struct smtpd_policy *
tu_policy_load(const char *main_cf)
{
	struct smtpd_policy *policy;
	char *err = NULL;

	ck_assert_ptr_null(policy_conf);
	policy_conf = tu_conf_load(main_cf);
	policy = smtpd_policy_new(policy_conf, &err);
	ck_assert_msg(policy != NULL, "policy: %s", err ? err : "");
	return policy;
}

void
tu_policy_unload(struct smtpd_policy *policy)
{
	smtpd_policy_free(policy);
	conf_free(policy_conf);
	policy_conf = NULL;
}

/* ---- stderr ------------------------------------------------------------- */

static int saved_stderr = -1;
static char capture_path[64];

void
tu_capture_begin(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "/tmp/tu_stderr.XXXXXX");
	fd = mkstemp(capture_path);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

char *
tu_capture_end(void)
{
	char *text;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	text = tu_read_file(capture_path, NULL);
	unlink(capture_path);
	return text;
}
