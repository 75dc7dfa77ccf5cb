// The README's client example: connect with a token, join the workspace dashboard, log every event.
// Run it: URL=http://localhost:8080 TOKEN=<token> WORKSPACE=<workspace id> node example.js
const { io } = require('socket.io-client');
const socket = io(process.env.URL || 'http://localhost:8080', { auth: { token: process.env.TOKEN } });
socket.on('connect', () => socket.emit('join_room', { room: `workspace:${process.env.WORKSPACE || 'dev-workspace'}:dashboard` }, (ack) => console.log('join_room', JSON.stringify(ack))));
socket.on('connect_error', (err) => console.error('connect_error', err.message));
socket.onAny((event, data) => console.log(event, JSON.stringify(data)));
