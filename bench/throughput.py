#!/usr/bin/python3
"""throughput.py: tlsrelayd and a private Postfix instance relaying the
same load, measured in one run: acceptance rate, end-to-end rate to a
sink, peak memory and CPU time of each relay's processes. Driven by
bench/throughput.sh; the relays and the process accounting are
bench/benchlib.py's (a tuned Postfix, see bench/README.md). Never part of
make check.

Each (relay, mode) gets a fresh relay instance and a fresh smtp-sink on
127.0.0.1; the relay's relayhost is the sink, nothing resolves anything.
Modes: plain (smtp-source, Postfix's load generator), tls (bench/loadgen
with STARTTLS and a full handshake per message), tls-resumed (the same,
offering the newest resumable session of the client's previous ones).
"""

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import benchlib
from benchlib import SENDER, RCPT, relaytest

MODES = ("plain", "tls", "tls-resumed")


# ------------------------------------------------------ disk and memory

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
        pids = benchlib.live_pids(self.root)
        rss, pss = benchlib.memory(pids)
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


# ------------------------------------------------------------- one run

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
    cpu0 = benchlib.cpu_seconds(relay.root)
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
                benchlib.kill_tree(proc)
        accepted = time.monotonic() - start
    received = sink.count()
    while received < n and time.monotonic() < deadline:
        time.sleep(0.01)
        received = sink.count()
    end_to_end = time.monotonic() - start
    cpu1 = benchlib.cpu_seconds(relay.root)
    disk1 = disk_ops(disk)
    sampler.stop()
    with open(out_path, "rb") as f:
        load_out = f.read().decode(errors="replace")
    res = {
        "accept_s": accepted, "accept_rate": n / accepted,
        "e2e_s": end_to_end, "e2e_rate": received / end_to_end,
        "received": received, "load_status": proc.returncode,
        "rss": sampler.peak_rss, "pss": sampler.peak_pss,
        "procs": sampler.peak_procs, "cpu": cpu1 - cpu0,
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
        relay = benchlib.Postfix(case, directory, certs, sink.nexthop,
                                 base=args.queue_base)
    else:
        relay = benchlib.Tlsrelayd(case, directory, certs, sink.nexthop,
                                   workers=args.workers)
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
    p.add_argument("--load", required=True, help="loadgen binary")
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
    case = benchlib.Case()
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
