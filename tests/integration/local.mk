# Integration tests: the real tlsrelayd, real clients (openssl s_client,
# swaks, Python's smtplib). Run by /usr/bin/python3 (PY_LOG_COMPILER).
TESTS += \
	tests/integration/test_starttls.py \
	tests/integration/test_smtp.py \
	tests/integration/test_spool.py \
	tests/integration/test_config.py \
	tests/integration/test_privileges.py
EXTRA_DIST += \
	tests/integration/relaytest.py \
	tests/integration/test_starttls.py \
	tests/integration/test_smtp.py \
	tests/integration/test_spool.py \
	tests/integration/test_config.py \
	tests/integration/test_privileges.py
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
