package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/supervision"
)

// lazyChildren is how a parent keeps children it spawns on first use and
// stops when they report ChildIdle: workspaces under the gateway, rooms under
// a workspace or users, ip limiters under ips.
//
// The parent is the only router to these children, so it can tell whether a
// child's idle report is stale: it stops the child only when the child has
// handled every message routed to it. Messages routed while a child is
// stopping wait here and go to its successor, so none is lost in the race
// between "I am idle" and a new join.
type lazyChildren struct {
	prefix string                // the children's kind prefix (supervision.Prefix…)
	kind   supervision.Kind      // the children's kind, told by that prefix
	byName map[string]*lazyChild // child name → child
	byID   map[string]*lazyChild // pid.Id → child
	props  func(raw string) *actor.Props
	// onSpawn and onStop, if set, follow each child's lifetime (gauges).
	onSpawn, onStop func()
}

// childTally is embedded in a lazy child's state, which outlives the
// child's instances: handled counts the messages its parent routed to it and
// it took in (countRouted), which its ChildIdle report carries.
type childTally struct{ handled uint64 }

func (t *childTally) routedTally() *uint64 { return &t.handled }

type lazyChild struct {
	raw      string // the room name, workspace id or IP it serves
	name     string // its actor name: supervision.ChildName(prefix, raw)
	pid      *actor.PID
	routed   uint64
	stopping bool
	pending  []any
}

func newLazyChildren(prefix string, props func(raw string) *actor.Props) *lazyChildren {
	return &lazyChildren{prefix: prefix, kind: supervision.KindOf(&actor.PID{Id: prefix}), byName: map[string]*lazyChild{},
		byID: map[string]*lazyChild{}, props: props}
}

// route sends msg to the child serving raw. When the child does not exist it is spawned
// if create is set; otherwise route reports false and sends nothing. A child
// stopping idle hands msg to its successor: one spawned for it with create,
// or, without create, one already on its way (else route reports false).
func (l *lazyChildren) route(ctx actor.Context, raw string, msg any, create bool) bool {
	name := supervision.ChildName(l.prefix, raw)
	c := l.byName[name]
	if c == nil {
		if !create {
			return false
		}
		c = &lazyChild{raw: raw, name: name}
		l.start(ctx, c)
	}
	if c.stopping {
		// Without create, only a successor already on its way takes it.
		if !create && len(c.pending) == 0 {
			return false
		}
		c.pending = append(c.pending, msg)
		return true
	}
	c.routed++
	ctx.Send(c.pid, msg)
	return true
}

// get returns the live child serving raw, or nil.
func (l *lazyChildren) get(raw string) *actor.PID {
	if c := l.byName[supervision.ChildName(l.prefix, raw)]; c != nil && !c.stopping {
		return c.pid
	}
	return nil
}

func (l *lazyChildren) start(ctx actor.Context, c *lazyChild) {
	c.pid = spawnNamed(ctx, l.props(c.raw), c.name)
	c.routed, c.stopping = 0, false
	l.byName[c.name] = c
	l.byID[c.pid.Id] = c
	if l.onSpawn != nil {
		l.onSpawn()
	}
}

// idle stops the reporting child if nothing routed to it is still in flight.
func (l *lazyChildren) idle(ctx actor.Context, m *messages.ChildIdle) {
	c := l.byName[m.Name]
	if c == nil || c.stopping || c.routed != m.Handled {
		return // stale: something reached it after it reported
	}
	c.stopping = true
	ctx.Stop(c.pid)
}

// terminated handles a child's end and returns the raw name it served; ok
// is false when who is not one of these children. A child that had messages
// waiting is spawned anew.
func (l *lazyChildren) terminated(ctx actor.Context, who *actor.PID) (raw string, ok bool) {
	c := l.byID[who.Id]
	if c == nil {
		return "", false
	}
	delete(l.byID, who.Id)
	delete(l.byName, c.name)
	if l.onStop != nil {
		l.onStop()
	}
	if len(c.pending) > 0 {
		pending := c.pending
		c.pending = nil
		l.start(ctx, c)
		for _, msg := range pending {
			c.routed++
			ctx.Send(c.pid, msg)
		}
	}
	return c.raw, true
}

// forward hands a fault injection meant for one of these children to the
// live child serving raw; it answers 0 when there is none or the fault is for
// another kind. It is not counted as routed: the fault middleware swallows it
// before the child could count it.
func (l *lazyChildren) forward(ctx actor.Context, raw string, f *supervision.InjectFault) {
	if f.Kind != l.kind {
		f.NotFound()
		return
	}
	l.relay(ctx, raw, f)
}

// relay hands a fault injection on to the live child serving raw, whatever
// the fault's kind (the child routes it further), or answers 0.
func (l *lazyChildren) relay(ctx actor.Context, raw string, f *supervision.InjectFault) {
	if pid := l.get(raw); pid != nil {
		ctx.Send(pid, f)
		return
	}
	f.NotFound()
}
