/* check_table: the type:name tables (src/map/table*.c): every type, key
 * folding, postmap's text syntax with file:line messages, inline and cidr
 * syntax, the Berkeley DB build and its atomic replacement, and interop
 * with the real postmap(1) in both directions. */
#include "config.h"

#include <check.h>
#include <db.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#define POSTMAP "/usr/sbin/postmap"

/* Berkeley DB cannot free a handle that has panicked on a damaged file
 * (its regions leak on close); the tests that damage a file on purpose
 * tell LeakSanitizer so. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TABLE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(TABLE_ASAN)
#include <sanitizer/lsan_interface.h>
#define BDB_PANIC_LEAKS_BEGIN()	__lsan_disable()
#define BDB_PANIC_LEAKS_END()	__lsan_enable()
#else
#define BDB_PANIC_LEAKS_BEGIN()	do { } while (0)
#define BDB_PANIC_LEAKS_END()	do { } while (0)
#endif

/* Each test works in its own directory under the run's, which the Check
 * main removes even when a test failed before its teardown. */
static char tmpdir[160];

static void
setup(void)
{
	tu_make_dir(tmpdir, sizeof(tmpdir), "test");
}

static void
teardown(void)
{
	log_close();
	remove_tree(tmpdir);
}

/* Writes len bytes to tmpdir/name; returns the path (caller frees). */
static char *
write_bytes(const char *name, const char *data, size_t len)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

static char *
write_file(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

/* Warnings go to a log file while a test listens. */
static char *log_path;

static void
listen_begin(void)
{
	char *err = NULL;

	free(log_path);
	log_path = xasprintf("%s/log", tmpdir);
	unlink(log_path);
	ck_assert_int_eq(log_open(log_path, 0, NULL, &err), 0);
}

static char *
listen_end(void)
{
	log_close();
	return tu_slurp(log_path, NULL);
}

static void
assert_contains(const char *text, const char *expect)
{
	ck_assert_msg(strstr(text, expect) != NULL,
	    "expected \"%s\" in \"%s\"", expect, text);
}

static struct table *
open_ok(const char *spec, int flags)
{
	char *err = NULL;
	struct table *t = table_open(spec, flags, &err);

	ck_assert_msg(t != NULL, "open %s: %s", spec, err ? err : "?");
	ck_assert_ptr_null(err);
	return t;
}

static void
open_fails(const char *spec, const char *expect)
{
	char *err = NULL;
	struct table *t = table_open(spec, 0, &err);

	ck_assert_msg(t == NULL, "open %s should fail", spec);
	ck_assert_ptr_nonnull(err);
	assert_contains(err, expect);
	free(err);
}

static void
lookup_is(struct table *t, const char *key, const char *expect)
{
	int error = -1;
	const char *value = table_lookup(t, key, &error);

	ck_assert_int_eq(error, 0);
	if (expect == NULL) {
		ck_assert_msg(value == NULL, "%s: key \"%s\" gave \"%s\", "
		    "expected nothing", table_name(t), key, value);
		return;
	}
	ck_assert_msg(value != NULL, "%s: key \"%s\" not found",
	    table_name(t), key);
	ck_assert_str_eq(value, expect);
}

/* One-shot: open spec, look key up, close. */
static void
spec_is(const char *spec, const char *key, const char *expect)
{
	struct table *t = open_ok(spec, 0);

	lookup_is(t, key, expect);
	table_close(t);
}

static void
build_ok(const char *spec)
{
	char *err = NULL;

	ck_assert_msg(table_build(spec, 0, &err) == 0, "build %s: %s", spec,
	    err ? err : "?");
	ck_assert_ptr_null(err);
}

static void
build_fails(const char *spec, const char *expect)
{
	char *err = NULL;

	ck_assert_int_eq(table_build(spec, 0, &err), -1);
	ck_assert_ptr_nonnull(err);
	assert_contains(err, expect);
	free(err);
}

/* Runs a shell command; returns its exit status, stdout in *out. */
static int
run(const char *cmd, char **out)
{
	char *full = xasprintf("%s 2>%s/stderr", cmd, tmpdir);
	int status = tu_run_status(full, out);

	free(full);
	return status;
}

static char *
run_stderr(void)
{
	char *path = xasprintf("%s/stderr", tmpdir);
	char *text = tu_slurp(path, NULL);

	free(path);
	return text;
}

static void
set_mtime(const char *path, time_t when)
{
	struct timeval tv[2] = { { when, 0 }, { when, 0 } };

	ck_assert_int_eq(utimes(path, tv), 0);
}

/* ---- texthash and the text syntax ---- */

START_TEST(test_texthash_syntax)
{
	char *path = write_file("transport",
	    "# a comment\n"
	    "Example.COM   smtp:[mx.example.com]:25  \n"
	    "  # an indented comment inside a record\n"
	    "sub.example.com  first\n"
	    "  continued   part\n"
	    "\n"
	    "   \t\n"
	    "\tand more\n"
	    ".Parent.Example\tsecure match=nexthop:dot-nexthop\n"
	    "crlf.example crlf-value\r\n"
	    "valueonnext\n"
	    "  the value\n"
	    "hash.example a # not a comment\n"
	    "last.example no newline at end");
	char *spec = xasprintf("texthash:%s", path);
	struct table *t = open_ok(spec, 0);

	lookup_is(t, "example.com", "smtp:[mx.example.com]:25");
	/* Lookups fold the key as the file's keys were folded. */
	lookup_is(t, "EXAMPLE.com", "smtp:[mx.example.com]:25");
	/* A continuation line keeps its white space; comment and blank lines
	 * inside a record do not end it. */
	lookup_is(t, "sub.example.com", "first  continued   part\tand more");
	lookup_is(t, ".parent.example", "secure match=nexthop:dot-nexthop");
	lookup_is(t, "crlf.example", "crlf-value");
	lookup_is(t, "valueonnext", "the value");
	lookup_is(t, "hash.example", "a # not a comment");
	lookup_is(t, "last.example", "no newline at end");
	lookup_is(t, "# a comment", NULL);
	lookup_is(t, "nothere.example", NULL);
	lookup_is(t, "", NULL);
	ck_assert_str_eq(table_name(t), spec);
	table_close(t);
	free(spec);
	free(path);
}
END_TEST

START_TEST(test_texthash_no_fold)
{
	char *path = write_file("t", "MixedKey Value\n");
	char *spec = xasprintf("texthash:%s", path);
	struct table *t = open_ok(spec, TABLE_NO_FOLD);

	lookup_is(t, "MixedKey", "Value");
	lookup_is(t, "mixedkey", NULL);
	table_close(t);
	t = open_ok(spec, 0);
	lookup_is(t, "mixedkey", "Value");
	lookup_is(t, "MIXEDKEY", "Value");
	table_close(t);
	free(spec);
	free(path);
}
END_TEST

START_TEST(test_texthash_duplicate_warns_first_wins)
{
	char *path = write_file("dup", "a first\nb x\n# c\nA second\n");
	char *spec = xasprintf("texthash:%s", path);
	char *expect = xasprintf("warning: %s:4: duplicate entry: \"a\"",
	    path);
	struct table *t;
	char *log;

	listen_begin();
	t = open_ok(spec, 0);
	log = listen_end();
	assert_contains(log, expect);
	lookup_is(t, "a", "first");
	table_close(t);
	free(log);
	free(expect);
	free(spec);
	free(path);
}
END_TEST

START_TEST(test_texthash_alias_format_warns)
{
	char *path = write_file("aliases", "postmaster: root\n");
	char *spec = xasprintf("texthash:%s", path);
	struct table *t;
	char *log;

	listen_begin();
	t = open_ok(spec, 0);
	log = listen_end();
	assert_contains(log, ":1: record is in \"key: value\" format");
	lookup_is(t, "postmaster:", "root");
	table_close(t);
	free(log);
	free(spec);
	free(path);
}
END_TEST

/* Each malformed source must fail with "FILE:LINE: what". */
static void
texthash_error(const char *text, size_t len, int line, const char *what)
{
	char *path = write_bytes("bad", text, len);
	char *spec = xasprintf("texthash:%s", path);
	char *expect = xasprintf("%s:%d: %s", path, line, what);

	open_fails(spec, expect);
	free(expect);
	free(spec);
	free(path);
}

START_TEST(test_texthash_errors)
{
	static const char nul[] = "a 1\nb\0c 2\n";

	texthash_error("a 1\nnovalue\n", 12, 2,
	    "expected format: key whitespace value");
	/* The line of a record is its first line. */
	texthash_error("a 1\n# c\nb\n\n  \n# x\nc 3\n", 22, 3,
	    "expected format: key whitespace value");
	texthash_error("  lead value\n", 13, 1,
	    "logical line must not start with white space");
	texthash_error(nul, sizeof(nul) - 1, 2, "NUL byte in line");
	open_fails("texthash:/nonexistent/table", "open /nonexistent/table:");
}
END_TEST

START_TEST(test_open_text)
{
	static const char text[] = "Key1 v1\nkey2 v2\n";
	char *err = NULL;
	struct table *t = table_open_text("texthash", "mem", text,
	    sizeof(text) - 1, 0, &err);

	ck_assert_ptr_nonnull(t);
	lookup_is(t, "KEY1", "v1");
	lookup_is(t, "key2", "v2");
	ck_assert_int_eq(table_changed(t), 0);
	table_close(t);
	t = table_open_text("texthash", "mem", "x\n", 2, 0, &err);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err, "mem:1: expected format: key whitespace value");
	free(err);
	t = table_open_text("inline", "mem", "x", 1, 0, &err);
	ck_assert_ptr_null(t);
	free(err);
}
END_TEST

