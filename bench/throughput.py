#!/usr/bin/python3
"""throughput.py: tlsrelayd and a private Postfix instance relaying the
same load, measured in one run: acceptance rate, end-to-end rate to a
sink, peak memory and CPU time of each relay's processes. Driven by
bench/throughput.sh; uses the integration tests' harness (relaytest.py)
for the daemon and the certificates. Never part of make check.

Each (relay, mode) gets a fresh relay instance and a fresh smtp-sink on
127.0.0.1; the relay's relayhost is the sink, nothing resolves anything.
Modes: plain (smtp-source, Postfix's load generator), tls (throughput_load
with STARTTLS and a full handshake per message), tls-resumed (the same,
offering the newest resumable session of the client's previous ones).
"""

import argparse
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import relaytest  # noqa: E402

MODES = ("plain", "tls", "tls-resumed")
SENDER = "sender@bench.test"
RCPT = "rcpt@bench.test"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


class Case:
    """What relaytest wants of a unittest.TestCase."""
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
                print("cleanup: %s" % e, file=sys.stderr)


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


def cpu_ticks(root):
    """CPU time of the tree: each live process's own time plus what it
    reaped (cutime/cstime), so processes that exited still count."""
    return sum(st[2] for st in tree(root).values())


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


def disk_of(path):
    """The /proc/diskstats name of the disk under path (a partition's
    parent disk: flushes are counted there), or None (tmpfs, overlay)."""
    st = os.stat(path)
    sys_dir = "/sys/dev/block/%d:%d" % (os.major(st.st_dev),
                                        os.minor(st.st_dev))
    if not os.path.exists(sys_dir):
        return None
    real = os.path.realpath(sys_dir)
    if os.path.exists(os.path.join(real, "partition")):
        real = os.path.dirname(real)
    return os.path.basename(real)


def disk_ops(disk):
    """(writes completed, flushes completed) of disk so far."""
    if disk is None:
        return None
    with open("/proc/diskstats") as f:
        for line in f:
            fields = line.split()
            if fields[2] == disk:
                flushes = int(fields[17]) if len(fields) > 17 else 0
                return int(fields[7]), flushes
    return None


def fs_type(path):
    """The type of the file system holding path, from /proc/mounts."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            mnt = fields[1]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                    and len(mnt) > len(best):
                best, kind = mnt, fields[2]
    return kind


class Sampler(threading.Thread):
    """Peak RSS / PSS sums and process count of a tree, every 100 ms."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.peak_rss = self.peak_pss = self.peak_procs = 0
        self.done = threading.Event()

    def sample(self):
        pids = [p for p, st in tree(self.root).items() if st[1] != "Z"]
        rss, pss = memory(pids)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_procs = max(self.peak_procs, len(pids))

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(0.1)

    def stop(self):
        self.done.set()
        self.join()
        self.sample()


# ----------------------------------------------------------------- sink

class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1 counting messages (-c)."""

    def __init__(self, case, directory):
        relaytest.require_tools("smtp-sink")
        self.port = relaytest.free_port()
        self.out_path = os.path.join(directory, "sink-%d.out" % self.port)
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            ["smtp-sink", "-c", "-u", "postfix",
             "127.0.0.1:%d" % self.port, "256"],
            stdin=subprocess.DEVNULL, stdout=self.out,
            stderr=subprocess.STDOUT, start_new_session=True)
        case.addCleanup(self.stop)
        relaytest.wait_for("smtp-sink on port %d" % self.port,
                           lambda: self.port in relaytest.listening_ports(),
                           relaytest.START_TIMEOUT)

    @property
    def nexthop(self):
        return "[127.0.0.1]:%d" % self.port

    def counters(self):
        """(sessions, messages) so far, from the last "sess=S quit=Q
        mesg=M" counter line."""
        with open(self.out_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 100))
            found = re.findall(rb"sess=(\d+) quit=\d+ mesg=(\d+)",
                               f.read())
        return (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)

    def count(self):
        return self.counters()[1]

    def stop(self):
        if self.proc.poll() is None:
            relaytest.stop_pid(self.proc)
        if not self.out.closed:
            self.out.close()


