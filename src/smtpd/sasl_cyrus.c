/* sasl_cyrus: smtpd_sasl_type = cyrus, the Cyrus SASL library used as
 * Postfix uses it (xsasl_cyrus_server.c). One sasl_server_init per process
 * with the application name smtpd_sasl_path ("smtpd": the library reads
 * smtpd.conf from cyrus_sasl_config_path, or from its own search path),
 * then a sasl_conn_t per AUTH exchange. sasl_server_start and
 * sasl_server_step may block (saslauthd, an auxprop lookup, slow hashing):
 * they run in the offload pool, one job at a time per connection, which is
 * the library's rule for a sasl_conn_t. */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

/* The library's status SASL_CONTINUE is a macro; sasl_server.h's verdict
 * of the same name is ours from here on. */
enum { CYRUS_CONTINUE = SASL_CONTINUE };
#undef SASL_CONTINUE

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/offload.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/util.h"

/* A callback as sasl_callback_t holds it (the library casts it back by
 * its id); through void (*)(void), which -Wcast-function-type allows. */
#define SASL_CB_FN(f)	((int (*)(void))(void (*)(void))(f))

/* Library messages of one connection, kept while a pool thread runs the
 * library and logged in the loop; a few lines are all an exchange says. */
#define CONN_LOG_MAX	8

/* More base64 than any SMTP line carries. */
#define SASL_INPUT_MAX	65536

struct sasl_server {
	char *app;		/* smtpd_sasl_path */
	char *config_path;	/* cyrus_sasl_config_path; "" for the default */
	char *hostname;		/* myhostname: the server FQDN */
	char *realm;		/* smtpd_sasl_local_domain; NULL when empty */
	char *service;		/* smtpd_sasl_service: "smtp" */
	struct event_base *base;
	struct sasl_mech *mechs;
	size_t n_mechs;
};

struct conn_log {
	int level[CONN_LOG_MAX];
	char *text[CONN_LOG_MAX];
	size_t n;
	unsigned long dropped;
};

struct sasl_exchange {
	struct sasl_server *server;
	sasl_result_fn *fn;
	void *arg;
	sasl_conn_t *conn;
	sasl_callback_t callbacks[2];	/* the connection's log callback */
	struct conn_log log;
	/* Shared with the pool thread while job is not NULL. */
	struct offload_job *job;
	char *mech;		/* NULL once started: the job steps */
	unsigned char *in;	/* decoded client data (may hold a password) */
	unsigned in_len;
	int no_initial;		/* AUTH without an initial response */
	int status;
	const char *out;	/* the library's, valid until the next call */
	unsigned out_len;
	/* What the last result pointed to. */
	char *challenge;
	char *username;
};

/* The library has one configuration per process. */
static struct {
	int initialized;
	char *app;
	char *config_path;
} library;

/* ---- logging ---------------------------------------------------------- */

/* Postfix's words and levels (xsasl_cyrus_log.c). */
static void
log_library_message(int level, const char *text)
{
	switch (level) {
	case SASL_LOG_ERR:
	case SASL_LOG_WARN:
		msg_warn("SASL authentication problem: %s", text);
		break;
	case SASL_LOG_FAIL:
		msg_warn("SASL authentication failure: %s", text);
		break;
	case SASL_LOG_NOTE:
		if (msg_verbose)
			msg_info("SASL authentication info: %s", text);
		break;
	case SASL_LOG_PASS:
		/* Traces with passwords: never, not even with -v -v. */
		break;
	default:
		if (msg_verbose > 1)
			msg_info("SASL authentication debug: %s", text);
		break;
	}
}

/* The library's messages outside any connection: init, plugin loading;
 * those come from the loop's thread. */
static int
global_log(void *context, int level, const char *text)
{
	(void)context;
	log_library_message(level, text);
	return SASL_OK;
}

/* A connection's messages, perhaps from a pool thread, which must not
 * write the log (the loop may be switching its service name): kept for
 * conn_log_flush. */
static int
conn_log(void *context, int level, const char *text)
{
	struct conn_log *log = context;

	if (level == SASL_LOG_PASS ||
	    (level > SASL_LOG_NOTE && msg_verbose <= 1))
		return SASL_OK;
	if (log->n == CONN_LOG_MAX) {
		log->dropped++;
		return SASL_OK;
	}
	log->level[log->n] = level;
	log->text[log->n++] = xstrdup(text);
	return SASL_OK;
}

