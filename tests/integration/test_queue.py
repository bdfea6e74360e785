"""Returning mail and working on the queue, with real peers: RFC 3464
delivery status notifications delivered back to the sender's domain (a
sink) and parsed with Python's email package; expiry after
maximal_queue_lifetime / bounce_queue_lifetime; double bounces; delay
warnings; `tlsrelay queue` listing, hold, release, flush and delete on a
really deferred message. No DNS: every domain is routed by
transport_maps to a sink on loopback."""

import email
import email.policy
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (OutboundTestCase, inline_table, main,  # noqa: E402
                       to_lines, wait_for)

SENDER = "sender@senders.test"
GOOD = "good@example.test"
BAD = "bad@example.test"
STUCK = "stuck@example.test"

REJECT = "550 5.1.1 <%s>: Recipient address rejected: User unknown" % BAD
BUSY = "450 4.2.0 <%s>: Mailbox busy, try later" % STUCK


class QueueTestCase(OutboundTestCase):

    def setUp(self):
        super().setUp()
        self.dest = self.sink(replies={"rcpt": {BAD: [REJECT],
                                                STUCK: [BUSY]}})
        self.senders = self.sink()

    def queue_relay(self, routes=None, **main):
        table = {"example.test": "smtp:" + self.dest.nexthop,
                 "senders.test": "smtp:" + self.senders.nexthop}
        table.update(routes or {})
        settings = {"transport_maps": inline_table(table)}
        settings.update(main)
        return self.outbound_relay(main=settings)

    def bounce_id(self, relay, queue_id, timeout=20):
        line = relay.wait_log(r": %s: sender non-delivery notification: "
                              r"[0-9A-F]+$" % queue_id, timeout=timeout)[0]
        return line.rsplit(" ", 1)[1]

    def parse_dsn(self, m):
        """(message, text part, per-message fields, [per-recipient
        fields], returned headers part) of a DSN the sink received."""
        dsn = email.message_from_bytes(m.message, policy=email.policy.compat32)
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        parts = dsn.get_payload()
        self.assertIsInstance(parts, list)
        self.assertEqual(len(parts), 3, [p.get_content_type() for p in parts])
        text, status, returned = parts
        self.assertEqual(text.get_content_type(), "text/plain")
        self.assertEqual(status.get_content_type(), "message/delivery-status")
        self.assertIn(returned.get_content_type(),
                      ("text/rfc822-headers", "message/rfc822"))
        blocks = status.get_payload()
        self.assertGreaterEqual(len(blocks), 2)
        return dsn, text, blocks[0], blocks[1:], returned


