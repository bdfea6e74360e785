/* check_tls_policy: the client's per-destination TLS policy. The table
 * lookup order (domain, .parent, verbatim [host]:port), the parsing of
 * Postfix policy entries and their errors, fingerprints against what the
 * openssl command prints, certificate name matching, and the verdict of
 * each level on real handshakes (a client and a server SSL object over a
 * BIO pair) with certificates from a test CA, from a wrong CA, with the
 * right and the wrong names. Certificates are made with the openssl
 * command in a temporary directory at start-up. */
#include "config.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "testutil.h"

static const char *tmpdir;
static char *logpath;

/* ---- fixtures ----------------------------------------------------------- */

#define SAN_GOOD "-addext subjectAltName=DNS:mx.example.com," \
	"DNS:*.wild.example.com,IP:127.0.0.1"
#define SAN_MX "-addext subjectAltName=DNS:mx.example.com"

/* Two CAs and an intermediate under the first; leaves with the right
 * names, only a CommonName, a partial wildcard, from the wrong CA,
 * self-signed, under the intermediate. */
static const struct tu_cert certs[] = {
	{ "ca", "/CN=Policy Test CA", NULL, "ec", TU_EXT_CA },
	{ "wrong", "/CN=Wrong CA", NULL, "ec", TU_EXT_CA },
	{ "inter", "/CN=Policy Intermediate CA", "ca", "ec", TU_EXT_CA },
	{ "good", "/CN=cn.example.com", "ca", "ec", TU_EXT_LEAF " " SAN_GOOD },
	{ "cnonly", "/CN=cnonly.example.com", "ca", "ec", TU_EXT_LEAF },
	{ "partial", "/CN=partial", "ca", "ec",
	    TU_EXT_LEAF " -addext subjectAltName=DNS:f*.part.example.com" },
	{ "bad", "/CN=mx.example.com", "wrong", "ec", TU_EXT_LEAF " " SAN_MX },
	{ "self", "/CN=mx.example.com", NULL, "ec", TU_EXT_LEAF " " SAN_MX },
	{ "deep", "/CN=deep.example.com", "inter", "ec",
	    TU_EXT_LEAF " -addext subjectAltName=DNS:deep.example.com" },
};

static void
setup_all(void)
{
	char *err = NULL;

	tmpdir = tu_tmpdir();
	tu_make_certs(tmpdir, certs, sizeof(certs) / sizeof(certs[0]));
	tu_run(tmpdir, "cat deep.crt inter.crt > deep_chain.crt");
	tu_run(tmpdir, "openssl pkey -in good.key -pubout -out good.pub");
	logpath = xasprintf("%s/maillog", tmpdir);
	if (log_open(logpath, 0, "mail", &err) != 0) {
		fprintf(stderr, "log_open: %s\n", err);
		exit(EXIT_FAILURE);
	}
}

static void
teardown_all(void)
{
	log_close();
	free(logpath);
}

static char *
path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* The log so far is forgotten: each test looks at its own lines. */
static void
log_reset(void)
{
	FILE *fp = fopen(logpath, "w");

	if (fp)
		fclose(fp);
}

static int
log_has(const char *needle)
{
	char *text = tu_read_file(logpath, NULL);
	int found = strstr(text, needle) != NULL;

	if (!found)
		fprintf(stderr, "log has no \"%s\":\n%s\n", needle, text);
	free(text);
	return found;
}


static X509 *
read_cert(const char *name)
{
	char *file = path(name);
	FILE *fp = fopen(file, "r");
	X509 *cert;

	ck_assert_ptr_nonnull(fp);
	cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	free(file);
	ck_assert_ptr_nonnull(cert);
	return cert;
}

/* ---- levels ------------------------------------------------------------- */

START_TEST(level_names)
{
	static const char *const names[] = { "none", "may", "encrypt",
	    "fingerprint", "dane", "dane-only", "verify", "secure" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int level = tls_level_parse(names[i]);

		ck_assert_int_ge(level, 0);
		ck_assert_str_eq(tls_level_name(level), names[i]);
	}
	ck_assert_int_eq(tls_level_parse(" Secure "), TLS_LEV_SECURE);
	ck_assert_int_eq(tls_level_parse("DANE-ONLY"),
	    TLS_LEV_DANE_ONLY);
	ck_assert_int_eq(tls_level_parse("must"), -1);
	ck_assert_int_eq(tls_level_parse(""), -1);
	/* Postfix's order of strength. */
	ck_assert_int_lt(TLS_LEV_ENCRYPT, TLS_LEV_FPRINT);
	ck_assert_int_lt(TLS_LEV_FPRINT, TLS_LEV_VERIFY);
	ck_assert_int_lt(TLS_LEV_VERIFY, TLS_LEV_SECURE);
}
END_TEST

/* ---- the table ---------------------------------------------------------- */

static struct tls_policy_maps *
maps_for(struct conf **conf, const char *table_text, const char *extra)
{
	char *file = path("tls_policy"), *cf, *err = NULL;
	FILE *fp = fopen(file, "w");
	struct tls_policy_maps *maps;

	ck_assert_ptr_nonnull(fp);
	fputs(table_text, fp);
	fclose(fp);
	cf = xasprintf("smtp_tls_policy_maps = texthash:%s\n"
	    "smtp_tls_security_level = may\n%s", file, extra ? extra : "");
	*conf = tu_conf_load(cf);
	maps = tls_policy_maps_open(*conf, &err);
	ck_assert_msg(maps != NULL, "%s", err);
	free(cf);
	free(file);
	return maps;
}

