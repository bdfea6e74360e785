"""tlsrelay tls-finger against real peers on loopback: a private Postfix
with a certificate of the test CA (SAN relay.test and 127.0.0.1), aiosmtpd
sinks without STARTTLS and with a STARTTLS that no handshake survives,
and dnsmasq serving two MX hosts. The command routes and resolves like
the relay, talks SMTP up to STARTTLS and QUIT, and prints the verdict of
every level and of the level in force; its exit status is 0 when that
level would deliver, 1 when it would defer, 2 on a usage error. Every
negative verdict here is one the same server passes under another
setting in the same test."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (OutboundTestCase, free_port_on,  # noqa: E402
                       inline_table, main, openssl, require_tools)

NOT_TRUSTED = "Server certificate not trusted"
NOT_VERIFIED = "Server certificate not verified"
NOT_OFFERED = "TLS is required, but was not offered by host"
HANDSHAKE = "Cannot start TLS: handshake failure"


def policy_table(dest, entry):
    """smtp_tls_policy_maps with one entry, as Postfix writes an inline
    table whose value has spaces."""
    return "inline:{ { %s = %s } }" % (dest, entry)


class FingerOutput:
    """Reading what tls-finger printed (test_tls_finger_dane too)."""

    def verdict(self, out, level, peer=None):
        """The verdict printed for level (of the first address, or of
        the address peer)."""
        if peer is not None:
            out = out[out.index("verdicts for %s:" % peer):]
        m = re.search(r"^  %s +(would [^\n]*?)(   <- in force)?$" %
                      re.escape(level), out, re.M)
        self.assertIsNotNone(m, "no verdict for %s in:\n%s" % (level, out))
        return m.group(1)

    def conclusion(self, out):
        m = re.search(r"^level in force for (\S+): (\S+), from (.*?): "
                      r"(would .*)$", out, re.M)
        self.assertIsNotNone(m, out)
        return m.groups()


class FingerTestCase(FingerOutput, OutboundTestCase):

    def finger(self, *args, main=None, dns=None, expect=None):
        """Runs tls-finger with a relay configuration of main settings;
        returns (status, output) after checking status against expect."""
        relay = self.outbound_relay(main=main or {}, dns=dns, start=False)
        self.last_relay = relay
        status, out = self.tlsrelay("tls-finger", "-c", relay.dir, *args,
                                    timeout=90)
        if expect is not None:
            self.assertEqual(status, expect, out)
        return status, out

    def sha256(self, cert):
        text = openssl("x509", "-in", cert, "-noout", "-fingerprint",
                       "-sha256").decode()
        return text.strip().split("=", 1)[1]


class PostfixTest(FingerTestCase):
    """A private Postfix, certificate relay.test from the test CA."""

    def peer(self, **main):
        require_tools("postfix")
        return self.postfix_peer(main=main)

    def test_verify_and_secure_verdicts(self):
        peer = self.peer()
        dest = peer.nexthop
        policy = lambda entry: {  # noqa: E731
            "smtp_tls_CAfile": self.certs.ca,
            "smtp_tls_policy_maps": policy_table(dest, entry)}
        # The right name: verify delivers, and the table entry is named.
        _, out = self.finger(dest, main=policy("verify match=relay.test"),
                             expect=0)
        self.assertIn("Connected to 127.0.0.1[127.0.0.1]:%d" % peer.port,
                      out)
        self.assertRegex(out, r"(?m)^> STARTTLS$")
        self.assertRegex(out, r"(?m)^< 220 2\.0\.0 Ready to start TLS$")
        self.assertRegex(out, r"(?m)^TLS: TLSv1\.[23] with cipher \S+ ")
        self.assertRegex(out, r"(?m)^    subject: /CN=relay\.test$")
        self.assertRegex(out, r"(?m)^    issuer: /CN=tlsrelay test CA$")
        self.assertRegex(out, r"(?m)^    names: DNS:relay\.test, "
                         r"IP:127\.0\.0\.1$")
        self.assertRegex(out, r"(?m)^    notAfter: \w+ +\d+ [\d:]+ \d+ GMT$")
        self.assertRegex(out, r"(?m)^> QUIT$")
        self.assertNotRegex(out, r"(?m)^> (MAIL|RCPT|DATA)")
        self.assertIn("Verified: certificate name relay.test matches; "
                      "match: relay.test", self.verdict(out, "verify"))
        self.assertTrue(self.verdict(out, "verify").startswith(
            "would deliver"))
        self.assertRegex(self.verdict(out, "may"),
                         r"^would deliver \(Trusted TLS\)$")
        self.assertRegex(self.verdict(out, "encrypt"),
                         r"^would deliver \(Trusted TLS\)$")
        # secure from main.cf: nexthop and dot-nexthop, here 127.0.0.1.
        self.assertEqual(self.verdict(out, "secure"),
                         "would defer: %s (match: nexthop=127.0.0.1, "
                         "dot-nexthop=.127.0.0.1)" % NOT_VERIFIED)
        # Without smtp_dns_support_level = dnssec: dane is may, as in
        # the relay (test_tls_finger_dane.py has the DANE cases).
        self.assertEqual(self.verdict(out, "dane"), "would deliver "
                         "(Trusted TLS); as may: no DNSSEC-validated TLSA "
                         "records")
        self.assertEqual(self.verdict(out, "dane-only"), "would defer: "
                         "127.0.0.1 is not a DNSSEC-validated MX host; "
                         "dane-only needs one")
        hop, level, source, result = self.conclusion(out)
        self.assertEqual((hop, level), (dest, "verify"))
        self.assertEqual(source, "smtp_tls_policy_maps %s, key \"%s\"" %
                         (policy_table(dest, "verify match=relay.test"),
                          dest))
        self.assertEqual(result, "would deliver (via 127.0.0.1[127.0.0.1]"
                         ":%d)" % peer.port)
        # A wrong name: the same server, now deferred.
        _, out = self.finger(dest, main=policy("verify match=wrong.test"),
                             expect=1)
        self.assertEqual(self.verdict(out, "verify"),
                         "would defer: %s (match: wrong.test)" % NOT_VERIFIED)
        self.assertEqual(self.conclusion(out)[3],
                         "would defer: %s (match: wrong.test)" % NOT_VERIFIED)
        # secure with the right name passes.
        _, out = self.finger(dest, main=policy("secure match=relay.test"),
                             expect=0)
        self.assertTrue(self.verdict(out, "secure").startswith(
            "would deliver (Verified"))

    def test_trust_anchors_from_cafile_or_command_line(self):
        peer = self.peer()
        dest = peer.nexthop
        settings = {"smtp_tls_security_level": "verify",
                    "smtp_tls_verify_cert_match": "relay.test"}
        # No CA: not trusted, and the level comes from main.cf.
        _, out = self.finger(dest, main=settings, expect=1)
        self.assertTrue(self.verdict(out, "verify").startswith(
            "would defer: %s" % NOT_TRUSTED))
        self.assertRegex(self.verdict(out, "may"),
                         r"^would deliver \(Untrusted TLS\)$")
        _, level, source, result = self.conclusion(out)
        self.assertEqual(level, "verify")
        self.assertRegex(source, r"^smtp_tls_security_level = verify "
                         r"\(/.*/main\.cf:\d+\)$")
        self.assertTrue(result.startswith("would defer: " + NOT_TRUSTED))
        # -P names the CA: trusted and verified.
        _, out = self.finger("-P", self.certs.ca, dest, main=settings,
                             expect=0)
        self.assertTrue(self.verdict(out, "verify").startswith(
            "would deliver (Verified"))
        # -l overrides the level in force.
        _, out = self.finger("-l", "encrypt", dest, main=settings, expect=0)
        self.assertEqual(self.conclusion(out)[1:3],
                         ("encrypt", "the command line (-l)"))

    def test_fingerprint_verdicts(self):
        peer = self.peer()
        dest = peer.nexthop
        right = self.sha256(self.certs.rsa)
        wrong = ":".join(["AB"] * 32)
        _, out = self.finger(dest, main={
            "smtp_tls_security_level": "fingerprint",
            "smtp_tls_fingerprint_cert_match": right}, expect=0)
        # The relay's digest of the peer's certificate is openssl's.
        self.assertIn("certificate fingerprint (sha256): %s\n" % right, out)
        self.assertEqual(self.verdict(out, "fingerprint"),
                         "would deliver (Verified: a configured sha256 "
                         "fingerprint matches)")
        _, out = self.finger(dest, main={
            "smtp_tls_security_level": "fingerprint",
            "smtp_tls_fingerprint_cert_match": wrong}, expect=1)
        self.assertIn("certificate fingerprint (sha256): %s\n" % right, out)
        self.assertEqual(self.verdict(out, "fingerprint"),
                         "would defer: %s (1 sha256 fingerprint(s) "
                         "configured, none matches)" % NOT_VERIFIED)
        # The public key's fingerprint matches as well.
        pkey = re.search(r"(?m)^public key fingerprint \(sha256\): (\S+)$",
                         out).group(1)
        self.assertNotEqual(pkey, right)
        _, out = self.finger(dest, main={
            "smtp_tls_policy_maps": policy_table(
                dest, "fingerprint match=%s" % pkey)}, expect=0)
        self.assertIn("key \"%s\"" % dest, self.conclusion(out)[2])

    def test_session_resumed_against_postfix(self):
        peer = self.peer(smtpd_tls_session_cache_database=
                         "btree:${data_directory}/smtpd_scache")
        cache = {"smtp_tls_session_cache_database":
                 "btree:${data_directory}/smtp_scache"}
        _, out = self.finger(peer.nexthop, main=cache, expect=0)
        # Postfix 3.7 on OpenSSL 3: TLS 1.3, a session ticket.
        self.assertIn("session resumption: yes: the second connection "
                      "offered the first one's session and "
                      "127.0.0.1[127.0.0.1]:%d resumed it (TLSv1.3, "
                      "session ticket)" % peer.port, out)
        # The relay's own cache stays as it was: the command used a copy.
        data = self.last_relay.main["data_directory"]
        self.assertFalse(os.path.exists(os.path.join(data, "smtp_scache")))
        # Without a client cache the relay never resumes: said so.
        _, out = self.finger(peer.nexthop, expect=0)
        self.assertIn("session resumption: no: smtp_tls_session_cache_"
                      "database is empty", out)

    def test_session_not_resumed_when_postfix_keeps_none(self):
        # Postfix without a session cache or ticket keys: OpenSSL still
        # hands the client a TLS 1.3 ticket, which the server then
        # cannot take back.
        peer = self.peer(smtpd_tls_session_cache_timeout="0",
                         tls_session_ticket_cipher="")
        _, out = self.finger(peer.nexthop, main={
            "smtp_tls_session_cache_database":
            "btree:${data_directory}/smtp_scache"}, expect=0)
        self.assertIn("session resumption: no: the second connection "
                      "offered the first one's session, 127.0.0.1"
                      "[127.0.0.1]:%d made a full handshake" % peer.port, out)


class SinkTest(FingerTestCase):
    """aiosmtpd peers: no STARTTLS, and a STARTTLS that always fails."""

    def test_peer_without_starttls(self):
        sink = self.sink(tls=False)
        _, out = self.finger(sink.nexthop, main={
            "smtp_tls_security_level": "may"}, expect=0)
        self.assertNotRegex(out, r"(?m)^> STARTTLS$")
        self.assertEqual(self.verdict(out, "may"), "would deliver "
                         "(plaintext: STARTTLS not offered)")
        self.assertEqual(self.conclusion(out)[1], "may")
        _, out = self.finger(sink.nexthop, main={
            "smtp_tls_security_level": "encrypt"}, expect=1)
        self.assertEqual(self.verdict(out, "encrypt"), "would defer: %s "
                         "127.0.0.1[127.0.0.1]:%d" % (NOT_OFFERED, sink.port))
        self.assertTrue(self.conclusion(out)[3].startswith(
            "would defer: " + NOT_OFFERED))
        self.assertEqual(sink.messages(), [])

    def test_failed_handshake(self):
        sink = self.sink(broken_tls=True)
        _, out = self.finger(sink.nexthop, main={
            "smtp_tls_security_level": "encrypt"}, expect=1)
        self.assertRegex(out, r"(?m)^> STARTTLS$")
        self.assertIn("SSL_connect error to 127.0.0.1[127.0.0.1]:%d" %
                      sink.port, out)
        self.assertEqual(self.verdict(out, "encrypt"),
                         "would defer: " + HANDSHAKE)
        self.assertEqual(self.verdict(out, "may"), "would deliver "
                         "(plaintext, on a new connection after the failed "
                         "handshake)")
        _, out = self.finger(sink.nexthop, main={
            "smtp_tls_security_level": "may"}, expect=0)


class MxTest(FingerTestCase):
    """Two MX hosts on two loopback addresses at smtp_tcp_port."""

    def test_both_mx_hosts_shown_and_probed(self):
        port = free_port_on(("127.0.0.1", "127.0.0.2"))
        sink = self.sink(port=port, hosts=("127.0.0.1", "127.0.0.2"))
        dns = self.dns(mx=[("mx.test", "mx1.mx.test", 10),
                           ("mx.test", "mx2.mx.test", 20)],
                       hosts=[("mx1.mx.test", "127.0.0.1"),
                              ("mx2.mx.test", "127.0.0.2")])
        _, out = self.finger("mx.test", dns=dns, main={
            "smtp_tcp_port": str(port),
            "smtp_tls_policy_maps": inline_table({"mx.test": "encrypt"})},
            expect=0)
        self.assertIn("destination mx.test: next hop mx.test (recipient "
                      "domain), MX lookup", out)
        self.assertIn("MX hosts: 10 mx1.mx.test, 20 mx2.mx.test\n", out)
        self.assertIn("addresses: mx1.mx.test[127.0.0.1]:%d (MX 10), "
                      "mx2.mx.test[127.0.0.2]:%d (MX 20)" % (port, port), out)
        for host in ("mx1.mx.test[127.0.0.1]", "mx2.mx.test[127.0.0.2]"):
            self.assertIn("--- %s:%d" % (host, port), out)
            self.assertIn("Connected to %s:%d" % (host, port), out)
            self.assertEqual(self.verdict(out, "encrypt", "%s:%d" % (
                host, port)), "would deliver (Untrusted TLS)")
        self.assertEqual(self.conclusion(out)[2],
                         "smtp_tls_policy_maps inline:{ mx.test=encrypt }, "
                         "key \"mx.test\"")
        self.assertEqual([c[2].rsplit(":", 1)[0] for c in
                          sink.connections()],
                         ["127.0.0.1", "127.0.0.2"])
        # -m 1: both listed, only the first probed.
        _, out = self.finger("-m", "1", "mx.test", dns=dns, main={
            "smtp_tcp_port": str(port)}, expect=0)
        self.assertIn("mx2.mx.test[127.0.0.2]:%d (MX 20)" % port, out)
        self.assertIn("--- mx1.mx.test[127.0.0.1]:%d" % port, out)
        self.assertNotIn("--- mx2.mx.test", out)
        self.assertEqual(len(sink.connections()), 3)
        # transport_maps decides before MX: routed elsewhere, said so.
        _, out = self.finger("mx.test", dns=dns, main={
            "transport_maps": inline_table(
                {"mx.test": "smtp:[mx2.mx.test]:%d" % port})}, expect=0)
        self.assertIn("destination mx.test: next hop [mx2.mx.test]:%d "
                      "(transport_maps), no MX lookup" % port, out)
        self.assertIn("addresses: mx2.mx.test[127.0.0.2]:%d\n" % port, out)
        # An error: transport returns the mail without a connection.
        _, out = self.finger("mx.test", dns=dns, main={
            "transport_maps": "inline:{ { mx.test = error:5.1.2 gone } }"},
            expect=1)
        self.assertEqual(self.conclusion(out)[3],
                         "would return the mail: 5.1.2 gone")
        self.assertNotIn("Connected to", out)


    def test_null_mx_and_unknown_domain(self):
        dns = self.dns(null_mx=("nullmx.test",))
        _, out = self.finger("nullmx.test", dns=dns, expect=1)
        self.assertIn("addresses: none\n", out)
        self.assertEqual(self.conclusion(out)[3], "would return the mail: "
                         "Domain nullmx.test does not accept mail (nullMX)")
        # dnsmasq refuses names it does not serve: a temporary failure.
        _, out = self.finger("unknown.test", dns=dns, expect=1)
        self.assertRegex(self.conclusion(out)[3], r"^would defer: ")


class UsageTest(FingerTestCase):

    def test_usage_errors_exit_2(self):
        status, out = self.tlsrelay("tls-finger")
        self.assertEqual(status, 2, out)
        self.assertIn("usage: tlsrelay tls-finger", out)
        _, out = self.finger("-l", "bogus", "[127.0.0.1]:25", expect=2)
        self.assertIn("-l: unknown level \"bogus\"", out)
        status, out = self.tlsrelay("tls-finger", "-c",
                                    os.path.join(self.tmpdir, "nowhere"),
                                    "example.test")
        self.assertEqual(status, 2, out)


if __name__ == "__main__":
    main()
