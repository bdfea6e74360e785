"""The durable spool seen from outside: after 250 the queue file holds
exactly the bytes the client sent behind one Received: header, and kill -9
at any moment loses no acknowledged message."""

import email.utils
import os
import pwd
import random
import re
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, MAIL_OWNER,  # noqa: E402
                       OutboundTestCase, QueueFile, RawSMTP, RelayTestCase,
                       free_port, main, queued_id, text_lines, unfold,
                       wait_for)

SENDER = "sender@client.test"
RCPT = "rcpt@example.com"


class ContentTest(RelayTestCase):

    def messages(self):
        big_line = b"z" * 100000
        return [
            ("dots", b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n"
                     b"...three\r\nend.\r\n. \r\n.\r\n", ""),
            ("8bit", b"Subject: 8bit\r\nContent-Type: text/plain; "
                     b"charset=utf-8\r\n\r\n" + bytes(range(128, 256)) +
                     b"\r\n" + "Gr\u00fc\u00dfe \u2603\r\n".encode() +
                     b"ctl \x01\x02\x07\x1b\x7f and a bare\rCR\r\n",
             " BODY=8BITMIME"),
            ("long lines", b"Subject: long\r\n\r\n" + b"y" * 10000 + b"\r\n" +
                           big_line + b"\r\n.\r\nafter\r\n", ""),
            ("3 MB", b"Subject: big\r\n\r\n" +
                     text_lines(76, 40000, 1, dot_every=17), ""),
            ("headers only", b"Subject: empty body\r\n\r\n", ""),
            ("empty", b"", ""),
        ]

    def check_exact(self, relay, c, protocol):
        for name, data, params in self.messages():
            with self.subTest(message=name, protocol=protocol):
                queue_id = queued_id(c.send_message(SENDER, [RCPT], data,
                                                    mail_params=params))
                qf = relay.queue_file(queue_id)
                self.assertEqual(len(qf.message), len(data))
                self.assertTrue(qf.message == data,
                                "content differs from what was sent")
                self.assertEqual(qf.sender, SENDER)
                self.assertEqual(qf.recipients, [RCPT])
                self.assertEqual(qf.protocol, protocol)
                self.assertEqual(qf.get("B"), "8BITMIME" if params else "7BIT")
        self.assertEqual(relay.queue_ids("tmp"), [])

    def test_exact_bytes_over_starttls(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        self.check_exact(relay, c, "ESMTPS")

    def test_exact_bytes_plaintext(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        self.check_exact(relay, c, "ESMTP")

    def test_envelope_records(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo("helo.client.test")
        c.starttls(self.tls())
        c.ehlo("helo.client.test")
        before = time.time()
        queue_id = queued_id(c.send_message(
            "", ["a@example.com", "b@example.org"], self.message()))
        qf = relay.queue_file(queue_id)
        self.assertEqual(qf.sender, "")
        self.assertEqual(qf.recipients, ["a@example.com", "b@example.org"])
        self.assertEqual(qf.get("N"), "unknown")
        self.assertEqual(qf.get("A"), "127.0.0.1")
        self.assertEqual(qf.get("H"), "helo.client.test")
        self.assertRegex(qf.tls, r"^TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)$")
        self.assertAlmostEqual(float(qf.get("T")), before, delta=5)
        self.assertTrue(re.fullmatch(r"[0-9A-F]+", queue_id), queue_id)
        self.assertEqual(os.stat(qf.path).st_mode & 0o077, 0)


class ReceivedHeaderTest(RelayTestCase):

    def received(self, relay, c, helo=True):
        queue_id = queued_id(c.send_message(SENDER, [RCPT], self.message()))
        qf = relay.queue_file(queue_id)
        for line in qf.received.split(b"\r\n")[:-1]:
            self.assertLessEqual(len(line), 998)
        text = unfold(qf.received)
        self.assertTrue(text.startswith(
            "Received: from client.test (unknown [127.0.0.1])"), text)
        self.assertIn(" by relay.test ", text)
        self.assertIn(" for <%s>;" % RCPT, text)
        m = re.search(r" with (\S+) id (\S+)", text)
        self.assertTrue(m, text)
        self.assertEqual(m.group(1), qf.protocol)
        self.assertEqual(m.group(2).rstrip(";"), queue_id)
        date = text.rsplit(";", 1)[1].strip()
        date = re.sub(r"\s*\([^)]*\)$", "", date)
        when = email.utils.parsedate_to_datetime(date).timestamp()
        self.assertAlmostEqual(when, time.time(), delta=300)
        return qf, text

    def test_plain_esmtp(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        qf, text = self.received(relay, c)
        self.assertEqual(qf.protocol, "ESMTP")
        self.assertNotIn("(using", text)

    def test_helo_is_smtp(self):
        relay = self.relay()
        c = self.client(relay)
        self.assertReply(c.cmd("HELO client.test"), 250)
        qf, text = self.received(relay, c)
        self.assertEqual(qf.protocol, "SMTP")

    def test_starttls_is_esmtps(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        qf, text = self.received(relay, c)
        self.assertEqual(qf.protocol, "ESMTPS")
        self.assertNotIn("(using", text)

    def test_tls_received_header(self):
        relay = self.relay(main={"smtpd_tls_received_header": "yes"})
        for service in ("smtp", "smtps"):
            if service == "smtp":
                c = self.client(relay)
                c.ehlo()
                c.starttls(self.tls())
            else:
                c = self.client(relay, "smtps", implicit_tls=self.tls())
            c.ehlo()
            qf, text = self.received(relay, c)
            self.assertEqual(qf.protocol, "ESMTPS")
            self.assertRegex(qf.tls, r"^TLSv1\.3 with cipher \S+ "
                             r"\(\d+/\d+ bits\)$")
            self.assertIn(" (using %s) " % qf.tls, text)


class KillNineTest(RelayTestCase):
    """Clients send in a loop; the whole daemon is killed with SIGKILL at a
    random moment. Every message that got its 250 must be complete in
    incoming/; nothing half-written may ever be there."""

    CLIENTS = 6
    ROUNDS = 3

    def sender(self, relay, n, state):
        rng = random.Random(n * 7919 + state["round"])
        seq = 0
        while not state["stop"].is_set():
            c = None
            try:
                c = RawSMTP(self, relay.port(), cleanup=False)
                c.ehlo()
                if n % 2:
                    c.starttls(self.tls())
                    c.ehlo()
                for _ in range(rng.randint(1, 4)):
                    seq += 1
                    marker = "%d-%d-%d" % (state["round"], n, seq)
                    size = rng.choice((200, 5000, 60000, 400000))
                    data = (b"Subject: kill test\r\nX-Seq: " + marker.encode() +
                            b"\r\n\r\n" +
                            text_lines(70, size // 72, marker, dot_every=17))
                    with state["lock"]:
                        state["sent"][marker] = data
                    queue_id = queued_id(c.send_message(SENDER, [RCPT], data))
                    with state["lock"]:
                        state["acked"].append((queue_id, marker))
                c.cmd("QUIT")
            except Exception as e:  # noqa: BLE001 -- sorted out by time
                with state["lock"]:
                    state["errors"].append((time.monotonic(), n, repr(e)))
            finally:
                if c is not None:
                    c.close()

    def test_kill9_loses_no_acknowledged_message(self):
        relay = self.relay(start=False)
        all_acked = []
        for rnd in range(self.ROUNDS):
            relay.start()
            state = {"round": rnd, "stop": threading.Event(),
                     "lock": threading.Lock(), "sent": {}, "acked": [],
                     "errors": []}
            threads = [threading.Thread(target=self.sender,
                                        args=(relay, n, state), daemon=True)
                       for n in range(self.CLIENTS)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while len(state["acked"]) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(random.uniform(0, 1.5))
            killed_at = time.monotonic()
            relay.kill9()
            state["stop"].set()
            for t in threads:
                t.join(30)
                self.assertFalse(t.is_alive(), "client thread hangs")
            early = [e for e in state["errors"] if e[0] < killed_at]
            self.assertEqual(early, [], "client errors before the kill")
            self.assertGreaterEqual(len(state["acked"]), 3,
                                    relay.diagnostics())
            self.check_queue(relay, state)
            all_acked += state["acked"]
        # Messages of earlier rounds survive later restarts and kills.
        incoming = set(relay.queue_ids())
        self.assertEqual([q for q, _ in all_acked if q not in incoming], [])

    def check_queue(self, relay, state):
        incoming = relay.queue_ids()
        for queue_id, marker in state["acked"]:
            self.assertIn(queue_id, incoming, "acknowledged message lost")
        by_marker = {}
        for queue_id in incoming:
            qf = QueueFile(os.path.join(relay.queue_dir, "incoming", queue_id))
            m = re.search(rb"^X-Seq: (\S+)\r$", qf.message, re.M)
            self.assertTrue(m, "%s: no X-Seq header" % queue_id)
            by_marker[m.group(1).decode()] = qf
        for queue_id, marker in state["acked"]:
            qf = by_marker[marker]
            self.assertEqual(qf.id, queue_id)
            self.assertTrue(qf.message == state["sent"][marker],
                            "%s: content differs" % queue_id)
        # Committed but not yet acknowledged is fine, if complete.
        for marker, qf in by_marker.items():
            if marker.startswith("%d-" % state["round"]):
                self.assertTrue(qf.message == state["sent"][marker],
                                "%s: incomplete file in incoming/" % qf.id)
        leftovers = set(relay.queue_ids("tmp"))
        self.assertEqual(leftovers & set(incoming), set())


class StaleTmpTest(OutboundTestCase):
    """Files a crash left in tmp/ (half-received, never acknowledged) are
    removed by the queue manager; a file a live writer holds, or one just
    made, stays (issue 13 #8)."""

    def test_stale_tmp_files_removed(self):
        import fcntl
        relay = self.outbound_relay(main=dict(DEFAULT_TIMERS), start=False)
        tmp = os.path.join(relay.queue_dir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        old = time.time() - 3600

        def make(name, mtime=None):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write("T1\nhalf a message")
            if mtime:
                os.utime(path, (mtime, mtime))
            return path
        stale = [make("STALE%d" % i, old) for i in range(3)]
        fresh = make("FRESH")
        held_path = make("HELD", old)
        held = open(held_path)
        self.addCleanup(held.close)
        fcntl.flock(held, fcntl.LOCK_EX)
        relay.start()
        relay.wait_log(r"removed 3 stale temporary file\(s\) from %s: "
                       r"messages whose receipt a crash cut short" %
                       re.escape(tmp))
        self.assertEqual([p for p in stale if os.path.exists(p)], [])
        self.assertTrue(os.path.exists(fresh))
        self.assertTrue(os.path.exists(held_path))
        # Mail received meanwhile is untouched by the purge.
        queue_id = self.submit(relay, "a@example.com", ["b@example.net"],
                               b"Subject: x\r\n\r\nbody\r\n")
        self.assertIsNotNone(self.where(relay, queue_id))


class TruncatedFileTest(OutboundTestCase):
    """A queue file cut short on disk after its 250 (outside corruption)
    is not delivered cut short: the z record holds the content's length,
    and the queue manager moves the file to corrupt/ with a log line
    (issue 13 #9)."""

    def test_truncated_file_goes_to_corrupt(self):
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost="[127.0.0.1]:%d" % free_port()))
        queue_id = self.submit(relay, "a@example.com", ["b@example.net"],
                               b"Subject: cut\r\n\r\n" + b"line\r\n" * 100)
        self.wait_in(relay, queue_id, "deferred")
        path = os.path.join(relay.queue_dir, "deferred", queue_id)
        qf = QueueFile(path)
        self.assertEqual(int(qf.get("z")), len(qf.content))
        os.truncate(path, os.path.getsize(path) - 50)
        sink = self.sink()
        relay.main["relayhost"] = sink.nexthop
        relay.write_config()
        relay.signal(signal.SIGHUP)
        relay.wait_log(r"reload -- version")
        status, out = self.tlsrelay("queue", "-c", relay.dir, "flush")
        self.assertEqual(status, 0, out)
        relay.wait_log(r"%s: corrupt queue file, moved to corrupt/: .*"
                       r"truncated content: %d bytes where %d were written"
                       % (queue_id, len(qf.content) - 50, len(qf.content)))
        self.assertEqual(self.where(relay, queue_id), "corrupt")
        self.assertEqual(sink.messages(), [])


class SpareFileTest(OutboundTestCase):
    """A delivered message's queue file is emptied and kept in spare/ for
    the next message instead of being unlinked (no inode allocated and
    freed per message); nothing of the delivered mail stays in it."""

    def released(self, relay):
        """{slot: stat} of spare/ once nothing waits there to be
        released (no spare/.ID), else None."""
        spare = os.path.join(relay.queue_dir, "spare")
        files = {}
        for name in os.listdir(spare):
            if not name.isdigit():
                return None
            try:
                files[name] = os.stat(os.path.join(spare, name))
            except FileNotFoundError:
                return None
        return files

    def test_delivered_files_reused(self):
        """The next message is written into a released file; its mode is
        a new file's and its content only its own."""
        sink = self.sink()
        relay = self.outbound_relay(main=dict(DEFAULT_TIMERS,
                                              relayhost=sink.nexthop))
        ids = [self.submit(relay, "a@example.com", ["b@example.net"],
                           b"Subject: %d\r\n\r\n" % i + b"secret\r\n" * 500)
               for i in range(5)]
        sink.wait_messages(5)
        for queue_id in ids:
            self.wait_removed(relay, queue_id)
        # Released by the queue manager's sync thread once the queue
        # directories are fsync'ed: numbered slots, every one empty (as
        # the five were sent one after the other, a later one may have
        # reused an earlier one's file: one to five of them).
        spare = wait_for("every file released in spare/",
                         lambda: self.released(relay), 10,
                         relay.diagnostics)
        self.assertEqual([n for n, st in spare.items() if st.st_size], [])
        inodes = {st.st_ino for st in spare.values()}
        # The next message is written into one of them (deferred by the
        # sink's 450, so it stays to be looked at).
        sink.set_replies({"rcpt": {"later@example.net":
                                   ["450 4.2.0 not now"]}})
        queue_id = self.submit(relay, "a@example.com", ["later@example.net"],
                               b"Subject: next\r\n\r\nshort\r\n")
        self.wait_in(relay, queue_id, "deferred")
        path = os.path.join(relay.queue_dir, "deferred", queue_id)
        self.assertIn(os.stat(path).st_ino, inodes)
        self.assertEqual(os.stat(path).st_mode & 0o7777, 0o600)
        qf = QueueFile(path)
        self.assertEqual(int(qf.get("z")), len(qf.content))
        with open(path, "rb") as f:
            self.assertNotIn(b"secret", f.read())

    def test_crash_leftovers_cleared(self):
        """A file set aside but not yet released (a crash between the two
        steps) is removed when the queue manager starts, never reused:
        whether its old names are gone for good is unknown. An empty file
        in the queue (an emptied one whose removal power loss undid: no
        committed message is empty) is removed, not called corrupt."""
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost="[127.0.0.1]:%d" % free_port()),
            start=False)
        for sub in ("spare", "active"):
            os.makedirs(os.path.join(relay.queue_dir, sub), exist_ok=True)
        aside = os.path.join(relay.queue_dir, "spare",
                             ".0123456789ABCDEF0123456789AB")
        with open(aside, "w") as f:
            f.write("set aside")
        empty_id = "0123456789ABCDEF0123456789AC"
        empty = os.path.join(relay.queue_dir, "active", empty_id)
        open(empty, "w").close()
        owner = pwd.getpwnam(MAIL_OWNER)
        for path in (aside, empty):
            os.chown(path, owner.pw_uid, owner.pw_gid)
            os.chmod(path, 0o600)
        relay.start()
        relay.wait_log(r"%s: removed \(an empty queue file: a delivered "
                       r"message whose removal a crash undid\)" % empty_id)
        self.assertIsNone(self.where(relay, empty_id))
        self.assertEqual(os.listdir(os.path.join(relay.queue_dir,
                                                 "corrupt")), [])
        # The purge comes before the queue manager's first scan.
        queue_id = self.submit(relay, "a@example.com", ["b@example.net"],
                               b"Subject: x\r\n\r\nbody\r\n")
        self.wait_in(relay, queue_id, "deferred")
        self.assertFalse(os.path.exists(aside))
        deferred = os.path.join(relay.queue_dir, "deferred", queue_id)
        self.assertNotEqual(os.stat(deferred).st_size, 0)

if __name__ == "__main__":
    main()
