/* cidr: mynetworks-style address lists. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/map.h"
#include "tlsrelay/util.h"
#include "cidr_int.h"

struct cidr_entry {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];	/* network bytes, host bits zero */
	int prefix;		/* bits */
	int negate;		/* "!addr/len": a match means "not in list" */
};

struct cidr_list {
	struct cidr_entry *entries;
	size_t n;
};

static const unsigned char v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* 1 if the first prefix bits of a and b agree. */
int
cidr_prefix_equal(const unsigned char *a, const unsigned char *b, int prefix)
{
	int bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, (size_t)bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - bits)) & 0xff) == 0;
}

/* Clears the bits after prefix; returns 1 if any was set. */
static int
clear_host_bits(unsigned char *addr, int len, int prefix)
{
	int changed = 0;

	for (int i = 0; i < len; i++) {
		int keep = prefix - i * 8;
		unsigned char mask;

		if (keep >= 8)
			continue;
		mask = keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
		if (addr[i] & ~mask)
			changed = 1;
		addr[i] &= mask;
	}
	return changed;
}

/* A "type:name" table or a "/file" of patterns, which Postfix also allows
 * in this place. */
static int
looks_like_table(const char *word)
{
	size_t n;

	if (word[0] == '/')
		return 1;
	if (!isalpha((unsigned char)word[0]))
		return 0;
	n = strspn(word, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
	if (word[n] != ':')
		return 0;
	/* "fe80::1" and "cdb:/etc/x" both start like "type:". */
	if (strspn(word, "0123456789abcdefABCDEF") < n)
		return 1;
	return word[n + 1] != ':' && !isxdigit((unsigned char)word[n + 1]);
}

int
cidr_parse_address(const char *text, size_t len, int *family, unsigned char *addr)
{
	char buf[INET6_ADDRSTRLEN + 2];

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/* An IPv4-mapped IPv6 address is treated as the IPv4 address it maps. */
static void
unmap_v4(int *family, unsigned char *addr, int *prefix)
{
	if (*family != AF_INET6 ||
	    memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0)
		return;
	if (prefix != NULL) {
		if (*prefix < 96)
			return;
		*prefix -= 96;
	}
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
}

static char *
parse_entry(const char *word, struct cidr_entry *e)
{
	const char *text = word;
	const char *slash;
	size_t addr_len;
	int max;

	memset(e, 0, sizeof(*e));
	if (*text == '!') {
		e->negate = 1;
		text++;
	}
	if (looks_like_table(text))
		return xasprintf("table lookups in this list are not supported "
		    "yet: %s", text);
	slash = strchr(text, '/');
	addr_len = slash ? (size_t)(slash - text) : strlen(text);
	if (cidr_parse_address(text, addr_len, &e->family, e->addr) < 0)
		return xasprintf("bad address pattern: %s", word);
	max = e->family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		e->prefix = max;
	} else {
		const char *p = slash + 1;
		long v = 0;

		if (*p == '\0' || strlen(p) > 3 ||
		    strspn(p, "0123456789") != strlen(p))
			return xasprintf("bad prefix length in %s", word);
		v = strtol(p, NULL, 10);
		if (v > max)
			return xasprintf("bad prefix length in %s", word);
		e->prefix = (int)v;
	}
	if (clear_host_bits(e->addr, max / 8, e->prefix)) {
		char net[INET6_ADDRSTRLEN];
		int bracket = text[0] == '[';

		inet_ntop(e->family, e->addr, net, sizeof(net));
		return xasprintf("non-null host address bits in %s, perhaps "
		    "you should use %s%s%s/%d instead", text,
		    bracket ? "[" : "", net, bracket ? "]" : "", e->prefix);
	}
	unmap_v4(&e->family, e->addr, &e->prefix);
	return NULL;
}

struct cidr_list *
cidr_list_parse(const char *spec, char **err)
{
	struct cidr_list *list;
	size_t count, i;
	char **words;

	*err = NULL;
	words = strlist_split(spec, LIST_SEPARATORS, &count);
	list = xcalloc(1, sizeof(*list));
	list->entries = xcalloc(count, sizeof(*list->entries));
	for (i = 0; i < count; i++) {
		*err = parse_entry(words[i], &list->entries[list->n]);
		if (*err != NULL) {
			strlist_free(words);
			cidr_list_free(list);
			return NULL;
		}
		list->n++;
	}
	strlist_free(words);
	return list;
}

void
cidr_list_free(struct cidr_list *list)
{
	if (list == NULL)
		return;
	free(list->entries);
	free(list);
}

static int
entry_inside(const struct cidr_entry *e, const struct cidr_list *within)
{
	for (size_t i = 0; i < within->n; i++) {
		const struct cidr_entry *w = &within->entries[i];

		if (!w->negate && w->family == e->family &&
		    w->prefix <= e->prefix &&
		    cidr_prefix_equal(w->addr, e->addr, w->prefix))
			return 1;
	}
	return 0;
}

char *
cidr_list_outside(const struct cidr_list *list,
    const struct cidr_list *within)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (size_t i = 0; i < list->n; i++) {
		const struct cidr_entry *e = &list->entries[i];
		char net[INET6_ADDRSTRLEN];

		if (e->negate || entry_inside(e, within) ||
		    inet_ntop(e->family, e->addr, net, sizeof(net)) == NULL)
			continue;
		strbuf_printf(&sb, e->family == AF_INET6 ? "%s[%s]/%d" :
		    "%s%s/%d", sb.len ? " " : "", net, e->prefix);
	}
	if (sb.len == 0) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

static int
match_bytes(const struct cidr_list *list, int family,
    const unsigned char *addr)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct cidr_entry *e = &list->entries[i];

		/* First match wins, so "!10.0.0.1 10.0.0.0/8" excludes one
		 * host from a trusted network. */
		if (e->family == family && cidr_prefix_equal(e->addr, addr,
		    e->prefix))
			return !e->negate;
	}
	return 0;
}

int
cidr_list_match(const struct cidr_list *list, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	if (list == NULL || sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		family = AF_INET;
		memcpy(addr, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		family = AF_INET6;
		memcpy(addr, &sin6->sin6_addr, 16);
		unmap_v4(&family, addr, NULL);
	} else
		return 0;
	return match_bytes(list, family, addr);
}

int
cidr_list_match_text(const struct cidr_list *list, const char *text)
{
	unsigned char addr[16];
	const char *zone;
	int family;
	size_t len;

	if (list == NULL || text == NULL)
		return 0;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (end == NULL || end[1] != '\0')
			return 0;
		text++;
		len = (size_t)(end - text);
	} else
		len = strlen(text);
	/* A zone ("fe80::1%eth0") does not take part in the comparison. */
	zone = memchr(text, '%', len);
	if (zone != NULL)
		len = (size_t)(zone - text);
	if (cidr_parse_address(text, len, &family, addr) < 0)
		return 0;
	unmap_v4(&family, addr, NULL);
	return match_bytes(list, family, addr);
}
