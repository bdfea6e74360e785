libtlsrelay_a_SOURCES += \
	src/dns/dns.c \
	src/dns/dns_answer.c \
	src/dns/dns_families.c \
	src/dns/dns_level.c \
	src/dns/dns_lookup.c \
	src/dns/dns_nexthop.c \
	src/dns/dns_rr.c \
	src/dns/dns_servers.c \
	src/dns/dns_sort.c \
	src/dns/dns_tlsa.c \
	src/dns/dns_ttl.c
noinst_HEADERS += src/dns/dns_int.h

check_PROGRAMS += tests/unit/check_dns
tests_unit_check_dns_SOURCES = tests/unit/check_dns.c
tests_unit_check_dns_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dns_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_dns
