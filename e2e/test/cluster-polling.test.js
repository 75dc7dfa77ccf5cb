'use strict';
// CONTRACT §8, clustered: no sticky sessions. Three gateways share rooms over
// routed embedded NATS; a round-robin proxy in front of two of them sends
// each HTTP request (and each WebSocket upgrade) to the next node in turn,
// as a load balancer without session affinity does. socket.io-client with
// its default options (polling, then the upgrade probe) keeps working:
// requests that reach the node without the session are relayed to the node
// that holds it, and an upgrade that reaches the other node is refused, so
// the client goes on polling.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { io } = require('socket.io-client');
const { Client, socketOptions, startGateway, waitUntil, withTimeout, WAIT_MS } = require('./helpers');

/** Starts a node with an embedded NATS server routed to routes; resolves with it and its route URL. */
async function startNode(t, common, id, routes = []) {
  const gw = await startGateway(t, {
    ...common, NODE_ID: id, NATS_LISTEN: '127.0.0.1:0', NATS_CLUSTER_LISTEN: '127.0.0.1:0',
    NATS_ROUTES: routes.length ? routes.join(',') : undefined,
  });
  const line = gw.logs().find((l) => l.msg === 'cluster enabled');
  assert.ok(line, 'the "cluster enabled" log line');
  return { gw, route: line.nats_route_url };
}

/** A proxy that sends each request and each upgrade to the next target in turn. */
async function roundRobinProxy(t, targets) {
  let next = 0;
  const pick = () => targets[next++ % targets.length];
  const counts = new Map(targets.map((a) => [a, 0]));
  const server = http.createServer((req, res) => {
    const target = pick();
    counts.set(target, counts.get(target) + 1);
    const [host, port] = target.split(':');
    const up = http.request({ host, port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.destroy(); });
    req.pipe(up);
  });
  server.on('upgrade', (req, socket, head) => {
    const [host, port] = pick().split(':');
    const up = net.connect(Number(port), host, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(`${raw}\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(resolve);
  }));
  return { url: `http://127.0.0.1:${server.address().port}`, counts };
}

test('a default-options client behind a non-sticky round-robin proxy works across three nodes', async (t) => {
  const common = { JWT_SECRET: 'cluster-polling-secret-0123456789', PUBLISH_API_KEY: 'cluster-polling-publish-key' };
  const a = await startNode(t, common, 'node-a');
  const b = await startNode(t, common, 'node-b', [a.route]);
  const c = await startNode(t, common, 'node-c', [a.route, b.route]);
  const proxy = await roundRobinProxy(t, [a.gw.addr, b.gw.addr]);

  const room = 'workspace:ws-1:dashboard';
  const token = a.gw.token({ sub: 'alice' });
  b.gw.remember(token);
  c.gw.remember(token);
  const open = (transports) => {
    const client = new Client(io(proxy.url, socketOptions(token, { transports })));
    t.after(() => client.close());
    return client;
  };
  // Two tabs of one user, both through the proxy: one that only polls, and
  // one with socket.io-client's default transports (polling first, then the
  // upgrade probe, which succeeds only when it reaches the session's node).
  const tab1 = open(['polling']);
  const tab2 = open(['polling', 'websocket']);
  for (const tab of [tab1, tab2]) {
    const connected = new Promise((resolve, reject) => {
      tab.socket.once('connect', resolve);
      tab.socket.once('connect_error', reject);
    });
    tab.socket.connect();
    await withTimeout(connected, WAIT_MS * 2, 'connect through the proxy');
  }
  assert.deepEqual(await tab1.emitAck('join_room', { room }), { joined: room });

  // A broadcast published on the third node reaches the member behind the proxy.
  await waitUntil(async () => {
    const res = await c.gw.publish(room, 'metrics.updated', { n: 0 });
    return res.status === 200 && res.body.recipients === 1;
  }, { what: 'node C to see the room on the member\'s node', timeout: WAIT_MS * 2 });
  for (let n = 1; n <= 5; n++) assert.equal((await c.gw.publish(room, 'metrics.updated', { n })).status, 200);
  await waitUntil(() => tab1.received('metrics.updated').some((d) => d.n === 5), { what: 'the stream on tab 1' });
  const seen = tab1.received('metrics.updated').map((d) => d.n).filter((n) => n > 0);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);

  // Acks and state_sync between the tabs, while requests alternate between nodes.
  assert.deepEqual(await tab2.emitAck('state_sync', { state: { filter: 'open' } }), { ok: true });
  const synced = await tab1.waitFor('state_sync');
  assert.deepEqual(synced, { state: { filter: 'open' } });
  assert.ok(proxy.counts.get(a.gw.addr) > 0 && proxy.counts.get(b.gw.addr) > 0, 'both nodes took requests');
  assert.equal(tab1.socket.io.engine.transport.name, 'polling');
  assert.ok(tab1.connected && tab2.connected);

  // Relayed requests were counted by the nodes that did not hold the session.
  const relayed = (await a.gw.metric('polling_relayed_seconds_count')) + (await b.gw.metric('polling_relayed_seconds_count'));
  assert.ok(relayed > 0, `relayed polling requests: ${relayed}`);
});
