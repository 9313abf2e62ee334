#!/usr/bin/env python3
"""Baseline ESME for make bench: PyPI smpplib, one row per message into the same
`messages` table with psycopg2 (autocommit: each deliver_sm is answered after its
INSERT committed). Usage: python_esme.py PORT COUNT PASSWORD CONNINFO"""
import hashlib, socket, sys, time
import psycopg2
import smpplib.client, smpplib.exceptions

port, count, password, conninfo = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
db = psycopg2.connect(conninfo)
db.autocommit = True
cur = db.cursor()
cur.execute("SELECT bridge_ensure_month(now())")
received = 0

def handler(pdu):
    global received
    body = (pdu.short_message or b"")
    dest = pdu.destination_addr.decode() if isinstance(pdu.destination_addr, bytes) else str(pdu.destination_addr)
    src = pdu.source_addr.decode() if isinstance(pdu.source_addr, bytes) else str(pdu.source_addr)
    key = hashlib.md5(src.encode() + dest.encode() + body).hexdigest()
    cur.execute("""INSERT INTO messages (received_at, carrier, bind, source_addr, source_ton, destination_addr, destination_ton,
                   outcome, data_coding, text, dedup_key, raw_pdus)
                   VALUES (now(), 'sim', 'py-1', %s, 5, %s, 1, 'unmatched', %s, %s, %s::uuid, ARRAY[%s::bytea])""",
                (src, dest, int(pdu.data_coding or 0), body.decode("latin-1").replace("\x00", "\ufffd"), key, psycopg2.Binary(body)))
    received += 1
    return 0

c = smpplib.client.Client("127.0.0.1", port, timeout=0.5, allow_unknown_opt_params=True)
c.set_message_received_handler(handler)
c.connect()
c.bind_receiver(system_id="trueotp", password=password)
deadline = time.time() + 900
while time.time() < deadline:
    try:
        c.read_once()
    except socket.timeout:
        continue
    except smpplib.exceptions.ConnectionError:
        break
print(received)