START_TEST(lookup_order)
{
	/* key: the table key that gave the policy (tls-finger names it),
	 * NULL for main.cf. */
	static const struct {
		const char *nexthop;
		int level;
		const char *key;
	} cases[] = {
		/* exact beats .parent */
		{ "example.com", TLS_LEV_ENCRYPT, "example.com" },
		/* keys are folded */
		{ "EXAMPLE.com", TLS_LEV_ENCRYPT, "EXAMPLE.com" },
		{ "mx.example.com", TLS_LEV_VERIFY, ".example.com" },
		/* two levels up */
		{ "a.b.example.com", TLS_LEV_VERIFY, ".example.com" },
		{ "b.example.org", TLS_LEV_SECURE, ".org" },
		{ "example.net", TLS_LEV_MAY, NULL },	/* main.cf */
		/* verbatim */
		{ "[mx.example.com]:2525", TLS_LEV_FPRINT,
		  "[mx.example.com]:2525" },
		/* Only verbatim for these: no ".example.com" for them. */
		{ "[mx.example.com]", TLS_LEV_MAY, NULL },
		{ "[other.example.com]:2525", TLS_LEV_MAY, NULL },
		{ "example.com:587", TLS_LEV_NONE, "example.com:587" },
		{ "mx.example.com:587", TLS_LEV_MAY, NULL },
	};
	struct conf *conf;
	struct tls_policy_maps *maps = maps_for(&conf,
	    "# Postfix syntax: comments, continuation lines\n"
	    "example.com      encrypt\n"
	    ".example.com     verify\n"
	    ".org             secure\n"
	    "example.com:587  none\n"
	    "[mx.example.com]:2525 fingerprint\n"
	    "    match=AB:CD:EF\n", NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *table = NULL, *key = NULL;
		struct tls_policy *p = tls_policy_lookup_from(maps,
		    cases[i].nexthop, &table, &key);

		ck_assert_msg(p->error == NULL, "%s: %s", cases[i].nexthop,
		    p->error);
		ck_assert_msg(p->level == cases[i].level, "%s: level %s",
		    cases[i].nexthop, tls_level_name(p->level));
		if (cases[i].key == NULL) {
			ck_assert_ptr_null(table);
			ck_assert_ptr_null(key);
		} else {
			ck_assert_ptr_nonnull(table);
			ck_assert_msg(strncmp(table, "texthash:", 9) == 0,
			    "%s", table);
			ck_assert_str_eq(key, cases[i].key);
		}
		free(table);
		free(key);
		tls_policy_free(p);
		/* The plain lookup agrees. */
		p = tls_policy_lookup(maps, cases[i].nexthop);
		ck_assert_int_eq(p->level, cases[i].level);
		tls_policy_free(p);
	}
	tls_policy_maps_close(maps);
	conf_free(conf);
}
END_TEST

START_TEST(lookup_nexthop_name)
{
	static const struct {
		const char *nexthop, *name;
	} cases[] = {
		{ "example.com", "example.com" },
		{ "[mx.example.com]:2525", "mx.example.com" },
		{ "[mx.example.com]", "mx.example.com" },
		{ "example.com:587", "example.com" },
		{ "[ipv6:2001:db8::1]:25", "2001:db8::1" },
	};
	struct conf *conf = tu_conf_load("smtp_tls_security_level = secure\n");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_policy *p = tls_policy_main(conf, TLS_LEV_SECURE,
		    cases[i].nexthop);

		ck_assert_str_eq(p->nexthop_name, cases[i].name);
		tls_policy_free(p);
	}
	conf_free(conf);
}
END_TEST

START_TEST(lookup_errors)
{
	struct conf *conf = tu_conf_load("smtp_tls_policy_maps = "
	    "hash:/nonexistent/tls_policy\n");
	char *err = NULL;

	ck_assert_ptr_null(tls_policy_maps_open(conf, &err));
	ck_assert_msg(strstr(err, "main.cf:1: smtp_tls_policy_maps: ") ==
	    err, "%s", err);
	free(err);
	conf_free(conf);
	conf = tu_conf_load("smtp_tls_security_level = mandatory\n");
	ck_assert_ptr_null(tls_policy_maps_open(conf, &err));
	ck_assert_msg(strstr(err, "unknown level \"mandatory\"") != NULL,
	    "%s", err);
	free(err);
	conf_free(conf);
}
END_TEST

/* A bad entry names the table and the key, and defers: it never falls
 * back to the main.cf level. */
START_TEST(lookup_bad_entry)
{
	struct conf *conf;
	struct tls_policy_maps *maps;
	struct tls_policy *p;
	char *where;

	log_reset();
	maps = maps_for(&conf, "example.com verify bogus=1\n"
	    "example.org superdupersecure\n", NULL);
	p = tls_policy_lookup(maps, "example.com");
	ck_assert_ptr_nonnull(p->error);
	ck_assert_str_eq(p->error, "client TLS configuration problem");
	where = xasprintf("warning: texthash:%s/tls_policy, next-hop "
	    "destination \"example.com\": invalid attribute name: "
	    "\"bogus\"", tmpdir);
	ck_assert(log_has(where));
	free(where);
	tls_policy_free(p);
	p = tls_policy_lookup(maps, "example.org");
	ck_assert_ptr_nonnull(p->error);
	ck_assert(log_has("next-hop destination \"example.org\": "
	    "invalid security level \"superdupersecure\""));
	tls_policy_free(p);
	/* "example.org" is not ".example.org": main.cf for its children */
	p = tls_policy_lookup(maps, "sub.example.org");
	ck_assert_ptr_null(p->error);
	ck_assert_int_eq(p->level, TLS_LEV_MAY);
	tls_policy_free(p);
	tls_policy_maps_close(maps);
	conf_free(conf);
}
END_TEST

/* ---- entries ------------------------------------------------------------ */

static struct tls_policy *
parse(struct conf *conf, const char *entry)
{
	return tls_policy_parse(conf, "example.com", entry, "test");
}

