/* sasl_tlsrelay: the built-in backend (smtpd_sasl_type = tlsrelay), PLAIN
 * (RFC 4616) and LOGIN against tlsrelay_smtpd_sasl_user_maps. The table
 * lookup runs in the loop, where tables are re-opened when their file
 * changes; the crypt(3) runs in an offload thread, since a yescrypt hash
 * costs tens of milliseconds and a bcrypt of cost 14 about a second,
 * during which the worker's other sessions go on. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/offload.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"

/* Both carry the password itself (Cyrus SASL's properties for them). */
#define PASSWORD_MECH_FLAGS \
	(SASL_MECH_F_PLAINTEXT | SASL_MECH_F_ACTIVE | SASL_MECH_F_DICTIONARY)

static const struct sasl_mech mechanisms[] = {
	{ "PLAIN", PASSWORD_MECH_FLAGS },
	{ "LOGIN", PASSWORD_MECH_FLAGS },
};

struct sasl_server {
	struct smtpd_table *users;
	struct event_base *base;
};

enum step {
	STEP_PLAIN,		/* "334 " sent */
	STEP_LOGIN_USER,	/* "334 VXNlcm5hbWU6" (Username:) sent */
	STEP_LOGIN_PASS,	/* "334 UGFzc3dvcmQ6" (Password:) sent */
	STEP_CHECK,		/* crypt(3) under way */
	STEP_DONE,
};

struct sasl_exchange {
	struct sasl_server *server;
	sasl_result_fn *fn;
	void *arg;
	enum step step;
	char *user;		/* as the client gave it */
	char *authzid;		/* PLAIN: "" for none */
	/* The check, shared with the offload thread until it is done. */
	struct offload_job *job;
	char *hash;
	char *password;
	int match;
};

static struct sasl_server *
tlsrelay_server_new(const struct conf *conf, char **err)
{
	struct sasl_server *server = xcalloc(1, sizeof(*server));

	if ((server->users = smtpd_table_open(conf,
	    P_tlsrelay_smtpd_sasl_user_maps, err)) == NULL)
		goto fail;
	if (smtpd_table_empty(server->users)) {
		const char *origin = conf_origin(conf,
		    P_tlsrelay_smtpd_sasl_user_maps);

		*err = xasprintf("%s: tlsrelay_smtpd_sasl_user_maps: "
		    "smtpd_sasl_auth_enable = yes needs a password table "
		    "(see tlsrelay passwd)", origin ? origin : "default");
		goto fail;
	}
	/* Made once here, before the workers fork. */
	sasl_password_prepare();
	return server;
fail:
	smtpd_table_free(server->users);
	free(server);
	return NULL;
}

static void
tlsrelay_server_free(struct sasl_server *server)
{
	if (server == NULL)
		return;
	smtpd_table_free(server->users);
	free(server);
}

static int
tlsrelay_server_attach(struct sasl_server *server, struct event_base *base,
    char **err)
{
	(void)err;
	server->base = base;
	return 0;
}

static size_t
tlsrelay_mechanisms(struct sasl_server *server, const struct sasl_mech **mechs)
{
	(void)server;
	*mechs = mechanisms;
	return sizeof(mechanisms) / sizeof(mechanisms[0]);
}

static void
exchange_free(struct sasl_exchange *x)
{
	free(x->user);
	free(x->authzid);
	free(x->hash);
	sasl_secret_free(x->password);
	free(x);
}

static void
verdict(struct sasl_exchange *x, enum sasl_verdict v, const char *reason,
    const char *attempted)
{
	struct sasl_result r = { .verdict = v, .reason = reason,
	    .attempted = attempted };

	x->step = STEP_DONE;
	x->fn(x->arg, &r);
}

static void
challenge(struct sasl_exchange *x, enum step next, const char *b64)
{
	struct sasl_result r = { .verdict = SASL_CONTINUE, .challenge = b64 };

	x->step = next;
	x->fn(x->arg, &r);
}

/* In an offload thread: the exchange's check fields are its own. */
static void
check_work(void *arg)
{
	struct sasl_exchange *x = arg;

	x->match = sasl_password_check(x->hash, x->password);
}

/* Back in the loop. */
static void
check_done(void *arg)
{
	struct sasl_exchange *x = arg;
	char *name;

	x->job = NULL;
	sasl_secret_free(x->password);
	x->password = NULL;
	/* No proxy rights: a user may only act as itself. */
	if (!x->match || (*x->authzid != '\0' &&
	    strcasecmp(x->authzid, x->user) != 0)) {
		verdict(x, SASL_FAILURE, "authentication failure", x->user);
		return;
	}
	/* Table keys are lower case: so is the login name. */
	name = str_lower(xstrdup(x->user));
	{
		struct sasl_result r = { .verdict = SASL_SUCCESS,
		    .username = name };

		x->step = STEP_DONE;
		/* fn may end (free) x: name is not part of it. */
		x->fn(x->arg, &r);
	}
	free(name);
}

