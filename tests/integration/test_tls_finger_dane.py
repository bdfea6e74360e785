"""tlsrelay tls-finger's DANE verdicts against the DNSSEC lab of
dnssec_lab.py (NSD with zones signed by ldns-signzone, unbound validating
with only the test zones' keys) and aiosmtpd sinks offering STARTTLS with
a self-signed certificate (DANE-EE) or one from a test CA (DANE-TA). The
command looks up the TLSA records of each MX host at smtp_tcp_port,
prints them and whether they were validated, judges dane and dane-only
as the queue manager does, with one more handshake made with the
records, and its exit status follows the level in force. Every test runs
under tcpdump and asserts that no packet left loopback."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import main  # noqa: E402
from dnssec_lab import DaneLabCase, Zone  # noqa: E402
from test_tls_finger import FingerOutput  # noqa: E402

NOT_VERIFIED = "Server certificate not verified"


class FingerDaneTest(FingerOutput, DaneLabCase):

    def finger(self, dest, lab, level, *args, expect, policies=None,
               dns_level="dnssec", main=None):
        relay = self.lab_relay(lab, level, dns_level=dns_level,
                               policies=policies, main=main, start=False)
        status, out = self.tlsrelay("tls-finger", "-c", relay.dir, *args,
                                    dest, timeout=90)
        self.assertEqual(status, expect, out)
        return out

    def level_and_result(self, out):
        return self.conclusion(out)[1::2]

    def peer(self, host):
        return "%s[127.0.0.1]:%d" % (host, self.port)

    def test_ee_match_verified(self):
        """TLSA 3 1 1 of the server's self-signed certificate: the record
        is shown as validated, the DANE handshake is Verified, dane and
        dane-only would deliver and so does the level in force (exit 0),
        while verify, judged on the handshake without DANE, still finds
        the certificate untrusted."""
        ee = self.cert("ee", "mx.ee.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        spki = ee.spki_sha256().upper()
        lab = self.lab([Zone("sec.test", self.mx_records("ee") + [
            self.tlsa("mx.ee", 3, 1, 1, spki)])])
        out = self.finger("ee.sec.test", lab, "dane", expect=0)
        qname = "_%d._tcp.mx.ee.sec.test" % self.port
        self.assertIn("DANE TLSA %s: secure (DNSSEC-validated), 1 "
                      "record(s)\n  TLSA 3 1 1 %s\n" % (qname, spki), out)
        matched = "Verified: TLSA 3 1 1 matched the EE certificate at " \
                  "depth 0"
        self.assertIn("DANE handshake with %s: %s\n" % (
            self.peer("mx.ee.sec.test"), matched), out)
        self.assertEqual(self.verdict(out, "dane"),
                         "would deliver (%s)" % matched)
        self.assertEqual(self.verdict(out, "dane-only"),
                         "would deliver (%s)" % matched)
        self.assertRegex(out, r"(?m)^  dane +would deliver .*   <- in "
                         r"force$")
        self.assertEqual(self.verdict(out, "may"),
                         "would deliver (Untrusted TLS)")
        self.assertTrue(self.verdict(out, "verify").startswith(
            "would defer: Server certificate not trusted"))
        self.assertEqual(self.level_and_result(out), (
            "dane", "would deliver (via %s)" % self.peer("mx.ee.sec.test")))
        # The probe and the DANE handshake; no mail.
        self.assertEqual(len(sink.connections()), 2)
        self.assertEqual(sink.messages(), [])
        # unbound was asked for the TLSA name with the port.
        self.assertIn("%s. TLSA IN" % qname, lab.resolver_log())

    def test_no_matching_record_defers(self):
        """A TLSA record of another key: the DANE handshake fails, dane
        and dane-only would defer (exit 1), and the other levels are
        judged as before: may and encrypt would deliver."""
        ee = self.cert("ee", "mx.nm.sec.test")
        other = self.cert("other", "mx.nm.sec.test")
        self.sink(port=self.port, certs=ee.sink_certs())
        lab = self.lab([Zone("sec.test", self.mx_records("nm") + [
            self.tlsa("mx.nm", 3, 1, 1, other.spki_sha256())])])
        out = self.finger("nm.sec.test", lab, "dane", expect=1)
        self.assertIn("  TLSA 3 1 1 %s\n" % other.spki_sha256().upper(),
                      out)
        failed = "%s (no matching DANE TLSA records)" % NOT_VERIFIED
        self.assertIn("DANE handshake with %s: %s\n" % (
            self.peer("mx.nm.sec.test"), failed), out)
        self.assertEqual(self.verdict(out, "dane"),
                         "would defer: " + failed)
        self.assertEqual(self.verdict(out, "dane-only"),
                         "would defer: " + failed)
        self.assertEqual(self.verdict(out, "may"),
                         "would deliver (Untrusted TLS)")
        self.assertEqual(self.verdict(out, "encrypt"),
                         "would deliver (Untrusted TLS)")
        self.assertEqual(self.level_and_result(out), ("dane",
                                                "would defer: " + failed))
        # The same server at level may: exit 0.
        out = self.finger("nm.sec.test", lab, "may", expect=0)
        self.assertEqual(self.verdict(out, "dane"),
                         "would defer: " + failed)

    def test_tlsa_without_starttls_defers(self):
        """Usable TLSA records, but the server offers no STARTTLS: may
        would deliver in plaintext, dane never does."""
        ee = self.cert("ee", "mx.pl.sec.test")
        self.sink(port=self.port, tls=False)
        lab = self.lab([Zone("sec.test", self.mx_records("pl") + [
            self.tlsa("mx.pl", 3, 1, 1, ee.spki_sha256())])])
        out = self.finger("pl.sec.test", lab, "dane", expect=1)
        self.assertEqual(self.verdict(out, "may"), "would deliver "
                         "(plaintext: STARTTLS not offered)")
        refused = "TLS is required, but was not offered by host %s" % \
            self.peer("mx.pl.sec.test")
        self.assertIn("DANE handshake with %s: %s\n" % (
            self.peer("mx.pl.sec.test"), refused), out)
        self.assertEqual(self.verdict(out, "dane"), "would defer: " +
                         refused)
        self.assertEqual(self.level_and_result(out), ("dane", "would defer: " +
                                                refused))

    def test_ta_in_chain_verified(self):
        """TLSA 2 1 1 of a test CA that the server sends in its chain,
        beside a PKIX-TA record (usage 0) that RFC 7672 ignores: Verified
        by the TA at depth 1; dane-only (from the policy table) would
        deliver."""
        ca = self.cert("ca", "DANE test CA", is_ca=True)
        good = self.cert("good", "mx.ta.sec.test", ca=ca)
        self.sink(port=self.port, certs=good.sink_certs())
        spki = ca.spki_sha256()
        lab = self.lab([Zone("sec.test", self.mx_records("ta") + [
            self.tlsa("mx.ta", 2, 1, 1, spki),
            self.tlsa("mx.ta", 0, 1, 1, spki)])])
        out = self.finger("ta.sec.test", lab, "may", expect=0,
                          policies={"ta.sec.test": "dane-only"})
        self.assertIn("2 record(s)\n", out)
        self.assertIn("  TLSA 2 1 1 %s\n" % spki.upper(), out)
        self.assertIn("  TLSA 0 1 1 %s (unusable: ignored)\n" %
                      spki.upper(), out)
        matched = "Verified: TLSA 2 1 1 matched the TA certificate at " \
                  "depth 1"
        self.assertEqual(self.verdict(out, "dane-only"),
                         "would deliver (%s)" % matched)
        self.assertEqual(self.verdict(out, "dane"),
                         "would deliver (%s)" % matched)
        level, result = self.level_and_result(out)
        self.assertEqual(level, "dane-only")
        self.assertTrue(result.startswith("would deliver (via "), result)

    def test_all_records_unusable(self):
        """Validated TLSA records that DANE cannot use (PKIX-EE, usage 1,
        which RFC 7672 ignores, and an unknown matching type): shown as
        unusable, no DANE handshake, dane is mandatory TLS without
        authentication, dane-only defers; the queue manager's log line
        saying so is printed once, not once per level judged."""
        ee = self.cert("ee", "mx.un.sec.test")
        self.sink(port=self.port, certs=ee.sink_certs())
        spki = ee.spki_sha256()
        lab = self.lab([Zone("sec.test", self.mx_records("un") + [
            self.tlsa("mx.un", 1, 1, 1, spki),
            self.tlsa("mx.un", 3, 1, 9, spki)])])
        out = self.finger("un.sec.test", lab, "dane", expect=0)
        qname = "_%d._tcp.mx.un.sec.test" % self.port
        self.assertIn("DANE TLSA %s: secure (DNSSEC-validated), 2 "
                      "record(s)\n" % qname, out)
        self.assertIn("  TLSA 1 1 1 %s (unusable: ignored)\n" %
                      spki.upper(), out)
        self.assertIn("  TLSA 3 1 9 %s (unusable: ignored)\n" %
                      spki.upper(), out)
        self.assertNotIn("DANE handshake", out)
        self.assertEqual(self.verdict(out, "dane"), "would deliver "
                         "(Untrusted TLS); as encrypt: all TLSA records are "
                         "unusable")
        self.assertEqual(self.verdict(out, "dane-only"), "would defer: all "
                         "TLSA records of %s are unusable" % qname)
        self.assertEqual(out.count("%s: all TLSA records unusable" % qname),
                         1, out)

    def test_unsigned_zone_dane_is_may_dane_only_defers(self):
        """TLSA in an unsigned zone: the MX host is not validated, so no
        TLSA lookup; dane would deliver as may, dane-only would defer."""
        ee = self.cert("ee", "mx.a.insec.test")
        self.sink(port=self.port, certs=ee.sink_certs())
        lab = self.lab([Zone("insec.test", self.mx_records("a") + [
            self.tlsa("mx.a", 3, 1, 1, ee.spki_sha256())], signed=False)])
        out = self.finger("a.insec.test", lab, "dane", expect=0)
        self.assertIn("DANE TLSA _%d._tcp.mx.a.insec.test: not looked up: "
                      "the MX or address records of mx.a.insec.test are "
                      "not DNSSEC-validated\n" % self.port, out)
        self.assertNotIn("DANE handshake", out)
        self.assertEqual(self.verdict(out, "dane"),
                         "would deliver (Untrusted TLS); as may: no "
                         "DNSSEC-validated TLSA records")
        only = "would defer: mx.a.insec.test is not a DNSSEC-validated " \
               "MX host; dane-only needs one"
        self.assertEqual(self.verdict(out, "dane-only"), only)
        self.assertEqual(self.level_and_result(out)[0], "dane")
        out = self.finger("a.insec.test", lab, "dane", "-l", "dane-only",
                          expect=1)
        self.assertEqual(self.level_and_result(out), ("dane-only", only))
        self.assertNotIn("TLSA IN", lab.resolver_log())

    def test_insecure_mx_follows_the_policy(self):
        """An MX host with secure addresses and TLSA records, named by an
        insecure MX answer: at dane (smtp_tls_dane_insecure_mx_policy =
        dane, Postfix's default) the records are used and the handshake
        matches; dane-only defers; with the policy may nothing is looked
        up, as the queue manager decides."""
        ee = self.cert("ee", "mx.d.sec.test")
        self.sink(port=self.port, certs=ee.sink_certs())
        lab = self.lab([
            Zone("insec.test", ["d IN MX 10 mx.d.sec.test."],
                 signed=False),
            Zone("sec.test", ["mx.d IN A 127.0.0.1", self.tlsa(
                "mx.d", 3, 1, 1, ee.spki_sha256())])])
        qname = "_%d._tcp.mx.d.sec.test" % self.port
        out = self.finger("d.insec.test", lab, "dane", expect=0)
        self.assertIn("DANE TLSA %s: the MX answer is not DNSSEC-validated, "
                      "the addresses of mx.d.sec.test are: "
                      "smtp_tls_dane_insecure_mx_policy applies at dane, "
                      "dane-only defers\n" % qname, out)
        # Trusted, not Verified: the MX name could have been forged.
        self.assertIn("DANE handshake with %s: Trusted: TLSA 3 1 1 matched "
                      "the EE certificate at depth 0" % self.peer(
                          "mx.d.sec.test"), out)
        self.assertTrue(self.verdict(out, "dane").startswith(
            "would deliver"), out)
        self.assertEqual(self.verdict(out, "dane-only"),
                         "would defer: mx.d.sec.test is not a "
                         "DNSSEC-validated MX host; dane-only needs one")
        out = self.finger("d.insec.test", lab, "dane", expect=0,
                          main={"smtp_tls_dane_insecure_mx_policy": "may"})
        self.assertIn("DANE TLSA %s: not looked up" % qname, out)
        self.assertNotIn("DANE handshake", out)

    def test_secure_denial_dane_is_may(self):
        """A validated zone without TLSA at _PORT._tcp (the only record is
        at _25._tcp): a secure denial, dane would deliver as may,
        dane-only would defer naming the port connected to."""
        ee = self.cert("ee", "mx.den.sec.test")
        self.sink(port=self.port, certs=ee.sink_certs())
        lab = self.lab([Zone("sec.test", self.mx_records("den") + [
            "_25._tcp.mx.den IN TLSA 3 1 1 " + ee.spki_sha256()])])
        out = self.finger("den.sec.test", lab, "dane-only", expect=1)
        qname = "_%d._tcp.mx.den.sec.test" % self.port
        self.assertIn("DANE TLSA %s: none, denied securely "
                      "(DNSSEC-validated)\n" % qname, out)
        self.assertEqual(self.verdict(out, "dane"),
                         "would deliver (Untrusted TLS); as may: no "
                         "DNSSEC-validated TLSA records")
        self.assertEqual(self.level_and_result(out), (
            "dane-only", "would defer: no TLSA records found for " + qname))

    def test_bogus_tlsa_defers(self):
        """The TLSA record's signature expired: unbound answers SERVFAIL,
        the lookup failed, dane and dane-only would defer."""
        ee = self.cert("ee", "mx.bog.sec.test")
        sink = self.sink(port=self.port, certs=ee.sink_certs())
        owner = "_%d._tcp.mx.bog" % self.port
        lab = self.lab([Zone("sec.test", self.mx_records("bog") + [
            self.tlsa("mx.bog", 3, 1, 1, ee.spki_sha256())],
            spoil=(owner,))])
        out = self.finger("bog.sec.test", lab, "dane", expect=1)
        why = "TLSA lookup error for %s.sec.test: SERVFAIL" % owner
        self.assertRegex(out, r"(?m)^DANE TLSA %s\.sec\.test: lookup "
                         r"failed: %s" % (re.escape(owner), re.escape(why)))
        self.assertTrue(self.verdict(out, "dane").startswith(
            "would defer: " + why), out)
        self.assertTrue(self.verdict(out, "dane-only").startswith(
            "would defer: " + why), out)
        self.assertEqual(self.verdict(out, "may"),
                         "would deliver (Untrusted TLS)")
        # The queue manager's warning, once for both levels.
        self.assertEqual(out.count("DANE TLSA lookup problem: " + why), 1,
                         out)
        # One connection: the probe; no DANE handshake.
        self.assertEqual(len(sink.connections()), 1)

    def test_without_dnssec_dane_is_may(self):
        """smtp_dns_support_level = enabled: no answer is secure, so the
        command says that dane needs dnssec, asks no TLSA, and judges
        dane as may, dane-only deferred -- as the relay does."""
        ee = self.cert("ee", "mx.ee.sec.test")
        self.sink(port=self.port, certs=ee.sink_certs())
        lab = self.lab([Zone("sec.test", self.mx_records("ee") + [
            self.tlsa("mx.ee", 3, 1, 1, ee.spki_sha256())])])
        out = self.finger("ee.sec.test", lab, "dane", expect=0,
                          dns_level="enabled")
        self.assertIn("DANE: smtp_dns_support_level = enabled: dane and "
                      "dane-only need dnssec; no TLSA lookup, dane is may, "
                      "dane-only defers\n", out)
        self.assertEqual(self.verdict(out, "dane"),
                         "would deliver (Untrusted TLS); as may: no "
                         "DNSSEC-validated TLSA records")
        self.assertEqual(self.verdict(out, "dane-only"),
                         "would defer: mx.ee.sec.test is not a "
                         "DNSSEC-validated MX host; dane-only needs one")
        self.assertNotIn("TLSA IN", lab.resolver_log())


if __name__ == "__main__":
    main()
