#!/usr/bin/env bash
# Starts a development relay in the foreground, logging to the terminal:
#   127.0.0.1:2525  SMTP with STARTTLS offered
#   127.0.0.1:2587  submission, TLS required before MAIL
#   127.0.0.1:2465  implicit TLS (smtps)
# and the next hop it delivers every message to:
#   127.0.0.1:2526  a STARTTLS sink (tests/integration/peers/sink.py) that
#                   prints one line per message and keeps a copy of each
#                   in run/dev/sink/
# Installs missing Debian packages, builds in build/ when needed, writes
# run/dev/main.cf and master.cf, and a self-signed certificate on first
# run. Nothing leaves the machine: relayhost is the sink, and DNS points
# at a loopback port where nothing answers. Ctrl-C stops both. Run as
# root.
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

# Outbound: everything goes to the sink, over STARTTLS since it offers
# it. No DNS query leaves loopback: nothing answers on port 1.
relayhost = [127.0.0.1]:2526
smtp_tls_security_level = may
smtp_tls_loglevel = 1
tlsrelay_dns_servers = 127.0.0.1:1
minimal_backoff_time = 10s
maximal_backoff_time = 60s
queue_run_delay = 10s
EOF

cat >"$dev/master.cf" <<'EOF'
# Written by scripts/dev-run.sh.
# service         type private unpriv chroot wakeup maxproc command
127.0.0.1:2525    inet n       -      n      -      -       smtpd
127.0.0.1:2587    inet n       -      n      -      -       smtpd
  -o smtpd_tls_security_level=encrypt
127.0.0.1:2465    inet n       -      n      -      -       smtpd
  -o smtpd_tls_wrappermode=yes
# The queue manager: delivers what the smtpd services queued.
qmgr              unix n       -      n      300    1       qmgr
EOF

# The sink and the relay run in the background of this shell; however
# the script ends, both are stopped by PID.
sink_pid=""
relay_pid=""
stop_all() {
	if [ -n "$relay_pid" ] && kill -TERM "$relay_pid" 2>/dev/null; then
		wait "$relay_pid" 2>/dev/null || true
	fi
	if [ -n "$sink_pid" ] && kill -TERM "$sink_pid" 2>/dev/null; then
		wait "$sink_pid" 2>/dev/null || true
	fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh record each run: the sink numbers messages from 1 again.
mkdir -p "$dev/sink"
rm -f "$dev/sink/ready" "$dev/sink/connections" "$dev/sink/"msg-* \
    "$dev/sink/"conn-*.log
/usr/bin/python3 tests/integration/peers/sink.py --listen 127.0.0.1:2526 \
    --tls-cert "$dev/certs/rsa.crt" --tls-key "$dev/certs/rsa.key" \
    --hostname sink.localhost --dir "$dev/sink" --print &
sink_pid=$!
for _ in $(seq 50); do
	[ -f "$dev/sink/ready" ] && break
	if ! kill -0 "$sink_pid" 2>/dev/null; then
		sink_pid=""
		echo "dev-run.sh: the sink did not start (is 127.0.0.1:2526 in use?)" >&2
		exit 1
	fi
	sleep 0.1
done

echo "dev-run.sh: starting tlsrelayd -c $dev -f (ports 2525, 2587, 2465; Ctrl-C stops it)"
echo "dev-run.sh: it relays everything to the sink on 127.0.0.1:2526 (copies in $dev/sink/)"
echo "dev-run.sh: the queue is $spool/queue; list it with build/tlsrelay queue -c $dev"
build/tlsrelayd -c "$dev" -f &
relay_pid=$!
status=0
wait "$relay_pid" || status=$?
relay_pid=""
exit "$status"
