#!/usr/bin/python3
"""sink.py: an SMTP server that records what tlsrelay delivers to it.

The far end of the outbound integration tests and of scripts/dev-run.sh,
built on aiosmtpd (Debian's python3-aiosmtpd: run with /usr/bin/python3).

    sink.py --listen 127.0.0.1:2526 [--listen 127.0.0.2:2526 ...]
            [--dir DIR] [--tls-cert CRT --tls-key KEY] [--tls-broken]
            [--tls-client-ca CA]
            [--delay SECONDS] [--size BYTES] [--hostname NAME] [--print]
            [--auth USER:PASSWORD ...] [--auth-mechs "PLAIN LOGIN"]
            [--auth-plaintext] [--auth-required]

With --dir, every accepted message becomes two files, written before the
250 goes out: DIR/msg-NNNNNN.eml (the content exactly as received, dot
transparency undone) and DIR/msg-NNNNNN.json (connection number, peer,
HELO/EHLO name, TLS version and cipher or null, envelope). When the
client sends another command on that connection after the 250, the sink
writes DIR/msg-NNNNNN.next: proof that the client went on, so a second
copy of that message cannot be the RFC 1047 duplicate of a lost 250.
Each connection appends "N peer local" to DIR/connections and logs its
commands to DIR/conn-N.log.

DIR/replies.json, read again at every RCPT and end of DATA, scripts the
replies; each list is used in order and its last entry repeats:
    {"rcpt": {"user@example.test": ["450 4.2.0 busy", "250 2.1.5 Ok"]},
     "data": ["250 2.0.0 Ok"]}
Recipients not named get "250 2.1.5 Ok".

--tls-cert/--tls-key offer STARTTLS. --tls-client-ca asks the client
for a certificate (optional, but one that does not verify against CA
fails the handshake); a message's .json records the one presented as
"client_cert": {"subject_cn", "sha256" (hex of the DER)} or null.
--tls-broken offers STARTTLS with a
context that only speaks TLS 1.0 at security level 0, which a current
OpenSSL client refuses: every handshake fails. --delay waits that long
before answering the end of DATA (a slow server, for the kill -9 test).
--size sets the SIZE limit the EHLO reply announces (default aiosmtpd's
32 MiB; 0: no SIZE at all).
--print writes one summary line per message to stdout.

--auth (repeatable) accepts these logins with SMTP AUTH, offered after
STARTTLS only unless --auth-plaintext; --auth-mechs names the mechanisms
offered; --auth-required answers MAIL without a login with 530. Every
login attempt appends "N MECHANISM USER ok|failed" to DIR/auth.log (never
the password), and a message's .json names the user ("auth") or null.
Without --auth the sink behaves as aiosmtpd does by default.

"ready" is written to DIR/ready (and stdout with --print) once every
address listens. SIGTERM or SIGINT stops it.
"""

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host.strip("[]"), int(port)


