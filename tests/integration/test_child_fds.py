"""The listening sockets each child of tlsrelayd holds.

The supervisor binds every listener as root and forks its children: the
smtpd workers, the queue manager and the status process (metrics and
health endpoints). A child holds only the listeners of its job: a worker
those of the smtpd services of its generation (every worker accepts on
every inet service of master.cf), the status process the metrics and
health sockets, the queue manager none. What a process holds is read
from /proc/PID/fd, its socket inodes matched to ports in /proc/net/tcp.

A child is looked at once it runs as mail_owner: it lets go of the other
children's sockets before it drops its privileges, so from then on what
it holds is what it keeps. Checked at start, after a reload (SIGHUP) and
after a reload that fails on a port in use: the port that reload had
bound before it failed is closed again, in the supervisor and in a worker
started after it.

The queue manager forks a child per queue listing (its showq service,
for mailq): that child holds its client and stderr, not the queue
manager's lock on pid/qmgr.pid (which would keep the next queue manager
from starting while a listing runs), its FIFO or its connections. To
look at it while it lives, strace holds its first openat() for three
seconds; the trace line of that openat says it has started the listing
(past its clean-up)."""

import os
import pwd
import re
import signal
import socket
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (MAIL_OWNER, QMGR_LINE, RelayTestCase,  # noqa: E402
                       children_of, free_port, listening_ports,
                       listening_sockets, main,
                       proc_socket_inodes, proc_status, read_text,
                       require_tools, wait_for)


def held_ports(pid):
    """The ports of the listening sockets pid holds."""
    by_inode = listening_sockets()
    return frozenset(by_inode[i] for i in proc_socket_inodes(pid)
                     if i in by_inode)


