package actors

import (
	"encoding/json"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/supervision"
	"github.com/hyvve/gateway/transport/cluster"
	"github.com/hyvve/gateway/transport/socketio"
)

// roomState is a room's membership. It lives outside the actor instance, in
// the Props producer's closure, so a restarted room (a fresh instance, whose
// watchers are not told) keeps every member; the Watches it placed on its
// members are kept by the members' contexts and keep arriving.
type roomState struct {
	name      string
	childName string // the name its parent spawned it under
	members   memberSet
	childTally
	idleGen uint64 // invalidates an idle timer that was re-armed or cancelled
	timer   *time.Timer
	// self is the room's PID (the same across restarts), for its timers;
	// sweep drops keeps whose session never said it ended (presence_room.go).
	self  *actor.PID
	sweep *time.Timer
	// unsubscribe ends the room's cluster subscription; it is held from the
	// first Started to Stopped, across restarts.
	unsubscribe func()
	// retained is set while the room holds its recovery history ring, from
	// the first Started to Stopped (recovery on).
	retained bool

	// presence is who is present (presence.go); sync, dying and syncGen
	// are its clustered parts (presence_room.go).
	presence presenceSet
	sync     *presenceSync
	dying    map[string]uint64 // gone node → the gen of its expiry timer
	syncGen  uint64
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
	st := &roomState{name: name, childName: roomChildName(name)}
	return d.props(supervision.KindRoom, name, func() actor.Actor { return &roomActor{roomState: st, deps: d} })
}

func (r *roomActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.self = ctx.Self()
		if r.idle() {
			r.armIdle(ctx)
		}
		r.subscribe(ctx)
		r.presenceStarted(ctx)
		if r.deps.history != nil && !r.retained {
			r.deps.history.retain(r.name)
			r.retained = true
		}
	case *actor.Stopped:
		r.cancelIdle()
		if r.sweep != nil {
			r.sweep.Stop()
			r.sweep = nil
		}
		if r.retained {
			r.deps.history.release(r.name)
			r.retained = false
		}
		if r.unsubscribe != nil {
			r.deps.presenceRooms.CompareAndDelete(r.name, ctx.Self())
			r.unsubscribe()
			r.unsubscribe = nil
		}
	case *actor.Terminated:
		r.remove(ctx, m.Who, true)
	case *messages.JoinRoom:
		r.onJoin(ctx, m)
	case *messages.LeaveRoom:
		r.onLeave(ctx, m)
	case *messages.Publish:
		r.onPublish(m)
		r.maybeIdle(ctx) // its last idle report may have been stale: report again
	case *cluster.Delivery: // from another node; not routed by the parent
		if len(m.Event) > 0 && m.Event[0] == 0 {
			r.onPresenceDelivery(m)
			return
		}
		m.Reply(r.fanOut(m.Event, m.Data, nil, "", m.Offset))
	case *presenceQuery:
		r.onPresenceQuery(m)
		r.maybeIdle(ctx)
	case *presenceGone:
		r.onPresenceGone(ctx, m)
	case *keptSweep:
		r.onKeptSweep(ctx)
	case *peerGone:
		r.onPeerGone(ctx, m)
	case *presenceNodeExpired:
		r.onPresenceNodeExpired(m)
	case *presenceSynced:
		if r.sync != nil && r.sync.gen == m.gen {
			r.synced()
		}
	case *roomIdleTimeout:
		if m.gen == r.idleGen && r.idle() {
			r.timer = nil
			ctx.Send(ctx.Parent(), &messages.ChildIdle{Name: r.childName, Handled: r.handled})
		}
	}
}

func (r *roomActor) onJoin(ctx actor.Context, m *messages.JoinRoom) {
	mb := member{pid: m.Conn, out: m.Out, user: m.User, sid: m.SID}
	if r.members.add(mb) {
		ctx.Watch(m.Conn)
		r.cancelIdle()
		r.presenceJoined(mb)
	}
	joined := &messages.RoomJoined{Room: r.name, PID: ctx.Self(), AckID: m.AckID}
	if r.deps.history != nil {
		joined.Offset = r.deps.history.joined()
	}
	ctx.Send(m.Conn, joined)
}

func (r *roomActor) onLeave(ctx actor.Context, m *messages.LeaveRoom) {
	if r.members.has(m.Conn.Id) {
		ctx.Unwatch(m.Conn)
		r.remove(ctx, m.Conn, false)
	}
	ctx.Send(m.Conn, &messages.RoomLeft{Room: r.name, AckID: m.AckID})
}

// remove is idempotent: a member can leave and terminate, or terminate twice.
// ended says the member's connection ended (rather than left the room).
func (r *roomActor) remove(ctx actor.Context, who *actor.PID, ended bool) {
	mb, ok := r.members.get(who.Id)
	if !ok {
		return
	}
	r.members.remove(who.Id)
	r.presenceLeft(mb, ended)
	r.maybeIdle(ctx)
}

// idle reports whether the room holds nothing: no member, no kept session.
func (r *roomActor) idle() bool { return r.members.len() == 0 && r.presence.keptLen() == 0 }

// maybeIdle arms the idle timer of a room that holds nothing.
func (r *roomActor) maybeIdle(ctx actor.Context) {
	if r.idle() && r.timer == nil {
		r.armIdle(ctx)
	}
}

func (r *roomActor) onPublish(m *messages.Publish) {
	n := r.fanOut(m.Event, m.Data, m.Except, m.ExceptSID, m.Offset)
	if !m.Start.IsZero() {
		r.deps.metrics.publishFanout.Observe(time.Since(m.Start).Seconds())
	}
	if m.Reply != nil {
		m.Reply <- n
	}
}

// fanOut encodes the event once and queues the same bytes to every member
// but except; it returns how many queues took it. With recovery on, the
// node's sequencer gives the broadcast its offset and keeps it (history.go).
func (r *roomActor) fanOut(event string, data json.RawMessage, except *actor.PID, exceptSID string, offset uint64) int {
	var n int
	if h := r.deps.history; h != nil {
		n = h.broadcast(r.name, event, data, exceptSID, r.members.list, except, offset)
	} else {
		n = r.fanOutNow(event, data, except)
	}
	r.deps.metrics.publishes.Inc()
	r.deps.metrics.deliveries.Add(float64(n))
	return n
}

// fanOutNow is the fan-out with recovery off: no lock, no offset.
func (r *roomActor) fanOutNow(event string, data json.RawMessage, except *actor.PID) int {
	frame := socketio.AppendEvent(make([]byte, 0, len(event)+len(data)+8), event, data)
	n := 0
	for _, mb := range r.members.list {
		if except != nil && mb.pid.Id == except.Id {
			continue
		}
		if mb.out.Enqueue(frame) {
			n++
		}
	}
	return n
}

// subscribe takes the room's cluster subject once; deliveries come back into
// the mailbox, so the NATS goroutine never waits on the room.
func (r *roomActor) subscribe(ctx actor.Context) {
	if r.unsubscribe != nil || r.deps.cluster == nil {
		return
	}
	self, root := ctx.Self(), r.deps.root
	unsub, err := r.deps.cluster.Subscribe(r.name, func(d *cluster.Delivery) { root.Send(self, d) })
	if err != nil {
		r.deps.log.Warn("cluster subscribe failed; the room is served on this node only", "room", r.name, "err", err)
		return
	}
	r.unsubscribe = unsub
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
