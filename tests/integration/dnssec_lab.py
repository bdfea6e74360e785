"""A DNSSEC lab on loopback for the DANE tests: NSD serves the test zones
(signed ones made with ldns-keygen and ldns-signzone, and unsigned ones)
on 127.0.0.1:PORT, and unbound validates on another port with the signed
zones' keys as its only trust anchors and every other name refused. Both
run in the foreground with their own configuration in a directory of the
test and are stopped by PID. No query can leave loopback: unbound knows
no server but NSD (a stub zone per test zone, no root hints are ever
used: "." is a refused local zone), sends from 127.0.0.1 only and has no
IPv6.

The tests' shared part is here too: DnssecLabCase runs each test under a
LoopbackCapture and starts labs in the test's directory; DaneLabCase adds
what the DANE tests need (certificates made by Cert, MX and TLSA zone
lines at the test's MX port, a relay resolving through the lab)."""

import hashlib
import os
import socket
import subprocess
import time
import types

from relaytest import (DEFAULT_TIMERS, START_TIMEOUT, HarnessError,
                       OutboundTestCase, free_port_on, inline_table, openssl,
                       read_text, require_tools, stop_pid,
                       udp_listening_ports)

TOOLS = ("nsd", "unbound", "ldns-keygen", "ldns-signzone")


def _run(args, cwd):
    res = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60)
    if res.returncode != 0:
        raise HarnessError("%s failed:\n%s" % (
            " ".join(args), res.stdout.decode(errors="replace")))
    return res.stdout.decode()


class Zone:
    """One zone: name ("sec.test"), records as zone-file lines relative to
    the origin, signed or not. spoil: owner names (relative) whose RRSIGs
    are replaced by ones that expired in 2020, for a bogus answer at just
    those names while the rest of the zone stays secure."""

    def __init__(self, name, records, signed=True, spoil=()):
        self.name = name.rstrip(".") or "."
        self.origin = "." if self.name == "." else self.name + "."
        self.file = "root" if self.name == "." else self.name
        self.records = list(records)
        self.signed = signed
        self.spoil = tuple(spoil)
        self.trust_anchor = None    # the KSK's DNSKEY line

    def _text(self):
        head = ["$ORIGIN %s" % self.origin, "$TTL 300",
                "@ IN SOA ns hostmaster 1 3600 600 86400 300",
                "@ IN NS ns",
                "ns IN A 127.0.0.1"]
        return "\n".join(head + self.records) + "\n"

    def build(self, directory):
        """Writes the zone file NSD serves; returns its path."""
        plain = os.path.join(directory, self.file + ".zone")
        with open(plain, "w") as f:
            f.write(self._text())
        if not self.signed:
            return plain
        ksk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k",
                    self.name], directory).strip()
        zsk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", self.name],
                   directory).strip()
        with open(os.path.join(directory, ksk + ".key")) as f:
            self.trust_anchor = " ".join(
                l for l in f.read().splitlines()
                if l.strip() and not l.startswith(";"))
        signed = plain + ".signed"
        _run(["ldns-signzone", "-f", signed, plain, zsk, ksk], directory)
        if self.spoil:
            stale = plain + ".stale"
            _run(["ldns-signzone", "-f", stale, "-i", "20200101000000",
                  "-e", "20200201000000", plain, zsk, ksk], directory)
            self._splice(signed, stale)
        return signed

    def _splice(self, signed, stale):
        """The RRSIGs (except of NSEC) at the spoiled names from the stale
        copy, all else from the good one."""
        names = {n + "." + self.origin.lstrip(".") for n in self.spoil}

        def spoiled(line):
            f = line.split()
            return (len(f) > 4 and f[0] in names and f[3] == "RRSIG" and
                    f[4] != "NSEC")

        with open(stale) as f:
            bad = [l for l in f if spoiled(l)]
        with open(signed) as f:
            good = [l for l in f if not spoiled(l)]
        if not bad:
            raise HarnessError("nothing to spoil in %s" % self.name)
        with open(signed, "w") as f:
            f.writelines(good + bad)


