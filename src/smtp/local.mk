# The smtp client pool.
libtlsrelay_a_SOURCES += \
	src/smtp/smtp_body.c \
	src/smtp/smtp_conn.c \
	src/smtp/smtp_log.c \
	src/smtp/smtp_pool.c \
	src/smtp/smtp_reply.c \
	src/smtp/smtp_sasl.c \
	src/smtp/smtp_xfer.c
noinst_HEADERS += src/smtp/smtp_int.h

check_PROGRAMS += tests/unit/check_smtp_reply
tests_unit_check_smtp_reply_SOURCES = tests/unit/check_smtp_reply.c
tests_unit_check_smtp_reply_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/smtp
tests_unit_check_smtp_reply_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtp_reply_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtp_reply

# check_smtp_client starts tests/unit/peers/smtp_peer.py (python3-aiosmtpd).
EXTRA_DIST += tests/unit/peers/smtp_peer.py
check_PROGRAMS += tests/unit/check_smtp_client
tests_unit_check_smtp_client_SOURCES = tests/unit/check_smtp_client.c
tests_unit_check_smtp_client_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtp_client_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtp_client

# check_smtp_sasl: AUTH PLAIN/LOGIN encoding, password lookup order,
# security options and the mechanism filter.
check_PROGRAMS += tests/unit/check_smtp_sasl
tests_unit_check_smtp_sasl_SOURCES = tests/unit/check_smtp_sasl.c
tests_unit_check_smtp_sasl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/smtp
tests_unit_check_smtp_sasl_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtp_sasl_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtp_sasl
