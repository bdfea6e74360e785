#!/usr/bin/python3
"""policy_https.py: the web server of an MTA-STS domain, on loopback.

    policy_https.py --listen 127.0.0.1:PORT --tls-cert CRT --tls-key KEY
                    --dir DIR

Python's http.server over ssl (TLS 1.2 and newer). DIR/response.json,
read again for every request, says what to answer:
    {"status": 200, "content_type": "text/plain", "body": "version: ...",
     "location": null, "pad": 0}
status, content_type and body as given; location adds a Location header
(a redirect); pad appends that many "#" bytes after the body (a policy
too large to accept). Without response.json: 404. Each request appends
"PATH HOST" to DIR/requests.log before the answer goes out; while
DIR/hold exists, the answer waits for it to go (a slow server). DIR/ready
appears once the server listens.
"""

import argparse
import http.server
import json
import os
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))
        sys.stderr.flush()

    def do_GET(self):
        directory = self.server.directory
        with open(os.path.join(directory, "requests.log"), "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("Host", "-")))
        while os.path.exists(os.path.join(directory, "hold")):
            time.sleep(0.05)
        try:
            with open(os.path.join(directory, "response.json")) as f:
                spec = json.load(f)
        except FileNotFoundError:
            spec = {"status": 404, "body": "not here\n"}
        body = spec.get("body", "").encode() + b"#" * spec.get("pad", 0)
        self.send_response(spec.get("status", 200))
        self.send_header("Content-Type",
                         spec.get("content_type", "text/plain"))
        if spec.get("location"):
            self.send_header("Location", spec["location"])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass    # the client gave up on a body too large
        self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    server.directory = args.dir
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(os.path.join(args.dir, "ready"), "w") as f:
        f.write("%d\n" % os.getpid())
    server.serve_forever()


if __name__ == "__main__":
    main()
