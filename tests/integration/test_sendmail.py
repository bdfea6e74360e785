"""tlsrelay-sendmail, the command cron and every local program send
through: a message queued while the daemon is stopped is delivered once it
starts; a user who is not root submits through the set-group-ID program
(and cannot without it); -t takes the recipients from To:, Cc: and Bcc:
and Bcc: never reaches the next hop; the headers Postfix adds to local
mail; the lone-dot rule and -i; -f, -F and the caller's login name; the
errors and exit codes of sendmail; the notice that wakes the queue manager
at once; -bp. Postfix's default timers throughout."""

import grp
import os
import pwd
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, TLSRELAY, HarnessError,  # noqa
                       OutboundTestCase, main, require_program, wait_for)

SENDMAIL = os.path.join(os.path.dirname(TLSRELAY), "tlsrelay-sendmail")
DROP_GROUP = "tlsdrop"
USER = "nobody"                 # a caller who is not root
EX_USAGE, EX_UNAVAILABLE, EX_NOPERM = 64, 69, 77


class SendmailTest(OutboundTestCase):

    def setUp(self):
        super().setUp()
        require_program(SENDMAIL)

    def relay_and_sink(self, start=True):
        sink = self.sink()
        # Postfix's timers: nothing here may wait for one.
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost=sink.nexthop, myorigin="origin.test"),
            start=False)
        if start:
            self.start(relay)
        return relay, sink

    def stuck_relay(self):
        """A started relay whose next hop refuses: mail stays deferred."""
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS, relayhost="[127.0.0.1]:1"), start=False)
        self.start(relay)
        return relay

    def run_as(self, user, cmd):
        return subprocess.run(["runuser", "-u", user, "--"] + cmd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)

    def start(self, relay):
        """Starts the daemon and waits for maildrop/: the listeners
        answer before the queue directories are made."""
        relay.start()
        wait_for("maildrop/", lambda: os.path.isdir(os.path.join(
            relay.queue_dir, "maildrop")), 10, relay.diagnostics)

    def sendmail(self, relay, args, message, user=None, binary=SENDMAIL):
        """Runs the command with message on its standard input; returns
        (exit status, stderr)."""
        cmd = [binary, "-C", relay.dir] + list(args)
        if user is not None:
            cmd = ["runuser", "-u", user, "--"] + cmd
        res = subprocess.run(cmd, input=message, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60)
        return res.returncode, res.stderr.decode(errors="replace")

    def setgid_copy(self):
        """The command as make install leaves it: set-group-ID to the
        drop group, where any user can run it."""
        try:
            gid = grp.getgrnam(DROP_GROUP).gr_gid
        except KeyError:
            raise HarnessError("group %s missing: run scripts/setup-debian.sh"
                               % DROP_GROUP)
        directory = os.path.join(self.tmpdir, "bin-%s" % self._testMethodName)
        os.makedirs(directory)
        os.chmod(directory, 0o755)
        path = os.path.join(directory, "tlsrelay-sendmail")
        shutil.copy(SENDMAIL, path)
        os.chown(path, 0, gid)
        os.chmod(path, 0o2755)
        return path

    def maildrop(self, relay):
        d = os.path.join(relay.queue_dir, "maildrop")
        return sorted(n for n in os.listdir(d) if not n.startswith("."))

    def arrived(self, sink, count):
        return wait_for("%d messages at the sink" % count,
                        lambda: len(sink.messages()) >= count and
                        sink.messages(), 20, sink.log)

    def test_queued_while_stopped(self):
        """Submitted with the daemon down, by root and by a user through
        the set-group-ID program: both wait in maildrop/ and arrive once
        the daemon starts."""
        relay, sink = self.relay_and_sink()
        relay.stop()
        st = os.stat(os.path.join(relay.queue_dir, "maildrop"))
        self.assertEqual(st.st_mode & 0o7777, 0o1730)
        self.assertEqual(st.st_gid, grp.getgrnam(
            DROP_GROUP).gr_gid)
        status, err = self.sendmail(relay, ["root-rcpt@dest.test"],
                                    b"Subject: from root\n\nhello\n")
        self.assertEqual((status, err), (0, ""))
        status, err = self.sendmail(relay, ["user-rcpt@dest.test"],
                                    b"Subject: from nobody\n\nhi\n",
                                    user=USER, binary=self.setgid_copy())
        self.assertEqual((status, err), (0, ""))
        files = self.maildrop(relay)
        self.assertEqual(len(files), 2)
        for name in files:
            st = os.stat(os.path.join(relay.queue_dir, "maildrop", name))
            self.assertEqual(st.st_mode & 0o777, 0o544)
        owners = sorted(os.stat(os.path.join(relay.queue_dir, "maildrop",
                                             n)).st_uid for n in files)
        self.assertEqual(owners, sorted([0, pwd.getpwnam(USER).pw_uid]))

        self.start(relay)
        msgs = {m.header("Subject"): m for m in self.arrived(sink, 2)}
        root = msgs["from root"]
        self.assertEqual(root.mail_from, "root@origin.test")
        self.assertEqual(root.rcpt_tos, ["root-rcpt@dest.test"])
        user = msgs["from nobody"]
        self.assertEqual(user.mail_from, "nobody@origin.test")
        uid = pwd.getpwnam(USER).pw_uid
        self.assertRegex(user.header("Received"),
                         r"^by relay\.test \(tlsrelay, from userid %d\)\s+"
                         r"id [0-9A-F]+; " % uid)
        self.assertTrue(user.content.endswith(b"\r\n\r\nhi\r\n"),
                        user.content)
        relay.wait_log(r"tlsrelay/pickup\[\d+\]: [0-9A-F]+: uid=%d "
                       r"from=<nobody@origin\.test>$" % uid)
        self.assertEqual(self.maildrop(relay), [])

    def test_needs_the_group(self):
        """Without the set-group-ID bit a user cannot write maildrop/:
        a clear error, EX_NOPERM, nothing queued."""
        relay, _ = self.relay_and_sink()
        status, err = self.sendmail(relay, ["x@dest.test"], b"\n", user=USER)
        self.assertEqual(status, EX_NOPERM, err)
        self.assertIn("must be set-group-ID %s" % DROP_GROUP, err)
        # With it, but for a configuration the caller could change (it
        # would choose where the group writes): the group is given up.
        own = os.path.join(self.tmpdir, "conf-of-%s" % USER)
        shutil.copytree(relay.dir, own, ignore=shutil.ignore_patterns(
            "queue", "data", "maillog", "stderr"))
        uid = pwd.getpwnam(USER).pw_uid
        os.chown(own, uid, -1)
        status, err = subprocess.run(
            ["runuser", "-u", USER, "--", self.setgid_copy(), "-C", own,
             "x@dest.test"], input=b"\n", stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=60).returncode, ""
        self.assertEqual(status, EX_NOPERM)
        self.assertEqual(self.maildrop(relay), [])

    def test_extract_headers(self):
        """-t: To:, Cc: and Bcc: (groups, comments, display names, no
        domain), plus the command line; Bcc: is removed; From:, Date: and
        Message-Id: are added with -F's name."""
        relay, sink = self.relay_and_sink()
        message = (b"To: Ann <ann@dest.test>, bob@dest.test (Bob)\n"
                   b"Cc: team: carol@dest.test, \"D. Dee\" <dee@dest.test>;\n"
                   b"Bcc: hidden@dest.test,\n"
                   b" localuser\n"
                   b"Subject: extracted\n"
                   b"\n"
                   b"body line\n")
        started = time.monotonic()
        status, err = self.sendmail(relay, ["-t", "-F", "Cron Daemon",
                                            "-f", "cron", "extra@dest.test"],
                                    message)
        self.assertEqual((status, err), (0, ""))
        [m] = self.arrived(sink, 1)
        # The notice woke the queue manager: no 60 s poll, no scan.
        self.assertLess(time.monotonic() - started, 15)
        self.assertEqual(m.mail_from, "cron@origin.test")
        self.assertEqual(sorted(m.rcpt_tos), sorted([
            "ann@dest.test", "bob@dest.test", "carol@dest.test",
            "dee@dest.test", "hidden@dest.test", "localuser@origin.test",
            "extra@dest.test"]))
        self.assertNotIn(b"hidden", m.content)
        self.assertNotIn(b"Bcc", m.content)
        self.assertEqual(m.header("From"),
                         "Cron Daemon <cron@origin.test>")
        self.assertTrue(m.header("Date"))
        self.assertRegex(m.header("Message-Id"),
                         r"^<\d{14}\.[0-9A-F]+@relay\.test>$")
        self.assertIn(b"\r\nbody line\r\n", m.content)

    def test_lone_dot_and_i(self):
        relay, sink = self.relay_and_sink()
        status, _ = self.sendmail(relay, ["a@dest.test"],
                                  b"Subject: dot\n\nbefore\n.\nafter\n")
        self.assertEqual(status, 0)
        status, _ = self.sendmail(relay, ["-oi", "b@dest.test"],
                                  b"Subject: oi\n\nbefore\n.\nafter\n")
        self.assertEqual(status, 0)
        msgs = {m.header("Subject"): m for m in self.arrived(sink, 2)}
        self.assertTrue(msgs["dot"].content.endswith(b"\r\nbefore\r\n"))
        self.assertTrue(msgs["oi"].content.endswith(
            b"\r\nbefore\r\n.\r\nafter\r\n"))
        # The message's own headers stay; nothing is added twice.
        self.assertEqual(msgs["oi"].content.count(b"\r\nFrom: "), 1)

    def test_errors(self):
        relay, _ = self.relay_and_sink()
        status, err = self.sendmail(relay, [], b"Subject: x\n\n")
        self.assertEqual(status, EX_USAGE)
        self.assertIn("Recipient addresses must be specified on the "
                      "command line or via the -t option", err)
        status, err = self.sendmail(relay, ["-t"], b"Subject: x\n\n")
        self.assertEqual(status, EX_USAGE)
        self.assertIn("No recipient addresses found in message header", err)
        status, err = self.sendmail(relay, ["x" * 300 + "@dest.test"], b"\n")
        self.assertEqual(status, EX_USAGE)
        self.assertIn("address too long", err)
        status, err = self.sendmail(relay, ["-bs"], b"")
        self.assertEqual(status, EX_USAGE)
        self.assertIn("not supported", err)
        self.assertEqual(self.maildrop(relay), [])

    def test_bp_lists_the_queue(self):
        relay = self.stuck_relay()
        status, _ = self.sendmail(relay, ["-f", "me@origin.test",
                                          "stuck@dest.test"], b"x\n")
        self.assertEqual(status, 0)
        relay.wait_log(r"to=<stuck@dest\.test>, .*status=deferred", timeout=20)
        res = subprocess.run([SENDMAIL, "-C", relay.dir, "-bp"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b"me@origin.test", res.stdout)
        self.assertIn(b"stuck@dest.test", res.stdout)

    def test_mailq_for_every_user(self):
        """Any user lists the queue through the set-group-ID command (the
        queue manager's public/showq), also called as mailq; without the
        group, or without a running queue manager, a clear error."""
        relay = self.stuck_relay()
        status, _ = self.sendmail(relay, ["-f", "me@origin.test",
                                          "waiting@dest.test"], b"x\n")
        self.assertEqual(status, 0)
        relay.wait_log(r"to=<waiting@dest\.test>, .*status=deferred",
                       timeout=20)
        binary = self.setgid_copy()
        mailq = os.path.join(os.path.dirname(binary), "mailq")
        os.symlink(binary, mailq)
        for cmd in ([binary, "-C", relay.dir, "-bp"], [mailq, "-C",
                                                       relay.dir]):
            res = self.run_as(USER, cmd)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn(b"me@origin.test", res.stdout)
            self.assertIn(b"waiting@dest.test", res.stdout)
            self.assertIn(b"Connection refused", res.stdout)
            self.assertRegex(res.stdout, rb"-- \d+ Kbytes in 1 Request\.")
        # Acting on the queue stays privileged.
        res = self.run_as(USER, [TLSRELAY, "queue", "-c", relay.dir, "flush"])
        self.assertEqual(res.returncode, 1)
        self.assertIn(b"permission denied", res.stderr)
        # Without the group: public/ is closed to the user.
        res = self.run_as(USER, [SENDMAIL, "-C", relay.dir, "-bp"])
        self.assertEqual(res.returncode, EX_UNAVAILABLE, res.stderr)
        self.assertIn(b"Permission denied", res.stderr)
        relay.stop()
        res = self.run_as(USER, [binary, "-C", relay.dir, "-bp"])
        self.assertEqual(res.returncode, EX_UNAVAILABLE, res.stderr)
        self.assertIn(b"Queue report unavailable - mail system is down",
                      res.stderr)


if __name__ == "__main__":
    main()
