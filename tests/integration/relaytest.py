"""relaytest: the harness of tlsrelay's integration tests.

Starts the real tlsrelayd with a configuration written from Python dicts and
certificates made by the openssl CLI at test time, and gives the tests real
clients (raw sockets, smtplib, swaks, openssl s_client), the maillog and a
reader for queue files. Every process a test starts is stopped by PID in a
cleanup; a daemon that does not exit on SIGTERM fails the test.

Run with /usr/bin/python3 (Debian's python3-* packages import there). The
programs come from $TLSRELAYD / $TLSRELAY (set by `make check`), else from
the top of the build tree relative to this file.
"""

import atexit
import collections
import email.utils
import json
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TLSRELAYD = os.environ.get("TLSRELAYD") or os.path.normpath(
    os.path.join(HERE, "..", "..", "tlsrelayd"))
TLSRELAY = os.environ.get("TLSRELAY") or os.path.normpath(
    os.path.join(HERE, "..", "..", "tlsrelay"))

MAIL_OWNER = "tlsrelay"
START_TIMEOUT = 10
STOP_TIMEOUT = 10
IO_TIMEOUT = 10

# A worker that crashed, or a fatal error, fails the test that saw it.
CRASH_LINE = re.compile(r"(?m)^.*(\bwarning: process \S+ pid \d+ "
                        r"(killed by signal|exit status)|\b(fatal|panic): ).*$")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


class HarnessError(AssertionError):
    """A broken test set-up: reported as a failure, never as a skip."""


def require_tools(*names):
    for name in names:
        if shutil.which(name) is None:
            raise HarnessError(
                "required tool %r not found: run scripts/setup-debian.sh --test" % name)


def require_program(path):
    if not os.access(path, os.X_OK):
        raise HarnessError("%s is not built (set TLSRELAYD / TLSRELAY or "
                           "run from the build tree)" % path)


# ---------------------------------------------------------------- ports

_handed_out = set()


