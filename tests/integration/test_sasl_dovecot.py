"""SMTP AUTH through Dovecot (smtpd_sasl_type = dovecot): a private Dovecot
started by the test (its own base_dir, a passwd-file, no protocols, its
auth socket where smtpd_sasl_path points), with swaks and smtplib as the
clients: PLAIN, LOGIN and CRAM-MD5 (a server challenge) succeed and the
mail is accepted for relay; a wrong password gets 535 and Postfix's log
line; a dead auth server gets 454 and one warning, and a new one is used
without restarting tlsrelay; the mechanisms EHLO offers are the server's,
filtered by the security options; AUTH only after STARTTLS with
smtpd_tls_auth_only; a Postfix-style main.cf relays for authenticated
users only."""

import os
import re
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (NO_DNS, QMGR_LINE, HarnessError,  # noqa: E402
                       OutboundTestCase, children_of, main, smtplib_client,
                       swaks)
from test_auth import FAIL2BAN, b64, plain  # noqa: E402

DOVECOT = "/usr/sbin/dovecot"
PREFIX = r"tlsrelay/smtpd\[\d+\]: "
LOCAL = r"unknown\[127\.0\.0\.1\]"
USER, PASSWORD = "bob", "dovecot horse 7"
RCPT = "someone@elsewhere.test"     # not a relay domain: relaying
START_TIMEOUT = 10


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


