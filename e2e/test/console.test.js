'use strict';
// The operator console (/admin) in a real browser: Debian's Chromium,
// headless, driven by puppeteer-core (a Node library, so it runs in this
// suite beside socket.io-client and the gateway helpers; it downloads no
// browser of its own). Set CONSOLE_SCREENSHOT=path to keep the screenshot
// of the console under load (docs/console.png is made that way).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const puppeteer = require('puppeteer-core');
const { randomKey, startGateway } = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const UI_WAIT = 20000; // the page reads a snapshot every 2 s, stats every 1 s
const ROOM = 'workspace:ws-a:dashboard';

async function openBrowser(t) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'console-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: false, // --headless is in args, as given
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`],
    timeout: 30000,
    protocolTimeout: 30000,
  });
  t.after(async () => {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1500, height: 1000 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  t.after(() => assert.deepEqual(errors, [], 'errors in the page'));
  return page;
}

async function logIn(page, gw, key) {
  await page.goto(`${gw.url}/admin`, { waitUntil: 'domcontentloaded' });
  await page.locator('#key').fill(key);
  await page.locator('#login-submit').click();
}

/** Waits until fn (run in the page) is truthy; what names it in the failure. */
async function until(page, what, fn, ...args) {
  try {
    return await page.waitForFunction(fn, { timeout: UI_WAIT, polling: 100 }, ...args);
  } catch (err) {
    throw new Error(`timed out waiting for ${what}: ${err.message}`);
  }
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);

test('console: a wrong key is refused; with the key it shows connections, publishes, and a room restart live', { timeout: 90000 }, async (t) => {
  const gw = await startGateway(t, { ADMIN_API_KEY: randomKey('admin'), FAULT_INJECTION: '1' });
  const page = await openBrowser(t);

  await logIn(page, gw, 'not-the-key');
  await until(page, 'the refusal', () => /wrong admin key/i.test(document.getElementById('login-error').textContent));
  assert.equal(await page.$eval('#console', (e) => e.hidden), true, 'the console stays hidden');

  await page.locator('#key').fill(gw.adminKey);
  await page.locator('#login-submit').click();
  await until(page, 'the live stream', () => document.getElementById('status').textContent === 'live');
  assert.ok(!page.url().includes(gw.adminKey), 'the key is never in the URL');

  // A socket.io-client connects: it appears by workspace and in the tree.
  const alice = await gw.connect(gw.token({ sub: 'alice', workspaceId: 'ws-a' }));
  assert.deepEqual(await alice.emitAck('join_room', { room: ROOM }), { joined: ROOM });
  await until(page, 'the connection in the table', () => {
    const row = document.querySelector('#connections tr[data-workspace="ws-a"][data-transport="websocket"]');
    return row && row.querySelector('.count').textContent === '1';
  });
  await until(page, 'the connection in the tree', (sid) => document.querySelector(`#tree li[data-kind="connection"][data-name="${sid}"]`), alice.id);

  // The publish form reaches the client.
  await page.locator('#pub-room').fill(ROOM);
  await page.locator('#pub-event').fill('console.hello');
  await page.$eval('#pub-data', (e) => { e.value = '{"from": "the console"}'; });
  await page.locator('#pub-submit').click();
  assert.deepEqual(await alice.waitFor('console.hello'), { from: 'the console' });
  await until(page, 'the publish result', () => /Queued to 1 member/.test(document.getElementById('publish-result').textContent));

  // A security event shows in the feed.
  assert.deepEqual(await alice.emitAck('join_room', { room: 'workspace:ws-b:dashboard' }), { error: 'ACCESS_DENIED' });
  await until(page, 'the security event in the feed', () =>
    [...document.querySelectorAll('#feed li.security')].some((li) => li.textContent.includes('unauthorized_room_access')));

  // A room panic from the console's button: armed, fired by the next
  // publish (the one message it may cost), then seen in the feed and tree.
  await until(page, "the room's panic button", (room) => document.querySelector(`#rooms tr[data-room="${room}"] button.panic`), ROOM);
  await page.locator(`#rooms tr[data-room="${ROOM}"] button.panic`).click();
  await until(page, 'the fault armed', () => /armed in 1 room actor/.test(document.getElementById('fault-result').textContent));
  await page.locator('#pub-submit').click();
  await until(page, 'the restart in the feed', () =>
    [...document.querySelectorAll('#feed li.supervision')].some((li) => li.textContent.includes('restart · room')));
  await until(page, 'the restart in the tree', (room) => {
    const li = document.querySelector(`#tree li[data-kind="room"][data-name="${room}"]`);
    return li && li.dataset.restarts === '1' && li.querySelector('.restarts').textContent === '↻ 1';
  }, ROOM);
  // Membership survived the restart.
  await page.locator('#pub-submit').click();
  await alice.waitFor('console.hello', { filter: () => alice.received('console.hello').length >= 2 });
});

