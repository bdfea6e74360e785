/* pidfile: tlsrelayd's PID file, queue_directory/pid/master.pid as
 * Postfix's, locked (flock) for as long as the daemon runs: a live daemon
 * is told from a stale file by the lock, not by the number in it, and a
 * second daemon on the same queue refuses to start. `tlsrelay status`,
 * `reload` and `stop` find the daemon through it. */
#ifndef TLSRELAY_PIDFILE_H
#define TLSRELAY_PIDFILE_H

#include <sys/types.h>

/* Creates queue_dir/pid/ (mode 0755) and takes the lock. Returns the
 * file's descriptor (kept open by the daemon), or -1 with *err set: when
 * another daemon holds it, "... is already running (PID N)". */
int pidfile_lock(const char *queue_dir, char **err);
/* Writes pid into the locked file. 0, or -1 with *err. */
int pidfile_write(int fd, pid_t pid, char **err);
/* The PID of the daemon running on queue_dir, or 0 when none is. */
pid_t pidfile_running(const char *queue_dir);

/* The queue manager's own lock, queue_dir/pid/qmgr.pid, held for as long
 * as it runs: two queue managers on one queue would deliver the same
 * mail twice, even when one was left behind by a supervisor killed with
 * SIGKILL. Same contract as pidfile_lock; when another holds it, *err
 * names its PID. */
int pidfile_lock_qmgr(const char *queue_dir, char **err);
/* Creates the queue manager's file for uid (the supervisor, as root: the
 * queue manager runs as mail_owner in a pid/ directory root owns). Does
 * not change who holds it. 0, or -1 with *err. */
int pidfile_qmgr_prepare(const char *queue_dir, uid_t uid, gid_t gid,
    char **err);
/* The PID of the queue manager running on queue_dir, or 0. */
pid_t pidfile_qmgr_running(const char *queue_dir);

#endif
