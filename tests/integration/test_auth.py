"""SMTP AUTH on the submission (STARTTLS, 587) and smtps (implicit TLS, 465)
services as mail programs use them: swaks and smtplib with PLAIN and LOGIN,
`tlsrelay passwd` while the daemon runs, AUTH refused before STARTTLS,
relay only for authenticated clients, sender login mismatch, the failure
limit and its log lines, and relay by client certificate fingerprint with
openssl s_client."""

import base64
import hashlib
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import relaytest  # noqa: E402
from relaytest import (TLSRELAY, RelayTestCase, SClient, main,  # noqa: E402
                       openssl, queued_id, require_program, run_tool,
                       smtplib_client, swaks, unfold)

PREFIX = r"tlsrelay/smtpd\[\d+\]: "
LOCAL = r"unknown\[127\.0\.0\.1\]"
USER, PASSWORD = "bob", "correct horse battery"
OTHER, OTHER_PASSWORD = "carol", "staple 42"
RCPT = "someone@elsewhere.test"     # not a relay domain: relaying

# fail2ban's postfix filter (mode auth), applied to the text after
# "warning: ": a failed login must be found with the client's address.
FAIL2BAN = (r"^[^[]*\[(?P<host>[^\]]+)\](?::\d+)?: SASL "
            r"(?i:LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:"
            r"(?! Connection lost to authentication server| Invalid "
            r"authentication mechanism)")

# Postfix's sample master.cf submission and smtps services.
CLIENT_ONLY_AUTH = {
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_client_restrictions": "permit_sasl_authenticated,reject",
    "smtpd_relay_restrictions": "permit_sasl_authenticated,reject",
}


def services():
    return {
        "smtp": {},
        "submission": dict(CLIENT_ONLY_AUTH,
                           smtpd_tls_security_level="encrypt"),
        "smtps": dict(CLIENT_ONLY_AUTH, smtpd_tls_wrappermode="yes"),
    }


def plain(user, password, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, password))
                            .encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


def fingerprint(cert):
    """The certificate's SHA-256 fingerprint as openssl prints it."""
    out = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in",
                  cert).decode()
    return out.strip().split("=", 1)[1]


def pkey_fingerprint(cert):
    """SHA-256 of the DER SubjectPublicKeyInfo, colon-separated."""
    pem = openssl("x509", "-noout", "-pubkey", "-in", cert)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pem, stdout=subprocess.PIPE, check=True,
                         timeout=30).stdout
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class AuthTestCase(RelayTestCase):

    def passwd(self, relay, user, password=None, delete=False):
        """tlsrelay passwd; returns (status, output)."""
        require_program(TLSRELAY)
        args = [TLSRELAY, "passwd", "-c", relay.dir]
        if delete:
            args.append("-d")
        args.append(user)
        return run_tool(args, input=None if password is None else
                        (password + "\n").encode())

    def auth_relay(self, main=None, svc=None, users=((USER, PASSWORD),),
                   start=True, **kw):
        settings = {
            "tlsrelay_smtpd_sasl_user_maps": "hash:" + os.path.join(
                self.tmpdir, "users-%s" % self._testMethodName),
        }
        settings.update(main or {})
        relay = self.relay(main=settings, services=svc or services(),
                           start=False, **kw)
        for user, password in users:
            status, out = self.passwd(relay, user, password)
            self.assertEqual(status, 0, out)
        if start:
            relay.start()
        return relay

    def tls_client(self, relay, service):
        """A RawSMTP that has said EHLO under TLS on service; the reply is
        in its ehlo_reply."""
        if service == "smtps":
            c = self.client(relay, service, implicit_tls=self.tls())
        else:
            c = self.client(relay, service)
            c.ehlo()
            c.starttls(self.tls())
        c.ehlo_reply = c.ehlo()
        return c

    def ehlo_auth(self, reply):
        for text in reply.texts[1:]:
            if text.upper().startswith("AUTH "):
                return text[5:].split()
        return None