class BounceTest(QueueTestCase):

    def test_5xx_bounces_with_a_dsn_to_the_sender(self):
        relay = self.queue_relay()
        message_id, data = self.outbound_message(subject="will bounce")
        queue_id = self.submit(relay, SENDER, [GOOD, BAD], data)
        relay.wait_log(r": %s: to=<%s>, relay=\S+, .*dsn=5\.1\.1, "
                       r"status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] "
                       r"said: %s \(in reply to RCPT TO command\)\)" %
                       (queue_id, re.escape(BAD), re.escape(REJECT)))
        bounce_id = self.bounce_id(relay, queue_id)
        self.wait_removed(relay, queue_id)
        self.wait_removed(relay, bounce_id)
        self.assertEqual(len(to_lines(relay, queue_id, "sent")), 1)
        (delivered,) = self.dest.messages()
        self.assertEqual(delivered.rcpt_tos, [GOOD])

        (m,) = self.senders.messages()
        self.assertEqual(m.mail_from, "")
        self.assertEqual(m.rcpt_tos, [SENDER])
        relay.wait_log(r": %s: to=<%s>, .*status=sent" %
                       (bounce_id, re.escape(SENDER)))
        dsn, text, per_msg, per_rcpt, returned = self.parse_dsn(m)
        self.assertRegex(dsn["From"], r"MAILER-DAEMON@relay\.test")
        self.assertIn(SENDER, dsn["To"])
        self.assertIn("Undelivered Mail Returned to Sender", dsn["Subject"])
        self.assertEqual(dsn["Auto-Submitted"], "auto-replied")
        self.assertEqual(dsn["MIME-Version"], "1.0")
        self.assertIsNotNone(dsn["Date"])
        self.assertIsNotNone(dsn["Message-ID"])
        self.assertIn(BAD, text.get_payload(decode=True).decode())
        self.assertNotIn(GOOD, text.get_payload(decode=True).decode())

        self.assertEqual(per_msg["Reporting-MTA"], "dns; relay.test")
        self.assertIsNotNone(per_msg["Arrival-Date"])
        (rcpt,) = per_rcpt
        self.assertEqual(rcpt["Final-Recipient"], "rfc822; " + BAD)
        self.assertEqual(rcpt["Action"], "failed")
        self.assertEqual(rcpt["Status"], "5.1.1")
        self.assertEqual(rcpt["Remote-MTA"], "dns; 127.0.0.1")
        self.assertEqual(re.sub(r"\s+", " ", rcpt["Diagnostic-Code"]),
                         "smtp; " + REJECT)

        headers = returned.as_string() if returned.is_multipart() else \
            returned.get_payload()
        self.assertIn(message_id, headers)
        self.assertIn("Subject: will bounce", headers)
        self.assertNotIn("Hello.", headers.split("\n\n", 1)[0])

    def test_bounce_of_a_bounce_is_never_sent(self):
        relay = self.queue_relay()
        _, data = self.outbound_message(subject="null sender")
        queue_id = self.submit(relay, "", [BAD], data)
        relay.wait_log(r": %s: to=<%s>, .*status=bounced" %
                       (queue_id, re.escape(BAD)))
        self.wait_removed(relay, queue_id)
        relay.wait_log(r": %s: .*double bounce" % queue_id)
        self.assertNotIn("%s: sender non-delivery notification" % queue_id,
                         relay.maillog())
        # A notice would be in incoming/ before that line was logged: once
        # the queue is empty, it would have reached a sink.
        self.wait_queue_empty(relay)
        self.assertEqual(self.senders.messages(), [])
        self.assertEqual(self.dest.messages(), [])
        for sub in ("incoming", "active", "deferred"):
            self.assertEqual(relay.queue_ids(sub), [], sub)

    def test_double_bounce_goes_to_2bounce_notice_recipient(self):
        admin = self.sink()
        relay = self.queue_relay(
            routes={"admin.test": "smtp:" + admin.nexthop},
            **{"2bounce_notice_recipient": "postmaster@admin.test"})
        message_id, data = self.outbound_message(subject="null sender")
        queue_id = self.submit(relay, "", [BAD], data)
        self.wait_removed(relay, queue_id)
        (m,) = admin.wait_messages(1, diagnostics=relay.diagnostics)
        self.assertEqual(m.mail_from, "")
        self.assertEqual(m.rcpt_tos, ["postmaster@admin.test"])
        self.assertIn(message_id.encode(), m.content)
        self.assertIn(BAD.encode(), m.content)
        self.assertEqual(self.senders.messages(), [])

    def test_expired_message_is_returned(self):
        relay = self.queue_relay(maximal_queue_lifetime="4s")
        message_id, data = self.outbound_message(subject="expires")
        queue_id = self.submit(relay, SENDER, [STUCK], data)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred \(host "
                       r"127\.0\.0\.1\[127\.0\.0\.1\] said: %s" %
                       (queue_id, re.escape(STUCK), re.escape(BUSY)))
        start = time.monotonic()
        relay.wait_log(r": %s: .*status=expired, returned to sender" %
                       queue_id, timeout=20)
        self.assertGreaterEqual(len(to_lines(relay, queue_id, "deferred")), 2)
        bounce_id = self.bounce_id(relay, queue_id)
        self.wait_removed(relay, queue_id)
        self.wait_removed(relay, bounce_id)
        self.assertLess(time.monotonic() - start, 20)
        (m,) = self.senders.messages()
        _, _, _, (rcpt,), returned = self.parse_dsn(m)
        self.assertEqual(rcpt["Final-Recipient"], "rfc822; " + STUCK)
        self.assertEqual(rcpt["Action"], "failed")
        self.assertRegex(rcpt["Status"], r"^[45]\.\d+\.\d+$")
        self.assertIn("450 4.2.0", rcpt["Diagnostic-Code"])
        self.assertEqual(self.dest.messages(), [])

    def test_undeliverable_bounce_expires_after_bounce_queue_lifetime(self):
        self.senders.set_replies({"rcpt": {SENDER: ["450 4.2.0 not now"]}})
        relay = self.queue_relay(bounce_queue_lifetime="3s",
                                 maximal_queue_lifetime="1h")
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, [BAD], data)
        bounce_id = self.bounce_id(relay, queue_id)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                       (bounce_id, re.escape(SENDER)))
        relay.wait_log(r": %s: .*status=expired" % bounce_id, timeout=20)
        self.wait_removed(relay, bounce_id)
        # A bounce of a bounce is never sent.
        relay.wait_log(r": %s: .*double bounce" % bounce_id)
        self.assertEqual(self.senders.messages(), [])

    def test_delay_warning(self):
        relay = self.queue_relay(delay_warning_time="2s",
                                 maximal_queue_lifetime="1h")
        message_id, data = self.outbound_message(subject="slow")
        queue_id = self.submit(relay, SENDER, [STUCK], data)
        (m,) = self.senders.wait_messages(1, timeout=20,
                                          diagnostics=relay.diagnostics)
        self.assertEqual(m.mail_from, "")
        dsn, _, _, (rcpt,), returned = self.parse_dsn(m)
        self.assertIn("Delayed Mail", dsn["Subject"])
        self.assertEqual(rcpt["Final-Recipient"], "rfc822; " + STUCK)
        self.assertEqual(rcpt["Action"], "delayed")
        self.assertRegex(rcpt["Status"], r"^4\.\d+\.\d+$")
        # Still queued, still retried; one warning per message.
        self.assertIn(self.where(relay, queue_id),
                      ("deferred", "active", "incoming"))
        relay.wait_log(r": %s: to=.*status=deferred" % queue_id, count=3,
                       timeout=20)
        self.assertEqual(len(self.senders.messages()), 1)
        status, out = self.tlsrelay("queue", "-c", relay.dir, "delete",
                                    queue_id)
        self.assertEqual(status, 0, out)


