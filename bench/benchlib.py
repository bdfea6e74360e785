"""benchlib: what the benchmarks in bench/ share: the relays under test
(tlsrelayd and a private Postfix instance, each relaying to a next hop on
127.0.0.1), accounting of a relay's process tree (CPU time, PSS), and the
clean-up that stops every process a benchmark started, by PID. Builds on
the integration tests' harness (tests/integration/relaytest.py) for the
daemon, certificates, ports and waiting. Never part of make check.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import relaytest  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SENDER = "sender@bench.test"
RCPT = "rcpt@bench.test"


class Case:
    """What relaytest wants of a unittest.TestCase: a list of clean-ups,
    run newest first. As a context manager it runs them on the way out,
    also on Ctrl-C or an error."""
    failureException = RuntimeError

    def __init__(self):
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def cleanup(self):
        while self.cleanups:
            fn, args = self.cleanups.pop()
            try:
                fn(*args)
            except Exception as e:  # keep stopping the rest
                print("cleanup: %s" % e, file=sys.stderr, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


def stop_on_sigterm():
    """SIGTERM ends the benchmark like Ctrl-C: the clean-ups run."""
    def handler(sig, frame):
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, handler)


# ------------------------------------------------------ process accounting

def read_stat(pid):
    """(ppid, state, utime+stime+cutime+cstime ticks) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[1]), fields[0],
            sum(int(v) for v in fields[11:15]))


def tree(root):
    """{pid: stat} of root and all its descendants, zombies included (a
    zombie's CPU time is not yet in its parent's cutime)."""
    stats = {}
    for pid in relaytest.all_pids():
        st = read_stat(pid)
        if st:
            stats[pid] = st
    members, todo = {}, [root]
    children = {}
    for pid, st in stats.items():
        children.setdefault(st[0], []).append(pid)
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in members:
            members[pid] = stats[pid]
            todo.extend(children.get(pid, ()))
    return members


def live_pids(root):
    return [p for p, st in tree(root).items() if st[1] != "Z"]


def cpu_seconds(root):
    """CPU time of the tree: each live process's own time plus what it
    reaped (cutime/cstime), so processes that exited still count."""
    return sum(st[2] for st in tree(root).values()) / TICK


def memory(pids):
    """(sum of RSS, sum of PSS) in bytes."""
    rss = pss = 0
    for pid in pids:
        try:
            with open("/proc/%d/statm" % pid) as f:
                rss += int(f.read().split()[1]) * PAGE
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return rss, pss


