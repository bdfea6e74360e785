# mtasts: MTA-STS (RFC 8461): the TXT record and policy parsers, the
# HTTPS fetch, the policy cache.
libtlsrelay_a_SOURCES += \
	src/mtasts/mtasts.c \
	src/mtasts/mtasts_cache.c \
	src/mtasts/mtasts_fetch.c \
	src/mtasts/mtasts_memo.c \
	src/mtasts/mtasts_policy.c \
	src/mtasts/mtasts_txt.c
noinst_HEADERS += include/tlsrelay/mtasts.h src/mtasts/mtasts_int.h

check_PROGRAMS += tests/unit/check_mtasts
tests_unit_check_mtasts_SOURCES = tests/unit/check_mtasts.c
tests_unit_check_mtasts_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mtasts_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/mtasts
tests_unit_check_mtasts_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_mtasts
