"""Outbound delivery with real peers: what the queue manager and the smtp
client pool do to a message between the relay's 250 and the far end's.
Peers: the aiosmtpd sink (peers/sink.py) with and without STARTTLS, and a
private Postfix instance. Routing is by relayhost / transport_maps to
[127.0.0.1]:PORT, so no test here looks anything up in DNS (the relay's
resolver points at a port where nothing answers)."""

import collections
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (QMGR_LINE, OutboundTestCase, QueueFile,  # noqa: E402
                       inline_table, main, text_lines, to_lines, wait_for)

SENDER = "sender@senders.test"
RCPT = "rcpt@example.test"

SENT = r"status=sent \(250 "
TLS_TO = (r"(Anonymous|Untrusted|Trusted|Verified) TLS connection "
          r"established to %s: TLSv1\.3 with cipher \S+")


def label(nexthop):
    """How the relay names a bracketed next hop in its log:
    "[127.0.0.1]:2526" -> "127.0.0.1[127.0.0.1]:2526"."""
    m = re.fullmatch(r"\[([^]]+)\]:(\d+)", nexthop)
    return "%s\\[%s\\]:%s" % (re.escape(m.group(1)), re.escape(m.group(1)),
                              m.group(2))


def break_long_lines(data, limit=998):
    """What Postfix's smtp_line_length_limit does to content: a line
    longer than limit (CR LF aside) goes out as limit bytes, CR LF, then
    continuation lines of a space and at most limit - 1 bytes."""
    out = b""
    for line in re.split(rb"(?<=\n)", data):
        text = line.rstrip(b"\r\n") if line.endswith(b"\n") else line
        ending = line[len(text):]
        if len(text) <= limit:
            out += line
            continue
        out += text[:limit] + b"\r\n"
        rest = text[limit:]
        while len(rest) > limit - 1:
            out += b" " + rest[:limit - 1] + b"\r\n"
            rest = rest[limit - 1:]
        out += b" " + rest + ending
    return out


