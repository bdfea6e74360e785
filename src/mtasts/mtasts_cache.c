/* The MTA-STS policy cache: one record per domain in a Berkeley DB file
 * under data_directory, in the environment the TLS session caches use
 * (src/scache), so a policy survives restarts and is shared by every
 * process. The record keeps the policy as it was served, after the id
 * it was fetched under ("ID\0BODY"); it is parsed again when read, so
 * there is one parser and no second format. The record expires max_age
 * after the fetch (RFC 8461 5.1). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/log.h"
#include "tlsrelay/mtasts.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/util.h"

int
mtasts_cache_get(struct scache *sc, const char *domain, time_t now,
    struct mtasts_cached *out)
{
	struct scache_entry e;
	const char *id, *body;
	size_t idlen;
	char *why = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = scache_get(sc, domain, now, &e)) != 1)
		return r;
	id = (const char *)e.data;
	body = memchr(id, '\0', e.len);
	idlen = body != NULL ? (size_t)(body - id) : 0;
	if (body != NULL && idlen >= 1 && idlen <= MTASTS_ID_MAX) {
		body++;
		out->policy = mtasts_policy_parse(body,
		    e.len - idlen - 1, &why);
	}
	if (out->policy == NULL) {
		msg_warn("%s: bad MTA-STS cache record for %s%s%s: removed",
		    scache_path(sc), domain, why != NULL ? ": " : "",
		    why != NULL ? why : "");
		free(why);
		free(e.data);
		(void)scache_delete(sc, domain);
		return 0;
	}
	memcpy(out->id, id, idlen);
	out->id[idlen] = '\0';
	out->fetched = e.created;
	free(e.data);
	return 1;
}

int
mtasts_cache_put(struct scache *sc, const char *domain, const char *id,
    time_t fetched, const char *body, size_t len, long max_age)
{
	size_t idlen = strlen(id);
	char *rec = xmalloc(idlen + 1 + len);
	int r;

	memcpy(rec, id, idlen + 1);
	memcpy(rec + idlen + 1, body, len);
	r = scache_put(sc, domain, fetched, fetched + max_age, rec,
	    idlen + 1 + len);
	free(rec);
	return r;
}

int
mtasts_cache_delete(struct scache *sc, const char *domain)
{
	return scache_delete(sc, domain);
}
