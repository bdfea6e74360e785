"""The log tools a Postfix administrator already runs, pointed at a log
that tlsrelayd wrote during the test: fail2ban-regex with the shipped
filter (conf/fail2ban/filter.d/tlsrelay.conf) in the normal, auth and
aggressive modes, and pflogsumm --syslog-name=tlsrelay. Each must count
exactly what the test did: messages received, delivered, deferred and
bounced, relay rejects, failed logins, bytes, senders and hosts.

The relay keeps Postfix's default timers (a deferred message is not tried
again during the test). Nothing is started as a service: fail2ban-regex
and pflogsumm only read the log."""

import base64
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, TLSRELAY, OutboundTestCase,  # noqa
                       main, queued_id, require_program, require_tools,
                       run_tool)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FILTER = os.path.join(TOP, "conf", "fail2ban", "filter.d", "tlsrelay.conf")
JAIL = os.path.join(TOP, "conf", "fail2ban", "jail.d", "tlsrelay.conf")

SENDER = "sender@client.test"
DELIVERED = ["ok%d@dest.test" % i for i in range(3)]
BOUNCED = "gone@dest.test"
DEFERRED = "later@dest.test"
OUTSIDER = "127.0.0.2"          # not in mynetworks: relaying is refused
RELAY_REJECTS = 4
CRACKER = "127.0.0.3"           # tries passwords on submission
AUTH_FAILURES = 2
USER, PASSWORD = "bob", "correct horse battery"