class ContentTest(OutboundTestCase):
    """The far end gets exactly the bytes the client sent, behind the
    relay's Received: header: dot transparency both ways, 8-bit bytes;
    lines longer than smtp_line_length_limit (998) broken with CR LF
    SPACE, as Postfix does (issue 13 #7), the rest intact."""

    def messages(self):
        return [
            ("dots", b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n"
                     b"...three\r\nend.\r\n. \r\n.\r\n", ""),
            ("8bit", b"Subject: 8bit\r\nContent-Type: text/plain; "
                     b"charset=utf-8\r\n\r\n" + bytes(range(128, 256)) +
                     b"\r\n" + "Gr\u00fc\u00dfe \u2603\r\n".encode() +
                     b"ctl \x01\x07\x1b\x7f and a bare\rCR\r\n",
             " BODY=8BITMIME"),
            ("long lines", b"Subject: long\r\nX-Long: " + b"h" * 3000 +
                           b"\r\n\r\n" + b"y" * 1500 + b"\r\n" +
                           b"z" * 100000 + b"\r\n.\r\n." + b"w" * 5000 +
                           b"\r\n" + b"e" * 998 + b"\r\nafter\r\n", ""),
            ("1 MB", b"Subject: big\r\n\r\n" +
                     text_lines(76, 14000, 3, dot_every=13), ""),
            ("headers only", b"Subject: empty body\r\n\r\n", ""),
        ]

    def test_bytes_arrive_intact(self):
        sink = self.sink()
        relay = self.outbound_relay(main={
            "relayhost": sink.nexthop, "smtp_tls_security_level": "may"})
        sent = {}
        for name, data, params in self.messages():
            queue_id = self.submit(relay, SENDER, [RCPT], data,
                                   mail_params=params)
            sent[queue_id] = (name, data, params)
        msgs = sink.wait_messages(len(sent), diagnostics=relay.diagnostics)
        self.assertEqual(len(msgs), len(sent))
        by_id = {}
        for m in msgs:
            received = re.search(rb"with E?SMTPS? id ([0-9A-F]+)", m.content)
            self.assertTrue(received, m.content[:300])
            by_id[received.group(1).decode()] = m
        self.assertEqual(sorted(by_id), sorted(sent))
        for queue_id, (name, data, params) in sent.items():
            with self.subTest(message=name):
                m = by_id[queue_id]
                self.assertTrue(m.content.startswith(b"Received: from "))
                expected = break_long_lines(data)
                self.assertEqual(expected == data, name != "long lines")
                self.assertEqual(len(m.message), len(expected))
                self.assertTrue(m.message == expected,
                                "%s: content differs from what was sent" %
                                name)
                self.assertLessEqual(max(len(l) for l in re.split(
                    rb"\r?\n", m.content)), 998)
                self.assertEqual(m.mail_from, SENDER)
                self.assertEqual(m.rcpt_tos, [RCPT])
                self.assertEqual(m.tls["version"], "TLSv1.3")
                if params:
                    self.assertIn("BODY=8BITMIME", m.mail_options)
                relay.wait_log(r": %s: to=<%s>, relay=%s, .*dsn=2\.0\.0, %s" %
                               (queue_id, re.escape(RCPT),
                                label(sink.nexthop), SENT))
                self.wait_removed(relay, queue_id)
        relay.stop()

    def test_recipients_of_one_hop_share_a_transaction(self):
        sink = self.sink()
        relay = self.outbound_relay(main={"relayhost": sink.nexthop})
        rcpts = ["a@example.test", "b@example.test", "c@other.test"]
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, rcpts, data)
        self.wait_removed(relay, queue_id)
        msgs = sink.messages()
        self.assertEqual(len(msgs), 1, [m.meta for m in msgs])
        self.assertEqual(sorted(msgs[0].rcpt_tos), rcpts)
        self.assertEqual(len(to_lines(relay, queue_id, "sent")), 3)

    def test_log_lines(self):
        """Postfix's formats, from the program names Postfix uses."""
        sink = self.sink()
        relay = self.outbound_relay(main={
            "relayhost": sink.nexthop, "smtp_tls_security_level": "may"})
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, [RCPT], data)
        self.wait_removed(relay, queue_id)
        line = relay.wait_log(r": %s: to=<" % queue_id)[0]
        self.assertRegex(line, (
            r"tlsrelay/smtp\[\d+\]: %s: to=<%s>, relay=%s, "
            r"delay=[0-9.e-]+, delays=[0-9.e-]+/[0-9.e-]+/[0-9.e-]+/"
            r"[0-9.e-]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued "
            r"as S\d+\)$") % (queue_id, re.escape(RCPT), label(sink.nexthop)))
        relay.wait_log(r"tlsrelay/smtp\[\d+\]: " + TLS_TO %
                       label(sink.nexthop))
        relay.wait_log(r"tlsrelay/qmgr\[\d+\]: %s: removed$" % queue_id)


class ProtocolTest(OutboundTestCase):

    def test_message_larger_than_server_size_limit_bounces(self):
        sink = self.sink(size=2000)
        senders = self.sink()
        relay = self.outbound_relay(main={"transport_maps": inline_table({
            "example.test": "smtp:" + sink.nexthop,
            "senders.test": "smtp:" + senders.nexthop})})
        _, big = self.outbound_message(body=(b"x" * 70 + b"\r\n") * 60)
        big_id = self.submit(relay, SENDER, [RCPT], big)
        _, small = self.outbound_message()
        small_id = self.submit(relay, SENDER, [RCPT], small)
        relay.wait_log(r": %s: to=<%s>, .*dsn=5\.3\.4, status=bounced "
                       r"\(message size \d+ exceeds size limit 2000 of "
                       r"server 127\.0\.0\.1\[127\.0\.0\.1\]" %
                       (big_id, re.escape(RCPT)))
        self.wait_removed(relay, big_id)
        self.wait_removed(relay, small_id)
        (m,) = sink.messages()
        self.assertLess(m.size, 2000)
        # The big one was never offered: every MAIL led to the one DATA.
        commands = sum((sink.commands(c[0]) for c in sink.connections()), [])
        self.assertEqual(commands.count("DATA"), 1, commands)
        (dsn,) = senders.wait_messages(1)
        self.assertIn(b"Status: 5.3.4", dsn.content)
        self.assertIn(b"SIZE=", b" ".join(
            o.encode() for o in m.mail_options))