class QueueCommandTest(QueueTestCase):
    """`tlsrelay queue` on a message that is really deferred."""

    def queue(self, relay, *args):
        return self.tlsrelay("queue", "-c", relay.dir, *args)

    def test_list_hold_release_flush_delete(self):
        # Retries only when asked: a flush is the only way forward.
        relay = self.queue_relay(minimal_backoff_time="1h",
                                 maximal_backoff_time="1h")
        _, data = self.outbound_message(subject="stuck")
        queue_id = self.submit(relay, SENDER, [STUCK], data)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                       (queue_id, re.escape(STUCK)))
        self.wait_in(relay, queue_id, "deferred")

        status, out = self.queue(relay)
        self.assertEqual(status, 0, out)
        self.assertRegex(out, r"(?m)^%s\s+\d+ .*\S+ +%s$" %
                         (queue_id, re.escape(SENDER)))
        self.assertIn("(host 127.0.0.1[127.0.0.1] said: %s" % BUSY,
                      re.sub(r"\s+", " ", out))
        self.assertRegex(out, r"(?m)^\s+%s$" % re.escape(STUCK))
        self.assertRegex(out, r"(?m)^-- \d+ Kbytes in 1 Request\.$")

        status, out = self.queue(relay, "hold", queue_id)
        self.assertEqual(status, 0, out)
        self.wait_in(relay, queue_id, "hold", timeout=2)
        status, out = self.queue(relay)
        self.assertRegex(out, r"(?m)^%s!\s" % queue_id)

        # Held mail is not delivered, flush or not.
        self.dest.set_replies({"rcpt": {BAD: [REJECT]}})
        status, out = self.queue(relay, "flush")
        self.assertEqual(status, 0, out)
        self.wait_marker(relay, "marker@senders.test")
        self.assertEqual(self.where(relay, queue_id), "hold")
        self.assertEqual(self.dest.messages(), [])

        # Released, it is due at once.
        self.dest.set_replies({"rcpt": {STUCK: [BUSY]}})
        status, out = self.queue(relay, "release", queue_id)
        self.assertEqual(status, 0, out)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                       (queue_id, re.escape(STUCK)), count=2, timeout=10)
        self.wait_in(relay, queue_id, "deferred")

        # flush: retried now, not in an hour.
        self.dest.set_replies({})
        status, out = self.queue(relay, "flush", queue_id)
        self.assertEqual(status, 0, out)
        self.wait_removed(relay, queue_id, timeout=10)
        (m,) = self.dest.messages()
        self.assertEqual(m.rcpt_tos, [STUCK])

        # delete: gone, with its defer file, never delivered.
        self.dest.set_replies({"rcpt": {STUCK: [BUSY]}})
        _, data = self.outbound_message(subject="deleted")
        doomed = self.submit(relay, SENDER, [STUCK], data)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                       (doomed, re.escape(STUCK)))
        self.wait_in(relay, doomed, "deferred")
        self.assertTrue(os.path.exists(os.path.join(relay.queue_dir, "defer",
                                                    doomed)))
        status, out = self.queue(relay, "delete", doomed)
        self.assertEqual(status, 0, out)
        self.assertIsNone(self.where(relay, doomed))
        self.assertFalse(os.path.exists(os.path.join(relay.queue_dir, "defer",
                                                     doomed)))
        status, out = self.queue(relay)
        self.assertEqual(status, 0, out)
        self.assertIn("Mail queue is empty", out)
        self.dest.set_replies({})
        self.queue(relay, "flush")
        self.wait_marker(relay, "marker@senders.test")
        self.assertEqual(len(self.dest.messages()), 1)

        # An ID that is not there is an error naming it.
        status, out = self.queue(relay, "hold", "0123456789ABCDEF")
        self.assertEqual(status, 1, out)
        self.assertIn("0123456789ABCDEF", out)
        relay.stop()

    def test_hold_and_release_all(self):
        relay = self.queue_relay(minimal_backoff_time="1h",
                                 maximal_backoff_time="1h")
        ids = []
        for i in range(3):
            _, data = self.outbound_message(subject="stuck %d" % i)
            ids.append(self.submit(relay, SENDER, [STUCK], data))
        for queue_id in ids:
            self.wait_in(relay, queue_id, "deferred")
        status, out = self.queue(relay, "hold", "ALL")
        self.assertEqual(status, 0, out)
        self.assertEqual(relay.queue_ids("hold"), sorted(ids))
        self.assertEqual(relay.queue_ids("deferred"), [])
        self.dest.set_replies({})
        status, out = self.queue(relay, "release", "ALL")
        self.assertEqual(status, 0, out)
        for queue_id in ids:
            self.wait_removed(relay, queue_id, timeout=10)
        self.assertEqual(len(self.dest.messages()), 3)
        wait_for("an empty queue listing",
                 lambda: "Mail queue is empty" in self.queue(relay)[1], 5)


if __name__ == "__main__":
    main()
