noinst_HEADERS += \
	include/tlsrelay/conf.h \
	include/tlsrelay/log.h \
	include/tlsrelay/map.h \
	include/tlsrelay/queue.h \
	include/tlsrelay/smtpd.h \
	include/tlsrelay/tls.h \
	include/tlsrelay/util.h
