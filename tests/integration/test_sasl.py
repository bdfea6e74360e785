"""SMTP AUTH with the built-in backend (smtpd_sasl_type = tlsrelay) beyond
test_auth.py: the password check runs off the worker's event loop, so a
deliberately slow hash does not hold up the other sessions of the
worker."""

import crypt
import os
import select
import sys
import time
import warnings

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import RelayTestCase, main  # noqa: E402
from test_auth import plain  # noqa: E402

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


if __name__ == "__main__":
    main()
