"""MTA-STS (RFC 8461) against a real policy web server, on loopback.

dnsmasq serves the test zone: sts.test has MX mx.sts.test, the TXT record
_mta-sts.sts.test (v=STSv1; id=...) and mta-sts.sts.test, all at
127.0.0.1; peers/policy_https.py (Python's http.server over ssl, its own
process) serves https://mta-sts.sts.test/.well-known/mta-sts.txt with a
certificate of the test CA on the port tlsrelay_mta_sts_fetch_port names;
an aiosmtpd sink is the MX at smtp_tcp_port. tlsrelay_mta_sts_CAfile is
the test CA: it verifies both the policy server and, in mode enforce,
the MX.

Fetching: a policy is fetched once and kept in data_directory across a
restart (used with the web server stopped); 404, a redirect, a policy
over 64 KiB are no policy; a new TXT id fetches again, and a failed
refresh keeps the policy it had. Enforcing: a matching MX with a valid
certificate is delivered with "Verified"; an MX the policy does not name
and an MX with a certificate of another CA are deferred; mode testing
delivers and logs what enforce would have refused; "*.sts.test" matches
mx.sts.test; an smtp_tls_policy_maps entry wins over a policy. With
DANE (the DNSSEC lab of test_dane.py: NSD and unbound), usable TLSA
records at the MX win over a policy that would defer, and a secure
denial of TLSA leaves the decision to the policy. Every negative check
waits for the log line that proves the relay decided first. The relays
keep an administrator's queue timers. dnsmasq forwards nothing, and
each test runs under tcpdump, which must see no packet outside
loopback."""

import hashlib
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dnssec_lab import DnssecLab, LoopbackCapture, Zone  # noqa: E402
from relaytest import (DEFAULT_TIMERS, PYTHON, HarnessError,  # noqa: E402
                       OutboundTestCase, START_TIMEOUT, TestCA, free_port_on,
                       inline_table, main, openssl, read_text,
                       require_tools, stop_pid, to_lines, wait_for)

SENDER = "sender@senders.test"
DOMAIN = "sts.test"
MX = "mx.sts.test"
POLICY_HOST = "mta-sts.sts.test"
SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers",
                      "policy_https.py")


def policy(mode="enforce", mx=(MX,), max_age=86400):
    lines = ["version: STSv1", "mode: " + mode]
    lines += ["mx: " + m for m in mx]
    lines.append("max_age: %d" % max_age)
    return "\r\n".join(lines) + "\r\n"


class StsCerts(TestCA):
    """The test CA, certificates of it for the policy host and the MX,
    and an MX certificate of another CA."""

    def __init__(self, directory):
        super().__init__(directory)
        self.ca = self.path(self._ca("ca", "tlsrelay MTA-STS test CA") +
                            ".crt")
        self._ca("other", "tlsrelay other CA")
        self.web = self.leaf("web", "ca", POLICY_HOST)
        self.mx = self.leaf("mx", "ca", MX)
        self.mx_other = self.leaf("mx-other", "other", MX)

    def leaf(self, name, ca, host):
        """A certificate for host of CA ca, or self-signed (ca None)."""
        return self._leaf(name, ca, "DNS:" + host)

    def spki_sha256(self, leaf):
        """The TLSA 3 1 1 data of a leaf: SHA-256 of its public key."""
        pub = leaf.rsa + ".pub"
        with open(pub, "wb") as f:
            f.write(openssl("x509", "-in", leaf.rsa, "-noout", "-pubkey"))
        der = openssl("pkey", "-pubin", "-in", pub, "-outform", "DER")
        return hashlib.sha256(der).hexdigest()


