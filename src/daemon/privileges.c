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
#include "tlsrelay/util.h"
#include "daemon.h"

int
run_user_lookup(const struct conf *conf, struct run_user *user, char **err)
{
	const char *name = conf_str(conf, P_mail_owner);
	struct passwd *pw;

	memset(user, 0, sizeof(*user));
	if (geteuid() != 0) {
		user->uid = geteuid();
		user->gid = getegid();
		return 0;
	}
	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL) {
		*err = xasprintf("mail_owner %s: no such user (create it with "
		    "'useradd --system --no-create-home --shell "
		    "/usr/sbin/nologin %s')", name, name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		*err = xasprintf("mail_owner %s: must not be a privileged "
		    "user", name);
		return -1;
	}
	user->drop = 1;
	user->uid = pw->pw_uid;
	user->gid = pw->pw_gid;
	user->name = xstrdup(name);
	return 0;
}

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
