"""Several relays behind a load balancer (issue 16): three tlsrelayd
nodes, each with its own queue, behind HAProxy (round robin, PROXY
protocol v2, health checks), all relaying to one sink. The client's real
address reaches each node through the PROXY header, a TLS 1.3 ticket from
one node resumes on another, a node killed with kill -9 under load loses
no acknowledged message once it is started again on its own queue, and a
node drained with SIGTERM under load loses no session that had started
DATA. The timers are an administrator's defaults."""

import os
import re
import signal
import smtplib
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, HAProxy, OutboundTestCase,  # noqa: E402
                       RawSMTP, SClient, dot_stuff, inline_table, main,
                       wait_for)

SENDER = "sender@senders.test"
RCPT = "rcpt@example.test"
INSIDE = "127.0.0.2"        # mynetworks of every node
OUTSIDE = "127.0.0.3"


class Sender:
    """Threads sending messages through the balancer from INSIDE, a few
    per connection, as an MTA would: a message whose session broke before
    its 250 is offered again on a new connection. Records the Message-IDs
    acknowledged, and every session that had its DATA accepted (354) with
    what became of it."""

    def __init__(self, case, port, total, threads=10, per_connection=5,
                 deadline=240):
        self.case = case
        self.port = port
        self.total = total
        self.per_connection = per_connection
        self.deadline = time.monotonic() + deadline
        self.lock = threading.Lock()
        self.next = 0
        self.acked = []
        self.offered = set()
        self.after_354 = []     # (message_id, final reply code or error)
        self.errors = []
        self.threads = [threading.Thread(target=self.run, daemon=True)
                        for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout=300):
        for t in self.threads:
            t.join(max(0, self.deadline + 30 - time.monotonic()))
        self.case.assertFalse(any(t.is_alive() for t in self.threads),
                              "a sender thread hung")
        self.case.assertEqual(self.errors, [])

    def take(self):
        with self.lock:
            if self.next >= self.total:
                return None
            self.next += 1
            return self.next - 1

    def connect(self):
        c = smtplib.SMTP(timeout=30, source_address=(INSIDE, 0))
        c.connect("127.0.0.1", self.port)
        code, _ = c.ehlo("client.test")
        if code != 250:
            raise smtplib.SMTPResponseException(code, "EHLO")
        return c

    def send_one(self, c, message_id, data):
        code, reply = c.mail(SENDER)
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
        code, reply = c.rcpt(RCPT)
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
        code, reply = c.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPResponseException(code, reply)
        try:
            c.send(dot_stuff(data) + b".\r\n")
            code, reply = c.getreply()
        except (smtplib.SMTPException, OSError) as e:
            with self.lock:
                self.after_354.append((message_id, repr(e)))
            raise
        with self.lock:
            self.after_354.append((message_id, code))
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
        with self.lock:
            self.acked.append(message_id)

    def run(self):
        c = None
        sent_here = 0
        n = self.take()
        while n is not None:
            if time.monotonic() > self.deadline:
                with self.lock:
                    self.errors.append("gave up at message %d" % n)
                return
            message_id, data = self.case.outbound_message(
                subject="cluster %d" % n, to=RCPT,
                message_id="<cluster-%d@client.test>" % n)
            with self.lock:
                self.offered.add(message_id)
            try:
                if c is None:
                    c = self.connect()
                    sent_here = 0
                self.send_one(c, message_id, data)
                sent_here += 1
                n = self.take()
                if sent_here >= self.per_connection:
                    c.quit()
                    c = None
            except (smtplib.SMTPException, OSError):
                # Refused (421 while a node drains), or the node died:
                # the same message again, on a new connection.
                try:
                    if c is not None:
                        c.close()
                except OSError:
                    pass
                c = None
                time.sleep(0.05)
        if c is not None:
            try:
                c.quit()
            except (smtplib.SMTPException, OSError):
                pass


def balance(ports, proxy="v2"):
    """HAProxy's backend lines for nodes on 127.0.0.1 at ports: round
    robin, the PROXY header (proxy: "v2", "v1" or None), a node down after
    two failed checks a second apart (HAProxy's checks of a send-proxy
    server carry a header too)."""
    option = {"v2": " send-proxy-v2", "v1": " send-proxy", None: ""}[proxy]
    lines = ["balance roundrobin"]
    for i, port in enumerate(ports):
        lines.append("server node%d 127.0.0.1:%d%s check inter 1s fall 2 "
                     "rise 1" % (i + 1, port, option))
    return lines