class Recorder:
    """State shared by every connection: counters and the record dir."""

    def __init__(self, directory, show, delay):
        self.dir = directory
        self.show = show
        self.delay = delay
        self.connections = 0
        self.messages = 0
        self.rcpt_seen = {}
        self.data_seen = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_atomic(self, name, data):
        tmp = self.path(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self.path(name))

    def append(self, name, text):
        if self.dir:
            with open(self.path(name), "a") as f:
                f.write(text)

    def replies(self):
        if not self.dir:
            return {}
        try:
            with open(self.path("replies.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    @staticmethod
    def pick(seq, count):
        if not seq:
            return None
        return seq[min(count, len(seq) - 1)]

    def rcpt_reply(self, address):
        seq = self.replies().get("rcpt", {}).get(address.lower())
        count = self.rcpt_seen.get(address.lower(), 0)
        self.rcpt_seen[address.lower()] = count + 1
        return self.pick(seq, count) or "250 2.1.5 Ok"

    def data_reply(self, number):
        seq = self.replies().get("data")
        count = self.data_seen
        self.data_seen += 1
        return self.pick(seq, count) or "250 2.0.0 Ok: queued as S%06d" % number


class Handler:
    def __init__(self, recorder):
        self.rec = recorder

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        reply = self.rec.rcpt_reply(address)
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def handle_DATA(self, server, session, envelope):
        rec = self.rec
        if rec.delay:
            await asyncio.sleep(rec.delay)
        number = rec.messages + 1
        reply = rec.data_reply(number)
        if not reply.startswith("2"):
            return reply
        rec.messages = number
        tls = None
        client_cert = None
        if session.ssl is not None:
            sslobj = session.ssl.get("ssl_object")
            cipher = session.ssl.get("cipher")
            tls = {"version": sslobj.version() if sslobj else None,
                   "cipher": cipher[0] if cipher else None}
            client_cert = peer_certificate(sslobj)
        meta = {
            "number": number,
            "conn": server.conn_number,
            "peer": list(session.peer or ()),
            "helo": session.host_name,
            "esmtp": session.extended_smtp,
            "tls": tls,
            "client_cert": client_cert,
            # aiosmtpd keeps the null sender as "<>".
            "mail_from": "" if envelope.mail_from == "<>" else
                         envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "auth": login_name(session),
            "size": len(envelope.original_content),
            "time": time.time(),
        }
        if rec.dir:
            name = "msg-%06d" % number
            rec.write_atomic(name + ".eml", envelope.original_content)
            rec.write_atomic(name + ".json", json.dumps(meta).encode())
        if rec.show:
            subject = b""
            for line in envelope.original_content.split(b"\r\n"):
                if not line:
                    break
                if line.lower().startswith(b"subject:"):
                    subject = line[8:].strip()
            print("sink: message %d from <%s> to %s, %d bytes, %s, "
                  "subject %r" % (
                      number, envelope.mail_from,
                      ", ".join("<%s>" % r for r in envelope.rcpt_tos),
                      meta["size"],
                      "%s %s" % (tls["version"], tls["cipher"]) if tls
                      else "no TLS",
                      subject.decode("utf-8", "replace")), flush=True)
        server.unconfirmed = number
        return reply


class Authenticator:
    """The logins --auth names; every attempt is noted in auth.log."""

    def __init__(self, recorder, logins):
        self.rec = recorder
        self.logins = logins

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = self.logins.get(login) == password
        self.rec.append("auth.log", "%d %s %s %s\n" % (
            server.conn_number, mechanism, login, "ok" if ok else "failed"))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


class SinkSMTP(SMTP):
    # Lines of any length: the relay must not fold them, and the test
    # must see what it sent.
    line_length_limit = 1 << 22

    def __init__(self, recorder, *args, **kw):
        super().__init__(*args, **kw)
        self.rec = recorder
        recorder.connections += 1
        self.conn_number = recorder.connections
        self.unconfirmed = None
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._noting(name, method)

    def _noting(self, name, method):
        async def wrapper(arg):
            self._note(name)
            return await method(arg)
        wrapper.__smtp_syntax__ = getattr(method, "__smtp_syntax__", None)
        wrapper.__smtp_syntax_extended__ = getattr(
            method, "__smtp_syntax_extended__", None)
        wrapper.__smtp_syntax_when__ = getattr(
            method, "__smtp_syntax_when__", None)
        return wrapper

    def _note(self, command):
        self.rec.append("conn-%d.log" % self.conn_number, command + "\n")
        if self.unconfirmed is not None and self.rec.dir:
            self.rec.write_atomic("msg-%06d.next" % self.unconfirmed,
                                  command.encode())
        self.unconfirmed = None

    def connection_made(self, transport):
        if self._original_transport is None and self.transport is None:
            peer = transport.get_extra_info("peername")
            local = transport.get_extra_info("sockname")
            self.rec.append("connections", "%d %s:%d %s:%d\n" % (
                self.conn_number, peer[0], peer[1], local[0], local[1]))
        super().connection_made(transport)


def login_name(session):
    """The user the client logged in as, or None: the login of the
    authenticator's auth_data (Session.login_data is deprecated)."""
    data = getattr(session.auth_data, "login", None)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


class QuietLoginData(logging.Filter):
    """aiosmtpd 1.4 itself sets the deprecated Session.login_data after
    every successful AUTH and logs a warning each time: drop that line."""

    def filter(self, record):
        return "login_data is deprecated" not in record.getMessage()


def peer_certificate(sslobj):
    """The client's certificate: subject CN and SHA-256 of the DER, or
    None when it sent none."""
    der = sslobj.getpeercert(binary_form=True) if sslobj else None
    if not der:
        return None
    subject = dict(rdn[0] for rdn in sslobj.getpeercert().get("subject", ()))
    return {"subject_cn": subject.get("commonName"),
            "sha256": hashlib.sha256(der).hexdigest()}


def tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    if args.tls_client_ca:
        ctx.load_verify_locations(args.tls_client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    if args.tls_broken:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


async def serve(args):
    logging.getLogger("mail.log").addFilter(QuietLoginData())
    loop = asyncio.get_running_loop()
    rec = Recorder(args.dir, args.print, args.delay)
    ctx = tls_context(args) if args.tls_cert else None

    auth = {}
    if args.auth:
        mechs = args.auth_mechs.upper().split()
        auth = {
            "authenticator": Authenticator(rec, dict(
                a.split(":", 1) for a in args.auth)),
            "auth_require_tls": not args.auth_plaintext,
            "auth_required": args.auth_required,
            "auth_exclude_mechanism": [m for m in ("PLAIN", "LOGIN")
                                       if m not in mechs],
        }

    def factory():
        return SinkSMTP(rec, Handler(rec), tls_context=ctx,
                        hostname=args.hostname, decode_data=False,
                        enable_SMTPUTF8=True, loop=loop,
                        data_size_limit=args.size or None, **auth)

    servers = []
    for host, port in args.listen:
        servers.append(await loop.create_server(factory, host, port,
                                                reuse_address=True))
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or
                                stop.set_result(None))
    if args.dir:
        rec.write_atomic("ready", b"ready\n")
    if args.print:
        print("sink: listening on %s%s" % (
            ", ".join("%s:%d" % hp for hp in args.listen),
            " with STARTTLS" if ctx else ""), flush=True)
    await stop
    for server in servers:
        server.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", type=parse_listen, action="append",
                   required=True)
    p.add_argument("--dir")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--tls-broken", action="store_true")
    p.add_argument("--tls-client-ca")
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--size", type=int, default=2 ** 25)
    p.add_argument("--hostname", default="sink.test")
    p.add_argument("--print", action="store_true")
    p.add_argument("--auth", action="append", metavar="USER:PASSWORD")
    p.add_argument("--auth-mechs", default="PLAIN LOGIN")
    p.add_argument("--auth-plaintext", action="store_true")
    p.add_argument("--auth-required", action="store_true")
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.tls_broken and not args.tls_cert:
        p.error("--tls-broken needs --tls-cert and --tls-key")
    if args.tls_client_ca and not args.tls_cert:
        p.error("--tls-client-ca needs --tls-cert and --tls-key")
    if any(":" not in a for a in args.auth or ()):
        p.error("--auth takes USER:PASSWORD")
    if (args.auth_plaintext or args.auth_required) and not args.auth:
        p.error("--auth-plaintext and --auth-required need --auth")
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
