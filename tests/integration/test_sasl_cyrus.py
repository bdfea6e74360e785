"""SMTP AUTH through the Cyrus SASL library (smtpd_sasl_type = cyrus), set
up as Postfix's documentation sets it up: a sasldb2 made by saslpasswd2
(Debian sasl2-bin), readable by the mail_owner user the workers run as, and
an smtpd.conf in cyrus_sasl_config_path. swaks and smtplib log in with
PLAIN, LOGIN and CRAM-MD5; wrong passwords and unknown users get 535 and
Postfix's log lines; AUTH waits for TLS with smtpd_tls_auth_only; a
Postfix-style main.cf relays for logged-in users only. With a stand-in
saslauthd (peers/saslauthd.py) that holds its answer, another session of
the same worker is served while the library waits, and a password server
that is not there gives 454."""

import os
import pwd
import re
import select
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, MAIL_OWNER, NO_DNS, PEERS,  # noqa
                       PYTHON, QMGR_LINE, HarnessError, OutboundTestCase,
                       RawSMTP, free_port, main, queued_id, read_text,
                       require_tools,
                       smtplib_client, stop_pid, swaks, unfold, wait_for)
from test_auth import FAIL2BAN, LOCAL, PREFIX, b64, plain  # noqa: E402

HOST = "relay.test"         # myhostname: the library's default realm
USER, PASSWORD = "bob", "correct horse battery"
WRONG = ("Tr0ub4dor&3", "hunter2 again")
RCPT = "someone@elsewhere.test"
MECHS = {"PLAIN", "LOGIN", "CRAM-MD5"}
SASLAUTHD = os.path.join(PEERS, "saslauthd.py")

