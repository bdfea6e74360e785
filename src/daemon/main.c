/* tlsrelayd: placeholder entry point, replaced by the supervisor. */
#include "config.h"

#include "tlsrelay/log.h"

int
main(void)
{
	msg_info("tlsrelayd " PACKAGE_VERSION);
	return 0;
}
