/* tls_server_cache: session resumption for the server. For now only the
 * TLS 1.3 ticket policy; the session cache shared between workers
 * (smtpd_tls_session_cache_database) and the shared ticket keys sealed
 * with tls_session_ticket_cipher will be set up here. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

int
tls_server_cache_setup(SSL_CTX *ctx, const struct conf *conf, char **err)
{
	const char *param = "tls_session_ticket_cipher";
	const char *name = conf_str(conf, param);
	EVP_CIPHER *cipher;

	*err = NULL;
	/* An empty cipher turns tickets off, as in Postfix. Without
	 * num_tickets 0 TLS 1.3 would still send stateful tickets. */
	if (name == NULL || name[strspn(name, LIST_SEPARATORS)] == '\0') {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return 0;
	}
	/* Checked now, so a typo fails at start-up rather than when the
	 * shared ticket keys arrive. */
	ERR_clear_error();
	if ((cipher = EVP_CIPHER_fetch(NULL, name, NULL)) == NULL) {
		ERR_clear_error();
		*err = xasprintf("%s: %s: unknown cipher \"%s\"",
		    tls_param_origin(conf, param), param, name);
		return -1;
	}
	EVP_CIPHER_free(cipher);
	/* Some large receivers drop connections that get several TLS 1.3
	 * tickets: one per full handshake, as Postfix. */
	SSL_CTX_set_num_tickets(ctx, 1);
	return 0;
}
