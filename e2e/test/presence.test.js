'use strict';
// docs/PROTOCOL.md "Presence": who is in a room, with the real socket.io-client,
// on one node and across three.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startGateway, sentinel, waitUntil, withTimeout, WAIT_MS } = require('./helpers');

const ROOM = 'workspace:ws-1:dashboard';

/** The presence events a client received, as "join:user" / "leave:user". */
function presenceLog(client, room = ROOM) {
  return client.events
    .filter((e) => (e.event === 'presence_join' || e.event === 'presence_leave') && e.data.room === room)
    .map((e) => {
      assert.equal(e.args.length, 1, 'a presence event carries no offset');
      return `${e.event === 'presence_join' ? 'join' : 'leave'}:${e.data.userId}`;
    });
}

/** Waits for a presence event about user. */
function presenceEvent(client, kind, user, opts) {
  return client.waitFor(`presence_${kind}`, { ...opts, filter: (d) => d.userId === user && d.room === ROOM });
}

/** GET /v1/presence. */
async function getPresence(gw, room, key = gw.publishKey) {
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  const res = await fetch(`${gw.url}/v1/presence?room=${encodeURIComponent(room)}`, { headers, signal: AbortSignal.timeout(WAIT_MS) });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: res.status, body, text };
}

const users = (ack) => ack.users.map((u) => `${u.userId}:${u.sessions}`);

test('tabs of one user count once; the last tab leaving is the leave; nothing to self', async (t) => {
  const gw = await startGateway(t);
  const watcher = await gw.connect(gw.token({ sub: 'watcher' }));
  await watcher.emitAck('join_room', { room: ROOM });

  const tab1 = await gw.connect(gw.token({ sub: 'alice' }));
  await tab1.emitAck('join_room', { room: ROOM });
  await presenceEvent(watcher, 'join', 'alice');
  const tab2 = await gw.connect(gw.token({ sub: 'alice' }));
  await tab2.emitAck('join_room', { room: ROOM });

  const ack = await tab2.emitAck('presence', { room: ROOM });
  assert.deepEqual(ack, { room: ROOM, users: [{ userId: 'alice', sessions: 2 }, { userId: 'watcher', sessions: 1 }], total: 2 });

  tab1.close();
  await waitUntil(async () => users(await watcher.emitAck('presence', { room: ROOM })).join() === 'alice:1,watcher:1', { what: 'one tab left' });
  await sentinel(gw, watcher, ROOM);
  assert.deepEqual(presenceLog(watcher), ['join:alice'], 'the second tab and the first leaving are neither join nor leave');

  tab2.close();
  await presenceEvent(watcher, 'leave', 'alice');
  assert.deepEqual(presenceLog(watcher), ['join:alice', 'leave:alice']);

  // None to self: alice's tabs heard of nobody (watcher was there first), and never of alice.
  for (const tab of [tab1, tab2]) assert.deepEqual(presenceLog(tab).filter((e) => e.endsWith(':alice')), []);
  // The watcher's own join was never sent to it.
  assert.ok(!presenceLog(watcher).some((e) => e.endsWith(':watcher')));
});

