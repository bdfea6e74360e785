/* proc: a child process that must not outlive the process that made it. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <errno.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

void
proc_follow_parent(pid_t parent)
{
	/* The kernel sends SIGTERM when the parent dies, SIGKILL included,
	 * and the child stops as on a "tlsrelay stop". A change of user
	 * clears the setting: this runs after privileges are dropped. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		msg_warn("prctl PR_SET_PDEATHSIG: %s", strerror(errno));
	/* The parent may have died before the call. */
	if (getppid() != parent) {
		msg_warn("parent process %ld is gone: exiting", (long)parent);
		_exit(0);
	}
}