/* ---- specs ---- */

START_TEST(test_bad_specs)
{
	open_fails("nocolon", "expecting \"type:name\" form instead of "
	    "\"nocolon\"");
	open_fails("hash:", "expecting \"type:name\" form");
	open_fails(":x", "expecting \"type:name\" form");
	open_fails("static:", "expecting \"type:name\" form");
	open_fails("lmdb:/etc/x", "unsupported table type \"lmdb\"");
	open_fails("hash:/nonexistent/x", "open database /nonexistent/x.db");
}
END_TEST

/* ---- inline: and static: ---- */

START_TEST(test_inline)
{
	const char *spec = "inline:{ a=1, { b = two words }, C=3,"
	    "{ d = x, y },e=={x} ,,\tf=g}";
	struct table *t = open_ok(spec, 0);

	lookup_is(t, "a", "1");
	lookup_is(t, "B", "two words");
	lookup_is(t, "c", "3");
	lookup_is(t, "d", "x, y");
	lookup_is(t, "e", "={x}");
	lookup_is(t, "f", "g");
	lookup_is(t, "g", NULL);
	table_close(t);
	/* A later entry replaces an earlier one, as in Postfix. */
	spec_is("inline:{a=1,a=2}", "a", "2");
	spec_is("inline:{b={x}}", "b", "{x}");
	spec_is("inline:{{b==x}}", "b", "=x");
	spec_is("inline:{b=x\n}", "b", "x");
	t = open_ok("inline:{Key=v}", TABLE_NO_FOLD);
	lookup_is(t, "Key", "v");
	lookup_is(t, "key", NULL);
	table_close(t);
}
END_TEST

START_TEST(test_inline_errors)
{
	open_fails("inline:{}", "bad syntax: \"inline:{}\"; need "
	    "\"inline:{name=value...}\"");
	open_fails("inline:{ }", "bad syntax");
	open_fails("inline:{a=1", "bad syntax");
	open_fails("inline:a=1", "bad syntax");
	open_fails("inline:{a=1}x", "bad syntax");
	open_fails("inline:{b=x}y}", "bad syntax");
	open_fails("inline:{a}", "missing '=' after attribute name");
	open_fails("inline:{ a = 1 }", "missing '=' after attribute name");
	open_fails("inline:{b=x y}", "missing '=' after attribute name");
	open_fails("inline:{{x y = 1}}", "missing '=' after attribute name");
	open_fails("inline:{{=x}}", "missing '=' after attribute name");
	open_fails("inline:{{a=1} x}", "missing '=' after attribute name");
	open_fails("inline:{a=}", "key a: empty value");
	open_fails("inline:{a={b}", "bad syntax");
}
END_TEST

START_TEST(test_static)
{
	struct table *t = open_ok("static:Relay-Value", 0);

	lookup_is(t, "anything", "Relay-Value");
	lookup_is(t, "ANY.other", "Relay-Value");
	table_close(t);
	spec_is("static:{ a value with spaces }", "x", "a value with spaces");
	open_fails("static:{a", "bad syntax");
}
END_TEST

