"""Deadlines on what a client controls (issue 13, defect 4).

With per-read time limits only, a client that sends one byte a little
faster than smtpd_timeout holds a session for ever: a command line, a
message body, a TLS ClientHello. The TLS handshake as a whole is bounded
by smtpd_starttls_timeout; with smtpd_per_request_deadline = yes (Postfix
3.7; automatic under stress) a whole command line, and the message
content, must arrive within smtpd_timeout, the content's limit growing
by one second per smtpd_min_data_rate bytes.

The limits here are a few seconds, so that a run stays short; each test
shows both sides: the slow client cut off near the limit, and a client
just as slow per byte that keeps going where only per-read limits
apply, or one fast enough that the rate extends its time."""

import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, OutboundTestCase,  # noqa: E402
                       RelayTestCase, free_port, main)


class Dribbler:
    """A raw client that sends bytes slowly."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=30)
        self.start = time.monotonic()

    def read_reply(self):
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def dribble(self, data, interval, limit):
        """Sends data a byte at a time, interval seconds apart, until the
        server closes or limit seconds passed. Returns (seconds until the
        server closed or None, what the server said meanwhile)."""
        said = b""
        self.sock.settimeout(interval)
        begin = time.monotonic()
        for byte in data:
            try:
                self.sock.sendall(bytes([byte]))
            except OSError:
                return time.monotonic() - begin, said
            try:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return time.monotonic() - begin, said
                said += chunk
            except socket.timeout:
                pass
            except OSError:
                return time.monotonic() - begin, said
            if time.monotonic() - begin > limit:
                return None, said
        return None, said

    def close(self):
        self.sock.close()


class DeadlineTest(RelayTestCase):

    def test_command_line_deadline(self):
        relay = self.relay(main={"smtpd_timeout": "4s",
                                 "smtpd_per_request_deadline": "yes"})
        d = Dribbler(relay.port())
        self.addCleanup(d.close)
        self.assertTrue(d.read_reply().startswith(b"220 "))
        # One byte a second, well inside the 4 s per read.
        closed, said = d.dribble(b"NOOP and a very long line" * 4, 1, 20)
        self.assertIsNotNone(closed, "still open after 20 s")
        self.assertLess(closed, 8)
        self.assertIn(b"421 4.4.2 relay.test Error: timeout exceeded", said)
        relay.wait_log(r"timeout after CONNECT from unknown\[127\.0\.0\.1\]")

    def test_without_deadline_per_read_only(self):
        relay = self.relay(main={"smtpd_timeout": "4s"})
        d = Dribbler(relay.port())
        self.addCleanup(d.close)
        self.assertTrue(d.read_reply().startswith(b"220 "))
        # The same pace over 10 s: Postfix's default semantics keep it.
        closed, _ = d.dribble(b"NOOP xxxxxxxxxxx", 1, 10)
        self.assertIsNone(closed)
        d.sock.sendall(b"\r\n")
        d.sock.settimeout(10)
        self.assertTrue(d.read_reply().startswith(b"250 "))

    def test_content_min_data_rate(self):
        """A body at 5 bytes a second, with 100 bytes/s the minimum, runs
        out of time soon after smtpd_timeout; one at ~400 bytes/s gets
        far more time than smtpd_timeout and is accepted."""
        relay = self.relay(main={"smtpd_timeout": "3s",
                                 "smtpd_per_request_deadline": "yes",
                                 "smtpd_min_data_rate": "100"})
        # (seconds between 20-byte pieces, content bytes, accepted?)
        for interval, size, ok in ((4, 200, False), (0.05, 2800, True)):
            with self.subTest(bytes_per_second=20 / interval):
                c = self.client(relay)
                c.ehlo()
                self.assertReply(c.cmd("MAIL FROM:<a@client.test>"), 250)
                self.assertReply(c.cmd("RCPT TO:<b@example.com>"), 250)
                self.assertReply(c.cmd("DATA"), 354)
                body = b"Subject: slow\r\n\r\n" + b"x" * size + b"\r\n.\r\n"
                begin = time.monotonic()
                reply = None
                try:
                    for i in range(0, len(body), 20):
                        c.sock.sendall(body[i:i + 20])
                        time.sleep(interval)
                        if time.monotonic() - begin > 30:
                            break
                    reply = c.reply()
                except OSError:
                    pass
                elapsed = time.monotonic() - begin
                if ok:
                    # Far past smtpd_timeout: the rate bought the time.
                    self.assertGreater(elapsed, 6)
                    self.assertEqual(reply.code, 250, reply)
                else:
                    self.assertLess(elapsed, 12)
                    relay.wait_log(r"timeout after DATA")
                c.close()

    def test_starttls_handshake_bounded(self):
        relay = self.relay(main={"smtpd_starttls_timeout": "4s"})
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("STARTTLS"), 220)
        # A ClientHello-looking dribble, a byte a second.
        d = Dribbler.__new__(Dribbler)
        d.sock = c.sock
        closed, _ = d.dribble(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                              + b"\x00" * 40, 1, 20)
        self.assertIsNotNone(closed, "handshake still open after 20 s")
        self.assertLess(closed, 8)
        relay.wait_log(r"timeout after STARTTLS from unknown\[127\.0\.0\.1\]")


class TarpitServer:
    """A next hop that answers every command and then takes the message
    content at a trickle, 1 KiB a second, through a 4 KiB receive
    buffer."""

    def __init__(self, case):
        self.port = free_port()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(5)
        self.stop = threading.Event()
        self.in_data = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        case.addCleanup(self.close)

    def close(self):
        self.stop.set()
        self.listener.close()
        self.thread.join(10)

    def serve(self):
        self.listener.settimeout(0.5)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                self.session(conn)

    def session(self, conn):
        conn.settimeout(1)
        conn.sendall(b"220 tarpit.test ESMTP\r\n")
        buf = b""
        while not self.stop.is_set():
            try:
                chunk = conn.recv(1024)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            if self.in_data.is_set():
                time.sleep(1)
                continue
            buf += chunk
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250-tarpit.test\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    self.in_data.set()
                    break
                else:
                    conn.sendall(b"250 ok\r\n")


class OutboundDeadlineTest(OutboundTestCase):

    def test_slow_server_cut_off(self):
        """smtp_per_request_deadline: the content must be taken within
        smtp_data_xfer_timeout plus a second per smtp_min_data_rate
        bytes; a server taking 1 KiB a second of an 8 MB message, where
        2 MB a second is the minimum, is given up on after a few seconds
        (what the kernel's socket buffers take at once counts as sent),
        and the message is deferred, not lost."""
        tarpit = TarpitServer(self)
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost="[127.0.0.1]:%d" % tarpit.port,
            smtp_tls_security_level="none",
            smtp_per_request_deadline="yes",
            smtp_data_xfer_timeout="3s",
            smtp_min_data_rate="2000000"))
        body = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 8000
        queue_id = self.submit(relay, "a@example.com", ["b@example.net"],
                               body)
        self.assertTrue(tarpit.in_data.wait(20))
        begin = time.monotonic()
        relay.wait_log(r"%s: to=<b@example\.net>, .*status=deferred "
                       r"\(conversation with \S+ timed out while sending "
                       r"message body\)" % queue_id, timeout=30)
        self.assertLess(time.monotonic() - begin, 15)
        self.wait_in(relay, queue_id, "deferred")


if __name__ == "__main__":
    main()
