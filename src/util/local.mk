libtlsrelay_a_SOURCES += src/util/util.c
libtlsrelay_a_SOURCES += src/util/pidfile.c
libtlsrelay_a_SOURCES += src/util/proc.c
libtlsrelay_a_SOURCES += src/util/addr.c
libtlsrelay_a_SOURCES += src/util/shm.c
