/* sasl_password: crypt(3) password hashes from libxcrypt. New hashes are
 * yescrypt with a fresh salt; verification takes whatever method the
 * stored hash names. A login for a user who does not exist is checked
 * against a dummy hash of the same kind, so that a wrong user name and a
 * wrong password cost the same time and a client cannot probe for
 * names. */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tlsrelay/log.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/util.h"

/* Checks run in offload threads (offload.h), so nothing here is shared
 * without the lock; crypt_rn gets a work area (30 KB) per call. */
static atomic_ulong check_count;

/* Dummy hashes, one per kind of hash seen (a table may mix yescrypt and
 * older SHA-512-crypt entries); an unknown user is checked against the
 * kind seen last. Making one costs a crypt(3) once per kind and process,
 * in the thread of the check that needs it. */
#define MAX_DUMMIES 4
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummies[MAX_DUMMIES][CRYPT_OUTPUT_SIZE];
static size_t n_dummies, last_dummy;

/* crypt_rn with a fresh work area; the result is copied into out
 * (CRYPT_OUTPUT_SIZE bytes). NULL when crypt(3) failed. */
static const char *
crypt_copy(const char *phrase, const char *setting, char *out)
{
	struct crypt_data *work = xcalloc(1, sizeof(*work));
	const char *h = crypt_rn(phrase, setting, work, sizeof(*work));
	const char *ret = NULL;

	if (h != NULL && h[0] != '*' && strlen(h) < CRYPT_OUTPUT_SIZE) {
		memcpy(out, h, strlen(h) + 1);
		ret = out;
	}
	explicit_bzero(work, sizeof(*work));
	free(work);
	return ret;
}

char *
sasl_password_hash(const char *password, const char *prefix, char **err)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE], out[CRYPT_OUTPUT_SIZE];
	unsigned char random[16];
	const char *hash;

	*err = NULL;
	/* libxcrypt would read /dev/urandom itself; OpenSSL's generator
	 * is already seeded and cannot fail quietly. */
	if (RAND_bytes(random, sizeof(random)) != 1) {
		*err = xstrdup("cannot get random bytes for a salt");
		return NULL;
	}
	if (crypt_gensalt_rn(prefix, 0, (const char *)random, sizeof(random),
	    setting, sizeof(setting)) == NULL) {
		*err = xasprintf("cannot make a salt for method \"%s\": %s",
		    prefix, strerror(errno));
		return NULL;
	}
	hash = crypt_copy(password, setting, out);
	if (hash == NULL) {
		*err = xasprintf("crypt(3) failed for method \"%s\": %s",
		    prefix, strerror(errno));
		return NULL;
	}
	return xstrdup(hash);
}

/* The method and cost of a hash, without its salt and digest:
 * "$y$j9T$" of "$y$j9T$SALT$DIGEST", "$6$rounds=N$" or "$6$", "$2b$12$"
 * (bcrypt keeps salt and digest in one field). Returns its length, 0
 * when hash is not in the "$id$" form. */
static size_t
hash_kind(const char *hash)
{
	size_t dollars[16], n = 0, drop;

	if (hash[0] != '$')
		return 0;
	for (size_t i = 0; hash[i] != '\0' && n < 16; i++)
		if (hash[i] == '$')
			dollars[n++] = i;
	drop = strncmp(hash, "$2", 2) == 0 ? 1 : 2;
	if (n < drop + 1)
		return 0;
	return dollars[n - drop - 1] + 1;
}

static int
same_kind(const char *a, const char *b)
{
	size_t la = hash_kind(a), lb = hash_kind(b);

	return la == lb && memcmp(a, b, la) == 0;
}

/* A hash of a random password with the method, cost and salt length of
 * model (yescrypt when model is NULL), into dummy. */
static void
make_dummy(const char *model, char *dummy, size_t size)
{
	unsigned char random[24];
	char *secret, *hash, *err = NULL, out[CRYPT_OUTPUT_SIZE];
	const char *h = NULL;

	if (RAND_bytes(random, sizeof(random)) != 1)
		msg_fatal("cannot get random bytes for the dummy password");
	secret = sasl_base64_encode(random, sizeof(random));
	/* The stored hash serves as the setting: same method, cost and salt
	 * length; the random password makes the result useless. */
	if (model != NULL)
		h = crypt_copy(secret, model, out);
	if (h != NULL)
		snprintf(dummy, size, "%s", h);
	else {
		hash = sasl_password_hash(secret, SASL_HASH_PREFIX, &err);
		if (hash == NULL)
			msg_fatal("cannot make the dummy password hash: %s",
			    err);
		snprintf(dummy, size, "%s", hash);
		free(hash);
	}
	sasl_secret_free(secret);
}

/* The dummy of hash's kind, made when first needed; with hash NULL, the
 * one of the kind seen last. */
static const char *
dummy_for(const char *hash)
{
	size_t i;

	if (hash == NULL || hash_kind(hash) == 0) {
		if (n_dummies == 0) {
			make_dummy(NULL, dummies[0], sizeof(dummies[0]));
			n_dummies = 1;
		}
		return dummies[last_dummy];
	}
	for (i = 0; i < n_dummies; i++)
		if (same_kind(hash, dummies[i]))
			break;
	if (i == n_dummies) {
		i = n_dummies < MAX_DUMMIES ? n_dummies++ : MAX_DUMMIES - 1;
		make_dummy(hash, dummies[i], sizeof(dummies[i]));
	}
	last_dummy = i;
	return dummies[i];
}

void
sasl_password_prepare(void)
{
	pthread_mutex_lock(&dummy_lock);
	(void)dummy_for(NULL);
	pthread_mutex_unlock(&dummy_lock);
}

int
sasl_password_check(const char *hash, const char *password)
{
	char setting[CRYPT_OUTPUT_SIZE], out[CRYPT_OUTPUT_SIZE];
	int usable = hash != NULL && hash_kind(hash) != 0;
	size_t len;

	/* An unknown user, a locked entry ("*", "!") or a hash without
	 * "$id$" costs one crypt(3) with a dummy, and fails. A known hash
	 * of a new kind makes its dummy now, so that the unknown users
	 * after it cost as much as it does. */
	pthread_mutex_lock(&dummy_lock);
	snprintf(setting, sizeof(setting), "%s", usable ?
	    (dummy_for(hash), hash) : dummy_for(NULL));
	pthread_mutex_unlock(&dummy_lock);
	atomic_fetch_add(&check_count, 1);
	if (crypt_copy(password, setting, out) == NULL || !usable)
		return 0;
	len = strlen(hash);
	return strlen(out) == len && CRYPTO_memcmp(out, hash, len) == 0;
}

unsigned long
sasl_password_check_count(void)
{
	return atomic_load(&check_count);
}
