# The connection layer: socket, bufferevent, SSL and timers of one
# connection, for smtpd and smtp alike.
libtlsrelay_a_SOURCES += \
	src/net/conn.c \
	src/net/conn_error.c \
	src/net/conn_tls.c
noinst_HEADERS += src/net/conn_int.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_conn
tests_unit_check_conn_SOURCES = tests/unit/check_conn.c
tests_unit_check_conn_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_conn_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_conn
endif