class ChildDescriptorsTest(RelayTestCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.fail("test_child_fds needs root: the children drop "
                      "privileges only when the daemon starts as root")
        self.uid = pwd.getpwnam(MAIL_OWNER).pw_uid

    def dropped(self, pid):
        try:
            return proc_status(pid).get("Uid", "").split() == \
                [str(self.uid)] * 4
        except FileNotFoundError:
            return False

    def children(self, relay, count, not_in=()):
        """The children, once there are count of them, none of not_in,
        every one past its privilege drop (so past the fork's clean-up),
        the queue manager among them with its FIFO open."""
        def ready():
            pids = set(children_of(relay.pid))
            if (len(pids) == count and not pids & set(not_in) and
                    all(self.dropped(pid) for pid in pids) and
                    relay.qmgr_pid() in pids):
                return pids
            return None
        return wait_for("%d children running as %s" % (count, MAIL_OWNER),
                        ready, 20, relay.diagnostics)

    def check_children(self, relay, pids):
        """Each child holds its job's listeners and no other's."""
        smtpd = frozenset(relay.ports.values())
        status = frozenset((self.metrics_port, self.health_port))
        qmgr = relay.qmgr_pid()
        self.assertIn(qmgr, pids, relay.diagnostics())
        held = {pid: held_ports(pid) for pid in pids}
        self.assertEqual(held[qmgr], frozenset(),
                         "the queue manager holds listeners")
        others = sorted((sorted(ports) for pid, ports in held.items()
                         if pid != qmgr))
        self.assertEqual(others, sorted([sorted(smtpd)] * self.workers +
                                        [sorted(status)]),
                         "listening ports held by each child (smtpd "
                         "%s, status %s): %s" % (sorted(smtpd),
                                                 sorted(status), held))
        # The supervisor keeps every one, for the next child.
        self.assertEqual(held_ports(relay.pid), smtpd | status)

    def test_each_child_holds_its_own_listeners(self):
        self.workers = 2
        self.metrics_port = free_port()
        self.health_port = free_port()
        relay = self.relay(
            services={"smtp": {}, "submission": {
                "smtpd_tls_security_level": "encrypt"}},
            extra_master=QMGR_LINE,
            main={
                "tlsrelay_smtpd_workers": str(self.workers),
                "tlsrelay_metrics_listen": "127.0.0.1:%d" %
                                           self.metrics_port,
                "tlsrelay_health_listen": "127.0.0.1:%d" %
                                          self.health_port,
            })
        count = self.workers + 2        # and the qmgr and status process
        pids = self.children(relay, count)
        self.check_children(relay, pids)

        # A reload: a new generation of every child, holding the same.
        relay.signal(signal.SIGHUP)
        relay.wait_log(r"reload -- version")
        pids = self.children(relay, count, not_in=pids)
        self.check_children(relay, pids)

        # A reload that fails on its second new service, a port in use:
        # the first one it had bound is closed again.
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", free_port()))
        busy.listen()
        extra_port = free_port()
        good = (dict(relay.services), dict(relay.ports), dict(relay.listen))
        for key, port in (("extra", extra_port),
                          ("busy", busy.getsockname()[1])):
            relay.services[key] = {}
            relay.ports[key] = port
            relay.listen[key] = "127.0.0.1:%d" % port
        relay.write_config()
        relay.services, relay.ports, relay.listen = good
        relay.signal(signal.SIGHUP)
        relay.wait_log(r"error: reload failed, keeping the running "
                       r"configuration: .*port %d: Address already in use"
                       % busy.getsockname()[1])
        self.assertNotIn(extra_port, listening_ports(), relay.diagnostics())
        self.check_children(relay, pids)
        # A worker started after that failure holds no more either.
        worker = sorted(pid for pid in pids if held_ports(pid) ==
                        frozenset(relay.ports.values()))[0]
        os.kill(worker, signal.SIGTERM)
        relay.wait_log(r"warning: process smtpd pid %d exited unexpectedly"
                       % worker)
        pids = self.children(relay, count, not_in=(worker,))
        self.check_children(relay, pids)

    def test_showq_child_holds_only_its_client(self):
        require_tools("strace")
        relay = self.relay(services={"smtp": {}}, extra_master=QMGR_LINE)
        qmgr = wait_for("the queue manager", relay.qmgr_pid, 10,
                        relay.diagnostics)
        trace_path = os.path.join(relay.dir, "strace")
        strace = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", trace_path, "-p", str(qmgr),
             "-e", "trace=openat", "-e", "inject=openat:delay_enter=3s"],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (strace.poll() is None and strace.kill(),
                                 strace.wait(), strace.stderr.close()))
        # strace says when it is attached to every thread.
        wait_for("strace attached", lambda: os.path.exists(
            "/proc/%d/status" % qmgr) and proc_status(qmgr).get(
            "TracerPid") == str(strace.pid), 10)
        client = socket.socket(socket.AF_UNIX)
        self.addCleanup(client.close)
        # sun_path is short: the socket by its directory's descriptor.
        public = os.open(os.path.join(relay.queue_dir, "public"), os.O_PATH)
        self.addCleanup(os.close, public)
        client.connect("/proc/self/fd/%d/showq" % public)
        pattern = re.compile(r"^(\d+) +openat\(.*/incoming\"", re.M)

        def listing_child():
            for m in pattern.finditer(read_text(trace_path)):
                if int(m.group(1)) in children_of(qmgr):
                    return int(m.group(1))
            return None
        child = wait_for("the listing child in its first openat",
                         listing_child, 10, lambda: read_text(trace_path))
        fddir = "/proc/%d/fd" % child
        held = {int(fd): os.readlink(os.path.join(fddir, fd))
                for fd in os.listdir(fddir)}
        others = [target for fd, target in held.items() if fd > 2]
        self.assertEqual(len(others), 1, held)
        self.assertRegex(others[0], r"^socket:\[\d+\]$", held)
        strace.terminate()
        strace.wait(10)
        listing = b""
        client.settimeout(10)
        while True:
            chunk = client.recv(4096)
            if not chunk:
                break
            listing += chunk
        self.assertEqual(listing, b"Mail queue is empty\n")


if __name__ == "__main__":
    main()
