'use strict';
// docs/PROTOCOL.md "Connection state recovery": connection state recovery, with the real socket.io-client,
// on both transports.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startGateway, waitUntil, withTimeout, WAIT_MS } = require('./helpers');

const ROOM = 'workspace:ws-1:dashboard';

/** Resolves on the socket's next 'connect'. */
function nextConnect(client) {
  return withTimeout(new Promise((resolve) => client.socket.once('connect', resolve)), WAIT_MS, 'a reconnect');
}

/** The offsets (last argument, a string) of every received event named event. */
function offsets(client, event) {
  return client.events.filter((e) => e.event === event).map((e) => e.args[e.args.length - 1]);
}

/** Waits until client has received the numbers 1..n as event "n", and checks them once each, in order, with increasing offsets. */
async function expectStream(client, n) {
  await client.waitFor('n', { filter: (d) => d === n, timeout: 10000 });
  assert.deepEqual(client.received('n'), Array.from({ length: n }, (_, i) => i + 1), 'every number once, in order');
  const offs = offsets(client, 'n');
  for (const o of offs) assert.equal(typeof o, 'string', 'the offset is a string, last');
  for (let i = 1; i < offs.length; i++) assert.ok(BigInt(offs[i]) > BigInt(offs[i - 1]), `offsets increase: ${offs[i - 1]} then ${offs[i]}`);
}

/** The gateway never prints a pid (docs/PROTOCOL.md "Connection state recovery"). */
function assertPidNeverPrinted(gw, ...pids) {
  const out = gw.stderr.text + gw.stdout.text;
  for (const pid of pids) {
    assert.ok(typeof pid === 'string' && pid.length >= 22, `pid ${pid}`);
    assert.ok(!out.includes(pid), 'a pid appears in the gateway output');
  }
}

const keptSessions = (gw) => gw.metric('ws_sessions_kept');
const recoveries = (gw, result) => gw.metric('ws_recoveries_total', { result });

for (const transports of [['websocket'], ['polling']]) {
  test(`${transports}: a transport broken mid-stream recovers: same id, every missed message once, in order`, async (t) => {
    const gw = await startGateway(t);
    const c = await gw.connect(gw.token(), {
      transports, reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100,
    });
    assert.equal(c.socket.recovered, false);
    const id = c.id;
    const pid = c.socket._pid;
    assert.deepEqual(await c.emitAck('join_room', { room: ROOM }), { joined: ROOM });

    const total = 120;
    let broken = false;
    let publishedWhileAway = 0;
    const reconnected = nextConnect(c);
    const publisher = (async () => {
      for (let i = 1; i <= total; i++) {
        if (await gw.publishOK(ROOM, 'n', i) === 0) publishedWhileAway++;
        if (i === 20) {
          await c.waitFor('n', { filter: (d) => d === 20 });
          // What socket.io-client does when its transport fails: the engine
          // closes (a close frame on WebSocket, the close packet on polling),
          // the manager reconnects and the CONNECT carries pid and offset.
          c.socket.io.engine.close();
          broken = true;
        }
      }
    })();
    await publisher;
    assert.ok(broken);
    await reconnected;
    assert.ok(publishedWhileAway > 0, 'nothing was published while the client was away');
    assert.equal(await gw.metric('ws_disconnects_total', { reason: 'transport_closed' }), 1);
    assert.equal(c.socket.recovered, true, 'socket.recovered');
    assert.equal(c.id, id, 'the same socket.id');
    await expectStream(c, total);
    // Live after the replay, and in its rooms.
    assert.equal(await gw.publishOK(ROOM, 'n', total + 1), 1);
    await expectStream(c, total + 1);
    assert.equal(await recoveries(gw, 'recovered'), 1);
    assertPidNeverPrinted(gw, pid);
  });
}

test('a CONNECT with a pid and no offset recovers from the start of that session', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token());
  await c.emitAck('join_room', { room: ROOM });
  const pid = c.socket._pid;
  c.socket.io.engine.close();
  await c.waitForDisconnect();
  await waitUntil(async () => (await keptSessions(gw)) === 1, { what: 'the session kept' });
  await gw.publishOK(ROOM, 'n', 1);
  await gw.publishOK(ROOM, 'n', 2);
  // The client had received no broadcast yet: socket.io-client sends no offset.
  assert.equal(c.socket._lastOffset, undefined);
  const again = nextConnect(c);
  c.socket.connect();
  await again;
  assert.equal(c.socket.recovered, true);
  await expectStream(c, 2);
  assertPidNeverPrinted(gw, pid);
});

