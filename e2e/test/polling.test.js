'use strict';
// docs/PROTOCOL.md "Long-polling", "The upgrade": HTTP long-polling and the upgrade to WebSocket, with the
// real socket.io-client (default options, polling only) and raw HTTP.

const assert = require('node:assert/strict');
const http = require('node:http');
const { test } = require('node:test');
const { WAIT_MS, sentinel, startGateway, waitUntil, withTimeout } = require('./helpers');

const POLL = '/socket.io/?EIO=4&transport=polling';

/** One raw HTTP request; resolves { status, headers, text, json }. */
function request(gw, method, path, { headers = {}, body, timeout = WAIT_MS } = {}) {
  const [host, port] = gw.addr.split(':');
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  }), timeout, `${method} ${path}`);
}

/** A raw Engine.IO polling session: handshake, GET and POST by hand. */
class RawPoll {
  static async open(gw, headers = {}) {
    const res = await request(gw, 'GET', POLL, { headers });
    assert.equal(res.status, 200, `handshake: ${res.status} ${res.text}`);
    assert.match(res.text, /^0\{/);
    const open = JSON.parse(res.text.slice(1));
    return new RawPoll(gw, open, res);
  }

  constructor(gw, open, res) {
    this.gw = gw;
    this.open = open;
    this.sid = open.sid;
    this.handshakeResponse = res;
  }

  get path() { return `${POLL}&sid=${encodeURIComponent(this.sid)}`; }

  /** The long poll: resolves with the answer's packets (and the raw answer). */
  async get(opts) {
    const res = await request(this.gw, 'GET', this.path, opts);
    return { ...res, packets: res.status === 200 ? res.text.split('\x1e') : [] };
  }

  post(packets, opts = {}) {
    return request(this.gw, 'POST', this.path, { ...opts, headers: { 'content-type': 'text/plain;charset=UTF-8', ...opts.headers }, body: packets.join('\x1e') });
  }

  /** CONNECT with a token; resolves with the CONNECT answer packet. */
  async connect(token) {
    const res = await this.post([`40${JSON.stringify({ token })}`]);
    assert.equal(res.status, 200, `CONNECT POST: ${res.status} ${res.text}`);
    assert.equal(res.text, 'ok');
    const got = await this.get();
    return got.packets[0];
  }
}

const engineName = (c) => c.socket.io.engine && c.socket.io.engine.transport.name;

/** Waits until the client's engine runs on the WebSocket. */
function waitUpgraded(client) {
  return waitUntil(() => engineName(client) === 'websocket', { what: 'the upgrade to websocket', interval: 10 });
}

test('default options: polling first, then the upgrade; join, ack and publishes work', async (t) => {
  const gw = await startGateway(t);
  const client = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }), { transports: undefined });
  assert.ok(['polling', 'websocket'].includes(engineName(client)));
  await waitUpgraded(client);
  assert.deepEqual(await client.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
  assert.equal(await gw.publishOK('workspace:ws-a:dashboard', 'deploy', { n: 1 }), 1);
  assert.deepEqual(await client.waitFor('deploy'), { n: 1 });
  assert.deepEqual(await client.emitAck('dashboard_action', { action: 'widget.move' }), { ok: true, action: 'widget.move' });
  // One connection for the metrics, whatever its transport.
  assert.equal(await gw.metric('ws_connections_active', { workspace: 'ws-a' }), 1);
});

