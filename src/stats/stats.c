/* stats: the shared counters. The supervisor maps one region before it
 * forks; every child that counts owns one slot of it (the smtpd workers
 * the anvil column of the same index, the queue manager the last one)
 * and adds to its own cells with relaxed atomics: no lock, no system
 * call, no contention on the paths that count. The status process sums
 * the slots when it is asked for the metrics.
 *
 * When a child ends, the supervisor adds its slot's counters to the
 * retired total of each row and clears the slot, inside a sequence lock,
 * so a reader never sees the counts twice or not at all: counters never
 * go back across a crash or a reload. Gauges (values that are "now") are
 * dropped with the process instead. */
#include "config.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/util.h"
#include "stats_int.h"

/* This process's slot; none in the supervisor and in other programs. */
static struct stats *self;
static int self_slot = -1;

struct stats *
stats_create(int n_slots)
{
	struct stats *stats;

	if (n_slots < 1)
		msg_panic("stats_create: bad slot count %d", n_slots);
	stats = xcalloc(1, sizeof(*stats));
	stats->n_slots = n_slots;
	stats->map_len = sizeof(struct stats_shared) +
	    (size_t)n_slots * sizeof(struct stats_slot);
	stats->shared = shm_map(stats->map_len, "stats");
	/* The last row of each family takes what does not fit. */
	for (int f = 0; f < STAT_N_FAMILIES; f++) {
		struct stats_row *other =
		    &stats->shared->rows[f][STATS_ROWS - 1];
		size_t len = 0;

		for (int l = 0; l < stats_families[f].n_labels; l++) {
			if (l > 0)
				other->key[len++] = STATS_SEP;
			memcpy(other->key + len, "other", 5);
			len += 5;
		}
		atomic_store(&other->state, ROW_READY);
	}
	return stats;
}

void
stats_destroy(struct stats *stats)
{
	if (stats == NULL)
		return;
	if (self == stats) {
		self = NULL;
		self_slot = -1;
	}
	shm_unmap(stats->shared, stats->map_len);
	free(stats);
}

void
stats_attach(struct stats *stats, int slot, enum stats_proc kind)
{
	if (stats == NULL)
		return;
	if (slot < 0 || slot >= stats->n_slots)
		msg_panic("stats_attach: slot %d out of range 0..%d", slot,
		    stats->n_slots - 1);
	self = stats;
	self_slot = slot;
	atomic_store(&stats->shared->slots[slot].kind, (int)kind);
}

/* The row of key in family f, claimed if new; the "other" row when the
 * family is full. */
static int
row_for(struct stats_shared *shared, int f, const char *key)
{
	for (int r = 0; r < STATS_ROWS - 1; r++) {
		struct stats_row *row = &shared->rows[f][r];
		int state = atomic_load_explicit(&row->state,
		    memory_order_acquire);

		if (state == ROW_EMPTY) {
			int expected = ROW_EMPTY;

			if (atomic_compare_exchange_strong(&row->state,
			    &expected, ROW_CLAIMED + self_slot)) {
				snprintf(row->key, sizeof(row->key), "%s", key);
				atomic_store_explicit(&row->state, ROW_READY,
				    memory_order_release);
				return r;
			}
			state = expected;
		}
		/* Another process is writing this key: a few stores. */
		for (int spin = 0; state >= ROW_CLAIMED && spin < 100;
		    spin++) {
			sched_yield();
			state = atomic_load_explicit(&row->state,
			    memory_order_acquire);
		}
		if (state == ROW_READY && strcmp(row->key, key) == 0)
			return r;
	}
	return STATS_ROWS - 1;
}

const char stats_end[] = "";

void
stats_count(enum stat_family f, long long delta, ...)
{
	const struct stats_family_def *def;
	char key[STATS_KEY_MAX];
	size_t len = 0;
	int fits = 1, r;
	va_list ap;

	if (self == NULL || self_slot < 0 || f < 0 || f >= STAT_N_FAMILIES)
		return;
	def = &stats_families[f];
	va_start(ap, delta);
	for (int l = 0; l <= def->n_labels; l++) {
		const char *value = va_arg(ap, const char *);
		size_t n;

		if ((value == stats_end) != (l == def->n_labels))
			msg_panic("stats: %s takes %d label values",
			    def->name, def->n_labels);
		if (value == stats_end)
			break;
		n = value ? strlen(value) : 0;
		if (len + n + 2 > sizeof(key) || (n && memchr(value,
		    STATS_SEP, n)))
			fits = 0;
		if (!fits)
			continue;
		if (l > 0)
			key[len++] = STATS_SEP;
		memcpy(key + len, value ? value : "", n);
		len += n;
	}
	va_end(ap);
	key[len] = '\0';
	r = fits ? row_for(self->shared, f, key) : STATS_ROWS - 1;
	atomic_fetch_add_explicit(&self->shared->slots[self_slot].count[f][r],
	    delta, memory_order_relaxed);
}

void
stats_tls_failure(const char *side, const char *reason)
{
	stats_inc(STAT_TLS_HANDSHAKE_FAILURES, side,
	    stats_tls_failure_class(reason));
}