test('user rooms: counted, never evented; errors as join_room; truncation; GET /v1/presence; reserved names', async (t) => {
  const gw = await startGateway(t, { PRESENCE_MAX_USERS: '2' });
  const a1 = await gw.connect(gw.token({ sub: 'alice' }));
  const a2 = await gw.connect(gw.token({ sub: 'alice' }));
  await waitUntil(async () => users(await a1.emitAck('presence', { room: 'user:alice' })).join() === 'alice:2', { what: 'both tabs in user:alice' });
  await sentinel(gw, a1, 'user:alice');
  await sentinel(gw, a2, 'user:alice');
  assert.equal(a1.events.filter((e) => e.event.startsWith('presence_')).length, 0, 'no presence event for a user room');

  assert.deepEqual(await a1.emitAck('presence', { room: 'user:bob' }), { error: 'ACCESS_DENIED' });
  assert.deepEqual(await a1.emitAck('presence', { room: 'workspace:ws-2:dashboard' }), { error: 'ACCESS_DENIED' });
  assert.deepEqual(await a1.emitAck('presence', { room: 'lobby' }), { error: 'INVALID_ROOM' });
  assert.deepEqual(await a1.emitAck('presence', {}), { error: 'INVALID_ROOM' });
  assert.deepEqual(await a1.emitAck('presence', { room: ROOM }), { room: ROOM, users: [], total: 0 }, 'a room it is not in');

  for (const sub of ['carol', 'bob', 'dave']) {
    const c = await gw.connect(gw.token({ sub }));
    await c.emitAck('join_room', { room: ROOM });
  }
  const want = { room: ROOM, users: [{ userId: 'bob', sessions: 1 }, { userId: 'carol', sessions: 1 }], total: 3, truncated: true };
  assert.deepEqual(await a1.emitAck('presence', { room: ROOM }), want);

  const res = await getPresence(gw, ROOM);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, want, 'GET /v1/presence: the same body as the ack');
  assert.equal((await getPresence(gw, ROOM, 'wrong-key')).status, 401);
  assert.equal((await getPresence(gw, ROOM, null)).status, 401);
  assert.equal((await getPresence(gw, 'lobby')).status, 400);

  for (const event of ['presence_join', 'presence_leave', 'state_sync', 'dashboard_action', 'token_expiring', '\u0000p']) {
    const r = await gw.publish(ROOM, event, { room: ROOM, userId: 'mallory' });
    assert.equal(r.status, 400, `publishing ${JSON.stringify(event)}: ${r.status} ${r.text}`);
  }
});

test('GET /v1/presence is off without the publish key', async (t) => {
  const gw = await startGateway(t, { PUBLISH_API_KEY: undefined });
  assert.equal((await getPresence(gw, ROOM, 'anything')).status, 404);
});

