#!/usr/bin/env bash
# Starts a development relay in the foreground, logging to the terminal:
#   127.0.0.1:2525  SMTP with STARTTLS offered
#   127.0.0.1:2587  submission, TLS required before MAIL
#   127.0.0.1:2465  implicit TLS (smtps)
# Installs missing Debian packages, builds in build/ when needed, writes
# run/dev/main.cf and master.cf, and a self-signed certificate on first
# run. Mail stays in the queue until the outbound side lands. Run as root.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/setup-debian.sh

[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build
[ -f build/Makefile ] || (cd build && ../configure -q)
make -C build -j"$(nproc 2>/dev/null || echo 2)" -s >/dev/null

dev=$top/run/dev
mkdir -p "$dev"
scripts/gen-dev-cert.sh "$dev/certs"

# The daemon drops to the tlsrelay user after it binds the ports; that
# user must be able to reach the queue. A checkout under /root is not
# reachable: keep the queue under /var/spool then.
spool=$dev
if ! runuser -u tlsrelay -- test -x "$dev" 2>/dev/null; then
	spool=/var/spool/tlsrelay-dev
	echo "dev-run.sh: user tlsrelay cannot reach $dev; queue in $spool"
	mkdir -p "$spool"
fi

cat >"$dev/main.cf" <<EOF
# Written by scripts/dev-run.sh: a development relay on loopback.
# Parameter names and meanings are Postfix's (see man/tlsrelay.5).
myhostname = localhost
queue_directory = $spool/queue
data_directory = $spool/data
maillog_file = /dev/stdout
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_tls_security_level = may
smtpd_tls_cert_file = $dev/certs/rsa.crt
smtpd_tls_key_file = $dev/certs/rsa.key
smtpd_tls_eccert_file = $dev/certs/ec.crt
smtpd_tls_eckey_file = $dev/certs/ec.key
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
tlsrelay_smtpd_workers = 2
EOF

cat >"$dev/master.cf" <<'EOF'
# Written by scripts/dev-run.sh.
# service         type private unpriv chroot wakeup maxproc command
127.0.0.1:2525    inet n       -      n      -      -       smtpd
127.0.0.1:2587    inet n       -      n      -      -       smtpd
  -o smtpd_tls_security_level=encrypt
127.0.0.1:2465    inet n       -      n      -      -       smtpd
  -o smtpd_tls_wrappermode=yes
EOF

echo "dev-run.sh: starting tlsrelayd -c $dev -f (ports 2525, 2587, 2465; Ctrl-C stops it)"
echo "dev-run.sh: queue files appear in $spool/queue/incoming/"
exec build/tlsrelayd -c "$dev" -f
