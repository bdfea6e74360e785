/* tls_policy: the client's TLS policy for one next hop, as Postfix's
 * smtp_tls_policy_maps and TLS_README define it.
 *
 * The table is searched with the next hop as routed: "example.com" (the
 * recipient domain or an MX-enabled transport next hop) is looked up as
 * itself, then as each parent domain with a leading dot (".example.com",
 * ".com"); anything else ("[mx.example]:2525", "example.com:587") only
 * verbatim. The entry is a level followed by name=value attributes
 * (separated by white space or commas) that override main.cf for that
 * destination. Postfix ignores attributes at level none with a warning;
 * any other mistake -- an unknown level or attribute, a bad value --
 * defers the destination with a warning naming the table and the key: a typo must never weaken TLS
 * silently. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

/* ---- building one policy ------------------------------------------------ */

/* What a table entry sets; NULL / -1: main.cf decides. */
struct attrs {
	char *protocols;
	char *grade;
	char *exclusions;
	char *servername;
	char **match;		/* verify/secure names, fingerprint digests */
	size_t n_match;
	char **tafiles;
	size_t n_tafiles;
	int conn_reuse;
};

static void
attrs_free(struct attrs *a)
{
	free(a->protocols);
	free(a->grade);
	free(a->exclusions);
	free(a->servername);
	for (size_t i = 0; i < a->n_match; i++)
		free(a->match[i]);
	free(a->match);
	for (size_t i = 0; i < a->n_tafiles; i++)
		free(a->tafiles[i]);
	free(a->tafiles);
}

static void
list_add(char ***list, size_t *n, const char *item)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = xstrdup(item);
}

/* Adds each item of text split at separators. */
static void
list_add_split(char ***list, size_t *n, const char *text, const char *seps)
{
	char **words = strlist_split(text, seps, NULL);

	for (size_t i = 0; words[i] != NULL; i++)
		list_add(list, n, words[i]);
	strlist_free(words);
}

/* The next hop's name for the nexthop match strategies: without the
 * brackets, the port and Postfix's "ipv6:" address prefix. */
static char *
nexthop_name(const char *nexthop)
{
	const char *name = nexthop ? nexthop : "", *end;

	if (*name == '[') {
		name++;
		end = strchr(name, ']');
		if (strncasecmp(name, "ipv6:", 5) == 0)
			name += 5;
	} else
		end = strrchr(name, ':');
	return end ? xstrndup(name, (size_t)(end - name)) : xstrdup(name);
}

static struct tls_policy *
policy_alloc(const struct conf *conf, int level, const char *nexthop)
{
	struct tls_policy *p = xcalloc(1, sizeof(*p));

	p->level = level;
	p->nexthop_name = nexthop_name(nexthop);
	p->digest = xstrdup(conf_str(conf, P_smtp_tls_fingerprint_digest));
	p->conn_reuse = -1;
	return p;
}

void
tls_policy_free(struct tls_policy *p)
{
	if (p == NULL)
		return;
	free(p->protocols);
	free(p->grade);
	free(p->exclusions);
	free(p->cipher_list);
	for (size_t i = 0; i < p->n_match; i++)
		free(p->match[i]);
	free(p->match);
	free(p->digest);
	if (p->trust_anchors)
		X509_STORE_free(p->trust_anchors);
	free(p->tafiles);
	if (p->audit_anchors)
		X509_STORE_free(p->audit_anchors);
	free(p->audit);
	free(p->servername);
	free(p->nexthop_name);
	free(p->error);
	free(p->cache_key);
	free(p);
}

static struct tls_policy *
policy_invalid(struct tls_policy *p)
{
	free(p->error);
	p->error = xstrdup(TLS_POLICY_PROBLEM);
	return p;
}

/* Loads PEM trust anchors from file into store. Public keys (which
 * Postfix also takes) are refused rather than ignored. */