class PolicyServer:
    """peers/policy_https.py in its own process, on 127.0.0.1:port."""

    def __init__(self, case, directory, cert, port=None):
        require_tools(PYTHON)
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.port = port or free_port_on(("127.0.0.1",))
        self.log_path = os.path.join(directory, "server.log")
        self.log_file = open(self.log_path, "ab")
        ready = os.path.join(directory, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.proc = subprocess.Popen(
            [PYTHON, SERVER, "--listen", "127.0.0.1:%d" % self.port,
             "--tls-cert", cert.rsa, "--tls-key", cert.rsa_key,
             "--dir", directory],
            stdin=subprocess.DEVNULL, stdout=self.log_file,
            stderr=self.log_file, start_new_session=True)
        case.addCleanup(self.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HarnessError("policy server did not start:\n%s" %
                                   read_text(self.log_path))
            time.sleep(0.05)

    def serve(self, body=None, status=200, content_type="text/plain",
              location=None, pad=0):
        """What the next requests get; body None: 404."""
        path = os.path.join(self.dir, "response.json")
        if body is None and status == 200:
            if os.path.exists(path):
                os.unlink(path)
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"status": status, "content_type": content_type,
                       "body": body or "", "location": location,
                       "pad": pad}, f)
        os.rename(tmp, path)

    def requests(self):
        try:
            with open(os.path.join(self.dir, "requests.log")) as f:
                return [line.split() for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            stop_pid(self.proc)
        if not self.log_file.closed:
            self.log_file.close()


class MtaStsTestCase(OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sts_certs = StsCerts(os.path.join(cls.tmpdir, "sts-certs"))

    def setUp(self):
        super().setUp()
        # Nothing of a test may leave loopback (DNS included).
        self.capture = LoopbackCapture(self, os.path.join(
            self.tmpdir, "capture-%s.pcap" % self._testMethodName))
        self.relays = []
        self.sender_sink = self.sink()
        self.web_dir = os.path.join(self.tmpdir, "web-" +
                                    self._testMethodName)
        self.web = PolicyServer(self, self.web_dir, self.web_cert())

    def web_cert(self):
        return self.sts_certs.web

    def tearDown(self):
        # The relays stop first (they are what could send), then the
        # capture is read.
        for relay in self.relays:
            relay.stop()
        self.assertEqual(self.capture.stop(), [], "packets outside loopback")
        super().tearDown()

    def mx_sink(self, cert=None):
        return self.sink(certs=cert or self.sts_certs.mx)

    def sts_dns(self, txt_id="1", extra_txt=()):
        txt = ["--txt-record=_mta-sts.%s,v=STSv1; id=%s;" % (DOMAIN, txt_id)]
        txt += ["--txt-record=_mta-sts.%s,%s" % (DOMAIN, t)
                for t in extra_txt]
        return self.dns(mx=[(DOMAIN, MX, 10)],
                        hosts=[(MX, "127.0.0.1"),
                               (POLICY_HOST, "127.0.0.1")],
                        extra=txt)

    def sts_relay(self, dns, sink, start=True, **main):
        table = {"senders.test": "smtp:" + self.sender_sink.nexthop}
        # An administrator's timers: a deferred message waits.
        settings = dict(DEFAULT_TIMERS)
        settings.update({
            "myhostname": "sender.relay.test",
            "smtp_tcp_port": str(sink.port),
            "transport_maps": inline_table(table),
            "tlsrelay_mta_sts_fetch_port": str(self.web.port),
            "tlsrelay_mta_sts_CAfile": self.sts_certs.ca,
            # Without a policy: opportunistic TLS, and the verdict word
            # logged, so "Verified" is told from "Untrusted".
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
        })
        settings.update(main)
        relay = self.outbound_relay(main=settings, dns=dns, start=start)
        self.relays.append(relay)
        return relay

    def send(self, relay, rcpt="user@" + DOMAIN):
        _, data = self.outbound_message(to=rcpt)
        return self.submit(relay, SENDER, [rcpt], data)

    def restart(self, relay, dns):
        relay.stop()
        relay.main["tlsrelay_dns_servers"] = dns.server
        relay.write_config()
        relay.start()

    def wait_sts(self, relay, pattern):
        """The MTA-STS log line: a fetch and a delivery take seconds."""
        return relay.wait_log(pattern, timeout=20)

    def assert_sent(self, relay, queue_id, verdict):
        self.wait_removed(relay, queue_id)
        (line,) = to_lines(relay, queue_id, "sent")
        self.assertIn("relay=%s[127.0.0.1]" % MX, line)
        established = relay.wait_log(
            r"(\w+) TLS connection established to %s\[127\.0\.0\.1\]" %
            MX.replace(".", r"\."))
        self.assertEqual(established[-1].split(": ", 1)[1].split()[0],
                         verdict, relay.maillog())

    def assert_deferred(self, relay, queue_id, reason):
        line = relay.wait_log(r": %s: to=<[^>]*>, .*status=deferred" %
                              queue_id, timeout=30)[0]
        self.assertIn(reason, line)


class FetchTest(MtaStsTestCase):

    def cache_file(self, relay):
        return os.path.join(relay.main["data_directory"],
                            "mta_sts_policy.db")

    def test_fetched_cached_and_used_after_restart(self):
        sink = self.mx_sink()
        self.web.serve(policy())
        dns = self.sts_dns()
        relay = self.sts_relay(dns, sink)
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: id=1 mode=enforce "
                       r"max_age=86400 fetched")
        self.assert_sent(relay, queue_id, "Verified")
        self.assertEqual(self.web.requests(),
                         [["/.well-known/mta-sts.txt", POLICY_HOST]])
        self.assertTrue(os.path.exists(self.cache_file(relay)))

        # The web server gone, the relay restarted: the cached policy
        # still asks for (and gets) a verified MX.
        self.web.stop()
        relay.stop()
        relay.start()
        queue_id = self.send(relay)
        self.assert_sent(relay, queue_id, "Verified")
        self.assertEqual(relay.maillog().count(" fetched"), 1)
        self.assertNotIn("MTA-STS policy for sts.test: https://",
                         relay.maillog())

    def assert_no_policy(self, relay, why):
        """The message goes out at the default level, after the relay
        logged why there is no policy."""
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: https://"
                       r"mta-sts\.sts\.test/\.well-known/mta-sts\.txt: "
                       r"%s; no policy" % why)
        self.assert_sent(relay, queue_id, "Untrusted")
        self.assertNotIn(" fetched", relay.maillog())

    def test_404_is_no_policy(self):
        self.web.serve(None)
        relay = self.sts_relay(self.sts_dns(), self.mx_sink())
        self.assert_no_policy(relay, "HTTP 404")

    def test_redirect_is_no_policy(self):
        self.web.serve(status=301, location="https://%s:%d/elsewhere" % (
            POLICY_HOST, self.web.port))
        relay = self.sts_relay(self.sts_dns(), self.mx_sink())
        self.assert_no_policy(relay, r"HTTP 301: redirect to \S+ not "
                                     r"followed")
        # The redirect was not followed.
        self.assertEqual([r[0] for r in self.web.requests()],
                         ["/.well-known/mta-sts.txt"])

    def test_too_large_is_no_policy(self):
        self.web.serve(policy(), pad=70000)
        relay = self.sts_relay(self.sts_dns(), self.mx_sink())
        self.assert_no_policy(relay, "policy larger than 65536 bytes")

    def test_wrong_content_type_is_no_policy(self):
        self.web.serve(policy(), content_type="text/html")
        relay = self.sts_relay(self.sts_dns(), self.mx_sink())
        self.assert_no_policy(relay, "Content-Type text/html, not "
                                     "text/plain")

    def test_refresh_on_new_id_and_failed_refresh_keeps_policy(self):
        sink = self.mx_sink()
        self.web.serve(policy())
        relay = self.sts_relay(self.sts_dns("1"), sink)
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: id=1 mode=enforce")
        self.assert_sent(relay, queue_id, "Verified")

        # A new id, and the policy server answers 404: the refresh fails
        # and the cached policy (id=1) stays in force.
        self.web.serve(None)
        self.restart(relay, self.sts_dns("2"))
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: https://\S+: "
                       r"HTTP 404; using the cached policy id=1")
        self.assert_sent(relay, queue_id, "Verified")
        self.assertEqual(len(self.web.requests()), 2)

        # Another id with a policy in mode testing: fetched, replaces it.
        self.web.serve(policy(mode="testing"))
        self.restart(relay, self.sts_dns("3"))
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: id=3 mode=testing "
                       r"max_age=86400 fetched")
        self.wait_removed(relay, queue_id)
        (line,) = to_lines(relay, queue_id, "sent")
        self.assertEqual(len(self.web.requests()), 3)

    def test_refreshed_before_it_expires(self):
        # RFC 8461 5.1: a cached policy is fetched again before it
        # expires. max_age is the policy's (the peer's data): 20 s, so
        # that half of it, when tlsrelay refreshes, passes in the test.
        sink = self.mx_sink()
        self.web.serve(policy(max_age=20))
        relay = self.sts_relay(self.sts_dns(), sink)
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: id=1 "
                      r"mode=enforce max_age=20 fetched")
        fetched_at = time.monotonic()
        self.assert_sent(relay, queue_id, "Verified")
        self.assertEqual(len(self.web.requests()), 1)

        # Younger than half its max_age: used as it is.
        queue_id = self.send(relay)
        self.assert_sent(relay, queue_id, "Verified")
        self.assertEqual(len(self.web.requests()), 1)

        # Older than half (the clock is what this waits for): the next
        # message goes out under the cached policy, and the policy is
        # fetched again meanwhile, before it expires.
        time.sleep(max(0.0, fetched_at + 11 - time.monotonic()))
        self.web.serve(policy(max_age=24))
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: id=1 "
                      r"mode=enforce max_age=24 refreshed")
        refreshed_at = time.monotonic()
        self.assertLess(refreshed_at - fetched_at, 20)
        self.assert_sent(relay, queue_id, "Verified")
        self.assertEqual(len(self.web.requests()), 2)
        # Not a fetch after expiry: the message had the cached policy.
        self.assertEqual(relay.maillog().count(" fetched"), 1)

        # A failed refresh keeps the policy: the web server gone, the
        # refreshed policy (max_age 24) older than half: the message is
        # still held to it.
        self.web.stop()
        time.sleep(max(0.0, refreshed_at + 13 - time.monotonic()))
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: refresh: .*; "
                      r"keeping the cached policy id=1")
        self.assert_sent(relay, queue_id, "Verified")

    def test_two_sts_records_is_no_policy(self):
        self.web.serve(policy())
        relay = self.sts_relay(self.sts_dns("1", extra_txt=(
            "v=STSv1; id=9;",)), self.mx_sink())
        queue_id = self.send(relay)
        self.wait_sts(relay, r"MTA-STS policy for sts\.test: more than one "
                       r"STSv1 TXT record; no policy")
        self.assert_sent(relay, queue_id, "Untrusted")
        self.assertEqual(self.web.requests(), [])


