include src/smtpd/parsers.mk

libtlsrelay_a_SOURCES += \
	src/smtpd/smtpd_int.h \
	src/smtpd/smtpd_session.h \
	src/smtpd/smtpd_commands.c \
	src/smtpd/smtpd_policy.c \
	src/smtpd/smtpd_received.c \
	src/smtpd/smtpd_session.c \
	src/smtpd/smtpd_worker.c

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_smtpd_policy
tests_unit_check_smtpd_policy_SOURCES = tests/unit/check_smtpd_policy.c
tests_unit_check_smtpd_policy_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_smtpd_policy_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_smtpd_policy
endif
