#!/usr/bin/python3
"""compare.py: tlsrelayd against a tuned private Postfix, relaying the same
workloads to the same STARTTLS sink (bench/sink.c), alternating, several
runs each, with the generator-to-sink ceiling measured in every run.
Driven by bench/compare, which builds tlsrelayd and the C helpers; see
bench/README.md for what is measured and how. Never part of make check.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import relaytest

SESSIONS = 20           # concurrent SMTP sessions of the load
STALL = 15              # seconds without a delivery that end a wait
IDLE_RAMP = 180         # seconds to open the idle connections
NOFILE = 65536          # descriptors for the idle connections


class Workload:
    def __init__(self, name, what, messages=0, size=4096, tls=False,
                 cert="rsa", per_connection=1, burst=False, idle=False):
        self.name = name
        self.what = what
        self.messages = messages
        self.size = size
        self.tls = tls
        self.cert = cert
        self.per_connection = per_connection
        self.burst = burst
        self.idle = idle


WORKLOADS = [
    Workload("plain4k", "plaintext, 4 KiB messages, 1 per connection",
             messages=1500),
    Workload("plain100k", "plaintext, 100 KiB messages, 1 per connection",
             messages=1000, size=102400),
    Workload("tls-rsa", "STARTTLS (RSA-2048 certificate), 4 KiB, "
             "1 message per connection", messages=1000, tls=True),
    Workload("tls-ecdsa", "STARTTLS (ECDSA P-256 certificate), 4 KiB, "
             "1 message per connection", messages=1000, tls=True,
             cert="ec"),
    Workload("tls-10", "STARTTLS (RSA-2048), 4 KiB, 10 messages per "
             "connection", messages=1500, tls=True, per_connection=10),
    Workload("burst", "burst: plaintext 4 KiB, 1 per connection, sent "
             "as fast as the generator can", messages=20000, burst=True),
    Workload("idle", "idle connections held open, plaintext and after "
             "STARTTLS (RSA-2048)", idle=True),
]
BY_NAME = {w.name: w for w in WORKLOADS}
PLAINTEXT = ("plain4k", "plain100k", "burst")
STARTTLS = ("tls-rsa", "tls-ecdsa", "tls-10")


def say(text=""):
    print(text, flush=True)


# ----------------------------------------------------------------- sink

class Sink:
    """bench/sink on a free port of 127.0.0.1, offering STARTTLS with a
    self-signed certificate of the workload's key type."""

    def __init__(self, case, args, directory, cert):
        self.port = relaytest.free_port()
        self.prefix = os.path.join(directory, "sink-%d" % self.port)
        self.procs = args.sink_procs
        crt, key = args.sink_certs[cert]
        self.log = open(self.prefix + ".log", "wb")
        self.proc = subprocess.Popen(
            [args.sink, "-p", str(self.port), "-C", crt, "-K", key,
             "-o", self.prefix, "-P", str(self.procs)],
            stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        case.addCleanup(self.stop)
        relaytest.wait_for("the sink on port %d" % self.port,
                           lambda: self.port in relaytest.listening_ports(),
                           relaytest.START_TIMEOUT, self.diagnostics)

    @property
    def nexthop(self):
        return "[127.0.0.1]:%d" % self.port

    def diagnostics(self):
        with open(self.prefix + ".log", "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def count(self):
        """Messages received so far (the processes' shared counters)."""
        try:
            with open(self.prefix + ".count", "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return 0
        return sum(struct.unpack("<%dQ" % (len(data) // 8), data))

    def finish(self):
        """Stops the sink; returns (records, sessions, tls sessions), a
        record being (arrival_ns, sent_ns, id)."""
        self.proc.terminate()
        try:
            status = self.proc.wait(relaytest.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the sink did not stop\n" +
                               self.diagnostics())
        if status != 0:
            raise RuntimeError("the sink exited with %s\n%s" % (
                status, self.diagnostics()))
        records, sessions, tls = [], 0, 0
        for i in range(self.procs):
            with open("%s.%d" % (self.prefix, i)) as f:
                head = dict(kv.split("=") for kv in f.readline()[2:].split())
                sessions += int(head["sessions"])
                tls += int(head["tls"])
                for line in f:
                    arrival, sent, ident = line.split()
                    records.append((int(arrival), int(sent), ident))
        return records, sessions, tls

    def stop(self):
        if self.proc.poll() is None:
            benchlib.kill_tree(self.proc)
        self.log.close()


# ------------------------------------------------------------- the load

def key_values(line):
    return dict(kv.split("=", 1) for kv in line.split())


def send_load(args, wl, port, messages, limit, out_path):
    """Runs loadgen against port; returns its figures (a dict)."""
    cmd = [args.loadgen, "-p", str(port), "-n", str(messages),
           "-c", str(args.sessions), "-m", str(wl.per_connection),
           "-l", str(wl.size), "-P", str(args.load_procs),
           "-T", str(limit)]
    if wl.tls:
        cmd.append("-s")
    with open(out_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=limit + 30)
        except BaseException:
            benchlib.kill_tree(proc)
            raise
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines or not lines[-1].startswith("messages="):
        raise RuntimeError("loadgen said nothing useful (exit %s): %s" % (
            proc.returncode, tail(out_path)))
    res = {k: float(v) if "." in v else int(v)
           for k, v in key_values(lines[-1]).items()}
    res["errors"] = tail(out_path)
    return res


def tail(path, lines=3):
    try:
        with open(path, "rb") as f:
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])


def wait_delivered(sink, want, deadline):
    """Waits until the sink has want messages, the deadline passes, or
    nothing arrives for STALL seconds; returns (count, why it stopped)."""
    count = sink.count()
    last, changed = count, time.monotonic()
    while count < want:
        now = time.monotonic()
        if now > deadline:
            return count, "time limit"
        if now - changed > STALL:
            return count, "no delivery for %d s" % STALL
        time.sleep(0.02)
        count = sink.count()
        if count != last:
            last, changed = count, time.monotonic()
    return count, None


# ------------------------------------------------------------ the relays

def start_relay(case, args, name, directory, nexthop, cert, **kw):
    if name == "postfix":
        return benchlib.Postfix(case, directory, args.certs, nexthop,
                                cert=cert, base=args.tmp, **kw)
    return benchlib.Tlsrelayd(case, directory, args.certs, nexthop,
                              cert=cert)


class Perf:
    """perf record -g of a relay's processes, when asked for and working."""

    def __init__(self, case, args, relay, label):
        self.proc = None
        case.addCleanup(self.stop)
        self.path = os.path.join(args.results_dir, "perf-%s.data" % label)
        pids = benchlib.live_pids(relay.root)
        self.err = open(self.path + ".log", "wb")
        try:
            self.proc = subprocess.Popen(
                ["perf", "record", "-g", "-o", self.path, "-p",
                 ",".join(map(str, pids))], stdin=subprocess.DEVNULL,
                stdout=self.err, stderr=subprocess.STDOUT,
                start_new_session=True)
        except OSError as e:
            say("  perf: not recorded: %s" % e)
        time.sleep(0.5)     # perf attaches
        if self.proc and self.proc.poll() is not None:
            say("  perf: not recorded: %s" % tail(self.path + ".log"))
            self.proc = None

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGINT)     # perf writes its file
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            benchlib.kill_tree(proc)
        self.err.close()
        report = self.path[:-len(".data")] + ".txt"
        with open(report, "wb") as out:
            subprocess.run(["perf", "report", "-i", self.path, "--stdio",
                            "--no-children", "-g", "none", "--sort",
                            "dso,sym", "--percent-limit", "0.3"],
                           stdout=out, stderr=subprocess.DEVNULL,
                           timeout=600)
        say("  perf: %s (report: %s)" % (self.path, report))


# --------------------------------------------------------- one message run

def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, -(-len(sorted_values) * p // 100) - 1)   # nearest rank
    return sorted_values[int(k)]


def measure(args, wl, target, run, messages):
    """One run of a message workload against target ("ceiling",
    "tlsrelayd" or "postfix"); returns a dict of figures."""
    label = "%s-%s-%d" % (wl.name, target, run + 1)
    directory = os.path.join(args.tmp, label)
    os.makedirs(directory)
    os.chmod(directory, 0o755)
    # Bounds: no relay takes longer than this at 20 msg/s or more.
    limit = 60 + messages / 20
    with benchlib.Case() as case:
        sink = Sink(case, args, directory, wl.cert)
        relay = port = perf = None
        if target == "ceiling":
            port = sink.port
        else:
            relay = start_relay(case, args, target,
                                os.path.join(directory, target),
                                sink.nexthop, wl.cert)
            port = relay.port
            time.sleep(0.5)     # let start-up settle before the baseline
            cpu0 = benchlib.cpu_seconds(relay.root)
            if args.perf == wl.name and target == "tlsrelayd" and run == 0:
                perf = Perf(case, args, relay, label)
        deadline = time.monotonic() + limit
        sink_cpu0 = benchlib.cpu_seconds(sink.proc.pid)
        gen_cpu0 = children_cpu()
        gen = send_load(args, wl, port, messages, limit,
                        os.path.join(directory, "loadgen.err"))
        gen_cpu = children_cpu() - gen_cpu0
        _, why = wait_delivered(sink, gen["accepted"], deadline)
        waited_ns = time.monotonic_ns()     # CLOCK_MONOTONIC, as the sink
        sink_cpu = benchlib.cpu_seconds(sink.proc.pid) - sink_cpu0
        cpu = None
        if relay:
            cpu = benchlib.cpu_seconds(relay.root) - cpu0
            if perf:
                perf.stop()
            relay.stop()
        records, sessions, tls_sessions = sink.finish()
    res = figures(gen, records, waited_ns)
    res.update(label=label, target=target, run=run + 1, cpu=cpu,
               sink_cpu=sink_cpu, load_cpu=gen_cpu,
               sink_sessions=sessions, sink_tls=tls_sessions,
               stopped=why, load_errors=gen["errors"])
    if cpu is not None and res["delivered"]:
        res["cpu_ms"] = 1000 * cpu / res["delivered"]
    return res


def children_cpu():
    """CPU seconds of the children reaped so far (loadgen counts its
    own children once it has reaped them)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def figures(gen, records, waited_ns):
    """The run's figures from the generator's line and the sink's
    records; waited_ns: when the wait for deliveries ended."""
    start = gen["start_ns"]
    ids = [r[2] for r in records]
    unique = set(ids)
    arrivals = sorted(r[0] for r in records)
    latencies = sorted((r[0] - r[1]) / 1e6 for r in records if r[1])
    res = {
        "messages": gen["messages"], "accepted": gen["accepted"],
        "refused": gen["failed"],
        "unsent": gen["messages"] - gen["accepted"] - gen["failed"],
        "received": len(records), "delivered": len(unique),
        "duplicates": len(ids) - len(unique),
        "accepted_rate": gen["accepted"] / max(1e-9, (gen["end_ns"] -
                                                      start) / 1e9),
        "delivered_rate": None, "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99), "gap_s": None,
    }
    # Mail the relay said 250 to and the sink never saw: lost.
    res["lost"] = max(0, gen["accepted"] - len(unique))
    if arrivals:
        res["delivered_rate"] = len(unique) / max(1e-9, (arrivals[-1] -
                                                         start) / 1e9)
        res["gap_s"] = max((b - a for a, b in zip(arrivals, arrivals[1:])),
                           default=0) / 1e9
    if res["lost"]:
        # Mail was still due: the time waited after the last arrival is
        # a gap too.
        res["gap_s"] = max(res["gap_s"] or 0, (waited_ns - (
            arrivals[-1] if arrivals else start)) / 1e9)
    return res


def describe(res):
    text = ("%-28s delivered %s msg/s  accepted %.1f msg/s  p50 %s ms  "
            "p99 %s ms" % (res["label"], cell(res["delivered_rate"], "%.1f"),
                           res["accepted_rate"], cell(res["p50_ms"], "%.1f"),
                           cell(res["p99_ms"], "%.1f")))
    if res.get("cpu_ms") is not None:
        text += "  CPU %.3f ms/msg" % res["cpu_ms"]
    if res["gap_s"] is not None:
        text += "  longest gap %.2f s" % res["gap_s"]
    text += "\n%28s (sink: %d connections, %d with TLS, CPU %.1f s; loadgen " \
        "CPU %.1f s)" % ("", res["sink_sessions"], res["sink_tls"],
                         res["sink_cpu"], res["load_cpu"])
    return text


def problems_of(res):
    """What went wrong in a run, loudly."""
    out = []
    if res["lost"]:
        out.append("MAIL LOST OR STUCK: %d of %d accepted messages never "
                   "reached the sink (%s)" % (
                       res["lost"], res["accepted"],
                       res["stopped"] or "sink stopped"))
    if res["duplicates"]:
        out.append("%d messages delivered twice" % res["duplicates"])
    if res["refused"] or res["unsent"]:
        out.append("%d messages refused or cut off, %d never sent: %s" % (
            res["refused"], res["unsent"], res["load_errors"]))
    return out


# ------------------------------------------------------------ idle runs

def measure_idle(args, target, run, tls, connections):
    label = "idle-%s-%s-%d" % ("tls" if tls else "plain", target, run + 1)
    directory = os.path.join(args.tmp, label)
    os.makedirs(directory)
    os.chmod(directory, 0o755)
    with benchlib.Case() as case:
        kw = {}
        if target == "postfix":
            # One smtpd process per connection: room for all of them.
            kw["smtpd_maxproc"] = str(connections + 10)
        relay = start_relay(case, args, target,
                            os.path.join(directory, target),
                            "[127.0.0.1]:1", "rsa", **kw)
        time.sleep(1)
        base_pss = benchlib.memory(benchlib.live_pids(relay.root))[1]
        base_procs = len(benchlib.live_pids(relay.root))
        cmd = [args.loadgen, "-I", "-p", str(relay.port), "-n",
               str(connections), "-c", "200", "-P", str(args.load_procs),
               "-T", str(IDLE_RAMP)] + (["-s"] if tls else [])
        err_path = os.path.join(directory, "loadgen.err")
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err,
                                    start_new_session=True)
            case.addCleanup(benchlib.kill_tree, proc)
            started = time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [],
                                        IDLE_RAMP + 30)
            line = proc.stdout.readline().decode() if ready else ""
            if not line.startswith("connections="):
                raise RuntimeError("loadgen opened no idle connections "
                                   "(%s)" % tail(err_path))
            ramp = time.monotonic() - started
            gen = key_values(line)
            time.sleep(2)       # let the relay settle
            samples = []
            for _ in range(3):
                samples.append(benchlib.memory(
                    benchlib.live_pids(relay.root))[1])
                time.sleep(0.5)
            pss = statistics.median(samples)
            procs = len(benchlib.live_pids(relay.root))
            still_open = benchlib.established(relay.port)
            proc.stdin.close()      # loadgen closes them all and exits
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                benchlib.kill_tree(proc)
        relay.stop()
    held = int(gen["held"])
    res = {
        "label": label, "target": target, "run": run + 1, "tls": tls,
        "asked": connections, "held": held, "failed": int(gen["failed"]),
        "open_at_sample": still_open, "ramp_s": ramp,
        "base_pss_mb": base_pss / 1048576, "pss_mb": pss / 1048576,
        "procs": procs, "base_procs": base_procs,
        "kib_per_conn": (pss - base_pss) / 1024 / held if held else None,
        "errors": tail(err_path),
    }
    say("%-28s held %d of %d (%d open when sampled) in %.1f s  PSS %.1f -> "
        "%.1f MB  %s KiB per connection  processes %d -> %d" % (
            label, held, connections, still_open, ramp, res["base_pss_mb"],
            res["pss_mb"], "%.2f" % res["kib_per_conn"]
            if held else "-", base_procs, procs))
    return res


# ------------------------------------------------------------ the tables

def median(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def cell(value, fmt):
    return fmt % value if value is not None else "-"


def ratio(a, b):
    return a / b if a is not None and b else None


def arrived_cell(runs):
    lost = sum(r["lost"] for r in runs)
    dup = sum(r["duplicates"] for r in runs)
    acc = sum(r["accepted"] for r in runs)
    text = "yes (%d/%d)" % (acc - lost, acc) if not lost else \
        "**NO: %d LOST**" % lost
    if dup:
        text += ", %d duplicates" % dup
    return text


def throughput_table(results, workloads, targets):
    out = ["| workload | relay | delivered msg/s | accepted msg/s | "
           "relay CPU ms/msg | p50 ms | p99 ms | every accepted message "
           "arrived | longest gap s |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for wl in workloads:
        if wl.idle:
            continue
        meds = {}
        for target in targets:
            runs = results.get((wl.name, target))
            if not runs:
                continue
            m = {k: median(runs, k) for k in ("delivered_rate",
                 "accepted_rate", "cpu_ms", "p50_ms", "p99_ms")}
            m["gap_s"] = max((r["gap_s"] for r in runs
                              if r["gap_s"] is not None), default=None)
            meds[target] = m
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                wl.name, target, cell(m["delivered_rate"], "%.1f"),
                cell(m["accepted_rate"], "%.1f"), cell(m["cpu_ms"], "%.3f"),
                cell(m["p50_ms"], "%.1f"), cell(m["p99_ms"], "%.1f"),
                arrived_cell(runs), cell(m["gap_s"], "%.2f")))
        t, p = meds.get("tlsrelayd"), meds.get("postfix")
        if t and p:
            out.append("| %s | **tlsrelayd / postfix** | %s | %s | %s | %s "
                       "| %s | | |" % (
                           wl.name, *(cell(ratio(t[k], p[k]), "%.2fx")
                                      for k in ("delivered_rate",
                                                "accepted_rate", "cpu_ms",
                                                "p50_ms", "p99_ms"))))
        c = meds.get("ceiling")
        if t and c:
            r = ratio(t["delivered_rate"], c["delivered_rate"])
            out.append("| %s | **tlsrelayd / ceiling** | %s | | | | | | |" %
                       (wl.name, cell(None if r is None else 100 * r,
                                      "%.0f%%")))
    return out


def idle_table(results, targets):
    out = ["| idle connections | relay | held (asked) | PSS before, MB | "
           "PSS held, MB | PSS per connection, KiB | processes |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for mode in ("plain", "tls"):
        for target in targets:
            runs = results.get(("idle-" + mode, target))
            if not runs:
                continue
            out.append("| %s | %s | %s (%d) | %.1f | %.1f | %s | %d |" % (
                "plaintext" if mode == "plain" else "after STARTTLS",
                target, "%d" % min(r["held"] for r in runs),
                runs[0]["asked"], median(runs, "base_pss_mb"),
                median(runs, "pss_mb"),
                cell(median(runs, "kib_per_conn"), "%.2f"),
                max(r["procs"] for r in runs)))
    return out


def verdict(ok):
    return "-" if ok is None else ("yes" if ok else "**no**")


def targets_table(results, workloads):
    """The issue's targets next to what was measured."""
    out = ["| workload | target | measured | met |",
           "| --- | --- | ---: | --- |"]

    def med(name, target, key):
        runs = results.get((name, target))
        return median(runs, key) if runs else None

    def row(name, what, value, fmt, ok):
        out.append("| %s | %s | %s | %s |" % (name, what, cell(value, fmt),
                                             verdict(ok)))

    for wl in workloads:
        n = wl.name
        if wl.idle:
            for mode in ("plain", "tls"):
                v = med("idle-" + mode, "tlsrelayd", "kib_per_conn")
                row("idle (%s)" % ("plaintext" if mode == "plain" else
                                   "STARTTLS"),
                    "PSS per idle connection <= 10 KiB", v, "%.2f KiB",
                    None if v is None else v <= 10)
            continue
        if n in PLAINTEXT:
            r = ratio(med(n, "tlsrelayd", "delivered_rate"),
                      med(n, "postfix", "delivered_rate"))
            row(n, "delivered msg/s >= 5x Postfix", r, "%.2fx",
                None if r is None else r >= 5)
        if n in STARTTLS:
            r = ratio(med(n, "tlsrelayd", "delivered_rate"),
                      med(n, "ceiling", "delivered_rate"))
            row(n, "delivered msg/s >= 85% of the generator-to-sink "
                "ceiling", None if r is None else 100 * r, "%.0f%%",
                None if r is None else r >= 0.85)
            r = ratio(med(n, "tlsrelayd", "cpu_ms"),
                      med(n, "postfix", "cpu_ms"))
            row(n, "relay CPU per message <= 0.25x Postfix", r, "%.2fx",
                None if r is None else r <= 0.25)
        r = ratio(med(n, "tlsrelayd", "p99_ms"), med(n, "postfix", "p99_ms"))
        row(n, "p99 latency <= 0.5x Postfix", r, "%.2fx",
            None if r is None else r <= 0.5)
        if wl.burst:
            runs = results.get((n, "tlsrelayd"))
            if runs:
                missing = sum(r["messages"] - r["delivered"] for r in runs)
                row(n, "fully delivered (every run)", "%d missing" % missing
                    if missing else "all %d" % sum(r["messages"]
                                                   for r in runs),
                    "%s", missing == 0)
                gap = max(r["gap_s"] or 0 for r in runs)
                row(n, "no second without a delivery (longest gap, "
                    "worst run)", gap, "%.2f s", gap < 1)
    return out


# ------------------------------------------------------------ the driver

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d cores (nproc), %s, Linux %s" % (
        len(os.sched_getaffinity(0)), model, platform.release())


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def source_version():
    res = subprocess.run(["git", "-C", benchlib.TOP, "describe", "--always",
                          "--dirty"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    return res.stdout.decode().strip() or "?"


def make_sink_certs(directory):
    """Self-signed certificates for the sink, one per key type."""
    certs = {}
    for name, alg in (("rsa", ["-newkey", "rsa:2048"]),
                      ("ec", ["-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:P-256"])):
        crt = os.path.join(directory, "sink-%s.crt" % name)
        key = os.path.join(directory, "sink-%s.key" % name)
        relaytest.openssl("req", "-x509", *alg, "-nodes", "-keyout", key,
                          "-out", crt, "-days", "2", "-subj",
                          "/CN=sink.bench.test")
        certs[name] = (crt, key)
    return certs


def raise_nofile(args):
    """The idle connections need descriptors, in every process we start
    (a relay worker may get all of them). Without CAP_SYS_RESOURCE (in a
    container, say) only the soft limit can go up, to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
        return
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if "idle" in args.workloads and hard < args.idle_connections + 1000:
        say("warning: RLIMIT_NOFILE is %d and cannot be raised (no "
            "CAP_SYS_RESOURCE): %d idle connections may not fit" % (
                hard, args.idle_connections))


def parse_args():
    p = argparse.ArgumentParser(
        description="tlsrelayd against Postfix: see bench/README.md")
    p.add_argument("--loadgen", required=True)
    p.add_argument("--sink", required=True)
    p.add_argument("--workloads", default=",".join(w.name for w in
                                                    WORKLOADS),
                   help="comma-separated from %s (default: all)" %
                        ",".join(w.name for w in WORKLOADS))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("-n", "--messages", type=int,
                   help="messages per run of every message workload "
                        "(default: per workload, burst 20000)")
    p.add_argument("--idle-connections", type=int, default=10000)
    p.add_argument("--postfix-idle", type=int, default=500,
                   help="idle connections asked of Postfix: one smtpd "
                        "process each (default 500)")
    p.add_argument("--sessions", type=int, default=SESSIONS)
    p.add_argument("--load-procs", type=int, default=os.cpu_count())
    p.add_argument("--sink-procs", type=int, default=os.cpu_count())
    p.add_argument("--no-postfix", action="store_true")
    p.add_argument("--perf", metavar="WORKLOAD",
                   help="perf record -g tlsrelayd during the first run of "
                        "WORKLOAD")
    p.add_argument("--queue-base", default="/tmp",
                   help="where the relays' queues go (default /tmp; keep "
                        "it short, Postfix's sockets live there)")
    p.add_argument("--results-dir", default=".")
    p.add_argument("--keep", action="store_true",
                   help="keep the relays' directories and logs")
    args = p.parse_args()
    # What the user chose, for the results file (not the helpers' paths).
    args.argv = [a for a in sys.argv[1:] if a not in (
        args.loadgen, args.sink, args.results_dir, "--loadgen", "--sink",
        "--results-dir")]
    args.workloads = [w for w in args.workloads.split(",") if w]
    for w in args.workloads:
        if w not in BY_NAME:
            p.error("unknown workload %r" % w)
    if args.perf and args.perf not in args.workloads:
        p.error("--perf %s: not a workload of this run" % args.perf)
    if args.perf and BY_NAME[args.perf].idle:
        p.error("--perf: pick a message workload")
    return args


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("compare: run as root (tlsrelayd drops to the tlsrelay "
                 "user, Postfix starts as root)")
    relaytest.require_program(relaytest.TLSRELAYD)
    if not args.no_postfix:
        relaytest.require_tools("postfix", "postconf")
    if args.perf and shutil.which("perf") is None:
        say("perf: not installed (apt-get install linux-perf); "
            "carrying on without it")
        args.perf = None
    benchlib.stop_on_sigterm()
    raise_nofile(args)

    started = time.monotonic()
    stamp = datetime.datetime.now(datetime.timezone.utc)
    os.makedirs(args.results_dir, exist_ok=True)
    results_path = os.path.join(args.results_dir, "compare-%s.md" %
                                stamp.strftime("%Y%m%d-%H%M%S"))
    workloads = [BY_NAME[w] for w in args.workloads]
    relays = ["tlsrelayd"] + ([] if args.no_postfix else ["postfix"])
    header = [
        "tlsrelayd %s against Postfix %s, %s UTC" % (
            source_version(), "(not run)" if args.no_postfix else
            benchlib.postfix_version(), stamp.strftime("%Y-%m-%d %H:%M")),
        "Machine: %s; load average %s at the start" % (machine(),
                                                      loadavg()),
        "%d runs, medians; %d concurrent sessions; relays and the ceiling "
        "alternate within each run; queues under %s" % (
            args.runs, args.sessions, args.queue_base),
        "Options: %s" % (" ".join(args.argv) or "(defaults)"),
    ]
    for line in header:
        say(line)

    results, problems = {}, []
    args.tmp = tempfile.mkdtemp(prefix="bench-", dir=args.queue_base)
    os.chmod(args.tmp, 0o755)
    try:
        args.certs = relaytest.Certs(os.path.join(args.tmp, "certs"))
        args.sink_certs = make_sink_certs(os.path.join(args.tmp, "certs"))
        for wl in workloads:
            say()
            say("== %s: %s" % (wl.name, wl.what))
            for run in range(args.runs):
                order = relays if run % 2 == 0 else relays[::-1]
                if wl.idle:
                    for tls in (False, True):
                        for target in order:
                            n = args.idle_connections
                            if target == "postfix":
                                n = min(n, args.postfix_idle)
                            key = ("idle-tls" if tls else "idle-plain",
                                   target)
                            try:
                                res = measure_idle(args, target, run, tls, n)
                            except (RuntimeError, AssertionError) as e:
                                problems.append("%s run %d: %s" % (
                                    key, run + 1, e))
                                say("  FAILED: %s" % e)
                                continue
                            results.setdefault(key, []).append(res)
                            if res["held"] < n:
                                problems.append(
                                    "%s %s run %d: held %d of %d "
                                    "connections (%s)" % (
                                        key[0], target, run + 1,
                                        res["held"], n, res["errors"]))
                    continue
                messages = args.messages or wl.messages
                for target in ["ceiling"] + order:
                    try:
                        res = measure(args, wl, target, run, messages)
                    except (RuntimeError, AssertionError) as e:
                        problems.append("%s %s run %d: not measured: %s" %
                                        (wl.name, target, run + 1, e))
                        say("  FAILED: %s" % e)
                        continue
                    results.setdefault((wl.name, target), []).append(res)
                    say(describe(res))
                    for text in problems_of(res):
                        text = "%s: %s" % (res["label"], text)
                        problems.append(text)
                        say("  !!! " + text)
    except KeyboardInterrupt:
        say("\ninterrupted: every process started was stopped; partial "
            "results follow")
        problems.append("interrupted before the end")
    finally:
        if args.keep:
            say("kept: %s" % args.tmp)
        else:
            shutil.rmtree(args.tmp, True)

    report = header[:]
    report[1] = report[1] + ", %s at the end" % loadavg()
    report += ["", "## Throughput, latency, CPU (medians of %d runs)" %
               args.runs, ""]
    report += throughput_table(results, workloads,
                               ["ceiling"] + relays)
    if any(w.idle for w in workloads):
        report += ["", "## Idle connections (medians)", ""]
        report += idle_table(results, relays)
    if not args.no_postfix:
        report += ["", "## Targets", ""]
        report += targets_table(results, workloads)
    report += ["", "## Problems", ""]
    report += ["- " + p for p in problems] or ["none: every accepted "
                                              "message arrived"]
    report += ["", "(%.0f s in all)" % (time.monotonic() - started)]
    say()
    for line in report:
        say(line)
    with open(results_path, "w") as f:
        f.write("\n".join(report) + "\n")
    with open(results_path[:-3] + ".json", "w") as f:
        json.dump({"%s/%s" % k: v for k, v in results.items()}, f, indent=1)
    say("\nresults: %s (and .json)" % results_path)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
