/* util: allocation that cannot fail silently, a growable string, list
 * splitting with Postfix's separators. */
#ifndef TLSRELAY_UTIL_H
#define TLSRELAY_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "tlsrelay/log.h"	/* PRINTFLIKE, and msg_* for util's users */

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTFLIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTFLIKE(1, 0);

/* A growable byte string, always NUL-terminated. */
struct strbuf {
	char *data;
	size_t len;
	size_t cap;
};

void strbuf_init(struct strbuf *sb);
void strbuf_append(struct strbuf *sb, const char *data, size_t len);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) PRINTFLIKE(2, 3);
void strbuf_reset(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
/* Hands the buffer to the caller (who frees it) and empties sb. */
char *strbuf_steal(struct strbuf *sb);

/* Lines of errors, each kept once: a configuration is checked in full and
 * every problem reported together, where several views of it (a master.cf
 * service sees main.cf's values too) would otherwise repeat a line. */
struct errlist {
	struct strbuf text;	/* the lines, each ending in a newline */
	int count;
};

void errlist_init(struct errlist *el);
/* Adds each line of text that is not there yet; returns how many. */
int errlist_add(struct errlist *el, const char *text);
/* Sorts lines that start "FILE:LINE:" by file, then line number: the
 * order of the files, not of the code that checked them. */
void errlist_sort(struct errlist *el);
/* The lines without the last newline (caller frees), or NULL when there
 * are none; empties el. */
char *errlist_steal(struct errlist *el);
void errlist_free(struct errlist *el);

/* CLOCK_MONOTONIC in milliseconds: for deadlines that move. */
long long monotonic_ms(void);

/* In a child just forked (after any change of user): stops, with
 * SIGTERM, when parent dies, however it dies; exits at once when it is
 * gone already. Postfix's children watch their master the same way. */
void proc_follow_parent(pid_t parent);

/* Zero-filled memory shared with the children forked after the call
 * (anonymous MAP_SHARED, src/util/shm.c); fatal when it cannot be had.
 * what names it in the message. */
void *shm_map(size_t len, const char *what);
void shm_unmap(void *map, size_t len);

/* Splits a parameter value into words separated by white space and/or
 * commas, as Postfix does for list-valued parameters. Returns a
 * NULL-terminated array; *count (if not NULL) gets the word count. Free
 * with strlist_free(). */
char **strlist_split(const char *value, const char *separators, size_t *count);
void strlist_free(char **list);
#define LIST_SEPARATORS ", \t\r\n"

/* write(2) until all of data is written, retrying on EINTR. Returns 0,
 * or -1 with errno set. */
int write_all(int fd, const void *data, size_t len);
/* fsync of the directory at path, so that renames into or out of it
 * survive a crash. Returns 0, or -1 with errno set. */
int fsync_dir(const char *path);

/* Reads the whole file at path into a NUL-terminated buffer (caller
 * frees); *len, when not NULL, gets its length. NULL with *err set on
 * failure, errno kept from open(2) (callers test ENOENT). */
char *file_read(const char *path, size_t *len, char **err);
/* Same for a text file: a NUL byte inside is an error, since it would
 * silently cut every line-based parser short. */
char *file_read_text(const char *path, char **err);
/* rm -r path, not following symbolic links: 0, or -1 with errno. */
int remove_tree(const char *path);

/* Removes leading and trailing white space in place; returns s+skip. */
char *str_trim(char *s);
/* Lower-cases s in place (ASCII); returns s. */
char *str_lower(char *s);

/* The domain part of an address, lower-cased, malloc'd; "" when the
 * address has no @. "user@[127.0.0.1]" gives "[127.0.0.1]"
 * (src/util/addr.c). */
char *addr_domain(const char *addr);

#endif
