"""Privileges: started as root, the supervisor binds the ports (a port
below 1024 included) and the workers run as mail_owner."""

import os
import pwd
import sys

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


if __name__ == "__main__":
    main()
