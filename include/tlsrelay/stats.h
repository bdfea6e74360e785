/* stats: counters of every process, summed for the metrics endpoint
 * (src/stats/). */
#ifndef TLSRELAY_STATS_H
#define TLSRELAY_STATS_H

#include <stddef.h>
#include <time.h>

struct conf;
struct strbuf;

/* ---- counting (src/stats/stats.c) ---- */

/* The families, each with a fixed list of labels (stats_family.c); a
 * caller gives one value per label, in that order. */
enum stat_family {
	STAT_SMTPD_CONNECTIONS,		/* service */
	STAT_TLS_HANDSHAKES,		/* side, protocol, cipher */
	STAT_TLS_HANDSHAKE_FAILURES,	/* side, reason */
	STAT_DELIVERIES,		/* status, tls_level */
	STAT_DEFERRALS,			/* reason */
	STAT_TLS_SESSION_CACHE,		/* side, result */
	STAT_SMTP_CONNECTIONS_ACTIVE,	/* class; a gauge */
	STAT_N_FAMILIES
};

/* The shared region: made by the supervisor before it forks (anonymous
 * MAP_SHARED, like anvil's table); each child writes its own slot only,
 * with relaxed atomic adds; readers sum the slots. */
struct stats;

struct stats *stats_create(int n_slots);
void stats_destroy(struct stats *stats);

enum stats_proc {
	STATS_PROC_NONE,
	STATS_PROC_SMTPD,
	STATS_PROC_QMGR,
};

/* In a child just forked: its counts go to slot from now on. Until then
 * (and in every other program) stats_add counts nothing. */
void stats_attach(struct stats *stats, int slot, enum stats_proc kind);

/* Adds delta to the row of the family's labels, given as one const char *
 * per label (NULL reads as ""). A label set not seen before takes a free
 * row of the family; when there is none, the row whose labels are all
 * "other". The macros end the list with stats_end, so that a call with
 * the wrong number of labels panics in the first test that makes it. */
extern const char stats_end[];
void stats_count(enum stat_family family, long long delta, ...);
#define stats_add(family, delta, ...) \
	stats_count((family), (delta), __VA_ARGS__, stats_end)
#define stats_inc(family, ...) stats_add((family), 1, __VA_ARGS__)

/* One-line hooks that also classify the reason (stats_class.c). side is
 * "smtpd" (we are the server) or "smtp" (the client). */
void stats_tls_failure(const char *side, const char *reason);
void stats_deferral(const char *reason);

/* ---- the supervisor's side ---- */

/* The process in slot has ended: its counters are added to the retired
 * totals and its gauges dropped, so that a sum never goes back. */
void stats_slot_release(struct stats *stats, int slot);
/* SIGTERM: the health endpoint answers 503 from now on. */
void stats_set_draining(struct stats *stats);
/* Start and each reload: when, and the certificate files in service with
 * the notAfter of each (epoch seconds). */
void stats_set_reloaded(struct stats *stats, time_t when);
void stats_set_certificate(struct stats *stats, size_t index,
    const char *path, time_t not_after);
void stats_clear_certificates(struct stats *stats);

/* ---- reading (the status process) ---- */

int stats_draining(const struct stats *stats);
/* smtpd workers running now. */
int stats_smtpd_workers(const struct stats *stats);

/* The queue: message count and oldest arrival per directory. */
enum stats_queue {
	STATS_QUEUE_INCOMING,
	STATS_QUEUE_ACTIVE,
	STATS_QUEUE_DEFERRED,
	STATS_QUEUE_HOLD,
	STATS_N_QUEUES
};

struct stats_queue_info {
	long messages[STATS_N_QUEUES];
	double oldest[STATS_N_QUEUES];	/* epoch seconds; 0: empty */
};

/* Counts the files of queue_directory's incoming, active, deferred and
 * hold; the arrival time comes from the queue ID (stats_queue.c). */
void stats_queue_scan(const char *queue_directory,
    struct stats_queue_info *info);

/* The two text formats a scraper may ask for: OpenMetrics 1.0.0, what
 * Prometheus asks for, and the older Prometheus text format 0.0.4, what
 * a client that asks for nothing gets (promtool check metrics reads only
 * that one). They differ in the family name of a counter (without or
 * with its _total) and in the "# EOF" line. */
enum stats_format {
	STATS_FORMAT_TEXT,
	STATS_FORMAT_OPENMETRICS,
};
#define STATS_CONTENT_TYPE_OPENMETRICS \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"
#define STATS_CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* Every metric, appended to out (stats_render.c). now: for the queue
 * ages. */
void stats_render(const struct stats *stats,
    const struct stats_queue_info *queue, double now,
    enum stats_format format, struct strbuf *out);

/* ---- the status process (status_server.c) ---- */

/* Serves /metrics on metrics_fds and /health on both sets until SIGTERM;
 * the listening sockets were bound by the supervisor. Returns the exit
 * status. */
int status_server_run(const struct conf *conf, struct stats *stats,
    const int *metrics_fds, size_t n_metrics, const int *health_fds,
    size_t n_health);

#endif
