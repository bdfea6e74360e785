# scache: the Berkeley DB store behind the TLS session caches and the
# ticket keys (the OpenSSL side is src/tls/tls_scache*.c).
libtlsrelay_a_SOURCES += \
	src/scache/scache_db.c \
	src/scache/scache_env.c \
	src/scache/scache_spec.c
noinst_HEADERS += src/scache/scache_int.h include/tlsrelay/scache.h

check_PROGRAMS += tests/unit/check_scache
tests_unit_check_scache_SOURCES = tests/unit/check_scache.c
tests_unit_check_scache_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_scache_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/tls \
	-I$(top_srcdir)/src/scache
tests_unit_check_scache_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_scache
