package messages

import (
	"encoding/json"

	"github.com/asynkron/protoactor-go/actor"
)

// Outbox is a connection's bounded outbound queue as rooms see it. Enqueue
// never blocks: false means the frame was not queued (the client is too slow
// or already closing) and the connection is being closed by its owner.
type Outbox interface {
	Enqueue(frame []byte) bool
}

// ClientEvent is a Socket.IO EVENT from the client. The read pump sends it to
// the connection actor, which passes it through its rate limiter.
type ClientEvent struct {
	Event string
	Args  []json.RawMessage // alias the frame the read pump decoded; never modified
	AckID int64             // socketio.NoAck (-1) when the client wants no ack
}

// SocketClosed tells the connection actor that its socket ended (read pump).
type SocketClosed struct {
	Reason CloseReason
}

// ConnectionAdmitted tells a pending connection actor its per-IP limiter
// admitted it (ip limiter → connection).
type ConnectionAdmitted struct{}

// ConnectionRefused tells a pending connection actor it was refused at
// CONNECT (ip limiter → connection).
type ConnectionRefused struct {
	Code Code
}

// EventAllowed returns an inbound event the rate limiter let through
// (rate limiter → connection).
type EventAllowed struct {
	Event *ClientEvent
}

// EventRateLimited returns an inbound event over the rate limit, not to be
// processed (rate limiter → connection).
type EventRateLimited struct {
	Event *ClientEvent
}

// RoomJoined confirms a join (room → connection). With recovery on, Offset
// is the last offset assigned when the member was added: every broadcast of
// the room after it reaches the member (or its replay).
type RoomJoined struct {
	Room   string
	PID    *actor.PID
	AckID  int64
	Offset uint64
}

// RoomLeft confirms a leave (room → connection).
type RoomLeft struct {
	Room  string
	AckID int64
}

// Kick asks a connection to end with the given reason (operator or policy →
// connection).
type Kick struct {
	Reason CloseReason
}

// ActionAnswered carries the outcome of a dashboard_action webhook call back
// into the connection actor (webhook goroutine → connection).
type ActionAnswered struct {
	AckID  int64
	Result json.RawMessage
	Err    Code
}
