'use strict';
// docs/PROTOCOL.md "Client events" (state_sync): relayed to the user's other connections, never back to the sender.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { sentinel, startGateway } = require('./helpers');

test('state_sync reaches the user\'s other tabs, not the sender, not other users', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' });
  const tabA = await gw.connect(token);
  const tabB = await gw.connect(token);
  const tabC = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a', role: 'viewer' }));
  const bob = await gw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-a' }));

  const state = { filters: ['open'], page: 3, draft: 'héllo', nothing: null };
  assert.deepEqual(await tabA.emitAck('state_sync', { state }), { ok: true });
  assert.deepEqual(await tabB.waitFor('state_sync'), { state });
  assert.deepEqual(await tabC.waitFor('state_sync'), { state });

  // The sentinel goes through the same user room after the relay was sent:
  // an echo to tab A would have arrived first.
  await sentinel(gw, tabA, 'user:alice');
  assert.deepEqual(tabA.received('state_sync'), []);
  await sentinel(gw, bob, 'user:bob');
  assert.deepEqual(bob.received('state_sync'), []);
});

test('state_sync relays any JSON state, and works without an ack', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' });
  const tabA = await gw.connect(token);
  const tabB = await gw.connect(token);
  const states = ['text', 0, true, null, [1, { a: 'b' }]];
  for (const state of states) assert.deepEqual(await tabA.emitAck('state_sync', { state }), { ok: true });
  tabB.emit('state_sync', { state: 'from B without ack' });
  assert.deepEqual(await tabA.waitFor('state_sync'), { state: 'from B without ack' });
  // Tab B got A's states, in order.
  await tabB.waitFor('state_sync', { filter: (d) => Array.isArray(d.state) });
  assert.deepEqual(tabB.received('state_sync'), states.map((state) => ({ state })));
  assert.deepEqual(tabA.received('error'), []);
  assert.deepEqual(tabB.received('error'), []);
});

test('a lone tab\'s state_sync is acked and goes nowhere', async (t) => {
  const gw = await startGateway(t);
  const tab = await gw.connect(gw.token({ sub: 'solo', workspaceId: 'ws-a' }));
  assert.deepEqual(await tab.emitAck('state_sync', { state: { x: 1 } }), { ok: true });
  await sentinel(gw, tab, 'user:solo');
  assert.deepEqual(tab.received('state_sync'), []);
});
