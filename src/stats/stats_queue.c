/* stats_queue: how many messages each queue directory holds and when
 * the oldest arrived. A queue ID begins with 14 hex digits of its arrival
 * time in microseconds (src/queue/SPOOL-FORMAT.md), so a readdir() is
 * enough; a name of another shape costs one stat(). */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tlsrelay/stats.h"
#include "tlsrelay/util.h"

#define ID_TIME_DIGITS 14

static const char *const dirs[STATS_N_QUEUES] = {
	[STATS_QUEUE_INCOMING] = "incoming",
	[STATS_QUEUE_ACTIVE] = "active",
	[STATS_QUEUE_DEFERRED] = "deferred",
	[STATS_QUEUE_HOLD] = "hold",
};

static double
arrival(const char *dir, const char *name)
{
	char digits[ID_TIME_DIGITS + 1], *end;
	struct stat st;
	size_t len = strlen(name);
	double when = 0;

	if (len == 28 && strspn(name, "0123456789ABCDEF") == len) {
		memcpy(digits, name, ID_TIME_DIGITS);
		digits[ID_TIME_DIGITS] = '\0';
		when = (double)strtoull(digits, &end, 16) / 1e6;
	} else {
		char *path = xasprintf("%s/%s", dir, name);

		if (stat(path, &st) == 0)
			when = (double)st.st_mtime;
		free(path);
	}
	return when;
}

void
stats_queue_scan(const char *queue_directory, struct stats_queue_info *info)
{
	memset(info, 0, sizeof(*info));
	for (int q = 0; q < STATS_N_QUEUES; q++) {
		char *path = xasprintf("%s/%s", queue_directory, dirs[q]);
		DIR *d = opendir(path);
		struct dirent *de;

		while (d != NULL && (de = readdir(d)) != NULL) {
			double when;

			if (de->d_name[0] == '.')
				continue;
			info->messages[q]++;
			when = arrival(path, de->d_name);
			if (when > 0 && (info->oldest[q] == 0 ||
			    when < info->oldest[q]))
				info->oldest[q] = when;
		}
		if (d != NULL)
			closedir(d);
		free(path);
	}
}
