"""The delivery pipeline with the timers an administrator has: nothing
waits for queue_run_delay (300 s) or the backoff (300 s). A bounce the
queue manager writes goes out at once, mail that finds the active set full
is taken the moment room frees, and a kill -9 in the middle of a sustained
send loses nothing and sends nothing recorded as delivered twice. Peers:
aiosmtpd sinks (peers/sink.py), routed by transport_maps to loopback."""

import collections
import os
import re
import signal
import smtplib
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, OutboundTestCase,  # noqa: E402
                       inline_table, main, wait_for)

SENDER = "sender@senders.test"
GOOD = "good@example.test"
BAD = "nobody@example.test"
REJECT = "550 5.1.1 <%s>: Recipient address rejected: User unknown" % BAD



class SchedulingTestCase(OutboundTestCase):

    def relay_to(self, dest, senders=None, **main):
        table = {"example.test": "smtp:" + dest.nexthop}
        if senders is not None:
            table["senders.test"] = "smtp:" + senders.nexthop
        settings = dict(DEFAULT_TIMERS)
        settings["transport_maps"] = inline_table(table)
        settings.update(main)
        return self.outbound_relay(main=settings)


class BounceLatencyTest(SchedulingTestCase):

    def test_dsn_for_a_550_arrives_within_seconds(self):
        dest = self.sink(replies={"rcpt": {BAD: [REJECT]}})
        senders = self.sink()
        relay = self.relay_to(dest, senders)
        _, data = self.outbound_message(subject="bounce me")
        started = time.monotonic()
        queue_id = self.submit(relay, SENDER, [BAD], data)
        (dsn,) = senders.wait_messages(1, timeout=30,
                                       diagnostics=relay.diagnostics)
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 10, "the DSN took %.1f s" % elapsed)
        self.assertEqual(dsn.mail_from, "")
        self.assertEqual(dsn.rcpt_tos, [SENDER])
        line = relay.wait_log(r": %s: sender non-delivery notification: "
                              r"([0-9A-F]+)$" % queue_id)[0]
        bounce_id = line.rsplit(" ", 1)[1]
        self.wait_removed(relay, queue_id)
        self.wait_removed(relay, bounce_id)


class ActiveLimitTest(SchedulingTestCase):

    def test_500_messages_through_an_active_set_of_50(self):
        total, limit = 500, 50
        # A slow far end (at most 10 connections, half a second per
        # message) so that mail arrives faster than it leaves, even
        # under AddressSanitizer: the active set must fill up.
        dest = self.sink(delay=0.5)
        relay = self.relay_to(dest, qmgr_message_active_limit=str(limit),
                              default_destination_concurrency_limit="10")
        active_dir = os.path.join(relay.queue_dir, "active")
        peak = [0]
        done = threading.Event()

        def watch():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], len(os.listdir(active_dir)))
                except FileNotFoundError:
                    pass
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        self.addCleanup(done.set)
        sent = set()
        started = time.monotonic()
        c = self.client(relay)
        c.ehlo()
        for i in range(total):
            message_id, data = self.outbound_message(subject="burst %d" % i,
                                                     to=GOOD)
            r = c.send_message(SENDER, [GOOD], data)
            self.assertEqual(r.code, 250, r)
            sent.add(message_id)
        c.cmd("QUIT")
        c.close()
        # Far less than one queue_run_delay: no message waited for a scan.
        msgs = dest.wait_messages(total, timeout=120,
                                  diagnostics=relay.diagnostics)
        elapsed = time.monotonic() - started
        done.set()
        watcher.join()
        arrived = collections.Counter(m.message_id for m in msgs)
        self.assertEqual(set(arrived), sent)
        self.assertEqual(max(arrived.values()), 1)
        self.assertLessEqual(peak[0], limit, "active/ held more than "
                             "qmgr_message_active_limit")
        self.assertGreaterEqual(peak[0], limit * 4 // 5, "the load never "
                                "filled the active set: the test proves "
                                "nothing (peak %d)" % peak[0])
        self.assertLess(elapsed, 120)
        wait_for("an empty queue", lambda: not any(
            relay.queue_ids(sub) for sub in ("incoming", "active",
                                             "deferred")), 20)


