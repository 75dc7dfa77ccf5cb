'use strict';
// docs/PROTOCOL.md "Health and metrics", "Limits": GET /metrics, /healthz, ROOM_IDLE_TIMEOUT.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startGateway, waitUntil } = require('./helpers');

test('/healthz and /readyz are 200 while serving', async (t) => {
  const gw = await startGateway(t);
  assert.equal((await gw.get('/healthz')).status, 200);
  assert.equal((await gw.get('/readyz')).status, 200);
});

test('ws_connections_active{workspace} follows connections', async (t) => {
  const gw = await startGateway(t);
  const active = (workspace) => gw.metric('ws_connections_active', { workspace });
  const a1 = await gw.connect(gw.token({ sub: 'a1', workspaceId: 'ws-a' }));
  await gw.connect(gw.token({ sub: 'a2', workspaceId: 'ws-a' }));
  await gw.connect(gw.token({ sub: 'b1', workspaceId: 'ws-b' }));
  assert.equal(await active('ws-a'), 2);
  assert.equal(await active('ws-b'), 1);
  // Refused connections are not counted.
  await gw.connectError(gw.remember('bad.token.value'));
  assert.equal(await gw.metric('ws_connections_active'), 3);
  a1.close();
  await waitUntil(async () => (await active('ws-a')) === 1, { what: 'ws_connections_active{workspace="ws-a"} 1' });
  assert.equal(await active('ws-b'), 1);
});

test('ws_rooms_active counts an empty room until ROOM_IDLE_TIMEOUT ends it; the room works again after', async (t) => {
  const gw = await startGateway(t, { ROOM_IDLE_TIMEOUT: '1500ms' });
  const rooms = () => gw.metric('ws_rooms_active');
  assert.equal(await rooms(), 0);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  // Its own user room.
  await waitUntil(async () => (await rooms()) === 1, { what: 'ws_rooms_active 1 (user:alice)' });
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
  assert.equal(await rooms(), 2);
  assert.deepEqual(await c.emitAck('leave_room', { room: 'workspace:ws-a:dashboard' }), { left: 'workspace:ws-a:dashboard' });
  const leftAt = Date.now();
  assert.equal(await rooms(), 2, 'the empty room is still alive');
  await waitUntil(async () => (await rooms()) === 1, { what: 'the empty room to end after ROOM_IDLE_TIMEOUT' });
  assert.ok(Date.now() - leftAt >= 1000, `the empty room ended ${Date.now() - leftAt} ms after it emptied`);
  // Joining again re-creates it and publishes reach the member.
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
  assert.equal(await gw.publishOK('workspace:ws-a:dashboard', 'back', {}), 1);
  await c.waitFor('back');
  // A joined room is not ended by the idle timeout.
  c.close();
  await waitUntil(async () => (await rooms()) === 0, { what: 'every room to end after the last member left' });
});
