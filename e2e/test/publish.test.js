'use strict';
// docs/PROTOCOL.md "Publish" (POST /v1/publish) and "Rooms" (user rooms).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { sentinel, startGateway } = require('./helpers');

test('a publish reaches the room members with the publisher\'s event and data; recipients counts them', async (t) => {
  const gw = await startGateway(t);
  const a1 = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  const a2 = await gw.connect(gw.token({ sub: 'anna', workspaceId: 'ws-a' }));
  const room = 'workspace:ws-a:dashboard';
  for (const c of [a1, a2]) assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });

  const data = { id: 7, text: 'héllo ✓', nested: { list: [1, null, true] } };
  assert.equal(await gw.publishOK(room, 'task.updated', data), 2);
  assert.deepEqual(await a1.waitFor('task.updated'), data);
  assert.deepEqual(await a2.waitFor('task.updated'), data);

  // Any JSON value is data, and a missing data arrives as null.
  for (const value of ['a string', 12.5, false, [1, 2]]) {
    assert.equal(await gw.publishOK(room, 'value', value), 2);
    assert.deepEqual(await a1.waitFor('value', { filter: (d) => JSON.stringify(d) === JSON.stringify(value) }), value);
  }
  const res = await gw.publish(null, null, null, { body: { room, event: 'no_data' } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { ok: true, recipients: 2 });
  assert.equal(await a2.waitFor('no_data'), null);

  // A room nobody joined has no recipients.
  assert.equal(await gw.publishOK('workspace:ws-a:approvals', 'x', {}), 0);
});

test('a non-member and another workspace get nothing (proved with a sentinel)', async (t) => {
  const gw = await startGateway(t);
  const member = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  const sameWsNotJoined = await gw.connect(gw.token({ sub: 'amos', workspaceId: 'ws-a' }));
  const otherWs = await gw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-b' }));
  assert.deepEqual(await member.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
  assert.deepEqual(await otherWs.emitAck('join_room', { room: 'workspace:ws-b:dashboard' }), { joined: 'workspace:ws-b:dashboard' });
  // bob tries to get into ws-a and is refused.
  assert.deepEqual(await otherWs.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { error: 'ACCESS_DENIED' });

  assert.equal(await gw.publishOK('workspace:ws-a:dashboard', 'secret', { s: 1 }), 1);
  await member.waitFor('secret');
  // The first publish was queued (200) before the sentinels were published,
  // and each connection's queue is FIFO: had it been queued to them, they
  // would have received it before their sentinel.
  await sentinel(gw, otherWs, 'workspace:ws-b:dashboard');
  await sentinel(gw, sameWsNotJoined, 'user:amos');
  assert.deepEqual(otherWs.received('secret'), []);
  assert.deepEqual(sameWsNotJoined.received('secret'), []);
});

test('a publish to user:{sub} reaches every tab of that user right after connect', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' });
  const tabs = await Promise.all([gw.connect(token), gw.connect(token), gw.connect(token)]);
  const other = await gw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-a' }));
  // No join_room: every connection is in its own user room from CONNECT on.
  assert.equal(await gw.publishOK('user:alice', 'notification', { msg: 'hi' }), 3);
  for (const tab of tabs) assert.deepEqual(await tab.waitFor('notification'), { msg: 'hi' });
  await sentinel(gw, other, 'user:bob');
  assert.deepEqual(other.received('notification'), []);
});

test('a publish to user:{sub} issued the moment connect fires is delivered', async (t) => {
  const gw = await startGateway(t);
  for (let i = 0; i < 5; i++) {
    const sub = `fresh-${i}`;
    const c = await gw.connect(gw.token({ sub, workspaceId: 'ws-a' }));
    assert.equal(await gw.publishOK(`user:${sub}`, 'welcome', { i }), 1, `publish right after connect #${i}`);
    assert.deepEqual(await c.waitFor('welcome'), { i });
    c.close();
  }
});

test('publish status codes: 401, 400, 413, 405', async (t) => {
  const gw = await startGateway(t, { MAX_MESSAGE_BYTES: '1000' });
  const room = 'workspace:ws-a:dashboard';
  // 401: no key, wrong key, wrong scheme.
  assert.equal((await gw.publish(room, 'e', {}, { key: null })).status, 401);
  assert.equal((await gw.publish(room, 'e', {}, { key: 'wrong' })).status, 401);
  assert.equal((await gw.publish(room, 'e', {}, { key: null, headers: { authorization: `Basic ${gw.publishKey}` } })).status, 401);

  // 400: bad JSON, missing/bad room, missing event, reserved event names.
  const bad = {
    'bad JSON': '{"room": "workspace:ws-a:dashboard", "event": ',
    'not JSON': 'hello',
    'empty body': '',
    'JSON array': '[]',
    'trailing data': `${JSON.stringify({ room, event: 'e', data: 1 })} {}`,
    'missing room': { event: 'e', data: {} },
    'room not a string': { room: 5, event: 'e', data: {} },
    'room public:x': { room: 'public:x', event: 'e', data: {} },
    'room over 200 bytes': { room: `workspace:${'w'.repeat(181)}:dashboard`, event: 'e', data: {} },
    'missing event': { room, data: {} },
    'empty event': { room, event: '', data: {} },
    'event not a string': { room, event: 3, data: {} },
  };
  for (const ev of ['connect', 'disconnect', 'error', 'token_expiring', 'connect_error', 'disconnecting', 'newListener', 'removeListener']) {
    bad[`reserved event ${ev}`] = { room, event: ev, data: {} };
  }
  for (const [name, body] of Object.entries(bad)) {
    const res = await gw.publish(null, null, null, { body });
    assert.equal(res.status, 400, `${name}: ${res.status} ${res.text}`);
  }

  // 413: a body over MAX_MESSAGE_BYTES.
  const big = await gw.publish(room, 'e', { blob: 'x'.repeat(2000) });
  assert.equal(big.status, 413, big.text);
  // Just under the limit is fine.
  const fits = await gw.publish(room, 'e', { blob: 'x'.repeat(900) });
  assert.equal(fits.status, 200, fits.text);

  // Only POST.
  const get = await gw.get('/v1/publish');
  assert.ok([401, 405].includes(get.status), `GET /v1/publish: ${get.status}`);
});

test('publish is 404 when PUBLISH_API_KEY is unset', async (t) => {
  const gw = await startGateway(t, { PUBLISH_API_KEY: undefined });
  const res = await gw.publish('workspace:ws-a:dashboard', 'e', {}, { key: 'anything' });
  assert.equal(res.status, 404);
  assert.equal((await gw.publish('workspace:ws-a:dashboard', 'e', {}, { key: null })).status, 404);
});

test('a published event larger than one socket frame chunk arrives whole', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  const data = { blob: 'é'.repeat(30000), n: [...Array(200).keys()] };
  assert.equal(await gw.publishOK('user:alice', 'big', data), 1);
  assert.deepEqual(await c.waitFor('big'), data);
});

test('broadcasts to a member arrive in publish order', async (t) => {
  const gw = await startGateway(t);
  const room = 'workspace:ws-a:dashboard';
  const members = [];
  for (const sub of ['a', 'b', 'c']) {
    const c = await gw.connect(gw.token({ sub, workspaceId: 'ws-a' }));
    assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });
    members.push(c);
  }
  for (let i = 0; i < 100; i++) assert.equal(await gw.publishOK(room, 'seq', { i }), 3);
  for (const c of members) {
    await c.waitFor('seq', { filter: (d) => d.i === 99 });
    assert.deepEqual(c.received('seq').map((d) => d.i), [...Array(100).keys()]);
  }
});
