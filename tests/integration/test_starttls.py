"""STARTTLS and implicit TLS as openssl s_client sees them: the certificate
served, RSA or ECDSA by the client's signature algorithms, protocol limits,
the TLS log lines, client certificates, and what a session keeps after
STARTTLS."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (RelayTestCase, SClient, main,  # noqa: E402
                       smtplib_client)

LOCAL = r"unknown\[127\.0\.0\.1\]"
PREFIX = r"tlsrelay/smtpd\[\d+\]: "


class CertificateTest(RelayTestCase):

    def test_starttls_serves_our_certificate(self):
        relay = self.relay()
        s = SClient(relay.port("smtp"), "-CAfile", self.certs.ca,
                    "-verify_return_error", "-verify_hostname", "relay.test")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.rsa))
        self.assertIn("Verify return code: 0 (ok)", s.output)

    def test_wrappermode_serves_our_certificate(self):
        relay = self.relay()
        s = SClient(relay.port("smtps"), "-CAfile", self.certs.ca,
                    "-verify_return_error", starttls=False)
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.rsa))

    def test_rsa_or_ecdsa_chosen_by_client_sigalgs(self):
        relay = self.relay(main={
            "smtpd_tls_eccert_file": self.certs.ec,
            "smtpd_tls_eckey_file": self.certs.ec_key,
        })
        port = relay.port("smtp")
        s = SClient(port, "-sigalgs", "ECDSA+SHA256")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.ec))
        self.assertEqual(s.sigtype, "ECDSA")
        s = SClient(port, "-sigalgs", "RSA-PSS+SHA256")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.rsa))
        self.assertEqual(s.sigtype, "RSA-PSS")
        # TLS 1.2: the cipher's authentication picks the certificate.
        s = SClient(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.ec))
        s = SClient(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.rsa))

    def test_chain_files_rsa_and_ecdsa(self):
        # smtpd_tls_chain_files: each file holds a key, then its chain.
        files = []
        for key, crt, name in ((self.certs.rsa_key, self.certs.rsa, "rsa"),
                               (self.certs.ec_key, self.certs.ec, "ec")):
            path = os.path.join(self.tmpdir, "chain-%s.pem" % name)
            with open(path, "w") as out:
                for part in (key, crt, self.certs.ca):
                    with open(part) as f:
                        out.write(f.read())
            os.chmod(path, 0o600)
            files.append(path)
        relay = self.relay(main={
            "smtpd_tls_cert_file": None, "smtpd_tls_key_file": None,
            "smtpd_tls_chain_files": ", ".join(files),
        })
        s = SClient(relay.port("smtp"), "-sigalgs", "ECDSA+SHA256",
                    "-CAfile", self.certs.ca, "-verify_return_error")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.ec))
        s = SClient(relay.port("smtp"), "-sigalgs", "RSA-PSS+SHA256",
                    "-CAfile", self.certs.ca, "-verify_return_error")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.cert, self.certs.pem(self.certs.rsa))


class ProtocolTest(RelayTestCase):

    def relay_with_protocols(self):
        # OpenSSL 3 refuses TLS 1.0/1.1 at security level 1 and up; the
        # cipher list lowers it so that only smtpd_tls_*protocols decide.
        return self.relay(
            main={"tls_medium_cipherlist":
                  "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=0"},
            services={
                "legacy": {"smtpd_tls_protocols": ">=TLSv1"},
                "bound": {"smtpd_tls_protocols": ">=TLSv1.2"},
                "excluded": {"smtpd_tls_protocols":
                             "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"},
                "mandatory": {"smtpd_tls_security_level": "encrypt",
                              "smtpd_tls_protocols": ">=TLSv1",
                              "smtpd_tls_mandatory_protocols": ">=TLSv1.3"},
            })

    def tls11(self, port):
        return SClient(port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")

    def test_tls11_accepted_when_allowed(self):
        relay = self.relay_with_protocols()
        s = self.tls11(relay.port("legacy"))
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.protocol, "TLSv1.1")

    def test_tls11_refused_with_lower_bound(self):
        relay = self.relay_with_protocols()
        s = self.tls11(relay.port("bound"))
        self.assertFalse(s.established, s.output)
        s = SClient(relay.port("bound"), "-tls1_2")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.protocol, "TLSv1.2")

    def test_tls11_refused_with_exclusion_list(self):
        relay = self.relay_with_protocols()
        s = self.tls11(relay.port("excluded"))
        self.assertFalse(s.established, s.output)
        s = SClient(relay.port("excluded"), "-tls1_2")
        self.assertTrue(s.established, s.output)

    def test_mandatory_protocols_apply_at_encrypt(self):
        relay = self.relay_with_protocols()
        s = SClient(relay.port("mandatory"), "-tls1_2")
        self.assertFalse(s.established, s.output)
        s = SClient(relay.port("mandatory"), "-tls1_3")
        self.assertTrue(s.established, s.output)
        self.assertEqual(s.protocol, "TLSv1.3")


class LogLineTest(RelayTestCase):

    def test_tls13_log_line(self):
        relay = self.relay()
        s = SClient(relay.port("smtp"), "-tls1_3", "-ciphersuites",
                    "TLS_AES_256_GCM_SHA384")
        self.assertTrue(s.established, s.output)
        relay.wait_log(
            PREFIX + "Anonymous TLS connection established from " + LOCAL +
            r": TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256/256 bits\)$")

    def test_tls12_log_line(self):
        relay = self.relay()
        s = SClient(relay.port("smtp"), "-tls1_2", "-cipher",
                    "ECDHE-RSA-AES128-GCM-SHA256")
        self.assertTrue(s.established, s.output)
        relay.wait_log(
            PREFIX + "Anonymous TLS connection established from " + LOCAL +
            r": TLSv1\.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 "
            r"\(128/128 bits\)$")

    def test_connect_and_disconnect_lines(self):
        relay = self.relay()
        s = SClient(relay.port("smtp"), "-tls1_3")
        self.assertTrue(s.established, s.output)
        relay.wait_log(PREFIX + "connect from " + LOCAL + "$")
        # s_client: EHLO, STARTTLS, then our QUIT.
        relay.wait_log(PREFIX + "disconnect from " + LOCAL +
                       r" ehlo=1 starttls=1 quit=1 commands=3$")



class SessionAfterStartTLSTest(RelayTestCase):
    """An idle session holds no Message-ID scanner (DATA makes one, the end
    of the transaction frees it) and keeps its TLS details from the
    handshake: several transactions on one STARTTLS connection each log
    their own message-id and record the session's cipher."""

    def send(self, client, message):
        self.assertEqual(client.mail("sender@client.test")[0], 250)
        self.assertEqual(client.rcpt("rcpt@example.com")[0], 250)
        code, text = client.data(message)
        self.assertEqual(code, 250, text)
        return re.match(rb"2\.0\.0 Ok: queued as (\S+)$", text).group(1).decode()

    def test_each_transaction_logs_its_own_message_id(self):
        relay = self.relay()
        c = smtplib_client(self, relay.port())
        c.ehlo("client.test")
        c.starttls(context=self.tls())
        c.ehlo("client.test")
        first = self.send(c, b"Message-ID: <first@client.test>\r\n"
                          b"Subject: one\r\n\r\nHello.\r\n")
        # A transaction given up before DATA, then one without the field:
        # nothing of the first one's header may show.
        self.assertEqual(c.mail("sender@client.test")[0], 250)
        self.assertEqual(c.rset()[0], 250)
        second = self.send(c, b"Subject: two\r\n\r\nHello.\r\n")
        third = self.send(c, b"Subject: three\r\nMessage-ID: "
                          b"<third@client.test>\r\n\r\nHello.\r\n")
        # The session still answers once the transactions are over.
        self.assertEqual(c.noop()[0], 250)
        self.assertEqual(c.quit()[0], 221)
        for queue_id, message_id in ((first, "<first@client.test>"),
                                     (second, "<>"),
                                     (third, "<third@client.test>")):
            relay.wait_log(PREFIX + re.escape(queue_id) + ": message-id=" +
                           re.escape(message_id) + "$")
            qf = relay.queue_file(queue_id)
            self.assertRegex(qf.tls, r"^TLSv1\.3 with cipher \S+ "
                             r"\(\d+/\d+ bits\)$")
        relay.wait_log(PREFIX + "disconnect from " + LOCAL + r" ehlo=2 "
                       r"starttls=1 mail=4 rcpt=3 data=3 rset=1 noop=1 "
                       r"quit=1 commands=16$")