# ------------------------------------------------------------- relays

class TlsrelaydUnderTest:
    name = "tlsrelayd"

    def __init__(self, case, directory, certs, sink, workers):
        main = {
            "mynetworks": "127.0.0.0/8",
            "relayhost": sink.nexthop,
            "tlsrelay_dns_servers": relaytest.NO_DNS,
            "inet_protocols": "ipv4",
            "myhostname": "relay.bench.test",
            "myorigin": "bench.test",
            "tlsrelay_smtpd_workers": str(workers) if workers else None,
        }
        self.relay = relaytest.Relay(case, directory, certs, main=main,
                                     services={"smtp": {}},
                                     extra_master=relaytest.QMGR_LINE)
        self.relay.start()
        want = (workers or os.cpu_count()) + 1      # workers + qmgr
        self.relay.wait_workers(want)
        self.port = self.relay.port()
        self.root = self.relay.pid
        self.queue_dir = self.relay.queue_dir

    def stop(self):
        self.relay.stop()

    def log(self):
        return self.relay.diagnostics()


class PostfixUnderTest:
    """A private Postfix (postfix -c DIR start) relaying everything to the
    sink: relayhost in brackets, no DNS, nothing local, bounces to the
    sink as well (every address is relayed there)."""
    name = "postfix"

    def __init__(self, case, directory, certs, sink, base):
        relaytest.require_tools("postfix")
        self.case = case
        # Its services are unix sockets under queue_directory: a short path.
        self.dir = tempfile.mkdtemp(prefix="tput-pf-", dir=base)
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
            "relayhost": sink.nexthop,
            "transport_maps": "inline:{ bench.test=smtp:%s }" % sink.nexthop,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": certs.rsa,
            "smtpd_tls_key_file": certs.rsa_key,
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
        }
        with open(os.path.join(self.conf_dir, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in main_cf.items()))
        with open(os.path.join(self.conf_dir, "master.cf"), "w") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port +
                    relaytest.POSTFIX_MASTER)
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
        relaytest.run_tool(["postfix", "-c", self.conf_dir, "stop"])
        # postfix stop returns before the master has exited.
        deadline = time.monotonic() + relaytest.STOP_TIMEOUT
        while True:
            st = relaytest.proc_stat(self.root)
            if st is None or st[0] == "Z":
                break
            if time.monotonic() > deadline:
                os.kill(self.root, signal.SIGKILL)
                break
            time.sleep(0.05)
        self.root = None


# ------------------------------------------------------------- one run

