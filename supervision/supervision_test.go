package supervision

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

func TestKindOf(t *testing.T) {
	tests := map[string]Kind{
		"gateway":                  KindGateway,
		"gateway/ips":              KindIPs,
		"gateway/ips/ip:127.0.0.1": KindIPLimiter,
		"gateway/users":            KindUsers,
		"gateway/users/" + ChildName(PrefixRoom, "user:a/conn:x"): KindRoom,
		"gateway/workspace:w1":                             KindWorkspace,
		"gateway/workspace:w1/conn:abc":                    KindConnection,
		"gateway/workspace:w1/conn:abc/limiter":            KindRateLimiter,
		"gateway/workspace:w1/room:workspace:w1:dashboard": KindRoom,
		"$1": KindUnknown,
	}
	for id, want := range tests {
		if got := KindOf(&actor.PID{Id: id}); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	if KindOf(nil) != KindUnknown {
		t.Error("nil PID")
	}
}

// probe is a child that panics on "boom" and counts its starts.
type probe struct{ starts *atomic.Int32 }

func (p *probe) Receive(ctx actor.Context) {
	switch ctx.Message() {
	case "boom":
		panic("boom")
	}
	if _, ok := ctx.Message().(*actor.Started); ok {
		p.starts.Add(1)
	}
}

// parent spawns one child named name and reports Terminated on a channel.
func spawnUnderParent(t *testing.T, sys *actor.ActorSystem, name string, child *actor.Props) (*actor.PID, <-chan *actor.Terminated) {
	t.Helper()
	pids := make(chan *actor.PID, 1)
	terms := make(chan *actor.Terminated, 4)
	props := actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			pid, err := ctx.SpawnNamed(child, name)
			if err != nil {
				t.Error(err)
			}
			pids <- pid
		case *actor.Terminated:
			terms <- m
		}
	}, actor.WithSupervisor(Strategy()))
	parent := sys.Root.Spawn(props)
	t.Cleanup(func() { _ = sys.Root.StopFuture(parent).Wait() })
	return <-pids, terms
}

func TestRestartBudgetThenStop(t *testing.T) {
	sys := actor.NewActorSystem()
	var starts atomic.Int32
	events := make(chan *actor.SupervisorEvent, 16)
	sub := sys.EventStream.Subscribe(func(e any) {
		if se, ok := e.(*actor.SupervisorEvent); ok {
			events <- se
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	child, terms := spawnUnderParent(t, sys, ChildName(PrefixRoom, "workspace:w:dashboard"),
		actor.PropsFromProducer(func() actor.Actor { return &probe{starts: &starts} }))
	var directives []actor.Directive
	for i := 0; i <= roomRestartBudget; i++ {
		sys.Root.Send(child, "boom")
		directives = append(directives, (<-events).Directive)
	}
	for i, d := range directives[:roomRestartBudget] {
		if d != actor.RestartDirective {
			t.Fatalf("failure %d: %v, want restart", i+1, d)
		}
	}
	if directives[roomRestartBudget] != actor.StopDirective {
		t.Fatalf("over budget: %v, want stop", directives[roomRestartBudget])
	}
	select {
	case term := <-terms:
		if term.Who.Id != child.Id {
			t.Fatalf("terminated %s", term.Who.Id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Terminated after the budget ran out")
	}
	if got := starts.Load(); got != roomRestartBudget+1 {
		t.Fatalf("started %d times, want %d", got, roomRestartBudget+1)
	}
}

func TestConnectionFailureStops(t *testing.T) {
	sys := actor.NewActorSystem()
	var starts atomic.Int32
	child, terms := spawnUnderParent(t, sys, PrefixConnection+"sid1",
		actor.PropsFromProducer(func() actor.Actor { return &probe{starts: &starts} }))
	sys.Root.Send(child, "boom")
	select {
	case <-terms:
	case <-time.After(5 * time.Second):
		t.Fatal("connection not stopped")
	}
	if starts.Load() != 1 {
		t.Fatal("connection was restarted")
	}
}

// panicky panics while stopping, as a bug in teardown code would.
type panicky struct{ in string }

func (p *panicky) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Stopping:
		if p.in == "stopping" {
			panic("teardown bug")
		}
	case *actor.Stopped:
		if p.in == "stopped" {
			panic("teardown bug")
		}
	}
}

func TestRecoverTeardownStillDeliversTerminated(t *testing.T) {
	for _, in := range []string{"stopping", "stopped"} {
		t.Run(in, func(t *testing.T) {
			sys := actor.NewActorSystem()
			var recovered atomic.Int32
			props := actor.PropsFromProducer(func() actor.Actor { return &panicky{in: in} },
				actor.WithReceiverMiddleware(RecoverTeardown(func(Kind, any) { recovered.Add(1) })))
			child, terms := spawnUnderParent(t, sys, PrefixConnection+"x", props)
			sys.Root.Stop(child)
			select {
			case <-terms:
			case <-time.After(5 * time.Second):
				t.Fatal("watcher never got Terminated")
			}
			if recovered.Load() != 1 {
				t.Fatalf("recovered %d", recovered.Load())
			}
		})
	}
}

func TestFaultMiddleware(t *testing.T) {
	sys := actor.NewActorSystem()
	var starts atomic.Int32
	got := make(chan string, 8)
	props := actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			starts.Add(1)
		case string:
			got <- m
		}
	}, actor.WithReceiverMiddleware(FaultMiddleware(KindRoom, "r")))
	child, _ := spawnUnderParent(t, sys, ChildName(PrefixRoom, "r"), props)

	reply := make(chan int, 1)
	sys.Root.Send(child, &InjectFault{Kind: KindRoom, Target: "other", Fault: FaultPanic, Reply: reply})
	sys.Root.Send(child, "passes")
	if m := <-got; m != "passes" {
		t.Fatalf("got %q", m)
	}
	sys.Root.Send(child, &InjectFault{Kind: KindRoom, Target: "r", Fault: FaultPanic, Reply: reply})
	if n := <-reply; n != 1 {
		t.Fatalf("armed %d", n)
	}
	sys.Root.Send(child, "lost")
	sys.Root.Send(child, "after")
	if m := <-got; m != "after" {
		t.Fatalf("got %q: the failing message was delivered", m)
	}
	if starts.Load() != 2 {
		t.Fatalf("starts %d, want a restart", starts.Load())
	}
	sys.Root.Send(child, &InjectFault{Kind: KindRoom, Target: "r", Fault: FaultStall, Duration: time.Millisecond, Reply: reply})
	<-reply
	sys.Root.Send(child, "stalled")
	if m := <-got; m != "stalled" || starts.Load() != 2 {
		t.Fatalf("got %q, starts %d", m, starts.Load())
	}
}
