/* tls_server_kex: key exchange. FFDHE parameters for the DHE ciphers of
 * TLS 1.2 and older, and the groups offered for (EC)DHE. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

/* With smtpd_tls_eecdh_grade = none: no elliptic curves at all. */
#define FFDHE_GROUPS "ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192"

/* Despite its name, the file may hold parameters of any size (Postfix's
 * advice is 2048 bits); PEM "DH PARAMETERS" or "X9.42 DH PARAMETERS". */
static int
load_dh_file(SSL_CTX *ctx, const struct conf *conf, const char *file,
    char **err)
{
	int param = P_smtpd_tls_dh1024_param_file;
	char *reason = NULL;
	EVP_PKEY *dh;
	BIO *bio;

	if ((bio = tls_open_pem(file, &reason)) == NULL)
		return tls_file_error(err, conf, param, file, reason);
	ERR_clear_error();
	dh = PEM_read_bio_Parameters_ex(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (dh == NULL)
		return tls_file_error(err, conf, param, file,
		    tls_openssl_reason("no DH parameters found"));
	if (!EVP_PKEY_is_a(dh, "DH") && !EVP_PKEY_is_a(dh, "DHX")) {
		EVP_PKEY_free(dh);
		return tls_file_error(err, conf, param, file,
		    xstrdup("not DH parameters"));
	}
	/* Too small for OpenSSL's security level (1024 bits, as the name
	 * of the parameter once advised): Postfix goes on, and so do we,
	 * with the built-in groups, saying what to do. */
	if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
		int bits = EVP_PKEY_get_bits(dh);
		char *why = tls_openssl_reason("cannot use the DH "
		    "parameters");

		EVP_PKEY_free(dh);
		if (strstr(why, "too small") == NULL)
			return tls_file_error(err, conf, param, file, why);
		msg_warn_once("%s: %s %s: %s (%d bits): using the built-in FFDHE "
		    "groups instead; make a 2048-bit file with 'openssl "
		    "dhparam -out %s 2048', or remove the line",
		    tls_param_origin(conf, param), conf_param_name(param),
		    file, why, bits, file);
		free(why);
		SSL_CTX_set_dh_auto(ctx, 1);
	}
	/* On success the context owns dh. */
	return 0;
}

/* The names of tls_eecdh_auto_curves that this OpenSSL knows, joined by
 * ':'; as Postfix, the others are skipped. NULL when none is left. */
static char *
known_curves(SSL_CTX *ctx, const char *curves)
{
	char **names = strlist_split(curves, LIST_SEPARATORS ":", NULL);
	struct strbuf sb;

	strbuf_init(&sb);
	for (size_t i = 0; names[i] != NULL; i++) {
		if (SSL_CTX_set1_groups_list(ctx, names[i]) != 1) {
			ERR_clear_error();
			msg_debug("tls_eecdh_auto_curves: skipping \"%s\": "
			    "unknown to this OpenSSL", names[i]);
			continue;
		}
		strbuf_printf(&sb, "%s%s", sb.len ? ":" : "", names[i]);
	}
	strlist_free(names);
	if (sb.len == 0) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

static int
setup_groups(SSL_CTX *ctx, const struct conf *conf, char **err)
{
	int grade_param = P_smtpd_tls_eecdh_grade;
	int curves_param = P_tls_eecdh_auto_curves;
	const char *value = conf_str(conf, grade_param);
	const char *curves = conf_str(conf, curves_param);
	char *copy = xstrdup(value ? value : "");
	char *grade = str_lower(str_trim(copy));
	char *groups = NULL;
	int status = 0;

	/* Since Postfix 3.6, strong and ultra mean auto. */
	if (strcmp(grade, "auto") == 0 || strcmp(grade, "strong") == 0 ||
	    strcmp(grade, "ultra") == 0) {
		groups = known_curves(ctx, curves ? curves : "");
		if (groups == NULL) {
			*err = xasprintf("%s: %s: no curve known to OpenSSL "
			    "in \"%s\"", tls_param_origin(conf, curves_param),
			    conf_param_name(curves_param),
			    curves ? curves : "");
			status = -1;
		}
	} else if (strcmp(grade, "none") == 0) {
		groups = xstrdup(FFDHE_GROUPS);
	} else {
		*err = xasprintf("%s: %s: invalid value \"%s\" (expected "
		    "auto, strong, ultra or none)",
		    tls_param_origin(conf, grade_param),
		    conf_param_name(grade_param), grade);
		status = -1;
	}
	if (status == 0 && SSL_CTX_set1_groups_list(ctx, groups) != 1) {
		char *reason = tls_openssl_reason("unusable group list");

		*err = xasprintf("%s: %s: %s: %s",
		    tls_param_origin(conf, grade_param),
		    conf_param_name(grade_param), groups,
		    reason);
		free(reason);
		status = -1;
	}
	free(groups);
	free(copy);
	return status;
}

int
tls_server_setup_kex(SSL_CTX *ctx, const struct conf *conf, char **err)
{
	const char *dh_file = conf_str(conf, P_smtpd_tls_dh1024_param_file);

	*err = NULL;
	if (dh_file != NULL && *dh_file != '\0') {
		if (load_dh_file(ctx, conf, dh_file, err) != 0)
			return -1;
	} else {
		/* OpenSSL picks FFDHE parameters to match the certificate. */
		SSL_CTX_set_dh_auto(ctx, 1);
	}
	return setup_groups(ctx, conf, err);
}
