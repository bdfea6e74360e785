"""TLS session resumption through the shared Berkeley DB cache (issue 5).

Server side: openssl s_client saves a session (-sess_out) and comes back
with it (-sess_in), TLS 1.2 by session ID and by ticket, TLS 1.3 by
ticket; the resumed handshake must land on another worker than the full
one, and still work after a SIGHUP and after a restart. Client side: the
relay's second delivery to an aiosmtpd STARTTLS sink resumes the first
one's session, and a session made at level may is not offered at level
verify. Damaged and deleted cache files are recreated with a warning;
the purge keeps the file from growing; `tlsrelay cache` shows it all."""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (Certs, OutboundTestCase, main, run_tool,  # noqa: E402
                       wait_for)

SCACHE = "btree:${data_directory}/smtpd_scache"
CCACHE = "btree:${data_directory}/smtp_scache"

# "tlsrelay/smtpd[PID]: text"
LOG_LINE = re.compile(r"tlsrelay/smtpd\[(\d+)\]: (.*)$")


class SClientRun:
    """One openssl s_client connection over STARTTLS, optionally saving
    and reusing a session file."""

    def __init__(self, port, version, sess_out=None, sess_in=None,
                 tickets=True):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
               "-servername", Certs.SERVER_NAME, "-crlf", "-starttls",
               "smtp", "-ign_eof", version]
        if not tickets:
            cmd.append("-no_ticket")
        if sess_out:
            cmd += ["-sess_out", sess_out]
        if sess_in:
            cmd += ["-sess_in", sess_in]
        self.status, self.output = run_tool(cmd, input=b"EHLO c.test\nQUIT\n",
                                            timeout=30)
        m = re.search(r"^(New|Reused), (TLSv1\.\d)", self.output, re.M)
        self.reused = bool(m) and m.group(1) == "Reused"
        self.established = bool(m)


class ResumptionCase(OutboundTestCase):

    def server_relay(self, **main):
        settings = {
            "smtpd_tls_session_cache_database": SCACHE,
            "smtpd_tls_loglevel": "2",
            "tlsrelay_smtpd_workers": "2",
        }
        settings.update(main)
        relay = self.relay(main=settings, services={"smtp": {}})
        relay.wait_workers(2)
        return relay

    def smtpd_lines(self, relay):
        """[(pid, text)] of the smtpd processes, in log order."""
        out = []
        for line in relay.maillog().splitlines():
            m = LOG_LINE.search(line)
            if m:
                out.append((int(m.group(1)), m.group(2)))
        return out

    def established_pids(self, relay):
        """[(pid, reused)] for each "TLS connection established" line,
        reused when that process logged "Reusing old session" just
        before it."""
        out, reusing = [], set()
        for pid, text in self.smtpd_lines(relay):
            if "Reusing old session" in text:
                reusing.add(pid)
            elif "TLS connection established from" in text:
                out.append((pid, pid in reusing))
                reusing.discard(pid)
        return out

    def sess_file(self, name):
        return os.path.join(self.tmpdir, "%s-%s.pem" % (
            self._testMethodName, name))

    def full_handshake(self, relay, version, tickets=True, name="sess"):
        path = self.sess_file(name)
        run = SClientRun(relay.port(), version, sess_out=path,
                         tickets=tickets)
        self.assertTrue(run.established, run.output)
        self.assertFalse(run.reused, run.output)
        self.assertTrue(os.path.getsize(path) > 0)
        return path

    def resume(self, relay, version, path, tickets=True):
        run = SClientRun(relay.port(), version, sess_in=path,
                         tickets=tickets)
        self.assertTrue(run.established, run.output)
        self.assertTrue(run.reused, "not resumed:\n%s\n%s" % (
            run.output[-1500:], relay.diagnostics()))
        return run

    def resume_on_other_worker(self, relay, version, tickets=True):
        """A full handshake, then resumptions until one lands on another
        worker than the full one (several connections spread over the
        workers); fails if none does."""
        before = len(self.established_pids(relay))
        path = self.full_handshake(relay, version, tickets)
        relay.wait_log(r"TLS connection established from", count=before + 1)
        full_pid = self.established_pids(relay)[before][0]
        for attempt in range(30):
            run = self.resume(relay, version, path, tickets)
            self.assertIn("Reused, " + version.replace("-tls1_", "TLSv1."),
                          run.output)
            relay.wait_log(r"TLS connection established from",
                           count=before + 2 + attempt)
            pid, reused = self.established_pids(relay)[-1]
            self.assertTrue(reused, "no 'Reusing old session' line\n%s" %
                            relay.maillog()[-3000:])
            if pid != full_pid:
                return pid
        self.fail("30 resumptions, all on worker %d\n%s" % (
            full_pid, relay.diagnostics()))


