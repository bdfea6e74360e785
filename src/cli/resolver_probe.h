/* resolver_probe: does the resolver main.cf names validate DNSSEC? Asked
 * by `tlsrelay check` of a configuration with smtp_dns_support_level =
 * dnssec, and by `tlsrelay setup` of a new one, to choose its DANE
 * default. */
#ifndef TLSRELAY_CLI_RESOLVER_PROBE_H
#define TLSRELAY_CLI_RESOLVER_PROBE_H

struct conf;

struct resolver_probe {
	char *servers;		/* who was (or would be) asked, as text:
				 * "127.0.0.1:5353", "::1 of
				 * /etc/resolv.conf" */
	int on_host;		/* every one of them is on loopback */
	int validates;		/* 1 yes, 0 no, -1 not known: why says */
	char *why;
};

/* Asks the resolver of conf (tlsrelay_dns_servers, else the servers of
 * /etc/resolv.conf) for the root zone's SOA with the AD bit, and waits
 * for the answer (PROBE_TIMEOUT at most). With on_host_only nothing is
 * sent unless every server is on this host (validates -1 then). -1 with
 * *err when tlsrelay_dns_servers is unusable (caller frees); else 0 and
 * the result in *rp (free with resolver_probe_free). */
int resolver_probe(const struct conf *conf, int on_host_only,
    struct resolver_probe *rp, char **err);
void resolver_probe_free(struct resolver_probe *rp);

#endif
