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

import email.utils
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
                "required tool %r not found: run scripts/setup-debian.sh" % name)


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


def free_port(low=20000, high=32767, host="127.0.0.1"):
    """A free TCP port on host, below the kernel's ephemeral range so that
    outgoing client connections never take it before the daemon binds it,
    and never the same one twice in a process."""
    for _ in range(1000):
        port = random.randint(low, high)
        if port not in _handed_out and port_is_free(port, host):
            _handed_out.add(port)
            return port
    raise HarnessError("no free port in %d-%d" % (low, high))


def listening_ports():
    """Ports in LISTEN state, from /proc/net/tcp and tcp6: checking
    readiness this way leaves no connection in the daemon's log."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


def listening_inodes(port):
    """Socket inodes listening on port."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if (fields[3] == "0A" and
                            int(fields[1].rsplit(":", 1)[1], 16) == port):
                        inodes.add(int(fields[9]))
        except FileNotFoundError:
            pass
    return inodes


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


def group_members(pgrp):
    """Live (non-zombie) processes in process group pgrp."""
    pids = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[2] == pgrp and st[0] != "Z":
            pids.append(pid)
    return pids


def children_of(ppid):
    pids = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] == ppid and st[0] != "Z":
            pids.append(pid)
    return pids


def proc_status(pid):
    """/proc/PID/status as a dict of strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


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
            [TLSRELAYD, "-c", self.dir, "-f"], stdin=subprocess.DEVNULL,
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
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def maillog(self):
        try:
            with open(self.maillog_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

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
