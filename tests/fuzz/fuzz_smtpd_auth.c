/* Fuzz harness: the SMTP server's AUTH exchange with the built-in backend
 * (src/smtpd/sasl_tlsrelay.c behind include/tlsrelay/sasl_server.h), as
 * smtpd_auth.c drives it: a mechanism, an optional initial response, then
 * the client's replies to each challenge, all from the input (first byte:
 * the mechanism and whether an initial response comes; then lines). The
 * password check runs in place (no event loop). Checked: every call ends
 * in exactly one verdict; challenges are base64; PLAIN asks at most once
 * and LOGIN at most twice; a success names the one user whose password
 * was sent, and only with that password. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/util.h"
#include "fuzz.h"

#define USER		"user@example.com"
#define PASSWORD	"secret"
#define MAX_LINES	8

static struct sasl_server *server;
/* The server's, for as long as the process runs: reachable from a global
 * (a static that is only written may be optimised away, and the leak
 * checker would then count it). */
struct conf *fuzz_smtpd_auth_conf;

struct outcome {
	int calls;
	int continues;
	enum sasl_verdict last;
	char user[300];
};

static void
init(void)
{
	char path[] = "/tmp/fuzz_smtpd_auth.XXXXXX", *hash, *err = NULL;
	char *main_cf;
	FILE *fp;
	int fd;

	if ((hash = sasl_password_hash(PASSWORD, "$1$", &err)) == NULL) {
		free(err);
		err = NULL;
		hash = sasl_password_hash(PASSWORD, "$5$", &err);
	}
	CHECK(hash != NULL);
	CHECK((fd = mkstemp(path)) >= 0);
	CHECK((fp = fdopen(fd, "w")) != NULL);
	fprintf(fp, "%s %s\n", USER, hash);
	fclose(fp);
	free(hash);
	main_cf = xasprintf("smtpd_sasl_auth_enable = yes\n"
	    "tlsrelay_smtpd_sasl_user_maps = texthash:%s\n", path);
	fuzz_smtpd_auth_conf = conf_load_strings(main_cf, "main.cf", NULL,
	    NULL, &err);
	CHECK(fuzz_smtpd_auth_conf != NULL);
	server = sasl_backend_tlsrelay.server_new(fuzz_smtpd_auth_conf, &err);
	CHECK(server != NULL);
	/* The table is read at open; the file may go. */
	unlink(path);
	free(main_cf);
}

static int
base64_text(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") == strlen(s);
}

static void
result(void *arg, const struct sasl_result *r)
{
	struct outcome *o = arg;

	o->calls++;
	o->last = r->verdict;
	if (r->verdict == SASL_CONTINUE) {
		o->continues++;
		CHECK(r->challenge != NULL && base64_text(r->challenge));
	} else if (r->verdict == SASL_SUCCESS) {
		CHECK(r->username != NULL);
		snprintf(o->user, sizeof(o->user), "%s", r->username);
	} else {
		CHECK(r->verdict == SASL_FAILURE ||
		    r->verdict == SASL_TEMPFAIL || r->verdict == SASL_BADPROTO);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const mechs[] = { "PLAIN", "LOGIN" };
	static const struct sasl_client_info client = {
	    .client_addr = "192.0.2.1", .local_addr = "127.0.0.1",
	    .service = "smtp" };
	char *text, *lines[MAX_LINES], *p, *save = NULL;
	struct sasl_exchange *x;
	struct outcome o;
	size_t n = 0, used = 0;
	int login, before;

	if (server == NULL)
		init();
	if (size < 1 || size > 4096)
		return 0;
	login = data[0] & 1;
	text = xstrndup((const char *)data + 1, size - 1);
	for (p = strtok_r(text, "\n", &save); p != NULL && n < MAX_LINES;
	    p = strtok_r(NULL, "\n", &save))
		lines[n++] = p;
	memset(&o, 0, sizeof(o));
	x = sasl_backend_tlsrelay.start(server, &client, mechs[login],
	    (data[0] & 2) && n > 0 ? lines[used++] : NULL, result, &o);
	CHECK(o.calls == 1);
	while (o.last == SASL_CONTINUE && used < n) {
		before = o.calls;
		sasl_backend_tlsrelay.step(x, lines[used++]);
		CHECK(o.calls == before + 1);
	}
	CHECK(o.continues <= (login ? 2 : 1));
	if (o.last == SASL_SUCCESS)
		CHECK(strcmp(o.user, USER) == 0);
	sasl_backend_tlsrelay.end(x);
	free(text);
	return 0;
}
