/* Fuzz harness for the two small parsers of queue-directory files that
 * other processes write: the defer log (defer_log_parse) and the qmgr
 * FIFO's records (queue_notify_parse). Both run on every input. Beyond
 * not crashing, what they return is checked against the formats. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_notice(void *arg, char request, const char *id)
{
	size_t len = strlen(id);

	(void)arg;
	if (request != QUEUE_NOTIFY_NEW && request != QUEUE_NOTIFY_FLUSH &&
	    request != QUEUE_NOTIFY_RESCAN && request != QUEUE_NOTIFY_PICKUP)
		abort();
	if (request == QUEUE_NOTIFY_NEW && len == 0)
		abort();
	if ((request == QUEUE_NOTIFY_RESCAN ||
	    request == QUEUE_NOTIFY_PICKUP) && len != 0)
		abort();
	if (len > 0 && !queue_id_valid(id, len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct defer_log log;
	char *err = NULL;
	size_t used, bad;

	if (defer_log_parse(text, size, &log, &err) == 0) {
		for (size_t i = 0; i < log.n; i++) {
			const struct defer_entry *e = &log.entries[i];

			if (e->recipient[0] == '\0' ||
			    strpbrk(e->recipient, "\t\r\n") ||
			    strpbrk(e->dsn, "\t\r\n") ||
			    strpbrk(e->reason, "\t\r\n"))
				abort();
			if (defer_log_find(&log, e->recipient) == NULL)
				abort();
		}
		defer_log_free(&log);
	} else {
		if (err == NULL || log.entries != NULL || log.text != NULL)
			abort();
		free(err);
	}

	used = queue_notify_parse(text, size, check_notice, NULL, &bad);
	if (used > size)
		abort();
	/* What is left over is a partial record that may still complete. */
	if (used < size && (memchr(text + used, '\n', size - used) != NULL ||
	    size - used >= QUEUE_NOTIFY_RECORD_MAX))
		abort();
	return 0;
}
