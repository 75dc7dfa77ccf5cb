'use strict';
// docs/PROTOCOL.md "dashboard_action: RBAC and the webhook": role policy, validation, broadcast to the other dashboard members.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { sentinel, startGateway } = require('./helpers');

async function dashboardMember(gw, claims) {
  const c = await gw.connect(gw.token(claims));
  const room = `workspace:${claims.workspaceId}:dashboard`;
  assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });
  return c;
}

test('an allowed action is acked and broadcast to the other dashboard members only', async (t) => {
  const gw = await startGateway(t);
  const actor = await dashboardMember(gw, { sub: 'alice', workspaceId: 'ws-a', role: 'member' });
  const peer1 = await dashboardMember(gw, { sub: 'anna', workspaceId: 'ws-a', role: 'viewer' });
  const peer2 = await dashboardMember(gw, { sub: 'amir', workspaceId: 'ws-a', role: 'owner' });
  const otherWs = await dashboardMember(gw, { sub: 'bob', workspaceId: 'ws-b', role: 'owner' });
  // In ws-a but not in its dashboard room.
  const notJoined = await gw.connect(gw.token({ sub: 'ali', workspaceId: 'ws-a' }));

  const ack = await actor.emitAck('dashboard_action', { action: 'widget.move', payload: '{"x":1,"y":2}' });
  assert.deepEqual(ack, { ok: true, action: 'widget.move' });
  const expected = { userId: 'alice', action: 'widget.move', payload: '{"x":1,"y":2}' };
  assert.deepEqual(await peer1.waitFor('dashboard_action'), expected);
  assert.deepEqual(await peer2.waitFor('dashboard_action'), expected);

  await sentinel(gw, actor, 'workspace:ws-a:dashboard');
  assert.deepEqual(actor.received('dashboard_action'), [], 'never back to the sender');
  await sentinel(gw, otherWs, 'workspace:ws-b:dashboard');
  assert.deepEqual(otherWs.received('dashboard_action'), []);
  await sentinel(gw, notJoined, 'user:ali');
  assert.deepEqual(notJoined.received('dashboard_action'), []);
});

test('an action without payload is broadcast with the payload absent or null', async (t) => {
  const gw = await startGateway(t);
  const actor = await dashboardMember(gw, { sub: 'alice', workspaceId: 'ws-a', role: 'admin' });
  const peer = await dashboardMember(gw, { sub: 'anna', workspaceId: 'ws-a' });
  assert.deepEqual(await actor.emitAck('dashboard_action', { action: 'admin.reset' }), { ok: true, action: 'admin.reset' });
  const got = await peer.waitFor('dashboard_action');
  assert.equal(got.userId, 'alice');
  assert.equal(got.action, 'admin.reset');
  assert.ok(got.payload === null || got.payload === undefined, `payload ${JSON.stringify(got.payload)}`);
});