/* ---- cidr: ---- */

static const char cidr_text[] =
    "# first match wins\n"
    "192.168.1.0/24  first\n"
    "192.168.0.0/16 second  x\n"
    "10.0.0.1 host\n"
    "[2001:db8::]/32 v6\n"
    "2001:db8:1::/48 v6b\n"
    "!172.16.0.0/12 notpriv\n"
    "10.0.0.0/8\n"
    "  cont\n"
    "0.0.0.0/0 any\n";

START_TEST(test_cidr_first_match)
{
	char *path = write_file("c.cidr", cidr_text);
	char *spec = xasprintf("cidr:%s", path);
	struct table *t = open_ok(spec, 0);

	lookup_is(t, "192.168.1.5", "first");
	lookup_is(t, "192.168.2.1", "second  x");
	lookup_is(t, "10.0.0.1", "host");
	lookup_is(t, "2001:db8::1", "v6");
	/* The /48 comes after the /32 that already matches. */
	lookup_is(t, "2001:db8:1::1", "v6");
	lookup_is(t, "2001:DB8::1", "v6");
	lookup_is(t, "[2001:db8::1]", "v6");
	/* "!172.16.0.0/12": every IPv4 address outside it... */
	lookup_is(t, "8.8.8.8", "notpriv");
	lookup_is(t, "10.9.9.9", "notpriv");
	lookup_is(t, "172.16.1.1", "any");
	/* ...but it says nothing about IPv6. */
	lookup_is(t, "::1", NULL);
	lookup_is(t, "not-an-address", NULL);
	lookup_is(t, "", NULL);
	table_close(t);
	free(spec);
	free(path);
}
END_TEST

START_TEST(test_cidr_if_endif)
{
	char *path = write_file("c2.cidr",
	    "if 10.0.0.0/8\n"
	    "if !10.1.0.0/16\n"
	    "10.0.0.0/8 ten-not-10.1\n"
	    "endif\n"
	    "10.1.2.0/24 ten-one-two\n"
	    "endif\n"
	    "IF 192.168.0.0/16\n"
	    "192.168.1.1 inner\n"
	    "ENDIF\n"
	    "10.0.0.0/8 fallback\n"
	    "if ::/0\n"
	    "::1 loop6\n"
	    "endif\n");
	char *spec = xasprintf("cidr:%s", path);
	struct table *t = open_ok(spec, 0);

	lookup_is(t, "10.2.0.1", "ten-not-10.1");
	lookup_is(t, "10.1.2.3", "ten-one-two");
	lookup_is(t, "10.1.3.3", "fallback");
	lookup_is(t, "192.168.1.1", "inner");
	lookup_is(t, "192.168.1.2", NULL);
	lookup_is(t, "1.1.1.1", NULL);
	lookup_is(t, "::1", "loop6");
	table_close(t);
	free(spec);
	free(path);
}
END_TEST

static void
cidr_error(const char *text, int line, const char *what)
{
	char *path = write_file("bad.cidr", text);
	char *spec = xasprintf("cidr:%s", path);
	char *expect = line > 0 ? xasprintf("%s:%d: %s", path, line, what) :
	    xstrdup(what);

	open_fails(spec, expect);
	free(expect);
	free(spec);
	free(path);
}

START_TEST(test_cidr_errors)
{
	cidr_error("1.0.0.0/8 ok\n10.1.0.1/8 bad\n", 2,
	    "non-null host address bits in \"10.1.0.1/8\", perhaps you should "
	    "use \"10.0.0.0/8\" instead");
	cidr_error("2001:db8::1/32 bad\n", 1,
	    "non-null host address bits in \"2001:db8::1/32\", perhaps you "
	    "should use \"2001:db8::/32\" instead");
	cidr_error("10.0.0.0/33 a\n", 1, "bad mask length in \"10.0.0.0/33\"");
	cidr_error("::/129 a\n", 1, "bad mask length");
	cidr_error("10.0.0.0/ a\n", 1, "bad mask length");
	cidr_error("1.2.3 b\n", 1, "bad address pattern: \"1.2.3\"");
	cidr_error("example.com b\n", 1, "bad address pattern");
	cidr_error("10.0.0.0/8\n", 1, "no lookup result");
	cidr_error("endif\n", 1, "ENDIF without IF");
	cidr_error("a.b 1\n", 1, "bad address pattern");
	cidr_error("1.0.0.0/8 x\nif 10.0.0.0/8\nif 10.0.0.0/16\nendif\n", 2,
	    "IF has no matching ENDIF");
	cidr_error("if 1.0.0.0/8 junk\nendif\n", 1, "bad pattern");
	cidr_error("if\nendif\n", 1, "bad address pattern");
}
END_TEST

START_TEST(test_cidr_inline)
{
	spec_is("cidr:{{10.0.0.0/8 x y}, {0.0.0.0/0 z}}", "10.1.1.1", "x y");
	spec_is("cidr:{{10.0.0.0/8 x y}, {0.0.0.0/0 z}}", "1.0.0.1", "z");
	spec_is("cidr:{ {if 10.0.0.0/8}, {10.1.0.0/16 y}, {endif}}",
	    "10.1.1.1", "y");
	open_fails("cidr:{10.0.0.0/8 x}", "no '{' at start of text");
	open_fails("cidr:{ {10.0.0.0/8 x}", "missing '}'");
	open_fails("cidr:{ {10.0.0.0/33 x} }", ":1: bad mask length");
}
END_TEST

/* ---- hash: and btree: ---- */

static const char source_text[] =
    "# transport\n"
    "Example.COM   smtp:[mx.example.com]:25\n"
    "sub.example.com  first\n"
    "  continued   part\n"
    "dup.example first-value\n"
    "DUP.example second-value\n"
    "[mx.example.net]:587 secure match=mx.example.net\n";

static void
check_source_lookups(struct table *t)
{
	lookup_is(t, "example.com", "smtp:[mx.example.com]:25");
	lookup_is(t, "EXAMPLE.COM", "smtp:[mx.example.com]:25");
	lookup_is(t, "sub.example.com", "first  continued   part");
	lookup_is(t, "dup.example", "first-value");
	lookup_is(t, "[MX.example.net]:587", "secure match=mx.example.net");
	lookup_is(t, "missing.example", NULL);
}

