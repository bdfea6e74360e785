# Fuzz harnesses: one tests/fuzz/fuzz_NAME.c per parser of untrusted bytes.
# `make check` links each with standalone_main.c and runs it over its seed
# corpus tests/fuzz/corpus/fuzz_NAME/ (through corpus-NAME.sh);
# scripts/fuzz.sh links them with libFuzzer for real fuzzing.
noinst_HEADERS += tests/fuzz/fuzz.h
EXTRA_DIST += tests/fuzz/run-corpus.sh tests/fuzz/corpus scripts/fuzz.sh

check_PROGRAMS += \
	tests/fuzz/fuzz_smtpd_cmd \
	tests/fuzz/fuzz_smtpd_data \
	tests/fuzz/fuzz_conf \
	tests/fuzz/fuzz_spool_read
TESTS += \
	tests/fuzz/corpus-smtpd_cmd.sh \
	tests/fuzz/corpus-smtpd_data.sh \
	tests/fuzz/corpus-conf.sh \
	tests/fuzz/corpus-spool_read.sh
EXTRA_DIST += \
	tests/fuzz/corpus-smtpd_cmd.sh \
	tests/fuzz/corpus-smtpd_data.sh \
	tests/fuzz/corpus-conf.sh \
	tests/fuzz/corpus-spool_read.sh

tests_fuzz_fuzz_smtpd_cmd_SOURCES = tests/fuzz/fuzz_smtpd_cmd.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_smtpd_cmd_LDADD = $(LIBTLSRELAY)
tests_fuzz_fuzz_smtpd_data_SOURCES = tests/fuzz/fuzz_smtpd_data.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_smtpd_data_LDADD = $(LIBTLSRELAY)
tests_fuzz_fuzz_conf_SOURCES = tests/fuzz/fuzz_conf.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_conf_LDADD = $(LIBTLSRELAY)
tests_fuzz_fuzz_spool_read_SOURCES = tests/fuzz/fuzz_spool_read.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_spool_read_LDADD = $(LIBTLSRELAY)

# The smtp client's reply parser (src/smtp/smtp_reply.c).
check_PROGRAMS += tests/fuzz/fuzz_smtp_reply
TESTS += tests/fuzz/corpus-smtp_reply.sh
EXTRA_DIST += tests/fuzz/corpus-smtp_reply.sh
tests_fuzz_fuzz_smtp_reply_SOURCES = tests/fuzz/fuzz_smtp_reply.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_smtp_reply_LDADD = $(LIBTLSRELAY)

# The defer log and qmgr notice parsers (src/queue/defer_log.c,
# src/queue/queue_notify.c), and the table parsers (src/map/table_*.c).
check_PROGRAMS += tests/fuzz/fuzz_defer_log tests/fuzz/fuzz_table
TESTS += tests/fuzz/corpus-defer_log.sh tests/fuzz/corpus-table.sh
EXTRA_DIST += tests/fuzz/corpus-defer_log.sh tests/fuzz/corpus-table.sh
tests_fuzz_fuzz_defer_log_SOURCES = tests/fuzz/fuzz_defer_log.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_defer_log_LDADD = $(LIBTLSRELAY)
tests_fuzz_fuzz_table_SOURCES = tests/fuzz/fuzz_table.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_table_LDADD = $(LIBTLSRELAY)

# SMTP AUTH: base64, PLAIN and LOGIN (src/smtpd/sasl_decode.c).
check_PROGRAMS += tests/fuzz/fuzz_sasl
TESTS += tests/fuzz/corpus-sasl.sh
EXTRA_DIST += tests/fuzz/corpus-sasl.sh
tests_fuzz_fuzz_sasl_SOURCES = tests/fuzz/fuzz_sasl.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_sasl_LDADD = $(LIBTLSRELAY)

# What Dovecot's auth server sends (src/smtpd/sasl_dovecot_parse.c).
check_PROGRAMS += tests/fuzz/fuzz_sasl_dovecot
TESTS += tests/fuzz/corpus-sasl_dovecot.sh
EXTRA_DIST += tests/fuzz/corpus-sasl_dovecot.sh
tests_fuzz_fuzz_sasl_dovecot_SOURCES = tests/fuzz/fuzz_sasl_dovecot.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_sasl_dovecot_LDADD = $(LIBTLSRELAY)

# The Message-ID scan of the header (src/smtpd/smtpd_header.c).
check_PROGRAMS += tests/fuzz/fuzz_smtpd_header
TESTS += tests/fuzz/corpus-smtpd_header.sh
EXTRA_DIST += tests/fuzz/corpus-smtpd_header.sh
tests_fuzz_fuzz_smtpd_header_SOURCES = tests/fuzz/fuzz_smtpd_header.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_smtpd_header_LDADD = $(LIBTLSRELAY)

# Local submission: the maildrop file, address lists, local mail
# (src/maildrop/).
check_PROGRAMS += tests/fuzz/fuzz_maildrop
TESTS += tests/fuzz/corpus-maildrop.sh
EXTRA_DIST += tests/fuzz/corpus-maildrop.sh
tests_fuzz_fuzz_maildrop_SOURCES = tests/fuzz/fuzz_maildrop.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_maildrop_LDADD = $(LIBTLSRELAY)

