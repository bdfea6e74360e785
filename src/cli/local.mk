bin_PROGRAMS += tlsrelay
tlsrelay_SOURCES = src/cli/main.c src/cli/cmd_conf.c src/cli/cli.h
tlsrelay_LDADD = $(LIBTLSRELAY)
tlsrelay_SOURCES += src/cli/cmd_queue.c
tlsrelay_SOURCES += src/cli/cmd_map.c
tlsrelay_SOURCES += src/cli/cmd_passwd.c
tlsrelay_SOURCES += src/cli/cmd_cache.c
tlsrelay_SOURCES += src/cli/cmd_control.c
tlsrelay_SOURCES += src/cli/cmd_check.c src/cli/check.h src/cli/check_certs.c \
	src/cli/check_dnssec.c src/cli/check_files.c \
	src/cli/resolver_probe.c src/cli/resolver_probe.h
tlsrelay_SOURCES += src/cli/cmd_setup.c
tlsrelay_SOURCES += src/cli/cmd_tls_finger.c src/cli/finger.h \
	src/cli/finger_dane.c src/cli/finger_probe.c src/cli/finger_show.c
