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

from relaytest import (NO_DNS, QMGR_LINE, SANITIZER_MARKS,  # noqa: E402
                       OutboundTestCase, RelayTestCase, main, wait_for)

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


if __name__ == "__main__":
    main()
