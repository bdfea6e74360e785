"""Configuration as an administrator meets it: a real Postfix main.cf and
master.cf load, mistakes stop start-up naming file:line and the parameter,
`tlsrelay conf`, SIGHUP reloads, SIGTERM ends cleanly."""

import os
import re
import shutil
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (TLSRELAY, HarnessError, RelayTestCase,  # noqa: E402
                       SClient, listening_ports, main, queued_id,
                       require_program, run_tool, swaks)

POSTFIX_SHARE = "/usr/share/postfix"
SENDER = "sender@client.test"
RCPT = "rcpt@example.com"


def read_postfix_file(name):
    path = os.path.join(POSTFIX_SHARE, name)
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise HarnessError("%s missing: the Debian package postfix provides "
                           "it (scripts/setup-debian.sh --test)" % path)


def warnings(text):
    return [l for l in text.splitlines() if "warning" in l.lower()]


def main_cf_text(relay, extra_lines=()):
    """main.cf from relay.main plus extra lines; returns (text, line number
    of the first extra line)."""
    lines = ["# written by test_config.py"]
    lines += ["%s = %s" % kv for kv in relay.main.items()]
    first = len(lines) + 1
    lines += list(extra_lines)
    return "\n".join(lines) + "\n", first


class PostfixConfigTest(RelayTestCase):

    def postfix_main_cf(self, relay):
        """Debian 12's main.cf as its postinst writes it for an Internet
        site, with the TLS lines tutorials add."""
        tls = read_postfix_file("main.cf.tls")
        tls = tls.replace("/etc/ssl/certs/ssl-cert-snakeoil.pem",
                          self.certs.rsa)
        tls = tls.replace("/etc/ssl/private/ssl-cert-snakeoil.key",
                          self.certs.rsa_key)
        return (read_postfix_file("main.cf.debian") + tls + """
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = relay.test
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
myorigin = /etc/mailname
mydestination = $myhostname, relay.test, localhost.localdomain, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all

# TLS, the way the tutorials write it
smtpd_tls_eccert_file = %(ec)s
smtpd_tls_eckey_file = %(ec_key)s
smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1
smtpd_tls_mandatory_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1
smtpd_tls_ciphers = high
smtpd_tls_mandatory_ciphers = high
smtpd_tls_exclude_ciphers = aNULL, MD5, DES, 3DES, RC4
tls_preempt_cipherlist = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_recipient_restrictions =
    permit_mynetworks,
    reject_unauth_destination

queue_directory = %(queue)s
data_directory = %(data)s
maillog_file = %(log)s
# the client's name (smtpd_peername_lookup) is asked on loopback only
tlsrelay_dns_servers = %(dns)s
""" % {"ec": self.certs.ec, "ec_key": self.certs.ec_key,
       "queue": relay.queue_dir, "data": os.path.join(relay.dir, "data"),
       "log": relay.maillog_path, "dns": relay.main["tlsrelay_dns_servers"]})

    def postfix_master_cf(self):
        """Debian's stock master.cf without its smtp line (ours come first)
        and without its qmgr line: this test is about what the inbound side
        accepts, so the message must stay in incoming/ (and no delivery may
        ask the machine's resolver for the test domains). The chroot column
        is y there and means nothing to tlsrelay."""
        text = read_postfix_file("master.cf.dist")
        text = re.sub(r"(?m)^qmgr\s+unix\s.*\n", "", text)
        return re.sub(r"(?m)^smtp\s+inet\s.*\n", "", text)

    def test_postfix_configuration_loads(self):
        relay = self.relay(start=False, services={
            "smtp": {},
            "submission": {"syslog_name": "tlsrelay/submission",
                           "smtpd_tls_security_level": "encrypt",
                           "smtpd_sasl_auth_enable": "no",
                           "smtpd_tls_auth_only": "yes",
                           "smtpd_client_restrictions": ""}},
            extra_master=self.postfix_master_cf())
        relay.raw_main = self.postfix_main_cf(relay)
        relay.write_config()
        relay.start()
        status, out = swaks(relay.port(), "--from", SENDER, "--to", RCPT,
                            "--helo", "client.test", "-tls")
        self.assertEqual(status, 0, out)
        qf = relay.queue_file(relay.queue_ids()[0])
        self.assertIn(b"(using TLSv1.3 with cipher", qf.received)
        c = self.client(relay, "submission")
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 530, "5.7.0")
        s = SClient(relay.port(), "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        self.assertFalse(s.established, s.output)
        # Postfix parameters tlsrelay does not implement are accepted
        # quietly.
        said = "\n".join(warnings(relay.stderr() + relay.maillog()))
        for name in ("compatibility_level", "biff", "append_dot_mydomain",
                     "readme_directory", "alias_maps", "alias_database",
                     "mydestination", "relayhost", "mailbox_size_limit",
                     "recipient_delimiter", "smtp_tls_CApath",
                     "smtp_tls_security_level", "smtpd_sasl_type",
                     "smtpd_tls_auth_only", "smtpd_sasl_path"):
            self.assertNotRegex(said, r"\b%s\b" % name)
        self.assertNotRegex(relay.stderr() + relay.maillog(),
                            r"(?i)\b(fatal|panic)\b")
        # tlsrelay conf -n shows what was set, ignored ones as comments.
        require_program(TLSRELAY)
        status, out = run_tool([TLSRELAY, "conf", "-c", relay.dir, "-n"])
        self.assertEqual(status, 0, out)
        lines = out.splitlines()
        self.assertIn("myhostname = relay.test", lines)
        self.assertIn("smtpd_tls_security_level = may", lines)
        ignored = [l for l in lines if "alias_maps = hash:/etc/aliases" in l]
        self.assertEqual(len(ignored), 1, out)
        self.assertTrue(ignored[0].startswith("#"), ignored[0])
        self.assertIn("ignored", ignored[0])


class BrokenStartCase(RelayTestCase):
    """Starts the daemon on a configuration it must refuse."""

    def start_broken(self, lines, remove=(), services=None):
        relay = self.relay(start=False, main={n: None for n in remove},
                           services=services)
        relay.raw_main, lineno = main_cf_text(relay, lines)
        relay.write_config()
        self.broken_relay = relay
        status, out = relay.start_expect_failure()
        self.assertNotEqual(status, 0, out)
        self.assertFalse(set(relay.ports.values()) & listening_ports())
        return out, lineno

    def assertNames(self, out, where, *words):
        self.assertRegex(out, r"\bmain\.cf:%d\b" % where if
                         isinstance(where, int) else where)
        for word in words:
            self.assertIn(word, out)


class StartupErrorTest(BrokenStartCase):

    def test_syntax_error(self):
        out, line = self.start_broken(["this line has no equals sign"])
        self.assertNames(out, line)

    def test_bad_boolean(self):
        out, line = self.start_broken(["smtpd_tls_received_header = maybe"])
        self.assertNames(out, line, "smtpd_tls_received_header")

    def test_bad_time(self):
        out, line = self.start_broken(["smtpd_timeout = 10fortnights"])
        self.assertNames(out, line, "smtpd_timeout")

    def test_missing_certificate_file(self):
        out, line = self.start_broken(
            ["smtpd_tls_cert_file = /nonexistent/relay.pem",
             "smtpd_tls_key_file = /nonexistent/relay.key"],
            remove=("smtpd_tls_cert_file", "smtpd_tls_key_file"))
        self.assertNames(out, line, "smtpd_tls_cert_file",
                         "/nonexistent/relay.pem")

    def test_garbage_certificate_file(self):
        path = os.path.join(self.tmpdir, "garbage.pem")
        with open(path, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n"
                    "-----END CERTIFICATE-----\n")
        out, line = self.start_broken(
            ["smtpd_tls_cert_file = " + path,
             "smtpd_tls_key_file = " + self.certs.rsa_key],
            remove=("smtpd_tls_cert_file", "smtpd_tls_key_file"))
        self.assertNames(out, line, "smtpd_tls_cert_file", path)

    def test_key_does_not_match_certificate(self):
        out, line = self.start_broken(
            ["smtpd_tls_cert_file = " + self.certs.rsa,
             "smtpd_tls_key_file = " + self.certs.ec_key],
            remove=("smtpd_tls_cert_file", "smtpd_tls_key_file"))
        self.assertRegex(out, r"\bmain\.cf:(%d|%d)\b" % (line, line + 1))
        self.assertRegex(out, r"smtpd_tls_(cert|key)_file")

    def test_bad_value_in_master_cf(self):
        out, _ = self.start_broken([], services={
            "smtp": {"smtpd_tls_wrappermode": "perhaps"}})
        # The entry starts on line 2, its -o is on line 3.
        self.assertNames(out, r"\bmaster\.cf:[23]\b", "smtpd_tls_wrappermode")


class SameValidationTest(BrokenStartCase):
    """`tlsrelay conf` refuses every value the daemon refuses, with the
    same file:line: both run the declarations' checks as they load."""

    # (parameter, bad value, what both must say)
    ROWS = [
        # bounds
        ("smtp_tls_session_cache_timeout", "101d",
         "smtp_tls_session_cache_timeout: at most 8640000 seconds "
         "(100 days)"),
        ("smtpd_tls_session_cache_timeout", "8640001s",
         "smtpd_tls_session_cache_timeout: at most 8640000 seconds "
         "(100 days)"),
        # enumerations
        ("smtpd_tls_security_level", "maybe",
         'smtpd_tls_security_level: unknown level "maybe"'),
        ("smtp_tls_security_level", "mandatory",
         'smtp_tls_security_level: unknown level "mandatory"'),
        ("smtpd_forbid_bare_newline", "sometimes",
         'smtpd_forbid_bare_newline: unknown value "sometimes"'),
        ("smtp_dns_support_level", "dnssec-only",
         'smtp_dns_support_level: unknown value "dnssec-only"'),
        ("mynetworks_style", "everyone",
         'mynetworks_style: unknown value "everyone"'),
        # types
        ("smtpd_tls_received_header", "perhaps",
         "bad boolean configuration: smtpd_tls_received_header = perhaps"),
        ("smtpd_timeout", "5x", "invalid time value for smtpd_timeout: 5x"),
        ("smtp_tls_session_cache_timeout", "-1s",
         "invalid time value for smtp_tls_session_cache_timeout: -1s"),
        ("smtpd_recipient_limit", "many",
         "bad numerical configuration: smtpd_recipient_limit = many"),
    ]

    def test_conf_and_daemon_refuse_alike(self):
        require_program(TLSRELAY)
        for name, value, said in self.ROWS:
            with self.subTest(parameter=name, value=value):
                out, line = self.start_broken(["%s = %s" % (name, value)],
                                              remove=(name,))
                where = r"\bmain\.cf:%d: " % line
                self.assertRegex(out, where + re.escape(said))
                status, conf_out = run_tool(
                    [TLSRELAY, "conf", "-c", self.broken_relay.dir])
                self.assertEqual(status, 1, conf_out)
                self.assertRegex(conf_out, r"tlsrelay: error: .*" + where +
                                 re.escape(said))

    def test_master_cf_override_refused_alike(self):
        require_program(TLSRELAY)
        out, _ = self.start_broken([], services={
            "smtp": {"smtpd_tls_security_level": "maybe"}})
        said = r'\bmaster\.cf:3: smtpd_tls_security_level: unknown level ' \
            r'"maybe"'
        self.assertRegex(out, said)
        status, conf_out = run_tool(
            [TLSRELAY, "conf", "-c", self.broken_relay.dir])
        self.assertEqual(status, 1, conf_out)
        self.assertRegex(conf_out, said)

    def test_every_problem_in_one_run(self):
        """A value refused at load, one refused by the service's policy,
        a missing certificate and a bad master.cf override: tlsrelay conf
        and the daemon each name all four in one run, each once, not one
        per attempt."""
        require_program(TLSRELAY)
        missing = os.path.join(self.tmpdir, "missing.crt")
        out, line = self.start_broken(
            ["smtpd_recipient_limit = many",
             "mynetworks = 10.0.0.0/33",
             "smtpd_tls_cert_file = " + missing,
             "smtpd_tls_key_file = " + missing],
            remove=("smtpd_recipient_limit", "mynetworks",
                    "smtpd_tls_cert_file", "smtpd_tls_key_file"),
            services={"smtp": {"smtpd_timeout": "5x"}})
        expected = [
            r"\bmain\.cf:%d: bad numerical configuration: "
            r"smtpd_recipient_limit = many" % line,
            r"\bmain\.cf:%d: mynetworks: bad prefix length in 10\.0\.0\.0/33"
            % (line + 1),
            r"\bmain\.cf:%d: smtpd_tls_cert_file %s: cannot open" % (
                line + 2, re.escape(missing)),
            r"\bmaster\.cf:\d+: invalid time value for smtpd_timeout: 5x"]
        status, conf_out = run_tool(
            [TLSRELAY, "conf", "-c", self.broken_relay.dir, "-n"])
        self.assertEqual(status, 1, conf_out)
        for said, name in ((out, "tlsrelayd"), (conf_out, "tlsrelay conf")):
            for pattern in expected:
                with self.subTest(program=name, pattern=pattern):
                    found = re.findall(r"^.*" + pattern + r".*$", said,
                                       re.M)
                    self.assertEqual(len(found), 1, said)
                    self.assertRegex(found[0], r": (error|fatal): ")
        # tlsrelay conf prints the values all the same, as postconf does.
        self.assertIn("mynetworks = 10.0.0.0/33\n", conf_out)

    def test_good_values_accepted_alike(self):
        """The edges of the same rows load in both."""
        require_program(TLSRELAY)
        relay = self.relay(start=False, main={
            "smtp_tls_session_cache_timeout": "100d",
            "smtpd_tls_session_cache_timeout": "8640000s",
            "smtpd_tls_security_level": "ENCRYPT",
            "smtpd_forbid_bare_newline": "reject",
            "mynetworks_style": "subnet"})
        status, out = run_tool([TLSRELAY, "conf", "-c", relay.dir,
                                "smtpd_tls_security_level"])
        self.assertEqual((status, out),
                         (0, "smtpd_tls_security_level = ENCRYPT\n"))
        relay.start()
        self.assertReply(self.client(relay).cmd("NOOP"), 250)


class WarningTest(RelayTestCase):

    def test_unknown_name_warns(self):
        relay = self.relay(main={"smtpd_tls_cert_fiel": "/etc/typo.pem"})
        line = list(relay.main).index("smtpd_tls_cert_fiel") + 2
        said = "\n".join(warnings(relay.stderr() + relay.maillog()))
        self.assertRegex(said, r"\bmain\.cf:%d\b.*smtpd_tls_cert_fiel" % line)

    def test_obsolete_smtpd_use_tls(self):
        relay = self.relay(main={"smtpd_tls_security_level": None,
                                 "smtpd_use_tls": "yes"})
        line = list(relay.main).index("smtpd_use_tls") + 2
        said = "\n".join(warnings(relay.stderr() + relay.maillog()))
        self.assertRegex(said, r"\bmain\.cf:%d\b.*smtpd_use_tls" % line)
        c = self.client(relay)
        self.assertIn("STARTTLS", c.ehlo().texts)
        c.starttls(self.tls())
        c.ehlo()
        # may, not encrypt: mail without TLS is still accepted.
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)

    def test_obsolete_smtpd_enforce_tls(self):
        relay = self.relay(main={"smtpd_tls_security_level": None,
                                 "smtpd_enforce_tls": "yes"})
        said = "\n".join(warnings(relay.stderr() + relay.maillog()))
        self.assertIn("smtpd_enforce_tls", said)
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 530, "5.7.0")

    def test_other_master_services_ignored_with_warning(self):
        relay = self.relay(extra_master=(
            "pickup    unix  n       -       y       60      1       pickup\n"
            "qmgr      unix  n       -       n       300     1       qmgr\n"))
        said = "\n".join(warnings(relay.stderr() + relay.maillog()))
        self.assertIn("pickup", said)
        self.assertReply(self.client(relay).cmd("NOOP"), 250)


