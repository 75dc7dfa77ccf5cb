package supervision

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Decision is one supervision decision, as the Observer logs it.
type Decision struct {
	Time      time.Time `json:"time"`
	Kind      Kind      `json:"kind"`
	Actor     string    `json:"actor"`     // the failed actor's id
	Directive string    `json:"directive"` // resume, restart, stop, escalate
	Reason    string    `json:"reason"`    // the panic value, as logged
}

// maxTrackedRestarts bounds the per-actor restart counts: ids of actors
// long gone are forgotten first by Forget, and past this bound by chance.
const maxTrackedRestarts = 4096

// watchers holds the Observer's optional subscribers (the operator console)
// and the per-actor restart counts. With no subscriber a decision costs one
// atomic load; counts move on restarts only, which are rare.
type watchers struct {
	mu       sync.Mutex
	subs     map[int]func(Decision)
	nextID   int
	active   atomic.Bool
	restarts map[string]int // actor id → restarts since it was first counted
}

func (w *watchers) decided(e *actor.SupervisorEvent, kind Kind, reason string) {
	id := e.Child.GetId()
	if e.Directive == actor.RestartDirective {
		w.mu.Lock()
		if w.restarts == nil {
			w.restarts = map[string]int{}
		}
		if _, ok := w.restarts[id]; !ok && len(w.restarts) >= maxTrackedRestarts {
			for k := range w.restarts { // evict one: the bound matters more than the count
				delete(w.restarts, k)
				break
			}
		}
		w.restarts[id]++
		w.mu.Unlock()
	}
	if !w.active.Load() {
		return
	}
	d := Decision{Time: time.Now(), Kind: kind, Actor: id, Directive: directiveName(e.Directive), Reason: reason}
	w.mu.Lock()
	subs := make([]func(Decision), 0, len(w.subs))
	for _, fn := range w.subs {
		subs = append(subs, fn)
	}
	w.mu.Unlock()
	for _, fn := range subs {
		fn(d)
	}
}

// Subscribe calls fn with every supervision decision from now on, in the
// failing actor's goroutine: fn must not block. The returned func
// unsubscribes.
func (o *Observer) Subscribe(fn func(Decision)) (unsubscribe func()) {
	w := &o.watch
	w.mu.Lock()
	if w.subs == nil {
		w.subs = map[int]func(Decision){}
	}
	id := w.nextID
	w.nextID++
	w.subs[id] = fn
	w.active.Store(true)
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.subs, id)
		w.active.Store(len(w.subs) > 0)
		w.mu.Unlock()
	}
}

// Restarts returns how many times each actor, by id, was restarted.
func (o *Observer) Restarts() map[string]int {
	w := &o.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.restarts))
	for id, n := range w.restarts {
		out[id] = n
	}
	return out
}

// Forget drops the restart counts of actors for which alive is false, so a
// later actor of the same name starts from zero.
func (o *Observer) Forget(alive func(id string) bool) {
	w := &o.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.restarts {
		if !alive(id) {
			delete(w.restarts, id)
		}
	}
}