# The next-hop DNS answers (src/dns/dns_answer.c).
check_PROGRAMS += tests/fuzz/fuzz_dns
TESTS += tests/fuzz/corpus-dns.sh
EXTRA_DIST += tests/fuzz/corpus-dns.sh
tests_fuzz_fuzz_dns_SOURCES = tests/fuzz/fuzz_dns.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_dns_LDADD = $(LIBTLSRELAY)

# The TLSA answers of DANE (src/dns/dns_tlsa.c).
check_PROGRAMS += tests/fuzz/fuzz_tlsa
TESTS += tests/fuzz/corpus-tlsa.sh
EXTRA_DIST += tests/fuzz/corpus-tlsa.sh
tests_fuzz_fuzz_tlsa_SOURCES = tests/fuzz/fuzz_tlsa.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_tlsa_LDADD = $(LIBTLSRELAY)

# The PROXY protocol header (src/proxy/proxy.c).
check_PROGRAMS += tests/fuzz/fuzz_proxy
TESTS += tests/fuzz/corpus-proxy.sh
EXTRA_DIST += tests/fuzz/corpus-proxy.sh
tests_fuzz_fuzz_proxy_SOURCES = tests/fuzz/fuzz_proxy.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_proxy_LDADD = $(LIBTLSRELAY)

# smtp_tls_policy_maps values (src/tls/tls_policy.c).
check_PROGRAMS += tests/fuzz/fuzz_tls_policy
TESTS += tests/fuzz/corpus-tls_policy.sh
EXTRA_DIST += tests/fuzz/corpus-tls_policy.sh
tests_fuzz_fuzz_tls_policy_SOURCES = tests/fuzz/fuzz_tls_policy.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_tls_policy_LDADD = $(LIBTLSRELAY)

# The smtp client's SMTP AUTH: the EHLO AUTH list, 334 challenges and
# final replies (src/smtp/smtp_sasl.c).
check_PROGRAMS += tests/fuzz/fuzz_smtp_sasl
TESTS += tests/fuzz/corpus-smtp_sasl.sh
EXTRA_DIST += tests/fuzz/corpus-smtp_sasl.sh
tests_fuzz_fuzz_smtp_sasl_SOURCES = tests/fuzz/fuzz_smtp_sasl.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_smtp_sasl_LDADD = $(LIBTLSRELAY)

# TLS session cache records as read back from the shared cache
# (src/scache/scache_db.c, src/tls/tls_scache.c).
check_PROGRAMS += tests/fuzz/fuzz_scache
TESTS += tests/fuzz/corpus-scache.sh
EXTRA_DIST += tests/fuzz/corpus-scache.sh
tests_fuzz_fuzz_scache_SOURCES = tests/fuzz/fuzz_scache.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_scache_LDADD = $(LIBTLSRELAY)

# Remote replies, addresses and the original's headers in a DSN
# (src/queue/bounce.c).
check_PROGRAMS += tests/fuzz/fuzz_bounce
TESTS += tests/fuzz/corpus-bounce.sh
EXTRA_DIST += tests/fuzz/corpus-bounce.sh
tests_fuzz_fuzz_bounce_SOURCES = tests/fuzz/fuzz_bounce.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_bounce_LDADD = $(LIBTLSRELAY)

# Certificate name matching for verify and secure (src/tls/tls_verify.c).
check_PROGRAMS += tests/fuzz/fuzz_cert_name
TESTS += tests/fuzz/corpus-cert_name.sh
EXTRA_DIST += tests/fuzz/corpus-cert_name.sh
tests_fuzz_fuzz_cert_name_SOURCES = tests/fuzz/fuzz_cert_name.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_cert_name_LDADD = $(LIBTLSRELAY)

# The SMTP server's AUTH exchange with the built-in backend
# (src/smtpd/sasl_tlsrelay.c, as smtpd_auth.c drives it).
check_PROGRAMS += tests/fuzz/fuzz_smtpd_auth
TESTS += tests/fuzz/corpus-smtpd_auth.sh
EXTRA_DIST += tests/fuzz/corpus-smtpd_auth.sh
tests_fuzz_fuzz_smtpd_auth_SOURCES = tests/fuzz/fuzz_smtpd_auth.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_smtpd_auth_LDADD = $(LIBTLSRELAY)

# The status process's HTTP requests (src/stats/http_request.c).
check_PROGRAMS += tests/fuzz/fuzz_http
TESTS += tests/fuzz/corpus-http.sh
EXTRA_DIST += tests/fuzz/corpus-http.sh
tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz_http.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_http_LDADD = $(LIBTLSRELAY)
# MTA-STS: the policy body and the _mta-sts TXT record (src/mtasts/).
check_PROGRAMS += tests/fuzz/fuzz_mtasts_policy tests/fuzz/fuzz_mtasts_txt
TESTS += tests/fuzz/corpus-mtasts_policy.sh tests/fuzz/corpus-mtasts_txt.sh
EXTRA_DIST += tests/fuzz/corpus-mtasts_policy.sh \
	tests/fuzz/corpus-mtasts_txt.sh
tests_fuzz_fuzz_mtasts_policy_SOURCES = tests/fuzz/fuzz_mtasts_policy.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_mtasts_policy_LDADD = $(LIBTLSRELAY)
tests_fuzz_fuzz_mtasts_txt_SOURCES = tests/fuzz/fuzz_mtasts_txt.c \
	tests/fuzz/standalone_main.c
tests_fuzz_fuzz_mtasts_txt_LDADD = $(LIBTLSRELAY)
