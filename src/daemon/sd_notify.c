/* sd_notify: systemd's readiness protocol (sd_notify(3)) in a few lines,
 * without libsystemd: one datagram of "KEY=value" lines to the UNIX
 * socket named in $NOTIFY_SOCKET ('@' for the abstract namespace). Not
 * under systemd (no variable), it does nothing. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "daemon.h"

void
sd_notifyf(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	char text[1024];
	socklen_t len;
	va_list ap;
	int fd, n;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	/* systemd may be busy: a lost notice is retried by nobody, but
	 * it only says what the process does anyway. */
	if (sendto(fd, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, len) < 0)
		msg_warn_once("sd_notify %s: %s", path, strerror(errno));
	close(fd);
}
