/* Internal to the map subsystem: address parsing shared by the
 * mynetworks lists (cidr.c) and cidr: tables (table_cidr.c). */
#ifndef TLSRELAY_CIDR_INT_H
#define TLSRELAY_CIDR_INT_H

#include <stddef.h>

/* Parses an IPv4 or IPv6 address without prefix, "[...]" allowed, into
 * *family and addr (16 bytes of room). Returns 0 or -1. */
int cidr_parse_address(const char *text, size_t len, int *family,
    unsigned char *addr);
/* 1 when the first prefix bits of a and b are equal. */
int cidr_prefix_equal(const unsigned char *a, const unsigned char *b,
    int prefix);

#endif
