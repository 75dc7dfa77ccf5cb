'use strict';
// The README's client example (e2e/example.js) run as its own process.

const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');
const { spawnTracked, startGateway, TextSink } = require('./helpers');

const EXAMPLE = path.resolve(__dirname, '..', 'example.js');

/** Runs example.js with env; stopped (SIGTERM) when the test ends. */
function runExample(t, env) {
  const child = spawnTracked(process.execPath, [EXAMPLE], {
    env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = new TextSink(child.stdout);
  const err = new TextSink(child.stderr);
  t.after(async () => {
    child.kill('SIGTERM');
    await child.exited;
  });
  return { child, out, err };
}

test('example.js connects, joins the workspace dashboard and logs a publish', async (t) => {
  const gw = await startGateway(t);
  const token = gw.token({ sub: 'readme-user', workspaceId: 'acme' });
  const ex = runExample(t, { URL: gw.url, TOKEN: token, WORKSPACE: 'acme' });
  await ex.out.waitFor(/^join_room \{"joined":"workspace:acme:dashboard"\}$/m, { exited: ex.child.exited });
  assert.equal(await gw.publishOK('workspace:acme:dashboard', 'task.created', { id: 42, title: 'Ship it' }), 1);
  await ex.out.waitFor(/^task\.created \{"id":42,"title":"Ship it"\}$/m, { exited: ex.child.exited });
  assert.equal(ex.err.text, '');
});

test('example.js reports a refused token as connect_error', async (t) => {
  const gw = await startGateway(t);
  const ex = runExample(t, { URL: gw.url, TOKEN: gw.remember('not-a-valid-token') });
  await ex.err.waitFor(/^connect_error INVALID_TOKEN$/m, { exited: ex.child.exited });
});