static int
load_trust_anchors(X509_STORE *store, const char *file, const char *where)
{
	char *name = NULL, *header = NULL, *reason = NULL;
	unsigned char *data = NULL;
	long len;
	int count = 0, status = 0;
	BIO *bio;

	if ((bio = tls_open_pem(file, &reason)) == NULL) {
		msg_warn("%s: trust anchor file %s: %s", where, file, reason);
		free(reason);
		return -1;
	}
	ERR_clear_error();
	while (status == 0 && PEM_read_bio(bio, &name, &header, &data,
	    &len) == 1) {
		const unsigned char *p = data;
		X509 *cert;

		if (strcmp(name, PEM_STRING_X509) == 0 ||
		    strcmp(name, PEM_STRING_X509_OLD) == 0) {
			if ((cert = d2i_X509(NULL, &p, len)) == NULL ||
			    X509_STORE_add_cert(store, cert) != 1) {
				msg_warn("%s: trust anchor file %s: bad "
				    "certificate", where, file);
				status = -1;
			} else
				count++;
			X509_free(cert);
		} else {
			msg_warn("%s: trust anchor file %s: \"%s\" is not "
			    "supported (only certificates)", where, file,
			    name);
			status = -1;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (status == 0 && count == 0) {
		msg_warn("%s: trust anchor file %s: no certificate", where,
		    file);
		status = -1;
	}
	return status;
}

static int
valid_hostname(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255 || name[0] == '.' || name[0] == '-')
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return 0;
	return 1;
}

/* A value in the cache key, with the key's separators escaped: a match
 * name "a|b" must not read as the names "a" and "b". */
static void
key_value(struct strbuf *sb, const char *value)
{
	for (const unsigned char *p = (const unsigned char *)(value ? value :
	    ""); *p; p++) {
		if (*p == ';' || *p == '|' || *p == '=' || *p == '%' ||
		    *p <= ' ' || *p >= 0x7f)
			strbuf_printf(sb, "%%%02X", *p);
		else
			strbuf_append(sb, (const char *)p, 1);
	}
}

static void
key_add(struct strbuf *sb, const char *name, const char *value)
{
	strbuf_printf(sb, "%s%s=", sb->len ? ";" : "", name);
	key_value(sb, value);
}

/* A string that differs whenever the policy asks for something else:
 * a session made under one policy is never reused under another. */
static char *
make_cache_key(const struct tls_policy *p)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_puts(&sb, "");
	key_add(&sb, "level", tls_level_name(p->level));
	if (p->level >= TLS_LEV_MAY) {
		key_add(&sb, "protocols", p->protocols);
		key_add(&sb, "ciphers", p->cipher_list);
		key_add(&sb, "servername", p->servername);
	}
	if (p->level == TLS_LEV_FPRINT)
		key_add(&sb, "digest", p->digest);
	if (p->n_match > 0) {
		strbuf_puts(&sb, ";match=");
		for (size_t i = 0; i < p->n_match; i++) {
			if (i > 0)
				strbuf_puts(&sb, "|");
			key_value(&sb, p->match[i]);
		}
	}
	if (p->trust_anchors)
		key_add(&sb, "tafile", p->tafiles);
	return strbuf_steal(&sb);
}

/* Fills in what the entry left to main.cf, checks it all, computes the
 * per-connection settings. where: the prefix of warnings. */
static struct tls_policy *
policy_finish(struct tls_policy *p, const struct conf *conf,
    struct attrs *a, const char *where)
{
	int mandatory = p->level >= TLS_LEV_ENCRYPT;
	char *reason = NULL;
	struct strbuf excl;

	if (p->level == TLS_LEV_NONE) {
		p->cache_key = make_cache_key(p);
		return p;
	}
	p->protocols = xstrdup(a->protocols ? a->protocols : conf_str(conf,
	    mandatory ? P_smtp_tls_mandatory_protocols :
	    P_smtp_tls_protocols));
	p->grade = xstrdup(a->grade ? a->grade : conf_str(conf, mandatory ?
	    P_smtp_tls_mandatory_ciphers : P_smtp_tls_ciphers));
	/* Postfix's set_cipher_grade(): an "exclude" attribute replaces
	 * both main.cf lists; anonymous ciphers go where a certificate is
	 * checked, null ciphers where encryption is mandatory. */
	strbuf_init(&excl);
	strbuf_puts(&excl, "");
	if (a->exclusions)
		strbuf_puts(&excl, a->exclusions);
	else
		strbuf_printf(&excl, "%s %s",
		    conf_str(conf, P_smtp_tls_exclude_ciphers),
		    mandatory ? conf_str(conf,
		    P_smtp_tls_mandatory_exclude_ciphers) : "");
	if (p->level == TLS_LEV_ENCRYPT)
		strbuf_puts(&excl, " eNULL");
	else if (p->level > TLS_LEV_ENCRYPT)
		strbuf_puts(&excl, " aNULL");
	p->exclusions = strbuf_steal(&excl);
	if (tls_parse_protocols(p->protocols, &p->min_version,
	    &p->max_version, &p->disable_ops, &reason) != 0) {
		msg_warn("%s: protocols \"%s\": %s", where, p->protocols,
		    reason);
		free(reason);
		return policy_invalid(p);
	}
	if ((p->cipher_list = tls_cipher_string(conf, p->grade,
	    p->exclusions, &reason)) == NULL) {
		msg_warn("%s: ciphers \"%s\": %s", where, p->grade, reason);
		free(reason);
		return policy_invalid(p);
	}
	p->servername = xstrdup(a->servername ? a->servername :
	    conf_str(conf, P_smtp_tls_servername));
	p->conn_reuse = a->conn_reuse;