/* The session went away during the check. */
static void
check_release(void *arg)
{
	exchange_free(arg);
}

/* Looks the user up, then checks password (taken over) off the loop. */
static void
check(struct sasl_exchange *x, char *password)
{
	const char *hash = NULL;
	int error = 0;

	/* A name no table can hold still costs a crypt(3). */
	if (sasl_username_valid(x->user)) {
		hash = smtpd_table_lookup(x->server->users, x->user, &error);
		if (error) {
			sasl_secret_free(password);
			verdict(x, SASL_TEMPFAIL, "password table lookup error",
			    x->user);
			return;
		}
	}
	x->hash = hash ? xstrdup(hash) : NULL;
	x->password = password;
	x->step = STEP_CHECK;
	if (x->server->base != NULL)
		x->job = offload_submit(x->server->base, check_work,
		    check_done, x);
	if (x->job == NULL) {
		/* No thread (or no loop: a unit test): check here. */
		check_work(x);
		check_done(x);
	}
}

static void
plain_message(struct sasl_exchange *x, const char *b64)
{
	struct sasl_credentials cred;

	switch (sasl_plain_decode(b64, &cred)) {
	case SASL_DECODE_BASE64:
		verdict(x, SASL_BADPROTO, "cannot decode response", NULL);
		return;
	case SASL_DECODE_FORM:
		verdict(x, SASL_FAILURE, "bad protocol / cancel", NULL);
		return;
	case SASL_DECODE_OK:
		break;
	}
	free(x->authzid);
	x->authzid = cred.authzid;
	x->user = cred.authcid;
	cred.authzid = cred.authcid = NULL;
	check(x, cred.passwd);
}

static void
login_username(struct sasl_exchange *x, const char *b64)
{
	switch (sasl_login_decode(b64, SASL_NAME_MAX, &x->user)) {
	case SASL_DECODE_BASE64:
		verdict(x, SASL_BADPROTO, "cannot decode response", NULL);
		return;
	case SASL_DECODE_FORM:
		verdict(x, SASL_FAILURE, "bad protocol / cancel", NULL);
		return;
	case SASL_DECODE_OK:
		break;
	}
	challenge(x, STEP_LOGIN_PASS, "UGFzc3dvcmQ6");
}

static void
login_password(struct sasl_exchange *x, const char *b64)
{
	char *password;

	switch (sasl_login_decode(b64, SASL_PASSWD_MAX, &password)) {
	case SASL_DECODE_BASE64:
		verdict(x, SASL_BADPROTO, "cannot decode response", NULL);
		return;
	case SASL_DECODE_FORM:
		verdict(x, SASL_FAILURE, "authentication failure", x->user);
		return;
	case SASL_DECODE_OK:
		break;
	}
	check(x, password);
}

static void
tlsrelay_step(struct sasl_exchange *x, const char *response)
{
	switch (x->step) {
	case STEP_PLAIN:
		plain_message(x, response);
		break;
	case STEP_LOGIN_USER:
		login_username(x, response);
		break;
	case STEP_LOGIN_PASS:
		login_password(x, response);
		break;
	case STEP_CHECK:
	case STEP_DONE:
		msg_panic("sasl_tlsrelay: step without a challenge");
	}
}

static struct sasl_exchange *
tlsrelay_start(struct sasl_server *server,
    const struct sasl_client_info *client, const char *mech,
    const char *initial, sasl_result_fn *fn, void *arg)
{
	struct sasl_exchange *x = xcalloc(1, sizeof(*x));
	int login = strcasecmp(mech, "LOGIN") == 0;

	(void)client;
	x->server = server;
	x->fn = fn;
	x->arg = arg;
	x->authzid = xstrdup("");
	x->step = login ? STEP_LOGIN_USER : STEP_PLAIN;
	if (initial != NULL)
		tlsrelay_step(x, initial);
	else if (login)
		challenge(x, STEP_LOGIN_USER, "VXNlcm5hbWU6");
	else
		challenge(x, STEP_PLAIN, "");
	return x;
}

static void
tlsrelay_end(struct sasl_exchange *x)
{
	if (x == NULL)
		return;
	if (x->job != NULL) {
		/* The thread still has the password and hash. */
		offload_abandon(x->job, check_release);
		return;
	}
	exchange_free(x);
}

const struct sasl_backend sasl_backend_tlsrelay = {
	.type = "tlsrelay",
	.server_new = tlsrelay_server_new,
	.server_free = tlsrelay_server_free,
	.server_attach = tlsrelay_server_attach,
	.mechanisms = tlsrelay_mechanisms,
	.start = tlsrelay_start,
	.step = tlsrelay_step,
	.end = tlsrelay_end,
};
