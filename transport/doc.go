// Package transport is the gateway's edge: the HTTP listener, the WebSocket
// upgrade with its Origin and client-IP checks, the publish API, health and
// metrics endpoints, and Conn, one Socket.IO client with its read pump, its
// write pump and its bounded outbound queue.
//
// Concurrency: a Conn's read pump runs in the upgraded handler goroutine
// during the handshake, then in a goroutine of its own, and is the only
// reader of the socket. Its write pump is the only writer and runs on demand:
// the outbound queue starts one when frames arrive and none runs, and it
// ends when the queue is empty, so an idle client holds one goroutine. Other
// goroutines (actors) reach the client only through Conn.Enqueue, Accepted,
// Refuse and Close, which never block. transport knows nothing of actors: it
// hands each authenticated client to a Gateway.
package transport
