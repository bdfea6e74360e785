#!/usr/bin/python3
"""resumption.py: full vs resumed STARTTLS handshakes per second against
tlsrelayd (several workers, the shared session cache) and, in the same
run, a private Postfix instance with its session cache. Driven by
bench/resumption.sh; uses the integration tests' harness (relaytest.py)
for the daemon and the certificates, bench/benchlib.py for Postfix. Never
part of make check.
"""

import argparse
import os
import subprocess
import tempfile
import shutil

import benchlib
from benchlib import relaytest

MODES = [("1.2", "full"), ("1.2", "id"), ("1.2", "ticket"),
         ("1.3", "full"), ("1.3", "ticket")]


def load(tool, port, version, mode, procs, seconds):
    out = subprocess.run([tool, "-p", str(port), "-v", version, "-m", mode,
                          "-c", str(procs), "-t", str(seconds)],
                         stdout=subprocess.PIPE, check=True,
                         timeout=seconds + 60).stdout.decode()
    fields = dict(kv.split("=") for kv in out.split())
    return fields


def run_modes(name, tool, port, args):
    results = {}
    for version, mode in MODES:
        f = load(tool, port, version, mode, args.procs, args.seconds)
        results[(version, mode)] = float(f["rate"])
        print("%-9s TLS %s %-6s %8.1f handshakes/s  (%s of %s resumed, "
              "%s failed)" % (name, version, mode, float(f["rate"]),
                              f["resumed"], f["handshakes"], f["failed"]),
              flush=True)
        if mode != "full" and int(f["resumed"]) < int(f["handshakes"]) * 0.9:
            print("  warning: %s did not resume most sessions" % name)
    return results


def measure_postfix(case, tmp, certs, args):
    """A private Postfix with its own session cache (and tickets)."""
    pf = benchlib.Postfix(case, os.path.join(tmp, "pf"), certs,
                          "[127.0.0.1]:1", main={
                              "smtpd_tls_session_cache_database":
                                  "btree:${data_directory}/smtpd_scache"})
    try:
        return run_modes("postfix", args.load, pf.port, args)
    finally:
        pf.stop()       # its processes must not share the CPU with ours


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--load", required=True, help="resumption_load binary")
    p.add_argument("--procs", type=int, default=4,
                   help="client processes (default 4)")
    p.add_argument("--workers", type=int, default=4,
                   help="tlsrelayd smtpd workers (default 4)")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--no-postfix", action="store_true")
    args = p.parse_args()

    case = benchlib.Case()
    tmp = tempfile.mkdtemp(prefix="tlsrelay-bench-")
    os.chmod(tmp, 0o755)
    case.addCleanup(shutil.rmtree, tmp, True)
    table = {}
    try:
        certs = relaytest.Certs(os.path.join(tmp, "certs"))
        if not args.no_postfix:
            try:
                table["postfix"] = measure_postfix(case, tmp, certs, args)
            except Exception as e:  # report tlsrelayd anyway
                print("postfix: not measured: %s" % e, flush=True)
        relay = relaytest.Relay(case, os.path.join(tmp, "relay"), certs,
                                services={"smtp": {}}, main={
            "tlsrelay_smtpd_workers": str(args.workers),
            "smtpd_tls_session_cache_database":
                "btree:${data_directory}/smtpd_scache",
            "smtpd_client_connection_count_limit": "0",
        })
        relay.start()
        relay.wait_workers(args.workers)
        table["tlsrelayd"] = run_modes("tlsrelayd", args.load, relay.port(),
                                       args)
        relay.stop()
    finally:
        case.cleanup()

    print()
    print("resumed / full handshakes per second (same run, %d client "
          "processes, %d tlsrelayd workers):" % (args.procs, args.workers))
    for name, res in table.items():
        for version, mode in MODES:
            if mode == "full":
                continue
            full = res[(version, "full")]
            print("  %-9s TLS %s %-6s x%.2f" % (
                name, version, mode, res[(version, mode)] / full
                if full else 0))
    if "postfix" in table:
        print("tlsrelayd / postfix:")
        for key in MODES:
            pf = table["postfix"][key]
            print("  TLS %s %-6s x%.2f" % (key[0], key[1],
                                             table["tlsrelayd"][key] / pf
                                             if pf else 0))


if __name__ == "__main__":
    main()
