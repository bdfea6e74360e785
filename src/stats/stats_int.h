/* Internal to src/stats: the shared region's layout, the families'
 * definitions and the HTTP request parser of the status process. */
#ifndef TLSRELAY_STATS_INT_H
#define TLSRELAY_STATS_INT_H

#include <stdatomic.h>
#include <stddef.h>

#include "tlsrelay/stats.h"

#define STATS_ROWS	32	/* label sets per family, "other" included */
#define STATS_KEY_MAX	128	/* label values joined by STATS_SEP */
#define STATS_SEP	'\x1f'
#define STATS_LABELS_MAX 3
#define STATS_CERTS	16
#define STATS_PATH_MAX	256

struct stats_family_def {
	const char *name;	/* after "tlsrelay_", before "_total" */
	int gauge;		/* else a counter */
	int n_labels;
	const char *labels[STATS_LABELS_MAX];
	const char *help;
};

/* Indexed by enum stat_family (stats_family.c). */
extern const struct stats_family_def stats_families[STAT_N_FAMILIES];

/* A row's state: empty, ready, or being written by the process of slot
 * s (ROW_CLAIMED + s), so that the supervisor can free a row whose
 * writer died in the middle of it. */
enum { ROW_EMPTY, ROW_READY, ROW_CLAIMED };

/* A label set of a family: claimed once, by compare-and-swap, by the
 * first process that needs it, and never freed. */
struct stats_row {
	atomic_int state;
	char key[STATS_KEY_MAX];	/* written before state is READY */
	atomic_llong retired;		/* the supervisor's; under seq */
};

/* One process's counts: written by that process alone, on cache lines
 * of its own. */
struct stats_slot {
	atomic_int kind;		/* enum stats_proc */
	atomic_llong count[STAT_N_FAMILIES][STATS_ROWS];
} __attribute__((aligned(64)));

struct stats_cert {
	char path[STATS_PATH_MAX];
	long long not_after;
};

struct stats_shared {
	/* A sequence lock for what the supervisor changes in several
	 * steps (retired totals with a slot's counts, the certificates):
	 * odd while it writes; a reader retries until it saw one even
	 * value before and after. */
	atomic_uint seq;
	atomic_int draining;
	long long reloaded;		/* under seq */
	int n_certs;			/* under seq */
	struct stats_cert certs[STATS_CERTS];
	struct stats_row rows[STAT_N_FAMILIES][STATS_ROWS];
	struct stats_slot slots[];
};

struct stats {
	struct stats_shared *shared;
	size_t map_len;
	int n_slots;
};

/* A consistent copy, for the renderer. */
struct stats_snapshot {
	int n_rows[STAT_N_FAMILIES];
	char keys[STAT_N_FAMILIES][STATS_ROWS][STATS_KEY_MAX];
	long long values[STAT_N_FAMILIES][STATS_ROWS];
	long long reloaded;
	int n_certs;
	struct stats_cert certs[STATS_CERTS];
	int smtpd_workers;
	int draining;
};

void stats_snapshot(const struct stats *stats, struct stats_snapshot *snap);

/* Reason classes (stats_class.c): static strings. */
const char *stats_tls_failure_class(const char *reason);
const char *stats_deferral_class(const char *reason);

/* ---- HTTP requests (http_request.c) ---- */

#define HTTP_REQUEST_MAX	4096	/* request line and headers */
#define HTTP_PATH_MAX		256

enum http_parse {
	HTTP_INCOMPLETE,	/* no empty line yet: read more */
	HTTP_COMPLETE,
	HTTP_BAD,		/* 400 */
};

struct http_request {
	char method[16];
	char path[HTTP_PATH_MAX];	/* the query string cut off */
	int minor;			/* HTTP/1.minor */
	int openmetrics;		/* Accept: names OpenMetrics */
};

/* Parses the request line and headers in buf[0..len); the body, if any,
 * is ignored. Lines end in CRLF or LF. */
enum http_parse http_request_parse(const char *buf, size_t len,
    struct http_request *req);

#endif