/* Reads a raw record: 1 if key (exactly key_len bytes) is stored with
 * exactly the value bytes given. */
static int
raw_record_is(const char *db_path, DBTYPE type, const char *key,
    size_t key_len, const char *value, size_t value_len)
{
	DB *db;
	DBT k, v;
	int ok;

	ck_assert_int_eq(db_create(&db, NULL, 0), 0);
	ck_assert_int_eq(db->open(db, NULL, db_path, NULL, type, DB_RDONLY,
	    0), 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)key_len;
	ok = db->get(db, NULL, &k, &v, 0) == 0 && v.size == value_len &&
	    memcmp(v.data, value, value_len) == 0;
	db->close(db, 0);
	return ok;
}

static void
round_trip(const char *type, DBTYPE dbtype)
{
	char *path = write_file("transport", source_text);
	char *spec = xasprintf("%s:%s", type, path);
	char *db_path = xasprintf("%s.db", path);
	char *expect = xasprintf("%s:6: duplicate entry: \"dup.example\"",
	    path);
	struct table *t;
	char *log;

	listen_begin();
	build_ok(spec);
	log = listen_end();
	assert_contains(log, expect);
	/* postmap's layout: folded key and value, each with its NUL. */
	ck_assert(raw_record_is(db_path, dbtype, "example.com", 12,
	    "smtp:[mx.example.com]:25", 25));
	ck_assert(!raw_record_is(db_path, dbtype, "example.com", 11,
	    "smtp:[mx.example.com]:25", 25));
	t = open_ok(spec, 0);
	check_source_lookups(t);
	ck_assert_int_eq(table_changed(t), 0);
	table_close(t);
	free(log);
	free(expect);
	free(db_path);
	free(spec);
	free(path);
}

START_TEST(test_hash_round_trip)
{
	round_trip("hash", DB_HASH);
}
END_TEST

START_TEST(test_btree_round_trip)
{
	round_trip("btree", DB_BTREE);
}
END_TEST

START_TEST(test_db_wrong_type)
{
	char *path = write_file("t", "a b\n");
	char *spec = xasprintf("hash:%s", path);
	char *other = xasprintf("btree:%s", path);

	build_ok(spec);
	open_fails(other, "open database");
	free(other);
	free(spec);
	free(path);
}
END_TEST

/* A database whose keys and values carry no trailing NUL (written by
 * another program) reads as well. */
START_TEST(test_db_without_nul)
{
	char *path = xasprintf("%s/nonul", tmpdir);
	char *db_path = xasprintf("%s.db", path);
	char *spec = xasprintf("hash:%s", path);
	struct table *t;
	DB *db;
	DBT k, v;

	ck_assert_int_eq(db_create(&db, NULL, 0), 0);
	ck_assert_int_eq(db->open(db, NULL, db_path, NULL, DB_HASH,
	    DB_CREATE, 0644), 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "key.example";
	k.size = 11;
	v.data = "value without nul";
	v.size = 17;
	ck_assert_int_eq(db->put(db, NULL, &k, &v, 0), 0);
	ck_assert_int_eq(db->close(db, 0), 0);

	t = open_ok(spec, 0);
	lookup_is(t, "KEY.example", "value without nul");
	lookup_is(t, "other", NULL);
	lookup_is(t, "key.example", "value without nul");
	table_close(t);
	free(spec);
	free(db_path);
	free(path);
}
END_TEST

START_TEST(test_build_errors)
{
	char *path = write_file("src", "good value\nbad\n");
	char *spec = xasprintf("hash:%s", path);
	char *expect = xasprintf("%s:2: expected format: key whitespace value",
	    path);
	char *db_path = xasprintf("%s.db", path);

	build_fails(spec, expect);
	/* Nothing is left behind: no database, no temporary file. */
	ck_assert_int_ne(access(db_path, F_OK), 0);
	build_fails("texthash:/etc/x", "only hash: and btree: are built");
	build_fails("hash:/nonexistent/src", "open /nonexistent/src:");
	build_fails("nocolon", "expecting \"type:name\" form");
	free(db_path);
	free(expect);
	free(spec);
	free(path);
}
END_TEST

/* Files a build left beside the database ("NAME.db.tmpXXXXXX"). */
static int
count_temporary_files(void)
{
	DIR *dir = opendir(tmpdir);
	struct dirent *d;
	int n = 0;

	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir)) != NULL)
		if (strstr(d->d_name, ".tmp") != NULL)
			n++;
	closedir(dir);
	return n;
}

/* A reader that has the old database open keeps reading it, unharmed,
 * while a new one replaces it; a failed build leaves the old one. */
START_TEST(test_build_is_atomic)
{
	char *path = write_file("policy", "a.example old-a\nb.example old-b\n");
	char *spec = xasprintf("hash:%s", path);
	char *db_path = xasprintf("%s.db", path);
	struct table *old, *fresh;
	struct stat before, after;
	FILE *fp;

	build_ok(spec);
	old = open_ok(spec, 0);
	lookup_is(old, "a.example", "old-a");
	ck_assert_int_eq(stat(db_path, &before), 0);

	/* Big enough that the new file differs in every page. */
	fp = fopen(path, "w");
	for (int i = 0; i < 5000; i++)
		fprintf(fp, "k%d.example new-%d\n", i, i);
	fprintf(fp, "a.example new-a\n");
	fclose(fp);
	build_ok(spec);
	ck_assert_int_eq(stat(db_path, &after), 0);
	ck_assert(before.st_ino != after.st_ino);
	ck_assert_int_eq(count_temporary_files(), 0);

	lookup_is(old, "a.example", "old-a");
	lookup_is(old, "b.example", "old-b");
	lookup_is(old, "k1.example", NULL);
	ck_assert_int_eq(table_changed(old), 1);
	fresh = open_ok(spec, 0);
	lookup_is(fresh, "a.example", "new-a");
	lookup_is(fresh, "k4999.example", "new-4999");
	lookup_is(fresh, "b.example", NULL);
	ck_assert_int_eq(table_changed(fresh), 0);

	/* A broken source: the build fails, the database stays. */
	fp = fopen(path, "a");
	fprintf(fp, "broken\n");
	fclose(fp);
	build_fails(spec, ":5002: expected format");
	ck_assert_int_eq(count_temporary_files(), 0);
	ck_assert_int_eq(table_changed(fresh), 0);
	table_close(fresh);
	fresh = open_ok(spec, 0);
	lookup_is(fresh, "a.example", "new-a");
	table_close(fresh);
	table_close(old);
	free(db_path);
	free(spec);
	free(path);
}
END_TEST

