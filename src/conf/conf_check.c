/* conf_check: a value against its declaration's bounds (integers, sizes,
 * times) or allowed words (enumerations). conf_load applies it to every
 * parameter, so `tlsrelay conf` and the daemon refuse the same values; a
 * subsystem may ask again with conf_check_param where it uses one. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

/* " (100 days)" for a whole number of days, else nothing. */
static char *
time_hint(const struct conf_param_def *def, long long seconds)
{
	if (def->type != CONF_TIME || seconds == 0 || seconds % 86400 != 0)
		return xstrdup(def->type == CONF_TIME ? " seconds" : "");
	return xasprintf(" seconds (%lld day%s)", seconds / 86400,
	    seconds == 86400 ? "" : "s");
}

static int
check_bounds(const struct conf_param_def *def, const char *where,
    long long number, char **err)
{
	long long bound;
	const char *rel;
	char *hint;

	if (number < def->min) {
		bound = def->min;
		rel = "at least";
	} else if (number > def->max) {
		bound = def->max;
		rel = "at most";
	} else
		return 0;
	hint = time_hint(def, bound);
	*err = xasprintf("%s: %s: %s %lld%s", where, def->name, rel, bound,
	    hint);
	free(hint);
	return -1;
}

/* "a, b or c" from "a b c". */
static char *
word_choice(const char *allowed)
{
	char **words = strlist_split(allowed, " ", NULL);
	struct strbuf sb;
	size_t n = 0;

	while (words[n])
		n++;
	strbuf_init(&sb);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(&sb, "%s%s", i == 0 ? "" : i + 1 == n ? " or " :
		    ", ", words[i]);
	strlist_free(words);
	return strbuf_steal(&sb);
}

static int
check_word(const struct conf_param_def *def, const char *where,
    const char *value, char **err)
{
	char *copy = xstrdup(value ? value : ""), *word = str_trim(copy);
	char **words;
	int found = 0;

	if (*word == '\0' && def->defval && *def->defval == '\0') {
		free(copy);
		return 0;
	}
	words = strlist_split(def->allowed, " ", NULL);
	for (char **w = words; *w && !found; w++)
		found = strcasecmp(*w, word) == 0;
	strlist_free(words);
	if (!found) {
		char *choice = word_choice(def->allowed);

		*err = xasprintf("%s: %s: unknown %s \"%s\" (expected %s)",
		    where, def->name, def->noun, word, choice);
		free(choice);
	}
	free(copy);
	return found ? 0 : -1;
}

int
conf_check_value(const struct conf_param_def *def, const char *where,
    const char *value, long long number, char **err)
{
	switch (def->type) {
	case CONF_INT:
	case CONF_TIME:
	case CONF_SIZE:
		return check_bounds(def, where, number, err);
	case CONF_STR:
		return def->allowed ? check_word(def, where, value, err) : 0;
	case CONF_BOOL:
		return 0;
	}
	return 0;
}