class SubmissionTest(AuthTestCase):

    def check_submission(self, relay, queue_id, method, user=USER):
        qf = relay.queue_file(queue_id)
        self.assertEqual(qf.recipients, [RCPT])
        relay.wait_log(PREFIX + re.escape(queue_id) + ": client=" + LOCAL +
                       ", sasl_method=" + method + ", sasl_username=" +
                       user + "$")
        received = unfold(qf.received)
        self.assertIn(" with ESMTPSA id " + queue_id, received)
        self.assertNotIn("Authenticated sender", received)
        return qf

    def test_swaks_plain_and_login_over_starttls(self):
        relay = self.auth_relay()
        for method in ("PLAIN", "LOGIN"):
            status, out = swaks(
                relay.port("submission"), "--from", "bob@client.test",
                "--to", RCPT, "--helo", "client.test", "-tls",
                "--auth", method, "--auth-user", USER,
                "--auth-password", PASSWORD)
            self.assertEqual(status, 0, out)
            self.assertIn("<~  235 2.7.0 Authentication successful", out)
            m = re.search(r"<~  250 2\.0\.0 Ok: queued as (\S+)", out)
            self.assertIsNotNone(m, out)
            self.check_submission(relay, m.group(1), method)

    def test_swaks_plain_and_login_over_implicit_tls(self):
        relay = self.auth_relay()
        for method in ("PLAIN", "LOGIN"):
            status, out = swaks(
                relay.port("smtps"), "--from", "bob@client.test",
                "--to", RCPT, "--helo", "client.test", "--tls-on-connect",
                "--auth", method, "--auth-user", USER,
                "--auth-password", PASSWORD)
            self.assertEqual(status, 0, out)
            m = re.search(r"<~  250 2\.0\.0 Ok: queued as (\S+)", out)
            self.assertIsNotNone(m, out)
            self.check_submission(relay, m.group(1), method)

    def test_smtplib_login_starttls_and_ssl(self):
        relay = self.auth_relay()
        c = smtplib_client(self, relay.port("submission"))
        c.ehlo("client.test")
        c.starttls(context=self.tls())
        c.ehlo("client.test")
        self.assertEqual(c.esmtp_features.get("auth").split(),
                         ["PLAIN", "LOGIN"])
        code, text = c.login(USER, PASSWORD)     # PLAIN, smtplib's choice
        self.assertEqual((code, text), (235, b"2.7.0 Authentication "
                                             b"successful"))
        c.sendmail("bob@client.test", [RCPT], self.message())
        c.quit()

        c = smtplib_client(self, relay.port("smtps"), implicit_tls=self.tls())
        c.ehlo("client.test")
        # LOGIN with the user name as initial response, as smtplib does.
        c.user, c.password = USER, PASSWORD
        code, _ = c.auth("LOGIN", c.auth_login)
        self.assertEqual(code, 235)
        c.sendmail("bob@client.test", [RCPT], self.message())
        c.quit()
        ids = relay.queue_ids()
        self.assertEqual(len(ids), 2)
        methods = sorted(re.search(r"sasl_method=(\w+)", l).group(1) for l in
                         relay.wait_log(r"sasl_username=bob$", count=2))
        self.assertEqual(methods, ["LOGIN", "PLAIN"])
        relay.wait_log(PREFIX + "disconnect from " + LOCAL +
                       " ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 "
                       "quit=1 commands=8$")

    def test_authenticated_sender_header_on_request(self):
        relay = self.auth_relay(main={
            "smtpd_sasl_authenticated_header": "yes"})
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        queue_id = queued_id(c.send_message("bob@client.test", [RCPT],
                                            self.message()))
        received = unfold(relay.queue_file(queue_id).received)
        self.assertIn("(Authenticated sender: bob)", received)
        self.assertIn(" with ESMTPSA id ", received)

    def test_passwd_while_running(self):
        relay = self.auth_relay()
        # A user added while the daemon runs can log in at once...
        status, out = self.passwd(relay, OTHER, OTHER_PASSWORD)
        self.assertEqual(status, 0, out)
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(OTHER, OTHER_PASSWORD)),
                         235, "2.7.0 Authentication successful")
        c.cmd("QUIT")
        # ... a changed password replaces the old one ...
        status, out = self.passwd(relay, OTHER, "new " + OTHER_PASSWORD)
        self.assertEqual(status, 0, out)
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(OTHER, OTHER_PASSWORD)),
                         535)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(OTHER, "new " +
                                                     OTHER_PASSWORD)), 235)
        c.cmd("QUIT")
        # ... and a removed one is gone; the others stay.
        status, out = self.passwd(relay, OTHER, delete=True)
        self.assertEqual(status, 0, out)
        status, out = self.passwd(relay, OTHER, delete=True)
        self.assertEqual(status, 1, out)
        self.assertIn("no user carol", out)
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(OTHER, "new " +
                                                     OTHER_PASSWORD)), 535)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        c.cmd("QUIT")
        # The table file holds hashes only, readable by root and the
        # daemon's group; the password never appears.
        table = relay.main["tlsrelay_smtpd_sasl_user_maps"][len("hash:"):]
        with open(table) as f:
            text = f.read()
        self.assertRegex(text, r"^bob \$y\$\S+\n$")
        self.assertNotIn(PASSWORD, text)
        self.assertEqual(os.stat(table).st_mode & 0o777, 0o640)
        self.assertEqual(os.stat(table + ".db").st_mode & 0o777, 0o640)
        self.assertNotIn(PASSWORD, relay.maillog())