class SustainedCrashTest(SchedulingTestCase):

    def test_kill9_during_a_sustained_send_loses_nothing(self):
        self.sustained_send_with(lambda relay: self.kill_everything(relay))

    def test_kill9_of_a_worker_loses_nothing(self):
        """Only one smtpd worker dies: the supervisor starts another, the
        sender's next connection goes through, nothing acknowledged is
        lost."""
        def kill_worker(relay):
            qmgr = relay.qmgr_pid()
            worker = [p for p in relay.workers() if p != qmgr][0]
            os.kill(worker, signal.SIGKILL)
            relay.wait_log(r"warning: process smtpd pid %d killed by "
                           r"signal 9" % worker)
            relay.killed = True     # that line is this test's doing
        self.sustained_send_with(kill_worker)

    def test_kill9_of_the_queue_manager_loses_nothing(self):
        """Only the queue manager dies, its deliveries with it: the
        supervisor starts another, which takes up active/ again; every
        acknowledged message arrives, a message whose 250 from the sink
        the dead one never read at most twice (the count is logged for
        the record: delivery runs inside the queue manager)."""
        def kill_qmgr(relay):
            qmgr = relay.qmgr_pid()
            os.kill(qmgr, signal.SIGKILL)
            relay.wait_log(r"warning: process qmgr pid %d killed by "
                           r"signal 9" % qmgr)
            relay.killed = True     # that line is this test's doing
        copies = self.sustained_send_with(kill_qmgr)
        twice = sum(1 for c in copies.values() if len(c) > 1)
        print("\nqmgr killed: %d of %d messages arrived twice" % (
            twice, len(copies)), file=sys.stderr)

    def kill_everything(self, relay):
        relay.kill9()
        relay.start()

    def sustained_send_with(self, kill):
        total, concurrency = 300, 4
        dest = self.sink(delay=0.01)
        relay = self.relay_to(dest, default_destination_concurrency_limit=str(
            concurrency))
        port = relay.port()
        acked = []          # message-ids the relay answered 250 for
        tried = []          # every message-id offered
        errors = []

        def send_all():
            client = None
            i = 0
            deadline = time.monotonic() + 120
            while i < total and time.monotonic() < deadline:
                message_id, data = self.outbound_message(
                    subject="sustained %d" % i, to=GOOD)
                tried.append(message_id)
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", port, timeout=10)
                        client.ehlo("client.test")
                    client.sendmail(SENDER, [GOOD], data)
                    acked.append(message_id)
                    i += 1
                except (smtplib.SMTPException, OSError):
                    # The relay died under us: this one may or may not
                    # have been queued. Offer the rest once it is back.
                    client = None
                    i += 1
                    time.sleep(0.1)
            if i < total:
                errors.append("sender gave up at message %d" % i)
            if client is not None:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    pass

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        dest.wait_messages(80, timeout=60, diagnostics=relay.diagnostics)
        at_kill = len(dest.messages())
        kill(relay)
        sender.join(150)
        self.assertFalse(sender.is_alive(), "the sender hung")
        self.assertEqual(errors, [])
        self.assertLess(at_kill, len(acked), "everything was delivered "
                        "before the kill: the test proves nothing")

        def all_acked_arrived():
            got = {m.message_id for m in dest.messages()}
            return set(acked) <= got
        wait_for("every acknowledged message at the sink", all_acked_arrived,
                 120, relay.diagnostics)
        wait_for("an empty queue", lambda: not any(
            relay.queue_ids(sub) for sub in ("incoming", "active",
                                             "deferred")), 60,
                 relay.diagnostics)
        copies = self.copies_after_crash(dest, concurrency)
        self.assertLessEqual(set(copies), set(tried))
        self.assertTrue(re.search(r"tlsrelay/smtp\[\d+\]: [0-9A-F]+: to=<%s>"
                                  % re.escape(GOOD), relay.maillog()))
        return copies


if __name__ == "__main__":
    main()
