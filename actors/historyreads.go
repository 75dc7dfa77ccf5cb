package actors

import (
	"context"
	"sync"

	"github.com/hyvve/gateway/transport/cluster"
)

// historyReads coalesces the clustered recoveries' reads of a room's
// history on this node. A node that died sends its clients to the others at
// once: hundreds of recoveries of the same rooms, each wanting what came
// after its own offset. Reads go to the stream's leader one message at a
// time (store.ReadRoom), so one read per room serves every recovery waiting
// for it: from the lowest offset asked, each given its own part.
//
// A recovery's read must start after its rooms were rejoined here (what it
// does not read arrives live), so a request joins the next round, never one
// already under way. At most one round per room runs at a time.
type historyReads struct {
	goTask func(func(context.Context)) bool // tasks.goTask: Shutdown cancels and awaits rounds
	mu     sync.Mutex
	rooms  map[string]*roomReads
}

// roomReads is one room's pending readers.
type roomReads struct {
	next []*roomReader // waiting for the next round
}

// roomReader is one recovery's read of one room.
type roomReader struct {
	after uint64
	done  chan roomRead
}

// roomRead is a round's answer to one reader.
type roomRead struct {
	kept []cluster.Kept
	ok   bool // the history reaches back to its offset
	err  error
}

func newHistoryReads(goTask func(func(context.Context)) bool) *historyReads {
	return &historyReads{goTask: goTask, rooms: map[string]*roomReads{}}
}

// read returns room's kept broadcasts after an offset, and whether the
// history reaches back to it: the offset is one the cluster issued (not
// past the stream's last sequence) and cluster.Store.ReachesBack.
func (hr *historyReads) read(ctx context.Context, st *cluster.Store, room string, after uint64) roomRead {
	me := &roomReader{after: after, done: make(chan roomRead, 1)}
	hr.mu.Lock()
	rr := hr.rooms[room]
	start := rr == nil
	if start {
		rr = &roomReads{}
		hr.rooms[room] = rr
	}
	rr.next = append(rr.next, me)
	hr.mu.Unlock()
	if start && !hr.goTask(func(ctx context.Context) { hr.rounds(ctx, st, room, rr) }) {
		hr.mu.Lock()
		delete(hr.rooms, room)
		hr.mu.Unlock()
		return roomRead{err: ErrShuttingDown}
	}
	select {
	case r := <-me.done:
		return r
	case <-ctx.Done():
		return roomRead{err: ctx.Err()} // the round still answers into the buffer
	}
}

// rounds reads room for its waiting readers until none is left.
func (hr *historyReads) rounds(ctx context.Context, st *cluster.Store, room string, rr *roomReads) {
	for {
		hr.mu.Lock()
		batch := rr.next
		rr.next = nil
		if len(batch) == 0 {
			delete(hr.rooms, room)
			hr.mu.Unlock()
			return
		}
		hr.mu.Unlock()
		from := batch[0].after
		for _, r := range batch[1:] {
			from = min(from, r.after)
		}
		rctx, cancel := context.WithTimeout(ctx, clusterAskTimeout)
		last, err := st.LastSeq(rctx)
		var kept []cluster.Kept
		if err == nil {
			kept, err = st.ReadRoom(rctx, room, from)
		}
		cancel()
		for _, r := range batch {
			if err != nil {
				r.done <- roomRead{err: err}
				continue
			}
			r.done <- roomRead{kept: after(kept, r.after), ok: r.after <= last && st.ReachesBack(kept, r.after)}
		}
	}
}

// after returns the broadcasts of kept (oldest first) past an offset.
func after(kept []cluster.Kept, off uint64) []cluster.Kept {
	for i, k := range kept {
		if k.Seq > off {
			return kept[i:]
		}
	}
	return nil
}
