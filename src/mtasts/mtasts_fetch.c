/* Fetching https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461
 * 3.3) with libevent's HTTP client over OpenSSL.
 *
 * The host name goes through c-ares (src/dns) like every other name;
 * libevent is handed the address literal, which it converts without a
 * lookup. The certificate must chain to the trust anchors of the
 * context (mtasts_fetch_ctx) and name mta-sts.DOMAIN. Only a 200 with
 * Content-Type text/plain counts; a redirect is a failure (RFC 8461 3.3:
 * "HTTP 3xx redirects MUST NOT be followed"); the body is cut off at
 * MTASTS_POLICY_SIZE_MAX; the whole fetch, DNS included, has one
 * deadline.
 *
 * The callback is always called from the event loop, never from inside
 * mtasts_fetch_start(), and never from inside a libevent HTTP callback,
 * so the connection can be freed before it runs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/mtasts.h"
#include "tlsrelay/util.h"

#define POLICY_PATH		"/.well-known/mta-sts.txt"
#define HEADERS_SIZE_MAX	8192

struct mtasts_fetch {
	struct dns *dns;
	struct event_base *base;
	SSL_CTX *ctx;
	char *host;			/* mta-sts.DOMAIN */
	unsigned short port;
	int tried_aaaa;
	struct dns_lookup *lookup;
	struct evhttp_connection *evcon;
	SSL *ssl;			/* owned by the connection */
	struct event *deadline;
	struct event *done;
	int finished;
	char *why;			/* the first failure */
	struct strbuf body;
	mtasts_fetch_cb cb;
	void *arg;
};

