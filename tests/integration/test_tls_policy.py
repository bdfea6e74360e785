"""Per-destination TLS policy (issue 4) against real TLS servers.

Five aiosmtpd sinks listen on 127.0.0.2-6 at one port (smtp_tcp_port);
dnsmasq serves their MX and A records:

    good.test       mx.good.test      test CA, names mx.good.test, good.test
    wrongca.test    mx.wrongca.test   the wrong CA, the right names
    wrongname.test  mx.wrongname.test test CA, only elsewhere.example
    plain.test      mx.plain.test     no STARTTLS
    hosted.test     mx.provider.test  test CA, only mx.provider.test
    twomx.test      mx.wrongname.test (10), mx.good.test (20)

Each level of smtp_tls_security_level (none, may, encrypt, fingerprint,
verify, secure) gets one message to all six domains, and each cell of
the table says whether that destination is delivered (to which server,
with or without TLS, with which verdict word) or deferred (with
Postfix's reason). Every deferred cell is a check that, skipped, would
have delivered: the server is there and willing. Then per-destination
overrides with smtp_tls_policy_maps, a tls_policy file in Postfix syntax
compiled by `tlsrelay map hash:`, unusable entries (deferred, never
downgraded), and a real Postfix as the far end."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (OutboundTestCase, TestCA, free_port_on,  # noqa: E402
                       inline_table, main, openssl, require_tools, to_lines,
                       wait_for)

SENDER = "sender@senders.test"
HOSTS = {"good": "127.0.0.2", "wrongca": "127.0.0.3",
         "wrongname": "127.0.0.4", "plain": "127.0.0.5",
         "provider": "127.0.0.6"}
DOMAINS = ("good", "wrongca", "wrongname", "plain", "hosted", "twomx")

SENT, DEFER = "sent", "deferred"
NOT_TRUSTED = "Server certificate not trusted"
NOT_VERIFIED = "Server certificate not verified"
NOT_OFFERED = "TLS is required, but was not offered by host"
POLICY_PROBLEM = "client TLS configuration problem"

# level -> domain -> (status, server or reason, verdict or None)
LEVEL_TABLE = {
    "none": {
        "good": (SENT, "good", None),
        "wrongca": (SENT, "wrongca", None),
        "wrongname": (SENT, "wrongname", None),
        "plain": (SENT, "plain", None),
        "hosted": (SENT, "provider", None),
        "twomx": (SENT, "wrongname", None),
    },
    "may": {
        "good": (SENT, "good", "Trusted"),
        "wrongca": (SENT, "wrongca", "Untrusted"),
        "wrongname": (SENT, "wrongname", "Trusted"),
        "plain": (SENT, "plain", None),
        "hosted": (SENT, "provider", "Trusted"),
        "twomx": (SENT, "wrongname", "Trusted"),
    },
    "encrypt": {
        "good": (SENT, "good", "Trusted"),
        "wrongca": (SENT, "wrongca", "Untrusted"),
        "wrongname": (SENT, "wrongname", "Trusted"),
        "plain": (DEFER, NOT_OFFERED, None),
        "hosted": (SENT, "provider", "Trusted"),
        "twomx": (SENT, "wrongname", "Trusted"),
    },
    # fingerprints: good's certificate, wrongca's public key
    "fingerprint": {
        "good": (SENT, "good", "Verified"),
        "wrongca": (SENT, "wrongca", "Verified"),
        "wrongname": (DEFER, NOT_VERIFIED, "Trusted"),
        "plain": (DEFER, NOT_OFFERED, None),
        "hosted": (DEFER, NOT_VERIFIED, "Trusted"),
        "twomx": (SENT, "good", "Verified"),
    },
    "verify": {
        "good": (SENT, "good", "Verified"),
        "wrongca": (DEFER, NOT_TRUSTED, "Untrusted"),
        "wrongname": (DEFER, NOT_VERIFIED, "Trusted"),
        "plain": (DEFER, NOT_OFFERED, None),
        "hosted": (SENT, "provider", "Verified"),
        "twomx": (SENT, "good", "Verified"),
    },
    "secure": {
        "good": (SENT, "good", "Verified"),
        "wrongca": (DEFER, NOT_TRUSTED, "Untrusted"),
        "wrongname": (DEFER, NOT_VERIFIED, "Trusted"),
        "plain": (DEFER, NOT_OFFERED, None),
        # the MX host's own name is no proof at this level
        "hosted": (DEFER, NOT_VERIFIED, "Trusted"),
        "twomx": (DEFER, NOT_VERIFIED, "Trusted"),
    },
}


class PolicyCerts(TestCA):
    """A test CA and a wrong CA, and server certificates for the sinks
    and the Postfix peer."""

    def __init__(self, directory):
        super().__init__(directory)
        self.ca = self._ca("ca", "tlsrelay policy test CA")
        self.wrong_ca = self._ca("wrongca-root", "tlsrelay wrong CA")
        self.leaf = {
            "good": self._leaf("good", self.ca,
                               "DNS:mx.good.test,DNS:good.test"),
            "wrongca": self._leaf("wrongca", self.wrong_ca,
                                  "DNS:mx.wrongca.test,DNS:wrongca.test"),
            "wrongname": self._leaf("wrongname", self.ca,
                                    "DNS:elsewhere.example"),
            "provider": self._leaf("provider", self.ca,
                                   "DNS:mx.provider.test"),
            "postfix": self._leaf("postfix", self.ca, "DNS:pf.peer.test"),
        }

    def fingerprint(self, name, digest="sha256"):
        out = openssl("x509", "-in", self.path(name + ".crt"), "-noout",
                      "-fingerprint", "-" + digest).decode()
        return out.strip().split("=", 1)[1]

    def pkey_fingerprint(self, name, digest="sha256"):
        # TLS_README's recipe.
        out = subprocess.run(
            "openssl x509 -in '%s' -noout -pubkey | openssl pkey -pubin "
            "-outform DER | openssl dgst -%s -c" % (
                self.path(name + ".crt"), digest),
            shell=True, check=True, stdout=subprocess.PIPE).stdout.decode()
        return out.strip().rsplit("= ", 1)[1]


class PolicyTestCase(OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pcerts = PolicyCerts(os.path.join(cls.tmpdir, "policy-certs"))

    def setUp(self):
        super().setUp()
        self.port = free_port_on(tuple(HOSTS.values()))
        self.sinks = {}
        for name, host in HOSTS.items():
            tls = name != "plain"
            self.sinks[name] = self.sink(
                port=self.port, hosts=(host,), tls=tls,
                certs=self.pcerts.leaf.get(name) if tls else None)
        self.sender_sink = self.sink()
        mx = [("%s.test" % n, "mx.%s.test" % n, 10)
              for n in ("good", "wrongca", "wrongname", "plain")]
        mx += [("hosted.test", "mx.provider.test", 10),
               ("twomx.test", "mx.wrongname.test", 10),
               ("twomx.test", "mx.good.test", 20),
               ("deep.wrongca.test", "mx.wrongca.test", 10)]
        for extra in ("typo", "dane", "levelx", "noprint"):
            mx.append(("%s.test" % extra, "mx.good.test", 10))
        hosts = [("mx.%s.test" % n, a) for n, a in HOSTS.items()]
        self.dns_server = self.dns(mx=mx, hosts=hosts)

    def policy_relay(self, level=None, routes=None, **main):
        table = {"senders.test": "smtp:" + self.sender_sink.nexthop}
        table.update(routes or {})
        settings = {
            "smtp_tcp_port": str(self.port),
            "transport_maps": inline_table(table),
            "smtp_tls_CAfile": self.pcerts.path("ca.crt"),
            "smtp_tls_loglevel": "1",
        }
        if level is not None:
            settings["smtp_tls_security_level"] = level
        settings.update(main)
        return self.outbound_relay(main=settings, dns=self.dns_server)

    def first_outcomes(self, relay, queue_id, rcpts, timeout=30):
        """{recipient: (status, relay, dsn, reason)} from the first to=
        line of each recipient."""
        pattern = re.compile(r"to=<([^>]*)>, relay=(\S+), .*dsn=(\S+), "
                             r"status=(\w+) \((.*)\)$")

        def collect():
            out = {}
            for line in to_lines(relay, queue_id):
                m = pattern.search(line)
                if m and m.group(1) not in out:
                    out[m.group(1)] = (m.group(4), m.group(2), m.group(3),
                                       m.group(5))
            return out if set(rcpts) <= set(out) else None
        return wait_for("a to= line for each of %s" % rcpts, collect,
                        timeout, relay.diagnostics)

    def received(self, server, rcpt):
        """The sink's messages for rcpt."""
        return [m for m in self.sinks[server].messages()
                if rcpt in m.rcpt_tos]

    def assertVerdict(self, log, verdict, label, server):
        """The handshake line with that verdict for that server."""
        self.assertRegex(log, r"%s TLS connection established to "
                         r"%s\[%s\]:%d: TLSv1\.[23] with cipher " % (
                             verdict, re.escape(label),
                             re.escape(HOSTS[server]), self.port))

    def check_cell(self, relay, what, rcpt, outcome, expected, log=None):
        """expected: (status, server or reason, verdict[, relay name]);
        the verdict is checked in log when given, for a delivery."""
        status, where, verdict = expected[:3]
        got_status, got_relay, dsn, reason = outcome
        self.assertEqual(got_status, status, "%s: %s: %s (%s)\n%s" % (
            what, rcpt, got_status, reason, relay.diagnostics()))
        if status == SENT:
            label = expected[3] if len(expected) > 3 else \
                "mx.%s.test" % where
            self.assertTrue(got_relay.startswith("%s[%s]:%d" % (
                label, HOSTS[where], self.port)), "%s: %s via %s" % (
                    what, rcpt, got_relay))
            (m,) = self.received(where, rcpt)
            if verdict is None:
                self.assertIsNone(m.tls, "%s: %s" % (what, rcpt))
            else:
                self.assertIsNotNone(m.tls, "%s: %s" % (what, rcpt))
                if log is not None:
                    self.assertVerdict(log, verdict, label, where)
        else:
            self.assertEqual(dsn, "4.7.4" if where == NOT_OFFERED else
                             "4.7.5", "%s: %s" % (what, rcpt))
            self.assertTrue(reason.startswith(where), "%s: %s: %s" % (
                what, rcpt, reason))
            for server in self.sinks:
                self.assertEqual(self.received(server, rcpt), [],
                                 "%s: %s reached %s" % (what, rcpt, server))

    def submit_all(self, relay, domains):
        rcpts = ["user@%s.test" % d for d in domains]
        _, data = self.outbound_message(to=rcpts[0])
        queue_id = self.submit(relay, SENDER, rcpts, data)
        return queue_id, rcpts


