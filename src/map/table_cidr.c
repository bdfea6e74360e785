/* cidr: "network/prefix value" rules tried in order, first match wins,
 * with "!pattern" and nested "if pattern" ... "endif" blocks, as in
 * Postfix's cidr_table(5). The rules come from a file or from
 * cidr:{ {rule}, {rule} }.
 *
 * src/map/cidr.c (mynetworks) compares the same way, but a negated rule
 * here means "every address of the same family outside the network", and
 * a lookup parses its key once for all rules, so the matching is local. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/util.h"

#include "cidr_int.h"
#include "table_int.h"

enum rule_kind { RULE_MATCH, RULE_IF, RULE_ENDIF };

struct cidr_rule {
	enum rule_kind kind;
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];	/* network bytes, host bits zero */
	int prefix;
	int negate;
	char *value;		/* RULE_MATCH */
	size_t endif;		/* RULE_IF: index of its endif */
	int line;
};

struct cidr_table {
	struct cidr_rule *rules;
	size_t n, cap;
	size_t *open_ifs;	/* parse time: stack of unclosed "if" */
	size_t n_open;
	const char *label;
};

/* Parses "[!]address[/prefix]" into r; NULL or an error text. */
static char *
parse_pattern(const char *pattern, struct cidr_rule *r)
{
	const char *text = pattern, *slash;
	size_t len;
	int max;

	if (*text == '!') {
		r->negate = 1;
		text++;
	}
	slash = strchr(text, '/');
	len = slash ? (size_t)(slash - text) : strlen(text);
	if (cidr_parse_address(text, len, &r->family, r->addr) < 0)
		return xasprintf("bad address pattern: \"%s\"", pattern);
	max = r->family == AF_INET ? 32 : 128;
	r->prefix = max;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3 ||
		    strspn(p, "0123456789") != strlen(p) || atoi(p) > max)
			return xasprintf("bad mask length in \"%s\"", pattern);
		r->prefix = atoi(p);
	}
	for (int i = 0; i < max / 8; i++) {
		int keep = r->prefix - i * 8;
		unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 :
		    (unsigned char)(0xff << (8 - keep));

		if (r->addr[i] & ~mask) {
			unsigned char net[16];
			char shown[INET6_ADDRSTRLEN];

			memcpy(net, r->addr, sizeof(net));
			for (int j = i; j < max / 8; j++) {
				keep = r->prefix - j * 8;
				net[j] &= keep >= 8 ? 0xff : keep <= 0 ? 0 :
				    (unsigned char)(0xff << (8 - keep));
			}
			inet_ntop(r->family, net, shown, sizeof(shown));
			return xasprintf("non-null host address bits in "
			    "\"%s\", perhaps you should use \"%s/%d\" instead",
			    pattern, shown, r->prefix);
		}
	}
	return NULL;
}

static struct cidr_rule *
new_rule(struct cidr_table *ct)
{
	if (ct->n == ct->cap) {
		ct->cap = ct->cap ? ct->cap * 2 : 16;
		ct->rules = xrealloc(ct->rules, ct->cap * sizeof(*ct->rules));
		ct->open_ifs = xrealloc(ct->open_ifs,
		    ct->cap * sizeof(*ct->open_ifs));
	}
	memset(&ct->rules[ct->n], 0, sizeof(ct->rules[0]));
	return &ct->rules[ct->n];
}

/* "if" and "endif" are keywords in any case, followed by white space or
 * the end of the line. */
static int
keyword(const char *line, const char *word)
{
	size_t n = strlen(word);

	return strncasecmp(line, word, n) == 0 &&
	    (line[n] == '\0' || isspace((unsigned char)line[n]));
}

static int
cidr_line(void *ctx, char *line, int lineno, char **err)
{
	struct cidr_table *ct = ctx;
	struct cidr_rule *r = new_rule(ct);
	char *pattern, *value, *why;

	r->line = lineno;
	if (keyword(line, "endif")) {
		if (line[5] != '\0') {
			*err = xasprintf("%s:%d: text after ENDIF", ct->label,
			    lineno);
			return -1;
		}
		if (ct->n_open == 0) {
			*err = xasprintf("%s:%d: ENDIF without IF", ct->label,
			    lineno);
			return -1;
		}
		r->kind = RULE_ENDIF;
		ct->rules[ct->open_ifs[--ct->n_open]].endif = ct->n++;
		return 0;
	}
	if (keyword(line, "if")) {
		pattern = str_trim(line + 2);
		r->kind = RULE_IF;
		if (pattern[strcspn(pattern, " \t\r\n\v\f")] != '\0') {
			*err = xasprintf("%s:%d: bad pattern \"%s\" after IF",
			    ct->label, lineno, pattern);
			return -1;
		}
	} else {
		if (table_split_entry(line, &pattern, &value) < 0) {
			*err = xasprintf("%s:%d: no lookup result in \"%s\"",
			    ct->label, lineno, line);
			return -1;
		}
		r->kind = RULE_MATCH;
	}
	if ((why = parse_pattern(pattern, r)) != NULL) {
		*err = xasprintf("%s:%d: %s", ct->label, lineno, why);
		free(why);
		return -1;
	}
	if (r->kind == RULE_IF)
		ct->open_ifs[ct->n_open++] = ct->n;
	else
		r->value = xstrdup(value);
	ct->n++;
	return 0;
}

