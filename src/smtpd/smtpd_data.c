/* smtpd_data: the DATA content reader. A byte-at-a-time state machine, so
 * that the way the input is split into reads never changes the result:
 * the only held-back bytes are a line-initial "." and a CR, and the state
 * alone says which. The end of data is CR LF "." CR LF and nothing else
 * (RFC 5321 4.1.1.4; see "SMTP smuggling" for why that matters). */
#include "config.h"

#include <string.h>

#include "tlsrelay/smtpd_parse.h"
#include "tlsrelay/util.h"

enum data_state {
	/* At the start of a line that follows CR LF (or of the content). */
	ST_BOL,
	/* At the start of a line that follows a bare LF: a "." here never
	 * ends the content. */
	ST_BOL_LF,
	/* Held back: "." at the start of a line (after CR LF / bare LF). */
	ST_DOT,
	ST_DOT_LF,
	/* Held back: "." CR at the start of a line. */
	ST_DOT_CR,
	ST_DOT_LF_CR,
	/* Inside a line. */
	ST_TEXT,
	/* Held back: a CR inside a line. */
	ST_CR,
	/* Finished: the end of data was seen, or a bare LF in reject mode. */
	ST_DONE,
	ST_BARE_LF,
};

void
smtpd_data_init(struct smtpd_data_reader *reader, enum bare_lf_mode mode)
{
	reader->mode = mode;
	reader->state = ST_BOL;
	reader->bare_lf_seen = 0;
	reader->bytes_out = 0;
}

static void
emit(struct smtpd_data_reader *reader, struct strbuf *out, const char *s,
    size_t len)
{
	strbuf_append(out, s, len);
	reader->bytes_out += len;
}

/* A line ended by a bare LF: in NORMALIZE mode it is stored with CR LF
 * (after the held-back text, if any); returns 0 in REJECT mode. */
static int
bare_lf(struct smtpd_data_reader *reader, struct strbuf *out,
    const char *held)
{
	reader->bare_lf_seen = 1;
	if (reader->mode == BARE_LF_REJECT) {
		reader->state = ST_BARE_LF;
		return 0;
	}
	emit(reader, out, held, strlen(held));
	emit(reader, out, "\r\n", 2);
	reader->state = ST_BOL_LF;
	return 1;
}

/* The end of the stretch from i on that the states would copy as it is,
 * to be copied in one go: ordinary bytes, a CR that is not last (a bare
 * CR is content), and CR LF followed by a line that does not start with
 * "." (ST_CR and ST_BOL would pass it through back to ST_TEXT). It stops
 * before a bare LF, before a CR LF whose next line starts with "." or is
 * not here yet, and before a CR that ends the input. */
static size_t
text_run(const char *in, size_t i, size_t len)
{
	size_t from = i;

	for (;;) {
		const char *nl = memchr(in + from, '\n', len - from);
		size_t at;

		if (nl == NULL)
			return in[len - 1] == '\r' ? len - 1 : len;
		at = (size_t)(nl - in);
		if (at == i || in[at - 1] != '\r')
			return at;			/* a bare LF */
		if (at + 1 == len || in[at + 1] == '.')
			return at - 1;
		from = at + 1;
	}
}

enum data_result
smtpd_data_feed(struct smtpd_data_reader *reader, const char *in, size_t len,
    struct strbuf *out, size_t *consumed)
{
	size_t i = 0;

	*consumed = 0;
	if (reader->state == ST_DONE)
		return DATA_DONE;
	if (reader->state == ST_BARE_LF)
		return DATA_BARE_LF;

	while (i < len) {
		char c = in[i];

		switch (reader->state) {
		case ST_BOL:
		case ST_BOL_LF:
			if (c == '.') {
				reader->state = reader->state == ST_BOL ?
				    ST_DOT : ST_DOT_LF;
				i++;
			} else {
				reader->state = ST_TEXT;
			}
			continue;

		case ST_DOT:
		case ST_DOT_LF:
			if (c == '\r') {
				reader->state = reader->state == ST_DOT ?
				    ST_DOT_CR : ST_DOT_LF_CR;
				i++;
			} else if (c == '\n') {
				/* "." ended by a bare LF is never the end. */
				i++;
				if (!bare_lf(reader, out, "."))
					goto bare_lf_reject;
			} else {
				/* Dot-stuffed line: drop the first dot; the
				 * character after it is ordinary text. */
				reader->state = ST_TEXT;
				if (c == '.') {
					emit(reader, out, ".", 1);
					i++;
				}
			}
			continue;

		case ST_DOT_CR:
		case ST_DOT_LF_CR:
			if (c == '\n') {
				i++;
				if (reader->state == ST_DOT_CR) {
					reader->state = ST_DONE;
					*consumed = i;
					return DATA_DONE;
				}
				/* "." CR LF after a bare LF: a line ".". */
				emit(reader, out, ".\r\n", 3);
				reader->state = ST_BOL;
			} else {
				/* ".\rX": a stuffed line whose text starts with
				 * a bare CR; reprocess c after that CR. */
				reader->state = ST_CR;
			}
			continue;

		case ST_TEXT: {
			size_t run = text_run(in, i, len);

			if (run > i) {
				emit(reader, out, in + i, run - i);
				i = run;
				continue;
			}
			i++;
			if (c == '\r') {
				reader->state = ST_CR;
			} else if (!bare_lf(reader, out, "")) {
				goto bare_lf_reject;
			}
			continue;
		}

		case ST_CR:
			if (c == '\n') {
				emit(reader, out, "\r\n", 2);
				reader->state = ST_BOL;
				i++;
			} else {
				/* A bare CR is content. */
				emit(reader, out, "\r", 1);
				reader->state = ST_TEXT;
				if (c == '\r') {
					reader->state = ST_CR;
					i++;
				}
			}
			continue;

		default:
			/* ST_DONE and ST_BARE_LF return before the loop. */
			break;
		}
		break;
	}
	*consumed = i;
	return DATA_MORE;

bare_lf_reject:
	*consumed = i;
	return DATA_BARE_LF;
}