SUBMISSION = {
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_tls_security_level": "encrypt",
    "smtpd_client_restrictions": "permit_sasl_authenticated,reject",
    "smtpd_relay_restrictions": "permit_sasl_authenticated,reject",
}


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class CyrusTestCase(OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_tools("saslpasswd2")
        cls.sasl_dir = os.path.join(cls.tmpdir, "sasl")
        os.makedirs(cls.sasl_dir)
        os.chmod(cls.sasl_dir, 0o755)
        db = os.path.join(cls.sasl_dir, "sasldb2")
        subprocess.run(["saslpasswd2", "-f", db, "-c", "-p", "-u", HOST,
                        USER], input=(PASSWORD + "\n").encode(),
                       check=True, timeout=30)
        # Read at each login by the workers, which run as mail_owner: as
        # Postfix's SASL_README has it, readable by that user's group.
        os.chown(db, 0, pwd.getpwnam(MAIL_OWNER).pw_gid)
        os.chmod(db, 0o640)
        write_file(os.path.join(cls.sasl_dir, "smtpd.conf"),
                   "pwcheck_method: auxprop\n"
                   "auxprop_plugin: sasldb\n"
                   "sasldb_path: %s\n"
                   "mech_list: PLAIN LOGIN CRAM-MD5\n" % db)

    def cyrus_relay(self, main=None, services=None, config_dir=None, **kw):
        settings = {
            "smtpd_sasl_type": "cyrus",
            "cyrus_sasl_config_path": config_dir or self.sasl_dir,
        }
        settings.update(main or {})
        return self.relay(main=settings, services=services or {
            "smtp": {}, "submission": SUBMISSION}, **kw)

    def tls_client(self, relay, service="submission"):
        c = self.client(relay, service)
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo_reply = c.ehlo()
        return c

    def ehlo_auth(self, reply):
        for text in reply.texts[1:]:
            if text.upper().startswith("AUTH "):
                return set(text[5:].split())
        return None

    def check_submission(self, relay, queue_id, method, user=USER):
        relay.wait_log(PREFIX + re.escape(queue_id) + ": client=" + LOCAL +
                       ", sasl_method=" + method + ", sasl_username=" +
                       user + "$")
        received = unfold(relay.queue_file(queue_id).received)
        self.assertIn(" with ESMTPSA id " + queue_id, received)


class LoginTest(CyrusTestCase):

    def test_swaks_plain_login_cram_md5(self):
        relay = self.cyrus_relay()
        for method in ("PLAIN", "LOGIN", "CRAM-MD5"):
            status, out = swaks(
                relay.port("submission"), "--from", "bob@client.test",
                "--to", RCPT, "--helo", "client.test", "-tls",
                "--auth", method, "--auth-user", USER,
                "--auth-password", PASSWORD)
            self.assertEqual(status, 0, out)
            self.assertIn("<~  235 2.7.0 Authentication successful", out)
            m = re.search(r"<~  250 2\.0\.0 Ok: queued as (\S+)", out)
            self.assertIsNotNone(m, out)
            self.check_submission(relay, m.group(1), method)
        self.assertNotIn(PASSWORD, relay.maillog())

    def test_smtplib_each_mechanism(self):
        relay = self.cyrus_relay()
        for method in ("CRAM-MD5", "PLAIN", "LOGIN"):
            c = smtplib_client(self, relay.port("submission"))
            c.ehlo("client.test")
            c.starttls(context=self.tls())
            c.ehlo("client.test")
            # The library's mechanisms, as mech_list narrows them.
            self.assertEqual(set(c.esmtp_features["auth"].split()), MECHS)
            c.user, c.password = USER, PASSWORD
            # smtplib sends PLAIN's message and LOGIN's user name as an
            # initial response; CRAM-MD5 answers the challenge.
            auth = {"CRAM-MD5": c.auth_cram_md5, "PLAIN": c.auth_plain,
                    "LOGIN": c.auth_login}[method]
            code, text = c.auth(method, auth)
            self.assertEqual((code, text),
                             (235, b"2.7.0 Authentication successful"))
            c.sendmail("bob@client.test", [RCPT], self.message())
            c.quit()
        lines = relay.wait_log(r"sasl_username=bob$", count=3)
        methods = sorted(re.search(r"sasl_method=(\S+),", l).group(1)
                         for l in lines)
        self.assertEqual(methods, ["CRAM-MD5", "LOGIN", "PLAIN"])
        self.assertEqual(len(relay.queue_ids()), 3)

    def test_wrong_password_and_unknown_user(self):
        relay = self.cyrus_relay(main={
            "tlsrelay_smtpd_auth_failure_limit": "0"})
        c = self.tls_client(relay)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, WRONG[0])), 535,
                         "5.7.8 Error: authentication failed: "
                         "authentication failure")
        # The same words for a user the database does not have.
        self.assertReply(c.cmd("AUTH PLAIN " + plain("nosuchuser",
                                                     PASSWORD)), 535,
                         "5.7.8 Error: authentication failed: "
                         "authentication failure")
        self.assertReply(c.cmd("AUTH LOGIN"), 334, "VXNlcm5hbWU6")
        self.assertReply(c.cmd(b64(USER)), 334, "UGFzc3dvcmQ6")
        self.assertReply(c.cmd(b64(WRONG[1])), 535)
        # The session may still log in, and then relay.
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        self.assertReply(c.cmd("MAIL FROM:<bob@client.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        # Postfix's lines: the library's detail, then the failure with
        # the client, which fail2ban's postfix filter finds.
        relay.wait_log(PREFIX + "warning: SASL authentication failure: "
                       "Password verification failed$", count=2)
        lines = relay.wait_log(PREFIX + "warning: " + LOCAL + ": SASL "
                               r"(PLAIN|LOGIN) authentication failed: "
                               "authentication failure", count=3)
        self.assertTrue(lines[0].endswith(", sasl_username=bob"), lines[0])
        self.assertTrue(lines[2].endswith(", sasl_username=bob"), lines[2])
        for line in lines:
            m = re.match(FAIL2BAN, line.split(": warning: ", 1)[1])
            self.assertIsNotNone(m, line)
            self.assertEqual(m.group("host"), "127.0.0.1")
        log = relay.maillog()
        for secret in WRONG + (PASSWORD,):
            self.assertNotIn(secret, log)


    def test_ipv6_client(self):
        # The library gets "::1;port" for both ends, as Postfix gives it.
        port = free_port(host="::1")
        relay = self.cyrus_relay(services={"v6": dict(
            SUBMISSION, listen="[::1]:%d" % port)})
        c = RawSMTP(self, port, host="::1")
        c.ehlo()
        c.starttls(self.tls())
        self.assertEqual(self.ehlo_auth(c.ehlo()), MECHS)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        relay.wait_log(PREFIX + r"connect from unknown\[::1\]$")


class PolicyTest(CyrusTestCase):

    def test_auth_only_after_starttls(self):
        relay = self.cyrus_relay(main={"smtpd_sasl_auth_enable": "yes",
                                       "smtpd_tls_auth_only": "yes"},
                                 services={"smtp": {}})
        c = self.client(relay)
        self.assertIsNone(self.ehlo_auth(c.ehlo()))
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 504,
                         "5.5.4 Encryption required for requested "
                         "authentication mechanism")
        c.starttls(self.tls())
        self.assertEqual(self.ehlo_auth(c.ehlo()), MECHS)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)

    def test_postfix_main_cf_relays_for_authenticated_users_only(self):
        sink = self.sink(tls=False)
        relay = self.relay(start=False, services={"smtp": {}},
                           extra_master=QMGR_LINE)
        # A submission relay's main.cf as Postfix's SASL_README writes it;
        # the loopback client is in mynetworks, which this relay does not
        # trust for relaying.
        relay.raw_main = "".join("%s = %s\n" % kv for kv in (
            ("queue_directory", relay.queue_dir),
            ("data_directory", os.path.join(relay.dir, "data")),
            ("maillog_file", relay.maillog_path),
            ("myhostname", HOST),
            ("mynetworks", "127.0.0.0/8"),
            ("inet_protocols", "ipv4"),
            ("relayhost", sink.nexthop),
            ("tlsrelay_dns_servers", NO_DNS),
            ("smtpd_tls_cert_file", self.certs.rsa),
            ("smtpd_tls_key_file", self.certs.rsa_key),
            ("smtpd_tls_security_level", "may"),
            ("smtpd_tls_auth_only", "yes"),
            ("smtpd_sasl_auth_enable", "yes"),
            ("smtpd_sasl_type", "cyrus"),
            ("smtpd_sasl_path", "smtpd"),
            ("cyrus_sasl_config_path", self.sasl_dir),
            ("smtpd_sasl_security_options", "noanonymous"),
            ("smtpd_sasl_local_domain", ""),
            ("broken_sasl_auth_clients", "yes"),
            ("smtpd_relay_restrictions",
             "permit_sasl_authenticated, reject_unauth_destination"),
        ) + tuple(DEFAULT_TIMERS.items()))
        relay.write_config()
        relay.start()
        c = self.tls_client(relay, "smtp")
        self.assertReply(c.cmd("MAIL FROM:<bob@client.test>"), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 554,
                         "5.7.1 <%s>: Relay access denied" % RCPT)
        self.assertReply(c.cmd("RSET"), 250)
        self.assertReply(c.cmd("AUTH CRAM-MD5"), 334)
        c.cmd("*")
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 235)
        queue_id = queued_id(c.send_message("bob@client.test", [RCPT],
                                            self.message()))
        c.cmd("QUIT")
        got = sink.wait_messages(1, diagnostics=relay.diagnostics)
        self.assertEqual(got[0].rcpt_tos, [RCPT])
        self.assertIn(b" with ESMTPSA id " + queue_id.encode(),
                      got[0].content)
        relay.wait_log(PREFIX + re.escape(queue_id) + ": client=" + LOCAL +
                       ", sasl_method=PLAIN, sasl_username=bob$")
        relay.wait_log(r"tlsrelay/smtp\[\d+\]: %s: to=<%s>, relay=" %
                       (queue_id, re.escape(RCPT)) + r".*status=sent")


