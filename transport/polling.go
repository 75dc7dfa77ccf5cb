package transport

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/socketio"
)

// pollSession is one Engine.IO session on HTTP long-polling
// (docs/PROTOCOL.md "Long-polling").
// Its "write pump" is the pending GET: the outbound queue wakes it, and it
// answers everything queued in one response. POSTs carry the client's
// packets to the socket, one POST at a time. The session may upgrade to a
// WebSocket (upgrade.go); from then on that Conn carries the socket and the
// session only forwards to it.
//
// Lock order: mu (readers: POSTs and the upgrade switch) before drainMu
// (the consumer of the queue: a GET, or the switch) before the queue's own.
type pollSession struct {
	*socket
	mu      sync.Mutex    // one reader at a time: a POST, or the upgrade switch
	drainMu sync.Mutex    // one consumer of the queue at a time: a GET, or the switch
	wake    chan struct{} // buffered: the queue has something for the pending GET
	getting atomic.Bool   // a GET is pending
	ws      atomic.Pointer[Conn]
	probing atomic.Bool // a probe was answered 3probe: a pending GET answers 6 so the client can pause polling
	aborted atomic.Bool // abort ran: a GET under way then ends the session as it returns (pollDone)
	ended   atomic.Bool
	endOnce sync.Once
}

var _ messages.Client = (*pollSession)(nil)

// newPollSession opens a session for a handshake GET and answers it with
// the OPEN packet.
func (s *Server) newPollSession(ip, authHeader string) *pollSession {
	p := &pollSession{socket: newSocket(s, s.newEngineSID(), ip, authHeader), wake: make(chan struct{}, 1)}
	p.pendingHeld.Store(true) // admitPending counted it
	p.carrier, p.client = p, p
	p.out = newOutbound(s.cfg.OutboundQueueBytes, p.signal)
	p.out.onClose = p.closedQueue
	s.sessionsMu.Lock()
	s.polls[p.eioSID] = p
	s.sessionsMu.Unlock()
	s.conns.Add(1)
	p.startHeartbeat()
	return p
}

// signal is the queue's pump starter: it wakes the pending GET, if any.
func (p *pollSession) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// closedQueue runs when the queue turns closed: the client gets a moment
// to collect what is left, then the session ends.
func (p *pollSession) closedQueue(reason messages.CloseReason) {
	p.signal()
	if c := p.ws.Load(); c != nil {
		c.queueClosed(reason)
		return
	}
	p.endAfter(closeGrace, reason)
}

// Close ends the session for reason (a DISCONNECT first when the reason
// calls for one): the pending or next GET takes what is queued and the
// Engine.IO close packet. Once upgraded, the WebSocket closes.
func (p *pollSession) Close(reason messages.CloseReason) {
	if c := p.ws.Load(); c != nil {
		c.Close(reason)
		return
	}
	if reason.SendsDisconnect() {
		p.out.close(reason, disconnectFrame)
		return
	}
	p.out.close(reason)
}

// abort implements carrier: the session ends now with reason (a pending GET
// still answers what is queued and the close packet).
func (p *pollSession) abort(reason messages.CloseReason) {
	if c := p.ws.Load(); c != nil {
		c.abort(reason)
		return
	}
	p.out.close(reason)
	// With pollDone, the one of this and the GET that comes second sees the
	// other's flag: the session ends now, whatever the GET was doing.
	p.aborted.Store(true)
	if !p.getting.Load() {
		p.finish()
	}
	p.signal()
}

// pollDone ends a GET. A GET may return without taking the close packet
// (its client went away, or it was already answering frames when the abort
// came): the session then ends here, not a close grace later, so a client
// that reconnects at once finds its session kept for recovery.
func (p *pollSession) pollDone() {
	p.getting.Store(false)
	if p.aborted.Load() {
		p.finish()
	}
}

// graceStarted implements carrier: a grace's timer is all a polling
// session needs; an upgraded one tells its WebSocket.
func (p *pollSession) graceStarted(t time.Time) {
	if c := p.ws.Load(); c != nil {
		c.graceStarted(t)
	}
}

// finish ends the session once: it is forgotten, its timers stop and the
// gateway hears why. An upgraded session ends with its WebSocket instead.
// It waits for a POST being handled (a CONNECT being verified), so a client
// the gateway accepts meanwhile is told it has ended, and no POST after it
// reaches the socket. Never called with mu held.
func (p *pollSession) finish() {
	p.endOnce.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.ended.Store(true)
		p.stopTimers()
		p.forget()
		p.closed(p.out.closeReason())
	})
}

// forget removes the session from the server's table.
func (p *pollSession) forget() {
	p.releasePending()
	p.srv.sessionsMu.Lock()
	if p.srv.polls[p.eioSID] == p {
		delete(p.srv.polls, p.eioSID)
		p.srv.conns.Done()
	}
	p.srv.sessionsMu.Unlock()
}