def established(port):
    """TCP connections in state ESTABLISHED whose local port is port."""
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split(None, 4)
                    if fields[3] == "01" and \
                            int(fields[1].rsplit(":", 1)[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            pass
    return count


def kill_tree(proc):
    """Stops a helper we started (in its own session) and whatever it
    forked, by PID: SIGTERM first, SIGKILL what is left."""
    pids = [proc.pid] + [p for p in relaytest.group_members(proc.pid)
                         if p != proc.pid]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(relaytest.STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + relaytest.STOP_TIMEOUT
    while True:
        left = [p for p in pids
                if (relaytest.proc_stat(p) or "Z")[0] != "Z"]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------- relays

class Tlsrelayd:
    """tlsrelayd relaying everything to nexthop with STARTTLS when it is
    offered (smtp_tls_security_level = may); nothing resolves anything.
    cert: "rsa" or "ec", the only server certificate it offers."""
    name = "tlsrelayd"

    def __init__(self, case, directory, certs, nexthop, cert="rsa",
                 main=None, workers=None):
        crt, key = (certs.ec, certs.ec_key) if cert == "ec" else \
            (certs.rsa, certs.rsa_key)
        settings = {
            "mynetworks": "127.0.0.0/8",
            "relayhost": nexthop,
            "smtp_tls_security_level": "may",
            "tlsrelay_dns_servers": relaytest.NO_DNS,
            # As the Postfix set-up below: no client name lookups.
            "smtpd_peername_lookup": "no",
            "inet_protocols": "ipv4",
            "myhostname": "relay.bench.test",
            "myorigin": "bench.test",
            "smtpd_tls_cert_file": crt,
            "smtpd_tls_key_file": key,
            "smtpd_client_connection_count_limit": "0",
            # None: the daemon's default, one worker per core.
            "tlsrelay_smtpd_workers": str(workers) if workers else None,
        }
        settings.update(main or {})
        self.relay = relaytest.Relay(case, directory, certs, main=settings,
                                     services={"smtp": {}},
                                     extra_master=relaytest.QMGR_LINE)
        self.relay.start()
        self.relay.wait_workers((workers or os.cpu_count()) + 1)  # + qmgr
        self.port = self.relay.port()
        self.root = self.relay.pid
        self.queue_dir = self.relay.queue_dir

    def stop(self):
        self.relay.stop()

    def log(self):
        return self.relay.diagnostics()


# Postfix 3.7 tuned for relaying much mail to one next hop: what differs
# from its defaults. bench/README.md says why each line is there.
POSTFIX_TUNING = {
    "default_process_limit": "200",
    "in_flow_delay": "0",
    "initial_destination_concurrency": "20",
    "smtp_tls_connection_reuse": "yes",
    "smtp_tls_session_cache_database": "btree:${data_directory}/smtp_scache",
    "smtpd_client_connection_count_limit": "0",
}

# Services of the private instance: Postfix's stock master.cf without
# chroot (a private queue directory has no chroot tree), plus tlsproxy
# for smtp_tls_connection_reuse.
POSTFIX_MASTER = relaytest.POSTFIX_MASTER + \
    "tlsproxy  unix - - n -     0 tlsproxy\n"


class Postfix:
    """A private Postfix (postfix -c DIR start) relaying everything to
    nexthop: relayhost in brackets, no DNS, nothing local, bounces to the
    next hop as well (every address is relayed there). main: main.cf
    settings over the tuned ones; smtpd_maxproc: the process limit of the
    smtpd service (one process per client connection)."""
    name = "postfix"

    def __init__(self, case, directory, certs, nexthop, cert="rsa",
                 main=None, smtpd_maxproc="-", base="/tmp"):
        relaytest.require_tools("postfix")
        # Its services are unix sockets under queue_directory: a short path
        # (sun_path holds 108 bytes), linked from the benchmark's directory.
        self.dir = tempfile.mkdtemp(prefix="bench-pf-", dir=base)
        case.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.dirname(directory), exist_ok=True)
        os.symlink(self.dir, directory)
        self.conf_dir = os.path.join(self.dir, "conf")
        self.queue_dir = os.path.join(self.dir, "queue")
        data_dir = os.path.join(self.dir, "data")
        self.maillog_path = os.path.join(self.dir, "maillog")
        for d in (self.dir, self.conf_dir, self.queue_dir, data_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(data_dir, pw.pw_uid, pw.pw_gid)
        self.port = relaytest.free_port()
        crt, key = (certs.ec, certs.ec_key) if cert == "ec" else \
            (certs.rsa, certs.rsa_key)
        main_cf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": data_dir,
            "maillog_file": self.maillog_path,
            "maillog_file_prefixes": self.dir,
            "myhostname": "postfix.bench.test",
            "mydomain": "bench.test",
            "myorigin": "bench.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "relayhost": nexthop,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": crt,
            "smtpd_tls_key_file": key,
            "smtp_tls_security_level": "may",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
        }
        main_cf.update(POSTFIX_TUNING)
        main_cf.update(main or {})
        with open(os.path.join(self.conf_dir, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in main_cf.items()))
        with open(os.path.join(self.conf_dir, "master.cf"), "w") as f:
            f.write("127.0.0.1:%d inet n - n - %s smtpd\n" % (
                self.port, smtpd_maxproc) + POSTFIX_MASTER)
        self.root = None
        case.addCleanup(self.stop)
        status, out = relaytest.run_tool(["postfix", "-c", self.conf_dir,
                                          "start"])
        if status != 0:
            raise RuntimeError("postfix start failed (%d):\n%s%s" % (
                status, out, self.log()))
        self.root = relaytest.wait_for("the Postfix master pid",
                                       self._read_pid,
                                       relaytest.START_TIMEOUT, self.log)
        relaytest.wait_for("Postfix smtpd on port %d" % self.port,
                           lambda: self.port in relaytest.listening_ports(),
                           relaytest.START_TIMEOUT, self.log)

    def _read_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid",
                                   "master.pid")) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return None

    def log(self):
        try:
            with open(self.maillog_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.root is None:
            return
        pids = live_pids(self.root)
        relaytest.run_tool(["postfix", "-c", self.conf_dir, "stop"])
        # postfix stop returns before the master has exited; its children
        # (a thousand smtpd after the idle test) may take a moment more.
        deadline = time.monotonic() + relaytest.STOP_TIMEOUT
        while True:
            # One read per process: it may exit between two.
            left = [p for p in pids
                    if (relaytest.proc_stat(p) or "Z")[0] != "Z"]
            if not left:
                break
            if time.monotonic() > deadline:
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                break
            time.sleep(0.05)
        self.root = None


def postfix_version():
    status, out = relaytest.run_tool(["postconf", "-d", "-h",
                                      "mail_version"])
    return out.strip() if status == 0 else "?"
