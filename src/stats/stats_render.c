/* stats_render: the metrics in the OpenMetrics text format (1.0.0):
 * "# TYPE" and "# HELP" per family, counters as NAME_total, label values
 * escaped, "# EOF" at the end; or in the Prometheus text format 0.0.4,
 * where a counter's family carries the _total of its samples and there
 * is no "# EOF" (what promtool check metrics lints). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/stats.h"
#include "tlsrelay/util.h"
#include "stats_int.h"

#define PREFIX "tlsrelay_"

static const char *const queue_names[STATS_N_QUEUES] = {
	[STATS_QUEUE_INCOMING] = "incoming",
	[STATS_QUEUE_ACTIVE] = "active",
	[STATS_QUEUE_DEFERRED] = "deferred",
	[STATS_QUEUE_HOLD] = "hold",
};

/* A label value: backslash, double quote and newline escaped. */
static void
put_value(struct strbuf *out, const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = value[i];

		if (c == '\\' || c == '"')
			strbuf_append(out, "\\", 1);
		if (c == '\n')
			strbuf_puts(out, "\\n");
		else
			strbuf_append(out, &c, 1);
	}
}

static void
family_head(struct strbuf *out, const char *name, const char *suffix,
    const char *type, const char *help)
{
	strbuf_printf(out, "# TYPE " PREFIX "%s%s %s\n", name, suffix, type);
	strbuf_printf(out, "# HELP " PREFIX "%s%s %s\n", name, suffix, help);
}

/* name{l1="v1",...} from a key of values joined by STATS_SEP. */
static void
put_series(struct strbuf *out, const char *name, const char *suffix,
    const struct stats_family_def *def, const char *key)
{
	const char *v = key;

	strbuf_printf(out, PREFIX "%s%s", name, suffix);
	if (def->n_labels == 0)
		return;
	strbuf_puts(out, "{");
	for (int l = 0; l < def->n_labels; l++) {
		const char *sep = strchr(v, STATS_SEP);
		size_t len = sep ? (size_t)(sep - v) : strlen(v);

		strbuf_printf(out, "%s%s=\"", l ? "," : "", def->labels[l]);
		put_value(out, v, len);
		strbuf_puts(out, "\"");
		v = sep ? sep + 1 : v + len;
	}
	strbuf_puts(out, "}");
}

static void
render_families(const struct stats_snapshot *snap, enum stats_format format,
    struct strbuf *out)
{
	for (int f = 0; f < STAT_N_FAMILIES; f++) {
		const struct stats_family_def *def = &stats_families[f];

		family_head(out, def->name, !def->gauge &&
		    format == STATS_FORMAT_TEXT ? "_total" : "",
		    def->gauge ? "gauge" : "counter", def->help);
		for (int r = 0; r < snap->n_rows[f]; r++) {
			put_series(out, def->name, def->gauge ? "" : "_total",
			    def, snap->keys[f][r]);
			strbuf_printf(out, " %lld\n", snap->values[f][r]);
		}
	}
}

static void
render_queue(const struct stats_queue_info *queue, double now,
    struct strbuf *out)
{
	family_head(out, "queue_messages", "", "gauge",
	    "Messages in the queue, by queue directory.");
	for (int q = 0; q < STATS_N_QUEUES; q++)
		strbuf_printf(out, PREFIX "queue_messages{queue=\"%s\"} %ld\n",
		    queue_names[q], queue->messages[q]);
	family_head(out, "queue_oldest_message_age_seconds", "", "gauge",
	    "Age of the oldest message in each queue directory; 0 when it "
	    "is empty.");
	for (int q = 0; q < STATS_N_QUEUES; q++) {
		double age = queue->oldest[q] > 0 ? now - queue->oldest[q] : 0;

		strbuf_printf(out, PREFIX "queue_oldest_message_age_seconds"
		    "{queue=\"%s\"} %.3f\n", queue_names[q], age > 0 ? age : 0);
	}
}

static void
render_process(const struct stats_snapshot *snap, struct strbuf *out)
{
	size_t len;

	family_head(out, "smtpd_worker_processes", "", "gauge",
	    "SMTP server worker processes running.");
	strbuf_printf(out, PREFIX "smtpd_worker_processes %d\n",
	    snap->smtpd_workers);
	family_head(out, "draining", "", "gauge",
	    "1 while the daemon stops: it accepts no new connections.");
	strbuf_printf(out, PREFIX "draining %d\n", snap->draining);
	family_head(out, "tls_config_reload_timestamp_seconds", "",
	    "gauge",
	    "When the configuration and certificates in service were read "
	    "(start or reload).");
	strbuf_printf(out, PREFIX "tls_config_reload_timestamp_seconds %lld\n",
	    snap->reloaded);
	family_head(out, "tls_certificate_not_after_timestamp_seconds", "",
	    "gauge", "The notAfter time of the certificate in each "
	    "certificate file in service.");
	for (int i = 0; i < snap->n_certs; i++) {
		strbuf_puts(out, PREFIX
		    "tls_certificate_not_after_timestamp_seconds{file=\"");
		len = strlen(snap->certs[i].path);
		put_value(out, snap->certs[i].path, len);
		strbuf_printf(out, "\"} %lld\n", snap->certs[i].not_after);
	}
}

void
stats_render(const struct stats *stats, const struct stats_queue_info *queue,
    double now, enum stats_format format, struct strbuf *out)
{
	struct stats_snapshot *snap = xmalloc(sizeof(*snap));

	stats_snapshot(stats, snap);
	render_families(snap, format, out);
	render_queue(queue, now, out);
	render_process(snap, out);
	if (format == STATS_FORMAT_OPENMETRICS)
		strbuf_puts(out, "# EOF\n");
	free(snap);
}
