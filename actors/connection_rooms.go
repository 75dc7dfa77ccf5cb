package actors

import (
	"encoding/json"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
)

// A connection's rooms: join_room and leave_room, the rooms' answers, and a
// room that ends under it.

// joinableRoom reads the room of a join_room or presence request and checks
// the client may join it (docs/PROTOCOL.md "Rooms").
func (a *connectionActor) joinableRoom(data json.RawMessage) (string, error) {
	name, err := security.DecodeRoomRequest(data)
	if err != nil {
		return "", err
	}
	room, err := security.ParseRoom(name)
	if err != nil {
		return "", err
	}
	if err := security.CanJoin(a.claims, room); err != nil {
		a.securityEvent(security.EventUnauthorizedRoomAccess, "", name)
		return "", err
	}
	return name, nil
}

func (a *connectionActor) joinRoom(ctx actor.Context, data json.RawMessage, ackID int64) error {
	name, err := a.joinableRoom(data)
	if err != nil {
		return err
	}
	if _, ok := a.rooms[name]; ok {
		a.ack(ackID, joinedBody("joined", name))
		return nil
	}
	ctx.Send(a.d.gateway, &messages.JoinRoom{Room: name, Conn: ctx.Self(), Out: a.conn, AckID: ackID, User: a.claims.Subject, SID: a.sid})
	return nil
}

func (a *connectionActor) onRoomJoined(ctx actor.Context, m *messages.RoomJoined) {
	if len(a.leaveOnJoin) > 0 && a.leftOnJoin(ctx, m) {
		return
	}
	if _, ok := a.rooms[m.Room]; !ok {
		a.rooms[m.Room] = m.PID
		ctx.Watch(m.PID) // a room that fails for good tells its members
		if a.d.history != nil {
			if _, kept := a.joinedAt.get(m.Room); !kept {
				a.joinedAt.set(m.Room, m.Offset)
			}
		}
		if a.recovery == nil {
			a.mirrorSession()
		}
	}
	a.ack(m.AckID, joinedBody("joined", m.Room))
	if r := a.recovery; r != nil && r.gates[m.Room] != nil && !a.stopping {
		if r.waiting--; r.waiting == 0 {
			a.roomsRejoined(ctx)
		}
	}
}

func (a *connectionActor) leaveRoom(ctx actor.Context, data json.RawMessage, ackID int64) error {
	name, err := security.DecodeRoomRequest(data)
	if err != nil {
		return err
	}
	if _, err := security.ParseRoom(name); err != nil {
		return err
	}
	if pid, ok := a.rooms[name]; ok {
		ctx.Send(pid, &messages.LeaveRoom{Room: name, Conn: ctx.Self(), AckID: ackID})
		return nil
	}
	// Not joined, or its join is still on its way: the leave follows the
	// join's path, so it reaches the room after the join.
	ctx.Send(a.d.gateway, &messages.LeaveRoom{Room: name, Conn: ctx.Self(), AckID: ackID, Routed: true})
	return nil
}

func (a *connectionActor) onRoomLeft(ctx actor.Context, m *messages.RoomLeft) {
	if pid, ok := a.rooms[m.Room]; ok {
		delete(a.rooms, m.Room)
		a.joinedAt.del(m.Room)
		ctx.Unwatch(pid)
		a.mirrorSession()
	}
	a.ack(m.AckID, joinedBody("left", m.Room))
}

// onRoomTerminated handles the end of a room this connection is in: rooms
// stop on their own only when empty, so a member seeing it means the room
// failed for good (or the gateway is shutting down).
func (a *connectionActor) onRoomTerminated(who *actor.PID) {
	for name, pid := range a.rooms {
		if pid.Id != who.Id {
			continue
		}
		delete(a.rooms, name)
		a.joinedAt.del(name)
		if !a.d.shuttingDown.Load() {
			a.emit("error", (&messages.Error{Code: messages.CodeRoomFailed, Room: name}).EventBody())
		}
		return
	}
}
