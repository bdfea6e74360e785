"""The systemd unit `make install` puts in place (issue 14): it passes
`systemd-analyze verify`, and `systemd-analyze security` rates it "OK",
at 2.5 or lower, the issue's target (what is left is what the
supervisor needs, as the unit's comments say). The unit is the one this build generated, with ExecStart
pointing at this build's tlsrelayd (verify checks that the program
exists) and the manual pages of this tree on MANPATH (verify runs `man`
for each Documentation= entry)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import TLSRELAYD, main, require_tools  # noqa: E402

TOP_SRCDIR = os.environ.get("TOP_SRCDIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOP_BUILDDIR = os.environ.get("TOP_BUILDDIR", os.getcwd())
TARGET = 2.5


class UnitTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_tools("systemd-analyze", "man")
        cls.tmp = tempfile.mkdtemp(prefix="tlsrelay-unit-")
        built = os.path.join(TOP_BUILDDIR, "scripts", "tlsrelay.service")
        if not os.path.exists(built):
            subprocess.run(["make", "-C", TOP_BUILDDIR,
                            "scripts/tlsrelay.service"], check=True,
                           stdout=subprocess.DEVNULL)
        with open(built) as f:
            text = f.read()
        cls.exec_start = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
        text = text.replace(cls.exec_start, os.path.abspath(TLSRELAYD), 1)
        cls.unit = os.path.join(cls.tmp, "tlsrelay.service")
        with open(cls.unit, "w") as f:
            f.write(text)
        cls.man = os.path.join(cls.tmp, "man")
        for page, section in (("tlsrelayd.8", "8"), ("tlsrelay.5", "5"),
                              ("tlsrelay.1", "1")):
            d = os.path.join(cls.man, "man" + section)
            os.makedirs(d, exist_ok=True)
            shutil.copy(os.path.join(TOP_SRCDIR, "man", page), d)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def analyze(self, *args):
        env = dict(os.environ, MANPATH=self.man, SYSTEMD_PAGER="",
                   SYSTEMD_COLORS="0")
        res = subprocess.run(["systemd-analyze"] + list(args), env=env,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=120)
        return res.returncode, res.stdout.decode()

    def test_verify(self):
        status, out = self.analyze("verify", self.unit)
        self.assertEqual((status, out), (0, ""))

    def test_installed_paths(self):
        self.assertTrue(self.exec_start.endswith("/sbin/tlsrelayd"))
        with open(self.unit) as f:
            text = f.read()
        self.assertIn("Type=notify", text)
        self.assertRegex(text, r"ReadWritePaths=\S+/spool/tlsrelay \S+/lib/"
                         r"tlsrelay")

    def test_security_score(self):
        status, out = self.analyze("security", "--offline=true", self.unit)
        m = re.search(r"Overall exposure level for tlsrelay\.service: "
                      r"(\d+\.\d+) (\S+)", out)
        self.assertTrue(m, out)
        self.assertLessEqual(float(m.group(1)), TARGET, out)
        self.assertEqual(m.group(2), "OK", out)


if __name__ == "__main__":
    main()
