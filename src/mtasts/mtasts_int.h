/* mtasts_int.h: what the files of src/mtasts share and nothing else
 * sees. */
#ifndef TLSRELAY_MTASTS_INT_H
#define TLSRELAY_MTASTS_INT_H

#include <stddef.h>
#include <time.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/mtasts.h"

/* An extension's name, the same grammar in the TXT record (sts-ext-name)
 * and the policy (sts-policy-ext-name): (ALPHA / DIGIT) *31(ALPHA /
 * DIGIT / "_" / "-" / "."). */
int mtasts_ext_name_valid(const char *s, size_t len);

/* mtasts_memo.c: what a process remembers of a domain between lookups
 * (in memory: a restart forgets it). */
/* Seconds a TXT answer is kept whatever its TTL says: as a denial of
 * TLSA records (dns.h). */
#define MTASTS_MEMO_TTL_MIN	DNS_NEGATIVE_TTL_MIN
#define MTASTS_MEMO_TTL_MAX	DNS_NEGATIVE_TTL_MAX
#define MTASTS_FETCH_RETRY	300	/* a fetch that gave nothing to
					 * cache is not repeated sooner */
#define MTASTS_MEMO_MAX		1024	/* domains */

struct mtasts_memo;
/* The _mta-sts TXT answer. */
struct mtasts_memo_txt {
	char id[MTASTS_ID_MAX + 1];	/* "": no usable record */
	char *why;		/* why not usable; NULL: no record at all */
};

struct mtasts_memo *mtasts_memo_new(void);
void mtasts_memo_free(struct mtasts_memo *m);
/* The TXT answer of domain while it is remembered, else NULL; valid
 * until the next call. */
const struct mtasts_memo_txt *mtasts_memo_txt_get(struct mtasts_memo *m,
    const char *domain, time_t now);
/* Remembers a TXT answer (id NULL or "": no usable record, for why) for
 * ttl seconds, bounded to MTASTS_MEMO_TTL_MIN .. MTASTS_MEMO_TTL_MAX. */
void mtasts_memo_txt_put(struct mtasts_memo *m, const char *domain,
    const char *id, const char *why, unsigned int ttl, time_t now);
/* A fetch under id gave no policy to cache: 1 while it is not to be
 * repeated. */
int mtasts_memo_fetch_blocked(struct mtasts_memo *m, const char *domain,
    const char *id, time_t now);
void mtasts_memo_fetch_failed(struct mtasts_memo *m, const char *domain,
    const char *id, time_t now);

#endif
