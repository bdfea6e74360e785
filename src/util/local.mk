libtlsrelay_a_SOURCES += src/util/util.c
