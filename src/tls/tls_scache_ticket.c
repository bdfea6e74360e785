/* tls_scache_ticket: session ticket keys that every worker, and every
 * restart within the timeout, shares through the store.
 *
 * A key is a name (16 random bytes: the ticket says which key sealed
 * it), a cipher key for tls_session_ticket_cipher and an HMAC-SHA256
 * key. The newest key encrypts for `lifetime` seconds (the session cache
 * timeout); afterwards it only decrypts, for another `lifetime` seconds,
 * so a ticket issued at the last moment stays good for its whole life.
 * Each process keeps the keys in memory and reads the store again when
 * its encrypting key ages out or a ticket names a key it does not know
 * (another worker may have rotated first). Two workers rotating at the
 * same moment both store a key; both decrypt, the newest encrypts.
 *
 * With tlsrelay_smtpd_tls_ticket_key_file the keys come from that file
 * instead (tls_ticket_file.c reads it), the same on every node that has
 * it: nothing is stored, nothing rotates, the first key seals and every
 * key opens. Each 80-byte key splits as nginx's ssl_session_ticket_key
 * does, so one file can serve both: bytes 0-15 the name, 16-47 the
 * HMAC-SHA256 key, 48-79 the AES-256-CBC key. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "tlsrelay/log.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/util.h"
#include "tls_private.h"
#include "tls_scache.h"

#define NAME_LEN	16
#define HMAC_LEN	32
#define MAX_KEYS	TLS_TICKET_FILE_MAX_KEYS	/* in memory */
/* The file's layout (nginx's 80-byte keys). */
#define FILE_NAME_AT	0
#define FILE_HMAC_AT	(FILE_NAME_AT + NAME_LEN)
#define FILE_AES_AT	(FILE_HMAC_AT + HMAC_LEN)
#define FILE_CIPHER	"AES-256-CBC"

struct ticket_key {
	unsigned char name[NAME_LEN];
	unsigned char cipher_key[EVP_MAX_KEY_LENGTH];
	unsigned char hmac_key[HMAC_LEN];
	time_t created;
};

struct tls_ticket_keys {
	struct scache *store;
	EVP_CIPHER *cipher;
	char *cipher_name;
	int key_len, iv_len;
	long long lifetime;
	struct ticket_key keys[MAX_KEYS];	/* newest first */
	size_t n_keys;
	time_t loaded;		/* last read of the store */
	/* When the store is out of reach: a key of this process alone, so
	 * that tickets still work here (a miss elsewhere costs a full
	 * handshake, as a cache miss does). */
	struct ticket_key local;
	int has_local;
	int from_file;		/* keys[] is the file's, in its order */
};

struct tls_ticket_keys *
tls_ticket_keys_new(const char *home, const char *cipher_name,
    long long lifetime, char **err)
{
	struct tls_ticket_keys *keys;
	EVP_CIPHER *cipher;
	char *path;

	ERR_clear_error();
	if ((cipher = EVP_CIPHER_fetch(NULL, cipher_name, NULL)) == NULL) {
		ERR_clear_error();
		*err = xasprintf("unknown cipher \"%s\"", cipher_name);
		return NULL;
	}
	/* As Postfix: a CBC-like cipher with a 128-bit block whose key
	 * fits; OpenSSL's ticket format has room for a 16-byte IV. */
	if (EVP_CIPHER_get_key_length(cipher) > EVP_MAX_KEY_LENGTH ||
	    EVP_CIPHER_get_key_length(cipher) < 16 ||
	    EVP_CIPHER_get_iv_length(cipher) != 16 ||
	    EVP_CIPHER_get_mode(cipher) != EVP_CIPH_CBC_MODE) {
		*err = xasprintf("cipher \"%s\" is not usable for session "
		    "tickets (need a CBC cipher with a 128-bit block and a "
		    "16- to %d-byte key)", cipher_name, EVP_MAX_KEY_LENGTH);
		EVP_CIPHER_free(cipher);
		return NULL;
	}
	keys = xcalloc(1, sizeof(*keys));
	keys->cipher = cipher;
	keys->cipher_name = xstrdup(cipher_name);
	keys->key_len = EVP_CIPHER_get_key_length(cipher);
	keys->iv_len = EVP_CIPHER_get_iv_length(cipher);
	keys->lifetime = lifetime > 0 ? lifetime : 1;
	path = xasprintf("%s/%s", home, SCACHE_TICKET_KEYS);
	keys->store = scache_new(home, SCACHE_BTREE, path, 0);
	free(path);
	return keys;
}

