// Package transport is the gateway's edge: the HTTP listener, the WebSocket
// upgrade with its Origin and client-IP checks, the publish API, health and
// metrics endpoints, and Conn, one Socket.IO client with its read pump, its
// write pump and its bounded outbound queue.
//
// Concurrency: a Conn's read pump runs in a goroutine the upgrade handler starts
// during the handshake; after it, both pumps run on demand. The poller
// (epoll, Linux) starts a read pump when a parked socket turns readable, and
// the pump parks the socket again once gorilla's buffer is empty; the
// outbound queue starts a write pump when frames arrive, and the pump ends
// when the queue is empty. An idle client holds no goroutine, and there is
// never more than one reader and one writer per socket. The Engine.IO
// heartbeat and the close graces run on timers, since a parked socket has
// no reader whose deadline could fire. Other goroutines (actors) reach the
// client only through Conn.Enqueue, Accepted, Refuse and Close, which never
// block. transport knows nothing of actors: it hands each authenticated
// client to a Gateway.
package transport
