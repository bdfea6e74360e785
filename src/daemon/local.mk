# What tlsrelay conf and tlsrelay check build as the daemon does.
libtlsrelay_a_SOURCES += src/daemon/config_build.c src/daemon/setup.c

sbin_PROGRAMS += tlsrelayd
tlsrelayd_SOURCES = \
	src/daemon/daemon.h \
	src/daemon/cert_watch.c \
	src/daemon/generation.c \
	src/daemon/listen.c \
	src/daemon/main.c \
	src/daemon/privileges.c \
	src/daemon/sd_notify.c \
	src/daemon/supervisor.c \
	src/daemon/throttle.c
tlsrelayd_LDADD = $(LIBTLSRELAY)

# The restart pause, without a daemon: time is passed in.
check_PROGRAMS += tests/unit/check_throttle
tests_unit_check_throttle_SOURCES = tests/unit/check_throttle.c \
	src/daemon/throttle.c
tests_unit_check_throttle_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/daemon
tests_unit_check_throttle_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_throttle_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/check_throttle