static void
conn_log_flush(struct conn_log *log)
{
	for (size_t i = 0; i < log->n; i++) {
		log_library_message(log->level[i], log->text[i]);
		free(log->text[i]);
	}
	if (log->dropped > 0)
		msg_warn("SASL authentication problem: %lu more library "
		    "messages not logged", log->dropped);
	log->n = 0;
	log->dropped = 0;
}

/* ---- the library, once per process -------------------------------------- */

/* Two pool threads call into the library at once (on different
 * connections); its shared state takes these locks. */
static void *
mutex_alloc(void)
{
	pthread_mutex_t *m = xmalloc(sizeof(*m));

	pthread_mutex_init(m, NULL);
	return m;
}

static int
mutex_lock(void *m)
{
	return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int
mutex_unlock(void *m)
{
	return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void
mutex_free(void *m)
{
	pthread_mutex_destroy(m);
	free(m);
}

static sasl_callback_t global_callbacks[] = {
	{ SASL_CB_LOG, SASL_CB_FN(global_log), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

static const char *
status_text(int status)
{
	return sasl_errstring(status, NULL, NULL);
}

static int
library_init(const struct sasl_server *server, char **err)
{
	int status;

	if (library.initialized) {
		if (strcmp(library.app, server->app) != 0 ||
		    strcmp(library.config_path, server->config_path) != 0) {
			*err = xasprintf("Cyrus SASL: smtpd_sasl_path = %s and "
			    "cyrus_sasl_config_path = %s differ from another "
			    "service's (%s, %s): the library has one "
			    "configuration per process", server->app,
			    server->config_path, library.app,
			    library.config_path);
			return -1;
		}
		return 0;
	}
	sasl_set_mutex(mutex_alloc, mutex_lock, mutex_unlock, mutex_free);
	if (*server->config_path != '\0' &&
	    (status = sasl_set_path(SASL_PATH_TYPE_CONFIG,
	    server->config_path)) != SASL_OK) {
		*err = xasprintf("Cyrus SASL: cannot set the configuration "
		    "path \"%s\": %s", server->config_path,
		    status_text(status));
		return -1;
	}
	if ((status = sasl_server_init(global_callbacks, server->app)) !=
	    SASL_OK) {
		*err = xasprintf("SASL per-process initialization failed: %s",
		    status_text(status));
		return -1;
	}
	library.initialized = 1;
	library.app = xstrdup(server->app);
	library.config_path = xstrdup(server->config_path);
	return 0;
}

/* ---- the server, per service -------------------------------------------- */

/* When cyrus_sasl_config_path is set, one of its directories must hold
 * APP.conf: otherwise the library would quietly go on with its defaults
 * (every mechanism, /etc/sasldb2). */
static int
check_config_path(const struct conf *conf, const char *path, const char *app,
    char **err)
{
	char **dirs;
	size_t n;
	int found = 0;

	if (*path == '\0')
		return 0;
	dirs = strlist_split(path, ":", &n);
	for (size_t i = 0; i < n && !found; i++) {
		char *file = xasprintf("%s/%s.conf", dirs[i], app);

		found = access(file, F_OK) == 0;
		free(file);
	}
	strlist_free(dirs);
	if (!found) {
		const char *origin = conf_origin(conf,
		    P_cyrus_sasl_config_path);

		*err = xasprintf("%s: cyrus_sasl_config_path: no %s.conf in "
		    "%s (its name is smtpd_sasl_path plus .conf)",
		    origin ? origin : "default", app, path);
		return -1;
	}
	return 0;
}

static void
cyrus_server_free(struct sasl_server *server)
{
	if (server == NULL)
		return;
	for (size_t i = 0; i < server->n_mechs; i++)
		free(server->mechs[i].name);
	free(server->mechs);
	free(server->app);
	free(server->config_path);
	free(server->hostname);
	free(server->realm);
	free(server->service);
	free(server);
}

/* In the supervisor: only what the configuration says. The library is
 * initialised in the workers (server_attach), so that the supervisor and
 * the tlsrelay command hold none of its state. */
static struct sasl_server *
cyrus_server_new(const struct conf *conf, char **err)
{
	struct sasl_server *server;
	const char *app = conf_str(conf, P_smtpd_sasl_path);
	const char *realm = conf_str(conf, P_smtpd_sasl_local_domain);

	if (*app == '\0' || strchr(app, '/') != NULL) {
		const char *origin = conf_origin(conf, P_smtpd_sasl_path);

		*err = xasprintf("%s: smtpd_sasl_path: \"%s\" is not a Cyrus "
		    "SASL application name (such as smtpd, for smtpd.conf)",
		    origin ? origin : "default", app);
		return NULL;
	}
	if (check_config_path(conf, conf_str(conf, P_cyrus_sasl_config_path),
	    app, err) < 0)
		return NULL;
	server = xcalloc(1, sizeof(*server));
	server->app = xstrdup(app);
	server->config_path = xstrdup(conf_str(conf,
	    P_cyrus_sasl_config_path));
	server->hostname = xstrdup(conf_str(conf, P_myhostname));
	server->realm = *realm ? xstrdup(realm) : NULL;
	server->service = xstrdup(conf_str(conf, P_smtpd_sasl_service));
	return server;
}

/* A mechanism's properties as the plugin declares them: Cyrus's
 * SASL_SEC_NO* say what a mechanism is safe from, ours what it is open
 * to. */
static unsigned
mech_flags(unsigned security_flags)
{
	unsigned flags = 0;

	if (!(security_flags & SASL_SEC_NOPLAINTEXT))
		flags |= SASL_MECH_F_PLAINTEXT;
	if (!(security_flags & SASL_SEC_NOACTIVE))
		flags |= SASL_MECH_F_ACTIVE;
	if (!(security_flags & SASL_SEC_NODICTIONARY))
		flags |= SASL_MECH_F_DICTIONARY;
	if (!(security_flags & SASL_SEC_NOANONYMOUS))
		flags |= SASL_MECH_F_ANONYMOUS;
	if (security_flags & SASL_SEC_MUTUAL_AUTH)
		flags |= SASL_MECH_F_MUTUAL_AUTH;
	if (security_flags & SASL_SEC_FORWARD_SECRECY)
		flags |= SASL_MECH_F_FORWARD_SECRECY;
	return flags;
}

/* sasl_server_plugin_info's callback: the flags of the mechanisms the
 * server lists (the first plugin of a name wins, as in the library). */
static void
plugin_info(server_sasl_mechanism_t *m, sasl_info_callback_stage_t stage,
    void *arg)
{
	struct sasl_server *server = arg;

	if (stage != SASL_INFO_LIST_MECH || m == NULL || m->plug == NULL)
		return;
	for (size_t i = 0; i < server->n_mechs; i++) {
		if (strcasecmp(server->mechs[i].name, m->plug->mech_name) == 0 &&
		    server->mechs[i].flags == ~0u) {
			server->mechs[i].flags =
			    mech_flags(m->plug->security_flags);
			return;
		}
	}
}

/* The mechanisms the library offers under this configuration (mech_list
 * in APP.conf, the plugins installed), as sasl_listmech says on a
 * connection of this service. */
static int
list_mechanisms(struct sasl_server *server, char **err)
{
	struct conn_log log = { .n = 0 };
	sasl_callback_t callbacks[] = {
		{ SASL_CB_LOG, SASL_CB_FN(conn_log), &log },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	sasl_conn_t *conn = NULL;
	const char *list;
	char **names;
	size_t n;
	int status, count;

	status = sasl_server_new(server->service, server->hostname,
	    server->realm, NULL, NULL, callbacks, 0, &conn);
	if (status == SASL_OK)
		status = sasl_listmech(conn, NULL, "", " ", "", &list, NULL,
		    &count);
	if (status == SASL_NOMECH) {
		list = "";
		status = SASL_OK;
	}
	if (status != SASL_OK) {
		conn_log_flush(&log);
		*err = xasprintf("Cyrus SASL: cannot list the mechanisms: %s",
		    conn ? sasl_errdetail(conn) : status_text(status));
		sasl_dispose(&conn);
		return -1;
	}
	names = strlist_split(list, " ", &n);
	server->mechs = xcalloc(n > 0 ? n : 1, sizeof(*server->mechs));
	for (size_t i = 0; i < n; i++) {
		server->mechs[i].name = xstrdup(names[i]);
		for (char *p = server->mechs[i].name; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		server->mechs[i].flags = ~0u;
	}
	server->n_mechs = n;
	strlist_free(names);
	sasl_dispose(&conn);
	conn_log_flush(&log);
	(void)sasl_server_plugin_info(NULL, plugin_info, server);
	/* A mechanism no plugin described: assume the worst. */
	for (size_t i = 0; i < server->n_mechs; i++)
		if (server->mechs[i].flags == ~0u)
			server->mechs[i].flags = mech_flags(0);
	if (server->n_mechs == 0)
		msg_warn("Cyrus SASL: no applicable SASL mechanisms for "
		    "%s.conf: AUTH is not offered", server->app);
	return 0;
}

/* In a worker, after fork and the drop to mail_owner: APP.conf and the
 * password database are read as that user. */
static int
cyrus_server_attach(struct sasl_server *server, struct event_base *base,
    char **err)
{
	if (library_init(server, err) < 0)
		return -1;
	server->base = base;
	return list_mechanisms(server, err);
}

static size_t
cyrus_mechanisms(struct sasl_server *server, const struct sasl_mech **mechs)
{
	*mechs = server->mechs;
	return server->n_mechs;
}

/* ---- one exchange ------------------------------------------------------- */

static void
input_clear(struct sasl_exchange *x)
{
	if (x->in != NULL) {
		explicit_bzero(x->in, x->in_len);
		free(x->in);
	}
	x->in = NULL;
	x->in_len = 0;
}

static void
exchange_free(struct sasl_exchange *x)
{
	sasl_dispose(&x->conn);
	conn_log_flush(&x->log);
	input_clear(x);
	free(x->mech);
	free(x->challenge);
	free(x->username);
	free(x);
}

/* Decodes the client's base64 into x->in with the decoder every backend
 * uses: 0, or -1 when it is not base64. An empty line is an empty
 * response, as is RFC 4954's "=". */
static int
input_decode(struct sasl_exchange *x, const char *b64)
{
	size_t room = strlen(b64) / 4 * 3 + 1;
	long n = 0;

	input_clear(x);
	if (strlen(b64) > SASL_INPUT_MAX)
		return -1;
	x->in = xmalloc(room);
	if (*b64 != '\0' && (n = sasl_base64_decode(b64, x->in, room)) < 0) {
		input_clear(x);
		return -1;
	}
	x->in_len = (unsigned)n;
	return 0;
}

static void
final_verdict(struct sasl_exchange *x, enum sasl_verdict v,
    const char *reason)
{
	struct sasl_result r = { .verdict = v, .reason = reason };
	const void *name = NULL;

	/* Postfix logs the name the client tried (sasl_username=). */
	if (x->conn != NULL && sasl_getprop(x->conn, SASL_USERNAME, &name) ==
	    SASL_OK && name != NULL) {
		free(x->username);
		x->username = xstrdup(name);
		r.attempted = x->username;
	}
	/* From here on x is the caller's to end. */
	x->fn(x->arg, &r);
}

/* What the library said, as the interface says it. */
static void
report(struct sasl_exchange *x)
{
	struct sasl_result r = { .verdict = SASL_CONTINUE };
	const void *name = NULL;
	int status = x->status;

	switch (status) {
	case SASL_OK:
		if (sasl_getprop(x->conn, SASL_USERNAME, &name) != SASL_OK ||
		    name == NULL) {
			final_verdict(x, SASL_TEMPFAIL,
			    "no user name after authentication");
			return;
		}
		free(x->username);
		x->username = xstrdup(name);
		r.verdict = SASL_SUCCESS;
		r.username = x->username;
		x->fn(x->arg, &r);
		return;
	case CYRUS_CONTINUE:
		free(x->challenge);
		x->challenge = sasl_base64_encode(x->out, x->out_len);
		r.challenge = x->challenge;
		x->fn(x->arg, &r);
		return;
	case SASL_TRYAGAIN:
	case SASL_UNAVAIL:
	case SASL_FAIL:
	case SASL_NOMEM:
		final_verdict(x, SASL_TEMPFAIL, status_text(status));
		return;
	/* A message the mechanism cannot parse (SASL_BADPROT) fails like a
	 * wrong password, as in Postfix and the built-in backend: 535, and
	 * it counts towards the failure limit. BADPROTO (501) is for what is
	 * not base64 at all. */
	case SASL_NOUSER:
		/* The client reads the reason too: no hint that the user
		 * does not exist (Postfix does the same). */
		status = SASL_BADAUTH;
		/* FALLTHROUGH */
	default:
		final_verdict(x, SASL_FAILURE, status_text(status));
		return;
	}
}

/* In a pool thread: the connection and the job's fields are its own. */
static void
library_work(void *arg)
{
	struct sasl_exchange *x = arg;
	const char *clientin = x->no_initial ? NULL : (const char *)x->in;

	x->out = NULL;
	x->out_len = 0;
	if (x->mech != NULL)
		x->status = sasl_server_start(x->conn, x->mech, clientin,
		    x->in_len, &x->out, &x->out_len);
	else
		x->status = sasl_server_step(x->conn, clientin, x->in_len,
		    &x->out, &x->out_len);
}

/* Back in the loop. */
static void
library_done(void *arg)
{
	struct sasl_exchange *x = arg;

	x->job = NULL;
	free(x->mech);
	x->mech = NULL;
	x->no_initial = 0;
	input_clear(x);
	conn_log_flush(&x->log);
	report(x);
}

/* The session went away while the library worked. */
static void
library_release(void *arg)
{
	exchange_free(arg);
}

static void
run_library(struct sasl_exchange *x)
{
	if (x->server->base != NULL)
		x->job = offload_submit(x->server->base, library_work,
		    library_done, x);
	if (x->job == NULL) {
		/* No thread (or no loop): the call blocks here. */
		library_work(x);
		library_done(x);
	}
}

/* Cyrus's "a.b.c.d;port" (IPv6 addresses are written the same way). */
static char *
ip_port(const char *addr, int port)
{
	if (addr == NULL || *addr == '\0' || port <= 0)
		return NULL;
	return xasprintf("%s;%d", addr, port);
}

static int
conn_new(struct sasl_exchange *x, const struct sasl_client_info *client)
{
	struct sasl_server *server = x->server;
	sasl_security_properties_t props;
	char *local = ip_port(client->local_addr, client->local_port);
	char *remote = ip_port(client->client_addr, client->client_port);
	const char *service = client->service ? client->service :
	    server->service;
	int status;

	x->callbacks[0] = (sasl_callback_t){ SASL_CB_LOG,
	    SASL_CB_FN(conn_log), &x->log };
	x->callbacks[1] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	status = sasl_server_new(service, server->hostname, server->realm,
	    local, remote, x->callbacks, 0, &x->conn);
	free(local);
	free(remote);
	if (status != SASL_OK)
		return status;
	if (client->tls_active) {
		sasl_ssf_t ssf = (sasl_ssf_t)client->tls_cipher_bits;

		if ((status = sasl_setprop(x->conn, SASL_SSF_EXTERNAL,
		    &ssf)) != SASL_OK)
			return status;
	}
	/* No SASL security layer: SMTP here has none. smtpd_auth.c has
	 * already filtered the mechanism by smtpd_sasl_security_options. */
	memset(&props, 0, sizeof(props));
	props.min_ssf = 0;
	props.max_ssf = 0;
	props.maxbufsize = 0;
	return sasl_setprop(x->conn, SASL_SEC_PROPS, &props);
}

static struct sasl_exchange *
cyrus_start(struct sasl_server *server, const struct sasl_client_info *client,
    const char *mech, const char *initial, sasl_result_fn *fn, void *arg)
{
	struct sasl_exchange *x = xcalloc(1, sizeof(*x));
	int status;

	x->server = server;
	x->fn = fn;
	x->arg = arg;
	if ((status = conn_new(x, client)) != SASL_OK) {
		conn_log_flush(&x->log);
		msg_warn("SASL per-connection server initialization: %s",
		    x->conn ? sasl_errdetail(x->conn) : status_text(status));
		final_verdict(x, SASL_TEMPFAIL, status_text(status));
		return x;
	}
	if (initial == NULL) {
		x->no_initial = 1;
	} else if (input_decode(x, initial) < 0) {
		final_verdict(x, SASL_BADPROTO, "cannot decode response");
		return x;
	}
	x->mech = xstrdup(mech);
	run_library(x);
	return x;
}

static void
cyrus_step(struct sasl_exchange *x, const char *response)
{
	if (x->job != NULL)
		msg_panic("sasl_cyrus: step while the library is working");
	if (input_decode(x, response) < 0) {
		final_verdict(x, SASL_BADPROTO, "cannot decode response");
		return;
	}
	run_library(x);
}

static void
cyrus_end(struct sasl_exchange *x)
{
	if (x == NULL)
		return;
	if (x->job != NULL) {
		/* The pool thread still holds the connection. */
		offload_abandon(x->job, library_release);
		return;
	}
	exchange_free(x);
}

const struct sasl_backend sasl_backend_cyrus = {
	.type = "cyrus",
	.server_new = cyrus_server_new,
	.server_free = cyrus_server_free,
	.server_attach = cyrus_server_attach,
	.mechanisms = cyrus_mechanisms,
	.start = cyrus_start,
	.step = cyrus_step,
	.end = cyrus_end,
};
