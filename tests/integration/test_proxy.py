"""The PROXY protocol on inbound services (smtpd_upstream_proxy_protocol =
haproxy, Postfix's parameter): the client named in a load balancer's
header is the client for mynetworks, anvil, the log and the Received
header. First through a real HAProxy (send-proxy-v2 and send-proxy),
then byte by byte from a raw socket: headers cut, pipelined, malformed,
too long, missing; LOCAL and UNKNOWN; IPv6; STARTTLS and wrappermode."""

import os
import re
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, TLSRELAY, Certs,  # noqa: E402
                       DnsServer, HAProxy, OutboundTestCase, RawSMTP, Sink,
                       main, queued_id, run_tool)

SENDER = "sender@client.test"
OUTSIDE = "rcpt@example.test"	# not ours: only mynetworks may relay
PROXY_ON = {"smtpd_upstream_proxy_protocol": "haproxy"}
# Postfix's answer to a connection without a usable header.
HANGUP_REPLY = b"421 4.3.0 relay.test Server local error\r\n"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(client, server, cport=56324, sport=25, command=1, tlvs=b""):
    """A PROXY v2 header: PROXY (command 1) or LOCAL (0), TCP over the
    family of the addresses."""
    if ":" in client:
        fam, af = 0x21, socket.AF_INET6
    else:
        fam, af = 0x11, socket.AF_INET
    body = (socket.inet_pton(af, client) + socket.inet_pton(af, server) +
            struct.pack(">HH", cport, sport) + tlvs)
    return V2_SIG + bytes([0x20 | command, fam]) + \
        struct.pack(">H", len(body)) + body


def v1_header(client, server, cport=56324, sport=25):
    proto = "TCP6" if ":" in client else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (proto, client, server, cport,
                                          sport)).encode()


class ThroughHAProxyTest(OutboundTestCase):
    """Client -> HAProxy -> relay -> sink. HAProxy reaches the relay from
    127.0.0.1, which is not in mynetworks (127.0.0.2/32): a client on
    127.0.0.2 may relay only because the header names it; one on 127.0.0.3
    may not."""

    def setUp(self):
        self.sink = Sink(self, os.path.join(self.tmpdir, "sink-" +
                                            self._testMethodName),
                         certs=self.certs)
        main = dict(DEFAULT_TIMERS)
        main.update({"mynetworks": "127.0.0.2/32",
                     "relayhost": self.sink.nexthop})
        self.server = self.outbound_relay(main=main,
                                         services={"smtp": PROXY_ON})
        server = "server relay 127.0.0.1:%d source 127.0.0.1 " % \
            self.server.port()
        self.haproxy = HAProxy(self, os.path.join(
            self.tmpdir, "haproxy-" + self._testMethodName), {
                "v2": server + "send-proxy-v2",
                "v1": server + "send-proxy",
            })

    def send_through(self, frontend, source, subject):
        c = RawSMTP(self, self.haproxy.ports[frontend], source=source)
        self.assertReply(c.greeting, 220)
        c.ehlo()
        r = c.cmd("MAIL FROM:<%s>" % SENDER)
        self.assertReply(r, 250)
        r = c.cmd("RCPT TO:<%s>" % OUTSIDE)
        if r.code != 250:
            c.cmd("QUIT")
            return r
        r = c.cmd("DATA")
        self.assertReply(r, 354)
        c.send(self.message(subject=subject) + b".\r\n")
        r = c.reply()
        c.cmd("QUIT")
        return r

    def test_client_address_from_the_header(self):
        for frontend in ("v2", "v1"):
            r = self.send_through(frontend, "127.0.0.2", "via " + frontend)
            self.assertReply(r, 250)
            queued_id(r)
        self.server.wait_log(r"smtpd\[\d+\]: connect from "
                            r"unknown\[127\.0\.0\.2\]$", count=2)
        msgs = self.sink.wait_messages(2)
        for m in msgs:
            received = m.content.split(b"\r\n\tby ", 1)[0].decode()
            self.assertRegex(received, r"^Received: from client\.test "
                             r"\(unknown \[127\.0\.0\.2\]\)$")
        self.assertEqual(sorted(m.header("Subject") for m in msgs),
                         ["via v1", "via v2"])
        # HAProxy's own address is never the client's.
        self.assertNotRegex(self.server.maillog(),
                            r"connect from \S+\[127\.0\.0\.1\]")

    def test_outside_client_refused(self):
        for frontend in ("v2", "v1"):
            r = self.send_through(frontend, "127.0.0.3", "refused")
            self.assertReply(r, 454, "4.7.1 <%s>: Relay access denied" %
                             OUTSIDE)
        self.server.wait_log(r"NOQUEUE: reject: RCPT from "
                            r"unknown\[127\.0\.0\.3\]: 454 4\.7\.1 ",
                            count=2)
        self.server.wait_log(r"connect from unknown\[127\.0\.0\.3\]$",
                            count=2)