	if (p->level == TLS_LEV_FPRINT) {
		char **values = NULL;
		size_t n = 0;

		if (a->n_match > 0) {
			/* match= values, several joined with '|' */
			for (size_t i = 0; i < a->n_match; i++)
				list_add_split(&values, &n, a->match[i], "|");
		} else
			list_add_split(&values, &n, conf_str(conf,
			    P_smtp_tls_fingerprint_cert_match),
			    LIST_SEPARATORS);
		for (size_t i = 0; i < n; i++) {
			char *fp = tls_fprint_normalize(values[i]);

			/* Skipped as Postfix does: it can only make the
			 * list stricter. */
			if (fp == NULL)
				msg_warn("%s: malformed fingerprint value: "
				    "%.100s", where, values[i]);
			else
				list_add(&p->match, &p->n_match, fp);
			free(fp);
			free(values[i]);
		}
		free(values);
		if (p->n_match == 0) {
			msg_warn("nexthop domain %s: configured at fingerprint "
			    "security level, but with no fingerprints to "
			    "match.", p->nexthop_name);
			return policy_invalid(p);
		}
	} else if (p->level == TLS_LEV_VERIFY || p->level == TLS_LEV_SECURE) {
		if (a->n_match > 0) {
			for (size_t i = 0; i < a->n_match; i++)
				list_add_split(&p->match, &p->n_match,
				    a->match[i], ":");
		} else
			list_add_split(&p->match, &p->n_match, conf_str(conf,
			    p->level == TLS_LEV_VERIFY ?
			    P_smtp_tls_verify_cert_match :
			    P_smtp_tls_secure_cert_match),
			    LIST_SEPARATORS ":");
		if (p->n_match == 0) {
			msg_warn("%s: no certificate match strategy or name "
			    "for level %s", where,
			    tls_level_name(p->level));
			return policy_invalid(p);
		}
		if (a->n_tafiles == 0)
			list_add_split(&a->tafiles, &a->n_tafiles,
			    conf_str(conf, P_smtp_tls_trust_anchor_file),
			    LIST_SEPARATORS);
		if (a->n_tafiles > 0) {
			struct strbuf names;

			strbuf_init(&names);
			strbuf_puts(&names, "");
			p->trust_anchors = X509_STORE_new();
			for (size_t i = 0; i < a->n_tafiles; i++) {
				if (load_trust_anchors(p->trust_anchors,
				    a->tafiles[i], where) != 0) {
					strbuf_free(&names);
					return policy_invalid(p);
				}
				strbuf_printf(&names, "%s%s", i ? "," : "",
				    a->tafiles[i]);
			}
			p->tafiles = strbuf_steal(&names);
		}
	}
	p->cache_key = make_cache_key(p);
	return p;
}

struct tls_policy *
tls_policy_main(const struct conf *conf, int level, const char *nexthop)
{
	struct tls_policy *p;
	struct attrs a;
	char *where;

	memset(&a, 0, sizeof(a));
	a.conn_reuse = -1;
	if (level < 0) {
		p = policy_alloc(conf, TLS_LEV_NONE, nexthop);
		msg_warn("%s: smtp_tls_security_level: unknown level \"%s\"",
		    tls_param_origin(conf, P_smtp_tls_security_level),
		    conf_str(conf, P_smtp_tls_security_level));
		return policy_invalid(p);
	}
	p = policy_alloc(conf, level, nexthop);
	where = xasprintf("next-hop destination \"%s\"",
	    nexthop ? nexthop : "");
	p = policy_finish(p, conf, &a, where);
	attrs_free(&a);
	free(where);
	return p;
}

/* Postfix's split_nameval(): "name=value", both sides trimmed. */
static const char *
split_attribute(char *token, char **name, char **value)
{
	char *eq = strchr(token, '=');

	if (eq == NULL)
		return "missing '=' after attribute name";
	*eq = '\0';
	*name = str_trim(token);
	*value = str_trim(eq + 1);
	if (**name == '\0')
		return "missing attribute name";
	return NULL;
}