class RefusalTest(AuthTestCase):

    def test_auth_not_offered_or_accepted_before_starttls(self):
        relay = self.auth_relay(main={"smtpd_sasl_auth_enable": "yes",
                                      "smtpd_tls_auth_only": "yes"},
                                svc={"smtp": {}, "submission": dict(
                                    CLIENT_ONLY_AUTH,
                                    smtpd_tls_security_level="encrypt")})
        # Level may with smtpd_tls_auth_only: not offered, refused.
        c = self.client(relay)
        self.assertIsNone(self.ehlo_auth(c.ehlo()))
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 504,
                         "5.5.4 Encryption required for requested "
                         "authentication mechanism")
        c.starttls(self.tls())
        self.assertEqual(self.ehlo_auth(c.ehlo()), ["PLAIN", "LOGIN"])
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        # Level encrypt: STARTTLS comes first.
        c = self.client(relay, "submission")
        self.assertIsNone(self.ehlo_auth(c.ehlo()))
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 530,
                         "5.7.0 Must issue a STARTTLS command first")
        self.assertNotIn(PASSWORD, relay.maillog())

    def test_noplaintext_without_tls(self):
        relay = self.auth_relay(main={
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_security_options": "noanonymous, noplaintext",
            "smtpd_sasl_tls_security_options": "noanonymous"},
            svc={"smtp": {}})
        c = self.client(relay)
        self.assertIsNone(self.ehlo_auth(c.ehlo()))
        self.assertReply(c.cmd("AUTH LOGIN"), 504, "5.5.4 Encryption "
                         "required")
        c.starttls(self.tls())
        self.assertEqual(self.ehlo_auth(c.ehlo()), ["PLAIN", "LOGIN"])

    def test_auth_disabled(self):
        relay = self.auth_relay(svc={"smtp": {}})
        c = self.tls_client(relay, "smtp")
        self.assertIsNone(self.ehlo_auth(c.ehlo_reply))
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503,
                         "5.5.1 Error: authentication not enabled")

    def test_unauthenticated_relay_denied_on_submission(self):
        relay = self.auth_relay()
        for service in ("submission", "smtps"):
            c = self.tls_client(relay, service)
            self.assertReply(c.cmd("MAIL FROM:<bob@client.test>"), 250)
            r = c.cmd("RCPT TO:<%s>" % RCPT)
            self.assertReply(r, 554, "5.7.1 <unknown[127.0.0.1]>: Client "
                             "host rejected: Access denied")
            # Not even to a local domain: submission is for users.
            r = c.cmd("RCPT TO:<postmaster@relay.test>")
            self.assertEqual(r.code, 554, r)
        self.assertEqual(relay.queue_ids(), [])

    def test_protocol_errors(self):
        relay = self.auth_relay()
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH"), 501, "5.5.4 Syntax: AUTH mechanism")
        self.assertReply(c.cmd("AUTH CRAM-MD5"), 504, "5.5.4 Unsupported "
                         "authentication mechanism")
        self.assertReply(c.cmd("AUTH PLAIN not-base64!"), 501,
                         "5.5.2 Cannot decode response")
        # The client gives up in the middle.
        self.assertReply(c.cmd("AUTH LOGIN"), 334, "VXNlcm5hbWU6")
        self.assertReply(c.cmd(b64(USER)), 334, "UGFzc3dvcmQ6")
        self.assertReply(c.cmd("*"), 501, "5.7.0 Authentication aborted")
        # An over-long response line.
        self.assertReply(c.cmd("AUTH PLAIN"), 334)
        self.assertReply(c.cmd("A" * 4000), 500, "5.5.6 Authentication "
                         "exchange line is too long")
        # PLAIN with the response on its own line, lower-case name.
        self.assertReply(c.cmd("auth plain"), 334)
        self.assertReply(c.cmd(plain(USER, PASSWORD)), 235)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503,
                         "5.5.1 Error: already authenticated")
        self.assertReply(c.cmd("MAIL FROM:<bob@client.test>"), 250)
        c2 = self.tls_client(relay, "submission")
        self.assertReply(c2.cmd("MAIL FROM:<bob@client.test>"), 250)
        self.assertReply(c2.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503,
                         "5.5.1 Error: MAIL transaction in progress")
        relay.wait_log(PREFIX + "warning: " + LOCAL + ": SASL LOGIN "
                       "authentication aborted$")
        self.assertNotIn(PASSWORD, relay.maillog())

    def test_plain_authzid(self):
        relay = self.auth_relay(
            users=((USER, PASSWORD), (OTHER, OTHER_PASSWORD)))
        c = self.tls_client(relay, "submission")
        # Acting for another user needs proxy rights nobody has here.
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD,
                                                     authzid=OTHER)), 535)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD,
                                                     authzid=USER)), 235)

    def test_sender_login_mismatch(self):
        relay = self.auth_relay(
            users=((USER, PASSWORD), (OTHER, OTHER_PASSWORD)),
            main={"smtpd_sender_login_maps": "inline:{ bob@client.test=bob, "
                  "@carol.test=carol }",
                  "smtpd_sender_restrictions":
                      "reject_sender_login_mismatch"})
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(OTHER, OTHER_PASSWORD)),
                         235)
        self.assertReply(c.cmd("MAIL FROM:<bob@client.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 553,
                         "5.7.1 <bob@client.test>: Sender address rejected: "
                         "not owned by user carol")
        self.assertReply(c.cmd("RSET"), 250)
        queue_id = queued_id(c.send_message("anything@carol.test", [RCPT],
                                            self.message()))
        self.assertIn(queue_id, relay.queue_ids())
        relay.wait_log(r"NOQUEUE: reject: RCPT from " + LOCAL + r": 553 "
                       r"5\.7\.1 <bob@client\.test>: Sender address rejected:"
                       r" not owned by user carol; from=<bob@client\.test> "
                       r"to=<someone@elsewhere\.test> proto=ESMTPS "
                       r"helo=<client\.test>$")


class VerboseLogTest(AuthTestCase):

    def test_no_secrets_with_verbose_logging(self):
        # tlsrelayd -v, through a wrapper the harness starts instead.
        wrapper = os.path.join(self.tmpdir, "tlsrelayd-v")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s -v \"$@\"\n" % relaytest.TLSRELAYD)
        os.chmod(wrapper, 0o755)
        self.addCleanup(setattr, relaytest, "TLSRELAYD", relaytest.TLSRELAYD)
        relaytest.TLSRELAYD = wrapper
        relay = self.auth_relay()
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        c = self.tls_client(relay, "submission")
        self.assertReply(c.cmd("AUTH LOGIN"), 334)
        self.assertReply(c.cmd(b64(USER)), 334)
        self.assertReply(c.cmd(b64(PASSWORD)), 235)
        c.cmd("QUIT")
        # The dialogue is logged, the secrets are not.
        relay.wait_log(r"< " + LOCAL + r": AUTH PLAIN \*{8}$")
        relay.wait_log(r"< " + LOCAL + r": \*{8}$", count=2)
        log = relay.maillog() + relay.stderr()
        for secret in (PASSWORD, plain(USER, PASSWORD), b64(PASSWORD)):
            self.assertNotIn(secret, log)