test("transports: ['polling'] only: join, publish, ack, state_sync between tabs, dashboard_action", async (t) => {
  const gw = await startGateway(t);
  const opts = { transports: ['polling'] };
  const token = gw.token({ sub: 'alice', workspaceId: 'ws-a' });
  const tabA = await gw.connect(token, opts);
  const tabB = await gw.connect(token, opts);
  const bob = await gw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-a' }), opts);
  for (const c of [tabA, tabB, bob]) {
    assert.equal(engineName(c), 'polling');
    assert.deepEqual(await c.emitAck('join_room', { room: 'workspace:ws-a:dashboard' }), { joined: 'workspace:ws-a:dashboard' });
  }
  assert.deepEqual(await tabA.emitAck('join_room', { room: 'workspace:ws-b:dashboard' }), { error: 'ACCESS_DENIED' });
  assert.equal(await gw.publishOK('workspace:ws-a:dashboard', 'news', { headline: 'polled' }), 3);
  for (const c of [tabA, tabB, bob]) assert.deepEqual(await c.waitFor('news'), { headline: 'polled' });

  assert.deepEqual(await tabA.emitAck('state_sync', { state: { page: 2 } }), { ok: true });
  assert.deepEqual(await tabB.waitFor('state_sync'), { state: { page: 2 } });

  assert.deepEqual(await bob.emitAck('dashboard_action', { action: 'widget.move', payload: 'p' }), { ok: true, action: 'widget.move' });
  const expected = { userId: 'bob', action: 'widget.move', payload: 'p' };
  assert.deepEqual(await tabA.waitFor('dashboard_action'), expected);
  assert.deepEqual(await tabB.waitFor('dashboard_action'), expected);

  // No echo to the sender of either (the sentinel comes after them).
  await sentinel(gw, tabA, 'user:alice');
  assert.deepEqual(tabA.received('state_sync'), []);
  await sentinel(gw, bob, 'user:bob');
  assert.deepEqual(bob.received('dashboard_action'), []);
  // An event without an ack gets its error as an error event.
  tabA.emit('no_such_event', {});
  assert.deepEqual(await tabA.waitFor('error'), { code: 'UNKNOWN_EVENT' });
  // Still polling after all of it.
  for (const c of [tabA, tabB, bob]) assert.equal(engineName(c), 'polling');
  assert.equal(await gw.metric('ws_connections_active', { workspace: 'ws-a' }), 3);
});

/**
 * Connects a default-options client for sub while a publisher streams
 * numbers to user:sub, one publish at a time, until 50 have reached the
 * client after its upgrade. Resolves with what was delivered and received.
 */
async function streamAcrossUpgrade(gw, sub) {
  const client = gw.socket(gw.token({ sub, workspaceId: 'ws-a' }), { transports: undefined });
  let upgradedAt = null; // the publish count when the engine upgraded
  let published = 0;
  const delivered = []; // the numbers whose publish reached the client's session
  client.socket.io.on('open', () => {
    client.socket.io.engine.once('upgrade', () => { upgradedAt = published; });
  });
  // The stream runs from before the connect until well after the upgrade.
  const publisher = (async () => {
    const deadline = Date.now() + 15000;
    let after = 0;
    while (Date.now() < deadline) {
      const n = published++;
      const recipients = await gw.publishOK(`user:${sub}`, 'n', n);
      if (recipients === 1) delivered.push(n);
      if (upgradedAt !== null && delivered.length > 0 && ++after >= 50) break;
    }
  })();
  client.socket.connect();
  await withTimeout(new Promise((r) => client.socket.once('connect', r)), WAIT_MS, 'connect');
  await waitUpgraded(client);
  await publisher;
  assert.ok(delivered.length >= 50, `only ${delivered.length} numbers reached the client`);
  const last = delivered[delivered.length - 1];
  await client.waitFor('n', { filter: (d) => d === last });
  return { delivered, got: client.received('n'), upgradedAt, published };
}

test('the upgrade under a steady numbered publish stream: every number once, in order', async (t) => {
  const gw = await startGateway(t);
  // A run proves the switch only if numbers reached the session before the
  // upgrade; on a loaded machine the upgrade may win the race to the first
  // publish, and then the run is repeated (at most 3 times).
  let run;
  for (let attempt = 0; attempt < 3; attempt++) {
    run = await streamAcrossUpgrade(gw, `alice${attempt}`);
    // Every number the gateway delivered to the session, once each, in
    // order: none lost or repeated across the switch from polling to WebSocket.
    assert.deepEqual(run.got, run.delivered);
    // And the delivered ones are one run of consecutive numbers.
    assert.deepEqual(run.delivered, run.delivered.map((_, i) => run.delivered[0] + i));
    t.diagnostic(`attempt ${attempt}: published ${run.published}, delivered ${run.delivered.length} from ${run.delivered[0]}, upgrade at publish ${run.upgradedAt}`);
    if (run.delivered[0] < run.upgradedAt - 1) break;
  }
  assert.ok(run.delivered[0] < run.upgradedAt - 1, 'numbers were flowing over polling when the upgrade happened');
});

