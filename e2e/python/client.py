"""A python-socketio AsyncClient with its default transports (polling, then
the upgrade to WebSocket) against the gateway, for e2e/test/python.test.js.

Usage: client.py URL TOKEN ROOM
It prints one JSON line per step on stdout; the test publishes to ROOM once
it has read the "joined" line, and the script exits 0 after the publish
arrives and it has disconnected. Every wait is bounded.
"""

import asyncio
import json
import sys

import socketio

WAIT = 10


def say(step, **data):
    print(json.dumps({"step": step, **data}), flush=True)


async def main(url, token, room):
    sio = socketio.AsyncClient(reconnection=False)
    published = asyncio.get_running_loop().create_future()

    # A room broadcast carries its recovery offset as one more argument,
    # last (CONTRACT §9): a handler takes it, or *args.
    @sio.on("news")
    async def on_news(data, offset=None):
        if not published.done():
            published.set_result((data, offset))

    @sio.event
    async def connect_error(data):
        say("connect_error", data=data)

    await asyncio.wait_for(sio.connect(url, auth={"token": token}, wait_timeout=WAIT), WAIT)
    say("connected", sid=sio.sid, transport=sio.transport())
    ack = await sio.call("join_room", {"room": room}, timeout=WAIT)
    say("joined", ack=ack, transport=sio.transport())
    data, offset = await asyncio.wait_for(published, WAIT)
    say("received", data=data, offset=offset, transport=sio.transport())
    await sio.disconnect()
    say("disconnected")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
