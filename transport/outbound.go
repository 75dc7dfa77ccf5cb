package transport

import (
	"sync"

	"github.com/hyvve/gateway/messages"
)

// outbound is a connection's bounded queue of encoded frames, drained by its
// write pump. Enqueue never blocks: past maxBytes the queue closes itself as
// a slow client, so a room fanning out never waits for one member.
type outbound struct {
	mu       sync.Mutex
	frames   [][]byte
	bytes    int
	maxBytes int
	closed   bool                 // no more frames accepted
	reason   messages.CloseReason // why it closed, valid once closed
	wake     chan struct{}        // cap 1: tells the write pump there is work
}

func newOutbound(maxBytes int) *outbound {
	return &outbound{maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

// Enqueue queues frame for the write pump. The frame is shared with other
// connections and must not be modified afterwards.
func (q *outbound) Enqueue(frame []byte) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if q.bytes+len(frame) > q.maxBytes {
		q.closed, q.reason = true, messages.CloseSlowClient
		q.frames, q.bytes = q.frames[:0], 0
		q.mu.Unlock()
		q.signal()
		return false
	}
	wasEmpty := len(q.frames) == 0
	q.frames = append(q.frames, frame)
	q.bytes += len(frame)
	q.mu.Unlock()
	if wasEmpty { // otherwise the write pump was already told and has not taken them yet
		q.signal()
	}
	return true
}

// close queues the final frames and marks the queue closed with reason. Only
// the first close counts; it reports whether this call was it.
func (q *outbound) close(reason messages.CloseReason, final ...[]byte) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.closed, q.reason = true, reason
	q.frames = append(q.frames, final...)
	q.mu.Unlock()
	q.signal()
	return true
}

// take swaps the queued frames for spare (an emptied slice the caller is done
// with) and reports whether the queue is closed and why.
func (q *outbound) take(spare [][]byte) (frames [][]byte, closed bool, reason messages.CloseReason) {
	q.mu.Lock()
	frames = q.frames
	q.frames, q.bytes = spare[:0], 0
	closed, reason = q.closed, q.reason
	q.mu.Unlock()
	return frames, closed, reason
}

func (q *outbound) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
