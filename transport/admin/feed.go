package admin

import (
	"encoding/json"
	"sync"
	"sync/atomic"
)

// feedBuffer is how many events a stream may fall behind before the feed
// drops its events (and tells it how many).
const feedBuffer = 256

// Feed fans supervision decisions and security events out to the open
// consoles. Nothing it is given blocks: a stream whose buffer is full
// misses the event and is told it did. It is made before the console
// itself, since the security event log is made before the actor system.
type Feed struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	active atomic.Int32
}

type subscriber struct {
	frames  chan []byte
	dropped atomic.Int64
}

// NewFeed returns a Feed with no stream open.
func NewFeed() *Feed { return &Feed{subs: map[*subscriber]struct{}{}} }

// Decision feeds one supervision decision to the open streams; the
// Observer calls it in a failing actor's goroutine.
func (f *Feed) Decision(v any) { f.publish("supervision", v) }

func (f *Feed) subscribe() *subscriber {
	s := &subscriber{frames: make(chan []byte, feedBuffer)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.active.Store(int32(len(f.subs)))
	f.mu.Unlock()
	return s
}

func (f *Feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	delete(f.subs, s)
	f.active.Store(int32(len(f.subs)))
	f.mu.Unlock()
}

// publish sends v as an SSE event named event to every stream.
func (f *Feed) publish(event string, v any) {
	if f.active.Load() == 0 {
		return // no console open: encode nothing
	}
	frame, err := sseFrame(event, v)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		select {
		case s.frames <- frame:
		default:
			s.dropped.Add(1)
		}
	}
}

// sseFrame encodes one Server-Sent Event; JSON has no raw newline, so the
// data fits one data: line.
func sseFrame(event string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(event)+len(data)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...), nil
}
