package transport

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hyvve/gateway/messages"
)

// TestUnauthenticatedSessionsCountPerIP: sessions without an accepted
// CONNECT count against the per-IP bound, WebSockets and polling sessions
// alike; past it the handshake and the upgrade get 429 with a JSON body and a
// security event. A session leaves the count when its CONNECT is handled
// (the actors' limiter counts it from then on) or when it ends.
func TestUnauthenticatedSessionsCountPerIP(t *testing.T) {
	cfg := quiet()
	cfg.MaxPendingPerIP = 3
	h := newPollHarness(t, cfg)
	const ip = "127.0.0.1"
	wsURL := "ws" + strings.TrimPrefix(h.http.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	dial := func() *websocket.Conn {
		t.Helper()
		ws, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, resp)
		}
		t.Cleanup(func() { _ = ws.Close() })
		if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
			t.Fatalf("OPEN: %q %v", open, err)
		}
		return ws
	}
	refusedWS := func() {
		t.Helper()
		ws, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err == nil {
			ws.Close()
			t.Fatal("an upgrade past the unauthenticated bound was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("upgrade past the bound: %v, want 429", resp)
		}
		var body struct{ Error string }
		if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Error != "TOO_MANY_CONNECTIONS" {
			t.Fatalf("429 body: %+v", body)
		}
	}
	refusedPoll := func() {
		t.Helper()
		r := h.do(http.MethodGet, "EIO=4&transport=polling", "", nil)
		if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, `"TOO_MANY_CONNECTIONS"`) {
			t.Fatalf("polling handshake past the bound: %d %q", r.status, r.body)
		}
	}

	a, b := dial(), dial()
	p := h.handshake()
	if n := h.srv.pending.count(ip); n != 3 {
		t.Fatalf("unauthenticated sessions of %s: %d, want 3", ip, n)
	}
	refusedWS()
	refusedPoll()
	if got := testutil.ToFloat64(h.srv.metrics.upgrades.WithLabelValues("too_many_connections")); got != 2 {
		t.Fatalf("refusals counted %v, want 2", got)
	}
	if got := h.securityEvents("too_many_connections"); got != 2 {
		t.Fatalf("too_many_connections security events %v, want 2", got)
	}

	// An accepted CONNECT moves the session to the gateway's count: a slot
	// here frees, and the session is not counted twice.
	if err := a.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+h.token("alice")+`"}`)); err != nil {
		t.Fatal(err)
	}
	var s *fakeSession
	select {
	case s = <-h.gw.sessions:
	case <-time.After(waitFor):
		t.Fatal("the gateway never got the client")
	}
	waitUntil(t, "the accepted session to leave the count", func() bool { return h.srv.pending.count(ip) == 2 })
	c := dial()
	refusedWS()

	// A session that ends before its CONNECT frees its slot: a closed
	// WebSocket, and a polling session that sent the close packet.
	_ = b.Close()
	waitUntil(t, "a closed socket to leave the count", func() bool { return h.srv.pending.count(ip) == 2 })
	p.post("1")
	p.waitGone()
	waitUntil(t, "an ended polling session to leave the count", func() bool { return h.srv.pending.count(ip) == 1 })
	h.handshake()
	dial()
	refusedPoll()

	// The accepted one leaving changes nothing here.
	s.client.Close(messages.CloseKicked)
	s.waitClosed(t, messages.CloseKicked)
	_ = c.Close()
	waitUntil(t, "the closed socket to leave the count", func() bool { return h.srv.pending.count(ip) == 2 })
}

// securityEvents reads ws_security_events_total{event}.
func (h *pollHarness) securityEvents(event string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ws_security_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "event" && l.GetValue() == event {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
