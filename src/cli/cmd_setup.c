/* tlsrelay setup: the one step after `make install`.
 *
 *	tlsrelay setup [-c confdir]
 *
 * As root: main.cf and master.cf from the installed samples when there
 * are none yet, the mail_owner user and the setgid_group group when they
 * are missing (useradd and groupadd, as Debian's packages create system
 * users), then queue_directory and data_directory with the owners and
 * modes tlsrelayd gives them (setup_directories, shared with the
 * daemon). Running it again changes nothing that is right already.
 *
 * A main.cf made now also gets its outbound TLS level, decided once: dane
 * when the resolver it would use is on this host and validates DNSSEC,
 * else may (dane_default). An existing main.cf is never edited, and the
 * daemon never changes its level when the resolver changes its mind. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/setup.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

#include "cli.h"
#include "resolver_probe.h"

/* confdir/name from confdir/name.sample, unless it exists: 1 when it
 * was made, 0 when it was there, -1 on an error (said). */
static int
install_sample(const char *confdir, const char *name)
{
	char *path = xasprintf("%s/%s", confdir, name);
	char *sample = xasprintf("%s.sample", path);
	char *text, *err = NULL;
	size_t len;
	int fd, rc = 0;

	if (access(path, F_OK) == 0 || (text = file_read(sample, &len,
	    &err)) == NULL) {
		if (err != NULL && access(path, F_OK) != 0) {
			fprintf(stderr, "tlsrelay: error: %s, and no %s: "
			    "write one\n", err, path);
			rc = -1;
		}
		free(err);
		free(path);
		free(sample);
		return rc;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, text, len) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "tlsrelay: error: %s: %s\n", path,
		    strerror(errno));
		rc = -1;
	} else {
		printf("tlsrelay setup: %s made from %s\n", path, sample);
		rc = 1;
	}
	if (fd >= 0)
		close(fd);
	free(text);
	free(path);
	free(sample);
	return rc;
}

static int
run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "tlsrelay: error: %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
make_group(const char *name)
{
	char *argv[] = { "groupadd", "--system", (char *)name, NULL };

	if (getgrnam(name) != NULL)
		return 0;
	if (run(argv) < 0) {
		fprintf(stderr, "tlsrelay: error: groupadd --system %s "
		    "failed\n", name);
		return -1;
	}
	printf("tlsrelay setup: group %s created\n", name);
	return 0;
}

static int
make_user(const char *name)
{
	char *argv[] = { "useradd", "--system", "--no-create-home",
	    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
	    (char *)name, NULL };

	if (getpwnam(name) != NULL)
		return 0;
	if (run(argv) < 0) {
		fprintf(stderr, "tlsrelay: error: useradd --system %s "
		    "failed\n", name);
		return -1;
	}
	printf("tlsrelay setup: user %s created\n", name);
	return 0;
}

/* ---- the DANE default of a new main.cf ------------------------------- */

/* "smtp_tls_security_level = may" alone on its line (no continuation
 * follows): the line the sample sets the level with, replaced as a
 * whole by the DANE lines. */
static int
is_may_line(const char *line, size_t len, const char *next)
{
	static const char name[] = "smtp_tls_security_level";
	char *text = xstrndup(line, len);
	char *p = text;
	int match = 0;

	if (strncmp(p, name, sizeof(name) - 1) == 0) {
		p = str_trim(p + sizeof(name) - 1);
		if (*p == '=')
			match = strcmp(str_trim(p + 1), "may") == 0;
	}
	free(text);
	/* A line that starts with white space continues the value. */
	return match && (next == NULL || (*next != ' ' && *next != '\t'));
}

/* text with the line lineno (1 = the first) replaced by block when it is
 * the sample's may line; else text with block at the end. */
