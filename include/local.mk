noinst_HEADERS += \
	include/tlsrelay/anvil.h \
	include/tlsrelay/conf.h \
	include/tlsrelay/conf_params.def \
	include/tlsrelay/config_build.h \
	include/tlsrelay/conn.h \
	include/tlsrelay/dns.h \
	include/tlsrelay/log.h \
	include/tlsrelay/maildrop.h \
	include/tlsrelay/map.h \
	include/tlsrelay/offload.h \
	include/tlsrelay/pidfile.h \
	include/tlsrelay/proxy.h \
	include/tlsrelay/qmgr.h \
	include/tlsrelay/queue.h \
	include/tlsrelay/sasl.h \
	include/tlsrelay/sasl_server.h \
	include/tlsrelay/setup.h \
	include/tlsrelay/scache.h \
	include/tlsrelay/smtp.h \
	include/tlsrelay/smtpd.h \
	include/tlsrelay/smtpd_dnscheck.h \
	include/tlsrelay/smtpd_parse.h \
	include/tlsrelay/smtpd_policy.h \
	include/tlsrelay/stats.h \
	include/tlsrelay/tls.h \
	include/tlsrelay/tls_client.h \
	include/tlsrelay/util.h
