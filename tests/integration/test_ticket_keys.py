"""Session ticket keys shared across nodes (issue 16):
tlsrelay_smtpd_tls_ticket_key_file.

Two tlsrelayd instances stand for two nodes of a cluster: each has its own
queue, data_directory (so no shared Berkeley DB store) and port. With the
same key file, a TLS 1.3 ticket openssl s_client got from node A resumes
on node B (`Reused` in s_client, the resumption line in B's log); with
different files it does not. Rollover: the file rewritten as K2+K1 is
picked up by the file watch (no signal) and the K1 ticket still resumes;
a broken file at that reload keeps the old keys, with the error in the
log; at start it is fatal."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import main, wait_for  # noqa: E402
from test_resumption import ResumptionCase, SClientRun  # noqa: E402

PARAM = "tlsrelay_smtpd_tls_ticket_key_file"
RESUMED = r"Reusing old session \(RFC 5077 session ticket\)"
# cert_watch.c looks every 5 s; a reload takes a moment more.
WATCH_TIMEOUT = 20


class TicketKeyFileTest(ResumptionCase):

    def key_bytes(self):
        return os.urandom(80)

    def write_keys(self, name, *keys, mode=0o600):
        """Writes the keys to name in the test directory as configuration
        management would: a new file renamed over the old one."""
        path = os.path.join(self.tmpdir, "%s-%s" % (self._testMethodName,
                                                    name))
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            for key in keys:
                f.write(key)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
        return path

    def node(self, key_file):
        relay = self.server_relay(**{PARAM: key_file})
        relay.wait_log(r"using \d+ session ticket keys from " + key_file)
        return relay

    def wait_new_workers(self, relay, old):
        """After a reload: the workers of the old generation are gone, so
        every connection meets the new keys."""
        wait_for("the old workers %s to exit" % sorted(old),
                 lambda: not old & set(relay.workers()), WATCH_TIMEOUT,
                 relay.diagnostics)

    def assert_resumes_at(self, relay, path):
        """s_client with the saved session: Reused, and this relay logged
        the resumption by ticket for it."""
        before = len(relay.wait_log(r"TLS connection established from",
                                    count=0))
        run = self.resume(relay, "-tls1_3", path)
        self.assertIn("Reused, TLSv1.3", run.output)
        relay.wait_log(r"TLS connection established from",
                       count=before + 1)
        pid, reused = self.established_pids(relay)[-1]
        self.assertTrue(reused, "no resumption line\n%s" %
                        relay.diagnostics())
        relay.wait_log(RESUMED)

    def assert_full_handshake_at(self, relay, path):
        before = len(relay.wait_log(r"TLS connection established from",
                                    count=0))
        run = SClientRun(relay.port(), "-tls1_3", sess_in=path)
        self.assertTrue(run.established, run.output)
        # The positive marker: this relay logged the handshake...
        relay.wait_log(r"TLS connection established from",
                       count=before + 1)
        # ...and it was a full one.
        self.assertFalse(run.reused, run.output)
        self.assertIn("New, TLSv1.3", run.output)
        self.assertFalse(self.established_pids(relay)[-1][1])

    def test_same_file_resumes_on_other_node(self):
        key_file = self.write_keys("keys", self.key_bytes())
        a = self.node(key_file)
        b = self.node(key_file)
        self.assertNotEqual(a.main["data_directory"],
                            b.main["data_directory"])
        path = self.full_handshake(a, "-tls1_3")
        a.wait_log(r"TLS connection established from")
        self.assert_resumes_at(b, path)
        a.wait_log(r"using 1 session ticket keys from " + key_file)

    def test_different_files_do_not_resume(self):
        a = self.node(self.write_keys("a", self.key_bytes()))
        b = self.node(self.write_keys("b", self.key_bytes()))
        path = self.full_handshake(a, "-tls1_3")
        self.assert_full_handshake_at(b, path)
        # The same ticket still resumes where it was issued.
        self.assert_resumes_at(a, path)

    def test_rollover_by_file_change(self):
        k1, k2 = self.key_bytes(), self.key_bytes()
        key_file = self.write_keys("keys", k1)
        a = self.node(key_file)
        b = self.node(key_file)
        path = self.full_handshake(a, "-tls1_3")
        # Configuration management puts K2 first and keeps K1: no signal.
        old = set(b.workers())
        self.write_keys("keys", k2, k1)
        b.wait_log(r"TLS files changed on disk: .*%s: reloading" % key_file,
                   timeout=WATCH_TIMEOUT)
        b.wait_log(r"using 2 session ticket keys from " + key_file,
                   timeout=WATCH_TIMEOUT)
        self.wait_new_workers(b, old)
        self.assert_resumes_at(b, path)
        # K1 dropped from the file: the K1 ticket is worthless.
        old = set(b.workers())
        self.write_keys("keys", k2)
        b.wait_log(r"using 1 session ticket keys from " + key_file,
                   timeout=WATCH_TIMEOUT, count=2)
        self.wait_new_workers(b, old)
        self.assert_full_handshake_at(b, path)

    def test_broken_file_at_reload_keeps_old_keys(self):
        key_file = self.write_keys("keys", self.key_bytes())
        a = self.node(key_file)
        path = self.full_handshake(a, "-tls1_3")
        os.truncate(key_file, 79)       # in place, not renamed
        line = a.wait_log(r"reload failed, keeping the running "
                          r"configuration: .*%s %s: size 79 bytes is not a "
                          r"positive multiple of 80" % (PARAM, key_file),
                          timeout=WATCH_TIMEOUT)
        self.assertTrue(line)
        self.assert_resumes_at(a, path)
        self.assertEqual(len(a.wait_log(r"using \d+ session ticket keys",
                                        count=0)), 1)

    def test_bad_file_at_start_is_fatal(self):
        cases = (
            (self.write_keys("short", b"k" * 79), "size 79 bytes is not a "
             "positive multiple of 80"),
            (self.write_keys("world", self.key_bytes(), mode=0o644),
             "the file is world-readable"),
            (os.path.join(self.tmpdir, "missing-key-file"),
             "cannot open: No such file or directory"),
        )
        for key_file, why in cases:
            relay = self.relay(main={PARAM: key_file},
                               services={"smtp": {}}, start=False)
            status, output = relay.start_expect_failure()
            self.assertNotEqual(status, 0)
            self.assertIn("%s %s: %s" % (PARAM, key_file, why), output)


if __name__ == "__main__":
    main()