static char *
put_block(const char *text, int lineno, const char *block)
{
	const char *line = text, *end;

	for (int n = 1; n < lineno && line != NULL; n++)
		if ((line = strchr(line, '\n')) != NULL)
			line++;
	if (lineno > 0 && line != NULL && *line != '\0') {
		end = strchr(line, '\n');
		if (is_may_line(line, end ? (size_t)(end - line) :
		    strlen(line), end ? end + 1 : NULL))
			return xasprintf("%.*s%s%s", (int)(line - text), text,
			    block, end ? end + 1 : "");
	}
	end = text + strlen(text);
	return xasprintf("%s%s\n%s", text, end > text && end[-1] != '\n' ?
	    "\n" : "", block);
}

/* path (made by this run) rewritten as text: a new file renamed over
 * it, so a crash leaves the sample's main.cf, never half of one. */
static int
rewrite(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	int fd, saved_errno, rc = -1;

	if ((fd = mkstemp(tmp)) >= 0) {
		if (fchmod(fd, 0644) == 0 &&
		    write_all(fd, text, strlen(text)) == 0 &&
		    fsync(fd) == 0 && rename(tmp, path) == 0)
			rc = 0;
		saved_errno = errno;
		close(fd);
		if (rc < 0)
			unlink(tmp);
		errno = saved_errno;
	}
	if (rc < 0)
		fprintf(stderr, "tlsrelay: error: %s: %s\n", path,
		    strerror(errno));
	free(tmp);
	return rc;
}

/* The lines that turn DANE on, with what a later reader needs to know:
 * who wrote them, when, on what ground, and how to go back. */
static char *
dane_block(const char *servers, int dns_level_set)
{
	char day[16];
	time_t now = time(NULL);
	struct tm tm;

	strftime(day, sizeof(day), "%Y-%m-%d", gmtime_r(&now, &tm));
	return xasprintf(
	    "# Written by tlsrelay setup on %s, when it made this file: the\n"
	    "# resolver (%s) is on this host and validated DNSSEC, so mail\n"
	    "# routed by MX gets DANE (RFC 7672): TLS authenticated by the\n"
	    "# DNSSEC-signed TLSA records of the servers that publish them,\n"
	    "# opportunistic TLS (may) for all others. It needs that resolver to\n"
	    "# keep validating (tlsrelay check says whether it does). To go\n"
	    "# back: smtp_tls_security_level = may%s.\n"
	    "%s"
	    "smtp_tls_security_level = dane\n", day, servers,
	    dns_level_set ? "" : ", and remove smtp_dns_support_level",
	    dns_level_set ? "" : "smtp_dns_support_level = dnssec\n");
}

/* Writes the DANE lines into the main.cf made just now. */
static int
write_dane(const struct conf *conf, const char *path, const char *servers)
{
	const char *origin = conf_origin(conf, P_smtp_tls_security_level);
	const char *colon = origin ? strrchr(origin, ':') : NULL;
	int lineno = 0, rc;
	char *text, *block, *out, *err = NULL;

	/* The level's line in this main.cf (not in a file it names). */
	if (colon != NULL && (size_t)(colon - origin) == strlen(path) &&
	    strncmp(origin, path, strlen(path)) == 0)
		lineno = atoi(colon + 1);
	if ((text = file_read_text(path, &err)) == NULL) {
		fprintf(stderr, "tlsrelay: error: %s\n", err);
		free(err);
		return -1;
	}
	block = dane_block(servers, conf_is_set(conf,
	    P_smtp_dns_support_level));
	out = put_block(text, lineno, block);
	rc = rewrite(path, out);
	free(out);
	free(block);
	free(text);
	return rc;
}

/* dane for a new main.cf whose resolver is on this host and validates
 * DNSSEC; else it keeps the sample's level, and one line says why and
 * what would give DANE. The sample's choices stand: a level other than
 * may, or DNS turned off or set to no DNSSEC. */
