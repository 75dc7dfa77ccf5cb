package supervision

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Observer turns supervision decisions and dead letters into one log line
// each and counters. It runs synchronously in the failing actor's goroutine
// (EventStream handlers do), so it only logs and counts.
type Observer struct {
	log         *slog.Logger
	failures    *prometheus.CounterVec
	restarts    *prometheus.CounterVec
	deadLetters prometheus.Counter
	sub         *eventstream.Subscription
	sys         *actor.ActorSystem
	watch       watchers // the operator console's feed and restart counts
}

// Observe subscribes to sys's EventStream. Stop unsubscribes.
func Observe(sys *actor.ActorSystem, log *slog.Logger, reg prometheus.Registerer) *Observer {
	o := &Observer{
		log: log,
		sys: sys,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actor_failures_total", Help: "Actor panics by actor kind and the directive applied.",
		}, []string{"kind", "directive"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actor_restarts_total", Help: "Actor restarts by actor kind.",
		}, []string{"kind"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actor_dead_letters_total", Help: "Messages sent to actors that no longer exist.",
		}),
	}
	reg.MustRegister(o.failures, o.restarts, o.deadLetters)
	o.sub = sys.EventStream.Subscribe(o.handle)
	return o
}

// Stop unsubscribes from the EventStream.
func (o *Observer) Stop() { o.sys.EventStream.Unsubscribe(o.sub) }

func (o *Observer) handle(evt any) {
	switch e := evt.(type) {
	case *actor.SupervisorEvent:
		kind := KindOf(e.Child)
		o.failures.WithLabelValues(string(kind), directiveName(e.Directive)).Inc()
		if e.Directive == actor.RestartDirective {
			o.restarts.WithLabelValues(string(kind)).Inc()
		}
		level := slog.LevelWarn
		if e.Directive == actor.StopDirective && kind != KindConnection {
			level = slog.LevelError // a budget ran out
		}
		reason := fmt.Sprint(e.Reason)
		o.log.Log(context.Background(), level, "actor failed", "kind", kind, "actor", e.Child.GetId(),
			"directive", directiveName(e.Directive), "err", reason)
		o.watch.decided(e, kind, reason)
	case *actor.DeadLetterEvent:
		o.deadLetters.Inc()
	}
}

func directiveName(d actor.Directive) string {
	switch d {
	case actor.ResumeDirective:
		return "resume"
	case actor.RestartDirective:
		return "restart"
	case actor.StopDirective:
		return "stop"
	case actor.EscalateDirective:
		return "escalate"
	}
	return "unknown"
}
