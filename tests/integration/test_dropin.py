"""Lines from Postfix TLS how-tos that Postfix 3.7 starts with, and what
tlsrelayd does with them: `smtpd_tls_CApath = no` (a warning, and no CA
directory), a 1024-bit `smtpd_tls_dh1024_param_file` (a warning that says
what to do, and the built-in FFDHE groups: DHE still works), and a
protocol list that leaves OpenSSL 3 nothing to speak (an error at start
naming main.cf:line, not a failed STARTTLS for every client), and the
obsolete smtp_enforce_tls with Postfix's meaning: verify, unless
smtp_tls_enforce_peername = no. Postfix names whose absence would weaken
what is checked are refused or warned about, never ignored quietly."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, TLSRELAY, OutboundTestCase,  # noqa
                       RelayTestCase, SClient, main, openssl, run_tool)

# A DHE suite, so that the key exchange uses the DH parameters.
DHE = ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"]


def warnings(relay, pattern):
    """How many warnings naming main.cf:LINE match pattern, in the log and
    on the standard error output."""
    regex = re.compile(r"warning: \S+/main\.cf:\d+: " + pattern)
    lines = (relay.maillog() + relay.stderr()).splitlines()
    return sum(1 for line in lines if regex.search(line))


class DropInTest(RelayTestCase):

    def test_capath_no(self):
        relay = self.relay(main={"smtpd_tls_CApath": "no"})
        # Said once, though three services build a context from the
        # line; before the log is open, on the standard error output.
        self.assertEqual(warnings(relay, r"smtpd_tls_CApath no: no such "
                                  r"directory: no CA directory is used$"), 1)
        s = SClient(relay.port())
        self.assertTrue(s.established, s.output)

    def test_dh_1024(self):
        dh = os.path.join(self.tmpdir, "dh1024.pem")
        if not os.path.exists(dh):
            openssl("dhparam", "-out", dh, "1024")
        relay = self.relay(main={"smtpd_tls_dh1024_param_file": dh})
        self.assertEqual(warnings(
            relay, r"smtpd_tls_dh1024_param_file %s: .*too small.* \(1024 "
            r"bits\): using the built-in FFDHE groups instead; make a "
            r"2048-bit file with 'openssl dhparam -out %s 2048', or remove "
            r"the line$" % (re.escape(dh), re.escape(dh))), 1)
        s = SClient(relay.port(), *DHE)
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cipher, "DHE-RSA-AES128-GCM-SHA256")
        self.assertRegex(s.output, r"Server Temp Key: DH, (2048|3072) bits")

    def test_nothing_usable(self):
        for value in ("SSLv3, TLSv1", "TLSv1 TLSv1.1", "<=TLSv1.1"):
            relay = self.relay(main={"smtpd_tls_protocols": value},
                               start=False)
            status, out = relay.start_expect_failure()
            self.assertNotEqual(status, 0)
            self.assertRegex(out, r"main\.cf:\d+: smtpd_tls_protocols = %s: "
                             r"OpenSSL 3 refuses every protocol older than "
                             r"TLSv1\.2 at security level \d" %
                             re.escape(value))
        # The usual lines from the how-tos start.
        relay = self.relay(main={
            "smtpd_tls_protocols": "!SSLv2, !SSLv3",
            "smtpd_tls_mandatory_protocols": "!SSLv2, !SSLv3, !TLSv1, "
                                             "!TLSv1.1"})
        s = SClient(relay.port())
        self.assertTrue(s.established, s.output)


class UnsupportedNamesTest(RelayTestCase):
    """The man page's list: refused with main.cf:LINE (or master.cf:LINE
    for an -o of a service tlsrelay runs), or warned about once."""

    def test_refused(self):
        for name, value in (("smtpd_milters", "inet:127.0.0.1:8891"),
                            ("non_smtpd_milters", "$smtpd_milters"),
                            ("smtpd_proxy_filter", "127.0.0.1:10025"),
                            ("smtp_tls_per_site", "hash:/etc/tls_per_site"),
                            ("smtp_tls_wrappermode", "yes")):
            relay = self.relay(main={name: value}, start=False)
            status, out = relay.start_expect_failure()
            self.assertNotEqual(status, 0, name)
            self.assertRegex(out, r"main\.cf:\d+: %s = %s: " % (
                re.escape(name), re.escape(value)))
            # tlsrelay conf says the same, and fails too.
            status, out = self.tlsrelay_conf(relay)
            self.assertEqual(status, 1, out)
            self.assertIn("%s = %s: " % (name, value), out)

    def test_master_override_refused(self):
        services = {"smtp": {"smtpd_proxy_filter": "127.0.0.1:10025"}}
        relay = self.relay(services=services, start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertRegex(out, r"master\.cf:\d+: smtpd_proxy_filter"
                         r" = 127\.0\.0\.1:10025: before-queue content "
                         r"filters are not supported")

    def test_warned_and_ignored_transport(self):
        # A Postfix transport tlsrelay does not run keeps its -o quiet.
        relay = self.relay(main={
            "smtpd_relay_before_recipient_restrictions": "yes",
            "smtpd_tls_dh512_param_file": "/etc/ssl/dh512.pem",
            "smtp_tls_wrappermode": "no",
        }, extra_master="smtps unix - - n - - smtp\n"
           "  -o smtp_tls_wrappermode=yes\n")
        self.assertEqual(warnings(relay, r"smtpd_relay_before_recipient_"
                                  r"restrictions = yes: not implemented: "
                                  r"smtpd_relay_restrictions are applied "
                                  r"first, as with Postfix's default$"), 1)
        self.assertEqual(warnings(relay, r"smtpd_tls_dh512_param_file = "
                                  r"/etc/ssl/dh512\.pem: export ciphers are "
                                  r"gone"), 1)
        said = relay.maillog() + relay.stderr()
        self.assertNotIn("smtp_tls_wrappermode", said)
        s = SClient(relay.port())
        self.assertTrue(s.established, s.output)

    def tlsrelay_conf(self, relay):
        return run_tool([TLSRELAY, "conf", "-c", relay.dir, "-n"])


class ObsoleteClientTest(OutboundTestCase):
    """The sink's certificate is trusted (smtp_tls_CAfile) but names
    relay.test, not the next hop 127.0.0.1: verify defers, encrypt
    delivers."""

    def relay_to(self, sink, **main):
        settings = dict(DEFAULT_TIMERS, relayhost=sink.nexthop,
                        smtp_tls_CAfile=self.certs.ca,
                        smtp_enforce_tls="yes")
        settings.update(main)
        return self.outbound_relay(main=settings)

    def test_enforce_tls_means_verify(self):
        sink = self.sink()
        relay = self.relay_to(sink)
        queue_id = self.submit(relay, "sender@client.test",
                               ["rcpt@dest.test"], self.message())
        relay.wait_log(r": %s: to=<rcpt@dest\.test>, .*status=deferred "
                       r"\(Server certificate not verified\)" % queue_id,
                       timeout=20)
        self.assertEqual(sink.messages(), [])
        self.assertGreaterEqual(warnings(
            relay, r"smtp_enforce_tls is obsolete: use "
            r"smtp_tls_security_level = verify instead$"), 1)

    def test_enforce_peername_no_means_encrypt(self):
        sink = self.sink()
        relay = self.relay_to(sink, smtp_tls_enforce_peername="no")
        queue_id = self.submit(relay, "sender@client.test",
                               ["rcpt@dest.test"], self.message())
        relay.wait_log(r": %s: to=<rcpt@dest\.test>, .*status=sent" %
                       queue_id, timeout=20)
        [m] = sink.messages()
        self.assertIsNotNone(m.tls)
        self.assertGreaterEqual(warnings(
            relay, r"smtp_enforce_tls is obsolete: use "
            r"smtp_tls_security_level = encrypt instead$"), 1)


if __name__ == "__main__":
    main()