START_TEST(test_build_keeps_secret_mode)
{
	char *path = write_file("sasl_passwd", "[mx]:587 user:secret\n");
	char *spec = xasprintf("hash:%s", path);
	char *db_path = xasprintf("%s.db", path);
	struct stat st;

	ck_assert_int_eq(chmod(path, 0600), 0);
	build_ok(spec);
	ck_assert_int_eq(stat(db_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(chmod(path, 0644), 0);
	build_ok(spec);
	ck_assert_int_eq(stat(db_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	free(db_path);
	free(spec);
	free(path);
}
END_TEST

START_TEST(test_stale_db_warning)
{
	char *path = write_file("stale", "k v\n");
	char *spec = xasprintf("hash:%s", path);
	char *db_path = xasprintf("%s.db", path);
	char *expect = xasprintf("warning: database %s is older than source "
	    "file %s", db_path, path);
	time_t now = time(NULL);
	struct table *t;
	char *log;

	build_ok(spec);
	/* Fresh database: quiet. */
	set_mtime(path, now - 300);
	set_mtime(db_path, now - 200);
	listen_begin();
	t = open_ok(spec, 0);
	log = listen_end();
	ck_assert_msg(strstr(log, "older than") == NULL, "log: %s", log);
	table_close(t);
	free(log);

	/* Source edited after the build. */
	set_mtime(path, now - 200);
	set_mtime(db_path, now - 300);
	listen_begin();
	t = open_ok(spec, 0);
	log = listen_end();
	assert_contains(log, expect);
	lookup_is(t, "k", "v");
	table_close(t);
	free(log);

	/* Edited seconds ago: probably being rebuilt right now (Postfix
	 * waits 100 seconds too). */
	set_mtime(path, now - 5);
	listen_begin();
	t = open_ok(spec, 0);
	log = listen_end();
	ck_assert_msg(strstr(log, "older than") == NULL, "log: %s", log);
	table_close(t);
	free(log);
	free(expect);
	free(db_path);
	free(spec);
	free(path);
}
END_TEST

/* A database damaged under an open table: the lookup reports an error
 * (the caller defers) instead of "not found". */
START_TEST(test_db_lookup_error)
{
	char *path = xasprintf("%s/big", tmpdir);
	char *spec = xasprintf("hash:%s", path);
	char *db_path = xasprintf("%s.db", path);
	struct table *t;
	FILE *fp = fopen(path, "w");
	int errors = 0, error;
	long size;

	for (int i = 0; i < 2000; i++)
		fprintf(fp, "key%d value-%d\n", i, i);
	fclose(fp);
	build_ok(spec);
	BDB_PANIC_LEAKS_BEGIN();
	t = open_ok(spec, 0);
	fp = fopen(db_path, "r+");
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp, 8192, SEEK_SET);
	for (long i = 8192; i < size; i++)
		fputc(0xAA, fp);
	fclose(fp);
	listen_begin();
	for (int i = 0; i < 2000; i += 13) {
		char key[32];
		const char *value;

		snprintf(key, sizeof(key), "key%d", i);
		value = table_lookup(t, key, &error);
		if (error) {
			ck_assert_ptr_null(value);
			errors++;
		}
	}
	free(listen_end());
	ck_assert_int_gt(errors, 0);
	table_close(t);
	BDB_PANIC_LEAKS_END();
	free(db_path);
	free(spec);
	free(path);
}
END_TEST

/* ---- interop with the real postmap ---- */

static char *
postmap_confdir(void)
{
	char *dir = xasprintf("%s/pfconf", tmpdir);
	char *main_cf = xasprintf("%s/main.cf", dir);
	FILE *fp;

	ck_assert_msg(access(POSTMAP, X_OK) == 0, "%s not found: these tests "
	    "need the Debian package postfix", POSTMAP);
	mkdir(dir, 0755);
	fp = fopen(main_cf, "w");
	ck_assert_ptr_nonnull(fp);
	fclose(fp);
	free(main_cf);
	return dir;
}

/* postmap -q key spec: its stdout without the newline, or NULL (exit 1). */
static char *
postmap_query(const char *confdir, const char *key, const char *spec)
{
	char *cmd = xasprintf("%s -c %s -q '%s' %s", POSTMAP, confdir, key,
	    spec);
	char *out = NULL;
	int rc = run(cmd, &out);
	size_t len = strlen(out);

	free(cmd);
	if (rc != 0) {
		char *err = run_stderr();

		ck_assert_msg(rc == 1 && len == 0 && err[0] == '\0',
		    "postmap -q %s %s: exit %d: %s", key, spec, rc, err);
		free(err);
		free(out);
		return NULL;
	}
	if (len > 0 && out[len - 1] == '\n')
		out[len - 1] = '\0';
	return out;
}

static void
postmap_says(const char *confdir, const char *key, const char *spec,
    const char *expect)
{
	char *value = postmap_query(confdir, key, spec);

	if (expect == NULL) {
		ck_assert_msg(value == NULL, "postmap: %s gave %s", key, value);
		return;
	}
	ck_assert_msg(value != NULL, "postmap: %s not found in %s", key, spec);
	ck_assert_str_eq(value, expect);
	free(value);
}

static void
postmap_reads_ours(const char *type)
{
	char *confdir = postmap_confdir();
	char *path = write_file("transport", source_text);
	char *spec = xasprintf("%s:%s", type, path);

	listen_begin();
	build_ok(spec);
	free(listen_end());
	postmap_says(confdir, "example.com", spec, "smtp:[mx.example.com]:25");
	postmap_says(confdir, "Example.Com", spec, "smtp:[mx.example.com]:25");
	postmap_says(confdir, "sub.example.com", spec,
	    "first  continued   part");
	postmap_says(confdir, "dup.example", spec, "first-value");
	postmap_says(confdir, "[mx.example.net]:587", spec,
	    "secure match=mx.example.net");
	postmap_says(confdir, "missing.example", spec, NULL);
	free(spec);
	free(path);
	free(confdir);
}

START_TEST(test_postmap_reads_our_hash)
{
	postmap_reads_ours("hash");
}
END_TEST

START_TEST(test_postmap_reads_our_btree)
{
	postmap_reads_ours("btree");
}
END_TEST

static void
we_read_postmaps(const char *type)
{
	char *confdir = postmap_confdir();
	char *path = write_file("transport", source_text);
	char *spec = xasprintf("%s:%s", type, path);
	char *cmd = xasprintf("%s -c %s %s", POSTMAP, confdir, spec);
	struct table *t;

	ck_assert_int_eq(run(cmd, NULL), 0);
	t = open_ok(spec, 0);
	check_source_lookups(t);
	table_close(t);
	free(cmd);
	free(spec);
	free(path);
	free(confdir);
}

START_TEST(test_we_read_postmap_hash)
{
	we_read_postmaps("hash");
}
END_TEST

START_TEST(test_we_read_postmap_btree)
{
	we_read_postmaps("btree");
}
END_TEST

/* The text types agree with postmap -q on the same sources. */
START_TEST(test_postmap_agrees_on_text_types)
{
	char *confdir = postmap_confdir();
	char *path = write_file("c.cidr", cidr_text);
	char *spec = xasprintf("cidr:%s", path);
	static const char *addresses[] = {
		"192.168.1.5", "192.168.2.1", "10.0.0.1", "2001:db8::1",
		"2001:db8:1::1", "8.8.8.8", "172.16.1.1", "::1", "x",
	};
	static const char *inline_spec =
	    "'inline:{ a=1, { b = two words }, C=3, { d = x, y }, e=={x} }'";
	static const char *inline_keys[] = { "a", "b", "c", "d", "e", "f" };
	struct table *t = open_ok(spec, 0);
	struct table *it;

	for (size_t i = 0; i < sizeof(addresses) / sizeof(*addresses); i++) {
		const char *ours = table_lookup(t, addresses[i], NULL);

		postmap_says(confdir, addresses[i], spec, ours);
	}
	table_close(t);
	it = open_ok("inline:{ a=1, { b = two words }, C=3, { d = x, y }, "
	    "e=={x} }", 0);
	for (size_t i = 0; i < sizeof(inline_keys) / sizeof(*inline_keys);
	    i++)
		postmap_says(confdir, inline_keys[i], inline_spec,
		    table_lookup(it, inline_keys[i], NULL));
	table_close(it);
	free(spec);
	free(path);
	path = write_file("th", source_text);
	spec = xasprintf("texthash:%s", path);
	listen_begin();
	t = open_ok(spec, 0);
	free(listen_end());
	postmap_says(confdir, "sub.example.com", spec,
	    table_lookup(t, "sub.example.com", NULL));
	postmap_says(confdir, "dup.example", spec,
	    table_lookup(t, "dup.example", NULL));
	table_close(t);
	free(spec);
	free(path);
	free(confdir);
}
END_TEST

/* ---- lists of tables ---- */

START_TEST(test_table_list)
{
	char *path = write_file("t", "a.example from-file\nb.example b\n");
	char *value = xasprintf("inline:{ a.example=from-inline, "
	    "{ c.example = c c } },\n  texthash:%s static:fallback", path);
	char *err = NULL;
	struct table_list *list = table_list_open(value, 0, &err);
	const char *v;
	int error = -1;

	ck_assert_msg(list != NULL, "%s", err ? err : "?");
	ck_assert_uint_eq(table_list_count(list), 3);
	v = table_list_lookup(list, "A.example", &error);
	ck_assert_int_eq(error, 0);
	ck_assert_str_eq(v, "from-inline");
	ck_assert_str_eq(table_name(table_list_last(list)),
	    "inline:{ a.example=from-inline, { c.example = c c } }");
	ck_assert_str_eq(table_list_lookup(list, "b.example", &error), "b");
	ck_assert_str_eq(table_list_lookup(list, "c.example", &error), "c c");
	ck_assert_str_eq(table_list_lookup(list, "zzz", &error), "fallback");
	ck_assert_int_eq(table_list_changed(list), 0);
	table_list_close(list);

	list = table_list_open("", 0, &err);
	ck_assert_ptr_nonnull(list);
	ck_assert_ptr_null(table_list_lookup(list, "x", &error));
	ck_assert_ptr_null(table_list_last(list));
	table_list_close(list);

	ck_assert_ptr_null(table_list_open("static:x, hash:/nonexistent/y",
	    0, &err));
	assert_contains(err, "/nonexistent/y.db");
	free(err);
	ck_assert_ptr_null(table_list_open("inline:{a=1", 0, &err));
	assert_contains(err, "missing '}'");
	free(err);
	free(value);
	free(path);
}
END_TEST

START_TEST(test_table_list_stops_on_error)
{
	char *path = xasprintf("%s/big", tmpdir);
	char *db_path = xasprintf("%s.db", path);
	char *spec = xasprintf("hash:%s", path);
	char *value = xasprintf("%s static:must-not-answer", spec);
	struct table_list *list;
	char *err = NULL;
	FILE *fp = fopen(path, "w");
	int error = 0, saw_error = 0;
	long size;

	for (int i = 0; i < 2000; i++)
		fprintf(fp, "key%d value-%d\n", i, i);
	fclose(fp);
	build_ok(spec);
	BDB_PANIC_LEAKS_BEGIN();
	list = table_list_open(value, 0, &err);
	ck_assert_ptr_nonnull(list);
	fp = fopen(db_path, "r+");
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp, 8192, SEEK_SET);
	for (long i = 8192; i < size; i++)
		fputc(0xAA, fp);
	fclose(fp);
	listen_begin();
	for (int i = 0; i < 2000 && !saw_error; i += 13) {
		char key[32];
		const char *v;

		snprintf(key, sizeof(key), "key%d", i);
		v = table_list_lookup(list, key, &error);
		if (error) {
			ck_assert_ptr_null(v);
			saw_error = 1;
		}
	}
	free(listen_end());
	ck_assert_int_eq(saw_error, 1);
	table_list_close(list);
	BDB_PANIC_LEAKS_END();
	free(value);
	free(spec);
	free(db_path);
	free(path);
}
END_TEST

START_TEST(test_changed)
{
	char *path = write_file("t", "a 1\n");
	char *spec = xasprintf("texthash:%s", path);
	struct table *t = open_ok(spec, 0);
	struct table *i = open_ok("inline:{a=1}", 0);
	FILE *fp;

	ck_assert_int_eq(table_changed(t), 0);
	ck_assert_int_eq(table_changed(i), 0);
	fp = fopen(path, "a");
	fprintf(fp, "b 2\n");
	fclose(fp);
	ck_assert_int_eq(table_changed(t), 1);
	lookup_is(t, "b", NULL);
	table_close(t);
	table_close(i);
	free(spec);
	free(path);
}
END_TEST

/* ---- the type registry ---- */

START_TEST(test_registry_lists_every_type)
{
	static const char *const expect[] = {
		"hash", "btree", "texthash", "inline", "cidr", "static",
	};
	char *names = xstrdup(table_types()), *save = NULL, *name;
	size_t n = 0;

	ck_assert_str_eq(names, "hash btree texthash inline cidr static");
	/* Every listed type opens, or fails for a reason of its own, never
	 * as an unknown type. */
	for (name = strtok_r(names, " ", &save); name != NULL;
	    name = strtok_r(NULL, " ", &save), n++) {
		char *spec = xasprintf("%s:/nonexistent/x", name), *err = NULL;
		struct table *t = table_open(spec, 0, &err);

		ck_assert_str_eq(name, expect[n]);
		if (t == NULL)
			ck_assert_msg(strstr(err, "unsupported") == NULL,
			    "%s: %s", spec, err);
		table_close(t);
		free(err);
		free(spec);
	}
	ck_assert_uint_eq(n, sizeof(expect) / sizeof(expect[0]));
	free(names);
	/* What tlsrelay passwd may edit, and what it must build. */
	ck_assert_int_eq(table_type_flags("hash"),
	    TABLE_TYPE_SOURCE | TABLE_TYPE_BUILT);
	ck_assert_int_eq(table_type_flags("btree"),
	    TABLE_TYPE_SOURCE | TABLE_TYPE_BUILT);
	ck_assert_int_eq(table_type_flags("texthash"), TABLE_TYPE_SOURCE);
	ck_assert_int_eq(table_type_flags("cidr"), 0);
	ck_assert_int_eq(table_type_flags("inline"), 0);
	ck_assert_int_eq(table_type_flags("lmdb"), 0);
}
END_TEST

START_TEST(test_unknown_type_names_the_supported)
{
	char *expect = xasprintf("unsupported table type \"foo\" in "
	    "\"foo:/etc/x\" (supported: %s)", table_types());
	char *err = NULL;

	open_fails("foo:/etc/x", expect);
	build_fails("foo:/etc/x", expect);
	/* Only types with a text source open from memory. */
	ck_assert_ptr_null(table_open_text("inline", "label", "a b", 3, 0,
	    &err));
	ck_assert_str_eq(err, "table type \"inline\" has no text source");
	free(err);
	free(expect);
}
END_TEST

/* ---- lists that open themselves again ---- */

/* Rewrites path and gives it the modification time when, so that a
 * change never hides in the granularity of the clock. */
static void
rewrite(const char *path, const char *text, time_t when)
{
	struct timespec ts[2] = { { when, 0 }, { when, 0 } };
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
list_lookup_is(struct table_list *list, const char *key, const char *expect)
{
	int error = -1;
	const char *value = table_list_lookup(list, key, &error);

	ck_assert_int_eq(error, 0);
	if (expect == NULL)
		ck_assert_ptr_null(value);
	else {
		ck_assert_msg(value != NULL, "key \"%s\" not found", key);
		ck_assert_str_eq(value, expect);
	}
}

static struct table_list *
list_open_ok(const char *value)
{
	char *err = NULL;
	struct table_list *list = table_list_open(value, 0, &err);

	ck_assert_msg(list != NULL, "open %s: %s", value, err ? err : "?");
	return list;
}

START_TEST(test_list_reopens_changed_file)
{
	time_t base = time(NULL) - 3600;
	char *path = write_file("t", "a 1\n");
	char *value = xasprintf("inline:{z=9}, texthash:%s", path);
	char *expect = xasprintf("some_maps: texthash:%s changed: opened "
	    "again", path);
	struct table_list *list;
	char *log;

	rewrite(path, "a 1\n", base);
	list = list_open_ok(value);
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), 0);
	list_lookup_is(list, "a", "1");
	/* Same size, only the time differs. */
	rewrite(path, "a 2\n", base + 1);
	listen_begin();
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), 1);
	list_lookup_is(list, "a", "2");
	list_lookup_is(list, "z", "9");
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), 0);
	log = listen_end();
	assert_contains(log, expect);
	free(log);
	table_list_close(list);
	free(expect);
	free(value);
	free(path);
}
END_TEST