test('role policy: admin.* is PERMISSION_DENIED for a member, everything for a viewer or unknown role', async (t) => {
  const gw = await startGateway(t);
  const member = await dashboardMember(gw, { sub: 'm', workspaceId: 'ws-a', role: 'member' });
  const viewer = await dashboardMember(gw, { sub: 'v', workspaceId: 'ws-a', role: 'viewer' });
  const stranger = await dashboardMember(gw, { sub: 's', workspaceId: 'ws-a', role: 'superuser' });
  const noRole = await dashboardMember(gw, { sub: 'n', workspaceId: 'ws-a', role: undefined });
  const owner = await dashboardMember(gw, { sub: 'o', workspaceId: 'ws-a', role: 'owner' });
  const watcher = await dashboardMember(gw, { sub: 'w', workspaceId: 'ws-a', role: 'owner' });

  assert.deepEqual(await member.emitAck('dashboard_action', { action: 'admin.x' }), { error: 'PERMISSION_DENIED' });
  assert.deepEqual(await member.emitAck('dashboard_action', { action: 'admin.delete_workspace', payload: 'p' }), { error: 'PERMISSION_DENIED' });
  assert.deepEqual(await member.emitAck('dashboard_action', { action: 'administer' }), { ok: true, action: 'administer' }, 'only the "admin." prefix is reserved');
  assert.deepEqual(await viewer.emitAck('dashboard_action', { action: 'widget.move' }), { error: 'PERMISSION_DENIED' });
  assert.deepEqual(await stranger.emitAck('dashboard_action', { action: 'widget.move' }), { error: 'PERMISSION_DENIED' });
  // No role claim defaults to member.
  assert.deepEqual(await noRole.emitAck('dashboard_action', { action: 'widget.move' }), { ok: true, action: 'widget.move' });
  assert.deepEqual(await noRole.emitAck('dashboard_action', { action: 'admin.x' }), { error: 'PERMISSION_DENIED' });
  assert.deepEqual(await owner.emitAck('dashboard_action', { action: 'admin.x' }), { ok: true, action: 'admin.x' });

  // Without an ack the refusal is an error event.
  viewer.emit('dashboard_action', { action: 'widget.move' });
  assert.deepEqual(await viewer.waitFor('error'), { code: 'PERMISSION_DENIED' });

  // Refused actions were not broadcast: the watcher saw only the three allowed ones.
  await sentinel(gw, watcher, 'workspace:ws-a:dashboard');
  assert.deepEqual(watcher.received('dashboard_action').map((d) => `${d.userId}:${d.action}`), ['m:administer', 'n:widget.move', 'o:admin.x']);
});

test('invalid dashboard_action data is VALIDATION_FAILED with details', async (t) => {
  const gw = await startGateway(t);
  const c = await dashboardMember(gw, { sub: 'alice', workspaceId: 'ws-a', role: 'owner' });
  const watcher = await dashboardMember(gw, { sub: 'anna', workspaceId: 'ws-a' });
  const cases = {
    'unknown field': [{ action: 'widget.move', extra: 1 }, /extra/],
    'action too long': [{ action: 'a'.repeat(101) }, /action/],
    'empty action': [{ action: '' }, /action/],
    'missing action': [{ payload: 'x' }, /action/],
    'action not a string': [{ action: 5 }, /action/],
    'payload too long': [{ action: 'widget.move', payload: 'p'.repeat(10001) }, /payload/],
    'payload not a string': [{ action: 'widget.move', payload: { x: 1 } }, /payload/],
    'data not an object': ['widget.move', /data|object/i],
  };
  for (const [name, [data, detailRe]] of Object.entries(cases)) {
    const ack = await c.emitAck('dashboard_action', data);
    assert.equal(ack.error, 'VALIDATION_FAILED', `${name}: ${JSON.stringify(ack)}`);
    assert.ok(Array.isArray(ack.details) && ack.details.length > 0, `${name}: details ${JSON.stringify(ack.details)}`);
    assert.ok(ack.details.some((d) => typeof d === 'string' && detailRe.test(d)), `${name}: details ${JSON.stringify(ack.details)} should match ${detailRe}`);
  }
  // Limits are in characters: 100 and 10000 multi-byte characters are fine.
  assert.deepEqual(await c.emitAck('dashboard_action', { action: 'é'.repeat(100), payload: '✓'.repeat(10000) }), { ok: true, action: 'é'.repeat(100) });

  // Without an ack: the error event carries the code (and the details).
  c.emit('dashboard_action', { action: 'widget.move', bogus: true });
  const ev = await c.waitFor('error');
  assert.equal(ev.code, 'VALIDATION_FAILED');

  await sentinel(gw, watcher, 'workspace:ws-a:dashboard');
  assert.deepEqual(watcher.received('dashboard_action').map((d) => d.action), ['é'.repeat(100)]);
});

