/* queue_id: names for queue files, unique on this host, and across the
 * nodes of a cluster as far as their myhostname differ. */
#include "config.h"

#include <stdint.h>
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
 *
 * Linux PIDs fit in 22 bits (PID_MAX_LIMIT); the 10 bits above them
 * carry a hash of myhostname, so that relays behind one balancer, which
 * may well run their daemons under the same PIDs (containers), still
 * name their messages differently: two IDs from two nodes can only be
 * equal when the nodes' tags are (1 in 1024 for a pair) and they were
 * taken in the same microsecond by the same PID with the same counter.
 */
static unsigned long node_tag;

void
queue_id_node(const char *myhostname)
{
	uint32_t hash = 2166136261u;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)myhostname;
	    *p != '\0'; p++)
		hash = (hash ^ *p) * 16777619u;
	node_tag = (unsigned long)(hash & 0x3ffu) << 22;
}

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
	    usec & 0xffffffffffffffULL,
	    node_tag | ((unsigned long)getpid() & 0x3fffffUL), counter);
}
