package transport

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hyvve/gateway/messages"
)

// startCounter is an outbound's start func that only counts the pumps it
// was asked to start; the test plays the pump with next.
type startCounter int

func (n *startCounter) start() { *n++ }

func TestOutboundIsBoundedByBytes(t *testing.T) {
	var starts startCounter
	q := newOutbound(10, starts.start)
	if !q.Enqueue([]byte("12345")) || !q.Enqueue([]byte("67890")) {
		t.Fatal("frames within the bound refused")
	}
	if q.Enqueue([]byte("x")) {
		t.Fatal("frame over the bound accepted")
	}
	frames, closed, reason, park := q.next(nil)
	if len(frames) != 0 || !closed || reason != messages.CloseSlowClient || park {
		t.Fatalf("after overflow: %d frames, closed %v, reason %v", len(frames), closed, reason)
	}
	if q.Enqueue([]byte("y")) {
		t.Fatal("closed queue accepted a frame")
	}
}

func TestOutboundCloseKeepsFirstReasonAndFinalFrames(t *testing.T) {
	var starts startCounter
	q := newOutbound(100, starts.start)
	q.Enqueue([]byte("a"))
	if !q.close(messages.CloseServerShutdown, []byte("41")) {
		t.Fatal("first close not reported")
	}
	if q.close(messages.CloseClientLeft) {
		t.Fatal("second close reported as first")
	}
	frames, closed, reason, _ := q.next(nil)
	if len(frames) != 2 || string(frames[1]) != "41" || !closed || reason != messages.CloseServerShutdown {
		t.Fatalf("frames %q closed %v reason %v", frames, closed, reason)
	}
}

func TestOutboundRunsOnePumpOnlyWhileThereIsWork(t *testing.T) {
	var starts startCounter
	q := newOutbound(100, starts.start)
	if _, _, _, park := q.next(nil); !park {
		t.Fatal("a pump on an empty queue was not parked")
	}
	q.Enqueue([]byte("a"))
	q.Enqueue([]byte("b"))
	if starts != 1 {
		t.Fatalf("two frames on an idle queue started %d pumps, want 1", starts)
	}
	frames, closed, _, park := q.next(nil)
	if len(frames) != 2 || closed || park {
		t.Fatalf("pump got %q, closed %v, park %v", frames, closed, park)
	}
	q.Enqueue([]byte("c")) // the pump has not parked yet: no second one
	if starts != 1 {
		t.Fatalf("a frame for a running pump started another (%d)", starts)
	}
	q.next(nil)
	if _, _, _, park := q.next(nil); !park {
		t.Fatal("drained pump not parked")
	}
	q.Enqueue([]byte("d"))
	if starts != 2 {
		t.Fatalf("a frame after the pump parked started %d pumps in all, want 2", starts)
	}
	q.next(nil)
	q.next(nil) // parks
	q.close(messages.CloseServerShutdown)
	if starts != 3 {
		t.Fatal("closing an idle queue did not start a pump to send the close frame")
	}
	if _, closed, _, park := q.next(nil); !closed || park {
		t.Fatal("the closing pump was parked")
	}
	q.Enqueue([]byte("e"))
	q.close(messages.CloseClientLeft)
	if starts != 3 {
		t.Fatalf("a closed queue started pumps (%d in all)", starts)
	}
}

// TestOutboundPumpsNeverOverlapAndLoseNothing runs the queue with real
// on-demand pumps (goroutines draining with next, as the write pump does)
// under concurrent producers: every frame arrives once, in each producer's
// order, and no two pumps ever run at once.
func TestOutboundPumpsNeverOverlapAndLoseNothing(t *testing.T) {
	const producers, perProducer = 4, 5000
	var (
		q        *outbound
		running  atomic.Int32
		overlaps atomic.Int32
		pumps    atomic.Int32
		got      [producers][]uint32
		finished = make(chan struct{})
	)
	pump := func() {
		pumps.Add(1)
		if running.Add(1) != 1 {
			overlaps.Add(1)
		}
		var done [][]byte
		for {
			runtime.Gosched()
			frames, closed, _, park := q.next(done)
			if park {
				running.Add(-1)
				return
			}
			for _, f := range frames {
				p, seq := f[0], binary.BigEndian.Uint32(f[1:])
				got[p] = append(got[p], seq)
			}
			clear(frames)
			done = frames
			if closed {
				running.Add(-1)
				close(finished)
				return
			}
		}
	}
	q = newOutbound(1<<30, func() { go pump() })
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range uint32(perProducer) {
				f := make([]byte, 5)
				f[0] = byte(p)
				binary.BigEndian.PutUint32(f[1:], seq)
				if !q.Enqueue(f) {
					t.Error("open queue refused a frame")
					return
				}
				if seq%97 == 0 {
					runtime.Gosched() // let the pump drain and park now and then
				}
			}
		}()
	}
	wg.Wait()
	q.close(messages.CloseClientLeft)
	<-finished
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d pumps started while another was running", n)
	}
	for p := range producers {
		if len(got[p]) != perProducer {
			t.Fatalf("producer %d: %d frames delivered, want %d", p, len(got[p]), perProducer)
		}
		for i, seq := range got[p] {
			if seq != uint32(i) {
				t.Fatalf("producer %d: frame %d is seq %d: out of order", p, i, seq)
			}
		}
	}
	t.Logf("%d frames through %d pumps", producers*perProducer, pumps.Load())
}

func TestOutboundIdleQueueDropsBurstSlices(t *testing.T) {
	var starts startCounter
	q := newOutbound(1<<20, starts.start)
	for range 3 * maxIdleFrames {
		q.Enqueue([]byte("x"))
	}
	frames, _, _, _ := q.next(nil)
	clear(frames)
	if _, _, _, park := q.next(frames[:0]); !park {
		t.Fatal("drained queue did not park its pump")
	}
	if cap(q.spare) > maxIdleFrames || cap(q.frames) > maxIdleFrames {
		t.Fatalf("idle queue keeps slices of cap %d and %d, over %d", cap(q.spare), cap(q.frames), maxIdleFrames)
	}
	q.Enqueue([]byte("y"))
	if frames, _, _, park := q.next(nil); park || len(frames) != 1 {
		t.Fatalf("after idling: %d frames, park %v", len(frames), park)
	}
}
