'use strict';
// docs/PROTOCOL.md "Handshake", "Limits", "Request errors, Origin, CORS": connecting,
// authentication at CONNECT, per-IP limit, origins.

const assert = require('node:assert/strict');
const http = require('node:http');
const { test } = require('node:test');
const { io } = require('socket.io-client');
const { mintToken, startGateway, waitUntil, withTimeout } = require('./helpers');

test('connects with auth.token and gets a socket.id', async (t) => {
  const gw = await startGateway(t);
  const c = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  assert.equal(typeof c.id, 'string');
  assert.ok(c.id.length > 0);
  assert.ok(c.connected);
  // The session works: the user can join their own dashboard.
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
});

test('connects with an Authorization: Bearer header and no auth payload', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'bob', workspaceId: 'ws-b' });
  const c = await gw.connect(undefined, { extraHeaders: { Authorization: `Bearer ${token}` } });
  assert.ok(c.id);
  // The header's claims are the session's: bob may join ws-b, not ws-a.
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-b:dashboard' }), { joined: 'workspace:ws-b:dashboard' });
  assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { error: 'ACCESS_DENIED' });
});

test('two sockets get distinct ids', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token();
  const [a, b] = await Promise.all([gw.connect(token), gw.connect(token)]);
  assert.notEqual(a.id, b.id);
});

test('connect_error AUTH_REQUIRED without a token', async (t) => {
  const gw = await startGateway(t);
  for (const opts of [undefined, { auth: {} }, { auth: { token: '' } }, { auth: { token: null } }]) {
    const err = await gw.connectError(undefined, opts);
    assert.equal(err.message, 'AUTH_REQUIRED', `auth ${JSON.stringify(opts)}`);
    assert.deepEqual(err.data, { code: 'AUTH_REQUIRED' });
  }
});

test('connect_error INVALID_TOKEN for a bad signature, an expired token, alg none and garbage', async (t) => {
  const gw = await startGateway(t);
  const claims = { sub: 'mallory', workspaceId: 'ws-1', role: 'owner' };
  const cases = {
    'bad signature': mintToken('not-the-gateway-secret-at-all', claims),
    expired: mintToken(gw.secret, { ...claims, exp: Math.floor(Date.now() / 1000) - 60 }),
    'alg none': mintToken('', claims, { header: { alg: 'none', typ: 'JWT' } }),
    'no exp': mintToken(gw.secret, { ...claims, exp: undefined }),
    'no workspaceId': mintToken(gw.secret, { sub: 'mallory' }),
    garbage: 'not-a-jwt',
  };
  for (const [name, token] of Object.entries(cases)) {
    gw.remember(token);
    const err = await gw.connectError(token);
    assert.equal(err.message, 'INVALID_TOKEN', name);
    assert.deepEqual(err.data, { code: 'INVALID_TOKEN' }, name);
  }
  // A bad token in the header is refused the same way.
  const err = await gw.connectError(undefined, { extraHeaders: { Authorization: `Bearer ${cases['bad signature']}` } });
  assert.equal(err.message, 'INVALID_TOKEN');
});

test('MAX_CONNECTIONS_PER_IP=2: the third gets TOO_MANY_CONNECTIONS, a closed one frees its slot', async (t) => {
  const gw = await startGateway(t, { MAX_CONNECTIONS_PER_IP: '2' });
  const token = gw.token();
  const a = await gw.connect(token);
  await gw.connect(token);
  const err = await gw.connectError(token);
  assert.equal(err.message, 'TOO_MANY_CONNECTIONS');
  assert.deepEqual(err.data, { code: 'TOO_MANY_CONNECTIONS' });

  a.close();
  // The slot frees when the server has seen the socket end, which is
  // asynchronous to the client's close: retry within a bound.
  const c = await waitUntil(async () => {
    try {
      return await gw.connect(token);
    } catch (e) {
      if (e.message !== 'TOO_MANY_CONNECTIONS') throw e;
      return null;
    }
  }, { timeout: 3000, what: 'a connection after closing one of two' });
  assert.ok(c.id);
  // And we are back at the limit.
  assert.equal((await gw.connectError(token)).message, 'TOO_MANY_CONNECTIONS');
});

test('connections refused at CONNECT never hold a per-IP slot', async (t) => {
  const gw = await startGateway(t, { MAX_CONNECTIONS_PER_IP: '2' });
  // Refused for a bad token, refused for no token: none may keep a slot,
  // even during the 2 s grace the server leaves the client to close.
  for (let i = 0; i < 3; i++) {
    assert.equal((await gw.connectError(mintToken('wrong-secret-wrong-secret', { sub: 'x', workspaceId: 'w' }))).message, 'INVALID_TOKEN');
    assert.equal((await gw.connectError(undefined)).message, 'AUTH_REQUIRED');
  }
  const token = gw.token();
  await gw.connect(token);
  await gw.connect(token);
  // Refused for the limit itself: also holds none.
  assert.equal((await gw.connectError(token)).message, 'TOO_MANY_CONNECTIONS');
  assert.equal((await gw.connectError(token)).message, 'TOO_MANY_CONNECTIONS');
});