// serve answers one request of the session: the long poll or a POST.
func (p *pollSession) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		p.poll(w, r)
	case http.MethodPost:
		p.post(w, r)
	default:
		writeEIOError(w, eioBadRequest)
	}
}

// poll answers a long-polling GET: everything queued, at once or as soon as
// something is (a ping comes every PingInterval). A second GET while one is
// pending ends the session, as Engine.IO does.
func (p *pollSession) poll(w http.ResponseWriter, r *http.Request) {
	if !p.getting.CompareAndSwap(false, true) {
		p.srv.log.Debug("polling session ended: a second GET while one was pending", "sid", p.logSID())
		p.abort(messages.CloseMalformed)
		writeEIOError(w, eioBadRequest)
		return
	}
	defer p.pollDone()
	// The long poll outlives the server's read and write timeouts by design:
	// net/http would cancel it once its connection's read deadline passed.
	rc, until := http.NewResponseController(w), time.Now().Add(p.srv.cfg.PingInterval+p.srv.cfg.WriteTimeout)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
	for {
		frames, closed, upgraded := p.take()
		switch {
		case upgraded || frames == nil && !closed && p.probing.Load():
			// Answered with a noop so the client can pause polling and
			// send the upgrade packet on its WebSocket.
			writePayload(w, [][]byte{socketio.NoopPacket})
			return
		case frames != nil || closed:
			if closed {
				frames = append(frames, socketio.ClosePacket)
			}
			writePayload(w, frames)
			p.srv.metrics.framesSent.Add(float64(len(frames)))
			if closed {
				p.finish()
			}
			return
		}
		select {
		case <-p.wake:
		case <-r.Context().Done():
			return // the client went away; its next GET finds the queue as it was
		}
	}
}

// take hands the GET what is queued; frames is nil when nothing is, and
// then the next Enqueue wakes the GET. upgraded means the session has moved
// to a WebSocket.
func (p *pollSession) take() (frames [][]byte, closed, upgraded bool) {
	p.drainMu.Lock()
	defer p.drainMu.Unlock()
	if p.ws.Load() != nil {
		return nil, false, true
	}
	if p.ended.Load() {
		return nil, true, false
	}
	frames, closed, _, park := p.out.next(nil)
	if park {
		// During a probe the client waits for this GET to end before it
		// sends the upgrade packet: release it with a noop.
		return nil, false, p.probing.Load()
	}
	return frames, closed, false
}

// post hands the client's packets of one POST to the socket, in order.
func (p *pollSession) post(w http.ResponseWriter, r *http.Request) {
	limit := int64(p.srv.cfg.MaxMessageBytes)
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeEIOError(w, eioBadRequest)
		return
	}
	if int64(len(body)) > limit {
		p.securityEvent(security.EventMessageTooLarge, "")
		p.abort(messages.CloseMessageTooBig)
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"code": eioBadRequest.code, "message": "payload too large"})
		return
	}
	reason, end, ok := p.handlePayload(body)
	if end {
		p.abort(reason) // outside mu: abort may finish the session
	}
	if !ok {
		writeEIOError(w, eioBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", "2")
	_, _ = io.WriteString(w, "ok")
}

// handlePayload hands one POST's packets to the socket, in order, as the
// session's one reader; end reports the session is over, and why. ok false
// means the POST is refused: the session moved or ended, or the payload is
// malformed.
func (p *pollSession) handlePayload(body []byte) (reason messages.CloseReason, end, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ws.Load() != nil || p.ended.Load() {
		return 0, false, false // the session moved or ended: the client must not post here
	}
	packets, err := socketio.SplitPayload(body)
	if err != nil {
		p.securityEvent(security.EventMalformedPacket, err.Error())
		return messages.CloseMalformed, true, false
	}
	for _, packet := range packets {
		if p.refused.Load() {
			// Waiting for the client to leave after CONNECT_ERROR: only
			// its close packet counts.
			if len(packet) == 1 && packet[0] == socketio.EIOClose {
				return messages.CloseConnectRefused, true, true
			}
			continue
		}
		if socketio.IsBinaryPacket(packet) {
			p.binaryFrame()
			continue
		}
		if reason, end := p.handlePacket(packet); end {
			return reason, true, true
		}
	}
	return 0, false, true
}

// writePayload answers a GET with packets joined by the record separator.
func writePayload(w http.ResponseWriter, packets [][]byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(socketio.PayloadLen(packets)))
	w.WriteHeader(http.StatusOK)
	for i, pk := range packets {
		if i > 0 {
			_, _ = w.Write([]byte{socketio.RecordSeparator})
		}
		_, _ = w.Write(pk)
	}
}
