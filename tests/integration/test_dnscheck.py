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
    # a second DNSBL listing 127.0.0.2 with code 127.0.0.3, no TXT
    "--host-record=2.0.0.127.bl2.test,127.0.0.3",
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

    def connect(self, relay, source="127.0.0.1", timeout=10):
        return RawSMTP(self, relay.port(), source=source, timeout=timeout)

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


class RestrictionTest(DnsCheckCase):
    """The DNS-based restrictions with Postfix's replies; mail for
    dest.test is relayed (relay_domains), so only the restriction under
    test can refuse it. Clients come from 127.0.0.2 (listed), 127.0.0.3
    (a PTR that does not point back), 127.0.0.5 (no PTR) or 127.0.0.1."""

    def rcpt_reply(self, relay, source="127.0.0.1", sender=SENDER,
                   helo="client.test", timeout=10):
        c = self.connect(relay, source=source, timeout=timeout)
        c.ehlo(helo)
        r = c.cmd("MAIL FROM:<%s>" % sender)
        self.assertEqual(r.code, 250, r)
        return c, c.cmd("RCPT TO:<%s>" % RCPT)

    def assertRefused(self, relay, reply, code, text, source, sender=SENDER,
                      helo="client.test"):
        self.assertReply(reply, code, text)
        relay.wait_log(r"NOQUEUE: reject: RCPT from \S+\[%s\]: %d %s; "
                       r"from=<%s> to=<%s> proto=ESMTP helo=<%s>" % (
                           re.escape(source), code, re.escape(text),
                           re.escape(sender), re.escape(RCPT),
                           re.escape(helo)))

    def test_rbl_client(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_client_restrictions=
                               "reject_rbl_client bl.test")
        # Not listed: queued.
        c, r = self.rcpt_reply(relay)
        self.assertReply(r, 250)
        c.cmd("QUIT")
        c, r = self.rcpt_reply(relay, source="127.0.0.2")
        self.assertRefused(relay, r, 554, "5.7.1 Service unavailable; "
                           "Client host [127.0.0.2] blocked using bl.test; "
                           "Listed for testing", "127.0.0.2")
        self.assertIn("query[A] 2.0.0.127.bl.test", dns.log())
        self.assertIn("query[TXT] 2.0.0.127.bl.test", dns.log())
        # The session goes on; the memo answers the second RCPT.
        before = dns.log().count("query[A] 2.0.0.127.bl.test")
        self.assertEqual(c.cmd("RCPT TO:<%s>" % RCPT).code, 554)
        self.assertEqual(dns.log().count("query[A] 2.0.0.127.bl.test"),
                         before)

    def test_rbl_reply_templates(self):
        """rbl_reply_maps gives one DNSBL its own reply (a 4xx here), with
        Postfix's macros; default_rbl_reply changes the others'."""
        dns = self.zones()
        table = os.path.join(self.tmpdir, "rbl_reply_%d" % os.getpid())
        with open(table, "w") as f:
            f.write("bl.test 450 Come back later: $client_address is on "
                    "$rbl_domain (${rbl_reason?$rbl_reason})\n")
        relay = self.dns_relay(
            dns.server, smtpd_client_restrictions="reject_rbl_client "
            "bl.test, reject_rbl_client bl2.test",
            rbl_reply_maps="texthash:" + table,
            default_rbl_reply="$rbl_code Rejected: $rbl_what listed by "
            "$rbl_domain")
        c, r = self.rcpt_reply(relay, source="127.0.0.2")
        self.assertRefused(relay, r, 450, "4.7.1 Come back later: 127.0.0.2 "
                           "is on bl.test (Listed for testing)", "127.0.0.2")
        # Without its entry (the table re-read as it changes), bl.test's
        # answer gets the default.
        with open(table, "w") as f:
            f.write("other.test 450 x\n")
        c, r = self.rcpt_reply(relay, source="127.0.0.2")
        self.assertRefused(relay, r, 554, "5.7.1 Rejected: 127.0.0.2 "
                           "listed by bl.test", "127.0.0.2")

    def test_pipelined_replies_wait_in_order(self):
        """Commands pipelined behind a RCPT whose DNSBL answer is on its
        way are answered after it, in order (RFC 2920)."""
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_client_restrictions=
                               "reject_rbl_client bl.test")
        c = self.connect(relay, source="127.0.0.2")
        c.ehlo()
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\n"
               "RSET\r\nNOOP\r\n" % (SENDER, RCPT, RCPT))
        codes = [c.reply().code for _ in range(5)]
        self.assertEqual(codes, [250, 554, 554, 250, 250])
        self.assertEqual(c.cmd("QUIT").code, 221)

    def test_rbl_filter(self):
        """bl.test answers 127.0.0.2, outside [3..5]: not listed there;
        bl2.test answers 127.0.0.3, inside [2;3]: listed."""
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_client_restrictions=
                               "reject_rbl_client bl.test=127.0.0.[3..5], "
                               "reject_rbl_client bl2.test=127.0.0.[2;3]")
        c, r = self.rcpt_reply(relay, source="127.0.0.2")
        self.assertRefused(relay, r, 554, "5.7.1 Service unavailable; "
                           "Client host [127.0.0.2] blocked using bl2.test",
                           "127.0.0.2")
        self.assertIn("query[A] 2.0.0.127.bl.test", dns.log())

    def test_rbl_filter_no_match_passes(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_client_restrictions=
                               "reject_rbl_client bl.test=127.0.0.3")
        c, r = self.rcpt_reply(relay, source="127.0.0.2")
        self.assertReply(r, 250)
        self.assertIn("query[A] 2.0.0.127.bl.test", dns.log())

    def test_rhsbl_sender(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_sender_restrictions=
                               "reject_rhsbl_sender rhsbl.test")
        c, r = self.rcpt_reply(relay)
        self.assertReply(r, 250)
        c.cmd("QUIT")
        c, r = self.rcpt_reply(relay, sender="x@spam.test")
        self.assertRefused(relay, r, 554, "5.7.1 Service unavailable; "
                           "Sender address [x@spam.test] blocked using "
                           "rhsbl.test; Bad domain", "127.0.0.1",
                           sender="x@spam.test")

    def test_unknown_sender_domain(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_sender_restrictions=
                               "reject_unknown_sender_domain")
        for sender in ("x@good.test", "x@aonly.test"):
            c, r = self.rcpt_reply(relay, sender=sender)
            self.assertReply(r, 250)
            c.cmd("QUIT")
        c, r = self.rcpt_reply(relay, sender="x@nx.test")
        self.assertRefused(relay, r, 450, "4.1.8 <x@nx.test>: Sender address "
                           "rejected: Domain not found", "127.0.0.1",
                           sender="x@nx.test")
        c, r = self.rcpt_reply(relay, sender="x@nullmx.test")
        self.assertRefused(relay, r, 550, "5.7.27 <x@nullmx.test>: Sender "
                           "address rejected: Domain nullmx.test does not "
                           "accept mail (nullMX)", "127.0.0.1",
                           sender="x@nullmx.test")

    def test_unknown_helo_hostname(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_helo_restrictions=
                               "reject_unknown_helo_hostname")
        c, r = self.rcpt_reply(relay, helo="client.test")
        self.assertReply(r, 250)
        c.cmd("QUIT")
        c, r = self.rcpt_reply(relay, helo="nx.test")
        self.assertRefused(relay, r, 450, "4.7.1 <nx.test>: Helo command "
                           "rejected: Host not found", "127.0.0.1",
                           helo="nx.test")

    def test_unknown_client_hostname(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, mynetworks="127.0.0.0/8",
                               smtpd_client_restrictions=
                               "reject_unknown_client_hostname")
        c, r = self.rcpt_reply(relay)
        self.assertReply(r, 250)
        c.cmd("QUIT")
        c, r = self.rcpt_reply(relay, source="127.0.0.3")
        self.assertRefused(relay, r, 450, "4.7.25 Client host rejected: "
                           "cannot find your hostname, [127.0.0.3]",
                           "127.0.0.3")

    def test_unknown_reverse_client_hostname(self):
        dns = self.zones()
        relay = self.dns_relay(dns.server, smtpd_client_restrictions=
                               "reject_unknown_reverse_client_hostname")
        # A PTR is enough, even one that does not point back.
        c, r = self.rcpt_reply(relay, source="127.0.0.3")
        self.assertReply(r, 250)
        c.cmd("QUIT")
        c, r = self.rcpt_reply(relay, source="127.0.0.5")
        self.assertRefused(relay, r, 450, "4.7.1 Client host rejected: "
                           "cannot find your reverse hostname, [127.0.0.5]",
                           "127.0.0.5")

    def test_dead_resolver(self):
        """A DNSBL that does not answer lists nobody (after the default
        5s), an unknown-domain check defers (5s more): the session goes
        on."""
        dead = SilentResolver(self)
        relay = self.dns_relay(dead.server, smtpd_peername_lookup="no",
                               smtpd_client_restrictions=
                               "reject_rbl_client bl.test",
                               smtpd_sender_restrictions=
                               "reject_unknown_sender_domain")
        c, r = self.rcpt_reply(relay, source="127.0.0.2", timeout=30)
        self.assertIsNotNone(dead.received())
        self.assertRefused(relay, r, 450, "4.1.8 <%s>: Sender address "
                           "rejected: Domain not found" % SENDER,
                           "127.0.0.2")
        relay.wait_log(r"warning: 2\.0\.0\.127\.bl\.test: RBL lookup "
                       r"error: timeout")
        self.assertEqual(c.cmd("NOOP").code, 250)


if __name__ == "__main__":
    main()