START_TEST(test_list_keeps_old_table_when_new_is_broken)
{
	time_t base = time(NULL) - 3600;
	char *path = write_file("t", "a 1\n");
	char *value = xasprintf("texthash:%s", path);
	char *expect = xasprintf("some_maps: texthash:%s changed but cannot "
	    "be opened again (%s:2: expected format: key whitespace value); "
	    "keeping the old contents", path, path);
	struct table_list *list;
	char *log;

	rewrite(path, "a 1\n", base);
	list = list_open_ok(value);
	rewrite(path, "a 2\nbroken\n", base + 1);
	listen_begin();
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), -1);
	list_lookup_is(list, "a", "1");
	/* One warning per change, not one per lookup. */
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), 0);
	list_lookup_is(list, "a", "1");
	log = listen_end();
	assert_contains(log, expect);
	ck_assert_ptr_null(strstr(strstr(log, expect) + 1, expect));
	free(log);
	/* Mended: the next change is taken. */
	rewrite(path, "a 3\n", base + 2);
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), 1);
	list_lookup_is(list, "a", "3");
	table_list_close(list);
	free(expect);
	free(value);
	free(path);
}
END_TEST

/* A rebuilt .db is a new file (rename); a damaged one keeps the old. */
START_TEST(test_list_reopens_rebuilt_db)
{
	char *path = write_file("t", "a 1\n");
	char *spec = xasprintf("hash:%s", path);
	char *db_path = xasprintf("%s.db", path);
	struct table_list *list;
	char *junk, *log;

	build_ok(spec);
	list = list_open_ok(spec);
	list_lookup_is(list, "a", "1");
	free(write_file("t", "a 2\nb 3\n"));
	build_ok(spec);
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), 1);
	list_lookup_is(list, "a", "2");
	list_lookup_is(list, "b", "3");
	junk = write_file("junk", "not a database\n");
	ck_assert_int_eq(rename(junk, db_path), 0);
	listen_begin();
	ck_assert_int_eq(table_list_refresh(list, "some_maps"), -1);
	log = listen_end();
	list_lookup_is(list, "b", "3");
	assert_contains(log, "some_maps: hash:");
	assert_contains(log, db_path);
	assert_contains(log, "keeping the old contents");
	free(log);
	table_list_close(list);
	free(junk);
	free(db_path);
	free(spec);
	free(path);
}
END_TEST