class ClientCertificateTest(RelayTestCase):

    def ask_relay(self):
        return self.relay(main={
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_CAfile": self.certs.ca,
            "smtpd_tls_loglevel": "1",
        })

    def session(self, relay, cert=None, key=None):
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls(cert=cert, key=key))
        c.ehlo()
        self.assertReply(c.cmd("QUIT"), 221)

    def test_trusted_client_certificate(self):
        relay = self.ask_relay()
        self.session(relay, self.certs.client, self.certs.client_key)
        relay.wait_log(PREFIX + LOCAL + r": Trusted: subject_CN=client\.test, "
                       r"issuer=tlsrelay test CA")
        relay.wait_log(PREFIX + "Trusted TLS connection established from " +
                       LOCAL + r": TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)$")

    def test_untrusted_client_certificate(self):
        relay = self.ask_relay()
        self.session(relay, self.certs.wrong, self.certs.wrong_key)
        relay.wait_log(PREFIX + "Untrusted TLS connection established from " +
                       LOCAL + r": TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)$")
        self.assertNotIn("Trusted TLS connection", relay.maillog().replace(
            "Untrusted TLS connection", ""))

    def test_no_client_certificate_is_anonymous(self):
        relay = self.ask_relay()
        self.session(relay)
        relay.wait_log(PREFIX + "Anonymous TLS connection established from " +
                       LOCAL + ": ")

    def test_required_client_certificate(self):
        relay = self.relay(main={"smtpd_tls_CAfile": self.certs.ca}, services={
            "submission": {"smtpd_tls_security_level": "encrypt",
                           "smtpd_tls_req_ccert": "yes"}})
        port = relay.port("submission")
        s = SClient(port, "-cert", self.certs.client, "-key",
                    self.certs.client_key)
        self.assertTrue(s.established, s.output)
        # Without a certificate the handshake (or, in TLS 1.3, the first
        # read after it) fails: no EHLO reply ever comes back.
        c = self.client(relay, "submission")
        c.ehlo()
        with self.assertRaises(Exception):
            c.starttls(self.tls())
            c.ehlo()
        relay.wait_log(PREFIX + "Trusted TLS connection established from " +
                       LOCAL + ": ")


if __name__ == "__main__":
    main()
