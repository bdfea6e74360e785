import socket, struct, sys
def q(name, qtype):
    pkt = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for l in name.split("."): pkt += bytes([len(l)]) + l.encode()
    pkt += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
    s.sendto(pkt, ("127.0.0.1", int(sys.argv[1])))
    r = s.recv(512)
    flags, qd, an, ns, ar = struct.unpack(">HHHHH", r[2:12])
    print(name, qtype, "rcode", flags & 15, "an", an, "ns", ns, "aa", bool(flags & 0x400))
for n, t in [("implicit.test", 15), ("implicit.test", 1), ("mx.test", 15), ("mx.test", 1), ("other.test", 15)]:
    q(n, t)
