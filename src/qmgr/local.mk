libtlsrelay_a_SOURCES += \
	src/qmgr/qmgr_int.h \
	src/qmgr/qmgr.c \
	src/qmgr/qmgr_backoff.c \
	src/qmgr/qmgr_dane.c \
	src/qmgr/qmgr_intake.h \
	src/qmgr/qmgr_intake.c \
	src/qmgr/qmgr_log.c \
	src/qmgr/qmgr_message.c \
	src/qmgr/qmgr_mtasts.c \
	src/qmgr/qmgr_route.c \
	src/qmgr/qmgr_self.c \
	src/qmgr/qmgr_showq.c

check_PROGRAMS += tests/unit/check_qmgr_route
tests_unit_check_qmgr_route_SOURCES = tests/unit/check_qmgr_route.c
tests_unit_check_qmgr_route_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_qmgr_route_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_qmgr_route

check_PROGRAMS += tests/unit/check_qmgr_intake
tests_unit_check_qmgr_intake_SOURCES = tests/unit/check_qmgr_intake.c
tests_unit_check_qmgr_intake_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/qmgr
tests_unit_check_qmgr_intake_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_qmgr_intake_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_qmgr_intake

# The DANE verdict of one MX host (qmgr_dane_decide).
check_PROGRAMS += tests/unit/check_qmgr_dane
tests_unit_check_qmgr_dane_SOURCES = tests/unit/check_qmgr_dane.c
tests_unit_check_qmgr_dane_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_qmgr_dane_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_qmgr_dane
