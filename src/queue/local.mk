libtlsrelay_a_SOURCES += src/queue/queue_id.c
libtlsrelay_a_SOURCES += src/queue/spool_init.c
libtlsrelay_a_SOURCES += src/queue/spool_write.c
libtlsrelay_a_SOURCES += src/queue/spool_read.c
libtlsrelay_a_SOURCES += src/queue/spool_status.c
noinst_HEADERS += src/queue/spool_format.h
EXTRA_DIST += src/queue/SPOOL-FORMAT.md

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_spool
tests_unit_check_spool_SOURCES = tests/unit/check_spool.c
tests_unit_check_spool_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_spool_LDADD = $(LIBTLSRELAY) $(CHECK_LIBS)
TESTS += tests/unit/check_spool
endif
