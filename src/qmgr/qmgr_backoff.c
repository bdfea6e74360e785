/* qmgr_backoff: how long a deferred message waits. */
#include "config.h"

#include "tlsrelay/qmgr.h"

long long
qmgr_backoff(long long age, long long min_backoff, long long max_backoff)
{
	long long delay = age;

	if (delay > max_backoff)
		delay = max_backoff;
	if (delay < min_backoff)
		delay = min_backoff;
	return delay;
}