def port_is_free(port, host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


# Test programs run in parallel (make -j): a port one of them picked is
# free until its daemon binds it, seconds later for Postfix. A port is
# claimed across processes with a file made with O_EXCL, removed when
# the claiming process ends; a file whose process is gone is taken over.
PORT_CLAIMS = "/tmp/tlsrelay-test-ports"


def _claim(port):
    os.makedirs(PORT_CLAIMS, mode=0o1777, exist_ok=True)
    path = os.path.join(PORT_CLAIMS, str(port))
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                with open(path) as f:
                    owner = int(f.read().strip() or 0)
            except (OSError, ValueError):
                return False
            if owner and os.path.exists("/proc/%d" % owner):
                return False
            try:
                os.unlink(path)     # its process is gone
            except FileNotFoundError:
                pass
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


@atexit.register
def _release_claims():
    for port in _handed_out:
        path = os.path.join(PORT_CLAIMS, str(port))
        try:
            with open(path) as f:
                if f.read().strip() == str(os.getpid()):
                    os.unlink(path)
        except (OSError, ValueError):
            pass


def free_port(low=20000, high=32767, host="127.0.0.1"):
    """A free TCP port on host, below the kernel's ephemeral range so that
    outgoing client connections never take it before the daemon binds it,
    and never the same one twice, in this process or another test
    program running alongside."""
    for _ in range(1000):
        port = random.randint(low, high)
        if port not in _handed_out and port_is_free(port, host) and \
                _claim(port):
            _handed_out.add(port)
            return port
    raise HarnessError("no free port in %d-%d" % (low, high))


def listening_sockets():
    """{socket inode: port} of every TCP socket in LISTEN state, from
    /proc/net/tcp and tcp6."""
    sockets = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":
                        sockets[int(fields[9])] = int(
                            fields[1].rsplit(":", 1)[1], 16)
        except FileNotFoundError:
            pass
    return sockets


def listening_ports():
    """Ports in LISTEN state: checking readiness this way leaves no
    connection in the daemon's log."""
    return set(listening_sockets().values())


def listening_inodes(port):
    """Socket inodes listening on port."""
    return {inode for inode, p in listening_sockets().items() if p == port}


# ---------------------------------------------------------------- files

def read_text(path):
    """A log file's text so far ("" before it exists), bytes that are not
    UTF-8 replaced."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


# ------------------------------------------------------------ processes

def proc_stat(pid):
    """(state, ppid, pgrp) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def all_pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def _live_pids(field, value):
    """Live (non-zombie) processes whose proc_stat()[field] is value."""
    pids = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[field] == value and st[0] != "Z":
            pids.append(pid)
    return pids


def group_members(pgrp):
    """Live processes in process group pgrp."""
    return _live_pids(2, pgrp)


def children_of(ppid):
    """Live children of ppid."""
    return _live_pids(1, ppid)


def proc_status(pid):
    """/proc/PID/status as a dict of strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def wait_dropped(pid, uid, timeout=10):
    """The /proc status of pid once it runs as uid (real, effective,
    saved and filesystem): a worker is forked as root and drops before it
    serves anything, so for a moment after the fork it is still root."""
    wait_for("pid %d to run as uid %d" % (pid, uid),
             lambda: proc_status(pid).get("Uid", "").split() ==
             [str(uid)] * 4, timeout,
             lambda: "Uid %s" % proc_status(pid).get("Uid"))
    return proc_status(pid)


def proc_socket_inodes(pid):
    inodes = set()
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", target)
        if m:
            inodes.add(int(m.group(1)))
    return inodes


# --------------------------------------------------------- certificates

def openssl(*args, cwd=None):
    res = subprocess.run(("openssl",) + args, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60)
    if res.returncode != 0:
        raise HarnessError("openssl %s failed:\n%s" % (
            " ".join(args), res.stdout.decode(errors="replace")))
    return res.stdout


class Certs:
    """A test CA, RSA 2048 and EC P-256 server certificates for relay.test
    (SAN relay.test and 127.0.0.1) signed by it, a client certificate
    signed by it and a self-signed "wrong CA" client certificate. Keys are
    mode 0600: the daemon reads them as root before it drops privileges."""

    SERVER_NAME = "relay.test"

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        self.ca_key, self.ca = self._self_signed(
            "ca", "tlsrelay test CA", ("EC", "ec_paramgen_curve:P-256"),
            ca=True)
        self.rsa_key, self.rsa = self._signed(
            "rsa", self.SERVER_NAME, ("RSA", "rsa_keygen_bits:2048"),
            "serverAuth", "DNS:relay.test,IP:127.0.0.1")
        self.ec_key, self.ec = self._signed(
            "ec", self.SERVER_NAME, ("EC", "ec_paramgen_curve:P-256"),
            "serverAuth", "DNS:relay.test,IP:127.0.0.1")
        self.client_key, self.client = self._signed(
            "client", "client.test", ("EC", "ec_paramgen_curve:P-256"),
            "clientAuth", "DNS:client.test")
        self.wrong_key, self.wrong = self._self_signed(
            "wrong", "client.test", ("EC", "ec_paramgen_curve:P-256"),
            ca=False)

    def _key(self, name, alg):
        path = os.path.join(self.dir, name + ".key")
        openssl("genpkey", "-quiet", "-algorithm", alg[0], "-pkeyopt", alg[1],
                "-out", path)
        os.chmod(path, 0o600)
        return path

    def _self_signed(self, name, cn, alg, ca):
        key = self._key(name, alg)
        crt = os.path.join(self.dir, name + ".crt")
        ext = (["-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign"] if ca else
               ["-addext", "basicConstraints=CA:FALSE",
                "-addext", "extendedKeyUsage=clientAuth"])
        openssl("req", "-new", "-x509", "-key", key, "-out", crt, "-days", "2",
                "-subj", "/CN=" + cn, *ext)
        return key, crt

    def _signed(self, name, cn, alg, usage, san):
        key = self._key(name, alg)
        crt = os.path.join(self.dir, name + ".crt")
        openssl("req", "-new", "-x509", "-CA", self.ca, "-CAkey", self.ca_key,
                "-key", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn,
                "-addext", "basicConstraints=CA:FALSE",
                "-addext", "extendedKeyUsage=" + usage,
                "-addext", "subjectAltName=" + san)
        return key, crt

    def new_server_cert(self, name, alg=("RSA", "rsa_keygen_bits:2048")):
        """Another certificate for relay.test from the same CA: (key, crt)."""
        return self._signed(name, self.SERVER_NAME, alg, "serverAuth",
                            "DNS:relay.test,IP:127.0.0.1")

    def new_client_cert(self, name, cn):
        """Another client certificate from the same CA: (key, crt)."""
        return self._signed(name, cn, ("EC", "ec_paramgen_curve:P-256"),
                            "clientAuth", "DNS:" + cn)

    def pem(self, path):
        with open(path) as f:
            return f.read().strip()

    def client_context(self, cert=None, key=None, verify=True):
        """An ssl context for smtplib and raw clients. With verify, the
        server must show a certificate of our CA for its name."""
        ctx = ssl.create_default_context(cafile=self.ca)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx


# ----------------------------------------------------------- the daemon

class TestCA:
    """A directory of test CAs and server certificates made with openssl
    (EC P-256, two days). Certificates are world-readable, keys 0600:
    the relay's queue manager (user tlsrelay) reads CA files."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        """A CA: name.crt and name.key; returns name."""
        openssl("req", "-x509", "-days", "2", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.path(name + ".key"),
                "-out", self.path(name + ".crt"), "-subj", "/CN=" + cn,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(self.path(name + ".crt"), 0o644)
        return name

    def _leaf(self, name, ca, san):
        """A server certificate of CA ca (a name from _ca), or
        self-signed (ca None), for the subjectAltName san
        ("DNS:a,DNS:b"; the first is the CN). Returns what Sink and
        PostfixPeer read from a certs object."""
        cn = san.split(",")[0].split(":", 1)[1]
        issuer = ["-CA", self.path(ca + ".crt"),
                  "-CAkey", self.path(ca + ".key")] if ca else []
        openssl("req", "-x509", "-days", "2", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", *issuer,
                "-keyout", self.path(name + ".key"),
                "-out", self.path(name + ".crt"), "-subj", "/CN=" + cn,
                "-addext", "basicConstraints=CA:FALSE",
                "-addext", "extendedKeyUsage=serverAuth",
                "-addext", "subjectAltName=" + san)
        os.chmod(self.path(name + ".key"), 0o600)
        os.chmod(self.path(name + ".crt"), 0o644)
        return types.SimpleNamespace(rsa=self.path(name + ".crt"),
                                     rsa_key=self.path(name + ".key"))


def default_services():
    return {
        "smtp": {},
        "smtps": {"smtpd_tls_wrappermode": "yes"},
        "submission": {"smtpd_tls_security_level": "encrypt"},
    }


class Relay:
    """One tlsrelayd with its own directory: main.cf, master.cf, queue,
    data, maillog. main: dict of main.cf overrides (None removes a default
    line). services: dict service-key -> dict of -o overrides; each service
    gets a free port on 127.0.0.1 (or "listen" in the dict: the master.cf
    service name to use as is, e.g. "[::1]:PORT")."""

    def __init__(self, case, directory, certs, main=None, services=None,
                 extra_master="", raw_main=None):
        self.case = case
        self.dir = directory
        # A program (and its arguments) tlsrelayd is started through,
        # e.g. setpriv to start it with fewer capabilities.
        self.wrapper = []
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        self.certs = certs
        self.queue_dir = os.path.join(directory, "queue")
        self.maillog_path = os.path.join(directory, "maillog")
        self.stderr_path = os.path.join(directory, "stderr")
        self.main = {
            "queue_directory": self.queue_dir,
            "data_directory": os.path.join(directory, "data"),
            "maillog_file": self.maillog_path,
            "myhostname": "relay.test",
            "mynetworks": "127.0.0.1/32",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": certs.rsa,
            "smtpd_tls_key_file": certs.rsa_key,
            "tlsrelay_smtpd_workers": "2",
            # No DNS leaves loopback: the smtpd's client-name lookups
            # (smtpd_peername_lookup = yes) fail at once here.
            "tlsrelay_dns_servers": NO_DNS,
        }
        for name, value in (main or {}).items():
            if value is None:
                self.main.pop(name, None)
            else:
                self.main[name] = value
        self.raw_main = raw_main
        self.services = default_services() if services is None else services
        self.extra_master = extra_master
        self.ports = {}
        self.listen = {}
        for key, opts in self.services.items():
            if "listen" in opts:
                self.listen[key] = opts["listen"]
                self.ports[key] = int(opts["listen"].rsplit(":", 1)[1])
            else:
                self.ports[key] = free_port()
                self.listen[key] = "127.0.0.1:%d" % self.ports[key]
        self.proc = None
        self.killed = False
        self.stopped = False
        self.write_config()

    # -- configuration

    @property
    def main_cf(self):
        return os.path.join(self.dir, "main.cf")

    @property
    def master_cf(self):
        return os.path.join(self.dir, "master.cf")

    def write_config(self):
        if self.raw_main is not None:
            text = self.raw_main
        else:
            text = "# written by relaytest.py\n" + "".join(
                "%s = %s\n" % kv for kv in self.main.items())
        with open(self.main_cf, "w") as f:
            f.write(text)
        lines = ["# written by relaytest.py"]
        for key, opts in self.services.items():
            lines.append("%s inet n - n - - smtpd" % self.listen[key])
            for name, value in opts.items():
                if name == "listen":
                    continue
                if re.search(r"\s", value):
                    lines.append("  -o { %s = %s }" % (name, value))
                else:
                    lines.append("  -o %s=%s" % (name, value))
        with open(self.master_cf, "w") as f:
            f.write("\n".join(lines) + "\n" + self.extra_master)

    def port(self, key="smtp"):
        return self.ports[key]

    # -- start and stop

    def _spawn(self):
        # A relay may be started again (on the same queue) once stopped.
        self.stopped = False
        self.killed = False
        self.term_sent = False
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            self.wrapper + [TLSRELAYD, "-c", self.dir, "-f"],
            stdin=subprocess.DEVNULL,
            stdout=self.stderr_file, stderr=self.stderr_file,
            start_new_session=True)
        self.case.addCleanup(self.stop)

    def start(self):
        """Starts the daemon and waits until every port listens."""
        require_program(TLSRELAYD)
        self._spawn()
        deadline = time.monotonic() + START_TIMEOUT
        want = set(self.ports.values())
        while True:
            if self.proc.poll() is not None:
                self.stopped = True
                self.stderr_file.close()
                raise self.case.failureException(
                    "tlsrelayd exited with status %s during start-up\n%s" %
                    (self.proc.returncode, self.diagnostics()))
            if want <= listening_ports():
                return self
            if time.monotonic() > deadline:
                raise self.case.failureException(
                    "tlsrelayd not listening on %s after %d s\n%s" %
                    (sorted(want - listening_ports()), START_TIMEOUT,
                     self.diagnostics()))
            time.sleep(0.05)

    def start_expect_failure(self, timeout=START_TIMEOUT):
        """Starts the daemon expecting it to refuse to run; returns (exit
        status, everything it wrote to stderr, stdout and the maillog)."""
        require_program(TLSRELAYD)
        self._spawn()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise self.case.failureException(
                "tlsrelayd still running %d s after start, expected it to "
                "fail\n%s" % (timeout, self.diagnostics()))
        self.stopped = True
        self.stderr_file.close()
        return self.proc.returncode, self.stderr() + self.maillog()

    @property
    def pid(self):
        return self.proc.pid

    def workers(self):
        return children_of(self.proc.pid)

    def qmgr_pid(self):
        """The queue manager: the child that holds public/qmgr open (no
        other process keeps it open), or None."""
        fifo = os.path.join(self.queue_dir, "public", "qmgr")
        for pid in self.workers():
            fddir = "/proc/%d/fd" % pid
            try:
                fds = os.listdir(fddir)
            except FileNotFoundError:
                continue
            for fd in fds:
                try:
                    if os.readlink(os.path.join(fddir, fd)) == fifo:
                        return pid
                except OSError:
                    pass
        return None

    def wait_workers(self, count, timeout=10):
        """The worker PIDs, once at least count of them run."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.workers()
            if len(pids) >= count:
                return pids
            if time.monotonic() > deadline:
                raise self.case.failureException(
                    "expected %d worker processes, found %s\n%s" %
                    (count, pids, self.diagnostics()))
            time.sleep(0.05)

    def signal(self, sig):
        if sig == signal.SIGTERM:
            self.term_sent = True
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """After the test sent SIGTERM: wait for the exit, then the checks
        of stop()."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.stop()

    def kill9(self):
        """SIGKILL the supervisor and then every process of its group, by
        PID, supervisor first so it cannot start new workers."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)
        self._kill_group()
        self.killed = True
        self.stderr_file.close()

    def _kill_group(self):
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            pids = group_members(self.proc.pid)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise HarnessError("processes %s survive SIGKILL" % pids)
            time.sleep(0.05)

    def stop(self, check=True):
        """SIGTERM and wait. Fails the test when the daemon needs SIGKILL,
        exits non-zero, leaves processes behind or a sanitizer spoke."""
        if self.proc is None or self.stopped:
            return
        self.stopped = True
        problems = []
        if self.proc.poll() is None:
            self.term_sent = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
                problems.append("tlsrelayd did not exit within %d s of "
                                "SIGTERM and was killed" % STOP_TIMEOUT)
        elif not self.killed and not self.term_sent:
            problems.append("tlsrelayd had already exited with status %s" %
                            self.proc.returncode)
        if (not self.killed and not problems and self.proc.returncode != 0):
            problems.append("tlsrelayd exited with status %s after SIGTERM" %
                            self.proc.returncode)
        # Workers must be gone when the supervisor is; give them a moment.
        deadline = time.monotonic() + 2
        while group_members(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = group_members(self.proc.pid)
        if left:
            self._kill_group()
            problems.append("processes %s were left after the supervisor "
                            "exited" % left)
        self.stderr_file.close()
        errors = self.stderr()
        if any(mark in errors for mark in SANITIZER_MARKS):
            problems.append("sanitizer report on stderr")
        if not self.killed:
            crash = CRASH_LINE.search(self.maillog() + errors)
            if crash:
                problems.append("the daemon logged %r" % crash.group(0))
        if problems and check:
            raise self.case.failureException(
                "; ".join(problems) + "\n" + self.diagnostics())

    # -- logs

    def stderr(self):
        return read_text(self.stderr_path)

    def maillog(self):
        return read_text(self.maillog_path)

    def log_messages(self):
        """The text of each maillog line after "tlsrelay/smtpd[PID]: "."""
        out = []
        for line in self.maillog().splitlines():
            m = re.search(r"\]: (.*)$", line)
            out.append(m.group(1) if m else line)
        return out

    def wait_log(self, pattern, timeout=5, count=1):
        """Waits until count maillog lines match the regex pattern (search);
        returns the matching lines."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = [l for l in self.maillog().splitlines() if regex.search(l)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise self.case.failureException(
                    "maillog has %d line(s) matching %r, expected %d\n%s" %
                    (len(found), pattern, count, self.diagnostics()))
            time.sleep(0.05)

    def diagnostics(self):
        return ("---- maillog %s\n%s---- stderr\n%s----" %
                (self.maillog_path, self.maillog()[-6000:],
                 self.stderr()[-4000:]))

    # -- queue

    def queue_ids(self, sub="incoming"):
        try:
            return sorted(os.listdir(os.path.join(self.queue_dir, sub)))
        except FileNotFoundError:
            return []

    def queue_file(self, queue_id, sub="incoming"):
        return QueueFile(os.path.join(self.queue_dir, sub, queue_id))


