"""SMTP AUTH with the built-in backend (smtpd_sasl_type = tlsrelay) beyond
test_auth.py: the password check runs off the worker's event loop, so a
deliberately slow hash does not hold up the other sessions of the
worker; the AUTH= parameter of MAIL FROM (RFC 4954 5); AUTH commands
limited per client over connections (smtpd_client_auth_rate_limit)."""

import crypt
import os
import select
import signal
import sys
import time
import warnings

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import RelayTestCase, main  # noqa: E402
from test_auth import plain  # noqa: E402

PREFIX = r"tlsrelay/smtpd\[\d+\]: "
USER, PASSWORD = "bob", "quick sha-512 password"

SLOW_USER, SLOW_PASSWORD = "slow", "a password hashed at great cost"


def bcrypt_hash(password, cost):
    """A $2b$ hash made by libxcrypt, as tlsrelay will check it; and the
    seconds one check of it takes here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                                    rounds=2 ** cost))
        start = time.monotonic()
        crypt.crypt(password, hashed)
        return hashed, time.monotonic() - start


class OffloadTest(RelayTestCase):

    def test_slow_hash_does_not_stall_other_sessions(self):
        hashed, cost = bcrypt_hash(SLOW_PASSWORD, 14)
        # The measure below needs a hash well above scheduling noise.
        self.assertGreater(cost, 0.2, "bcrypt cost 14 took %.3fs" % cost)
        table = os.path.join(self.tmpdir, "users")
        with open(table, "w") as f:
            f.write("%s %s\n" % (SLOW_USER, hashed))
        # One worker: both sessions share its event loop.
        relay = self.relay(main={
            "tlsrelay_smtpd_workers": "1",
            "smtpd_sasl_auth_enable": "yes",
            "tlsrelay_smtpd_sasl_user_maps": "texthash:" + table,
        })
        other = self.client(relay)
        other.ehlo()
        c = self.client(relay)
        c.ehlo()
        c.send("AUTH PLAIN %s\r\n" % plain(SLOW_USER, SLOW_PASSWORD))
        sent = time.monotonic()
        # While the check runs, the other session is answered promptly,
        # again and again.
        latencies = []
        while not select.select([c.sock], [], [], 0)[0]:
            before = time.monotonic()
            self.assertReply(other.cmd("NOOP"), 250)
            latencies.append(time.monotonic() - before)
        r = c.reply()
        waited = time.monotonic() - sent
        self.assertReply(r, 235, "2.7.0 Authentication successful")
        self.assertGreater(waited, cost / 2, "the check took %.3fs, a hash "
                           "%.3fs" % (waited, cost))
        self.assertGreaterEqual(len(latencies), 5, latencies)
        self.assertLess(max(latencies), cost / 5,
                        "NOOP waited %.3fs during a %.3fs hash"
                        % (max(latencies), cost))
        # The session goes on as before.
        self.assertReply(c.cmd("MAIL FROM:<slow@client.test>"), 250)

    def test_session_gone_during_the_check(self):
        hashed, cost = bcrypt_hash(SLOW_PASSWORD, 13)
        table = os.path.join(self.tmpdir, "users")
        with open(table, "w") as f:
            f.write("%s %s\n" % (SLOW_USER, hashed))
        relay = self.relay(main={
            "tlsrelay_smtpd_workers": "1",
            "smtpd_sasl_auth_enable": "yes",
            "tlsrelay_smtpd_sasl_user_maps": "texthash:" + table,
        })
        c = self.client(relay)
        c.ehlo()
        c.send("AUTH PLAIN %s\r\n" % plain(SLOW_USER, SLOW_PASSWORD))
        c.close()
        relay.wait_log(r"lost connection after AUTH from "
                       r"unknown\[127\.0\.0\.1\]$")
        # The worker carries on; the abandoned check ends quietly (and,
        # under the sanitizers, without a leak at exit).
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN %s" % plain(SLOW_USER, "wrong")),
                         535)
        self.assertReply(c.cmd("AUTH PLAIN %s" % plain(SLOW_USER,
                                                       SLOW_PASSWORD)), 235)


class ShutdownTest(RelayTestCase):

    def test_sigterm_during_the_check(self):
        """A session waiting for its verdict is told 421 at SIGTERM; the
        worker exits while the check runs on (no leak, no crash)."""
        hashed, _ = bcrypt_hash(SLOW_PASSWORD, 14)
        table = os.path.join(self.tmpdir, "users")
        with open(table, "w") as f:
            f.write("%s %s\n" % (SLOW_USER, hashed))
        relay = self.relay(main={
            "tlsrelay_smtpd_workers": "1",
            "smtpd_sasl_auth_enable": "yes",
            "tlsrelay_smtpd_sasl_user_maps": "texthash:" + table,
        })
        c = self.client(relay)
        c.ehlo()
        c.send("AUTH PLAIN %s\r\n" % plain(SLOW_USER, SLOW_PASSWORD))
        # The worker has the line once it is waiting: a NOOP of another
        # session is answered after it.
        other = self.client(relay)
        self.assertReply(other.cmd("NOOP"), 250)
        relay.signal(signal.SIGTERM)
        self.assertReply(c.reply(), 421, "4.3.2 relay.test Service "
                         "shutting down")
        self.assertTrue(c.expect_closed())
        relay.wait_exit()


def sha512_hash(password):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


class AuthParamTestCase(RelayTestCase):

    def table_relay(self, main=None):
        table = os.path.join(self.tmpdir, "users-" + self._testMethodName)
        with open(table, "w") as f:
            f.write("%s %s\n" % (USER, sha512_hash(PASSWORD)))
        settings = {
            "smtpd_sasl_auth_enable": "yes",
            "tlsrelay_smtpd_sasl_user_maps": "texthash:" + table,
        }
        settings.update(main or {})
        return self.relay(main=settings)


class MailAuthParamTest(AuthParamTestCase):

    def test_kept_from_an_authenticated_client(self):
        relay = self.table_relay()
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        queue_id = c.send_message("bob@client.test", ["rcpt@relay.test"],
                                  b"Subject: a\r\n\r\nHi.\r\n",
                                  mail_params=" AUTH=alice+2B1@client.test")
        queue_id = queue_id.text.rsplit(" ", 1)[1]
        relay.wait_log(PREFIX + queue_id + r": client=unknown\[127\.0\.0\.1"
                       r"\], sasl_method=PLAIN, sasl_username=bob, "
                       r"sasl_sender=alice\+1@client\.test$")
        # AUTH=<>: the submitter is not known.
        r = c.send_message("bob@client.test", ["rcpt@relay.test"],
                           b"Subject: b\r\n\r\nHi.\r\n",
                           mail_params=" AUTH=<>")
        queue_id = r.text.rsplit(" ", 1)[1]
        relay.wait_log(PREFIX + queue_id + r": client=unknown\[127\.0\.0\.1"
                       r"\], sasl_method=PLAIN, sasl_username=bob$")

    def test_dropped_from_others_and_checked(self):
        relay = self.table_relay()
        c = self.client(relay)
        c.ehlo()
        r = c.send_message("eve@client.test", ["rcpt@relay.test"],
                           b"Subject: c\r\n\r\nHi.\r\n",
                           mail_params=" AUTH=bob@client.test")
        queue_id = r.text.rsplit(" ", 1)[1]
        relay.wait_log(PREFIX + queue_id + r": client=unknown\[127\.0\.0\.1"
                       r"\]$")
        self.assertNotIn("sasl_sender", relay.maillog())
        self.assertReply(c.cmd("MAIL FROM:<eve@client.test> AUTH=a+0Ab"),
                         501, "5.5.4 Bad AUTH parameter syntax")
        self.assertReply(c.cmd("MAIL FROM:<eve@client.test> AUTH=" +
                               "x" * 257), 501,
                         "5.5.4 Bad AUTH parameter syntax")


class AuthRateTest(AuthParamTestCase):

    def test_auth_commands_limited_per_client(self):
        # 127.0.0.2 is outside mynetworks, and so outside
        # smtpd_client_event_limit_exceptions.
        relay = self.table_relay(main={"smtpd_client_auth_rate_limit": "2"})
        c = self.client(relay, source="127.0.0.2")
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, "wrong")), 535)
        c.close()
        # Counted over connections (and workers).
        c = self.client(relay, source="127.0.0.2")
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, "wrong")), 535)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 450,
                         "4.7.1 Error: too many AUTH commands from "
                         "127.0.0.2")
        relay.wait_log(PREFIX + r"warning: AUTH command rate limit "
                       r"exceeded: 3 from unknown\[127\.0\.0\.2\] for "
                       r"service 127\.0\.0\.1:\d+$")
        # Refused before the backend: no third failure logged.
        self.assertEqual(relay.maillog().count("authentication failed"), 2)
        # Another client, and one in mynetworks, are not held back.
        c = self.client(relay, source="127.0.0.3")
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        for _ in range(3):
            c = self.client(relay)
            c.ehlo()
            self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)),
                             235)

    def test_no_limit_by_default(self):
        relay = self.table_relay()
        for _ in range(4):
            c = self.client(relay, source="127.0.0.2")
            c.ehlo()
            self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, "wrong")),
                             535)


if __name__ == "__main__":
    main()
