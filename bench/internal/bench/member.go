package bench

import (
	"bytes"
	"math/bits"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// member is one subscriber: its token and room, its current connection, and
// what it received. The fields below "owned" are written only by the
// member's own goroutine and read after it has ended.
type member struct {
	idx    int
	room   int
	target int // index of the base URL it connects to (fleet.targets)
	token  string
	dialer *websocket.Dialer

	client   atomic.Pointer[Client] // nil while not connected and joined
	targeted atomic.Bool            // chaos: a connection fault was aimed at it
	faultAt  atomic.Int64           // chaos: Clock time of that fault, 0 when none is pending
	joined   atomic.Bool            // it completed its first connect and join

	// owned
	samples      []int64  // delivery latencies, ns
	seen         []uint64 // bitset of the sequence numbers received
	dups         int64
	lastRecv     int64   // Clock time of the last delivery
	connectNs    int64   // first connect-and-join duration
	upgraded     bool    // default transport: its first connection upgraded to a WebSocket
	disconnects  int     // connections lost while the run was on
	closeCodes   []int   // their close codes (0: no close frame)
	reconnectsNs []int64 // chaos: fault → rejoined, per connection fault
	errorEvents  int     // "error" events (ROOM_FAILED, …)
	rejoins      int     // joins again after ROOM_FAILED
}

// errorEventPrefix starts an "error" event frame from the server.
const errorEventPrefix = `42["error",`

// roomFailedCode is the error a room sends its members when it has given
// up after its restart budget; they may join again.
const roomFailedCode = `"ROOM_FAILED"`

// record takes one delivery received at now; it reports whether it was a
// bench message seen for the first time.
func (m *member) record(f *fleet, frame []byte, now int64) bool {
	seq, sent, ok := parseStamp(frame)
	if !ok {
		return false
	}
	if w := seq / 64; w < len(m.seen) {
		bit := uint64(1) << (seq % 64)
		if m.seen[w]&bit != 0 {
			m.dups++
			return false
		}
		m.seen[w] |= bit
	}
	m.samples = append(m.samples, now-sent)
	m.lastRecv = now
	f.noteDelivery(seq, now)
	return true
}

// hasSeen reports whether the member received message seq.
func (m *member) hasSeen(seq int) bool {
	w := seq / 64
	return w < len(m.seen) && m.seen[w]&(uint64(1)<<(seq%64)) != 0
}

// seenBelow counts the messages below seq n the member received.
func (m *member) seenBelow(n int) int64 {
	var c int
	for w, word := range m.seen {
		switch {
		case (w+1)*64 <= n:
			c += bits.OnesCount64(word)
		case w*64 < n:
			c += bits.OnesCount64(word & (uint64(1)<<(n-w*64) - 1))
		}
	}
	return int64(c)
}

// isRoomFailed reports an "error" event saying the member's room gave up.
func isRoomFailed(frame []byte) bool {
	return bytes.HasPrefix(frame, []byte(errorEventPrefix)) && bytes.Contains(frame, []byte(roomFailedCode))
}
