"""The metrics and health endpoints (issues 14 and 16): the status process
serves them on tlsrelay_metrics_listen and tlsrelay_health_listen.

Python's http.client fetches /metrics; promtool (Debian package prometheus)
lints the Prometheus text format, and the OpenMetrics form (what Prometheus
asks for) is checked for its shape. Mail through STARTTLS to the aiosmtpd
sink moves the counters by what was done; a destination that is down moves
the deferral counter and the queue gauges; a worker killed with SIGKILL
takes no count with it. /health says 200, then 503 while the node drains
after SIGTERM (an SMTP session held open keeps it draining); garbage gets
400 and the status process lives on."""

import http.client
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (MAIL_OWNER, OutboundTestCase,  # noqa: E402
                       children_of, free_port, listening_inodes,
                       listening_ports, main, proc_socket_inodes,
                       proc_status, require_tools, wait_for)

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
# What Prometheus 2.42 sends when it scrapes.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
SCACHE = "btree:${data_directory}/smtpd_scache"
CCACHE = "btree:${data_directory}/smtp_scache"


def http_get(port, path, accept=None, method="GET"):
    """(status, headers, body) of one request to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path,
                     headers={"Accept": accept} if accept else {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


def raw_request(port, data):
    """The status line the server answers to raw bytes ("" if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def parse_samples(text):
    """{(name, ((label, value), ...)): value} of a metrics text."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def check_openmetrics(case, text):
    """The OpenMetrics shape (format 1.0.0): every sample belongs to a
    family declared before it by # TYPE and # HELP; a counter's family has
    no _total and its samples do; # EOF ends it, once."""
    case.assertTrue(text.endswith("# EOF\n"), text[-200:])
    case.assertEqual(text.count("# EOF"), 1)
    types, helps = {}, set()
    for line in text.splitlines()[:-1]:
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            case.assertNotIn(name, types, "family %s twice" % name)
            case.assertIn(kind, ("counter", "gauge"))
            if kind == "counter":
                case.assertFalse(name.endswith("_total"), line)
            types[name] = kind
        elif line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
        else:
            m = SAMPLE.match(line)
            case.assertIsNotNone(m, line)
            name = m.group(1)
            family = name[:-6] if name.endswith("_total") else name
            case.assertIn(family, types, "sample of no family: %s" % line)
            case.assertEqual(name.endswith("_total"),
                             types[family] == "counter", line)
            case.assertIn(family, helps)
            case.assertTrue(name.startswith("tlsrelay_"), line)


class MetricsCase(OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_tools("promtool")

    def metrics_relay(self, main=None, metrics_host="127.0.0.1", **kw):
        """An outbound relay with the metrics and health endpoints, at
        the default retry timers of an administrator."""
        self.metrics_port = free_port()
        self.health_port = free_port()
        settings = {
            "tlsrelay_metrics_listen": "%s:%d" % (metrics_host,
                                                  self.metrics_port),
            "tlsrelay_health_listen": "127.0.0.1:%d" % self.health_port,
            "minimal_backoff_time": None,
            "maximal_backoff_time": None,
            "queue_run_delay": None,
        }
        settings.update(main or {})
        relay = self.outbound_relay(main=settings, **kw)
        wait_for("the status process listening",
                 lambda: {self.metrics_port, self.health_port} <=
                 listening_ports(), 10, relay.diagnostics)
        return relay

    def scrape(self, accept=None):
        status, headers, body = http_get(self.metrics_port, "/metrics",
                                         accept)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Connection"], "close")
        return headers["Content-Type"], body

    def samples(self):
        return parse_samples(self.scrape()[1])

    def smtpd_workers(self, relay):
        """The children that hold the smtp listener."""
        return holders(relay, relay.port())

    def status_process(self, relay):
        """The children on the metrics socket that run as mail_owner: a
        child forked a moment ago holds every socket of the supervisor
        until it has closed the others' (before it drops privileges)."""
        uid = str(pwd.getpwnam(MAIL_OWNER).pw_uid)
        pids = []
        for pid in holders(relay, self.metrics_port):
            try:
                if proc_status(pid).get("Uid", "").split() == [uid] * 4:
                    pids.append(pid)
            except FileNotFoundError:
                pass        # it has just exited
        return pids


def holders(relay, port):
    """The children of relay that hold the socket listening on port."""
    inodes = listening_inodes(port)
    pids = []
    for pid in children_of(relay.pid):
        try:
            if proc_socket_inodes(pid) & inodes:
                pids.append(pid)
        except FileNotFoundError:
            pass            # it has just exited
    return pids


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


class MetricsTest(MetricsCase):

    def test_counters_follow_the_traffic(self):
        sink = self.sink()
        dead_port = free_port()
        relay = self.metrics_relay(main={
            "relayhost": sink.nexthop,
            "transport_maps": "inline:{ dead.test=smtp:[127.0.0.1]:%d }" %
                              dead_port,
            "smtp_tls_security_level": "may",
            "smtp_tls_session_cache_database": CCACHE,
            "smtpd_tls_session_cache_database": SCACHE,
            # A new connection, so a new handshake, for every message.
            "smtp_connection_cache_on_demand": "no",
        })
        relay.wait_workers(2)

        # The Prometheus text format, linted by promtool: no complaint.
        ctype, text = self.scrape()
        self.assertEqual(ctype, TEXT_FORMAT)
        lint = subprocess.run(["promtool", "check", "metrics"],
                              input=text.encode(), capture_output=True,
                              timeout=60)
        self.assertEqual((lint.returncode, lint.stdout, lint.stderr),
                         (0, b"", b""), text)
        # OpenMetrics when asked for, as Prometheus asks.
        ctype, om = self.scrape(PROMETHEUS_ACCEPT)
        self.assertEqual(ctype, OPENMETRICS)
        check_openmetrics(self, om)
        before = parse_samples(om)
        self.assertEqual(value(before, "tlsrelay_smtpd_worker_processes"),
                         2)
        self.assertGreater(value(before, "tlsrelay_tls_config_reload_"
                                 "timestamp_seconds"), time.time() - 60)
        not_after = value(before, "tlsrelay_tls_certificate_not_after_"
                          "timestamp_seconds", file=self.certs.rsa)
        self.assertGreater(not_after, time.time())

        # Two messages through STARTTLS, one after the other.
        ciphers = set()
        for n in (1, 2):
            c = self.client(relay)
            c.ehlo()
            c.starttls(self.tls())
            ciphers.add((c.sock.version(), c.sock.cipher()[0]))
            c.ehlo()
            _, data = self.outbound_message(subject="m%d" % n)
            c.send_message("sender@senders.test", ["rcpt@example.test"],
                           data)
            c.cmd("QUIT")
            c.close()
            relay.wait_log(r"status=sent", count=n)
        self.assertEqual(len(ciphers), 1)
        protocol, cipher = ciphers.pop()
        # The client side's words, from its log line.
        m = re.search(r"TLS connection established to \S+: (TLSv[\d.]+) "
                      r"with cipher (\S+)", relay.maillog())
        self.assertIsNotNone(m, relay.maillog()[-2000:])
        smtp_protocol, smtp_cipher = m.groups()

        after = self.samples()

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name,
                                                        **labels)
        self.assertEqual(moved("tlsrelay_smtpd_connections_total",
                               service="127.0.0.1:%d" % relay.port()), 2)
        self.assertEqual(moved("tlsrelay_tls_handshakes_total", side="smtpd",
                               protocol=protocol, cipher=cipher), 2)
        self.assertEqual(moved("tlsrelay_tls_handshakes_total", side="smtp",
                               protocol=smtp_protocol, cipher=smtp_cipher),
                         2)
        self.assertEqual(moved("tlsrelay_deliveries_total", status="sent",
                               tls_level="may"), 2)
        # The second delivery found the first one's session.
        self.assertEqual(moved("tlsrelay_tls_session_cache_lookups_total",
                               side="smtp", result="miss"), 1)
        self.assertEqual(moved("tlsrelay_tls_session_cache_lookups_total",
                               side="smtp", result="hit"), 1)
        self.assertEqual(moved("tlsrelay_deferrals_total", reason="connect"),
                         0)

        # A destination that is down: a deferral of class connect, and
        # the message in the deferred queue, with its age.
        _, data = self.outbound_message(subject="dead", to="r@dead.test")
        queue_id = self.submit(relay, "sender@senders.test", ["r@dead.test"],
                               data)
        relay.wait_log(r"%s: to=<r@dead.test>.*status=deferred" % queue_id)
        self.wait_in(relay, queue_id, "deferred")
        wait_for("the deferred message in the queue gauge",
                 lambda: value(self.samples(), "tlsrelay_queue_messages",
                               queue="deferred") == 1, 10,
                 relay.diagnostics)
        after = self.samples()
        self.assertEqual(moved("tlsrelay_deferrals_total", reason="connect"),
                         1)
        self.assertEqual(moved("tlsrelay_deliveries_total",
                               status="deferred", tls_level="may"), 1)
        self.assertGreater(value(after, "tlsrelay_queue_oldest_message_age_"
                                 "seconds", queue="deferred"), 0)
        self.assertEqual(value(after, "tlsrelay_queue_messages",
                               queue="incoming"), 0)
        # Every connection out is closed by now: nothing stays counted.
        for cls in ("relayhost", "transport", "mx"):
            self.assertEqual(value(after, "tlsrelay_smtp_connections_active",
                                   **{"class": cls}), 0)

        # A worker killed: its counts stay, in every series.
        worker = self.smtpd_workers(relay)[0]
        os.kill(worker, signal.SIGKILL)
        relay.wait_log(r"warning: process smtpd pid %d killed by signal 9" %
                       worker)
        relay.killed = True     # that line is this test's doing
        relay.wait_workers(2)
        wait_for("two smtpd workers again",
                 lambda: value(self.samples(),
                               "tlsrelay_smtpd_worker_processes") == 2,
                 10, relay.diagnostics)
        killed = self.samples()
        for key, v in after.items():
            if key[0].endswith("_total"):
                self.assertGreaterEqual(killed.get(key, -1), v, key)
        self.assertEqual(value(killed, "tlsrelay_smtpd_connections_total",
                               service="127.0.0.1:%d" % relay.port()),
                         value(after, "tlsrelay_smtpd_connections_total",
                               service="127.0.0.1:%d" % relay.port()))

        # A reload: new workers, a new queue manager and status process;
        # the old ones' counts stay too.
        old_status = self.status_process(relay)
        self.assertEqual(len(old_status), 1)
        relay.signal(signal.SIGHUP)
        relay.wait_log(r"reload -- version")

        def new_status():
            pids = self.status_process(relay)
            return pids if len(pids) == 1 and pids[0] not in old_status \
                else None
        status = wait_for("a new status process, alone on the socket",
                          new_status, 10, relay.diagnostics)
        reloaded = self.samples()
        for key, v in killed.items():
            if key[0].endswith("_total"):
                self.assertGreaterEqual(reloaded.get(key, -1), v, key)
        self.assertGreaterEqual(
            value(reloaded, "tlsrelay_tls_config_reload_timestamp_seconds"),
            value(killed, "tlsrelay_tls_config_reload_timestamp_seconds"))

        # The status process killed: logged, replaced, counts intact.
        os.kill(status[0], signal.SIGKILL)
        relay.wait_log(r"warning: process status pid %d killed by signal 9"
                       % status[0])
        wait_for("another status process", lambda: len(set(
            self.status_process(relay)) - set(status)) == 1, 10,
            relay.diagnostics)
        restarted = self.samples()
        for key, v in reloaded.items():
            if key[0].endswith("_total"):
                self.assertGreaterEqual(restarted.get(key, -1), v, key)

    def test_handshake_failures(self):
        """A client that offers only a cipher suite we do not enable, and
        a next hop that only speaks TLS 1.0: one failure on each side, by
        class; at level may the message still goes, in plaintext."""
        sink = self.sink(broken_tls=True)
        relay = self.metrics_relay(main={
            "relayhost": sink.nexthop,
            "smtp_tls_security_level": "may"})
        out = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" %
             relay.port(), "-starttls", "smtp", "-crlf", "-tls1_3",
             "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"], input=b"QUIT\n",
            capture_output=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        relay.wait_log(r"SSL_accept error from")
        _, data = self.outbound_message()
        self.submit(relay, "sender@senders.test", ["rcpt@example.test"],
                    data)
        relay.wait_log(r"status=sent")
        relay.wait_log(r"SSL_connect error to")
        s = self.samples()
        self.assertEqual(value(s, "tlsrelay_tls_handshake_failures_total",
                               side="smtpd", reason="cipher"), 1,
                         relay.maillog()[-2000:])
        self.assertEqual(value(s, "tlsrelay_tls_handshake_failures_total",
                               side="smtp", reason="protocol"), 1,
                         relay.maillog()[-2000:])
        self.assertEqual(value(s, "tlsrelay_deliveries_total",
                               status="sent", tls_level="may"), 1)

    def test_active_connections(self):
        """While the next hop takes its time over a message, its
        connection is counted under relayhost; then no more."""
        sink = self.sink(delay=3)
        relay = self.metrics_relay(main={"relayhost": sink.nexthop})
        _, data = self.outbound_message()
        self.submit(relay, "sender@senders.test", ["rcpt@example.test"],
                    data)
        wait_for("the relay connected to the sink",
                 lambda: sink.connections(), 10, relay.diagnostics)
        s = self.samples()
        self.assertEqual(value(s, "tlsrelay_smtp_connections_active",
                               **{"class": "relayhost"}), 1)
        relay.wait_log(r"status=sent")
        wait_for("no connection counted", lambda: value(
            self.samples(), "tlsrelay_smtp_connections_active",
            **{"class": "relayhost"}) == 0, 10, relay.diagnostics)

    def test_server_session_cache(self):
        """openssl s_client at TLS 1.2 without tickets: a miss, then the
        hit that resumes."""
        relay = self.metrics_relay(main={
            "smtpd_tls_session_cache_database": SCACHE})
        path = os.path.join(self.tmpdir, "sess.pem")
        for n, args in enumerate((["-sess_out", path], ["-sess_in", path])):
            out = subprocess.run(
                ["openssl", "s_client", "-connect", "127.0.0.1:%d" %
                 relay.port(), "-starttls", "smtp", "-crlf", "-ign_eof",
                 "-tls1_2", "-no_ticket"] + args, input=b"QUIT\n",
                capture_output=True, timeout=30).stdout.decode()
            self.assertIn("Reused" if n else "New", out)
            relay.wait_log("TLS connection established from", count=n + 1)
        s = self.samples()
        self.assertEqual(value(s, "tlsrelay_tls_session_cache_lookups_total",
                               side="smtpd", result="hit"), 1)
        self.assertEqual(value(s, "tlsrelay_tls_handshakes_total",
                               side="smtpd", protocol="TLSv1.2",
                               cipher="ECDHE-RSA-AES256-GCM-SHA384"), 2)


