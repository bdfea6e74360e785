"""Inbound commits off the event loop (issue 9): each smtpd worker hands
finished queue files to its commit thread; files handed over in one pass
of the event loop share one fsync of incoming/, and the 250 still comes
only once the message is durable. Real clients: smtplib and raw sockets;
strace counts the fsyncs. The relay runs no queue manager, so accepted
mail stays in incoming/.

Sessions are made to finish together by stopping the workers (SIGSTOP),
sending every final dot, waiting until the kernel holds each dot in the
server's socket, and letting the workers go on (SIGCONT): their next pass
of the event loop reads all the dots at once."""

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (RawSMTP, RelayTestCase, dot_stuff, main,  # noqa: E402
                       proc_stat, proc_status, queued_id, require_tools,
                       stop_pid, wait_for, START_TIMEOUT)

SENDER = "sender@client.test"
RCPT = "rcpt@example.com"
PREFIX = r"tlsrelay/smtpd\[\d+\]: "


def server_sockets(port):
    """{client port: (state, bytes unread)} of the relay's side of every
    connection to 127.0.0.1:port, from /proc/net/tcp."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if int(local.rsplit(":", 1)[1], 16) != port or state == "0A":
                continue
            rx = int(fields[4].split(":")[1], 16)
            out[int(remote.rsplit(":", 1)[1], 16)] = (state, rx)
    return out


def client_port(c):
    return c.sock.getsockname()[1]


class HeldSessions:
    """Plaintext sessions held just before their final dot."""

    def __init__(self, case, relay, count, label):
        self.case = case
        self.relay = relay
        self.clients = []
        for i in range(count):
            c = RawSMTP(case, relay.port())
            c.ehlo()
            case.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
            case.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
            case.assertReply(c.cmd("DATA"), 354)
            body = case.message("%s %d" % (label, i))
            c.send(dot_stuff(body))
            self.clients.append((c, body))
        # The workers have read every body: only the dots will be new.
        self.wait_unread(lambda rx: rx == 0, "the bodies to be read")

    def wait_unread(self, test, what):
        ports = {client_port(c) for c, _ in self.clients}

        def ok():
            socks = server_sockets(self.relay.port())
            return all(p in socks and test(socks[p][1]) for p in ports)
        wait_for(what, ok, 10, self.relay.diagnostics)

    def send_dots(self, extra=b""):
        """Sends every final dot (with extra behind it) while the workers
        are stopped, and waits until each is in the relay's socket."""
        for c, _ in self.clients:
            c.send(b".\r\n" + extra)
        want = 3 + len(extra)
        self.wait_unread(lambda rx: rx == want, "the dots to arrive")


def stop_workers(case, pids):
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    # 't' when strace is attached (tracing stop).
    wait_for("workers to stop", lambda: all(
        proc_stat(p) and proc_stat(p)[0] in "Tt" for p in pids), 10)
    case.addCleanup(continue_workers, pids)