test('a transport break inside the recovery window is neither leave nor join; an unrecoverable end is a leave', async (t) => {
  const gw = await startGateway(t, { RECOVERY_WINDOW: '1s' });
  const watcher = await gw.connect(gw.token({ sub: 'watcher' }));
  await watcher.emitAck('join_room', { room: ROOM });
  const alice = await gw.connect(gw.token({ sub: 'alice' }), { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
  await alice.emitAck('join_room', { room: ROOM });
  await presenceEvent(watcher, 'join', 'alice');

  const reconnected = withTimeout(new Promise((resolve) => alice.socket.once('connect', resolve)), WAIT_MS, 'a reconnect');
  alice.socket.io.engine.close(); // a network blip
  await reconnected;
  assert.equal(alice.socket.recovered, true);
  await sentinel(gw, watcher, ROOM);
  assert.deepEqual(presenceLog(watcher), ['join:alice'], 'a recovery is neither a leave nor a join');
  assert.deepEqual(users(await watcher.emitAck('presence', { room: ROOM })), ['alice:1', 'watcher:1']);

  alice.close(); // her own disconnect: not recoverable, a leave at once
  await presenceEvent(watcher, 'leave', 'alice', { timeout: 900 });
  assert.deepEqual(presenceLog(watcher), ['join:alice', 'leave:alice']);

  // A break with no reconnect: present while kept, a leave when the window runs out.
  const bob = await gw.connect(gw.token({ sub: 'bob' }));
  await bob.emitAck('join_room', { room: ROOM });
  await presenceEvent(watcher, 'join', 'bob');
  bob.socket.io.engine.close();
  await waitUntil(async () => (await gw.metric('ws_sessions_kept')) === 1, { what: 'bob kept' });
  assert.deepEqual(users(await watcher.emitAck('presence', { room: ROOM })), ['bob:1', 'watcher:1'], 'a kept session is present');
  await presenceEvent(watcher, 'leave', 'bob');
});

// ---------------------------------------------------------------- three nodes

/** Starts a node; with killable, its cleanup expects the SIGKILL the test gives it (not exit 0 on SIGTERM). */
async function startNode(t, common, id, routes = [], { killable = false } = {}) {
  const gw = await startGateway(killable ? null : t, {
    ...common, NODE_ID: id, NATS_LISTEN: '127.0.0.1:0', NATS_CLUSTER_LISTEN: '127.0.0.1:0',
    NATS_ROUTES: routes.length ? routes.join(',') : undefined,
  });
  const line = gw.logs().find((l) => l.msg === 'cluster enabled');
  assert.ok(line, 'the "cluster enabled" log line');
  if (killable) {
    t.after(async () => {
      for (const cl of gw.clients) cl.close();
      const st = await gw.stop({ signal: 'SIGKILL' });
      assert.deepEqual(st, { code: null, signal: 'SIGKILL' }, 'killed by the test, not dead on its own');
      gw.assertNoSecretsLogged();
    });
  }
  return { gw, route: line.nats_route_url };
}

test('three nodes: the same answer everywhere, joins and leaves across nodes, a kill -9\'d node\'s users leave when their window ends', { timeout: 60000 }, async (t) => {
  const common = { JWT_SECRET: 'presence-cluster-secret-0123456789', PUBLISH_API_KEY: 'presence-cluster-publish-key', RECOVERY_WINDOW: '2s' };
  const an = await startNode(t, common, 'node-a');
  const a = an.gw;
  const aRoute = an.route;
  const bn = await startNode(t, common, 'node-b', [aRoute]);
  const c = (await startNode(t, common, 'node-c', [aRoute, bn.route], { killable: true })).gw;
  const b = bn.gw;
  for (const gw of [a, b, c]) {
    await waitUntil(async () => (await gw.metric('cluster_peers')) === 2, { timeout: 15000, what: `${gw.addr} sees two peers` });
  }

  const watcher = await a.connect(a.token({ sub: 'watcher' }));
  await watcher.emitAck('join_room', { room: ROOM });
  const bob = await b.connect(b.token({ sub: 'bob' }));
  await bob.emitAck('join_room', { room: ROOM });
  await presenceEvent(watcher, 'join', 'bob', { timeout: 10000 });
  const carol1 = await c.connect(c.token({ sub: 'carol' }));
  const carol2 = await c.connect(c.token({ sub: 'carol' }));
  await carol1.emitAck('join_room', { room: ROOM });
  await carol2.emitAck('join_room', { room: ROOM });
  await presenceEvent(watcher, 'join', 'carol', { timeout: 10000 });
  const bob2 = await a.connect(a.token({ sub: 'bob' })); // bob on a second node: not a join
  await bob2.emitAck('join_room', { room: ROOM });

  const want = { room: ROOM, users: [{ userId: 'bob', sessions: 2 }, { userId: 'carol', sessions: 2 }, { userId: 'watcher', sessions: 1 }], total: 3 };
  for (const gw of [a, b, c]) {
    await waitUntil(async () => JSON.stringify((await getPresence(gw, ROOM)).body) === JSON.stringify(want), { timeout: 10000, what: `the same presence on ${gw.addr}` });
  }
  assert.deepEqual(await carol1.emitAck('presence', { room: ROOM }), want, 'the ack on node c');
  // carol, on c, heard of bob joining on b; bob, on b, of carol on c.
  await presenceEvent(bob, 'join', 'carol', { timeout: 10000 });
  assert.ok(!presenceLog(bob).includes('join:bob'), 'none to self, across nodes');

  bob2.close(); // bob is still on b: no leave
  bob.close(); // now he is gone everywhere
  await presenceEvent(watcher, 'leave', 'bob', { timeout: 10000 });
  assert.deepEqual(presenceLog(watcher), ['join:bob', 'join:carol', 'leave:bob'], 'one leave, when the last session anywhere ended');

  // kill -9 node c: carol is kept present until her window ends, then leaves.
  await c.stop({ signal: 'SIGKILL' });
  const killedAt = Date.now();
  assert.deepEqual(users((await getPresence(a, ROOM)).body), ['carol:2', 'watcher:1'], 'present right after the kill');
  await presenceEvent(watcher, 'leave', 'carol', { timeout: 20000 });
  assert.ok(Date.now() - killedAt >= 2000, 'not before her window (RECOVERY_WINDOW=2s) ran out');
  // Each node forgets the dead one on its own heartbeat clock: b within a heartbeat of a.
  await waitUntil(async () => users((await getPresence(b, ROOM)).body).join() === 'watcher:1', { timeout: 5000, what: 'carol gone on node b too' });
});
