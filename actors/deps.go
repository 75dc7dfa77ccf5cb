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
	tasks      *tasks        // goroutines started off the mailboxes; Shutdown waits for them

	// conns maps a connection's sid to its PID, for fault injection and
	// kicks by sid. Written by each connection actor at Started and Stopped
	// (and when it recovers a session: then under the session's sid).
	conns sync.Map
	// history is the recovery log and sequencer; nil when recovery is off.
	history *history
	// sessions finds the kept (detached) sessions by pid.
	sessions sessionRegistry
	// mirror writes the sessions to the cluster's bucket (clustered.go);
	// nil when recovery is off or the node is single.
	mirror *mirror
	// historyReads coalesces clustered recoveries' history reads (historyreads.go).
	historyReads *historyReads
	// detached maps the sid of a session being kept for recovery to its
	// record, from the moment its connection detaches it (before its rooms
	// hear the connection ended) until the session stops: a room keeps
	// such a member present (presence.go).
	detached sync.Map
	// presenceRooms maps a clustered room's name to its PID, to tell it a
	// node is gone (presence_room.go).
	presenceRooms sync.Map
	// templates holds one Props per actor kind spawned per connection or
	// room (see props).
	templatesMu sync.Mutex
	templates   map[supervision.Kind]*actor.Props
	// shuttingDown is set before the tree is stopped for SIGTERM, so the
	// connections it stops know to say "server shutdown".
	shuttingDown atomic.Bool
}

// middleware returns the receiver middleware of one actor of kind named name.
func (d *deps) middleware(kind supervision.Kind, name string) []actor.ReceiverMiddleware {
	mw := []actor.ReceiverMiddleware{supervision.RecoverTeardown(func(k supervision.Kind, r any) {
		d.log.Error("panic during actor teardown recovered", "kind", k, "err", r)
	}), answerOnFailure, countRouted}
	if d.cfg.Console {
		mw = append([]actor.ReceiverMiddleware{snapshotMiddleware}, mw...) // outermost: an armed fault never fires on it
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
// (the armed fault is per actor).
func (d *deps) props(kind supervision.Kind, name string, produce actor.Producer, opts ...actor.PropsOption) *actor.Props {
	// Idle, these actors hold a mailbox each: the lock-free one is a stub
	// node, the default a 10-slot ring. Their traffic is light (a room's
	// fan-out bypasses mailboxes), so a node allocated per message costs
	// nothing that shows.
	opts = append(opts, actor.WithMailbox(actor.UnboundedLockfree()))
	if d.cfg.FaultInjection {
		opts = append(opts, actor.WithReceiverMiddleware(d.middleware(kind, name)...))
		return actor.PropsFromProducer(produce, opts...)
	}
	d.templatesMu.Lock()
	tmpl := d.templates[kind]
	if tmpl == nil {
		// Its own producer is never used: each copy gets its actor's.
		tmpl = actor.PropsFromProducer(nil, append(opts, actor.WithReceiverMiddleware(d.middleware(kind, name)...))...)
		if d.templates == nil {
			d.templates = map[supervision.Kind]*actor.Props{}
		}
		d.templates[kind] = tmpl
	}
	d.templatesMu.Unlock()
	p := *tmpl // shares the template's middleware chain
	return p.Configure(actor.WithProducer(produce))
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
				case *presenceQuery:
					m.answer(nil)
				}
				panic(r)
			}
		}()
		next(ctx, env)
	}
}

// failedReply on a Publish's Reply says the message was lost to a failure.
const failedReply = -1

// countRouted counts, in a lazily spawned child's tally, the messages its
// parent routed to it (lazyChildren.route), before the child can fail on
// them, so a lost message never holds back the child's idle stop. Actors
// without a tally keep no count.
func countRouted(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		if isRouted(env.Message) {
			if t, ok := ctx.Actor().(interface{ routedTally() *uint64 }); ok {
				*t.routedTally()++
			}
		}
		next(ctx, env)
	}
}

// isRouted reports the messages a parent routes to a lazily spawned child.
func isRouted(msg any) bool {
	switch m := msg.(type) {
	case *messages.Publish:
		return !m.Direct // a member's relay goes straight to its room
	case *messages.LeaveRoom:
		return m.Routed // a member's leave goes straight to its room
	case *messages.JoinRoom, *spawnConnection, *admitConnection, *detachSession, *presenceQuery, *presenceGone:
		return true
	}
	return false
}
