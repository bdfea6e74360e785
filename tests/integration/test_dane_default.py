"""The DANE default of a new installation (issue 15): `tlsrelay setup`,
when it makes main.cf from the shipped sample, asks the resolver main.cf
would use whether it validates DNSSEC -- only when that resolver is on
this host -- and writes dane in place of the sample's may when it does;
`tlsrelay check` says which level MX-routed mail gets and why.

The resolvers are the DNSSEC lab's unbound (dnssec_lab.py): with the
lab's signed root as its trust anchor it validates, with an unsigned root
it does not. A resolver off this host, named by the sample or by
/etc/resolv.conf (a file of the test mounted over it, in a mount
namespace of setup's own), is never asked. Every test runs under a
capture that asserts no packet left loopback."""

import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (HERE, TLSRELAY, RelayTestCase, main,  # noqa: E402
                       require_tools)
from dnssec_lab import DnssecLabCase, Zone  # noqa: E402

SAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "conf"))
MAY_LINE = "smtp_tls_security_level = may\n"
LEVEL = "tlsrelay setup: outbound TLS for MX-routed mail is "
HOW = ("for DANE, run a validating resolver (such as unbound) on this "
       "host, have /etc/resolv.conf or tlsrelay_dns_servers name it, and "
       "set smtp_dns_support_level = dnssec and smtp_tls_security_level "
       "= dane")
ROOT_SOA = ". SOA IN"     # the probe, as unbound logs it


