/* Text sources of tables in postmap(1) syntax, and the brace tokenizer
 * used by inline:, cidr:{...} and lists of tables. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "table_int.h"

#define BLANKS	" \t\r\n\v\f"

static int
is_blank(char c)
{
	return c != '\0' && strchr(BLANKS, c) != NULL;
}

/* Hands the logical line collected so far to fn. */
static int
flush_line(struct strbuf *logical, int lineno, table_line_fn fn, void *ctx,
    char **err)
{
	int ret;

	if (logical->len == 0)
		return 0;
	while (logical->len > 0 && is_blank(logical->data[logical->len - 1]))
		logical->data[--logical->len] = '\0';
	ret = fn(ctx, logical->data, lineno, err);
	strbuf_reset(logical);
	return ret;
}

int
table_text_lines(const char *label, const char *text, size_t len,
    table_line_fn fn, void *ctx, char **err)
{
	struct strbuf logical;
	const char *p = text, *end = text + len;
	int lineno = 0, first = 0, ret = 0;

	strbuf_init(&logical);
	while (p < end && ret == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t n = (size_t)(line_end - p), skip;

		lineno++;
		if (memchr(p, '\0', n) != NULL) {
			*err = xasprintf("%s:%d: NUL byte in line", label,
			    lineno);
			ret = -1;
			break;
		}
		for (skip = 0; skip < n && is_blank(p[skip]); skip++)
			;
		if (skip == n || p[skip] == '#') {
			/* Blank or comment: does not end a logical line. */
		} else if (skip > 0) {
			if (logical.len == 0) {
				*err = xasprintf("%s:%d: logical line must "
				    "not start with white space", label,
				    lineno);
				ret = -1;
				break;
			}
			strbuf_append(&logical, p, n);
		} else {
			ret = flush_line(&logical, first, fn, ctx, err);
			first = lineno;
			strbuf_append(&logical, p, n);
		}
		p = nl ? nl + 1 : end;
	}
	if (ret == 0)
		ret = flush_line(&logical, first, fn, ctx, err);
	strbuf_free(&logical);
	return ret;
}

int
table_split_entry(char *line, char **key, char **value)
{
	char *p = line;

	while (*p != '\0' && !is_blank(*p))
		p++;
	*key = line;
	if (*p != '\0')
		*p++ = '\0';
	while (is_blank(*p))
		p++;
	*value = p;
	return **key == '\0' || **value == '\0' ? -1 : 0;
}

struct entries_ctx {
	const char *label;
	int flags;
	table_put_fn put;
	void *put_ctx;
};

static int
entry_line(void *ctx, char *line, int lineno, char **err)
{
	struct entries_ctx *ec = ctx;
	char *key, *value;
	int ret;

	if (table_split_entry(line, &key, &value) < 0) {
		*err = xasprintf("%s:%d: expected format: key whitespace value",
		    ec->label, lineno);
		return -1;
	}
	if (key[strlen(key) - 1] == ':')
		msg_warn("%s:%d: record is in \"key: value\" format; is this "
		    "an alias file?", ec->label, lineno);
	if (!(ec->flags & TABLE_NO_FOLD))
		str_lower(key);
	ret = ec->put(ec->put_ctx, key, value, err);
	if (ret < 0) {
		char *inner = *err;

		*err = xasprintf("%s:%d: %s", ec->label, lineno,
		    inner ? inner : "cannot store entry");
		free(inner);
		return -1;
	}
	if (ret > 0)
		msg_warn("%s:%d: duplicate entry: \"%s\"", ec->label, lineno,
		    key);
	return 0;
}

int
table_text_entries(const char *label, const char *text, size_t len,
    int flags, table_put_fn put, void *ctx, char **err)
{
	struct entries_ctx ec = { label, flags, put, ctx };

	return table_text_lines(label, text, len, entry_line, &ec, err);
}

size_t
table_brace_end(const char *s)
{
	size_t depth = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && --depth == 0)
			return i;
	}
	return 0;
}

char *
table_next_element(const char **cursor, const char *separators,
    int strip_braces, int *braced, char **err)
{
	const char *p = *cursor, *start;
	size_t n;

	*braced = 0;
	p += strspn(p, separators);
	if (*p == '\0') {
		*cursor = p;
		return NULL;
	}
	if (*p == '{' && strip_braces) {
		if ((n = table_brace_end(p)) == 0) {
			*err = xasprintf("missing '}' in \"%s\"", p);
			return NULL;
		}
		const char *end = p + n;

		*cursor = end + 1;
		*braced = 1;
		start = p + 1;
		while (start < end && is_blank(*start))
			start++;
		while (end > start && is_blank(end[-1]))
			end--;
		return xstrndup(start, (size_t)(end - start));
	}
	start = p;
	while (*p != '\0' && strchr(separators, *p) == NULL) {
		if (*p == '{') {
			if ((n = table_brace_end(p)) == 0) {
				*err = xasprintf("missing '}' in \"%s\"", start);
				return NULL;
			}
			p += n;
		} else if (*p == '}') {
			*err = xasprintf("unexpected '}' in \"%s\"", start);
			return NULL;
		}
		p++;
	}
	*cursor = p;
	return xstrndup(start, (size_t)(p - start));
}
