/* queue_list: the queue as mailq shows it. Per message: ID (with '*'
 * when active, '!' when on hold), content size, arrival time and sender;
 * then each pending recipient, after the last reason it was deferred for
 * (from defer/ID) when that reason differs from the one printed above it.
 *
 * The qmgr moves files while we read; a file that vanishes between the
 * directory listing and the read is skipped without a word. */
#include "config.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

#define ID_WIDTH	28	/* queue_id_new()'s IDs; longer ones push */
#define RCPT_INDENT	(ID_WIDTH + 1 + 1 + 8 + 1 + 20 + 1)

static const struct {
	const char *name;
	char mark;
} list_dirs[] = {
	{ "incoming", ' ' }, { "active", '*' }, { "deferred", ' ' },
	{ "hold", '!' },
};

struct list_totals {
	unsigned long long bytes;
	size_t messages;
};

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The queue IDs in dir, sorted (IDs sort by arrival). */
static char **
list_ids(const char *dir, size_t *count, char **err)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char **ids = NULL;
	size_t n = 0, cap = 0;

	if (dp == NULL) {
		*err = xasprintf("open %s: %s", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(dp)) != NULL) {
		if (!queue_id_valid(de->d_name, strlen(de->d_name)))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		ids[n++] = xstrdup(de->d_name);
	}
	closedir(dp);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), compare_names);
	*count = n;
	return ids ? ids : xcalloc(1, sizeof(*ids));
}

static void
print_header_once(FILE *out, const struct list_totals *t)
{
	if (t->messages == 0)
		fprintf(out, "%-*s %8s %-20s %s\n", ID_WIDTH + 1,
		    "-Queue ID-", "--Size--", "----Arrival Time----",
		    "-Sender/Recipient-------");
}

