/* map: lookup tables: CIDR lists (mynetworks), domain lists
 * (relay_domains) and the type:name tables (below). */
#ifndef TLSRELAY_MAP_H
#define TLSRELAY_MAP_H

#include <stddef.h>
#include <sys/socket.h>

struct cidr_list;

/* Parses a mynetworks-style list: IPv4 and IPv6 addresses with optional
 * /prefix, IPv6 optionally in brackets ("[::1]/128", "[fe80::]/10"),
 * separated by commas and/or white space. A host address with bits set
 * beyond the prefix is an error, as in Postfix ("non-null host address
 * bits in 10.0.0.1/8"). Returns NULL with *err set (caller frees). */
struct cidr_list *cidr_list_parse(const char *spec, char **err);
void cidr_list_free(struct cidr_list *list);
/* 1 if addr (AF_INET or AF_INET6; IPv4-mapped IPv6 is matched as IPv4)
 * is in the list. */
int cidr_list_match(const struct cidr_list *list, const struct sockaddr *addr);
int cidr_list_match_text(const struct cidr_list *list, const char *addr);

/* The entries of list that some address outside within matches (an
 * entry inside one entry of within is not; negated entries are
 * skipped), as "addr/prefix" words separated by spaces; NULL when there
 * is none. Caller frees. For `tlsrelay check`: mynetworks wider than
 * the subnets of this host. */
char *cidr_list_outside(const struct cidr_list *list,
    const struct cidr_list *within);

/* The loopback networks plus every address of this host's interfaces,
 * one /32 or /128 each: Postfix's mynetworks_style = host. Caller frees. */
char *cidr_host_networks(void);
/* The subnets of this host's interfaces: mynetworks_style = subnet. */
char *cidr_subnet_networks(void);

/* A list of domains (relay_domains): a domain matches itself and, with
 * subdomains = 1, every subdomain of it (Postfix's
 * parent_domain_matches_subdomains); a ".example.com" entry matches
 * subdomains only. Case-insensitive. */
struct domain_list;
struct domain_list *domain_list_parse(const char *spec, int subdomains);
void domain_list_free(struct domain_list *list);
int domain_list_match(const struct domain_list *list, const char *domain);

/* ---- tables: one lookup interface for every "type:name" ----
 *
 * Types, as Postfix's postmap(1) and DATABASE_README define them:
 *   hash:FILE, btree:FILE   Berkeley DB file FILE.db built by `tlsrelay map`
 *                           or by postmap (keys with or without the
 *                           trailing NUL are both read).
 *   texthash:FILE           the text source read at open.
 *   inline:{ k=v, { k = v with spaces } }
 *   cidr:FILE, cidr:{ {rule}, {rule} }   "network/len value", first match,
 *                           "!pattern", "if pattern" ... "endif".
 *   static:VALUE, static:{ value with spaces }
 * Text sources use postmap's syntax: "key whitespace value", '#' comment
 * lines, a line starting with white space continues the previous one.
 * Keys are folded to lower case (not for cidr). A malformed line is an
 * error naming FILE:LINE (postmap skips it with a warning; a policy entry
 * lost that way could weaken TLS for a destination); a duplicate key is a
 * warning and the first entry wins (inline: the last one, as in Postfix).
 * A hash:/btree: whose .db is older than its source draws a warning, unless
 * the source changed in the last 100 seconds (a rebuild under way), as in
 * Postfix. */
struct table;

#define TABLE_NO_FOLD	0x01	/* keep the case of keys (postmap -f) */

/* The types table_open() knows, for messages and usage lines, separated
 * by spaces: "hash btree texthash inline cidr static". */
const char *table_types(void);
/* What the file behind a type is, for the tools that write tables
 * (tlsrelay passwd): */
#define TABLE_TYPE_SOURCE	0x01	/* NAME is a "key value" text file */
#define TABLE_TYPE_BUILT	0x02	/* read from NAME.db, table_build() */
/* The TABLE_TYPE_* bits of type: 0 for the others and unknown types. */
int table_type_flags(const char *type);

/* Opens "type:name". NULL with *err set (caller frees) on failure; an
 * unknown type's message lists table_types(). */
struct table *table_open(const char *spec, int flags, char **err);
/* The value for key, or NULL when there is none. *error (may be NULL) is
 * set to 1 when the lookup itself failed (I/O, corrupt database): the
 * caller should defer, not treat it as "not found"; else to 0. The value
 * stays valid until the next lookup in t or table_close(t). */
const char *table_lookup(struct table *t, const char *key, int *error);
/* Calls fn for every key and value of t, in the table's order (postmap
 * -s). Returns 0, or -1 with *err set: a type that cannot list its
 * entries (cidr, static), or a read error. */
typedef void (*table_each_fn)(void *arg, const char *key, const char *value);
int table_each(struct table *t, table_each_fn fn, void *arg, char **err);
void table_close(struct table *t);
/* The spec as given to table_open ("hash:/etc/x"). */
const char *table_name(const struct table *t);
/* 1 when the file behind t was replaced or modified since it was opened
 * (a long-running process should re-open it), else 0. */
int table_changed(const struct table *t);

/* Opens a text-source type ("texthash" or "cidr") from memory; label
 * names the text in messages ("label:LINE: ..."). For tests, fuzzing and
 * cidr:{...}. */
struct table *table_open_text(const char *type, const char *label,
    const char *text, size_t len, int flags, char **err);

/* `tlsrelay map type:file`: compiles file into file.db (type hash or
 * btree) atomically: written to a temporary file, synced, renamed over
 * file.db, so a reader sees the old or the new database, never half of
 * one. Returns 0, or -1 with *err naming file:line. */
int table_build(const char *spec, int flags, char **err);

/* A parameter value naming several tables ("hash:/a, inline:{ x=y }"):
 * they are searched in order, the first that has the key answers. A
 * lookup error in one table stops the search (*error = 1).
 *
 * A daemon holds its lists for its whole life and calls
 * table_list_refresh() once per lookup round (a message's recipient, a
 * session's command, a delivery), as a Postfix daemon restarts when a
 * table changed: every table the daemon holds goes through it. */
struct table_list;
/* Splits a list that may hold tables written inline (a restriction list:
 * "check_sender_access inline:{ a=REJECT, b=OK }, reject") on commas and
 * white space outside braces, as Postfix does: a NULL-terminated array
 * for strlist_free, or NULL with *err on unbalanced braces. */
char **table_split_words(const char *value, size_t *count, char **err);
struct table_list *table_list_open(const char *value, int flags,
    char **err);
const char *table_list_lookup(struct table_list *list, const char *key,
    int *error);
/* Opens the whole list again when a file behind one of its tables was
 * replaced or modified (table_changed()), and logs it as
 *	LABEL: TABLE changed: opened again
 * label names the list, usually its parameter. When the new version does
 * not open (a syntax error, a file readable by root only), the old tables
 * stay in use, with one warning
 *	LABEL: TABLE changed but cannot be opened again (REASON); keeping
 *	the old contents
 * and no new attempt until a file changes again. Returns 1 re-opened,
 * 0 unchanged, -1 changed but kept. The list pointer stays valid. */
int table_list_refresh(struct table_list *list, const char *label);
/* The table of the last successful lookup, for log lines; NULL if none. */
const struct table *table_list_last(const struct table_list *list);
size_t table_list_count(const struct table_list *list);
int table_list_changed(const struct table_list *list);
void table_list_close(struct table_list *list);

#endif
