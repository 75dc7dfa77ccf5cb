package actors

import (
	"encoding/json"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/socketio"
)

// What a connection sends its client directly (events, acks, errors) and
// its security events.

// emit sends an event to this client.
func (a *connectionActor) emit(event string, data json.RawMessage) {
	a.conn.Enqueue(socketio.AppendEvent(nil, event, data))
}

// ack answers an event that asked for an ack; without an ack id it does nothing.
func (a *connectionActor) ack(ackID int64, data json.RawMessage) {
	if ackID != socketio.NoAck {
		a.conn.Enqueue(socketio.AppendAck(nil, ackID, data))
	}
}

// fail answers an event with an error: as its ack {"error": CODE} when it
// asked for one, else as an `error` event {"code": CODE}.
func (a *connectionActor) fail(ackID int64, err *messages.Error) {
	if ackID != socketio.NoAck {
		a.ack(ackID, err.AckBody())
		return
	}
	a.emit("error", err.EventBody())
}

func (a *connectionActor) securityEvent(ev security.Event, detail, room string) {
	a.d.events.Emit(ev, security.EventFields{
		UserID: a.claims.Subject, WorkspaceID: a.claims.WorkspaceID, IP: a.conn.IP(), SID: a.sid, Room: room, Detail: detail,
	})
}

func joinedBody(key, room string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{key: room})
	return b
}
