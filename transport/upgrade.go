package transport

import (
	"bytes"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/transport/socketio"
)

// upgrade runs a polling session's upgrade probe on this WebSocket
// (engine.io-protocol v4, "Upgrade"): 2probe is answered 3probe and the
// pending long poll is released, so the client can pause polling; the
// client's 5 then moves the session here. Frames queued meanwhile stay in
// the session's queue and go out on the WebSocket after the switch, so
// nothing is lost, reordered or sent twice. false means the probe failed
// and this WebSocket is closed; the session goes on polling.
func (c *Conn) upgrade() bool {
	p := c.probe
	if !c.expect(socketio.ProbePing) {
		return c.probeFailed("no 2probe")
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, socketio.ProbePong); err != nil {
		return c.probeFailed("3probe not written")
	}
	_ = c.nc.SetWriteDeadline(time.Time{})
	p.probing.Store(true)
	p.signal() // a pending GET answers 6 (noop) or what is queued
	if !c.expect(socketio.UpgradePacket) {
		p.probing.Store(false)
		return c.probeFailed("no upgrade packet")
	}
	if !p.switchTo(c) {
		return c.probeFailed("session ended or upgraded during the probe")
	}
	c.probe = nil
	c.srv.metrics.upgrades.WithLabelValues("polling_upgraded").Inc()
	return true
}

// expect reads one frame and reports whether it is want.
func (c *Conn) expect(want []byte) bool {
	mt, r, err := c.ws.NextReader()
	if err != nil || mt != websocket.TextMessage {
		return false
	}
	var buf [16]byte
	n, _ := r.Read(buf[:])
	return bytes.Equal(buf[:n], want)
}

// probeFailed closes the probing WebSocket; its session goes on polling.
func (c *Conn) probeFailed(why string) bool {
	c.srv.log.Debug("upgrade probe refused", "reason", why)
	if c.probe != nil && c.probe.ws.Load() == nil {
		// The client resumes polling: its GETs must wait again, not be
		// answered 6 at once in a loop.
		c.probe.probing.Store(false)
	}
	c.srv.metrics.upgrades.WithLabelValues("probe_failed").Inc()
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseProtocolError, "upgrade failed"), time.Now().Add(time.Second))
	_ = c.nc.Close()
	c.done()
	return false
}

// switchTo moves the session onto the WebSocket c, between two POSTs and
// with no GET taking frames: the queue's pump becomes c's write pump (started
// at once if frames wait), and the pending GET, if any, answers 6.
func (p *pollSession) switchTo(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainMu.Lock()
	defer p.drainMu.Unlock()
	if p.ended.Load() || p.ws.Load() != nil {
		return false // ended, or another probe took the session first
	}
	p.ws.Store(c)
	p.out.handOver(func() { go c.writePump() })
	p.signal()
	return true
}

// probeDone is the Server's bookkeeping for a probing WebSocket that has
// ended: once upgraded, its end is the session's end too.
func (p *pollSession) probeDone(c *Conn) {
	if p.ws.Load() == c {
		p.ended.Store(true)
		p.forget()
	}
}
