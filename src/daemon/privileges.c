/* privileges: who the workers run as. Started as root, tlsrelayd keeps
 * root only in the supervisor (which never reads a byte from the network)
 * so that SIGHUP can re-read root-only keys; every worker drops to
 * mail_owner right after fork, before it touches a socket. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
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
