package messages

// Client is one Socket.IO client as the actors see it, whatever carries it: a
// WebSocket, or an HTTP long-polling session that may upgrade to one. The
// transport implements it; the actors' unit tests fake it. No method blocks.
type Client interface {
	Outbox
	// SID is the Socket.IO session id, the client's socket.id.
	SID() string
	// Transport names what carries the client now: "websocket" or "polling".
	Transport() string
	// IP is the client's address as the gateway believes it (TRUSTED_PROXIES).
	IP() string
	// Accepted sends the CONNECT answer with the Socket.IO sid the client
	// will know as socket.id and, when connection state recovery is on, its
	// private session id pid (empty: left out). The client is in.
	Accepted(sid, pid string)
	// Refuse answers the CONNECT with a CONNECT_ERROR carrying code, then ends
	// the client after a grace period.
	Refuse(code Code)
	// Close ends the client for reason; frames already queued still go out.
	// Idempotent.
	Close(reason CloseReason)
}

// Resume is what a CONNECT's auth asks to recover (docs/PROTOCOL.md "Connection state recovery"): the private
// session id and the offset of the last broadcast the client received
// (socket.io-client sends both when it reconnects). The zero value asks for
// nothing. PID is a secret: never log it.
type Resume struct {
	PID       string
	Offset    string
	HasOffset bool
}
