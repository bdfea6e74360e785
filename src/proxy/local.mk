# The PROXY protocol header a load balancer sends (issue 16).
libtlsrelay_a_SOURCES += src/proxy/proxy.c

check_PROGRAMS += tests/unit/check_proxy
tests_unit_check_proxy_SOURCES = tests/unit/check_proxy.c
tests_unit_check_proxy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_proxy_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_proxy
