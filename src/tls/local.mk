libtlsrelay_a_SOURCES += \
	src/tls/tls_audit.c \
	src/tls/tls_certs.c \
	src/tls/tls_ciphers.c \
	src/tls/tls_client.c \
	src/tls/tls_client_ctx.c \
	src/tls/tls_dane.c \
	src/tls/tls_errors.c \
	src/tls/tls_fprint.c \
	src/tls/tls_info.c \
	src/tls/tls_level.c \
	src/tls/tls_policy.c \
	src/tls/tls_protocols.c \
	src/tls/tls_scache.c \
	src/tls/tls_scache_client.c \
	src/tls/tls_scache_ticket.c \
	src/tls/tls_server.c \
	src/tls/tls_server_cache.c \
	src/tls/tls_server_kex.c \
	src/tls/tls_server_verify.c \
	src/tls/tls_ticket_file.c \
	src/tls/tls_verify.c
noinst_HEADERS += src/tls/tls_private.h src/tls/tls_client_int.h src/tls/tls_scache.h

check_PROGRAMS += tests/unit/check_tls
tests_unit_check_tls_SOURCES = tests/unit/check_tls.c
tests_unit_check_tls_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_tls_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_tls

# Per-destination client TLS policy (issue 4).
check_PROGRAMS += tests/unit/check_tls_policy
tests_unit_check_tls_policy_SOURCES = tests/unit/check_tls_policy.c
tests_unit_check_tls_policy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_tls_policy_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_tls_policy
