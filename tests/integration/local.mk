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
