'use strict';
// docs/PROTOCOL.md "Handshake", "Malformed input", "Limits" on the wire: OPEN,
// CONNECT answers, CONNECT_ERROR grace, MAX_MESSAGE_BYTES (1009), binary and
// malformed packets closing only that client.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { sentinel, startGateway, waitUntil } = require('./helpers');

function securityEvents(gw, event) {
  return gw.logs().filter((l) => l.type === 'security_event' && l.event === event);
}

test('OPEN advertises the configured ping and maxPayload; CONNECT is answered 40{"sid","pid"}; broadcasts end with their offset', async (t) => {
  const gw = await startGateway(t, { PING_INTERVAL: '7s', PING_TIMEOUT: '3s', MAX_MESSAGE_BYTES: '4096' });
  const raw = await gw.raw();
  const open = JSON.parse((await raw.waitText(/^0\{/)).text.slice(1));
  assert.equal(typeof open.sid, 'string');
  assert.deepEqual(open.upgrades, []);
  assert.equal(open.pingInterval, 7000);
  assert.equal(open.pingTimeout, 3000);
  assert.equal(open.maxPayload, 4096);
  const answer = await raw.connect({ token: gw.token() });
  // §9: the private session id beside the sid (≥ 128 bits, base64url).
  assert.match(answer, /^40\{"sid":"[A-Za-z0-9_-]+","pid":"[A-Za-z0-9_-]{22,}"\}$/);
  // An event with an ack id is answered with an ACK of the same id.
  raw.send('4217["join_room",{"room":"workspace:ws-1:dashboard"}]');
  assert.equal((await raw.waitText(/^4317/)).text, '4317[{"joined":"workspace:ws-1:dashboard"}]');
  // A room broadcast carries its offset, a string, as its last argument.
  await gw.publishOK('workspace:ws-1:dashboard', 'x', { n: 1 });
  assert.match((await raw.waitText(/^42\["x"/)).text, /^42\["x",\{"n":1\},"\d+"\]$/);
});

test('with RECOVERY_WINDOW=0, CONNECT is answered 40{"sid"} and broadcasts carry no offset', async (t) => {
  const gw = await startGateway(t, { RECOVERY_WINDOW: '0' });
  const raw = await gw.raw();
  assert.match(await raw.connect({ token: gw.token() }), /^40\{"sid":"[A-Za-z0-9_-]+"\}$/);
  await gw.publishOK('user:user-1', 'x', { n: 1 });
  assert.equal((await raw.waitText(/^42\["x"/)).text, '42["x",{"n":1}]');
});

test('CONNECT_ERROR is 44{"message","data":{"code"}}; the server leaves the client ~2 s to close', async (t) => {
  const gw = await startGateway(t);
  const raw = await gw.raw();
  const bad = gw.remember('not.a.token');
  assert.equal(await raw.connect({ token: bad }), '44{"message":"INVALID_TOKEN","data":{"code":"INVALID_TOKEN"}}');
  const refusedAt = Date.now();
  await raw.waitEnd({ timeout: 5000 });
  const after = Date.now() - refusedAt;
  assert.ok(after >= 1000, `closed ${after} ms after CONNECT_ERROR: not "at once"`);
  assert.ok(after <= 3500, `closed ${after} ms after CONNECT_ERROR: the grace is 2 s`);

  const raw2 = await gw.raw();
  assert.equal(await raw2.connect(), '44{"message":"AUTH_REQUIRED","data":{"code":"AUTH_REQUIRED"}}');
});

test('a frame over MAX_MESSAGE_BYTES closes that socket with 1009; other clients are untouched', async (t) => {
  const gw = await startGateway(t, { MAX_MESSAGE_BYTES: '1000' });
  const bystander = await gw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-a' }));
  const raw = await gw.raw();
  await raw.connect({ token: gw.token({ sub: 'alice', workspaceId: 'ws-a' }) });
  raw.send(`42["state_sync",{"state":"${'x'.repeat(2000)}"}]`);
  const close = await raw.waitClose();
  assert.equal(close.code, 1009);
  assert.ok(securityEvents(gw, 'message_too_large').length >= 1 || await gw.stderr.waitFor(/"event":"message_too_large"/));
  assert.deepEqual(await bystander.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });

  // socket.io-client: an oversized emit costs that socket its connection only.
  const big = await gw.connect(gw.token({ sub: 'carol', workspaceId: 'ws-a' }));
  big.emit('state_sync', { state: 'y'.repeat(5000) });
  assert.equal(await big.waitForDisconnect(), 'transport close');
  assert.ok(bystander.connected);
  await sentinel(gw, bystander, 'user:bob');
});

test('binary packets are refused with BINARY_NOT_SUPPORTED and never processed', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' });
  const sender = await gw.connect(token);
  const otherTab = await gw.connect(token);
  // socket.io-client sends a Buffer as a BINARY_EVENT (45) plus an attachment
  // frame. The contract allows an error or closing that client.
  sender.emit('state_sync', { state: Buffer.from('binary state') });
  const outcome = await Promise.race([
    sender.waitFor('error').then((d) => ({ error: d })),
    sender.waitForDisconnect().then((reason) => ({ disconnect: reason })),
  ]);
  if (outcome.error) assert.deepEqual(outcome.error, { code: 'BINARY_NOT_SUPPORTED' });
  // Never processed: the other tab got no state_sync.
  await sentinel(gw, otherTab, 'user:alice');
  assert.deepEqual(otherTab.received('state_sync'), []);
  // The gateway is fine: the other tab still works.
  assert.deepEqual(await otherTab.emitAck('state_sync', { state: 'text' }), { ok: true });
});

test('a binary event that asks for an ack gets BINARY_NOT_SUPPORTED as its ack, once', async (t) => {
  const gw = await startGateway(t);
  const sender = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  const ack = await sender.emitAck('state_sync', { state: Buffer.from('binary state') });
  assert.deepEqual(ack, { error: 'BINARY_NOT_SUPPORTED' });
  // The attachment frame raised no second error, and the socket still works.
  assert.deepEqual(await sender.emitAck('state_sync', { state: 'text' }), { ok: true });
  assert.deepEqual(sender.received('error'), []);
});

test('malformed packets close that client only, with a security event', async (t) => {
  const gw = await startGateway(t);
  const bystander = await gw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-a' }));
  const malformed = {
    'truncated JSON': '42["join_room",{"room":',
    'payload not an array': '42{"event":"join_room"}',
    'empty array': '42[]',
    'event name not a string': '42[5,{}]',
    'unknown socket.io type': '49["x"]',
    'unknown engine.io type': '9hello',
  };
  for (const [name, frame] of Object.entries(malformed)) {
    const raw = await gw.raw();
    await raw.connect({ token: gw.token({ sub: 'alice', workspaceId: 'ws-a' }) });
    raw.send(frame);
    const close = await raw.waitClose().catch((err) => err);
    assert.ok(!(close instanceof Error), `${name}: ${close.message}`);
    assert.ok([1002, 1003, 1007, 1008].includes(close.code), `${name}: close code ${close.code}`);
  }
  // A CONNECT with broken JSON, too.
  const raw = await gw.raw();
  await raw.waitText(/^0\{/);
  raw.send('40{"token":');
  await raw.waitClose();
  // Lines are rate-limited per source (5 per 10 s), the counter counts all.
  await gw.stderr.waitFor(/"type":"security_event".*"event":"malformed_packet"/);
  const want = Object.keys(malformed).length + 1;
  await waitUntil(async () => (await gw.metric('ws_security_events_total', { event: 'malformed_packet' })) >= want,
    { what: `ws_security_events_total{event="malformed_packet"} >= ${want}` });
  assert.ok(bystander.connected);
  assert.deepEqual(await bystander.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
});

test('security events are logged as JSON lines with type security_event', async (t) => {
  const gw = await startGateway(t, { MAX_MESSAGES_PER_MINUTE: '2' });
  await gw.connectError(undefined);
  await gw.connectError(gw.remember('bad.token.here'));
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a', role: 'viewer' }));
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-b:dashboard' }), { error: 'ACCESS_DENIED' });
  assert.deepEqual(await c.emitAck('dashboard_action', { action: 'x' }), { error: 'PERMISSION_DENIED' });
  assert.deepEqual(await c.emitAck('state_sync', { state: 1 }), { error: 'RATE_LIMITED' });
  for (const ev of ['auth_missing', 'auth_invalid', 'unauthorized_room_access', 'permission_denied', 'rate_limit_exceeded']) {
    await gw.stderr.waitFor(new RegExp(`"type":"security_event".*"event":"${ev}"|"event":"${ev}".*"type":"security_event"`), { what: `security event ${ev}` });
  }
});

test('PING_INTERVAL/PING_TIMEOUT: socket.io-client stays connected; a client that never answers is dropped and its slot freed', async (t) => {
  const gw = await startGateway(t, { PING_INTERVAL: '500ms', PING_TIMEOUT: '1000ms', MAX_CONNECTIONS_PER_IP: '2' });
  const good = await gw.connect(gw.token({ sub: 'good', workspaceId: 'ws-a' }));
  let pings = 0;
  const threePings = new Promise((resolve) => good.socket.io.on('ping', () => { if (++pings === 3) resolve(); }));
  const raw = await gw.raw();
  await raw.connect({ token: gw.token({ sub: 'silent', workspaceId: 'ws-a' }) });
  await raw.waitText(/^2$/, { what: 'a ping' });
  const close = await raw.waitFrame((f) => f.opcode === 8, { what: 'the close of a client that does not pong', timeout: 3000 }).catch(() => null);
  if (!close) await raw.waitEnd({ timeout: 3000 });
  await threePings;
  assert.ok(good.connected, 'a client answering pings stays');
  assert.deepEqual(await good.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
  // The dropped client's slot is free: two can connect again (good + one).
  const again = await waitUntil(async () => gw.connect(gw.token({ sub: 'again', workspaceId: 'ws-a' })).catch((e) => {
    if (e.message !== 'TOO_MANY_CONNECTIONS') throw e;
    return null;
  }), { what: 'the dropped client\'s slot', timeout: 3000 });
  assert.ok(again.id);
});

test('a client in another namespace gets a connect_error and nothing is served there', async (t) => {
  const gw = await startGateway(t);
  const { io } = require('socket.io-client');
  const socket = io(`${gw.url}/admin`, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: gw.token() } });
  t.after(() => socket.close());
  const err = await new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected to /admin')));
    socket.once('connect_error', resolve);
  });
  assert.ok(err.message, 'a connect_error with a message');
});

