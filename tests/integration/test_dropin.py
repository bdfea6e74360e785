"""Lines from Postfix TLS how-tos that Postfix 3.7 starts with, and what
tlsrelayd does with them: `smtpd_tls_CApath = no` (a warning, and no CA
directory), a 1024-bit `smtpd_tls_dh1024_param_file` (a warning that says
what to do, and the built-in FFDHE groups: DHE still works), and a
protocol list that leaves OpenSSL 3 nothing to speak (an error at start
naming main.cf:line, not a failed STARTTLS for every client)."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import RelayTestCase, SClient, main, openssl  # noqa: E402

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


if __name__ == "__main__":
    main()
