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

/* ---- fetching a policy (mtasts_fetch.c) -------------------------------- */

struct dns;
struct ssl_ctx_st;
struct mtasts_fetch;

/* The whole fetch, DNS included, gives up after this many seconds. */
#define MTASTS_FETCH_TIMEOUT	10

/* The TLS client context for policy fetches: TLS 1.2 or newer, the peer
 * verified against cafile, or the system store when cafile is empty.
 * NULL with *err set (caller frees). */
struct ssl_ctx_st *mtasts_fetch_ctx(const char *cafile, char **err);

/* body: the policy as served (len bytes), or NULL with why saying what
 * failed (a DNS error, the certificate, an HTTP status, a redirect, the
 * Content-Type, the size, the deadline). */
typedef void (*mtasts_fetch_cb)(void *arg, const char *body, size_t len,
    const char *why);

/* GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt on port (443 but
 * for tests), mta-sts.DOMAIN resolved through dns. The callback runs
 * exactly once, from the event loop, unless the fetch is cancelled. */
struct mtasts_fetch *mtasts_fetch_start(struct dns *dns,
    struct ssl_ctx_st *ctx, const char *domain, unsigned short port,
    int timeout, mtasts_fetch_cb cb, void *arg);
void mtasts_fetch_cancel(struct mtasts_fetch *f);

/* ---- the policy cache (mtasts_cache.c) --------------------------------- */

struct scache;

/* The database in data_directory (".db" appended), in the environment
 * of the TLS session caches. */
#define MTASTS_CACHE_NAME	"mta_sts_policy"

struct mtasts_cached {
	char id[MTASTS_ID_MAX + 1];	/* of the TXT record it came with */
	time_t fetched;
	struct mtasts_policy *policy;	/* caller frees */
};

/* 1 with *out when domain has a policy fetched less than its max_age
 * ago; 0 when not (an unreadable record is removed); -1 when the store
 * cannot be used now (logged). */
int mtasts_cache_get(struct scache *sc, const char *domain, time_t now,
    struct mtasts_cached *out);
/* Stores the policy body as served (already known to parse), valid
 * max_age seconds from fetched. 0, or -1 (logged). */
int mtasts_cache_put(struct scache *sc, const char *domain, const char *id,
    time_t fetched, const char *body, size_t len, long max_age);
int mtasts_cache_delete(struct scache *sc, const char *domain);

/* ---- the lookup (mtasts.c) --------------------------------------------- */

struct mtasts;
struct mtasts_lookup;

/* The policy resolver of one process: TXT lookups through dns, fetches
 * on port with the trust anchors of cafile ("" = the system store), the
 * cache in data_directory. NULL with *err set (caller frees). */
struct mtasts *mtasts_new(struct dns *dns, const char *data_directory,
    const char *cafile, unsigned short port, char **err);
/* Every lookup must have completed or been cancelled; refreshes under
 * way are cancelled. */
void mtasts_free(struct mtasts *mt);

/* policy: the domain's policy in mode enforce or testing, valid only
 * during the call, with the id it was fetched under; NULL when the
 * domain has none (no TXT record and nothing cached, mode none, a failed
 * first fetch). */
typedef void (*mtasts_lookup_cb)(void *arg,
    const struct mtasts_policy *policy, const char *id);

/* RFC 8461 5.1: the TXT record first (remembered a while: see
 * mtasts_memo.c); a cached policy with the same id is used as it is,
 * and fetched again in the background when it is older than half its
 * max_age; a new id, or no cached policy, means a fetch; a failed fetch
 * or TXT lookup keeps the cached policy until its max_age runs out;
 * mode none removes it. The callback runs exactly once unless
 * the lookup is cancelled; it may run before this returns, and then the
 * return value is NULL. */
struct mtasts_lookup *mtasts_lookup(struct mtasts *mt, const char *domain,
    mtasts_lookup_cb cb, void *arg);
void mtasts_lookup_cancel(struct mtasts_lookup *lk);

#endif
