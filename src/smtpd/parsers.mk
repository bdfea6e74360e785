# smtpd parsers and the connection counter (included by src/smtpd/local.mk).
libtlsrelay_a_SOURCES += \
	src/smtpd/smtpd_cmd.c \
	src/smtpd/smtpd_addr.c \
	src/smtpd/smtpd_data.c \
	src/smtpd/smtpd_header.c \
	src/smtpd/smtpd_header.h \
	src/smtpd/anvil.c

check_PROGRAMS += \
	tests/unit/check_smtpd_cmd \
	tests/unit/check_smtpd_data \
	tests/unit/check_anvil
TESTS += \
	tests/unit/check_smtpd_cmd \
	tests/unit/check_smtpd_data \
	tests/unit/check_anvil
tests_unit_check_smtpd_cmd_SOURCES = tests/unit/check_smtpd_cmd.c
tests_unit_check_smtpd_cmd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_cmd_LDADD = $(UNIT_LDADD)
tests_unit_check_smtpd_data_SOURCES = tests/unit/check_smtpd_data.c
tests_unit_check_smtpd_data_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_data_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/check_smtpd_header
TESTS += tests/unit/check_smtpd_header
tests_unit_check_smtpd_header_SOURCES = tests/unit/check_smtpd_header.c
tests_unit_check_smtpd_header_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/smtpd
tests_unit_check_smtpd_header_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_smtpd_header_LDADD = $(UNIT_LDADD)
tests_unit_check_anvil_SOURCES = tests/unit/check_anvil.c
tests_unit_check_anvil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_anvil_LDADD = $(UNIT_LDADD)
