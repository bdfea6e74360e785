/* setup: mail_owner and the directories the daemon needs; see
 * include/tlsrelay/setup.h. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/pidfile.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/setup.h"
#include "tlsrelay/util.h"

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

static int
make_dir(const char *path, mode_t mode, const struct run_user *user,
    char **err)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		*err = xasprintf("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (user->drop && chown(path, user->uid, user->gid) < 0) {
		*err = xasprintf("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* maildrop/ for tlsrelay-sendmail, given to setgid_group. Without that
 * group only root can submit: the daemon says so and goes on. */
static int
prepare_maildrop(const struct conf *conf, const char *queue,
    const struct run_user *user, char **err)
{
	const char *group = conf_str(conf, P_setgid_group);
	struct group *gr;

	if (!user->drop)
		return spool_init_maildrop(queue, (uid_t)-1, (gid_t)-1, err);
	if ((gr = getgrnam(group)) == NULL) {
		msg_warn("setgid_group %s: no such group: only root can submit "
		    "mail with tlsrelay-sendmail (create it with 'groupadd "
		    "--system %s')", group, group);
		return spool_init_maildrop(queue, user->uid, user->gid,
		    err);
	}
	if (gr->gr_gid == user->gid) {
		*err = xasprintf("setgid_group %s and mail_owner %s must not "
		    "share a group ID", group, user->name);
		return -1;
	}
	return spool_init_maildrop(queue, user->uid, gr->gr_gid, err);
}

int
setup_directories(const struct conf *conf, const struct run_user *user,
    char **err)
{
	const char *queue = conf_str(conf, P_queue_directory);
	uid_t uid = user->drop ? user->uid : (uid_t)-1;
	gid_t gid = user->drop ? user->gid : (gid_t)-1;

	if (make_dir(queue, 0755, user, err) < 0 ||
	    make_dir(conf_str(conf, P_data_directory), 0700, user, err) < 0)
		return -1;
	if (spool_init(queue, uid, gid, err) < 0 ||
	    pidfile_qmgr_prepare(queue, uid, gid, err) < 0)
		return -1;
	return prepare_maildrop(conf, queue, user, err);
}