static void
print_message(FILE *out, const char *queue_dir, const struct spool_message
    *msg, char mark)
{
	struct defer_log log;
	const char *last_reason = NULL;
	char id_col[QUEUE_ID_MAX + 1], when[32];
	char *err = NULL;
	time_t arrival = (time_t)msg->arrival_sec;
	struct tm tm;

	if (defer_log_read(queue_dir, msg->id, &log, &err) < 0) {
		msg_warn("%s", err);
		free(err);
	}
	localtime_r(&arrival, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
	snprintf(id_col, sizeof(id_col), "%s%c", msg->id, mark);
	fprintf(out, "%-*s %8lld %-20s %s\n", ID_WIDTH + 1, id_col,
	    (long long)msg->content_length, when,
	    msg->sender[0] ? msg->sender : "MAILER-DAEMON");
	for (size_t i = 0; i < msg->n_recipients; i++) {
		const struct spool_recipient *r = &msg->recipients[i];
		const struct defer_entry *e;

		if (r->status != ' ')
			continue;
		e = defer_log_find(&log, r->address);
		if (e != NULL && (last_reason == NULL ||
		    strcmp(last_reason, e->reason) != 0))
			fprintf(out, "%*s(%s)\n", RCPT_INDENT, "", e->reason);
		last_reason = e ? e->reason : NULL;
		fprintf(out, "%*s%s\n", RCPT_INDENT, "", r->address);
	}
	fputc('\n', out);
	defer_log_free(&log);
}

/* Calls show for every message in the listed directories, in order;
 * returns how many, or -1 with *err when a directory cannot be read. */
static long
each_message(const char *queue_dir, FILE *out,
    void (*show)(FILE *, const char *, const struct spool_message *,
    const char *dir_name, char mark, struct list_totals *),
    struct list_totals *totals, char **err)
{
	*err = NULL;
	for (size_t d = 0; d < sizeof(list_dirs) / sizeof(list_dirs[0]); d++) {
		char *dir = xasprintf("%s/%s", queue_dir, list_dirs[d].name);
		size_t n_ids;
		char **ids = list_ids(dir, &n_ids, err);

		if (ids == NULL) {
			free(dir);
			return -1;
		}
		for (size_t i = 0; i < n_ids; i++) {
			char *path = xasprintf("%s/%s", dir, ids[i]);
			struct spool_message msg;
			char *read_err = NULL;

			if (spool_read(path, &msg, &read_err) == 0) {
				show(out, queue_dir, &msg, list_dirs[d].name,
				    list_dirs[d].mark, totals);
				totals->bytes +=
				    (unsigned long long)msg.content_length;
				totals->messages++;
				spool_message_free(&msg);
			} else {
				/* Moved on by the qmgr: not an error. */
				if (strstr(read_err, "No such file") == NULL)
					msg_warn("%s", read_err);
				free(read_err);
			}
			free(path);
			free(ids[i]);
		}
		free(ids);
		free(dir);
	}
	return (long)totals->messages;
}

static void
show_text(FILE *out, const char *queue_dir, const struct spool_message *msg,
    const char *dir_name, char mark, struct list_totals *totals)
{
	(void)dir_name;
	print_header_once(out, totals);
	print_message(out, queue_dir, msg, mark);
}

int
queue_list(const char *queue_dir, FILE *out, char **err)
{
	struct list_totals totals = { 0, 0 };

	if (each_message(queue_dir, out, show_text, &totals, err) < 0)
		return -1;
	if (totals.messages == 0)
		fprintf(out, "Mail queue is empty\n");
	else
		fprintf(out, "-- %llu Kbytes in %zu Request%s.\n",
		    (totals.bytes + 1023) / 1024, totals.messages,
		    totals.messages == 1 ? "" : "s");
	return 0;
}

/* A JSON string: quotes, backslashes and control characters escaped;
 * other bytes as they are (addresses are ASCII, reasons nearly so). */
static void
json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void
show_json(FILE *out, const char *queue_dir, const struct spool_message *msg,
    const char *dir_name, char mark, struct list_totals *totals)
{
	struct defer_log log;
	char *err = NULL;
	int first = 1;

	(void)mark;
	(void)totals;
	if (defer_log_read(queue_dir, msg->id, &log, &err) < 0) {
		msg_warn("%s", err);
		free(err);
	}
	fputs("{\"queue_name\": ", out);
	json_string(out, dir_name);
	fputs(", \"queue_id\": ", out);
	json_string(out, msg->id);
	fprintf(out, ", \"arrival_time\": %lld, \"message_size\": %lld, "
	    "\"forced_expire\": false, \"sender\": ", msg->arrival_sec,
	    (long long)msg->content_length);
	json_string(out, msg->sender);
	fputs(", \"recipients\": [", out);
	for (size_t i = 0; i < msg->n_recipients; i++) {
		const struct spool_recipient *r = &msg->recipients[i];
		const struct defer_entry *e;

		if (r->status != ' ')
			continue;
		fputs(first ? "{\"address\": " : ", {\"address\": ", out);
		first = 0;
		json_string(out, r->address);
		if ((e = defer_log_find(&log, r->address)) != NULL) {
			fputs(", \"delay_reason\": ", out);
			json_string(out, e->reason);
		}
		fputc('}', out);
	}
	fputs("]}\n", out);
	defer_log_free(&log);
}

int
queue_list_json(const char *queue_dir, FILE *out, char **err)
{
	struct list_totals totals = { 0, 0 };

	return each_message(queue_dir, out, show_json, &totals, err) < 0 ?
	    -1 : 0;
}

int
queue_list_showq(const char *queue_dir, FILE *out, char **err)
{
	/* By its relative name from inside public/: see qmgr_showq.c. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX,
	    .sun_path = "showq" };
	char *public = xasprintf("%s/public", queue_dir);
	char buf[8192];
	ssize_t n;
	int fd, saved;

	*err = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || chdir(public) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		/* Postfix's words for a queue manager that is not there. */
		*err = saved == ENOENT || saved == ECONNREFUSED ?
		    xstrdup("Queue report unavailable - mail system is down") :
		    xasprintf("%s/showq: %s", public, strerror(saved));
		free(public);
		return -1;
	}
	free(public);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			break;
	close(fd);
	return 0;
}
