package actors

import (
	"strconv"
	"sync/atomic"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
)

// Bounds of what a connection's read side may hand its actor before the
// actor has taken it. A client gets one event answered per round trip at
// most MAX_MESSAGES_PER_MINUTE times a minute, so a well-behaved one has a
// handful in flight; this many unanswered means its actor is stalled and the
// client keeps sending, or the client floods.
const (
	maxInboxEvents = 256
	maxInboxBytes  = 1 << 20
)

// inbox counts the events a session handed its connection actor and the
// actor has not yet received. The actor's mailbox is unbounded (a bounded
// one blocks its sender: notes/PROTOACTOR.md), so the bound is kept here, on
// the read side: past it the client is dropped as abusive (CloseEventFlood)
// instead of its events piling up in the mailbox of a stalled actor.
type inbox struct {
	events atomic.Int64
	bytes  atomic.Int64
	// dropped is set once the client was dropped: what it still sends until
	// its socket ends is discarded.
	dropped atomic.Bool
}

// eventBytes is what an event holds in memory while it waits (its args
// alias the frame read).
func eventBytes(ev *messages.ClientEvent) int64 {
	n := len(ev.Event)
	for _, a := range ev.Args {
		n += len(a)
	}
	return int64(n)
}

// put counts ev handed over; false means it must not be: the bound is passed
// (the first time, the caller drops the client) or the client was dropped.
func (b *inbox) put(ev *messages.ClientEvent) (ok, overflow bool) {
	if b.dropped.Load() {
		return false, false
	}
	size := eventBytes(ev)
	n, bytes := b.events.Add(1), b.bytes.Add(size)
	if n > maxInboxEvents || bytes > maxInboxBytes {
		b.events.Add(-1)
		b.bytes.Add(-size)
		return false, b.dropped.CompareAndSwap(false, true)
	}
	return true, false
}

// took counts ev received by the actor.
func (b *inbox) took(ev *messages.ClientEvent) {
	if b != nil {
		b.events.Add(-1)
		b.bytes.Add(-eventBytes(ev))
	}
}

// dropFlood ends a client whose actor has not taken its last events: the
// security event, then the socket closed with CloseEventFlood. The actor is
// not asked (it may be the one stalled): it hears SocketClosed when it can.
func (s *session) dropFlood() {
	d, c := s.d, s.conn
	d.log.Warn("client dropped: too many events waiting for its connection actor",
		"sid", c.SID(), "user_id", s.claims.Subject, "workspace", s.claims.WorkspaceID,
		"events", s.inbox.events.Load(), "bytes", s.inbox.bytes.Load())
	d.events.Emit(security.EventRateLimitExceeded, security.EventFields{
		UserID: s.claims.Subject, WorkspaceID: s.claims.WorkspaceID, IP: c.IP(), SID: c.SID(),
		Detail: "over " + strconv.Itoa(maxInboxEvents) + " events or " + strconv.Itoa(maxInboxBytes>>10) +
			" KiB waiting for the connection actor: client dropped",
	})
	c.Close(messages.CloseEventFlood)
}