class MemoTest(MtaStsTestCase):
    """What the queue manager remembers between messages: N messages to
    a domain cost one TXT query (counted in the resolver's query log),
    and a failed fetch is not repeated per message."""

    N = 3

    def send_all(self, relay, rcpt="user@" + DOMAIN, verdict="Untrusted"):
        for _ in range(self.N):
            queue_id = self.send(relay, rcpt)
            self.wait_removed(relay, queue_id)
            self.assertEqual(len(to_lines(relay, queue_id, "sent")), 1)

    def test_no_txt_record_is_asked_once(self):
        # A signed zone with a real SOA: the denial of
        # _mta-sts.nosts.sec.test carries its negative TTL (300 s).
        sink = self.mx_sink()
        lab = DnssecLab(self, os.path.join(self.tmpdir, "lab-memo"), [
            Zone("sec.test", ["nosts IN MX 10 mx.nosts",
                              "mx.nosts IN A 127.0.0.1"])])
        relay = self.sts_relay(lab, sink)
        self.send_all(relay, "user@nosts.sec.test")
        self.assertEqual(len(sink.messages()), self.N)
        queries = [l for l in lab.resolver_log().splitlines()
                   if "_mta-sts.nosts.sec.test. TXT IN" in l]
        self.assertEqual(len(queries), 1, lab.resolver_log())
        self.assertEqual(self.web.requests(), [])

    def txt_queries(self, dns):
        with open(dns.log_path) as f:
            return [l for l in f if "query[TXT] _mta-sts.%s " % DOMAIN in l]

    def test_cached_policy_txt_checked_once(self):
        self.web.serve(policy())
        dns = self.sts_dns()
        relay = self.sts_relay(dns, self.mx_sink())
        self.send_all(relay)
        self.assertEqual(relay.maillog().count(" fetched"), 1)
        self.assertEqual(len(self.txt_queries(dns)), 1, dns.log())
        self.assertEqual(len(self.web.requests()), 1)

    def test_burst_waits_for_one_query_and_one_fetch(self):
        # The policy server holds its answer: every message of the burst
        # has its MX host (dnsmasq saw each A query) and asks for the
        # policy while the first fetch is in flight; they wait for it.
        hold = os.path.join(self.web_dir, "hold")
        open(hold, "w").close()
        self.web.serve(policy())
        dns = self.sts_dns()
        relay = self.sts_relay(dns, self.mx_sink())
        queue_ids = [self.send(relay) for _ in range(self.N)]

        def a_queries():
            with open(dns.log_path) as f:
                return sum("query[A] %s " % MX in l for l in f)
        wait_for("%d A queries" % self.N, lambda: a_queries() >= self.N,
                 20, dns.log)
        wait_for("the policy request", lambda: self.web.requests(), 20,
                 relay.maillog)
        os.unlink(hold)
        for queue_id in queue_ids:
            self.assert_sent(relay, queue_id, "Verified")
        self.assertEqual(len(self.web.requests()), 1)
        self.assertEqual(relay.maillog().count(" fetched"), 1)
        self.assertEqual(len(self.txt_queries(dns)), 1, dns.log())

    def test_failed_fetch_is_not_repeated_per_message(self):
        self.web.serve(None)
        dns = self.sts_dns()
        relay = self.sts_relay(dns, self.mx_sink())
        self.send_all(relay)
        self.assertEqual(len(self.web.requests()), 1)
        self.assertEqual(relay.maillog().count("HTTP 404; no policy"), 1)
        self.assertEqual(len(self.txt_queries(dns)), 1, dns.log())