# ------------------------------------------------------------ the queue

class QueueFile:
    """A queue file read and checked: "TLSRELAY-QUEUE 1", one record a line
    (type byte + value), "M", then the content to end of file."""

    REQUIRED = "ITSM"

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            data = f.read()
        self.raw = data
        magic, sep, rest = data.partition(b"\n")
        if not sep or magic != b"TLSRELAY-QUEUE 1":
            raise ValueError("%s: bad first line %r" % (path, magic[:40]))
        self.records = []
        self.recipients = []
        seen = set()
        offset = len(magic) + 1
        while True:
            line, sep, _ = data[offset:].partition(b"\n")
            if not sep:
                raise ValueError("%s: no M record (truncated at %d)" %
                                 (path, offset))
            offset += len(line) + 1
            if not line:
                raise ValueError("%s: empty record at %d" % (path, offset))
            kind, value = chr(line[0]), line[1:].decode("utf-8", "surrogateescape")
            seen.add(kind)
            if kind == "M":
                if value:
                    raise ValueError("%s: M record with a value" % path)
                break
            if kind == "R":
                if not value or value[0] not in " DB":
                    raise ValueError("%s: bad recipient status %r" %
                                     (path, value[:1]))
                self.recipients.append(value[1:])
            self.records.append((kind, value))
        missing = [k for k in self.REQUIRED if k not in seen]
        if missing or not self.recipients:
            raise ValueError("%s: missing records %s" %
                             (path, missing or ["R"]))
        self.content = data[offset:]
        self.id = self.get("I")
        if self.id != os.path.basename(path):
            raise ValueError("%s: I record %r does not match the file name" %
                             (path, self.id))
        if not re.fullmatch(r"\d+\.\d+", self.get("T")):
            raise ValueError("%s: bad T record %r" % (path, self.get("T")))
        self.received, self.message = split_received(self.content)

    def get(self, kind, default=None):
        for k, v in self.records:
            if k == kind:
                return v
        return default

    @property
    def sender(self):
        return self.get("S")

    @property
    def client_addr(self):
        return self.get("A")

    @property
    def protocol(self):
        return self.get("P")

    @property
    def tls(self):
        return self.get("X", "")