SSL_CTX *
mtasts_fetch_ctx(const char *cafile, char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok;

	if (ctx == NULL) {
		*err = xstrdup("cannot create the MTA-STS TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cafile != NULL && cafile[0] != '\0')
		ok = SSL_CTX_load_verify_locations(ctx, cafile, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		unsigned long e = ERR_get_error();

		*err = xasprintf("cannot load the MTA-STS trust anchors %s: %s",
		    cafile != NULL && cafile[0] != '\0' ? cafile :
		    "(system store)", ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void
fetch_free(struct mtasts_fetch *f)
{
	if (f->lookup != NULL)
		dns_lookup_cancel(f->lookup);
	if (f->evcon != NULL)
		evhttp_connection_free(f->evcon);	/* and the SSL */
	event_free(f->deadline);
	event_free(f->done);
	strbuf_free(&f->body);
	free(f->why);
	free(f->host);
	free(f);
}

/* Records the outcome (why NULL: success) and lets the loop deliver it. */
static void
finish(struct mtasts_fetch *f, char *why)
{
	if (f->finished) {
		free(why);
		return;
	}
	f->finished = 1;
	f->why = why;
	event_active(f->done, 0, 0);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mtasts_fetch *f = arg;

	(void)fd;
	(void)what;
	if (f->why != NULL)
		f->cb(f->arg, NULL, 0, f->why);
	else
		f->cb(f->arg, f->body.data, f->body.len, NULL);
	fetch_free(f);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mtasts_fetch *f = arg;

	(void)fd;
	(void)what;
	finish(f, xasprintf("https://%s%s: timed out", f->host, POLICY_PATH));
}

/* Why the TLS handshake failed, when it did. */
static char *
tls_failure(struct mtasts_fetch *f)
{
	long verify = SSL_get_verify_result(f->ssl);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(f->evcon);
	unsigned long e = bev != NULL ? bufferevent_get_openssl_error(bev) : 0;

	if (verify != X509_V_OK)
		return xasprintf("https://%s%s: certificate verification "
		    "failed: %s", f->host, POLICY_PATH,
		    X509_verify_cert_error_string(verify));
	/* libevent records a failed system call as SSL_ERROR_SYSCALL,
	 * which is no packed OpenSSL error: not a TLS failure. */
	if (e != 0 && ERR_GET_LIB(e) != 0)
		return xasprintf("https://%s%s: TLS error: %s", f->host,
		    POLICY_PATH, ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "unknown");
	return NULL;
}

static void
request_error(enum evhttp_request_error error, void *arg)
{
	struct mtasts_fetch *f = arg;
	char *why = tls_failure(f);

	if (why != NULL) {
		finish(f, why);
		return;
	}
	switch (error) {
	case EVREQ_HTTP_DATA_TOO_LONG:
		why = xasprintf("https://%s%s: policy larger than %d bytes",
		    f->host, POLICY_PATH, MTASTS_POLICY_SIZE_MAX);
		break;
	case EVREQ_HTTP_TIMEOUT:
		why = xasprintf("https://%s%s: timed out", f->host,
		    POLICY_PATH);
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		why = xasprintf("https://%s%s: malformed HTTP response",
		    f->host, POLICY_PATH);
		break;
	default:
		why = xasprintf("https://%s%s: connection failed", f->host,
		    POLICY_PATH);
		break;
	}
	finish(f, why);
}

/* "text/plain", any case, parameters allowed ("; charset=utf-8"). */
static int
is_text_plain(const char *type)
{
	size_t n = sizeof("text/plain") - 1;

	if (type == NULL || strncasecmp(type, "text/plain", n) != 0)
		return 0;
	type += n;
	while (*type == ' ' || *type == '\t')
		type++;
	return *type == '\0' || *type == ';';
}

static void
request_done(struct evhttp_request *req, void *arg)
{
	struct mtasts_fetch *f = arg;
	struct evbuffer *in;
	const char *type, *location;
	int code;

	if (req == NULL || (code = evhttp_request_get_response_code(req)) == 0) {
		char *why = tls_failure(f);

		finish(f, why != NULL ? why : xasprintf("https://%s%s: "
		    "connection failed", f->host, POLICY_PATH));
		return;
	}
	if (code != 200) {
		location = evhttp_find_header(
		    evhttp_request_get_input_headers(req), "Location");
		if (code >= 300 && code < 400)
			finish(f, xasprintf("https://%s%s: HTTP %d: redirect "
			    "to %.100s not followed", f->host, POLICY_PATH,
			    code, location != NULL ? location : "(none)"));
		else
			finish(f, xasprintf("https://%s%s: HTTP %d", f->host,
			    POLICY_PATH, code));
		return;
	}
	type = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (!is_text_plain(type)) {
		finish(f, xasprintf("https://%s%s: Content-Type %.60s, not "
		    "text/plain", f->host, POLICY_PATH,
		    type != NULL ? type : "(none)"));
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	if (evbuffer_get_length(in) > MTASTS_POLICY_SIZE_MAX) {
		finish(f, xasprintf("https://%s%s: policy larger than %d bytes",
		    f->host, POLICY_PATH, MTASTS_POLICY_SIZE_MAX));
		return;
	}
	strbuf_append(&f->body, (const char *)evbuffer_pullup(in, -1),
	    evbuffer_get_length(in));
	finish(f, NULL);
}

static void
connect_to(struct mtasts_fetch *f, const char *address)
{
	struct bufferevent *bev;
	struct evhttp_request *req;
	struct evkeyvalq *headers;

	f->ssl = SSL_new(f->ctx);
	if (f->ssl == NULL) {
		finish(f, xstrdup("cannot create an SSL object"));
		return;
	}
	/* SNI and the name the certificate must carry. */
	SSL_set_tlsext_host_name(f->ssl, f->host);
	SSL_set_hostflags(f->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set1_host(f->ssl, f->host);
	bev = bufferevent_openssl_socket_new(f->base, -1, f->ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(f->ssl);
		f->ssl = NULL;
		finish(f, xstrdup("cannot create a TLS bufferevent"));
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	f->evcon = evhttp_connection_base_bufferevent_new(f->base, NULL, bev,
	    address, f->port);
	if (f->evcon == NULL) {
		bufferevent_free(bev);
		f->ssl = NULL;
		finish(f, xstrdup("cannot create an HTTP connection"));
		return;
	}
	evhttp_connection_set_max_body_size(f->evcon, MTASTS_POLICY_SIZE_MAX);
	evhttp_connection_set_max_headers_size(f->evcon, HEADERS_SIZE_MAX);
	evhttp_connection_set_retries(f->evcon, 0);

	req = evhttp_request_new(request_done, f);
	evhttp_request_set_error_cb(req, request_error);
	headers = evhttp_request_get_output_headers(req);
	evhttp_add_header(headers, "Host", f->host);
	evhttp_add_header(headers, "Connection", "close");
	evhttp_add_header(headers, "User-Agent", PACKAGE_NAME);
	if (evhttp_make_request(f->evcon, req, EVHTTP_REQ_GET,
	    POLICY_PATH) != 0)
		finish(f, xasprintf("https://%s%s: cannot send the request",
		    f->host, POLICY_PATH));
}

static void
address_answer(void *arg, enum dns_status status, char *const *records,
    size_t n, unsigned int ttl, const char *why)
{
	struct mtasts_fetch *f = arg;

	(void)ttl;
	f->lookup = NULL;
	if (status == DNS_OK && n > 0) {
		connect_to(f, records[0]);
		return;
	}
	/* No IPv4 address: an IPv6-only policy host. */
	if (status == DNS_NOTFOUND && !f->tried_aaaa) {
		f->tried_aaaa = 1;
		f->lookup = dns_lookup(f->dns, f->host, DNS_TYPE_AAAA,
		    address_answer, f);
		return;
	}
	finish(f, xasprintf("%s: %s", f->host, why != NULL ? why :
	    "no address"));
}

struct mtasts_fetch *
mtasts_fetch_start(struct dns *dns, SSL_CTX *ctx, const char *domain,
    unsigned short port, int timeout, mtasts_fetch_cb cb, void *arg)
{
	struct mtasts_fetch *f = xcalloc(1, sizeof(*f));
	struct timeval tv = { timeout, 0 };
	struct dns_lookup *lk;

	f->dns = dns;
	f->base = dns_event_base(dns);
	f->ctx = ctx;
	f->host = str_lower(xasprintf("mta-sts.%s", domain));
	f->port = port;
	f->cb = cb;
	f->arg = arg;
	strbuf_init(&f->body);
	f->done = event_new(f->base, -1, 0, done_cb, f);
	f->deadline = evtimer_new(f->base, deadline_cb, f);
	evtimer_add(f->deadline, &tv);
	lk = dns_lookup(dns, f->host, DNS_TYPE_A, address_answer, f);
	/* NULL when the answer came at once: address_answer has run. */
	if (lk != NULL)
		f->lookup = lk;
	return f;
}

void
mtasts_fetch_cancel(struct mtasts_fetch *f)
{
	fetch_free(f);
}
