/* check_scache: the shared TLS session cache. The store (records, expiry,
 * purge, a damaged or deleted file, two processes writing at once), the
 * cache keys, sessions to bytes and back, and real resumption: a server
 * SSL_CTX built twice from the same main.cf (two workers, or before and
 * after a reload) resumes TLS 1.2 session IDs and TLS 1.2/1.3 tickets of
 * the other; our client offers a session only under the policy it was
 * made with. Handshakes run between two SSL objects over a BIO pair. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <db.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "tls_private.h"
#include "tls_scache.h"
#include "scache_int.h"
#include "testutil.h"

static const char *tmpdir;

/* ---- fixtures ---------------------------------------------------------- */

static const struct tu_cert certs[] = {
	{ "ca", "/CN=Scache CA", NULL, "ec", TU_EXT_CA },
	{ "server", "/CN=mx.scache.test", "ca", "ec", TU_EXT_LEAF },
};

static void
make_certs(void)
{
	tmpdir = tu_tmpdir();
	tu_make_certs(tmpdir, certs, sizeof(certs) / sizeof(certs[0]));
}

/* A fresh data_directory per test (tests run in their own processes). */
static char datadir[160];

static void
setup(void)
{
	tu_make_dir(datadir, sizeof(datadir), "data");
}

static void
teardown(void)
{
	scache_shutdown();
}

static char *
path_in(const char *name)
{
	return xasprintf("%s/%s", datadir, name);
}

static struct scache *
store(const char *name)
{
	char *path = path_in(name);
	struct scache *sc = scache_new(datadir, SCACHE_BTREE, path, 0);

	free(path);
	return sc;
}

/* Log lines go to a file the test can read. */
static char *logfile;

static void
log_to_file(void)
{
	char *err = NULL;

	logfile = path_in("maillog");
	ck_assert_int_eq(log_open(logfile, 0, "mail", &err), 0);
}

static int
log_contains(const char *text)
{
	FILE *fp = fopen(logfile, "r");
	char line[2048];
	int found = 0;

	ck_assert_ptr_nonnull(fp);
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, text) != NULL;
	fclose(fp);
	return found;
}

static int
log_count(const char *text)
{
	FILE *fp = fopen(logfile, "r");
	char line[2048];
	int count = 0;

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		count += strstr(line, text) != NULL;
	fclose(fp);
	return count;
}

/* ---- the store ---------------------------------------------------------- */

START_TEST(test_put_get_round_trip)
{
	struct scache *sc = store("roundtrip");
	struct scache_entry e;
	unsigned char blob[300];
	time_t now = time(NULL);

	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (unsigned char)i;	/* NULs included */
	ck_assert_int_eq(scache_get(sc, "k1", now, &e), 0);
	ck_assert_int_eq(scache_put(sc, "k1", now - 5, now + 100, blob,
	    sizeof(blob)), 0);
	ck_assert_int_eq(scache_get(sc, "k1", now, &e), 1);
	ck_assert_int_eq(e.created, now - 5);
	ck_assert_int_eq(e.expires, now + 100);
	ck_assert_uint_eq(e.len, sizeof(blob));
	ck_assert_int_eq(memcmp(e.data, blob, sizeof(blob)), 0);
	free(e.data);
	/* Replacing, and an empty record. */
	ck_assert_int_eq(scache_put(sc, "k1", now, now + 100, "x", 1), 0);
	ck_assert_int_eq(scache_get(sc, "k1", now, &e), 1);
	ck_assert_uint_eq(e.len, 1);
	free(e.data);
	ck_assert_int_eq(scache_put(sc, "empty", now, now + 100, NULL, 0), 0);
	ck_assert_int_eq(scache_get(sc, "empty", now, &e), 1);
	ck_assert_uint_eq(e.len, 0);
	free(e.data);
	ck_assert_int_eq(scache_delete(sc, "k1"), 0);
	ck_assert_int_eq(scache_get(sc, "k1", now, &e), 0);
	ck_assert_ptr_null(e.data);
	/* The file is where the parameter said, with ".db". */
	ck_assert(access(scache_path(sc), F_OK) == 0);
	ck_assert(strstr(scache_path(sc), "/roundtrip.db") != NULL);
	scache_free(sc);
}
END_TEST

START_TEST(test_expiry_and_purge)
{
	struct scache *sc = store("expiry");
	struct scache_entry e;
	struct scache_stats st;
	time_t now = time(NULL);
	char key[32];

	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "old%d", i);
		ck_assert_int_eq(scache_put(sc, key, now - 100, now - 1, "o",
		    1), 0);
		snprintf(key, sizeof(key), "new%d", i);
		ck_assert_int_eq(scache_put(sc, key, now - 10 + i, now + 50,
		    "n", 1), 0);
	}
	ck_assert_int_eq(scache_stats(sc, now, &st), 0);
	ck_assert_uint_eq(st.entries, 20);
	ck_assert_uint_eq(st.expired, 10);
	ck_assert_int_eq(st.oldest, now - 100);
	ck_assert_int_eq(st.newest, now - 1);
	/* An expired record is a miss, and gone afterwards. */
	ck_assert_int_eq(scache_get(sc, "old0", now, &e), 0);
	ck_assert_int_eq(scache_stats(sc, now, &st), 0);
	ck_assert_uint_eq(st.entries, 19);
	/* The same record is good until its expiry time. */
	ck_assert_int_eq(scache_get(sc, "new0", now + 49, &e), 1);
	free(e.data);
	ck_assert_int_eq(scache_get(sc, "new0", now + 50, &e), 0);
	ck_assert_int_eq(scache_purge(sc, now), 9);
	ck_assert_int_eq(scache_purge(sc, now), 0);
	ck_assert_int_eq(scache_stats(sc, now, &st), 0);
	ck_assert_uint_eq(st.entries, 9);
	ck_assert_uint_eq(st.expired, 0);
	ck_assert_int_eq(scache_purge(sc, now + 1000), 9);
	ck_assert_int_eq(scache_stats(sc, now, &st), 0);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_int_eq(st.oldest, 0);
	scache_free(sc);
}
END_TEST