TEXT_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789 .,-"
TO_TEXT_ALPHABET = bytes.maketrans(
    bytes(range(256)),
    bytes(TEXT_ALPHABET[i % len(TEXT_ALPHABET)] for i in range(256)))


def text_lines(width, count, seed, dot_every):
    """count pseudo-random CRLF lines of width characters, the same for the
    same seed; every dot_every-th starts with a dot (dot-stuffing)."""
    raw = random.Random(seed).randbytes(width * count).translate(
        TO_TEXT_ALPHABET)
    out = []
    for i in range(count):
        line = raw[i * width:(i + 1) * width]
        if i % dot_every == 0:
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out)


def split_received(content):
    """Splits content after the Received: header the relay added: returns
    (header bytes incl. continuation lines, the rest)."""
    if not content.startswith(b"Received:"):
        raise ValueError("content does not start with a Received: header: %r"
                         % content[:60])
    pos = 0
    while True:
        end = content.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("unterminated Received: header")
        pos = end + 2
        if content[pos:pos + 1] not in (b" ", b"\t"):
            return content[:pos], content[pos:]


def unfold(header):
    """A header's text on one line (folding white space collapsed)."""
    text = header.decode("utf-8", "replace")
    return re.sub(r"\r\n[ \t]+", " ", text).rstrip("\r\n")


# -------------------------------------------------------------- clients

class Reply:
    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][:3])
        self.texts = [l[4:] for l in lines]
        self.text = "\n".join(self.texts)

    def __repr__(self):
        return "Reply(%r)" % "\n".join(self.lines)


class RawSMTP:
    """A byte-exact SMTP client over one socket: send what you like, in the
    writes you like, read replies one at a time."""

    def __init__(self, case, port, source=None, implicit_tls=None,
                 timeout=IO_TIMEOUT, read_greeting=True, cleanup=True,
                 host="127.0.0.1"):
        self.case = case
        self.sock = socket.create_connection(
            (host, port), timeout,
            source_address=(source, 0) if source else None)
        if cleanup:
            case.addCleanup(self.close)
        self.buf = b""
        self.greeting = None
        try:
            if implicit_tls is not None:
                self.sock = implicit_tls.wrap_socket(
                    self.sock, server_hostname=Certs.SERVER_NAME)
            if read_greeting:
                self.greeting = self.reply()
        except BaseException:
            self.close()
            raise

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        """One line with its CR LF; b"" at end of stream."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def reply(self):
        lines = []
        while True:
            raw = self.readline()
            if not raw:
                raise EOFError("connection closed; reply so far: %r" % lines)
            if not raw.endswith(b"\r\n"):
                raise AssertionError("reply line not ended by CR LF: %r" % raw)
            line = raw[:-2].decode("utf-8", "replace")
            if not re.match(r"\d{3}[ -]", line + " "):
                raise AssertionError("malformed reply line %r" % line)
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def ehlo(self, name="client.test"):
        r = self.cmd("EHLO " + name)
        self.case.assertEqual(r.code, 250, r)
        return r

    def starttls(self, context):
        r = self.cmd("STARTTLS")
        self.case.assertEqual(r.code, 220, r)
        self.tls_after_220(context)
        return r

    def tls_after_220(self, context):
        if self.buf:
            raise AssertionError("server sent bytes after 220 before TLS: %r"
                                 % self.buf)
        self.sock = context.wrap_socket(self.sock,
                                        server_hostname=Certs.SERVER_NAME)

    def expect_closed(self, timeout=IO_TIMEOUT):
        """True once the server closed the connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                line = self.readline()
                if not line:
                    return True
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError,
                BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def send_message(self, sender, rcpts, data, mail_params=""):
        """MAIL, RCPT..., DATA and the dot-stuffed content; returns the
        reply to the final dot. data must be empty or end with CR LF."""
        r = self.cmd("MAIL FROM:<%s>%s" % (sender, mail_params))
        self.case.assertEqual(r.code, 250, r)
        for rcpt in rcpts:
            r = self.cmd("RCPT TO:<%s>" % rcpt)
            self.case.assertEqual(r.code, 250, r)
        r = self.cmd("DATA")
        self.case.assertEqual(r.code, 354, r)
        self.send(dot_stuff(data) + b".\r\n")
        return self.reply()


