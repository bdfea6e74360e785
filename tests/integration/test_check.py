"""`tlsrelay check`: one purpose-built bad configuration per finding, each
finding asserted as the exact line (file:line) with the exit status; a
configuration with several problems reports all of them in one run; the
sample conf/main.cf + conf/master.cf passes.

Certificates come from Python's cryptography package (Debian
python3-cryptography), which can date a certificate in the past: the
openssl 3.0 CLI cannot make an expired certificate."""

import datetime
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (HERE, MAIL_OWNER, TLSRELAY, HarnessError,  # noqa: E402
                       main, require_program)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    raise HarnessError("python3-cryptography missing (Debian package "
                       "python3-cryptography); run /usr/bin/python3")

SAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "conf"))
QMGR_LINE = "qmgr unix n - n 300 1 qmgr"
DAY = datetime.timedelta(days=1)


class Pki:
    """A root CA, an intermediate under it, and leaf certificates signed by
    either, valid from and until the days given (relative to now)."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.certs, self.keys = {}, {}
        _, self.root = self._cert("root", "check test root", None, ca=True)
        _, self.inter = self._cert("inter", "check test intermediate",
                                   "root", ca=True)

    def _cert(self, name, cn, issuer, ca=False, start=-1, end=365,
              alg="ec"):
        key = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
               if alg == "rsa" else ec.generate_private_key(ec.SECP256R1()))
        now = datetime.datetime.utcnow()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        if issuer is None:
            issuer_name, issuer_key = subject, key
        else:
            issuer_name = self.certs[issuer].subject
            issuer_key = self.keys[issuer]
        b = (x509.CertificateBuilder().subject_name(subject)
             .issuer_name(issuer_name).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now + start * DAY)
             .not_valid_after(now + end * DAY)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                            critical=True))
        if not ca:
            b = b.add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        cert = b.sign(issuer_key, hashes.SHA256())
        self.certs[name], self.keys[name] = cert, key
        key_path = os.path.join(self.dir, name + ".key")
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.chmod(key_path, 0o600)
        crt_path = os.path.join(self.dir, name + ".crt")
        with open(crt_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        return key_path, crt_path

    def leaf(self, name, cn="relay.test", start=-1, end=365, by="root",
             with_chain=False, alg="ec"):
        """(key, crt) of a server certificate; by: "root", "inter" or
        "self"; with_chain: the intermediate appended to the file; alg:
        "ec" (P-256) or "rsa" (2048 bits)."""
        key, crt = self._cert(name, cn, None if by == "self" else by,
                              start=start, end=end, alg=alg)
        if with_chain:
            with open(self.inter) as f:
                inter = f.read()
            with open(crt, "a") as f:
                f.write(inter)
        return key, crt


class CheckTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_program(TLSRELAY)
        try:
            cls.owner = pwd.getpwnam(MAIL_OWNER)
        except KeyError:
            raise HarnessError("user %s missing: run scripts/setup-debian.sh"
                               % MAIL_OWNER)
        cls.tmpdir = tempfile.mkdtemp(prefix="tlsrelay-check-")
        os.chmod(cls.tmpdir, 0o755)
        cls.pki = Pki(os.path.join(cls.tmpdir, "pki"))
        os.chmod(cls.pki.dir, 0o755)
        cls.key, cls.crt = cls.pki.leaf("good")
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def confdir(self, main_lines, master_lines=None):
        """A configuration directory: main.cf is a few base lines (queue
        and data directories of mail_owner, the good certificate and its
        CA) followed by main_lines; returns (dir, line number of the first
        of main_lines)."""
        type(self).count += 1
        d = os.path.join(self.tmpdir, "c%d-%s" % (self.count,
                                                  self._testMethodName))
        for sub in ("queue", "data"):
            os.makedirs(os.path.join(d, sub))
            os.chown(os.path.join(d, sub), self.owner.pw_uid,
                     self.owner.pw_gid)
        os.chmod(d, 0o755)
        base = ["queue_directory = %s/queue" % d,
                "data_directory = %s/data" % d,
                "mail_owner = %s" % MAIL_OWNER,
                "smtpd_tls_security_level = may",
                "smtpd_tls_CAfile = %s" % self.pki.root]
        if not any(l.startswith("smtpd_tls_cert_file") for l in main_lines):
            base += ["smtpd_tls_cert_file = %s" % self.crt,
                     "smtpd_tls_key_file = %s" % self.key]
        self.write(d, "main.cf", base + list(main_lines))
        if master_lines is None:
            master_lines = ["smtp inet n - n - - smtpd", QMGR_LINE]
        self.write(d, "master.cf", master_lines)
        return d, len(base) + 1

    @staticmethod
    def write(d, name, lines):
        with open(os.path.join(d, name), "w") as f:
            f.write("\n".join(lines) + "\n")

    def check(self, d, as_owner=False):
        def become_owner():
            os.setgroups([])
            os.setgid(self.owner.pw_gid)
            os.setuid(self.owner.pw_uid)
        res = subprocess.run([TLSRELAY, "check", "-c", d],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=become_owner if as_owner else None,
                             timeout=60)
        out = res.stdout.decode()
        # The one info line every run has (which TLS level MX-routed
        # mail gets) is no finding; test_dane_default.py asserts it.
        findings = [l for l in res.stderr.decode().splitlines()
                    if not l.startswith("tlsrelay: outbound TLS for "
                                        "MX-routed mail: ")]
        for line in findings:
            self.assertRegex(line, r"^tlsrelay: (error|warning): ")
        self.assertEqual(out, "tlsrelay check: %s: %d error(s)\n" % (
            d, sum(": error: " in l for l in findings)))
        return res.returncode, findings

    def assertFinding(self, findings, expected):
        self.assertIn(expected, findings, "\n".join(findings))

    # ---- the baseline: a good configuration has no finding -------------

    def test_clean_configuration(self):
        d, _ = self.confdir([])
        status, findings = self.check(d)
        self.assertEqual(findings, [])
        self.assertEqual(status, 0)

    def test_sample_configuration_passes(self):
        """conf/main.cf and conf/master.cf as shipped, with /etc/tlsrelay
        and the spool paths moved under a test directory holding
        certificates and the SASL table they name."""
        d = os.path.join(self.tmpdir, "sample")
        etc = os.path.join(d, "etc")
        os.makedirs(etc)
        for sub in ("queue", "data"):
            os.makedirs(os.path.join(d, sub))
            os.chown(os.path.join(d, sub), self.owner.pw_uid,
                     self.owner.pw_gid)
        os.chmod(d, 0o755)
        os.chmod(etc, 0o755)
        # The sample names rsa.* and ecdsa.*; a self-signed certificate
        # has no chain to complete.
        for name in ("rsa", "ecdsa"):
            key, crt = self.pki.leaf("sample-" + name, by="self",
                                     alg="ec" if name == "ecdsa" else "rsa")
            shutil.copy(key, os.path.join(etc, name + ".key"))
            shutil.copy(crt, os.path.join(etc, name + ".crt"))
        with open(os.path.join(etc, "sasl_users"), "w") as f:
            f.write("user@example.com {SSHA256}x\n")
        res = subprocess.run([TLSRELAY, "map", "hash:%s/sasl_users" % etc],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(res.returncode, 0, res.stdout)
        os.chmod(os.path.join(etc, "sasl_users.db"), 0o644)
        with open(os.path.join(SAMPLES, "main.cf")) as f:
            text = f.read()
        text = text.replace("/etc/tlsrelay/", etc + "/")
        text = text.replace("/var/spool/tlsrelay", d + "/queue")
        text = text.replace("/var/lib/tlsrelay", d + "/data")
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write(text)
        shutil.copy(os.path.join(SAMPLES, "master.cf"), d)
        status, findings = self.check(d)
        self.assertEqual([l for l in findings if ": error: " in l], [])
        self.assertEqual(status, 0)

    # ---- 1. values the daemon would refuse ------------------------------

    def test_refused_values_every_service(self):
        """Two services, each with its own refused override: both are
        reported, not only the first."""
        missing = os.path.join(self.tmpdir, "missing.crt")
        d, _ = self.confdir([], [
            "smtp inet n - n - - smtpd",
            "2525 inet n - n - - smtpd",
            "  -o smtpd_tls_cert_file=" + missing,
            "2526 inet n - n - - smtpd",
            "  -o smtpd_tls_ciphers=nonsense",
            QMGR_LINE])
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        self.assertEqual(len(findings), 2, findings)
        self.assertEqual(findings[0],
                         "tlsrelay: error: %s/master.cf:3: "
                         "smtpd_tls_cert_file %s: cannot open: No such file "
                         "or directory" % (d, missing))
        self.assertTrue(findings[1].startswith(
            "tlsrelay: error: %s/master.cf:5: smtpd_tls_ciphers" % d),
            findings)

    def test_refused_values_do_not_stop_the_check(self):
        """Values refused as the file is read (a level, a number) and one
        refused only when the service's policy is built (mynetworks):
        one run reports all three, with their lines, in file order for
        the first two, and goes on to the certificate checks."""
        expired_key, expired = self.pki.leaf("refused-expired",
                                             cn="old.test", start=-30,
                                             end=-1)
        d, first = self.confdir([
            "smtpd_recipient_limit = many",
            "smtp_tls_security_level = mandatory",
            "mynetworks = 10.0.0.0/33",
            "smtpd_tls_cert_file = %s" % expired,
            "smtpd_tls_key_file = %s" % expired_key])
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        self.assertEqual(findings[:3], [
            "tlsrelay: error: %s/main.cf:%d: bad numerical configuration: "
            "smtpd_recipient_limit = many" % (d, first),
            "tlsrelay: error: %s/main.cf:%d: smtp_tls_security_level: "
            "unknown level \"mandatory\" (expected none, may, encrypt, "
            "fingerprint, dane, dane-only, verify or secure)"
            % (d, first + 1),
            "tlsrelay: error: %s/main.cf:%d: mynetworks: bad prefix length "
            "in 10.0.0.0/33" % (d, first + 2)], findings)
        self.assertEqual(len(findings), 4, findings)
        self.assertRegex(findings[3], r"^tlsrelay: error: %s/main.cf:%d: "
                         r"smtpd_tls_cert_file: certificate \"old.test\" .* "
                         r"expired on" % (re.escape(d), first + 3))

    def test_key_does_not_match(self):
        other_key, _ = self.pki.leaf("other")
        d, first = self.confdir(["smtpd_tls_cert_file = %s" % self.crt,
                                 "smtpd_tls_key_file = %s" % other_key])
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        self.assertEqual(len(findings), 1, findings)
        self.assertTrue(findings[0].startswith(
            "tlsrelay: error: %s/main.cf:%d: smtpd_tls_key_file %s: "
            % (d, first + 1, other_key)), findings)

    # ---- 2. certificates --------------------------------------------------

    def test_expired_certificate(self):
        key, crt = self.pki.leaf("expired", cn="expired.test", start=-30,
                                 end=-1)
        d, first = self.confdir(["smtpd_tls_cert_file = %s" % crt,
                                 "smtpd_tls_key_file = %s" % key])
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        self.assertEqual(len(findings), 1, findings)
        self.assertRegex(findings[0], r"^tlsrelay: error: %s: "
                         r"certificate \"expired.test\" in %s expired on "
                         r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: renew it$" % (
                             re.escape("%s/main.cf:%d: smtpd_tls_cert_file"
                                       % (d, first)), re.escape(crt)))

    def test_expiring_certificate(self):
        key, crt = self.pki.leaf("expiring", cn="expiring.test", end=10)
        d, first = self.confdir(["smtpd_tls_cert_file = %s" % crt,
                                 "smtpd_tls_key_file = %s" % key])
        status, findings = self.check(d)
        self.assertEqual(status, 0)
        self.assertEqual(len(findings), 1, findings)
        self.assertRegex(findings[0], r"^tlsrelay: warning: %s: "
                         r"certificate \"expiring.test\" in %s expires on "
                         r"[-0-9: ]+UTC, within 14 days: renew it$" % (
                             re.escape("%s/main.cf:%d: smtpd_tls_cert_file"
                                       % (d, first)), re.escape(crt)))

    def test_chain_incomplete(self):
        key, crt = self.pki.leaf("leaf-inter", by="inter")
        d, first = self.confdir(["smtpd_tls_cert_file = %s" % crt,
                                 "smtpd_tls_key_file = %s" % key])
        status, findings = self.check(d)
        self.assertEqual(status, 0)
        self.assertEqual(findings, [
            "tlsrelay: warning: %s/main.cf:%d: smtpd_tls_cert_file: "
            "certificate \"relay.test\" in %s: chain incomplete: its issuer "
            "/CN=check test intermediate is neither in the file nor a "
            "trusted root: append the intermediate CA certificates to %s"
            % (d, first, crt, crt)])
        # The same certificate with its intermediate appended is complete.
        key, crt = self.pki.leaf("leaf-chain", by="inter", with_chain=True)
        d, first = self.confdir(["smtpd_tls_cert_file = %s" % crt,
                                 "smtpd_tls_key_file = %s" % key])
        self.assertEqual(self.check(d), (0, []))

    def test_client_certificate_expired(self):
        key, crt = self.pki.leaf("client-expired", cn="client.test",
                                 start=-30, end=-2)
        d, first = self.confdir(["smtp_tls_cert_file = %s" % crt,
                                 "smtp_tls_key_file = %s" % key,
                                 "smtp_tls_CAfile = %s" % self.pki.root])
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        self.assertEqual(len(findings), 1, findings)
        self.assertTrue(findings[0].startswith(
            "tlsrelay: error: %s/main.cf:%d: smtp_tls_cert_file: certificate "
            "\"client.test\" in %s expired on " % (d, first, crt)), findings)

    # ---- 3. queue manager -------------------------------------------------

    def test_no_queue_manager(self):
        d, _ = self.confdir([], ["smtp inet n - n - - smtpd"])
        status, findings = self.check(d)
        self.assertEqual(status, 0)
        self.assertEqual(findings, [
            "tlsrelay: warning: %s/master.cf:2: no queue manager: mail will "
            "be accepted and never delivered: add \"%s\"" % (d, QMGR_LINE)])

    # ---- 4. access as mail_owner ---------------------------------------------

    def test_unreadable_by_mail_owner(self):
        d, first = self.confdir(["transport_maps = texthash:%s/transport"
                                 % os.path.join(self.tmpdir, "private")])
        private = os.path.join(self.tmpdir, "private")
        os.makedirs(private, exist_ok=True)
        table = os.path.join(private, "transport")
        with open(table, "w") as f:
            f.write("example.com smtp:[127.0.0.1]:2525\n")
        os.chmod(table, 0o600)
        os.chmod(private, 0o755)
        os.chmod(os.path.join(d, "queue"), 0o700)
        os.chown(os.path.join(d, "queue"), 0, 0)
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        self.assertEqual(findings, [
            "tlsrelay: error: %s/main.cf:%d: transport_maps: %s: mail_owner "
            "%s cannot read it: Permission denied: change its owner or mode "
            "(and its parents')" % (d, first, table, MAIL_OWNER),
            "tlsrelay: error: %s/main.cf:1: queue_directory: %s/queue: "
            "mail_owner %s cannot write it: Permission denied: change its "
            "owner or mode (and its parents')" % (d, d, MAIL_OWNER)])

    def test_root_only_key_checked_by_another_user(self):
        """Keys are read by root: mode 0600 is right. Checked by another
        user, such a key is named as not checked, not as an error."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run the check as %s" % MAIL_OWNER)
        d, first = self.confdir([])
        self.assertEqual(self.check(d), (0, []))
        status, findings = self.check(d, as_owner=True)
        self.assertEqual(status, 0)
        self.assertEqual(len(findings), 1, findings)
        self.assertTrue(findings[0].startswith(
            "tlsrelay: warning: %s/main.cf:%d: smtpd_tls_key_file %s: "
            % (d, first - 1, self.key)), findings)
        self.assertTrue(findings[0].endswith(
            "Permission denied: not checked: tlsrelayd reads it as root: "
            "run tlsrelay check as root"), findings)

    # ---- 5. stale .db -------------------------------------------------------

    def test_db_older_than_source(self):
        table = os.path.join(self.tmpdir, "stale-transport")
        with open(table, "w") as f:
            f.write("example.com smtp:[127.0.0.1]:2525\n")
        res = subprocess.run([TLSRELAY, "map", "hash:" + table],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(res.returncode, 0, res.stdout)
        d, first = self.confdir(["transport_maps = hash:" + table])
        self.assertEqual(self.check(d), (0, []))
        # An edit that was never compiled.
        st = os.stat(table + ".db")
        os.utime(table, (st.st_atime + 10, st.st_mtime + 10))
        status, findings = self.check(d)
        self.assertEqual(status, 0)
        self.assertEqual(findings, [
            "tlsrelay: warning: %s/main.cf:%d: transport_maps: %s.db is "
            "older than %s: the edits since are not in effect: run "
            "\"tlsrelay map hash:%s\"" % (d, first, table, table, table)])

    # ---- 6. submission ---------------------------------------------------------

    def test_open_submission(self):
        users = os.path.join(self.tmpdir, "sasl_users")
        with open(users, "w") as f:
            f.write("user@example.com {SSHA256}x\n")
        d, _ = self.confdir([], [
            "smtp inet n - n - - smtpd",
            "submission inet n - n - - smtpd",
            "127.0.0.1:587 inet n - n - - smtpd",
            "  -o smtpd_tls_security_level=encrypt",
            "127.0.0.2:587 inet n - n - - smtpd",
            "  -o smtpd_sasl_auth_enable=yes",
            "  -o tlsrelay_smtpd_sasl_user_maps=texthash:" + users,
            "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
            QMGR_LINE])
        status, findings = self.check(d)
        self.assertEqual(status, 0)
        self.assertEqual(findings, [
            "tlsrelay: warning: %s/master.cf:2: submission service "
            "\"submission\" has neither encryption nor authentication: add "
            "-o smtpd_tls_security_level=encrypt, -o "
            "smtpd_sasl_auth_enable=yes and -o "
            "smtpd_relay_restrictions=permit_sasl_authenticated,reject" % d])

    # ---- 7. mynetworks ----------------------------------------------------

    def test_mynetworks_wider_than_host(self):
        d, first = self.confdir(["mynetworks = 127.0.0.1/32 [::1]/128"])
        self.assertEqual(self.check(d), (0, []))
        d, first = self.confdir(["mynetworks = 127.0.0.0/8, 0.0.0.0/0 "
                                 "[::1]/128 !192.0.2.1"])
        status, findings = self.check(d)
        self.assertEqual(status, 0)
        self.assertEqual(len(findings), 1, findings)
        # The host's own networks after the loopback ones depend on the
        # machine.
        self.assertRegex(findings[0], r"^tlsrelay: warning: %s/main.cf:%d: "
                         r"mynetworks: 0\.0\.0\.0/0: wider than this host's "
                         r"networks \(127\.0\.0\.0/8 \[::1\]/128[^)]*\): "
                         r"clients there may relay to any destination: "
                         r"narrow or remove it$" % (re.escape(d), first))

    # ---- 8. obsolete parameters --------------------------------------------

    def test_obsolete_parameter(self):
        d, first = self.confdir(["smtpd_use_tls = yes"])
        # smtpd_tls_security_level in the base lines wins; drop it.
        path = os.path.join(d, "main.cf")
        with open(path) as f:
            lines = f.read().splitlines()
        lines[3] = "# no level"
        self.write(d, "main.cf", lines)
        status, findings = self.check(d)
        self.assertEqual(status, 0)
        self.assertEqual(findings, [
            "tlsrelay: warning: %s/main.cf:%d: smtpd_use_tls is obsolete: "
            "use smtpd_tls_security_level = may instead" % (d, first)])

    # ---- 9. TLS policy tables -----------------------------------------------

    def test_policy_table_entries(self):
        table = os.path.join(self.tmpdir, "tls_policy")
        with open(table, "w") as f:
            f.write("good.example encrypt protocols=>=TLSv1.2\n"
                    "bad-level.example encrpyt\n"
                    "bad-attr.example verify mtach=hostname\n")
        d, first = self.confdir(["smtp_tls_policy_maps = texthash:" + table])
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        errors = [l for l in findings if ": error: " in l]
        self.assertEqual(errors, [
            "tlsrelay: error: %s: key \"%s\": unusable TLS policy \"%s\": "
            "mail to this destination is deferred: correct the entry and "
            "rebuild the table" % (table, key, value)
            for key, value in (("bad-level.example", "encrpyt"),
                               ("bad-attr.example",
                                "verify mtach=hostname"))])

    # ---- all at once ----------------------------------------------------------

    def test_every_finding_in_one_run(self):
        expired_key, expired = self.pki.leaf("many-expired", cn="old.test",
                                             start=-30, end=-1)
        missing = os.path.join(self.tmpdir, "many-missing.key")
        table = os.path.join(self.tmpdir, "many_policy")
        with open(table, "w") as f:
            f.write("x.example nonsense\n")
        d, first = self.confdir([
            "smtpd_tls_cert_file = %s" % expired,
            "smtpd_tls_key_file = %s" % expired_key,
            "smtp_tls_policy_maps = texthash:%s" % table,
            "smtpd_use_tls = yes",
        ], ["smtp inet n - n - - smtpd",
            "submission inet n - n - - smtpd",
            "  -o smtpd_tls_security_level=may",
            "2525 inet n - n - - smtpd",
            "  -o smtpd_tls_key_file=" + missing])
        status, findings = self.check(d)
        self.assertEqual(status, 1)
        expected = [
            r"warning: %s/main.cf:%d: smtpd_use_tls is obsolete" % (
                re.escape(d), first + 3),
            r"error: %s/main.cf:%d: smtpd_tls_cert_file: certificate "
            r"\"old.test\" .* expired on" % (re.escape(d), first),
            r"warning: %s/master.cf:2: submission service" % re.escape(d),
            r"error: %s/master.cf:5: smtpd_tls_key_file %s: cannot open" % (
                re.escape(d), re.escape(missing)),
            r"warning: %s/master.cf:6: no queue manager" % re.escape(d),
            r"error: %s: key \"x.example\": unusable TLS policy" %
            re.escape(table)]
        for pattern in expected:
            self.assertTrue(any(re.search(pattern, l) for l in findings),
                            "%s not in:\n%s" % (pattern,
                                                "\n".join(findings)))
        # Nothing else but the policy parser's detail line.
        self.assertEqual(len(findings), len(expected) + 1, findings)


if __name__ == "__main__":
    main()
