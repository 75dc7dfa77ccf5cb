package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Recoverer is a subscriber that recovers its session across reconnects
// as socket.io-client (≥ 4.6) does (docs/PROTOCOL.md "Connection state
// recovery"): it remembers the pid of the CONNECT answer and the offset of
// the last broadcast it received (the broadcast's last argument), sends
// both in the next CONNECT's auth, and counts the reconnection as
// recovered when the answer has the same sid as before. Like
// socket.io-client it keeps the last offset when a reconnection gets a
// fresh session; unlike it, it then joins its room again (what an
// application does on a fresh session). Seq checks the numbered stream
// across every connection. One goroutine uses it at a time.
type Recoverer struct {
	Token string
	Room  string
	Opts  ConnectOptions // Dialer and Transport; PID and Offset are the Recoverer's
	// OnSeq, if set, is called with each stamped message's number after
	// Seq counted it (from the goroutine that connects and receives).
	OnSeq func(seq int)

	Seq       SeqCheck
	Recovered int // reconnections answered with the same sid
	Fresh     int // reconnections answered with a new sid (the room joined again)

	sid, pid, offset string
	mu               sync.Mutex // guards c and stopped: Close and Stop may come from another goroutine
	c                *Client
	stopped          bool
}

// ErrStopped is Connect after Stop.
var ErrStopped = errors.New("bench: recoverer stopped")

// Connect connects (first time) or reconnects to base. On a reconnection
// it sends the pid and last offset; recovered reports the same sid came
// back. A fresh session joins Room.
func (r *Recoverer) Connect(ctx context.Context, base string) (recovered bool, err error) {
	o := r.Opts
	o.PID, o.Offset = r.pid, r.offset
	c, err := ConnectWith(ctx, o, base, r.Token)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	stopped := r.stopped
	r.c = c
	r.mu.Unlock()
	if stopped {
		_ = c.Close()
		return false, ErrStopped
	}
	again := r.sid != ""
	recovered = again && c.SID() == r.sid
	if !recovered {
		if err := c.Join(ctx, r.Room, r.onEvent); err != nil {
			_ = c.Close()
			return false, fmt.Errorf("bench: joining %s: %w", r.Room, err)
		}
	}
	r.sid, r.pid = c.SID(), c.PID()
	switch {
	case recovered:
		r.Recovered++
	case again:
		r.Fresh++
	}
	return recovered, nil
}

// Receive reads the current connection until it ends (see Client.Receive).
func (r *Recoverer) Receive() error { return r.c.Receive(r.onEvent) }

// Close drops the current connection (a transport break: Connect may
// follow); safe from another goroutine.
func (r *Recoverer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == nil {
		return nil
	}
	return r.c.Close()
}

// Stop drops the current connection and makes every later Connect fail
// with ErrStopped; safe from another goroutine.
func (r *Recoverer) Stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	_ = r.Close()
}

// SID is the current session id.
func (r *Recoverer) SID() string { return r.sid }

func (r *Recoverer) onEvent(frame []byte) {
	if off, ok := eventOffset(frame); ok {
		r.offset = off
	}
	if seq, _, ok := parseStamp(frame); ok {
		r.Seq.Add(seq)
		if r.OnSeq != nil {
			r.OnSeq(seq)
		}
	}
}

// SeqCheck checks a numbered stream (sequence numbers from 0): every
// number once (Dups counts repeats), in order (Reordered counts numbers
// that arrived after a greater one); Lost(n) counts 0…n-1 never received.
type SeqCheck struct {
	seen      []bool
	max       int // greatest number received; -1 before the first
	Received  int // distinct numbers received
	Dups      int
	Reordered int
	started   bool
}

// Add records the arrival of number seq (≥ 0).
func (s *SeqCheck) Add(seq int) {
	if !s.started {
		s.started, s.max = true, -1
	}
	if seq < 0 {
		return
	}
	for seq >= len(s.seen) {
		s.seen = append(s.seen, make([]bool, max(64, len(s.seen)))...)
	}
	if s.seen[seq] {
		s.Dups++
		return
	}
	s.seen[seq] = true
	s.Received++
	if seq < s.max {
		s.Reordered++
		return
	}
	s.max = seq
}

// Lost counts the numbers below n that never arrived, skipping those for
// which skip (may be nil) is true (e.g. publishes that were refused).
func (s *SeqCheck) Lost(n int, skip func(seq int) bool) int {
	lost := 0
	for i := range n {
		if (i >= len(s.seen) || !s.seen[i]) && (skip == nil || !skip(i)) {
			lost++
		}
	}
	return lost
}

// Missing returns the runs of numbers below n never received (skipping
// those skip says), as [first, last] pairs, at most max of them.
func (s *SeqCheck) Missing(n int, skip func(seq int) bool, max int) [][2]int {
	var out [][2]int
	for i := 0; i < n && len(out) < max; i++ {
		if (i < len(s.seen) && s.seen[i]) || (skip != nil && skip(i)) {
			continue
		}
		j := i
		for j+1 < n && (j+1 >= len(s.seen) || !s.seen[j+1]) && (skip == nil || !skip(j+1)) {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}