def dot_stuff(data):
    """SMTP transparency (RFC 5321 4.5.2) for CR LF text."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


def queued_id(reply):
    m = re.match(r"2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$", reply.text)
    if reply.code != 250 or not m:
        raise AssertionError("not queued: %r" % reply)
    return m.group(1)


def smtplib_client(case, port, implicit_tls=None, timeout=IO_TIMEOUT):
    """smtplib with the host name set (starttls() needs it for SNI) and a
    cleanup that closes it."""
    if implicit_tls is not None:
        client = smtplib.SMTP_SSL("127.0.0.1", port, timeout=timeout,
                                  context=implicit_tls)
    else:
        client = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    case.addCleanup(client.close)
    return client


def run_tool(args, input=None, timeout=60):
    """Runs a client program; returns (exit status, stdout+stderr text)."""
    res = subprocess.run(args, input=input, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=timeout)
    return res.returncode, res.stdout.decode("utf-8", "replace")


def swaks(port, *args, timeout=60):
    return run_tool(["swaks", "--server", "127.0.0.1:%d" % port,
                     "--timeout", "20"] + list(args), timeout=timeout)


class SClient:
    """One openssl s_client run: exit status, output, the certificate the
    server sent (PEM), negotiated protocol and cipher."""

    def __init__(self, port, *args, starttls=True, input=b"QUIT\n",
                 timeout=30):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
               "-servername", Certs.SERVER_NAME, "-crlf"]  # LF in input -> CR LF
        if starttls:
            cmd += ["-starttls", "smtp"]
        if input:
            # Send all of it and read until the server closes (QUIT),
            # rather than closing at the end of our input.
            cmd += ["-ign_eof"]
        cmd += list(args)
        self.status, self.output = run_tool(cmd, input=input, timeout=timeout)
        m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      self.output, re.S)
        self.cert = m.group(0) if m else None
        # "New, TLSv1.0, Cipher is X" names the cipher's version; the
        # session block has the protocol actually negotiated.
        # With TLS 1.3 that block comes with the session ticket; the
        # TLS 1.3 ciphers exist only in TLS 1.3.
        m = re.search(r"^New, (\S+), Cipher is (\S+)", self.output, re.M)
        self.cipher = m.group(2) if m else None
        self.established = bool(m) and self.cipher != "(NONE)"
        self.protocol = None
        if self.established:
            p = re.search(r"^\s+Protocol\s+: (\S+)", self.output, re.M)
            if p:
                self.protocol = p.group(1)
            elif m.group(1) == "TLSv1.3":
                self.protocol = "TLSv1.3"
        m = re.search(r"^Peer signature type: (\S+)", self.output, re.M)
        self.sigtype = m.group(1) if m else None


# ----------------------------------------------------------- test cases

class RelayTestCase(unittest.TestCase):
    """Base class: a temp dir and certificates per class, and a factory for
    relays that are stopped at the end of each test."""

    @classmethod
    def setUpClass(cls):
        require_tools("openssl", "swaks")
        require_program(TLSRELAYD)
        try:
            pwd.getpwnam(MAIL_OWNER)
        except KeyError:
            raise HarnessError("user %s missing: run scripts/setup-debian.sh"
                               % MAIL_OWNER)
        cls.tmpdir = tempfile.mkdtemp(prefix="tlsrelay-%s-" % cls.__name__)
        # The daemon's workers run as the tlsrelay user: they must reach
        # the queue below this directory.
        os.chmod(cls.tmpdir, 0o755)
        cls.certs = Certs(os.path.join(cls.tmpdir, "certs"))
        cls._relay_count = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def relay(self, main=None, services=None, start=True, **kw):
        type(self)._relay_count += 1
        directory = os.path.join(self.tmpdir, "relay%d-%s" % (
            self._relay_count, self._testMethodName))
        relay = Relay(self, directory, self.certs, main=main,
                      services=services, **kw)
        if start:
            relay.start()
        return relay

    def tls(self, **kw):
        return self.certs.client_context(**kw)

    def client(self, relay, service="smtp", **kw):
        return RawSMTP(self, relay.port(service), **kw)

    def assertReply(self, reply, code, text=None):
        """reply has code, and its (last line) text starts with text."""
        self.assertEqual(reply.code, code, reply)
        if text is not None:
            self.assertTrue(reply.texts[-1].startswith(text),
                            "%r does not start with %r" % (reply, text))

    def message(self, subject="test", body=b"Hello.\r\n"):
        return (b"From: <sender@client.test>\r\nTo: <rcpt@example.com>\r\n"
                b"Subject: " + subject.encode() + b"\r\nDate: " +
                email.utils.formatdate().encode() + b"\r\n"
                b"Message-ID: <" + str(random.getrandbits(64)).encode() +
                b"@client.test>\r\n\r\n" + body)


def main():
    unittest.main(verbosity=2)


# ===================================================== outbound (issue 3)
#
# Real peers for the delivery side: an aiosmtpd sink (peers/sink.py), a
# dnsmasq serving the test zones, a private Postfix instance. Everything
# listens on 127.0.0.0/8; every process is stopped by PID in a cleanup.

PEERS = os.path.join(HERE, "peers")
SINK = os.path.join(PEERS, "sink.py")
PYTHON = "/usr/bin/python3"

# Postfix's stock master.cf line: without it tlsrelayd runs no queue
# manager and mail stays in incoming/.
QMGR_LINE = "qmgr unix n - n 300 1 qmgr\n"

# Postfix's default timers, spelled out: outbound_relay() shortens them
# for the retry tests; a test whose behaviour must not depend on a timer
# passes these back in.
DEFAULT_TIMERS = {
    "queue_run_delay": "300s",
    "minimal_backoff_time": "300s",
    "maximal_backoff_time": "4000s",
}

# Where nothing answers: a relay that must not resolve anything is
# pointed here, so a stray query fails at once and never leaves loopback.
NO_DNS = "127.0.0.1:1"

QUEUE_DIRS = ("incoming", "active", "deferred", "hold", "corrupt")


def udp_listening_ports():
    ports = set()
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    ports.add(int(line.split()[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


def free_port_on(hosts, udp=False):
    """A port free for TCP on every address in hosts (and for UDP on
    127.0.0.1 with udp)."""
    for _ in range(1000):
        port = free_port()
        if all(port_is_free(port, h) for h in hosts) and not (
                udp and port in udp_listening_ports()):
            return port
    raise HarnessError("no port free on all of %s" % (hosts,))


def stop_pid(proc, timeout=STOP_TIMEOUT):
    """SIGTERM a Popen we started, SIGKILL it when it hangs. Returns its
    exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


