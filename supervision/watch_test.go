package supervision

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
)

func TestObserverSubscribeAndRestartCounts(t *testing.T) {
	sys := actor.NewActorSystem()
	o := Observe(sys, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	defer o.Stop()
	got := make(chan Decision, 8)
	unsubscribe := o.Subscribe(func(d Decision) { got <- d })

	var starts atomic.Int32
	child, _ := spawnUnderParent(t, sys, ChildName(PrefixRoom, "workspace:w:dashboard"),
		actor.PropsFromProducer(func() actor.Actor { return &probe{starts: &starts} }))
	for i := 0; i < 2; i++ {
		sys.Root.Send(child, "boom")
		select {
		case d := <-got:
			if d.Kind != KindRoom || d.Actor != child.Id || d.Directive != "restart" || d.Reason != "boom" {
				t.Fatalf("decision %+v", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no decision")
		}
	}
	if n := o.Restarts()[child.Id]; n != 2 {
		t.Fatalf("restarts %d, want 2", n)
	}
	unsubscribe()
	other := make(chan Decision, 1)
	defer o.Subscribe(func(d Decision) { other <- d })()
	sys.Root.Send(child, "boom")
	select {
	case <-other: // counted before any subscriber is called
	case <-time.After(5 * time.Second):
		t.Fatal("no third decision")
	}
	if n := o.Restarts()[child.Id]; n != 3 {
		t.Fatalf("restarts %d, want 3", n)
	}
	if len(got) != 0 {
		t.Fatal("an unsubscribed func was called")
	}
	o.Forget(func(id string) bool { return id != child.Id })
	if _, ok := o.Restarts()[child.Id]; ok {
		t.Fatal("Forget kept a dead actor's count")
	}
}