class EnforceTest(MtaStsTestCase):

    def test_matching_mx_with_valid_certificate_is_delivered(self):
        self.web.serve(policy())
        relay = self.sts_relay(self.sts_dns(), self.mx_sink())
        self.assert_sent(relay, self.send(relay), "Verified")

    def test_wildcard_mx_pattern(self):
        self.web.serve(policy(mx=("*.sts.test",)))
        relay = self.sts_relay(self.sts_dns(), self.mx_sink())
        self.assert_sent(relay, self.send(relay), "Verified")

    def test_mx_not_in_policy_is_deferred(self):
        sink = self.mx_sink()
        self.web.serve(policy(mx=("other.sts.test", "*.other.test")))
        relay = self.sts_relay(self.sts_dns(), sink)
        queue_id = self.send(relay)
        self.wait_sts(relay, r"%s: MTA-STS policy for sts\.test \(id=1\): MX host "
                       r"mx\.sts\.test is not in the policy: skipped" %
                       queue_id)
        self.assert_deferred(relay, queue_id, "MTA-STS policy for sts.test "
                             "(id=1): no MX host matches the policy")
        self.assertEqual(sink.messages(), [])
        self.assertEqual(sink.connections(), [])

    def test_untrusted_certificate_is_deferred(self):
        sink = self.mx_sink(self.sts_certs.mx_other)
        self.web.serve(policy())
        relay = self.sts_relay(self.sts_dns(), sink)
        queue_id = self.send(relay)
        self.assert_deferred(relay, queue_id,
                             "Server certificate not trusted")
        relay.wait_log(r"certificate verification failed for mx\.sts\.test")
        self.assertEqual(sink.messages(), [])

    def test_testing_mode_delivers_and_logs_what_would_fail(self):
        self.web.serve(policy(mode="testing", mx=("other.sts.test",)))
        relay = self.sts_relay(self.sts_dns(), self.mx_sink())
        queue_id = self.send(relay)
        self.wait_sts(relay, r"%s: MTA-STS policy for sts\.test \(id=1, testing\): "
                       r"MX host mx\.sts\.test is not in the policy: would "
                       r"be skipped in mode enforce" % queue_id)
        self.assert_sent(relay, queue_id, "Untrusted")
        # Its certificate would pass: nothing else would fail.
        self.assertNotIn("would fail in mode enforce", relay.maillog())

    def test_testing_mode_reports_a_certificate_that_would_fail(self):
        # RFC 8461 5: in mode testing a failure is reported, the mail
        # delivered as without the policy.
        sink = self.mx_sink(self.sts_certs.mx_other)
        self.web.serve(policy(mode="testing"))
        relay = self.sts_relay(self.sts_dns(), sink)
        queue_id = self.send(relay)
        self.wait_sts(relay, r"%s: MTA-STS policy for sts\.test \(id=1, "
                      r"testing\): MX host mx\.sts\.test: certificate not "
                      r"trusted \(unable to get local issuer certificate\): "
                      r"would fail in mode enforce" % queue_id)
        self.assert_sent(relay, queue_id, "Untrusted")
        self.assertEqual(len(sink.messages()), 1)

    def test_testing_mode_reports_a_server_without_starttls(self):
        self.web.serve(policy(mode="testing"))
        sink = self.sink(tls=False)
        relay = self.sts_relay(self.sts_dns(), sink)
        queue_id = self.send(relay)
        self.wait_sts(relay, r"%s: MTA-STS policy for sts\.test \(id=1, "
                      r"testing\): MX host mx\.sts\.test: STARTTLS not "
                      r"offered: would fail in mode enforce" % queue_id)
        self.wait_removed(relay, queue_id)
        self.assertEqual(len(to_lines(relay, queue_id, "sent")), 1)
        self.assertEqual(len(sink.messages()), 1)

    def test_testing_mode_reports_a_name_that_would_fail(self):
        # A certificate of the trusted CA, for another name.
        cert = self.sts_certs.leaf("mx-wrong-name", "ca", "other.sts.test")
        self.web.serve(policy(mode="testing"))
        relay = self.sts_relay(self.sts_dns(), self.mx_sink(cert))
        queue_id = self.send(relay)
        self.wait_sts(relay, r"%s: MTA-STS policy for sts\.test \(id=1, "
                      r"testing\): MX host mx\.sts\.test: certificate name "
                      r"does not match the MX host: would fail in mode "
                      r"enforce" % queue_id)
        self.assert_sent(relay, queue_id, "Untrusted")

    def test_policy_maps_entry_wins(self):
        self.web.serve(policy(mx=("other.sts.test",)))
        relay = self.sts_relay(self.sts_dns(), self.mx_sink(),
                               smtp_tls_policy_maps=inline_table(
                                   {DOMAIN: "encrypt"}))
        queue_id = self.send(relay)
        self.assert_sent(relay, queue_id, "Untrusted")
        # No lookup was made for a destination the administrator set.
        self.assertEqual(self.web.requests(), [])

    def test_disabled(self):
        self.web.serve(policy(mx=("other.sts.test",)))
        relay = self.sts_relay(self.sts_dns(), self.mx_sink(),
                               tlsrelay_mta_sts_enable="no")
        self.assert_sent(relay, self.send(relay), "Untrusted")
        self.assertEqual(self.web.requests(), [])