def wait_for(what, predicate, timeout, diagnostics=lambda: ""):
    """Polls predicate until it returns something true; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %s s waiting for %s\n%s" %
                                 (timeout, what, diagnostics()))
        time.sleep(0.05)


class SinkMessage:
    """One message a sink accepted: meta (dict from the .json) and the
    content bytes."""

    def __init__(self, directory, name):
        self.name = name
        with open(os.path.join(directory, name + ".json")) as f:
            self.meta = json.load(f)
        with open(os.path.join(directory, name + ".eml"), "rb") as f:
            self.content = f.read()
        # The client went on after our 250 on that connection.
        self.confirmed = os.path.exists(os.path.join(directory,
                                                     name + ".next"))

    def __getattr__(self, key):
        try:
            return self.meta[key]
        except KeyError:
            raise AttributeError(key)

    @property
    def message(self):
        """The content after the Received: header(s) the relay added."""
        return strip_received(self.content)

    def header(self, name):
        return email.message_from_bytes(self.content).get(name)

    @property
    def message_id(self):
        return self.header("Message-ID")


def strip_received(content):
    """content without the leading Received: headers of the relay hops."""
    while content.startswith(b"Received:"):
        _, content = split_received(content)
    return content


class PeerProcess:
    """A peer in its own process (self.proc) writing to self.log_file
    (self.log_path): stopped by PID, its log's tail for diagnostics."""

    def stop(self):
        if self.proc.poll() is None:
            stop_pid(self.proc)
        if not self.log_file.closed:
            self.log_file.close()

    def log(self):
        return read_text(self.log_path)[-4000:]


