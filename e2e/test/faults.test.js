'use strict';
// docs/PROTOCOL.md "Fault injection": POST /debug/faults, and what each failure may cost.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { randomKey, sentinel, startGateway, waitUntil, WAIT_MS } = require('./helpers');

const ROOM = 'workspace:ws-a:dashboard';

async function faultGateway(t, env = {}) {
  return startGateway(t, { FAULT_INJECTION: '1', ADMIN_API_KEY: randomKey('admin'), ...env });
}

/** POST /debug/faults; body is JSON-encoded unless a string. */
async function postFault(gw, body, { key = gw.adminKey } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${gw.url}/debug/faults`, {
    method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, body: json, text };
}

async function inject(gw, kind, target, fault = 'panic', extra = {}) {
  const res = await postFault(gw, { kind, target, fault, ...extra });
  assert.equal(res.status, 200, res.text);
  return res.body.injected;
}

/** Waits for the gateway's log line of a failed actor of kind. */
function actorFailed(gw, kind) {
  return gw.stderr.waitFor(new RegExp(`^\\{.*"msg":"actor failed".*"kind":"${kind}".*$`, 'm'), { what: `an "actor failed" line for a ${kind}` });
}

async function member(gw, sub) {
  const c = await gw.connect(gw.token({ sub, workspaceId: 'ws-a' }));
  assert.deepEqual(await c.emitAck('join_room', { room: ROOM }), { joined: ROOM });
  return c;
}

test('/debug/faults is 404 unless FAULT_INJECTION=1 and ADMIN_API_KEY are set', async (t) => {
  const plain = await startGateway(t);
  assert.equal((await postFault(plain, { kind: 'room', target: ROOM, fault: 'panic' }, { key: 'x' })).status, 404);
  const keyOnly = await startGateway(t, { ADMIN_API_KEY: randomKey('admin') });
  assert.equal((await postFault(keyOnly, { kind: 'room', target: ROOM, fault: 'panic' })).status, 404);
});

test('/debug/faults: 401 before the body, 400 for a bad body, kind or fault, injected 0 for no actor', async (t) => {
  const gw = await faultGateway(t);
  assert.equal((await postFault(gw, { kind: 'room', target: ROOM, fault: 'panic' }, { key: null })).status, 401);
  assert.equal((await postFault(gw, { kind: 'room', target: ROOM, fault: 'panic' }, { key: 'wrong' })).status, 401);
  assert.equal((await postFault(gw, '{not json', { key: null })).status, 401, 'the key is checked before the body');
  assert.equal((await postFault(gw, '{not json')).status, 400);
  assert.equal((await postFault(gw, { kind: 'galaxy', target: ROOM, fault: 'panic' })).status, 400);
  assert.equal((await postFault(gw, { kind: 'room', target: ROOM, fault: 'explode' })).status, 400);
  assert.equal((await postFault(gw, { kind: 'room', target: ROOM, fault: 'panic', extra: 1 })).status, 400);
  // No such actor alive.
  assert.equal(await inject(gw, 'room', ROOM), 0);
  assert.equal(await inject(gw, 'connection', 'no-such-sid'), 0);
  assert.equal(await inject(gw, 'ratelimiter', 'no-such-sid'), 0);
  assert.equal(await inject(gw, 'workspace', 'ws-nobody'), 0);
});

test('a panic in a room keeps its members; only the message it failed on may be lost', async (t) => {
  const gw = await faultGateway(t);
  const a = await member(gw, 'a');
  const b = await member(gw, 'b');
  const trigger = await gw.connect(gw.token({ sub: 'c', workspaceId: 'ws-a' }));
  assert.equal(await inject(gw, 'room', ROOM), 1);
  // The room fails on this join (which may be lost).
  trigger.emit('join_room', { room: ROOM });
  await actorFailed(gw, 'room');
  const n = await gw.publishOK(ROOM, 'after', { n: 1 });
  assert.ok(n === 2 || n === 3, `recipients ${n}: a and b are still members`);
  assert.deepEqual(await a.waitFor('after'), { n: 1 });
  assert.deepEqual(await b.waitFor('after'), { n: 1 });
  for (const c of [a, b, trigger]) assert.ok(c.connected);
  // The failed room still serves joins and leaves.
  assert.deepEqual(await trigger.emitAck('join_room', { room: ROOM }), { joined: ROOM });
  assert.deepEqual(await a.emitAck('leave_room', { room: ROOM }), { left: ROOM });
  assert.equal(await gw.publishOK(ROOM, 'again', {}), 2);
});

test('a panic in a connection actor disconnects only that client and frees its slot', async (t) => {
  const gw = await faultGateway(t, { MAX_CONNECTIONS_PER_IP: '3' });
  const victim = await member(gw, 'victim');
  const b = await member(gw, 'b');
  const sameUser = await gw.connect(gw.token({ sub: 'victim', workspaceId: 'ws-a' }));
  assert.equal((await gw.connectError(gw.token())).message, 'TOO_MANY_CONNECTIONS');
  assert.equal(await inject(gw, 'connection', victim.id), 1);
  victim.emit('state_sync', { state: 'boom' });
  const reason = await victim.waitForDisconnect();
  assert.ok(['transport close', 'io server disconnect'].includes(reason), reason);
  for (const c of [b, sameUser]) assert.ok(c.connected);
  await sentinel(gw, b, ROOM);
  await sentinel(gw, sameUser, 'user:victim');
  // The dead connection's per-IP slot is free again.
  const fresh = await waitUntil(async () => {
    try {
      return await gw.connect(gw.token({ sub: 'late', workspaceId: 'ws-a' }));
    } catch (e) {
      if (e.message !== 'TOO_MANY_CONNECTIONS') throw e;
      return null;
    }
  }, { timeout: 3000, what: 'the slot of the failed connection' });
  assert.ok(fresh.id);
});

test('a panic in a rate limiter or a workspace disconnects nobody', async (t) => {
  const gw = await faultGateway(t);
  const a = await member(gw, 'a');
  const b = await member(gw, 'b');
  const trigger = await gw.connect(gw.token({ sub: 'c', workspaceId: 'ws-a' }));

  assert.equal(await inject(gw, 'ratelimiter', a.id), 1);
  a.emit('state_sync', { state: 'may be lost' });
  await actorFailed(gw, 'ratelimiter');
  assert.deepEqual(await a.emitAck('join_room', { room: 'workspace:ws-a:approvals' }), { joined: 'workspace:ws-a:approvals' });

  assert.equal(await inject(gw, 'workspace', 'ws-a'), 1);
  trigger.emit('join_room', { room: 'workspace:ws-a:approvals' });
  await actorFailed(gw, 'workspace');
  assert.equal(await gw.publishOK(ROOM, 'after', {}), 2);
  await a.waitFor('after');
  await b.waitFor('after');
  for (const c of [a, b, trigger]) assert.ok(c.connected);
  assert.deepEqual(await trigger.emitAck('join_room', { room: ROOM }), { joined: ROOM });
  assert.equal(await gw.publishOK(ROOM, 'three', {}), 3);
});

test('a panic in an ip limiter disconnects nobody and connections still work', async (t) => {
  const gw = await faultGateway(t, { MAX_CONNECTIONS_PER_IP: '3' });
  const a = await member(gw, 'a');
  const b = await member(gw, 'b');
  assert.equal(await inject(gw, 'iplimiter', '127.0.0.1'), 1);
  // The limiter fails on this admission; the client may get in late or be refused.
  const c = await gw.connect(gw.token({ sub: 'c', workspaceId: 'ws-a' })).catch(() => null);
  await actorFailed(gw, 'iplimiter');
  for (const c of [a, b]) assert.ok(c.connected);
  assert.equal(await gw.publishOK(ROOM, 'still', {}), 2);
  await a.waitFor('still');
  // The limiter still counts: at most 3 live connections.
  const results = [];
  for (let i = 0; i < 3; i++) {
    results.push(await gw.connect(gw.token({ sub: `d${i}`, workspaceId: 'ws-a' })).then(() => 'ok', (e) => e.message));
  }
  const live = 2 + (c ? 1 : 0) + results.filter((r) => r === 'ok').length;
  assert.equal(live, 3, `a, b, c? and ${results}: the limit is 3`);
  assert.equal(results.at(-1), 'TOO_MANY_CONNECTIONS');
});

test('a stalled room delays its broadcasts and loses nothing', async (t) => {
  const gw = await faultGateway(t);
  const a = await member(gw, 'a');
  assert.equal(await inject(gw, 'room', ROOM, 'stall', { duration_ms: 300 }), 1);
  const started = Date.now();
  assert.equal(await gw.publishOK(ROOM, 'slow', { n: 1 }), 1);
  assert.ok(Date.now() - started >= 250, `publish answered after ${Date.now() - started} ms`);
  assert.equal(await gw.publishOK(ROOM, 'slow', { n: 2 }), 1);
  await a.waitFor('slow', { filter: (d) => d.n === 2 });
  assert.deepEqual(a.received('slow'), [{ n: 1 }, { n: 2 }]);
});

test('a room past its restart budget tells its members ROOM_FAILED; they can join again', async (t) => {
  const gw = await faultGateway(t);
  const a = await member(gw, 'a');
  const b = await member(gw, 'b');
  const trigger = await gw.connect(gw.token({ sub: 'c', workspaceId: 'ws-a' }));
  const failures = () => gw.logs().filter((l) => l.msg === 'actor failed' && l.kind === 'room').length;
  for (let i = 1; i <= 10 && a.received('error').length === 0; i++) {
    const n = await inject(gw, 'room', ROOM);
    if (n === 0) break; // the room is gone
    trigger.emit('join_room', { room: ROOM });
    await waitUntil(() => failures() >= i || a.received('error').length > 0, { what: `room failure #${i}` });
  }
  const failed = { code: 'ROOM_FAILED', room: ROOM };
  assert.deepEqual(await a.waitFor('error'), failed);
  assert.deepEqual(await b.waitFor('error'), failed);
  for (const c of [a, b]) assert.ok(c.connected, 'a failed room disconnects nobody');
  // They may join again, and the new room serves them.
  for (const c of [a, b]) assert.deepEqual(await c.emitAck('join_room', { room: ROOM }), { joined: ROOM });
  assert.equal(await gw.publishOK(ROOM, 'reborn', {}), 2);
  await a.waitFor('reborn');
  await b.waitFor('reborn');
});
