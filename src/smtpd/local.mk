include src/smtpd/parsers.mk

libtlsrelay_a_SOURCES += \
	src/smtpd/smtpd_int.h \
	src/smtpd/smtpd_session.h \
	src/smtpd/smtpd_commands.c \
	src/smtpd/smtpd_commit.c \
	src/smtpd/smtpd_auth.c \
	src/smtpd/smtpd_policy.c \
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
	src/smtpd/smtpd_worker.c

check_PROGRAMS += tests/unit/check_smtpd_policy
tests_unit_check_smtpd_policy_SOURCES = tests/unit/check_smtpd_policy.c
tests_unit_check_smtpd_policy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_policy_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtpd_policy

# SMTP AUTH: decoders, password hashes, the passwd file edit, the policy.
check_PROGRAMS += tests/unit/check_smtpd_auth
tests_unit_check_smtpd_auth_SOURCES = tests/unit/check_smtpd_auth.c
tests_unit_check_smtpd_auth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_auth_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/smtpd
tests_unit_check_smtpd_auth_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_smtpd_auth

# The parser of Dovecot's auth server lines.
check_PROGRAMS += tests/unit/check_sasl_dovecot
tests_unit_check_sasl_dovecot_SOURCES = tests/unit/check_sasl_dovecot.c
tests_unit_check_sasl_dovecot_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_sasl_dovecot_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_sasl_dovecot