test('a foreign Origin is refused at the upgrade; an allowed one connects', async (t) => {
  const gw = await startGateway(t, { ALLOWED_ORIGINS: 'http://localhost:3000,https://app.example.com' });
  const token = gw.token();
  const ok = await gw.connect(token, { extraHeaders: { Origin: 'https://app.example.com' } });
  assert.ok(ok.id);
  const err = await gw.connectError(token, { extraHeaders: { Origin: 'https://evil.example.net' } });
  // socket.io-client reports a refused upgrade as a transport error.
  assert.equal(err.message, 'websocket error');
  // The raw upgrade answer is HTTP 403 (docs/PROTOCOL.md "Request errors, Origin, CORS").
  assert.equal(await upgradeStatus(gw, { Origin: 'https://evil.example.net' }), 403);
  assert.equal(await upgradeStatus(gw, { Origin: 'https://app.example.com' }), 101);
  assert.equal(await upgradeStatus(gw, {}), 101, 'no Origin header is allowed');
});

/** Sends a raw WebSocket upgrade request and resolves with the HTTP status. */
function upgradeStatus(gw, headers) {
  const [host, port] = gw.addr.split(':');
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({
      host, port, path: '/socket.io/?EIO=4&transport=websocket',
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers,
      },
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  }), 5000, 'the upgrade answer');
}

test('the socket is a plain socket.io-client v4 socket: README options with reconnection on', async (t) => {
  // The exact options of the contract (no reconnection:false), closed by the test.
  const gw = await startGateway(t);
  const token = gw.token();
  const socket = io(gw.url, { transports: ['websocket'], auth: { token }, forceNew: true });
  t.after(() => socket.close());
  await withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  }), 5000, 'connect');
  assert.ok(socket.id);
});

test('TRUSTED_PROXIES: X-Forwarded-For is believed only from a trusted peer', async (t) => {
  // Trusted: each forwarded client IP has its own limit of 1.
  const trusted = await startGateway(t, { MAX_CONNECTIONS_PER_IP: '1', TRUSTED_PROXIES: '127.0.0.0/8' });
  const token = trusted.token();
  await trusted.connect(token, { extraHeaders: { 'X-Forwarded-For': '203.0.113.7' } });
  await trusted.connect(token, { extraHeaders: { 'X-Forwarded-For': '203.0.113.8' } });
  assert.equal((await trusted.connectError(token, { extraHeaders: { 'X-Forwarded-For': '203.0.113.7' } })).message, 'TOO_MANY_CONNECTIONS');
  // Untrusted: the header is ignored, everyone is 127.0.0.1.
  const untrusted = await startGateway(t, { MAX_CONNECTIONS_PER_IP: '1' });
  const token2 = untrusted.token();
  await untrusted.connect(token2, { extraHeaders: { 'X-Forwarded-For': '203.0.113.7' } });
  assert.equal((await untrusted.connectError(token2, { extraHeaders: { 'X-Forwarded-For': '203.0.113.8' } })).message, 'TOO_MANY_CONNECTIONS');
});

test('ALLOWED_ORIGINS=* allows any Origin', async (t) => {
  const gw = await startGateway(t, { ALLOWED_ORIGINS: '*' });
  const c = await gw.connect(gw.token(), { extraHeaders: { Origin: 'https://anything.example.org' } });
  assert.ok(c.id);
});

test('MAX_CONNECTIONS_PER_IP: the slot frees however the connection ends', async (t) => {
  const gw = await startGateway(t, { MAX_CONNECTIONS_PER_IP: '1', MAX_MESSAGE_BYTES: '2000' });
  // The slot frees when the server has seen the end, asynchronously to the
  // client: retry TOO_MANY_CONNECTIONS within a bound.
  const connectWhenFree = (token, what) => waitUntil(async () => {
    try {
      return await gw.connect(token);
    } catch (e) {
      if (e.message !== 'TOO_MANY_CONNECTIONS') throw e;
      return null;
    }
  }, { timeout: 3000, what: `the slot freed by ${what}` });
  const endings = [
    ['a client disconnect', {}, async (c) => c.close()],
    ['a frame over MAX_MESSAGE_BYTES', {}, async (c) => {
      c.emit('state_sync', { state: 'x'.repeat(5000) });
      await c.waitForDisconnect();
    }],
    ['a refused token_refresh', {}, async (c) => {
      c.emit('token_refresh', { token: 'bad' });
      assert.equal(await c.waitForDisconnect(), 'io server disconnect');
    }],
    ['its token expiring', { ttl: 1 }, async (c) => {
      assert.equal(await c.waitForDisconnect({ timeout: 4000 }), 'io server disconnect');
    }],
  ];
  let previous = 'nothing';
  for (const [what, opts, end] of endings) {
    const c = await connectWhenFree(gw.token({}, opts), previous);
    assert.equal((await gw.connectError(gw.token())).message, 'TOO_MANY_CONNECTIONS', `at the limit before ${what}`);
    await end(c);
    previous = what;
  }
  assert.ok((await connectWhenFree(gw.token(), previous)).id);
});
