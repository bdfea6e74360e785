"""A stand-in for Cyrus SASL's saslauthd (Debian's sasl2-bin runs the real
one as a system service, which a test cannot start privately): it answers
the library's requests on a UNIX socket (pwcheck_method: saslauthd,
saslauthd_path: SOCKET), with the protocol of libsasl2's checkpw.c: four
strings (login, password, service, realm), each a 16-bit big-endian length
and its bytes; the answer is one such string, "OK" or "NO <reason>".

With --hold, every answer waits until the file DIR/release exists, so a
test can prove that a check in progress stalls nobody else. Each request
is logged to DIR/requests as "login service realm" before any wait."""

import argparse
import os
import socket
import struct
import sys
import threading
import time


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_string(conn):
    (length,) = struct.unpack("!H", read_exact(conn, 2))
    return read_exact(conn, length)


def write_string(conn, data):
    conn.sendall(struct.pack("!H", len(data)) + data)


def serve(conn, args, users, log_lock):
    try:
        login, password, service, realm = (read_string(conn)
                                           for _ in range(4))
        with log_lock, open(os.path.join(args.dir, "requests"), "a") as f:
            f.write("%s %s %s\n" % (login.decode(errors="replace"),
                                    service.decode(errors="replace"),
                                    realm.decode(errors="replace")))
        if args.hold:
            release = os.path.join(args.dir, "release")
            while not os.path.exists(release):
                time.sleep(0.02)
        if users.get(login.decode(errors="replace")) == password:
            write_string(conn, b"OK")
        else:
            write_string(conn, b"NO authentication failed")
    except EOFError:
        pass
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--user", action="append", default=[],
                   help="login:password")
    p.add_argument("--hold", action="store_true")
    args = p.parse_args()
    users = {}
    for entry in args.user:
        login, password = entry.split(":", 1)
        users[login] = password.encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(args.socket)
    # The library runs in tlsrelay's workers, as mail_owner.
    os.chmod(args.socket, 0o666)
    sock.listen(16)
    log_lock = threading.Lock()
    with open(os.path.join(args.dir, "ready"), "w"):
        pass
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve, args=(conn, args, users, log_lock),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