START_TEST(parse_valid)
{
	struct conf *conf = tu_conf_load("smtp_tls_fingerprint_cert_match = "
	    "11:22:33\n");
	struct tls_policy *p;

	p = parse(conf, "verify match=hostname:nexthop ciphers=high "
	    "protocols=>=TLSv1.2");
	ck_assert_ptr_null(p->error);
	ck_assert_int_eq(p->level, TLS_LEV_VERIFY);
	ck_assert_uint_eq(p->n_match, 2);
	ck_assert_str_eq(p->match[0], "hostname");
	ck_assert_str_eq(p->match[1], "nexthop");
	ck_assert_str_eq(p->grade, "high");
	ck_assert_int_eq(p->min_version, TLS1_2_VERSION);
	tls_policy_free(p);

	/* Defaults from main.cf: the match strategies of each level. */
	p = parse(conf, "secure");
	ck_assert_ptr_null(p->error);
	ck_assert_uint_eq(p->n_match, 2);
	ck_assert_str_eq(p->match[0], "nexthop");
	ck_assert_str_eq(p->match[1], "dot-nexthop");
	tls_policy_free(p);
	p = parse(conf, "verify");
	ck_assert_uint_eq(p->n_match, 1);
	ck_assert_str_eq(p->match[0], "hostname");
	tls_policy_free(p);

	/* Several match attributes add up; ':' separates in each. */
	p = parse(conf, "secure match=.example.net:example.net, "
	    "match=mx.example.org");
	ck_assert_ptr_null(p->error);
	ck_assert_uint_eq(p->n_match, 3);
	ck_assert_str_eq(p->match[0], ".example.net");
	ck_assert_str_eq(p->match[2], "mx.example.org");
	tls_policy_free(p);

	/* Fingerprints: '|' inside one match, several matches, any case,
	 * colons optional; main.cf's list when there is none. */
	p = parse(conf, "fingerprint match=ab:cd:ef|0102 match=A0:B0");
	ck_assert_ptr_null(p->error);
	ck_assert_uint_eq(p->n_match, 3);
	ck_assert_str_eq(p->match[0], "AB:CD:EF");
	ck_assert_str_eq(p->match[1], "01:02");
	ck_assert_str_eq(p->match[2], "A0:B0");
	ck_assert_str_eq(p->digest, "sha256");
	tls_policy_free(p);
	p = parse(conf, "fingerprint");
	ck_assert_uint_eq(p->n_match, 1);
	ck_assert_str_eq(p->match[0], "11:22:33");
	tls_policy_free(p);

	/* Level none ignores its attributes, with a warning. */
	log_reset();
	p = parse(conf, "none ciphers=high");
	ck_assert_ptr_null(p->error);
	ck_assert_int_eq(p->level, TLS_LEV_NONE);
	ck_assert(log_has("test: ignoring attribute \"ciphers=high\" with "
	    "TLS disabled"));
	tls_policy_free(p);

	p = parse(conf, "verify servername=hostname connection_reuse=yes "
	    "connection_reuse=NO");
	ck_assert_ptr_null(p->error);
	ck_assert_str_eq(p->servername, "hostname");
	ck_assert_int_eq(p->conn_reuse, 0);
	tls_policy_free(p);
	p = parse(conf, "MAY, protocols=!SSLv2:!SSLv3, ciphers=medium, "
	    "exclude=3DES");
	ck_assert_ptr_null(p->error);
	ck_assert_int_eq(p->level, TLS_LEV_MAY);
	ck_assert_int_eq(p->conn_reuse, -1);
	tls_policy_free(p);
	conf_free(conf);
}
END_TEST

START_TEST(parse_invalid)
{
	static const struct {
		const char *entry, *log;
	} cases[] = {
		{ "", "invalid empty policy" },
		{ "must", "invalid security level \"must\"" },
		{ "verify bogus=1", "invalid attribute name: \"bogus\"" },
		{ "verify match", "malformed attribute/value pair \"match\": "
		    "missing '=' after attribute name" },
		{ "verify =x", "missing attribute name" },
		{ "may match=example.com",
		    "attribute \"match\" invalid at security level \"may\"" },
		{ "encrypt match=x",
		    "attribute \"match\" invalid at security level "
		    "\"encrypt\"" },
		{ "fingerprint tafile=/x",
		    "attribute \"tafile\" invalid at security level "
		    "\"fingerprint\"" },
		{ "verify match=", "attribute \"match\" has empty value" },
		{ "encrypt ciphers=high ciphers=medium",
		    "attribute \"ciphers\" is specified multiple times" },
		{ "encrypt ciphers=", "attribute \"ciphers\" has empty value" },
		{ "encrypt ciphers=bogus", "ciphers \"bogus\": invalid "
		    "cipher grade" },
		{ "encrypt protocols=TLSv9", "unknown TLS protocol" },
		{ "verify servername=bad/name",
		    "\"servername=bad/name\" specifies an invalid hostname" },
		{ "verify connection_reuse=maybe",
		    "attribute \"connection_reuse\" has bad value: "
		    "\"maybe\"" },
		{ "fingerprint", "nexthop domain example.com: configured at "
		    "fingerprint security level, but with no fingerprints "
		    "to match." },
		{ "fingerprint match=zz:top", "malformed fingerprint value: "
		    "zz:top" },
		{ "verify tafile=/nonexistent/ta.pem",
		    "trust anchor file /nonexistent/ta.pem" },
	};
	struct conf *conf = tu_conf_load(NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_policy *p;

		log_reset();
		p = parse(conf, cases[i].entry);
		ck_assert_msg(p->error != NULL, "\"%s\" accepted",
		    cases[i].entry);
		ck_assert_msg(log_has(cases[i].log), "\"%s\"",
		    cases[i].entry);
		tls_policy_free(p);
	}
	conf_free(conf);
}
END_TEST

