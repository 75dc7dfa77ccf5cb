package messages

import (
	"encoding/json"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// JoinRoom asks a room to add a connection (connection → gateway → workspace
// or users → room). The room Watches Conn, so the connection's end, however it
// happens, removes it.
type JoinRoom struct {
	Room  string
	Conn  *actor.PID
	Out   Outbox
	AckID int64
	// User and SID are the connection's user and session sid, its presence
	// in the room (docs/PROTOCOL.md "Presence"); a recovery rejoins with the
	// kept session's sid, so it is neither a leave nor a join.
	User, SID string
}

// LeaveRoom asks a room to remove a connection (connection → room, or
// connection → gateway → parent → room when the connection's join of it is
// still on its way: Routed is then set, and the ack comes from the parent
// when the room is gone).
type LeaveRoom struct {
	Routed bool
	Room   string
	Conn   *actor.PID
	AckID  int64
}

// Publish asks a room to broadcast an event to its members (publish API or a
// connection → gateway → workspace → room). The room encodes the frame once.
type Publish struct {
	Room   string
	Event  string
	Data   json.RawMessage
	Except *actor.PID // a member that must not receive it (state_sync's sender)
	// ExceptSID is Except's Socket.IO sid, kept with the broadcast in the
	// recovery history so a replay never sends it back to its sender.
	ExceptSID string
	Reply     chan<- int // optional, buffered: receives the recipients count
	// Start, when set, is when the publish entered the gateway: the room
	// observes the time to its fan-out's end (ws_publish_fanout_seconds).
	Start time.Time
	// Direct is set when a member sends it straight to the room it is in,
	// not routed by the room's parent (which counts what it routes).
	Direct bool
}

// PublishResult answers a publish from outside the tree: how many members it
// was queued to, on every node, and whether a node's count is missing.
type PublishResult struct {
	Recipients int
	Partial    bool
}