class DaneTest(MtaStsTestCase):
    """A signed zone (NSD, validated by unbound) where dane.sec.test has
    an MTA-STS policy that names another MX host. With usable TLSA
    records at its MX, DANE decides and the mail goes out; without them
    (a secure denial), the policy decides and the mail waits."""

    DOMAIN = "dane.sec.test"
    MX = "mx.dane.sec.test"

    def web_cert(self):
        return self.sts_certs.leaf("web-dane", "ca", "mta-sts." +
                                   self.DOMAIN)

    def dane_case(self, with_tlsa):
        ee = self.sts_certs.leaf("ee-" + self._testMethodName, None,
                                 self.MX)
        sink = self.sink(certs=ee)
        records = [
            "dane IN MX 10 mx.dane",
            "mx.dane IN A 127.0.0.1",
            "mta-sts.dane IN A 127.0.0.1",
            '_mta-sts.dane IN TXT "v=STSv1; id=7;"',
        ]
        if with_tlsa:
            records.append("_%d._tcp.mx.dane IN TLSA 3 1 1 %s" % (
                sink.port, self.sts_certs.spki_sha256(ee)))
        lab = DnssecLab(self, os.path.join(
            self.tmpdir, "lab-%s" % self._testMethodName),
            [Zone("sec.test", records)])
        self.web.serve(policy(mx=("other.sec.test",)))
        relay = self.sts_relay(lab, sink, smtp_dns_support_level="dnssec",
                               smtp_tls_security_level="dane")
        _, data = self.outbound_message(to="user@" + self.DOMAIN)
        return relay, sink, self.submit(relay, SENDER,
                                        ["user@" + self.DOMAIN], data)

    def test_dane_decides_over_mta_sts(self):
        relay, sink, queue_id = self.dane_case(with_tlsa=True)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"Verified TLS connection established to "
                       r"mx\.dane\.sec\.test\[127\.0\.0\.1\]")
        relay.wait_log(r"Matched DANE EE certificate at depth 0: 3 1 1 ")
        self.assertEqual(len(sink.messages()), 1)
        # The policy was never asked for: DANE had decided.
        self.assertEqual(self.web.requests(), [])

    def test_mta_sts_decides_without_tlsa(self):
        relay, sink, queue_id = self.dane_case(with_tlsa=False)
        self.wait_sts(relay, r"%s: MTA-STS policy for dane\.sec\.test "
                      r"\(id=7\): MX host mx\.dane\.sec\.test is not in "
                      r"the policy: skipped" % queue_id)
        self.assert_deferred(relay, queue_id, "no MX host matches")
        self.assertEqual(sink.messages(), [])


if __name__ == "__main__":
    main()