class HealthCheckTest(OutboundTestCase):
    """HAProxy's own health checks of a send-proxy-v2 server carry a
    LOCAL header: the relay sees the balancer itself, 127.0.0.1."""

    def test_checks_are_local(self):
        relay = self.outbound_relay(main=dict(DEFAULT_TIMERS), qmgr=False,
                                    services={"smtp": PROXY_ON})
        HAProxy(self, os.path.join(self.tmpdir, "haproxy-checks"), {
            "v2": "server relay 127.0.0.1:%d source 127.0.0.1 "
                  "send-proxy-v2 check inter 200ms" % relay.port()})
        relay.wait_log(r"connect from unknown\[127\.0\.0\.1\]$", count=2)
        self.assertNotIn("haproxy read", relay.maillog())


class HeaderTest(OutboundTestCase):
    """A raw socket in place of the balancer: the relay's side of the
    protocol, byte by byte. The relay's TCP peer is 127.0.0.1; mynetworks
    names only clients that headers bring."""

    MYNETWORKS = "127.0.0.2/32 [2001:db8::7]/128"

    def proxied_relay(self, **extra):
        opts = dict(PROXY_ON)
        opts.update(extra)
        main = dict(DEFAULT_TIMERS)
        main["mynetworks"] = self.MYNETWORKS
        return self.outbound_relay(main=main, qmgr=False, services={
            "smtp": opts,
            "smtps": dict(opts, smtpd_tls_wrappermode="yes"),
            "plain": {}})

    def setUp(self):
        self.server = None

    def connect(self, data=b"", service="smtp"):
        """A connection that sends data first and reads no greeting."""
        c = RawSMTP(self, self.server.port(service), read_greeting=False)
        if data:
            c.send(data)
        return c

    def hangup(self, c, timeout=10):
        """All the server said before it closed c."""
        c.sock.settimeout(timeout)
        said = b""
        try:
            while True:
                line = c.readline()
                if not line:
                    return said
                said += line
        except ConnectionResetError:
            return said

    def may_relay(self, c):
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        r = c.cmd("RCPT TO:<%s>" % OUTSIDE)
        c.cmd("QUIT")
        return r.code == 250

    def refused(self, data, reason):
        """data is refused: Postfix's 421 and the connection closes, no
        other byte of SMTP is sent, and the log says why, naming the
        balancer's address."""
        c = self.connect(data)
        self.assertEqual(self.hangup(c), HANGUP_REPLY)
        self.server.wait_log(r"warning: haproxy read: %s from "
                            r"unknown\[127\.0\.0\.1\]$" % re.escape(reason))

    def test_malformed_and_oversized(self):
        self.server = self.proxied_relay()
        self.refused(b"PROXY TCP4 192.0.2.7 nonsense 1 25\r\n",
                     "PROXY v1 header with a bad address or port")
        self.refused(b"PROXY TCP4 192.0.2.7 192.0.2.1 1 25 26\r\n",
                     "malformed PROXY v1 header")
        self.refused(b"\r\n\r\n\x00\r\nQUIX\n" + v2_header(
            "192.0.2.7", "192.0.2.1")[12:], "no PROXY protocol header")
        self.refused(b"EHLO client.test\r\n", "no PROXY protocol header")
        # Too long: a v1 line with no end in 107 bytes, a v2 header that
        # says it carries 2000 bytes of TLVs.
        self.refused(b"PROXY TCP4 " + b"1" * 200 + b"\r\n",
                     "PROXY v1 header without CR LF in 107 bytes")
        self.refused(v2_header("192.0.2.7", "192.0.2.1",
                               tlvs=b"\x04\x07\xcd" + b"\0" * 1997),
                     "PROXY v2 header too long")
        self.refused(v2_header("192.0.2.7", "192.0.2.1",
                               tlvs=b"\x04\x00\x09xx"),
                     "PROXY v2 header with a malformed TLV")
        # None of them got a session: no connect/disconnect lines.
        self.assertNotRegex(self.server.maillog(), r"connect from")

    def test_no_header_times_out(self):
        # The parameter under test, shortened: 1 second, not 5.
        self.server = self.proxied_relay(smtpd_upstream_proxy_timeout="1s")
        t0 = time.monotonic()
        c = self.connect()
        self.assertEqual(self.hangup(c), HANGUP_REPLY)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 5)
        self.server.wait_log(r"warning: haproxy read: time limit exceeded "
                            r"from unknown\[127\.0\.0\.1\]$")
        # Half a header is no better: the limit is for all of it.
        c = self.connect(b"PROXY TCP4 192.0.2.")
        self.assertEqual(self.hangup(c), HANGUP_REPLY)
        self.server.wait_log(r"haproxy read: time limit exceeded", count=2)

    def test_stop_while_a_header_is_awaited(self):
        # One worker: connections are accepted in the order they came, so
        # the greeting on the second says the first is in the worker.
        main = dict(DEFAULT_TIMERS)
        main.update({"mynetworks": self.MYNETWORKS,
                     "tlsrelay_smtpd_workers": "1"})
        self.server = self.outbound_relay(main=main, qmgr=False,
                                          services={"smtp": PROXY_ON})
        waiting = self.connect(b"PROXY TCP4 192.0.2.")
        c = self.connect(v1_header("127.0.0.2", "127.0.0.1"))
        self.assertReply(c.reply(), 220)
        c.cmd("QUIT")
        self.server.wait_log(r"disconnect from unknown\[127\.0\.0\.2\]")
        t0 = time.monotonic()
        self.server.stop()
        # Not held for the header's 5 seconds.
        self.assertLess(time.monotonic() - t0, 3)
        self.assertTrue(waiting.expect_closed(timeout=1))
        self.assertEqual(waiting.buf, b"")

    def test_header_in_pieces(self):
        self.server = self.proxied_relay()
        for header in (v1_header("127.0.0.2", "127.0.0.1"),
                       v2_header("127.0.0.2", "127.0.0.1")):
            c = self.connect()
            for piece in (header[:5], header[5:13], header[13:-1],
                          header[-1:]):
                c.send(piece)
                time.sleep(0.1)
            self.assertReply(c.reply(), 220)
            self.assertTrue(self.may_relay(c))
        self.server.wait_log(r"connect from unknown\[127\.0\.0\.2\]$",
                            count=2)

    def test_pipelined_ehlo_behind_the_header(self):
        self.server = self.proxied_relay()
        c = self.connect(v2_header("127.0.0.2", "127.0.0.1") +
                         b"EHLO client.test\r\n")
        self.assertReply(c.reply(), 220)
        # Answered without another byte from the client.
        self.assertReply(c.reply(), 250)
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % OUTSIDE), 250)
        c.cmd("QUIT")
        c = self.connect(v1_header("127.0.0.2", "127.0.0.1") +
                         b"EHLO client.test\r\n")
        self.assertReply(c.reply(), 220)
        self.assertReply(c.reply(), 250)

    def test_local_and_unknown_keep_the_socket_peer(self):
        self.server = self.proxied_relay()
        # The balancer's own health checks: the TCP peer (127.0.0.1) is
        # the client, and it is not in mynetworks.
        for header in (v2_header("192.0.2.7", "192.0.2.1", command=0),
                       b"PROXY UNKNOWN\r\n",
                       b"PROXY UNKNOWN 192.0.2.7 192.0.2.1 1 25\r\n"):
            c = self.connect(header)
            self.assertReply(c.reply(), 220)
            self.assertFalse(self.may_relay(c))
        self.server.wait_log(r"connect from unknown\[127\.0\.0\.1\]$",
                            count=3)
        self.assertNotIn("192.0.2.7", self.server.maillog())

    def test_ipv6_client(self):
        self.server = self.proxied_relay()
        # mynetworks has 2001:db8::7, not ::8.
        for header, allowed in (
                (v1_header("2001:db8::7", "2001:db8::1"), True),
                (v2_header("2001:db8::7", "2001:db8::1"), True),
                (v2_header("2001:db8::8", "2001:db8::1"), False)):
            c = self.connect(header)
            self.assertReply(c.reply(), 220)
            self.assertEqual(self.may_relay(c), allowed, header)
        self.server.wait_log(r"connect from unknown\[2001:db8::7\]$", count=2)
        self.server.wait_log(r"connect from unknown\[2001:db8::8\]$")
        self.server.wait_log(r"reject: RCPT from unknown\[2001:db8::8\]: "
                            r"454 4\.7\.1 ")
        # An IPv4 client in IPv6 form is the IPv4 client.
        c = self.connect(v1_header("::ffff:127.0.0.2", "::1"))
        self.assertReply(c.reply(), 220)
        self.assertTrue(self.may_relay(c))

    def test_starttls_after_the_header(self):
        self.server = self.proxied_relay()
        c = self.connect(v1_header("127.0.0.2", "127.0.0.1"))
        self.assertReply(c.reply(), 220)
        c.ehlo()
        c.starttls(self.tls())
        self.assertTrue(self.may_relay(c))
        self.server.wait_log(r"TLS connection established from "
                            r"unknown\[127\.0\.0\.2\]: TLSv1\.3")

    def test_wrappermode_reads_the_header_before_tls(self):
        self.server = self.proxied_relay()
        c = self.connect(v2_header("127.0.0.2", "127.0.0.1", sport=465),
                         service="smtps")
        c.sock = self.tls().wrap_socket(c.sock,
                                        server_hostname=Certs.SERVER_NAME)
        self.assertReply(c.reply(), 220)
        self.assertTrue(self.may_relay(c))
        self.server.wait_log(r"TLS connection established from "
                            r"unknown\[127\.0\.0\.2\]")

    def test_connection_limit_counts_the_header_client(self):
        main = dict(DEFAULT_TIMERS)
        main.update({"mynetworks": self.MYNETWORKS,
                     "smtpd_client_connection_count_limit": "1",
                     "smtpd_client_event_limit_exceptions": ""})
        self.server = self.outbound_relay(main=main, qmgr=False,
                                         services={"smtp": PROXY_ON})
        first = self.connect(v1_header("192.0.2.7", "192.0.2.1"))
        self.assertReply(first.reply(), 220)
        second = self.connect(v1_header("192.0.2.7", "192.0.2.1"))
        self.assertReply(second.reply(), 421,
                         "4.7.0 relay.test Error: too many connections "
                         "from 192.0.2.7")
        # Another client behind the same balancer is not held back.
        other = self.connect(v1_header("192.0.2.8", "192.0.2.1"))
        self.assertReply(other.reply(), 220)
        self.server.wait_log(r"warning: Connection concurrency limit "
                            r"exceeded: 2 from unknown\[192\.0\.2\.7\]")
        first.cmd("QUIT")
        other.cmd("QUIT")

    def test_client_name_of_the_header_address(self):
        # The PTR asked is the header client's, never the balancer's.
        dns = DnsServer(self, os.path.join(self.tmpdir, "dns"),
                        hosts=[("client.example.test", "192.0.2.7"),
                               ("balancer.example.test", "127.0.0.1")])
        main = dict(DEFAULT_TIMERS)
        main["mynetworks"] = self.MYNETWORKS
        self.server = self.outbound_relay(main=main, dns=dns, qmgr=False,
                                          services={"smtp": PROXY_ON})
        c = self.connect(v2_header("192.0.2.7", "192.0.2.1"))
        self.assertReply(c.reply(), 220)
        self.assertFalse(self.may_relay(c))
        self.server.wait_log(r"connect from client\.example\.test"
                             r"\[192\.0\.2\.7\]$")
        self.server.wait_log(r"disconnect from client\.example\.test"
                             r"\[192\.0\.2\.7\] ")
        self.assertIn("query[PTR] 7.2.0.192.in-addr.arpa", dns.log())
        self.assertNotIn("1.0.0.127.in-addr.arpa", dns.log())

    def test_service_without_the_option(self):
        self.server = self.proxied_relay()
        # The same header on a service without the option is SMTP noise.
        c = RawSMTP(self, self.server.port("plain"))
        self.assertReply(c.greeting, 220)
        r = c.cmd(v1_header("127.0.0.2", "127.0.0.1")[:-2].decode())
        self.assertEqual(r.code // 100, 5, r)


class ConfigTest(OutboundTestCase):

    def test_values(self):
        relay = self.relay(main={"smtpd_upstream_proxy_protocol": "yes"},
                           start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertRegex(out, r"main\.cf:\d+: smtpd_upstream_proxy_protocol"
                         r": unknown value \"yes\"")
        relay = self.relay(services={"smtp": {
            "smtpd_upstream_proxy_protocol": "proxy"}}, start=False)
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0)
        self.assertRegex(out, r"master\.cf:\d+: smtpd_upstream_proxy_protocol"
                         r": unknown value \"proxy\"")
        status, out = self.tlsrelay_conf("-d", "smtpd_upstream_proxy_protocol",
                                         "smtpd_upstream_proxy_timeout")
        self.assertEqual(status, 0, out)
        self.assertIn("smtpd_upstream_proxy_protocol =\n", out)
        self.assertIn("smtpd_upstream_proxy_timeout = 5s\n", out)

    def tlsrelay_conf(self, *args):
        relay = self.relay(start=False)
        return run_tool([TLSRELAY, "conf", "-c", relay.dir] + list(args))


if __name__ == "__main__":
    main()