test('RBAC_POLICY_FILE replaces the default policy', async (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hyvve-rbac-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.json');
  fs.writeFileSync(file, JSON.stringify({ roles: { editor: ['widget.*', 'report.export'], superuser: ['*'], member: [] } }));
  const gw = await startGateway(t, { RBAC_POLICY_FILE: file });
  const editor = await dashboardMember(gw, { sub: 'e', workspaceId: 'ws-a', role: 'editor' });
  const superuser = await dashboardMember(gw, { sub: 's', workspaceId: 'ws-a', role: 'superuser' });
  const memberC = await dashboardMember(gw, { sub: 'm', workspaceId: 'ws-a', role: 'member' });
  const owner = await dashboardMember(gw, { sub: 'o', workspaceId: 'ws-a', role: 'owner' });
  const expect = async (c, action, ok) => assert.deepEqual(await c.emitAck('dashboard_action', { action }),
    ok ? { ok: true, action } : { error: 'PERMISSION_DENIED' }, `${action}`);
  await expect(editor, 'widget.move', true);
  await expect(editor, 'widget.a.b', true);
  await expect(editor, 'report.export', true);
  await expect(editor, 'report.delete', false);
  await expect(editor, 'widget', false);
  await expect(editor, 'widgets.move', false);
  await expect(superuser, 'admin.anything', true);
  await expect(memberC, 'widget.move', false);
  // Roles absent from the file may do nothing, owner included.
  await expect(owner, 'widget.move', false);
});

test('ACTION_WEBHOOK_URL: the action is POSTed to the backend, its answer is the ack, nothing is broadcast', async (t) => {
  const http = require('node:http');
  const received = [];
  let mode = 'ok';
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      received.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(body) });
      if (mode === 'ok') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, result: { id: 99 } }));
      } else if (mode === '500') {
        res.writeHead(500);
        res.end('boom');
      } else if (mode === 'slow') {
        setTimeout(() => { res.writeHead(200); res.end('{}'); }, 3000).unref();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  const gw = await startGateway(t, { ACTION_WEBHOOK_URL: `http://127.0.0.1:${server.address().port}/actions`, ACTION_WEBHOOK_TIMEOUT: '500ms' });
  const actor = await dashboardMember(gw, { sub: 'alice', workspaceId: 'ws-a', role: 'member' });
  const peer = await dashboardMember(gw, { sub: 'anna', workspaceId: 'ws-a' });

  assert.deepEqual(await actor.emitAck('dashboard_action', { action: 'order.approve', payload: 'p1' }), { ok: true, result: { id: 99 } });
  assert.equal(received.length, 1);
  assert.equal(received[0].method, 'POST');
  assert.match(received[0].type || '', /application\/json/);
  assert.deepEqual(received[0].body, { userId: 'alice', workspaceId: 'ws-a', action: 'order.approve', payload: 'p1' });
  // The policy still applies before the webhook.
  assert.deepEqual(await actor.emitAck('dashboard_action', { action: 'admin.x' }), { error: 'PERMISSION_DENIED' });
  assert.equal(received.length, 1);

  mode = '500';
  assert.deepEqual(await actor.emitAck('dashboard_action', { action: 'order.approve' }), { error: 'UPSTREAM_UNAVAILABLE' });
  mode = 'slow';
  assert.deepEqual(await actor.emitAck('dashboard_action', { action: 'order.approve' }), { error: 'UPSTREAM_UNAVAILABLE' });
  await sentinel(gw, peer, 'workspace:ws-a:dashboard');
  assert.deepEqual(peer.received('dashboard_action'), [], 'with a webhook nothing is broadcast');

  // A refused connection.
  await new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  assert.deepEqual(await actor.emitAck('dashboard_action', { action: 'order.approve' }), { error: 'UPSTREAM_UNAVAILABLE' });
});

test('a sender outside the dashboard room still reaches its members', async (t) => {
  const gw = await startGateway(t);
  const actor = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  const peer = await dashboardMember(gw, { sub: 'anna', workspaceId: 'ws-a' });
  assert.deepEqual(await actor.emitAck('dashboard_action', { action: 'note.add', payload: 'hi' }), { ok: true, action: 'note.add' });
  assert.deepEqual(await peer.waitFor('dashboard_action'), { userId: 'alice', action: 'note.add', payload: 'hi' });
});
