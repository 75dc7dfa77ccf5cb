'use strict';
// docs/PROTOCOL.md "Client events", "Limits": MAX_MESSAGES_PER_MINUTE per connection; past it RATE_LIMITED, not processed.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startGateway } = require('./helpers');

test('MAX_MESSAGES_PER_MINUTE=5: the 6th event is RATE_LIMITED and not processed', async (t) => {
  const gw = await startGateway(t, { MAX_MESSAGES_PER_MINUTE: '5' });
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' });
  const c = await gw.connect(token);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' }, `event ${i + 1}`);
  }
  // The 6th would join approvals; it is refused and not processed.
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:approvals' }), { error: 'RATE_LIMITED' });
  assert.equal(await gw.publishOK('workspace:ws-a:approvals', 'x', {}), 0, 'the rate-limited join was not processed');
  // Every kind of event counts, with or without an ack.
  c.emit('state_sync', { state: 1 });
  assert.deepEqual(await c.waitFor('error'), { code: 'RATE_LIMITED' });
  assert.ok(c.connected, 'rate limiting does not disconnect');

  // The limit is per connection: another tab of the same user has its own budget.
  const other = await gw.connect(token);
  assert.deepEqual(await other.emitAck('join_room', { room: 'workspace:ws-a:approvals' }), { joined: 'workspace:ws-a:approvals' });
});

test('a burst of events without waiting: exactly the first 5 are processed', async (t) => {
  const gw = await startGateway(t, { MAX_MESSAGES_PER_MINUTE: '5' });
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  const acks = await Promise.all([...Array(8).keys()].map((i) => c.emitAck('state_sync', { state: i })));
  assert.deepEqual(acks, [...Array(8).keys()].map((i) => (i < 5 ? { ok: true } : { error: 'RATE_LIMITED' })));
});