class LevelTableTest(PolicyTestCase):
    """smtp_tls_security_level: every level against every server."""

    # The server a deferred destination's verdict comes from.
    LAST_SERVER = {"wrongca": "wrongca", "wrongname": "wrongname",
                   "hosted": "provider", "twomx": "good"}

    def run_level(self, level, **main):
        relay = self.policy_relay(level, **main)
        queue_id, rcpts = self.submit_all(relay, DOMAINS)
        outcomes = self.first_outcomes(relay, queue_id, rcpts)
        log = relay.maillog()
        for domain in DOMAINS:
            rcpt = "user@%s.test" % domain
            expected = LEVEL_TABLE[level][domain]
            self.check_cell(relay, level, rcpt, outcomes[rcpt], expected,
                            log)
            if expected[0] == DEFER and expected[2] is not None:
                server = self.LAST_SERVER[domain]
                self.assertVerdict(log, expected[2], "mx.%s.test" % server,
                                   server)
        return relay, log

    def test_none(self):
        _, log = self.run_level("none")
        self.assertNotIn("TLS connection established", log)

    def test_may(self):
        self.run_level("may")

    def test_encrypt(self):
        self.run_level("encrypt")

    def test_fingerprint(self):
        relay, log = self.run_level(
            "fingerprint", smtp_tls_fingerprint_cert_match=", ".join([
                self.pcerts.fingerprint("good"),
                # lower case: the comparison ignores case
                self.pcerts.pkey_fingerprint("wrongca").lower()]))
        self.assertRegex(log, r"mx\.wrongname\.test\[127\.0\.0\.4\]:%d: "
                         r"certificate fingerprint mismatch" % self.port)

    def test_fingerprint_md5_and_sha1(self):
        """smtp_tls_fingerprint_digest: the digest of the listed values."""
        for digest in ("md5", "sha1", "sha512"):
            relay = self.policy_relay(
                "fingerprint", smtp_tls_fingerprint_digest=digest,
                smtp_tls_fingerprint_cert_match=self.pcerts.fingerprint(
                    "wrongname", digest))
            queue_id, rcpts = self.submit_all(relay, ("wrongname", "good"))
            outcomes = self.first_outcomes(relay, queue_id, rcpts)
            self.assertEqual(outcomes["user@wrongname.test"][0], SENT,
                             digest)
            self.assertEqual(outcomes["user@good.test"][0], DEFER, digest)
            relay.stop()

    def test_verify(self):
        relay, log = self.run_level("verify")
        self.assertRegex(log, r"certificate verification failed for "
                         r"mx\.wrongca\.test\[127\.0\.0\.3\]:%d: untrusted "
                         r"issuer /CN=tlsrelay wrong CA" % self.port)
        # twomx.test: the first MX failed, the second delivered
        self.assertRegex(log, r"Server certificate not verified")

    def test_secure(self):
        self.run_level("secure")


