/* anvil: open connections per client address, counted over all workers
 * (smtpd_client_connection_count_limit), and AUTH commands per service and
 * address in a time window (smtpd_client_auth_rate_limit). Postfix asks a
 * separate anvil
 * server; we keep the table in shared memory mapped before fork(), guarded
 * by one process-shared robust mutex, so a worker that dies while holding
 * it cannot wedge the others.
 *
 * The table is open-addressed with linear probing. A row whose total is 0
 * is empty; deleting a row shifts the rows after it back (no tombstones),
 * so a lookup can stop at the first empty row. Each worker owns one count
 * column, which the supervisor clears when that worker dies.
 *
 * The AUTH rates are a second table after the rows: a row is free once its
 * window is over, so nothing is ever deleted; a key is looked for among a
 * few rows from its home, and when none is free the oldest is taken (a
 * client may lose its count in a flood of others, never be blocked by
 * one). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/anvil.h"
#include "tlsrelay/util.h"

#define ANVIL_SLOTS	4096		/* a power of two */
#define ANVIL_ADDR_MAX	64		/* IPv6 text is at most 45 bytes */

struct anvil_row {
	char addr[ANVIL_ADDR_MAX];	/* NUL-terminated */
	int total;			/* sum of count[]; 0: empty row */
	int count[];			/* one per worker */
};

#define RATE_SLOTS	4096		/* a power of two */
#define RATE_PROBE	16
#define RATE_KEY_MAX	128		/* "service:address" */

struct rate_row {
	char key[RATE_KEY_MAX];		/* NUL-terminated */
	long long start;		/* of the window, monotonic seconds */
	int count;			/* 0: free */
};

/* The shared part; the rows follow at anvil->rows. */
struct anvil_table {
	pthread_mutex_t lock;
	int warned_full;
};

/* The process-local handle, inherited by fork() with the mapping. */
struct anvil {
	struct anvil_table *table;
	char *rows;
	struct rate_row *rates;
	size_t row_size;
	size_t map_len;
	int max_workers;
	pid_t creator;
};

static struct anvil_row *
row_at(const struct anvil *anvil, size_t i)
{
	return (struct anvil_row *)(void *)(anvil->rows + i * anvil->row_size);
}

/* FNV-1a: cheap and spreads similar addresses well. */
static size_t
home_slot(const char *addr)
{
	uint32_t h = 2166136261u;

	for (; *addr; addr++) {
		h ^= (unsigned char)*addr;
		h *= 16777619u;
	}
	return h & (ANVIL_SLOTS - 1);
}

/* Finds addr: returns 1 with *slot set to its row, or 0 with *slot set to
 * the empty row where it belongs (SIZE_MAX when the table is full). */
static int
find_row(const struct anvil *anvil, const char *addr, size_t *slot)
{
	size_t i = home_slot(addr), n;

	for (n = 0; n < ANVIL_SLOTS; n++, i = (i + 1) & (ANVIL_SLOTS - 1)) {
		struct anvil_row *row = row_at(anvil, i);

		if (row->total == 0) {
			*slot = i;
			return 0;
		}
		if (strcmp(row->addr, addr) == 0) {
			*slot = i;
			return 1;
		}
	}
	*slot = SIZE_MAX;
	return 0;
}

/* Empties row i and shifts back the rows after it that probed past it
 * (Knuth's deletion for linear probing). */
static void
delete_row(const struct anvil *anvil, size_t hole)
{
	size_t j = hole;

	row_at(anvil, hole)->total = 0;
	for (;;) {
		struct anvil_row *row;
		size_t home;
		int stays;

		j = (j + 1) & (ANVIL_SLOTS - 1);
		row = row_at(anvil, j);
		if (row->total == 0)
			break;
		home = home_slot(row->addr);
		/* The row stays when its home lies cyclically in (hole, j]. */
		if (hole < j)
			stays = hole < home && home <= j;
		else
			stays = hole < home || home <= j;
		if (stays)
			continue;
		memcpy(row_at(anvil, hole), row, anvil->row_size);
		row->total = 0;
		hole = j;
	}
	memset(row_at(anvil, hole), 0, anvil->row_size);
}

