# smtpd_sasl_type = cyrus: the Cyrus SASL library (configure requires it).
libtlsrelay_a_SOURCES += src/smtpd/sasl_cyrus.c

check_PROGRAMS += tests/unit/check_sasl_cyrus
tests_unit_check_sasl_cyrus_SOURCES = tests/unit/check_sasl_cyrus.c
tests_unit_check_sasl_cyrus_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_sasl_cyrus_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_sasl_cyrus

# With swaks, smtplib, saslpasswd2's sasldb2 and a stand-in saslauthd.
TESTS += tests/integration/test_sasl_cyrus.py
EXTRA_DIST += \
	tests/integration/test_sasl_cyrus.py \
	tests/integration/peers/saslauthd.py
