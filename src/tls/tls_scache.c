/* tls_scache: what the server and client caches share: the per-SSL_CTX
 * state, session serialisation, cache keys, and the purge timer every
 * smtpd worker runs. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"
#include "tls_scache.h"

/* ---- per-SSL_CTX state -------------------------------------------------- */

static int ctx_index = -1;
static int ticketed_index = -1;

void
tls_scache_ctx_release(struct tls_scache_ctx *sctx)
{
	if (sctx == NULL)
		return;
	if (sctx->more_refs > 0) {
		sctx->more_refs--;
		return;
	}
	scache_free(sctx->cache);
	tls_ticket_keys_free(sctx->tickets);
	free(sctx->trust);
	free(sctx);
}

static void
ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	tls_scache_ctx_release(ptr);
}

static void
indexes(void)
{
	if (ctx_index < 0)
		ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    ctx_ex_free);
	if (ticketed_index < 0)
		ticketed_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    NULL);
}

struct tls_scache_ctx *
tls_scache_ctx_get(const SSL_CTX *ctx)
{
	if (ctx_index < 0)
		return NULL;
	return SSL_CTX_get_ex_data(ctx, ctx_index);
}

int
tls_scache_ctx_attach(SSL_CTX *ctx, struct tls_scache_ctx *sctx)
{
	indexes();
	tls_scache_ctx_release(SSL_CTX_get_ex_data(ctx, ctx_index));
	if (ctx_index < 0 || !SSL_CTX_set_ex_data(ctx, ctx_index, sctx)) {
		tls_scache_ctx_release(sctx);
		return -1;
	}
	return 0;
}

struct tls_scache_ctx *
tls_scache_ctx_ref(struct tls_scache_ctx *sctx)
{
	sctx->more_refs++;
	return sctx;
}

void
tls_scache_mark_ticketed(SSL *ssl)
{
	indexes();
	/* Any non-NULL pointer: the SSL does not own it. */
	SSL_set_ex_data(ssl, ticketed_index, (void *)&ticketed_index);
}

int
tls_server_ticketed(const SSL *ssl)
{
	return ticketed_index >= 0 &&
	    SSL_get_ex_data(ssl, ticketed_index) != NULL;
}

int
tls_scache_open(const struct conf *conf, int param_id,
    struct scache **cache, char **err)
{
	const char *param = conf_param_name(param_id);
	enum scache_type type;
	char *path, *warning, *reason;

	*cache = NULL;
	if (scache_parse_spec(conf_str(conf, param_id), &type, &path, &warning,
	    &reason) < 0) {
		*err = xasprintf("%s: %s: %s", tls_param_origin(conf,
		    param_id),
		    param, reason);
		free(reason);
		return -1;
	}
	if (warning != NULL) {
		msg_warn("%s: %s: %s", tls_param_origin(conf, param_id), param,
		    warning);
		free(warning);
	}
	if (type == SCACHE_NONE)
		return 0;
	*cache = scache_new(conf_str(conf, P_data_directory), type, path, 0);
	free(path);
	return 0;
}

/* ---- sessions and keys -------------------------------------------------- */

unsigned char *
tls_session_to_der(SSL_SESSION *session, size_t *len)
{
	unsigned char *der, *p;
	int n = i2d_SSL_SESSION(session, NULL);

	if (n <= 0)
		return NULL;
	p = der = xmalloc((size_t)n);
	if (i2d_SSL_SESSION(session, &p) != n) {
		free(der);
		return NULL;
	}
	*len = (size_t)n;
	return der;
}

SSL_SESSION *
tls_session_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	SSL_SESSION *session;

	if (len > 0x7fffffff)
		return NULL;
	session = d2i_SSL_SESSION(NULL, &p, (long)len);
	/* Trailing bytes mean it is not what we wrote. */
	if (session != NULL && p != der + len) {
		SSL_SESSION_free(session);
		return NULL;
	}
	return session;
}

static void
hex(struct strbuf *sb, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		strbuf_printf(sb, "%02X", p[i]);
}

char *
tls_server_cache_key(const unsigned char *id, size_t len, const char *tag)
{
	struct strbuf sb;

	strbuf_init(&sb);
	hex(&sb, id, len);
	strbuf_printf(&sb, "&c=%s&l=%lx", tag,
	    (unsigned long)OpenSSL_version_num());
	return strbuf_steal(&sb);
}

/* '&' and '=' separate the fields: escape them (and anything that is
 * not printable) so that no two destinations share a key. */
static void
field(struct strbuf *sb, const char *name, const char *value)
{
	strbuf_printf(sb, "&%s=", name);
	for (const unsigned char *p = (const unsigned char *)(value ? value :
	    ""); *p; p++) {
		if (*p == '&' || *p == '=' || *p == '%' || *p <= ' ' ||
		    *p >= 0x7f)
			strbuf_printf(sb, "%%%02X", *p);
		else
			strbuf_append(sb, (const char *)p, 1);
	}
}

