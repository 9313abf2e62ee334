#!/usr/bin/env python3
"""An SMSC written on smppy (PyPI), an SMPP implementation this project did not
write: it accepts bind_transceiver and pushes N deliver_sm, encoded by smppy /
smpp.pdu, then prints {"sent", "acked"} once every deliver_sm_resp came back.
Usage: smppy_smsc.py PORT N"""
import asyncio, json, sys
from smppy import Application
from smppy import server as smppy_server

PORT, N = int(sys.argv[1]), int(sys.argv[2])
state = {"sent": 0, "acked": 0, "binds": 0}
done = asyncio.Event() if False else None

# smppy decodes one PDU per TCP read; split the stream by command_length first so
# coalesced deliver_sm_resp are all seen (its decoder still decodes each PDU).
_orig = smppy_server.SmppProtocol.handle_data_received
def data_received(self, data):
    buf = getattr(self, "_interop_buf", b"") + data
    while len(buf) >= 4:
        n = int.from_bytes(buf[:4], "big")
        if n < 16 or len(buf) < n:
            break
        pdu, buf = buf[:n], buf[n:]
        asyncio.ensure_future(_orig(self, pdu))
    self._interop_buf = buf
smppy_server.SmppProtocol.data_received = data_received

async def on_resp(self, request):
    state["acked"] += 1
smppy_server.SmppProtocol.on_deliver_sm_resp = on_resp

class App(Application):
    async def handle_bound_client(self, client):
        state["binds"] += 1
        async def push():
            for i in range(N):
                await client.send_sms(source="InteropSMSC", dest="4477009%05d" % i, text="Your verification code is %06d" % (100000 + i))
                state["sent"] += 1
        asyncio.get_event_loop().create_task(push())
        return client
    async def handle_unbound_client(self, client):
        pass
    async def handle_sms_received(self, client, source_number, dest_number, text):
        pass

async def main():
    loop = asyncio.get_event_loop()
    app = App("interop")
    srv = await loop.create_server(lambda: smppy_server.SmppProtocol(app=app), host="127.0.0.1", port=PORT)
    print("ready", flush=True)
    for _ in range(300):
        if state["sent"] == N and state["acked"] >= N:
            break
        await asyncio.sleep(0.1)
    srv.close()
    print(json.dumps(state), flush=True)

asyncio.run(main())