class SaslauthdTest(CyrusTestCase):
    """pwcheck_method: saslauthd, against peers/saslauthd.py."""

    def saslauthd_config(self, socket_path):
        conf_dir = os.path.join(self.tmpdir, "saslauthd-conf-%s" %
                                self._testMethodName)
        os.makedirs(conf_dir)
        os.chmod(conf_dir, 0o755)
        write_file(os.path.join(conf_dir, "smtpd.conf"),
                   "pwcheck_method: saslauthd\n"
                   "saslauthd_path: %s\n"
                   "mech_list: PLAIN LOGIN\n" % socket_path)
        return conf_dir

    def start_saslauthd(self, directory, hold=False):
        os.makedirs(directory)
        os.chmod(directory, 0o755)
        socket_path = os.path.join(directory, "mux")
        args = [PYTHON, SASLAUTHD, "--socket", socket_path, "--dir",
                directory, "--user", "%s:%s" % (USER, PASSWORD)]
        if hold:
            args.append("--hold")
        log = open(os.path.join(directory, "log"), "ab")
        self.addCleanup(log.close)
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True)
        self.addCleanup(stop_pid, proc)
        ready = os.path.join(directory, "ready")
        try:
            wait_for("saslauthd stand-in", lambda: os.path.exists(ready), 10)
        except AssertionError:
            raise HarnessError("peers/saslauthd.py did not start")
        return socket_path

    def test_password_check_in_progress_stalls_nobody(self):
        directory = os.path.join(self.tmpdir, "saslauthd-held")
        socket_path = self.start_saslauthd(directory, hold=True)
        # One worker: both sessions share its event loop.
        relay = self.cyrus_relay(main={"tlsrelay_smtpd_workers": "1"},
                                 config_dir=self.saslauthd_config(
                                     socket_path))
        c = self.tls_client(relay)
        self.assertEqual(self.ehlo_auth(c.ehlo_reply), {"PLAIN", "LOGIN"})
        c.send("AUTH PLAIN %s\r\n" % plain(USER, PASSWORD))
        # The library is inside the check: saslauthd has the request and
        # holds its answer.
        requests = os.path.join(directory, "requests")
        wait_for("the request at saslauthd",
                 lambda: "bob smtp " in read_text(requests), 10)
        # Another session of the same worker goes through a whole
        # dialogue meanwhile; in the loop, the check would block it.
        other = self.tls_client(relay)
        self.assertReply(other.cmd("NOOP"), 250)
        self.assertReply(other.cmd("MAIL FROM:<other@client.test>"), 250)
        other.cmd("QUIT")
        # ... while the first still waits for its verdict.
        self.assertEqual(select.select([c.sock], [], [], 0)[0], [])
        write_file(os.path.join(directory, "release"), "")
        self.assertReply(c.reply(), 235, "2.7.0 Authentication successful")

    def test_password_server_down_is_a_temporary_failure(self):
        relay = self.cyrus_relay(config_dir=self.saslauthd_config(
            os.path.join(self.tmpdir, "no-saslauthd", "mux")))
        c = self.tls_client(relay)
        self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 454,
                         "4.7.0 Temporary authentication failure")
        relay.wait_log(PREFIX + "warning: SASL authentication failure: "
                       "cannot connect to saslauthd server")
        relay.wait_log(PREFIX + "warning: " + LOCAL + ": SASL PLAIN "
                       "authentication failed: generic failure$")
        # The session goes on: a later login may work.
        self.assertReply(c.cmd("NOOP"), 250)


if __name__ == "__main__":
    main()