class Dovecot:
    """A private Dovecot: only the auth service, its client socket at
    socket_path, users from a passwd-file, everything under directory."""

    def __init__(self, case, directory, socket_path, mechanisms):
        if not os.access(DOVECOT, os.X_OK):
            raise HarnessError("dovecot missing: run scripts/setup-debian.sh "
                               "--test (package dovecot-core)")
        self.case = case
        self.dir = directory
        self.socket_path = socket_path
        self.log_path = os.path.join(directory, "dovecot.log")
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        # Its sockets' paths must fit in sun_path (108 bytes).
        run = tempfile.mkdtemp(prefix="dovecot-")
        case.addCleanup(shutil.rmtree, run, True)
        users = os.path.join(directory, "users")
        with open(users, "w") as f:
            f.write("%s:{PLAIN}%s::::::\n" % (USER, PASSWORD))
        os.chmod(users, 0o644)
        self.conf = os.path.join(directory, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("""\
base_dir = %(run)s
state_dir = %(dir)s/state
log_path = %(log)s
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = %(mechs)s
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = %(users)s
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=/nonexistent
}
service auth {
  unix_listener %(socket)s {
    mode = 0666
  }
}
""" % {"dir": directory, "run": run, "log": self.log_path, "mechs": mechanisms,
       "users": users, "socket": socket_path})
        self.proc = None

    def start(self):
        os.makedirs(os.path.dirname(self.socket_path), exist_ok=True)
        self.stderr = open(os.path.join(self.dir, "stderr"), "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        self.case.addCleanup(self.stop)
        # Ready when the auth socket answers with its handshake.
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError("dovecot exited: %s" % self.diagnostics())
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(2)
                    s.connect(self.socket_path)
                    s.sendall(b"VERSION\t1\t1\nCPID\t1\n")
                    data = b""
                    while not data.endswith(b"DONE\n"):
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    if data.endswith(b"DONE\n"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise HarnessError("dovecot did not start: %s" % self.diagnostics())

    def stop(self, sig=signal.SIGTERM):
        """Stops the master and every process it started, by PID. An auth
        process outlives a master stopped by SIGTERM while it has clients:
        it gets sig too."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = children_of(self.proc.pid)
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid in children:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(os.path.exists("/proc/%d" % pid) and
                  not _zombie(pid) for pid in children):
            if time.monotonic() > deadline:
                raise HarnessError("dovecot children left: %r" % children)
            time.sleep(0.05)
        self.stderr.close()

    def diagnostics(self):
        text = ""
        for name in ("stderr", "dovecot.log"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f.read()
            except OSError:
                pass
        return text


class DovecotTest(OutboundTestCase):

    def dovecot_relay(self, main=None, services=None,
                      mechanisms="plain login cram-md5", extra_master=""):
        """A relay whose smtpd_sasl_path is private/auth in its queue
        directory, and a Dovecot listening there."""
        settings = {
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": "private/auth",
        }
        settings.update(main or {})
        relay = self.relay(main=settings, services=services, start=False,
                           extra_master=extra_master)
        dovecot = Dovecot(self, os.path.join(relay.dir, "dovecot"),
                          os.path.join(relay.queue_dir, "private", "auth"),
                          mechanisms)
        dovecot.start()
        relay.start()
        return relay, dovecot

    def ehlo_auth(self, reply):
        for text in reply.texts[1:]:
            if text.upper().startswith("AUTH "):
                return text[5:].split()
        return None

    def test_swaks_plain_and_login(self):
        relay, _ = self.dovecot_relay()
        for method in ("PLAIN", "LOGIN"):
            status, out = swaks(
                relay.port(), "--from", "bob@client.test", "--to", RCPT,
                "--helo", "client.test", "-tls", "--auth", method,
                "--auth-user", USER, "--auth-password", PASSWORD)
            self.assertEqual(status, 0, out)
            self.assertIn("<~  235 2.7.0 Authentication successful", out)
            m = re.search(r"<~  250 2\.0\.0 Ok: queued as (\S+)", out)
            self.assertIsNotNone(m, out)
            queue_id = m.group(1)
            self.assertEqual(relay.queue_file(queue_id).recipients, [RCPT])
            relay.wait_log(PREFIX + queue_id + ": client=" + LOCAL +
                           ", sasl_method=" + method +
                           ", sasl_username=" + USER + "$")

    def test_authenticated_mail_is_relayed(self):
        """Through the queue manager to the next hop (the sink)."""
        sink = self.sink()
        relay, _ = self.dovecot_relay(main={
            "relayhost": sink.nexthop, "tlsrelay_dns_servers": NO_DNS,
            "inet_protocols": "ipv4",
            "smtpd_relay_restrictions":
                "permit_sasl_authenticated, reject_unauth_destination"},
            services={"submission": {"smtpd_tls_security_level":
                                     "encrypt"}},
            extra_master=QMGR_LINE)
        status, out = swaks(
            relay.port("submission"), "--from", "bob@client.test", "--to",
            RCPT, "--helo", "client.test", "-tls", "--auth", "LOGIN",
            "--auth-user", USER, "--auth-password", PASSWORD)
        self.assertEqual(status, 0, out)
        (m,) = sink.wait_messages(1, diagnostics=relay.diagnostics)
        self.assertEqual(m.mail_from, "bob@client.test")
        self.assertEqual(m.rcpt_tos, [RCPT])
        relay.wait_log(r"tlsrelay/smtp\[\d+\]: \w+: to=<%s>, relay=.*"
                       r"status=sent " % re.escape(RCPT))

    def test_smtplib_cram_md5(self):
        """The mechanisms come from the server."""
        relay, _ = self.dovecot_relay()
        c = smtplib_client(self, relay.port())
        c.ehlo("client.test")
        self.assertEqual(c.esmtp_features.get("auth").split(),
                         ["PLAIN", "LOGIN", "CRAM-MD5"])
        # CRAM-MD5: Dovecot's challenge, smtplib's answer.
        c.user, c.password = USER, PASSWORD
        code, text = c.auth("CRAM-MD5", c.auth_cram_md5)
        self.assertEqual((code, text), (235, b"2.7.0 Authentication "
                                             b"successful"))
        c.sendmail("bob@client.test", [RCPT], b"Subject: t\r\n\r\nHi.\r\n")
        c.quit()
        relay.wait_log(r"sasl_method=CRAM-MD5, sasl_username=bob$")

    def test_security_options(self):
        """They filter the server's mechanisms by its flags."""
        relay, _ = self.dovecot_relay(main={
            "smtpd_sasl_security_options": "noanonymous, noplaintext",
            "smtpd_sasl_tls_security_options": "noanonymous",
            "broken_sasl_auth_clients": "yes"})
        c = self.client(relay)
        r = c.ehlo()
        self.assertEqual(self.ehlo_auth(r), ["CRAM-MD5"])
        self.assertIn("AUTH=CRAM-MD5", r.texts)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 504,
                         "5.5.4 Unsupported authentication mechanism")
        c.starttls(self.tls())
        r = c.ehlo()
        self.assertEqual(self.ehlo_auth(r), ["PLAIN", "LOGIN", "CRAM-MD5"])
        self.assertIn("AUTH=PLAIN LOGIN CRAM-MD5", r.texts)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)

    def test_wrong_password(self):
        relay, _ = self.dovecot_relay()
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, "Wr0ngPw")), 535,
                         "5.7.8 Error: authentication failed:")
        self.assertReply(c.cmd("AUTH LOGIN"), 334, "VXNlcm5hbWU6")
        self.assertReply(c.cmd(b64(USER)), 334, "UGFzc3dvcmQ6")
        self.assertReply(c.cmd(b64("Wr0ngAgain")), 535)
        lines = relay.wait_log(PREFIX + "warning: " + LOCAL + r": SASL "
                               r"(PLAIN|LOGIN) authentication failed: ",
                               count=2)
        for line in lines:
            text = line.split(": warning: ", 1)[1]
            m = re.match(FAIL2BAN, text)
            self.assertIsNotNone(m, text)
            self.assertEqual(m.group("host"), "127.0.0.1")
        for secret in ("Wr0ngPw", "Wr0ngAgain", PASSWORD):
            self.assertNotIn(secret, relay.maillog())
        # Still usable after the failures.
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)

    def test_dead_auth_server(self):
        """454 and one warning; a new server is used without a restart."""
        relay, dovecot = self.dovecot_relay(main={
            "tlsrelay_smtpd_workers": "1"})
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        # The auth server dies (all of Dovecot, at once).
        dovecot.stop(signal.SIGKILL)
        relay.wait_log(PREFIX + r"warning: SASL: .*private/auth: "
                       r"Connection lost to authentication server$")
        c = self.client(relay)
        self.assertEqual(self.ehlo_auth(c.ehlo()),
                         ["PLAIN", "LOGIN", "CRAM-MD5"])
        start = time.monotonic()
        for _ in range(3):
            self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)),
                             454, "4.7.0 Temporary authentication failure: "
                             "Connection lost to authentication server")
        self.assertLess(time.monotonic() - start, 5)
        relay.wait_log(PREFIX + "warning: " + LOCAL + ": SASL PLAIN "
                       "authentication failed: Connection lost to "
                       "authentication server$", count=3)
        # One warning for the outage, not one per attempt.
        log = relay.maillog()
        self.assertEqual(len(re.findall(r"warning: SASL: ", log)), 1, log)
        # Not counted as a failed login: fail2ban leaves these alone.
        self.assertReply(c.cmd("NOOP"), 250)
        # A new Dovecot on the same socket: used without a restart.
        dovecot.start()
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        relay.wait_log(PREFIX + r"SASL: .*private/auth: connected again$")

    def test_hung_auth_server(self):
        """A server that stops answering: 454 after the backend's timeout
        (10 s), never a hung session; the other sessions go on."""
        relay, dovecot = self.dovecot_relay(main={
            "tlsrelay_smtpd_workers": "1"})
        auth = [pid for pid in children_of(dovecot.proc.pid)
                if _comm(pid) == "auth"]
        self.assertEqual(len(auth), 1, [_comm(p) for p in
                                        children_of(dovecot.proc.pid)])
        # The worker has finished its handshake with the auth server
        # (AUTH is offered) before that server stops answering.
        ready = self.client(relay)
        self.assertIn("AUTH", ready.ehlo().text)
        ready.cmd("QUIT")
        os.kill(auth[0], signal.SIGSTOP)
        self.addCleanup(os.kill, auth[0], signal.SIGCONT)
        c = self.client(relay)
        c.ehlo()
        other = self.client(relay)
        other.ehlo()
        start = time.monotonic()
        c.send("AUTH PLAIN %s\r\n" % plain(USER, PASSWORD))
        # Meanwhile the worker serves the other session.
        self.assertReply(other.cmd("NOOP"), 250)
        self.assertLess(time.monotonic() - start, 2)
        c.sock.settimeout(30)
        r = c.reply()
        waited = time.monotonic() - start
        self.assertReply(r, 454, "4.7.0 Temporary authentication failure")
        self.assertGreater(waited, 9)
        self.assertLess(waited, 15)
        relay.wait_log(PREFIX + r"warning: SASL: private/auth: timeout "
                       r"waiting for the authentication server$")
        # The server wakes up: a new connection, a login.
        os.kill(auth[0], signal.SIGCONT)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)

    def test_auth_only_after_starttls(self):
        relay, _ = self.dovecot_relay(main={"smtpd_tls_auth_only": "yes"})
        c = self.client(relay)
        self.assertIsNone(self.ehlo_auth(c.ehlo()))
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 504,
                         "5.5.4 Encryption required")
        c.starttls(self.tls())
        self.assertEqual(self.ehlo_auth(c.ehlo()),
                         ["PLAIN", "LOGIN", "CRAM-MD5"])
        self.assertReply(c.cmd("AUTH LOGIN " + b64(USER)), 334,
                         "UGFzc3dvcmQ6")
        self.assertReply(c.cmd(b64(PASSWORD)), 235)

    def test_postfix_main_cf(self):
        """Relays for authenticated users only."""
        relay, _ = self.dovecot_relay(main={
            "smtpd_relay_restrictions":
                "permit_sasl_authenticated, reject_unauth_destination",
            "smtpd_recipient_restrictions": "",
            "mynetworks": "127.0.0.2/32"})
        with open(relay.main_cf) as f:
            text = f.read()
        for line in ("smtpd_sasl_type = dovecot",
                     "smtpd_sasl_path = private/auth",
                     "smtpd_sasl_auth_enable = yes"):
            self.assertIn(line + "\n", text)
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<bob@client.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 554,
                         "5.7.1 <%s>: Relay access denied" % RCPT)
        self.assertReply(c.cmd("RSET"), 250)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        self.assertReply(c.cmd("MAIL FROM:<bob@client.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)


if __name__ == "__main__":
    main()
