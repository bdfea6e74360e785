/* conf_master: master.cf, as master(5) describes it:
 *
 *	service type private unpriv chroot wakeup maxproc command [args]
 *
 * "-" is the default of a field; a field written "{ text }" may contain
 * white space; "-o name=value" and "-o { name = value }" override main.cf
 * for that service. Values of -o are checked by type later, when the
 * service's view of the configuration is built (conf_for_service). */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

struct token {
	char *text;
	int line;
};

static const char *const service_types[] = {
	"inet", "unix", "unix-dgram", "fifo", "pass",
};

static void
tokens_free(struct token *tokens, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(tokens[i].text);
	free(tokens);
}

/* Splits a logical line into fields; "{ ... }" is one field, trimmed. */
static struct token *
tokenize(const struct conf_lline *ll, const char *file, size_t *count,
    char **err)
{
	struct token *tokens = NULL;
	size_t n = 0;
	const char *p = ll->text;

	for (;;) {
		const char *start, *end;
		char *text;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		if (*p == '{') {
			int depth = 0;

			for (end = p; *end; end++) {
				if (*end == '{')
					depth++;
				else if (*end == '}' && --depth == 0)
					break;
			}
			if (*end == '\0') {
				*err = xasprintf("%s:%d: missing '}' in "
				    "\"%.60s\"", file, conf_lline_line_at(ll,
				    (size_t)(start - ll->text)), start);
				tokens_free(tokens, n);
				return NULL;
			}
			char *trimmed;

			text = xstrndup(start + 1, (size_t)(end - start - 1));
			trimmed = str_trim(text);
			memmove(text, trimmed, strlen(trimmed) + 1);
			p = end + 1;
		} else {
			for (end = p; *end && !isspace((unsigned char)*end);
			    end++)
				;
			text = xstrndup(start, (size_t)(end - start));
			p = end;
		}
		tokens = xrealloc(tokens, (n + 1) * sizeof(*tokens));
		tokens[n].text = text;
		tokens[n].line = conf_lline_line_at(ll,
		    (size_t)(start - ll->text));
		n++;
	}
	*count = n;
	return tokens;
}

static void
service_free(struct master_service *svc)
{
	if (svc == NULL)
		return;
	free(svc->name);
	free(svc->type);
	free(svc->wakeup);
	free(svc->command);
	strlist_free(svc->args);
	for (size_t i = 0; i < svc->n_overrides; i++) {
		free(svc->overrides[i].name);
		free(svc->overrides[i].value);
	}
	free(svc->overrides);
	free(svc->file);
	free(svc->host);
	free(svc->port);
	free(svc);
}

void
conf_services_release(struct conf_services *services)
{
	if (services == NULL || --services->refs > 0)
		return;
	for (size_t i = 0; i < services->count; i++)
		service_free(services->list[i]);
	free(services->list);
	free(services);
}

int
conf_split_inet(const char *name, char **host, char **port)
{
	const char *colon;

	*host = *port = NULL;
	if (name[0] == '[') {
		const char *close = strchr(name, ']');

		if (close == NULL || close == name + 1 || close[1] != ':' ||
		    close[2] == '\0')
			return -1;
		*host = xstrndup(name + 1, (size_t)(close - name - 1));
		*port = xstrdup(close + 2);
		return 0;
	}
	colon = strrchr(name, ':');
	if (colon == NULL) {
		if (name[0] == '\0')
			return -1;
		*port = xstrdup(name);
		return 0;
	}
	/* An IPv6 address needs brackets, or host and port are ambiguous. */
	if (strchr(name, ':') != colon || colon[1] == '\0')
		return -1;
	if (colon > name)
		*host = xstrndup(name, (size_t)(colon - name));
	*port = xstrdup(colon + 1);
	return 0;
}

/* y, n or - (default, -1). */
static int
parse_flag(const char *text, int *out)
{
	if (strcmp(text, "y") == 0)
		*out = 1;
	else if (strcmp(text, "n") == 0)
		*out = 0;
	else if (strcmp(text, "-") == 0)
		*out = -1;
	else
		return -1;
	return 0;
}

static int
valid_wakeup(const char *text)
{
	size_t digits = strspn(text, "0123456789");

	if (strcmp(text, "-") == 0)
		return 1;
	return digits > 0 && (text[digits] == '\0' ||
	    (text[digits] == '?' && text[digits + 1] == '\0'));
}

static int
add_override(struct master_service *svc, const char *text, int line,
    const char *file, char **err)
{
	const char *eq = strchr(text, '=');
	char *name, *value;

	if (eq == NULL) {
		*err = xasprintf("%s:%d: missing '=' in -o %s", file, line,
		    text);
		return -1;
	}
	name = xstrndup(text, (size_t)(eq - text));
	value = xstrdup(eq + 1);
	if (*str_trim(name) == '\0') {
		*err = xasprintf("%s:%d: missing parameter name in -o %s",
		    file, line, text);
		free(name);
		free(value);
		return -1;
	}
	svc->overrides = xrealloc(svc->overrides,
	    (svc->n_overrides + 1) * sizeof(*svc->overrides));
	svc->overrides[svc->n_overrides].name = xstrdup(str_trim(name));
	svc->overrides[svc->n_overrides].value = xstrdup(str_trim(value));
	svc->overrides[svc->n_overrides].line = line;
	svc->n_overrides++;
	free(name);
	free(value);
	return 0;
}