/* Postfix's set_cipher_grade(): which lists apply at which level. */
START_TEST(parse_ciphers_protocols)
{
	struct conf *conf = tu_conf_load("smtp_tls_exclude_ciphers = RC4\n"
	    "smtp_tls_mandatory_exclude_ciphers = 3DES\n"
	    "smtp_tls_protocols = >=TLSv1.1\n"
	    "smtp_tls_mandatory_protocols = >=TLSv1.2\n"
	    "smtp_tls_ciphers = medium\n"
	    "smtp_tls_mandatory_ciphers = high\n");
	struct tls_policy *p;

	p = tls_policy_main(conf, TLS_LEV_MAY, "example.com");
	ck_assert_str_eq(p->protocols, ">=TLSv1.1");
	ck_assert_str_eq(p->grade, "medium");
	ck_assert_ptr_nonnull(strstr(p->exclusions, "RC4"));
	ck_assert_ptr_null(strstr(p->exclusions, "3DES"));
	ck_assert_ptr_null(strstr(p->exclusions, "NULL"));
	tls_policy_free(p);
	p = tls_policy_main(conf, TLS_LEV_ENCRYPT, "example.com");
	ck_assert_str_eq(p->protocols, ">=TLSv1.2");
	ck_assert_str_eq(p->grade, "high");
	ck_assert_ptr_nonnull(strstr(p->exclusions, "RC4"));
	ck_assert_ptr_nonnull(strstr(p->exclusions, "3DES"));
	ck_assert_ptr_nonnull(strstr(p->exclusions, "eNULL"));
	ck_assert_ptr_nonnull(strstr(p->cipher_list, ":!eNULL"));
	tls_policy_free(p);
	p = tls_policy_main(conf, TLS_LEV_VERIFY, "example.com");
	ck_assert_ptr_nonnull(strstr(p->exclusions, "aNULL"));
	ck_assert_int_eq(p->min_version, TLS1_2_VERSION);
	tls_policy_free(p);
	/* "exclude" replaces both main.cf lists. */
	p = parse(conf, "secure exclude=CAMELLIA protocols=TLSv1.3 "
	    "ciphers=medium");
	ck_assert_ptr_null(p->error);
	ck_assert_ptr_null(strstr(p->exclusions, "RC4"));
	ck_assert_ptr_null(strstr(p->exclusions, "3DES"));
	ck_assert_ptr_nonnull(strstr(p->exclusions, "CAMELLIA"));
	ck_assert_ptr_nonnull(strstr(p->exclusions, "aNULL"));
	ck_assert_str_eq(p->grade, "medium");
	ck_assert_int_eq(p->min_version, TLS1_3_VERSION);
	tls_policy_free(p);
	conf_free(conf);
}
END_TEST

START_TEST(cache_keys)
{
	struct conf *conf = tu_conf_load(NULL);
	static const char *const entries[] = { "may", "encrypt", "verify",
	    "secure", "verify ciphers=high", "verify match=nexthop",
	    "fingerprint match=AA:BB", "fingerprint match=AA:BC",
	    "secure servername=hostname", "encrypt protocols=TLSv1.3",
	    /* one name with a '|' is not two names (fuzz_tls_policy) */
	    "verify match=a|b", "verify match=a:b" };
	size_t n = sizeof(entries) / sizeof(entries[0]);
	struct tls_policy *p[sizeof(entries) / sizeof(entries[0])];
	char *anchored, *lookalike;

	for (size_t i = 0; i < n; i++) {
		p[i] = parse(conf, entries[i]);
		ck_assert_msg(p[i]->error == NULL, "%s", entries[i]);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			ck_assert_msg(strcmp(tls_policy_cache_key(p[i]),
			    tls_policy_cache_key(p[j])) != 0,
			    "\"%s\" and \"%s\": %s", entries[i], entries[j],
			    tls_policy_cache_key(p[i]));
	for (size_t i = 0; i < n; i++) {
		struct tls_policy *again = parse(conf, entries[i]);

		ck_assert_str_eq(tls_policy_cache_key(again),
		    tls_policy_cache_key(p[i]));
		tls_policy_free(again);
		tls_policy_free(p[i]);
	}
	/* A match name that spells ";tafile=..." does not take the key of
	 * a policy that trusts only that file. */
	anchored = xasprintf("verify match=mx.example.com tafile=%s/ca.crt",
	    tmpdir);
	lookalike = xasprintf("verify match=mx.example.com;tafile=%s/ca.crt",
	    tmpdir);
	p[0] = parse(conf, anchored);
	p[1] = parse(conf, lookalike);
	ck_assert_ptr_null(p[0]->error);
	ck_assert_ptr_null(p[1]->error);
	ck_assert_str_ne(tls_policy_cache_key(p[0]),
	    tls_policy_cache_key(p[1]));
	tls_policy_free(p[0]);
	tls_policy_free(p[1]);
	free(anchored);
	free(lookalike);
	conf_free(conf);
}
END_TEST

/* ---- fingerprints ------------------------------------------------------- */

/* "sha256 Fingerprint=AB:..." or "(stdin)= ab:..." -> "AB:...". */
static char *
openssl_fingerprint(const char *cmd)
{
	char *out = tu_run_output(tmpdir, "%s", cmd);
	char *p = strrchr(out, '='), *fp;

	ck_assert_msg(p != NULL, "%s: %s", cmd, out);
	fp = tls_fprint_normalize(str_trim(p + 1));
	ck_assert_msg(fp != NULL, "%s: %s", cmd, out);
	free(out);
	return fp;
}

START_TEST(fingerprints)
{
	static const char *const digests[] = { "md5", "sha1", "sha256",
	    "sha512" };
	X509 *cert = read_cert("good.crt");

	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
		char *cmd, *want, *got;

		cmd = xasprintf("openssl x509 -in good.crt -noout "
		    "-fingerprint -%s", digests[i]);
		want = openssl_fingerprint(cmd);
		got = tls_fprint_cert(cert, digests[i]);
		ck_assert_msg(got != NULL && strcmp(got, want) == 0,
		    "%s: %s != %s", digests[i], got, want);
		free(cmd);
		free(want);
		free(got);
		/* TLS_README's recipe for the public key fingerprint. */
		cmd = xasprintf("openssl x509 -in good.crt -noout -pubkey | "
		    "openssl pkey -pubin -outform DER | openssl dgst -%s -c",
		    digests[i]);
		want = openssl_fingerprint(cmd);
		got = tls_fprint_pkey(cert, digests[i]);
		ck_assert_msg(got != NULL && strcmp(got, want) == 0,
		    "pkey %s: %s != %s", digests[i], got, want);
		free(cmd);
		free(want);
		free(got);
	}
	ck_assert_ptr_null(tls_fprint_cert(cert, "nosuchdigest"));
	ck_assert(tls_fprint_digest_ok("sha512"));
	ck_assert(!tls_fprint_digest_ok("nosuchdigest"));
	ck_assert(!tls_fprint_digest_ok(""));
	X509_free(cert);
}
END_TEST