class Sink(PeerProcess):
    """peers/sink.py in its own process, recording into directory.
    client_ca: ask the relay for a client certificate of that CA;
    extra_args: more options of sink.py (a subclass's)."""

    def __init__(self, case, directory, port=None, hosts=("127.0.0.1",),
                 certs=None, tls=True, broken_tls=False, delay=0,
                 replies=None, size=0, client_ca=None, extra_args=()):
        require_tools(PYTHON)
        self.case = case
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.hosts = tuple(hosts)
        self.port = port or free_port_on(self.hosts)
        if replies is not None:
            self.set_replies(replies)
        args = [PYTHON, SINK, "--dir", directory]
        for host in self.hosts:
            args += ["--listen", "%s:%d" % (host, self.port)]
        if tls or broken_tls:
            args += ["--tls-cert", certs.rsa, "--tls-key", certs.rsa_key]
        if broken_tls:
            args.append("--tls-broken")
        if client_ca:
            args += ["--tls-client-ca", client_ca]
        if delay:
            args += ["--delay", str(delay)]
        if size:
            args += ["--size", str(size)]
        args += list(extra_args)
        self.log_path = os.path.join(directory, "sink.log")
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file,
                                     stderr=self.log_file,
                                     start_new_session=True)
        case.addCleanup(self.stop)
        ready = os.path.join(directory, "ready")
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HarnessError("sink on port %d did not start:\n%s" %
                                   (self.port, self.log()))
            time.sleep(0.05)

    @property
    def nexthop(self):
        """The transport_maps / relayhost form: no MX lookup."""
        host = self.hosts[0]
        if ":" in host:
            host = "ipv6:" + host
        return "[%s]:%d" % (host, self.port)

    def set_replies(self, replies):
        tmp = os.path.join(self.dir, "replies.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"rcpt": {k.lower(): v for k, v in
                                replies.get("rcpt", {}).items()},
                       "data": replies.get("data", [])}, f)
        os.rename(tmp, os.path.join(self.dir, "replies.json"))

    def messages(self):
        names = sorted(n[:-5] for n in os.listdir(self.dir)
                       if n.startswith("msg-") and n.endswith(".json"))
        return [SinkMessage(self.dir, n) for n in names]

    def wait_messages(self, count, timeout=20, diagnostics=lambda: ""):
        """The messages, once at least count arrived."""
        wait_for("%d message(s) at the sink on port %d" % (count, self.port),
                 lambda: len(self.messages()) >= count, timeout,
                 lambda: "sink has %d\n%s" % (len(self.messages()),
                                              diagnostics()))
        return self.messages()

    def connections(self):
        """[(number, peer, local)] in the order they came."""
        try:
            with open(os.path.join(self.dir, "connections")) as f:
                return [tuple(l.split()) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def commands(self, conn):
        """The command verbs connection number conn sent, in order."""
        try:
            with open(os.path.join(self.dir, "conn-%s.log" % conn)) as f:
                return f.read().split()
        except FileNotFoundError:
            return []


class HAProxy(PeerProcess):
    """HAProxy (Debian's haproxy) in TCP mode, in the foreground (-db) in
    its own process with its own configuration file, stopped by PID.
    backends: {name: line or [lines]}, the lines of one backend (server
    lines, balance, health-check options); each gets a frontend on a free
    port of 127.0.0.1, ports[name]."""

    def __init__(self, case, directory, backends):
        require_tools("haproxy")
        os.makedirs(directory, exist_ok=True)
        self.ports = {}
        lines = ["global", "    maxconn 4000",
                 "defaults", "    mode tcp", "    retries 3",
                 "    option redispatch", "    timeout connect 2s",
                 "    timeout client 120s", "    timeout server 120s",
                 "    timeout check 2s"]
        for name, backend in backends.items():
            self.ports[name] = free_port()
            lines += ["frontend fe_%s" % name,
                      "    bind 127.0.0.1:%d" % self.ports[name],
                      "    default_backend be_%s" % name,
                      "backend be_%s" % name]
            if isinstance(backend, str):
                backend = [backend]
            lines += ["    " + line for line in backend]
        self.config = os.path.join(directory, "haproxy.cfg")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(directory, "haproxy.log")
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.config],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log_file,
                                     stderr=self.log_file,
                                     start_new_session=True)
        case.addCleanup(self.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while not set(self.ports.values()) <= listening_ports():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HarnessError("haproxy did not start:\n%s" % self.log())
            time.sleep(0.05)

    @property
    def port(self):
        """The port of the only frontend."""
        (port,) = self.ports.values()
        return port


class DnsServer:
    """dnsmasq as the test zone server on 127.0.0.1:port. mx: (domain,
    host, preference) triples; hosts: (name, address); null_mx: domains
    with an RFC 7505 null MX. It forwards nothing: other names get
    REFUSED and no packet leaves (--no-resolv, no --server)."""

    def __init__(self, case, directory, mx=(), hosts=(), null_mx=(),
                 extra=()):
        require_tools("dnsmasq")
        self.case = case
        os.makedirs(directory, exist_ok=True)
        self.port = free_port_on(("127.0.0.1",), udp=True)
        self.log_path = os.path.join(directory, "dnsmasq.log")
        args = ["dnsmasq", "--keep-in-foreground", "--port=%d" % self.port,
                "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--no-poll",
                "--pid-file=" + os.path.join(directory, "dnsmasq.pid"),
                "--log-queries", "--log-facility=" + self.log_path,
                "--user=root", "--group=root"]
        for domain, host, pref in mx:
            args.append("--mx-host=%s,%s,%d" % (domain, host, pref))
        for domain in null_mx:
            args.append("--mx-host=%s,.,0" % domain)
        for name, addr in hosts:
            args.append("--host-record=%s,%s" % (name, addr))
        args += list(extra)
        self.stderr_path = os.path.join(directory, "dnsmasq.stderr")
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr_file,
                                     stderr=self.stderr_file,
                                     start_new_session=True)
        case.addCleanup(self.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while self.port not in udp_listening_ports():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HarnessError("dnsmasq did not start:\n%s" %
                                   self.log())
            time.sleep(0.05)

    @property
    def server(self):
        """The tlsrelay_dns_servers value."""
        return "127.0.0.1:%d" % self.port

    def log(self):
        return "".join(read_text(path)[-3000:]
                       for path in (self.stderr_path, self.log_path))

    def stop(self):
        if self.proc.poll() is None:
            stop_pid(self.proc)
        if not self.stderr_file.closed:
            self.stderr_file.close()


# The services a private Postfix needs to receive mail and keep it (no
# chroot: a private queue directory has no chroot tree).
POSTFIX_MASTER = """\
pickup    unix n - n 60    1 pickup
cleanup   unix n - n -     0 cleanup
qmgr      unix n - n 300   1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n -     - trivial-rewrite
bounce    unix - - n -     0 bounce
defer     unix - - n -     0 bounce
trace     unix - - n -     0 bounce
verify    unix - - n -     1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n -     - proxymap
smtp      unix - - n -     - smtp
relay     unix - - n -     - smtp
showq     unix n - n -     - showq
error     unix - - n -     - error
retry     unix - - n -     - error
discard   unix - - n -     - discard
local     unix - n n -     - local
anvil     unix - - n -     1 anvil
scache    unix - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixPeer:
    """A private Postfix instance (postfix -c DIR start) receiving mail
    for domains on 127.0.0.1:port with STARTTLS offered. Accepted mail
    is put on hold, so it stays in its queue for inspection and Postfix
    never tries to deliver (or resolve) anything."""

    def __init__(self, case, directory, certs, domains=("postfix.test",),
                 main=None):
        require_tools("postfix", "postqueue", "postcat")
        self.case = case
        # Postfix's services are unix sockets under queue_directory: keep
        # the path short (sun_path holds 108 bytes), apart from the rest
        # of the test's files.
        os.makedirs(os.path.dirname(directory), exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="tlsrelay-pf-", dir="/tmp")
        case.addCleanup(shutil.rmtree, self.dir, True)
        os.symlink(self.dir, directory)
        directory = self.dir
        self.conf_dir = os.path.join(directory, "conf")
        self.queue_dir = os.path.join(directory, "queue")
        self.data_dir = os.path.join(directory, "data")
        self.maillog_path = os.path.join(directory, "maillog")
        for d in (directory, self.conf_dir, self.queue_dir, self.data_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        hold = ", ".join("%s=HOLD" % d for d in domains)
        main_cf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "maillog_file": self.maillog_path,
            "maillog_file_prefixes": directory,
            "myhostname": "postfix.peer.test",
            "mydomain": "peer.test",
            "myorigin": "peer.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": ", ".join(domains),
            "smtpd_peername_lookup": "no",
            # Nothing here may reach the machine's resolver, and nothing
            # is delivered: held mail stays, anything else goes nowhere.
            "smtp_dns_support_level": "disabled",
            "relayhost": "[127.0.0.1]:1",
            "smtpd_recipient_restrictions":
                "check_recipient_access inline:{ %s }, permit_mynetworks, "
                "reject_unauth_destination" % hold,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": certs.rsa,
            "smtpd_tls_key_file": certs.rsa_key,
            "smtpd_tls_loglevel": "1",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
        }
        main_cf.update(main or {})
        with open(os.path.join(self.conf_dir, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in main_cf.items()))
        with open(os.path.join(self.conf_dir, "master.cf"), "w") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port +
                    POSTFIX_MASTER)
        status, out = run_tool(["postfix", "-c", self.conf_dir, "start"])
        self.master_pid = None
        case.addCleanup(self.stop)
        if status != 0:
            raise HarnessError("postfix -c %s start failed (%d):\n%s%s" %
                               (self.conf_dir, status, out, self.maillog()))
        self.master_pid = wait_for(
            "the Postfix master pid", self._read_pid, START_TIMEOUT,
            self.maillog)
        wait_for("Postfix smtpd on port %d" % self.port,
                 lambda: self.port in listening_ports(), START_TIMEOUT,
                 self.maillog)

    def _read_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid",
                                   "master.pid")) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return None

    @property
    def nexthop(self):
        return "[127.0.0.1]:%d" % self.port

    def maillog(self):
        return read_text(self.maillog_path)

    def queue(self):
        """postqueue -j: one dict per queued message."""
        status, out = run_tool(["postqueue", "-c", self.conf_dir, "-j"])
        if status != 0:
            raise HarnessError("postqueue -j failed:\n" + out)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def content(self, queue_id):
        """Header and body of a queued message (postcat -bh)."""
        res = subprocess.run(["postcat", "-c", self.conf_dir, "-bh", "-q",
                              queue_id], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=30)
        if res.returncode != 0:
            raise HarnessError("postcat failed: %r" % res.stderr)
        return res.stdout

    def stop(self):
        if self.master_pid is None:
            return
        run_tool(["postfix", "-c", self.conf_dir, "stop"])
        # postfix stop returns before the master has exited.
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            st = proc_stat(self.master_pid)
            if st is None or st[0] == "Z":
                break
            if time.monotonic() > deadline:
                os.kill(self.master_pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        self.master_pid = None


class OutboundTestCase(RelayTestCase):
    """Relays with a queue manager, and their peers."""

    def setUp(self):
        super().setUp()
        self._peer_count = 0

    def _peer_dir(self, kind):
        self._peer_count += 1
        return os.path.join(self.tmpdir, "%s%d-%s" % (
            kind, self._peer_count, self._testMethodName))

    def sink(self, **kw):
        kw.setdefault("certs", self.certs)
        return Sink(self, self._peer_dir("sink"), **kw)

    def dns(self, **kw):
        return DnsServer(self, self._peer_dir("dns"), **kw)

    def postfix_peer(self, **kw):
        return PostfixPeer(self, self._peer_dir("postfix"), self.certs, **kw)

    def outbound_relay(self, main=None, dns=None, qmgr=True, start=True,
                       **kw):
        """A relay with one smtp service, the qmgr line, fast retries and
        DNS pointed at dns (a DnsServer) or at nothing. main overrides."""
        settings = {
            "tlsrelay_dns_servers": dns.server if dns else NO_DNS,
            "inet_protocols": "ipv4",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "queue_run_delay": "1s",
        }
        settings.update(main or {})
        kw.setdefault("services", {"smtp": {}})
        if qmgr:
            kw["extra_master"] = kw.get("extra_master", "") + QMGR_LINE
        return self.relay(main=settings, start=start, **kw)

    def submit(self, relay, sender, rcpts, data, mail_params="", tls=False):
        """Sends one message to the relay; returns its queue ID."""
        c = self.client(relay)
        c.ehlo()
        if tls:
            c.starttls(self.tls())
            c.ehlo()
        queue_id = queued_id(c.send_message(sender, rcpts, data,
                                            mail_params=mail_params))
        c.cmd("QUIT")
        c.close()
        return queue_id

    def copies_after_crash(self, sink, in_flight):
        """{message-id: [SinkMessage]} of what sink received across a
        crash of the relay, checked for the only duplicates SMTP allows
        (RFC 1047): a second copy of a message whose 250 from the sink was
        on the wire when the relay died, so the relay never learnt of it,
        at most one per delivery in flight. A copy after which the relay
        went on to another command was known delivered (and recorded)
        and must never come again."""
        copies = collections.defaultdict(list)
        for m in sink.messages():
            copies[m.message_id].append(m)
        for message_id, ms in copies.items():
            if len(ms) == 1:
                continue
            self.assertEqual(len(ms), 2, "%s arrived %d times" %
                             (message_id, len(ms)))
            self.assertFalse(ms[0].confirmed, "%s delivered again after "
                             "the relay had seen its 250" % message_id)
        dups = [k for k, v in copies.items() if len(v) > 1]
        self.assertLessEqual(len(dups), in_flight, "more duplicates than "
                             "deliveries in flight: %s" % dups)
        return copies

    def where(self, relay, queue_id):
        """The queue directory holding queue_id, or None."""
        for sub in QUEUE_DIRS:
            if os.path.exists(os.path.join(relay.queue_dir, sub, queue_id)):
                return sub
        return None

    def wait_removed(self, relay, queue_id, timeout=20):
        """Waits for "ID: removed" and checks the file is gone."""
        relay.wait_log(r": %s: removed$" % queue_id, timeout=timeout)
        self.assertIsNone(self.where(relay, queue_id))
        self.assertFalse(os.path.exists(os.path.join(
            relay.queue_dir, "defer", queue_id)))

    def wait_in(self, relay, queue_id, sub, timeout=20):
        wait_for("%s in %s/" % (queue_id, sub),
                 lambda: self.where(relay, queue_id) == sub, timeout,
                 relay.diagnostics)

    def wait_queue_empty(self, relay, timeout=20):
        """Waits until nothing is in incoming/, active/ or deferred/:
        every message the relay holds has been delivered or returned."""
        wait_for("an empty queue",
                 lambda: not any(relay.queue_ids(sub) for sub in
                                 ("incoming", "active", "deferred")),
                 timeout, relay.diagnostics)

    def wait_marker(self, relay, rcpt):
        """The positive marker a negative check waits for: a message to
        rcpt, submitted now, delivered and removed. The qmgr reads smtpd's
        notices and the queue command's requests (flush, release) from one
        FIFO, in order, so by then it has acted on every earlier one."""
        _, data = self.outbound_message(subject="marker", to=rcpt)
        queue_id = self.submit(relay, "sender@senders.test", [rcpt], data)
        relay.wait_log(r": %s: to=<%s>, .*status=sent" %
                       (queue_id, re.escape(rcpt)), timeout=20)
        self.wait_removed(relay, queue_id)
        return queue_id

    def tlsrelay(self, *args, timeout=30):
        """Runs the tlsrelay command: (exit status, output)."""
        require_program(TLSRELAY)
        return run_tool([TLSRELAY] + list(args), timeout=timeout)

    def outbound_message(self, subject="test", sender="sender@senders.test",
                         to="rcpt@example.test", body=b"Hello.\r\n",
                         message_id=None):
        """A message with a Message-ID we know: (id, bytes)."""
        message_id = message_id or "<%x.%s@client.test>" % (
            random.getrandbits(64), self._testMethodName)
        data = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
                "Message-ID: %s\r\n\r\n" % (
                    sender, to, subject, email.utils.formatdate(),
                    message_id)).encode() + body
        return message_id, data


def to_lines(relay, queue_id, status=None):
    """The to= lines logged for queue_id (with status= when given)."""
    pattern = re.compile(r": %s: to=<[^>]*>, .*status=%s" % (
        re.escape(queue_id), re.escape(status) if status else r"\S+"))
    return [l for l in relay.maillog().splitlines() if pattern.search(l)]


def inline_table(routes):
    """transport_maps as Postfix writes an inline table:
    {"example.test": "smtp:[127.0.0.1]:2526"} ->
    "inline:{ example.test=smtp:[127.0.0.1]:2526 }"."""
    return "inline:{ %s }" % ", ".join("%s=%s" % kv for kv in routes.items())


class SyscallTrace:
    """strace -f attached to this test process: every process the test
    starts from now on (relay, Postfix, dnsmasq, sinks, tools) is traced
    from birth for the network syscalls that could carry a DNS query."""

    SYSCALLS = "trace=connect,sendto,sendmsg,sendmmsg"

    def __init__(self, case, path):
        require_tools("strace")
        self.path = path
        # LeakSanitizer cannot work under ptrace: in a sanitizer build the
        # traced daemon would fail at exit. Leaks are the other tests' job.
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + \
            "detect_leaks=0"
        case.addCleanup(self._restore_env, saved)
        self.proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-e", self.SYSCALLS, "-o", path,
             "-p", str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        case.addCleanup(self.stop)
        wait_for("strace to attach", self._attached, START_TIMEOUT,
                 lambda: self.proc.stderr.read().decode(errors="replace")
                 if self.proc.poll() is not None else "")

    @staticmethod
    def _restore_env(saved):
        if saved is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = saved

    def _attached(self):
        if self.proc.poll() is not None:
            raise HarnessError("strace exited with status %s: %s" % (
                self.proc.returncode,
                self.proc.stderr.read().decode(errors="replace")))
        return proc_status(os.getpid()).get("TracerPid") == str(self.proc.pid)

    def stop(self):
        """Detaches (strace exits on SIGTERM) and returns the trace."""
        if self.proc.poll() is None:
            stop_pid(self.proc)
        if self.proc.stderr:
            self.proc.stderr.close()
        with open(self.path, errors="replace") as f:
            return f.read()

    @staticmethod
    def destinations(trace):
        """(address, port) of every connect/send with an address."""
        out = []
        for m in re.finditer(
                r"sin6?_port=htons\((\d+)\), (?:sin6_flowinfo=\S+, )?"
                r"(?:inet_pton\(AF_INET6, |sin_addr=inet_addr\()"
                r"\"([^\"]+)\"", trace):
            out.append((m.group(2), int(m.group(1))))
        return out