static void
cidr_free(struct cidr_table *ct)
{
	for (size_t i = 0; i < ct->n; i++)
		free(ct->rules[i].value);
	free(ct->rules);
	free(ct->open_ifs);
	free(ct);
}

static const char *
cidr_lookup(struct table *t, const char *key, int *error)
{
	const struct cidr_table *ct = t->impl;
	unsigned char addr[16];
	int family;
	size_t i = 0;

	(void)error;
	/* A key that is no address matches no rule. */
	if (cidr_parse_address(key, strlen(key), &family, addr) < 0)
		return NULL;
	while (i < ct->n) {
		const struct cidr_rule *r = &ct->rules[i];
		int hit;

		if (r->kind == RULE_ENDIF) {
			i++;
			continue;
		}
		/* A pattern says nothing about the other family, negated
		 * or not. */
		hit = r->family == family &&
		    cidr_prefix_equal(r->addr, addr, r->prefix) != r->negate;
		if (r->kind == RULE_MATCH && hit)
			return r->value;
		i = r->kind == RULE_IF && !hit ? r->endif + 1 : i + 1;
	}
	return NULL;
}

static void
cidr_close(struct table *t)
{
	cidr_free(t->impl);
}

static const struct table_ops cidr_ops = {
	cidr_lookup,
	cidr_close,
	NULL,		/* no listing, as Postfix */
};

int
table_cidr_open_text(struct table *t, const char *label, const char *text,
    size_t len, char **err)
{
	struct cidr_table *ct = xcalloc(1, sizeof(*ct));

	t->fold = 0;
	ct->label = label;
	if (table_text_lines(label, text, len, cidr_line, ct, err) < 0)
		goto fail;
	if (ct->n_open > 0) {
		*err = xasprintf("%s:%d: IF has no matching ENDIF", label,
		    ct->rules[ct->open_ifs[ct->n_open - 1]].line);
		goto fail;
	}
	free(ct->open_ifs);
	ct->open_ifs = NULL;
	ct->label = NULL;
	t->impl = ct;
	t->ops = &cidr_ops;
	return 0;
fail:
	cidr_free(ct);
	return -1;
}

/* cidr:{ {rule}, {rule} }: each braced element is one line of text. */
static int
open_inline_rules(struct table *t, const char *name, char **err)
{
	struct strbuf text;
	const char *cursor;
	char *inner, *rule, *perr = NULL;
	size_t end;
	int braced, ret;

	if ((end = table_brace_end(name)) == 0 || name[end + 1] != '\0') {
		*err = xasprintf("cidr map: missing '}' in \"%s\"", name);
		return -1;
	}
	inner = xstrndup(name + 1, end - 1);
	strbuf_init(&text);
	cursor = inner;
	while ((rule = table_next_element(&cursor, ", \t\r\n", 1, &braced,
	    &perr)) != NULL) {
		if (!braced) {
			*err = xasprintf("cidr map: no '{' at start of text in "
			    "\"%s\"", rule);
			free(rule);
			goto fail;
		}
		strbuf_puts(&text, rule);
		strbuf_puts(&text, "\n");
		free(rule);
	}
	if (perr != NULL) {
		*err = xasprintf("cidr map: %s", perr);
		free(perr);
		goto fail;
	}
	ret = table_cidr_open_text(t, t->spec, text.data ? text.data : "",
	    text.len, err);
	free(inner);
	strbuf_free(&text);
	return ret;
fail:
	free(inner);
	strbuf_free(&text);
	return -1;
}

int
table_cidr_open(struct table *t, const char *name, char **err)
{
	size_t len;
	char *text;
	int ret;

	if (name[0] == '{')
		return open_inline_rules(t, name, err);
	table_watch(t, name);
	if ((text = file_read(name, &len, err)) == NULL)
		return -1;
	ret = table_cidr_open_text(t, name, text, len, err);
	free(text);
	return ret;
}
