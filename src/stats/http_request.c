/* http_request: the request line and headers of an HTTP/1.0 or 1.1
 * request, from anyone who can reach the metrics port: untrusted bytes,
 * so the parser is strict, bounded, and fuzzed (tests/fuzz/fuzz_http.c).
 * Only what a GET needs is kept; header values are checked for shape and
 * otherwise ignored. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "stats_int.h"

/* RFC 9110 tchar. */
static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next line of [*p, end): its length without CR LF or LF, *p moved
 * past it; -1 when no LF is there yet. */
static long
next_line(const char **p, const char *end, const char **line)
{
	const char *lf = memchr(*p, '\n', (size_t)(end - *p));
	long len;

	if (lf == NULL)
		return -1;
	*line = *p;
	len = (long)(lf - *p);
	if (len > 0 && (*p)[len - 1] == '\r')
		len--;
	*p = lf + 1;
	return len;
}

static int
parse_request_line(const char *line, size_t len, struct http_request *req)
{
	const char *sp1, *sp2, *target, *version, *q;
	size_t mlen, tlen;

	sp1 = memchr(line, ' ', len);
	if (sp1 == NULL)
		return -1;
	mlen = (size_t)(sp1 - line);
	if (mlen == 0 || mlen >= sizeof(req->method))
		return -1;
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)line[i]))
			return -1;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', len - (size_t)(target - line));
	if (sp2 == NULL)
		return -1;
	tlen = (size_t)(sp2 - target);
	version = sp2 + 1;
	if (len - (size_t)(version - line) != 8 ||
	    memcmp(version, "HTTP/1.", 7) != 0 ||
	    (version[7] != '0' && version[7] != '1'))
		return -1;
	/* origin-form only: no proxy requests, no '*'. */
	if (tlen == 0 || target[0] != '/')
		return -1;
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)target[i];

		if (c <= ' ' || c >= 0x7f)
			return -1;
	}
	q = memchr(target, '?', tlen);
	if (q != NULL)
		tlen = (size_t)(q - target);
	if (tlen >= sizeof(req->path))
		return -1;
	memcpy(req->method, line, mlen);
	req->method[mlen] = '\0';
	memcpy(req->path, target, tlen);
	req->path[tlen] = '\0';
	req->minor = version[7] - '0';
	return 0;
}

/* Prometheus asks "Accept: application/openmetrics-text;version=1.0.0,
 * ...;q=0.5, text/plain;version=0.0.4;q=0.5, ...": its first choice. */
static void
note_accept(const char *value, size_t len, struct http_request *req)
{
	static const char want[] = "application/openmetrics-text";

	for (size_t i = 0; i + sizeof(want) - 1 <= len; i++)
		if (strncasecmp(value + i, want, sizeof(want) - 1) == 0) {
			req->openmetrics = 1;
			return;
		}
}

static int
header_ok(const char *line, size_t len, struct http_request *req)
{
	const char *colon = memchr(line, ':', len);

	/* No obsolete line folding, no space before the colon. */
	if (colon == NULL || colon == line)
		return 0;
	for (const char *c = line; c < colon; c++)
		if (!is_tchar((unsigned char)*c))
			return 0;
	for (const char *c = colon + 1; c < line + len; c++) {
		unsigned char u = (unsigned char)*c;

		if ((u < ' ' && u != '\t') || u == 0x7f)
			return 0;
	}
	if (colon - line == 6 && strncasecmp(line, "accept", 6) == 0)
		note_accept(colon + 1, len - 7, req);
	return 1;
}

enum http_parse
http_request_parse(const char *buf, size_t len, struct http_request *req)
{
	const char *p = buf, *end = buf + len, *line;
	long n;

	memset(req, 0, sizeof(*req));
	if (len > HTTP_REQUEST_MAX) {
		len = HTTP_REQUEST_MAX;
		end = buf + len;
	}
	if ((n = next_line(&p, end, &line)) < 0)
		return len == HTTP_REQUEST_MAX ? HTTP_BAD : HTTP_INCOMPLETE;
	if (parse_request_line(line, (size_t)n, req) < 0)
		return HTTP_BAD;
	for (;;) {
		if ((n = next_line(&p, end, &line)) < 0)
			return len == HTTP_REQUEST_MAX ? HTTP_BAD :
			    HTTP_INCOMPLETE;
		if (n == 0)
			return HTTP_COMPLETE;
		if (!header_ok(line, (size_t)n, req))
			return HTTP_BAD;
	}
}
