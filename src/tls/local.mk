libtlsrelay_a_SOURCES += \
	src/tls/tls_certs.c \
	src/tls/tls_ciphers.c \
	src/tls/tls_errors.c \
	src/tls/tls_info.c \
	src/tls/tls_level.c \
	src/tls/tls_protocols.c \
	src/tls/tls_server.c \
	src/tls/tls_server_cache.c \
	src/tls/tls_server_kex.c \
	src/tls/tls_server_verify.c
noinst_HEADERS += src/tls/tls_private.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_tls
tests_unit_check_tls_SOURCES = tests/unit/check_tls.c
tests_unit_check_tls_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_tls_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_tls
endif
