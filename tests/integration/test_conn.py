"""The connection layer (src/net) as peers see it: close_notify after
221, plaintext after the 220 to STARTTLS discarded on the way out, QUIT
before leaving a server whose certificate failed the policy, Postfix's
lines for failed handshakes, the client's TLS lines under its own name."""

import os
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import OutboundTestCase, RelayTestCase, SClient, main  # noqa: E402

SENDER = "sender@senders.test"
RCPT = "rcpt@example.test"
LOCAL = r"unknown\[127\.0\.0\.1\]"


class StartTlsPeer:
    """An SMTP server in a thread of the test, one connection at a time,
    that offers STARTTLS and sends `inject` behind its 220 in the same
    send. It records every command as (tls, line) and every message."""

    def __init__(self, case, certfile, keyfile, inject=b""):
        self.inject = inject
        self.commands = []
        self.messages = []
        self.errors = []
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        case.addCleanup(self.stop)

    @property
    def nexthop(self):
        return "[127.0.0.1]:%d" % self.port

    def stop(self):
        self.sock.close()
        self.thread.join(10)

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                self.session(conn)
            except (OSError, ssl.SSLError) as e:
                with self.lock:
                    self.errors.append(repr(e))
            finally:
                conn.close()

    def session(self, conn):
        conn.settimeout(30)
        buf = b""
        tls = False

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    return None
                buf += data
            text, buf = buf.split(b"\r\n", 1)
            return text

        conn.sendall(b"220 peer.test ESMTP\r\n")
        while True:
            text = line()
            if text is None:
                return
            verb = text.split(b" ", 1)[0].upper().decode()
            with self.lock:
                self.commands.append((tls, verb))
            if verb == "EHLO":
                ext = b"" if tls else b"250-STARTTLS\r\n"
                conn.sendall(b"250-peer.test\r\n" + ext + b"250 8BITMIME\r\n")
            elif verb == "STARTTLS":
                conn.sendall(b"220 ready\r\n" + self.inject)
                conn = self.ctx.wrap_socket(conn, server_side=True)
                tls = True
                buf = b""
            elif verb == "DATA":
                conn.sendall(b"354 go on\r\n")
                body = []
                while True:
                    text = line()
                    if text is None:
                        return
                    if text == b".":
                        break
                    body.append(text)
                with self.lock:
                    self.messages.append((tls, body))
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                conn.sendall(b"250 2.0.0 ok\r\n")
            else:
                conn.sendall(b"502 5.5.2 what\r\n")

    def wait_command(self, tls, verb, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if (tls, verb) in self.commands:
                    return True
            time.sleep(0.05)
        return False


class InboundEndingTest(RelayTestCase):

    def test_close_notify_after_221(self):
        # s_client reads until the server closes; without close_notify
        # OpenSSL 3 calls that "unexpected eof while reading", exit 1.
        relay = self.relay()
        for i in range(20):
            s = SClient(relay.port("smtp"), input=b"EHLO client.test\nQUIT\n")
            self.assertTrue(s.established, s.output)
            self.assertIn("221 2.0.0", s.output)
            self.assertNotIn("unexpected eof", s.output)
            self.assertEqual(s.status, 0, "try %d:\n%s" % (i + 1, s.output))

    def starttls(self, relay, behind=b""):
        """A socket that has had 220 to STARTTLS (sent with behind in the
        same write), before the handshake."""
        sock = socket.create_connection(("127.0.0.1", relay.port("smtp")),
                                        timeout=10)
        f = sock.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        sock.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        sock.sendall(b"STARTTLS\r\n" + behind)
        self.assertTrue(f.readline().startswith(b"220 "))
        return sock

    def test_plaintext_after_starttls_is_discarded(self):
        # CVE-2011-0411: a command pipelined behind STARTTLS is dropped
        # unread; the session goes on over TLS.
        relay = self.relay()
        sock = self.starttls(relay, behind=b"NOOP\r\n")
        ctx = ssl.create_default_context(cafile=self.certs.ca)
        tls = ctx.wrap_socket(sock, server_hostname="relay.test")
        tls.sendall(b"EHLO client.test\r\n")
        reply = tls.recv(4096)
        self.assertTrue(reply.startswith(b"250-"), reply)
        tls.sendall(b"QUIT\r\n")
        relay.wait_log(r"disconnect from " + LOCAL + r" ehlo=2 starttls=1 "
                       r"quit=1 commands=4")
        tls.close()
        self.assertRegex(relay.maillog(), r"tlsrelay/smtpd\[\d+\]: "
                         r"warning: " + LOCAL + r" sent plaintext after "
                         r"STARTTLS: 6 bytes discarded")

    def test_garbage_after_starttls_is_a_postfix_line(self):
        relay = self.relay()
        sock = self.starttls(relay)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: relay.test\r\n\r\n")
        relay.wait_log(r"lost connection after STARTTLS from " + LOCAL)
        sock.close()
        log = relay.maillog()
        self.assertRegex(log, r"tlsrelay/smtpd\[\d+\]: SSL_accept error "
                         r"from " + LOCAL + r": (?!lost connection)\w")
        self.assertNotIn("lib(0)", log)

    def test_close_during_handshake_is_lost_connection(self):
        relay = self.relay()
        sock = self.starttls(relay)
        sock.close()
        relay.wait_log(r"lost connection after STARTTLS from " + LOCAL)
        log = relay.maillog()
        self.assertRegex(log, r"tlsrelay/smtpd\[\d+\]: SSL_accept error "
                         r"from " + LOCAL + r": lost connection\n")
        self.assertNotIn("lib(0)", log)
        self.assertNotIn("TLS library problem", log)


class OutboundTest(OutboundTestCase):

    def peer_relay(self, peer, level, **main):
        settings = {"relayhost": peer.nexthop,
                    "smtp_tls_security_level": level}
        settings.update(main)
        return self.outbound_relay(main=settings)

    def send(self, relay):
        _, data = self.outbound_message()
        return self.submit(relay, SENDER, [RCPT], data)

    def test_plaintext_after_220_is_discarded(self):
        peer = StartTlsPeer(self, self.certs.rsa, self.certs.rsa_key,
                            inject=b"250 injected\r\n")
        relay = self.peer_relay(peer, "encrypt")
        self.send(relay)
        relay.wait_log(r"status=sent", timeout=20)
        relay.wait_log(r"tlsrelay/smtp\[\d+\]: warning: 127\.0\.0\.1"
                       r"\[127\.0\.0\.1\]:%d sent plaintext after 220 to "
                       r"STARTTLS: 14 bytes discarded" % peer.port)
        self.assertEqual([tls for tls, _ in peer.messages], [True])
        # The injected line was never taken as a reply: EHLO came next,
        # over TLS.
        with peer.lock:
            after = peer.commands[peer.commands.index((False, "STARTTLS"))
                                  + 1]
        self.assertEqual(after, (True, "EHLO"))

    def test_quit_after_failed_certificate_check(self):
        peer = StartTlsPeer(self, self.certs.rsa, self.certs.rsa_key)
        # The peer's name is not 127.0.0.1: "verify" must fail.
        relay = self.peer_relay(peer, "verify",
                                smtp_tls_CAfile=self.certs.ca)
        self.send(relay)
        relay.wait_log(r"status=deferred \(Server certificate not "
                       r"verified\)", timeout=20)
        self.assertTrue(peer.wait_command(True, "QUIT"),
                        "%r %r" % (peer.commands, peer.errors))
        self.assertEqual(peer.messages, [])

    def test_client_tls_lines_are_smtp(self):
        sink = self.sink(tls=True)
        relay = self.outbound_relay(main={
            "relayhost": sink.nexthop,
            "smtp_tls_security_level": "may",
            "smtp_tls_session_cache_database":
                "btree:${data_directory}/smtp_scache",
            "smtp_tls_loglevel": "2",
            "smtp_connection_cache_on_demand": "no",
        })
        for n in (1, 2):
            self.send(relay)
            sink.wait_messages(n, diagnostics=relay.diagnostics)
            relay.wait_log(r"status=sent", count=n)
        lines = [l for l in relay.maillog().splitlines()
                 if "Reusing old session" in l]
        self.assertEqual(len(lines), 1, relay.maillog()[-3000:])
        self.assertRegex(lines[0], r"tlsrelay/smtp\[\d+\]: 127\.0\.0\.1"
                         r"\[127\.0\.0\.1\]:\d+: Reusing old session$")


if __name__ == "__main__":
    main()