class FailureTest(AuthTestCase):

    def test_wrong_passwords_and_the_limit(self):
        relay = self.auth_relay()
        c = self.tls_client(relay, "submission")
        attempts = ["AUTH PLAIN " + plain(USER, "wrong"),
                    "AUTH PLAIN " + plain("nosuchuser", PASSWORD)]
        for line in attempts:
            self.assertReply(c.cmd(line), 535, "5.7.8 Error: authentication "
                             "failed: authentication failure")
        # The third failure, by LOGIN, reaches the default limit of 3.
        self.assertReply(c.cmd("AUTH LOGIN " + b64(USER)), 334)
        self.assertReply(c.cmd(b64("also wrong")), 535)
        self.assertReply(c.reply(), 421, "4.7.0 relay.test Error: too many "
                         "authentication failures")
        self.assertTrue(c.expect_closed())
        # Logged for fail2ban, with the client address, without secrets.
        lines = relay.wait_log(PREFIX + "warning: " + LOCAL + ": SASL "
                               r"(PLAIN|LOGIN) authentication failed: "
                               r"authentication failure, sasl_username=",
                               count=3)
        for line in lines:
            text = line.split(": warning: ", 1)[1]
            m = re.match(FAIL2BAN, text)
            self.assertIsNotNone(m, text)
            self.assertEqual(m.group("host"), "127.0.0.1")
        self.assertIn("sasl_username=nosuchuser", "\n".join(lines))
        relay.wait_log(PREFIX + "too many authentication failures after "
                       "AUTH from " + LOCAL + "$")
        relay.wait_log(PREFIX + "disconnect from " + LOCAL +
                       " ehlo=2 starttls=1 auth=0/3 commands=3/6$")
        log = relay.maillog()
        for secret in (PASSWORD, "also wrong"):
            self.assertNotIn(secret, log)

    def test_limit_from_configuration(self):
        relay = self.auth_relay(main={
            "tlsrelay_smtpd_auth_failure_limit": "1"})
        c = self.tls_client(relay, "smtps")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, "nope")), 535)
        self.assertReply(c.reply(), 421)
        self.assertTrue(c.expect_closed())