/* ---- the command ---- */

static const char *
tlsrelay_program(void)
{
	const char *prog = getenv("TLSRELAY");

	if (prog == NULL)
		prog = "./tlsrelay";
	ck_assert_msg(access(prog, X_OK) == 0, "%s: the tlsrelay program is "
	    "needed (set TLSRELAY)", prog);
	return prog;
}

static int
map_command(const char *args, char **out)
{
	char *cmd = xasprintf("%s map %s", tlsrelay_program(), args);
	int rc = run(cmd, out);

	free(cmd);
	return rc;
}

START_TEST(test_command)
{
	char *path = write_file("transport", source_text);
	char *args, *out = NULL, *err_text, *expect;
	char *db_path = xasprintf("%s.db", path);

	/* Without a type: hash, as postmap. */
	ck_assert_int_eq(map_command(path, NULL), 0);
	err_text = run_stderr();
	assert_contains(err_text, ":6: duplicate entry: \"dup.example\"");
	free(err_text);
	ck_assert_int_eq(access(db_path, F_OK), 0);

	args = xasprintf("-q Example.com hash:%s", path);
	ck_assert_int_eq(map_command(args, &out), 0);
	ck_assert_str_eq(out, "smtp:[mx.example.com]:25\n");
	free(out);
	free(args);

	args = xasprintf("-q missing.example hash:%s", path);
	ck_assert_int_eq(map_command(args, &out), 1);
	ck_assert_str_eq(out, "");
	free(out);
	free(args);

	/* Several tables: the first that has the key answers. */
	args = xasprintf("-q dup.example 'inline:{x=y}' texthash:%s "
	    "static:z", path);
	ck_assert_int_eq(map_command(args, &out), 0);
	ck_assert_str_eq(out, "first-value\n");
	free(out);
	free(args);

	args = xasprintf("-f -q Example.com hash:%s", path);
	ck_assert_int_eq(map_command(args, &out), 1);
	free(out);
	free(args);

	args = xasprintf("btree:%s", path);
	ck_assert_int_eq(map_command(args, NULL), 0);
	free(args);
	args = xasprintf("-q sub.example.com btree:%s", path);
	ck_assert_int_eq(map_command(args, &out), 0);
	ck_assert_str_eq(out, "first  continued   part\n");
	free(out);
	free(args);
	free(path);

	/* Errors: exit 1 naming file:line; the old database stays. */
	path = write_file("transport", "good 1\n\nbroken\n");
	ck_assert_int_eq(map_command(path, NULL), 1);
	err_text = run_stderr();
	expect = xasprintf("%s:3: expected format: key whitespace value",
	    path);
	assert_contains(err_text, expect);
	free(expect);
	free(err_text);
	args = xasprintf("btree:%s", path);
	ck_assert_int_eq(map_command(args, NULL), 1);
	free(args);
	args = xasprintf("-q Example.com btree:%s", path);
	ck_assert_int_eq(map_command(args, &out), 0);
	ck_assert_str_eq(out, "smtp:[mx.example.com]:25\n");
	free(out);
	free(args);

	ck_assert_int_eq(map_command("-q x hash:/nonexistent/t", NULL), 1);
	err_text = run_stderr();
	assert_contains(err_text, "open database /nonexistent/t.db");
	free(err_text);
	ck_assert_int_eq(map_command("texthash:/etc/x", NULL), 1);
	ck_assert_int_eq(map_command("-c /nonexistent -q a 'inline:{a=b}'",
	    NULL), 1);
	ck_assert_int_eq(map_command("", NULL), 2);
	free(db_path);
	free(path);
}
END_TEST