def run(*args, resolv_conf=None):
    """tlsrelay args; with resolv_conf, in a mount namespace of its own
    where that file is /etc/resolv.conf (the machine's is never read)."""
    argv = [TLSRELAY] + list(args)
    if resolv_conf:
        argv = ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" '
                '/etc/resolv.conf && exec "$@"', resolv_conf] + argv
    res = subprocess.run(argv, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def read(path):
    with open(path) as f:
        return f.read()


class DaneDefaultTest(DnssecLabCase, RelayTestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.fail("needs root: setup creates users and directories")
        super().setUp()

    def sample_dir(self, dns_servers=None):
        """A configuration directory holding the shipped samples, their
        paths moved into the test's tree (with the certificates and the
        SASL table they name), tlsrelay_dns_servers added: what setup
        finds after `make install`."""
        d = os.path.join(self.tmpdir, self._testMethodName)
        etc = os.path.join(d, "etc")
        os.makedirs(etc)
        os.chmod(d, 0o755)
        os.chmod(etc, 0o755)
        for name, key, crt in (
                ("rsa", self.certs.rsa_key, self.certs.rsa),
                ("ecdsa", self.certs.ec_key, self.certs.ec)):
            shutil.copy(key, os.path.join(etc, name + ".key"))
            shutil.copy(crt, os.path.join(etc, name + ".crt"))
        with open(os.path.join(etc, "sasl_users"), "w") as f:
            f.write("user@example.com {SSHA256}x\n")
        status, out, err = run("map", "hash:%s/sasl_users" % etc)
        self.assertEqual(status, 0, out + err)
        os.chmod(os.path.join(etc, "sasl_users.db"), 0o644)
        text = read(os.path.join(SAMPLES, "main.cf"))
        self.assertEqual(text.count(MAY_LINE), 1)
        text = text.replace("/etc/tlsrelay/", etc + "/")
        text = text.replace("/var/spool/tlsrelay", d + "/queue")
        text = text.replace("/var/lib/tlsrelay", d + "/data")
        if dns_servers:
            text += "tlsrelay_dns_servers = %s\n" % dns_servers
        with open(os.path.join(d, "main.cf.sample"), "w") as f:
            f.write(text)
        shutil.copy(os.path.join(SAMPLES, "master.cf"),
                    os.path.join(d, "master.cf.sample"))
        return d

    def setup(self, d, resolv_conf=None):
        status, out, err = run("setup", "-c", d, resolv_conf=resolv_conf)
        self.assertEqual(status, 0, out + err)
        self.assertEqual(err, "")
        self.assertIn("are ready; next: tlsrelay check -c %s" % d, out)
        return out

    def check(self, d):
        """The info line of tlsrelay check on d, and its warnings about
        DNSSEC and the TLS level (the test CA's certificates are short
        lived: their warnings are not this test's)."""
        status, out, err = run("check", "-c", d)
        self.assertEqual(status, 0, out + err)
        lines = err.splitlines()
        level = [l for l in lines if l.startswith(
            "tlsrelay: outbound TLS for MX-routed mail: ")]
        self.assertEqual(len(level), 1, err)
        return level[0], [l for l in lines if ": warning: " in l and
                           re.search(r"smtp_dns_support_level|"
                                     r"smtp_tls_security_level", l)]

    def line_of(self, path, text):
        lines = read(path).splitlines()
        self.assertEqual(lines.count(text), 1, path)
        return lines.index(text) + 1

    def assertSetupAgainChangesNothing(self, d, lab=None):
        """A second setup never edits the main.cf there is, and asks the
        resolver nothing."""
        path = os.path.join(d, "main.cf")
        before, st = read(path), os.stat(path)
        asked = lab.resolver_log().count(ROOT_SOA) if lab else 0
        out = self.setup(d)
        self.assertNotIn("made from", out)
        self.assertNotIn(LEVEL, out)
        self.assertEqual(read(path), before)
        self.assertEqual((os.stat(path).st_ino, os.stat(path).st_mtime_ns),
                         (st.st_ino, st.st_mtime_ns))
        if lab:
            self.assertEqual(lab.resolver_log().count(ROOT_SOA), asked)

    def test_validating_resolver_gives_dane(self):
        """unbound with the (lab's) root trust anchor: the sample's may
        line becomes a commented block with dnssec and dane, nothing is
        set twice, and check says dane and why."""
        lab = self.lab([Zone(".", [])])
        d = self.sample_dir(lab.server)
        path = os.path.join(d, "main.cf")
        out = self.setup(d)
        self.assertIn(LEVEL + "dane: the resolver (%s) validates DNSSEC; "
                      "%s has smtp_dns_support_level = dnssec and "
                      "smtp_tls_security_level = dane\n" % (lab.server, path),
                      out)
        self.assertEqual(lab.resolver_log().count(ROOT_SOA), 1)

        sample, made = read(path + ".sample"), read(path)
        at = sample.index("\n" + MAY_LINE) + 1
        before, after = sample[:at], sample[at + len(MAY_LINE):]
        self.assertTrue(made.startswith(before) and made.endswith(after))
        block = made[len(before):len(made) - len(after)]
        self.assertRegex(block, r"^# Written by tlsrelay setup on "
                         r"\d{4}-\d\d-\d\d, when it made this file: the\n"
                         r"# resolver \(%s\) is on this host and validated "
                         r"DNSSEC" % re.escape(lab.server))
        self.assertIn("# back: smtp_tls_security_level = may, and remove "
                      "smtp_dns_support_level.\n", block)
        self.assertTrue(block.endswith("\nsmtp_dns_support_level = dnssec\n"
                                       "smtp_tls_security_level = dane\n"),
                        block)
        self.assertEqual([l for l in block.splitlines()[:-2]
                          if not l.startswith("# ")], [])

        # What the daemon reads: dane and dnssec, no "overriding earlier
        # entry" (nothing is set twice).
        status, out, err = run("conf", "-c", d, "smtp_tls_security_level",
                               "smtp_dns_support_level")
        self.assertEqual((status, out, err), (
            0, "smtp_tls_security_level = dane\n"
            "smtp_dns_support_level = dnssec\n", ""))

        level, warnings = self.check(d)
        self.assertEqual(level, "tlsrelay: outbound TLS for MX-routed mail: "
                         "dane (%s:%d): the resolver %s validates DNSSEC" % (
                             path, self.line_of(
                                 path, "smtp_tls_security_level = dane"),
                             lab.server))
        self.assertEqual(warnings, [])
        self.assertEqual(lab.resolver_log().count(ROOT_SOA), 2)
        self.assertSetupAgainChangesNothing(d, lab)

    def test_resolver_that_does_not_validate_keeps_may(self):
        """unbound without a trust anchor for the (unsigned) root: no AD
        bit, main.cf is the sample, setup says may, why, and what would
        give DANE; check says may and why without asking (no dnssec), and
        with dane and dnssec set by hand says dane works as may."""
        lab = self.lab([Zone(".", [], signed=False)])
        d = self.sample_dir(lab.server)
        path = os.path.join(d, "main.cf")
        out = self.setup(d)
        self.assertIn(LEVEL + "may: the resolver (%s) does not validate "
                      "DNSSEC; %s\n" % (lab.server, HOW), out)
        self.assertEqual(read(path), read(path + ".sample"))
        self.assertEqual(lab.resolver_log().count(ROOT_SOA), 1)

        level, warnings = self.check(d)
        self.assertEqual(level, "tlsrelay: outbound TLS for MX-routed mail: "
                         "may (%s:%d): DANE would need smtp_dns_support_level "
                         "= dnssec and a validating resolver on this host" %
                         (path, self.line_of(path, MAY_LINE.strip())))
        self.assertEqual(warnings, [])
        self.assertEqual(lab.resolver_log().count(ROOT_SOA), 1)
        self.assertSetupAgainChangesNothing(d, lab)

        # The administrator turns DANE on anyway: check warns, as before,
        # and its line says what dane then does.
        with open(path, "w") as f:
            f.write(read(path + ".sample").replace(
                MAY_LINE, "smtp_dns_support_level = dnssec\n"
                "smtp_tls_security_level = dane\n"))
        level, warnings = self.check(d)
        self.assertEqual(level, "tlsrelay: outbound TLS for MX-routed mail: "
                         "dane (%s:%d), working as may: the resolver %s does "
                         "not validate DNSSEC" % (path, self.line_of(
                             path, "smtp_tls_security_level = dane"),
                             lab.server))
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("smtp_dns_support_level = dnssec, but the resolver "
                      "(%s) does not validate DNSSEC" % lab.server,
                      warnings[0])

    def test_resolver_off_this_host_is_not_asked(self):
        """A resolver elsewhere could have its AD bit forged on the way:
        setup keeps may, says why, and sends nothing (the capture, whose
        filter takes every packet off loopback, stays empty)."""
        d = self.sample_dir("192.0.2.1")
        path = os.path.join(d, "main.cf")
        out = self.setup(d)
        self.assertIn(LEVEL + "may: the resolver (192.0.2.1) is not on this "
                      "host, and a DNSSEC answer from elsewhere could be "
                      "forged on its way (not asked); %s\n" % HOW, out)
        self.assertEqual(read(path), read(path + ".sample"))
        self.assertSetupAgainChangesNothing(d)

    def test_resolv_conf_off_this_host_is_not_asked(self):
        """No tlsrelay_dns_servers: the servers of /etc/resolv.conf count
        (here a file of the test's, mounted over it for setup alone)."""
        require_tools("unshare", "mount")
        resolv_conf = os.path.join(self.tmpdir, "resolv.conf")
        with open(resolv_conf, "w") as f:
            f.write("nameserver 192.0.2.1\n")
        d = self.sample_dir()
        path = os.path.join(d, "main.cf")
        out = self.setup(d, resolv_conf)
        self.assertIn(LEVEL + "may: the resolver (192.0.2.1 of "
                      "/etc/resolv.conf) is not on this host, and a DNSSEC "
                      "answer from elsewhere could be forged on its way "
                      "(not asked); %s\n" % HOW, out)
        self.assertEqual(read(path), read(path + ".sample"))


if __name__ == "__main__":
    main()