class ConfCommandTest(RelayTestCase):

    def setUp(self):
        require_program(TLSRELAY)
        self.r = self.relay(start=False, main={"smtpd_timeout": "2s"})

    def conf(self, *args):
        return run_tool([TLSRELAY, "conf", "-c", self.r.dir] + list(args))

    def test_n_shows_what_is_set(self):
        status, out = self.conf("-n")
        self.assertEqual(status, 0, out)
        lines = out.splitlines()
        self.assertIn("smtpd_timeout = 2s", lines)
        self.assertIn("myhostname = relay.test", lines)
        self.assertFalse([l for l in lines if l.startswith("message_size_limit")])

    def test_d_shows_defaults(self):
        status, out = self.conf("-d")
        self.assertEqual(status, 0, out)
        lines = out.splitlines()
        self.assertIn("smtpd_timeout = 300s", lines)
        self.assertIn("message_size_limit = 10240000", lines)
        self.assertIn("smtpd_banner = $myhostname ESMTP $mail_name", lines)
        self.assertIn("smtpd_relay_restrictions = permit_mynetworks, "
                      "permit_sasl_authenticated, defer_unauth_destination",
                      lines)

    def test_names(self):
        status, out = self.conf("smtpd_timeout", "message_size_limit")
        self.assertEqual(status, 0, out)
        self.assertEqual(out, "smtpd_timeout = 2s\n"
                              "message_size_limit = 10240000\n")
        status, out = self.conf("no_such_parameter_here")
        self.assertNotEqual(status, 0, out)
        self.assertIn("no_such_parameter_here", out)


