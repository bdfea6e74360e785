"""10,000 connections held while 200 sessions send mail (issue 13, load).

Idle connections, most of them plaintext after EHLO and some after
STARTTLS, from 200 loopback addresses (so that no per-client limit
applies), are held open while 200 other sessions each send a message.
Every message is accepted and arrives at the next hop; the relay's
memory per idle connection stays small; and once the idle connections
close, the workers hold no more TCP sockets than before: none leaks."""

import asyncio
import os
import re
import resource
import smtplib
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (DEFAULT_TIMERS, TLSRELAYD,  # noqa: E402
                       OutboundTestCase, inline_table, main, wait_for)

IDLE = 10000
IDLE_TLS = 1000         # of them after STARTTLS
SENDERS = 200
SOURCES = ["127.0.%d.%d" % (1 + i // 250, 1 + i % 250) for i in range(200)]


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def tcp_inodes():
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                inodes.add(line.split()[9])
    return inodes


def fd_count(pids):
    """The TCP sockets the processes hold: what a leaked connection would
    leave (the resolver's UDP sockets, made as names are looked up, are
    not connections)."""
    tcp = tcp_inodes()
    n = 0
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.fullmatch(r"socket:\[(\d+)\]", target)
            if m and m.group(1) in tcp:
                n += 1
    return n


async def hold_one(port, source, tls_ctx, held, failed):
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=(source, 0))
        if not (await reader.readline()).startswith(b"220 "):
            raise OSError("no greeting")
        writer.write(b"EHLO idle.test\r\n")
        while not (line := await reader.readline()).startswith(b"250 "):
            if not line.startswith(b"250-"):
                raise OSError("EHLO: %r" % line)
        if tls_ctx is not None:
            writer.write(b"STARTTLS\r\n")
            if not (await reader.readline()).startswith(b"220 "):
                raise OSError("STARTTLS refused")
            await writer.start_tls(tls_ctx, server_hostname="relay.test")
            writer.write(b"EHLO idle.test\r\n")
            while not (line := await reader.readline()).startswith(
                    b"250 "):
                if not line.startswith(b"250-"):
                    raise OSError("EHLO after TLS: %r" % line)
        held.append(writer)
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
        failed.append(repr(e))


async def open_all(port, tls_ctx):
    held, failed = [], []
    sem = asyncio.Semaphore(200)

    async def one(i):
        async with sem:
            await asyncio.wait_for(hold_one(
                port, SOURCES[i % len(SOURCES)],
                tls_ctx if i < IDLE_TLS else None, held, failed), 120)
    await asyncio.gather(*(one(i) for i in range(IDLE)),
                         return_exceptions=True)
    return held, failed


class LoadTest(OutboundTestCase):

    def test_ten_thousand_idle_while_mail_flows(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < IDLE + 2000:
            self.fail("the test needs %d descriptors; the hard limit is "
                      "%d" % (IDLE + 2000, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE,
                        (soft, hard))
        sink = self.sink()
        relay = self.outbound_relay(main=dict(
            DEFAULT_TIMERS,
            transport_maps=inline_table({"example.test": "smtp:" +
                                         sink.nexthop}),
            smtpd_client_connection_count_limit="100",
            smtpd_tls_cert_file=self.certs.rsa,
            smtpd_tls_key_file=self.certs.rsa_key,
            smtpd_tls_security_level="may"))
        wait_for("the queue manager", relay.qmgr_pid, 10, relay.diagnostics)
        pids = [relay.pid] + relay.workers()
        tls_ctx = ssl.create_default_context(cafile=self.certs.ca)
        # Warm up: what the processes open once, at their first session
        # and first message (the session cache, the commit thread, the
        # DNS sockets), is not a leak.
        for w in range(4):
            with smtplib.SMTP("127.0.0.1", relay.port(), timeout=60) as c:
                c.starttls(context=tls_ctx)
                c.ehlo("warm.test")
                c.sendmail("a@senders.test", ["warm@example.test"],
                           "Subject: warm\r\n\r\nbody\r\n")
        sink.wait_messages(4, diagnostics=relay.diagnostics)
        before_pss, before_fds = pss_kib(pids), fd_count(pids)

        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)
        started = time.monotonic()
        held, failed = loop.run_until_complete(open_all(relay.port(),
                                                        tls_ctx))
        self.addCleanup(lambda: [w.transport.abort() for w in held])
        self.assertEqual(failed[:5], [])
        self.assertEqual(len(held), IDLE)
        ramp = time.monotonic() - started

        # With them all held, 200 sessions send a message each.
        errors, acked = [], []

        def send(i):
            try:
                with smtplib.SMTP("127.0.0.1", relay.port(),
                                  timeout=60) as c:
                    c.ehlo("busy.test")
                    c.sendmail("a@senders.test", ["b%d@example.test" % i],
                               "Subject: load %d\r\n\r\nbody\r\n" % i)
                    acked.append(i)
            except (smtplib.SMTPException, OSError) as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=send, args=(i,), daemon=True)
                   for i in range(SENDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors[:5], [])
        self.assertEqual(len(acked), SENDERS)
        sink.wait_messages(SENDERS + 4, timeout=120,
                           diagnostics=relay.diagnostics)

        per_conn = (pss_kib(pids) - before_pss) / IDLE
        print("\n%d idle connections (%d TLS) opened in %.1f s: %.1f KiB "
              "PSS each" % (IDLE, IDLE_TLS, ramp, per_conn),
              file=sys.stderr)
        # AddressSanitizer's redzones and quarantine cost far more.
        with open(TLSRELAYD, "rb") as f:
            sanitized = b"__asan_init" in f.read()
        self.assertLess(per_conn, 1024 if sanitized else 64)

        # All closed: back to the descriptors the relay had before.
        for w in held:
            w.transport.abort()
        held.clear()
        loop.run_until_complete(asyncio.sleep(0.1))
        wait_for("the workers to let go of the idle connections",
                 lambda: fd_count(pids) <= before_fds, 60,
                 lambda: "TCP sockets: %d before, %d now\n%s" % (
                     before_fds, fd_count(pids), relay.diagnostics()))


if __name__ == "__main__":
    main()