struct tls_ticket_keys *
tls_ticket_keys_from_file(const char *path, char **err)
{
	struct tls_ticket_keys *keys;
	unsigned char *buf;
	size_t n_keys;

	if ((buf = tls_ticket_file_read(path, &n_keys, err)) == NULL)
		return NULL;
	keys = xcalloc(1, sizeof(*keys));
	keys->cipher = EVP_CIPHER_fetch(NULL, FILE_CIPHER, NULL);
	if (keys->cipher == NULL) {
		*err = xstrdup("OpenSSL has no " FILE_CIPHER);
		OPENSSL_cleanse(buf, n_keys * TLS_TICKET_FILE_KEY_LEN);
		free(buf);
		free(keys);
		return NULL;
	}
	keys->cipher_name = xstrdup(FILE_CIPHER);
	keys->key_len = EVP_CIPHER_get_key_length(keys->cipher);
	keys->iv_len = EVP_CIPHER_get_iv_length(keys->cipher);
	keys->from_file = 1;
	for (size_t i = 0; i < n_keys; i++) {
		const unsigned char *k = buf + i * TLS_TICKET_FILE_KEY_LEN;

		memcpy(keys->keys[i].name, k + FILE_NAME_AT, NAME_LEN);
		memcpy(keys->keys[i].hmac_key, k + FILE_HMAC_AT, HMAC_LEN);
		memcpy(keys->keys[i].cipher_key, k + FILE_AES_AT,
		    (size_t)keys->key_len);
	}
	keys->n_keys = n_keys;
	OPENSSL_cleanse(buf, n_keys * TLS_TICKET_FILE_KEY_LEN);
	free(buf);
	return keys;
}

size_t
tls_ticket_keys_from_file_count(const struct tls_ticket_keys *keys)
{
	return keys != NULL && keys->from_file ? keys->n_keys : 0;
}

void
tls_ticket_keys_free(struct tls_ticket_keys *keys)
{
	if (keys == NULL)
		return;
	scache_free(keys->store);
	EVP_CIPHER_free(keys->cipher);
	free(keys->cipher_name);
	OPENSSL_cleanse(keys->keys, sizeof(keys->keys));
	OPENSSL_cleanse(&keys->local, sizeof(keys->local));
	free(keys);
}

/* Keys of this cipher only: a new tls_session_ticket_cipher starts a
 * new set rather than misreading the old one. */
static int
key_prefix_matches(const struct tls_ticket_keys *keys, const char *key)
{
	size_t n = strlen(keys->cipher_name);

	return strncmp(key, keys->cipher_name, n) == 0 && key[n] == ':';
}

static int
load_fn(void *arg, const char *key, size_t key_len,
    const struct scache_entry *entry)
{
	struct tls_ticket_keys *keys = arg;
	struct ticket_key tk;
	size_t i;

	(void)key_len;
	if (!key_prefix_matches(keys, key) ||
	    entry->len != NAME_LEN + (size_t)keys->key_len + HMAC_LEN ||
	    entry->expires <= time(NULL))
		return 0;
	memset(&tk, 0, sizeof(tk));
	memcpy(tk.name, entry->data, NAME_LEN);
	memcpy(tk.cipher_key, entry->data + NAME_LEN, (size_t)keys->key_len);
	memcpy(tk.hmac_key, entry->data + NAME_LEN + keys->key_len, HMAC_LEN);
	tk.created = entry->created;
	/* Insertion sort, newest first; the oldest falls off. */
	for (i = keys->n_keys; i > 0 && keys->keys[i - 1].created <
	    tk.created; i--)
		if (i < MAX_KEYS)
			keys->keys[i] = keys->keys[i - 1];
	if (i < MAX_KEYS) {
		keys->keys[i] = tk;
		if (keys->n_keys < MAX_KEYS)
			keys->n_keys++;
	}
	OPENSSL_cleanse(&tk, sizeof(tk));
	return 0;
}

/* Reads the store; when it cannot be read, the keys we had stay. */
static void
load(struct tls_ticket_keys *keys, time_t now)
{
	struct ticket_key saved[MAX_KEYS];
	size_t n_saved = keys->n_keys;

	memcpy(saved, keys->keys, sizeof(saved));
	OPENSSL_cleanse(keys->keys, sizeof(keys->keys));
	keys->n_keys = 0;
	keys->loaded = now;
	if (scache_walk(keys->store, load_fn, keys) < 0) {
		memcpy(keys->keys, saved, sizeof(saved));
		keys->n_keys = n_saved;
	}
	OPENSSL_cleanse(saved, sizeof(saved));
}

static char *
store_key_name(const struct tls_ticket_keys *keys, const unsigned char *name)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_printf(&sb, "%s:", keys->cipher_name);
	for (size_t i = 0; i < NAME_LEN; i++)
		strbuf_printf(&sb, "%02x", name[i]);
	return strbuf_steal(&sb);
}

