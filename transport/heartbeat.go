package transport

import (
	"time"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// The Engine.IO heartbeat runs on one timer per session, not on read
// deadlines: a parked socket has no read pump whose deadline could fire, and
// a polling session has no socket at all between requests. The timer sends a
// ping every PingInterval and, once the client is accepted, ends the session
// when a ping goes unanswered for PingTimeout; before that, it ends a session
// whose CONNECT was not accepted within the handshake limit. The timer
// belongs to the socket, so it carries over an upgrade.

var pingFrame = socketio.AppendPing(nil)

// monoBase anchors monotonic timestamps kept as integers (atomics).
var monoBase = time.Now()

func monoNow() int64 { return int64(time.Since(monoBase)) }

// handshakeLimit is how long a session may go without an accepted CONNECT:
// CONNECT_TIMEOUT, or less when the ping window is shorter. Pongs never
// extend it: answering pings is not connecting.
func (s *socket) handshakeLimit() time.Duration {
	return min(s.srv.cfg.ConnectTimeout, s.srv.cfg.PingInterval+s.srv.cfg.PingTimeout)
}

// startHeartbeat arms the timer for the first ping.
func (s *socket) startHeartbeat() {
	s.hbMu.Lock()
	defer s.hbMu.Unlock()
	now := monoNow()
	s.pingDue = now + int64(s.srv.cfg.PingInterval)
	s.handshakeBy = now + int64(s.handshakeLimit())
	s.heartbeat = time.AfterFunc(s.srv.cfg.PingInterval, s.beat) // beat waits for hbMu, so it sees the timer
}

// beat is the timer's callback: a missed pong or handshake first, then a
// ping if one is due, then the timer rearmed for whichever comes next.
func (s *socket) beat() {
	s.hbMu.Lock()
	if s.hbStopped {
		s.hbMu.Unlock()
		return
	}
	now := monoNow()
	accepted := s.accepted.Load()
	if !accepted && !s.refused.Load() && now >= s.handshakeBy {
		s.hbMu.Unlock()
		s.carrier.abort(messages.CloseHandshakeTimeout)
		return
	}
	if s.pongDue != 0 && s.lastPong.Load() >= s.pingSentAt {
		s.pongDue = 0 // answered
	}
	if s.pongDue != 0 && now >= s.pongDue {
		s.pongDue = 0
		if accepted {
			s.hbMu.Unlock()
			s.carrier.abort(messages.ClosePingTimeout)
			return
		}
	}
	if now >= s.pingDue {
		if !s.out.Enqueue(pingFrame) {
			s.hbMu.Unlock()
			return // closed: no more beats
		}
		if s.pongDue == 0 {
			s.pingSentAt, s.pongDue = now, now+int64(s.srv.cfg.PingTimeout)
		}
		s.pingDue = now + int64(s.srv.cfg.PingInterval)
	}
	next := s.pingDue
	if s.pongDue != 0 && s.pongDue < next {
		next = s.pongDue
	}
	if !accepted && s.handshakeBy < next {
		next = s.handshakeBy
	}
	s.heartbeat.Reset(time.Duration(max(next-now, 0)))
	s.hbMu.Unlock()
}

// onPong records the client's answer to a ping; it counts once the client
// is accepted (a ping sent before CONNECT may be answered before it). It
// moves no deadline: before CONNECT the handshake limit holds however many
// pongs come, and after a CONNECT_ERROR or the close frame only the grace
// set then counts.
func (s *socket) onPong() {
	if s.refused.Load() || s.closing.Load() {
		return
	}
	s.lastPong.Store(monoNow())
}

// endAfter gives the client d to close the session itself (after a
// CONNECT_ERROR or the close frame), then ends it with reason: the carrier
// is told (a WebSocket read pump gets a read deadline), and a timer aborts
// it in case nobody is reading.
func (s *socket) endAfter(d time.Duration, reason messages.CloseReason) {
	s.hbMu.Lock()
	at := monoNow() + int64(d)
	if s.hbStopped || (s.grace != nil && s.graceAt <= at) {
		s.hbMu.Unlock()
		return // an earlier grace ends it sooner
	}
	if s.grace != nil {
		s.grace.Stop()
	}
	s.grace, s.graceAt = time.AfterFunc(d, func() { s.carrier.abort(reason) }), at
	s.hbMu.Unlock()
	s.carrier.graceStarted(time.Now().Add(d))
}

// stopTimers stops the heartbeat and any grace timer; the session has ended.
func (s *socket) stopTimers() {
	s.hbMu.Lock()
	defer s.hbMu.Unlock()
	s.hbStopped = true
	if s.heartbeat != nil {
		s.heartbeat.Stop()
	}
	if s.grace != nil {
		s.grace.Stop()
	}
}
