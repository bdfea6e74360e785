"""Privileges: started as root, the supervisor binds the ports (a port
below 1024 included) and the workers run as mail_owner. The supervisor
does without CAP_KILL, which the systemd unit does not grant."""

import os
import pwd
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (MAIL_OWNER, HarnessError, RelayTestCase,  # noqa: E402
                       listening_inodes, main, port_is_free, proc_socket_inodes,
                       queued_id, wait_dropped)


def privileged_port():
    for port in range(587, 1024):
        if port_is_free(port):
            return port
    raise HarnessError("no free port below 1024 on 127.0.0.1")


class PrivilegeTest(RelayTestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise HarnessError("test_privileges needs root (the daemon "
                               "drops privileges only when started as root)")
        super().setUpClass()

    def test_workers_run_as_mail_owner(self):
        owner = pwd.getpwnam(MAIL_OWNER)
        low = privileged_port()
        relay = self.relay(services={
            "smtp": {},
            "low": {"listen": "127.0.0.1:%d" % low},
        })
        workers = relay.wait_workers(2)
        for pid in workers:
            st = wait_dropped(pid, owner.pw_uid)
            self.assertEqual(st["Gid"].split(), [str(owner.pw_gid)] * 4,
                             "worker %d: Gid %s" % (pid, st["Gid"]))
            self.assertNotIn("0", st["Groups"].split(),
                             "worker %d keeps group root" % pid)
            self.assertEqual(st["CapEff"], "0000000000000000",
                             "worker %d keeps capabilities" % pid)
        # The supervisor holds the listening sockets it bound, the one
        # below 1024 too, which mail_owner could never have bound.
        held = proc_socket_inodes(relay.pid)
        for key, port in relay.ports.items():
            inodes = listening_inodes(port)
            self.assertTrue(inodes, "nothing listens on %d" % port)
            self.assertTrue(inodes & held,
                            "supervisor does not hold the %s listener" % key)
        # Mail on the privileged port is received by a worker as
        # mail_owner: the queue file is its.
        c = self.client(relay, "low")
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        queue_id = queued_id(c.send_message("a@client.test",
                                            ["b@example.com"], self.message()))
        path = os.path.join(relay.queue_dir, "incoming", queue_id)
        self.assertEqual(os.stat(path).st_uid, owner.pw_uid)

    def test_supervisor_without_cap_kill(self):
        """As in the unit (CapabilityBoundingSet= has no CAP_KILL), the
        supervisor still retires its mail_owner workers on a reload and
        stops them on SIGTERM."""
        owner = pwd.getpwnam(MAIL_OWNER)
        relay = self.relay(start=False)
        relay.wrapper = ["setpriv", "--bounding-set=-kill", "--"]
        relay.start()
        cap_kill = 1 << 5
        with open("/proc/%d/status" % relay.pid) as f:
            caps = dict(line.split(":\t", 1) for line in f if ":\t" in line)
        self.assertFalse(int(caps["CapEff"], 16) & cap_kill,
                         "the supervisor has CAP_KILL: %s" % caps["CapEff"])
        old = relay.wait_workers(1)
        for pid in old:
            wait_dropped(pid, owner.pw_uid)
        relay.signal(signal.SIGHUP)
        # The old workers got the supervisor's SIGUSR1 and left (an idle
        # worker retires at once); new ones serve.
        deadline = time.monotonic() + 10
        while set(old) & set(relay.workers()):
            if time.monotonic() > deadline:
                self.fail("old workers %s still run 10 s after SIGHUP\n%s"
                          % (old, relay.diagnostics()))
            time.sleep(0.05)
        new = relay.wait_workers(1)
        self.assertFalse(set(old) & set(new))
        self.assertNotIn("Operation not permitted", relay.maillog())
        c = self.client(relay)
        self.assertEqual(c.ehlo().code, 250)
        self.assertReply(c.cmd("QUIT"), 221)
        c.close()
        # stop() fails the test unless SIGTERM ends every child in time.
        relay.stop()


if __name__ == "__main__":
    main()
