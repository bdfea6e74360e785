"""The relay as a system service (issue 14).

- sd_notify: under systemd (Type=notify) the daemon tells the socket in
  $NOTIFY_SOCKET READY=1 once it accepts, RELOADING=1 and READY=1 around
  a reload, STOPPING=1, and a STATUS= line with sessions and queue size.
- A certificate renewed on disk (a new file renamed over the old name,
  as certbot does) is served to the next client without a signal, while
  a session opened before goes on; a broken new pair is refused with its
  reason and the old pair stays in service."""

import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (RelayTestCase, SClient, main, openssl,  # noqa: E402
                       wait_for)


class NotifySocket:
    """A datagram socket standing in for systemd's."""

    def __init__(self, case):
        self.path = os.path.join(case.tmpdir, "notify-%s" %
                                 case._testMethodName)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.got = []
        case.addCleanup(self.sock.close)

    def wait(self, key, timeout=20):
        """The messages so far, once one holds the line key."""
        def seen():
            try:
                while True:
                    self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
            return any(key in m.split("\n") or
                       any(l.startswith(key) for l in m.split("\n"))
                       for m in self.got)
        wait_for("%s on the notify socket" % key, seen, timeout,
                 lambda: "got: %r" % self.got)
        return self.got


class NotifyTest(RelayTestCase):

    def test_ready_reloading_stopping_status(self):
        notify = NotifySocket(self)
        os.environ["NOTIFY_SOCKET"] = notify.path
        try:
            relay = self.relay()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        got = notify.wait("READY=1")
        self.assertIn("MAINPID=%d" % relay.pid, got[0].split("\n"))
        got = notify.wait("STATUS=")
        self.assertTrue(any(re.fullmatch(
            r"STATUS=\d+ sessions, \d+ messages in the queue", l)
            for m in got for l in m.split("\n")), got)
        notify.got.clear()
        relay.signal(signal.SIGHUP)
        got = notify.wait("READY=1")
        reloading = [i for i, m in enumerate(got)
                     if "RELOADING=1" in m.split("\n")]
        ready = [i for i, m in enumerate(got) if "READY=1" in m.split("\n")]
        self.assertTrue(reloading and ready and reloading[0] < ready[-1],
                        got)
        relay.signal(signal.SIGTERM)
        notify.wait("STOPPING=1")
        relay.wait_exit()


class CertificateRenewalTest(RelayTestCase):

    def install(self, cert, key):
        """As certbot does: new files renamed over the names in use."""
        for src, dst in ((cert, self.cert_path), (key, self.key_path)):
            tmp = dst + ".new"
            shutil.copy(src, tmp)
            os.rename(tmp, dst)

    def served_subject(self, relay):
        s = SClient(relay.port())
        self.assertTrue(s.established, s.output)
        m = re.search(r"^subject=(.*)$", s.output, re.M)
        return m.group(1) if m else None

    def test_renewed_certificate_served_without_signal(self):
        live = os.path.join(self.tmpdir, "live-%s" % self._testMethodName)
        os.makedirs(live)
        self.cert_path = os.path.join(live, "fullchain.pem")
        self.key_path = os.path.join(live, "privkey.pem")
        self.install(self.certs.rsa, self.certs.rsa_key)
        relay = self.relay(main={"smtpd_tls_cert_file": self.cert_path,
                                 "smtpd_tls_key_file": self.key_path})
        first = self.served_subject(relay)
        self.assertIn("relay.test", first)
        # A session from before the renewal, over TLS.
        old = smtplib.SMTP("127.0.0.1", relay.port(), timeout=30)
        self.addCleanup(old.close)
        old.ehlo("client.test")
        ctx = ssl.create_default_context(cafile=self.certs.ca)
        old.starttls(context=ctx)

        # Renewed: another certificate and key, no signal.
        self.install(self.certs.wrong, self.certs.wrong_key)
        relay.wait_log(r"TLS files changed on disk: .*fullchain\.pem.*: "
                       r"reloading", timeout=20)
        wait_for("the new certificate served",
                 lambda: "client.test" in (self.served_subject(relay) or ""),
                 20, relay.diagnostics)
        self.assertEqual(old.noop()[0], 250)

        # A broken pair (certificate and key do not match) is refused;
        # the good one stays.
        self.install(self.certs.client, self.certs.rsa_key)
        relay.wait_log(r"error: reload failed, keeping the running "
                       r"configuration: .*smtpd_tls_key_file", timeout=20)
        self.assertIn("client.test", self.served_subject(relay))
        self.assertRegex(self.served_subject(relay), r"CN ?= ?client\.test")
        self.assertEqual(old.noop()[0], 250)
        old.quit()
        # One reload for each change: the broken files are not tried
        # again and again.
        relay.wait_log(r"TLS files changed on disk", count=2)


if __name__ == "__main__":
    main()