class PolicyTableTest(PolicyTestCase):
    """smtp_tls_policy_maps overrides main.cf per destination."""

    def test_overrides(self):
        port = self.port
        policy = os.path.join(self.tmpdir, "policy-%s" % self._testMethodName)
        with open(policy, "w") as f:
            f.write(
                "good.test        verify protocols=<=TLSv1.2\n"
                "wrongca.test     encrypt\n"
                ".wrongca.test    verify\n"
                "wrongname.test   verify match=elsewhere.example\n"
                "hosted.test      secure match=mx.provider.test\n"
                "plain.test       none\n"
                # the verbatim next hop counts, not the recipient domain
                "literal.test     encrypt\n"
                "[127.0.0.3]:%d   verify\n" % port)
        relay = self.policy_relay(
            "secure", smtp_tls_policy_maps="texthash:" + policy,
            routes={"literal.test": "smtp:[127.0.0.3]:%d" % port})
        domains = ("good", "wrongca", "deep.wrongca", "wrongname",
                   "hosted", "plain", "literal", "twomx")
        queue_id, rcpts = self.submit_all(relay, domains)
        out = self.first_outcomes(relay, queue_id, rcpts)
        log = relay.maillog()
        expect = {
            "good": (SENT, "good", "Verified"),
            "wrongca": (SENT, "wrongca", "Untrusted"),
            "deep.wrongca": (DEFER, NOT_TRUSTED, "Untrusted"),
            "wrongname": (SENT, "wrongname", "Verified"),
            "hosted": (SENT, "provider", "Verified"),
            "plain": (SENT, "plain", None),
            "literal": (DEFER, NOT_TRUSTED, "Untrusted"),
            # no entry: main.cf's secure
            "twomx": (DEFER, NOT_VERIFIED, None),
        }
        for domain, expected in expect.items():
            rcpt = "user@%s.test" % domain
            self.check_cell(relay, "policy", rcpt, out[rcpt], expected,
                            log)
        # protocols= for good.test only
        (m,) = self.received("good", "user@good.test")
        self.assertEqual(m.tls["version"], "TLSv1.2")
        (m,) = self.received("wrongca", "user@wrongca.test")
        self.assertEqual(m.tls["version"], "TLSv1.3")
        self.assertRegex(log, r"Verified TLS connection established to "
                         r"mx\.wrongname\.test\[127\.0\.0\.4\]")
        self.assertRegex(log, r"Verified TLS connection established to "
                         r"mx\.provider\.test\[127\.0\.0\.6\]")
        self.assertRegex(log, r"Untrusted TLS connection established to "
                         r"127\.0\.0\.3\[127\.0\.0\.3\]:%d" % port)

    def test_changed_table_is_read_again(self):
        """As a Postfix daemon restarts when its tables change, the queue
        manager opens a changed policy table again."""
        policy = os.path.join(self.tmpdir, "policy-%s" % self._testMethodName)
        with open(policy, "w") as f:
            f.write("good.test encrypt\n")
        relay = self.policy_relay(
            "may", smtp_tls_policy_maps="texthash:" + policy)
        queue_id, rcpts = self.submit_all(relay, ("good",))
        out = self.first_outcomes(relay, queue_id, rcpts)
        self.assertEqual(out["user@good.test"][0], SENT)
        # replaced, as an editor or `mv` would
        with open(policy + ".new", "w") as f:
            f.write("good.test secure match=nowhere.example\n")
        os.rename(policy + ".new", policy)
        queue_id, rcpts = self.submit_all(relay, ("good",))
        out = self.first_outcomes(relay, queue_id, rcpts)
        self.assertEqual(out["user@good.test"][0], DEFER)
        self.assertEqual(out["user@good.test"][3], NOT_VERIFIED)
        relay.wait_log(r"smtp_tls_policy_maps: texthash:%s changed: opened "
                       r"again" % re.escape(policy))

    def test_unusable_entries_defer(self):
        """A typo never weakens TLS: the destination waits, and the log
        names the table and the key. Under main.cf's may these servers
        would have taken the mail. dane-only without DNSSEC
        (smtp_dns_support_level is not dnssec here) waits too."""
        policy = os.path.join(self.tmpdir, "policy-%s" % self._testMethodName)
        with open(policy, "w") as f:
            f.write("typo.test    secure bogus=yes\n"
                    "dane.test    dane-only\n"
                    "levelx.test  superdupersecure\n"
                    "noprint.test fingerprint match=not:hex\n")
        relay = self.policy_relay(
            "may", smtp_tls_policy_maps="texthash:" + policy)
        queue_id, rcpts = self.submit_all(
            relay, ("typo", "dane", "levelx", "noprint", "good"))
        out = self.first_outcomes(relay, queue_id, rcpts)
        for domain in ("typo", "levelx", "noprint"):
            status, relay_name, dsn, reason = out["user@%s.test" % domain]
            self.assertEqual((status, dsn, reason),
                             (DEFER, "4.7.5", POLICY_PROBLEM), domain)
        status, relay_name, dsn, reason = out["user@dane.test"]
        self.assertEqual((status, dsn), (DEFER, "4.7.5"))
        self.assertIn("mx.good.test is not a DNSSEC-validated MX host",
                      reason)
        self.assertEqual(out["user@good.test"][0], SENT)
        self.assertEqual(len(self.sinks["good"].messages()), 1)
        where = r"texthash:%s, next-hop destination " % re.escape(policy)
        relay.wait_log(where + r'"typo\.test": invalid attribute name: '
                       r'"bogus"')
        relay.wait_log(where + r'"levelx\.test": invalid security level '
                       r'"superdupersecure"')
        relay.wait_log(r"nexthop domain noprint\.test: configured at "
                       r"fingerprint security level, but with no "
                       r"fingerprints to match")
        # still waiting, not bounced, not delivered (with this test's
        # 1-second backoff it may be in active/ for a retry right now)
        self.wait_in(relay, queue_id, "deferred")

    def test_postfix_policy_file_after_tlsrelay_map(self):
        """A tls_policy file as Postfix's TLS_README writes it: comments,
        continuation lines, commas, '|' between fingerprints, several
        match= -- compiled with `tlsrelay map hash:`, read by Postfix's
        postmap too."""
        port = self.port
        policy = os.path.join(self.tmpdir, "tls_policy-%s" %
                              self._testMethodName)
        with open(policy, "w") as f:
            f.write(
                "# /etc/postfix/tls_policy\n"
                "good.test          secure\n"
                "wrongca.test       fingerprint\n"
                "        match=00:11:22:33|%s\n"
                "        match=%s\n"
                ".wrongca.test      encrypt, ciphers=high, "
                "protocols=>=TLSv1.2\n"
                "wrongname.test     verify\n"
                "                   match=hostname:elsewhere.example\n"
                "hosted.test        verify ciphers=high exclude=3DES\n"
                "[127.0.0.5]:%d     none\n" % (
                    self.pcerts.pkey_fingerprint("wrongca"),
                    self.pcerts.fingerprint("good"), port))
        status, out = self.tlsrelay("map", "hash:" + policy)
        self.assertEqual(status, 0, out)
        # Postfix reads the same value (a continuation line keeps its
        # leading white space, in both).
        require_tools("postmap")
        pf_conf = os.path.join(self.tmpdir, "postmap-%s" %
                               self._testMethodName)
        os.makedirs(pf_conf, exist_ok=True)
        open(os.path.join(pf_conf, "main.cf"), "w").close()
        res = subprocess.run(["postmap", "-c", pf_conf, "-q",
                              "wrongname.test", "hash:" + policy],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=30)
        self.assertEqual(res.stdout.decode().split(),
                         ["verify", "match=hostname:elsewhere.example"],
                         res.stderr)
        status, out = self.tlsrelay("map", "-q", "wrongname.test",
                                    "hash:" + policy)
        self.assertEqual(out.split(), ["verify",
                                       "match=hostname:elsewhere.example"])
        relay = self.policy_relay(
            "encrypt", smtp_tls_policy_maps="hash:" + policy,
            routes={"literal.test": "smtp:[127.0.0.5]:%d" % port})
        domains = ("good", "wrongca", "deep.wrongca", "wrongname", "hosted",
                   "plain", "literal")
        queue_id, rcpts = self.submit_all(relay, domains)
        out = self.first_outcomes(relay, queue_id, rcpts)
        expect = {
            "good": (SENT, "good", "Verified"),
            "wrongca": (SENT, "wrongca", "Verified"),
            "deep.wrongca": (SENT, "wrongca", "Untrusted"),
            "wrongname": (SENT, "wrongname", "Verified"),
            "hosted": (SENT, "provider", "Verified"),
            "plain": (DEFER, NOT_OFFERED, None),
            "literal": (SENT, "plain", None, "127.0.0.5"),
        }
        for domain, expected in expect.items():
            rcpt = "user@%s.test" % domain
            self.check_cell(relay, "tls_policy", rcpt, out[rcpt], expected,
                            relay.maillog())


