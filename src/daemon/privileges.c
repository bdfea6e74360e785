/* privileges: who the workers run as. Started as root, tlsrelayd keeps
 * root only in the supervisor (which never reads a byte from the network)
 * so that SIGHUP can re-read root-only keys; every worker drops to
 * mail_owner right after fork, before it touches a socket. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/setup.h"
#include "tlsrelay/util.h"
#include "daemon.h"

void
run_user_drop(const struct run_user *user)
{
	if (!user->drop)
		return;
	if (setgroups(1, &user->gid) < 0 || setgid(user->gid) < 0 ||
	    setuid(user->uid) < 0)
		msg_fatal("cannot drop privileges to %s: %s", user->name,
		    strerror(errno));
	/* Make sure there is no way back. */
	if (setuid(0) == 0)
		msg_fatal("privileges were not dropped");
}

/* Signal a child. Children that have dropped to mail_owner are not ours
 * to signal without CAP_KILL, which the unit does not grant: the
 * supervisor takes mail_owner's identity as its effective user for the
 * one call (kill(2) lets a sender whose effective uid is the target's
 * real uid through) and takes root back, which its saved uid allows. */
int
run_user_kill(const struct run_user *user, pid_t pid, int sig)
{
	int saved_errno, ret;

	if (kill(pid, sig) == 0)
		return 0;
	if (errno != EPERM || !user->drop)
		return -1;
	if (seteuid(user->uid) < 0)
		return -1;
	ret = kill(pid, sig);
	saved_errno = errno;
	if (seteuid(0) < 0)
		msg_fatal("cannot take back root after signalling %ld: %s",
		    (long)pid, strerror(errno));
	errno = saved_errno;
	return ret;
}