test('console under load: 20 clients in 3 rooms and a publish loop (screenshot)', { timeout: 90000 }, async (t) => {
  const gw = await startGateway(t, { ADMIN_API_KEY: randomKey('admin'), FAULT_INJECTION: '1', MAX_CONNECTIONS_PER_IP: '100' });
  const rooms = ['workspace:acme:dashboard', 'workspace:acme:approvals', 'workspace:globex:dashboard'];
  const clients = [];
  for (let i = 0; i < 20; i++) {
    const room = rooms[i % 3];
    const ws = room.split(':')[1];
    const c = await gw.connect(gw.token({ sub: `user-${i}`, workspaceId: ws }));
    assert.deepEqual(await c.emitAck('join_room', { room }), { joined: room });
    clients.push(c);
  }
  const page = await openBrowser(t);
  await logIn(page, gw, gw.adminKey);
  await until(page, 'the live stream', () => document.getElementById('status').textContent === 'live');

  // Load: a publish loop over the three rooms until the test ends.
  let stop = false;
  let n = 0;
  const loop = (async () => {
    while (!stop) {
      // 503 once: the message the panicking room fails on.
      const res = await gw.publish(rooms[n % 3], 'tick', { n }).catch((err) => {
        if (gw.stopping) return null; // a failed assertion ended the test first
        throw err;
      });
      if (!res) return;
      assert.ok(res.status === 200 || res.status === 503, res.text);
      n++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const stopLoop = async () => { stop = true; await loop; };
  t.after(stopLoop); // when an assertion failed first

  // Some life in the feed: a restart and a refused join.
  await until(page, 'the rooms table', () => document.querySelectorAll('#rooms button.panic').length >= 3);
  await page.locator(`#rooms tr[data-room="${rooms[2]}"] button.panic`).click();
  await until(page, 'the restart in the feed', () => document.querySelector('#feed li.supervision'));
  await clients[0].emitAck('join_room', { room: 'workspace:initech:dashboard' });
  await until(page, 'the security event', () => document.querySelector('#feed li.security'));

  await until(page, '20 connections', () => document.getElementById('c-connections').textContent === '20');
  await until(page, 'both charts drawn with history', () => {
    const p95 = document.getElementById('c-p95').textContent;
    return p95.endsWith('ms') && Number(document.getElementById('c-rate').textContent) > 0;
  });
  // Several stats events' worth of history in both charts.
  await until(page, 'a dozen points per chart', () =>
    [...document.querySelectorAll('canvas')].every((c) => Number(c.dataset.points) >= 12));
  await until(page, 'the restart in the tree', (room) =>
    document.querySelector(`#tree li[data-kind="room"][data-name="${room}"][data-restarts="1"]`), rooms[2]);
  await stopLoop();
  const png = await page.screenshot({ fullPage: true, type: 'png' });
  assert.ok(png.length > 10000, 'a real screenshot');
  if (process.env.CONSOLE_SCREENSHOT) fs.writeFileSync(path.resolve(process.env.CONSOLE_SCREENSHOT), png);
  const rows = await page.$$eval('#connections tbody tr', (trs) => trs.map((tr) => [tr.dataset.workspace, tr.querySelector('.count').textContent]));
  assert.deepEqual(rows, [['acme', '14'], ['globex', '6']]);
  assert.equal(await text(page, '#c-connections'), '20');
});
