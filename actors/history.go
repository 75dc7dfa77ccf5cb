package actors

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// history is the node's recovery log (docs/PROTOCOL.md "Connection state recovery"): one offset sequence
// for every room of the node, so the single offset a client sends back
// orders all its rooms, and per room a ring of its recent broadcasts.
//
// Its mutex is the sequencer lock. A room's fan-out holds it while it takes
// the next offset, encodes the frame once with it, keeps the frame in the
// room's ring and queues it to every open member: a client in two rooms
// receives their broadcasts in offset order, and a recovery that replays
// under the same lock sees no gap and no duplicate at the seam between
// replay and live. Enqueue never blocks, so the lock is held for one
// encode plus one non-blocking queue per member.
//
// Rings outlive their room actor: a room's ring is kept while a room actor
// or a kept session holds it (retain/release) or it still has entries. A
// timer owned by the System sweeps expired entries and empty, unheld rings.
//
// This is the single-node store. The clustered one (JetStream: one stream,
// a subject per room, its sequence as the offset) replaces broadcast's
// offset and ring with a publish whose acknowledged sequence is the offset,
// and the rings with the stream's per-subject history; reachesBack and
// missed become a consumer from the offset with a start-sequence check.
type history struct {
	mu     sync.Mutex
	last   uint64 // the last offset assigned
	rooms  map[string]*ring
	max    int
	window time.Duration
	now    func() time.Time
}

// entry is one kept broadcast.
type entry struct {
	off    uint64
	at     time.Time
	frame  []byte
	except string // the sid of its sender, never replayed to it (state_sync)
}

// ring is one room's kept broadcasts, oldest first, at most history.max.
type ring struct {
	buf     []entry // circular; grows up to history.max
	head, n int
	// dropped is the highest offset dropped from the ring (by count or age):
	// a client that last saw an offset below it missed something that is
	// no longer kept.
	dropped uint64
	refs    int // room actors and kept sessions holding the ring
}

func newHistory(max int, window time.Duration) *history {
	return &history{rooms: map[string]*ring{}, max: max, window: window, now: time.Now}
}

// ringLocked returns room's ring, made if need be. Under h.mu.
func (h *history) ringLocked(room string) *ring {
	r := h.rooms[room]
	if r == nil {
		r = &ring{}
		h.rooms[room] = r
	}
	return r
}

// broadcast assigns the next offset, encodes the event once with it, keeps
// it in room's ring and queues it to every member but except (and muted
// ones, see gatedOutbox); it returns how many queues took it.
//
// at, when not 0, is the offset the cluster's history stream gave it
// (clustered.go): the node's counter is not used, only kept past it.
func (h *history) broadcast(room, event string, data json.RawMessage, exceptSID string, members []member, except *actor.PID, at uint64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	off := h.nextLocked(at)
	frame := socketio.AppendEventWithOffset(make([]byte, 0, len(event)+len(data)+32), event, data, off)
	r := h.ringLocked(room)
	now := h.now()
	h.expireLocked(r, now)
	r.push(entry{off: off, at: now, frame: frame, except: exceptSID}, h.max)
	n := 0
	for _, mb := range members {
		if except != nil && mb.pid.Id == except.Id {
			continue
		}
		if g, ok := mb.out.(*gatedOutbox); ok && g.replayed(off) {
			continue // replayed from the cluster's history before it got here
		}
		if mb.out.Enqueue(frame) {
			n++
		}
	}
	return n
}

// keepUnheard keeps a broadcast to a room that has no actor on this node
// (no member here) when a kept session still holds the room's ring: the
// room may have stopped idle while its member is away, and that member must
// get the broadcast when it recovers. A room nobody holds keeps nothing.
//
// at, when not 0, is the offset the cluster's history stream gave it.
func (h *history) keepUnheard(room, event string, data json.RawMessage, exceptSID string, at uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[room]
	if r == nil || r.refs <= 0 {
		return
	}
	off := h.nextLocked(at)
	now := h.now()
	h.expireLocked(r, now)
	r.push(entry{off: off, at: now, except: exceptSID,
		frame: socketio.AppendEventWithOffset(make([]byte, 0, len(event)+len(data)+32), event, data, off)}, h.max)
}

// nextLocked returns a broadcast's offset: at, the cluster's, when not 0
// (the node's last only follows it), else the node's next. Under h.mu.
func (h *history) nextLocked(at uint64) uint64 {
	if at == 0 {
		h.last++
		return h.last
	}
	h.last = max(h.last, at)
	return at
}