class ServerResumptionTest(ResumptionCase):
    """openssl s_client against tlsrelayd with two workers."""

    def test_tls12_session_id_other_worker(self):
        relay = self.server_relay()
        self.resume_on_other_worker(relay, "-tls1_2", tickets=False)
        # The session went through the database, not a ticket.
        lines = [t for _, t in self.smtpd_lines(relay)
                 if "Reusing old session" in t]
        self.assertTrue(lines)
        self.assertNotIn("RFC 5077", lines[-1])
        self.assertTrue(os.path.exists(os.path.join(
            relay.main["data_directory"], "smtpd_scache.db")))

    def test_tls12_ticket_other_worker(self):
        relay = self.server_relay()
        self.resume_on_other_worker(relay, "-tls1_2")
        lines = [t for _, t in self.smtpd_lines(relay)
                 if "Reusing old session" in t]
        self.assertRegex(lines[-1], r"^localhost\[127\.0\.0\.1\]: Reusing old "
                         r"session \(RFC 5077 session ticket\)$|"
                         r"^unknown\[127\.0\.0\.1\]: Reusing old session "
                         r"\(RFC 5077 session ticket\)$")

    def test_tls13_ticket_other_worker(self):
        relay = self.server_relay()
        self.resume_on_other_worker(relay, "-tls1_3")

    def test_after_sighup_and_restart(self):
        relay = self.server_relay()
        id12 = self.full_handshake(relay, "-tls1_2", tickets=False,
                                   name="id12")
        t13 = self.full_handshake(relay, "-tls1_3", name="t13")
        old = set(relay.workers())
        relay.signal(signal.SIGHUP)
        relay.wait_log(r"reload -- version")
        wait_for("new workers", lambda: len(set(relay.workers()) - old) >= 2,
                 10, relay.diagnostics)
        self.resume(relay, "-tls1_2", id12, tickets=False)
        self.resume(relay, "-tls1_3", t13)
        # A stop and a start within the timeout: keys and sessions were
        # on disk.
        relay.stop()
        relay.start()
        relay.wait_workers(2)
        self.resume(relay, "-tls1_2", id12, tickets=False)
        self.resume(relay, "-tls1_3", t13)

    def test_timeout_zero_no_resumption(self):
        relay = self.server_relay(smtpd_tls_session_cache_timeout="0")
        for version, tickets in (("-tls1_2", False), ("-tls1_3", True)):
            path = self.sess_file(version)
            run = SClientRun(relay.port(), version, sess_out=path,
                             tickets=tickets)
            self.assertTrue(run.established, run.output)
            self.assertNotIn("TLS session ticket:", run.output)
            if not os.path.exists(path):
                continue        # s_client got nothing it could resume
            run = SClientRun(relay.port(), version, sess_in=path,
                             tickets=tickets)
            self.assertTrue(run.established, run.output)
            self.assertFalse(run.reused, run.output)

    def test_empty_ticket_cipher_sends_no_ticket(self):
        relay = self.server_relay(tls_session_ticket_cipher="")
        run = SClientRun(relay.port(), "-tls1_3",
                         sess_out=self.sess_file("t"))
        self.assertTrue(run.established, run.output)
        self.assertNotIn("TLS session ticket:", run.output)
        # TLS 1.2 session IDs still resume through the database.
        path = self.full_handshake(relay, "-tls1_2", tickets=False,
                                   name="id")
        self.resume(relay, "-tls1_2", path, tickets=False)

    def test_garbage_cache_file_recreated(self):
        relay = self.server_relay()
        path = self.full_handshake(relay, "-tls1_2", tickets=False)
        relay.stop()
        db = os.path.join(relay.main["data_directory"], "smtpd_scache.db")
        with open(db, "wb") as f:
            f.write(b"this is not a Berkeley DB file\n" * 100)
        relay.start()
        relay.wait_workers(2)
        run = SClientRun(relay.port(), "-tls1_2", sess_in=path,
                         tickets=False)
        self.assertTrue(run.established, run.output)
        self.assertFalse(run.reused, run.output)   # the old cache is gone
        relay.wait_log(r"warning: .*smtpd_scache\.db: cannot open the TLS "
                       r"session cache .*removing it and creating a new one")
        # The new cache works.
        path = self.full_handshake(relay, "-tls1_2", tickets=False,
                                   name="after")
        self.resume(relay, "-tls1_2", path, tickets=False)

    def test_deleted_cache_file_recreated(self):
        relay = self.server_relay()
        self.full_handshake(relay, "-tls1_2", tickets=False)
        db = os.path.join(relay.main["data_directory"], "smtpd_scache.db")
        self.assertTrue(os.path.exists(db))
        os.unlink(db)
        time.sleep(1.1)     # the workers look at the file once a second
        # The worker that had the file open notices when a connection
        # comes its way; the other one just creates the file.
        warning = re.compile(r"warning: .*smtpd_scache\.db: the TLS session "
                             r"cache file was removed or replaced; opening "
                             r"it again")
        for attempt in range(30):
            self.full_handshake(relay, "-tls1_2", tickets=False,
                                name="again")
            if warning.search(relay.maillog()):
                break
        relay.wait_log(warning.pattern)
        self.assertTrue(os.path.exists(db), relay.diagnostics())
        path = self.full_handshake(relay, "-tls1_2", tickets=False,
                                   name="after")
        self.resume(relay, "-tls1_2", path, tickets=False)

    def test_purge_keeps_size_flat(self):
        relay = self.server_relay(smtpd_tls_session_cache_timeout="2s")
        db = os.path.join(relay.main["data_directory"], "smtpd_scache.db")
        sizes, counts = [], []
        for rnd in range(4):
            for i in range(40):
                run = SClientRun(relay.port(), "-tls1_2", tickets=False)
                self.assertTrue(run.established, run.output)
            # Every session of this round expires; a purge runs every
            # second.
            time.sleep(3.5)
            sizes.append(os.path.getsize(db))
            status, out = self.tlsrelay("cache", "-c", relay.dir)
            self.assertEqual(status, 0, out)
            m = re.search(r"smtpd_scache\.db: (\d+) sessions", out)
            counts.append(int(m.group(1)) if m else 0)
        # 160 sessions were made; the file stays the size that one round
        # needed, and the expired ones are gone.
        self.assertLessEqual(sizes[-1], sizes[0], sizes)
        self.assertTrue(all(c < 40 for c in counts), counts)
        relay.wait_log(r"TLS session cache .*smtpd_scache\.db: removed \d+ "
                       r"expired sessions")


