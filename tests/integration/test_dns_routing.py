"""Routing and DNS with real peers: a dnsmasq on loopback serves the test
zones (MX, A, null MX, NXDOMAIN) and tlsrelay_dns_servers points the
relay's c-ares at it; sinks listen on 127.0.0.1 / 127.0.0.2 at the port
smtp_tcp_port names. Next hops from relayhost and transport_maps, with
and without MX lookups, and /etc/hosts only with DNS disabled. One test
traces every process with strace to show that no query goes to port 53
anywhere: nothing here ever asks the machine's resolver."""

import email
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (OutboundTestCase, SyscallTrace,  # noqa: E402
                       free_port_on, inline_table, main, port_is_free,
                       to_lines)

SENDER = "sender@senders.test"


class DnsTestCase(OutboundTestCase):

    def setUp(self):
        super().setUp()
        # Bounces go back to the sender's domain: to a sink of its own.
        self.sender_sink = self.sink()

    def routed_relay(self, dns, port, routes=None, start=True, **main):
        """A relay resolving with dns; MX hosts are tried on port;
        senders.test (and routes) through transport_maps."""
        table = {"senders.test": "smtp:" + self.sender_sink.nexthop}
        table.update(routes or {})
        settings = {"smtp_tcp_port": str(port),
                    "transport_maps": inline_table(table)}
        settings.update(main)
        return self.outbound_relay(main=settings, dns=dns, start=start)

    def dsn_of(self, relay, queue_id, timeout=20):
        """The DSN about queue_id that reached the sender's sink."""
        line = relay.wait_log(r": %s: sender non-delivery notification: "
                              r"([0-9A-F]+)" % queue_id, timeout=timeout)[0]
        bounce_id = line.rsplit(" ", 1)[1]
        self.wait_removed(relay, bounce_id)
        (m,) = self.sender_sink.messages()
        self.assertEqual(m.mail_from, "")
        self.assertEqual(m.rcpt_tos, [SENDER])
        dsn = email.message_from_bytes(m.message)
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        status = [p for p in dsn.walk()
                  if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        blocks = status[0].get_payload()
        return dsn, blocks[0], blocks[1:]


class MxTest(DnsTestCase):

    def two_mx(self, port):
        return self.dns(mx=[("mx.test", "mx1.mx.test", 10),
                            ("mx.test", "mx2.mx.test", 20)],
                        hosts=[("mx1.mx.test", "127.0.0.1"),
                               ("mx2.mx.test", "127.0.0.2")])

    def test_fallback_to_second_mx_when_first_refuses(self):
        port = free_port_on(("127.0.0.1", "127.0.0.2"))
        backup = self.sink(port=port, hosts=("127.0.0.2",))
        self.assertTrue(port_is_free(port, "127.0.0.1"))
        relay = self.routed_relay(self.two_mx(port), port)
        _, data = self.outbound_message(to="user@mx.test")
        queue_id = self.submit(relay, SENDER, ["user@mx.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"connect to mx1\.mx\.test\[127\.0\.0\.1\]:%d: "
                       r"Connection refused" % port)
        relay.wait_log(r": %s: to=<user@mx\.test>, relay=mx2\.mx\.test"
                       r"\[127\.0\.0\.2\]:%d, .*status=sent" %
                       (queue_id, port))
        (m,) = backup.messages()
        self.assertEqual(m.rcpt_tos, ["user@mx.test"])
        self.assertEqual(self.sender_sink.messages(), [])

    def test_lowest_preference_first(self):
        port = free_port_on(("127.0.0.1", "127.0.0.2"))
        primary = self.sink(port=port, hosts=("127.0.0.1",))
        backup = self.sink(port=port, hosts=("127.0.0.2",))
        relay = self.routed_relay(self.two_mx(port), port)
        ids = []
        for i in range(4):
            _, data = self.outbound_message(to="user@mx.test")
            ids.append(self.submit(relay, SENDER, ["user@mx.test"], data))
        for queue_id in ids:
            self.wait_removed(relay, queue_id)
        self.assertEqual(len(primary.messages()), 4)
        self.assertEqual(backup.messages(), [])
        self.assertEqual(backup.connections(), [])

    def test_implicit_mx(self):
        port = free_port_on(("127.0.0.1",))
        sink = self.sink(port=port)
        # --local: dnsmasq answers "no MX" (NODATA) for a name it knows,
        # instead of REFUSED.
        dns = self.dns(hosts=[("implicit.test", "127.0.0.1")],
                       extra=["--local=/implicit.test/"])
        relay = self.routed_relay(dns, port)
        _, data = self.outbound_message(to="user@implicit.test")
        queue_id = self.submit(relay, SENDER, ["user@implicit.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r": %s: to=<user@implicit\.test>, relay=implicit\.test"
                       r"\[127\.0\.0\.1\]:%d, .*status=sent" % (queue_id, port))
        self.assertEqual(len(sink.messages()), 1)

    def test_ipv6_address_of_mx_host(self):
        port = free_port_on(("::1",))
        sink = self.sink(port=port, hosts=("::1",))
        dns = self.dns(mx=[("v6.test", "mx.v6.test", 10)],
                       hosts=[("mx.v6.test", "::1")],
                       extra=["--local=/v6.test/"])
        relay = self.routed_relay(dns, port, inet_protocols="all")
        _, data = self.outbound_message(to="user@v6.test")
        queue_id = self.submit(relay, SENDER, ["user@v6.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r": %s: to=<user@v6\.test>, relay=mx\.v6\.test"
                       r"\[::1\]:%d, .*status=sent" % (queue_id, port))
        (m,) = sink.messages()
        self.assertEqual(m.peer[0], "::1")

    def test_ipv4_only_skips_ipv6_addresses(self):
        port = free_port_on(("127.0.0.1", "::1"))
        v4 = self.sink(port=port, hosts=("127.0.0.1",))
        v6 = self.sink(port=port, hosts=("::1",))
        dns = self.dns(mx=[("dual.test", "mx6.dual.test", 10),
                           ("dual.test", "mx4.dual.test", 20)],
                       hosts=[("mx6.dual.test", "::1"),
                              ("mx4.dual.test", "127.0.0.1")],
                       extra=["--local=/dual.test/"])
        relay = self.routed_relay(dns, port, inet_protocols="ipv4")
        _, data = self.outbound_message(to="user@dual.test")
        queue_id = self.submit(relay, SENDER, ["user@dual.test"], data)
        self.wait_removed(relay, queue_id)
        self.assertEqual(len(v4.messages()), 1)
        self.assertEqual(v6.connections(), [])

    def test_null_mx_bounces_with_5_1_10(self):
        dns = self.dns(null_mx=["nullmx.test"])
        relay = self.routed_relay(dns, free_port_on(("127.0.0.1",)))
        message_id, data = self.outbound_message(to="user@nullmx.test")
        queue_id = self.submit(relay, SENDER, ["user@nullmx.test"], data)
        relay.wait_log(r": %s: to=<user@nullmx\.test>, relay=none, .*"
                       r"dsn=5\.1\.10, status=bounced \(.*nullMX" % queue_id)
        self.wait_removed(relay, queue_id)
        dsn, per_message, (rcpt,) = self.dsn_of(relay, queue_id)
        self.assertEqual(rcpt["Final-Recipient"], "rfc822; user@nullmx.test")
        self.assertEqual(rcpt["Action"], "failed")
        self.assertEqual(rcpt["Status"], "5.1.10")
        self.assertIn(message_id, dsn.as_string())

    def test_nxdomain_bounces(self):
        # --local: dnsmasq answers NXDOMAIN for unknown names below nx.test.
        dns = self.dns(extra=["--local=/nx.test/"])
        relay = self.routed_relay(dns, free_port_on(("127.0.0.1",)))
        _, data = self.outbound_message(to="user@nowhere.nx.test")
        queue_id = self.submit(relay, SENDER, ["user@nowhere.nx.test"], data)
        relay.wait_log(r": %s: to=<user@nowhere\.nx\.test>, relay=none, .*"
                       r"dsn=5\.\d+\.\d+, status=bounced \(Host or domain "
                       r"name not found" % queue_id)
        _, _, (rcpt,) = self.dsn_of(relay, queue_id)
        self.assertEqual(rcpt["Action"], "failed")
        self.assertRegex(rcpt["Status"], r"^5\.")

    def test_dns_failure_defers(self):
        # dnsmasq refuses names it was not given: a temporary failure.
        dns = self.dns()
        relay = self.routed_relay(dns, free_port_on(("127.0.0.1",)))
        _, data = self.outbound_message(to="user@refused.test")
        queue_id = self.submit(relay, SENDER, ["user@refused.test"], data)
        relay.wait_log(r": %s: to=<user@refused\.test>, relay=none, .*"
                       r"dsn=4\.\d+\.\d+, status=deferred" % queue_id,
                       count=2, timeout=15)
        self.wait_in(relay, queue_id, "deferred", timeout=5)
        self.assertEqual(to_lines(relay, queue_id, "bounced"), [])
        self.assertEqual(self.sender_sink.messages(), [])

    def test_mx_pointing_at_myself_defers(self):
        port = free_port_on(("127.0.0.1",))
        dns = self.dns(mx=[("loop.test", "relay.test", 10)],
                       hosts=[("relay.test", "127.0.0.1")])
        relay = self.routed_relay(dns, port)
        _, data = self.outbound_message(to="user@loop.test")
        queue_id = self.submit(relay, SENDER, ["user@loop.test"], data)
        relay.wait_log(r": %s: to=<user@loop\.test>, .*status=deferred "
                       r"\(.*loops back to myself" % queue_id, timeout=10)
        relay.wait_log(r"warning: .*relay\.test")
        self.assertEqual(to_lines(relay, queue_id, "sent"), [])

    def test_mx_at_my_own_address_and_port_defers(self):
        # The MX host has another name, but its address and port are
        # where this relay listens: delivering would loop back to us.
        dns = self.dns(mx=[("loop2.test", "alias.test", 10)],
                       hosts=[("alias.test", "127.0.0.1")])
        relay = self.routed_relay(dns, free_port_on(("127.0.0.1",)),
                                  start=False)
        relay.main["smtp_tcp_port"] = str(relay.port())
        relay.write_config()
        relay.start()
        _, data = self.outbound_message(to="user@loop2.test")
        queue_id = self.submit(relay, SENDER, ["user@loop2.test"], data)
        relay.wait_log(r": %s: to=<user@loop2\.test>, .*status=deferred "
                       r"\(.*loops back to myself" % queue_id, timeout=10)
        self.assertEqual(to_lines(relay, queue_id, "sent"), [])
        # The relay never connected to itself: the only session its
        # smtpd saw is the test's own submission.
        self.assertEqual(len(re.findall(r"smtpd\[\d+\]: connect from ",
                                        relay.maillog())), 1)


class NextHopTest(DnsTestCase):

    def test_transport_nexthop_without_brackets_uses_mx(self):
        sink_port = free_port_on(("127.0.0.1",))
        sink = self.sink(port=sink_port)
        dns = self.dns(mx=[("hub.test", "in.hub.test", 5)],
                       hosts=[("in.hub.test", "127.0.0.1")])
        relay = self.routed_relay(
            dns, free_port_on(("127.0.0.1",)),
            routes={"routed.test": "smtp:hub.test:%d" % sink_port})
        _, data = self.outbound_message(to="user@routed.test")
        queue_id = self.submit(relay, SENDER, ["user@routed.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r": %s: to=<user@routed\.test>, relay=in\.hub\.test"
                       r"\[127\.0\.0\.1\]:%d, .*status=sent" %
                       (queue_id, sink_port))
        self.assertEqual(len(sink.messages()), 1)

    def test_relayhost_in_brackets_skips_mx(self):
        port = free_port_on(("127.0.0.1", "127.0.0.2"))
        sink = self.sink(port=port, hosts=("127.0.0.2",))
        # The MX would lead to 127.0.0.1, where nothing listens.
        dns = self.dns(mx=[("smarthost.test", "mx.smarthost.test", 10)],
                       hosts=[("smarthost.test", "127.0.0.2"),
                              ("mx.smarthost.test", "127.0.0.1")])
        relay = self.routed_relay(dns, port,
                                  relayhost="[smarthost.test]:%d" % port)
        _, data = self.outbound_message(to="anyone@anywhere.test")
        queue_id = self.submit(relay, SENDER, ["anyone@anywhere.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"relay=smarthost\.test\[127\.0\.0\.2\]:%d, .*"
                       r"status=sent" % port)
        self.assertEqual(len(sink.messages()), 1)

    def test_transport_maps_texthash(self):
        sink = self.sink()
        path = os.path.join(self.tmpdir, "transport-%s" % self._testMethodName)
        with open(path, "w") as f:
            f.write("# comment\ntexthash.test  smtp:%s\n"
                    ".sub.texthash.test smtp:%s\n" % (sink.nexthop,
                                                      sink.nexthop))
        os.chmod(path, 0o644)
        relay = self.outbound_relay(main={
            "transport_maps": "texthash:" + path,
            "relayhost": "[127.0.0.1]:1"})
        rcpts = ["a@texthash.test", "b@deep.sub.texthash.test"]
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, rcpts, data)
        self.wait_removed(relay, queue_id)
        (m,) = sink.messages()
        self.assertEqual(sorted(m.rcpt_tos), rcpts)

    def test_transport_maps_hash(self):
        sink = self.sink()
        path = os.path.join(self.tmpdir, "transport-%s" % self._testMethodName)
        with open(path, "w") as f:
            f.write("hash.test smtp:%s\n" % sink.nexthop)
        status, out = self.tlsrelay("map", "hash:" + path)
        self.assertEqual(status, 0, out)
        self.assertTrue(os.path.exists(path + ".db"), out)
        os.chmod(path + ".db", 0o644)
        relay = self.outbound_relay(main={
            "transport_maps": "hash:" + path,
            "relayhost": "[127.0.0.1]:1"})
        _, data = self.outbound_message()
        queue_id = self.submit(relay, SENDER, ["user@hash.test"], data)
        self.wait_removed(relay, queue_id)
        self.assertEqual(len(sink.messages()), 1)

    def test_smtp_fallback_relay(self):
        sink = self.sink()
        dead = free_port_on(("127.0.0.1",))
        dns = self.dns(mx=[("unreachable.test", "mx.unreachable.test", 10)],
                       hosts=[("mx.unreachable.test", "127.0.0.1")])
        relay = self.routed_relay(dns, dead,
                                  smtp_fallback_relay=sink.nexthop)
        _, data = self.outbound_message(to="user@unreachable.test")
        queue_id = self.submit(relay, SENDER, ["user@unreachable.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"connect to mx\.unreachable\.test\[127\.0\.0\.1\]:%d: "
                       r"Connection refused" % dead)
        (m,) = sink.messages()
        self.assertEqual(m.rcpt_tos, ["user@unreachable.test"])

    def test_dns_disabled_resolves_from_hosts_file(self):
        sink = self.sink()
        dns = self.dns(mx=[("localhost", "mx.elsewhere.test", 10)])
        relay = self.routed_relay(
            dns, free_port_on(("127.0.0.1",)),
            routes={"hosts.test": "smtp:localhost:%d" % sink.port},
            smtp_dns_support_level="disabled")
        _, data = self.outbound_message(to="user@hosts.test")
        queue_id = self.submit(relay, SENDER, ["user@hosts.test"], data)
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"relay=localhost\[127\.0\.0\.1\]:%d, .*status=sent" %
                       sink.port)
        self.assertEqual(len(sink.messages()), 1)
        self.assertNotIn("query[", dns.log())


class NoLeakTest(DnsTestCase):
    """Once, with strace on every process the test starts: deliveries by
    MX, to a real Postfix and a bounce, and not one packet for port 53
    except to our dnsmasq."""

    def test_no_dns_query_leaves_for_the_machine_resolver(self):
        trace = SyscallTrace(self, os.path.join(
            self.tmpdir, "strace-%s" % self._testMethodName))
        port = free_port_on(("127.0.0.1",))
        sink = self.sink(port=port, replies={"rcpt": {
            "gone@mx.test": ["550 5.1.1 no such user"]}})
        peer = self.postfix_peer(domains=("postfix.test",))
        dns = self.dns(mx=[("mx.test", "mx1.mx.test", 10)],
                       hosts=[("mx1.mx.test", "127.0.0.1")])
        relay = self.routed_relay(dns, port,
                                  routes={"postfix.test": "smtp:" +
                                          peer.nexthop},
                                  smtp_tls_security_level="may")
        ids = []
        for rcpt in ("user@mx.test", "user@postfix.test", "gone@mx.test"):
            _, data = self.outbound_message(to=rcpt)
            ids.append(self.submit(relay, SENDER, [rcpt], data))
        for queue_id in ids:
            self.wait_removed(relay, queue_id)
        self.dsn_of(relay, ids[2])
        self.assertEqual(len(sink.messages()), 1)
        time.sleep(0.5)
        relay.stop()
        peer.stop()
        dns.stop()
        text = trace.stop()
        dests = SyscallTrace.destinations(text)
        self.assertIn(("127.0.0.1", dns.port), dests,
                      "the trace shows no query to dnsmasq: it is broken")
        leaks = [line for line in text.splitlines()
                 if re.search(r"sin6?_port=htons\(53\)", line)]
        self.assertEqual(leaks, [])


if __name__ == "__main__":
    main()