static int
dane_default(const struct conf *conf, const char *confdir)
{
	static const char how[] = "for DANE, run a validating resolver "
	    "(such as unbound) on this host, have /etc/resolv.conf or "
	    "tlsrelay_dns_servers name it, and set smtp_dns_support_level = "
	    "dnssec and smtp_tls_security_level = dane";
	const char *dns_level = conf_str(conf, P_smtp_dns_support_level);
	struct resolver_probe rp;
	char *path, *err = NULL;
	int level = tls_smtp_level(conf), rc = 0;

	if (level != TLS_LEV_MAY) {
		printf("tlsrelay setup: outbound TLS for MX-routed mail is %s, "
		    "as the sample sets it\n", tls_level_name(level));
		return 0;
	}
	if (conf_is_set(conf, P_smtp_dns_support_level) &&
	    dns_support_level(dns_level, &err) != DNS_LEVEL_DNSSEC) {
		free(err);
		printf("tlsrelay setup: outbound TLS for MX-routed mail is "
		    "may: the sample sets smtp_dns_support_level = %s; %s\n",
		    dns_level, how);
		return 0;
	}
	if (resolver_probe(conf, 1, &rp, &err) < 0) {
		printf("tlsrelay setup: outbound TLS for MX-routed mail is "
		    "may: %s; %s\n", err, how);
		free(err);
		return 0;
	}
	path = xasprintf("%s/main.cf", confdir);
	if (!rp.on_host)
		printf("tlsrelay setup: outbound TLS for MX-routed mail is "
		    "may: the resolver (%s) is not on this host, and a "
		    "DNSSEC answer from elsewhere could be forged on its way "
		    "(not asked); %s\n", rp.servers, how);
	else if (rp.validates == 0)
		printf("tlsrelay setup: outbound TLS for MX-routed mail is "
		    "may: the resolver (%s) does not validate DNSSEC; %s\n",
		    rp.servers, how);
	else if (rp.validates < 0)
		printf("tlsrelay setup: outbound TLS for MX-routed mail is "
		    "may: the resolver (%s) did not say whether it validates "
		    "DNSSEC (%s); %s\n", rp.servers, rp.why, how);
	else if ((rc = write_dane(conf, path, rp.servers)) == 0)
		printf("tlsrelay setup: outbound TLS for MX-routed mail is "
		    "dane: the resolver (%s) validates DNSSEC; %s has "
		    "smtp_dns_support_level = dnssec and "
		    "smtp_tls_security_level = dane\n", rp.servers, path);
	free(path);
	resolver_probe_free(&rp);
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay setup [-c confdir]\n");
	return 2;
}

int
cmd_setup(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR;
	struct run_user user;
	struct conf *conf;
	char *err = NULL;
	int ch, main_made, rc = 0;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			return usage();
		confdir = optarg;
	}
	if (optind != argc)
		return usage();
	if (geteuid() != 0) {
		fprintf(stderr, "tlsrelay: error: setup makes users, groups "
		    "and directories: run it as root\n");
		return 1;
	}
	if ((main_made = install_sample(confdir, "main.cf")) < 0 ||
	    install_sample(confdir, "master.cf") < 0)
		return 1;
	if ((conf = conf_load(confdir, &err)) == NULL) {
		for (char *line = strtok(err, "\n"); line != NULL;
		    line = strtok(NULL, "\n"))
			fprintf(stderr, "tlsrelay: error: %s\n", line);
		free(err);
		return 1;
	}
	if ((main_made && dane_default(conf, confdir) < 0) ||
	    make_user(conf_str(conf, P_mail_owner)) < 0 ||
	    make_group(conf_str(conf, P_setgid_group)) < 0 ||
	    run_user_lookup(conf, &user, &err) < 0 ||
	    setup_directories(conf, &user, &err) < 0) {
		if (err != NULL)
			fprintf(stderr, "tlsrelay: error: %s\n", err);
		free(err);
		rc = 1;
	} else {
		printf("tlsrelay setup: %s and %s are ready; next: "
		    "tlsrelay check -c %s\n", conf_str(conf, P_queue_directory),
		    conf_str(conf, P_data_directory), confdir);
		free(user.name);
	}
	conf_free(conf);
	return rc;
}