/* One attribute into a. Returns 0, or -1 after a warning. */
static int
parse_attribute(struct attrs *a, int level, char *token, const char *where)
{
	char *name, *value;
	const char *err;

	if ((err = split_attribute(token, &name, &value)) != NULL) {
		msg_warn("%s: malformed attribute/value pair \"%s\": %s",
		    where, token, err);
		return -1;
	}
	/* Only once each: a second one would be ambiguous. */
	if (strcasecmp(name, "ciphers") == 0 ||
	    strcasecmp(name, "protocols") == 0 ||
	    strcasecmp(name, "exclude") == 0 ||
	    strcasecmp(name, "servername") == 0) {
		char **slot = strcasecmp(name, "ciphers") == 0 ? &a->grade :
		    strcasecmp(name, "protocols") == 0 ? &a->protocols :
		    strcasecmp(name, "exclude") == 0 ? &a->exclusions :
		    &a->servername;

		if (*slot != NULL) {
			msg_warn("%s: attribute \"%s\" is specified multiple "
			    "times", where, name);
			return -1;
		}
		if (*value == '\0' && strcasecmp(name, "ciphers") == 0) {
			msg_warn("%s: attribute \"%s\" has empty value",
			    where, name);
			return -1;
		}
		if (strcasecmp(name, "servername") == 0 &&
		    !valid_hostname(value)) {
			msg_warn("%s: \"%s=%s\" specifies an invalid hostname",
			    where, name, value);
			return -1;
		}
		*slot = xstrdup(value);
		return 0;
	}
	if (strcasecmp(name, "match") == 0) {
		if (*value == '\0') {
			msg_warn("%s: attribute \"%s\" has empty value",
			    where, name);
			return -1;
		}
		if (level != TLS_LEV_FPRINT && level != TLS_LEV_VERIFY &&
		    level != TLS_LEV_SECURE) {
			msg_warn("%s: attribute \"%s\" invalid at security "
			    "level \"%s\"", where, name,
			    tls_level_name(level));
			return -1;
		}
		list_add(&a->match, &a->n_match, value);
		return 0;
	}
	if (strcasecmp(name, "tafile") == 0) {
		if (level != TLS_LEV_VERIFY && level != TLS_LEV_SECURE) {
			msg_warn("%s: attribute \"%s\" invalid at security "
			    "level \"%s\"", where, name,
			    tls_level_name(level));
			return -1;
		}
		if (*value == '\0') {
			msg_warn("%s: attribute \"%s\" has empty value",
			    where, name);
			return -1;
		}
		list_add(&a->tafiles, &a->n_tafiles, value);
		return 0;
	}
	if (strcasecmp(name, "connection_reuse") == 0) {
		/* The last one wins, as in Postfix. */
		if (strcasecmp(value, "yes") == 0)
			a->conn_reuse = 1;
		else if (strcasecmp(value, "no") == 0)
			a->conn_reuse = 0;
		else {
			msg_warn("%s: attribute \"%s\" has bad value: \"%s\"",
			    where, name, value);
			return -1;
		}
		return 0;
	}
	msg_warn("%s: invalid attribute name: \"%s\"", where, name);
	return -1;
}

struct tls_policy *
tls_policy_parse(const struct conf *conf, const char *nexthop,
    const char *entry, const char *where)
{
	char **tokens = strlist_split(entry, LIST_SEPARATORS, NULL);
	struct tls_policy *p;
	struct attrs a;
	int level;

	memset(&a, 0, sizeof(a));
	a.conn_reuse = -1;
	if (tokens[0] == NULL) {
		msg_warn("%s: invalid empty policy", where);
		strlist_free(tokens);
		return policy_invalid(policy_alloc(conf, TLS_LEV_NONE,
		    nexthop));
	}
	if ((level = tls_level_parse(tokens[0])) < 0) {
		msg_warn("%s: invalid security level \"%s\"", where,
		    tokens[0]);
		strlist_free(tokens);
		return policy_invalid(policy_alloc(conf, TLS_LEV_NONE,
		    nexthop));
	}
	p = policy_alloc(conf, level, nexthop);
	for (size_t i = 1; tokens[i] != NULL; i++) {
		if (level == TLS_LEV_NONE) {
			msg_warn("%s: ignoring attribute \"%s\" with TLS "
			    "disabled", where, tokens[i]);
			continue;
		}
		if (parse_attribute(&a, level, tokens[i], where) != 0) {
			attrs_free(&a);
			strlist_free(tokens);
			return policy_invalid(p);
		}
	}
	strlist_free(tokens);
	p = policy_finish(p, conf, &a, where);
	attrs_free(&a);
	return p;
}

