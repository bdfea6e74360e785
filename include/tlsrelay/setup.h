/* setup: who the daemon runs as, and the directories it needs, made as
 * it needs them. tlsrelayd does it at every start and reload; `tlsrelay
 * setup` does it once after `make install` (with the user and group made
 * first), so that a unit with ProtectSystem=strict finds them there. */
#ifndef TLSRELAY_SETUP_H
#define TLSRELAY_SETUP_H

#include <sys/types.h>

struct conf;

struct run_user {
	int drop;		/* started as root: drop in children */
	uid_t uid;
	gid_t gid;
	char *name;
};

/* mail_owner, when running as root; this process's own ids otherwise.
 * 0, or -1 with *err saying how to create a missing user. */
int run_user_lookup(const struct conf *conf, struct run_user *user,
    char **err);
/* queue_directory (0755) and its subdirectories, data_directory (0700),
 * maildrop/ for setgid_group, the queue manager's PID file: created when
 * missing and given to user. 0, or -1 with *err. */
int setup_directories(const struct conf *conf, const struct run_user *user,
    char **err);

#endif