START_TEST(fingerprint_normalize)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "ab:cd:EF", "AB:CD:EF" },
		{ "abcdef", "AB:CD:EF" },
		{ "ab:cdef", "AB:CD:EF" },
		{ "", NULL },
		{ "ab:", NULL },
		{ ":ab", NULL },
		{ "ab::cd", NULL },
		{ "abc", NULL },
		{ "a:bc", NULL },
		{ "zz", NULL },
		{ "ab cd", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = tls_fprint_normalize(cases[i].in);

		if (cases[i].out == NULL)
			ck_assert_msg(got == NULL, "\"%s\": %s", cases[i].in,
			    got);
		else
			ck_assert_msg(got && strcmp(got, cases[i].out) == 0,
			    "\"%s\": %s", cases[i].in, got);
		free(got);
	}
}
END_TEST

/* ---- names -------------------------------------------------------------- */

START_TEST(name_matching)
{
	static const struct {
		const char *cert, *pattern, *hostname, *nexthop;
		int match;
	} cases[] = {
		/* hostname: the MX host name */
		{ "good.crt", "hostname", "mx.example.com", "", 1 },
		{ "good.crt", "hostname", "MX.Example.COM", "", 1 },
		{ "good.crt", "hostname", "mx.example.org", "", 0 },
		/* the CommonName does not count beside DNS names */
		{ "good.crt", "hostname", "cn.example.com", "", 0 },
		{ "good.crt", "hostname", "", "mx.example.com", 0 },
		/* nexthop: the next hop itself; dot-nexthop: below it */
		{ "good.crt", "nexthop", "x", "example.com", 0 },
		{ "good.crt", "nexthop", "x", "mx.example.com", 1 },
		{ "good.crt", "dot-nexthop", "x", "example.com", 1 },
		{ "good.crt", "dot-nexthop", "x", "mx.example.com", 0 },
		{ "good.crt", "dot-nexthop", "x", "xample.com", 0 },
		/* literal names; a leading dot means any subdomain */
		{ "good.crt", "mx.example.com", "", "", 1 },
		{ "good.crt", "example.com", "", "", 0 },
		{ "good.crt", ".example.com", "", "", 1 },
		{ "good.crt", ".mx.example.com", "", "", 0 },
		{ "good.crt", "NEXTHOP", "", "mx.example.com", 1 },
		/* RFC 6125 wildcards: the whole left-most label only */
		{ "good.crt", "hostname", "a.wild.example.com", "", 1 },
		{ "good.crt", "hostname", "b.a.wild.example.com", "", 0 },
		{ "good.crt", "hostname", "wild.example.com", "", 0 },
		{ "good.crt", "dot-nexthop", "", "wild.example.com", 1 },
		{ "partial.crt", "hostname", "foo.part.example.com", "", 0 },
		/* no DNS names: the CommonName */
		{ "cnonly.crt", "hostname", "cnonly.example.com", "", 1 },
		{ "cnonly.crt", "hostname", "CNONLY.example.com", "", 1 },
		{ "cnonly.crt", "nexthop", "", "example.com", 0 },
		{ "cnonly.crt", "dot-nexthop", "", "example.com", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *cert = read_cert(cases[i].cert);
		char *pattern = xstrdup(cases[i].pattern), *matched = NULL;
		int got = tls_verify_name(cert, &pattern, 1,
		    cases[i].hostname, cases[i].nexthop, &matched);

		ck_assert_msg(got == cases[i].match, "%zu: %s %s %s/%s: %d",
		    i, cases[i].cert, cases[i].pattern, cases[i].hostname,
		    cases[i].nexthop, got);
		ck_assert(got ? matched != NULL : matched == NULL);
		free(matched);
		free(pattern);
		X509_free(cert);
	}
}
END_TEST

START_TEST(name_matching_lists)
{
	X509 *cert = read_cert("good.crt");
	char *secure[] = { "nexthop", "dot-nexthop" };
	char *verify[] = { "hostname", "nexthop" };
	char *matched = NULL;

	ck_assert(tls_verify_name(cert, secure, 2, "evil.test",
	    "example.com", &matched));
	ck_assert_str_eq(matched, "mx.example.com");
	free(matched);
	/* secure ignores the (forgeable) MX host name */
	ck_assert(!tls_verify_name(cert, secure, 2, "mx.example.com",
	    "example.org", NULL));
	ck_assert(tls_verify_name(cert, verify, 2, "mx.example.com",
	    "example.org", NULL));
	X509_free(cert);
}
END_TEST

/* ---- handshakes: the verdict of each level ------------------------------ */

struct peer_result {
	int handshake;		/* 1 when it completed */
	int check;		/* tls_client_check_peer() */
	char *reason;
};

/* One handshake of our client (policy from entry, main.cf from cf)
 * with a server presenting chain/key; then the level's check, for
 * server name hostname and next hop nexthop. */
static void
handshake(const char *cf, const char *entry, const char *chain,
    const char *key, const char *hostname, const char *nexthop,
    struct peer_result *res)
{
	struct conf *conf = tu_conf_load(cf);
	struct tls_policy *policy;
	struct tls_client *tls;
	SSL_CTX *cctx, *sctx;
	SSL *client, *server;
	char *err = NULL, *chain_path = path(chain), *key_path = path(key);

	memset(res, 0, sizeof(*res));
	tls = tls_client_new(conf, &err);
	ck_assert_msg(tls != NULL, "%s", err);
	policy = tls_policy_parse(conf, nexthop, entry, "test");
	ck_assert_msg(policy->error == NULL, "%s", entry);
	cctx = tls_client_ctx(tls, policy);
	ck_assert_ptr_nonnull(cctx);
	sctx = SSL_CTX_new(TLS_server_method());
	ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(sctx,
	    chain_path), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(sctx, key_path,
	    SSL_FILETYPE_PEM), 1);
	client = SSL_new(cctx);
	server = SSL_new(sctx);
	ck_assert_int_eq(tls_client_ssl_setup(client, policy, NULL, &err), 0);
	res->handshake = tu_tls_handshake(client, server);
	if (res->handshake)
		res->check = tls_client_check_peer(client, policy, hostname,
		    "mx.example.com[127.0.0.1]:25", 1, &res->reason);
	SSL_free(client);
	SSL_free(server);
	tls_client_free(tls);
	SSL_CTX_free(sctx);
	tls_policy_free(policy);
	conf_free(conf);
	free(chain_path);
	free(key_path);
	ERR_clear_error();
}

