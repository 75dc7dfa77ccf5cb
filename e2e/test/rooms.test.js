'use strict';
// docs/PROTOCOL.md "Client events", "Rooms": join_room / leave_room, room access rules, error delivery, unknown events.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startGateway } = require('./helpers');

test('join_room and leave_room ack {joined} and {left}', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  for (const room of ['workspace:ws-a:dashboard', 'workspace:ws-a:approvals', 'user:alice']) {
    assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });
  }
  // Joining twice is idempotent.
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
  assert.equal(await gw.publishOK('workspace:ws-a:dashboard', 'ping_room', {}), 1);

  assert.deepEqual(await c.emitAck('leave_room', { room: 'workspace:ws-a:dashboard' }), { left: 'workspace:ws-a:dashboard' });
  assert.equal(await gw.publishOK('workspace:ws-a:dashboard', 'ping_room', {}), 0, 'left the room: no recipient');
  // Leaving a room one is not in is still {left}.
  assert.deepEqual(await c.emitAck('leave_room', { room: 'workspace:ws-a:dashboard' }), { left: 'workspace:ws-a:dashboard' });
  // Still in approvals.
  assert.equal(await gw.publishOK('workspace:ws-a:approvals', 'ping_room', {}), 1);
});

test('join_room ACCESS_DENIED for another workspace and another user\'s room', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  for (const room of ['workspace:ws-b:dashboard', 'workspace:ws-b:approvals', 'user:bob', 'user:alice2', 'user:ALICE']) {
    assert.deepEqual(await c.emitAck('join_room', { room }), { error: 'ACCESS_DENIED' }, room);
  }
  // The refused join put alice in no room: a publish there reaches nobody.
  assert.equal(await gw.publishOK('workspace:ws-b:dashboard', 'x', {}), 0);
  assert.equal(await gw.publishOK('user:bob', 'x', {}), 0);
  assert.deepEqual(c.received('x'), []);
});

test('join_room via the workspaces claim is allowed', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a', workspaces: ['ws-b', 'ws-c'] }));
  for (const room of ['workspace:ws-b:dashboard', 'workspace:ws-c:approvals', 'workspace:ws-a:dashboard']) {
    assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });
  }
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-d:dashboard' }), { error: 'ACCESS_DENIED' });
  assert.equal(await gw.publishOK('workspace:ws-b:dashboard', 'hello', { n: 1 }), 1);
  assert.deepEqual(await c.waitFor('hello'), { n: 1 });
});

test('join_room INVALID_ROOM: missing, not a string, unknown type, over 200 bytes', async (t) => {
  const gw = await startGateway(t);
  // A workspace id long enough that its dashboard room is exactly 200 bytes
  // (workspace: + 180 + :dashboard), and one whose room is 201 bytes.
  const ws200 = 'w'.repeat(180);
  const ws201 = 'w'.repeat(181);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a', workspaces: [ws200, ws201, 'é'.repeat(91)] }));
  const cases = [
    ['missing room', {}],
    ['room null', { room: null }],
    ['room a number', { room: 42 }],
    ['room an object', { room: { name: 'workspace:ws-a:dashboard' } }],
    ['room an array', { room: ['workspace:ws-a:dashboard'] }],
    ['empty room', { room: '' }],
    ['public:x', { room: 'public:x' }],
    ['lobby', { room: 'lobby' }],
    ['unknown channel', { room: 'workspace:ws-a:chat' }],
    ['no channel', { room: 'workspace:ws-a' }],
    ['empty workspace id', { room: 'workspace::dashboard' }],
    ['empty user', { room: 'user:' }],
    ['201 bytes', { room: `workspace:${ws201}:dashboard` }],
    // 111 characters but 202 bytes: the limit is in bytes.
    ['201+ bytes in fewer characters', { room: `workspace:${'é'.repeat(91)}:dashboard` }],
  ];
  assert.equal(Buffer.byteLength(`workspace:${ws201}:dashboard`), 201);
  for (const [name, data] of cases) {
    assert.deepEqual(await c.emitAck('join_room', data), { error: 'INVALID_ROOM' }, `join_room ${name}`);
  }
  for (const bad of ['not an object', 42, null, ['workspace:ws-a:dashboard']]) {
    assert.deepEqual(await c.emitAck('join_room', bad), { error: 'INVALID_ROOM' }, `join_room data ${JSON.stringify(bad)}`);
  }
  // The boundary: exactly 200 bytes is a valid room.
  const room200 = `workspace:${ws200}:dashboard`;
  assert.equal(Buffer.byteLength(room200), 200);
  assert.deepEqual(await c.emitAck('join_room', { room: room200 }), { joined: room200 });

  // leave_room validates the same way.
  for (const data of [{}, { room: 7 }, { room: 'public:x' }, { room: `workspace:${ws201}:dashboard` }]) {
    assert.deepEqual(await c.emitAck('leave_room', data), { error: 'INVALID_ROOM' }, `leave_room ${JSON.stringify(data)}`);
  }
});

test('errors of events sent without an ack arrive as the error event {code}', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  c.emit('join_room', { room: 'public:x' });
  assert.deepEqual(await c.waitFor('error'), { code: 'INVALID_ROOM' });
  c.emit('join_room', { room: 'workspace:ws-b:dashboard' });
  assert.deepEqual(await c.waitFor('error', { filter: (d) => d.code !== 'INVALID_ROOM' }), { code: 'ACCESS_DENIED' });
  c.emit('no_such_event', { a: 1 });
  assert.deepEqual(await c.waitFor('error', { filter: (d) => d.code === 'UNKNOWN_EVENT' }), { code: 'UNKNOWN_EVENT' });
  // A successful join without an ack sends nothing back but does join.
  c.emit('join_room', { room: 'workspace:ws-a:dashboard' });
  // Wait for the join through a later acked event on the same socket (events are handled in order).
  assert.deepEqual(await c.emitAck('join_room', { room: 'user:alice' }), { joined: 'user:alice' });
  assert.equal(await gw.publishOK('workspace:ws-a:dashboard', 'n', {}), 1);
  assert.deepEqual(c.received('error'), [{ code: 'INVALID_ROOM' }, { code: 'ACCESS_DENIED' }, { code: 'UNKNOWN_EVENT' }]);
  assert.ok(c.connected, 'errors do not disconnect');
});

test('unknown events get UNKNOWN_EVENT', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token());
  assert.deepEqual(await c.emitAck('subscribe', { room: 'workspace:ws-1:dashboard' }), { error: 'UNKNOWN_EVENT' });
  assert.deepEqual(await c.emitAck('JOIN_ROOM', { room: 'workspace:ws-1:dashboard' }), { error: 'UNKNOWN_EVENT' });
  assert.deepEqual(await c.socket.timeout(5000).emitWithAck('mystery'), { error: 'UNKNOWN_EVENT' });
  assert.ok(c.connected);
});