test('an EVENT sent right behind the CONNECT is answered after the CONNECT', async (t) => {
  const gw = await startGateway(t);
  const raw = await gw.raw();
  await raw.waitText(/^0\{/);
  raw.send(`40${JSON.stringify({ token: gw.token({ sub: 'h', workspaceId: 'ws-a' }) })}`);
  raw.send('421["join_room",{"room":"workspace:ws-a:dashboard"}]');
  assert.equal((await raw.waitText(/^431/)).text, '431[{"joined":"workspace:ws-a:dashboard"}]');
  const texts = raw.frames.map((f) => f.text);
  assert.ok(texts.findIndex((x) => x.startsWith('40{')) < texts.findIndex((x) => x.startsWith('431')), JSON.stringify(texts));
});

test('a client that stops reading is dropped as slow (1013); its room never waits for it', async (t) => {
  const gw = await startGateway(t, { OUTBOUND_QUEUE_BYTES: '200000' });
  const room = 'workspace:ws-a:dashboard';
  const fast = await gw.connect(gw.token({ sub: 'fast', workspaceId: 'ws-a' }));
  assert.deepEqual(await fast.emitAck('join_room', { room }), { joined: room });
  const slow = await gw.raw();
  await slow.connect({ token: gw.token({ sub: 'slow', workspaceId: 'ws-a' }) });
  slow.send(`421${JSON.stringify(['join_room', { room }])}`);
  await slow.waitText(/^431/);
  slow.socket.pause(); // stop reading: kernel buffers fill, then the gateway's queue
  const blob = 'x'.repeat(90000);
  let sent = 0;
  let recipients = 2;
  // Bounded: 400 x 90 kB is far more than any socket buffer.
  while (recipients === 2 && sent < 400) {
    const res = await gw.publish(room, 'big', { i: sent, blob });
    assert.equal(res.status, 200, `publish #${sent} while a member is stuck: ${res.status} ${res.text}`);
    recipients = res.body.recipients;
    sent++;
  }
  assert.equal(recipients, 1, `after ${sent} publishes the stuck member is gone`);
  await fast.waitFor('big', { filter: (d) => d.i === sent - 1, timeout: 10000 });
  assert.deepEqual(fast.received('big').map((d) => d.i), [...Array(sent).keys()], 'the fast member got every broadcast, in order');
  slow.socket.resume();
  const close = await slow.waitClose({ timeout: 10000 });
  assert.equal(close.code, 1013);
});