test("the client's own disconnect() then connect() gets a fresh session", async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token());
  await c.emitAck('join_room', { room: ROOM });
  await gw.publishOK(ROOM, 'n', 1);
  await c.waitFor('n');
  const [id, pid] = [c.id, c.socket._pid];
  c.socket.disconnect();
  assert.equal(await c.waitForDisconnect(), 'io client disconnect');
  await gw.publishOK(ROOM, 'n', 2);
  const again = nextConnect(c);
  c.socket.connect();
  await again;
  assert.equal(c.socket.recovered, false);
  assert.notEqual(c.id, id);
  assert.notEqual(c.socket._pid, pid);
  assert.equal(await gw.publishOK(ROOM, 'n', 3), 0, 'a fresh session is in no room but its own');
  assert.deepEqual(c.received('n'), [1]);
  assert.equal(await recoveries(gw, 'unknown'), 1);
  assertPidNeverPrinted(gw, pid, c.socket._pid);
});

test("another user's token with a stolen pid gets a fresh session and nothing of the victim's", async (t) => {
  const gw = await startGateway(t);
  const victim = await gw.connect(gw.token({ sub: 'victim' }));
  await victim.emitAck('join_room', { room: ROOM });
  await gw.publishOK(ROOM, 'n', 1);
  await victim.waitFor('n');
  const [pid, offset, id] = [victim.socket._pid, victim.socket._lastOffset, victim.id];
  victim.socket.io.engine.close();
  await victim.waitForDisconnect();
  await waitUntil(async () => (await keptSessions(gw)) === 1, { what: 'the session kept' });
  await gw.publishOK(ROOM, 'secret', { for: 'victim' });
  await gw.publishOK('user:victim', 'secret', { for: 'victim' });

  // The thief puts the stolen pid and offset in its CONNECT auth, as
  // socket.io-client would, with its own valid token.
  const raw = await gw.raw();
  const answer = JSON.parse((await raw.connect({ token: gw.token({ sub: 'mallory' }), pid, offset })).slice(2));
  assert.notEqual(answer.sid, id);
  assert.notEqual(answer.pid, pid);
  await gw.publishOK('user:mallory', 'sentinel', {});
  await raw.waitText(/^42\["sentinel"/);
  assert.deepEqual(raw.frames.filter((f) => /secret/.test(f.text)), [], 'nothing of the victim leaked');
  assert.equal(await recoveries(gw, 'denied'), 1);

  // The victim still recovers, and gets what it missed.
  const again = nextConnect(victim);
  victim.socket.connect();
  await again;
  assert.equal(victim.socket.recovered, true);
  assert.equal(victim.id, id);
  await victim.waitFor('secret');
  assert.deepEqual(victim.received('secret'), [{ for: 'victim' }, { for: 'victim' }]);
  assertPidNeverPrinted(gw, pid, answer.pid);
});

test('a session whose RECOVERY_WINDOW ran out is not recovered', async (t) => {
  const gw = await startGateway(t, { RECOVERY_WINDOW: '300ms' });
  const c = await gw.connect(gw.token());
  await c.emitAck('join_room', { room: ROOM });
  const pid = c.socket._pid;
  c.socket.io.engine.close();
  await c.waitForDisconnect();
  await waitUntil(async () => (await keptSessions(gw)) === 1, { what: 'the session kept' });
  await waitUntil(async () => (await keptSessions(gw)) === 0, { what: 'the session expired' });
  const again = nextConnect(c);
  c.socket.connect();
  await again;
  assert.equal(c.socket.recovered, false);
  assert.equal(await recoveries(gw, 'expired'), 1);
  assertPidNeverPrinted(gw, pid);
});

test('a client that missed more than RECOVERY_MAX_MESSAGES gets a fresh session, not a gap', async (t) => {
  const gw = await startGateway(t, { RECOVERY_MAX_MESSAGES: '5' });
  const c = await gw.connect(gw.token());
  await c.emitAck('join_room', { room: ROOM });
  await gw.publishOK(ROOM, 'n', 1);
  await c.waitFor('n');
  const [id, pid] = [c.id, c.socket._pid];
  c.socket.io.engine.close();
  await c.waitForDisconnect();
  await waitUntil(async () => (await keptSessions(gw)) === 1, { what: 'the session kept' });
  for (let i = 2; i <= 8; i++) await gw.publishOK(ROOM, 'n', i);
  const again = nextConnect(c);
  c.socket.connect();
  await again;
  assert.equal(c.socket.recovered, false);
  assert.notEqual(c.id, id);
  assert.equal(await recoveries(gw, 'too_old'), 1);
  await gw.publishOK('user:user-1', 'sentinel', {});
  await c.waitFor('sentinel');
  assert.deepEqual(c.received('n'), [1], 'no partial replay');
  assertPidNeverPrinted(gw, pid);
});
