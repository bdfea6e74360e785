# The connection layer: socket, bufferevent, SSL and timers of one
# connection, for smtpd and smtp alike.
libtlsrelay_a_SOURCES += \
	src/net/conn.c \
	src/net/conn_error.c \
	src/net/conn_tls.c
noinst_HEADERS += src/net/conn_int.h
