"""A broken network and a broken next hop (issue 13, "Load and faults").

The next hop here is a scripted server: its first connection misbehaves
(dies in the middle of the message content, never answers the final
dot, or resets the connection inside TLS), every later one takes the
message properly. The relay must defer the message, not lose it and not
bounce it, and deliver it on the retry. A DNS server that never answers
defers too. The retry is asked for with `tlsrelay queue flush`, so the
default backoff timers stay as an administrator has them."""

import os
import socket
import ssl
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, OutboundTestCase,  # noqa: E402
                       free_port, main, wait_for)

SENDER = "sender@senders.test"
RCPT = "rcpt@example.test"


class ScriptedHop:
    """An SMTP server on 127.0.0.1 whose first connection does fault
    ("die-in-data", "hang-after-dot", "reset-in-tls") and whose later
    ones accept the message, over STARTTLS when tls is set."""

    def __init__(self, case, fault, tls=False):
        self.fault = fault
        self.tls = tls
        self.certs = case.certs
        self.port = free_port()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(5)
        self.listener.settimeout(0.5)
        self.connections = 0
        self.delivered = []
        self.faulted = threading.Event()
        self.stop = threading.Event()
        self.open = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        case.addCleanup(self.close)

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.listener.close()
        for s in self.open:
            try:
                s.close()
            except OSError:
                pass

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            self.open.append(conn)
            threading.Thread(target=self.guarded_session, daemon=True,
                             args=(conn, self.connections == 1)).start()

    def guarded_session(self, conn, faulty):
        try:
            self.session(conn, faulty)
        except (OSError, ValueError):
            pass

    @staticmethod
    def lines(f):
        for raw in f:
            yield raw.rstrip(b"\r\n")

    def session(self, conn, faulty):
        conn.settimeout(30)
        conn.sendall(b"220 hop.test ESMTP\r\n")
        f = conn.makefile("rb")
        tls_done = False
        while not self.stop.is_set():
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                ext = b"250-STARTTLS\r\n" if self.tls and not tls_done else b""
                conn.sendall(b"250-hop.test\r\n" + ext + b"250 8BITMIME\r\n")
            elif verb == b"STAR":
                conn.sendall(b"220 go ahead\r\n")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.certs.rsa, self.certs.rsa_key)
                conn = ctx.wrap_socket(conn, server_side=True)
                self.open.append(conn)
                f = conn.makefile("rb")
                tls_done = True
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                body = b""
                while True:
                    part = f.readline()
                    if not part:
                        return
                    if faulty and len(body) > 20000 and \
                            self.fault in ("die-in-data", "reset-in-tls"):
                        self.faulted.set()
                        if self.fault == "reset-in-tls":
                            # RST under TLS: no close_notify, no FIN.
                            conn.setsockopt(socket.SOL_SOCKET,
                                            socket.SO_LINGER,
                                            b"\x01\x00\x00\x00"
                                            b"\x00\x00\x00\x00")
                        conn.close()
                        return
                    if part == b".\r\n":
                        break
                    body += part
                if faulty and self.fault == "hang-after-dot":
                    self.faulted.set()
                    self.stop.wait(60)
                    return
                self.delivered.append(body)
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


class FaultTest(OutboundTestCase):

    def relay_to_hop(self, hop, **extra):
        main = dict(DEFAULT_TIMERS, relayhost="[127.0.0.1]:%d" % hop.port,
                    smtp_tls_security_level="may" if hop.tls else "none")
        main.update(extra)
        return self.outbound_relay(main=main)

    def deferred_then_delivered(self, hop, relay, reason):
        # 2 MB: more than the socket buffers take at once, so that the
        # hop fails while the relay is still sending the content.
        body = b"Subject: fault\r\n\r\n" + (b"0123456789" * 99 +
                                               b"\r\n") * 2000
        queue_id = self.submit(relay, SENDER, [RCPT], body)
        self.assertTrue(hop.faulted.wait(30), relay.diagnostics())
        relay.wait_log(r": %s: to=<%s>, relay=.*status=deferred \(%s" % (
            queue_id, RCPT, reason), timeout=30)
        self.wait_in(relay, queue_id, "deferred")
        status, out = self.tlsrelay("queue", "-c", relay.dir, "flush")
        self.assertEqual(status, 0, out)
        relay.wait_log(r": %s: to=<%s>, relay=.*status=sent" % (
            queue_id, RCPT), timeout=30)
        self.wait_removed(relay, queue_id)
        self.assertEqual(len(hop.delivered), 1)
        self.assertTrue(hop.delivered[0].endswith(
            b"Subject: fault\r\n\r\n" + (b"0123456789" * 99 + b"\r\n") *
            2000))
        self.assertNotRegex(relay.maillog(), r"status=bounced")

    def test_next_hop_dies_mid_data(self):
        hop = ScriptedHop(self, "die-in-data")
        relay = self.relay_to_hop(hop)
        # Where the relay was when the hop went: the kernel's buffers may
        # have taken the rest of the content already.
        self.deferred_then_delivered(
            hop, relay, r"lost connection with \S+ while sending (message "
            r"body|end of data -- message may be sent more than once)")

    def test_next_hop_hangs_after_dot(self):
        hop = ScriptedHop(self, "hang-after-dot")
        relay = self.relay_to_hop(hop, smtp_data_done_timeout="3s")
        self.deferred_then_delivered(
            hop, relay, r"conversation with \S+ timed out while sending "
            r"end of data -- message may be sent more than once")

    def test_next_hop_resets_inside_tls(self):
        hop = ScriptedHop(self, "reset-in-tls", tls=True)
        relay = self.relay_to_hop(hop)
        self.deferred_then_delivered(
            hop, relay, r"lost connection with \S+ while sending (message "
            r"body|end of data -- message may be sent more than once)")

    def test_dns_server_that_never_answers_defers(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, tlsrelay_dns_servers="127.0.0.1:%d" %
            silent.getsockname()[1]))
        queue_id = self.submit(relay, SENDER, ["user@nowhere.test"],
                               b"Subject: dns\r\n\r\nbody\r\n")
        relay.wait_log(r": %s: to=<user@nowhere\.test>, relay=none, .*"
                       r"dsn=4\.\d\.\d, status=deferred" % queue_id,
                       timeout=90)
        self.wait_in(relay, queue_id, "deferred")
        self.assertNotRegex(relay.maillog(), r"status=bounced")
        # The queries did reach the silent server: it is the one asked.
        silent.settimeout(1)
        wait_for("a query at the silent server", lambda: silent.recv(512),
                 5, relay.diagnostics)


if __name__ == "__main__":
    main()
