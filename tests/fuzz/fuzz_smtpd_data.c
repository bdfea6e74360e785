/* Fuzz harness: the DATA reader. The first input byte chooses the bare-LF
 * mode (bit 0) and seeds the split points; the rest is what the client
 * sends after DATA. The content is fed all at once, one byte at a time,
 * and in pseudo-random pieces: all three must agree exactly. A simple
 * line-by-line model of RFC 5321 4.1.1.4 and 4.5.2 checks the result. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/smtpd_parse.h"
#include "tlsrelay/util.h"
#include "fuzz.h"

struct outcome {
	enum data_result result;
	size_t consumed;
	int bare_lf_seen;
	unsigned long long bytes_out;
	struct strbuf out;
};

/* Feeds in pieces; next_piece(state) gives each piece's length (>= 1).
 * The output buffer is emptied between pieces now and then, as a session
 * writing to the spool does, so bytes_out must keep the total. */
static void
run(const uint8_t *in, size_t len, enum bare_lf_mode mode,
    size_t (*next_piece)(unsigned *), unsigned seed, struct outcome *o)
{
	struct smtpd_data_reader reader;
	struct strbuf piece_out;
	size_t pos = 0;

	smtpd_data_init(&reader, mode);
	strbuf_init(&o->out);
	strbuf_init(&piece_out);
	o->result = DATA_MORE;
	while (pos < len) {
		size_t n = next_piece(&seed), used = (size_t)-1;
		size_t before = piece_out.len;

		if (n > len - pos)
			n = len - pos;
		o->result = smtpd_data_feed(&reader, (const char *)in + pos, n,
		    &piece_out, &used);
		CHECK(used <= n);
		CHECK(o->result == DATA_MORE || o->result == DATA_DONE
		    || o->result == DATA_BARE_LF);
		CHECK(o->result != DATA_MORE || used == n);
		CHECK(o->result != DATA_BARE_LF || mode == BARE_LF_REJECT);
		pos += used;
		CHECK(piece_out.len >= before);
		if (piece_out.len > before)
			strbuf_append(&o->out, piece_out.data + before,
			    piece_out.len - before);
		if (seed & 1)
			strbuf_reset(&piece_out);
		if (o->result != DATA_MORE)
			break;
	}
	o->consumed = pos;
	o->bare_lf_seen = reader.bare_lf_seen;
	o->bytes_out = reader.bytes_out;
	/* Once finished, the reader takes nothing more. */
	if (o->result != DATA_MORE) {
		size_t used = 1;

		CHECK(smtpd_data_feed(&reader, "x\r\n", 3, &piece_out, &used)
		    == o->result);
		CHECK(used == 0);
	}
	strbuf_free(&piece_out);
}

static size_t
piece_all(unsigned *seed)
{
	(void)seed;
	return (size_t)-1;
}

static size_t
piece_one(unsigned *seed)
{
	(void)seed;
	return 1;
}

static size_t
piece_random(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % 7;
}

/* The model: whole lines, ended by LF, "CR LF" when the byte before it is
 * CR. Returns the result and fills want with the content of all complete
 * lines before the end (or before the bad line). */
static enum data_result
model(const uint8_t *in, size_t len, enum bare_lf_mode mode,
    struct strbuf *want, size_t *consumed, int *bare_lf)
{
	size_t pos = 0;
	int after_crlf = 1;

	*bare_lf = 0;
	for (;;) {
		const uint8_t *nl = memchr(in + pos, '\n', len - pos);
		size_t end, body;
		int crlf;

		if (nl == NULL) {
			*consumed = len;
			return DATA_MORE;
		}
		end = (size_t)(nl - in);
		crlf = end > pos && in[end - 1] == '\r';
		body = end - pos - (crlf ? 1 : 0);
		if (after_crlf && crlf && body == 1 && in[pos] == '.') {
			*consumed = end + 1;
			return DATA_DONE;
		}
		if (!crlf) {
			*bare_lf = 1;
			if (mode == BARE_LF_REJECT) {
				*consumed = end + 1;
				return DATA_BARE_LF;
			}
		}
		/* RFC 5321 4.5.2: drop a leading dot if more follows. */
		if (body > 1 && in[pos] == '.')
			strbuf_append(want, (const char *)in + pos + 1, body - 1);
		else
			strbuf_append(want, (const char *)in + pos, body);
		strbuf_append(want, "\r\n", 2);
		after_crlf = crlf;
		pos = end + 1;
	}
}

static void
same(const struct outcome *a, const struct outcome *b)
{
	CHECK(a->result == b->result);
	CHECK(a->consumed == b->consumed);
	CHECK(a->bare_lf_seen == b->bare_lf_seen);
	CHECK(a->bytes_out == b->bytes_out);
	CHECK(a->out.len == b->out.len);
	CHECK(a->out.len == 0 || memcmp(a->out.data, b->out.data,
	    a->out.len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, bytes, pieces;
	enum bare_lf_mode mode;
	struct strbuf want;
	size_t consumed, i;
	int bare_lf;
	enum data_result expect;

	if (size < 1)
		return 0;
	mode = data[0] & 1 ? BARE_LF_REJECT : BARE_LF_NORMALIZE;
	data++;
	size--;

	run(data, size, mode, piece_all, 0, &whole);
	run(data, size, mode, piece_one, 0, &bytes);
	run(data, size, mode, piece_random, data[-1], &pieces);
	same(&whole, &bytes);
	same(&whole, &pieces);

	CHECK(whole.bytes_out == whole.out.len);
	/* Every LF in the content ends a CR LF pair. */
	for (i = 0; i < whole.out.len; i++)
		CHECK(whole.out.data[i] != '\n'
		    || (i > 0 && whole.out.data[i - 1] == '\r'));

	strbuf_init(&want);
	expect = model(data, size, mode, &want, &consumed, &bare_lf);
	CHECK(whole.result == expect);
	/* Content of complete lines is out; only an unfinished line may add
	 * more (less its held-back "." or CR). */
	CHECK(whole.out.len >= want.len);
	CHECK(want.len == 0 || memcmp(whole.out.data, want.data,
	    want.len) == 0);
	if (expect != DATA_MORE)
		CHECK(whole.consumed == consumed);
	if (expect == DATA_DONE)
		CHECK(whole.out.len == want.len);
	CHECK(whole.bare_lf_seen == bare_lf);

	strbuf_free(&want);
	strbuf_free(&whole.out);
	strbuf_free(&bytes.out);
	strbuf_free(&pieces.out);
	return 0;
}