def continue_workers(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


class ConcurrentSessionsTest(RelayTestCase):

    SESSIONS = 20
    MESSAGES = 5

    def session(self, relay, n, results, errors):
        try:
            s = smtplib.SMTP("127.0.0.1", relay.port(), timeout=30)
            try:
                s.ehlo("client.test")
                if n % 2:
                    s.starttls(context=self.tls())
                    s.ehlo("client.test")
                for i in range(self.MESSAGES):
                    msg = self.message("session %d message %d" % (n, i),
                                       b"x" * (1000 * n + i) + b"\r\n")
                    self.assertEqual(s.mail(SENDER)[0], 250)
                    self.assertEqual(s.rcpt(RCPT)[0], 250)
                    code, text = s.data(msg)
                    results.append((code, text.decode(), msg))
                self.assertEqual(s.quit()[0], 221)
            finally:
                s.close()
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append("session %d: %r" % (n, e))

    def test_concurrent_sessions_all_queued(self):
        relay = self.relay()
        results, errors = [], []
        threads = [threading.Thread(target=self.session,
                                    args=(relay, n, results, errors))
                   for n in range(self.SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            self.assertFalse(t.is_alive(), "a client session hangs")
        self.assertEqual(errors, [], relay.diagnostics())
        self.assertEqual(len(results), self.SESSIONS * self.MESSAGES)
        ids = []
        for code, text, msg in results:
            self.assertEqual(code, 250, text)
            m = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9A-F]+)", text)
            self.assertTrue(m, text)
            ids.append(m.group(1))
            self.assertEqual(relay.queue_file(m.group(1)).message, msg)
        self.assertEqual(len(set(ids)), len(ids))
        self.assertEqual(sorted(ids), relay.queue_ids())
        self.assertEqual(relay.queue_ids("tmp"), [])
        relay.wait_log(PREFIX + r"[0-9A-F]+: message-id=\S+$",
                       count=len(ids))


class BatchTest(RelayTestCase):
    """Sessions whose final dots a worker reads in one pass of its event
    loop need one fsync of incoming/ between them, not one each."""

    SESSIONS = 20

    def trace_workers(self, relay, pids):
        require_tools("strace")
        path = os.path.join(relay.dir, "fsync.trace")
        proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-yy", "-e", "trace=fsync,fdatasync",
             "-o", path] + [a for p in pids for a in ("-p", str(p))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(stop_pid, proc)

        def attached():
            if proc.poll() is not None:
                self.fail("strace exited: %s" % proc.stderr.read().decode())
            tasks = ["/proc/%d/task/%s" % (p, t) for p in pids
                     for t in os.listdir("/proc/%d/task" % p)]
            # Every thread, the commit threads included.
            return all(
                proc_status(int(t.rsplit("/", 1)[1])).get("TracerPid") ==
                str(proc.pid) for t in tasks)
        wait_for("strace to attach", attached, START_TIMEOUT)
        return proc, path

    def test_sessions_finishing_together_share_directory_fsyncs(self):
        relay = self.relay()
        pids = relay.wait_workers(2)
        held = HeldSessions(self, relay, self.SESSIONS, "batch")
        strace, path = self.trace_workers(relay, pids)
        stop_workers(self, pids)
        held.send_dots()
        continue_workers(pids)
        ids = [queued_id(c.reply()) for c, _ in held.clients]
        for c, _ in held.clients:
            self.assertReply(c.cmd("QUIT"), 221)
        # Detach before the relay stops (LeakSanitizer cannot run traced).
        stop_pid(strace)
        with open(path) as f:
            trace = f.read()
        incoming = os.path.join(relay.queue_dir, "incoming")
        tmp = os.path.join(relay.queue_dir, "tmp") + "/"
        synced = re.findall(r"\bf(?:data)?sync\(\d+<([^>]*)>", trace)
        file_syncs = [p for p in synced if p.startswith(tmp)]
        dir_syncs = [p for p in synced if p == incoming]
        self.assertEqual(sorted(os.path.basename(p) for p in file_syncs),
                         sorted(ids), trace)
        self.assertEqual(sorted(ids), relay.queue_ids())
        # One batch per worker that had sessions: at most one directory
        # fsync each, for 20 messages.
        self.assertGreaterEqual(len(dir_syncs), 1, trace)
        self.assertLessEqual(len(dir_syncs), len(pids), trace)


class PipelinedAfterDotTest(RelayTestCase):
    """Commands behind the final dot are answered after the dot, in order:
    the session reads nothing while its commit runs."""

    def check_dot_then_quit(self, relay, c):
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(c.cmd("DATA"), 354)
        msg = self.message("dot and quit")
        c.send(dot_stuff(msg) + b".\r\nQUIT\r\n")
        queue_id = queued_id(c.reply())
        self.assertReply(c.reply(), 221)
        self.assertTrue(c.expect_closed())
        self.assertEqual(relay.queue_file(queue_id).message, msg)

    def test_dot_and_quit_in_one_write_plaintext(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        self.check_dot_then_quit(relay, c)

    def test_dot_and_quit_in_one_write_inside_tls(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        self.check_dot_then_quit(relay, c)

    def test_next_transaction_waits_for_the_commit(self):
        """Dots and the next transactions of many sessions arrive in the
        same pass: every 250 comes before the replies to what follows."""
        relay = self.relay()
        pids = relay.wait_workers(2)
        held = HeldSessions(self, relay, 10, "pipelined")
        stop_workers(self, pids)
        nxt = ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nNOOP\r\n" %
               (SENDER, RCPT)).encode()
        held.send_dots(nxt)
        continue_workers(pids)
        for c, body in held.clients:
            queue_id = queued_id(c.reply())
            self.assertEqual(relay.queue_file(queue_id).message, body)
            self.assertReply(c.reply(), 250, "2.1.0")
            self.assertReply(c.reply(), 250, "2.1.5")
            self.assertReply(c.reply(), 250, "2.0.0 Ok")
            self.assertReply(c.cmd("QUIT"), 221)


class ClientGoneTest(RelayTestCase):
    """A client that hangs up right behind its final dot: the message is
    committed all the same (at-least-once), the session is freed only
    after its commit, and the worker goes on serving."""

    def test_disconnect_right_after_dot(self):
        relay = self.relay()
        pids = relay.wait_workers(2)
        held = HeldSessions(self, relay, 10, "gone")
        ports = {client_port(c) for c, _ in held.clients}
        stop_workers(self, pids)
        for c, _ in held.clients:
            c.send(b".\r\n")
            c.close()
        # Dot and FIN wait in the relay's sockets (CLOSE_WAIT; the
        # kernel counts the FIN as one more unread byte).
        def dot_and_fin():
            socks = server_sockets(relay.port())
            return all(socks.get(p, ("", 0))[0] == "08" and
                       socks[p][1] >= 3 for p in ports)
        wait_for("the relay's sockets to see dot and FIN", dot_and_fin, 10,
                 relay.diagnostics)
        continue_workers(pids)
        relay.wait_log(PREFIX + r"[0-9A-F]+: message-id=\S+$",
                       count=len(held.clients))
        relay.wait_log(PREFIX + r"lost connection after DATA from "
                       r"unknown\[127\.0\.0\.1\]$", count=len(held.clients))
        queued = sorted(relay.queue_file(q).message
                        for q in relay.queue_ids())
        self.assertEqual(queued, sorted(body for _, body in held.clients))
        self.assertEqual(relay.queue_ids("tmp"), [])
        # No worker died, and they go on serving.
        self.assertEqual(sorted(relay.workers()), sorted(pids))
        for _ in range(4):
            c = self.client(relay)
            c.ehlo()
            msg = self.message("after the hang-ups")
            queue_id = queued_id(c.send_message(SENDER, [RCPT], msg))
            self.assertEqual(relay.queue_file(queue_id).message, msg)
            self.assertReply(c.cmd("QUIT"), 221)
        # Stopping checks that no worker crashed and, in a sanitizer
        # build, that nothing leaked or was used after free.
        relay.stop()


class StopTest(RelayTestCase):
    """SIGTERM and SIGHUP (the supervisor passes on SIGTERM, or SIGUSR1 to
    retire the old workers) reach the workers in the same pass as the
    final dots. Every commit completes and its 250 goes out; as for a
    message in flight, the session then answers its client's next command
    before the worker exits."""

    def dots_then_signal(self, relay, sig, worker_sig):
        pids = relay.wait_workers(2)
        held = HeldSessions(self, relay, 10, "stopping")
        stop_workers(self, pids)
        held.send_dots()
        relay.signal(sig)
        bit = 1 << (worker_sig - 1)
        wait_for("the workers' signal to be pending", lambda: all(
            int(proc_status(p)["ShdPnd"], 16) & bit for p in pids), 10,
            relay.diagnostics)
        continue_workers(pids)
        for c, body in held.clients:
            queue_id = queued_id(c.reply())
            self.assertEqual(relay.queue_file(queue_id).message, body)
            self.assertReply(c.cmd("QUIT"), 221)
        return pids

    def test_sigterm(self):
        relay = self.relay()
        self.dots_then_signal(relay, signal.SIGTERM, signal.SIGTERM)
        relay.wait_exit()
        self.assertEqual(relay.proc.returncode, 0)
        self.assertEqual(len(relay.queue_ids()), 10)

    def test_sighup(self):
        relay = self.relay()
        old = self.dots_then_signal(relay, signal.SIGHUP, signal.SIGUSR1)
        # The old workers leave once their sessions have ended.
        wait_for("the old workers to exit", lambda: not set(old) & set(
            relay.workers()) and len(relay.workers()) == 2, 10,
            relay.diagnostics)
        c = self.client(relay)
        c.ehlo()
        queued_id(c.send_message(SENDER, [RCPT], self.message("new")))
        self.assertEqual(len(relay.queue_ids()), 11)


class FullDiskTest(RelayTestCase):
    """The queue on a small tmpfs. A message that fills the disk while its
    content streams in gets 452 at the dot without a commit; one whose
    last bytes no longer fit fails in the commit thread, when the writer
    flushes its last buffer, and gets the same 452. Nothing reaches
    incoming/, nothing stays in tmp/, and with room again mail flows."""

    SPOOL_BUFFER = 64 * 1024	# src/queue/spool_write.c

    def setUp(self):
        if os.geteuid() != 0:
            self.fail("mounting a tmpfs needs root")

    def mount_queue(self, relay):
        os.makedirs(relay.queue_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755",
                        "tmpfs", relay.queue_dir], check=True)
        self.addCleanup(subprocess.run, ["umount", relay.queue_dir],
                        check=True)

    def free_bytes(self, relay):
        st = os.statvfs(relay.queue_dir)
        return st.f_bavail * st.f_frsize

    def fill_until(self, relay, free):
        """Leaves exactly free bytes on the tmpfs."""
        filler = os.path.join(relay.queue_dir, "filler")
        with open(filler, "ab") as f:
            f.write(b"f" * (self.free_bytes(relay) - free))
        self.assertEqual(self.free_bytes(relay), free)
        return filler

    def refused(self, relay, size):
        c = self.client(relay)
        c.ehlo()
        msg = self.message("full")
        msg += (b"w" * 78 + b"\r\n") * ((size - len(msg)) // 80)
        self.assertReply(c.send_message(SENDER, [RCPT], msg), 452,
                         "4.3.1 Insufficient system storage")
        self.assertReply(c.cmd("QUIT"), 221)
        return msg

    def test_full_disk(self):
        relay = self.relay(start=False)
        self.mount_queue(relay)
        relay.start()
        filler = self.fill_until(relay, 96 * 1024)
        # Content and Received: header fill the first 64 KiB buffer (its
        # write fits), the rest stays in the buffer until the commit.
        msg = self.refused(relay, 110 * 1024)
        self.assertLess(len(msg) + 1024, 2 * self.SPOOL_BUFFER)
        self.assertGreater(len(msg), 96 * 1024 - self.SPOOL_BUFFER)
        # More than the disk holds: the write fails while DATA streams.
        self.refused(relay, 400 * 1024)
        relay.wait_log(PREFIX + r"warning: [0-9A-F]+: queue file write "
                       r"error: No space left on device$", count=2)
        self.assertEqual(relay.queue_ids(), [])
        self.assertEqual(relay.queue_ids("tmp"), [])
        os.unlink(filler)
        c = self.client(relay)
        c.ehlo()
        msg = self.message("room again", b"v" * 76 + b"\r\n")
        queue_id = queued_id(c.send_message(SENDER, [RCPT], msg))
        self.assertEqual(relay.queue_file(queue_id).message, msg)
        relay.stop()


if __name__ == "__main__":
    main()
