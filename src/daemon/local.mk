sbin_PROGRAMS += tlsrelayd
tlsrelayd_SOURCES = src/daemon/main.c
tlsrelayd_LDADD = $(LIBTLSRELAY)
