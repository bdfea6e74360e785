# Counters shared by every process, and the status process that serves
# them (the metrics and health endpoints).
libtlsrelay_a_SOURCES += \
	src/stats/stats_int.h \
	src/stats/stats.c \
	src/stats/stats_class.c \
	src/stats/stats_family.c \
	src/stats/stats_queue.c \
	src/stats/stats_render.c \
	src/stats/http_request.c \
	src/stats/status_server.c

# The request parser, the counters' sums across a process's end, the
# OpenMetrics text (golden).
check_PROGRAMS += tests/unit/check_stats tests/unit/check_http
tests_unit_check_stats_SOURCES = tests/unit/check_stats.c
tests_unit_check_stats_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/stats \
	-DTEST_DATA_DIR='"$(abs_top_srcdir)/tests/unit/data"'
tests_unit_check_stats_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_stats_LDADD = $(UNIT_LDADD)
tests_unit_check_http_SOURCES = tests/unit/check_http.c
tests_unit_check_http_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/stats
tests_unit_check_http_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_http_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_stats tests/unit/check_http
