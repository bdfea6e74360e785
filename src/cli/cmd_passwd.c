/* tlsrelay passwd: add, change or remove a login of SMTP AUTH.
 *
 *	tlsrelay passwd [-c confdir] user	password from standard input
 *	tlsrelay passwd [-c confdir] -d user	remove the user
 *
 * The table is the first one tlsrelay_smtpd_sasl_user_maps names; it must
 * have a source file (hash:, btree:, texthash:). The password is read from
 * standard input, one line (asked twice, without echo, on a terminal),
 * never from the command line, where ps(1) would show it. It is hashed
 * with yescrypt and a fresh salt, the source file is rewritten atomically
 * and a hash:/btree: database rebuilt from it, as `tlsrelay map` does. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/map.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/util.h"

#include "cli.h"

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay passwd [-c confdir] user\n"
	    "       tlsrelay passwd [-c confdir] -d user\n");
	return 2;
}

static int
fatal(const char *what, const char *detail)
{
	fprintf(stderr, "tlsrelay: fatal: %s%s%s\n", what,
	    detail ? ": " : "", detail ? detail : "");
	return 1;
}

/* The table to edit: "type:file" of the first entry of the parameter. */
static char *
password_table(const struct conf *conf, char **type, const char **file)
{
	char **words = strlist_split(conf_str(conf,
	    P_tlsrelay_smtpd_sasl_user_maps), LIST_SEPARATORS, NULL);
	char *spec = words[0] ? xstrdup(words[0]) : NULL, *colon;

	strlist_free(words);
	if (spec == NULL) {
		fprintf(stderr, "tlsrelay: fatal: "
		    "tlsrelay_smtpd_sasl_user_maps is not set in %s/main.cf\n",
		    conf_dir(conf));
		return NULL;
	}
	colon = strchr(spec, ':');
	*type = xstrndup(spec, colon ? (size_t)(colon - spec) : 0);
	if (colon == NULL || colon[1] == '\0' || strchr(spec, '{') ||
	    !(table_type_flags(*type) & TABLE_TYPE_SOURCE)) {
		fprintf(stderr, "tlsrelay: fatal: cannot update %s: only "
		    "hash:, btree: and texthash: tables have a file to "
		    "update\n", spec);
		free(*type);
		*type = NULL;
		free(spec);
		return NULL;
	}
	*file = colon + 1;
	return spec;
}

/* One line from fp, without its line end; NULL at end of input. */
static char *
read_line(FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, fp);

	if (n < 0) {
		free(line);
		return NULL;
	}
	if (strlen(line) != (size_t)n) {
		/* A NUL inside: no crypt(3) password can hold it. */
		explicit_bzero(line, cap);
		free(line);
		return xstrdup("");
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* On a terminal: prompt on stderr, no echo. */
static char *
ask(const char *prompt)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *line;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	line = read_line(stdin);
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	return line;
}

static char *
new_password(void)
{
	char *password = ask("New password: "), *again;

	if (password == NULL) {
		fatal("no password on standard input", NULL);
		return NULL;
	}
	if (password[0] == '\0' || strlen(password) > SASL_PASSWD_MAX) {
		fprintf(stderr, "tlsrelay: fatal: the password must have 1 to "
		    "%d bytes and no NUL\n", SASL_PASSWD_MAX);
		sasl_secret_free(password);
		return NULL;
	}
	if (!isatty(STDIN_FILENO))
		return password;
	again = ask("Retype new password: ");
	if (again == NULL || strcmp(again, password) != 0) {
		fatal("the passwords do not match", NULL);
		sasl_secret_free(again);
		sasl_secret_free(password);
		return NULL;
	}
	sasl_secret_free(again);
	return password;
}

/* A table file tlsrelay passwd just created: readable by mail_owner's
 * group, so that the workers (which run as mail_owner) can re-open it
 * when it changes; root alone may write it. */
static void
share_with_mail_owner(const struct conf *conf, const char *file)
{
	struct passwd *pw = getpwnam(conf_str(conf, P_mail_owner));

	if (geteuid() != 0 || pw == NULL)
		return;
	if (chown(file, 0, pw->pw_gid) < 0 || chmod(file, 0640) < 0)
		fprintf(stderr, "tlsrelay: warning: %s: %s\n", file,
		    strerror(errno));
}

static int
update(const struct conf *conf, const char *user, int remove)
{
	char *type = NULL, *spec, *password = NULL, *hash = NULL, *err = NULL;
	const char *file;
	struct stat st;
	int existed, rc = 1, ret;

	if ((spec = password_table(conf, &type, &file)) == NULL)
		return 1;
	if (!sasl_username_valid(user)) {
		fprintf(stderr, "tlsrelay: fatal: invalid user name \"%s\": 1 "
		    "to %d printable characters without white space\n", user,
		    SASL_NAME_MAX);
		goto out;
	}
	if (!remove) {
		if ((password = new_password()) == NULL)
			goto out;
		hash = sasl_password_hash(password, SASL_HASH_PREFIX, &err);
		sasl_secret_free(password);
		if (hash == NULL) {
			fatal(err, NULL);
			goto out;
		}
	}
	existed = stat(file, &st) == 0;
	ret = sasl_passwd_update(file, user, hash, &err);
	if (ret < 0) {
		fatal(err, NULL);
		goto out;
	}
	if (ret == 1) {
		fprintf(stderr, "tlsrelay: fatal: %s: no user %s\n", file,
		    user);
		goto out;
	}
	if (!existed)
		share_with_mail_owner(conf, file);
	if ((table_type_flags(type) & TABLE_TYPE_BUILT) &&
	    table_build(spec, 0, &err) < 0) {
		fatal(err, NULL);
		goto out;
	}
	rc = 0;
out:
	free(err);
	free(hash);
	free(type);
	free(spec);
	return rc;
}

int
cmd_passwd(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR;
	struct conf *conf;
	char *err = NULL;
	int ch, remove = 0, rc;

	while ((ch = getopt(argc, argv, "c:d")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'd':
			remove = 1;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		return usage();
	if ((conf = conf_load(confdir, &err)) == NULL) {
		rc = fatal(err, NULL);
		free(err);
		return rc;
	}
	rc = update(conf, argv[0], remove);
	conf_free(conf);
	return rc;
}
