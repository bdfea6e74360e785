/* proxy: the PROXY protocol header, versions 1 and 2; see proxy.h. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsrelay/proxy.h"

static const unsigned char v2_signature[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

#define V1_MAX		107	/* "PROXY" ... CR LF, the spec's bound */
#define V2_FIXED	16

/* ---- version 1: "PROXY TCP4 1.2.3.4 5.6.7.8 1111 25\r\n" ------------ */

/* A decimal port, 0-65535, without a sign or leading zeros. */
static int
v1_port(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* An address in text, as the rest of the relay writes a peer's: an
 * IPv4-mapped IPv6 address (::ffff:192.0.2.7) becomes the IPv4 address,
 * as for a socket's peer (smtpd_session.c), so that mynetworks, access
 * tables and anvil see one client under one name. Returns the family. */
static int
addr_text(int af, const unsigned char *bin, char *out, size_t outlen)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	if (af == AF_INET6 && memcmp(bin, v4mapped, sizeof(v4mapped)) == 0) {
		af = AF_INET;
		bin += 12;
	}
	if (inet_ntop(af, bin, out, (socklen_t)outlen) == NULL)
		return -1;
	return af;
}

/* One v1 address of family af, written back in canonical form. */
static int
v1_addr(int af, const char *s, char *out, size_t outlen, int *family)
{
	unsigned char bin[16];

	if (inet_pton(af, s, bin) != 1 ||
	    (*family = addr_text(af, bin, out, outlen)) < 0)
		return -1;
	return 0;
}

static enum proxy_status
parse_v1(const unsigned char *buf, size_t len, struct proxy_info *info,
    size_t *consumed, const char **why)
{
	char line[V1_MAX + 1], *field[6], *save = NULL, *p;
	const unsigned char *crlf = NULL;
	size_t n;
	int af, server_af, i;

	for (size_t k = 0; k + 1 < len && k + 1 < V1_MAX; k++)
		if (buf[k] == '\r' && buf[k + 1] == '\n') {
			crlf = buf + k;
			break;
		}
	if (crlf == NULL) {
		if (len >= V1_MAX) {
			*why = "PROXY v1 header without CR LF in 107 bytes";
			return PROXY_ERROR;
		}
		if (memchr(buf, '\n', len) != NULL ||
		    memchr(buf, '\0', len) != NULL) {
			*why = "malformed PROXY v1 header";
			return PROXY_ERROR;
		}
		return PROXY_NEED_MORE;
	}
	n = (size_t)(crlf - buf);
	memcpy(line, buf, n);
	line[n] = '\0';
	if (strlen(line) != n) {
		*why = "NUL byte in the PROXY v1 header";
		return PROXY_ERROR;
	}
	*consumed = n + 2;
	memset(info, 0, sizeof(*info));
	/* The spec: whatever follows UNKNOWN up to CR LF is ignored. */
	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (line[13] == '\0' || line[13] == ' ')) {
		info->local = 1;
		return PROXY_OK;
	}
	/* Single spaces only, as the spec writes it. */
	if (strstr(line, "  ") != NULL || line[n - 1] == ' ') {
		*why = "malformed PROXY v1 header";
		return PROXY_ERROR;
	}
	for (i = 0, p = strtok_r(line, " ", &save); p != NULL && i < 6;
	    p = strtok_r(NULL, " ", &save))
		field[i++] = p;
	if (p != NULL || i < 2 || strcmp(field[0], "PROXY") != 0) {
		*why = "malformed PROXY v1 header";
		return PROXY_ERROR;
	}
	if (strcmp(field[1], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(field[1], "TCP6") == 0)
		af = AF_INET6;
	else {
		*why = "PROXY v1 header with an unknown protocol";
		return PROXY_ERROR;
	}
	if (i != 6 || v1_addr(af, field[2], info->client_addr,
	    sizeof(info->client_addr), &info->family) < 0 ||
	    v1_addr(af, field[3], info->server_addr,
	    sizeof(info->server_addr), &server_af) < 0 ||
	    v1_port(field[4], &info->client_port) < 0 ||
	    v1_port(field[5], &info->server_port) < 0) {
		*why = "PROXY v1 header with a bad address or port";
		return PROXY_ERROR;
	}
	return PROXY_OK;
}

