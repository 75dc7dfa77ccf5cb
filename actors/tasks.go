package actors

import (
	"context"
	"sync"
)

// tasks owns the goroutines the actors start off their mailboxes (a webhook
// call, a token verification, the watch for a late spawn): each runs under
// a context that System.Shutdown cancels, and Shutdown waits for them all,
// as security's JWKS refresher does for its own.
type tasks struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // orders go's Add before wait's Wait
	closed bool
	wg     sync.WaitGroup
}

func newTasks() *tasks {
	ctx, cancel := context.WithCancel(context.Background())
	return &tasks{ctx: ctx, cancel: cancel}
}

// goTask runs f in a new goroutine owned by the tasks; after wait has begun
// it runs nothing, and reports false.
func (t *tasks) goTask(f func(ctx context.Context)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f(t.ctx)
	}()
	return true
}

// wait cancels every task's context and waits for them to return.
func (t *tasks) wait() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
}