class ClientCertificateTest(AuthTestCase):

    def cert_relay(self, listed):
        """A relay that lets certificates listed in relay_clientcerts
        relay, and nobody else."""
        table = os.path.join(self.tmpdir, "ccerts-%s" %
                             self._testMethodName)
        with open(table, "w") as f:
            f.write("# listed clients\n")
            for value in listed:
                f.write("%s %s\n" % (value, "client"))
        return self.relay(main={
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_CAfile": self.certs.ca,
            "relay_clientcerts": "texthash:" + table,
            "smtpd_relay_restrictions": "permit_tls_clientcerts, "
                                        "reject_unauth_destination",
        }, services={"smtp": {}})

    def relay_attempt(self, relay, cert=None, key=None):
        args = ["-cert", cert, "-key", key] if cert else []
        s = SClient(relay.port(), *args, input=(
            "EHLO client.test\nMAIL FROM:<a@client.test>\n"
            "RCPT TO:<%s>\nQUIT\n" % RCPT).encode())
        self.assertTrue(s.established, s.output)
        if "250 2.1.5 Ok" in s.output:
            return True
        self.assertIn("554 5.7.1 <%s>: Relay access denied" % RCPT, s.output)
        return False

    def test_listed_certificate_may_relay(self):
        relay = self.cert_relay([fingerprint(self.certs.client)])
        self.assertTrue(self.relay_attempt(relay, self.certs.client,
                                           self.certs.client_key))
        self.assertFalse(self.relay_attempt(relay, self.certs.wrong,
                                            self.certs.wrong_key))
        self.assertFalse(self.relay_attempt(relay))

    def test_listed_public_key_may_relay(self):
        # Postfix also looks up the public key's fingerprint, which
        # survives a renewal of the certificate; lower case works too.
        relay = self.cert_relay([pkey_fingerprint(self.certs.wrong).lower()])
        self.assertTrue(self.relay_attempt(relay, self.certs.wrong,
                                           self.certs.wrong_key))
        self.assertFalse(self.relay_attempt(relay, self.certs.client,
                                            self.certs.client_key))

    def test_md5_digest(self):
        out = openssl("x509", "-noout", "-fingerprint", "-md5", "-in",
                      self.certs.client).decode()
        relay = self.relay(main={
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_fingerprint_digest": "md5",
            "relay_clientcerts": "inline:{ %s=client }" %
                                 out.strip().split("=", 1)[1],
            "smtpd_relay_restrictions": "permit_tls_clientcerts, "
                                        "reject_unauth_destination",
        }, services={"smtp": {}})
        self.assertTrue(self.relay_attempt(relay, self.certs.client,
                                           self.certs.client_key))


if __name__ == "__main__":
    main()
