# Integration tests: the real tlsrelayd, real clients (openssl s_client,
# swaks, Python's smtplib). Run by /usr/bin/python3 (PY_LOG_COMPILER).
TESTS += \
	tests/integration/test_starttls.py \
	tests/integration/test_smtp.py \
	tests/integration/test_spool.py \
	tests/integration/test_commit.py \
	tests/integration/test_config.py \
	tests/integration/test_privileges.py \
	tests/integration/test_auth.py \
	tests/integration/test_sasl.py \
	tests/integration/test_sasl_dovecot.py
EXTRA_DIST += \
	tests/integration/relaytest.py \
	tests/integration/test_starttls.py \
	tests/integration/test_smtp.py \
	tests/integration/test_spool.py \
	tests/integration/test_commit.py \
	tests/integration/test_config.py \
	tests/integration/test_privileges.py \
	tests/integration/test_auth.py \
	tests/integration/test_sasl.py \
	tests/integration/test_sasl_dovecot.py
# Outbound (issue 3): delivery to real peers -- the aiosmtpd sink in
# peers/, dnsmasq for the test zones, a private Postfix instance.
TESTS += \
	tests/integration/test_delivery.py \
	tests/integration/test_dns_routing.py \
	tests/integration/test_queue.py
EXTRA_DIST += \
	tests/integration/test_delivery.py \
	tests/integration/test_dns_routing.py \
	tests/integration/test_queue.py \
	tests/integration/peers/sink.py
# Session resumption (issue 5): s_client against several workers, our
# client against the aiosmtpd sink, the shared cache files.
TESTS += tests/integration/test_resumption.py
EXTRA_DIST += tests/integration/test_resumption.py
# Issue 16: session ticket keys shared across nodes; draining on SIGTERM.
TESTS += tests/integration/test_ticket_keys.py tests/integration/test_drain.py
EXTRA_DIST += tests/integration/test_ticket_keys.py \
	tests/integration/test_drain.py
# Per-destination TLS policy (issue 4): every level against sinks with
# certificates of a test CA and a wrong CA, smtp_tls_policy_maps, Postfix.
TESTS += tests/integration/test_tls_policy.py
EXTRA_DIST += tests/integration/test_tls_policy.py
# DANE (issue 15): a DNSSEC lab of NSD and unbound on loopback.
TESTS += tests/integration/test_dane.py
EXTRA_DIST += tests/integration/test_dane.py tests/integration/dnssec_lab.py
# The DANE default of a new installation: tlsrelay setup and check
# against the lab's unbound, validating and not.
TESTS += tests/integration/test_dane_default.py
EXTRA_DIST += tests/integration/test_dane_default.py
# Smarthost with SMTP AUTH (issue 6, client side): aiosmtpd sinks with
# --auth, a password table built by `tlsrelay map`.
TESTS += tests/integration/test_smarthost.py
EXTRA_DIST += tests/integration/test_smarthost.py
# The delivery pipeline with default timers (issue 9): bounces at once,
# backpressure at qmgr_message_active_limit, kill -9 under sustained load.
TESTS += tests/integration/test_scheduling.py
EXTRA_DIST += tests/integration/test_scheduling.py
# Keys read as root before the privilege drop, throttled restarts, the
# warning without a queue manager (issue 9): the sink asking for a client
# certificate, s_client, a queue manager that cannot open its FIFO.
TESTS += tests/integration/test_keys.py
EXTRA_DIST += tests/integration/test_keys.py
TESTS += tests/integration/test_supervisor.py
EXTRA_DIST += tests/integration/test_supervisor.py
TESTS += tests/integration/test_fdlimit.py
EXTRA_DIST += tests/integration/test_fdlimit.py
TESTS += tests/integration/test_deadlines.py
EXTRA_DIST += tests/integration/test_deadlines.py
TESTS += tests/integration/test_faults.py
EXTRA_DIST += tests/integration/test_faults.py
TESTS += tests/integration/test_load.py
EXTRA_DIST += tests/integration/test_load.py
# Operations (issue 14): sd_notify, renewed certificates, the unit file.
TESTS += tests/integration/test_service.py tests/integration/test_unit.py \
	tests/integration/test_install.py
