"""The supervisor and its children (issue 9).

A queue manager that fails at every start is restarted after a pause
that doubles (1, 2, 4, 8 ... seconds, up to service_throttle_time, its
default of 60 s here), with Postfix's "bad command startup --
throttling" line once per pause, never once a second for ever. What makes
it fail is something only the unprivileged queue manager trips over: its
FIFO, public/qmgr, made root's with mode 0600 while the daemon runs (the
supervisor, root, sets it right only at start and on reload).

A master.cf without the queue manager line accepts mail and never
delivers it: the daemon says so when it starts and on reload, and
`tlsrelay queue` says so with every listing."""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, NO_DNS, QMGR_LINE,  # noqa: E402
                       SANITIZER_MARKS, OutboundTestCase, RelayTestCase,
                       free_port, listening_ports, main, wait_for)

NO_QMGR = (r"warning: \S+/master\.cf: no queue manager service \(Postfix's "
           r"\"qmgr unix n - n 300 1 qmgr\"\): mail will be accepted and "
           r"not delivered")


class ThrottleTest(RelayTestCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.fail("test_supervisor needs root: the daemon drops "
                      "privileges only when started as root")

    def test_qmgr_failing_at_start_is_throttled(self):
        relay = self.relay(services={"smtp": {}}, extra_master=QMGR_LINE,
                           main={"tlsrelay_dns_servers": NO_DNS})
        fifo = os.path.join(relay.queue_dir, "public", "qmgr")
        qmgr = wait_for("the queue manager", relay.qmgr_pid, 10,
                        relay.diagnostics)
        saved = os.stat(fifo)
        os.chown(fifo, 0, 0)
        os.chmod(fifo, 0o600)
        # The running one goes; each one after it fails at start.
        os.kill(qmgr, signal.SIGTERM)
        start = time.monotonic()
        relay.wait_log(r"warning: qmgr: bad command startup -- throttling "
                       r"for 8 seconds$", timeout=40)
        elapsed = time.monotonic() - start
        log = relay.maillog()
        failures = re.findall(r"tlsrelay/qmgr\[\d+\]: fatal: queue manager: "
                              r"open %s: Permission denied$" %
                              re.escape(fifo), log, re.M)
        pauses = re.findall(r"tlsrelay/master\[\d+\]: warning: qmgr: bad "
                            r"command startup -- throttling for (\d+) "
                            r"seconds?$", log, re.M)
        self.assertEqual(pauses, ["1", "2", "4", "8"], log)
        self.assertEqual(len(failures), 3, log)
        # 1 + 2 + 4 seconds of pauses (the supervisor's clock counts
        # whole seconds): three starts in at least six seconds.
        self.assertGreaterEqual(elapsed, 6, log)
        self.assertLess(len(failures) / elapsed, 0.5, log)

        # The 8-second pause is kept: with the FIFO set right at once,
        # the next queue manager still comes only when it is over.
        os.chown(fifo, saved.st_uid, saved.st_gid)
        os.chmod(fifo, saved.st_mode & 0o7777)
        repaired = time.monotonic()
        wait_for("a queue manager holding %s" % fifo, relay.qmgr_pid, 20,
                 relay.diagnostics)
        self.assertGreaterEqual(time.monotonic() - repaired, 6,
                                relay.maillog())
        self.assertEqual(len(re.findall(r"fatal: queue manager",
                                        relay.maillog())), 3)

        # Those failures were the point: stop without the harness's
        # check for them, and check the rest by hand.
        relay.stop(check=False)
        self.assertEqual(relay.proc.returncode, 0, relay.diagnostics())
        self.assertFalse(any(mark in relay.stderr()
                             for mark in SANITIZER_MARKS), relay.stderr())


class NoQmgrTest(OutboundTestCase):

    def test_without_qmgr_line_warns(self):
        relay = self.relay(services={"smtp": {}})
        relay.wait_log(r"tlsrelay/master\[\d+\]: " + NO_QMGR)
        queue_id = self.submit(relay, "sender@senders.test",
                               ["rcpt@example.test"], self.message())
        self.assertEqual(self.where(relay, queue_id), "incoming")
        status, out = self.tlsrelay("queue", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertRegex(out, r"(?m)^tlsrelay: " + NO_QMGR + "$")
        self.assertIn(queue_id, out)
        # Every reading of the configuration says it again.
        relay.signal(signal.SIGHUP)
        relay.wait_log(NO_QMGR, count=2)

    def test_with_qmgr_line_no_warning(self):
        relay = self.relay(services={"smtp": {}}, extra_master=QMGR_LINE,
                           main={"tlsrelay_dns_servers": NO_DNS})
        # The supervisor starts the queue manager after it would have
        # warned: wait for that.
        wait_for("the queue manager", relay.qmgr_pid, 10, relay.diagnostics)
        status, out = self.tlsrelay("queue", "-c", relay.dir)
        self.assertEqual((status, out), (0, "Mail queue is empty\n"))
        self.assertNotRegex(relay.maillog(), NO_QMGR)


class SupervisorDeathTest(OutboundTestCase):
    """kill -9 of the supervisor alone: its workers and queue manager
    follow it (a restarted daemon would otherwise run beside them, two
    queue managers on one queue), and the restarted daemon delivers what
    was queued, each message once."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.fail("test_supervisor needs root")

    def alive(self, pids):
        return [p for p in pids if os.path.exists("/proc/%d" % p)]

    def test_children_follow_a_killed_supervisor(self):
        # A next hop that refuses connections: the mail stays queued.
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost="[127.0.0.1]:%d" % free_port()))
        qmgr = wait_for("the queue manager", relay.qmgr_pid, 10,
                        relay.diagnostics)
        children = relay.wait_workers(3)
        self.assertIn(qmgr, children)
        queued = [self.submit(relay, "a@example.com", ["b@example.net"],
                              b"Subject: %d\r\n\r\nbody\r\n" % i)
                  for i in range(5)]
        for queue_id in queued:
            self.wait_in(relay, queue_id, "deferred")
        os.kill(relay.pid, signal.SIGKILL)
        relay.proc.wait(10)
        relay.killed = True
        relay.stderr_file.close()
        deadline = time.monotonic() + 10
        while self.alive(children) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.alive(children), [],
                         "children outlived the supervisor\n%s" %
                         relay.diagnostics())
        self.assertNotIn(relay.port(), listening_ports())
        # Started again on the same queue, with a next hop that answers:
        # each message arrives, once.
        sink = self.sink()
        relay.main["relayhost"] = sink.nexthop
        relay.write_config()
        relay.start()
        wait_for("the queue manager", relay.qmgr_pid, 10, relay.diagnostics)
        status, out = self.tlsrelay("queue", "-c", relay.dir, "flush")
        self.assertEqual(status, 0, out)
        got = sink.wait_messages(5, diagnostics=relay.diagnostics)
        for queue_id in queued:
            self.wait_removed(relay, queue_id)
        self.assertEqual(sorted(m.header("Subject") for m in got),
                         [str(i) for i in range(5)])

    def test_refuses_a_queue_a_live_queue_manager_holds(self):
        """The lock the queue manager holds on pid/qmgr.pid outlives a
        supervisor killed with SIGKILL when its queue manager does: a
        new daemon then refuses to start and names the PID."""
        import fcntl
        relay = self.outbound_relay(main=dict(DEFAULT_TIMERS), start=False)
        piddir = os.path.join(relay.queue_dir, "pid")
        os.makedirs(piddir, exist_ok=True)
        with open(os.path.join(piddir, "qmgr.pid"), "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.write("%10d\n" % os.getpid())
            held.flush()
            status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertRegex(out, r"fatal: a queue manager \(PID %d\) of an "
                         r"earlier tlsrelayd still runs on %s: stop it "
                         r"\(kill %d\) before starting" % (
                             os.getpid(), re.escape(relay.queue_dir),
                             os.getpid()))
        # Released: the daemon starts and its queue manager takes it
        # (the refusal above is not this start's).
        open(relay.stderr_path, "w").close()
        relay.start()
        wait_for("the queue manager", relay.qmgr_pid, 10, relay.diagnostics)


if __name__ == "__main__":
    main()