// joined returns the last offset assigned, for a member a room just added:
// every later broadcast of that room reaches it. The room holds the lock's
// order by being the only one to fan out its own broadcasts.
func (h *history) joined() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// retain and release count a holder of each room's ring (a room actor, a
// kept session), so a ring outlives its room actor while a session may
// still ask for its history.
func (h *history) retain(rooms ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, room := range rooms {
		h.ringLocked(room).refs++
	}
}

func (h *history) release(rooms ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, room := range rooms {
		if r := h.rooms[room]; r != nil {
			r.refs--
			if r.refs <= 0 && r.n == 0 {
				delete(h.rooms, room)
			}
		}
	}
}

// reachesBack reports whether every room still keeps every broadcast after
// its threshold (rooms maps a name to the offset its member joined at;
// from is the client's offset): nothing the client missed was dropped.
func (h *history) reachesBack(rooms map[string]uint64, from uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reachesBackLocked(rooms, from)
}

func (h *history) reachesBackLocked(rooms map[string]uint64, from uint64) bool {
	now := h.now()
	for room, joinedAt := range rooms {
		r := h.rooms[room]
		if r == nil {
			continue // held since the join (retain), so never dropped anything
		}
		h.expireLocked(r, now)
		if r.dropped > max(from, joinedAt) {
			return false
		}
	}
	return true
}

// missedLocked returns the kept broadcasts of rooms after each room's
// threshold, in offset order, but those sent by sid. Under h.mu.
func (h *history) missedLocked(rooms map[string]uint64, from uint64, sid string) [][]byte {
	out := h.missedEntriesLocked(rooms, from, sid)
	frames := make([][]byte, len(out))
	for i := range out {
		frames[i] = out[i].frame
	}
	return frames
}

// missedEntriesLocked is missedLocked's entries. Under h.mu.
func (h *history) missedEntriesLocked(rooms map[string]uint64, from uint64, sid string) []entry {
	var out []entry
	for room, joinedAt := range rooms {
		r := h.rooms[room]
		if r == nil {
			continue
		}
		after := max(from, joinedAt)
		for i := 0; i < r.n; i++ {
			e := r.at(i)
			if e.off > after && (e.except == "" || e.except != sid) {
				out = append(out, *e)
			}
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return cmp.Compare(a.off, b.off) })
	return out
}

// sweep drops expired entries and forgets empty rings nobody holds.
func (h *history) sweep() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for room, r := range h.rooms {
		h.expireLocked(r, now)
		if r.n == 0 && r.refs <= 0 {
			delete(h.rooms, room)
		}
	}
}

// size returns how many rings and entries are kept (tests, metrics).
func (h *history) size() (rings, entries int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rooms {
		entries += r.n
	}
	return len(h.rooms), entries
}

func (h *history) expireLocked(r *ring, now time.Time) {
	cutoff := now.Add(-h.window)
	for r.n > 0 && r.at(0).at.Before(cutoff) {
		r.pop()
	}
}

func (r *ring) at(i int) *entry { return &r.buf[(r.head+i)%len(r.buf)] }

// push appends e, dropping the oldest entry when the ring holds limit.
func (r *ring) push(e entry, limit int) {
	if r.n == limit {
		r.pop()
	}
	if r.n == len(r.buf) {
		grown := make([]entry, min(limit, max(4, 2*len(r.buf))))
		for i := 0; i < r.n; i++ {
			grown[i] = *r.at(i)
		}
		r.buf, r.head = grown, 0
	}
	*r.at(r.n) = e
	r.n++
}

// pop drops the oldest entry, remembering its offset as dropped.
func (r *ring) pop() {
	e := r.at(0)
	r.dropped = e.off
	*e = entry{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 && len(r.buf) > 16 {
		r.buf, r.head = nil, 0 // an idle room gives its array back
	}
}

// gatedOutbox is a recovering connection's queue as its rooms see it while
// it rejoins them: muted (frames are not queued; they are kept in history
// and replayed) until the replay opens it under the sequencer lock. open is
// read and written only under history.mu.
type gatedOutbox struct {
	out  messages.Outbox
	open bool
	// skip holds offsets a clustered recovery replayed from the cluster's
	// history before this node fanned them out: sent once, not again.
	skip map[uint64]struct{}
}

// replayed reports (and forgets) an offset already replayed. Under history.mu.
func (g *gatedOutbox) replayed(off uint64) bool {
	if _, ok := g.skip[off]; ok {
		delete(g.skip, off)
		return true
	}
	return false
}

func (g *gatedOutbox) Enqueue(frame []byte) bool {
	if !g.open {
		return true // kept in the room's history; the replay queues it
	}
	return g.out.Enqueue(frame)
}
