libtlsrelay_a_SOURCES += src/queue/queue_id.c
libtlsrelay_a_SOURCES += src/queue/spool_init.c
libtlsrelay_a_SOURCES += src/queue/spool_write.c
libtlsrelay_a_SOURCES += src/queue/spool_purge.c
libtlsrelay_a_SOURCES += src/queue/spool_spare.c
libtlsrelay_a_SOURCES += src/queue/spool_committer.c
libtlsrelay_a_SOURCES += src/queue/spool_read.c
libtlsrelay_a_SOURCES += src/queue/spool_status.c
libtlsrelay_a_SOURCES += src/queue/spool_sync.c
libtlsrelay_a_SOURCES += src/queue/queue_notify.c
libtlsrelay_a_SOURCES += src/queue/queue_ops.c
libtlsrelay_a_SOURCES += src/queue/queue_list.c
libtlsrelay_a_SOURCES += src/queue/defer_log.c
libtlsrelay_a_SOURCES += src/queue/bounce.c
noinst_HEADERS += src/queue/spool_format.h
EXTRA_DIST += src/queue/SPOOL-FORMAT.md

check_PROGRAMS += tests/unit/check_spool
tests_unit_check_spool_SOURCES = tests/unit/check_spool.c
tests_unit_check_spool_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_spool_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_spool

check_PROGRAMS += tests/unit/check_spool_commit
tests_unit_check_spool_commit_SOURCES = tests/unit/check_spool_commit.c
tests_unit_check_spool_commit_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_spool_commit_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_spool_commit

check_PROGRAMS += tests/unit/check_spool_spare
tests_unit_check_spool_spare_SOURCES = tests/unit/check_spool_spare.c
tests_unit_check_spool_spare_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_spool_spare_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_spool_spare

check_PROGRAMS += tests/unit/check_bounce
tests_unit_check_bounce_SOURCES = tests/unit/check_bounce.c
tests_unit_check_bounce_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_bounce_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_bounce

check_PROGRAMS += tests/unit/check_queue_ops
tests_unit_check_queue_ops_SOURCES = tests/unit/check_queue_ops.c
tests_unit_check_queue_ops_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_queue_ops_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_queue_ops
