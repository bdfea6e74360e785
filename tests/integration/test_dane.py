"""DANE (RFC 7672) with Postfix's semantics, against a DNSSEC lab on
loopback (dnssec_lab.py: NSD with zones signed by ldns-signzone, unbound
validating with only the test zones' keys as trust anchors) and sinks
offering STARTTLS with a self-signed certificate (DANE-EE) or one from a
test CA (DANE-TA). The relay runs with smtp_dns_support_level = dnssec,
tlsrelay_dns_servers pointing at unbound and Postfix's default timers,
so each message gets exactly one attempt in the test. Every test runs
under tcpdump on all interfaces and asserts that not one packet was
outside 127.0.0.0/8 and ::1."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import inline_table, main, to_lines, wait_for  # noqa: E402
from dnssec_lab import DaneLabCase, Zone  # noqa: E402

SENDER = "sender@senders.test"
SENT, DEFER = "sent", "deferred"


class DaneTestCase(DaneLabCase):

    def setUp(self):
        super().setUp()
        self.sender_sink = self.sink()

    def dane_relay(self, lab, level, policies=None, **main):
        settings = {
            "smtp_tls_loglevel": "1",
            "transport_maps": inline_table(
                {"senders.test": "smtp:" + self.sender_sink.nexthop}),
        }
        settings.update(main)
        return self.lab_relay(lab, level, policies=policies, main=settings)

    def send(self, relay, rcpt):
        _, data = self.outbound_message(to=rcpt)
        return self.submit(relay, SENDER, [rcpt], data)

    def outcome(self, relay, queue_id, timeout=30):
        """(status, relay, dsn, reason) of the first to= line."""
        pattern = re.compile(r"to=<[^>]*>, relay=(\S+), .*dsn=(\S+), "
                             r"status=(\w+) \((.*)\)$")

        def first():
            for line in to_lines(relay, queue_id):
                m = pattern.search(line)
                if m:
                    return (m.group(3), m.group(1), m.group(2), m.group(4))
            return None
        return wait_for("a to= line for %s" % queue_id, first, timeout,
                        relay.diagnostics)

    def assertDeferredNotBounced(self, relay, queue_id, out):
        self.assertEqual(out[0], DEFER, out)
        self.assertTrue(out[2].startswith("4."), out)
        self.wait_in(relay, queue_id, "deferred")
        self.assertNotRegex(relay.maillog(), r"%s: sender non-delivery" %
                            queue_id)
        self.assertEqual(self.sender_sink.messages(), [])


class DaneTest(DaneTestCase):

    def test_ee_match_verified_at_the_connected_port(self):
        """TLSA 3 1 1 of a self-signed certificate at _PORT._tcp (and
        nowhere else): dane-only delivers, Verified, and logs the match as
        Postfix does; unbound saw the query with the port."""
        ee = self.cert("ee", "mx.ee.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        zone = Zone("sec.test", self.mx_records("ee") + [
            self.tlsa("mx.ee", 3, 1, 1, ee.spki_sha256())])
        lab = self.lab([zone])
        relay = self.dane_relay(lab, "dane-only")
        queue_id = self.send(relay, "user@ee.sec.test")
        out = self.outcome(relay, queue_id)
        self.assertEqual(out[0], SENT, out)
        self.assertEqual(len(sink.messages()), 1)
        peer = r"mx\.ee\.sec\.test\[127\.0\.0\.1\]:%d" % self.port
        relay.wait_log(r"Verified TLS connection established to %s: "
                       r"TLSv1\.[23] with cipher " % peer)
        relay.wait_log(r"%s: Matched DANE EE certificate at depth 0: "
                       r"3 1 1 %s$" % (peer, ee.spki_sha256().upper()))
        query = "_%d._tcp.mx.ee.sec.test. TLSA IN" % self.port
        self.assertEqual(lab.resolver_log().count(query), 1)
        # A second message within the records' TTL (300 s): the queue
        # manager's cache answers, unbound is not asked again.
        second_id = self.send(relay, "other@ee.sec.test")
        self.assertEqual(self.outcome(relay, second_id)[0], SENT)
        self.assertEqual(lab.resolver_log().count(query), 1)

    def test_ta_in_chain_verified_else_deferred(self):
        """TLSA 2 1 1 of a test CA: a server that sends the CA in its
        chain is Verified; one that sends only its own certificate cannot
        be matched and the mail waits."""
        ca = self.cert("ca", "DANE test CA", is_ca=True)
        good = self.cert("good", "mx.ta.sec.test", ca=ca)
        bare = self.cert("bare", "mx.bare.sec.test", ca=ca)
        bare.chain = bare.crt
        self.sink(port=self.port, certs=good.sink_certs())
        bare_sink = self.sink(port=self.port, hosts=("127.0.0.2",),
                              certs=bare.sink_certs())
        zone = Zone("sec.test", self.mx_records("ta") +
                    self.mx_records("bare", addr="127.0.0.2") + [
                        self.tlsa("mx.ta", 2, 1, 1, ca.spki_sha256()),
                        self.tlsa("mx.bare", 2, 1, 1, ca.spki_sha256())])
        relay = self.dane_relay(self.lab([zone]), "dane")
        ok_id = self.send(relay, "user@ta.sec.test")
        bare_id = self.send(relay, "user@bare.sec.test")
        self.assertEqual(self.outcome(relay, ok_id)[0], SENT)
        relay.wait_log(r"Verified TLS connection established to "
                       r"mx\.ta\.sec\.test\[127\.0\.0\.1\]:%d" % self.port)
        relay.wait_log(r"mx\.ta\.sec\.test\[127\.0\.0\.1\]:%d: Matched DANE "
                       r"TA certificate at depth 1: 2 1 1 " % self.port)
        out = self.outcome(relay, bare_id)
        self.assertDeferredNotBounced(relay, bare_id, out)
        self.assertEqual(out[2:], ("4.7.5", "Server certificate not "
                                   "verified"))
        self.assertEqual(bare_sink.messages(), [])

    def test_no_matching_record_deferred(self):
        """A TLSA record of another key: deferred, never bounced, never
        sent in plaintext (even at level dane)."""
        ee = self.cert("ee", "mx.nm.sec.test")
        other = self.cert("other", "mx.nm.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        zone = Zone("sec.test", self.mx_records("nm") + [
            self.tlsa("mx.nm", 3, 1, 1, other.spki_sha256())])
        relay = self.dane_relay(self.lab([zone]), "dane")
        queue_id = self.send(relay, "user@nm.sec.test")
        out = self.outcome(relay, queue_id)
        self.assertDeferredNotBounced(relay, queue_id, out)
        self.assertEqual(out[2:], ("4.7.5", "Server certificate not "
                                   "verified"))
        relay.wait_log(r"server certificate verification failed for "
                       r"mx\.nm\.sec\.test\[127\.0\.0\.1\]:%d: num=\d+:"
                       r"no matching DANE TLSA records" % self.port)
        self.assertEqual(sink.messages(), [])

    def test_unusable_records_mean_encrypt(self):
        """Validated TLSA records that are all unusable (PKIX-EE, usage
        1, which RFC 7672 tells SMTP to ignore): dane sends with
        mandatory, unauthenticated TLS, never in plaintext (a server
        without STARTTLS waits); dane-only waits."""
        ee = self.cert("ee", "mx.un.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        zone = Zone("sec.test", self.mx_records("un") + [
            "only IN MX 10 mx.un",
            self.tlsa("mx.un", 1, 1, 1, ee.spki_sha256())])
        relay = self.dane_relay(self.lab([zone]), "dane",
                                policies={"only.sec.test": "dane-only"})
        tls_id = self.send(relay, "user@un.sec.test")
        only_id = self.send(relay, "user@only.sec.test")
        self.assertEqual(self.outcome(relay, tls_id)[0], SENT)
        relay.wait_log(r"_%d\._tcp\.mx\.un\.sec\.test: all TLSA records "
                       r"unusable" % self.port)
        relay.wait_log(r"Untrusted TLS connection established to "
                       r"mx\.un\.sec\.test\[127\.0\.0\.1\]:%d" % self.port)
        out = self.outcome(relay, only_id)
        self.assertDeferredNotBounced(relay, only_id, out)
        self.assertIn("all TLSA records of _%d._tcp.mx.un.sec.test are "
                      "unusable" % self.port, out[3])
        self.assertEqual([m.rcpt_tos for m in sink.messages()],
                         [["user@un.sec.test"]])
        # The same records before a server that offers no STARTTLS.
        sink.stop()
        self.sink(port=self.port, tls=False)
        plain_id = self.send(relay, "user@un.sec.test")
        out = self.outcome(relay, plain_id)
        self.assertDeferredNotBounced(relay, plain_id, out)
        self.assertIn("TLS is required, but was not offered", out[3])

    def test_bogus_tlsa_deferred(self):
        """The TLSA record's signature expired (the rest of the zone is
        fine): unbound answers SERVFAIL, the mail waits."""
        ee = self.cert("ee", "mx.bog.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        owner = "_%d._tcp.mx.bog" % self.port
        zone = Zone("sec.test", self.mx_records("bog") + [
            self.tlsa("mx.bog", 3, 1, 1, ee.spki_sha256())], spoil=(owner,))
        relay = self.dane_relay(self.lab([zone]), "dane")
        queue_id = self.send(relay, "user@bog.sec.test")
        out = self.outcome(relay, queue_id)
        self.assertDeferredNotBounced(relay, queue_id, out)
        self.assertEqual(out[1], "none")
        self.assertIn("TLSA lookup error for _%d._tcp.mx.bog.sec.test: "
                      "SERVFAIL" % self.port, out[3])
        self.assertEqual(sink.messages(), [])

    def test_insecure_zone_dane_is_may_dane_only_defers(self):
        """TLSA in an unsigned zone means nothing: dane sends with
        opportunistic TLS (the self-signed certificate is Untrusted),
        dane-only (a policy table entry) waits."""
        ee = self.cert("ee", "mx.a.insec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        zone = Zone("insec.test", self.mx_records("a") + [
            "b IN MX 10 mx.a", self.tlsa("mx.a", 3, 1, 1,
                                         ee.spki_sha256())], signed=False)
        relay = self.dane_relay(self.lab([zone]), "dane",
                                policies={"b.insec.test": "dane-only"})
        may_id = self.send(relay, "user@a.insec.test")
        only_id = self.send(relay, "user@b.insec.test")
        self.assertEqual(self.outcome(relay, may_id)[0], SENT)
        relay.wait_log(r"Untrusted TLS connection established to "
                       r"mx\.a\.insec\.test\[127\.0\.0\.1\]:%d" % self.port)
        out = self.outcome(relay, only_id)
        self.assertDeferredNotBounced(relay, only_id, out)
        self.assertIn("not a DNSSEC-validated MX host", out[3])
        self.assertEqual([m.rcpt_tos for m in sink.messages()],
                         [["user@a.insec.test"]])
        self.assertNotIn("Verified TLS", relay.maillog())

    def test_secure_denial_is_may_and_port_matters(self):
        """No TLSA at _PORT._tcp (a validated denial; the only record is
        at _25._tcp): dane sends as may, dane-only waits, and its reason
        names the port actually connected to."""
        ee = self.cert("ee", "mx.den.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        zone = Zone("sec.test", self.mx_records("den") + [
            "only IN MX 10 mx.den",
            self.tlsa("mx.den", 3, 1, 1, ee.spki_sha256(), port=25)])
        relay = self.dane_relay(self.lab([zone]), "dane",
                                policies={"only.sec.test": "dane-only"})
        may_id = self.send(relay, "user@den.sec.test")
        only_id = self.send(relay, "user@only.sec.test")
        self.assertEqual(self.outcome(relay, may_id)[0], SENT)
        relay.wait_log(r"Untrusted TLS connection established to "
                       r"mx\.den\.sec\.test\[127\.0\.0\.1\]:%d" % self.port)
        out = self.outcome(relay, only_id)
        self.assertDeferredNotBounced(relay, only_id, out)
        self.assertEqual(out[3], "no TLSA records found for "
                         "_%d._tcp.mx.den.sec.test" % self.port)
        self.assertEqual(len(sink.messages()), 1)

    def test_secure_denial_is_kept_for_its_negative_ttl(self):
        """A validated denial of TLSA is kept for its negative TTL (the
        zone's SOA: 300 s): a second message to the same MX host asks
        the resolver nothing (its query log counts one TLSA query)."""
        ee = self.cert("ee", "mx.den.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        lab = self.lab([Zone("sec.test", self.mx_records("den"))])
        relay = self.dane_relay(lab, "dane")
        for _ in range(2):
            queue_id = self.send(relay, "user@den.sec.test")
            self.assertEqual(self.outcome(relay, queue_id)[0], SENT)
        self.assertEqual(len(sink.messages()), 2)
        qname = "_%d._tcp.mx.den.sec.test. TLSA IN" % self.port
        self.assertEqual(lab.resolver_log().count(qname), 1,
                         lab.resolver_log())

    def insecure_mx_case(self, policy=None, match=True):
        """d.insec.test (an unsigned zone: an insecure MX answer) has its
        MX host in the signed sec.test, whose address and TLSA records
        are secure; the TLSA record matches the sink's certificate or
        another one. Returns (relay, lab, sink, outcome)."""
        ee = self.cert("ee", "mx.d.sec.test")
        other = self.cert("other", "mx.d.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        lab = self.lab([
            Zone("insec.test", ["d IN MX 10 mx.d.sec.test."],
                 signed=False),
            Zone("sec.test", ["mx.d IN A 127.0.0.1", self.tlsa(
                "mx.d", 3, 1, 1, (ee if match else other).spki_sha256())])])
        main = {}
        if policy is not None:
            main["smtp_tls_dane_insecure_mx_policy"] = policy
        relay = self.dane_relay(lab, "dane", **main)
        queue_id = self.send(relay, "user@d.insec.test")
        return relay, lab, sink, queue_id, self.outcome(relay, queue_id)

    def tlsa_asked(self, lab):
        return "_%d._tcp.mx.d.sec.test. TLSA IN" % self.port in \
            lab.resolver_log()

    def test_insecure_mx_default_dane_match_is_trusted(self):
        """Postfix's default (dane): the MX host's secure TLSA records
        are used, and a match is Trusted, not Verified (the MX name
        could have been forged)."""
        relay, lab, sink, _, out = self.insecure_mx_case()
        self.assertEqual(out[0], SENT, out)
        relay.wait_log(r"Trusted TLS connection established to "
                       r"mx\.d\.sec\.test\[127\.0\.0\.1\]:%d" % self.port)
        relay.wait_log(r"Matched DANE EE certificate at depth 0: 3 1 1 ")
        self.assertNotIn("Verified TLS", relay.maillog())
        self.assertEqual(len(sink.messages()), 1)

    def test_insecure_mx_default_dane_mismatch_deferred(self):
        relay, lab, sink, queue_id, out = self.insecure_mx_case(
            match=False)
        self.assertDeferredNotBounced(relay, queue_id, out)
        self.assertIn("Server certificate not verified", out[3])
        self.assertEqual(sink.messages(), [])

    def test_insecure_mx_policy_encrypt(self):
        """encrypt: the records ask for TLS, nothing is authenticated."""
        relay, lab, sink, _, out = self.insecure_mx_case("encrypt",
                                                         match=False)
        self.assertEqual(out[0], SENT, out)
        relay.wait_log(r"Untrusted TLS connection established to "
                       r"mx\.d\.sec\.test\[127\.0\.0\.1\]:%d" % self.port)
        self.assertTrue(self.tlsa_asked(lab), lab.resolver_log())

    def test_insecure_mx_policy_may(self):
        """may: the records are not even looked up."""
        relay, lab, sink, _, out = self.insecure_mx_case("may", match=False)
        self.assertEqual(out[0], SENT, out)
        relay.wait_log(r"Untrusted TLS connection established to "
                       r"mx\.d\.sec\.test\[127\.0\.0\.1\]:%d" % self.port)
        self.assertFalse(self.tlsa_asked(lab), lab.resolver_log())

    def test_tlsa_without_starttls_deferred(self):
        """TLSA records but the server offers no STARTTLS: dane never
        falls back to plaintext."""
        ee = self.cert("ee", "mx.pl.sec.test")
        sink = self.sink(port=self.port, tls=False)
        zone = Zone("sec.test", self.mx_records("pl") + [
            self.tlsa("mx.pl", 3, 1, 1, ee.spki_sha256())])
        relay = self.dane_relay(self.lab([zone]), "dane")
        queue_id = self.send(relay, "user@pl.sec.test")
        out = self.outcome(relay, queue_id)
        self.assertDeferredNotBounced(relay, queue_id, out)
        self.assertIn("TLS is required, but was not offered", out[3])
        self.assertEqual(sink.messages(), [])

    def test_resolver_down_deferred(self):
        """The validating resolver is gone: nothing is known, nothing is
        sent, nothing bounces."""
        ee = self.cert("ee", "mx.down.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        zone = Zone("sec.test", self.mx_records("down") + [
            self.tlsa("mx.down", 3, 1, 1, ee.spki_sha256())])
        lab = self.lab([zone])
        relay = self.dane_relay(lab, "dane")
        lab.stop_resolver()
        queue_id = self.send(relay, "user@down.sec.test")
        out = self.outcome(relay, queue_id, timeout=90)
        self.assertDeferredNotBounced(relay, queue_id, out)
        self.assertEqual(sink.messages(), [])


class CheckTest(DaneTestCase):

    def check_output(self, lab, level="dane"):
        relay = self.outbound_relay(main={
            "smtp_dns_support_level": "dnssec",
            "smtp_tls_security_level": level}, dns=lab, start=False)
        status, out = self.tlsrelay("check", "-c", relay.dir)
        return status, out

    def test_check_says_the_resolver_validates(self):
        """A resolver with the (lab's) root trust anchor sets AD on the
        root's SOA: tlsrelay check says it validates."""
        lab = self.lab([Zone(".", [])])
        status, out = self.check_output(lab)
        self.assertEqual(status, 0, out)
        self.assertIn("smtp_dns_support_level = dnssec: the resolver "
                      "(%s) validates DNSSEC" % lab.server, out)
        self.assertNotIn("smtp_dns_support_level = dnssec, but", out)

    def test_check_warns_when_the_resolver_does_not_validate(self):
        """An unsigned root: the answer has no AD bit, a warning says
        what dane and dane-only then do."""
        lab = self.lab([Zone(".", [], signed=False)])
        status, out = self.check_output(lab, level="dane-only")
        self.assertEqual(status, 0, out)
        self.assertIn("but the resolver (%s) does not validate DNSSEC" %
                      lab.server, out)

    def test_check_warns_about_dane_without_dnssec(self):
        relay = self.outbound_relay(main={
            "smtp_tls_security_level": "dane"}, start=False)
        status, out = self.tlsrelay("check", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertIn("smtp_tls_security_level = dane needs "
                      "smtp_dns_support_level = dnssec", out)


if __name__ == "__main__":
    main()