class HealthTest(MetricsCase):

    def test_health_and_drain(self):
        # On every address: allowed, with a warning in the log.
        relay = self.metrics_relay(metrics_host="0.0.0.0")
        relay.wait_log(r"warning: tlsrelay_metrics_listen: listening on "
                       r"0\.0\.0\.0, which is not a loopback address")
        wait_for("/health 200", lambda: http_get(
            self.health_port, "/health")[0] == 200, 10, relay.diagnostics)
        status, headers, body = http_get(self.health_port, "/health")
        self.assertEqual((status, body), (200, "ok\n"))
        self.assertEqual(headers["Connection"], "close")
        # The metrics port answers it too; the health port has no metrics.
        self.assertEqual(http_get(self.metrics_port, "/health")[0], 200)
        self.assertEqual(http_get(self.health_port, "/metrics")[0], 404)
        self.assertEqual(http_get(self.metrics_port, "/nothing")[0], 404)
        self.assertEqual(http_get(self.metrics_port, "/metrics",
                                  method="POST")[0], 405)
        self.assertEqual(http_get(self.health_port, "/health",
                                  method="HEAD")[0], 200)
        # Garbage: 400, and the server lives on.
        for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                     b"GET /health HTTP/9.9\r\n\r\n",
                     b"GET /health HTTP/1.1\r\n" + b"X: y\r\n" * 1000):
            self.assertEqual(raw_request(self.health_port, junk),
                             "HTTP/1.1 400 Bad Request")
        self.assertEqual(http_get(self.health_port, "/health")[0], 200)
        # A request that never ends is dropped at its deadline, unanswered.
        with socket.create_connection(("127.0.0.1", self.health_port),
                                      timeout=20) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n")
            started = time.monotonic()
            self.assertEqual(s.recv(100), b"")
            self.assertGreater(time.monotonic() - started, 3)
        # At most 16 clients at once: the 17th waits for a place.
        held = [socket.create_connection(("127.0.0.1", self.health_port),
                                         timeout=10) for _ in range(16)]
        try:
            for h in held:
                h.sendall(b"GET /health HTTP/1.1\r\n")
            with socket.create_connection(("127.0.0.1", self.health_port),
                                          timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\n\r\n")
                self.assertRaises(socket.timeout, s.recv, 100)
                held.pop().close()
                s.settimeout(10)
                self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200 OK"))
        finally:
            for h in held:
                h.close()

        # A session in the middle of DATA keeps the node draining after
        # SIGTERM (an idle one gets 421 at once).
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<sender@senders.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<rcpt@example.test>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: drain\r\n\r\nstill coming\r\n")
        relay.signal(signal.SIGTERM)
        relay.wait_log(r"terminating on signal 15")
        try:
            status, _, body = http_get(self.health_port, "/health")
        except OSError as e:
            self.fail("/health while draining: %s\n%s" % (
                e, relay.diagnostics()))
        self.assertEqual((status, body), (503, "draining\n"))
        s = parse_samples(http_get(self.metrics_port, "/metrics")[2])
        self.assertEqual(value(s, "tlsrelay_draining"), 1)
        self.assertIsNone(relay.proc.poll())
        self.assertReply(c.cmd("."), 250)
        c.close()
        relay.wait_exit()
        self.assertNotIn(self.health_port, listening_ports())

    def test_bad_address(self):
        """A value that is not host:port stops the start, and says why."""
        relay = self.relay(main={"tlsrelay_metrics_listen": "127.0.0.1"},
                           start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertIn("tlsrelay_metrics_listen = 127.0.0.1: not host:port",
                      out)

    def test_no_worker_no_health(self):
        """No smtpd worker running, no node to send mail to: 503. The
        only worker, killed as soon as it starts, is started again after
        a pause of 1, 2, then 4 seconds (service_throttle_time): during
        the last one there is none."""
        relay = self.metrics_relay(main={"tlsrelay_smtpd_workers": "1"})
        wait_for("/health 200", lambda: http_get(
            self.health_port, "/health")[0] == 200, 10, relay.diagnostics)
        relay.killed = True     # the kill lines are this test's doing
        for pause in ("1 second", "2 seconds", "4 seconds"):
            wait_for("an smtpd worker", lambda: self.smtpd_workers(relay),
                     10, relay.diagnostics)
            worker = self.smtpd_workers(relay)[0]
            os.kill(worker, signal.SIGKILL)
            relay.wait_log(r"warning: smtpd: bad command startup -- "
                           r"throttling for %s" % pause)
        status, _, body = http_get(self.health_port, "/health")
        self.assertEqual((status, body), (503, "no smtpd worker\n"))
        s = parse_samples(http_get(self.metrics_port, "/metrics")[2])
        self.assertEqual(value(s, "tlsrelay_smtpd_worker_processes"), 0)
        # And back once the pause is over.
        wait_for("/health 200 again", lambda: http_get(
            self.health_port, "/health")[0] == 200, 10, relay.diagnostics)


if __name__ == "__main__":
    main()
