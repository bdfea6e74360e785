/* util: allocation, growable strings, list splitting. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		msg_fatal("out of memory (%zu bytes)", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		msg_fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		msg_fatal("out of memory (%zu bytes)", size);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	va_list copy;
	int n;
	char *p;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		msg_fatal("xvasprintf: bad format");
	p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void
strbuf_init(struct strbuf *sb)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
}

static void
strbuf_reserve(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;

	if (need <= sb->cap)
		return;
	if (sb->cap == 0)
		sb->cap = 64;
	while (sb->cap < need)
		sb->cap *= 2;
	sb->data = xrealloc(sb->data, sb->cap);
}

void
strbuf_append(struct strbuf *sb, const char *data, size_t len)
{
	strbuf_reserve(sb, len);
	if (len)
		memcpy(sb->data + sb->len, data, len);
	sb->len += len;
	sb->data[sb->len] = '\0';
}

void
strbuf_puts(struct strbuf *sb, const char *s)
{
	strbuf_append(sb, s, strlen(s));
}

void
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	strbuf_puts(sb, s);
	free(s);
}

void
strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

void
strbuf_free(struct strbuf *sb)
{
	free(sb->data);
	strbuf_init(sb);
}

char *
strbuf_steal(struct strbuf *sb)
{
	char *p = sb->data ? sb->data : xstrdup("");

	strbuf_init(sb);
	return p;
}

void
errlist_init(struct errlist *el)
{
	strbuf_init(&el->text);
	el->count = 0;
}

static int
errlist_has(const struct errlist *el, const char *line, size_t len)
{
	const char *p = el->text.data;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '\n');

		if ((size_t)(end - p) == len && memcmp(p, line, len) == 0)
			return 1;
		p = end + 1;
	}
	return 0;
}

int
errlist_add(struct errlist *el, const char *text)
{
	int added = 0;

	while (*text != '\0') {
		size_t len = strcspn(text, "\n");

		if (len > 0 && !errlist_has(el, text, len)) {
			strbuf_append(&el->text, text, len);
			strbuf_puts(&el->text, "\n");
			el->count++;
			added++;
		}
		text += len;
		if (*text == '\n')
			text++;
	}
	return added;
}

/* The file and line of "FILE:LINE: ..."; line 0 when there is none. */
static size_t
located_at(const char *text, long *line)
{
	size_t file = strcspn(text, ": \t\n");

	*line = 0;
	if (text[file] == ':' && isdigit((unsigned char)text[file + 1]))
		*line = strtol(text + file + 1, NULL, 10);
	return file;
}

static int
located_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	long lx, ly;
	size_t fx = located_at(x, &lx), fy = located_at(y, &ly);
	int c = strncmp(x, y, fx < fy ? fx : fy);

	if (c != 0 || fx != fy)
		return c != 0 ? c : (fx < fy ? -1 : 1);
	return (lx > ly) - (lx < ly);
}

void
errlist_sort(struct errlist *el)
{
	char **lines;
	size_t n = 0;
	struct strbuf sorted;

	if (el->count < 2)
		return;
	lines = xmalloc((size_t)el->count * sizeof(*lines));
	for (char *p = el->text.data; *p != '\0'; p = strchr(p, '\n') + 1)
		lines[n++] = p;
	qsort(lines, n, sizeof(*lines), located_cmp);
	strbuf_init(&sorted);
	for (size_t i = 0; i < n; i++)
		strbuf_append(&sorted, lines[i], strcspn(lines[i], "\n") + 1);
	free(lines);
	strbuf_free(&el->text);
	el->text = sorted;
}

char *
errlist_steal(struct errlist *el)
{
	char *text;

	if (el->count == 0)
		return NULL;
	el->text.data[--el->text.len] = '\0';
	text = strbuf_steal(&el->text);
	el->count = 0;
	return text;
}

void
errlist_free(struct errlist *el)
{
	strbuf_free(&el->text);
	el->count = 0;
}

char **
strlist_split(const char *value, const char *separators, size_t *count)
{
	size_t n = 0, cap = 4;
	char **list = xmalloc(cap * sizeof(*list));
	const char *p = value ? value : "";

	for (;;) {
		size_t len;

		p += strspn(p, separators);
		if (*p == '\0')
			break;
		len = strcspn(p, separators);
		if (n + 2 > cap) {
			cap *= 2;
			list = xrealloc(list, cap * sizeof(*list));
		}
		list[n++] = xstrndup(p, len);
		p += len;
	}
	list[n] = NULL;
	if (count)
		*count = n;
	return list;
}

void
strlist_free(char **list)
{
	if (list == NULL)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

char *
str_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

char *
str_lower(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return -1;
	if (fsync(fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

char *
file_read(const char *path, size_t *len, char **err)
{
	struct strbuf sb;
	char buf[8192];
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		saved = errno;
		*err = xasprintf("open %s: %s", path, strerror(errno));
		errno = saved;
		return NULL;
	}
	strbuf_init(&sb);
	strbuf_append(&sb, "", 0);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = xasprintf("read %s: %s", path, strerror(errno));
			strbuf_free(&sb);
			close(fd);
			return NULL;
		}
		strbuf_append(&sb, buf, (size_t)n);
	}
	close(fd);
	if (len)
		*len = sb.len;
	return strbuf_steal(&sb);
}

char *
file_read_text(const char *path, char **err)
{
	size_t len;
	char *text = file_read(path, &len, err);

	if (text != NULL && memchr(text, '\0', len) != NULL) {
		*err = xasprintf("%s: not a text file (NUL byte)", path);
		free(text);
		return NULL;
	}
	return text;
}

long long
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
remove_tree(const char *path)
{
	return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