def kill_group(proc):
    """Stops a load generator and the processes it forked, by PID."""
    for pid in [proc.pid] + relaytest.group_members(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def load_command(args, mode, port):
    if mode == "plain":
        return ["smtp-source", "-c", "-l", str(args.size), "-m",
                str(args.messages), "-s", str(args.concurrency),
                "-f", SENDER, "-t", RCPT, "127.0.0.1:%d" % port]
    cmd = [args.load, "-p", str(port), "-n", str(args.messages), "-c",
           str(args.concurrency), "-l", str(args.size), "-s",
           "-f", SENDER, "-t", RCPT]
    if mode == "tls-resumed":
        cmd.append("-r")
    return cmd


def measure(relay, sink, args, mode, deadline):
    """Runs the load once; returns a dict of figures."""
    n = args.messages
    out_path = os.path.join(args.tmp, "load-%s-%s.out" % (relay.name, mode))
    sampler = Sampler(relay.root)
    disk = disk_of(relay.queue_dir)
    disk0 = disk_ops(disk)
    cpu0 = cpu_ticks(relay.root)
    sampler.start()
    with open(out_path, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(load_command(args, mode, relay.port),
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        finally:
            if proc.poll() is None:     # timed out, or interrupted
                kill_group(proc)
        accepted = time.monotonic() - start
    received = sink.count()
    while received < n and time.monotonic() < deadline:
        time.sleep(0.01)
        received = sink.count()
    end_to_end = time.monotonic() - start
    cpu1 = cpu_ticks(relay.root)
    disk1 = disk_ops(disk)
    sampler.stop()
    with open(out_path, "rb") as f:
        load_out = f.read().decode(errors="replace")
    res = {
        "accept_s": accepted, "accept_rate": n / accepted,
        "e2e_s": end_to_end, "e2e_rate": received / end_to_end,
        "received": received, "load_status": proc.returncode,
        "rss": sampler.peak_rss, "pss": sampler.peak_pss,
        "procs": sampler.peak_procs, "cpu": (cpu1 - cpu0) / TICK,
        "resumed": None, "disk_writes": None, "disk_flushes": None,
    }
    if disk0 and disk1:
        # The whole disk's counters: anything else writing shows too.
        res["disk_writes"] = (disk1[0] - disk0[0]) / n
        res["disk_flushes"] = (disk1[1] - disk0[1]) / n
    m = re.search(r"failed=(\d+) resumed=(\d+)", load_out)
    if m:
        res["resumed"] = int(m.group(2))
    if proc.returncode != 0 or received < n:
        tail = load_out.replace("\r", "\n").strip().splitlines()[-3:]
        print("  warning: %s %s: load exit %s, sink got %d of %d: %s" % (
            relay.name, mode, proc.returncode, received, n,
            " | ".join(tail)), flush=True)
    return res


def run_one(case, certs, args, name, mode, deadline):
    sink = SmtpSink(case, args.tmp)
    directory = os.path.join(args.tmp, "%s-%s" % (name, mode))
    if name == "postfix":
        relay = PostfixUnderTest(case, directory, certs, sink,
                                 args.queue_base)
    else:
        relay = TlsrelaydUnderTest(case, directory, certs, sink,
                                   args.workers)
    try:
        time.sleep(0.5)     # let start-up settle before the CPU baseline
        res = measure(relay, sink, args, mode, deadline)
    finally:
        try:
            relay.stop()
        finally:
            # smtp-sink counts a session when it ends: once the relay's
            # cached connections are closed.
            time.sleep(0.2)
            sessions = sink.counters()[0]
            sink.stop()
    res["sink_sessions"] = sessions
    print("%-9s %-11s accept %7.1f msg/s (%.2f s)  end-to-end %7.1f msg/s "
          "(%.2f s)  peak RSS %6.1f MB  PSS %6.1f MB  CPU %6.2f s  "
          "procs %d  delivery connections %d%s" % (
              name, mode, res["accept_rate"], res["accept_s"],
              res["e2e_rate"], res["e2e_s"], res["rss"] / 1e6,
              res["pss"] / 1e6, res["cpu"], res["procs"],
              res["sink_sessions"], "" if res["resumed"] is None else
              "  resumed %d" % res["resumed"]), flush=True)
    return res


# ------------------------------------------------------------ the table

ROWS = [
    ("accept_rate", "accept msg/s", "%9.1f", "higher"),
    ("e2e_rate", "end-to-end msg/s", "%9.1f", "higher"),
    ("rss", "peak RSS sum MB", "%9.1f", "lower"),
    ("pss", "peak PSS sum MB", "%9.1f", "lower"),
    ("cpu", "CPU s (user+sys)", "%9.2f", "lower"),
    ("cpu_per_msg", "CPU ms / message", "%9.3f", "lower"),
    ("procs", "peak processes", "%9d", "lower"),
    ("sink_sessions", "delivery connections", "%9d", None),
    # The whole disk's counters (anything else writing shows too).
    ("disk_writes", "disk writes / message", "%9.2f", "lower"),
    ("disk_flushes", "disk flushes / message", "%9.2f", None),
]


def print_table(results, args):
    print()
    print("%d messages of %d bytes, %d concurrent connections, one message "
          "per connection; tlsrelayd workers: %s; relay -> smtp-sink on "
          "127.0.0.1; queues under %s (%s)" % (
              args.messages, args.size, args.concurrency,
              args.workers or "default (%d cores)" % os.cpu_count(),
              args.queue_base, fs_type(args.queue_base)))
    print("load: plain = smtp-source; tls = throughput_load (OpenSSL, "
          "STARTTLS, full handshake per message); tls-resumed = the same "
          "offering its last session")
    for mode in args.modes:
        print()
        print("%-31s%10s%10s%10s" % (mode, "tlsrelayd", "postfix",
                                        "ratio"))
        for key, label, fmt, better in ROWS:
            vals = []
            for name in ("tlsrelayd", "postfix"):
                r = results.get((name, mode))
                if r is None:
                    vals.append(None)
                    continue
                r = dict(r, cpu_per_msg=1000 * r["cpu"] / args.messages,
                         rss=r["rss"] / 1e6, pss=r["pss"] / 1e6)
                vals.append(r.get(key))
            if vals == [None, None]:
                continue        # e.g. no disk counters on a tmpfs
            cells = [(" " + fmt % v) if v is not None else "%10s" % "-"
                     for v in vals]
            ratio = ("%10.2f" % (vals[0] / vals[1])
                     if None not in vals and vals[1] else "%10s" % "-")
            print("  %-29s%s%s%s  %s" % (
                label, cells[0], cells[1], ratio,
                "(%s is better)" % better if better else "(for insight)"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--load", required=True, help="throughput_load binary")
    p.add_argument("--messages", "-n", type=int, default=2000)
    p.add_argument("--concurrency", "-c", type=int, default=20)
    p.add_argument("--size", type=int, default=10240,
                   help="body bytes per message (default 10240)")
    p.add_argument("--workers", type=int, default=0,
                   help="tlsrelayd smtpd workers (default: the daemon's, "
                        "one per core)")
    p.add_argument("--modes", default="plain,tls",
                   help="comma-separated from %s (default plain,tls)" %
                        ",".join(MODES))
    p.add_argument("--queue-base", default="/tmp",
                   help="directory on the file system under test: both "
                        "relays' queues go there (default /tmp; keep the "
                        "path short, Postfix's sockets live there)")
    p.add_argument("--budget", type=float, default=240,
                   help="seconds for the measurements (default 240)")
    p.add_argument("--no-postfix", action="store_true")
    args = p.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    for m in args.modes:
        if m not in MODES:
            p.error("unknown mode %r" % m)
    relaytest.require_tools("smtp-source", "smtp-sink")

    started = time.monotonic()
    case = Case()
    args.tmp = tempfile.mkdtemp(prefix="tput-", dir=args.queue_base)
    os.chmod(args.tmp, 0o755)
    case.addCleanup(shutil.rmtree, args.tmp, True)
    names = ["tlsrelayd"] + ([] if args.no_postfix else ["postfix"])
    # Alternate which relay goes first: a file system can get slower
    # after a run (ext4 without a journal scans past recently deleted
    # inodes when it creates files), and the second relay would pay.
    runs = []
    for i, mode in enumerate(args.modes):
        runs += [(name, mode) for name in (names if i % 2 == 0 else
                                           reversed(names))]
    results = {}
    try:
        certs = relaytest.Certs(os.path.join(args.tmp, "certs"))
        for i, (name, mode) in enumerate(runs):
            # Each run gets an equal share of what is left of the budget.
            left = args.budget - (time.monotonic() - started)
            deadline = time.monotonic() + left / (len(runs) - i) - 3
            try:
                results[(name, mode)] = run_one(case, certs, args, name,
                                                mode, deadline)
            except Exception as e:  # report the others anyway
                print("%s %s: not measured: %s" % (name, mode, e),
                      flush=True)
    finally:
        case.cleanup()
    print_table(results, args)
    print("\n(%.0f s in all)" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