test('Engine.IO errors (docs/PROTOCOL.md "Request errors, Origin, CORS") as HTTP 400 JSON', async (t) => {
  const gw = await startGateway(t, { MAX_MESSAGE_BYTES: '2000' });
  const cases = [
    ['GET', '/socket.io/?EIO=4&transport=flashsocket', 0, 'Transport unknown'],
    ['GET', `${POLL}&sid=nope`, 1, 'Session ID unknown'],
    ['POST', `${POLL}&sid=nope`, 1, 'Session ID unknown'],
    ['POST', POLL, 2, 'Bad handshake method'],
    ['GET', '/socket.io/?EIO=4&transport=websocket', 3, 'Bad request'],
    ['GET', '/socket.io/?EIO=3&transport=polling', 5, 'Unsupported protocol version'],
  ];
  for (const [method, path, code, message] of cases) {
    const res = await request(gw, method, path, { body: method === 'POST' ? '40' : undefined });
    assert.equal(res.status, 400, `${method} ${path}: ${res.status} ${res.text}`);
    assert.deepEqual(res.json, { code, message }, `${method} ${path}`);
  }
  // The handshake: OPEN with the websocket upgrade.
  const p = await RawPoll.open(gw);
  assert.deepEqual(p.open.upgrades, ['websocket']);
  assert.equal(p.open.maxPayload, 2000);
  assert.equal(typeof p.open.pingInterval, 'number');
  // Bad request on a live session: a method other than GET and POST.
  const put = await request(gw, 'PUT', p.path);
  assert.equal(put.status, 400);
  assert.deepEqual(put.json, { code: 3, message: 'Bad request' });
  // A foreign Origin: 403, code 4.
  const foreign = await request(gw, 'GET', POLL, { headers: { Origin: 'https://evil.example' } });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.json.code, 4);
});

test('a second GET while one is pending ends the session', async (t) => {
  const gw = await startGateway(t);
  const p = await RawPoll.open(gw);
  assert.match(await p.connect(gw.token()), /^40\{"sid":/);
  // Two GETs at once: whichever reaches the gateway first is the pending
  // long poll (nothing is queued, pings are 25 s apart), and the other one
  // overlaps it: answered 400, and the pending one gets the close packet.
  const first = p.get({ timeout: 10000 });
  const second = p.get({ timeout: 10000 });
  const answers = await Promise.all([first, second]);
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [200, 400], JSON.stringify(answers.map((a) => [a.status, a.text])));
  const ok = answers.find((a) => a.status === 200);
  assert.equal(ok.packets[ok.packets.length - 1], '1', `the pending GET ends with the close packet: ${ok.text}`);
  const bad = answers.find((a) => a.status === 400);
  assert.equal(bad.json.code, 3);
  await waitUntil(async () => (await p.get()).status === 400, { what: 'the session to be gone' });
  assert.equal((await p.get()).json.code, 1);
});

test('a POST over MAX_MESSAGE_BYTES is 413 and ends the session; binary packets get an error', async (t) => {
  const gw = await startGateway(t, { MAX_MESSAGE_BYTES: '2000' });
  const p = await RawPoll.open(gw);
  assert.match(await p.connect(gw.token()), /^40\{"sid":/);
  // Binary (base64) packets are refused, the session goes on.
  assert.equal((await p.post(['bAQIDBA==', '42["join_room",{"room":"user:user-1"}]'])).text, 'ok');
  const got = await p.get();
  assert.ok(got.packets.includes('42["error",{"code":"BINARY_NOT_SUPPORTED"}]'), got.text);
  // Over the limit: 413, then the session is gone.
  const big = await p.post([`42["state_sync",{"state":"${'x'.repeat(2100)}"}]`]);
  assert.equal(big.status, 413, big.text);
  await waitUntil(async () => (await p.get()).status === 400, { what: 'the session to be gone' });
  assert.equal((await p.get()).json.code, 1);
  await waitUntil(() => gw.logs().some((l) => l.type === 'security_event' && l.event === 'message_too_large'), { what: 'the message_too_large security event' });
});

test('CORS: an allowed Origin gets ACAO with credentials, OPTIONS 204, a foreign one 403', async (t) => {
  const gw = await startGateway(t, { ALLOWED_ORIGINS: 'https://app.example.com' });
  const origin = 'https://app.example.com';
  const p = await RawPoll.open(gw, { Origin: origin });
  assert.equal(p.handshakeResponse.headers['access-control-allow-origin'], origin);
  assert.equal(p.handshakeResponse.headers['access-control-allow-credentials'], 'true');
  const post = await p.post([`40${JSON.stringify({ token: gw.token() })}`], { headers: { Origin: origin } });
  assert.equal(post.status, 200);
  assert.equal(post.headers['access-control-allow-origin'], origin);
  assert.equal(post.headers['access-control-allow-credentials'], 'true');
  const pre = await request(gw, 'OPTIONS', p.path, {
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], origin);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(pre.headers['access-control-allow-methods'], /POST/);
  const foreign = await request(gw, 'GET', POLL, { headers: { Origin: 'https://evil.example' } });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers['access-control-allow-origin'], undefined);
  const foreignPre = await request(gw, 'OPTIONS', POLL, { headers: { Origin: 'https://evil.example' } });
  assert.equal(foreignPre.status, 403);
  // socket.io-client polling from the allowed origin (as a browser page would send it).
  const c = await gw.connect(gw.token(), { transports: ['polling'], extraHeaders: { Origin: origin } });
  assert.deepEqual(await c.emitAck('state_sync', { state: 1 }), { ok: true });
  await waitUntil(() => gw.logs().some((l) => l.type === 'security_event' && l.event === 'origin_rejected'), { what: 'the origin_rejected security event' });
});

