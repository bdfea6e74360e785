"""Tables the daemon holds follow their files while it runs: transport_maps
rebuilt with `tlsrelay map` (or edited, for texthash:) routes the next
message the new way without a restart, and a table that no longer opens
keeps the old routes with one warning naming it. Two aiosmtpd sinks
(peers/sink.py) are the two routes; the relay runs with the default queue
timers, so nothing here waits on a queue scan: a new message is routed
the moment it is queued. And `tlsrelay map -s` and `-q -` as postmap's:
every entry of a table, and the keys on the standard input."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (NO_DNS, QMGR_LINE, TLSRELAY,  # noqa: E402
                       OutboundTestCase, RelayTestCase, main, run_tool)

SENDER = "sender@senders.test"
RCPT = "user@moved.test"


class TransportMapsTest(OutboundTestCase):

    def setUp(self):
        super().setUp()
        self.old = self.sink()
        self.new = self.sink()
        self.path = os.path.join(self.tmpdir,
                                 "transport-%s" % self._testMethodName)

    def write_routes(self, sink):
        """moved.test (and the senders' domain) to sink, replaced as an
        editor or `mv` would."""
        with open(self.path + ".tmp", "w") as f:
            f.write("moved.test   smtp:%s\n"
                    "senders.test smtp:%s\n" % (sink.nexthop, sink.nexthop))
        os.chmod(self.path + ".tmp", 0o644)
        os.rename(self.path + ".tmp", self.path)

    def build(self):
        status, out = self.tlsrelay("map", "hash:" + self.path)
        self.assertEqual(status, 0, out)

    def start_relay(self, spec):
        # relay(), not outbound_relay(): no shortened queue timers.
        return self.relay(main={"tlsrelay_dns_servers": NO_DNS,
                                "inet_protocols": "ipv4",
                                "relayhost": "[127.0.0.1]:1",
                                "transport_maps": spec},
                          services={"smtp": {}}, extra_master=QMGR_LINE)

    def deliver(self, relay, sink):
        """One message to RCPT; returns when the log says it reached sink."""
        _, data = self.outbound_message(to=RCPT)
        queue_id = self.submit(relay, SENDER, [RCPT], data)
        relay.wait_log(r": %s: to=<%s>, relay=127\.0\.0\.1\[127\.0\.0\.1\]"
                       r":%d, .*status=sent" % (queue_id, re.escape(RCPT),
                                                sink.port), timeout=20)
        self.wait_removed(relay, queue_id)
        return queue_id

    def test_rebuilt_hash_routes_next_message(self):
        self.write_routes(self.old)
        self.build()
        relay = self.start_relay("hash:" + self.path)
        self.deliver(relay, self.old)
        self.write_routes(self.new)
        self.build()
        self.deliver(relay, self.new)
        relay.wait_log(r"qmgr\[\d+\]: transport_maps: hash:%s changed: "
                       r"opened again$" % re.escape(self.path))
        self.assertEqual(len(self.old.messages()), 1)
        self.assertEqual(len(self.new.messages()), 1)
        self.assertEqual(self.new.messages()[0].rcpt_tos, [RCPT])

    def test_edited_texthash_routes_next_message(self):
        self.write_routes(self.old)
        relay = self.start_relay("texthash:" + self.path)
        self.deliver(relay, self.old)
        self.write_routes(self.new)
        self.deliver(relay, self.new)
        relay.wait_log(r"transport_maps: texthash:%s changed: opened again"
                       % re.escape(self.path))
        self.assertEqual(len(self.old.messages()), 1)
        self.assertEqual(len(self.new.messages()), 1)

    def test_broken_table_keeps_old_routes(self):
        self.write_routes(self.old)
        relay = self.start_relay("texthash:" + self.path)
        self.deliver(relay, self.old)
        with open(self.path + ".tmp", "w") as f:
            f.write("moved.test   smtp:%s\nbroken\n" % self.new.nexthop)
        os.chmod(self.path + ".tmp", 0o644)
        os.rename(self.path + ".tmp", self.path)
        # Two messages, one warning: the list is not tried again until
        # the file changes again.
        self.deliver(relay, self.old)
        self.deliver(relay, self.old)
        warning = (r"warning: transport_maps: texthash:%s changed but "
                   r"cannot be opened again \(%s:2: expected format: key "
                   r"whitespace value\); keeping the old contents" %
                   (re.escape(self.path), re.escape(self.path)))
        self.assertEqual(len(relay.wait_log(warning)), 1)
        self.assertEqual(len(self.old.messages()), 3)
        self.assertEqual(self.new.messages(), [])
        # Mended: the next message takes the new route.
        self.write_routes(self.new)
        self.deliver(relay, self.new)


class MapCommandTest(RelayTestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.tmpdir, "map-%s" % self._testMethodName)
        with open(self.path, "w") as f:
            f.write("# a comment\nalice@Example.TEST  one\n"
                    "bob@example.test    two words\n")

    def map(self, *args, input=None):
        return run_tool([TLSRELAY, "map"] + list(args), input=input)

    def entries(self, out):
        return sorted(line.split("\t") for line in out.splitlines())

    def test_list(self):
        want = [["alice@example.test", "one"], ["bob@example.test",
                                                "two words"]]
        for kind in ("hash", "btree"):
            status, out = self.map("%s:%s" % (kind, self.path))
            self.assertEqual(status, 0, out)
            status, out = self.map("-s", "%s:%s" % (kind, self.path))
            self.assertEqual(status, 0, out)
            self.assertEqual(self.entries(out), want, kind)
        status, out = self.map("-s", "texthash:" + self.path)
        self.assertEqual((status, self.entries(out)), (0, want))
        status, out = self.map("-s", "inline:{ k1=v1, k2=v2 }")
        self.assertEqual((status, self.entries(out)),
                         (0, [["k1", "v1"], ["k2", "v2"]]))
        cidr = self.path + ".cidr"
        with open(cidr, "w") as f:
            f.write("192.0.2.0/24 OK\n")
        status, out = self.map("-s", "cidr:" + cidr)
        self.assertEqual(status, 1, out)
        self.assertIn("table type cidr does not support listing", out)
        status, out = self.map("-s", "-q", "x", "texthash:" + self.path)
        self.assertEqual(status, 2, out)

    def test_keys_on_stdin(self):
        other = self.path + ".other"
        with open(other, "w") as f:
            f.write("carol@example.test three\nbob@example.test shadowed\n")
        status, out = self.map("-q", "-", "texthash:" + self.path,
                               "texthash:" + other,
                               input=b"BOB@example.test\nnobody\n"
                                     b"carol@example.test\n")
        self.assertEqual(status, 0, out)
        # The first table that has a key answers, as postmap -q -.
        self.assertEqual(out.splitlines(), ["BOB@example.test\ttwo words",
                                            "carol@example.test\tthree"])
        status, out = self.map("-q", "-", "texthash:" + self.path,
                               input=b"nobody\n")
        self.assertEqual((status, out), (1, ""))


if __name__ == "__main__":
    main()
