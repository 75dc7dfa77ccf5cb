package transport

import (
	"net/http"
	"sync"

	"github.com/hyvve/gateway/security"
)

// pendingIPs counts, per client IP, the sessions (WebSockets and polling
// sessions) that have not yet had their CONNECT answered. The actors' ip
// limiter counts accepted sessions; a session leaves this count when its
// CONNECT has been handled (accepted, or refused: a refused one holds no
// slot, CONTRACT §5) or when it ends first, so no session is ever counted by
// both. An upgrade probe is its polling session, never a second one.
type pendingIPs struct {
	max int // 0: no limit
	mu  sync.Mutex
	n   map[string]int
}

func newPendingIPs(max int) *pendingIPs {
	return &pendingIPs{max: max, n: map[string]int{}}
}

// acquire counts one more unauthenticated session of ip; false means ip
// already holds max of them.
func (p *pendingIPs) acquire(ip string) bool {
	if p.max <= 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[ip] >= p.max {
		return false
	}
	p.n[ip]++
	return true
}

func (p *pendingIPs) release(ip string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.n[ip]; n > 1 {
		p.n[ip] = n - 1
	} else {
		delete(p.n, ip) // the map holds only IPs with sessions pending
	}
}

// count returns ip's unauthenticated sessions (tests).
func (p *pendingIPs) count(ip string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[ip]
}

// admitPending counts a new session of ip as unauthenticated, or answers the
// request 429 with a JSON body and reports false.
func (s *Server) admitPending(w http.ResponseWriter, r *http.Request, ip string) bool {
	if s.pending.acquire(ip) {
		return true
	}
	s.metrics.upgrades.WithLabelValues("too_many_connections").Inc()
	s.events.Emit(security.EventTooManyConnections, security.EventFields{IP: ip, Detail: "unauthenticated sessions over MAX_CONNECTIONS_PER_IP"})
	s.logRefused(r, "too many unauthenticated sessions from this address")
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error":   "TOO_MANY_CONNECTIONS",
		"message": "too many sessions without an accepted CONNECT from this address",
	})
	return false
}

// releasePending takes the session out of its IP's unauthenticated count,
// once: at its CONNECT's answer or its end, whichever comes first.
func (s *socket) releasePending() {
	if s.pendingHeld.CompareAndSwap(true, false) {
		s.srv.pending.release(s.ip)
	}
}