static char *
ca_conf(const char *extra)
{
	return xasprintf("smtp_tls_CAfile = %s/ca.crt\n%s", tmpdir,
	    extra ? extra : "");
}

/* Each cell: level, server certificate, names; delivered or not, the
 * reason, the verdict word. */
START_TEST(level_table)
{
	char *fp_good = NULL, *pk_bad = NULL;
	X509 *cert;
	struct {
		const char *entry, *chain, *key, *hostname, *nexthop;
		const char *reason;	/* NULL: the check passes */
		const char *verdict;
	} cases[] = {
		{ "may", "good.crt", "good.key", "mx.example.com",
		    "example.com", NULL, "Trusted" },
		{ "may", "bad.crt", "bad.key", "mx.example.com",
		    "example.com", NULL, "Untrusted" },
		{ "encrypt", "bad.crt", "bad.key", "mx.example.com",
		    "example.com", NULL, "Untrusted" },
		{ "encrypt", "good.crt", "good.key", "wrong.example",
		    "wrong.example", NULL, "Trusted" },
		/* verify: trusted chain and the MX host name */
		{ "verify", "good.crt", "good.key", "mx.example.com",
		    "example.com", NULL, "Verified" },
		{ "verify", "good.crt", "good.key", "mx.example.org",
		    "example.org", "Server certificate not verified",
		    "Trusted" },
		{ "verify", "bad.crt", "bad.key", "mx.example.com",
		    "example.com", "Server certificate not trusted",
		    "Untrusted" },
		{ "verify", "self.crt", "self.key", "mx.example.com",
		    "example.com", "Server certificate not trusted",
		    "Untrusted" },
		/* secure: the next hop, not the MX host */
		{ "secure", "good.crt", "good.key", "evil.example",
		    "example.com", NULL, "Verified" },
		{ "secure", "good.crt", "good.key", "mx.example.com",
		    "example.org", "Server certificate not verified",
		    "Trusted" },
		{ "secure", "bad.crt", "bad.key", "mx.example.com",
		    "example.com", "Server certificate not trusted",
		    "Untrusted" },
		{ "secure match=mx.example.com", "good.crt", "good.key",
		    "x", "example.org", NULL, "Verified" },
		/* a chain through an intermediate the server sends */
		{ "verify", "deep_chain.crt", "deep.key", "deep.example.com",
		    "example.com", NULL, "Verified" },
		/* fingerprints: CA and name do not matter */
		{ NULL, "good.crt", "good.key", "evil.example",
		    "example.org", NULL, "Verified" },
		{ NULL, "bad.crt", "bad.key", "evil.example",
		    "example.org", NULL, "Verified" },
		{ "fingerprint match=00:11:22:33", "good.crt", "good.key",
		    "mx.example.com", "example.com",
		    "Server certificate not verified", "Trusted" },
	};

	cert = read_cert("good.crt");
	fp_good = tls_fprint_cert(cert, "sha256");
	X509_free(cert);
	cert = read_cert("bad.crt");
	pk_bad = tls_fprint_pkey(cert, "sha256");
	X509_free(cert);
	cases[13].entry = xasprintf("fingerprint match=%s", fp_good);
	/* lower case, without colons, beside another one */
	cases[14].entry = xasprintf("fingerprint match=0102|%s", pk_bad);
	for (char *p = (char *)cases[14].entry; *p; p++)
		if (*p != ':')
			*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peer_result res;
		char *cf = ca_conf(NULL), *line;

		log_reset();
		handshake(cf, cases[i].entry, cases[i].chain, cases[i].key,
		    cases[i].hostname, cases[i].nexthop, &res);
		ck_assert_msg(res.handshake, "%zu: no handshake", i);
		if (cases[i].reason == NULL)
			ck_assert_msg(res.check == 0, "%zu %s %s: %s", i,
			    cases[i].entry, cases[i].chain, res.reason);
		else
			ck_assert_msg(res.check == -1 && res.reason &&
			    strcmp(res.reason, cases[i].reason) == 0,
			    "%zu %s %s: %s", i, cases[i].entry,
			    cases[i].chain, res.reason);
		line = xasprintf("%s TLS connection established to "
		    "mx.example.com[127.0.0.1]:25: TLSv1.3 with cipher ",
		    cases[i].verdict);
		ck_assert_msg(log_has(line), "%zu", i);
		free(line);
		free(res.reason);
		free(cf);
	}
	free((char *)cases[13].entry);
	free((char *)cases[14].entry);
	free(fp_good);
	free(pk_bad);
}
END_TEST

/* Why a chain is not trusted, in Postfix's words. */
START_TEST(verify_error_logs)
{
	struct peer_result res;
	char *cf = ca_conf(NULL);

	log_reset();
	handshake(cf, "verify", "bad.crt", "bad.key", "mx.example.com",
	    "example.com", &res);
	ck_assert(log_has("certificate verification failed for "
	    "mx.example.com[127.0.0.1]:25: untrusted issuer /CN=Wrong CA"));
	free(res.reason);
	log_reset();
	handshake(cf, "secure", "self.crt", "self.key", "mx.example.com",
	    "example.com", &res);
	ck_assert(log_has("certificate verification failed for "
	    "mx.example.com[127.0.0.1]:25: self-signed certificate"));
	free(res.reason);
	/* At may the chain is not our business: nothing logged at level 1. */
	log_reset();
	handshake(cf, "may", "bad.crt", "bad.key", "mx.example.com",
	    "example.com", &res);
	ck_assert_int_eq(res.check, 0);
	{
		char *text = tu_read_file(logpath, NULL);

		ck_assert_ptr_null(strstr(text, "verification failed"));
		free(text);
	}
	free(res.reason);
	free(cf);
}
END_TEST