const char *
tls_policy_cache_key(const struct tls_policy *p)
{
	return p->cache_key ? p->cache_key : "";
}

/* ---- the table ---------------------------------------------------------- */

struct tls_policy_maps {
	const struct conf *conf;
	char *spec;			/* smtp_tls_policy_maps */
	struct table_list *tables;	/* NULL when the parameter is empty */
	int level;			/* main.cf smtp_tls_security_level */
};

struct tls_policy_maps *
tls_policy_maps_open(const struct conf *conf, char **err)
{
	const char *spec = conf_str(conf, P_smtp_tls_policy_maps);
	struct tls_policy_maps *maps;
	char *terr = NULL;

	*err = NULL;
	maps = xcalloc(1, sizeof(*maps));
	maps->conf = conf;
	maps->spec = xstrdup(spec ? spec : "");
	maps->level = tls_smtp_level(conf);
	if (maps->level < 0) {
		*err = xasprintf("%s: smtp_tls_security_level: unknown level "
		    "\"%s\"", tls_param_origin(conf,
		    P_smtp_tls_security_level),
		    conf_str(conf, P_smtp_tls_security_level));
		tls_policy_maps_close(maps);
		return NULL;
	}
	if (maps->spec[strspn(maps->spec, LIST_SEPARATORS)] != '\0' &&
	    (maps->tables = table_list_open(maps->spec, 0, &terr)) == NULL) {
		*err = xasprintf("%s: smtp_tls_policy_maps: %s",
		    tls_param_origin(conf, P_smtp_tls_policy_maps), terr);
		free(terr);
		tls_policy_maps_close(maps);
		return NULL;
	}
	return maps;
}

void
tls_policy_maps_close(struct tls_policy_maps *maps)
{
	if (maps == NULL)
		return;
	if (maps->tables)
		table_list_close(maps->tables);
	free(maps->spec);
	free(maps);
}

/* Postfix looks up parent domains only for a next hop that is a plain
 * host name: no brackets, no port. */
static int
is_domain(const char *nexthop)
{
	return *nexthop != '\0' && nexthop[strcspn(nexthop, "[]:")] == '\0';
}

struct tls_policy *
tls_policy_lookup(struct tls_policy_maps *maps, const char *nexthop)
{
	return tls_policy_lookup_from(maps, nexthop, NULL, NULL);
}

struct tls_policy *
tls_policy_lookup_from(struct tls_policy_maps *maps, const char *nexthop,
    char **table, char **matched_key)
{
	const char *key = nexthop, *value = NULL;
	struct tls_policy *p;
	char *where;
	int error = 0;

	if (table != NULL)
		*table = NULL;
	if (matched_key != NULL)
		*matched_key = NULL;
	if (maps->tables == NULL)
		return tls_policy_main(maps->conf, maps->level, nexthop);
	table_list_refresh(maps->tables, "smtp_tls_policy_maps");
	for (;;) {
		value = table_list_lookup(maps->tables, key, &error);
		if (value != NULL || error || !is_domain(nexthop))
			break;
		/* "a.example.com" -> ".example.com" -> ".com" */
		if ((key = strchr(key + 1, '.')) == NULL)
			break;
	}
	if (error) {
		msg_warn("smtp_tls_policy_maps, next-hop destination \"%s\": "
		    "policy table lookup error", nexthop);
		return policy_invalid(policy_alloc(maps->conf, TLS_LEV_NONE,
		    nexthop));
	}
	if (value == NULL)
		return tls_policy_main(maps->conf, maps->level, nexthop);
	if (table != NULL)
		*table = xstrdup(table_list_last(maps->tables) ?
		    table_name(table_list_last(maps->tables)) :
		    "smtp_tls_policy_maps");
	if (matched_key != NULL)
		*matched_key = xstrdup(key);
	where = xasprintf("%s, next-hop destination \"%s\"",
	    table_list_last(maps->tables) ?
	    table_name(table_list_last(maps->tables)) :
	    "smtp_tls_policy_maps", nexthop);
	if (msg_verbose)
		msg_debug("%s: policy \"%s\" (key \"%s\")", where, value, key);
	p = tls_policy_parse(maps->conf, nexthop, value, where);
	p->from_table = 1;
	free(where);
	return p;
}
