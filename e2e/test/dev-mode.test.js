'use strict';
// CONTRACT §7: with no JWT key the gateway runs in development mode with a printed token.

const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');
const { decodeToken, mintToken, spawnTracked, startGateway, TextSink } = require('./helpers');

const JWT = /\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\b/g;

async function startDevGateway(t) {
  const gw = await startGateway(t, { JWT_SECRET: undefined });
  const tokens = gw.stderr.text.match(JWT) || [];
  assert.equal(new Set(tokens).size, 1, `exactly one token printed, got ${tokens.length}`);
  gw.devToken = tokens[0];
  return gw;
}

test('development mode: a loud insecure-mode warning and a printed token that connects', async (t) => {
  const gw = await startDevGateway(t);
  assert.match(gw.stderr.text, /insecure/i);
  assert.match(gw.stderr.text, /development mode/i);
  const warn = gw.logs().find((l) => /insecure/i.test(l.msg || ''));
  assert.ok(warn && (warn.level === 'WARN' || warn.level === 'ERROR'), `a WARN/ERROR log line: ${JSON.stringify(warn)}`);
  assert.equal(gw.logs().find((l) => l.msg === 'gateway listening').dev_mode, true);

  const claims = decodeToken(gw.devToken);
  assert.equal(typeof claims.sub, 'string');
  assert.equal(typeof claims.workspaceId, 'string');
  assert.ok(claims.exp > Date.now() / 1000 + 3600, 'the dev token is usable for a while');

  const c = await gw.connect(gw.devToken);
  assert.ok(c.id);
  const room = `workspace:${claims.workspaceId}:dashboard`;
  assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });
  assert.equal(await gw.publishOK(room, 'hello', { dev: true }), 1);
  assert.deepEqual(await c.waitFor('hello'), { dev: true });
});

test('development mode signs with a random secret: other tokens are refused', async (t) => {
  const gw = await startDevGateway(t);
  const claims = decodeToken(gw.devToken);
  // A token with the same claims signed with a guessable secret is refused.
  for (const secret of ['', 'secret', 'dev', 'development', 'changeme']) {
    const forged = gw.remember(mintToken(secret, claims));
    assert.equal((await gw.connectError(forged)).message, 'INVALID_TOKEN', `secret ${JSON.stringify(secret)}`);
  }
  // And another dev-mode process does not accept this one's token.
  const other = await startDevGateway(t);
  other.remember(gw.devToken);
  assert.equal((await other.connectError(gw.devToken)).message, 'INVALID_TOKEN');
});

test('the README quick start: example.js with the printed dev token receives a publish', async (t) => {
  const gw = await startDevGateway(t);
  const child = spawnTracked(process.execPath, [path.resolve(__dirname, '..', 'example.js')], {
    env: { PATH: process.env.PATH, URL: gw.url, TOKEN: gw.devToken }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(async () => { child.kill('SIGTERM'); await child.exited; });
  const out = new TextSink(child.stdout);
  const ws = decodeToken(gw.devToken).workspaceId;
  await out.waitFor(new RegExp(`^join_room \\{"joined":"workspace:${ws}:dashboard"\\}$`, 'm'), { exited: child.exited });
  assert.equal(await gw.publishOK(`workspace:${ws}:dashboard`, 'deploy.finished', { ok: true }), 1);
  await out.waitFor(/^deploy\.finished \{"ok":true\}$/m, { exited: child.exited });
});