START_TEST(test_garbage_file_recreated)
{
	char *path = path_in("garbage.db");
	struct scache *sc = store("garbage");
	struct scache_entry e;
	time_t now = time(NULL);
	int fd;

	log_to_file();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(write(fd, "this is not a Berkeley DB file\n",
		    31), 31);
	close(fd);
	ck_assert_int_eq(scache_get(sc, "k", now, &e), 0);
	ck_assert(log_contains("cannot open the TLS session cache"));
	ck_assert(log_contains("removing it and creating a new one"));
	ck_assert_int_eq(scache_put(sc, "k", now, now + 10, "v", 1), 0);
	ck_assert_int_eq(scache_get(sc, "k", now, &e), 1);
	free(e.data);
	scache_free(sc);
	/* An empty file too. */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	sc = store("garbage");
	ck_assert_int_eq(scache_put(sc, "k", now, now + 10, "v", 1), 0);
	ck_assert_int_eq(scache_get(sc, "k", now, &e), 1);
	free(e.data);
	scache_free(sc);
	free(path);
	free(logfile);
}
END_TEST

START_TEST(test_deleted_file_recreated)
{
	struct scache *sc = store("deleted");
	struct scache *other = store("deleted");
	struct scache_entry e;
	time_t now = time(NULL);

	log_to_file();
	ck_assert_int_eq(scache_put(sc, "a", now, now + 100, "1", 1), 0);
	ck_assert_int_eq(unlink(scache_path(sc)), 0);
	/* The check runs at most once a second. */
	sleep(1);
	ck_assert_int_eq(scache_put(sc, "b", time(NULL), now + 100, "2", 1),
	    0);
	ck_assert(log_contains("was removed or replaced; opening it again"));
	ck_assert(access(scache_path(sc), F_OK) == 0);
	/* A second handle (another process) sees the new file. */
	ck_assert_int_eq(scache_get(other, "b", time(NULL), &e), 1);
	free(e.data);
	ck_assert_int_eq(scache_get(other, "a", time(NULL), &e), 0);
	scache_free(sc);
	scache_free(other);
	free(logfile);
}
END_TEST

#define WRITERS		3
#define PER_WRITER	600

/* Several processes write at once (the same keys too); every record is
 * whole afterwards and the file passes Berkeley DB's own check. */
START_TEST(test_concurrent_writers)
{
	pid_t pids[WRITERS];
	struct scache *sc;
	struct scache_stats st;
	struct scache_entry e;
	time_t now = time(NULL);
	char key[64], value[256], *cmd;
	int status;
	DB *db;

	for (int w = 0; w < WRITERS; w++) {
		if ((pids[w] = fork()) == 0) {
			struct scache *mine = store("concurrent");
			int bad = 0;

			for (int i = 0; i < PER_WRITER; i++) {
				snprintf(key, sizeof(key), "w%d-%d", w, i);
				snprintf(value, sizeof(value), "%s-%090d",
				    key, i);
				bad += scache_put(mine, key, now, now + 100,
				    value, strlen(value)) != 0;
				snprintf(key, sizeof(key), "shared-%d", i % 7);
				bad += scache_put(mine, key, now, now + 100,
				    value, strlen(value)) != 0;
				if (i % 50 == 0 && scache_get(mine, key, now,
				    &e) == 1)
					free(e.data);
			}
			scache_free(mine);
			scache_shutdown();
			_exit(bad ? 1 : 0);
		}
		ck_assert_int_gt(pids[w], 0);
	}
	for (int w = 0; w < WRITERS; w++) {
		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "writer %d failed", w);
	}
	sc = store("concurrent");
	ck_assert_int_eq(scache_stats(sc, now, &st), 0);
	ck_assert_uint_eq(st.entries, WRITERS * PER_WRITER + 7);
	for (int w = 0; w < WRITERS; w++)
		for (int i = 0; i < PER_WRITER; i++) {
			snprintf(key, sizeof(key), "w%d-%d", w, i);
			snprintf(value, sizeof(value), "%s-%090d", key, i);
			ck_assert_int_eq(scache_get(sc, key, now, &e), 1);
			ck_assert_uint_eq(e.len, strlen(value));
			ck_assert_int_eq(memcmp(e.data, value, e.len), 0);
			free(e.data);
		}
	scache_free(sc);
	scache_shutdown();
	/* Berkeley DB's own structural check of the file. */
	cmd = path_in("concurrent.db");
	ck_assert_int_eq(db_create(&db, NULL, 0), 0);
	ck_assert_msg(db->verify(db, cmd, NULL, NULL, 0) == 0,
	    "DB->verify failed");
	free(cmd);
}
END_TEST

/* A writer killed while it holds the Concurrent Data Store write lock:
 * the next start (no other process left) removes the stale region and
 * works at once instead of waiting for a lock nobody will release. */
