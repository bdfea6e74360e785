libtlsrelay_a_SOURCES += src/map/cidr.c
libtlsrelay_a_SOURCES += src/map/domain_list.c
libtlsrelay_a_SOURCES += src/map/host_networks.c

check_PROGRAMS += tests/unit/check_cidr tests/unit/check_domain_list
tests_unit_check_cidr_SOURCES = tests/unit/check_cidr.c
tests_unit_check_cidr_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_cidr_LDADD = $(UNIT_LDADD)
tests_unit_check_domain_list_SOURCES = tests/unit/check_domain_list.c
tests_unit_check_domain_list_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_domain_list_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_cidr tests/unit/check_domain_list

# type:name tables (map.h "tables" section) and their unit test.
libtlsrelay_a_SOURCES += src/map/table.c src/map/table_build.c \
	src/map/table_cidr.c src/map/table_db.c src/map/table_hash.c \
	src/map/table_inline.c src/map/table_list.c src/map/table_text.c \
	src/map/table_texthash.c src/map/table_int.h \
	src/map/cidr_int.h

check_PROGRAMS += tests/unit/check_table
tests_unit_check_table_SOURCES = tests/unit/check_table.c
tests_unit_check_table_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_table_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_table