void
stats_deferral(const char *reason)
{
	stats_inc(STAT_DEFERRALS, stats_deferral_class(reason));
}

/* The supervisor, the only writer of what seq guards. */
static void
write_begin(struct stats_shared *shared)
{
	atomic_fetch_add_explicit(&shared->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void
write_end(struct stats_shared *shared)
{
	atomic_fetch_add_explicit(&shared->seq, 1, memory_order_release);
}

void
stats_slot_release(struct stats *stats, int slot)
{
	struct stats_slot *s;

	if (stats == NULL || slot < 0 || slot >= stats->n_slots)
		return;
	s = &stats->shared->slots[slot];
	write_begin(stats->shared);
	for (int f = 0; f < STAT_N_FAMILIES; f++)
		for (int r = 0; r < STATS_ROWS; r++) {
			long long n = atomic_exchange_explicit(&s->count[f][r],
			    0, memory_order_relaxed);

			if (!stats_families[f].gauge)
				atomic_fetch_add_explicit(
				    &stats->shared->rows[f][r].retired, n,
				    memory_order_relaxed);
		}
	atomic_store_explicit(&s->kind, STATS_PROC_NONE,
	    memory_order_relaxed);
	/* A row it was writing the key of when it died. */
	for (int f = 0; f < STAT_N_FAMILIES; f++)
		for (int r = 0; r < STATS_ROWS; r++) {
			int claimed = ROW_CLAIMED + slot;

			atomic_compare_exchange_strong(
			    &stats->shared->rows[f][r].state, &claimed,
			    ROW_EMPTY);
		}
	write_end(stats->shared);
}

void
stats_set_draining(struct stats *stats)
{
	if (stats != NULL)
		atomic_store(&stats->shared->draining, 1);
}

void
stats_set_reloaded(struct stats *stats, time_t when)
{
	if (stats == NULL)
		return;
	write_begin(stats->shared);
	stats->shared->reloaded = (long long)when;
	write_end(stats->shared);
}

void
stats_clear_certificates(struct stats *stats)
{
	if (stats == NULL)
		return;
	write_begin(stats->shared);
	stats->shared->n_certs = 0;
	write_end(stats->shared);
}

void
stats_set_certificate(struct stats *stats, size_t index, const char *path,
    time_t not_after)
{
	struct stats_cert *cert;

	if (stats == NULL || index >= STATS_CERTS)
		return;
	write_begin(stats->shared);
	cert = &stats->shared->certs[index];
	snprintf(cert->path, sizeof(cert->path), "%s", path);
	cert->not_after = (long long)not_after;
	if ((int)index >= stats->shared->n_certs)
		stats->shared->n_certs = (int)index + 1;
	write_end(stats->shared);
}

int
stats_draining(const struct stats *stats)
{
	return atomic_load(&stats->shared->draining);
}

int
stats_smtpd_workers(const struct stats *stats)
{
	int n = 0;

	for (int i = 0; i < stats->n_slots; i++)
		n += atomic_load_explicit(&stats->shared->slots[i].kind,
		    memory_order_relaxed) == STATS_PROC_SMTPD;
	return n;
}

/* One pass over the region; returns 0 when the supervisor wrote in the
 * middle of it. */
static int
snapshot_once(const struct stats *stats, struct stats_snapshot *snap)
{
	struct stats_shared *shared = stats->shared;
	unsigned before = atomic_load_explicit(&shared->seq,
	    memory_order_acquire);

	if (before & 1)
		return 0;
	for (int f = 0; f < STAT_N_FAMILIES; f++) {
		snap->n_rows[f] = 0;
		for (int r = 0; r < STATS_ROWS; r++) {
			const struct stats_row *row = &shared->rows[f][r];
			long long sum = atomic_load_explicit(&row->retired,
			    memory_order_relaxed);
			int n = snap->n_rows[f];

			if (atomic_load_explicit(&row->state,
			    memory_order_acquire) != ROW_READY)
				continue;
			for (int i = 0; i < stats->n_slots; i++)
				sum += atomic_load_explicit(
				    &shared->slots[i].count[f][r],
				    memory_order_relaxed);
			/* The "other" row only once something fell in it. */
			if (r == STATS_ROWS - 1 && sum == 0)
				continue;
			memcpy(snap->keys[f][n], row->key, STATS_KEY_MAX);
			snap->keys[f][n][STATS_KEY_MAX - 1] = '\0';
			snap->values[f][n] = sum;
			snap->n_rows[f] = n + 1;
		}
	}
	snap->reloaded = shared->reloaded;
	snap->n_certs = shared->n_certs;
	if (snap->n_certs < 0 || snap->n_certs > STATS_CERTS)
		snap->n_certs = 0;
	memcpy(snap->certs, shared->certs, sizeof(snap->certs));
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&shared->seq, memory_order_relaxed) ==
	    before;
}

void
stats_snapshot(const struct stats *stats, struct stats_snapshot *snap)
{
	while (!snapshot_once(stats, snap))
		sched_yield();
	for (int i = 0; i < STATS_CERTS; i++)
		snap->certs[i].path[STATS_PATH_MAX - 1] = '\0';
	snap->smtpd_workers = stats_smtpd_workers(stats);
	snap->draining = stats_draining(stats);
}
