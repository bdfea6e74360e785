sbin_PROGRAMS += tlsrelayd
tlsrelayd_SOURCES = \
	src/daemon/daemon.h \
	src/daemon/generation.c \
	src/daemon/listen.c \
	src/daemon/main.c \
	src/daemon/privileges.c \
	src/daemon/supervisor.c
tlsrelayd_LDADD = $(LIBTLSRELAY)
