/* Fuzz harness: what a local user controls in local submission -- the
 * maildrop file the queue manager reads (maildrop_parse), header address
 * lists (addr_list_each) and the message the pickup rewrites
 * (local_message_build, local_message_recipients). The first byte picks
 * the parser. Checked: parsed envelopes hold only addresses a maildrop
 * file may carry and stay within their limits; extracted addresses are
 * non-empty with no line break; the rewritten message has CR LF line
 * ends only and no Bcc: header. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/maildrop.h"
#include "tlsrelay/util.h"
#include "fuzz.h"

static void
check_addr(void *arg, const char *addr)
{
	(void)arg;
	CHECK(*addr != '\0');
	CHECK(strpbrk(addr, "\r\n") == NULL);
}

static void
fuzz_parse(const char *in, size_t len)
{
	struct maildrop_envelope env;
	size_t offset;
	char *err = NULL;

	if (maildrop_parse(in, len, &env, &offset, &err) < 0) {
		CHECK(err != NULL);
		free(err);
		return;
	}
	CHECK(offset <= len);
	CHECK(env.n_rcpts <= MAILDROP_RCPT_MAX);
	for (size_t i = 0; i < env.n_rcpts; i++)
		CHECK(maildrop_address_problem(env.rcpts[i]) == NULL);
	CHECK(env.sender == NULL || *env.sender == '\0' ||
	    maildrop_address_problem(env.sender) == NULL);
	maildrop_envelope_free(&env);
}

static void
fuzz_message(const char *in, size_t len)
{
	struct local_message_info info = {
		.queue_id = "ABC", .myhostname = "relay.test",
		.myorigin = "origin.test", .sender = "u@origin.test",
		.full_name = "A \"B\" C", .uid = 1, .now = 0,
	};
	struct maildrop_envelope env;
	struct strbuf out;
	const char *end_of_header;

	memset(&env, 0, sizeof(env));
	local_message_recipients(in, len, "origin.test", &env);
	CHECK(env.n_rcpts <= MAILDROP_RCPT_MAX);
	for (size_t i = 0; i < env.n_rcpts; i++)
		check_addr(NULL, env.rcpts[i]);
	maildrop_envelope_free(&env);

	strbuf_init(&out);
	local_message_build(in, len, &info, &out);
	CHECK(out.len >= 2 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] == '\n')
			CHECK(i > 0 && out.data[i - 1] == '\r');
	/* The content may hold NUL bytes: no str* functions on it. */
	end_of_header = memmem(out.data, out.len, "\r\n\r\n", 4);
	CHECK(end_of_header != NULL);
	for (const char *p = out.data; p < end_of_header;) {
		const char *eol = memmem(p, (size_t)(end_of_header + 2 - p),
		    "\r\n", 2);

		CHECK(eol != NULL);
		CHECK((size_t)(end_of_header - p) < 4 ||
		    strncasecmp(p, "bcc:", 4) != 0);
		p = eol + 2;
	}
	strbuf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_parse(in, size - 1);
		break;
	case 1:
		addr_list_each(in, size - 1, check_addr, NULL);
		break;
	default:
		fuzz_message(in, size - 1);
	}
	return 0;
}
