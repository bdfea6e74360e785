/* tlsrelay-sendmail: the sendmail interface that cron, monitoring and
 * every local program use, as Postfix's sendmail(1):
 *	tlsrelay-sendmail [-t] [-i | -oi] [-f sender] [-F name] [-C dir]
 *	    [recipient ...]
 *	tlsrelay-sendmail -bp		the queue, like mailq (also when
 *					called as "mailq")
 *	tlsrelay-sendmail -q		deliver the deferred mail now
 * The message is read from standard input and left in the maildrop
 * directory (include/tlsrelay/maildrop.h), durably, whether the daemon
 * runs or not; the queue manager picks it up. The program is installed
 * set-group-ID setgid_group: that group may add files to maildrop/ and
 * write the queue manager's FIFO, nothing more, and it is given up
 * before anything is done with a configuration that root does not
 * control.
 * Exit status as sendmail's: 0, or a <sysexits.h> code. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/maildrop.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

#define PROG "tlsrelay-sendmail"

/* Under --enable-sanitizers: LeakSanitizer needs ptrace, which a process
 * started set-group-ID (not dumpable) cannot have; it would fail every
 * run. Its leaks show in the runs by root, which take the same paths. */
int __lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return prctl(PR_GET_DUMPABLE) != 1;
}

enum mode { MODE_DELIVER, MODE_LIST, MODE_FLUSH, MODE_NOTHING };

struct options {
	enum mode mode;
	const char *confdir;
	const char *sender;	/* -f; NULL: the caller's login name */
	const char *full_name;	/* -F */
	int extract;		/* -t */
	int ignore_dots;	/* -i, -oi */
	int first_rcpt;		/* argv index of the first recipient */
};

static _Noreturn void
fatal(int status, const char *fmt, ...) PRINTFLIKE(2, 3);

static _Noreturn void
fatal(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: fatal: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* The value of an option: the rest of the word, or the next word. */
static const char *
option_value(int argc, char **argv, int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	if (*i + 1 >= argc)
		fatal(EX_USAGE, "option %s needs a value", argv[*i]);
	return argv[++*i];
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->mode = MODE_DELIVER;
	o->confdir = SYSCONFDIR;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		switch (arg[1]) {
		case 't':
			o->extract = 1;
			break;
		case 'i':
			o->ignore_dots = 1;
			break;
		case 'o':
			/* Sendmail's -oX options: only -oi means anything. */
			if (strcmp(arg, "-oi") == 0)
				o->ignore_dots = 1;
			break;
		case 'f':
		case 'r':
			o->sender = option_value(argc, argv, &i);
			break;
		case 'F':
			o->full_name = option_value(argc, argv, &i);
			break;
		case 'C':
			o->confdir = option_value(argc, argv, &i);
			break;
		case 'b':
			if (strcmp(arg, "-bm") == 0)
				o->mode = MODE_DELIVER;
			else if (strcmp(arg, "-bp") == 0)
				o->mode = MODE_LIST;
			else if (strcmp(arg, "-bi") == 0)
				o->mode = MODE_NOTHING;	/* newaliases */
			else
				fatal(EX_USAGE, "%s is not supported: "
				    "tlsrelay is a relay without local "
				    "delivery", arg);
			break;
		case 'q':
			o->mode = MODE_FLUSH;
			break;
		case 'B': case 'N': case 'R': case 'V': case 'X': case 'L':
		case 'h':
			/* Accepted and ignored, as Postfix ignores most. */
			(void)option_value(argc, argv, &i);
			break;
		case 'v': case 'm': case 'n': case 'U': case 'G': case 'e':
		case 'd': case 'A':
			break;
		default:
			fatal(EX_USAGE, "unknown option %s", arg);
		}
	}
	o->first_rcpt = i;
}

/* root's file, which nobody else may change. */
static int
root_controlled(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_uid == 0 &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* The group's privilege stays only with a configuration that root
 * controls (the default one, or another instance's, as -C names it):
 * one the caller could write would choose where the group writes. */
static void
drop_group_unless_trusted(const struct options *o)
{
	char *main_cf = xasprintf("%s/main.cf", o->confdir);
	int trusted = root_controlled(o->confdir) && root_controlled(main_cf);

	free(main_cf);
	if (!trusted && getegid() != getgid() && setgid(getgid()) < 0)
		fatal(EX_OSERR, "setgid: %s", strerror(errno));
}

/* -bp and -q run `tlsrelay queue`, found next to this program or in
 * BINDIR, without the group. */
static _Noreturn void
run_queue_command(const struct options *o)
{
	char self[PATH_MAX], *slash, *tool;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *args[6];
	int k = 0;

	if (setgid(getgid()) < 0)
		fatal(EX_OSERR, "setgid: %s", strerror(errno));
	tool = xasprintf("%s/tlsrelay", BINDIR);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			free(tool);
			tool = xasprintf("%s/tlsrelay", self);
			if (access(tool, X_OK) < 0) {
				free(tool);
				tool = xasprintf("%s/tlsrelay", BINDIR);
			}
		}
	}
	args[k++] = "tlsrelay";
	args[k++] = "queue";
	args[k++] = "-c";
	args[k++] = (char *)o->confdir;
	if (o->mode == MODE_FLUSH)
		args[k++] = "flush";
	args[k] = NULL;
	execv(tool, args);
	fatal(EX_UNAVAILABLE, "cannot run %s: %s", tool, strerror(errno));
}

static const char *
prog_name(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	return slash ? slash + 1 : argv0;
}

/* mailq: root and mail_owner read the queue themselves; anyone else gets
 * the listing from the queue manager (public/showq), reached through
 * the group. */
