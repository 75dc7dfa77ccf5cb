package transport

import (
	"sync"

	"github.com/hyvve/gateway/messages"
)

// outbound is a connection's bounded queue of encoded frames. Enqueue never
// blocks: past maxBytes the queue closes itself as a slow client, so a room
// fanning out never waits for one member.
//
// The queue runs its write pump on demand: the call that finds no pump
// running starts one (start), and the pump parks — its goroutine ends — when
// it finds the queue empty. An idle connection holds no writer goroutine,
// and there is never more than one.
type outbound struct {
	mu       sync.Mutex
	frames   [][]byte
	bytes    int
	maxBytes int
	closed   bool                 // no more frames accepted
	reason   messages.CloseReason // why it closed, valid once closed
	running  bool                 // a write pump is running; it stays set once closed
	spare    [][]byte             // an emptied batch slice kept for the next pump
	start    func()               // starts a write pump in a new goroutine
	// onClose, if set, runs once when the queue turns closed, outside the
	// lock (a polling session must end even if no GET comes to collect).
	onClose func(reason messages.CloseReason)
}

func newOutbound(maxBytes int, start func()) *outbound {
	return &outbound{maxBytes: maxBytes, start: start}
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
		clear(q.frames)
		q.frames, q.bytes = q.frames[:0], 0
		q.unlockAndRun()
		q.closedHook(messages.CloseSlowClient)
		return false
	}
	q.frames = append(q.frames, frame)
	q.bytes += len(frame)
	q.unlockAndRun()
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
	q.unlockAndRun()
	q.closedHook(reason)
	return true
}

func (q *outbound) closedHook(reason messages.CloseReason) {
	if q.onClose != nil {
		q.onClose(reason)
	}
}

// handOver gives the queue a new pump starter (a polling session upgraded
// to a WebSocket) and starts it if frames are waiting. The caller makes
// sure the old consumer takes nothing more.
func (q *outbound) handOver(start func()) {
	q.mu.Lock()
	q.start = start
	waiting := q.running
	q.mu.Unlock()
	if waiting {
		start()
	}
}

// unlockAndRun releases the lock, then starts a write pump if none runs.
// The starter is read under the lock: handOver may replace it as soon as
// the lock is released.
func (q *outbound) unlockAndRun() {
	start, run := q.start, !q.running
	q.running = true
	q.mu.Unlock()
	if run {
		start()
	}
}

// next hands the write pump the queued frames and reports whether the queue
// is closed and why. done is the pump's previous batch, emptied, which the
// queue reuses (nil on a pump's first call). With nothing queued on an open
// queue it parks the pump instead: park is true, the pump must return at
// once and touch nothing more; the next Enqueue starts a new one.
func (q *outbound) next(done [][]byte) (frames [][]byte, closed bool, reason messages.CloseReason, park bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if done == nil {
		done, q.spare = q.spare, nil
	}
	if len(q.frames) == 0 && !q.closed {
		q.running = false
		// A burst's slices are not kept by an idle client.
		if cap(done) <= maxIdleFrames {
			q.spare = done
		}
		if cap(q.frames) > maxIdleFrames {
			q.frames = nil
		}
		return nil, false, 0, true
	}
	frames = q.frames
	q.frames, q.bytes = done[:0], 0
	return frames, q.closed, q.reason, false
}

// maxIdleFrames is the largest frame slice a queue keeps while idle.
const maxIdleFrames = 64

// closeReason is why the queue closed (valid once it has).
func (q *outbound) closeReason() messages.CloseReason {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.reason
}
