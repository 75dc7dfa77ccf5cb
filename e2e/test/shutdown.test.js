'use strict';
// docs/PROTOCOL.md "Close codes" (shutdown), "Health and metrics": SIGTERM drain, /healthz, /readyz.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { RawWs, startGateway } = require('./helpers');

test('SIGTERM: every client sees "transport close" (it reconnects by itself) and the process exits 0', async (t) => {
  const gw = await startGateway(t);
  assert.equal((await gw.get('/healthz')).status, 200);
  assert.equal((await gw.get('/readyz')).status, 200);
  const clients = [];
  for (const [sub, ws] of [['alice', 'ws-a'], ['alice', 'ws-a'], ['bob', 'ws-b'], ['carol', 'ws-c']]) {
    const c = await gw.connect(gw.token({ sub, workspaceId: ws }));
    assert.deepEqual(await c.emitAck('join_room', { room: `workspace:${ws}:dashboard` }), { joined: `workspace:${ws}:dashboard` });
    clients.push(c);
  }
  const started = Date.now();
  const exited = gw.stop();
  const reasons = await Promise.all(clients.map((c) => c.waitForDisconnect({ timeout: 10000 })));
  // docs/PROTOCOL.md "Close codes": no DISCONNECT before the close, so socket.io-client
  // reconnects by itself (to another node when clustered) and recovers.
  assert.deepEqual(reasons, clients.map(() => 'transport close'));
  assert.deepEqual(await exited, { code: 0, signal: null });
  // Well within SHUTDOWN_TIMEOUT (10 s) when every client leaves as told.
  assert.ok(Date.now() - started < 5000, `drain took ${Date.now() - started} ms`);
  assert.match(gw.stderr.text, /"msg":"draining"/);
  // No client saw anything but the disconnect.
  for (const c of clients) assert.deepEqual(c.received('error'), []);
});

test('SIGTERM with no clients exits 0 at once', async (t) => {
  const gw = await startGateway(t);
  const started = Date.now();
  assert.deepEqual(await gw.stop(), { code: 0, signal: null });
  assert.ok(Date.now() - started < 3000, `exit took ${Date.now() - started} ms`);
});

test('while draining /readyz is 503 and new upgrades are refused', async (t) => {
  const gw = await startGateway(t);
  const client = await gw.connect(gw.token());
  // A client that does not answer the server's close frame: the gateway
  // waits a moment for it, which leaves time to look at the draining server.
  const raw = await gw.raw();
  await raw.connect({ token: gw.token({ sub: 'quiet', workspaceId: 'ws-q' }) });
  const exited = gw.stop();
  assert.equal((await raw.waitClose()).code, 1001);
  const ready = await gw.get('/readyz');
  assert.equal(ready.status, 503, `readyz while draining: ${ready.status} ${ready.text}`);
  assert.equal(await upgradeStatus(gw), 503, 'a new upgrade while draining');
  assert.equal(await client.waitForDisconnect(), 'transport close');
  assert.deepEqual(await exited, { code: 0, signal: null });
});

/** The HTTP status of a raw upgrade request (101 when it is accepted). */
async function upgradeStatus(gw) {
  try {
    const ws = await RawWs.open(gw);
    ws.destroy();
    return 101;
  } catch (err) {
    const m = /upgrade answered (\d+)/.exec(err.message);
    if (m) return Number(m[1]);
    throw err;
  }
}

test('SIGTERM on the wire: a 1001 close frame and no DISCONNECT packet', async (t) => {
  const gw = await startGateway(t);
  const raw = await gw.raw();
  assert.match(await raw.connect({ token: gw.token({ sub: 'alice', workspaceId: 'ws-a' }) }), /^40\{"sid":"[^"]+","pid":"[^"]+"\}$/);
  const exited = gw.stop();
  const close = await raw.waitClose();
  assert.equal(close.code, 1001);
  assert.deepEqual(raw.frames.filter((f) => f.text === '41'), [], 'a DISCONNECT before the close');
  raw.send(Buffer.from([0x03, 0xe9]), 8); // answer the close
  assert.deepEqual(await exited, { code: 0, signal: null });
});

test('SIGTERM closes a WebSocket that has not sent CONNECT yet with 1001, without waiting out SHUTDOWN_TIMEOUT', async (t) => {
  const gw = await startGateway(t, { SHUTDOWN_TIMEOUT: '4s' });
  const raw = await gw.raw();
  await raw.waitText(/^0\{/, { what: 'the Engine.IO OPEN packet' });
  const started = Date.now();
  const exited = gw.stop();
  const close = await raw.waitClose({ timeout: 3000 }).catch((err) => err);
  const st = await exited;
  const took = Date.now() - started;
  assert.deepEqual(st, { code: 0, signal: null });
  assert.ok(!(close instanceof Error), `no close frame within 3 s of SIGTERM (process exited after ${took} ms): ${close.message}`);
  assert.equal(close.code, 1001);
  assert.ok(took < 3000, `exit took ${took} ms: the drain waited for a socket it never closed`);
});