/* A new key, stored for everyone; 0 or -1. */
static int
rotate(struct tls_ticket_keys *keys, time_t now)
{
	unsigned char rec[NAME_LEN + EVP_MAX_KEY_LENGTH + HMAC_LEN];
	size_t len = NAME_LEN + (size_t)keys->key_len + HMAC_LEN;
	char *name;
	int ret;

	if (RAND_bytes(rec, (int)len) != 1)
		return -1;
	name = store_key_name(keys, rec);
	ret = scache_put(keys->store, name, now,
	    now + 2 * (time_t)keys->lifetime, rec, len);
	free(name);
	OPENSSL_cleanse(rec, sizeof(rec));
	return ret;
}

static int
encrypting(const struct tls_ticket_keys *keys, const struct ticket_key *tk,
    time_t now)
{
	return tk->created <= now && now - tk->created < keys->lifetime;
}

static const struct ticket_key *
local_key(struct tls_ticket_keys *keys, time_t now)
{
	if (keys->has_local && encrypting(keys, &keys->local, now))
		return &keys->local;
	if (RAND_bytes(keys->local.name, NAME_LEN) != 1 ||
	    RAND_bytes(keys->local.cipher_key, keys->key_len) != 1 ||
	    RAND_bytes(keys->local.hmac_key, HMAC_LEN) != 1)
		return NULL;
	keys->local.created = now;
	keys->has_local = 1;
	return &keys->local;
}

/* The key that encrypts now, rotating when there is none. */
static const struct ticket_key *
current_key(struct tls_ticket_keys *keys, time_t now)
{
	if (keys->from_file)
		return &keys->keys[0];
	if (keys->n_keys > 0 && encrypting(keys, &keys->keys[0], now))
		return &keys->keys[0];
	load(keys, now);
	if (keys->n_keys > 0 && encrypting(keys, &keys->keys[0], now))
		return &keys->keys[0];
	if (rotate(keys, now) == 0) {
		load(keys, now);
		if (keys->n_keys > 0 && encrypting(keys, &keys->keys[0], now))
			return &keys->keys[0];
	}
	return local_key(keys, now);
}

static const struct ticket_key *
find_key(struct tls_ticket_keys *keys, const unsigned char *name, time_t now)
{
	if (keys->from_file) {
		for (size_t i = 0; i < keys->n_keys; i++)
			if (memcmp(keys->keys[i].name, name, NAME_LEN) == 0)
				return &keys->keys[i];
		return NULL;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < keys->n_keys; i++)
			if (memcmp(keys->keys[i].name, name, NAME_LEN) == 0 &&
			    now - keys->keys[i].created < 2 * keys->lifetime)
				return &keys->keys[i];
		if (keys->has_local && memcmp(keys->local.name, name,
		    NAME_LEN) == 0 && now - keys->local.created <
		    2 * keys->lifetime)
			return &keys->local;
		/* Once a second at most: garbage tickets must not turn into
		 * a read of the store each. */
		if (pass == 0 && keys->loaded != now)
			load(keys, now);
		else
			break;
	}
	return NULL;
}

static int
set_hmac(EVP_MAC_CTX *hctx, const struct ticket_key *tk)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)tk->hmac_key, HMAC_LEN);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params);
}

int
tls_ticket_key_cb(SSL *ssl, unsigned char *key_name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(SSL_get_SSL_CTX(ssl));
	struct tls_ticket_keys *keys = sctx ? sctx->tickets : NULL;
	const struct ticket_key *tk;
	time_t now = time(NULL);

	if (keys == NULL)
		return 0;
	if (enc) {
		/* No key, no ticket: the handshake goes on without one. */
		if ((tk = current_key(keys, now)) == NULL)
			return 0;
		if (RAND_bytes(iv, keys->iv_len) != 1)
			return -1;
		memcpy(key_name, tk->name, NAME_LEN);
		if (!EVP_EncryptInit_ex(cctx, keys->cipher, NULL,
		    tk->cipher_key, iv) || !set_hmac(hctx, tk))
			return -1;
		return 1;
	}
	/* Unknown or expired key: a full handshake and a new ticket. */
	if ((tk = find_key(keys, key_name, now)) == NULL)
		return 0;
	if (!set_hmac(hctx, tk) ||
	    !EVP_DecryptInit_ex(cctx, keys->cipher, NULL, tk->cipher_key, iv))
		return -1;
	tls_scache_mark_ticketed(ssl);
	/*
	 * 2: good, and send a fresh ticket: when an older key sealed it, and
	 * always in TLS 1.3, whose clients use a ticket once (RFC 8446 C.4;
	 * OpenSSL does): without a new one every other connection would be a
	 * full handshake. Still one ticket per handshake.
	 */
	if (SSL_version(ssl) >= TLS1_3_VERSION)
		return 2;
	if (keys->from_file)
		return tk == &keys->keys[0] ? 1 : 2;
	return encrypting(keys, tk, now) && (tk == &keys->keys[0] ||
	    tk == &keys->local) ? 1 : 2;
}

long
tls_ticket_keys_purge(struct tls_ticket_keys *keys, time_t now)
{
	if (keys->store == NULL)
		return 0;
	return scache_purge(keys->store, now);
}
