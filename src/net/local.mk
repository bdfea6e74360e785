# The connection layer: socket, bufferevent, SSL and timers of one
# connection, for smtpd and smtp alike.
libtlsrelay_a_SOURCES += \
	src/net/conn.c \
	src/net/conn_error.c \
	src/net/conn_proxy.c \
	src/net/conn_tls.c \
	src/net/offload.c
noinst_HEADERS += src/net/conn_int.h

check_PROGRAMS += tests/unit/check_conn
tests_unit_check_conn_SOURCES = tests/unit/check_conn.c
tests_unit_check_conn_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_conn_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_conn

check_PROGRAMS += tests/unit/check_offload
tests_unit_check_offload_SOURCES = tests/unit/check_offload.c
tests_unit_check_offload_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_offload_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_offload