/* Re-inserts every row whose counts are not all zero, recomputing the
 * totals; two rows for one address (a copy interrupted by a crash) merge
 * by keeping the larger count per worker. */
static void
rebuild(struct anvil *anvil)
{
	size_t size = (size_t)ANVIL_SLOTS * anvil->row_size, i, slot;
	char *copy = xmalloc(size);
	int w;

	memcpy(copy, anvil->rows, size);
	memset(anvil->rows, 0, size);
	for (i = 0; i < ANVIL_SLOTS; i++) {
		struct anvil_row *old = (struct anvil_row *)(void *)
		    (copy + i * anvil->row_size);
		struct anvil_row *row;
		int total = 0;

		old->addr[ANVIL_ADDR_MAX - 1] = '\0';
		for (w = 0; w < anvil->max_workers; w++) {
			if (old->count[w] < 0)
				old->count[w] = 0;
			total += old->count[w];
		}
		if (total == 0)
			continue;
		if (!find_row(anvil, old->addr, &slot)) {
			/* Fewer live rows than before: slot is never full. */
			row = row_at(anvil, slot);
			memcpy(row, old, anvil->row_size);
			row->total = total;
			continue;
		}
		row = row_at(anvil, slot);
		row->total = 0;
		for (w = 0; w < anvil->max_workers; w++) {
			if (old->count[w] > row->count[w])
				row->count[w] = old->count[w];
			row->total += row->count[w];
		}
	}
	free(copy);
}

static void
anvil_lock(struct anvil *anvil)
{
	int err = pthread_mutex_lock(&anvil->table->lock);

	if (err == EOWNERDEAD) {
		msg_warn("anvil: a process died while updating the connection "
		    "counts; repairing the table");
		rebuild(anvil);
		pthread_mutex_consistent(&anvil->table->lock);
	} else if (err != 0) {
		msg_fatal("anvil: cannot lock the connection table: %s",
		    strerror(err));
	}
}

static void
anvil_unlock(struct anvil *anvil)
{
	pthread_mutex_unlock(&anvil->table->lock);
}

static void
check_worker(const struct anvil *anvil, int worker)
{
	if (worker < 0 || worker >= anvil->max_workers)
		msg_panic("anvil: worker index %d out of range 0..%d", worker,
		    anvil->max_workers - 1);
}

struct anvil *
anvil_create(int max_workers)
{
	struct anvil *anvil;
	pthread_mutexattr_t attr;
	size_t header, rates_off;
	void *map;
	int err;

	if (max_workers < 1)
		msg_panic("anvil_create: bad worker count %d", max_workers);
	anvil = xcalloc(1, sizeof(*anvil));
	anvil->max_workers = max_workers;
	anvil->row_size = sizeof(struct anvil_row)
	    + (size_t)max_workers * sizeof(int);
	/* Rows start on a cache line. */
	header = (sizeof(struct anvil_table) + 63) & ~(size_t)63;
	anvil->map_len = header + (size_t)ANVIL_SLOTS * anvil->row_size;
	anvil->map_len = (anvil->map_len + 63) & ~(size_t)63;
	rates_off = anvil->map_len;
	anvil->map_len += RATE_SLOTS * sizeof(struct rate_row);
	map = shm_map(anvil->map_len, "anvil");
	anvil->table = map;
	anvil->rows = (char *)map + header;
	anvil->rates = (struct rate_row *)(void *)((char *)map + rates_off);
	anvil->creator = getpid();

	/* The mapping is zero-filled: every row is empty. */
	if ((err = pthread_mutexattr_init(&attr)) != 0
	    || (err = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) != 0
	    || (err = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) != 0
	    || (err = pthread_mutex_init(&anvil->table->lock, &attr)) != 0)
		msg_fatal("anvil: process-shared mutex: %s", strerror(err));
	pthread_mutexattr_destroy(&attr);
	return anvil;
}