class DnssecLab:
    """NSD + unbound for zones. server: the tlsrelay_dns_servers value
    (the validating resolver). Without a zone "." every other name is
    refused; with one (signed or not) unbound asks NSD for everything,
    and the unsigned test zones are declared insecure."""

    def __init__(self, case, directory, zones):
        require_tools(*TOOLS)
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.zones = list(zones)
        self.nsd_port = free_port_on(("127.0.0.1",), udp=True)
        self.unbound_port = free_port_on(("127.0.0.1",), udp=True)
        while self.unbound_port == self.nsd_port:
            self.unbound_port = free_port_on(("127.0.0.1",), udp=True)
        files = {z.name: z.build(directory) for z in self.zones}
        self.nsd = self._start("nsd", ["nsd", "-d", "-c",
                                       self._nsd_conf(files)],
                               self.nsd_port, case)
        self.unbound = self._start("unbound", ["unbound", "-d", "-c",
                                               self._unbound_conf()],
                                   self.unbound_port, case)

    @property
    def server(self):
        return "127.0.0.1:%d" % self.unbound_port

    def _nsd_conf(self, files):
        path = os.path.join(self.dir, "nsd.conf")
        lines = ["server:",
                 "  ip-address: 127.0.0.1",
                 "  port: %d" % self.nsd_port,
                 "  do-ip6: no",
                 "  username: \"\"",
                 "  chroot: \"\"",
                 "  zonesdir: \"%s\"" % self.dir,
                 "  pidfile: \"%s/nsd.pid\"" % self.dir,
                 "  database: \"\"",
                 "  zonelistfile: \"%s/zone.list\"" % self.dir,
                 "  xfrdfile: \"%s/xfrd.state\"" % self.dir,
                 "  xfrdir: \"%s\"" % self.dir,
                 "  logfile: \"%s/nsd.log\"" % self.dir,
                 "  server-count: 1",
                 "  verbosity: 1",
                 "remote-control:",
                 "  control-enable: no"]
        for name, zonefile in files.items():
            lines += ["zone:", "  name: \"%s\"" % name,
                      "  zonefile: \"%s\"" % zonefile]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _unbound_conf(self):
        path = os.path.join(self.dir, "unbound.conf")
        self.unbound_log = os.path.join(self.dir, "unbound.log")
        lines = ["server:",
                 "  interface: 127.0.0.1",
                 "  port: %d" % self.unbound_port,
                 "  outgoing-interface: 127.0.0.1",
                 "  do-ip6: no",
                 "  do-not-query-localhost: no",
                 "  username: \"\"",
                 "  chroot: \"\"",
                 "  directory: \"%s\"" % self.dir,
                 "  pidfile: \"%s/unbound.pid\"" % self.dir,
                 "  use-syslog: no",
                 "  logfile: \"%s\"" % self.unbound_log,
                 "  log-queries: yes",
                 "  verbosity: 1",
                 "  val-log-level: 2",
                 "  num-threads: 1",
                 "  so-reuseport: no",
                 "  qname-minimisation: no",
                 "  module-config: \"validator iterator\"",
                 "  access-control: 127.0.0.0/8 allow"]
        has_root = any(z.name == "." for z in self.zones)
        if not has_root:
            lines.append("  local-zone: \".\" refuse")
        for z in self.zones:
            if z.name != ".":
                lines.append("  local-zone: \"%s\" transparent" % z.origin)
            if has_root and not z.signed:
                lines.append("  domain-insecure: \"%s\"" % z.origin)
        for z in self.zones:
            if z.trust_anchor:
                lines.append("  trust-anchor: \"%s\"" % z.trust_anchor)
        lines += ["remote-control:", "  control-enable: no"]
        for z in self.zones:
            lines += ["stub-zone:", "  name: \"%s\"" % z.origin,
                      "  stub-addr: 127.0.0.1@%d" % self.nsd_port]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _start(self, name, args, port, case):
        out = open(os.path.join(self.dir, name + ".stderr"), "ab")
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, start_new_session=True)
        case.addCleanup(out.close)
        case.addCleanup(self._stop, proc)
        deadline = time.monotonic() + START_TIMEOUT
        while port not in udp_listening_ports():
            if proc.poll() is not None or time.monotonic() > deadline:
                self._stop(proc)
                raise HarnessError("%s did not start:\n%s" % (
                    name, self.log()))
            time.sleep(0.05)
        return proc

    @staticmethod
    def _stop(proc):
        if proc.poll() is None:
            stop_pid(proc)

    def stop_resolver(self):
        self._stop(self.unbound)

    def log(self):
        return "".join(read_text(os.path.join(self.dir, n))[-3000:]
                       for n in ("nsd.stderr", "nsd.log", "unbound.stderr",
                                 "unbound.log") if
                       os.path.exists(os.path.join(self.dir, n)))

    def resolver_log(self):
        return read_text(self.unbound_log)


