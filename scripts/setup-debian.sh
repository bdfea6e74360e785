#!/bin/sh
# Installs what tlsrelay needs on Debian 12 and creates the unprivileged
# user the daemon drops to. Run as root. Idempotent: when everything is
# there it does nothing and prints nothing.
#
#   setup-debian.sh          what building and running the relay needs
#                            (scripts/dev-run.sh): the libraries, Check
#                            (configure requires it), openssl for the dev
#                            certificate, python3-aiosmtpd for the dev sink
#   setup-debian.sh --test   that, and the peers the tests talk to
#                            (scripts/test.sh)
#
# Only --test installs Postfix, as a test peer: on a machine whose MTA is
# exim4, installing postfix replaces it, so running the relay must not.
# swaks is listed with libnet-ssleay-perl, which its -tls needs but only
# recommends; strace shows in one outbound test that no DNS query leaves
# loopback; clang builds the fuzzers; the tests run fail2ban-regex and
# pflogsumm over logs they made (the fail2ban service is not started: see
# policy-rc.d below); SMTP AUTH is tested against a private Dovecot and
# against Cyrus SASL with a sasldb made by saslpasswd2 (sasl2-bin);
# systemd-analyze (systemd) and man (man-db) check the unit file.
set -eu

PACKAGES="autoconf automake libtool pkg-config gcc make
	libssl-dev libevent-dev libc-ares-dev libdb5.3-dev libsasl2-dev check
	openssl python3 python3-aiosmtpd"
TEST_PACKAGES="swaks libnet-ssleay-perl dnsmasq-base postfix strace
	clang libclang-rt-14-dev fail2ban pflogsumm
	dovecot-core sasl2-bin libsasl2-modules systemd man-db
	haproxy prometheus nsd unbound ldnsutils tcpdump"

case "${1-}" in
--test) PACKAGES="$PACKAGES $TEST_PACKAGES" ;;
"") ;;
*)
	echo "usage: setup-debian.sh [--test]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-debian.sh: run me as root" >&2
	exit 1
fi

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*"ok installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

if [ -n "$missing" ]; then
	echo "setup-debian.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix is only a test peer: it must not ask questions or take
	# over the machine's mail set-up.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	apt-get update -qq
	# Packages with a service (postfix, fail2ban, dovecot, saslauthd)
	# must not start it:
	# invoke-rc.d asks policy-rc.d, and 101 means "not now".
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	if [ -n "$policy" ]; then
		rm -f "$policy"
		trap - EXIT
	fi
fi

# mail_owner: the daemon drops to this user after binding its ports.
if ! getent passwd tlsrelay >/dev/null; then
	echo "setup-debian.sh: creating system user tlsrelay"
	useradd --system --no-create-home --shell /usr/sbin/nologin tlsrelay
fi

# setgid_group: tlsrelay-sendmail runs set-group-ID to it, to leave mail
# in the maildrop directory.
if ! getent group tlsdrop >/dev/null; then
	echo "setup-debian.sh: creating system group tlsdrop"
	groupadd --system tlsdrop
fi