class SignalTest(RelayTestCase):

    def test_sighup_new_certificate_open_session_continues(self):
        crt = os.path.join(self.tmpdir, "hup-server.crt")
        key = os.path.join(self.tmpdir, "hup-server.key")
        shutil.copy(self.certs.rsa, crt)
        shutil.copy(self.certs.rsa_key, key)
        relay = self.relay(main={"smtpd_tls_cert_file": crt,
                                 "smtpd_tls_key_file": key})
        old = self.client(relay)
        old.ehlo()
        old.starttls(self.tls())
        old.ehlo()
        self.assertReply(old.cmd("MAIL FROM:<%s>" % SENDER), 250)

        new_key, new_crt = self.certs.new_server_cert("rsa-new")
        shutil.copy(new_crt, crt)
        shutil.copy(new_key, key)
        relay.main["smtpd_banner"] = "$myhostname ESMTP reloaded"
        relay.write_config()
        relay.signal(signal.SIGHUP)

        deadline = time.monotonic() + 10
        while True:
            s = SClient(relay.port(), "-tls1_3")
            if s.cert == self.certs.pem(new_crt):
                break
            self.assertTrue(time.monotonic() < deadline,
                            "still the old certificate 10 s after SIGHUP\n" +
                            relay.diagnostics())
            time.sleep(0.2)
        self.assertEqual(self.client(relay).greeting.lines,
                         ["220 relay.test ESMTP reloaded"])
        # The session that was open goes on where it was.
        self.assertReply(old.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(old.cmd("DATA"), 354)
        old.send(self.message() + b".\r\n")
        queued_id(old.reply())
        self.assertReply(old.cmd("QUIT"), 221)
        # Its worker finishes and leaves; the configured number remain.
        deadline = time.monotonic() + 10
        while len(relay.workers()) != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(relay.workers()), 2, relay.diagnostics())

    def test_sigterm_finishes_message_in_flight(self):
        relay = self.relay()
        c = self.client(relay)
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        self.assertReply(c.cmd("RCPT TO:<%s>" % RCPT), 250)
        self.assertReply(c.cmd("DATA"), 354)
        msg = self.message(body=b"line\r\n" * 1000)
        c.send(msg[:3000])
        relay.signal(signal.SIGTERM)
        # It stops accepting at once: the listeners close (in every
        # process), so a new client is refused rather than left waiting
        # in a backlog nobody reads...
        deadline = time.monotonic() + 5
        while (relay.port() in listening_ports() and
               time.monotonic() < deadline):
            time.sleep(0.05)
        still_listening = relay.port() in listening_ports()
        if not still_listening:
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", relay.port()),
                                         5).close()
        # ...and finishes what is in flight.
        c.send(msg[3000:] + b".\r\n")
        queue_id = queued_id(c.reply())
        self.assertEqual(relay.queue_file(queue_id).message, msg)
        self.assertReply(c.cmd("QUIT"), 221)
        relay.wait_exit()
        self.assertEqual(relay.proc.returncode, 0)
        self.assertFalse(still_listening, "port still listening 5 s after "
                         "SIGTERM, while a session was open\n" +
                         relay.diagnostics())

    def test_sigterm_idle(self):
        relay = self.relay()
        self.assertReply(self.client(relay).cmd("QUIT"), 221)
        relay.signal(signal.SIGTERM)
        relay.wait_exit()
        self.assertEqual(relay.proc.returncode, 0)
        self.assertFalse(set(relay.ports.values()) & listening_ports())


if __name__ == "__main__":
    main()
