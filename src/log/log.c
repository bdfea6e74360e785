/* log: one line per write(2), so lines from several processes appending to
 * the same file never interleave. Format as Postfix writes maillog_file:
 *   "Nov 22 07:48:00 host tlsrelay/smtpd[1234]: text" */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/log.h"

enum log_dest { LOG_TO_STDERR, LOG_TO_FILE, LOG_TO_SYSLOG };

static enum log_dest log_dest = LOG_TO_STDERR;
static int log_fd = -1;
static char log_tag[160] = "tlsrelay";
static pid_t tag_pid;		/* the process log_tag was made for; 0: stale */
static int tag_named;		/* log_set_service or log_open was called:
				 * not the bare "tlsrelay" of the commands */
static char log_host[256];
static char syslog_ident[64] = "tlsrelay";
static char service_name[64] = "tlsrelay";
int msg_verbose;

/* "ident/service[pid]", remade when a name changed or in a new process.
 * Made when a line is logged, not when the names are set: the connection
 * layer sets them around every callback, which must cost no system call
 * (getpid) and no formatting. */
static const char *
current_tag(void)
{
	pid_t pid;

	if (!tag_named)
		return log_tag;
	if ((pid = getpid()) != tag_pid) {
		snprintf(log_tag, sizeof(log_tag), "%s/%s[%ld]", syslog_ident,
		    service_name, (long)pid);
		tag_pid = pid;
	}
	return log_tag;
}

static void
set_name(char *dst, size_t size, const char *name)
{
	if (name == NULL || *name == '\0' || strcmp(dst, name) == 0)
		return;
	snprintf(dst, size, "%s", name);
	tag_pid = 0;
}

void
log_set_service(const char *syslog_name, const char *service)
{
	tag_named = 1;
	set_name(syslog_ident, sizeof(syslog_ident), syslog_name);
	set_name(service_name, sizeof(service_name), service);
}

const char *
log_service(void)
{
	return service_name;
}

void
log_name_get(struct log_name *name)
{
	snprintf(name->ident, sizeof(name->ident), "%s", syslog_ident);
	snprintf(name->service, sizeof(name->service), "%s", service_name);
}

void
log_name_set(const struct log_name *name)
{
	log_set_service(name->ident, name->service);
}

static int
facility_code(const char *name)
{
	static const struct { const char *name; int code; } table[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
		{ "user", LOG_USER }, { "local0", LOG_LOCAL0 },
		{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
		{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
		{ "local7", LOG_LOCAL7 },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcasecmp(name, table[i].name) == 0)
			return table[i].code;
	return -1;
}

/* An error text for the caller to free. xasprintf is util's, above us:
 * it would log through us when memory runs out. */
static char *log_error_text(const char *fmt, ...) PRINTFLIKE(1, 2);

static char *
log_error_text(const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return text;
}

int
log_open(const char *maillog_file, int to_stderr, const char *facility,
    char **err)
{
	if (log_fd >= 0 && log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = -1;
	if (log_dest == LOG_TO_SYSLOG)
		closelog();
	if (gethostname(log_host, sizeof(log_host)) != 0)
		snprintf(log_host, sizeof(log_host), "localhost");
	log_host[sizeof(log_host) - 1] = '\0';

	if (maillog_file && *maillog_file) {
		int fd;

		if (strcmp(maillog_file, "/dev/stderr") == 0)
			fd = dup(STDERR_FILENO);
		else if (strcmp(maillog_file, "/dev/stdout") == 0)
			fd = dup(STDOUT_FILENO);
		else
			fd = open(maillog_file,
			    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			*err = log_error_text("open maillog_file %s: %s",
			    maillog_file, strerror(errno));
			log_dest = LOG_TO_STDERR;
			return -1;
		}
		log_fd = fd;
		log_dest = LOG_TO_FILE;
	} else if (to_stderr) {
		log_dest = LOG_TO_STDERR;
	} else {
		int code = facility_code(facility ? facility : "mail");

		if (code < 0) {
			*err = log_error_text("unknown syslog_facility: %s",
			    facility);
			return -1;
		}
		openlog(syslog_ident, LOG_PID | LOG_NDELAY, code);
		log_dest = LOG_TO_SYSLOG;
	}
	tag_named = 1;
	return 0;
}

void
log_after_fork(const char *service)
{
	log_set_service(NULL, service);
}

void
log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	if (log_dest == LOG_TO_SYSLOG)
		closelog();
	log_dest = LOG_TO_STDERR;
}

static void
vlog(int priority, const char *prefix, const char *fmt, va_list ap)
{
	char text[4096], line[4500];
	int n;
	int saved_errno = errno;

	vsnprintf(text, sizeof(text), fmt, ap);
	/* Never let a peer's bytes forge a second log line. */
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';

	if (log_dest == LOG_TO_SYSLOG) {
		syslog(priority, "%s%s", prefix, text);
		errno = saved_errno;
		return;
	}
	if (log_dest == LOG_TO_FILE) {
		char stamp[32];
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s %s %s: %s%s\n", stamp,
		    log_host, current_tag(), prefix, text);
	} else {
		n = snprintf(line, sizeof(line), "%s: %s%s\n", current_tag(),
		    prefix, text);
	}
	if (n > (int)sizeof(line) - 1) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(log_dest == LOG_TO_FILE ? log_fd : STDERR_FILENO, line,
	    (size_t)n) < 0) {
		/* Nowhere left to complain to. */
	}
	errno = saved_errno;
}

#define DEFINE_MSG(fn, prio, prefix)				\
	void fn(const char *fmt, ...)				\
	{							\
		va_list ap;					\
		va_start(ap, fmt);				\
		vlog(prio, prefix, fmt, ap);			\
		va_end(ap);					\
	}

DEFINE_MSG(msg_info, LOG_INFO, "")
DEFINE_MSG(msg_warn, LOG_WARNING, "warning: ")
DEFINE_MSG(msg_error, LOG_ERR, "error: ")

/* The texts msg_warn_once has logged, as FNV-1a hashes: a bounded set,
 * so a flood of distinct warnings is still logged rather than kept. */
#define WARN_ONCE_MAX 256
static unsigned long long warned[WARN_ONCE_MAX];
static size_t n_warned;

void
msg_warn_once(const char *fmt, ...)
{
	char text[4096];
	unsigned long long h = 1469598103934665603ULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (const char *p = text; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (size_t i = 0; i < n_warned; i++)
		if (warned[i] == h)
			return;
	if (n_warned < WARN_ONCE_MAX)
		warned[n_warned++] = h;
	msg_warn("%s", text);
}

void
msg_warn_once_reset(void)
{
	n_warned = 0;
}

void
msg_debug(const char *fmt, ...)
{
	va_list ap;

	if (!msg_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, "", fmt, ap);
	va_end(ap);
}

void
msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	/* Say it on stderr too when the log is a file, so whoever started us
	 * sees why we stopped. */
	if (log_dest != LOG_TO_STDERR && isatty(STDERR_FILENO)) {
		va_start(ap, fmt);
		fprintf(stderr, "%s: fatal: ", current_tag());
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	exit(1);
}

void
msg_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}