static int
list_queue(const struct options *o, const struct conf *conf)
{
	struct passwd *pw = getpwnam(conf_str(conf, P_mail_owner));
	char *err = NULL;

	if (getuid() == 0 || (pw != NULL && pw->pw_uid == getuid()))
		run_queue_command(o);
	if (queue_list_showq(conf_str(conf, P_queue_directory), stdout,
	    &err) < 0)
		fatal(EX_UNAVAILABLE, "%s", err);
	if (fflush(stdout) != 0)
		fatal(EX_IOERR, "write error on standard output");
	return 0;
}

struct rcpt_ctx {
	struct maildrop_envelope *env;
};

static void
add_rcpt(void *arg, const char *addr)
{
	struct rcpt_ctx *r = arg;

	if (r->env->n_rcpts >= MAILDROP_RCPT_MAX)
		fatal(EX_USAGE, "too many recipients (at most %d)",
		    MAILDROP_RCPT_MAX);
	maildrop_envelope_add_rcpt(r->env, addr);
}

/* Standard input up to its end or, unless -i, a line with a lone dot. */
static void
read_message(const struct options *o, long long limit, struct strbuf *msg)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (!o->ignore_dots && (strcmp(line, ".\n") == 0 ||
		    strcmp(line, ".\r\n") == 0 || strcmp(line, ".") == 0))
			break;
		strbuf_append(msg, line, (size_t)n);
		if (limit > 0 && (long long)msg->len > limit)
			fatal(EX_DATAERR, "message file too big (more than "
			    "message_size_limit = %lld bytes)", limit);
	}
	if (ferror(stdin))
		fatal(EX_IOERR, "read standard input: %s", strerror(errno));
	free(line);
}

/* The caller's login name and, for -F's default, their full name. */
static void
caller_identity(struct maildrop_envelope *env, const struct options *o)
{
	struct passwd *pw = getpwuid(getuid());

	if (o->sender != NULL) {
		/* -f "<>" and -f "" are the null sender. */
		env->sender = xstrdup(strcmp(o->sender, "<>") == 0 ? "" :
		    o->sender);
	} else if (pw != NULL)
		env->sender = xstrdup(pw->pw_name);
	else
		fatal(EX_NOUSER, "unable to find out your name (uid %lu)",
		    (unsigned long)getuid());
	if (o->full_name != NULL)
		env->full_name = xstrdup(o->full_name);
	else if (pw != NULL && pw->pw_gecos != NULL && *pw->pw_gecos) {
		size_t len = strcspn(pw->pw_gecos, ",");

		if (len > 0)
			env->full_name = xstrndup(pw->pw_gecos, len);
	}
}

int
main(int argc, char **argv)
{
	struct options o;
	struct maildrop_envelope env;
	struct maildrop_writer *w;
	struct rcpt_ctx r = { &env };
	struct strbuf msg;
	struct conf *conf;
	const char *queue_dir, *problem;
	char *err = NULL;

	log_set_service("tlsrelay", "sendmail");
	parse_options(argc, argv, &o);
	if (strcmp(prog_name(argv[0]), "mailq") == 0)
		o.mode = MODE_LIST;
	drop_group_unless_trusted(&o);
	if (o.mode == MODE_NOTHING)
		return 0;
	if (o.mode == MODE_FLUSH)
		run_queue_command(&o);

	if ((conf = conf_load(o.confdir, &err)) == NULL)
		fatal(EX_CONFIG, "%s", err);
	queue_dir = conf_str(conf, P_queue_directory);
	if (o.mode == MODE_LIST)
		return list_queue(&o, conf);

	memset(&env, 0, sizeof(env));
	caller_identity(&env, &o);
	if (*env.sender && (problem = maildrop_address_problem(env.sender)))
		fatal(EX_USAGE, "bad sender address %s: %s", env.sender,
		    problem);
	for (int i = o.first_rcpt; i < argc; i++)
		addr_list_each(argv[i], strlen(argv[i]), add_rcpt, &r);

	strbuf_init(&msg);
	read_message(&o, conf_size(conf, P_message_size_limit), &msg);
	if (o.extract)
		local_message_recipients(msg.data, msg.len,
		    conf_str(conf, P_myorigin), &env);
	if (env.n_rcpts == 0)
		fatal(EX_USAGE, o.extract ?
		    "No recipient addresses found in message header" :
		    "Recipient addresses must be specified on the command "
		    "line or via the -t option");
	for (size_t i = 0; i < env.n_rcpts; i++)
		if ((problem = maildrop_address_problem(env.rcpts[i])))
			fatal(EX_USAGE, "bad recipient address %s: %s",
			    env.rcpts[i], problem);

	if ((w = maildrop_open(queue_dir, &env, &err)) == NULL) {
		if (strstr(err, strerror(EACCES)) != NULL)
			fatal(EX_NOPERM, "%s: %s must be set-group-ID %s "
			    "(make install sets it), or run by root", err,
			    PROG, conf_str(conf, P_setgid_group));
		fatal(EX_TEMPFAIL, "%s", err);
	}
	if (maildrop_write(w, msg.data, msg.len) < 0) {
		maildrop_abort(w);
		fatal(EX_TEMPFAIL, "queue file write error: %s",
		    strerror(errno));
	}
	if (maildrop_close(w, &err) < 0)
		fatal(EX_TEMPFAIL, "%s", err);
	/* A hint: a queue manager that is not running finds the file when
	 * it starts. */
	(void)queue_notify(queue_dir, QUEUE_NOTIFY_PICKUP, "");
	strbuf_free(&msg);
	maildrop_envelope_free(&env);
	conf_free(conf);
	return 0;
}
