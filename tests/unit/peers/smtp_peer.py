#!/usr/bin/python3
"""A test SMTP server for check_smtp_client, built on aiosmtpd.

Listens on 127.0.0.1 (port 0 unless --port), writes the port to
--port-file once it listens, and records into --dir:

  connections      one line per TCP connection: "connect N"
  events           what happened, in order: "N connect", "N ehlo NAME
                   tls=0|1", "N helo NAME tls=0|1", "N rset", "N quit",
                   "sni NAME" (TLS server name indication; "-" for
                   none)
  msg-K.eml        the content of message K as received (dots unstuffed)
  msg-K.json       its envelope: mail_from, mail_options, rcpt_tos,
                   conn (connection number), tls, pipelined, helo,
                   client_cn (CN of the client certificate, or null)

Recipients choose their reply by local part prefix: r450-... gets
"450 4.2.0", r550-... gets "550 5.1.1", stall-... gets no reply at all.

--inject runs a scripted server instead: it offers STARTTLS and answers
it with "220" and an extra reply line in the same write (a STARTTLS
response injection), then, given --cert and --key, does the TLS
handshake and goes on over TLS. --drop-in-data runs the scripted server too, and
it closes the connection right after its 354 reply to DATA.

Run with /usr/bin/python3 (Debian's python3-aiosmtpd)."""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Recorder:
    def __init__(self, directory):
        self.dir = directory
        self.n_conn = 0
        self.n_msg = 0

    def append(self, name, line):
        with open(os.path.join(self.dir, name), "a") as f:
            f.write(line + "\n")

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)

    def new_connection(self):
        self.n_conn += 1
        self.append("connections", "connect %d" % self.n_conn)
        self.append("events", "%d connect" % self.n_conn)
        return self.n_conn


