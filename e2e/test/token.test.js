'use strict';
// docs/PROTOCOL.md "Client events" (token_refresh), "Server events" (token_expiring /
// TOKEN_EXPIRED); the README for `gateway token`.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('node:test');
const { promisify } = require('node:util');
const { decodeToken, gatewayBinary, mintToken, sentinel, startGateway } = require('./helpers');

/** Asserts the client got the error event {code} and then a server disconnect, in that order. */
async function assertErrorThenDisconnect(c, code, label = '') {
  assert.deepEqual(await c.waitFor('error', { filter: (d) => d.code === code }), { code }, label);
  assert.equal(await c.waitForDisconnect(), 'io server disconnect', label);
  const order = c.events.map((e) => e.event).filter((e) => e === 'error' || e === '$disconnect');
  assert.deepEqual(order.slice(-2), ['error', '$disconnect'], `${label}: the error comes before the disconnect`);
  assert.equal(c.connected, false);
}

test('token_refresh with the same sub and workspaceId is acked {ok, exp}', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }, { ttl: 600 }));
  // A role change and more workspaces are fine: only sub and workspaceId must match.
  const fresh = gw.token({ sub: 'alice', workspaceId: 'ws-a', role: 'viewer', workspaces: ['ws-b'] }, { ttl: 7200 });
  const ack = await c.emitAck('token_refresh', { token: fresh });
  assert.deepEqual(ack, { ok: true, exp: decodeToken(fresh).exp });
  assert.ok(c.connected);
  // The refreshed claims are the session's now.
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-b:dashboard' }), { joined: 'workspace:ws-b:dashboard' });
  assert.deepEqual(await c.emitAck('dashboard_action', { action: 'widget.move' }), { error: 'PERMISSION_DENIED' });
});

test('a refused token_refresh gets the error event INVALID_TOKEN, then a disconnect', async (t) => {
  const gw = await startGateway(t);
  const claims = { sub: 'alice', workspaceId: 'ws-a' };
  const cases = {
    'another sub': { token: gw.token({ ...claims, sub: 'mallory' }) },
    'another workspaceId': { token: gw.token({ ...claims, workspaceId: 'ws-b' }) },
    'bad signature': { token: gw.remember(mintToken('some-other-secret-0123456789', claims)) },
    expired: { token: gw.token({ ...claims, exp: Math.floor(Date.now() / 1000) - 5 }) },
    'not a JWT': { token: 'garbage' },
    'missing token': {},
    'token not a string': { token: 12 },
  };
  for (const [name, data] of Object.entries(cases)) {
    const c = await gw.connect(gw.token(claims));
    // With an ack requested the refusal is still the error event plus disconnect.
    const ack = c.emitAck('token_refresh', data, 3000).catch((err) => err);
    await assertErrorThenDisconnect(c, 'INVALID_TOKEN', name);
    const got = await ack;
    assert.ok(got instanceof Error || (got && got.error === 'INVALID_TOKEN'), `${name}: ack ${JSON.stringify(got)}`);
  }
  // Without an ack, the same.
  const c = await gw.connect(gw.token(claims));
  c.emit('token_refresh', { token: gw.token({ ...claims, sub: 'bob' }) });
  await assertErrorThenDisconnect(c, 'INVALID_TOKEN', 'no ack');
});

test('TOKEN_EXPIRY_WARNING longer than the token\'s life: token_expiring arrives at once', async (t) => {
  const gw = await startGateway(t, { TOKEN_EXPIRY_WARNING: '1h' });
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' }, { ttl: 600 });
  const c = await gw.connect(token);
  // Without the rule it would come in 10 minutes; "at once" is well within 2 s.
  assert.deepEqual(await c.waitFor('token_expiring', { timeout: 2000 }), { exp: decodeToken(token).exp });
  assert.ok(c.connected);
});

test('with a long-lived token no token_expiring is sent', async (t) => {
  const gw = await startGateway(t, { TOKEN_EXPIRY_WARNING: '60s' });
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }, { ttl: 3600 }));
  await sentinel(gw, c, 'user:alice');
  assert.deepEqual(c.received('token_expiring'), []);
});

test('a token with a 2 s ttl: token_expiring at once, then error TOKEN_EXPIRED and a disconnect', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' }, { ttl: 2 });
  const c = await gw.connect(token);
  const { exp } = decodeToken(token);
  assert.deepEqual(await c.waitFor('token_expiring'), { exp });
  await assertErrorThenDisconnect(c, 'TOKEN_EXPIRED');
  // Not before exp (JWT exp has one-second resolution).
  assert.ok(Date.now() >= exp * 1000 - 50, `disconnected ${exp * 1000 - Date.now()} ms before exp`);
});

