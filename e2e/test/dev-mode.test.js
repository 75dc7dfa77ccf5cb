'use strict';
// CONTRACT §7: with no JWT key the gateway runs in development mode with a printed token.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { decodeToken, mintToken, spawnTracked, startGateway, TextSink } = require('./helpers');

const JWT = /\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\b/g;

// A development-mode gateway keeps its secret in XDG_CONFIG_HOME; each test
// gets its own directory (configDir) so no run touches the user's.
async function startDevGateway(t, configDir) {
  if (!configDir) {
    configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-dev-'));
    t.after(() => fs.rmSync(configDir, { recursive: true, force: true }));
  }
  const gw = await startGateway(t, { JWT_SECRET: undefined, PUBLISH_API_KEY: undefined, XDG_CONFIG_HOME: configDir });
  const tokens = gw.stderr.text.match(JWT) || [];
  assert.equal(new Set(tokens).size, 1, `exactly one token printed, got ${tokens.length}`);
  gw.devToken = tokens[0];
  const key = gw.stderr.text.match(/Authorization: Bearer (dev-[0-9a-f]+)/);
  assert.ok(key, 'a development publish key with a curl line is printed');
  gw.publishKey = gw.devPublishKey = key[1];
  gw.configDir = configDir;
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

test('development mode keeps its secret per config directory: guessable and foreign tokens are refused', async (t) => {
  const gw = await startDevGateway(t);
  const claims = decodeToken(gw.devToken);
  // A token with the same claims signed with a guessable secret is refused.
  for (const secret of ['', 'secret', 'dev', 'development', 'changeme']) {
    const forged = gw.remember(mintToken(secret, claims));
    assert.equal((await gw.connectError(forged)).message, 'INVALID_TOKEN', `secret ${JSON.stringify(secret)}`);
  }
  // Another developer's gateway (another config directory) does not accept this one's token.
  const other = await startDevGateway(t);
  other.remember(gw.devToken);
  assert.equal((await other.connectError(gw.devToken)).message, 'INVALID_TOKEN');
  // The same one after a restart does: the secret outlives the process.
  const again = await startDevGateway(t, gw.configDir);
  assert.equal(again.devPublishKey, gw.devPublishKey, 'the development publish key is stable too');
  again.devToken = gw.devToken;
  assert.ok((await again.connect(gw.devToken)).id);
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
