package supervision

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Fault is what an injected fault does to its actor.
type Fault string

// Faults.
const (
	FaultPanic Fault = "panic" // panic on the next message: the supervisor's policy takes over
	FaultStall Fault = "stall" // block for Duration on the next message
)

// Injectable lists the kinds of actor a fault can be injected into (by name
// or sid, CONTRACT §7), and Faults the faults: the one vocabulary the
// endpoint checks requests against.
var (
	Injectable = []Kind{KindConnection, KindRoom, KindRateLimiter, KindIPLimiter, KindWorkspace}
	Faults     = []Fault{FaultPanic, FaultStall}
)

// InjectFault arms a fault in the actor of Kind named Target (a room name, a
// workspace id, an IP or a connection sid). Routers pass it down the tree;
// the target's fault middleware takes it and answers 1 on Reply. A router
// that finds no such actor answers 0.
type InjectFault struct {
	Kind     Kind
	Target   string
	Fault    Fault
	Duration time.Duration
	Reply    chan<- int
}

// NotFound answers that no actor took the fault.
func (f *InjectFault) NotFound() {
	if f.Reply != nil {
		f.Reply <- 0
	}
}

// ErrInjected is the panic value of an injected panic.
type ErrInjected struct {
	Kind   Kind
	Target string
}

func (e ErrInjected) Error() string {
	return fmt.Sprintf("injected fault in %s %q", e.Kind, e.Target)
}

// FaultMiddleware returns a receiver middleware for the actor of kind named
// target: it swallows an InjectFault addressed to it and applies the fault on
// the next message the actor receives. Each call makes one middleware
// instance, so it must be called once per actor (per Props).
func FaultMiddleware(kind Kind, target string) actor.ReceiverMiddleware {
	var armed *InjectFault // touched only inside the actor's Receive
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
			if f, ok := env.Message.(*InjectFault); ok && f.Kind == kind && f.Target == target {
				armed = f
				if f.Reply != nil {
					f.Reply <- 1
				}
				return
			}
			if f := armed; f != nil {
				if !isLifecycle(env.Message) {
					armed = nil
					switch f.Fault {
					case FaultStall:
						time.Sleep(f.Duration)
					default:
						panic(ErrInjected{Kind: kind, Target: target})
					}
				}
			}
			next(ctx, env)
		}
	}
}

// RecoverTeardown returns a receiver middleware that recovers a panic while
// handling Stopping or Stopped. At this protoactor version a panic in
// Stopping resurrects the actor and one in Stopped swallows the Terminated
// its watchers and parent wait for; recovered here, the stop completes and
// every watcher is told. onPanic is called with the recovered value.
func RecoverTeardown(onPanic func(kind Kind, reason any)) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
			switch env.Message.(type) {
			case *actor.Stopping, *actor.Stopped:
				defer func() {
					if r := recover(); r != nil && onPanic != nil {
						onPanic(KindOf(ctx.Self()), r)
					}
				}()
			}
			next(ctx, env)
		}
	}
}

// isLifecycle reports protoactor's own messages (Started, Terminated,
// Stopping, …): a fault waits for a real message, so that teardown and
// membership bookkeeping are never what fails.
func isLifecycle(msg any) bool {
	switch msg.(type) {
	case actor.SystemMessage, actor.AutoReceiveMessage:
		return true
	}
	return false
}