test('MAX_CONNECTIONS_PER_IP=2 over mixed transports: one websocket + one polling, the third refused', async (t) => {
  const gw = await startGateway(t, { MAX_CONNECTIONS_PER_IP: '2' });
  const token = gw.token();
  await gw.connect(token); // websocket
  const polled = await gw.connect(token, { transports: ['polling'] });
  for (const transports of [['polling'], ['websocket'], undefined]) {
    const err = await gw.connectError(token, { transports });
    assert.equal(err.message, 'TOO_MANY_CONNECTIONS', `third over ${transports}`);
  }
  // The polling session's slot frees when it ends.
  polled.close();
  const c = await waitUntil(async () => {
    try {
      return await gw.connect(token, { transports: ['polling'] });
    } catch (e) {
      if (e.message !== 'TOO_MANY_CONNECTIONS') throw e;
      return null;
    }
  }, { timeout: 4000, what: 'a connection after closing the polling one' });
  assert.ok(c.id);
});

test('SIGTERM: a pending poll gets the close packet and a polling client is disconnected', async (t) => {
  const gw = await startGateway(t);
  const client = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }), { transports: ['polling'] });
  const raw = await RawPoll.open(gw);
  assert.match(await raw.connect(gw.token({ sub: 'bob', workspaceId: 'ws-b' })), /^40\{"sid":/);
  const pending = raw.get({ timeout: 10000 });
  const exited = gw.stop();
  const answer = await pending;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.packets[answer.packets.length - 1], '1', `the pending poll ends with the close packet: ${answer.text}`);
  // docs/PROTOCOL.md "Close codes": no DISCONNECT before it, so the client reconnects by itself and recovers.
  assert.ok(!answer.packets.includes('41'), `a DISCONNECT before the close packet: ${answer.text}`);
  assert.equal(await client.waitForDisconnect({ timeout: 10000 }), 'transport close');
  assert.deepEqual(await exited, { code: 0, signal: null });
});

test('a polling session that stops polling is dropped after pingInterval + pingTimeout', async (t) => {
  const gw = await startGateway(t, { PING_INTERVAL: '300ms', PING_TIMEOUT: '300ms' });
  const p = await RawPoll.open(gw);
  assert.equal(p.open.pingInterval, 300);
  assert.match(await p.connect(gw.token({ sub: 'idle', workspaceId: 'ws-i' })), /^40\{"sid":/);
  assert.equal(await gw.metric('ws_connections_active', { workspace: 'ws-i' }), 1);
  // A polling socket.io-client answers its pings and stays.
  const live = await gw.connect(gw.token({ sub: 'live', workspaceId: 'ws-l' }), { transports: ['polling'] });
  // The raw one neither polls nor posts.
  await waitUntil(async () => (await gw.metric('ws_connections_active', { workspace: 'ws-i' })) === 0, { what: 'the idle session to be dropped' });
  assert.equal(await gw.metric('ws_disconnects_total', { reason: 'ping_timeout' }), 1);
  const res = await p.get();
  assert.equal(res.status, 400);
  assert.equal(res.json.code, 1);
  assert.equal(live.connected, true);
  assert.deepEqual(await live.emitAck('state_sync', { state: 'still here' }), { ok: true });
});
