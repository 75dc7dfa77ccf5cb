package transport

import (
	"time"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// The Engine.IO heartbeat runs on one timer per connection, not on read
// deadlines: a parked socket has no read pump whose deadline could fire.
// The timer sends a ping every PingInterval and, once the client is
// accepted, ends it when a ping goes unanswered for PingTimeout (before
// CONNECT the handshake's read deadline bounds the client instead).

var pingFrame = socketio.AppendPing(nil)

// monoBase anchors monotonic timestamps kept as integers (atomics).
var monoBase = time.Now()

func monoNow() int64 { return int64(time.Since(monoBase)) }

// startHeartbeat arms the timer for the first ping.
func (c *Conn) startHeartbeat() {
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	c.pingDue = monoNow() + int64(c.srv.cfg.PingInterval)
	c.heartbeat = time.AfterFunc(c.srv.cfg.PingInterval, c.beat) // beat waits for hbMu, so it sees the timer
}

// beat is the timer's callback: a missed pong first, then a ping if one is
// due, then the timer rearmed for whichever comes next.
func (c *Conn) beat() {
	c.hbMu.Lock()
	if c.hbStopped {
		c.hbMu.Unlock()
		return
	}
	now := monoNow()
	if c.pongDue != 0 && c.lastPong.Load() >= c.pingSentAt {
		c.pongDue = 0 // answered
	}
	if c.pongDue != 0 && now >= c.pongDue {
		c.pongDue = 0
		if c.accepted.Load() {
			c.hbMu.Unlock()
			c.abort(messages.ClosePingTimeout)
			return
		}
	}
	if now >= c.pingDue {
		if !c.out.Enqueue(pingFrame) {
			c.hbMu.Unlock()
			return // closed: no more beats
		}
		if c.pongDue == 0 {
			c.pingSentAt, c.pongDue = now, now+int64(c.srv.cfg.PingTimeout)
		}
		c.pingDue = now + int64(c.srv.cfg.PingInterval)
	}
	next := c.pingDue
	if c.pongDue != 0 && c.pongDue < next {
		next = c.pongDue
	}
	c.heartbeat.Reset(time.Duration(next - now))
	c.hbMu.Unlock()
}

// onPong records the client's answer to a ping; it counts once the client
// is accepted (a ping sent before CONNECT may be answered before it). It
// moves no deadline: before CONNECT the handshake deadline holds however
// many pongs come, and after a CONNECT_ERROR or the close frame only the
// grace set then counts.
func (c *Conn) onPong() {
	if c.refused.Load() || c.closing.Load() {
		return
	}
	c.lastPong.Store(monoNow())
}

// endAfter gives the client d to close the socket itself (after a
// CONNECT_ERROR or the close frame), then ends it with reason: a read pump
// blocked on the socket gets a read deadline, a parked socket a timer.
func (c *Conn) endAfter(d time.Duration, reason messages.CloseReason) {
	c.hbMu.Lock()
	at := monoNow() + int64(d)
	if c.hbStopped || (c.grace != nil && c.graceAt <= at) {
		c.hbMu.Unlock()
		return // an earlier grace ends it sooner
	}
	if c.grace != nil {
		c.grace.Stop()
	}
	c.grace, c.graceAt = time.AfterFunc(d, func() { c.abort(reason) }), at
	c.hbMu.Unlock()
	c.setReadDeadline(time.Now().Add(d))
}

// stopTimers stops the heartbeat and any grace timer; the socket has ended.
func (c *Conn) stopTimers() {
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	c.hbStopped = true
	if c.heartbeat != nil {
		c.heartbeat.Stop()
	}
	if c.grace != nil {
		c.grace.Stop()
	}
}