class StartupTest(PolicyTestCase):
    """A policy table or setting that cannot work stops the start, not
    the mail."""

    def test_missing_table_stops_startup(self):
        missing = os.path.join(self.tmpdir, "no-such-policy")
        relay = self.outbound_relay(main={
            "smtp_tls_policy_maps": "hash:" + missing}, start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertIn("smtp_tls_policy_maps", out)
        self.assertIn(missing, out)

    def test_bad_digest_stops_startup(self):
        relay = self.outbound_relay(main={
            "smtp_tls_fingerprint_digest": "sha3-999"}, start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertIn("smtp_tls_fingerprint_digest: unknown digest", out)


class PostfixPeerTest(PolicyTestCase):
    """A real Postfix as the server, with a certificate of the test CA
    for pf.peer.test."""

    def test_secure_and_verify_against_postfix(self):
        require_tools("postfix")
        peer = self.postfix_peer_with(self.pcerts.leaf["postfix"])
        policy = os.path.join(self.tmpdir, "policy-%s" % self._testMethodName)
        with open(policy, "w") as f:
            f.write("%s secure match=pf.peer.test\n" % peer.nexthop)
        relay = self.policy_relay(
            "may", smtp_tls_policy_maps="texthash:" + policy,
            routes={"postfix.test": "smtp:" + peer.nexthop})
        _, data = self.outbound_message(to="user@postfix.test")
        queue_id = self.submit(relay, SENDER, ["user@postfix.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"Verified TLS connection established to "
                       r"127\.0\.0\.1\[127\.0\.0\.1\]:%d" % peer.port)
        wait_for("the message in Postfix's queue", lambda: peer.queue(), 20,
                 peer.maillog)
        relay.stop()
        # verify's default: the server's name as DNS gave it -- here the
        # address, which is not in the certificate.
        with open(policy, "w") as f:
            f.write("%s verify\n" % peer.nexthop)
        relay = self.policy_relay(
            "may", smtp_tls_policy_maps="texthash:" + policy,
            routes={"postfix.test": "smtp:" + peer.nexthop})
        queue_id = self.submit(relay, SENDER, ["user@postfix.test"], data)
        out = self.first_outcomes(relay, queue_id, ["user@postfix.test"])
        self.assertEqual(out["user@postfix.test"][0], DEFER)
        self.assertEqual(out["user@postfix.test"][3], NOT_VERIFIED)
        relay.wait_log(r"Trusted TLS connection established to "
                       r"127\.0\.0\.1\[127\.0\.0\.1\]:%d" % peer.port)
        self.assertEqual(len(peer.queue()), 1)

    def postfix_peer_with(self, certs):
        from relaytest import PostfixPeer
        return PostfixPeer(self, self._peer_dir("postfix"), certs,
                           domains=("postfix.test",))


if __name__ == "__main__":
    main()
