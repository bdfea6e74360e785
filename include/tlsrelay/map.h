/* map: lookup tables. For now: CIDR lists (mynetworks) and domain lists
 * (relay_domains). The full type:name table interface comes later. */
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

#endif
