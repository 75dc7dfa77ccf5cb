package actors

import (
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// probe is a connection stand-in: it forwards what a session answers.
type probe struct{ got chan any }

func (p *probe) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *sessionTaken, *sessionRefused:
		p.got <- m
	}
}

func TestTakenSessionComesBackWhenItsTakerDies(t *testing.T) {
	d, sys := benchDeps(nil)
	d.cfg.RecoveryWindow = time.Minute
	d.history = newHistory(10, time.Minute)
	rec := &sessionRecord{pid: "p", sid: "s", sub: "u", workspaceID: "w", rooms: map[string]uint64{"user:u": 0}}
	d.history.retain(rec.roomNames()...)
	session := sys.Root.Spawn(newSessionProps(d, rec))

	take := func(sub string) (*actor.PID, any) {
		got := make(chan any, 1)
		conn := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &probe{got: got} }))
		sys.Root.Send(session, &takeSession{sub: sub, workspaceID: "w", conn: conn})
		select {
		case m := <-got:
			return conn, m
		case <-time.After(5 * time.Second):
			t.Fatal("no answer from the session")
		}
		return nil, nil
	}
	if _, m := take("mallory"); m.(*sessionRefused).denied != true {
		t.Fatalf("another sub: %#v", m)
	}
	first, m := take("u")
	if _, ok := m.(*sessionTaken); !ok {
		t.Fatalf("owner: %#v", m)
	}
	if _, m := take("u"); m.(*sessionRefused).denied {
		t.Fatalf("a second taker: %#v, want refused as taken", m)
	}
	_ = sys.Root.StopFuture(first).Wait() // the recovery dies half-way
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, m := take("u")
		if _, ok := m.(*sessionTaken); ok {
			sys.Root.Send(session, &sessionDone{})
			_ = sys.Root.StopFuture(conn).Wait()
			break
		}
		// Its Terminated may not have reached the session yet.
		_ = sys.Root.StopFuture(conn).Wait()
		if time.Now().After(deadline) {
			t.Fatal("the session never came back after its taker died")
		}
	}
	waitStopped(t, sys, session) // sessionDone stops it
	if _, ok := d.sessions.find("p"); ok {
		t.Fatal("a done session is still registered")
	}
	if rings, _ := d.history.size(); rings != 0 {
		t.Fatalf("%d rings held after the session stopped", rings)
	}
}

// watcher reports its watched actor's end.
type watcher struct {
	who  *actor.PID
	done chan struct{}
}

func (w *watcher) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.Watch(w.who)
	case *actor.Terminated:
		close(w.done)
	}
}

// waitStopped waits, bounded, for pid's end (a lifecycle event).
func waitStopped(t *testing.T, sys *actor.ActorSystem, pid *actor.PID) {
	t.Helper()
	done := make(chan struct{})
	w := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &watcher{who: pid, done: done} }))
	defer sys.Root.Stop(w)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not stop", pid.Id)
	}
}

func TestDetachedSessionExpiresByItself(t *testing.T) {
	d, sys := benchDeps(nil)
	d.cfg.RecoveryWindow = 20 * time.Millisecond
	d.history = newHistory(10, time.Minute)
	rec := &sessionRecord{pid: "p", sid: "s", sub: "u", workspaceID: "w", rooms: map[string]uint64{"user:u": 0}}
	d.history.retain(rec.roomNames()...)
	session := sys.Root.Spawn(newSessionProps(d, rec))
	waitStopped(t, sys, session) // its own timer: expiry is a lifecycle event
	if _, ok := d.sessions.find("p"); ok || !d.sessions.wasExpired("p") || d.sessions.wasExpired("q") {
		t.Fatal("an expired session is still found, or not remembered as expired")
	}
	if rings, _ := d.history.size(); rings != 0 {
		t.Fatalf("%d rings held after the session expired", rings)
	}
}

func TestExpiredPIDsAreBoundedAndHashed(t *testing.T) {
	var r sessionRegistry
	self := &actor.PID{Id: "s"}
	for i := 0; i <= expiredKept; i++ {
		pid := "pid-" + strconv.Itoa(i)
		r.register(pid, self)
		r.unregister(pid, self, true)
	}
	if r.wasExpired("pid-0") || !r.wasExpired("pid-1") || !r.wasExpired("pid-"+strconv.Itoa(expiredKept)) {
		t.Fatal("the oldest expired pid is not the one forgotten")
	}
	if len(r.expired) != expiredKept || len(r.order) != expiredKept {
		t.Fatalf("%d expired kept, want %d", len(r.expired), expiredKept)
	}
	r.register("live", self)
	r.unregister("live", &actor.PID{Id: "other"}, false) // another actor's Stopped
	if _, ok := r.find("live"); !ok {
		t.Fatal("an actor unregistered another's pid")
	}
}
