include src/smtpd/parsers.mk
include src/smtpd/sasl_cyrus.mk

libtlsrelay_a_SOURCES += \
	src/smtpd/smtpd_int.h \
	src/smtpd/smtpd_session.h \
	src/smtpd/smtpd_commands.c \
	src/smtpd/smtpd_commit.c \
	src/smtpd/smtpd_dnsbl_filter.c \
	src/smtpd/smtpd_dnscheck.c \
	src/smtpd/smtpd_auth.c \
	src/smtpd/smtpd_policy.c \
	src/smtpd/smtpd_restrict.h \
	src/smtpd/smtpd_restrict.c \
	src/smtpd/smtpd_restrict_parse.c \
	src/smtpd/smtpd_restrict_basic.c \
	src/smtpd/smtpd_restrict_access.c \
	src/smtpd/smtpd_restrict_dns.c \
	src/smtpd/smtpd_tables.c \
	src/smtpd/sasl_decode.c \
	src/smtpd/sasl_password.c \
	src/smtpd/sasl_passwd_file.c \
	src/smtpd/sasl_dovecot.c \
	src/smtpd/sasl_dovecot_parse.c \
	src/smtpd/sasl_server.c \
	src/smtpd/sasl_tlsrelay.c \
	src/smtpd/smtpd_received.c \
	src/smtpd/smtpd_session.c \
	src/smtpd/smtpd_deadline.c \
	src/smtpd/smtpd_worker.c

check_PROGRAMS += tests/unit/check_smtpd_policy
tests_unit_check_smtpd_policy_SOURCES = tests/unit/check_smtpd_policy.c
tests_unit_check_smtpd_policy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_policy_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtpd_policy

# The restriction engine: stages, access(5) lookup order and actions,
# classes, syntax checks.
check_PROGRAMS += tests/unit/check_smtpd_restrict
tests_unit_check_smtpd_restrict_SOURCES = tests/unit/check_smtpd_restrict.c
tests_unit_check_smtpd_restrict_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_restrict_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtpd_restrict

# SMTP AUTH: decoders, password hashes, the passwd file edit, the policy.
check_PROGRAMS += tests/unit/check_smtpd_auth
tests_unit_check_smtpd_auth_SOURCES = tests/unit/check_smtpd_auth.c
tests_unit_check_smtpd_auth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_auth_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/smtpd
tests_unit_check_smtpd_auth_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtpd_auth

# DNS answers of a session: the DNSBL filter, query names, and the memo
# against a real dnsmasq on loopback.
check_PROGRAMS += tests/unit/check_smtpd_dnscheck
tests_unit_check_smtpd_dnscheck_SOURCES = tests/unit/check_smtpd_dnscheck.c
tests_unit_check_smtpd_dnscheck_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_dnscheck_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtpd_dnscheck

# The parser of Dovecot's auth server lines.
check_PROGRAMS += tests/unit/check_sasl_dovecot
tests_unit_check_sasl_dovecot_SOURCES = tests/unit/check_sasl_dovecot.c
tests_unit_check_sasl_dovecot_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_sasl_dovecot_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_sasl_dovecot