class TlsPolicyTest(OutboundTestCase):
    """smtp_tls_security_level none / may / encrypt against servers with
    and without STARTTLS, and with a handshake that cannot succeed."""

    def deliver_one(self, sink, level, **main):
        settings = {"relayhost": sink.nexthop,
                    "smtp_tls_security_level": level}
        settings.update(main)
        relay = self.outbound_relay(main=settings)
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, [RCPT], data)
        return relay, queue_id

    def test_may_uses_starttls_when_offered(self):
        sink = self.sink(tls=True)
        relay, queue_id = self.deliver_one(sink, "may")
        self.wait_removed(relay, queue_id)
        (m,) = sink.messages()
        self.assertEqual(m.tls["version"], "TLSv1.3")
        self.assertEqual(sink.commands(m.conn)[:3],
                         ["EHLO", "STARTTLS", "EHLO"])
        relay.wait_log(TLS_TO % label(sink.nexthop))

    def test_may_plaintext_when_not_offered(self):
        sink = self.sink(tls=False)
        relay, queue_id = self.deliver_one(sink, "may")
        self.wait_removed(relay, queue_id)
        (m,) = sink.messages()
        self.assertIsNone(m.tls)
        self.assertNotIn("STARTTLS", sink.commands(m.conn))
        self.assertNotIn("TLS connection established", relay.maillog())
        self.assertEqual(len(to_lines(relay, queue_id, "sent")), 1)

    def test_may_handshake_failure_falls_back_to_plaintext(self):
        sink = self.sink(broken_tls=True)
        relay, queue_id = self.deliver_one(sink, "may")
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"Cannot start TLS: handshake failure")
        (m,) = sink.messages()
        self.assertIsNone(m.tls)
        # The failed attempt used STARTTLS; the delivery did not.
        self.assertIn("STARTTLS", sum((sink.commands(c[0]) for c in
                                       sink.connections()), []))
        self.assertNotIn("STARTTLS", sink.commands(m.conn))

    def test_none_never_starts_tls(self):
        sink = self.sink(tls=True)
        relay, queue_id = self.deliver_one(
            sink, "none", smtp_tls_note_starttls_offer="yes")
        self.wait_removed(relay, queue_id)
        (m,) = sink.messages()
        self.assertIsNone(m.tls)
        self.assertNotIn("STARTTLS", sink.commands(m.conn))
        relay.wait_log(r"Host offered STARTTLS: \[127\.0\.0\.1\]")

    def test_encrypt_to_server_without_starttls_stays_deferred(self):
        sink = self.sink(tls=False)
        relay, queue_id = self.deliver_one(sink, "encrypt")
        reason = (r"TLS is required, but was not offered by host "
                  r"127\.0\.0\.1\[127\.0\.0\.1\]")
        # Tried, deferred, tried again (backoff 1-2 s), still deferred.
        lines = relay.wait_log(r": %s: to=<%s>, .*status=deferred \(%s\)" %
                               (queue_id, re.escape(RCPT), reason),
                               timeout=15, count=2)
        self.assertRegex(lines[0], r"dsn=4\.\d+\.\d+, ")
        self.assertEqual(sink.messages(), [])
        self.assertEqual(to_lines(relay, queue_id, "sent"), [])
        self.wait_in(relay, queue_id, "deferred", timeout=5)
        with open(os.path.join(relay.queue_dir, "defer", queue_id)) as f:
            self.assertRegex(f.read(), r"^%s\t4\.\d+\.\d+\t%s\n$" %
                             (re.escape(RCPT), reason))
        # The server was asked nothing beyond EHLO.
        for number, _, _ in sink.connections():
            self.assertNotIn("MAIL", sink.commands(number))
        relay.stop()

    def test_encrypt_handshake_failure_is_deferred(self):
        sink = self.sink(broken_tls=True)
        relay, queue_id = self.deliver_one(sink, "encrypt")
        relay.wait_log(r": %s: to=<%s>, .*status=deferred \(.*Cannot start "
                       r"TLS: handshake failure" % (queue_id, re.escape(RCPT)),
                       timeout=15)
        self.assertEqual(sink.messages(), [])
        for number, _, _ in sink.connections():
            self.assertNotIn("MAIL", sink.commands(number))

    def test_encrypt_delivers_over_tls(self):
        sink = self.sink(tls=True)
        relay, queue_id = self.deliver_one(sink, "encrypt")
        self.wait_removed(relay, queue_id)
        (m,) = sink.messages()
        self.assertEqual(m.tls["version"], "TLSv1.3")