EXTRA_DIST += tests/integration/test_service.py tests/integration/test_unit.py \
	tests/integration/test_install.py
# Drop-in (issue 11): fail2ban-regex and pflogsumm on a log the test made.
TESTS += tests/integration/test_logtools.py
EXTRA_DIST += tests/integration/test_logtools.py
# Drop-in (issue 11): tlsrelay-sendmail, the maildrop and the pickup.
TESTS += tests/integration/test_sendmail.py
EXTRA_DIST += tests/integration/test_sendmail.py
# Operations (issue 11): status, reload, stop, queue -j, requeue.
TESTS += tests/integration/test_control.py
EXTRA_DIST += tests/integration/test_control.py
# Drop-in (issue 11): how-to lines that Postfix starts with.
TESTS += tests/integration/test_dropin.py
EXTRA_DIST += tests/integration/test_dropin.py
# Tables followed while the daemon runs (issue 10): transport_maps rebuilt
# or edited between two messages, two aiosmtpd sinks as the two routes.
TESTS += tests/integration/test_tables.py
EXTRA_DIST += tests/integration/test_tables.py
# The connection layer (issue 10): close_notify after 221 (s_client),
# plaintext behind the 220 to STARTTLS and QUIT after a failed certificate
# check (a Python STARTTLS peer), failed handshakes in Postfix's words.
TESTS += tests/integration/test_conn.py
EXTRA_DIST += tests/integration/test_conn.py
# tlsrelay check (issue 11): one bad configuration per finding, all
# findings of one configuration in one run, the sample configuration.
TESTS += tests/integration/test_check.py
EXTRA_DIST += tests/integration/test_check.py
# Access policy (issue 12): access tables built by Postfix's postmap with
# every action, restriction classes, the syntax checks, the stages
# (smtpd_delay_reject, DATA, end of data), WARN/HOLD/DISCARD with a sink.
TESTS += tests/integration/test_access.py
EXTRA_DIST += tests/integration/test_access.py
# The SMTP server's DNS (issue 12): client names and the DNS-based
# restrictions against dnsmasq serving test zones on loopback.
TESTS += tests/integration/test_dnscheck.py
EXTRA_DIST += tests/integration/test_dnscheck.py
# PROXY protocol on inbound services (issue 16): through a real HAProxy
# (send-proxy-v2, send-proxy), then headers from a raw socket: cut,
# pipelined, malformed, too long, missing, LOCAL, UNKNOWN, IPv6, STARTTLS
# and wrappermode behind them.
TESTS += tests/integration/test_proxy.py
EXTRA_DIST += tests/integration/test_proxy.py
# tlsrelay tls-finger against Postfix, aiosmtpd and dnsmasq peers.
TESTS += tests/integration/test_tls_finger.py
EXTRA_DIST += tests/integration/test_tls_finger.py
# Its DANE verdicts against the DNSSEC lab (NSD + unbound).
TESTS += tests/integration/test_tls_finger_dane.py
EXTRA_DIST += tests/integration/test_tls_finger_dane.py
# Several relays behind HAProxy (issue 16): three nodes, PROXY v2 and v1,
# a TLS 1.3 ticket resumed on another node, kill -9 of a node under load,
# a node drained under load.
TESTS += tests/integration/test_cluster.py
EXTRA_DIST += tests/integration/test_cluster.py
# Operations (issues 14, 16): the metrics and health endpoints, promtool.
TESTS += tests/integration/test_metrics.py
EXTRA_DIST += tests/integration/test_metrics.py
# MTA-STS (issue 15, second half): a policy web server on loopback
# (peers/policy_https.py), dnsmasq for the TXT and MX records, sinks.
TESTS += tests/integration/test_mta_sts.py
EXTRA_DIST += tests/integration/test_mta_sts.py \
	tests/integration/peers/policy_https.py
# The listening sockets each child holds: workers their services', the
# status process its own, the queue manager none; after a reload too.
TESTS += tests/integration/test_child_fds.py
EXTRA_DIST += tests/integration/test_child_fds.py