class ClientResumptionTest(ResumptionCase):
    """The relay's own client, delivering to an aiosmtpd STARTTLS sink."""

    def deliver(self, relay, sink, n):
        msg_id, data = self.outbound_message(subject="resume %d" % n)
        self.submit(relay, "sender@senders.test", ["rcpt@example.test"],
                    data)
        sink.wait_messages(n, diagnostics=relay.diagnostics)

    def client_relay(self, sink, **main):
        settings = {
            "relayhost": sink.nexthop,
            "smtp_tls_security_level": "may",
            "smtp_tls_session_cache_database": CCACHE,
            "smtp_tls_loglevel": "2",
            # A new connection, so a new handshake, for every message.
            "smtp_connection_cache_on_demand": "no",
        }
        settings.update(main)
        return self.outbound_relay(main=settings)

    def reuse_lines(self, relay, sink):
        return [l for l in relay.maillog().splitlines()
                if "127.0.0.1[127.0.0.1]:%d: Reusing old session" % sink.port
                in l]

    def test_second_delivery_resumes(self):
        sink = self.sink()
        relay = self.client_relay(sink)
        self.deliver(relay, sink, 1)
        relay.wait_log(r"status=sent")
        self.assertEqual(self.reuse_lines(relay, sink), [])
        self.deliver(relay, sink, 2)
        relay.wait_log(r"status=sent", count=2)
        lines = self.reuse_lines(relay, sink)
        self.assertEqual(len(lines), 1, relay.maillog()[-3000:])
        self.assertRegex(lines[0], r"tlsrelay/(qmgr|smtp)\[\d+\]: "
                         r"127\.0\.0\.1\[127\.0\.0\.1\]:\d+: Reusing old "
                         r"session$")
        # Both went over TLS, on two connections.
        msgs = sink.messages()
        self.assertTrue(all(m.tls for m in msgs), [m.meta for m in msgs])
        self.assertEqual(len(sink.connections()), 2)
        status, out = self.tlsrelay("cache", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertRegex(out, r"(?m)^smtp +\S+smtp_scache\.db: [1-9]\d* "
                         r"sessions")

    def test_session_survives_restart(self):
        sink = self.sink()
        relay = self.client_relay(sink)
        self.deliver(relay, sink, 1)
        relay.wait_log(r"status=sent")
        relay.stop()
        relay.start()
        self.deliver(relay, sink, 2)
        relay.wait_log(r"status=sent", count=2)
        self.assertEqual(len(self.reuse_lines(relay, sink)), 1,
                         relay.maillog()[-3000:])

    def test_may_session_not_reused_at_verify(self):
        sink = self.sink()
        # The same CAs throughout: only the level changes.
        relay = self.client_relay(sink, smtp_tls_CAfile=self.certs.ca)
        self.deliver(relay, sink, 1)
        relay.wait_log(r"status=sent")
        # Same host, stricter policy: the may session must not be offered.
        # A restart, not a reload, so that no old queue manager is left
        # to deliver under the old policy; the cache file stays.
        relay.stop()
        relay.main.update({
            "smtp_tls_security_level": "verify",
            "smtp_tls_verify_cert_match": Certs.SERVER_NAME,
        })
        relay.write_config()
        relay.start()
        self.deliver(relay, sink, 2)
        relay.wait_log(r"status=sent", count=2)
        relay.wait_log(r"Verified TLS connection established to")
        self.assertEqual(self.reuse_lines(relay, sink), [],
                         relay.maillog()[-3000:])
        # The verify session is reused under verify.
        self.deliver(relay, sink, 3)
        relay.wait_log(r"status=sent", count=3)
        self.assertEqual(len(self.reuse_lines(relay, sink)), 1,
                         relay.maillog()[-3000:])
        relay.wait_log(r"Verified TLS connection established to", count=2)


class CacheCommandTest(ResumptionCase):

    def test_cache_command(self):
        relay = self.server_relay(smtp_tls_session_cache_database=CCACHE)
        self.full_handshake(relay, "-tls1_2", tickets=False, name="a")
        self.full_handshake(relay, "-tls1_2", tickets=False, name="b")
        self.full_handshake(relay, "-tls1_3", name="c")
        status, out = self.tlsrelay("cache", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertRegex(out, r"(?m)^smtpd +\S+/smtpd_scache\.db: 2 sessions "
                         r"\(0 expired, not yet purged\), \d+ bytes, oldest "
                         r"\d+s, newest \d+s$")
        self.assertRegex(out, r"(?m)^smtp +\S+/smtp_scache\.db: no file yet$")
        self.assertRegex(out, r"(?m)^tickets +\S+/tls_ticket_keys\.db: 1 keys")
        status, out = self.tlsrelay("cache", "-c", relay.dir, "-v")
        self.assertEqual(status, 0, out)
        self.assertEqual(len(re.findall(r"(?m)^    [0-9A-F]+&c=", out)), 2,
                         out)
        # Read-only: nothing created, nothing owned by root.
        data = relay.main["data_directory"]
        self.assertFalse(os.path.exists(os.path.join(data, "smtp_scache.db")))
        owner = os.stat(data).st_uid
        for name in os.listdir(data):
            self.assertEqual(os.stat(os.path.join(data, name)).st_uid, owner,
                             name)


if __name__ == "__main__":
    main()
