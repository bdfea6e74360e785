/* Fuzz harness: smtp_tls_policy_maps values as tls_policy_parse reads
 * them (src/tls/tls_policy.c). The first line is the next hop as routed
 * ("[mx.example]:2525", "example.com"), each further line one table
 * value ("verify match=hostname:nexthop protocols=!SSLv3 ..."); up to
 * MAX_ENTRIES are parsed against the default main.cf. Checked: a policy
 * always comes back; an unusable one says only TLS_POLICY_PROBLEM; a
 * usable one has what its level needs (protocols and an OpenSSL cipher
 * list from may up, the anonymous/null ciphers excluded where Postfix
 * excludes them, fingerprints in upper-case hex, a match list for
 * verify and secure, none at dane), a next-hop name without brackets or
 * port; and two usable policies with the same session cache key ask for
 * the same thing, so a session is never reused under another policy.
 * Entries naming a tafile are skipped: the harness reads no files. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "fuzz.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
	    #cond); \
	abort(); } } while (0)

#define MAX_ENTRIES	8

static const struct conf *
default_conf(void)
{
	static struct conf *conf;
	char *err = NULL;

	if (conf != NULL)
		return conf;
	/* Warnings are expected by the thousand; keep them off the
	 * terminal. */
	if (log_open("/dev/null", 0, NULL, &err) < 0)
		free(err);
	err = NULL;
	conf = conf_load_strings("", "main.cf", NULL, "master.cf", &err);
	CHECK(conf != NULL);
	return conf;
}

static int
equal_or_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_fingerprint(const char *fp)
{
	size_t len = strlen(fp);

	/* "AB:CD:...": pairs of upper-case hex digits. */
	CHECK(len >= 2 && len % 3 == 2);
	for (size_t i = 0; i < len; i++) {
		if (i % 3 == 2)
			CHECK(fp[i] == ':');
		else
			CHECK(isxdigit((unsigned char)fp[i]) &&
			    !islower((unsigned char)fp[i]));
	}
}

static void
check_policy(const struct tls_policy *p, const char *nexthop)
{
	CHECK(p != NULL);
	/* Brackets, port and "ipv6:" stripped, nothing added. */
	CHECK(p->nexthop_name != NULL);
	CHECK(strlen(p->nexthop_name) <= strlen(nexthop));
	if (nexthop[0] == '[')
		CHECK(strchr(p->nexthop_name, ']') == NULL);
	if (p->error != NULL) {
		CHECK(strcmp(p->error, TLS_POLICY_PROBLEM) == 0);
		return;
	}
	CHECK(p->level >= TLS_LEV_NONE && p->level <= TLS_LEV_SECURE);
	CHECK(p->cache_key != NULL);
	CHECK(strcmp(tls_policy_cache_key(p), p->cache_key) == 0);
	if (p->level == TLS_LEV_NONE)
		return;
	CHECK(p->protocols != NULL && p->grade != NULL);
	CHECK(p->exclusions != NULL && p->servername != NULL);
	CHECK(p->cipher_list != NULL && p->cipher_list[0] != '\0');
	CHECK(p->min_version == 0 || p->max_version == 0 ||
	    p->min_version <= p->max_version);
	CHECK(p->conn_reuse >= -1 && p->conn_reuse <= 1);
	/* Postfix's set_cipher_grade(). */
	if (p->level == TLS_LEV_ENCRYPT)
		CHECK(strstr(p->exclusions, "eNULL") != NULL);
	if (p->level > TLS_LEV_ENCRYPT)
		CHECK(strstr(p->exclusions, "aNULL") != NULL);
	if (p->level == TLS_LEV_FPRINT) {
		CHECK(p->n_match > 0);
		for (size_t i = 0; i < p->n_match; i++)
			check_fingerprint(p->match[i]);
	} else if (p->level == TLS_LEV_VERIFY ||
	    p->level == TLS_LEV_SECURE) {
		CHECK(p->n_match > 0);
		for (size_t i = 0; i < p->n_match; i++)
			CHECK(p->match[i][0] != '\0');
	} else
		CHECK(p->n_match == 0);
	CHECK(p->trust_anchors == NULL && p->tafiles == NULL);
}

/* The cache key stands for everything a TLS session depends on. */
static void
check_same_key(const struct tls_policy *a, const struct tls_policy *b)
{
	if (a->error != NULL || b->error != NULL ||
	    strcmp(a->cache_key, b->cache_key) != 0)
		return;
	CHECK(a->level == b->level);
	if (a->level == TLS_LEV_NONE)
		return;
	CHECK(equal_or_null(a->protocols, b->protocols));
	CHECK(equal_or_null(a->cipher_list, b->cipher_list));
	CHECK(equal_or_null(a->servername, b->servername));
	CHECK(a->n_match == b->n_match);
	for (size_t i = 0; i < a->n_match; i++)
		CHECK(strcmp(a->match[i], b->match[i]) == 0);
	if (a->level == TLS_LEV_FPRINT)
		CHECK(equal_or_null(a->digest, b->digest));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct conf *conf = default_conf();
	struct tls_policy *policies[MAX_ENTRIES];
	char *text, **lines, *nexthop;
	size_t n_lines, n = 0;

	if (size > 4096)
		return 0;
	/* Table values are C strings: the text ends at a NUL. */
	text = xstrndup((const char *)data, size);
	lines = strlist_split(text, "\n", &n_lines);
	nexthop = n_lines > 0 ? lines[0] : "";
	for (size_t i = 1; i < n_lines && n < MAX_ENTRIES; i++) {
		struct tls_policy *p;

		if (strcasestr(lines[i], "tafile") != NULL)
			continue;
		p = tls_policy_parse(conf, nexthop, lines[i],
		    "fuzz_tls_policy");
		check_policy(p, nexthop);
		for (size_t j = 0; j < n; j++) {
			check_same_key(p, policies[j]);
			check_same_key(policies[j], p);
		}
		policies[n++] = p;
	}
	for (size_t i = 0; i < n; i++)
		tls_policy_free(policies[i]);
	strlist_free(lines);
	free(text);
	return 0;
}