class PostfixPeerTest(OutboundTestCase):
    """A real Postfix as the destination: the relay hands it the message
    over STARTTLS, Postfix logs the TLS session and keeps the message."""

    def test_delivery_to_postfix_over_starttls(self):
        peer = self.postfix_peer(domains=("postfix.test",))
        sender_sink = self.sink()
        relay = self.outbound_relay(main={
            "transport_maps": "inline:{ postfix.test=smtp:%s, "
                              "senders.test=smtp:%s }" % (
                                  peer.nexthop, sender_sink.nexthop),
            "smtp_tls_security_level": "encrypt",
        })
        body = b"First line.\r\n.a dot line\r\n" + "\u00e9t\u00e9\r\n".encode()
        message_id, data = self.outbound_message(
            subject="to postfix", to="user@postfix.test", body=body)
        queue_id = self.submit(relay, SENDER, ["user@postfix.test"], data,
                               mail_params=" BODY=8BITMIME", tls=True)
        line = relay.wait_log(r": %s: to=<user@postfix\.test>, relay=%s, .*"
                              r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: "
                              r"queued as ([0-9A-F]+)\)" %
                              (queue_id, label(peer.nexthop)), timeout=20)[0]
        peer_id = re.search(r"queued as ([0-9A-F]+)\)", line).group(1)
        relay.wait_log(TLS_TO % label(peer.nexthop))
        self.wait_removed(relay, queue_id)
        wait_for("Postfix's TLS log line", lambda: re.search(
            r"postfix/smtpd\[\d+\]: Anonymous TLS connection established "
            r"from \S+\[127\.0\.0\.1\]: TLSv1\.3 with cipher", peer.maillog()),
            10, peer.maillog)
        wait_for("%s in Postfix's hold queue" % peer_id, lambda: [
            q for q in peer.queue() if q["queue_id"] == peer_id and
            q["queue_name"] == "hold"], 10, peer.maillog)
        (entry,) = [q for q in peer.queue() if q["queue_id"] == peer_id]
        self.assertEqual(entry["sender"], SENDER)
        self.assertEqual([r["address"] for r in entry["recipients"]],
                         ["user@postfix.test"])
        content = peer.content(peer_id)
        # Postfix's Received: (with ESMTPS: it was TLS), then ours, then
        # what the client sent.
        self.assertRegex(content, rb"^Received: from relay\.test "
                         rb"\(\S+ \[127\.0\.0\.1\]\)\r?\n\s+by postfix\.peer"
                         rb"\.test \(Postfix\) with ESMTPS id " +
                         peer_id.encode())
        self.assertIn(b"by relay.test (tlsrelay) with ESMTPS id " +
                      queue_id.encode(), content)
        self.assertIn(b"Message-ID: " + message_id.encode(), content)
        self.assertIn(b"\n.a dot line", content.replace(b"\r\n", b"\n"))
        self.assertIn("\u00e9t\u00e9".encode(), content)
        relay.stop()