void
anvil_destroy(struct anvil *anvil)
{
	if (anvil == NULL)
		return;
	/* Only the creator may destroy the mutex; a child just unmaps. */
	if (getpid() == anvil->creator)
		pthread_mutex_destroy(&anvil->table->lock);
	shm_unmap(anvil->table, anvil->map_len);
	free(anvil);
}

int
anvil_connect(struct anvil *anvil, int worker, const char *addr)
{
	static int warned_long;
	struct anvil_row *row;
	size_t slot;
	int total;

	check_worker(anvil, worker);
	if (strlen(addr) >= ANVIL_ADDR_MAX) {
		/* Not an IP address we know how to print; never block it. */
		if (!warned_long++)
			msg_warn("anvil: address too long to count: %.80s",
			    addr);
		return 1;
	}
	anvil_lock(anvil);
	if (find_row(anvil, addr, &slot)) {
		row = row_at(anvil, slot);
		row->count[worker]++;
		total = ++row->total;
	} else if (slot != SIZE_MAX) {
		row = row_at(anvil, slot);
		strcpy(row->addr, addr);
		row->count[worker] = 1;
		total = row->total = 1;
	} else {
		/* Full: let the client in uncounted rather than block it. */
		if (!anvil->table->warned_full) {
			anvil->table->warned_full = 1;
			msg_warn("anvil: connection table full (%d addresses); "
			    "not counting new clients", ANVIL_SLOTS);
		}
		total = 1;
	}
	anvil_unlock(anvil);
	return total;
}

void
anvil_disconnect(struct anvil *anvil, int worker, const char *addr)
{
	struct anvil_row *row;
	size_t slot;

	check_worker(anvil, worker);
	if (strlen(addr) >= ANVIL_ADDR_MAX)
		return;
	anvil_lock(anvil);
	/* A client let in uncounted (table full) has no count to drop. */
	if (find_row(anvil, addr, &slot)) {
		row = row_at(anvil, slot);
		if (row->count[worker] > 0) {
			row->count[worker]--;
			if (--row->total == 0)
				delete_row(anvil, slot);
		}
	}
	anvil_unlock(anvil);
}

void
anvil_worker_reset(struct anvil *anvil, int worker)
{
	size_t i;

	check_worker(anvil, worker);
	anvil_lock(anvil);
	for (i = 0; i < ANVIL_SLOTS; i++)
		row_at(anvil, i)->count[worker] = 0;
	rebuild(anvil);
	anvil_unlock(anvil);
}

int
anvil_total(struct anvil *anvil)
{
	int total = 0;

	anvil_lock(anvil);
	for (size_t i = 0; i < ANVIL_SLOTS; i++)
		total += row_at(anvil, i)->total;
	anvil_unlock(anvil);
	return total;
}

int
anvil_auth(struct anvil *anvil, const char *service, const char *addr,
    long long unit)
{
	char key[RATE_KEY_MAX];
	struct timespec ts;
	struct rate_row *row, *found = NULL, *spare = NULL;
	size_t i;
	int n, count;

	n = snprintf(key, sizeof(key), "%s:%s", service, addr);
	if (n < 0 || (size_t)n >= sizeof(key))
		return 1;		/* cannot be counted: never blocked */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	anvil_lock(anvil);
	i = home_slot(key) & (RATE_SLOTS - 1);
	for (int probe = 0; probe < RATE_PROBE; probe++,
	    i = (i + 1) & (RATE_SLOTS - 1)) {
		row = &anvil->rates[i];
		if (row->count > 0 && ts.tv_sec - row->start < unit) {
			if (strcmp(row->key, key) == 0) {
				found = row;
				break;
			}
			/* In use: the oldest is the spare of last resort. */
			if (spare == NULL || (spare->count > 0 &&
			    row->start < spare->start))
				spare = row;
		} else if (spare == NULL || spare->count > 0) {
			spare = row;	/* free, or its window is over */
			spare->count = 0;
		}
	}
	if (found == NULL) {
		found = spare;
		memcpy(found->key, key, (size_t)n + 1);
		found->start = ts.tv_sec;
		found->count = 0;
	}
	count = ++found->count;
	anvil_unlock(anvil);
	return count;
}
