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

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_smtp_reply
tests_unit_check_smtp_reply_SOURCES = tests/unit/check_smtp_reply.c
tests_unit_check_smtp_reply_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/smtp
tests_unit_check_smtp_reply_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_smtp_reply_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_smtp_reply
endif

# check_smtp_client starts tests/unit/peers/smtp_peer.py (python3-aiosmtpd).
EXTRA_DIST += tests/unit/peers/smtp_peer.py
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_smtp_client
tests_unit_check_smtp_client_SOURCES = tests/unit/check_smtp_client.c
tests_unit_check_smtp_client_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_smtp_client_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_smtp_client
endif

# check_smtp_sasl: AUTH PLAIN/LOGIN encoding, password lookup order,
# security options and the mechanism filter.
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_smtp_sasl
tests_unit_check_smtp_sasl_SOURCES = tests/unit/check_smtp_sasl.c
tests_unit_check_smtp_sasl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/smtp
tests_unit_check_smtp_sasl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_smtp_sasl_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_smtp_sasl
endif