class LogToolsTest(OutboundTestCase):

    def make_log(self):
        """Runs the scenario against a relay; returns (relay, sink, the
        size= of every message the qmgr logged, by queue ID)."""
        require_program(TLSRELAY)
        sink = self.sink(replies={"rcpt": {
            BOUNCED: ["550 5.1.1 No such user"],
            DEFERRED: ["450 4.2.0 Try again later"]}})
        users = os.path.join(self.tmpdir, "users-%s" % self._testMethodName)
        # Postfix's timers: the deferred message waits 300 s.
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost=sink.nexthop,
            tlsrelay_smtpd_sasl_user_maps="hash:" + users), services={
            "smtp": {},
            "submission": {"smtpd_tls_security_level": "encrypt",
                           "smtpd_sasl_auth_enable": "yes",
                           "smtpd_client_restrictions":
                               "permit_sasl_authenticated,reject"},
        }, start=False)
        status, out = run_tool([TLSRELAY, "passwd", "-c", relay.dir, USER],
                               input=(PASSWORD + "\n").encode())
        self.assertEqual(status, 0, out)
        relay.start()

        ids = {}
        for rcpt in DELIVERED + [BOUNCED, DEFERRED]:
            ids[rcpt] = self.submit(relay, SENDER, [rcpt], self.message(
                subject="to " + rcpt, body=b"x" * (100 * len(ids)) + b"\r\n"))

        for i in range(RELAY_REJECTS):
            c = self.client(relay, source=OUTSIDER)
            c.ehlo()
            self.assertReply(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
            self.assertReply(c.cmd("RCPT TO:<victim%d@elsewhere.test>" % i),
                             454)
            c.cmd("QUIT")

        c = self.client(relay, "submission", source=CRACKER)
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        for i in range(AUTH_FAILURES):
            self.assertReply(c.cmd("AUTH PLAIN " + plain(USER, "guess%d" % i)),
                             535)
        c.cmd("QUIT")
        relay.wait_log(r"disconnect from unknown\[%s\]" %
                       re.escape(CRACKER))

        # Positive markers: every outcome is in the log.
        for rcpt in DELIVERED:
            relay.wait_log(r": %s: to=<%s>, .*status=sent" %
                           (ids[rcpt], re.escape(rcpt)), timeout=20)
        relay.wait_log(r": %s: to=<%s>, .*status=bounced" %
                       (ids[BOUNCED], re.escape(BOUNCED)), timeout=20)
        relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                       (ids[DEFERRED], re.escape(DEFERRED)), timeout=20)
        dsn = relay.wait_log(r": %s: sender non-delivery notification: "
                             r"([0-9A-F]+)$" % ids[BOUNCED])[0]
        dsn_id = dsn.rsplit(" ", 1)[1]
        relay.wait_log(r": %s: to=<%s>, .*status=sent" %
                       (dsn_id, re.escape(SENDER)), timeout=20)
        relay.wait_log(r": %s: removed$" % dsn_id, timeout=20)

        sizes = {}
        for line in relay.maillog().splitlines():
            m = re.search(r"tlsrelay/qmgr\[\d+\]: ([0-9A-F]+): from=<([^>]*)>, "
                          r"size=(\d+), nrcpt=(\d+) \(queue active\)$", line)
            if m:
                self.assertNotIn(m.group(1), sizes, "logged twice: " + line)
                self.assertEqual(m.group(4), "1", line)
                sizes[m.group(1)] = int(m.group(3))
        self.assertEqual(sorted(sizes), sorted(list(ids.values()) +
                                               [dsn_id]))
        # size= is the queued content, as the sink received it.
        arrived = {m.header("Subject"): m for m in sink.messages()}
        for rcpt in DELIVERED:
            self.assertEqual(sizes[ids[rcpt]],
                             arrived["to " + rcpt].meta["size"])
        # The message-id= line at receipt carries the message's own.
        for rcpt in DELIVERED:
            relay.wait_log(r"tlsrelay/smtpd\[\d+\]: %s: message-id=%s$" % (
                ids[rcpt], re.escape(arrived["to " + rcpt].message_id)))
        return relay, sink, ids, dsn_id, sizes

    # ------------------------------------------------------------ fail2ban

    def fail2ban_regex(self, relay, mode):
        """fail2ban-regex over the relay's log with the shipped filter in
        mode; returns the number of matched lines, checking that every
        match names the host the test sent it from."""
        require_tools("fail2ban-regex")
        conf = os.path.join(self.tmpdir, "fail2ban-%s" % self._testMethodName)
        if not os.path.isdir(conf):
            shutil.copytree("/etc/fail2ban", conf)
            shutil.copy(FILTER, os.path.join(conf, "filter.d"))
        status, out = run_tool(["fail2ban-regex", "-c", conf,
                                "--print-all-matched", relay.maillog_path,
                                "tlsrelay[mode=%s]" % mode], timeout=120)
        self.assertEqual(status, 0, out)
        m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched",
                      out, re.MULTILINE)
        self.assertTrue(m, out)
        return int(m.group(3)), out

    def test_fail2ban(self):
        relay, _, _, _, _ = self.make_log()
        relay.stop()
        matched, out = self.fail2ban_regex(relay, "normal")
        self.assertEqual(matched, RELAY_REJECTS, out)
        self.assertEqual(out.count("unknown[%s]: 454 4.7.1" % OUTSIDER),
                         RELAY_REJECTS, out)
        matched, out = self.fail2ban_regex(relay, "auth")
        self.assertEqual(matched, AUTH_FAILURES, out)
        self.assertEqual(out.count("unknown[%s]: SASL PLAIN authentication "
                                   "failed" % CRACKER), AUTH_FAILURES, out)
        # aggressive: both, and the disconnect line of the session whose
        # logins all failed (auth=0/2), as for Postfix.
        matched, out = self.fail2ban_regex(relay, "aggressive")
        self.assertEqual(matched, RELAY_REJECTS + AUTH_FAILURES + 1, out)
        self.assertRegex(out, r"disconnect from unknown\[%s\] .*auth=0/%d" %
                         (re.escape(CRACKER), AUTH_FAILURES))

    def test_fail2ban_files(self):
        """The jail file names the filter and its auth mode, and both
        files parse as fail2ban configuration."""
        require_tools("fail2ban-client")
        with open(JAIL) as f:
            jail = f.read()
        self.assertRegex(jail, r"(?m)^filter\s*=\s*tlsrelay$")
        self.assertRegex(jail, r"(?m)^filter\s*=\s*tlsrelay\[mode=auth\]$")
        conf = os.path.join(self.tmpdir, "fail2ban-files")
        shutil.copytree("/etc/fail2ban", conf)
        shutil.copy(FILTER, os.path.join(conf, "filter.d"))
        with open(os.path.join(conf, "jail.d", "tlsrelay.conf"), "w") as f:
            f.write(jail.replace("enabled  = false", "enabled  = true")
                    .replace("/var/log/mail.log",
                             os.path.join(self.tmpdir, "mail.log")))
        open(os.path.join(self.tmpdir, "mail.log"), "w").close()
        status, out = run_tool(["fail2ban-client", "-c", conf, "-d"],
                               timeout=120)
        self.assertEqual(status, 0, out)
        self.assertIn("'tlsrelay-sasl'", out)
        self.assertRegex(out, r"\['add', 'tlsrelay', ")

    # ------------------------------------------------------------ pflogsumm

    def test_pflogsumm(self):
        require_tools("pflogsumm")
        relay, _, ids, dsn_id, sizes = self.make_log()
        relay.stop()
        status, out = run_tool(["pflogsumm", "--syslog-name=tlsrelay",
                                "--smtpd-stats", relay.maillog_path],
                               timeout=120)
        self.assertEqual(status, 0, out)
        totals = {}
        for m in re.finditer(r"^\s+(\d+)\s+(received|delivered|deferred|"
                             r"bounced|rejected|bytes received|"
                             r"bytes delivered|senders|"
                             r"sending hosts/domains)\b", out, re.MULTILINE):
            totals[m.group(2)] = int(m.group(1))
        received = list(ids.values())
        self.assertEqual(totals.get("received"), len(received), out)
        # The three, and the DSN to the sender.
        self.assertEqual(totals.get("delivered"), len(DELIVERED) + 1, out)
        self.assertEqual(totals.get("deferred"), 1, out)
        self.assertEqual(totals.get("bounced"), 1, out)
        self.assertEqual(totals.get("rejected"), RELAY_REJECTS, out)
        self.assertEqual(totals.get("bytes received"),
                         sum(sizes[i] for i in received), out)
        self.assertEqual(totals.get("bytes delivered"),
                         sum(sizes[ids[r]] for r in DELIVERED) +
                         sizes[dsn_id], out)
        self.assertEqual(totals.get("senders"), 1, out)
        self.assertEqual(totals.get("sending hosts/domains"), 1, out)
        # Messages received by sending domain, with their bytes.
        self.assertRegex(out, r"(?m)^\s+%d\s+%d\s+client\.test$" % (
            len(received), totals["bytes received"]))
        self.assertRegex(out, r"(?m)^\s+%d\s+%s$" % (len(received),
                                                      re.escape(SENDER)))
        # smtpd sessions: the submissions, the outsider's, the cracker's.
        sessions = len(received) + RELAY_REJECTS + 1
        self.assertRegex(out, r"(?m)^\s+%d\s+connections$" % sessions)
        self.assertRegex(out, r"(?m)^\s+3\s+hosts/domains$")
        self.assertRegex(out, r"Relay access denied \(total: %d\)" %
                         RELAY_REJECTS)

    def test_service_syslog_name(self):
        """master.cf -o syslog_name=tlsrelay/submission names every line
        of that service's sessions, as in Postfix, and pflogsumm counts
        them with the others."""
        require_tools("pflogsumm")
        sink = self.sink()
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost=sink.nexthop), services={
            "smtp": {},
            "submission": {"syslog_name": "tlsrelay/submission",
                           "smtpd_tls_security_level": "encrypt"},
        })
        ids = [self.submit(relay, SENDER, ["a@dest.test"], self.message())]
        c = self.client(relay, "submission")
        c.ehlo()
        c.starttls(self.tls())
        c.ehlo()
        ids.append(queued_id(c.send_message(SENDER, ["b@dest.test"],
                                            self.message())))
        c.cmd("QUIT")
        c.close()
        for queue_id in ids:
            relay.wait_log(r": %s: removed$" % queue_id, timeout=20)
        relay.wait_log(r"tlsrelay/submission/smtpd\[\d+\]: disconnect from ")
        log = relay.maillog()
        sub = r"tlsrelay/submission/smtpd\[\d+\]: "
        self.assertRegex(log, sub + r"connect from unknown\[127\.0\.0\.1\]")
        self.assertRegex(log, sub + r"Anonymous TLS connection established")
        self.assertRegex(log, sub + re.escape(ids[1]) + r": client=")
        self.assertRegex(log, sub + re.escape(ids[1]) + r": message-id=<")
        # The other service's lines keep the global name.
        self.assertRegex(log, r"tlsrelay/smtpd\[\d+\]: " +
                         re.escape(ids[0]) + r": client=")
        self.assertNotRegex(log, r"tlsrelay/submission/smtpd\[\d+\]: " +
                            re.escape(ids[0]))
        relay.stop()
        status, out = run_tool(["pflogsumm", "--syslog-name=tlsrelay",
                                relay.maillog_path], timeout=120)
        self.assertEqual(status, 0, out)
        self.assertRegex(out, r"(?m)^\s+2\s+received$")
        self.assertRegex(out, r"(?m)^\s+2\s+delivered$")


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


if __name__ == "__main__":
    main()
