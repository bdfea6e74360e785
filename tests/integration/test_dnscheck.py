"""The SMTP server's DNS: client names (smtpd_peername_lookup, Postfix's
default yes) and the DNS-based restrictions, against a dnsmasq on
loopback that serves the test zones: a PTR for 127.0.0.1 confirmed by
its A record, a PTR for 127.0.0.3 whose name points elsewhere, a DNSBL
listing 127.0.0.2 with a TXT record, an RHSBL, and domains with and
without MX/A records. Clients bind to 127.0.0.x (all loopback) to be the
client the test needs. A resolver that never answers (a UDP socket that
reads nothing) delays the greeting, it does not hang the session. No
query leaves loopback: tlsrelay_dns_servers names the dnsmasq, which
forwards nothing (--no-resolv)."""

import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (OutboundTestCase, RawSMTP, main,  # noqa: E402
                       queued_id)

SENDER = "sender@good.test"
RCPT = "rcpt@dest.test"

ZONES = [
    # 127.0.0.1: PTR client.test, and client.test has A 127.0.0.1
    "--host-record=client.test,127.0.0.1",
    # 127.0.0.3: PTR forged.test, whose A record is another address
    "--ptr-record=3.0.0.127.in-addr.arpa,forged.test",
    "--host-record=forged.test,127.0.0.99",
    # other loopback addresses have no PTR: NXDOMAIN, not REFUSED
    "--local=/127.in-addr.arpa/",
    "--local=/test/",
    # the DNSBL: 127.0.0.2 listed with code 127.0.0.2, and a reason
    "--host-record=2.0.0.127.bl.test,127.0.0.2",
    "--txt-record=2.0.0.127.bl.test,Listed for testing",
    # the RHSBL: spam.test listed with code 127.0.0.4
    "--host-record=spam.test.rhsbl.test,127.0.0.4",
    "--txt-record=spam.test.rhsbl.test,Bad domain",
    # mail domains: with MX, with A only, with a null MX; nx.test has
    # nothing at all
    "--mx-host=good.test,mx.good.test,10",
    "--host-record=mx.good.test,127.0.0.1",
    "--host-record=aonly.test,127.0.0.1",
    "--mx-host=nullmx.test,.,0",
    "--mx-host=spam.test,mx.good.test,10",
]


class SilentResolver:
    """A UDP socket on loopback that reads nothing: a dead DNS server.
    received() tells whether a query reached it."""

    def __init__(self, case):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        case.addCleanup(self.sock.close)

    @property
    def server(self):
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    def received(self):
        self.sock.setblocking(False)
        try:
            return self.sock.recv(512)
        except BlockingIOError:
            return None


class DnsCheckCase(OutboundTestCase):

    def dns_relay(self, dns_server, **main):
        """A relay that takes mail for dest.test and keeps it (no queue
        manager), resolving with dns_server."""
        settings = {"tlsrelay_dns_servers": dns_server,
                    "relay_domains": "dest.test"}
        settings.update(main)
        return self.relay(main=settings, services={"smtp": {}})

    def zones(self):
        return self.dns(extra=ZONES)

    def connect(self, relay, source="127.0.0.1"):
        return RawSMTP(self, relay.port(), source=source)

    def send(self, c):
        c.ehlo()
        return queued_id(c.send_message(SENDER, [RCPT], self.message()))


class ClientNameTest(DnsCheckCase):

    def test_confirmed_name_in_log_and_received(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server)
        c = self.connect(relay)
        self.assertEqual(c.greeting.code, 220)
        queue_id = self.send(c)
        relay.wait_log(r"connect from client\.test\[127\.0\.0\.1\]")
        relay.wait_log(r"%s: client=client\.test\[127\.0\.0\.1\]" %
                       queue_id)
        received = relay.queue_file(queue_id).received.decode()
        self.assertIn("from client.test (client.test [127.0.0.1])",
                      received)
        self.assertIn("query[PTR] 1.0.0.127.in-addr.arpa", dns.log())

    def test_unconfirmed_name_is_unknown(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, mynetworks="127.0.0.0/8")
        c = self.connect(relay, source="127.0.0.3")
        queue_id = self.send(c)
        relay.wait_log(r"warning: hostname forged\.test does not resolve "
                       r"to address 127\.0\.0\.3$")
        relay.wait_log(r"connect from unknown\[127\.0\.0\.3\]")
        received = relay.queue_file(queue_id).received.decode()
        self.assertIn("(unknown [127.0.0.3])", received)
        self.assertNotIn("forged.test", received)

    def test_no_ptr_is_unknown(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, mynetworks="127.0.0.0/8")
        c = self.connect(relay, source="127.0.0.5")
        queue_id = self.send(c)
        relay.wait_log(r"connect from unknown\[127\.0\.0\.5\]")
        self.assertIn("query[PTR] 5.0.0.127.in-addr.arpa", dns.log())
        received = relay.queue_file(queue_id).received.decode()
        self.assertIn("(unknown [127.0.0.5])", received)

    def test_lookup_off(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_peername_lookup="no")
        c = self.connect(relay)
        queue_id = self.send(c)
        relay.wait_log(r"connect from unknown\[127\.0\.0\.1\]")
        self.assertIn("(unknown [127.0.0.1])",
                      relay.queue_file(queue_id).received.decode())
        self.assertNotIn("query[PTR]", dns.log())

    def test_dead_resolver_delays_greeting(self):
        """The default timeout (tlsrelay_smtpd_dns_timeout = 5s) bounds the
        wait; the client is unknown and the session goes on."""
        dead = SilentResolver(self)
        relay = self.dns_relay(dead.server)
        start = time.monotonic()
        c = RawSMTP(self, relay.port(), timeout=30)
        waited = time.monotonic() - start
        self.assertEqual(c.greeting.code, 220)
        self.assertIsNotNone(dead.received(), "no query reached the "
                             "dead resolver")
        queue_id = self.send(c)
        relay.wait_log(r"connect from unknown\[127\.0\.0\.1\]")
        self.assertIn("(unknown [127.0.0.1])",
                      relay.queue_file(queue_id).received.decode())
        sys.stderr.write("greeting after %.1f s with a dead resolver\n" %
                         waited)


if __name__ == "__main__":
    main()
