'use strict';
// docs/PROTOCOL.md "Transports": python-socketio's AsyncClient with its default transports
// (long-polling, then the upgrade) connects, joins with an ack, receives a
// publish and disconnects. Needs python3 with socketio and aiohttp (Debian's
// python3-socketio and python3-aiohttp; `make e2e` and .ci/run install them).

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { test } = require('node:test');
const { TextSink, spawnTracked, startGateway, waitUntil, withTimeout } = require('./helpers');

const SCRIPT = path.join(__dirname, '..', 'python', 'client.py');

/** The first interpreter that has socketio and aiohttp: $PYTHON, python3, then Debian's. */
function python() {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import socketio, aiohttp'], { encoding: 'utf8', timeout: 20000 });
    if (r.status === 0) return py;
  }
  assert.fail(`no python3 with socketio and aiohttp among ${candidates.join(', ')}: apt-get install python3-socketio python3-aiohttp`);
}

test('python-socketio AsyncClient, default transports: connect, join with ack, publish, disconnect', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'py', workspaceId: 'ws-py' });
  const room = 'workspace:ws-py:dashboard';
  const child = spawnTracked(python(), [SCRIPT, gw.url, token, room], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const out = new TextSink(child.stdout);
  const err = new TextSink(child.stderr);
  const steps = () => out.text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const step = async (name) => {
    await out.waitFor(new RegExp(`"step": "${name}"`), { timeout: 15000, what: `the script's "${name}" step (stderr: ${err.text})`, exited: child.exited });
    return steps().find((s) => s.step === name);
  };

  const connected = await step('connected');
  assert.match(connected.sid, /^[\w-]{20}$/);
  const joined = await step('joined');
  assert.deepEqual(joined.ack, { joined: room });
  assert.equal(await gw.publishOK(room, 'news', { from: 'backend', n: 7 }), 1);
  const received = await step('received');
  assert.deepEqual(received.data, { from: 'backend', n: 7 });
  assert.match(received.offset, /^\d+$/, 'the broadcast carries its offset last, a string');
  // Default transports: the session began on polling and moved to the WebSocket.
  assert.equal(received.transport, 'websocket');
  await step('disconnected');
  assert.deepEqual(await withTimeout(child.exited, 15000, 'the script to exit'), { code: 0, signal: null }, err.text);
  assert.ok(await gw.metric('ws_upgrades_total', { result: 'polling_ok' }) >= 1, 'the session opened on polling');
  assert.equal(await gw.metric('ws_upgrades_total', { result: 'polling_upgraded' }), 1);
  await waitUntil(async () => (await gw.metric('ws_connections_active', { workspace: 'ws-py' })) === 0, { what: 'the connection to end' });
});
