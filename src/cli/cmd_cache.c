/* tlsrelay cache: what the TLS session caches hold, for each side.
 *
 *	tlsrelay cache [-c confdir] [-v]
 *
 * One line per store: the server's sessions
 * (smtpd_tls_session_cache_database), the client's
 * (smtp_tls_session_cache_database) and the session ticket keys, with
 * entry counts, expired entries not yet purged, size and ages. -v lists
 * each entry too. Read-only: it never creates a file. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/util.h"

#include "cli.h"

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay cache [-c confdir] [-v]\n");
	return 2;
}

/* "2d03h", "1h05m", "4m10s", "12s". */
static void
format_age(long long seconds, char *buf, size_t len)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds >= 86400)
		snprintf(buf, len, "%lldd%02lldh", seconds / 86400,
		    seconds % 86400 / 3600);
	else if (seconds >= 3600)
		snprintf(buf, len, "%lldh%02lldm", seconds / 3600,
		    seconds % 3600 / 60);
	else if (seconds >= 60)
		snprintf(buf, len, "%lldm%02llds", seconds / 60, seconds % 60);
	else
		snprintf(buf, len, "%llds", seconds);
}

struct listing {
	time_t now;
};

static int
list_fn(void *arg, const char *key, size_t key_len,
    const struct scache_entry *entry)
{
	const struct listing *l = arg;
	char age[32], left[32];

	(void)key_len;
	format_age((long long)(l->now - entry->created), age, sizeof(age));
	format_age((long long)(entry->expires - l->now), left, sizeof(left));
	printf("    %s  age %s, %s %s, %zu bytes\n", key, age,
	    entry->expires > l->now ? "expires in" : "EXPIRED",
	    entry->expires > l->now ? left : "", entry->len);
	return 0;
}

/* One store; returns 0, or 1 when it could not be read. */
static int
show(const char *label, const char *what, const char *home,
    enum scache_type type, const char *path, int verbose)
{
	struct scache *sc = scache_new(home, type, path, SCACHE_READONLY);
	struct scache_stats st;
	struct listing l = { time(NULL) };
	char oldest[32], newest[32];
	int rc = 0;

	if (access(scache_path(sc), F_OK) != 0) {
		printf("%-7s %s: no file yet\n", label, scache_path(sc));
	} else if (scache_stats(sc, l.now, &st) < 0) {
		printf("%-7s %s: cannot be read (see the warnings above)\n",
		    label, scache_path(sc));
		rc = 1;
	} else if (st.entries == 0) {
		printf("%-7s %s: 0 %s\n", label, scache_path(sc), what);
	} else {
		format_age((long long)(l.now - st.oldest), oldest,
		    sizeof(oldest));
		format_age((long long)(l.now - st.newest), newest,
		    sizeof(newest));
		printf("%-7s %s: %lu %s (%lu expired, not yet purged), "
		    "%llu bytes, oldest %s, newest %s\n", label,
		    scache_path(sc), st.entries, what, st.expired, st.bytes,
		    oldest, newest);
		if (verbose)
			(void)scache_walk(sc, list_fn, &l);
	}
	scache_free(sc);
	return rc;
}

static int
show_param(const struct conf *conf, const char *label, int param_id,
    int timeout_param_id, int verbose)
{
	const char *timeout_param = conf_param_name(timeout_param_id);
	const char *param = conf_param_name(param_id);
	enum scache_type type;
	char *path, *warning, *err;
	int rc;

	if (scache_parse_spec(conf_str(conf, param_id), &type, &path, &warning,
	    &err) < 0) {
		fprintf(stderr, "tlsrelay: warning: %s: %s\n", param, err);
		free(err);
		return 1;
	}
	free(warning);
	if (type == SCACHE_NONE) {
		printf("%-7s no cache (%s is empty)\n", label, param);
		return 0;
	}
	if (conf_time(conf, timeout_param_id) <= 0)
		printf("%-7s (off: %s is 0)\n", label, timeout_param);
	rc = show(label, "sessions", conf_str(conf, P_data_directory), type,
	    path, verbose);
	free(path);
	return rc;
}

int
cmd_cache(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR, *home;
	struct conf *conf;
	char *err = NULL, *keys;
	int ch, verbose = 0, rc = 0;

	while ((ch = getopt(argc, argv, "+c:v")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	if ((conf = conf_load(confdir, &err)) == NULL) {
		fprintf(stderr, "tlsrelay: fatal: %s\n", err);
		free(err);
		return 1;
	}
	home = conf_str(conf, P_data_directory);
	rc |= show_param(conf, "smtpd", P_smtpd_tls_session_cache_database,
	    P_smtpd_tls_session_cache_timeout, verbose);
	rc |= show_param(conf, "smtp", P_smtp_tls_session_cache_database,
	    P_smtp_tls_session_cache_timeout, verbose);
	keys = xasprintf("%s/%s", home, SCACHE_TICKET_KEYS);
	rc |= show("tickets", "keys", home, SCACHE_BTREE, keys, 0);
	free(keys);
	scache_shutdown();
	conf_free(conf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tlsrelay: fatal: write error on stdout\n");
		rc = 1;
	}
	return rc;
}