char *
tls_client_cache_key(const char *nexthop, const char *hostname,
    const char *addr, unsigned port, const char *policy)
{
	struct strbuf sb;
	char portbuf[16];

	strbuf_init(&sb);
	strbuf_puts(&sb, "smtp");
	field(&sb, "n", nexthop);
	field(&sb, "h", hostname);
	field(&sb, "a", addr);
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	field(&sb, "p", portbuf);
	field(&sb, "t", policy);
	strbuf_printf(&sb, "&l=%lx", (unsigned long)OpenSSL_version_num());
	return strbuf_steal(&sb);
}

/* ---- purge --------------------------------------------------------------- */

struct maintenance {
	struct event_base *base;
	struct scache *server, *client;
	struct tls_ticket_keys *tickets;
	char *stamp;		/* data_directory/scache.purge */
	long long interval;
};

static struct maintenance *maint;

static void maintenance_arm(void);

/* One purge per interval for all workers: the first to find the stamp
 * file old enough (under its lock) does it. */
static int
purge_due(void)
{
	struct stat st;
	time_t now = time(NULL);
	int fd, due = 0;

	if ((fd = open(maint->stamp, O_RDONLY | O_CREAT | O_CLOEXEC,
	    0600)) < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		if (fstat(fd, &st) == 0 &&
		    (st.st_size == 0 || now - st.st_mtime >= maint->interval ||
		    st.st_mtime > now)) {
			due = 1;
			/* The mtime says when; one byte says "ever". */
			if (st.st_size == 0)
				(void)ftruncate(fd, 1);
			(void)futimens(fd, NULL);
		}
	}
	close(fd);
	return due;
}

static void
maintenance_cb(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);
	long n;

	(void)fd;
	(void)what;
	(void)arg;
	if (purge_due()) {
		if (maint->server && (n = scache_purge(maint->server, now)) > 0)
			msg_info("TLS session cache %s: removed %ld expired "
			    "sessions", scache_path(maint->server), n);
		if (maint->client && (n = scache_purge(maint->client, now)) > 0)
			msg_info("TLS session cache %s: removed %ld expired "
			    "sessions", scache_path(maint->client), n);
		if (maint->tickets)
			(void)tls_ticket_keys_purge(maint->tickets, now);
	}
	maintenance_arm();
}

static void
maintenance_arm(void)
{
	struct timeval tv = { .tv_sec = (time_t)maint->interval, .tv_usec = 0 };

	/* A once-event: libevent frees it with the base. */
	if (event_base_once(maint->base, -1, EV_TIMEOUT, maintenance_cb, NULL,
	    &tv) < 0)
		msg_warn("TLS session cache: cannot schedule the purge");
}

static void
maintenance_free(void)
{
	if (maint == NULL)
		return;
	scache_free(maint->server);
	scache_free(maint->client);
	tls_ticket_keys_free(maint->tickets);
	free(maint->stamp);
	free(maint);
	maint = NULL;
}

static long long
shorter(long long a, long long b)
{
	if (a <= 0)
		return b;
	if (b <= 0)
		return a;
	return a < b ? a : b;
}

void
tls_scache_maintenance(struct event_base *base, const struct conf *conf)
{
	long long server_timeout, client_timeout;
	const char *cipher = conf_str(conf, P_tls_session_ticket_cipher);
	char *err = NULL;

	maintenance_free();
	maint = xcalloc(1, sizeof(*maint));
	maint->base = base;
	server_timeout = conf_time(conf, P_smtpd_tls_session_cache_timeout);
	client_timeout = conf_time(conf, P_smtp_tls_session_cache_timeout);
	if ((server_timeout > 0 && tls_scache_open(conf,
	    P_smtpd_tls_session_cache_database, &maint->server, &err) < 0) ||
	    (client_timeout > 0 && tls_scache_open(conf,
	    P_smtp_tls_session_cache_database, &maint->client, &err) < 0)) {
		/* tls_server_ctx_new said so at start-up already. */
		free(err);
		err = NULL;
	}
	if (server_timeout > 0 && cipher != NULL &&
	    cipher[strspn(cipher, LIST_SEPARATORS)] != '\0')
		maint->tickets = tls_ticket_keys_new(conf_str(conf,
		    P_data_directory), cipher, server_timeout, &err);
	free(err);
	if (maint->server == NULL && maint->client == NULL &&
	    maint->tickets == NULL) {
		maintenance_free();
		return;
	}
	/* Often enough that an entry outlives its timeout by at most a
	 * fraction of it; at least once a second, at most every 5 min. */
	maint->interval = shorter(maint->server ? server_timeout : 0,
	    maint->client ? client_timeout : 0);
	if (maint->interval <= 0)
		maint->interval = server_timeout;
	maint->interval /= 2;
	if (maint->interval < 1)
		maint->interval = 1;
	if (maint->interval > 300)
		maint->interval = 300;
	maint->stamp = xasprintf("%s/scache.purge",
	    conf_str(conf, P_data_directory));
	atexit(maintenance_free);
	maintenance_arm();
}
