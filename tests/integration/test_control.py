"""The commands an administrator runs against the live daemon, as with
Postfix: `tlsrelay status`, `reload` and `stop` through the locked PID
file (a second daemon on the same queue refuses to start), `tlsrelay
queue -j` (postqueue -j's JSON lines) and `tlsrelay queue requeue`
(postsuper -r), which sends deferred mail along the route of a new
configuration at once. Postfix's default timers throughout."""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, OutboundTestCase, main,  # noqa
                       proc_stat, wait_for)



class ControlTest(OutboundTestCase):

    def test_status_reload_stop(self):
        relay = self.outbound_relay(main=dict(DEFAULT_TIMERS))
        status, out = self.tlsrelay("status", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertEqual(out.strip(), "tlsrelay: the mail system is "
                         "running: PID: %d" % relay.pid)
        with open(os.path.join(relay.queue_dir, "pid", "master.pid")) as f:
            self.assertEqual(int(f.read()), relay.pid)

        status, out = self.tlsrelay("reload", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertIn("refreshing the mail system", out)
        relay.wait_log(r"tlsrelay/master\[%d\]: reload -- version " %
                       relay.pid)

        status, out = self.tlsrelay("stop", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertIn("stopping the mail system", out)
        # stop returns once the daemon has gone.
        st = proc_stat(relay.pid)
        self.assertTrue(st is None or st[0] == "Z", st)
        relay.term_sent = True      # by the command, not by the harness
        relay.wait_exit()
        status, out = self.tlsrelay("status", "-c", relay.dir)
        self.assertEqual(status, 1, out)
        self.assertIn("the mail system is not running", out)
        status, out = self.tlsrelay("reload", "-c", relay.dir)
        self.assertEqual(status, 1, out)

    def test_second_daemon_on_the_queue(self):
        first = self.outbound_relay(main=dict(DEFAULT_TIMERS))
        second = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, queue_directory=first.queue_dir), start=False)
        status, out = second.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertIn("the mail system is already running on %s (PID %d"
                      % (first.queue_dir, first.pid), out)
        status, out = self.tlsrelay("status", "-c", first.dir)
        self.assertEqual(status, 0, out)

    def test_json_listing_and_requeue(self):
        sink = self.sink()
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost="[127.0.0.1]:1"))
        ids = [self.submit(relay, "sender@client.test",
                           ["r%d@dest.test" % i], self.message())
               for i in range(2)]
        for queue_id in ids:
            relay.wait_log(r": %s: to=<r\d@dest\.test>, .*status=deferred"
                           % queue_id, timeout=20)
            # The to= line comes before the move to deferred/.
            self.wait_in(relay, queue_id, "deferred")
        status, out = self.tlsrelay("queue", "-c", relay.dir, "-j")
        self.assertEqual(status, 0, out)
        entries = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(sorted(e["queue_id"] for e in entries), sorted(ids))
        for e in entries:
            self.assertEqual(e["queue_name"], "deferred")
            self.assertEqual(e["sender"], "sender@client.test")
            self.assertIs(e["forced_expire"], False)
            self.assertIsInstance(e["arrival_time"], int)
            self.assertGreater(e["message_size"], 0)
            [rcpt] = e["recipients"]
            self.assertRegex(rcpt["address"], r"^r\d@dest\.test$")
            self.assertIn("Connection refused", rcpt["delay_reason"])

        # A new route, and requeue: delivered now, not in 300 s.
        relay.main["relayhost"] = sink.nexthop
        relay.write_config()
        old_qmgr = relay.qmgr_pid()
        self.assertIsNotNone(old_qmgr)
        status, out = self.tlsrelay("reload", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        relay.wait_log(r"reload -- version ")
        # The new configuration's queue manager: the old one finishes
        # what it has and takes nothing more.
        wait_for("the new queue manager", lambda: relay.qmgr_pid() not in
                 (None, old_qmgr), 20, relay.diagnostics)
        status, out = self.tlsrelay("queue", "-c", relay.dir, "requeue",
                                    "ALL")
        self.assertEqual(status, 0, out)
        self.assertIn("Requeued: 2 messages", out)
        for queue_id in ids:
            relay.wait_log(r": %s: to=<r\d@dest\.test>, .*status=sent"
                           % queue_id, timeout=20)
        self.assertEqual(sorted(m.rcpt_tos[0] for m in sink.messages()),
                         ["r0@dest.test", "r1@dest.test"])
        status, out = self.tlsrelay("queue", "-c", relay.dir, "-j")
        self.assertEqual((status, out), (0, ""))
        status, out = self.tlsrelay("queue", "-c", relay.dir, "requeue",
                                    "0123ABC")
        self.assertEqual(status, 1, out)
        self.assertIn("0123ABC: no such message", out)


if __name__ == "__main__":
    main()
