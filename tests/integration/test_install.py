"""`make install` and `tlsrelay setup` make a tree that starts (issue 14).

`make install DESTDIR=D` puts the programs, the samples (naming this
build's sysconfdir and localstatedir), the unit and the manual pages in
D. `tlsrelay setup -c CONFDIR` then makes main.cf and master.cf from the
samples, the user and the group, and the queue and data directories with
the owners and modes tlsrelayd wants; the tlsrelayd of D starts on it and
takes a message."""

import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (RelayTestCase, free_port, listening_ports,  # noqa
                       main, stop_pid)

TOP_BUILDDIR = os.environ.get("TOP_BUILDDIR", os.getcwd())


def configured(var):
    """A directory variable of this build (prefix expanded)."""
    out = subprocess.run(["sh", "-c", "sed -n 's/^%s = //p' Makefile" % var],
                         cwd=TOP_BUILDDIR, stdout=subprocess.PIPE,
                         check=True).stdout.decode().strip()
    prefix = configured_raw("prefix")
    return out.replace("${prefix}", prefix).replace("$(prefix)", prefix)


def configured_raw(var):
    return subprocess.run(["sh", "-c", "sed -n 's/^%s = //p' Makefile" %
                           var], cwd=TOP_BUILDDIR, stdout=subprocess.PIPE,
                          check=True).stdout.decode().strip()


class InstallTest(RelayTestCase):

    def test_install_setup_start(self):
        if os.geteuid() != 0:
            self.fail("needs root: setup creates users and directories")
        dest = tempfile.mkdtemp(prefix="tlsrelay-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        os.chmod(dest, 0o755)     # mail_owner reaches the queue in it
        res = subprocess.run(["make", "-s", "install", "DESTDIR=" + dest],
                             cwd=TOP_BUILDDIR, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=600)
        self.assertEqual(res.returncode, 0, res.stdout.decode()[-3000:])
        sysconfdir = configured("sysconfdir")
        localstatedir = configured("localstatedir")
        sbindir = configured("sbindir").replace("${exec_prefix}",
                                                configured("exec_prefix"))
        bindir = configured("bindir").replace("${exec_prefix}",
                                              configured("exec_prefix"))
        tlsrelay = dest + bindir + "/tlsrelay"
        tlsrelayd = dest + sbindir + "/tlsrelayd"
        samples = dest + sysconfdir + "/tlsrelay"
        with open(os.path.join(samples, "main.cf.sample")) as f:
            sample = f.read()
        # The samples name this build's directories, not /etc.
        self.assertIn(sysconfdir + "/tlsrelay/rsa.crt", sample)
        self.assertIn(localstatedir + "/spool/tlsrelay", sample)
        self.assertNotIn("/etc/tlsrelay/", sample.replace(
            sysconfdir + "/tlsrelay/", ""))
        for d in ("spool/tlsrelay", "lib/tlsrelay"):
            self.assertTrue(os.path.isdir(dest + localstatedir + "/" + d))

        # A configuration directory with the samples, their paths moved
        # into the test's tree (setup works on what the files say).
        conf = os.path.join(dest, "t-conf")
        etc = os.path.join(dest, "t-etc")
        os.makedirs(conf)
        os.makedirs(etc)
        for name in ("rsa", "ecdsa"):
            key, crt = ((self.certs.rsa_key, self.certs.rsa) if name == "rsa"
                        else (self.certs.ec_key, self.certs.ec))
            shutil.copy(key, os.path.join(etc, name + ".key"))
            shutil.copy(crt, os.path.join(etc, name + ".crt"))
        with open(os.path.join(etc, "sasl_users"), "w") as f:
            f.write("user@example.com {SSHA256}x\n")
        subprocess.run([tlsrelay, "map", "hash:%s/sasl_users" % etc],
                       check=True)
        sample = sample.replace(sysconfdir + "/tlsrelay/", etc + "/")
        sample = sample.replace(localstatedir + "/spool/tlsrelay",
                                dest + "/queue")
        sample = sample.replace(localstatedir + "/lib/tlsrelay",
                                dest + "/data")
        sample += "\nmaillog_file = %s/maillog\n" % dest
        # A resolver on this host where nothing answers: setup asks it
        # (never the machine's resolver) and keeps may.
        sample += "tlsrelay_dns_servers = 127.0.0.1:1\n"
        with open(os.path.join(conf, "main.cf.sample"), "w") as f:
            f.write(sample)
        port = free_port()
        with open(os.path.join(samples, "master.cf.sample")) as f:
            master = f.read()
        master = re.sub(r"^smtp(\s+inet)", r"127.0.0.1:%d\1" % port, master,
                        flags=re.M)
        master = re.sub(r"^(submission|submissions|smtps)\s+inet.*\n"
                        r"(?:[ \t]+.*\n)*", "", master, flags=re.M)
        with open(os.path.join(conf, "master.cf.sample"), "w") as f:
            f.write(master)

        res = subprocess.run([tlsrelay, "setup", "-c", conf],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=60)
        out = res.stdout.decode()
        self.assertEqual(res.returncode, 0, out)
        self.assertIn("%s/main.cf made from %s/main.cf.sample" % (conf, conf),
                      out)
        self.assertIn("are ready; next: tlsrelay check -c %s" % conf, out)
        self.assertIn("tlsrelay setup: outbound TLS for MX-routed mail is "
                      "may: the resolver (127.0.0.1:1) did not say whether "
                      "it validates DNSSEC", out)
        with open(os.path.join(conf, "main.cf")) as f:
            self.assertEqual(f.read(), sample)
        owner = pwd.getpwnam("tlsrelay")
        st = os.stat(os.path.join(dest, "queue", "incoming"))
        self.assertEqual((st.st_uid, st.st_mode & 0o777),
                         (owner.pw_uid, 0o700))
        self.assertTrue(os.path.isdir(os.path.join(dest, "data")))
        # Again: nothing to do, nothing changed.
        res = subprocess.run([tlsrelay, "setup", "-c", conf],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=60)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertNotIn(b"made from", res.stdout)

        # The installed daemon starts on it and takes a message.
        proc = subprocess.Popen([tlsrelayd, "-f", "-c", conf],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)
        self.addCleanup(stop_pid, proc)
        deadline = time.monotonic() + 30
        while port not in listening_ports():
            self.assertIsNone(proc.poll(), "tlsrelayd exited")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.ehlo("client.test")
            c.sendmail("a@client.test", ["postmaster@example.com"],
                       "Subject: installed\r\n\r\nhello\r\n")
        stop_pid(proc)
        self.assertEqual(proc.returncode, 0)


if __name__ == "__main__":
    main()
