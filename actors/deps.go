package actors

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/supervision"
	"github.com/hyvve/gateway/transport/cluster"
)

// deps is what every actor of one System shares. Fields are set before the
// first actor is spawned and not changed after, except where noted.
type deps struct {
	cfg        Config
	root       *actor.RootContext
	log        *slog.Logger
	events     *security.EventLog
	verifier   security.Verifier
	policy     *security.Policy
	metrics    *metrics
	httpClient *http.Client
	gateway    *actor.PID
	cluster    *cluster.Node // nil-safe: a nil node is a single-node gateway

	// conns maps a connection's sid to its PID, for fault injection and
	// kicks by sid. Written by each connection actor at Started and Stopped.
	conns sync.Map
	// templates holds one Props per actor kind spawned per connection or
	// room (see props).
	templatesMu sync.Mutex
	templates   map[supervision.Kind]*actor.Props
	// shuttingDown is set before the tree is stopped for SIGTERM, so the
	// connections it stops know to say "server shutdown".
	shuttingDown atomic.Bool
}

// middleware returns the receiver middleware of one actor of kind named name.
// For a lazily spawned child, handled counts the messages its parent routed
// to it, counted before anything can fail on them (see lazyChildren).
func (d *deps) middleware(kind supervision.Kind, name string, handled *uint64) []actor.ReceiverMiddleware {
	mw := []actor.ReceiverMiddleware{supervision.RecoverTeardown(func(k supervision.Kind, r any) {
		d.log.Error("panic during actor teardown recovered", "kind", k, "err", r)
	}), answerOnFailure}
	if handled != nil {
		mw = append(mw, countRouted(handled))
	}
	if d.cfg.FaultInjection {
		mw = append(mw, supervision.FaultMiddleware(kind, name))
	}
	return mw
}

// props returns the Props of one actor of kind named name, made by produce.
// Without fault injection, actors of a kind share one template's
// middleware chain and options and differ only in their producer: per
// connection that is three actors, and the chains were a sizeable part of
// an idle connection's memory. Fault injection keeps per-actor middleware
// (the armed fault is per actor). A kind's template is built on its first
// use: every call for a kind must pass handled, or none must.
func (d *deps) props(kind supervision.Kind, name string, handled *uint64, produce actor.Producer, opts ...actor.PropsOption) *actor.Props {
	// Idle, these actors hold a mailbox each: the lock-free one is a stub
	// node, the default a 10-slot ring. Their traffic is light (a room's
	// fan-out bypasses mailboxes), so a node allocated per message costs
	// nothing that shows.
	opts = append(opts, actor.WithMailbox(actor.UnboundedLockfree()))
	if d.cfg.FaultInjection {
		opts = append(opts, actor.WithReceiverMiddleware(d.middleware(kind, name, handled)...))
		return actor.PropsFromProducer(produce, opts...)
	}
	d.templatesMu.Lock()
	tmpl := d.templates[kind]
	if tmpl == nil {
		mw := d.middleware(kind, name, nil)
		if handled != nil {
			mw = append(mw, countRoutedByActor)
		}
		// Its own producer is never used: each copy gets its actor's.
		tmpl = actor.PropsFromProducer(nil, append(opts, actor.WithReceiverMiddleware(mw...))...)
		if d.templates == nil {
			d.templates = map[supervision.Kind]*actor.Props{}
		}
		d.templates[kind] = tmpl
	}
	d.templatesMu.Unlock()
	p := *tmpl // shares the template's middleware chain
	return p.Configure(actor.WithProducer(produce))
}

// routedCounter is an actor whose parent counts what it routes to it (see
// lazyChildren); countRoutedByActor counts on its side.
type routedCounter interface{ routedCount() *uint64 }

// countRoutedByActor is countRouted for a shared template: the counter is
// the actor's own, found through the context.
func countRoutedByActor(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		if isRouted(env.Message) {
			if rc, ok := ctx.Actor().(routedCounter); ok {
				*rc.routedCount()++
			}
		}
		next(ctx, env)
	}
}

// spawnNamed spawns a child called name. Names are unique by construction
// (lazyChildren, sids), so a clash is a bug worth a loud log line.
func spawnNamed(ctx actor.Context, props *actor.Props, name string) *actor.PID {
	pid, err := ctx.SpawnNamed(props, name)
	if err != nil {
		ctx.Logger().Error("spawn failed", "name", name, "err", err)
	}
	return pid
}

// minLevel is a slog handler that drops records below a level: protoactor's
// own logging is routed to the gateway's logger at WARN and above.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.level}
}

func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.level} }

// answerOnFailure answers the waiting caller of a message the actor fails
// on, then lets the panic go on to the supervisor: the message is lost, but
// the publisher hears so at once instead of after askTimeout.
func answerOnFailure(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		defer func() {
			if r := recover(); r != nil {
				switch m := env.Message.(type) {
				case *messages.Publish:
					if m.Reply != nil {
						m.Reply <- failedReply
					}
				case *spawnConnection:
					m.Reply <- nil
				}
				panic(r)
			}
		}()
		next(ctx, env)
	}
}

// failedReply on a Publish's Reply says the message was lost to a failure.
const failedReply = -1

// countRouted counts the messages a parent routes to its lazy children
// (lazyChildren.route), whether or not the child then fails on them, so a
// lost message never holds back the child's idle stop.
func countRouted(handled *uint64) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
			if isRouted(env.Message) {
				*handled++
			}
			next(ctx, env)
		}
	}
}

// isRouted reports the messages a parent routes to a lazily spawned child.
func isRouted(msg any) bool {
	switch msg.(type) {
	case *messages.JoinRoom, *messages.Publish, *spawnConnection, *admitConnection:
		return true
	}
	return false
}
