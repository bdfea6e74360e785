/* Fuzz harness for spool_read(): a queue file is untrusted input. The
 * bytes go to a temporary file because spool_read works on paths. On
 * success the parsed message is checked for consistency, so a parser bug
 * that yields nonsense is found, not only one that crashes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct spool_message msg;
	char *err = NULL;
	FILE *fp;

	if (path[0] == '\0') {
		int fd;

		snprintf(path, sizeof(path), "/tmp/fuzz_spool_read.XXXXXX");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	fp = fopen(path, "wb");
	if (fp == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	if (fclose(fp) != 0)
		abort();

	if (spool_read(path, &msg, &err) == 0) {
		if (err != NULL || msg.sender == NULL || msg.n_recipients == 0 ||
		    msg.content_offset < 0 || msg.content_length < 0 ||
		    (size_t)(msg.content_offset + msg.content_length) != size ||
		    strlen(msg.id) == 0)
			abort();
		for (size_t i = 0; i < msg.n_recipients; i++) {
			off_t off = msg.recipients[i].status_offset;

			if (off < 2 || (size_t)off >= size ||
			    data[off] != (uint8_t)msg.recipients[i].status ||
			    data[off - 1] != 'R' || data[off - 2] != '\n')
				abort();
		}
		spool_message_free(&msg);
	} else {
		if (err == NULL || strncmp(err, path, strlen(path)) != 0)
			abort();
		free(err);
	}
	return 0;
}
