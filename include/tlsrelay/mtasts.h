/* mtasts: SMTP MTA Strict Transport Security (RFC 8461).
 *
 * A domain announces a policy with a TXT record at _mta-sts.DOMAIN
 * ("v=STSv1; id=20260101;") and serves it over HTTPS at
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt. The policy names the
 * MX hosts allowed to receive the domain's mail and whether a sender
 * must insist on them (enforce) or only report (testing).
 *
 * Three parts: the parsers of the TXT record and of the policy, and the
 * MX pattern matcher (mtasts_policy.c, mtasts_txt.c: pure functions,
 * fuzzed); the HTTPS fetch (mtasts_fetch.c: libevent's HTTP client over
 * OpenSSL, names through c-ares); and the lookup that ties them to a
 * cache persisted in Berkeley DB under data_directory (mtasts_cache.c,
 * mtasts.c). */
#ifndef TLSRELAY_MTASTS_H
#define TLSRELAY_MTASTS_H

#include <stddef.h>
#include <time.h>

/* RFC 8461 3.2: max_age is at most about one year. */
#define MTASTS_MAX_AGE_MAX	31557600L
/* RFC 8461 3.3: senders may limit the policy body; 64 KiB is its figure. */
#define MTASTS_POLICY_SIZE_MAX	(64 * 1024)
/* RFC 8461 3.1: id is 1 to 32 letters and digits. */
#define MTASTS_ID_MAX		32

enum mtasts_mode {
	MTASTS_MODE_NONE,
	MTASTS_MODE_TESTING,
	MTASTS_MODE_ENFORCE,
};

struct mtasts_policy {
	enum mtasts_mode mode;
	long max_age;		/* seconds */
	char **mx;		/* lower case, "*.example.com" or a host */
	size_t n_mx;
};

/* Parses a policy body (RFC 8461 3.2). len bytes, not NUL-terminated;
 * CRLF or LF line ends. Returns NULL with *why set (caller frees) when
 * it is not a valid policy: anything malformed, a missing version,
 * mode or max_age, no mx outside mode none. Unknown keys are ignored;
 * a key other than mx given twice keeps its first value. */
struct mtasts_policy *mtasts_policy_parse(const char *text, size_t len,
    char **why);
void mtasts_policy_free(struct mtasts_policy *policy);
const char *mtasts_mode_name(enum mtasts_mode mode);

/* Parses the TXT answer of _mta-sts.DOMAIN (RFC 8461 3.1): records, one
 * string per record with its character strings joined. Records that do
 * not start with "v=STSv1" are ignored; exactly one must remain, and be
 * valid. Returns 1 with the policy id in id, or 0 (no policy) with *why
 * set (caller frees). */
int mtasts_txt_parse(char *const *records, size_t n,
    char id[MTASTS_ID_MAX + 1], char **why);

/* RFC 8461 4.1: host (an MX host name, any case, a trailing dot allowed)
 * against one pattern: equal, or "*.example.com" with exactly one label
 * in place of the star. */
int mtasts_mx_pattern_match(const char *pattern, const char *host);
/* host against every mx pattern of the policy. */
int mtasts_policy_mx_match(const struct mtasts_policy *policy,
    const char *host);

#endif
