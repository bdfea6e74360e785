/* domain_list: relay_domains-style lists of domains. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

struct domain_entry {
	char *name;		/* lower case, no leading or trailing dot */
	int subdomains_only;	/* ".example.com" */
	int negate;		/* "!example.com" */
};

struct domain_list {
	struct domain_entry *entries;
	size_t n;
	int subdomains;		/* parent_domain_matches_subdomains */
};

/* Drops one trailing dot: "example.com." is the same name. */
static void
strip_trailing_dot(char *s)
{
	size_t len = strlen(s);

	if (len > 0 && s[len - 1] == '.')
		s[len - 1] = '\0';
}

struct domain_list *
domain_list_parse(const char *spec, int subdomains)
{
	struct domain_list *list = xcalloc(1, sizeof(*list));
	size_t count, i;
	char **words = strlist_split(spec, LIST_SEPARATORS, &count);

	list->subdomains = subdomains;
	list->entries = xcalloc(count, sizeof(*list->entries));
	for (i = 0; i < count; i++) {
		struct domain_entry *e = &list->entries[list->n];
		char *w = words[i];

		if (w[0] == '!') {
			e->negate = 1;
			w++;
		}
		if (w[0] == '/' || (w[0] != '[' && strchr(w, ':') != NULL)) {
			msg_warn("table lookups in relay_domains are not "
			    "supported yet: %s (ignored)", w);
			continue;
		}
		if (w[0] == '.') {
			e->subdomains_only = 1;
			w++;
		}
		strip_trailing_dot(w);
		if (*w == '\0' || w[0] == '.') {
			msg_warn("bad domain in list: %s (ignored)", words[i]);
			continue;
		}
		e->name = str_lower(xstrdup(w));
		list->n++;
	}
	strlist_free(words);
	return list;
}

void
domain_list_free(struct domain_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n; i++)
		free(list->entries[i].name);
	free(list->entries);
	free(list);
}

/* 1 if domain (lower case) is name or, when sub is set, below it. */
static int
entry_matches(const struct domain_entry *e, const char *domain, size_t len,
    int sub)
{
	size_t nlen = strlen(e->name);

	if (!e->subdomains_only && len == nlen &&
	    memcmp(domain, e->name, len) == 0)
		return 1;
	if ((sub || e->subdomains_only) && len > nlen + 1 &&
	    domain[len - nlen - 1] == '.' &&
	    memcmp(domain + len - nlen, e->name, nlen) == 0)
		return 1;
	return 0;
}

int
domain_list_match(const struct domain_list *list, const char *domain)
{
	char *name;
	size_t len;
	int result = 0;

	/* An address literal names a host, never a domain in the list. */
	if (list == NULL || domain == NULL || domain[0] == '[')
		return 0;
	name = str_lower(xstrdup(domain));
	strip_trailing_dot(name);
	len = strlen(name);
	if (len > 0) {
		for (size_t i = 0; i < list->n; i++) {
			const struct domain_entry *e = &list->entries[i];

			/* First match wins, as in Postfix's match lists. */
			if (entry_matches(e, name, len, list->subdomains)) {
				result = !e->negate;
				break;
			}
		}
	}
	free(name);
	return result;
}