class ClusterTest(OutboundTestCase):

    def cluster(self, nodes=3, proxy="v2", sink_delay=0, node_main=None):
        """A sink, the nodes relaying to it, HAProxy in front of them."""
        sink = self.sink(delay=sink_delay)
        relays = []
        for i in range(nodes):
            settings = dict(DEFAULT_TIMERS)
            settings.update({
                "myhostname": "node%d.relay.test" % (i + 1),
                # Without the PROXY protocol a node sees HAProxy only.
                "mynetworks": (INSIDE if proxy else "127.0.0.1") + "/32",
                "transport_maps": inline_table({
                    "example.test": "smtp:" + sink.nexthop,
                    "senders.test": "smtp:" + sink.nexthop}),
            })
            settings.update(node_main or {})
            service = {}
            if proxy:
                service["smtpd_upstream_proxy_protocol"] = "haproxy"
            self.proxy = proxy
            relays.append(self.outbound_relay(main=settings,
                                              services={"smtp": service}))
        lb = HAProxy(self, self._peer_dir("haproxy"),
                     {"nodes": balance([r.port() for r in relays], proxy)})
        return sink, relays, lb

    def diagnostics(self, relays, lb=None):
        def show():
            out = "".join("==== node%d\n%s" % (i + 1, r.diagnostics())
                          for i, r in enumerate(relays))
            return out + ("==== haproxy\n" + lb.log() if lb else "")
        return show

    # -- the client's address

    def test_client_address_reaches_the_node(self):
        """Through PROXY v2 and v1: a client on 127.0.0.2 (mynetworks)
        relays, one on 127.0.0.3 does not, though every connection the
        nodes see comes from HAProxy on 127.0.0.1; the log and the
        Received header name the real client."""
        for proxy in ("v2", "v1"):
            with self.subTest(proxy=proxy):
                sink, relays, lb = self.cluster(nodes=2, proxy=proxy)
                show = self.diagnostics(relays, lb)
                message_id, data = self.outbound_message(
                    subject="through " + proxy, to=RCPT)
                c = smtplib.SMTP(timeout=30, source_address=(INSIDE, 0))
                c.connect("127.0.0.1", lb.port)
                c.ehlo("client.test")
                c.sendmail(SENDER, [RCPT], data)
                c.quit()
                c = smtplib.SMTP(timeout=30, source_address=(OUTSIDE, 0))
                c.connect("127.0.0.1", lb.port)
                c.ehlo("client.test")
                c.mail(SENDER)
                code, reply = c.rcpt(RCPT)
                c.quit()
                self.assertIn(code, (454, 554), reply)
                self.assertIn(b"Relay access denied", reply)
                got = sink.wait_messages(1, diagnostics=show)
                received = got[0].header("Received")
                self.assertIn("[%s]" % INSIDE, received)
                self.assertRegex(received, r"by node\d\.relay\.test")
                logs = "".join(r.maillog() for r in relays)
                self.assertRegex(logs, r"connect from \S+\[%s\]"
                                 % re.escape(INSIDE))
                self.assertRegex(logs, r"reject: RCPT from \S+\[%s\]"
                                 % re.escape(OUTSIDE))

    # -- TLS resumption across nodes

    def established_on(self, relays):
        """{node index: [reused?]} of the TLS sessions each node logged."""
        out = {}
        for i, r in enumerate(relays):
            reusing = False
            for line in r.maillog().splitlines():
                if "tlsrelay/smtpd" not in line:
                    continue
                if "Reusing old session" in line:
                    reusing = True
                elif "TLS connection established from" in line:
                    out.setdefault(i, []).append(reusing)
                    reusing = False
        return out

    def test_ticket_resumes_on_another_node(self):
        """The nodes share tlsrelay_smtpd_tls_ticket_key_file: a TLS 1.3
        client that got its ticket from one node resumes on the next one
        the balancer picks."""
        keys = os.path.join(self.tmpdir, "ticket-keys")
        with open(keys, "wb") as f:
            f.write(os.urandom(80))
        os.chmod(keys, 0o600)
        sink, relays, lb = self.cluster(node_main={
            "tlsrelay_smtpd_tls_ticket_key_file": keys,
            "smtpd_tls_loglevel": "2"})
        show = self.diagnostics(relays, lb)
        session = os.path.join(self.tmpdir, "cluster-session.pem")
        first = SClient(lb.port, "-tls1_3", "-sess_out", session,
                        input=b"EHLO c.test\nQUIT\n")
        self.assertTrue(first.established, first.output)
        wait_for("the first session in a node's log",
                 lambda: self.established_on(relays), 10, show)
        (a, _), = self.established_on(relays).items()
        again = SClient(lb.port, "-tls1_3", "-sess_in", session,
                        input=b"EHLO c.test\nQUIT\n")
        self.assertIn("Reused, TLSv1.3", again.output, show())
        wait_for("the second session in a node's log", lambda: sum(
            len(v) for v in self.established_on(relays).values()) >= 2,
                 10, show)
        on = self.established_on(relays)
        b = [i for i, v in on.items() if i != a]
        self.assertEqual(len(b), 1, "both sessions on node %d: %s" % (
            a + 1, on))
        self.assertEqual(on[b[0]], [True], "node %d did not resume: %s\n%s"
                         % (b[0] + 1, on, show()))

    # -- a node dies

    def test_kill9_of_a_node_loses_nothing(self):
        """1,000 messages through the balancer; halfway, one node is
        killed with kill -9 with mail still in its queue (the sink is
        slow); once it is started again on its own queue, every message
        that got a 250 has reached the sink."""
        total = 1000
        sink, relays, lb = self.cluster(sink_delay=0.3)
        show = self.diagnostics(relays, lb)
        victim = relays[1]
        sender = Sender(self, lb.port, total).start()
        wait_for("half of the messages acknowledged",
                 lambda: len(sender.acked) >= total // 2, 120, show)
        victim.kill9()
        left = sum(len(victim.queue_ids(d)) for d in
                   ("incoming", "active", "deferred"))
        self.assertGreater(left, 0, "the killed node had nothing queued: "
                           "the test proves nothing")
        sender.join()
        self.assertEqual(len(set(sender.acked)), total)
        victim.start()
        wait_for("every acknowledged message at the sink", lambda: set(
            sender.acked) <= {m.message_id for m in sink.messages()},
                 180, show)
        got = {m.message_id for m in sink.messages()}
        self.assertLessEqual(got, sender.offered)
        for r in relays:
            wait_for("an empty queue", lambda: not any(
                r.queue_ids(d) for d in ("incoming", "active", "deferred")),
                60, show)
        # Every node took its share, and said who it is.
        by = {}
        for m in sink.messages():
            node = re.search(r"by (node\d)\.relay\.test",
                             m.header("Received")).group(1)
            by[node] = by.get(node, 0) + 1
        self.assertEqual(sorted(by), ["node1", "node2", "node3"], by)
        print("\nkill -9 of node2 with %d messages in its queue: "
              "per node %s, %d of %d at the sink (%d copies)" % (
                  left, by, len(set(sender.acked) & got), total,
                  len(sink.messages())), file=sys.stderr)

    # -- a node drains

    def test_drain_under_load_loses_no_session_in_data(self):
        """SIGTERM to one node while ten clients send: every session
        that had its DATA accepted gets its 250, the node exits by
        itself, and every acknowledged message arrives."""
        total = 600
        sink, relays, lb = self.cluster(sink_delay=0.05)
        show = self.diagnostics(relays, lb)
        victim = relays[0]
        sender = Sender(self, lb.port, total).start()
        wait_for("a third of the messages acknowledged",
                 lambda: len(sender.acked) >= total // 3, 120, show)
        # One session in the middle of its DATA for certain: straight to
        # the node, with the header HAProxy would have sent.
        c = RawSMTP(self, victim.port(), read_greeting=False)
        if self.proxy:
            c.send("PROXY TCP4 %s 127.0.0.1 40000 25\r\n" % INSIDE)
        self.assertReply(c.reply(), 220)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(c.cmd("DATA"), 354)
        message_id, data = self.outbound_message(subject="in DATA",
                                                 to=RCPT)
        half = len(data) // 2
        c.send(data[:half])
        victim.signal(signal.SIGTERM)
        victim.wait_log(r"terminating on signal 15", timeout=10)
        c.send(data[half:] + b"\r\n.\r\n")
        self.assertReply(c.reply(), 250)
        self.assertReply(c.cmd("QUIT"), 221)
        c.close()
        victim.wait_exit(60)
        sender.join()
        wait_for("the message in DATA at the sink", lambda: message_id in
                 {m.message_id for m in sink.messages()}, 60, show)
        broken = [(m, r) for m, r in sender.after_354 if r != 250]
        self.assertEqual(broken, [], "sessions broken after DATA")
        self.assertEqual(len(set(sender.acked)), total)
        victim.start()
        wait_for("every acknowledged message at the sink", lambda: set(
            sender.acked) <= {m.message_id for m in sink.messages()},
                 180, show)


if __name__ == "__main__":
    main()