static struct master_service *
parse_service(const struct conf_lline *ll, const char *file, char **err)
{
	struct master_service *svc;
	struct token *tok;
	size_t n = 0, n_args = 0;
	int known_type = 0;

	tok = tokenize(ll, file, &n, err);
	if (tok == NULL && *err)
		return NULL;
	if (n < 8) {
		*err = xasprintf("%s:%d: field count: expected at least 8 "
		    "fields, found %zu: \"%.60s\"", file, ll->line, n,
		    ll->text);
		tokens_free(tok, n);
		return NULL;
	}
	svc = xcalloc(1, sizeof(*svc));
	svc->name = xstrdup(tok[0].text);
	svc->type = xstrdup(tok[1].text);
	svc->wakeup = xstrdup(tok[5].text);
	svc->command = xstrdup(tok[7].text);
	svc->file = xstrdup(file);
	svc->line = ll->line;
	svc->args = xcalloc(n - 8 + 1, sizeof(*svc->args));

	for (size_t i = 0; i < sizeof(service_types) /
	    sizeof(service_types[0]); i++)
		if (strcmp(svc->type, service_types[i]) == 0)
			known_type = 1;
	if (!known_type) {
		*err = xasprintf("%s:%d: unknown service type: %s", file,
		    tok[1].line, svc->type);
		goto fail;
	}
	if (parse_flag(tok[2].text, &svc->private_) < 0 ||
	    parse_flag(tok[3].text, &svc->unpriv) < 0 ||
	    parse_flag(tok[4].text, &svc->chroot) < 0) {
		*err = xasprintf("%s:%d: bad private/unpriv/chroot field: "
		    "expected y, n or -: \"%s %s %s\"", file, ll->line,
		    tok[2].text, tok[3].text, tok[4].text);
		goto fail;
	}
	if (!valid_wakeup(svc->wakeup)) {
		*err = xasprintf("%s:%d: bad wakeup field: %s", file,
		    tok[5].line, svc->wakeup);
		goto fail;
	}
	if (strcmp(tok[6].text, "-") == 0) {
		svc->maxproc = -1;
	} else {
		long long maxproc;

		if (conf_parse_int(tok[6].text, &maxproc) < 0 ||
		    maxproc > 1000000) {
			*err = xasprintf("%s:%d: bad maxproc field: %s", file,
			    tok[6].line, tok[6].text);
			goto fail;
		}
		svc->maxproc = (int)maxproc;
	}
	if (strcmp(svc->type, "inet") == 0 &&
	    conf_split_inet(svc->name, &svc->host, &svc->port) < 0) {
		*err = xasprintf("%s:%d: bad inet service name: %s (expected "
		    "port, host:port or [ipv6]:port)", file, tok[0].line,
		    svc->name);
		goto fail;
	}
	for (size_t i = 8; i < n; i++) {
		if (strcmp(tok[i].text, "-o") == 0) {
			if (i + 1 == n) {
				*err = xasprintf("%s:%d: -o without "
				    "name=value", file, tok[i].line);
				goto fail;
			}
			i++;
			if (add_override(svc, tok[i].text, tok[i].line, file,
			    err) < 0)
				goto fail;
		} else if (strncmp(tok[i].text, "-o", 2) == 0 &&
		    strchr(tok[i].text, '=')) {
			/* "-oname=value", as getopt would take it */
			if (add_override(svc, tok[i].text + 2, tok[i].line,
			    file, err) < 0)
				goto fail;
		} else {
			svc->args[n_args++] = tok[i].text;
			tok[i].text = NULL;
		}
	}
	tokens_free(tok, n);
	return svc;

fail:
	tokens_free(tok, n);
	service_free(svc);
	return NULL;
}

struct conf_services *
conf_master_parse(const char *text, const char *file, char **err)
{
	struct conf_services *services = xcalloc(1, sizeof(*services));
	struct conf_lline *lines;
	size_t n_lines;

	services->refs = 1;
	*err = NULL;
	lines = conf_lex(text, file, &n_lines);
	for (size_t i = 0; i < n_lines; i++) {
		struct master_service *svc = parse_service(&lines[i], file,
		    err);

		if (svc == NULL)
			goto fail;
		for (size_t j = 0; j < services->count; j++) {
			const struct master_service *old = services->list[j];

			if (strcmp(old->name, svc->name) == 0 &&
			    strcmp(old->type, svc->type) == 0) {
				*err = xasprintf("%s:%d: duplicate service "
				    "name and type: %s/%s (first defined at "
				    "line %d)", file, svc->line, svc->name,
				    svc->type, old->line);
				service_free(svc);
				goto fail;
			}
		}
		services->list = xrealloc(services->list,
		    (services->count + 1) * sizeof(*services->list));
		services->list[services->count++] = svc;
	}
	conf_lex_free(lines, n_lines);
	return services;

fail:
	conf_lex_free(lines, n_lines);
	conf_services_release(services);
	return NULL;
}
