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
			switch env.Message.(type) {
			case *messages.JoinRoom, *messages.Publish, *spawnConnection, *admitConnection:
				*handled++
			}
			next(ctx, env)
		}
	}
}