class RetryTest(OutboundTestCase):
    """A temporary failure is retried with backoff; each recipient is
    delivered exactly once."""

    def test_4xx_then_250_is_retried_and_delivered(self):
        sink = self.sink(replies={"rcpt": {
            RCPT: ["450 4.2.0 <%s>: Mailbox busy" % RCPT, "250 2.1.5 Ok"]}})
        relay = self.outbound_relay(main={"relayhost": sink.nexthop})
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, [RCPT], data)
        relay.wait_log(r": %s: to=<%s>, relay=%s, .*dsn=4\.2\.0, "
                       r"status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] "
                       r"said: 450 4\.2\.0 <%s>: Mailbox busy \(in reply to "
                       r"RCPT TO command\)\)" % (queue_id, re.escape(RCPT),
                                                 label(sink.nexthop),
                                                 re.escape(RCPT)))
        self.wait_removed(relay, queue_id, timeout=15)
        self.assertEqual(len(to_lines(relay, queue_id, "sent")), 1)
        self.assertEqual(len(sink.messages()), 1)
        # Retried after minimal_backoff_time, not at the next full scan
        # of some far-off default.
        log = relay.maillog()
        self.assertLess(self.log_time(log, r"%s: removed" % queue_id) -
                        self.log_time(log, r"%s: to=.*status=deferred" %
                                      queue_id), 10)

    @staticmethod
    def log_time(log, pattern):
        for line in log.splitlines():
            if re.search(pattern, line):
                return time.mktime(time.strptime(
                    "2000 " + line[:15], "%Y %b %d %H:%M:%S"))
        raise AssertionError("no line matches %r" % pattern)

    def test_4xx_after_data_is_retried(self):
        sink = self.sink(replies={"data": [
            "451 4.3.0 Temporary local problem", "250 2.0.0 Ok: second"]})
        relay = self.outbound_relay(main={"relayhost": sink.nexthop})
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, [RCPT], data)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred \(host "
                       r"127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.3\.0 "
                       r"Temporary local problem \(in reply to end of DATA "
                       r"command\)\)" % (queue_id, re.escape(RCPT)))
        self.wait_removed(relay, queue_id, timeout=15)
        relay.wait_log(r": %s: to=<%s>, .*status=sent \(250 2\.0\.0 Ok: "
                       r"second\)" % (queue_id, re.escape(RCPT)))
        self.assertEqual(len(sink.messages()), 1)

    def test_delivered_recipient_is_recorded_and_not_sent_again(self):
        busy = "busy@example.test"
        sink = self.sink(replies={"rcpt": {
            busy: ["450 4.2.0 busy", "450 4.2.0 busy", "250 2.1.5 Ok"]}})
        relay = self.outbound_relay(main={
            "relayhost": sink.nexthop,
            # One slow retry gives the test time to read the file.
            "minimal_backoff_time": "3s", "maximal_backoff_time": "3s"})
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, [RCPT, busy], data)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                       (queue_id, re.escape(busy)))
        self.wait_in(relay, queue_id, "deferred", timeout=5)
        qf = QueueFile(os.path.join(relay.queue_dir, "deferred", queue_id))
        self.assertEqual([v for k, v in qf.records if k == "R"],
                         ["D" + RCPT, " " + busy])
        self.wait_removed(relay, queue_id, timeout=20)
        msgs = sink.messages()
        self.assertEqual([m.rcpt_tos for m in msgs], [[RCPT], [busy]])
        self.assertEqual(len(to_lines(relay, queue_id, "sent")), 2)
        self.assertEqual(len(to_lines(relay, queue_id, "deferred")), 2)


