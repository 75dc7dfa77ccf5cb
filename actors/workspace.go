package actors

import (
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/supervision"
)

// spawnConnection asks a workspace to spawn the actor of an authenticated
// client (System.Accept → gateway → workspace); its PID comes back on Reply.
type spawnConnection struct {
	Conn   messages.Client
	Claims *security.Claims
	Resume messages.Resume
	Inbox  *inbox // counts the events handed to the connection and not yet taken
	Reply  chan<- *actor.PID
}

// workspaceState outlives a resumed workspace instance.
type workspaceState struct {
	childTally
	sessions uint64 // detached sessions spawned, for their names
}

// workspaceActor supervises one workspace's connections and rooms. It is
// spawned on first use and reports idle to the gateway when it holds no
// child, so the gateway can stop it.
type workspaceActor struct {
	*workspaceState
	d     *deps
	id    string
	rooms *lazyChildren
}

func newWorkspaceProps(d *deps, id string) *actor.Props {
	st := &workspaceState{}
	return actor.PropsFromProducer(func() actor.Actor {
		return &workspaceActor{workspaceState: st, d: d, id: id, rooms: newRoomChildren(d)}
	}, actor.WithSupervisor(supervision.Strategy()),
		actor.WithReceiverMiddleware(d.middleware(supervision.KindWorkspace, id)...))
}

// newRoomChildren keeps rooms as lazy children and the rooms gauge with them.
func newRoomChildren(d *deps) *lazyChildren {
	rooms := newLazyChildren(supervision.PrefixRoom, func(room string) *actor.Props { return newRoomProps(d, room) })
	rooms.onSpawn = d.metrics.roomsActive.Inc
	rooms.onStop = d.metrics.roomsActive.Dec
	return rooms
}

func (w *workspaceActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Terminated:
		w.rooms.terminated(ctx, m.Who) // a room, or else a connection: either way, maybe idle now
		w.reportIdle(ctx)
	case *spawnConnection:
		m.Reply <- spawnNamed(ctx, newConnectionProps(w.d, m.Conn, m.Claims, m.Resume, m.Inbox), supervision.PrefixConnection+m.Conn.SID())
	case *detachSession:
		// A sibling of the connections, so the workspace lives while it does.
		w.sessions++
		spawnNamed(ctx, newSessionProps(w.d, m.rec), supervision.PrefixSession+strconv.FormatUint(w.sessions, 10))
	case *messages.JoinRoom:
		w.rooms.route(ctx, m.Room, m, true)
	case *messages.LeaveRoom:
		if !w.rooms.route(ctx, m.Room, m, false) {
			leftWithoutRoom(ctx, m)
		}
		w.reportIdle(ctx)
	case *messages.Publish:
		if !w.rooms.route(ctx, m.Room, m, false) {
			noRoom(w.d, m)
		}
		w.reportIdle(ctx) // an earlier report may have been stale
	case *presenceQuery, *presenceGone:
		if !w.rooms.route(ctx, presenceRoom(m), m, presenceSpawns(m)) {
			noPresence(w.d, m)
		}
		w.reportIdle(ctx)
	case *messages.ChildIdle:
		w.rooms.idle(ctx, m)
	case *supervision.InjectFault:
		w.rooms.forward(ctx, m.Target, m)
	}
}

func (w *workspaceActor) reportIdle(ctx actor.Context) {
	if len(ctx.Children()) == 0 {
		ctx.Send(ctx.Parent(), &messages.ChildIdle{Name: supervision.ChildName(supervision.PrefixWorkspace, w.id), Handled: w.handled})
	}
}

// usersActor parents the user rooms, user:{sub}, one per user with a live
// connection (and for ROOM_IDLE_TIMEOUT after). It lives as long as the gateway.
type usersActor struct {
	d     *deps
	rooms *lazyChildren
}

func newUsersProps(d *deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &usersActor{d: d, rooms: newRoomChildren(d)} },
		actor.WithSupervisor(supervision.Strategy()),
		actor.WithReceiverMiddleware(d.middleware(supervision.KindUsers, supervision.NameUsers)...))
}

func (u *usersActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Terminated:
		u.rooms.terminated(ctx, m.Who)
	case *messages.JoinRoom:
		u.rooms.route(ctx, m.Room, m, true)
	case *messages.LeaveRoom:
		if !u.rooms.route(ctx, m.Room, m, false) {
			leftWithoutRoom(ctx, m)
		}
	case *messages.Publish:
		if !u.rooms.route(ctx, m.Room, m, false) {
			noRoom(u.d, m)
		}
	case *presenceQuery, *presenceGone:
		if !u.rooms.route(ctx, presenceRoom(m), m, presenceSpawns(m)) {
			noPresence(u.d, m)
		}
	case *messages.ChildIdle:
		u.rooms.idle(ctx, m)
	case *supervision.InjectFault:
		u.rooms.forward(ctx, m.Target, m)
	}
}

// noRoom answers a publish to a room that has no actor here: no recipients,
// but kept for recovery when a kept session holds the room (history.keepUnheard).
func noRoom(d *deps, m *messages.Publish) {
	if d.history != nil {
		d.history.keepUnheard(m.Room, m.Event, m.Data, m.ExceptSID, m.Offset)
	}
	if m.Reply != nil {
		m.Reply <- 0
	}
}
