/* conf_lex: physical lines to logical lines, the way Postfix reads main.cf
 * and master.cf. A line whose first non-blank character is '#' and a blank
 * line are skipped (they do not end a logical line); a line that starts
 * with white space continues the previous logical line and is appended as
 * it is, leading white space included, as Postfix does. Text in white space
 * before the first logical line is dropped with a warning (Postfix too). */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

static int
is_blank_or_comment(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p == end || *p == '#';
}

static void
add_piece(struct conf_lline *ll, struct strbuf *sb, const char *p,
    size_t len, int line)
{
	ll->piece_off = xrealloc(ll->piece_off,
	    (ll->n_pieces + 1) * sizeof(*ll->piece_off));
	ll->piece_line = xrealloc(ll->piece_line,
	    (ll->n_pieces + 1) * sizeof(*ll->piece_line));
	ll->piece_off[ll->n_pieces] = sb->len;
	ll->piece_line[ll->n_pieces] = line;
	ll->n_pieces++;
	strbuf_append(sb, p, len);
}

struct conf_lline *
conf_lex(const char *text, const char *file, size_t *count)
{
	struct conf_lline *lines = NULL, *cur = NULL;
	struct strbuf sb;
	size_t n = 0, cap = 0;
	const char *p = text ? text : "";
	int lineno = 0, skipping = 0;

	strbuf_init(&sb);
	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *end = eol ? eol : p + strlen(p);
		size_t len;

		lineno++;
		len = (size_t)(end - p);
		/* Tolerate files edited on Windows. */
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (is_blank_or_comment(p, p + len)) {
			/* skipped; does not end the logical line */
		} else if (isspace((unsigned char)*p) && cur == NULL) {
			/* Nothing to continue: Postfix drops it too. */
			if (!skipping)
				msg_warn("%s:%d: logical line must not start "
				    "with white space: \"%.*s\"", file, lineno,
				    (int)(len > 60 ? 60 : len), p);
			skipping = 1;
		} else {
			skipping = 0;
			if (!isspace((unsigned char)*p)) {
				if (cur)
					cur->text = strbuf_steal(&sb);
				if (n == cap) {
					cap = cap ? cap * 2 : 16;
					lines = xrealloc(lines,
					    cap * sizeof(*lines));
				}
				cur = &lines[n++];
				memset(cur, 0, sizeof(*cur));
				cur->line = lineno;
			}
			add_piece(cur, &sb, p, len, lineno);
		}
		p = eol ? eol + 1 : end;
	}
	if (cur)
		cur->text = strbuf_steal(&sb);
	strbuf_free(&sb);
	*count = n;
	return lines;
}

void
conf_lex_free(struct conf_lline *lines, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(lines[i].text);
		free(lines[i].piece_off);
		free(lines[i].piece_line);
	}
	free(lines);
}

int
conf_lline_line_at(const struct conf_lline *ll, size_t offset)
{
	int line = ll->line;

	for (size_t i = 0; i < ll->n_pieces; i++)
		if (ll->piece_off[i] <= offset)
			line = ll->piece_line[i];
	return line;
}
