'use strict';
// Helpers of the end-to-end suite: build the gateway, run it as a real
// process, talk to it with the real socket.io-client v4 and its HTTP API.
//
// Rules kept here so the tests need not think about them:
//   - every wait is on an event or a condition, bounded by a timeout (no
//     fixed sleeps);
//   - every gateway and socket a test starts is closed by that test's
//     t.after hook; an 'exit' hook and SIGINT/SIGTERM/SIGHUP handlers
//     SIGKILL any child still alive, so no process outlives the test file;
//   - at teardown every gateway is checked to have exited 0 on SIGTERM and
//     never to have logged a token, the JWT secret or an API key
//     (CONTRACT §7).

const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');

const REPO_ROOT = path.resolve(__dirname, '../..');

/** Default bound of every wait, in ms. */
const WAIT_MS = 5000;

// ---------------------------------------------------------------- waiting

/** Rejects after ms with a message naming what was awaited (a string, or a function giving it then). */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls fn (sync or async) until it returns a truthy value, which is
 * returned; fails after timeout. For conditions that have no event to wait
 * on (a metric, a slot freed asynchronously). An exception from fn fails at once.
 */
async function waitUntil(fn, { timeout = WAIT_MS, interval = 25, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// ---------------------------------------------------------------- tokens

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * Mints a JWT. payload is used as given, plus an exp at least ttl seconds
 * away when it has no exp key (exp: undefined leaves it out). header defaults
 * to HS256; with alg "none" no signature is made.
 */
function mintToken(secret, payload, { ttl = 3600, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const body = { ...payload };
  if (!('exp' in body)) body.exp = Math.ceil(Date.now() / 1000) + ttl;
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  const signingInput = `${b64url(header)}.${b64url(body)}`;
  if (header.alg === 'none') return `${signingInput}.`;
  const sig = crypto.createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${sig}`;
}

/** Decodes a JWT's payload without checking it. */
function decodeToken(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

const randomKey = (label) => `${label}-${crypto.randomBytes(18).toString('base64url')}`;

// ---------------------------------------------------------------- binary

let builtBinary;

/**
 * Builds ./cmd/gateway once per test process into a temporary directory kept
 * across the suite's files (one per repository checkout). go build relinks
 * only when a source changed, so later files reuse the binary in ~0.2 s and a
 * run never uses a stale one. GATEWAY_BIN overrides it with a prebuilt binary.
 */
function gatewayBinary() {
  if (builtBinary) return builtBinary;
  if (process.env.GATEWAY_BIN) {
    builtBinary = path.resolve(process.env.GATEWAY_BIN);
    return builtBinary;
  }
  const key = crypto.createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `hyvve-gateway-e2e-${key}`);
  fs.mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'gateway');
  const res = spawnSync('go', ['build', '-o', bin, './cmd/gateway'], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000,
  });
  if (res.error || res.status !== 0) {
    throw new Error(`go build ./cmd/gateway failed (status ${res.status}): ${res.error || ''}\n${res.stdout}${res.stderr}`);
  }
  builtBinary = bin;
  return bin;
}

// ---------------------------------------------------------------- processes

const liveProcesses = new Set();

function killAll() {
  for (const child of liveProcesses) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}

// No child outlives this process: on a normal exit, and when the test runner
// (a file timeout) or a user (Ctrl-C) stops it with a signal, which would
// otherwise end it without running 'exit' handlers.
process.on('exit', killAll);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(signal, () => {
    killAll();
    process.exit(code);
  });
}

/**
 * Spawns a child process tracked for cleanup; resolves its exit as
 * { code, signal } on child.exited.
 */
function spawnTracked(cmd, args, options) {
  const child = spawn(cmd, args, options);
  liveProcesses.add(child);
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      liveProcesses.delete(child);
      resolve({ code, signal });
    });
  });
  child.once('error', () => liveProcesses.delete(child));
  return child;
}

/** Collects a stream's text and lets tests wait for a pattern in it. */
class TextSink {
  constructor(stream) {
    this.text = '';
    this.waiters = new Set();
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      this.text += chunk;
      for (const w of [...this.waiters]) w();
    });
  }

  /** Resolves with the first match of re in the text (now or later). */
  waitFor(re, { timeout = WAIT_MS, what = String(re), exited } = {}) {
    let check;
    const p = new Promise((resolve, reject) => {
      check = () => {
        const m = this.text.match(re);
        if (m) {
          this.waiters.delete(check);
          resolve(m);
        }
      };
      this.waiters.add(check);
      check();
      if (exited) {
        exited.then((st) => {
          if (this.waiters.delete(check)) {
            reject(new Error(`process exited (${JSON.stringify(st)}) before ${what}:\n${this.text}`));
          }
        });
      }
    });
    return withTimeout(p, timeout, () => `${what} in:\n${this.text}`).finally(() => this.waiters.delete(check));
  }
}

// ---------------------------------------------------------------- clients

/**
 * A socket.io-client socket that records every event it receives (including
 * those that arrive in the same read as the CONNECT answer), so a test can
 * wait for one that has already come.
 */
class Client {
  constructor(socket) {
    this.socket = socket;
    this.events = []; // { event, args, data }
    this.waiters = new Set();
    socket.onAny((event, ...args) => this.record(event, args));
    socket.on('disconnect', (reason, details) => this.record('$disconnect', [reason, details]));
    socket.on('connect_error', (err) => this.record('$connect_error', [err]));
  }

  get id() { return this.socket.id; }

  get connected() { return this.socket.connected; }

  record(event, args) {
    const e = { event, args, data: args[0] };
    this.events.push(e);
    for (const w of [...this.waiters]) w(e);
  }

  /** The data of every received event named event, in order. */
  received(event) {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }

  /**
   * Resolves with the data of the first event named event (received before
   * or after the call) that satisfies filter.
   */
  waitFor(event, { timeout = WAIT_MS, filter = () => true } = {}) {
    const match = (e) => e.event === event && filter(e.data);
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen.data);
    let waiter;
    const p = new Promise((resolve) => {
      waiter = (e) => {
        if (match(e)) {
          this.waiters.delete(waiter);
          resolve(e.data);
        }
      };
      this.waiters.add(waiter);
    });
    return withTimeout(p, timeout, () => `event "${event}" on socket ${this.socket.id}; received: ${this.describe()}`)
      .finally(() => this.waiters.delete(waiter));
  }

  /** Resolves with the disconnect reason. */
  waitForDisconnect(opts) {
    return this.waitFor('$disconnect', opts);
  }

  /** Emits with an ack and resolves with the ack's data. */
  emitAck(event, data, timeout = WAIT_MS) {
    return this.socket.timeout(timeout).emitWithAck(event, data);
  }

  /** Emits without an ack. */
  emit(event, data) {
    this.socket.emit(event, data);
  }

  describe() {
    const all = JSON.stringify(this.events.map((e) => [e.event, e.event === '$connect_error' ? e.data.message : e.data]));
    return all.length > 2000 ? `${all.slice(0, 2000)}…` : all;
  }

  /** Disconnects (DISCONNECT packet, then the WebSocket close). */
  close() {
    this.socket.disconnect();
    this.socket.io.engine?.close();
  }
}

/** Options of every test socket: the README's, bounded and not retrying. */
function socketOptions(token, opts = {}) {
  return {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    autoConnect: false,
    timeout: WAIT_MS,
    ...(token !== undefined ? { auth: { token } } : {}),
    ...opts,
  };
}

// ---------------------------------------------------------------- raw WebSocket

/**
 * A minimal WebSocket client speaking raw Engine.IO/Socket.IO frames, for
 * what socket.io-client hides: close codes, packets before CONNECT, malformed
 * input. Frames from the server are recorded as { opcode, text, code }.
 */
class RawWs {
  static open(gw, { headers = {}, path: p = '/socket.io/?EIO=4&transport=websocket' } = {}) {
    const [host, port] = gw.addr.split(':');
    return withTimeout(new Promise((resolve, reject) => {
      const req = http.request({
        host, port, path: p,
        headers: {
          Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), ...headers,
        },
      });
      req.on('upgrade', (res, socket, head) => resolve(new RawWs(socket, head)));
      req.on('response', (res) => { res.resume(); reject(new Error(`upgrade answered ${res.statusCode}`)); });
      req.on('error', reject);
      req.end();
    }), WAIT_MS, 'a raw WebSocket upgrade');
  }

  constructor(socket, head) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.waiters = new Set();
    this.closed = false;
    socket.on('data', (d) => this.onData(d));
    socket.on('error', () => {});
    socket.on('close', () => { this.closed = true; this.notify(); });
    if (head && head.length) this.onData(head);
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      const f = { opcode };
      if (opcode === 8) {
        f.code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        f.text = payload.subarray(2).toString('utf8');
      } else {
        f.text = payload.toString('utf8');
      }
      this.frames.push(f);
      this.notify();
    }
  }

  notify() { for (const w of [...this.waiters]) w(); }

  /** Resolves with the first frame (past or future) satisfying pred. */
  waitFrame(pred, { timeout = WAIT_MS, what = 'a frame' } = {}) {
    let check;
    const p = new Promise((resolve, reject) => {
      check = () => {
        const f = this.frames.find(pred);
        if (f) { this.waiters.delete(check); resolve(f); } else if (this.closed) {
          this.waiters.delete(check);
          reject(new Error(`socket closed before ${what}; frames: ${JSON.stringify(this.frames)}`));
        }
      };
      this.waiters.add(check);
      check();
    });
    return withTimeout(p, timeout, () => `${what}; frames: ${JSON.stringify(this.frames)}`).finally(() => this.waiters.delete(check));
  }

  waitText(re, opts) { return this.waitFrame((f) => f.opcode === 1 && re.test(f.text), { what: String(re), ...opts }); }

  waitClose(opts) { return this.waitFrame((f) => f.opcode === 8, { what: 'a close frame', ...opts }); }

  /** Resolves when the TCP connection has closed. */
  waitEnd(opts) {
    return withTimeout(new Promise((resolve) => {
      if (this.closed) resolve();
      else this.socket.once('close', resolve);
    }), (opts && opts.timeout) || WAIT_MS, 'the TCP close');
  }

  /** Sends one masked frame (text by default). */
  send(data, opcode = 1) {
    const payload = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    const mask = crypto.randomBytes(4);
    let header;
    if (payload.length < 126) {
      header = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
    } else if (payload.length < 65536) {
      header = Buffer.alloc(4); header[0] = 0x80 | opcode; header[1] = 0x80 | 126; header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10); header[0] = 0x80 | opcode; header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    const masked = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ mask[i % 4];
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  /** Completes a Socket.IO CONNECT with auth and resolves with the CONNECT answer's text. */
  async connect(auth) {
    await this.waitText(/^0\{/, { what: 'the Engine.IO OPEN packet' });
    this.send(`40${auth ? JSON.stringify(auth) : ''}`);
    return (await this.waitText(/^4[04]/, { what: 'the CONNECT answer' })).text;
  }

  destroy() { this.socket.destroy(); }
}

// ---------------------------------------------------------------- gateway

class Gateway {
  constructor(child, env) {
    this.child = child;
    this.env = env;
    this.secret = env.JWT_SECRET;
    this.publishKey = env.PUBLISH_API_KEY;
    this.adminKey = env.ADMIN_API_KEY;
    this.stderr = new TextSink(child.stderr);
    this.stdout = new TextSink(child.stdout);
    this.clients = new Set();
    this.raws = new Set();
    this.tokens = new Set(); // every token the test handed to this gateway
    this.exitStatus = null;
    this.stopping = false;
    child.exited.then((st) => { this.exitStatus = st; });
  }

  get url() { return `http://${this.addr}`; }

  /** The JSON log lines written so far. */
  logs() {
    return this.stderr.text.split('\n').filter((l) => l.startsWith('{')).map((l) => {
      try { return JSON.parse(l); } catch { return { unparsed: l }; }
    });
  }

  /** Mints a token signed with this gateway's JWT_SECRET. */
  token(claims = {}, opts = {}) {
    assert.ok(this.secret, 'this gateway has no JWT_SECRET');
    const payload = { sub: 'user-1', workspaceId: 'ws-1', role: 'member', ...claims };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    return this.remember(mintToken(this.secret, payload, opts));
  }

  /** Registers a token for the "never logged" check at teardown. */
  remember(token) {
    if (typeof token === 'string' && token.length > 0) this.tokens.add(token);
    return token;
  }

  /** A socket, not yet connected, recorded for cleanup. */
  socket(token, opts) {
    this.remember(token);
    const client = new Client(io(this.url, socketOptions(token, opts)));
    this.clients.add(client);
    return client;
  }

  /** A raw WebSocket on the Socket.IO path, closed at cleanup. */
  async raw(opts) {
    const ws = await RawWs.open(this, opts);
    this.raws.add(ws);
    return ws;
  }

  /** Connects and resolves with the connected Client; rejects with the connect_error. */
  async connect(token, opts) {
    const client = this.socket(token, opts);
    const connected = new Promise((resolve, reject) => {
      client.socket.once('connect', () => resolve(client));
      client.socket.once('connect_error', (err) => {
        client.close();
        reject(err);
      });
    });
    client.socket.connect();
    return withTimeout(connected, WAIT_MS + 1000, 'connect');
  }

  /** Connects expecting a connect_error and resolves with it. */
  async connectError(token, opts) {
    let client;
    try {
      client = await this.connect(token, opts);
    } catch (err) {
      return err;
    }
    client.close();
    throw new assert.AssertionError({ message: `expected a connect_error but socket ${client.id} connected` });
  }

  /** POST /v1/publish. body overrides the JSON body (a string is sent as is). */
  async publish(room, event, data, { key = this.publishKey, body, headers = {}, timeout = WAIT_MS } = {}) {
    const raw = body !== undefined ? (typeof body === 'string' ? body : JSON.stringify(body))
      : JSON.stringify({ room, event, data });
    const h = { 'content-type': 'application/json', ...headers };
    if (key !== null && key !== undefined) h.authorization = `Bearer ${key}`;
    const res = await fetch(`${this.url}/v1/publish`, { method: 'POST', headers: h, body: raw, signal: AbortSignal.timeout(timeout) });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, body: json, text };
  }

  /** Publishes and asserts a 200, returning the recipients count. */
  async publishOK(room, event, data) {
    const res = await this.publish(room, event, data);
    assert.equal(res.status, 200, `publish ${room} ${event}: ${res.status} ${res.text}`);
    assert.equal(res.body.ok, true);
    return res.body.recipients;
  }

  async get(pathname) {
    const res = await fetch(`${this.url}${pathname}`, { signal: AbortSignal.timeout(WAIT_MS) });
    return { status: res.status, text: await res.text() };
  }

  /** The sum of the /metrics samples of name matching labels. */
  async metric(name, labels) {
    return metric(await this.get('/metrics'), name, labels);
  }

  /** Sends signal (SIGTERM by default) and resolves with the exit status; SIGKILL after timeout. */
  async stop({ signal = 'SIGTERM', timeout = 15000 } = {}) {
    this.stopping = true;
    if (this.exitStatus) return this.exitStatus;
    this.child.kill(signal);
    try {
      return await withTimeout(this.child.exited, timeout, `gateway exit after ${signal}`);
    } catch (err) {
      this.child.kill('SIGKILL');
      await this.child.exited;
      throw err;
    }
  }

  /** Closes every client, stops the process and checks the contract's teardown promises. */
  async cleanup() {
    for (const c of this.clients) c.close();
    this.clients.clear();
    for (const r of this.raws) r.destroy();
    this.raws.clear();
    const crashed = this.exitStatus && !this.stopping;
    const st = await this.stop();
    assert.ok(!crashed, `gateway exited on its own during the test: ${JSON.stringify(st)}\n${this.stderr.text.slice(-4000)}`);
    assert.deepEqual(st, { code: 0, signal: null }, `gateway exit status after SIGTERM\n${this.stderr.text.slice(-4000)}`);
    this.assertNoSecretsLogged();
  }

  /** CONTRACT §7: no log line holds a token or a secret (the dev token and dev publish key aside). */
  assertNoSecretsLogged() {
    const out = this.stderr.text + this.stdout.text;
    // The development publish key, like the dev token, is printed on purpose.
    const secrets = [this.secret, this.publishKey, this.adminKey].filter((s) => s && s !== this.devPublishKey);
    for (const s of secrets) assert.ok(!out.includes(s), 'a secret or API key appears in the gateway output');
    for (const t of this.tokens) {
      if (t === this.devToken) continue;
      const sig = t.split('.')[2];
      assert.ok(!out.includes(t), `a token appears in the gateway output: ${t.slice(0, 24)}…`);
      if (sig && sig.length >= 16) assert.ok(!out.includes(sig), 'a token signature appears in the gateway output');
    }
  }
}

/**
 * Starts a gateway on 127.0.0.1:0 and registers its cleanup on t. env values
 * override the defaults (a fresh JWT_SECRET and PUBLISH_API_KEY); an
 * undefined value removes the variable. The parent's environment is not
 * inherited beyond PATH and HOME, so a stray JWT_SECRET cannot leak in.
 */
async function startGateway(t, env = {}) {
  const full = {
    PATH: process.env.PATH,
    HOME: process.env.HOME || os.tmpdir(),
    LISTEN_ADDR: '127.0.0.1:0',
    JWT_SECRET: randomKey('secret'),
    PUBLISH_API_KEY: randomKey('publish'),
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    ...env,
  };
  for (const k of Object.keys(full)) if (full[k] === undefined) delete full[k];
  const child = spawnTracked(gatewayBinary(), [], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  const gw = new Gateway(child, full);
  if (t) t.after(() => gw.cleanup());
  const m = await gw.stderr.waitFor(/^\{.*"msg":"gateway listening".*\}$/m, {
    timeout: 10000, what: 'the "gateway listening" log line', exited: child.exited,
  });
  gw.addr = JSON.parse(m[0]).addr;
  assert.match(gw.addr, /^127\.0\.0\.1:\d+$/);
  return gw;
}

/** The sum of the Prometheus samples of name whose labels include labels (0 if none), from a GET /metrics answer. */
function metric(res, name, labels = {}) {
  assert.equal(res.status, 200, `GET /metrics: ${res.status}`);
  let total = 0;
  for (const line of res.text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(m[3]);
  }
  return total;
}

/**
 * Publishes a sentinel to room and waits until client received it. A
 * broadcast queued to client before the sentinel's (same connection, FIFO
 * queue) has been received by then, so a test can assert it never came.
 */
async function sentinel(gw, client, room) {
  const nonce = crypto.randomBytes(6).toString('hex');
  const n = await gw.publishOK(room, 'sentinel', { nonce });
  assert.ok(n >= 1, `sentinel to ${room} reached ${n} members`);
  await client.waitFor('sentinel', { filter: (d) => d && d.nonce === nonce });
}

module.exports = {
  REPO_ROOT,
  WAIT_MS,
  Client,
  Gateway,
  RawWs,
  decodeToken,
  gatewayBinary,
  metric,
  mintToken,
  randomKey,
  sentinel,
  socketOptions,
  spawnTracked,
  startGateway,
  TextSink,
  waitUntil,
  withTimeout,
};