/* tafile: its anchors replace CAfile, and need not be roots. */
START_TEST(trust_anchors)
{
	struct peer_result res;
	char *cf = ca_conf(NULL), *entry;

	/* The intermediate alone vouches for deep.example.com ... */
	entry = xasprintf("verify tafile=%s/inter.crt", tmpdir);
	handshake(cf, entry, "deep_chain.crt", "deep.key",
	    "deep.example.com", "example.com", &res);
	ck_assert_msg(res.check == 0, "%s", res.reason);
	free(res.reason);
	/* ... but not for a leaf of the root beside it, which CAfile
	 * would have trusted. */
	handshake(cf, entry, "good.crt", "good.key", "mx.example.com",
	    "example.com", &res);
	ck_assert_int_eq(res.check, -1);
	ck_assert_str_eq(res.reason, "Server certificate not trusted");
	free(res.reason);
	free(entry);
	/* The wrong CA as an anchor trusts its own leaves. */
	entry = xasprintf("secure tafile=%s/wrong.crt", tmpdir);
	handshake(cf, entry, "bad.crt", "bad.key", "x", "mx.example.com",
	    &res);
	ck_assert_msg(res.check == 0, "%s", res.reason);
	free(res.reason);
	free(entry);
	/* main.cf's smtp_tls_trust_anchor_file when no tafile is given */
	free(cf);
	cf = xasprintf("smtp_tls_CAfile = %s/ca.crt\n"
	    "smtp_tls_trust_anchor_file = %s/wrong.crt\n", tmpdir, tmpdir);
	handshake(cf, "verify", "good.crt", "good.key", "mx.example.com",
	    "example.com", &res);
	ck_assert_int_eq(res.check, -1);
	free(res.reason);
	handshake(cf, "verify", "bad.crt", "bad.key", "mx.example.com",
	    "example.com", &res);
	ck_assert_int_eq(res.check, 0);
	free(res.reason);
	free(cf);
	/* A public key is not a certificate: refused, not ignored. */
	{
		struct conf *conf = tu_conf_load(NULL);
		struct tls_policy *p;

		entry = xasprintf("verify tafile=%s/good.pub", tmpdir);
		log_reset();
		p = parse(conf, entry);
		ck_assert_ptr_nonnull(p->error);
		ck_assert(log_has("is not supported (only certificates)"));
		tls_policy_free(p);
		free(entry);
		conf_free(conf);
	}
}
END_TEST

/* ---- start-up checks ---------------------------------------------------- */

START_TEST(client_ctx)
{
	static const struct {
		const char *cf, *err;
	} bad[] = {
		{ "smtp_tls_security_level = mandatory",
		    "main.cf:1: smtp_tls_security_level: unknown level" },
		{ "smtp_tls_fingerprint_digest = sha3-999",
		    "main.cf:1: smtp_tls_fingerprint_digest: unknown digest" },
		{ "smtp_tls_trust_anchor_file = /nonexistent/ta.pem",
		    "main.cf:1: smtp_tls_trust_anchor_file "
		    "/nonexistent/ta.pem: " },
	};
	static const char *const good[] = { "smtp_tls_security_level = "
	    "verify", "smtp_tls_security_level = secure",
	    "smtp_tls_security_level = fingerprint\n"
	    "smtp_tls_fingerprint_cert_match = AA:BB",
	    "smtp_tls_fingerprint_digest = md5",
	    "tls_append_default_CA = yes" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf *conf = tu_conf_load(bad[i].cf);
		char *err = NULL;

		ck_assert_ptr_null(tls_client_new(conf, &err));
		ck_assert_msg(err && strncmp(err, bad[i].err,
		    strlen(bad[i].err)) == 0, "%s: %s", bad[i].cf, err);
		free(err);
		conf_free(conf);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *cf = ca_conf(good[i]), *err = NULL;
		struct conf *conf = tu_conf_load(cf);
		struct tls_client *tls = tls_client_new(conf, &err);

		ck_assert_msg(tls != NULL, "%s: %s", good[i], err);
		tls_client_free(tls);
		conf_free(conf);
		free(cf);
	}
}
END_TEST

/* The CAs a connection's context trusts. */
static int
store_size(const char *cf)
{
	struct conf *conf = tu_conf_load(cf);
	char *err = NULL;
	struct tls_client *tls = tls_client_new(conf, &err);
	struct tls_policy *policy;
	SSL_CTX *ctx;
	int n;

	ck_assert_msg(tls != NULL, "%s", err);
	policy = tls_policy_main(conf, TLS_LEV_VERIFY, "example.com");
	ctx = tls_client_ctx(tls, policy);
	ck_assert_ptr_nonnull(ctx);
	n = sk_X509_OBJECT_num(X509_STORE_get0_objects(
	    SSL_CTX_get_cert_store(ctx)));
	tls_policy_free(policy);
	tls_client_free(tls);
	conf_free(conf);
	return n;
}

/* tls_append_default_CA: the system's CAs beside smtp_tls_CAfile. */
START_TEST(append_default_ca)
{
	char *no = ca_conf(NULL), *yes = ca_conf("tls_append_default_CA = "
	    "yes\n");

	ck_assert_msg(access(X509_get_default_cert_file(), R_OK) == 0,
	    "the system CA file %s is missing (Debian package "
	    "ca-certificates)", X509_get_default_cert_file());
	ck_assert_int_eq(store_size(no), 1);
	ck_assert_int_gt(store_size(yes), 10);
	free(no);
	free(yes);
}
END_TEST

static int
log_count(const char *needle)
{
	char *text = tu_read_file(logpath, NULL);
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return n;
}

/* One SSL_CTX per distinct policy settings: equal policies get the same
 * context, different ones their own; every context carries the client
 * certificate and the CAs; settings OpenSSL refuses are refused once. */
