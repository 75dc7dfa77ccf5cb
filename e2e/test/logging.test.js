'use strict';
// docs/PROTOCOL.md "Security events": no log line, of any kind, ever holds a token or a secret --
// even when a client puts tokens where the gateway logs what it refuses.
// (Every test's teardown also checks the tokens it used; this one goes looking.)

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { mintToken, startGateway } = require('./helpers');

test('tokens smuggled into logged client input never reach the log (LOG_LEVEL=debug)', async (t) => {
  const gw = await startGateway(t, { LOG_LEVEL: 'debug', TRUSTED_PROXIES: '127.0.0.1', MAX_MESSAGES_PER_MINUTE: '1000' });
  const victim = gw.token({ sub: 'victim', workspaceId: 'ws-v', role: 'owner' });
  const foreign = gw.remember(mintToken('another-issuer-secret-0123456789', { sub: 'x', workspaceId: 'y' }));
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a', role: 'viewer' }));
  for (const tok of [victim, foreign]) {
    for (const room of [`user:${tok}`, `workspace:${tok}:dashboard`, tok, `public:${tok}`]) {
      const ack = await c.emitAck('join_room', { room });
      assert.ok(['ACCESS_DENIED', 'INVALID_ROOM'].includes(ack.error), JSON.stringify(ack));
      assert.ok(['INVALID_ROOM', undefined].includes((await c.emitAck('leave_room', { room })).error));
    }
    assert.equal((await c.emitAck('dashboard_action', { action: tok })).error, 'VALIDATION_FAILED');
    assert.equal((await c.emitAck('dashboard_action', { action: 'x', [tok]: 1 })).error, 'VALIDATION_FAILED');
    assert.equal((await c.emitAck('dashboard_action', { action: tok.slice(0, 100) })).error, 'PERMISSION_DENIED');
    assert.equal((await c.emitAck('state_sync', { state: tok, [tok]: tok })).error, 'VALIDATION_FAILED');
    assert.equal((await c.emitAck(tok, { token: tok })).error, 'UNKNOWN_EVENT');
    assert.equal((await gw.connectError(undefined, { extraHeaders: { Origin: `https://${tok}.example` } })).message, 'websocket error');
    await gw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-b' }), { extraHeaders: { 'X-Forwarded-For': tok } }).then((s) => s.close(), () => {});
    assert.equal((await gw.connectError(undefined, { auth: { token: `Bearer ${tok}` } })).message, 'INVALID_TOKEN');
    assert.equal((await gw.connectError(undefined, { extraHeaders: { Authorization: `Bearer ${tok}x` } })).message, 'INVALID_TOKEN');
    gw.remember(`${tok}x`);
    assert.equal((await gw.publish(`user:${tok}`, tok, { tok })).status, 200);
  }
  // A refused refresh logs auth_invalid: without the token.
  const r = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  r.emit('token_refresh', { token: foreign });
  await r.waitForDisconnect();
  await gw.stderr.waitFor(/"event":"auth_invalid"/);
  gw.assertNoSecretsLogged();
  // Stronger than the teardown check: not even the payload segment of a token.
  const out = gw.stderr.text;
  for (const tok of [victim, foreign]) {
    assert.ok(!out.includes(tok.split('.')[1]), 'a token payload segment appears in the log');
  }
});
