"""Access restrictions as Postfix administrators configure them: access
tables (check_client_access, check_helo_access, check_sender_access,
check_recipient_access) built by Postfix's own postmap with every action,
restriction classes, the syntax checks (reject_invalid_helo_hostname,
reject_non_fqdn_*), reject_unauth_pipelining, the stages and where they
are evaluated (smtpd_delay_reject, smtpd_data_restrictions,
smtpd_end_of_data_restrictions). Clients are raw sockets from several
loopback addresses, so the replies and log lines are checked byte for
byte against Postfix's forms."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (OutboundTestCase, main, queued_id,  # noqa: E402
                       require_tools)

RCPT = "rcpt@example.test"


class AccessTestCase(OutboundTestCase):

    def postmap(self, name, text):
        """Writes text to a file and builds NAME.db with Postfix's postmap;
        returns "hash:FILE"."""
        require_tools("postmap")
        path = os.path.join(self.tmpdir, "%s-%s" % (self._testMethodName,
                                                    name))
        with open(path, "w") as f:
            f.write(text)
        pf_conf = os.path.join(self.tmpdir, "postmap-conf")
        os.makedirs(pf_conf, exist_ok=True)
        open(os.path.join(pf_conf, "main.cf"), "a").close()
        res = subprocess.run(["postmap", "-c", pf_conf, "hash:" + path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        os.chmod(path + ".db", 0o644)
        return "hash:" + path

    def access_relay(self, main=None, **kw):
        settings = {"relay_domains": "example.test"}
        settings.update(main or {})
        return self.relay(main=settings, services={"smtp": {}}, **kw)

    def rcpt_reply(self, relay, sender, rcpt=RCPT, source=None,
                   helo="client.test"):
        """EHLO, MAIL FROM:<sender>, RCPT TO:<rcpt>: the RCPT reply."""
        c = self.client(relay, source=source)
        c.ehlo(helo)
        r = c.cmd("MAIL FROM:<%s>" % sender)
        self.assertReply(r, 250)
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        c.cmd("QUIT")
        c.close()
        return r


class SenderAccessTest(AccessTestCase):
    """check_sender_access: every action, the lookup order."""

    TABLE = (
        "reject@senders.test     REJECT\n"
        "text@senders.test       REJECT Go away\n"
        "defer@senders.test      DEFER\n"
        "deftext@senders.test    DEFER 4.7.2 Come back later\n"
        "code5@senders.test      550 5.7.0 Not from you\n"
        "code4@senders.test      421 Try tomorrow\n"
        "ok@blocked.test         OK\n"
        "blocked.test            REJECT Domain blocked\n"
        "dunno.blocked.test      DUNNO\n"
        "baduser@                REJECT Local part blocked\n"
        "<>                      REJECT No bounces here\n"
        "dip@senders.test        DEFER_IF_PERMIT\n"
        "dir@senders.test        DEFER_IF_REJECT\n")

    def test_actions_and_lookup_order(self):
        table = self.postmap("senders", self.TABLE)
        relay = self.access_relay(main={
            "smtpd_sender_restrictions": "check_sender_access " + table,
            "smtpd_recipient_restrictions": "check_recipient_access "
                                            "inline:{ closed@example.test="
                                            "REJECT }",
        })
        cases = [
            ("reject@senders.test", 554, "5.7.1 <reject@senders.test>: "
             "Sender address rejected: Access denied"),
            ("text@senders.test", 554, "5.7.1 <text@senders.test>: Sender "
             "address rejected: Go away"),
            ("defer@senders.test", 450, "4.7.1 <defer@senders.test>: "
             "Sender address rejected: Access denied"),
            ("deftext@senders.test", 450, "4.7.2 <deftext@senders.test>: "
             "Sender address rejected: Come back later"),
            ("code5@senders.test", 550, "5.7.0 <code5@senders.test>: "
             "Sender address rejected: Not from you"),
            ("code4@senders.test", 421, "4.7.1 <code4@senders.test>: "
             "Sender address rejected: Try tomorrow"),
            # The domain, then its parents (smtpd_access_maps is in
            # parent_domain_matches_subdomains by default).
            ("x@blocked.test", 554, "5.7.1 <x@blocked.test>: Sender "
             "address rejected: Domain blocked"),
            ("x@deep.sub.blocked.test", 554, "5.7.1 "
             "<x@deep.sub.blocked.test>: Sender address rejected: Domain "
             "blocked"),
            # "user@" after the domain.
            ("baduser@anywhere.test", 554, "5.7.1 <baduser@anywhere.test>: "
             "Sender address rejected: Local part blocked"),
            # The null sender is looked up as "<>".
            ("", 554, "5.7.1 <>: Sender address rejected: No bounces "
             "here"),
            # DEFER_IF_PERMIT: nothing rejects, so it defers.
            ("dip@senders.test", 450, "4.7.1 <dip@senders.test>: Sender "
             "address rejected: Service unavailable"),
        ]
        for sender, code, text in cases:
            with self.subTest(sender=sender):
                r = self.rcpt_reply(relay, sender, source="127.0.0.2")
                self.assertEqual((r.code, r.texts[-1]), (code, text))
        # The whole address before the domain: OK wins over the domain's
        # REJECT; DUNNO stops the search before the parent's REJECT.
        for sender in ("ok@blocked.test", "x@dunno.blocked.test",
                       "plain@senders.test"):
            with self.subTest(sender=sender):
                r = self.rcpt_reply(relay, sender, source="127.0.0.2")
                self.assertReply(r, 250)
        # DEFER_IF_REJECT: a later reject becomes 450.
        r = self.rcpt_reply(relay, "dir@senders.test",
                            rcpt="closed@example.test", source="127.0.0.2")
        self.assertEqual((r.code, r.texts[-1]), (450, "4.7.1 "
                         "<dir@senders.test>: Sender address rejected: "
                         "Service unavailable"))
        # Postfix's log line, that fail2ban and pflogsumm read.
        relay.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: "
                       r"554 5\.7\.1 <reject@senders\.test>: Sender address "
                       r"rejected: Access denied; from=<reject@senders\.test>"
                       r" to=<rcpt@example\.test> proto=ESMTP "
                       r"helo=<client\.test>$")

    def test_no_parent_match(self):
        """Without smtpd_access_maps in parent_domain_matches_subdomains,
        "domain" is that domain only and ".domain" its subdomains."""
        table = self.postmap("dots", "exact.test REJECT exact\n"
                                     ".subs.test REJECT subdomain\n")
        relay = self.access_relay(main={
            "smtpd_sender_restrictions": "check_sender_access " + table,
            "parent_domain_matches_subdomains": "relay_domains",
        })
        self.assertReply(self.rcpt_reply(relay, "a@exact.test"), 554)
        self.assertReply(self.rcpt_reply(relay, "a@sub.exact.test"), 250)
        self.assertReply(self.rcpt_reply(relay, "a@subs.test"), 250)
        r = self.rcpt_reply(relay, "a@x.subs.test")
        self.assertEqual(r.texts[-1], "5.7.1 <a@x.subs.test>: Sender "
                         "address rejected: subdomain")


class ClientHeloRecipientTest(AccessTestCase):

    def test_client_access(self):
        table = self.postmap("clients", "127.0.0.3 REJECT\n"
                                        "127.0.0.4 DEFER Busy\n"
                                        "127.0.5 REJECT Bad network\n"
                                        "127.0.0.6 OK\n")
        relay = self.access_relay(main={
            "smtpd_client_restrictions": "check_client_access %s, reject"
                                         % table,
        })
        r = self.rcpt_reply(relay, "a@senders.test", source="127.0.0.3")
        self.assertEqual((r.code, r.texts[-1]), (554, "5.7.1 "
                         "<unknown[127.0.0.3]>: Client host rejected: "
                         "Access denied"))
        r = self.rcpt_reply(relay, "a@senders.test", source="127.0.0.4")
        self.assertEqual((r.code, r.texts[-1]), (450, "4.7.1 "
                         "<unknown[127.0.0.4]>: Client host rejected: Busy"))
        # The address's networks: 127.0.5.9 is in "127.0.5".
        r = self.rcpt_reply(relay, "a@senders.test", source="127.0.5.9")
        self.assertEqual(r.texts[-1], "5.7.1 <unknown[127.0.5.9]>: Client "
                         "host rejected: Bad network")
        # OK ends the list before the final reject; others meet it.
        self.assertReply(self.rcpt_reply(relay, "a@senders.test",
                                         source="127.0.0.6"), 250)
        r = self.rcpt_reply(relay, "a@senders.test", source="127.0.0.7")
        self.assertEqual(r.texts[-1], "5.7.1 <unknown[127.0.0.7]>: Client "
                         "host rejected: Access denied")

    def test_helo_checks(self):
        table = self.postmap("helos", "bad.helo.test REJECT Liar\n")
        relay = self.access_relay(main={
            "smtpd_helo_restrictions": "reject_invalid_helo_hostname, "
                                       "reject_non_fqdn_helo_hostname, "
                                       "check_helo_access " + table,
        })
        cases = [
            ("bad_host!", 501, "5.5.2 <bad_host!>: Helo command rejected: "
             "Invalid name"),
            ("localhost", 504, "5.5.2 <localhost>: Helo command rejected: "
             "need fully-qualified hostname"),
            ("x.bad.helo.test", 554, "5.7.1 <x.bad.helo.test>: Helo command "
             "rejected: Liar"),
        ]
        for helo, code, text in cases:
            with self.subTest(helo=helo):
                r = self.rcpt_reply(relay, "a@senders.test", helo=helo)
                self.assertEqual((r.code, r.texts[-1]), (code, text))
        for helo in ("client.test", "[127.0.0.1]", "mail.example.test."):
            with self.subTest(helo=helo):
                self.assertReply(self.rcpt_reply(relay, "a@senders.test",
                                                 helo=helo), 250)

    def test_recipient_access_and_fqdn(self):
        table = self.postmap("rcpts", "closed@example.test 550 5.1.1 "
                                      "Mailbox closed\n")
        relay = self.access_relay(main={
            "smtpd_sender_restrictions": "reject_non_fqdn_sender",
            "smtpd_recipient_restrictions": "reject_non_fqdn_recipient, "
                                            "check_recipient_access " + table,
        })
        r = self.rcpt_reply(relay, "a@senders.test", "closed@example.test")
        self.assertEqual((r.code, r.texts[-1]), (550, "5.1.1 "
                         "<closed@example.test>: Recipient address "
                         "rejected: Mailbox closed"))
        r = self.rcpt_reply(relay, "a@senders.test", "rcpt@nodot")
        self.assertEqual((r.code, r.texts[-1]), (504, "5.5.2 <rcpt@nodot>: "
                         "Recipient address rejected: need fully-qualified "
                         "address"))
        r = self.rcpt_reply(relay, "me@nodot")
        self.assertEqual((r.code, r.texts[-1]), (504, "5.5.2 <me@nodot>: "
                         "Sender address rejected: need fully-qualified "
                         "address"))
        self.assertReply(self.rcpt_reply(relay, ""), 250)
        self.assertReply(self.rcpt_reply(relay, "a@senders.test"), 250)

    def test_restriction_class(self):
        friends = self.postmap("friends", "friend@senders.test OK\n")
        rcpts = self.postmap("protected", "vip@example.test from_friends\n"
                                          "list@example.test "
                                          "reject_non_fqdn_sender, "
                                          "permit\n")
        relay = self.access_relay(main={
            "smtpd_restriction_classes": "from_friends",
            "from_friends": "check_sender_access %s, reject" % friends,
            "smtpd_recipient_restrictions": "check_recipient_access "
                                            + rcpts,
        })
        self.assertReply(self.rcpt_reply(relay, "friend@senders.test",
                                         "vip@example.test"), 250)
        r = self.rcpt_reply(relay, "stranger@senders.test",
                            "vip@example.test")
        self.assertEqual((r.code, r.texts[-1]), (554, "5.7.1 "
                         "<vip@example.test>: Recipient address rejected: "
                         "Access denied"))
        # A list of restrictions as the value.
        r = self.rcpt_reply(relay, "me@nodot", "list@example.test")
        self.assertReply(r, 504)
        self.assertReply(self.rcpt_reply(relay, "me@senders.test",
                                         "list@example.test"), 250)

    def test_unknown_restriction_stops_start(self):
        relay = self.access_relay(main={
            "smtpd_sender_restrictions": "reject_unverified_sender",
        }, start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertRegex(out, r"main\.cf:\d+: smtpd_sender_restrictions: "
                              r"unknown or unsupported restriction: "
                              r"reject_unverified_sender")
        relay = self.access_relay(main={
            "smtpd_restriction_classes": "nosuch",
        }, start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertRegex(out, r"smtpd_restriction_classes: class nosuch is "
                              r"not defined")


class StagesTest(AccessTestCase):
    """Where each list runs."""

    def test_delay_reject_no(self):
        table = self.postmap("clients", "127.0.0.3 REJECT\n")
        relay = self.access_relay(main={
            "smtpd_delay_reject": "no",
            "smtpd_client_restrictions": "check_client_access " + table,
            "smtpd_helo_restrictions": "reject_non_fqdn_helo_hostname",
            "smtpd_sender_restrictions": "reject_non_fqdn_sender",
        })
        # Refused at connect: the refusal is the greeting, then 503 to
        # everything but QUIT.
        c = self.client(relay, source="127.0.0.3")
        self.assertEqual(c.greeting.lines, ["554 5.7.1 <unknown[127.0.0.3]>: "
                                            "Client host rejected: Access "
                                            "denied"])
        r = c.cmd("EHLO client.test")
        self.assertEqual(r.lines, ["503 5.7.0 Error: access denied for "
                                   "unknown[127.0.0.3]"])
        self.assertReply(c.cmd("MAIL FROM:<a@senders.test>"), 503)
        self.assertReply(c.cmd("QUIT"), 221)
        c.close()
        relay.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.3"
                       r"\]: 554 5\.7\.1 <unknown\[127\.0\.0\.3\]>: Client "
                       r"host rejected: Access denied; proto=SMTP$")
        # HELO and MAIL are answered at once.
        c = self.client(relay, source="127.0.0.2")
        self.assertReply(c.greeting, 220)
        r = c.cmd("EHLO localhost")
        self.assertEqual(r.lines, ["504 5.5.2 <localhost>: Helo command "
                                   "rejected: need fully-qualified hostname"])
        c.ehlo("client.test")
        r = c.cmd("MAIL FROM:<me@nodot>")
        self.assertEqual(r.lines, ["504 5.5.2 <me@nodot>: Sender address "
                                   "rejected: need fully-qualified address"])
        self.assertReply(c.cmd("MAIL FROM:<me@senders.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        c.cmd("QUIT")
        c.close()
        relay.wait_log(r"NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.2\]: "
                       r"504 5\.5\.2 <me@nodot>: Sender address rejected: "
                       r"need fully-qualified address; from=<me@nodot> "
                       r"proto=ESMTP helo=<client\.test>$")

    def test_data_restrictions_pipelining(self):
        relay = self.access_relay(main={
            "smtpd_data_restrictions": "reject_unauth_pipelining",
        })
        # One command at a time: accepted.
        c = self.client(relay)
        c.ehlo()
        queued_id(c.send_message("a@senders.test", [RCPT], b"Subject: x\r\n"
                                 b"\r\nok\r\n"))
        c.cmd("QUIT")
        c.close()
        # PIPELINING allows MAIL, RCPT in one write after EHLO's reply...
        c = self.client(relay)
        c.ehlo()
        c.send("MAIL FROM:<a@senders.test>\r\nRCPT TO:<%s>\r\n" % RCPT)
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(".\r\n")
        self.assertReply(c.reply(), 250)
        c.cmd("QUIT")
        c.close()
        # ... but not commands behind EHLO before its reply.
        c = self.client(relay)
        c.send("EHLO client.test\r\nMAIL FROM:<a@senders.test>\r\n"
               "RCPT TO:<%s>\r\n" % RCPT)
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 250)
        r = c.cmd("DATA")
        self.assertEqual(r.lines, ["503 5.5.0 <DATA>: Data command rejected: "
                                   "Improper use of SMTP command pipelining"])
        c.cmd("QUIT")
        c.close()
        relay.wait_log(r"improper command pipelining after EHLO from "
                       r"unknown\[127\.0\.0\.1\]: "
                       r"MAIL FROM:<a@senders\.test>$")
        relay.wait_log(r"NOQUEUE: reject: DATA from unknown\[127\.0\.0\.1\]: "
                       r"503 5\.5\.0 <DATA>: Data command rejected: Improper "
                       r"use of SMTP command pipelining; "
                       r"from=<a@senders\.test> to=<rcpt@example\.test> "
                       r"proto=ESMTP helo=<client\.test>$")
        # A client that did not say EHLO may not pipeline at all.
        c = self.client(relay)
        self.assertReply(c.cmd("HELO client.test"), 250)
        c.send("MAIL FROM:<a@senders.test>\r\nRCPT TO:<%s>\r\n" % RCPT)
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 250)
        self.assertReply(c.cmd("DATA"), 503)
        c.close()
        relay.wait_log(r"improper command pipelining after MAIL from "
                       r"unknown\[127\.0\.0\.1\]: RCPT TO:<rcpt@example"
                       r"\.test>$")

    def test_end_of_data(self):
        table = self.postmap("eod", "late@senders.test REJECT Not this one\n"
                                    "later@senders.test DEFER\n")
        relay = self.access_relay(main={
            "smtpd_end_of_data_restrictions": "check_sender_access " + table,
        })
        c = self.client(relay)
        c.ehlo()
        r = c.send_message("late@senders.test", [RCPT],
                           b"Subject: x\r\n\r\nbody\r\n")
        self.assertEqual(r.lines, ["554 5.7.1 <late@senders.test>: Sender "
                                   "address rejected: Not this one"])
        r = c.send_message("later@senders.test", [RCPT],
                           b"Subject: x\r\n\r\nbody\r\n")
        self.assertReply(r, 450, "4.7.1 <later@senders.test>")
        # The session goes on; an accepted message is the positive marker.
        queue_id = queued_id(c.send_message("ok@senders.test", [RCPT],
                                            b"Subject: x\r\n\r\nok\r\n"))
        c.cmd("QUIT")
        c.close()
        self.assertEqual(relay.queue_ids(), [queue_id])
        self.assertEqual(relay.queue_ids("tmp"), [])
        relay.wait_log(r": reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1"
                       r"\]: 554 5\.7\.1 <late@senders\.test>: Sender address "
                       r"rejected: Not this one; from=<late@senders\.test> "
                       r"proto=ESMTP helo=<client\.test>$")

    def test_data_restriction_reject(self):
        relay = self.access_relay(main={
            "smtpd_data_restrictions": "check_sender_access inline:{ "
                                       "nodata@senders.test=REJECT }",
        })
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<nodata@senders.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        r = c.cmd("DATA")
        self.assertEqual(r.lines, ["554 5.7.1 <nodata@senders.test>: Sender "
                                   "address rejected: Access denied"])
        c.close()


class SideActionsTest(AccessTestCase):
    """WARN, HOLD and DISCARD, with a queue manager and a sink."""

    def test_warn_hold_discard(self):
        sink = self.sink()
        table = self.postmap("actions", "warn@senders.test WARN watch this\n"
                                        "hold@senders.test HOLD\n"
                                        "discard@senders.test DISCARD\n")
        relay = self.outbound_relay(main={
            "relayhost": sink.nexthop,
            "smtpd_sender_restrictions": "check_sender_access " + table,
        })
        held = self.submit(relay, "hold@senders.test", [RCPT],
                           self.message("held"))
        dropped = self.submit(relay, "discard@senders.test", [RCPT],
                              self.message("discarded"))
        self.submit(relay, "warn@senders.test", [RCPT],
                    self.message("warned"))
        self.submit(relay, "ok@senders.test", [RCPT], self.message("plain"))
        # Positive marker: the warned and the plain message arrive.
        sink.wait_messages(2)
        relay.wait_log(r"status=sent", count=2)
        subjects = sorted(m.header("Subject") for m in sink.messages())
        self.assertEqual(subjects, ["plain", "warned"])
        # The held message waits in hold/, the discarded one is nowhere.
        self.assertEqual(relay.queue_ids("hold"), [held])
        for sub in ("incoming", "active", "deferred", "hold", "tmp"):
            self.assertNotIn(dropped, relay.queue_ids(sub))
        relay.wait_log(r"NOQUEUE: warn: RCPT from unknown\[127\.0\.0\.1\]: "
                       r"watch this; from=<warn@senders\.test> "
                       r"to=<rcpt@example\.test> proto=ESMTP "
                       r"helo=<client\.test>$")
        relay.wait_log(r"NOQUEUE: hold: RCPT from unknown\[127\.0\.0\.1\]: "
                       r"<hold@senders\.test>: Sender address triggers HOLD "
                       r"action; from=<hold@senders\.test> "
                       r"to=<rcpt@example\.test> proto=ESMTP "
                       r"helo=<client\.test>$")
        relay.wait_log(r"NOQUEUE: discard: RCPT from unknown\[127\.0\.0\.1\]:"
                       r" <discard@senders\.test>: Sender address triggers "
                       r"DISCARD action; from=<discard@senders\.test> "
                       r"to=<rcpt@example\.test> proto=ESMTP "
                       r"helo=<client\.test>$")
        # Released, the held message is delivered.
        status, out = self.tlsrelay("queue", "-c", relay.dir, "release",
                                    held)
        self.assertEqual(status, 0, out)
        sink.wait_messages(3)
        self.assertIn("held", [m.header("Subject") for m in sink.messages()])


class PostfixStyleTest(AccessTestCase):
    """A port-25 main.cf as Postfix administrators write it starts
    unchanged and behaves as Postfix would."""

    def test_port25_main_cf(self):
        senders = self.postmap("senders", "spammer@bad.test REJECT\n")
        clients = self.postmap("clients", "127.0.0.9 REJECT Go away\n")
        relay = self.access_relay(main={
            "smtpd_helo_required": "yes",
            "smtpd_helo_restrictions": "reject_invalid_helo_hostname",
            "smtpd_sender_restrictions": "reject_non_fqdn_sender, "
                                         "check_sender_access " + senders,
            "smtpd_recipient_restrictions": "permit_mynetworks, "
                                            "reject_unauth_destination, "
                                            "check_client_access " + clients,
        })
        c = self.client(relay, source="127.0.0.2")
        self.assertReply(c.cmd("MAIL FROM:<a@senders.test>"), 503)
        r = c.cmd("EHLO bad..name")
        self.assertReply(r, 250)     # delay_reject: refused at RCPT
        self.assertReply(c.cmd("MAIL FROM:<a@senders.test>"), 250)
        r = c.cmd("RCPT TO:<%s>" % RCPT)
        self.assertEqual(r.lines, ["501 5.5.2 <bad..name>: Helo command "
                                   "rejected: Invalid name"])
        c.close()
        r = self.rcpt_reply(relay, "spammer@bad.test", source="127.0.0.2")
        self.assertReply(r, 554, "5.7.1 <spammer@bad.test>: Sender address "
                                 "rejected: Access denied")
        # Relay control as before: the default smtpd_relay_restrictions.
        r = self.rcpt_reply(relay, "a@senders.test", "x@elsewhere.test",
                            source="127.0.0.2")
        self.assertEqual(r.lines, ["454 4.7.1 <x@elsewhere.test>: Relay "
                                   "access denied"])
        self.assertReply(self.rcpt_reply(relay, "a@senders.test",
                                         "x@elsewhere.test"), 250)
        r = self.rcpt_reply(relay, "a@senders.test", source="127.0.0.9")
        self.assertEqual(r.lines, ["554 5.7.1 <unknown[127.0.0.9]>: Client "
                                   "host rejected: Go away"])
        self.assertReply(self.rcpt_reply(relay, "a@senders.test",
                                         source="127.0.0.2"), 250)


if __name__ == "__main__":
    main()
