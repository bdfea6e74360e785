libtlsrelay_a_SOURCES += src/map/cidr.c
libtlsrelay_a_SOURCES += src/map/domain_list.c
libtlsrelay_a_SOURCES += src/map/host_networks.c

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_cidr tests/unit/check_domain_list
tests_unit_check_cidr_SOURCES = tests/unit/check_cidr.c
tests_unit_check_cidr_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_cidr_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
tests_unit_check_domain_list_SOURCES = tests/unit/check_domain_list.c
tests_unit_check_domain_list_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_domain_list_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_cidr tests/unit/check_domain_list
endif