static Suite *
table_suite(void)
{
	Suite *s = suite_create("table");
	TCase *tc;

	tc = tcase_create("text");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_texthash_syntax);
	tcase_add_test(tc, test_texthash_no_fold);
	tcase_add_test(tc, test_texthash_duplicate_warns_first_wins);
	tcase_add_test(tc, test_texthash_alias_format_warns);
	tcase_add_test(tc, test_texthash_errors);
	tcase_add_test(tc, test_open_text);
	tcase_add_test(tc, test_bad_specs);
	tcase_add_test(tc, test_inline);
	tcase_add_test(tc, test_inline_errors);
	tcase_add_test(tc, test_static);
	tcase_add_test(tc, test_cidr_first_match);
	tcase_add_test(tc, test_cidr_if_endif);
	tcase_add_test(tc, test_cidr_errors);
	tcase_add_test(tc, test_cidr_inline);
	tcase_add_test(tc, test_table_list);
	tcase_add_test(tc, test_changed);
	tcase_add_test(tc, test_registry_lists_every_type);
	tcase_add_test(tc, test_unknown_type_names_the_supported);
	tcase_add_test(tc, test_list_reopens_changed_file);
	tcase_add_test(tc, test_list_keeps_old_table_when_new_is_broken);
	suite_add_tcase(s, tc);

	tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hash_round_trip);
	tcase_add_test(tc, test_btree_round_trip);
	tcase_add_test(tc, test_db_wrong_type);
	tcase_add_test(tc, test_db_without_nul);
	tcase_add_test(tc, test_build_errors);
	tcase_add_test(tc, test_build_is_atomic);
	tcase_add_test(tc, test_build_keeps_secret_mode);
	tcase_add_test(tc, test_stale_db_warning);
	tcase_add_test(tc, test_db_lookup_error);
	tcase_add_test(tc, test_table_list_stops_on_error);
	tcase_add_test(tc, test_list_reopens_rebuilt_db);
	suite_add_tcase(s, tc);

	tc = tcase_create("postmap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_postmap_reads_our_hash);
	tcase_add_test(tc, test_postmap_reads_our_btree);
	tcase_add_test(tc, test_we_read_postmap_hash);
	tcase_add_test(tc, test_we_read_postmap_btree);
	tcase_add_test(tc, test_postmap_agrees_on_text_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("command");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_command);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(table_suite)