test('a refresh before exp keeps the connection past the old exp', async (t) => {
  const gw = await startGateway(t);
  const short = { sub: 'alice', workspaceId: 'ws-a' };
  const t1 = gw.token(short, { ttl: 2 });
  const refreshed = await gw.connect(t1);
  // A control connection with the same exp: its TOKEN_EXPIRED is our clock.
  const control = await gw.connect(gw.token({ ...short, exp: decodeToken(t1).exp }));
  await refreshed.waitFor('token_expiring');
  const fresh = gw.token(short, { ttl: 3600 });
  assert.deepEqual(await refreshed.emitAck('token_refresh', { token: fresh }), { ok: true, exp: decodeToken(fresh).exp });
  await assertErrorThenDisconnect(control, 'TOKEN_EXPIRED', 'control');
  // The control's expiry has passed; the refreshed connection is alive and well.
  await sentinel(gw, refreshed, 'user:alice');
  assert.deepEqual(refreshed.received('error'), []);
  assert.ok(refreshed.connected);
  assert.deepEqual(await refreshed.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
});

test('`gateway token` prints a token signed with JWT_SECRET that connects', async (t) => {
  const gw = await startGateway(t);
  const { stdout } = await promisify(execFile)(gatewayBinary(), [
    'token', '--sub', 'cli-user', '--workspace', 'ws-cli', '--role', 'admin', '--ttl', '1h', '--workspaces', 'ws-x,ws-y',
  ], { env: { PATH: process.env.PATH, JWT_SECRET: gw.secret }, timeout: 10000 });
  const token = gw.remember(stdout.trim());
  const claims = decodeToken(token);
  assert.equal(claims.sub, 'cli-user');
  assert.equal(claims.workspaceId, 'ws-cli');
  assert.equal(claims.role, 'admin');
  assert.deepEqual(claims.workspaces, ['ws-x', 'ws-y']);
  assert.ok(Math.abs(claims.exp - (Date.now() / 1000 + 3600)) < 60);
  const c = await gw.connect(token);
  for (const room of ['workspace:ws-cli:dashboard', 'workspace:ws-y:approvals']) {
    assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });
  }
  assert.deepEqual(await c.emitAck('dashboard_action', { action: 'admin.x' }), { ok: true, action: 'admin.x' });
});

test('a refresh to a token with less than TOKEN_EXPIRY_WARNING left warns at once and expires at its exp', async (t) => {
  const gw = await startGateway(t, { TOKEN_EXPIRY_WARNING: '60s' });
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }, { ttl: 3600 }));
  const short = gw.token({ sub: 'alice', workspaceId: 'ws-a' }, { ttl: 2 });
  const { exp } = decodeToken(short);
  assert.deepEqual(await c.emitAck('token_refresh', { token: short }), { ok: true, exp });
  assert.deepEqual(await c.waitFor('token_expiring'), { exp });
  await assertErrorThenDisconnect(c, 'TOKEN_EXPIRED');
  assert.ok(Date.now() >= exp * 1000 - 50, 'not before the new exp');
});

test('JWT_ISSUER, JWT_AUDIENCE, nbf and the algorithm allow-list are enforced at CONNECT', async (t) => {
  const gw = await startGateway(t, { JWT_ISSUER: 'https://auth.hyvve.test', JWT_AUDIENCE: 'gateway' });
  const base = { sub: 'alice', workspaceId: 'ws-a', iss: 'https://auth.hyvve.test', aud: 'gateway' };
  const sign = (claims, header) => gw.remember(mintToken(gw.secret, claims, header ? { header } : {}));
  assert.ok((await gw.connect(sign(base))).id);
  assert.ok((await gw.connect(sign({ ...base, aud: ['other', 'gateway'] }))).id, 'aud may be a list');
  const now = Math.floor(Date.now() / 1000);
  const refused = {
    'wrong iss': sign({ ...base, iss: 'https://evil.test' }),
    'no iss': sign({ ...base, iss: undefined }),
    'wrong aud': sign({ ...base, aud: 'other' }),
    'no aud': sign({ ...base, aud: undefined }),
    'nbf in the future': sign({ ...base, nbf: now + 600 }),
    'HS512 header': sign(base, { alg: 'HS512', typ: 'JWT' }),
    'RS256 header on an HMAC signature': sign(base, { alg: 'RS256', typ: 'JWT' }),
    'alg none': gw.remember(mintToken('', base, { header: { alg: 'none', typ: 'JWT' } })),
    'sub not a string': sign({ ...base, sub: 42 }),
    'empty sub': sign({ ...base, sub: '' }),
    'workspaces not a list': sign({ ...base, workspaces: 'ws-b' }),
  };
  for (const [name, token] of Object.entries(refused)) {
    const err = await gw.connectError(token);
    assert.equal(err.message, 'INVALID_TOKEN', name);
  }
  // A token that passed at CONNECT must pass the same checks on refresh.
  const c = await gw.connect(sign(base));
  c.emit('token_refresh', { token: refused['wrong aud'] });
  await assertErrorThenDisconnect(c, 'INVALID_TOKEN', 'refresh with the wrong aud');
});

test('the auth payload token wins over the Authorization header', async (t) => {
  const gw = await startGateway(t);
  const good = gw.token({ sub: 'alice', workspaceId: 'ws-a' });
  const bad = gw.remember(mintToken('not-the-secret-not-the-secret', { sub: 'alice', workspaceId: 'ws-a' }));
  assert.equal((await gw.connectError(bad, { extraHeaders: { Authorization: `Bearer ${good}` } })).message, 'INVALID_TOKEN');
  const c = await gw.connect(good, { extraHeaders: { Authorization: `Bearer ${bad}` } });
  assert.ok(c.id);
});
