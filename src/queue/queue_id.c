/* queue_id: names for queue files, unique on this host. */
#include "config.h"

#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

#include "tlsrelay/queue.h"

/*
 * An ID is 28 upper-case hex digits: 14 of microsecond time (enough until
 * the year 2500, so IDs sort by arrival), 8 of pid (two live processes
 * never share one) and 6 of a per-process counter (two IDs taken in the
 * same microsecond, or after the clock stepped back, still differ).
 * spool_open() creates files with O_EXCL as well, so a collision can
 * never overwrite a queued message.
 */
void
queue_id_new(char id[QUEUE_ID_MAX])
{
	static unsigned int counter;
	struct timeval tv;
	unsigned long long usec;

	gettimeofday(&tv, NULL);
	usec = (unsigned long long)tv.tv_sec * 1000000ULL +
	    (unsigned long long)tv.tv_usec;
	counter = (counter + 1) & 0xffffffU;
	snprintf(id, QUEUE_ID_MAX, "%014llX%08lX%06X",
	    usec & 0xffffffffffffffULL, (unsigned long)getpid() & 0xffffffffUL,
	    counter);
}
