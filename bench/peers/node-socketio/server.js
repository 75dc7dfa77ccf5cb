// Comparison peer for the gateway benchmarks: a stock Socket.IO v4 server
// serving the surface the load tool uses, and nothing else.
//
//   GET  /socket.io/?EIO=4&transport=websocket   Socket.IO v5 over WebSocket
//   GET/POST /socket.io/?EIO=4&transport=polling  … over HTTP long-polling, and its
//        upgrade to WebSocket (Socket.IO's default transports)
//        CONNECT {"token": "<HS256 JWT>"}        checked with node:crypto when JWT_SECRET is set
//        join_room {"room": "…"} → ack {"joined": "…"}
//   POST /v1/publish {"room","event","data"}      → io.to(room).emit(event, data)
//        → 200 {"ok": true, "recipients": N}
//   GET  /healthz                                 → 200
//
// Env: LISTEN_ADDR (default 127.0.0.1:0), JWT_SECRET (optional).
// Once serving it prints {"msg":"socketio listening","addr":"HOST:PORT"} on stderr.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { Server } = require('socket.io');

// Engine.IO heartbeat, the same as the gateway's defaults.
const PING_INTERVAL_MS = 25000;
const PING_TIMEOUT_MS = 20000;
// Largest publish body accepted, the gateway's MAX_MESSAGE_BYTES default.
const MAX_BODY_BYTES = 100000;

const secret = process.env.JWT_SECRET || '';
const [host, port] = splitHostPort(process.env.LISTEN_ADDR || '127.0.0.1:0');

function splitHostPort(addr) {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i) || '127.0.0.1', Number(addr.slice(i + 1))];
}

function base64url(buf) {
  return buf.toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

// verifyHS256 checks an HS256 JWT's signature and exp, as the gateway does
// (without its nbf/iss/aud options, which the bench never sets).
function verifyHS256(token) {
  if (typeof token !== 'string') return false;
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  } catch {
    return false;
  }
  if (header.alg !== 'HS256') return false;
  const want = Buffer.from(base64url(crypto.createHmac('sha256', secret).update(parts[0] + '.' + parts[1]).digest()));
  const got = Buffer.from(parts[2]);
  if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) return false;
  return typeof claims.exp === 'number' && claims.exp * 1000 > Date.now() && typeof claims.sub === 'string';
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return reply(res, 200, { status: 'ok' });
  if (req.url !== '/v1/publish') return reply(res, 404, { error: 'not found' });
  if (req.method !== 'POST') return reply(res, 405, { error: 'use POST' });
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      reply(res, 413, { error: 'body too large' });
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return;
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(chunks));
    } catch {
      return reply(res, 400, { error: 'bad JSON' });
    }
    if (!msg || typeof msg.room !== 'string' || typeof msg.event !== 'string') {
      return reply(res, 400, { error: 'room and event are required' });
    }
    io.to(msg.room).emit(msg.event, msg.data);
    const members = io.sockets.adapter.rooms.get(msg.room);
    reply(res, 200, { ok: true, recipients: members ? members.size : 0 });
  });
});

const io = new Server(server, {
  transports: ['polling', 'websocket'], // Socket.IO's default: long-polling and the upgrade
  serveClient: false,
  pingInterval: PING_INTERVAL_MS,
  pingTimeout: PING_TIMEOUT_MS,
  cors: { origin: '*' },
});

if (secret) {
  io.use((socket, next) => {
    const token = socket.handshake.auth && socket.handshake.auth.token;
    if (verifyHS256(token)) return next();
    const err = new Error('INVALID_TOKEN');
    err.data = { code: 'INVALID_TOKEN' };
    next(err);
  });
}

io.on('connection', (socket) => {
  socket.on('join_room', (data, ack) => {
    const room = data && data.room;
    if (typeof room !== 'string' || room === '') {
      if (typeof ack === 'function') ack({ error: 'INVALID_ROOM' });
      return;
    }
    socket.join(room);
    if (typeof ack === 'function') ack({ joined: room });
  });
});

server.listen(port, host, () => {
  const a = server.address();
  process.stderr.write(JSON.stringify({ msg: 'socketio listening', addr: `${a.address}:${a.port}` }) + '\n');
});

function shutdown() {
  io.close(() => process.exit(0)); // closes every socket and the HTTP server
  // Sockets that do not close in time do not hold the process up.
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
