/* log: Postfix-format log lines ("tlsrelay/smtpd[PID]: text") to a file,
 * to stderr, or to syslog. Until log_open() is called, lines go to stderr. */
#ifndef TLSRELAY_LOG_H
#define TLSRELAY_LOG_H

/* The lowest layer: it includes nothing of ours and uses nothing else of
 * ours (util, above it, logs through it). */
#ifndef PRINTFLIKE
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#endif

/* Names the process in every line: "tlsrelay/<service>[pid]". */
void log_set_service(const char *syslog_name, const char *service);
/* The current service name, so that a part of a process (the smtp client
 * inside the queue manager) can log as its own service and switch back. */
const char *log_service(void);

/* The whole name a line carries, "syslog_name/service": what the work of
 * one session saves, switches to (a master.cf service's -o
 * syslog_name=postfix/submission) and puts back. */
struct log_name {
	char ident[64];
	char service[64];
};
void log_name_get(struct log_name *name);
void log_name_set(const struct log_name *name);

/* Chooses the destination. maillog_file non-empty: append to that path
 * ("/dev/stdout" and "/dev/stderr" work); else if to_stderr: stderr; else
 * syslog with the given facility name ("mail", "local0", ...). Returns 0,
 * or -1 with *err set (caller frees). Safe to call again (re-open). */
int log_open(const char *maillog_file, int to_stderr, const char *facility,
    char **err);
/* The log file descriptor stays open across fork(); children call this to
 * pick up their new PID in the line prefix. */
void log_after_fork(const char *service);
void log_close(void);

void msg_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void msg_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void msg_error(const char *fmt, ...) PRINTFLIKE(1, 2);
_Noreturn void msg_fatal(const char *fmt, ...) PRINTFLIKE(1, 2);
_Noreturn void msg_panic(const char *fmt, ...) PRINTFLIKE(1, 2);

/* A configuration warning that every context built from the same lines
 * would repeat (one per master.cf service): each text once, until
 * msg_warn_once_reset() (the supervisor's reload). */
void msg_warn_once(const char *fmt, ...) PRINTFLIKE(1, 2);
void msg_warn_once_reset(void);

/* Verbose logging for debugging (-v), off by default. */
extern int msg_verbose;
void msg_debug(const char *fmt, ...) PRINTFLIKE(1, 2);

#endif
