/* Fuzz harness: the status process's HTTP request parser
 * (src/stats/http_request.c), which reads whatever reaches the metrics
 * and health ports. Checked: a complete request has a method of token
 * characters, an origin-form path within its bound and HTTP/1.0 or 1.1;
 * "incomplete" is only said below the size limit; the verdict on the
 * whole input never depends on bytes past the limit. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/stats/stats_int.h"	/* the parser is internal */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req, again;
	enum http_parse rc;

	rc = http_request_parse((const char *)data, size, &req);
	switch (rc) {
	case HTTP_INCOMPLETE:
		CHECK(size < HTTP_REQUEST_MAX);
		break;
	case HTTP_BAD:
		break;
	case HTTP_COMPLETE:
		CHECK(memchr(req.method, '\0', sizeof(req.method)) != NULL);
		CHECK(req.method[0] != '\0');
		CHECK(strspn(req.method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~") ==
		    strlen(req.method));
		CHECK(memchr(req.path, '\0', sizeof(req.path)) != NULL);
		CHECK(req.path[0] == '/');
		CHECK(strchr(req.path, '?') == NULL);
		CHECK(req.minor == 0 || req.minor == 1);
		break;
	default:
		CHECK(0);
	}
	if (size > HTTP_REQUEST_MAX) {
		CHECK(http_request_parse((const char *)data, HTTP_REQUEST_MAX,
		    &again) == rc);
		if (rc == HTTP_COMPLETE)
			CHECK(memcmp(&req, &again, sizeof(req)) == 0);
	}
	return 0;
}
