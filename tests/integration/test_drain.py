"""Draining on SIGTERM (issue 16): tlsrelay_drain_time.

A node that gets SIGTERM refuses new connections at once; a session that
had started DATA before the signal gets its 250 and its message reaches
the next hop (an aiosmtpd sink that takes its time over each message);
the mail in the queue keeps being delivered during the drain, and the
daemon exits as soon as nothing is left to deliver, saying so. With a
next hop that never answers, the drain ends after tlsrelay_drain_time,
the queue manager gives up the deliveries in flight, the log says how
many messages stay, and the next start delivers them. The timers are an
administrator's defaults: only the drain time is shortened, where it is
the parameter under test."""

import os
import re
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, OutboundTestCase, dot_stuff,  # noqa
                       main, queued_id, wait_for)

SENDER = "sender@client.test"
RCPT = "rcpt@example.com"


class DrainTest(OutboundTestCase):

    def drain_relay(self, nexthop, **main):
        settings = dict(DEFAULT_TIMERS)
        settings["relayhost"] = nexthop
        settings.update(main)
        return self.outbound_relay(main=settings)

    def queue_messages(self, relay, n):
        return [self.submit(relay, SENDER, [RCPT],
                            self.message("queued %d" % i))
                for i in range(n)]

    def assert_refused(self, relay, within=5):
        """New connections are refused within a few seconds: the
        supervisor closes its listeners at once, each worker its copies
        when it has taken the signal (under ASan that can take a moment),
        and only then does the kernel refuse."""
        deadline = time.monotonic() + within
        while True:
            try:
                socket.create_connection(("127.0.0.1", relay.port()),
                                         timeout=5).close()
            except ConnectionRefusedError:
                return
            if time.monotonic() > deadline:
                self.fail("port %d still accepts %d s after SIGTERM\n%s" % (
                    relay.port(), within, relay.diagnostics()))
            time.sleep(0.05)

    def test_sigterm_finishes_data_and_delivers_the_queue(self):
        # Each message takes the sink 3 s: the queue is still being
        # delivered when the signal comes.
        sink = self.sink(tls=False, delay=3)
        relay = self.drain_relay(sink.nexthop)
        queued = self.queue_messages(relay, 6)
        # A session in DATA when the signal comes.
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(c.cmd("DATA"), 354)
        body = dot_stuff(self.message("in DATA at SIGTERM"))
        c.send(body[:40])
        started = time.monotonic()
        relay.signal(signal.SIGTERM)
        relay.wait_log(r"master\[\d+\]: draining: sessions finish, queued "
                       r"mail is delivered for up to 30s")
        # Some of the queue is still to go: it is delivered in the drain.
        self.assertLess(len(sink.messages()), 6)
        # The listeners are closed at once.
        self.assert_refused(relay)
        # The session goes on: the rest of the message, its 250.
        c.send(body[40:] + b".\r\n")
        in_data = queued_id(c.reply())
        self.assertReply(c.cmd("QUIT"), 221)
        c.close()
        # Everything reaches the sink: the queue and the late message.
        messages = sink.wait_messages(7, timeout=40,
                                      diagnostics=relay.diagnostics)
        subjects = sorted(m.header("Subject") for m in messages)
        self.assertIn("in DATA at SIGTERM", subjects)
        self.assertEqual(len(subjects), 7, subjects)
        relay.wait_exit(timeout=40)
        elapsed = time.monotonic() - started
        log = relay.maillog()
        self.assertIn("%s: client=" % in_data, log)
        self.assertRegex(log, r"qmgr\[\d+\]: nothing more to deliver now: "
                              r"stopping")
        self.assertRegex(log, r"master\[\d+\]: stopping: queue empty")
        self.assertRegex(log, r"master\[\d+\]: stopped after \d+ seconds")
        self.assertNotIn("drain time over", log)
        # It stopped because the queue was empty, not at the drain time.
        self.assertLess(elapsed, 30, log)
        for queue_id in queued + [in_data]:
            self.assertRegex(log, r"%s: to=<%s>, relay=.*status=sent" % (
                queue_id, re.escape(RCPT)))
        self.assertEqual(relay.queue_ids("incoming") +
                         relay.queue_ids("active") +
                         relay.queue_ids("deferred"), [])

    def test_drain_time_bounds_a_dead_next_hop(self):
        # A next hop that accepts the TCP connection (the kernel does,
        # into the backlog) and never says a word: every delivery hangs.
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        dead.listen(16)
        self.addCleanup(dead.close)
        relay = self.drain_relay("[127.0.0.1]:%d" % dead.getsockname()[1],
                                 tlsrelay_drain_time="3s")
        queued = self.queue_messages(relay, 3)
        wait_for("3 messages in delivery",
                 lambda: len(relay.queue_ids("active")) == 3, 20,
                 relay.diagnostics)
        started = time.monotonic()
        relay.signal(signal.SIGTERM)
        relay.wait_log(r"master\[\d+\]: drain time over: the queue manager "
                       r"finishes the deliveries in flight", timeout=10)
        over = time.monotonic() - started
        self.assertGreaterEqual(over, 3 - 1)   # time() has 1 s steps
        # The deliveries in flight get the queue manager's 20 s, then are
        # left in active/ for the next start.
        relay.wait_exit(timeout=45)
        log = relay.maillog()
        self.assertRegex(log, r"qmgr\[\d+\]: warning: 3 messages still in "
                              r"delivery after 20 seconds")
        self.assertRegex(log, r"master\[\d+\]: stopping: 3 messages left in "
                              r"the queue for the next start")
        self.assertEqual(sorted(relay.queue_ids("active")), sorted(queued))
        # The next start, with the next hop back: delivered at once (the
        # files in active/ were never deferred).
        sink = self.sink(tls=False)
        relay.main["relayhost"] = sink.nexthop
        relay.write_config()
        relay.start()
        messages = sink.wait_messages(3, timeout=30,
                                      diagnostics=relay.diagnostics)
        self.assertEqual(len(messages), 3)

    def test_second_sigterm_ends_the_drain(self):
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        dead.listen(16)
        self.addCleanup(dead.close)
        relay = self.drain_relay("[127.0.0.1]:%d" % dead.getsockname()[1])
        self.queue_messages(relay, 1)
        wait_for("a message in delivery",
                 lambda: len(relay.queue_ids("active")) == 1, 20,
                 relay.diagnostics)
        relay.signal(signal.SIGTERM)
        relay.wait_log(r"draining: sessions finish")
        relay.signal(signal.SIGTERM)
        relay.wait_log(r"master\[\d+\]: signal 15 again: ending the drain")
        relay.wait_log(r"drain time over")
        relay.wait_exit(timeout=40)
        self.assertRegex(relay.maillog(), r"stopping: 1 messages left")


if __name__ == "__main__":
    main()
