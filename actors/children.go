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
	byName map[string]*lazyChild
	byID   map[string]*lazyChild // pid.Id → child
	spawn  func(ctx actor.Context, name string) *actor.PID
	// onSpawn and onStop, if set, follow each child's lifetime (gauges).
	onSpawn, onStop func()
}

type lazyChild struct {
	name     string
	pid      *actor.PID
	routed   uint64
	stopping bool
	pending  []any
}

func newLazyChildren(spawn func(ctx actor.Context, name string) *actor.PID) *lazyChildren {
	return &lazyChildren{byName: map[string]*lazyChild{}, byID: map[string]*lazyChild{}, spawn: spawn}
}

// route sends msg to child name. When the child does not exist it is spawned
// if create is set; otherwise route reports false and sends nothing.
func (l *lazyChildren) route(ctx actor.Context, name string, msg any, create bool) bool {
	c := l.byName[name]
	if c == nil {
		if !create {
			return false
		}
		c = &lazyChild{name: name}
		l.start(ctx, c)
	}
	if c.stopping {
		if !create {
			return false
		}
		c.pending = append(c.pending, msg)
		return true
	}
	c.routed++
	ctx.Send(c.pid, msg)
	return true
}

// get returns the live child called name, or nil.
func (l *lazyChildren) get(name string) *actor.PID {
	if c := l.byName[name]; c != nil && !c.stopping {
		return c.pid
	}
	return nil
}

// each calls f for every live child.
func (l *lazyChildren) each(f func(name string, pid *actor.PID)) {
	for _, c := range l.byName {
		if !c.stopping {
			f(c.name, c.pid)
		}
	}
}

func (l *lazyChildren) start(ctx actor.Context, c *lazyChild) {
	c.pid = l.spawn(ctx, c.name)
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

// terminated handles a child's end; it reports false when who is not one of
// these children. A child that had messages waiting is spawned anew.
func (l *lazyChildren) terminated(ctx actor.Context, who *actor.PID) bool {
	c := l.byID[who.Id]
	if c == nil {
		return false
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
	return true
}

// forward sends a fault injection to the live child called name, or answers 0
// when there is none. It is not counted as routed: the fault middleware
// swallows it before the child could count it.
func (l *lazyChildren) forward(ctx actor.Context, name string, f *supervision.InjectFault) {
	if pid := l.get(name); pid != nil {
		ctx.Send(pid, f)
		return
	}
	if f.Reply != nil {
		f.Reply <- 0
	}
}
