#!/usr/bin/env python3
"""A misbehaving SMSC for the hostile-peer suite (issue 22): it accepts any bind and
then attacks the ESME that bound to it, in one of these modes, until killed:

  udh255       part 1 of a 255-part UDH8 message, a new reference and sender each time
  noread       stops reading (our responses pile up) and floods enquire_link
  silent       accepts TCP and never says anything (a TLS endpoint that never answers)
  payload64k   deliver_sm with a 64 KiB message_payload, back to back
  unbind       binds, then unbinds at once, every time it is bound
  nack         generic_nack with random sequence numbers
  dupparts     the same part (sequence 1 of 2) again and again with different content
  quiet        no attack: binds, answers enquire_link, sends nothing (the suite's baseline)

Prints one JSON line per second on stdout: {"mode", "connections", "sent", "bytes_in"}.
Usage: hostile_smsc.py PORT MODE [RATE]"""
import json, os, random, socket, struct, sys, threading, time

PORT, MODE = int(sys.argv[1]), sys.argv[2]
RATE = float(sys.argv[3]) if len(sys.argv) > 3 else 5000
stats = {"mode": MODE, "connections": 0, "sent": 0, "bytes_in": 0}
lock = threading.Lock()

def pdu(cmd, seq, body=b"", status=0):
    return struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body

def cstr(s):
    return s.encode() + b"\0"

def deliver_sm(seq, src, dst, sm, esm=0, dc=0, tlvs=b""):
    body = cstr("") + bytes([5, 0]) + cstr(src) + bytes([1, 1]) + cstr(dst) + bytes([esm, 0, 0]) + cstr("") + cstr("")
    body += bytes([0, 0, dc, 0, len(sm)]) + sm + tlvs
    return pdu(0x00000005, seq, body)

def read_pdu(sock):
    head = b""
    while len(head) < 16:
        chunk = sock.recv(16 - len(head))
        if not chunk:
            return None
        head += chunk
    n, cmd, status, seq = struct.unpack(">IIII", head)
    body = b""
    while len(body) < n - 16:
        chunk = sock.recv(n - 16 - len(body))
        if not chunk:
            return None
        body += chunk
    with lock:
        stats["bytes_in"] += n
    return cmd, status, seq, body

def count(n=1):
    with lock:
        stats["sent"] += n

def paced(i):
    # RATE PDUs per second, in bursts of 100.
    if i % 100 == 0:
        time.sleep(100 / RATE)

def reader(sock):
    try:
        while read_pdu(sock) is not None:
            pass
    except OSError:
        pass

def attack(sock):
    if MODE == "silent":
        while True:
            time.sleep(1)
    got = read_pdu(sock)
    if got is None:
        return
    cmd, _, seq, _ = got
    sock.sendall(pdu(cmd | 0x80000000, seq, cstr("hostile")))
    seq = 1
    if MODE == "unbind":
        sock.sendall(pdu(0x00000006, seq))
        time.sleep(0.05)
        return
    if MODE == "quiet":
        while (got := read_pdu(sock)) is not None:
            if got[0] == 0x00000015:
                sock.sendall(pdu(0x80000015, got[2]))
        return
    if MODE == "noread":
        # Reads nothing more; enquire_link answers (and nothing else) pile up on the ESME.
        while True:
            sock.sendall(pdu(0x00000015, seq))
            seq += 1
            count()
            paced(seq)
    threading.Thread(target=reader, args=(sock,), daemon=True).start()
    i = 0
    while True:
        i += 1
        seq = seq % 0x7FFFFFFF + 1
        if MODE == "udh255":
            udh = bytes([5, 0, 3, i & 0xFF, 255, 1])
            sock.sendall(deliver_sm(seq, "S%07d" % i, "447700900999", udh + b"A" * 100, esm=0x40, dc=4))
        elif MODE == "payload64k":
            tlv = struct.pack(">HH", 0x0424, 65535 - 400) + b"B" * (65535 - 400)
            sock.sendall(deliver_sm(seq, "Flood", "447700900999", b"", dc=4, tlvs=tlv))
        elif MODE == "nack":
            sock.sendall(pdu(0x80000000, random.randint(1, 0x7FFFFFFF), status=random.choice([0, 3, 0x64])))
        elif MODE == "dupparts":
            udh = bytes([5, 0, 3, 7, 2, 1])
            sock.sendall(deliver_sm(seq, "Dup", "447700900999", udh + os.urandom(40), esm=0x40, dc=4))
        else:
            sys.exit("unknown mode " + MODE)
        count()
        paced(i)

def serve(conn):
    with lock:
        stats["connections"] += 1
    try:
        attack(conn)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass

def report():
    while True:
        time.sleep(1)
        with lock:
            print(json.dumps(stats), flush=True)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", PORT))
srv.listen(16)
threading.Thread(target=report, daemon=True).start()
while True:
    c, _ = srv.accept()
    if MODE == "noread":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
