# The fixtures library every Check suite links (testutil.h). A suite in a
# subsystem's local.mk uses UNIT_CFLAGS and UNIT_LDADD.
check_LIBRARIES = tests/unit/libtestutil.a
tests_unit_libtestutil_a_SOURCES = tests/unit/testutil.c tests/unit/testutil.h
tests_unit_libtestutil_a_CFLAGS = $(UNIT_CFLAGS)
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_LDADD = tests/unit/libtestutil.a $(LIBTLSRELAY) $(CHECK_LIBS)