class Handler:
    def __init__(self, recorder, pipelining):
        self.rec = recorder
        self.pipelining = pipelining

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        self.rec.append("events", "%d ehlo %s tls=%d" % (
            server.conn_id, hostname, session.ssl is not None))
        if server.reject_ehlo:
            return ["550 5.5.1 EHLO not welcome here"]
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self.rec.append("events", "%d helo %s tls=%d" % (
            server.conn_id, hostname, session.ssl is not None))
        return "250 %s" % server.hostname

    async def handle_RSET(self, server, session, envelope):
        self.rec.append("events", "%d rset" % server.conn_id)
        return "250 2.0.0 Ok"

    async def handle_QUIT(self, server, session, envelope):
        self.rec.append("events", "%d quit" % server.conn_id)
        return "221 2.0.0 Bye"

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        # With PIPELINING, RCPT and DATA are already in the buffer.
        server.pipelined = len(server._reader._buffer) > 0
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        local = address.split("@")[0]
        if local.startswith("r450-"):
            return "450 4.2.0 <%s>: Recipient busy, try later" % address
        if local.startswith("r550-"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if local.startswith("stall-"):
            await asyncio.sleep(3600)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.rec.n_msg += 1
        k = self.rec.n_msg
        self.rec.write("msg-%d.eml" % k, envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "conn": server.conn_id,
            "tls": session.ssl is not None,
            "pipelined": server.pipelined,
            "helo": session.host_name,
            "client_cn": client_cn(session),
        }
        self.rec.write("msg-%d.json" % k, json.dumps(meta).encode())
        return "250 2.0.0 Ok: queued as M%d" % k


def client_cn(session):
    if session.ssl is None:
        return None
    cert = session.ssl.get("peercert")
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class PeerSMTP(SMTP):
    # Content lines of any length (the default is RFC 5321's 1000).
    line_length_limit = 1 << 20

    def __init__(self, handler, recorder, reject_ehlo, **kw):
        super().__init__(handler, **kw)
        self.rec = recorder
        self.reject_ehlo = reject_ehlo
        self.conn_id = 0
        self.pipelined = False

    def connection_made(self, transport):
        if self.conn_id == 0:
            self.conn_id = self.rec.new_connection()
        super().connection_made(transport)


class Injector(asyncio.Protocol):
    """Offers STARTTLS, then answers it with extra bytes behind 220."""

    def __init__(self, recorder, drop_in_data, tls_ctx=None):
        self.rec = recorder
        self.drop_in_data = drop_in_data
        self.tls_ctx = tls_ctx
        self.tls = False
        self.upgrading = False  # between STARTTLS and the TLS transport
        self.buf = b""
        self.data = None        # lines of a message while in DATA

    def connection_made(self, transport):
        self.transport = transport
        self.conn_id = self.rec.new_connection()
        transport.write(b"220 inject.test ESMTP\r\n")

    def data_received(self, data):
        self.buf += data
        # Lines that come before start_tls returns are answered over the
        # TLS transport it returns, not in plaintext on the old one.
        if self.upgrading:
            return
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            verb = line.split(b" ")[0].upper()
            if self.data is not None:
                if line != b".":
                    self.data.append(line[1:] if line[:1] == b"." else line)
                    continue
                self.rec.n_msg += 1
                self.rec.write("msg-%d.eml" % self.rec.n_msg,
                               b"".join(x + b"\r\n" for x in self.data))
                self.rec.write("msg-%d.json" % self.rec.n_msg, json.dumps(
                    {"conn": self.conn_id, "tls": self.tls}).encode())
                self.data = None
                self.transport.write(b"250 2.0.0 Ok: queued as I%d\r\n"
                                     % self.rec.n_msg)
            elif verb == b"DATA":
                self.data = []
                self.transport.write(b"354 End data with <CR><LF>.<CR><LF>"
                                     b"\r\n")
                if self.drop_in_data:
                    self.rec.append("events", "%d dropped" % self.conn_id)
                    self.transport.close()
                    return
            elif verb == b"EHLO":
                self.transport.write(b"250-inject.test\r\n"
                                     b"250-STARTTLS\r\n250 8BITMIME\r\n")
            elif verb == b"STARTTLS":
                self.rec.append("events", "%d starttls" % self.conn_id)
                if self.tls_ctx is not None:
                    # Not one byte of the ClientHello as plaintext.
                    self.transport.pause_reading()
                self.transport.write(b"220 2.0.0 Ready to start TLS\r\n"
                                     b"250 2.0.0 injected\r\n")
                if self.tls_ctx is not None:
                    self.buf = b""
                    self.upgrading = True
                    asyncio.ensure_future(self.start_tls())
                    return
            elif verb == b"QUIT":
                self.transport.write(b"221 2.0.0 Bye\r\n")
                self.transport.close()
            else:
                self.rec.append("events", "%d %s %s" % (
                    self.conn_id, "tls" if self.tls else "plaintext",
                    line.decode("ascii", "replace")))
                self.transport.write(b"250 2.0.0 Ok\r\n")

    async def start_tls(self):
        loop = asyncio.get_running_loop()
        self.transport = await loop.start_tls(self.transport, self,
                                              self.tls_ctx, server_side=True)
        self.tls = True
        self.upgrading = False
        self.data_received(b"")


def tls_context(args, rec):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    if args.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(args.client_ca)

    def sni(sslobj, name, context):
        rec.append("events", "sni %s" % (name or "-"))
    ctx.sni_callback = sni
    return ctx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--tls-max", choices=["1.2"])
    p.add_argument("--client-ca")
    p.add_argument("--pipelining", action="store_true")
    p.add_argument("--size", type=int, default=33554432)
    p.add_argument("--reject-ehlo", action="store_true")
    p.add_argument("--inject", action="store_true")
    p.add_argument("--drop-in-data", action="store_true")
    args = p.parse_args()

    rec = Recorder(args.dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if args.inject or args.drop_in_data:
        ctx = tls_context(args, rec) if args.cert else None
        factory = lambda: Injector(rec, args.drop_in_data, ctx)  # noqa: E731
    else:
        handler = Handler(rec, args.pipelining)
        ctx = tls_context(args, rec) if args.cert else None
        factory = lambda: PeerSMTP(  # noqa: E731
            handler, rec, args.reject_ehlo, hostname="peer.test",
            tls_context=ctx, data_size_limit=args.size, loop=loop)
    server = loop.run_until_complete(
        loop.create_server(factory, "127.0.0.1", args.port))
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
