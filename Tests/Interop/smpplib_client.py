#!/usr/bin/env python3
"""An ESME written on smpplib (PyPI), an SMPP implementation this project did not
write: binds as receiver to our simulator, receives deliver_sm (smpplib answers
each with deliver_sm_resp) until at least MIN_PDUS arrived and the stream has
been idle for 2 s, unbinds, prints {"received", "decoded"}.
Usage: smpplib_client.py PORT MIN_PDUS PASSWORD"""
import json, socket, sys, time
import smpplib.client, smpplib.consts, smpplib.exceptions

port, expected, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
received, decoded = 0, 0

def handler(pdu):
    global received, decoded
    received += 1
    if getattr(pdu, "short_message", None) is not None or getattr(pdu, "message_payload", None) is not None:
        decoded += 1
    return 0  # ESME_ROK

c = smpplib.client.Client("127.0.0.1", port, timeout=0.5, allow_unknown_opt_params=True)
c.set_message_received_handler(handler)
c.connect()
c.bind_receiver(system_id="trueotp", password=password)
deadline = time.time() + 60
last = time.time()
while time.time() < deadline:
    try:
        before = received
        c.read_once()
        if received != before:
            last = time.time()
    except socket.timeout:
        if received >= expected and time.time() - last > 2:
            break
    except smpplib.exceptions.ConnectionError:
        closed_by_peer = True  # the simulator hangs up once every message was acked
        break
else:
    closed_by_peer = False
if not locals().get("closed_by_peer"):
    c.unbind()
c.disconnect()
print(json.dumps({"received": received, "decoded": decoded}))
