#!/usr/bin/python3
"""cluster.py: delivered throughput of 1, 2 and 3 tlsrelayd nodes behind
HAProxy (round robin, PROXY protocol v2), each with its own queue, all
relaying to one STARTTLS sink (bench/sink.c), loaded by bench/loadgen
through the balancer. Driven by bench/cluster, which builds what it needs;
see bench/README.md. Never part of make check: nothing is asserted but
that every accepted message arrives.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import benchlib
import compare
from benchlib import relaytest
import test_cluster

say = compare.say


def measure(args, wl, nodes, run):
    """One run: nodes relays behind HAProxy; returns a dict of figures."""
    label = "%s-%dnodes-%d" % (wl.name, nodes, run + 1)
    directory = os.path.join(args.tmp, label)
    os.makedirs(directory)
    os.chmod(directory, 0o755)
    messages = args.messages or wl.messages
    limit = 60 + messages / 20
    with benchlib.Case() as case:
        sink = compare.Sink(case, args, directory, wl.cert)
        relays = [benchlib.Tlsrelayd(
            case, os.path.join(directory, "node%d" % (i + 1)), args.certs,
            sink.nexthop, wl.cert, main={
                "myhostname": "node%d.bench.test" % (i + 1),
                "smtpd_upstream_proxy_protocol": "haproxy"})
            for i in range(nodes)]
        lb = relaytest.HAProxy(case, os.path.join(directory, "haproxy"),
                               {"nodes": test_cluster.balance(
                                   [r.port for r in relays])})
        time.sleep(0.5)
        cpu0 = sum(benchlib.cpu_seconds(r.root) for r in relays)
        deadline = time.monotonic() + limit
        started = time.monotonic()
        gen = compare.send_load(args, wl, lb.port, messages, limit,
                                os.path.join(directory, "loadgen.err"))
        count, why = compare.wait_delivered(sink, gen["accepted"], deadline)
        elapsed = time.monotonic() - started
        cpu = sum(benchlib.cpu_seconds(r.root) for r in relays) - cpu0
        for r in relays:
            r.stop()
        lb.stop()
        sink.finish()
    res = dict(accepted=gen["accepted"], delivered=count,
               rate=count / elapsed if elapsed else 0.0,
               cpu_per_msg=cpu / count * 1000 if count else None,
               stopped=why)
    say("  %-22s accepted %5d, delivered %5d in %5.1f s: %6.0f msg/s, "
        "relay CPU %s ms/msg%s" % (
            label, res["accepted"], count, elapsed, res["rate"],
            "%.2f" % res["cpu_per_msg"] if res["cpu_per_msg"] else "-",
            "" if why is None else "  MAIL LOST OR STUCK (%s)" % why))
    return res


def main():
    p = argparse.ArgumentParser(description="tlsrelayd nodes behind "
                                "HAProxy: see bench/README.md")
    p.add_argument("--loadgen", required=True)
    p.add_argument("--sink", required=True)
    p.add_argument("--workloads", default="plain4k,tls-rsa")
    p.add_argument("--nodes", default="1,2,3")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("-n", "--messages", type=int)
    p.add_argument("--sessions", type=int, default=compare.SESSIONS)
    p.add_argument("--load-procs", type=int, default=os.cpu_count())
    p.add_argument("--sink-procs", type=int, default=os.cpu_count())
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("cluster: run as root")
    relaytest.require_program(relaytest.TLSRELAYD)
    relaytest.require_tools("haproxy")
    benchlib.stop_on_sigterm()
    node_counts = [int(n) for n in args.nodes.split(",")]
    workloads = [compare.BY_NAME[w] for w in args.workloads.split(",")]
    say("tlsrelayd %s, 1 to %d nodes behind HAProxy (PROXY v2, round "
        "robin), one STARTTLS sink" % (compare.source_version(),
                                       max(node_counts)))
    say("Machine: %s; load average %s at the start" % (compare.machine(),
                                                      compare.loadavg()))
    args.tmp = tempfile.mkdtemp(prefix="bench-cluster-", dir="/tmp")
    os.chmod(args.tmp, 0o755)
    args.certs = relaytest.Certs(os.path.join(args.tmp, "certs"))
    args.sink_certs = compare.make_sink_certs(os.path.join(args.tmp,
                                                           "certs"))
    results, lost = {}, False
    try:
        for wl in workloads:
            say("\n== %s: %s" % (wl.name, wl.what))
            for run in range(args.runs):
                for nodes in node_counts:
                    res = measure(args, wl, nodes, run)
                    lost |= res["delivered"] < res["accepted"]
                    results.setdefault((wl.name, nodes), []).append(res)
    finally:
        shutil.rmtree(args.tmp, ignore_errors=True)
    say("\n| workload | nodes | delivered msg/s (median) | vs 1 node | "
        "relay CPU ms/msg |")
    say("| --- | ---: | ---: | ---: | ---: |")
    for wl in workloads:
        base = None
        for nodes in node_counts:
            runs = results[(wl.name, nodes)]
            rate = statistics.median(r["rate"] for r in runs)
            cpu = [r["cpu_per_msg"] for r in runs if r["cpu_per_msg"]]
            base = base or rate
            say("| %s | %d | %.0f | %.2fx | %s |" % (
                wl.name, nodes, rate, rate / base,
                "%.2f" % statistics.median(cpu) if cpu else "-"))
    if lost:
        say("\nMAIL LOST OR STUCK in at least one run (see above)")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
