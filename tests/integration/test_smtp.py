"""The SMTP dialogue: full transactions with swaks and smtplib, PIPELINING,
STARTTLS rules (incl. CVE-2011-0411), relay control, limits, timeouts and
Postfix's reply codes."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (RawSMTP, RelayTestCase, free_port,  # noqa: E402
                       main, queued_id, smtplib_client, swaks)

PREFIX = r"tlsrelay/smtpd\[\d+\]: "
LOCAL = r"unknown\[127\.0\.0\.1\]"
SENDER = "sender@client.test"
RCPT = "rcpt@example.com"


def ehlo_keywords(reply):
    return [t.split()[0].upper() for t in reply.texts[1:] if t.strip()]


class TransactionTest(RelayTestCase):

    def check_queued(self, relay, queue_id, message=None, protocol="ESMTPS"):
        self.assertIn(queue_id, relay.queue_ids())
        qf = relay.queue_file(queue_id)
        self.assertEqual(qf.sender, SENDER)
        self.assertEqual(qf.recipients, [RCPT])
        self.assertEqual(qf.client_addr, "127.0.0.1")
        self.assertEqual(qf.protocol, protocol)
        if protocol.startswith("ESMTPS"):
            self.assertRegex(qf.tls, r"^TLSv1\.[23] with cipher \S+ "
                             r"\(\d+/\d+ bits\)$")
        if message is not None:
            self.assertEqual(qf.message, message)
        self.assertEqual(relay.queue_ids("tmp"), [])
        return qf

    def check_logged(self, relay, qf, counts):
        relay.wait_log(PREFIX + re.escape(qf.id) + ": client=" + LOCAL + "$")
        # Postfix's cleanup line: the message's own Message-ID, or <>.
        m = re.search(rb"^Message-Id:[ \t]*(.*?)\r?$", qf.message,
                      re.IGNORECASE | re.MULTILINE)
        message_id = m.group(1).decode() if m else "<>"
        relay.wait_log(PREFIX + re.escape(qf.id) + ": message-id=" +
                       re.escape(message_id) + "$")
        relay.wait_log(PREFIX + "disconnect from " + LOCAL + " " +
                       re.escape(counts) + "$")

    def test_swaks_over_starttls(self):
        relay = self.relay()
        status, out = swaks(relay.port(), "--from", SENDER, "--to", RCPT,
                            "--helo", "client.test", "-tls", "--tls-verify",
                            "--tls-ca-path", self.certs.ca)
        self.assertEqual(status, 0, out)
        self.assertIn("TLS started with cipher TLSv1.3", out)
        m = re.search(r"<~  250 2\.0\.0 Ok: queued as (\S+)", out)
        self.assertTrue(m, out)
        qf = self.check_queued(relay, m.group(1))
        self.assertIn(b"X-Mailer: swaks", qf.message)
        self.check_logged(relay, qf, "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 "
                          "quit=1 commands=7")
        relay.wait_log(PREFIX + "connect from " + LOCAL + "$")
        relay.wait_log(PREFIX + "Anonymous TLS connection established from " +
                       LOCAL + r": TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)$")

    def test_smtplib_over_starttls(self):
        relay = self.relay()
        msg = self.message("smtplib starttls")
        s = smtplib_client(self, relay.port())
        s.ehlo("client.test")
        self.assertTrue(s.has_extn("starttls"))
        s.starttls(context=self.tls())
        s.ehlo("client.test")
        self.assertFalse(s.has_extn("starttls"))
        code, text = s.mail(SENDER)
        self.assertEqual(code, 250)
        self.assertEqual(s.rcpt(RCPT)[0], 250)
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        queue_id = re.match(rb"2\.0\.0 Ok: queued as (\S+)$", text).group(1)
        self.assertEqual(s.quit()[0], 221)
        qf = self.check_queued(relay, queue_id.decode(), msg)
        self.check_logged(relay, qf, "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 "
                          "quit=1 commands=7")

    def test_smtplib_over_implicit_tls(self):
        relay = self.relay()
        msg = self.message("smtplib wrappermode")
        s = smtplib_client(self, relay.port("smtps"), implicit_tls=self.tls())
        s.ehlo("client.test")
        self.assertFalse(s.has_extn("starttls"))
        self.assertEqual(s.sendmail(SENDER, [RCPT], msg), {})
        self.assertEqual(s.quit()[0], 221)
        ids = relay.queue_ids()
        self.assertEqual(len(ids), 1)
        qf = self.check_queued(relay, ids[0], msg)
        self.check_logged(relay, qf, "ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
                          "commands=5")

    def test_swaks_over_implicit_tls(self):
        relay = self.relay()
        status, out = swaks(relay.port("smtps"), "--from", SENDER, "--to",
                            RCPT, "--tls-on-connect")
        self.assertEqual(status, 0, out)
        self.assertEqual(len(relay.queue_ids()), 1)

    def test_greeting_and_ehlo(self):
        relay = self.relay()
        c = self.client(relay)
        self.assertEqual(c.greeting.lines, ["220 relay.test ESMTP tlsrelay"])
        r = c.ehlo()
        self.assertEqual(r.lines[0], "250-relay.test")
        kw = ehlo_keywords(r)
        for k in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
                  "STARTTLS"):
            self.assertIn(k, kw)
        self.assertIn("SIZE 10240000", r.texts)
        c.starttls(self.tls())
        r = c.ehlo()
        self.assertNotIn("STARTTLS", ehlo_keywords(r))
        r = c.cmd("HELO client.test")
        self.assertEqual(r.lines, ["250 relay.test"])


class StartTLSRulesTest(RelayTestCase):

    def test_encrypt_requires_starttls(self):
        relay = self.relay()
        c = self.client(relay, "submission")
        c.ehlo()
        for cmd in ("MAIL FROM:<%s>" % SENDER, "RCPT TO:<%s>" % RCPT, "DATA"):
            self.assertReply(c.cmd(cmd), 530,
                             "5.7.0 Must issue a STARTTLS command first")
        c.starttls(self.tls())
        c.ehlo()
        r = c.send_message(SENDER, [RCPT], self.message())
        queued_id(r)

    def test_starttls_with_argument(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS now"), 501, "5.5.4")
        c.starttls(self.tls())
        c.ehlo()

    def test_starttls_inside_tls(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS"), 554,
                         "5.5.1 Error: TLS already active")
        c = self.client(relay, "smtps", implicit_tls=self.tls())
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS"), 554,
                         "5.5.1 Error: TLS already active")

    def test_starttls_at_level_none(self):
        relay = self.relay(main={"smtpd_tls_security_level": "none"},
                           services={"smtp": {}})
        c = self.client(relay)
        self.assertNotIn("STARTTLS", ehlo_keywords(c.ehlo()))
        self.assertReply(c.cmd("STARTTLS"), 502, "5.5.1")

    def test_plaintext_after_starttls_is_discarded(self):
        # CVE-2011-0411: commands sent with STARTTLS in one write must not
        # be executed inside the TLS session.
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.send(b"STARTTLS\r\nRSET\r\n")
        self.assertReply(c.reply(), 220)
        c.tls_after_220(self.tls())
        r = c.cmd("EHLO client.test")
        self.assertEqual(r.lines[0], "250-relay.test", r)
        self.assertReply(c.cmd("NOOP"), 250)

    def test_injected_mail_after_starttls_is_discarded(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\n")
        self.assertReply(c.reply(), 220)
        c.tls_after_220(self.tls())
        c.ehlo()
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 503,
                         "5.5.1 Error: need MAIL command")

    def test_ehlo_required_again_after_starttls(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls())
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 503,
                         "5.5.1 Error: send HELO/EHLO first")


class PipeliningTest(RelayTestCase):

    def pipelined(self, c):
        c.ehlo()
        msg1, msg2 = self.message("one"), self.message("two")
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<other@example.com>"
               "\r\nDATA\r\n" % (SENDER, RCPT))
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 354)
        # The end of one message and the next transaction in one write.
        c.send(msg1 + b".\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (
            SENDER.encode(), RCPT.encode()))
        id1 = queued_id(c.reply())
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 354)
        c.send(msg2 + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        id2 = queued_id(c.reply())
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 221)
        return id1, id2, msg1, msg2

    def check(self, relay, ids):
        id1, id2, msg1, msg2 = ids
        q1, q2 = relay.queue_file(id1), relay.queue_file(id2)
        self.assertEqual(q1.recipients, [RCPT, "other@example.com"])
        self.assertEqual(q1.message, msg1)
        self.assertEqual(q2.recipients, [RCPT])
        self.assertEqual(q2.message, msg2)

    def test_pipelining_plaintext(self):
        relay = self.relay()
        self.check(relay, self.pipelined(self.client(relay)))

    def test_pipelining_inside_tls(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls())
        self.check(relay, self.pipelined(c))


class RelayControlTest(RelayTestCase):

    def outside(self, relay):
        c = self.client(relay, source="127.0.0.2")
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        return c

    def test_default_defers_unauthorised_relay(self):
        relay = self.relay()
        c = self.outside(relay)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 454,
                         "4.7.1 <%s>: Relay access denied" % RCPT)
        relay.wait_log(
            PREFIX + re.escape(
                "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 454 4.7.1 "
                "<%s>: Relay access denied; from=<%s> to=<%s> proto=ESMTP "
                "helo=<client.test>" % (RCPT, SENDER, RCPT)) + "$")
        # The same recipient from inside mynetworks is relayed.
        c = self.client(relay)
        c.ehlo()
        queued_id(c.send_message(SENDER, [RCPT], self.message()))

    def test_reject_unauth_destination(self):
        relay = self.relay(main={"smtpd_relay_restrictions":
                                 "permit_mynetworks, reject_unauth_destination"})
        c = self.outside(relay)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 554,
                         "5.7.1 <%s>: Relay access denied" % RCPT)
        relay.wait_log(
            PREFIX + re.escape(
                "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 "
                "<%s>: Relay access denied; from=<%s> to=<%s> proto=ESMTP "
                "helo=<client.test>" % (RCPT, SENDER, RCPT)) + "$")
        self.assertEqual(relay.queue_ids(), [])

    def test_empty_relay_restrictions_use_recipient_restrictions(self):
        relay = self.relay(main={
            "smtpd_relay_restrictions": "",
            "smtpd_recipient_restrictions":
                "permit_mynetworks, reject_unauth_destination"})
        c = self.outside(relay)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 554, "5.7.1")

    def test_relay_domains(self):
        relay = self.relay(main={"relay_domains": "example.net"})
        c = self.outside(relay)
        for rcpt, code in (("a@example.net", 250), ("b@sub.example.net", 250),
                           ("c@EXAMPLE.NET", 250), ("d@example.com", 454),
                           ("e@notexample.net", 454),
                           ("f@example.net.attacker.test", 454)):
            self.assertReply(c.cmd("RCPT TO:<%s>" % rcpt), code)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(self.message() + b".\r\n")
        qf = relay.queue_file(queued_id(c.reply()))
        self.assertEqual(qf.recipients, ["a@example.net", "b@sub.example.net",
                                         "c@EXAMPLE.NET"])
        self.assertEqual(qf.client_addr, "127.0.0.2")

    ROUTED = ("user%evil.example@example.net",
              '"user@evil.example"@example.net',
              "user!evil.example@example.net",
              "evil.example!user@example.net")

    def test_sender_routing_refused_from_outside(self):
        """A local part that routes on (user%host, user!host, a quoted
        "user@host") to relay_domains is relaying for anyone if the next
        hop honours it: refused from untrusted clients, as Postfix's
        allow_untrusted_routing = no does; plain addresses still pass."""
        relay = self.relay(main={"relay_domains": "example.net"})
        c = self.outside(relay)
        for rcpt in self.ROUTED:
            with self.subTest(rcpt=rcpt):
                self.assertReply(c.cmd("RCPT TO:<%s>" % rcpt), 454,
                                 "4.7.1")
        self.assertReply(c.cmd("RCPT TO:<user@example.net>"), 250)

    def test_sender_routing_allowed_when_configured_or_trusted(self):
        relay = self.relay(main={"relay_domains": "example.net",
                                 "allow_untrusted_routing": "yes"})
        c = self.outside(relay)
        for rcpt in self.ROUTED:
            self.assertReply(c.cmd("RCPT TO:<%s>" % rcpt), 250)
        # With the default, a client in mynetworks is trusted anyway.
        relay = self.relay(main={"relay_domains": "example.net"})
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        for rcpt in self.ROUTED:
            self.assertReply(c.cmd("RCPT TO:<%s>" % rcpt), 250)
        # allow_percent_hack = no and swap_bangpath = no: '%' and '!' are
        # ordinary characters, not routing.
        relay = self.relay(main={"relay_domains": "example.net",
                                 "allow_percent_hack": "no",
                                 "swap_bangpath": "no"})
        c = self.outside(relay)
        self.assertReply(c.cmd("RCPT TO:<%s>" % self.ROUTED[0]), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % self.ROUTED[2]), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % self.ROUTED[1]), 454)

    def test_recipient_overshoot(self):
        """1,100 pipelined RCPTs: the first 1,000 (smtpd_recipient_limit)
        get 250, the rest 452 without counting as errors up to
        smtpd_recipient_overshoot_limit, and the transaction goes on with
        the 1,000 instead of ending in 421 after 20."""
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        rcpts = ["r%d@example.com" % i for i in range(1100)]
        c.send(("MAIL FROM:<%s>\r\n" % SENDER).encode() + b"".join(
            ("RCPT TO:<%s>\r\n" % r).encode() for r in rcpts))
        self.assertReply(c.reply(), 250)
        codes = [c.reply().code for _ in rcpts]
        self.assertEqual(codes, [250] * 1000 + [452] * 100)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(self.message() + b".\r\n")
        qf = relay.queue_file(queued_id(c.reply()))
        self.assertEqual(qf.recipients, rcpts[:1000])

    def test_trailing_dot_normalised(self):
        """<user@example.net.> is the domain example.net: accepted as
        such and queued without the dot, as Postfix does, so that the
        next hop does not answer 553 and bounce to a forged sender."""
        relay = self.relay(main={"relay_domains": "example.net"})
        c = self.outside(relay)
        self.assertReply(c.cmd("RCPT TO:<user@example.net.>"), 250)
        self.assertReply(c.cmd("RCPT TO:<user@example.com.>"), 454)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(self.message() + b".\r\n")
        qf = relay.queue_file(queued_id(c.reply()))
        self.assertEqual(qf.recipients, ["user@example.net"])


class IPv6Test(RelayTestCase):

    def test_ipv6_listener_and_mynetworks(self):
        port = free_port(host="::1")
        relay = self.relay(services={"smtp": {},
                                     "v6": {"listen": "[::1]:%d" % port}})
        c = RawSMTP(self, port, host="::1")
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 454, "4.7.1")
        relay.wait_log(PREFIX + r"connect from unknown\[::1\]$")
        relay = self.relay(
            main={"mynetworks": "127.0.0.1/32, [::1]/128"},
            services={"v6": {"listen": "[::1]:%d" % free_port(host="::1")}})
        c = RawSMTP(self, relay.port("v6"), host="::1")
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        qf = relay.queue_file(queued_id(
            c.send_message(SENDER, [RCPT], self.message())))
        self.assertEqual(qf.client_addr, "::1")


class LimitsTest(RelayTestCase):

    def test_message_size_limit(self):
        relay = self.relay(main={"message_size_limit": "1000"})
        c = self.client(relay)
        self.assertIn("SIZE 1000", c.ehlo().texts)
        self.assertReply(c.cmd("MAIL FROM:<%s> SIZE=1001" % SENDER), 552,
                         "5.3.4 Message size exceeds fixed limit")
        self.assertReply(c.cmd("MAIL FROM:<%s> SIZE=300" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(self.message(body=(b"y" * 70 + b"\r\n") * 40) + b".\r\n")
        self.assertReply(c.reply(), 552, "5.3.4 Message size exceeds fixed limit")
        self.assertEqual(relay.queue_ids(), [])
        self.assertEqual(relay.queue_ids("tmp"), [])
        # The session goes on, and a small message fits.
        self.assertReply(c.cmd("NOOP"), 250)
        queued_id(c.send_message(SENDER, [RCPT], self.message()))

    def test_recipient_limit(self):
        relay = self.relay(main={"smtpd_recipient_limit": "3"})
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        for i in range(3):
            self.assertReply(c.cmd("RCPT TO:<r%d@example.com>" % i), 250)
        self.assertReply(c.cmd("RCPT TO:<r3@example.com>"), 452,
                         "4.5.3 Error: too many recipients")

    def test_timeout(self):
        relay = self.relay(main={"smtpd_timeout": "2s"})
        c = self.client(relay)
        start = time.monotonic()
        r = c.reply()
        self.assertEqual(r.lines, ["421 4.4.2 relay.test Error: timeout exceeded"])
        self.assertTrue(c.expect_closed(5))
        self.assertGreater(time.monotonic() - start, 1.5)

    def test_timeout_inside_tls(self):
        relay = self.relay(main={"smtpd_timeout": "2s"})
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        r = c.reply()
        self.assertEqual(r.lines, ["421 4.4.2 relay.test Error: timeout exceeded"])
        self.assertTrue(c.expect_closed(5))

    def test_hard_error_limit(self):
        relay = self.relay(main={"smtpd_hard_error_limit": "3"})
        c = self.client(relay)
        c.ehlo()
        for _ in range(3):
            self.assertReply(c.cmd("BOGUS"), 500)
        # Postfix says 421 at once; a server that waits for the next
        # command says it then.
        try:
            c.send("NOOP\r\n")
        except OSError:
            pass
        self.assertEqual(c.reply().lines,
                         ["421 4.7.0 relay.test Error: too many errors"])
        self.assertTrue(c.expect_closed(5))

    def test_connection_count_limit(self):
        # 127.0.0.2: outside mynetworks, so no exemption can apply.
        relay = self.relay(main={"smtpd_client_connection_count_limit": "2"})
        first = self.client(relay, source="127.0.0.2")
        second = self.client(relay, source="127.0.0.2")
        third = self.client(relay, source="127.0.0.2", read_greeting=False)
        self.assertEqual(
            third.reply().lines,
            ["421 4.7.0 relay.test Error: too many connections from 127.0.0.2"])
        self.assertTrue(third.expect_closed(5))
        # Another address is not affected.
        self.assertReply(self.client(relay).cmd("NOOP"), 250)
        self.assertReply(first.cmd("QUIT"), 221)
        first.expect_closed(5)
        # Once one has gone, a new connection is welcome (the count drops
        # when the server has seen the close: allow it a moment).
        deadline = time.monotonic() + 5
        while True:
            c = RawSMTP(self, relay.port(), source="127.0.0.2",
                        read_greeting=False)
            r = c.reply()
            if r.code == 220 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.code, 220, r)
        self.assertReply(second.cmd("NOOP"), 250)


class CommandsTest(RelayTestCase):

    def test_unknown_command(self):
        relay = self.relay()
        c = self.client(relay)
        self.assertReply(c.cmd("FOO bar"), 500,
                         "5.5.2 Error: command not recognized")

    def test_vrfy(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("VRFY postmaster"), 252, "2.")
        relay = self.relay(main={"disable_vrfy_command": "yes"})
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("VRFY postmaster"), 502,
                         "5.5.1 VRFY command is disabled")

    def test_help_noop_rset(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("HELP"), 214, "2.0.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0 Ok")
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RSET"), 250, "2.0.0 Ok")
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 503,
                         "5.5.1 Error: need MAIL command")
        self.assertReply(c.cmd("DATA"), 503)
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")
        self.assertTrue(c.expect_closed(5))

    def test_mail_before_helo_allowed_by_default(self):
        relay = self.relay()
        c = self.client(relay)
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)

    def test_helo_required(self):
        relay = self.relay(main={"smtpd_helo_required": "yes"})
        c = self.client(relay)
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 503,
                         "5.5.1 Error: send HELO/EHLO first")
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)

    def test_overlong_command_line(self):
        # Cut at 2048 bytes: the rest of the line must never become a
        # command of its own.
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        line = b"NOOP " + b"x" * (2048 - 5) + b"RSET" + b"y" * 5000
        c.send(line + b"\r\nMAIL FROM:<%s>\r\nQUIT\r\n" % SENDER.encode())
        first = c.reply()
        self.assertIn(first.code // 100, (2, 5), first)
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 221)
        self.assertTrue(c.expect_closed(5))

    def test_bare_lf_does_not_end_data(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(c.cmd("DATA"), 354)
        # An SMTP smuggling attempt: "\n.\n" and "\r\n.\n" then commands.
        c.send(b"Subject: smuggle\r\n\r\nline1\n.\nMAIL FROM:<evil@attacker.test>"
               b"\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nforged\r\n.\n"
               b"RSET\r\n.\r\nQUIT\r\n")
        queue_id = queued_id(c.reply())
        self.assertReply(c.reply(), 221)
        self.assertEqual(relay.queue_ids(), [queue_id])
        qf = relay.queue_file(queue_id)
        self.assertEqual(qf.recipients, [RCPT])
        self.assertEqual(qf.message,
                         b"Subject: smuggle\r\n\r\nline1\r\n.\r\n"
                         b"MAIL FROM:<evil@attacker.test>\r\n"
                         b"RCPT TO:<victim@example.com>\r\nDATA\r\n"
                         b"forged\r\n.\r\nRSET\r\n")

    def test_bare_lf_rejected(self):
        # Clients in smtpd_forbid_bare_newline_exclusions ($mynetworks by
        # default, as in Postfix) are exempt: make the test client not.
        relay = self.relay(main={"smtpd_forbid_bare_newline": "reject",
                                 "smtpd_forbid_bare_newline_exclusions": ""})
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: bare\r\n\r\nline1\nline2\r\n.\r\n")
        self.assertReply(c.reply(), 521, "5.5.2")
        self.assertTrue(c.expect_closed(5))
        self.assertEqual(relay.queue_ids(), [])
        self.assertEqual(relay.queue_ids("tmp"), [])


if __name__ == "__main__":
    main()
