// Package transport is the gateway's edge: the HTTP listener, the Engine.IO
// transports (WebSocket, and HTTP long-polling with the upgrade to
// WebSocket), their Origin and client-IP checks, the publish API, health and
// metrics endpoints, and the relay of polling requests between clustered
// nodes. It hands each authenticated client to a Gateway as a
// messages.Client and knows nothing of actors.
//
// # Files
//
//   - socket.go: the Socket.IO side of one session, whatever carries it:
//     its outbound queue (outbound.go), packet handling, CONNECT
//     authentication; heartbeat.go: its ping timer and grace timers.
//   - conn.go (reader: read states, park, abort) and writer.go (write pump,
//     vectored write, close frame): Conn, the WebSocket carrier.
//     poller_linux.go: the epoll poller where idle sockets wait.
//   - polling.go: pollSession, the long-polling carrier; upgrade.go: the
//     probe that moves a polling session onto a WebSocket; relay.go:
//     polling requests for a session another node holds.
//   - server.go: routing, the session tables, shutdown; eioerror.go:
//     Engine.IO's request errors and CORS; httpserver.go: the http.Server's
//     timeouts and the connection budget.
//
// # Concurrency
//
// A Conn's handshake runs in a goroutine the upgrade handler starts (so
// net/http frees the request at once); after it, both pumps run on demand. The poller starts a read
// pump when a parked socket turns readable, and the pump parks the socket
// again once gorilla's buffer is empty; the outbound queue starts a write
// pump when frames arrive, and the pump ends when the queue is empty. An
// idle client holds no goroutine, and there is never more than one reader
// and one writer per socket. A polling session's reader is the POST being
// handled (one at a time) and its writer the pending GET. The Engine.IO
// heartbeat and the close graces run on timers. Other goroutines (actors)
// reach a client only through messages.Client, whose methods never block.
//
// # Lock order
//
// Locks are taken in this order, never the other way round, and none is
// held while calling out of the package (the gateway, the verifier):
//
//	pollSession.mu  (one POST, or the upgrade switch)
//	  → pollSession.drainMu  (the consumer of the queue: a GET, or the switch)
//	    → outbound.mu  (the queue)
//	Conn.rmu  (who reads the socket) → poller.mu
//	socket.hbMu  (heartbeat and grace timers): released before the carrier
//	  is aborted, and never held with any lock above
//	Server.sessionsMu  (the session tables): held only to read or change
//	  them; CloseAll copies the sessions out before closing them
//
// The queue's lock is never held while a pump starts (unlockAndRun) or its
// onClose hook runs. gorilla's WriteControl (the close frame) is the one
// write outside the write pump; gorilla allows it concurrently with the
// pump's writes. A probing WebSocket answers 3probe from its handshake
// goroutine, before it has a write pump.
package transport
