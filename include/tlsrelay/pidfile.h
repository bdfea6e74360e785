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

#endif
