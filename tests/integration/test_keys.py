"""Private keys are read as root, before any process drops privileges
(issue 9): a client key readable by root only (mode 0600, as Let's
Encrypt ships privkey.pem) is presented to a server that asks for a
client certificate (the aiosmtpd sink with --tls-client-ca records what
it got); an unreadable key stops start-up, and a reload, with a message
naming the file and the parameter; a master.cf -o override naming a
root-only server key is served by workers that run as mail_owner.

The relays keep the retry timers an administrator has (no shortened
backoff): every message here goes out on its first attempt."""

import hashlib
import os
import pwd
import re
import signal
import ssl
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (MAIL_OWNER, NO_DNS, QMGR_LINE,  # noqa: E402
                       OutboundTestCase, SClient, inline_table, main,
                       proc_status, to_lines, wait_dropped, wait_for)

SENDER = "sender@senders.test"
RCPT = "rcpt@example.test"


def der_sha256(pem_path):
    with open(pem_path) as f:
        pem = f.read()
    first = pem[:pem.index("-----END CERTIFICATE-----") + 25]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


class ClientKeyTest(OutboundTestCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.fail("test_keys needs root: the daemon drops privileges "
                      "only when started as root")

    def assert_root_only(self, path):
        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600),
                         "%s must be root's, mode 0600" % path)

    def relay_to(self, sink, start=True, **main):
        """A relay with the queue manager line and administrator's timers,
        sending everything for example.test to sink at level encrypt."""
        settings = {
            "tlsrelay_dns_servers": NO_DNS,
            "inet_protocols": "ipv4",
            "transport_maps": inline_table(
                {"example.test": "smtp:" + sink.nexthop}),
            "smtp_tls_security_level": "encrypt",
        }
        settings.update(main)
        return self.relay(main=settings, services={"smtp": {}},
                          extra_master=QMGR_LINE, start=start)

    def deliver(self, relay, sink, count):
        """Submits one message; returns what the sink recorded of it."""
        queue_id = self.submit(relay, SENDER, [RCPT],
                               self.outbound_message()[1])
        got = sink.wait_messages(count, diagnostics=relay.diagnostics)[-1]
        self.wait_removed(relay, queue_id)
        return queue_id, got

    def assert_presented_client_cert(self, got, relay, queue_id,
                                     cert=None, cn="client.test"):
        self.assertIsNotNone(got.client_cert,
                             "the sink got no client certificate")
        self.assertEqual(got.client_cert["subject_cn"], cn)
        self.assertEqual(got.client_cert["sha256"],
                         der_sha256(cert or self.certs.client))
        self.assertIsNotNone(got.tls)
        # Delivered by a queue manager that runs as mail_owner, which
        # could not have opened the key itself.
        line = to_lines(relay, queue_id, "sent")[0]
        pid = int(re.search(r"/smtp\[(\d+)\]:", line).group(1))
        owner = pwd.getpwnam(MAIL_OWNER)
        self.assertEqual(proc_status(pid)["Uid"].split(),
                         [str(owner.pw_uid)] * 4)

    def test_root_only_cert_and_key(self):
        self.assert_root_only(self.certs.client_key)
        sink = self.sink(client_ca=self.certs.ca)
        relay = self.relay_to(sink,
                              smtp_tls_cert_file=self.certs.client,
                              smtp_tls_key_file=self.certs.client_key)
        queue_id, got = self.deliver(relay, sink, 1)
        self.assert_presented_client_cert(got, relay, queue_id)

    def test_root_only_chain_file(self):
        chain = os.path.join(self.tmpdir, "client_chain.pem")
        with open(chain, "w") as f:
            f.write(self.certs.pem(self.certs.client_key) + "\n" +
                    self.certs.pem(self.certs.client) + "\n")
        os.chmod(chain, 0o600)
        self.assert_root_only(chain)
        sink = self.sink(client_ca=self.certs.ca)
        relay = self.relay_to(sink, smtp_tls_chain_files=chain)
        queue_id, got = self.deliver(relay, sink, 1)
        self.assert_presented_client_cert(got, relay, queue_id)

    def test_no_client_cert_configured_none_sent(self):
        # The sink's record is not always "a certificate": without one
        # configured, none is sent.
        sink = self.sink(client_ca=self.certs.ca)
        relay = self.relay_to(sink)
        _, got = self.deliver(relay, sink, 1)
        self.assertIsNotNone(got.tls)
        self.assertIsNone(got.client_cert)

    def startup_error(self, relay):
        status, said = relay.start_expect_failure()
        self.assertNotEqual(status, 0, said)
        return said

    def test_missing_key_stops_startup(self):
        sink = self.sink(client_ca=self.certs.ca)
        missing = os.path.join(self.tmpdir, "no-such-dir", "privkey.pem")
        relay = self.relay_to(sink, start=False,
                              smtp_tls_cert_file=self.certs.client,
                              smtp_tls_key_file=missing)
        line = list(relay.main).index("smtp_tls_key_file") + 2
        said = self.startup_error(relay)
        self.assertIn("main.cf:%d: smtp_tls_key_file %s: cannot open: No "
                      "such file or directory" % (line, missing), said)

    def test_key_that_is_a_directory_stops_startup(self):
        # Root reads any file, whatever its mode: a directory is what
        # root cannot read as a key.
        sink = self.sink(client_ca=self.certs.ca)
        relay = self.relay_to(sink, start=False,
                              smtp_tls_cert_file=self.certs.client,
                              smtp_tls_key_file=self.tmpdir)
        line = list(relay.main).index("smtp_tls_key_file") + 2
        said = self.startup_error(relay)
        self.assertRegex(said, r"main\.cf:%d: smtp_tls_key_file %s: " % (
            line, re.escape(self.tmpdir)))

    def test_missing_chain_file_stops_startup(self):
        sink = self.sink(client_ca=self.certs.ca)
        missing = os.path.join(self.tmpdir, "missing-chain.pem")
        relay = self.relay_to(sink, start=False,
                              smtp_tls_chain_files=missing)
        line = list(relay.main).index("smtp_tls_chain_files") + 2
        said = self.startup_error(relay)
        self.assertIn("main.cf:%d: smtp_tls_chain_files %s: cannot open"
                      % (line, missing), said)

    def test_reload_with_missing_key_keeps_running(self):
        sink = self.sink(client_ca=self.certs.ca)
        relay = self.relay_to(sink, smtp_tls_cert_file=self.certs.client,
                              smtp_tls_key_file=self.certs.client_key)
        self.deliver(relay, sink, 1)
        missing = os.path.join(self.tmpdir, "gone", "privkey.pem")
        relay.main["smtp_tls_key_file"] = missing
        relay.write_config()
        line = list(relay.main).index("smtp_tls_key_file") + 2
        relay.signal(signal.SIGHUP)
        relay.wait_log(r"error: reload failed, keeping the running "
                       r"configuration: \S*/main\.cf:%d: "
                       r"smtp_tls_key_file %s: cannot open: No such file"
                       % (line, re.escape(missing)))
        # The running generation, key and all, still delivers.
        queue_id, got = self.deliver(relay, sink, 2)
        self.assert_presented_client_cert(got, relay, queue_id)

    def test_reload_reads_new_client_key(self):
        """SIGHUP: the supervisor reads the new key as root, and the new
        queue manager presents it (its TLS contexts are built anew)."""
        sink = self.sink(client_ca=self.certs.ca)
        relay = self.relay_to(sink, smtp_tls_cert_file=self.certs.client,
                              smtp_tls_key_file=self.certs.client_key)
        self.deliver(relay, sink, 1)
        key, crt = self.certs.new_client_cert("renewed", "renewed.test")
        self.assert_root_only(key)
        relay.main["smtp_tls_cert_file"] = crt
        relay.main["smtp_tls_key_file"] = key
        relay.write_config()
        old = wait_for("the queue manager", relay.qmgr_pid, 10,
                       relay.diagnostics)
        relay.signal(signal.SIGHUP)
        # The old queue manager takes nothing new once told to go; wait
        # for its successor all the same.
        wait_for("a new queue manager",
                 lambda: relay.qmgr_pid() not in (None, old), 30,
                 relay.diagnostics)
        queue_id, got = self.deliver(relay, sink, 2)
        self.assert_presented_client_cert(got, relay, queue_id, crt,
                                          "renewed.test")
        self.assertNotIn("reload failed", relay.maillog())


class ServerKeyTest(OutboundTestCase):

    def test_override_key_read_as_root(self):
        """A -o smtpd_tls_key_file in master.cf naming a root-only key:
        the supervisor reads it before the workers drop privileges."""
        key, crt = self.certs.new_server_cert("override")
        st = os.stat(key)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
        relay = self.relay(services={
            "smtp": {},
            "other": {"smtpd_tls_cert_file": crt,
                      "smtpd_tls_key_file": key},
        })
        owner = pwd.getpwnam(MAIL_OWNER)
        for pid in relay.wait_workers(2):
            wait_dropped(pid, owner.pw_uid)
        served = SClient(relay.port("other"))
        self.assertTrue(served.established, served.output)
        self.assertEqual(served.cert.strip(), self.certs.pem(crt))
        main_cert = SClient(relay.port("smtp"))
        self.assertEqual(main_cert.cert.strip(),
                         self.certs.pem(self.certs.rsa))


if __name__ == "__main__":
    main()