class ConnectionReuseTest(OutboundTestCase):

    def test_several_messages_over_one_connection(self):
        sink = self.sink()
        relay = self.outbound_relay(main={
            "relayhost": sink.nexthop,
            "smtp_tls_security_level": "may",
            "default_destination_concurrency_limit": "1",
            "smtp_connection_cache_time_limit": "5s",
        })
        ids = []
        c = self.client(relay)
        c.ehlo()
        for i in range(6):
            _, data = self.outbound_message(subject="reuse %d" % i)
            r = c.send_message(SENDER, [RCPT], data)
            self.assertEqual(r.code, 250, r)
            ids.append(r.text.rsplit(" ", 1)[1])
        c.cmd("QUIT")
        for queue_id in ids:
            self.wait_removed(relay, queue_id)
        msgs = sink.messages()
        self.assertEqual(len(msgs), 6)
        per_conn = collections.Counter(m.conn for m in msgs)
        self.assertLess(len(sink.connections()), 6,
                        "one connection per message: %s" % per_conn)
        conn, most = per_conn.most_common(1)[0]
        self.assertGreaterEqual(most, 2, per_conn)
        # One TLS handshake carried them all; a reused connection starts
        # the next transaction with RSET or MAIL, never a second EHLO.
        commands = sink.commands(conn)
        self.assertEqual(commands.count("STARTTLS"), 1, commands)
        self.assertEqual(commands.count("EHLO"), 2, commands)
        self.assertEqual(commands.count("DATA"), most, commands)
        self.assertTrue(all(m.tls for m in msgs))


class CrashTest(OutboundTestCase):
    """kill -9 of the whole daemon in the middle of a delivery run, and
    messages committed while no queue manager ran."""

    def test_kill9_mid_run_then_restart_delivers_each_once(self):
        total = 50
        # Slow enough that the run cannot end before the kill even when
        # submitting the 50 is slow (a loaded machine): 5 s at the least.
        sink = self.sink(delay=0.2)
        relay = self.outbound_relay(main={
            "relayhost": sink.nexthop,
            "default_destination_concurrency_limit": "2"})
        ids = {}
        c = self.client(relay)
        c.ehlo()
        for i in range(total):
            message_id, data = self.outbound_message(subject="crash %d" % i)
            r = c.send_message(SENDER, [RCPT], data)
            self.assertEqual(r.code, 250, r)
            ids[message_id] = r.text.rsplit(" ", 1)[1]
        c.cmd("QUIT")
        c.close()
        sink.wait_messages(8, diagnostics=relay.diagnostics)
        relay.kill9()
        at_kill = len(sink.messages())
        self.assertLess(at_kill, total, "the run ended before the kill: "
                        "the test proves nothing")
        relay.start()
        for queue_id in ids.values():
            self.wait_removed(relay, queue_id, timeout=60)
        relay.stop()
        copies = self.copies_after_crash(sink, 2)
        self.assertEqual(sorted(copies), sorted(ids), "missing: %s" %
                         sorted(set(ids) - set(copies)))
        for sub in ("incoming", "active", "deferred"):
            self.assertEqual(relay.queue_ids(sub), [], sub)

    def test_messages_queued_without_qmgr_are_delivered_at_start(self):
        sink = self.sink()
        relay = self.outbound_relay(main={"relayhost": sink.nexthop},
                                    qmgr=False)
        ids = []
        for i in range(3):
            _, data = self.outbound_message(subject="waiting %d" % i)
            ids.append(self.submit(relay, SENDER, [RCPT], data))
        # Positive first: the daemon says it runs no queue manager and no
        # process reads the FIFO that smtpd's notices go to, so nothing
        # can take the messages; not a wait that a slow host outlasts.
        relay.wait_log(r"no queue manager service .*mail will be "
                       r"accepted and not delivered")
        self.assertIsNone(relay.qmgr_pid())
        self.assertEqual(relay.queue_ids("incoming"), sorted(ids))
        self.assertEqual(sink.messages(), [])
        relay.stop()
        relay.extra_master += QMGR_LINE
        relay.write_config()
        relay.start()
        for queue_id in ids:
            self.wait_removed(relay, queue_id)
        self.assertEqual(len(sink.messages()), 3)


if __name__ == "__main__":
    main()
