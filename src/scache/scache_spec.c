/* scache_spec: what a cache parameter names: "btree:/path/smtpd_scache". */
#include "config.h"

#include <string.h>

#include "tlsrelay/scache.h"
#include "tlsrelay/util.h"

int
scache_parse_spec(const char *spec, enum scache_type *type, char **path,
    char **warning, char **err)
{
	const char *colon, *name;
	size_t skip;

	*type = SCACHE_NONE;
	*path = NULL;
	*warning = NULL;
	*err = NULL;
	if (spec == NULL)
		return 0;
	skip = strspn(spec, LIST_SEPARATORS);
	if (spec[skip] == '\0')
		return 0;
	spec += skip;
	if ((colon = strchr(spec, ':')) == NULL) {
		*err = xasprintf("\"%s\": expected type:name, e.g. "
		    "btree:${data_directory}/smtpd_scache", spec);
		return -1;
	}
	name = colon + 1;
	if (name[0] != '/') {
		*err = xasprintf("\"%s\": the cache file needs an absolute "
		    "path", spec);
		return -1;
	}
	if (strncmp(spec, "btree:", 6) == 0)
		*type = SCACHE_BTREE;
	else if (strncmp(spec, "hash:", 5) == 0)
		*type = SCACHE_HASH;
	else {
		/* lmdb: (Postfix 3.11's advice), sdbm:, ...: the cache still
		 * works, in the one store we have. */
		*type = SCACHE_BTREE;
		*warning = xasprintf("\"%s\": cache type \"%.*s\" is not "
		    "supported; using btree:%s", spec, (int)(colon - spec),
		    spec, name);
	}
	*path = xstrdup(name);
	/* Trailing blanks are not part of a file name. */
	(*path)[strcspn(*path, LIST_SEPARATORS)] = '\0';
	return 0;
}
