package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/supervision"
)

// admitConnection asks the limiter of one IP for a slot (connection → gateway
// → ips → ip limiter). The answer goes to Conn.
type admitConnection struct {
	IP   string
	Conn *actor.PID
}

// ipSlots is the set of live connections an ip limiter admitted. It lives
// outside the instance so a restarted limiter neither leaks nor frees twice
// (its Watches stay registered with the connections), and in the ips parent
// while any slot is held, so even a limiter stopped for good is followed by
// one that knows every slot.
type ipSlots struct {
	childName string
	admitted  map[string]struct{} // connection pid.Id
	childTally
}

// ipLimiterActor admits up to MAX_CONNECTIONS_PER_IP live connections from one
// client IP. It Watches each one it admits and frees the slot on Terminated,
// whatever ended the connection; it reports idle when it holds none.
type ipLimiterActor struct {
	*ipSlots
	max int
}

func newIPLimiterProps(d *deps, ip string, st *ipSlots) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &ipLimiterActor{ipSlots: st, max: d.cfg.MaxConnectionsPerIP} },
		actor.WithReceiverMiddleware(d.middleware(supervision.KindIPLimiter, ip)...))
}

func (l *ipLimiterActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// A successor of a limiter that stopped for good watches the slots it
		// inherits; one whose connection already ended gets Terminated at once.
		for id := range l.admitted {
			ctx.Watch(&actor.PID{Address: ctx.Self().Address, Id: id})
		}
	case *actor.Terminated:
		if _, ok := l.admitted[m.Who.Id]; ok {
			delete(l.admitted, m.Who.Id)
			l.reportIdle(ctx)
		}
	case *admitConnection:
		if _, ok := l.admitted[m.Conn.Id]; ok {
			ctx.Send(m.Conn, &messages.ConnectionAdmitted{}) // a retry: the answer was lost
			return
		}
		if l.max > 0 && len(l.admitted) >= l.max {
			ctx.Send(m.Conn, &messages.ConnectionRefused{Code: messages.CodeTooManyConnections})
			l.reportIdle(ctx)
			return
		}
		l.admitted[m.Conn.Id] = struct{}{}
		ctx.Watch(m.Conn)
		ctx.Send(m.Conn, &messages.ConnectionAdmitted{})
	}
}

func (l *ipLimiterActor) reportIdle(ctx actor.Context) {
	if len(l.admitted) == 0 {
		ctx.Send(ctx.Parent(), &messages.ChildIdle{Name: l.childName, Handled: l.handled})
	}
}

// ipsActor parents the ip limiters, spawning one per IP on first use.
type ipsActor struct {
	limiters *lazyChildren
	slots    map[string]*ipSlots // by IP, while its limiter lives or holds slots
	deps     *deps
}

func newIPsProps(d *deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		a := &ipsActor{deps: d, slots: map[string]*ipSlots{}}
		a.limiters = newLazyChildren(supervision.PrefixIPLimiter, func(ip string) *actor.Props {
			st := a.slots[ip]
			if st == nil {
				st = &ipSlots{childName: supervision.ChildName(supervision.PrefixIPLimiter, ip), admitted: map[string]struct{}{}}
				a.slots[ip] = st
			}
			st.handled = 0 // a new child: its parent counts routed messages from 0
			return newIPLimiterProps(d, ip, st)
		})
		return a
	}, actor.WithSupervisor(supervision.Strategy()),
		actor.WithReceiverMiddleware(d.middleware(supervision.KindIPs, supervision.NameIPs)...))
}

func (a *ipsActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Terminated:
		if ip, ok := a.limiters.terminated(ctx, m.Who); ok {
			// A successor limiter may already run and own st: only with
			// none alive is st this actor's to read.
			if st := a.slots[ip]; st != nil && a.limiters.get(ip) == nil && len(st.admitted) == 0 {
				delete(a.slots, ip)
			}
		}
	case *admitConnection:
		a.limiters.route(ctx, m.IP, m, true)
	case *messages.ChildIdle:
		a.limiters.idle(ctx, m)
	case *supervision.InjectFault:
		a.limiters.forward(ctx, m.Target, m)
	}
}
