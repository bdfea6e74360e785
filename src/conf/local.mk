libtlsrelay_a_SOURCES += \
	src/conf/conf.c \
	src/conf/conf_check.c \
	src/conf/conf_expand.c \
	src/conf/conf_int.h \
	src/conf/conf_lex.c \
	src/conf/conf_master.c \
	src/conf/conf_obsolete.c \
	src/conf/conf_unsupported.c \
	src/conf/conf_params.c \
	src/conf/conf_postfix_names.c \
	src/conf/conf_resolve.c \
	src/conf/conf_value.c

EXTRA_DIST += tests/unit/data/master.cf.dist tests/unit/build_misspelt.sh

# A misspelt or mistyped parameter read must not compile.
TESTS += tests/unit/build_misspelt.sh

check_PROGRAMS += tests/unit/check_conf tests/unit/check_master
tests_unit_check_conf_SOURCES = tests/unit/check_conf.c
tests_unit_check_conf_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_conf_LDADD = $(UNIT_LDADD)
tests_unit_check_master_SOURCES = tests/unit/check_master.c
tests_unit_check_master_CPPFLAGS = $(AM_CPPFLAGS) \
	-DTEST_DATA_DIR='"$(abs_top_srcdir)/tests/unit/data"'
tests_unit_check_master_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_master_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_conf tests/unit/check_master