/* ---- version 2: binary ------------------------------------------------ */

/* The TLVs after the addresses: none is used, but each must lie inside
 * the header (type, 2-byte length, value), or the header is not what
 * its sender meant and nothing in it is believed. */
static int
v2_tlvs_fit(const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t tlv;

		if (len < 3)
			return -1;
		tlv = 3 + (((size_t)p[1] << 8) | p[2]);
		if (tlv > len)
			return -1;
		p += tlv;
		len -= tlv;
	}
	return 0;
}

static enum proxy_status
parse_v2(const unsigned char *buf, size_t len, struct proxy_info *info,
    size_t *consumed, const char **why)
{
	size_t body, need, alen;
	unsigned ver_cmd, fam;
	const unsigned char *a;
	int af, server_af;

	if (len < V2_FIXED)
		return PROXY_NEED_MORE;
	ver_cmd = buf[12];
	fam = buf[13];
	body = ((size_t)buf[14] << 8) | buf[15];
	if ((ver_cmd >> 4) != 2) {
		*why = "PROXY v2 header with an unknown version";
		return PROXY_ERROR;
	}
	need = V2_FIXED + body;
	if (need > PROXY_HEADER_MAX) {
		*why = "PROXY v2 header too long";
		return PROXY_ERROR;
	}
	if (len < need)
		return PROXY_NEED_MORE;
	*consumed = need;
	memset(info, 0, sizeof(*info));
	switch (ver_cmd & 0x0f) {
	case 0x0:		/* LOCAL: the balancer itself (health check) */
		info->local = 1;
		return PROXY_OK;
	case 0x1:		/* PROXY */
		break;
	default:
		*why = "PROXY v2 header with an unknown command";
		return PROXY_ERROR;
	}
	switch (fam) {
	case 0x11:		/* TCP over IPv4 */
		af = AF_INET;
		alen = 4;
		break;
	case 0x21:		/* TCP over IPv6 */
		af = AF_INET6;
		alen = 16;
		break;
	case 0x00:		/* UNSPEC: no address; as LOCAL */
		info->local = 1;
		return PROXY_OK;
	default:
		*why = "PROXY v2 header with an unsupported address family";
		return PROXY_ERROR;
	}
	/* Source address, destination address, source port, dest. port. */
	if (body < 2 * alen + 4) {
		*why = "PROXY v2 header shorter than its addresses";
		return PROXY_ERROR;
	}
	a = buf + V2_FIXED;
	if (v2_tlvs_fit(a + 2 * alen + 4, body - (2 * alen + 4)) < 0) {
		*why = "PROXY v2 header with a malformed TLV";
		return PROXY_ERROR;
	}
	info->family = addr_text(af, a, info->client_addr,
	    sizeof(info->client_addr));
	server_af = addr_text(af, a + alen, info->server_addr,
	    sizeof(info->server_addr));
	if (info->family < 0 || server_af < 0) {
		*why = "PROXY v2 header with a bad address";
		return PROXY_ERROR;
	}
	a += 2 * alen;
	info->client_port = ((unsigned)a[0] << 8) | a[1];
	info->server_port = ((unsigned)a[2] << 8) | a[3];
	return PROXY_OK;
}

enum proxy_status
proxy_parse(const unsigned char *buf, size_t len, struct proxy_info *info,
    size_t *consumed, const char **why)
{
	static const char v1_start[] = "PROXY ";
	size_t n;

	*consumed = 0;
	*why = NULL;
	if (len == 0)
		return PROXY_NEED_MORE;
	/* Which version: the first bytes must agree with one of them. */
	n = len < sizeof(v2_signature) ? len : sizeof(v2_signature);
	if (memcmp(buf, v2_signature, n) == 0)
		return n < sizeof(v2_signature) ? PROXY_NEED_MORE :
		    parse_v2(buf, len, info, consumed, why);
	n = len < sizeof(v1_start) - 1 ? len : sizeof(v1_start) - 1;
	if (memcmp(buf, v1_start, n) == 0)
		return n < sizeof(v1_start) - 1 ? PROXY_NEED_MORE :
		    parse_v1(buf, len, info, consumed, why);
	*why = "no PROXY protocol header";
	return PROXY_ERROR;
}
