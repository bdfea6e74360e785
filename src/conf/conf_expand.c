/* conf_expand: Postfix's $name syntax.
 *
 *	$name ${name} $(name)		the value of name ("" if undefined)
 *	${name?text} ${name?{text}}	text if $name is non-empty
 *	${name:text} ${name:{text}}	text if $name is empty
 *	${name?{text1}:{text2}}		text1 if non-empty, else text2
 *	$$				a literal $
 *
 * The chosen text is expanded in turn; the other is not looked at, so a
 * reference inside it can neither fail nor loop. One walker serves both
 * expansion and the reference scan (which visits every branch). */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/util.h"

#include "conf_int.h"

struct walker {
	conf_lookup_fn lookup;	/* NULL when scanning */
	void *arg;
	struct strbuf *out;
	void (*ref)(void *arg, const char *name, size_t len);
	void *ref_arg;
	char *err;
};

static int
is_name_char(int c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int
walk_fail(struct walker *w, const char *msg, const char *text,
    const char *end)
{
	if (w->err == NULL) {
		int len = (int)(end - text);

		w->err = xasprintf("%s: \"%.*s\"", msg, len > 80 ? 80 : len,
		    text);
	}
	return -1;
}

/* Finds the brace or parenthesis that closes the one just before p. */
static const char *
find_close(const char *p, const char *end, char open, char close)
{
	int depth = 1;

	for (; p < end; p++) {
		if (*p == open)
			depth++;
		else if (*p == close && --depth == 0)
			return p;
	}
	return NULL;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

static int walk(struct walker *, const char *, const char *, int);

/* Looks name up and appends its value; in scan mode reports it. Sets
 * *nonempty for the conditional forms. */
static int
use_name(struct walker *w, const char *name, size_t len, int append,
    int *nonempty)
{
	const char *value = NULL;
	char *key;

	*nonempty = 0;
	if (w->lookup == NULL) {
		w->ref(w->ref_arg, name, len);
		return 0;
	}
	key = xstrndup(name, len);
	if (w->lookup(w->arg, key, &value, &w->err) < 0) {
		free(key);
		return -1;
	}
	free(key);
	if (value && *value)
		*nonempty = 1;
	if (append && value) {
		strbuf_puts(w->out, value);
		if (w->out->len > CONF_MAX_VALUE) {
			if (w->err == NULL)
				w->err = xstrdup("value too long after "
				    "expansion");
			return -1;
		}
	}
	return 0;
}

/* One ${...} or $(...) reference: ref is its '$', inner..end what is
 * between the brackets. */
static int
walk_braced(struct walker *w, const char *ref, const char *inner,
    const char *end, int depth)
{
	const char *p = inner;
	const char *text1 = NULL, *text1_end = NULL;
	const char *text2 = NULL, *text2_end = NULL;
	size_t name_len;
	char op = 0;
	int nonempty;

	while (p < end && is_name_char(*p))
		p++;
	name_len = (size_t)(p - inner);
	if (name_len == 0)
		return walk_fail(w, "empty macro name", ref, end + 1);
	if (p == end)
		return use_name(w, inner, name_len, 1, &nonempty);

	/* Postfix allows "${name ? {text1} : {text2}}". */
	p = skip_space(p, end);
	if (p == end)
		return walk_fail(w, "bad character after macro name", ref,
		    end + 1);
	op = *p++;
	if (op != '?' && op != ':')
		return walk_fail(w, "bad character after macro name", ref,
		    end + 1);
	/* Classic form: the rest, as written, white space included. */
	text1 = p;
	text1_end = end;
	p = skip_space(p, end);
	if (p < end && *p == '{') {
		/* Postfix 3 form: ${name?{text1}:{text2}} */
		text1 = p + 1;
		text1_end = find_close(text1, end, '{', '}');
		if (text1_end == NULL)
			return walk_fail(w, "missing '}'", ref, end + 1);
		p = skip_space(text1_end + 1, end);
		if (p < end && *p == ':' && op == '?') {
			p = skip_space(p + 1, end);
			if (p == end || *p != '{')
				return walk_fail(w, "expected '{' after ':'",
				    ref, end + 1);
			text2 = p + 1;
			text2_end = find_close(text2, end, '{', '}');
			if (text2_end == NULL)
				return walk_fail(w, "missing '}'", ref,
				    end + 1);
			p = skip_space(text2_end + 1, end);
		}
		if (p != end)
			return walk_fail(w, "unexpected text after '}'", ref,
			    end + 1);
	}

	if (use_name(w, inner, name_len, 0, &nonempty) < 0)
		return -1;
	if (w->lookup == NULL) {
		if (walk(w, text1, text1_end, depth + 1) < 0)
			return -1;
		if (text2 && walk(w, text2, text2_end, depth + 1) < 0)
			return -1;
		return 0;
	}
	if (op == '?' && nonempty)
		return walk(w, text1, text1_end, depth + 1);
	if (op == '?' && text2)
		return walk(w, text2, text2_end, depth + 1);
	if (op == ':' && !nonempty)
		return walk(w, text1, text1_end, depth + 1);
	return 0;
}

static int
walk(struct walker *w, const char *p, const char *end, int depth)
{
	if (depth > CONF_MAX_NESTING)
		return walk_fail(w, "macro references nested too deeply", p,
		    end);
	while (p < end) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));
		const char *ref;

		if (dollar == NULL)
			dollar = end;
		if (w->out)
			strbuf_append(w->out, p, (size_t)(dollar - p));
		if (w->out && w->out->len > CONF_MAX_VALUE) {
			if (w->err == NULL)
				w->err = xstrdup("value too long after "
				    "expansion");
			return -1;
		}
		if (dollar == end)
			break;
		ref = dollar;
		p = dollar + 1;
		if (p < end && *p == '$') {
			if (w->out)
				strbuf_append(w->out, "$", 1);
			p++;
		} else if (p < end && (*p == '{' || *p == '(')) {
			char open = *p, close = open == '{' ? '}' : ')';
			const char *inner = p + 1;
			const char *stop = find_close(inner, end, open, close);

			if (stop == NULL)
				return walk_fail(w, "truncated macro "
				    "reference", ref, end);
			if (walk_braced(w, ref, inner, stop, depth) < 0)
				return -1;
			p = stop + 1;
		} else if (p < end && is_name_char(*p)) {
			const char *name = p;
			int nonempty;

			while (p < end && is_name_char(*p))
				p++;
			if (use_name(w, name, (size_t)(p - name), 1,
			    &nonempty) < 0)
				return -1;
		} else {
			return walk_fail(w, "empty macro name", ref,
			    p < end ? p + 1 : end);
		}
	}
	return 0;
}

int
conf_expand_text(const char *text, conf_lookup_fn lookup, void *arg,
    struct strbuf *out, char **err)
{
	struct walker w = { .lookup = lookup, .arg = arg, .out = out };

	if (walk(&w, text, text + strlen(text), 0) < 0) {
		*err = w.err ? w.err : xstrdup("macro expansion failed");
		return -1;
	}
	return 0;
}

static void
ignore_ref(void *arg, const char *name, size_t len)
{
	(void)arg;
	(void)name;
	(void)len;
}

void
conf_scan_refs(const char *text,
    void (*fn)(void *arg, const char *name, size_t len), void *arg)
{
	struct walker w = { .ref = fn ? fn : ignore_ref, .ref_arg = arg };

	(void)walk(&w, text, text + strlen(text), 0);
	free(w.err);
}