START_TEST(client_ctx_per_policy)
{
	char *extra = xasprintf("smtp_tls_cert_file = %s/good.crt\n"
	    "smtp_tls_key_file = %s/good.key\n", tmpdir, tmpdir);
	char *cf = ca_conf(extra), *err = NULL;
	struct conf *conf = tu_conf_load(cf);
	struct tls_client *tls = tls_client_new(conf, &err);
	struct tls_policy *may_a, *may_b, *high, *tls13, *verify_host,
	    *verify_next, *none_left;
	SSL_CTX *ctx;

	ck_assert_msg(tls != NULL, "%s", err);
	/* The same settings: one context, whatever the next hop. */
	may_a = tls_policy_main(conf, TLS_LEV_MAY, "a.example");
	may_b = tls_policy_parse(conf, "b.example", "may", "test");
	ctx = tls_client_ctx(tls, may_a);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_eq(tls_client_ctx(tls, may_b), ctx);
	ck_assert_ptr_eq(tls_client_ctx(tls, may_a), ctx);
	/* Names to match are checked after the handshake: not the
	 * context's business (the session cache keys still differ). */
	verify_host = tls_policy_parse(conf, "example.com",
	    "verify match=hostname", "test");
	verify_next = tls_policy_parse(conf, "example.com",
	    "verify match=nexthop", "test");
	ck_assert_str_ne(tls_policy_cache_key(verify_host),
	    tls_policy_cache_key(verify_next));
	ck_assert_ptr_nonnull(tls_client_ctx(tls, verify_host));
	ck_assert_ptr_eq(tls_client_ctx(tls, verify_host),
	    tls_client_ctx(tls, verify_next));
	/* Other ciphers, other protocols, another level's exclusions:
	 * contexts of their own, with those settings. */
	high = tls_policy_parse(conf, "example.com", "may ciphers=high",
	    "test");
	tls13 = tls_policy_parse(conf, "example.com",
	    "encrypt protocols=TLSv1.3", "test");
	ck_assert_ptr_nonnull(tls_client_ctx(tls, high));
	ck_assert_ptr_nonnull(tls_client_ctx(tls, tls13));
	ck_assert_ptr_ne(tls_client_ctx(tls, high), ctx);
	ck_assert_ptr_ne(tls_client_ctx(tls, tls13), ctx);
	ck_assert_ptr_ne(tls_client_ctx(tls, tls13),
	    tls_client_ctx(tls, high));
	ck_assert_ptr_ne(tls_client_ctx(tls, verify_host), ctx);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(tls_client_ctx(tls,
	    tls13)), TLS1_3_VERSION);
	ck_assert_int_lt(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	/* Each has the client certificate and the CA. */
	ck_assert_ptr_nonnull(SSL_CTX_get0_certificate(ctx));
	ck_assert_ptr_nonnull(SSL_CTX_get0_certificate(tls_client_ctx(tls,
	    tls13)));
	ck_assert_int_eq(sk_X509_OBJECT_num(X509_STORE_get0_objects(
	    SSL_CTX_get_cert_store(tls_client_ctx(tls, high)))), 1);
	/* A cipher list with nothing left: no context, one warning. */
	log_reset();
	none_left = tls_policy_parse(conf, "example.com", "may exclude=ALL",
	    "test");
	ck_assert_ptr_null(none_left->error);
	ck_assert_ptr_null(tls_client_ctx(tls, none_left));
	ck_assert_ptr_null(tls_client_ctx(tls, none_left));
	ck_assert_int_eq(log_count("TLS policy for next-hop destination "
	    "\"example.com\": protocols"), 1);
	ck_assert(log_has("no cipher matches"));
	tls_policy_free(may_a);
	tls_policy_free(may_b);
	tls_policy_free(verify_host);
	tls_policy_free(verify_next);
	tls_policy_free(high);
	tls_policy_free(tls13);
	tls_policy_free(none_left);
	tls_client_free(tls);
	conf_free(conf);
	free(cf);
	free(extra);
}
END_TEST

/* dane and dane-only are usable levels with the mandatory protocols and
 * ciphers; without smtp_dns_support_level = dnssec a warning says what
 * they become. */
START_TEST(dane_levels)
{
	struct conf *conf = tu_conf_load("smtp_tls_security_level = dane\n");
	struct conf *dnssec = tu_conf_load("smtp_tls_security_level = "
	    "dane-only\nsmtp_dns_support_level = dnssec\n");
	struct tls_policy_maps *maps;
	struct tls_policy *p;
	struct tls_client *tls;
	char *err = NULL;

	log_reset();
	tls = tls_client_new(conf, &err);
	ck_assert_msg(tls != NULL, "%s", err);
	ck_assert(log_has("smtp_tls_security_level = dane needs "
	    "smtp_dns_support_level = dnssec"));
	tls_client_free(tls);
	maps = tls_policy_maps_open(conf, &err);
	ck_assert_ptr_nonnull(maps);
	p = tls_policy_lookup(maps, "example.com");
	ck_assert_ptr_null(p->error);
	ck_assert_int_eq(p->level, TLS_LEV_DANE);
	/* No anonymous ciphers where a certificate is checked. */
	ck_assert_ptr_nonnull(strstr(p->exclusions, "aNULL"));
	tls_policy_free(p);
	tls_policy_maps_close(maps);

	log_reset();
	tls = tls_client_new(dnssec, &err);
	ck_assert_msg(tls != NULL, "%s", err);
	ck_assert(!log_has("needs smtp_dns_support_level"));
	tls_client_free(tls);
	conf_free(conf);
	conf_free(dnssec);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("tls_policy");
	TCase *tc = tcase_create("policy");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, level_names);
	tcase_add_test(tc, lookup_order);
	tcase_add_test(tc, lookup_nexthop_name);
	tcase_add_test(tc, lookup_errors);
	tcase_add_test(tc, lookup_bad_entry);
	tcase_add_test(tc, parse_valid);
	tcase_add_test(tc, parse_invalid);
	tcase_add_test(tc, parse_ciphers_protocols);
	tcase_add_test(tc, cache_keys);
	tcase_add_test(tc, fingerprints);
	tcase_add_test(tc, fingerprint_normalize);
	tcase_add_test(tc, name_matching);
	tcase_add_test(tc, name_matching_lists);
	tcase_add_test(tc, level_table);
	tcase_add_test(tc, verify_error_logs);
	tcase_add_test(tc, trust_anchors);
	tcase_add_test(tc, client_ctx);
	tcase_add_test(tc, client_ctx_per_policy);
	tcase_add_test(tc, append_default_ca);
	tcase_add_test(tc, dane_levels);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN_WITH(suite, setup_all, teardown_all)