class LoopbackCapture:
    """tcpdump on every interface for packets that are not loopback
    traffic (not 127.0.0.0/8, not ::1). stop() returns what it saw.
    The end is a positive marker: one UDP datagram to a loopback port
    the filter also takes, and the capture is read only once the marker
    is in the file, so every packet before it is there too (-U writes
    each packet as it comes, --immediate-mode has the kernel hand each
    over at once)."""

    FILTER = "not net 127.0.0.0/8 and not ip6 host ::1"

    def __init__(self, case, path):
        require_tools("tcpdump")
        self.path = path
        self.marker_port = free_port_on(("127.0.0.1",), udp=True)
        self.err = open(path + ".stderr", "wb")
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "any", "-n", "-U", "--immediate-mode", "-w",
             path, "(%s) or (udp and dst host 127.0.0.1 and dst port %d)" %
             (self.FILTER, self.marker_port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.err, start_new_session=True)
        case.addCleanup(self._cleanup)
        # tcpdump says "listening on" once the capture runs.
        deadline = time.monotonic() + START_TIMEOUT
        while "listening on" not in read_text(path + ".stderr"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise HarnessError("tcpdump did not start: %s" %
                                   read_text(path + ".stderr"))
            time.sleep(0.05)

    def _cleanup(self):
        if self.proc.poll() is None:
            stop_pid(self.proc)
        self.err.close()

    def _read(self):
        res = subprocess.run(["tcpdump", "-n", "-r", self.path],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=60)
        return [l for l in res.stdout.decode(errors="replace").splitlines()
                if l.strip()]

    def stop(self):
        """The packets captured outside loopback, one line each."""
        marker = ".%d: UDP" % self.marker_port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"end of capture", ("127.0.0.1", self.marker_port))
        deadline = time.monotonic() + START_TIMEOUT
        while not any(marker in l for l in self._read()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise HarnessError("the capture's end marker never came: "
                                   "%s" % read_text(self.path + ".stderr"))
            time.sleep(0.05)
        stop_pid(self.proc)
        return [l for l in self._read() if marker not in l]


class DnssecLabCase:
    """A mixin before a RelayTestCase class: every test runs under a
    LoopbackCapture that must see no packet outside loopback when the
    test ends, and lab(zones) starts a DnssecLab in the test's own
    directory."""

    def setUp(self):
        super().setUp()
        self.capture = LoopbackCapture(self, os.path.join(
            self.tmpdir, "capture-%s.pcap" % self._testMethodName))

    def tearDown(self):
        self.assertEqual(self.capture.stop(), [], "packets outside loopback")
        super().tearDown()

    def lab(self, zones):
        return DnssecLab(self, os.path.join(
            self.tmpdir, "lab-%s" % self._testMethodName), zones)


class Cert:
    """A key and certificate made with openssl: self-signed, or signed by
    ca (another Cert); chain: the PEM file with the certificate and its
    CA's, for a server that sends its chain."""

    def __init__(self, directory, name, cn, ca=None, is_ca=False):
        self.key = os.path.join(directory, name + ".key")
        self.crt = os.path.join(directory, name + ".crt")
        openssl("genpkey", "-quiet", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", self.key)
        args = ["req", "-new", "-x509", "-key", self.key, "-out", self.crt,
                "-days", "2", "-subj", "/CN=" + cn]
        if ca:
            args += ["-CA", ca.crt, "-CAkey", ca.key]
        if is_ca:
            args += ["-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        else:
            args += ["-addext", "basicConstraints=CA:FALSE",
                     "-addext", "subjectAltName=DNS:" + cn]
        openssl(*args)
        self.chain = self.crt
        if ca:
            self.chain = os.path.join(directory, name + ".chain")
            with open(self.chain, "w") as out:
                for path in (self.crt, ca.crt):
                    with open(path) as f:
                        out.write(f.read())

    def spki_sha256(self):
        """The TLSA 1 1 data: SHA-256 of the DER SubjectPublicKeyInfo."""
        pem = openssl("x509", "-in", self.crt, "-noout", "-pubkey")
        der_path = self.crt + ".spki"
        pub_path = self.crt + ".pub"
        with open(pub_path, "wb") as f:
            f.write(pem)
        openssl("pkey", "-pubin", "-in", pub_path, "-outform", "DER",
                "-out", der_path)
        with open(der_path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def sink_certs(self):
        """What Sink takes as certs."""
        return types.SimpleNamespace(rsa=self.chain, rsa_key=self.key)


class DaneLabCase(DnssecLabCase, OutboundTestCase):
    """The DANE tests: the MX hosts of every test listen on self.port
    (smtp_tcp_port, not 25, so TLSA records are at _PORT._tcp) and the
    relays resolve through the lab's validating resolver."""

    def setUp(self):
        super().setUp()
        self.certdir = os.path.join(self.tmpdir, "dane-certs-%s" %
                                    self._testMethodName)
        os.makedirs(self.certdir, exist_ok=True)
        self.port = free_port_on(("127.0.0.1",))
        self.lab_relays = []

    def tearDown(self):
        # The relays stop first (they are what could send), then the
        # capture is read.
        for relay in self.lab_relays:
            relay.stop()
        super().tearDown()

    def cert(self, name, cn, **kw):
        return Cert(self.certdir, name, cn, **kw)

    def mx_records(self, domain, host="mx", addr="127.0.0.1"):
        """Zone lines: domain (relative to the zone) with one MX host."""
        return ["%s IN MX 10 %s.%s" % (domain, host, domain),
                "%s.%s IN A %s" % (host, domain, addr)]

    def tlsa(self, owner, usage, selector, mtype, data, port=None):
        return "_%d._tcp.%s IN TLSA %d %d %d %s" % (
            port or self.port, owner, usage, selector, mtype, data)

    def lab_relay(self, lab, level, dns_level="dnssec", policies=None,
                  main=None, start=True):
        """A relay at smtp_tls_security_level level (policies: its
        smtp_tls_policy_maps) resolving through lab, with Postfix's
        default timers, so that each message gets exactly one attempt in
        a test; main overrides. A started relay is stopped before the
        capture is read."""
        settings = dict(DEFAULT_TIMERS)
        settings.update({
            "smtp_tcp_port": str(self.port),
            "smtp_dns_support_level": dns_level,
            "smtp_tls_security_level": level,
        })
        if policies:
            settings["smtp_tls_policy_maps"] = inline_table(policies)
        settings.update(main or {})
        relay = self.outbound_relay(main=settings, dns=lab, start=start)
        if start:
            self.lab_relays.append(relay)
        return relay
