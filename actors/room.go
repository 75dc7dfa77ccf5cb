package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/supervision"
	"github.com/hyvve/gateway/transport/socketio"
)

// roomState is a room's membership. It lives outside the actor instance, in
// the Props producer's closure, so a restarted room (a fresh instance, whose
// watchers are not told) keeps every member; the Watches it placed on its
// members are kept by the members' contexts and keep arriving.
type roomState struct {
	name      string
	childName string            // the name its parent spawned it under
	members   map[string]member // connection pid.Id → member
	handled   uint64            // messages routed by the parent and handled
	idleGen   uint64            // invalidates an idle timer that was re-armed or cancelled
	timer     *time.Timer
}

type member struct {
	pid *actor.PID
	out messages.Outbox
}

// roomActor fans out broadcasts to the connections that joined it. It
// encodes each broadcast once and hands the same bytes straight to every
// member's outbound queue, so one slow member never holds up the others.
type roomActor struct {
	*roomState
	deps *deps
}

// roomIdleTimeout is sent by a room's own timer (not ReceiveTimeout, which
// races under -race at this protoactor version).
type roomIdleTimeout struct{ gen uint64 }

func newRoomProps(d *deps, name string) *actor.Props {
	st := &roomState{name: name, childName: roomChildName(name), members: map[string]member{}}
	return actor.PropsFromProducer(func() actor.Actor { return &roomActor{roomState: st, deps: d} },
		actor.WithReceiverMiddleware(d.middleware(supervision.KindRoom, name)...))
}

func (r *roomActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if len(r.members) == 0 {
			r.armIdle(ctx)
		}
	case *actor.Stopped:
		r.cancelIdle()
	case *actor.Terminated:
		r.remove(ctx, m.Who)
	case *messages.JoinRoom:
		r.handled++
		r.onJoin(ctx, m)
	case *messages.LeaveRoom:
		r.onLeave(ctx, m)
	case *messages.Publish:
		r.handled++
		r.onPublish(m)
	case *roomIdleTimeout:
		if m.gen == r.idleGen && len(r.members) == 0 {
			ctx.Send(ctx.Parent(), &messages.ChildIdle{Name: r.childName, Handled: r.handled})
		}
	}
}

func (r *roomActor) onJoin(ctx actor.Context, m *messages.JoinRoom) {
	if _, ok := r.members[m.Conn.Id]; !ok {
		r.members[m.Conn.Id] = member{pid: m.Conn, out: m.Out}
		ctx.Watch(m.Conn)
		r.cancelIdle()
	}
	ctx.Send(m.Conn, &messages.RoomJoined{Room: r.name, PID: ctx.Self(), AckID: m.AckID})
}

func (r *roomActor) onLeave(ctx actor.Context, m *messages.LeaveRoom) {
	if _, ok := r.members[m.Conn.Id]; ok {
		ctx.Unwatch(m.Conn)
		r.remove(ctx, m.Conn)
	}
	ctx.Send(m.Conn, &messages.RoomLeft{Room: r.name, AckID: m.AckID})
}

// remove is idempotent: a member can leave and terminate, or terminate twice.
func (r *roomActor) remove(ctx actor.Context, who *actor.PID) {
	if _, ok := r.members[who.Id]; !ok {
		return
	}
	delete(r.members, who.Id)
	if len(r.members) == 0 {
		r.armIdle(ctx)
	}
}

func (r *roomActor) onPublish(m *messages.Publish) {
	frame := socketio.AppendEvent(make([]byte, 0, len(m.Event)+len(m.Data)+8), m.Event, m.Data)
	n := 0
	for id, mb := range r.members {
		if m.Except != nil && id == m.Except.Id {
			continue
		}
		if mb.out.Enqueue(frame) {
			n++
		}
	}
	r.deps.metrics.publishes.Inc()
	r.deps.metrics.deliveries.Add(float64(n))
	if m.Reply != nil {
		m.Reply <- n
	}
}

func (r *roomActor) armIdle(ctx actor.Context) {
	r.cancelIdle()
	gen, self, root := r.idleGen, ctx.Self(), r.deps.root
	r.timer = time.AfterFunc(r.deps.cfg.RoomIdleTimeout, func() { root.Send(self, &roomIdleTimeout{gen: gen}) })
}

func (r *roomActor) cancelIdle() {
	r.idleGen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// roomChildName is the actor name of the room called room.
func roomChildName(room string) string { return supervision.ChildName(supervision.PrefixRoom, room) }