START_TEST(test_dead_writer_recovered)
{
	struct scache_entry e;
	struct scache *sc;
	time_t now = time(NULL);
	int status, pipefd[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(pipefd), 0);
	if ((pid = fork()) == 0) {
		struct scache *mine = store("dead");
		DBC *dbc;
		DBT k, v;

		close(pipefd[0]);
		if (scache_put(mine, "a", now, now + 100, "1", 1) != 0 ||
		    mine->db->cursor(mine->db, NULL, &dbc, DB_WRITECURSOR) != 0)
			_exit(1);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "b";
		k.size = 1;
		v.data = "x";
		v.size = 1;
		(void)dbc->put(dbc, &k, &v, DB_KEYFIRST);
		if (write(pipefd[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* The test's timeout fails it if this blocks. */
	sc = store("dead");
	ck_assert_int_eq(scache_put(sc, "c", now, now + 100, "3", 1), 0);
	ck_assert_int_eq(scache_get(sc, "c", now, &e), 1);
	free(e.data);
	scache_free(sc);
}
END_TEST

/* The same with this process using the cache all along: a writer that
 * another process had open dies inside its put, holding the Concurrent
 * Data Store write lock. The next write here must not wait for ever: it
 * finds the dead writer's PID in scache.guard, replaces the environment,
 * and a moment later the cache works again. */
START_TEST(test_dead_writer_while_others_run)
{
	struct scache_entry e;
	struct scache *sc = store("live");
	time_t now = time(NULL), deadline;
	int status, pipefd[2], put;
	pid_t pid;
	char c;

	ck_assert_int_eq(scache_put(sc, "before", now, now + 100, "0", 1), 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	if ((pid = fork()) == 0) {
		struct scache *mine = store("live");
		DBC *dbc;
		DBT k, v;

		close(pipefd[0]);
		/* What scache_put does, stopped inside the write. */
		if (scache_put(mine, "a", now, now + 100, "1", 1) != 0 ||
		    scache_env_enter(mine->env, 1) != 0 ||
		    mine->db->cursor(mine->db, NULL, &dbc, DB_WRITECURSOR) != 0)
			_exit(1);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "b";
		k.size = 1;
		v.data = "x";
		v.size = 1;
		(void)dbc->put(dbc, &k, &v, DB_KEYFIRST);
		if (write(pipefd[1], "w", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* The test's timeout fails it if a put blocks. The first one finds
	 * the dead writer and gives up (a miss); the environment is opened
	 * afresh a second later. */
	deadline = time(NULL) + 10;
	while ((put = scache_put(sc, "after", now, now + 100, "2", 1)) != 0 &&
	    time(NULL) < deadline)
		usleep(100 * 1000);
	ck_assert_int_eq(put, 0);
	ck_assert_int_eq(scache_get(sc, "after", now, &e), 1);
	free(e.data);
	scache_free(sc);
}
END_TEST

/* A process that inherits a handle through fork() opens its own. */
START_TEST(test_fork_reopens)
{
	struct scache *sc = store("forked");
	struct scache_entry e;
	time_t now = time(NULL);
	int status;
	pid_t pid;

	ck_assert_int_eq(scache_put(sc, "parent", now, now + 100, "p", 1), 0);
	if ((pid = fork()) == 0) {
		int ok = scache_get(sc, "parent", now, &e) == 1 &&
		    scache_put(sc, "child", now, now + 100, "c", 1) == 0;

		free(e.data);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(scache_get(sc, "child", now, &e), 1);
	free(e.data);
	scache_free(sc);
}
END_TEST

START_TEST(test_parse_spec)
{
	enum scache_type type;
	char *path, *warning, *err;

	ck_assert_int_eq(scache_parse_spec("", &type, &path, &warning, &err),
	    0);
	ck_assert_int_eq(type, SCACHE_NONE);
	ck_assert_ptr_null(path);
	ck_assert_int_eq(scache_parse_spec("btree:/var/lib/x/smtpd_scache",
	    &type, &path, &warning, &err), 0);
	ck_assert_int_eq(type, SCACHE_BTREE);
	ck_assert_str_eq(path, "/var/lib/x/smtpd_scache");
	ck_assert_ptr_null(warning);
	free(path);
	ck_assert_int_eq(scache_parse_spec(" hash:/a/b ", &type, &path,
	    &warning, &err), 0);
	ck_assert_int_eq(type, SCACHE_HASH);
	ck_assert_str_eq(path, "/a/b");
	free(path);
	/* Postfix 3.11 recommends lmdb:: it works, in btree, with a word. */
	ck_assert_int_eq(scache_parse_spec("lmdb:/a/smtp_scache", &type,
	    &path, &warning, &err), 0);
	ck_assert_int_eq(type, SCACHE_BTREE);
	ck_assert_ptr_nonnull(warning);
	ck_assert(strstr(warning, "\"lmdb\" is not supported") != NULL);
	free(warning);
	free(path);
	ck_assert_int_eq(scache_parse_spec("/no/type", &type, &path, &warning,
	    &err), -1);
	ck_assert(strstr(err, "expected type:name") != NULL);
	free(err);
	ck_assert_int_eq(scache_parse_spec("btree:relative", &type, &path,
	    &warning, &err), -1);
	ck_assert(strstr(err, "absolute path") != NULL);
	free(err);
}
END_TEST

/* ---- keys ---------------------------------------------------------------- */

START_TEST(test_client_key_parts)
{
	const char *base[5] = { "example.com", "mx.example.com", "192.0.2.1",
	    "25", "may" };
	char *ref = tls_client_cache_key(base[0], base[1], base[2], 25,
	    base[4]);
	char *k;

	/* Deterministic. */
	k = tls_client_cache_key(base[0], base[1], base[2], 25, base[4]);
	ck_assert_str_eq(k, ref);
	free(k);
	/* Each part changes the key. */
	k = tls_client_cache_key("example.net", base[1], base[2], 25, base[4]);
	ck_assert_str_ne(k, ref);
	free(k);
	k = tls_client_cache_key(base[0], "mx2.example.com", base[2], 25,
	    base[4]);
	ck_assert_str_ne(k, ref);
	free(k);
	k = tls_client_cache_key(base[0], base[1], "192.0.2.2", 25, base[4]);
	ck_assert_str_ne(k, ref);
	free(k);
	k = tls_client_cache_key(base[0], base[1], base[2], 587, base[4]);
	ck_assert_str_ne(k, ref);
	free(k);
	k = tls_client_cache_key(base[0], base[1], base[2], 25, "verify");
	ck_assert_str_ne(k, ref);
	free(k);
	free(ref);
	/* A separator inside a part cannot make two destinations meet. */
	ref = tls_client_cache_key("a&h=b", "c", "1", 25, "may");
	k = tls_client_cache_key("a", "b&h=c", "1", 25, "may");
	ck_assert_str_ne(k, ref);
	ck_assert(strchr(ref + 4, ' ') == NULL);
	free(k);
	free(ref);
	k = tls_client_cache_key("[mx.example]:2525", "mx.example", "::1",
	    2525, "verify match=nexthop");
	ck_assert(strstr(k, "&n=[mx.example]:2525&") != NULL);
	ck_assert(strstr(k, "&t=verify%20match%3Dnexthop&") != NULL);
	free(k);
}
END_TEST

START_TEST(test_server_key)
{
	const unsigned char id[4] = { 0x00, 0xab, 0x10, 0xff };
	char *k = tls_server_cache_key(id, sizeof(id), "0011223344556677");
	char *k2 = tls_server_cache_key(id, sizeof(id), "8899AABBCCDDEEFF");

	ck_assert(strncmp(k, "00AB10FF&c=0011223344556677&l=", 30) == 0);
	ck_assert_str_ne(k, k2);
	free(k);
	free(k2);
}
END_TEST

/* ---- handshakes -------------------------------------------------------- */

struct pair {
	SSL *client, *server;
	int ok;
};

/* A handshake, then a byte each way so that the client reads the
 * tickets the server sent after it. */
static void
connect_pair(SSL_CTX *server, SSL_CTX *client, SSL_SESSION *offer,
    struct pair *p)
{
	char c;

	memset(p, 0, sizeof(*p));
	p->client = SSL_new(client);
	p->server = SSL_new(server);
	ck_assert(p->client && p->server);
	if (offer != NULL)
		ck_assert_int_eq(SSL_set_session(p->client, offer), 1);
	p->ok = tu_tls_handshake(p->client, p->server);
	if (!p->ok)
		return;
	ck_assert_int_eq(SSL_write(p->server, "s", 1), 1);
	ck_assert_int_eq(SSL_read(p->client, &c, 1), 1);
	ck_assert_int_eq(SSL_write(p->client, "c", 1), 1);
	ck_assert_int_eq(SSL_read(p->server, &c, 1), 1);
}

/* As s_client after QUIT: close_notify both ways. OpenSSL marks the
 * session of an SSL freed without it as not resumable. */
static void
pair_free(struct pair *p)
{
	if (p->ok) {
		(void)SSL_shutdown(p->client);
		(void)SSL_shutdown(p->server);
	}
	SSL_free(p->client);
	SSL_free(p->server);
}

/* The server side drops the connection without close_notify. */
static void
pair_free_dirty_server(struct pair *p)
{
	(void)SSL_shutdown(p->client);
	SSL_free(p->server);
	SSL_free(p->client);
}

static struct conf *
conf_from(const char *extra)
{
	char *text = xasprintf(
	    "data_directory = %s\n"
	    "smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = %s/server.crt\n"
	    "smtpd_tls_key_file = %s/server.key\n"
	    "smtp_tls_CAfile = %s/ca.crt\n"
	    "smtp_tls_security_level = may\n"
	    "%s", datadir, tmpdir, tmpdir, tmpdir, extra);
	struct conf *conf = tu_conf_load(text);

	free(text);
	return conf;
}

static SSL_CTX *
server_ctx(const char *extra)
{
	struct conf *conf = conf_from(extra);
	char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx_new(conf, &err);

	ck_assert_msg(ctx != NULL, "tls_server_ctx_new: %s", err ? err : "?");
	conf_free(conf);
	return ctx;
}

/* A plain client that keeps the sessions it gets (like s_client
 * -sess_out): the last one wins. */
static SSL_SESSION *kept;
static int sessions_received;

static int
keep_session(SSL *ssl, SSL_SESSION *session)
{
	(void)ssl;
	SSL_SESSION_free(kept);
	kept = session;
	sessions_received++;
	return 1;
}

static SSL_CTX *
plain_client(int version, int tickets)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	if (!tickets)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, keep_session);
	return ctx;
}

#define CACHE_CONF \
	"smtpd_tls_session_cache_database = " \
	"btree:${data_directory}/smtpd_scache\n"

/* Full handshake against "worker" a, resumption against "worker" b:
 * two SSL_CTXs of the same configuration, as two processes or a reload
 * build them. */
static void
resume_across(int version, int tickets, const char *extra, int expect,
    int dirty)
{
	char *conf_text = xasprintf("%s%s", CACHE_CONF, extra);
	SSL_CTX *a = server_ctx(conf_text), *b = server_ctx(conf_text);
	SSL_CTX *client = plain_client(version, tickets);
	struct pair p;

	SSL_SESSION_free(kept);
	kept = NULL;
	connect_pair(a, client, NULL, &p);
	ck_assert(p.ok);
	ck_assert_int_eq(SSL_session_reused(p.client), 0);
	if (dirty)
		pair_free_dirty_server(&p);
	else
		pair_free(&p);
	ck_assert_msg(kept != NULL || !expect, "no session to resume");
	sessions_received = 0;
	connect_pair(b, client, kept, &p);
	ck_assert(p.ok);
	ck_assert_int_eq(SSL_session_reused(p.server), expect);
	ck_assert_int_eq(SSL_session_reused(p.client), expect);
	if (expect)
		ck_assert_int_eq(tls_server_ticketed(p.server), tickets);
	/* TLS 1.3 clients use a ticket once: a resumption brings exactly
	 * one new ticket, so the next connection resumes too. */
	if (expect && version == TLS1_3_VERSION) {
		ck_assert_int_eq(sessions_received, 1);
		ck_assert(SSL_SESSION_is_resumable(kept));
	}
	pair_free(&p);
	SSL_SESSION_free(kept);
	kept = NULL;
	SSL_CTX_free(a);
	SSL_CTX_free(b);
	SSL_CTX_free(client);
	free(conf_text);
}

START_TEST(test_resume_tls12_session_id)
{
	struct scache *sc;
	struct scache_stats st;

	resume_across(TLS1_2_VERSION, 0, "", 1, 0);
	/* The session went through the database. */
	sc = store("smtpd_scache");
	ck_assert_int_eq(scache_stats(sc, time(NULL), &st), 0);
	ck_assert_uint_eq(st.entries, 1);
	scache_free(sc);
	/* A server that closes without close_notify keeps the session in
	 * the database. */
	resume_across(TLS1_2_VERSION, 0, "", 1, 1);
}
END_TEST

START_TEST(test_resume_tls12_ticket)
{
	resume_across(TLS1_2_VERSION, 1, "", 1, 0);
}
END_TEST

START_TEST(test_resume_tls13_ticket)
{
	resume_across(TLS1_3_VERSION, 1, "", 1, 0);
}
END_TEST

/* Tickets work without a session database: the keys are shared. */
START_TEST(test_resume_tls13_ticket_without_database)
{
	SSL_CTX *a = server_ctx(""), *b = server_ctx("");
	SSL_CTX *client = plain_client(TLS1_3_VERSION, 1);
	struct pair p;

	connect_pair(a, client, NULL, &p);
	pair_free(&p);
	ck_assert_ptr_nonnull(kept);
	connect_pair(b, client, kept, &p);
	ck_assert(p.ok);
	ck_assert_int_eq(SSL_session_reused(p.server), 1);
	pair_free(&p);
	SSL_SESSION_free(kept);
	kept = NULL;
	SSL_CTX_free(a);
	SSL_CTX_free(b);
	SSL_CTX_free(client);
}
END_TEST

/* No usable data_directory: tickets still work inside the process. */
START_TEST(test_tickets_without_store)
{
	char *extra = xasprintf("data_directory = %s/missing/dir\n", datadir);
	SSL_CTX *a = server_ctx(extra);
	SSL_CTX *client = plain_client(TLS1_3_VERSION, 1);
	struct pair p;

	log_to_file();
	connect_pair(a, client, NULL, &p);
	pair_free(&p);
	ck_assert_ptr_nonnull(kept);
	connect_pair(a, client, kept, &p);
	ck_assert(p.ok);
	ck_assert_int_eq(SSL_session_reused(p.server), 1);
	pair_free(&p);
	ck_assert(log_contains("cannot open the environment"));
	SSL_SESSION_free(kept);
	kept = NULL;
	SSL_CTX_free(a);
	SSL_CTX_free(client);
	free(extra);
	free(logfile);
}
END_TEST

START_TEST(test_timeout_zero_disables)
{
	resume_across(TLS1_2_VERSION, 0,
	    "smtpd_tls_session_cache_timeout = 0\n", 0, 0);
	resume_across(TLS1_3_VERSION, 1,
	    "smtpd_tls_session_cache_timeout = 0\n", 0, 0);
}
END_TEST

START_TEST(test_empty_ticket_cipher_sends_no_tickets)
{
	SSL_CTX *a = server_ctx("tls_session_ticket_cipher =\n");
	SSL_CTX *client = plain_client(TLS1_3_VERSION, 1);
	struct pair p;

	SSL_SESSION_free(kept);
	kept = NULL;
	connect_pair(a, client, NULL, &p);
	ck_assert(p.ok);
	ck_assert_ptr_null(kept);
	pair_free(&p);
	SSL_CTX_free(a);
	SSL_CTX_free(client);
}
END_TEST

START_TEST(test_one_ticket_per_handshake)
{
	SSL_CTX *a = server_ctx(CACHE_CONF);
	SSL_CTX *client = plain_client(TLS1_3_VERSION, 1);
	struct pair p;
	int before;

	ck_assert_uint_eq(SSL_CTX_get_num_tickets(a), 1);
	connect_pair(a, client, NULL, &p);
	before = kept != NULL;
	pair_free(&p);
	ck_assert(before);
	SSL_CTX_free(a);
	SSL_CTX_free(client);
	SSL_SESSION_free(kept);
	kept = NULL;
}
END_TEST

/* The key that sealed a ticket encrypts for one timeout and decrypts for
 * another; after both, the ticket is refused. A ticket is only good for
 * one timeout too, so the key is made (by a first handshake) well before
 * the session that is resumed: every wait below leaves a second or more
 * either side, however slow the machine (slowness only moves "now" later,
 * and the checks that must not be late have the larger margins). */
START_TEST(test_ticket_key_rotation)
{
	const char *conf_text = "smtpd_tls_session_cache_timeout = 6s\n";
	SSL_CTX *a = server_ctx(conf_text);
	SSL_CTX *client = plain_client(TLS1_3_VERSION, 1);
	SSL_SESSION *first;
	struct scache *keys;
	struct scache_stats st;
	struct pair p;

	/* t = 0: the first key. */
	connect_pair(a, client, NULL, &p);
	pair_free(&p);
	SSL_SESSION_free(kept);
	kept = NULL;
	/* t = 3: a ticket sealed by it. */
	sleep(3);
	connect_pair(a, client, NULL, &p);
	pair_free(&p);
	first = kept;
	kept = NULL;
	ck_assert_ptr_nonnull(first);
	/* t = 7: past the first key's encrypting time (6 s), a new key
	 * seals; the old one still opens the 4 s old ticket (and asks for a
	 * fresh ticket). */
	sleep(4);
	connect_pair(a, client, first, &p);
	ck_assert_int_eq(SSL_session_reused(p.server), 1);
	pair_free(&p);
	ck_assert_ptr_nonnull(kept);		/* the renewed ticket */
	keys = store(SCACHE_TICKET_KEYS);
	ck_assert_int_eq(scache_stats(keys, time(NULL), &st), 0);
	ck_assert_uint_eq(st.entries, 2);
	/* t = 13: past its decrypting time (12 s) the first ticket is
	 * worthless... */
	sleep(6);
	connect_pair(a, client, first, &p);
	ck_assert(p.ok);
	ck_assert_int_eq(SSL_session_reused(p.server), 0);
	pair_free(&p);
	/* ...and the purge drops its key. */
	ck_assert_int_ge(scache_purge(keys, time(NULL)), 1);
	scache_free(keys);
	SSL_SESSION_free(first);
	SSL_SESSION_free(kept);
	kept = NULL;
	SSL_CTX_free(a);
	SSL_CTX_free(client);
}
END_TEST

/* ---- tlsrelay_smtpd_tls_ticket_key_file -------------------------------- */

/* A key file of n_keys keys, key i made of the byte seed + i (so that
 * two files can share a key), or of len bytes when n_keys is 0. */
static char *
key_file(const char *name, size_t n_keys, unsigned char seed, size_t len,
    mode_t mode)
{
	char *path = path_in(name);
	unsigned char *buf;
	FILE *fp;

	if (n_keys > 0)
		len = n_keys * TLS_TICKET_FILE_KEY_LEN;
	buf = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed + i / TLS_TICKET_FILE_KEY_LEN);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(buf, 1, len, fp), len);
	fclose(fp);
	ck_assert_int_eq(chmod(path, mode), 0);
	free(buf);
	return path;
}

static void
file_refused(const char *path, const char *why)
{
	char *reason = NULL;
	size_t n = 99;

	ck_assert_ptr_null(tls_ticket_file_read(path, &n, &reason));
	ck_assert_msg(reason != NULL && strstr(reason, why) != NULL,
	    "%s: expected \"%s\", got \"%s\"", path, why, reason);
	free(reason);
}

START_TEST(test_ticket_file_sizes)
{
	static const struct {
		size_t len;
		const char *why;
	} bad[] = {
		{ 0, "size 0 bytes is not a positive multiple of 80" },
		{ 79, "size 79 bytes is not a positive multiple of 80" },
		{ 81, "size 81 bytes is not a positive multiple of 80" },
		{ 48, "not a positive multiple of 80" },	/* nginx's other */
		{ 17 * 80, "17 keys, more than 16" },
	};
	unsigned char *buf;
	char *path, *reason = NULL;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = key_file("bad.key", 0, 1, bad[i].len, 0600);
		file_refused(path, bad[i].why);
		free(path);
	}
	/* One key, three keys, sixteen: all of them, in order. */
	for (size_t keys = 1; keys <= 16; keys += keys < 3 ? 2 : 13) {
		path = key_file("good.key", keys, 7, 0, 0600);
		buf = tls_ticket_file_read(path, &n, &reason);
		ck_assert_msg(buf != NULL, "%s", reason);
		ck_assert_uint_eq(n, keys);
		ck_assert_uint_eq(buf[0], 7);
		ck_assert_uint_eq(buf[keys * 80 - 1], 7 + keys - 1);
		free(buf);
		free(path);
	}
	/* A secret: group-readable is an administrator's choice, world-
	 * readable is not. */
	path = key_file("group.key", 1, 1, 0, 0640);
	buf = tls_ticket_file_read(path, &n, &reason);
	ck_assert_ptr_nonnull(buf);
	free(buf);
	free(path);
	path = key_file("world.key", 1, 1, 0, 0644);
	file_refused(path, "world-readable");
	free(path);
	path = path_in("missing.key");
	file_refused(path, "cannot open: No such file or directory");
	free(path);
	file_refused(datadir, "not a regular file");
}
END_TEST

/* The error names the parameter and the file, and stops the build. */
START_TEST(test_ticket_file_error_message)
{
	char *path = key_file("short.key", 0, 1, 79, 0600);
	char *extra = xasprintf("tlsrelay_smtpd_tls_ticket_key_file = %s\n",
	    path);
	struct conf *conf = conf_from(extra);
	char *err = NULL, *want;

	ck_assert_ptr_null(tls_server_ctx_new(conf, &err));
	want = xasprintf("tlsrelay_smtpd_tls_ticket_key_file %s: size 79 "
	    "bytes", path);
	ck_assert_msg(err != NULL && strstr(err, want) != NULL, "%s", err);
	free(want);
	free(err);
	conf_free(conf);
	free(extra);
	free(path);
}
END_TEST

/* Two nodes: own data_directory each (no shared store), one key file
 * (or each its own). */
static SSL_CTX *
node_ctx(const char *node, const char *file)
{
	char *dir = path_in(node);
	char *extra;
	SSL_CTX *ctx;

	(void)mkdir(dir, 0700);
	extra = xasprintf(CACHE_CONF "data_directory = %s\n"
	    "tlsrelay_smtpd_tls_ticket_key_file = %s\n", dir, file);
	ctx = server_ctx(extra);
	free(extra);
	free(dir);
	return ctx;
}

/* A full handshake at a; returns its ticket. */
static SSL_SESSION *
ticket_from(SSL_CTX *a, SSL_CTX *client)
{
	SSL_SESSION *got;
	struct pair p;

	SSL_SESSION_free(kept);
	kept = NULL;
	connect_pair(a, client, NULL, &p);
	ck_assert(p.ok);
	ck_assert_int_eq(SSL_session_reused(p.server), 0);
	pair_free(&p);
	ck_assert_ptr_nonnull(kept);
	got = kept;
	kept = NULL;
	return got;
}

/* Whether b resumes the session; *renewed: the client's session after
 * it (a TLS 1.2 client updates the resumed session with a new ticket in
 * place; TLS 1.3 brings a new session). */
static int
resumes_at(SSL_CTX *b, SSL_CTX *client, SSL_SESSION *offer,
    SSL_SESSION **renewed)
{
	struct pair p;
	int reused;

	SSL_SESSION_free(kept);
	kept = NULL;
	sessions_received = 0;
	connect_pair(b, client, offer, &p);
	ck_assert(p.ok);
	reused = SSL_session_reused(p.server);
	ck_assert_int_eq(SSL_session_reused(p.client), reused);
	if (reused)
		ck_assert(tls_server_ticketed(p.server));
	if (renewed != NULL) {
		*renewed = kept != NULL ? kept : SSL_get1_session(p.client);
		kept = NULL;
	}
	pair_free(&p);
	return reused;
}

static void
shared_file(int version)
{
	char *k1 = key_file("k1.key", 1, 1, 0, 0600);
	char *k9 = key_file("k9.key", 1, 9, 0, 0600);
	SSL_CTX *a = node_ctx("a", k1), *b = node_ctx("b", k1);
	SSL_CTX *other = node_ctx("c", k9);
	SSL_CTX *client = plain_client(version, 1);
	SSL_SESSION *t = ticket_from(a, client);

	ck_assert_uint_eq(tls_server_ticket_file_keys(a), 1);
	ck_assert_int_eq(resumes_at(other, client, t, NULL), 0);
	ck_assert_int_eq(resumes_at(b, client, t, NULL), 1);
	SSL_SESSION_free(t);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
	SSL_CTX_free(other);
	SSL_CTX_free(client);
	free(k1);
	free(k9);
}

START_TEST(test_ticket_file_shared_tls13)
{
	shared_file(TLS1_3_VERSION);
}
END_TEST

START_TEST(test_ticket_file_shared_tls12)
{
	shared_file(TLS1_2_VERSION);
}
END_TEST

static int
same_ticket(SSL_SESSION *x, SSL_SESSION *y)
{
	const unsigned char *tx, *ty;
	size_t nx, ny;

	SSL_SESSION_get0_ticket(x, &tx, &nx);
	SSL_SESSION_get0_ticket(y, &ty, &ny);
	return nx == ny && memcmp(tx, ty, nx) == 0;
}

/* Rollover: a ticket of K1 resumes where the file is K2+K1 and comes
 * back sealed by K2, which a node that has only K2 opens. */
static void
rollover(int version)
{
	char *k1 = key_file("k1.key", 1, 1, 0, 0600);
	char *k2k1 = key_file("k2k1.key", 0, 0, 0, 0600);
	char *k2 = key_file("k2.key", 1, 2, 0, 0600);
	unsigned char both[160];
	SSL_CTX *a, *b, *c, *client = plain_client(version, 1);
	SSL_SESSION *t1, *t2 = NULL;
	FILE *fp;

	/* K2 then K1: the bytes of k2.key then of k1.key. */
	memset(both, 2, 80);
	memset(both + 80, 1, 80);
	ck_assert_ptr_nonnull(fp = fopen(k2k1, "w"));
	ck_assert_uint_eq(fwrite(both, 1, sizeof(both), fp), sizeof(both));
	fclose(fp);
	a = node_ctx("a", k1);
	b = node_ctx("b", k2k1);
	c = node_ctx("c", k2);
	ck_assert_uint_eq(tls_server_ticket_file_keys(b), 2);
	t1 = ticket_from(a, client);
	ck_assert_int_eq(resumes_at(c, client, t1, NULL), 0);
	ck_assert_int_eq(resumes_at(b, client, t1, &t2), 1);
	/* Renewed under the first key (TLS 1.2: because an older key
	 * opened it; TLS 1.3: always). */
	ck_assert_ptr_nonnull(t2);
	ck_assert(!same_ticket(t1, t2));
	ck_assert_int_eq(resumes_at(c, client, t2, NULL), 1);
	SSL_SESSION_free(t1);
	SSL_SESSION_free(t2);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
	SSL_CTX_free(c);
	SSL_CTX_free(client);
	free(k1);
	free(k2k1);
	free(k2);
}

START_TEST(test_ticket_file_rollover_tls13)
{
	rollover(TLS1_3_VERSION);
}
END_TEST

START_TEST(test_ticket_file_rollover_tls12)
{
	rollover(TLS1_2_VERSION);
}
END_TEST

START_TEST(test_session_der_round_trip)
{
	SSL_CTX *a = server_ctx("");
	SSL_CTX *client = plain_client(TLS1_2_VERSION, 1);
	unsigned char *der, mk1[64], mk2[64];
	size_t len, n1, n2;
	SSL_SESSION *copy;
	struct pair p;

	connect_pair(a, client, NULL, &p);
	pair_free(&p);
	ck_assert_ptr_nonnull(kept);
	der = tls_session_to_der(kept, &len);
	ck_assert_ptr_nonnull(der);
	copy = tls_session_from_der(der, len);
	ck_assert_ptr_nonnull(copy);
	n1 = SSL_SESSION_get_master_key(kept, mk1, sizeof(mk1));
	n2 = SSL_SESSION_get_master_key(copy, mk2, sizeof(mk2));
	ck_assert_uint_eq(n1, n2);
	ck_assert_int_eq(memcmp(mk1, mk2, n1), 0);
	ck_assert_ptr_nonnull(SSL_SESSION_get0_peer(copy));
	ck_assert_int_eq(X509_cmp(SSL_SESSION_get0_peer(copy),
	    SSL_SESSION_get0_peer(kept)), 0);
	SSL_SESSION_free(copy);
	/* Truncated or padded bytes are not a session. */
	ck_assert_ptr_null(tls_session_from_der(der, len - 1));
	der = xrealloc(der, len + 1);
	der[len] = 0;
	ck_assert_ptr_null(tls_session_from_der(der, len + 1));
	free(der);
	SSL_SESSION_free(kept);
	kept = NULL;
	SSL_CTX_free(a);
	SSL_CTX_free(client);
}
END_TEST

/* ---- our client ---------------------------------------------------------- */

/* The context of our client's main.cf policy at level may, kept alive
 * by a reference of its own after the client is gone. */
static SSL_CTX *
our_client(const char *extra)
{
	struct conf *conf = conf_from(extra);
	char *err = NULL;
	struct tls_client *tls = tls_client_new(conf, &err);
	struct tls_policy *policy;
	SSL_CTX *ctx;

	ck_assert_msg(tls != NULL, "tls_client_new: %s", err ? err : "?");
	policy = tls_policy_main(conf, TLS_LEV_MAY, "scache.test");
	ctx = tls_client_ctx(tls, policy);
	ck_assert_ptr_nonnull(ctx);
	SSL_CTX_up_ref(ctx);
	tls_policy_free(policy);
	tls_client_free(tls);
	conf_free(conf);
	return ctx;
}

/* One connection of our client to server with the given policy string;
 * returns whether it was resumed and whether a session was offered. */
static int
deliver(SSL_CTX *server, SSL_CTX *client, const char *policy, int *offered,
    struct tls_info *info)
{
	struct pair p;
	int reused;
	char c;

	memset(&p, 0, sizeof(p));
	p.client = SSL_new(client);
	p.server = SSL_new(server);
	*offered = tls_client_session_prepare(p.client, "scache.test",
	    "mx.scache.test", "127.0.0.1", 25, policy);
	p.ok = tu_tls_handshake(p.client, p.server);
	ck_assert(p.ok);
	ck_assert_int_eq(SSL_write(p.server, "s", 1), 1);
	ck_assert_int_eq(SSL_read(p.client, &c, 1), 1);
	reused = SSL_session_reused(p.client);
	if (info != NULL)
		tls_info_get(p.client, info);
	pair_free(&p);
	return reused;
}

#define CLIENT_CACHE \
	"smtp_tls_session_cache_database = " \
	"btree:${data_directory}/smtp_scache\n" \
	"smtp_tls_loglevel = 2\n"

START_TEST(test_client_resumes_under_same_policy)
{
	SSL_CTX *server = server_ctx(CACHE_CONF);
	SSL_CTX *client = our_client(CLIENT_CACHE);
	SSL_CTX *client2 = our_client(CLIENT_CACHE);
	struct tls_info full, resumed;
	int offered;

	log_to_file();
	ck_assert_int_eq(deliver(server, client, "may", &offered, &full), 0);
	ck_assert_int_eq(offered, 0);
	/* Another process's SSL_CTX (the qmgr after a restart) resumes. */
	ck_assert_int_eq(deliver(server, client2, "may", &offered, &resumed),
	    1);
	ck_assert_int_eq(offered, 1);
	ck_assert(log_contains(
	    "mx.scache.test[127.0.0.1]:25: Reusing old session"));
	/* The stored session still carries the server certificate and its
	 * verdict, for the level's checks. */
	ck_assert_int_eq(resumed.peer_cert, 1);
	ck_assert_int_eq(resumed.peer_trusted, full.peer_trusted);
	ck_assert_int_eq(resumed.peer_trusted, 1);
	ck_assert_str_eq(resumed.peer_subject_cn, "mx.scache.test");
	ck_assert_int_eq(resumed.session_reused, 1);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
	SSL_CTX_free(client2);
	free(logfile);
}
END_TEST

START_TEST(test_client_policy_isolation)
{
	SSL_CTX *server = server_ctx(CACHE_CONF);
	SSL_CTX *client = our_client(CLIENT_CACHE);
	int offered;

	log_to_file();
	ck_assert_int_eq(deliver(server, client, "may", &offered, NULL), 0);
	/* Made at may: never offered at verify for the same host... */
	ck_assert_int_eq(deliver(server, client, "verify match=hostname",
	    &offered, NULL), 0);
	ck_assert_int_eq(offered, 0);
	/* ...which files its own session... */
	ck_assert_int_eq(deliver(server, client, "verify match=hostname",
	    &offered, NULL), 1);
	ck_assert_int_eq(offered, 1);
	/* ...and may still has its own. */
	ck_assert_int_eq(deliver(server, client, "may", &offered, NULL), 1);
	ck_assert_int_eq(log_count("Reusing old session"), 2);
	/* Other trusted CAs (a reload with a new smtp_tls_CAfile): the old
	 * verdict on the server's chain does not count. */
	SSL_CTX_free(client);
	client = our_client(CLIENT_CACHE
	    "smtp_tls_CAfile = ${data_directory}/../server.crt\n");
	ck_assert_int_eq(deliver(server, client, "may", &offered, NULL), 0);
	ck_assert_int_eq(offered, 0);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
	free(logfile);
}
END_TEST

START_TEST(test_client_without_database)
{
	SSL_CTX *server = server_ctx(CACHE_CONF);
	SSL_CTX *client = our_client("");
	int offered;

	ck_assert_int_eq(deliver(server, client, "may", &offered, NULL), 0);
	ck_assert_int_eq(deliver(server, client, "may", &offered, NULL), 0);
	ck_assert_int_eq(offered, 0);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
}
END_TEST

START_TEST(test_client_forget)
{
	SSL_CTX *server = server_ctx(CACHE_CONF);
	SSL_CTX *client = our_client(CLIENT_CACHE);
	SSL *ssl;
	int offered;

	ck_assert_int_eq(deliver(server, client, "may", &offered, NULL), 0);
	ssl = SSL_new(client);
	ck_assert_int_eq(tls_client_session_prepare(ssl, "scache.test",
	    "mx.scache.test", "127.0.0.1", 25, "may"), 1);
	tls_client_session_forget(ssl);
	SSL_free(ssl);
	ck_assert_int_eq(deliver(server, client, "may", &offered, NULL), 0);
	ck_assert_int_eq(offered, 0);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
}
END_TEST

START_TEST(test_bad_settings)
{
	struct conf *conf = conf_from(
	    "smtpd_tls_session_cache_database = smtpd_scache\n");
	char *err = NULL;

	ck_assert_ptr_null(tls_server_ctx_new(conf, &err));
	ck_assert(strstr(err, "smtpd_tls_session_cache_database") != NULL);
	free(err);
	conf_free(conf);
	conf = conf_from("tls_session_ticket_cipher = aes-256-gcm\n");
	err = NULL;
	ck_assert_ptr_null(tls_server_ctx_new(conf, &err));
	ck_assert(strstr(err, "not usable for session tickets") != NULL);
	free(err);
	conf_free(conf);
	conf = conf_from("smtpd_tls_session_cache_timeout = 101d\n");
	err = NULL;
	ck_assert_ptr_null(tls_server_ctx_new(conf, &err));
	ck_assert(strstr(err, "100 days") != NULL);
	free(err);
	conf_free(conf);
}
END_TEST

static Suite *
scache_suite(void)
{
	Suite *s = suite_create("scache");
	TCase *store_tc = tcase_create("store");
	TCase *keys_tc = tcase_create("keys");
	TCase *server_tc = tcase_create("server");
	TCase *client_tc = tcase_create("client");

	tcase_add_checked_fixture(store_tc, setup, teardown);
	tcase_add_test(store_tc, test_put_get_round_trip);
	tcase_add_test(store_tc, test_expiry_and_purge);
	tcase_add_test(store_tc, test_garbage_file_recreated);
	tcase_add_test(store_tc, test_deleted_file_recreated);
	tcase_add_test(store_tc, test_concurrent_writers);
	tcase_add_test(store_tc, test_fork_reopens);
	tcase_add_test(store_tc, test_dead_writer_recovered);
	tcase_add_test(store_tc, test_dead_writer_while_others_run);
	tcase_add_test(store_tc, test_parse_spec);
	suite_add_tcase(s, store_tc);

	tcase_add_test(keys_tc, test_client_key_parts);
	tcase_add_test(keys_tc, test_server_key);
	suite_add_tcase(s, keys_tc);

	tcase_add_checked_fixture(server_tc, setup, teardown);
	tcase_set_timeout(server_tc, 30);
	tcase_add_test(server_tc, test_resume_tls12_session_id);
	tcase_add_test(server_tc, test_resume_tls12_ticket);
	tcase_add_test(server_tc, test_resume_tls13_ticket);
	tcase_add_test(server_tc, test_resume_tls13_ticket_without_database);
	tcase_add_test(server_tc, test_tickets_without_store);
	tcase_add_test(server_tc, test_timeout_zero_disables);
	tcase_add_test(server_tc, test_empty_ticket_cipher_sends_no_tickets);
	tcase_add_test(server_tc, test_one_ticket_per_handshake);
	tcase_add_test(server_tc, test_ticket_key_rotation);
	tcase_add_test(server_tc, test_session_der_round_trip);
	tcase_add_test(server_tc, test_bad_settings);
	tcase_add_test(server_tc, test_ticket_file_sizes);
	tcase_add_test(server_tc, test_ticket_file_error_message);
	tcase_add_test(server_tc, test_ticket_file_shared_tls13);
	tcase_add_test(server_tc, test_ticket_file_shared_tls12);
	tcase_add_test(server_tc, test_ticket_file_rollover_tls13);
	tcase_add_test(server_tc, test_ticket_file_rollover_tls12);
	suite_add_tcase(s, server_tc);

	tcase_add_checked_fixture(client_tc, setup, teardown);
	tcase_add_test(client_tc, test_client_resumes_under_same_policy);
	tcase_add_test(client_tc, test_client_policy_isolation);
	tcase_add_test(client_tc, test_client_without_database);
	tcase_add_test(client_tc, test_client_forget);
	suite_add_tcase(s, client_tc);
	return s;
}

CHECK_MAIN_WITH(scache_suite, make_certs, NULL)
