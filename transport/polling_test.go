package transport

// The polling session's state machine (docs/PROTOCOL.md "Long-polling")
// over real HTTP on 127.0.0.1, against a fake gateway (no actors) and the real HS256 verifier
// with real tokens. Every wait is on an event, bounded by waitFor.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
)

// waitFor bounds every wait of these tests: they wait on events, and this
// only turns a hang into a failure.
const waitFor = 5 * time.Second

const pollSecret = "polling-test-secret-0123456789abcdef"

// fakeGateway accepts every authenticated client (the CONNECT answer is its
// job, as the actors' is) and hands the test a fakeSession for it.
type fakeGateway struct {
	sessions chan *fakeSession
}

func (g *fakeGateway) Accept(c messages.Client, claims *security.Claims, resume messages.Resume) Session {
	s := &fakeSession{client: c, claims: claims, resume: resume, events: make(chan *messages.ClientEvent, 256), closed: make(chan messages.CloseReason, 2)}
	c.Accepted(c.SID(), "")
	g.sessions <- s
	return s
}

func (g *fakeGateway) Publish(context.Context, string, string, json.RawMessage) (messages.PublishResult, error) {
	return messages.PublishResult{}, nil
}

// fakeSession records what the transport hands the gateway for one client.
type fakeSession struct {
	client messages.Client
	claims *security.Claims
	resume messages.Resume // what the CONNECT asked to recover
	events chan *messages.ClientEvent
	closed chan messages.CloseReason
}

func (s *fakeSession) Event(ev *messages.ClientEvent)     { s.events <- ev }
func (s *fakeSession) Closed(reason messages.CloseReason) { s.closed <- reason }

// nextEvent waits for the session's next event.
func (s *fakeSession) nextEvent(t *testing.T) *messages.ClientEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(waitFor):
		t.Fatal("no event reached the session")
		return nil
	}
}

// waitClosed waits for the one Closed report and checks its reason.
func (s *fakeSession) waitClosed(t *testing.T, want messages.CloseReason) {
	t.Helper()
	select {
	case got := <-s.closed:
		if got != want {
			t.Fatalf("Closed(%v), want Closed(%v)", got, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("Closed(%v) never reported", want)
	}
}

// pollHarness is a transport Server on a real 127.0.0.1 listener with the
// fake gateway.
type pollHarness struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	gw     *fakeGateway
	client *http.Client
	reg    *prometheus.Registry
}

func newPollHarness(t *testing.T, cfg Config) *pollHarness {
	t.Helper()
	return newPollHarnessWith(t, cfg, nil)
}

// newPollHarnessWith is newPollHarness with the real verifier wrapped.
func newPollHarnessWith(t *testing.T, cfg Config, wrap func(security.Verifier) security.Verifier) *pollHarness {
	t.Helper()
	verifier, closer, err := security.NewVerifier(context.Background(), security.VerifierConfig{Secret: []byte(pollSecret)})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		verifier = wrap(verifier)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	gw := &fakeGateway{sessions: make(chan *fakeSession, 16)}
	if cfg.AllowedOrigins == nil {
		cfg.AllowedOrigins = []string{"http://app.example"}
	}
	srv := NewServer(cfg, Deps{Verifier: verifier, Gateway: gw, Events: security.NewEventLog(log, reg, 0, 0), Logger: log, Registry: reg})
	h := &pollHarness{t: t, srv: srv, http: httptest.NewServer(srv.Handler()), gw: gw, reg: reg,
		client: &http.Client{Timeout: waitFor, Transport: &http.Transport{}}}
	t.Cleanup(func() {
		srv.CloseAll(messages.CloseServerShutdown)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := srv.WaitConns(ctx); err != nil {
			t.Errorf("sessions still open after CloseAll: %v", err)
		}
		h.client.CloseIdleConnections()
		h.http.Close()
		closer.Close()
	})
	return h
}

func (h *pollHarness) token(sub string) string {
	h.t.Helper()
	tok, err := security.MintHS256([]byte(pollSecret), security.Claims{Subject: sub, WorkspaceID: "ws-1", Role: "member", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// response is one HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   string
	err    error
}

// packets splits a GET answer's payload.
func (r response) packets() []string { return strings.Split(r.body, "\x1e") }

// eioCode decodes an Engine.IO error answer's code (-1 if it is not one).
func (r response) eioCode() int {
	var b struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(r.body), &b) != nil || b.Code == nil || b.Message == "" {
		return -1
	}
	return *b.Code
}

func (h *pollHarness) do(method, query, body string, header http.Header) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.http.URL+"/socket.io/?"+query, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// pollClient is a raw Engine.IO polling client of one session.
type pollClient struct {
	h    *pollHarness
	sid  string
	open map[string]any
}

// handshake opens a polling session and checks its OPEN packet.
func (h *pollHarness) handshake() *pollClient {
	h.t.Helper()
	r := h.do(http.MethodGet, "EIO=4&transport=polling", "", nil)
	if r.err != nil || r.status != http.StatusOK || !strings.HasPrefix(r.body, "0{") {
		h.t.Fatalf("handshake: %d %q %v", r.status, r.body, r.err)
	}
	p := &pollClient{h: h}
	if err := json.Unmarshal([]byte(r.body[1:]), &p.open); err != nil {
		h.t.Fatalf("OPEN packet %q: %v", r.body, err)
	}
	p.sid, _ = p.open["sid"].(string)
	if p.sid == "" {
		h.t.Fatalf("OPEN packet without sid: %q", r.body)
	}
	return p
}

func (p *pollClient) query() string { return "EIO=4&transport=polling&sid=" + p.sid }

func (p *pollClient) get() response { return p.h.do(http.MethodGet, p.query(), "", nil) }

// getAsync starts a long poll; the answer arrives on the channel.
func (p *pollClient) getAsync() <-chan response {
	ch := make(chan response, 1)
	go func() { ch <- p.h.do(http.MethodGet, p.query(), "", nil) }()
	return ch
}

// post sends packets joined by the record separator and checks the "ok".
func (p *pollClient) post(packets ...string) {
	p.h.t.Helper()
	r := p.postRaw(strings.Join(packets, "\x1e"))
	if r.err != nil || r.status != http.StatusOK || r.body != "ok" {
		p.h.t.Fatalf("POST %q: %d %q %v", packets, r.status, r.body, r.err)
	}
}

func (p *pollClient) postRaw(body string) response {
	return p.h.do(http.MethodPost, p.query(), body, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}})
}

// session is the server side of the pollClient (nil once it has ended).
func (p *pollClient) session() *pollSession { return p.h.srv.pollSession(p.sid) }

// waitPending waits until the server holds a pending GET of the session.
func (p *pollClient) waitPending() {
	p.h.t.Helper()
	waitUntil(p.h.t, "a pending GET", func() bool {
		s := p.session()
		return s != nil && s.getting.Load()
	})
}

// waitGone waits until the server has forgotten the session.
func (p *pollClient) waitGone() {
	p.h.t.Helper()
	waitUntil(p.h.t, "the session to end", func() bool { return p.session() == nil })
}

// connect sends CONNECT with a real token and returns the gateway's
// session once the CONNECT answer has arrived on a GET.
func (p *pollClient) connect() *fakeSession {
	p.h.t.Helper()
	p.post(`40{"token":"` + p.h.token("alice") + `"}`)
	var s *fakeSession
	select {
	case s = <-p.h.gw.sessions:
	case <-time.After(waitFor):
		p.h.t.Fatal("the gateway never got the client")
	}
	r := p.get()
	if r.status != http.StatusOK || !strings.HasPrefix(r.packets()[0], `40{"sid":"`) {
		p.h.t.Fatalf("CONNECT answer: %d %q", r.status, r.body)
	}
	if s.client.SID() != strings.TrimSuffix(strings.TrimPrefix(r.packets()[0], `40{"sid":"`), `"}`) {
		p.h.t.Fatalf("CONNECT answer %q does not carry the client's sid %s", r.body, s.client.SID())
	}
	return s
}

// waitResponse waits for a long poll's answer.
func waitResponse(t *testing.T, ch <-chan response, what string) response {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r
	case <-time.After(waitFor):
		t.Fatalf("%s: no answer", what)
		return response{}
	}
}

// waitUntil polls cond, for the few conditions with no event to wait on
// (server-side state the client cannot see).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// quiet is a Config whose heartbeat stays out of the way of a test.
func quiet() Config { return Config{PingInterval: time.Minute, PingTimeout: time.Minute} }

func TestPollingHandshakeConnectAndEvents(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: time.Minute, PingTimeout: time.Minute, MaxMessageBytes: 5000})
	p := h.handshake()
	if ups, _ := p.open["upgrades"].([]any); len(ups) != 1 || ups[0] != "websocket" {
		t.Fatalf("upgrades %v, want [websocket]", p.open["upgrades"])
	}
	if p.open["pingInterval"] != 60000.0 || p.open["pingTimeout"] != 60000.0 || p.open["maxPayload"] != 5000.0 {
		t.Fatalf("OPEN %v", p.open)
	}
	s := p.connect()
	if s.claims.Subject != "alice" || s.client.SID() == p.sid {
		t.Fatalf("claims %+v; socket sid %s must differ from the Engine.IO sid", s.claims, s.client.SID())
	}
	// Several packets in one POST reach the session in order.
	p.post(`42["a",1]`, `42["b",2]`, `421["c",3]`)
	for i, want := range []string{"a", "b", "c"} {
		ev := s.nextEvent(t)
		if ev.Event != want || string(ev.Args[0]) != string(rune('1'+i)) {
			t.Fatalf("event %d: %s %s, want %s", i, ev.Event, ev.Args, want)
		}
		if wantAck := int64(-1); i == 2 {
			if ev.AckID != 1 {
				t.Fatalf("ack id %d, want 1", ev.AckID)
			}
		} else if ev.AckID != wantAck {
			t.Fatalf("ack id %d, want none", ev.AckID)
		}
	}
	// The client leaves: DISCONNECT by POST.
	p.post("41")
	s.waitClosed(t, messages.CloseClientLeft)
	p.waitGone()
}

func TestPollingConnectRefused(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: time.Minute, PingTimeout: time.Minute, ConnectErrorGrace: 100 * time.Millisecond})
	for _, tc := range []struct{ auth, code string }{
		{"", "AUTH_REQUIRED"},
		{`{"token":"not.a.jwt"}`, "INVALID_TOKEN"},
	} {
		p := h.handshake()
		p.post("40" + tc.auth)
		r := p.get()
		if r.status != http.StatusOK || !strings.HasPrefix(r.body, `44{"message":"`+tc.code) {
			t.Fatalf("auth %q: %d %q", tc.auth, r.status, r.body)
		}
		p.waitGone() // the grace ran out
	}
	select {
	case s := <-h.gw.sessions:
		t.Fatalf("a refused client reached the gateway: %+v", s.claims)
	default:
	}
}

func TestPollingLongPollIsAnsweredWhenSomethingIsQueued(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	ch := p.getAsync()
	p.waitPending()
	select {
	case r := <-ch:
		t.Fatalf("the long poll answered with nothing queued: %d %q", r.status, r.body)
	default:
	}
	s.client.Enqueue([]byte(`42["one"]`))
	s.client.Enqueue([]byte(`42["two"]`))
	r := waitResponse(t, ch, "the long poll")
	// The first frame wakes the GET; the second is in the same answer or the next.
	got := r.packets()
	if len(got) == 1 {
		got = append(got, p.get().packets()...)
	}
	if strings.Join(got, "|") != `42["one"]|42["two"]` {
		t.Fatalf("answers %q", got)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestPollingQueuedFramesAnswerTheNextGETAtOnce(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	for _, f := range []string{`42["a"]`, `42["b"]`, `42["c"]`} {
		s.client.Enqueue([]byte(f))
	}
	if r := p.get(); r.body != "42[\"a\"]\x1e42[\"b\"]\x1e42[\"c\"]" {
		t.Fatalf("GET %q", r.body)
	}
}

func TestPollingPingsAndTimeout(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: 100 * time.Millisecond, PingTimeout: 700 * time.Millisecond})
	p := h.handshake()
	s := p.connect()
	// Pings come as packets on the long poll; answering them keeps the
	// session for longer than pingInterval + pingTimeout.
	start := time.Now()
	for pings := 0; pings < 3 || time.Since(start) < time.Second; {
		r := p.get()
		if r.status != http.StatusOK {
			t.Fatalf("GET: %d %q", r.status, r.body)
		}
		for _, pk := range r.packets() {
			if pk == "2" {
				pings++
				p.post("3")
			}
		}
	}
	select {
	case reason := <-s.closed:
		t.Fatalf("an answering session ended: %v", reason)
	default:
	}
	// A client that neither polls nor posts is gone.
	s.waitClosed(t, messages.ClosePingTimeout)
	p.waitGone()
	if r := p.get(); r.status != http.StatusBadRequest || r.eioCode() != 1 {
		t.Fatalf("GET after the timeout: %d %q", r.status, r.body)
	}
}

func TestPollingHandshakeTimeout(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	p := h.handshake()
	// Pongs do not keep a session without CONNECT.
	r := p.get()
	if r.body != "2" {
		t.Fatalf("GET %q, want a ping", r.body)
	}
	p.post("3")
	p.waitGone()
	if got := testutil.ToFloat64(h.srv.metrics.disconnects.WithLabelValues(messages.CloseHandshakeTimeout.String())); got != 1 {
		t.Fatalf("handshake_timeout disconnects: %v", got)
	}
}

func TestPollingSecondGETEndsTheSession(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	first := p.getAsync()
	p.waitPending()
	if r := p.get(); r.status != http.StatusBadRequest || r.eioCode() != 3 {
		t.Fatalf("second GET: %d %q", r.status, r.body)
	}
	if r := waitResponse(t, first, "the first GET"); r.body != "1" {
		t.Fatalf("first GET after the overlap: %q, want the close packet", r.body)
	}
	s.waitClosed(t, messages.CloseMalformed)
	p.waitGone()
}

func TestPollingPostOverMaxMessageBytes(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: time.Minute, PingTimeout: time.Minute, MaxMessageBytes: 1000})
	p := h.handshake()
	s := p.connect()
	r := p.postRaw(`42["big","` + strings.Repeat("x", 1000) + `"]`)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST over the limit: %d %q", r.status, r.body)
	}
	s.waitClosed(t, messages.CloseMessageTooBig)
	p.waitGone()
	// A body of exactly the limit is fine on another session.
	p2 := h.handshake()
	s2 := p2.connect()
	p2.post(`42["ok","` + strings.Repeat("y", 1000-len(`42["ok",""]`)) + `"]`)
	if ev := s2.nextEvent(t); ev.Event != "ok" {
		t.Fatalf("event %s", ev.Event)
	}
}

func TestPollingBinaryPacketRefused(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	p.post("bAQIDBA==", `42["after"]`)
	r := p.get()
	if r.body != `42["error",{"code":"BINARY_NOT_SUPPORTED"}]` {
		t.Fatalf("answer to a binary packet: %q", r.body)
	}
	// Never processed, and the session goes on.
	if ev := s.nextEvent(t); ev.Event != "after" {
		t.Fatalf("event %s, want after", ev.Event)
	}
	// A binary EVENT over a text packet is refused too (45…), answered on its ack.
	p.post(`451-3["bin",{"_placeholder":true,"num":0}]`, "bAQ==")
	if r := p.get(); r.body != `433[{"error":"BINARY_NOT_SUPPORTED"}]` {
		t.Fatalf("answer to a binary event with ack: %q", r.body)
	}
	select {
	case ev := <-s.events:
		t.Fatalf("a binary event reached the session: %s", ev.Event)
	case reason := <-s.closed:
		t.Fatalf("closed: %v", reason)
	default:
	}
}

func TestPollingMalformedPostEndsOnlyThatSession(t *testing.T) {
	h := newPollHarness(t, quiet())
	a, b := h.handshake(), h.handshake()
	sa, sb := a.connect(), b.connect()
	if r := a.postRaw("42[\"a\"]\x1e\x1e42[\"b\"]"); r.status != http.StatusBadRequest {
		t.Fatalf("empty packet in a payload: %d %q", r.status, r.body)
	}
	sa.waitClosed(t, messages.CloseMalformed)
	b.post(`42["still here"]`)
	if ev := sb.nextEvent(t); ev.Event != "still here" {
		t.Fatalf("event %s", ev.Event)
	}
}

func TestPollingRequestErrors(t *testing.T) {
	h := newPollHarness(t, quiet())
	for _, tc := range []struct {
		name, method, query string
		header              http.Header
		status, code        int
	}{
		{"unknown sid GET", http.MethodGet, "EIO=4&transport=polling&sid=nope", nil, 400, 1},
		{"unknown sid POST", http.MethodPost, "EIO=4&transport=polling&sid=nope", nil, 400, 1},
		{"EIO=3", http.MethodGet, "EIO=3&transport=polling", nil, 400, 5},
		{"no EIO", http.MethodGet, "transport=polling", nil, 400, 5},
		{"unknown transport", http.MethodGet, "EIO=4&transport=flashsocket", nil, 400, 0},
		{"no transport", http.MethodGet, "EIO=4", nil, 400, 0},
		{"POST handshake", http.MethodPost, "EIO=4&transport=polling", nil, 400, 2},
		{"PUT handshake", http.MethodPut, "EIO=4&transport=polling", nil, 400, 2},
		{"websocket without upgrade", http.MethodGet, "EIO=4&transport=websocket", nil, 400, 3},
		{"foreign Origin", http.MethodGet, "EIO=4&transport=polling", http.Header{"Origin": {"https://evil.example"}}, 403, 4},
		{"foreign Origin POST", http.MethodPost, "EIO=4&transport=polling&sid=x", http.Header{"Origin": {"https://evil.example"}}, 403, 4},
	} {
		r := h.do(tc.method, tc.query, "", tc.header)
		if r.err != nil || r.status != tc.status || r.eioCode() != tc.code {
			t.Errorf("%s: %d %q (%v), want %d with code %d", tc.name, r.status, r.body, r.err, tc.status, tc.code)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}
	// A foreign Origin gets no CORS header.
	if r := h.do(http.MethodGet, "EIO=4&transport=polling", "", http.Header{"Origin": {"https://evil.example"}}); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin got ACAO %q", r.header.Get("Access-Control-Allow-Origin"))
	}
	// A method other than GET or POST on a session.
	p := h.handshake()
	if r := h.do(http.MethodPut, p.query(), "", nil); r.status != 400 || r.eioCode() != 3 {
		t.Errorf("PUT on a session: %d %q", r.status, r.body)
	}
}

func TestPollingCORS(t *testing.T) {
	h := newPollHarness(t, quiet())
	origin := http.Header{"Origin": {"http://app.example"}}
	r := h.do(http.MethodGet, "EIO=4&transport=polling", "", origin)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "http://app.example" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("handshake from an allowed origin: %d %v", r.status, r.header)
	}
	p := &pollClient{h: h}
	var open map[string]any
	_ = json.Unmarshal([]byte(r.body[1:]), &open)
	p.sid, _ = open["sid"].(string)
	r = h.do(http.MethodPost, p.query(), `40{"token":"`+h.token("alice")+`"}`, origin)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "http://app.example" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("POST from an allowed origin: %d %v", r.status, r.header)
	}
	pre := http.Header{"Origin": {"http://app.example"}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}}
	r = h.do(http.MethodOptions, p.query(), "", pre)
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "http://app.example" ||
		r.header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		r.header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if r := h.do(http.MethodOptions, p.query(), "", http.Header{"Origin": {"https://evil.example"}}); r.status != http.StatusForbidden {
		t.Fatalf("foreign preflight: %d", r.status)
	}
}

// dialProbe opens the upgrade WebSocket for the pollClient's session.
func (p *pollClient) dialProbe() (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(p.h.http.URL, "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + p.sid
	d := websocket.Dialer{HandshakeTimeout: waitFor}
	return d.Dial(u, nil)
}

func readText(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	mt, b, err := ws.ReadMessage()
	if err != nil || mt != websocket.TextMessage {
		t.Fatalf("read: %v (type %d)", err, mt)
	}
	return string(b)
}

func TestPollingUpgrade(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	p.post(`42["before"]`)
	if ev := s.nextEvent(t); ev.Event != "before" {
		t.Fatalf("event %s", ev.Event)
	}
	pending := p.getAsync()
	p.waitPending()
	ws, _, err := p.dialProbe()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, ws); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	// The pending long poll is released so the client can pause polling.
	if r := waitResponse(t, pending, "the pending GET during the probe"); r.body != "6" {
		t.Fatalf("pending GET answered %q, want 6", r.body)
	}
	// Frames queued during the probe wait for the switch.
	for i := range 5 {
		s.client.Enqueue([]byte(`42["during",` + string(rune('0'+i)) + `]`))
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if got, want := readText(t, ws), `42["during",`+string(rune('0'+i))+`]`; got != want {
			t.Fatalf("frame %d on the WebSocket: %q, want %q", i, got, want)
		}
	}
	s.client.Enqueue([]byte(`42["after"]`))
	if got := readText(t, ws); got != `42["after"]` {
		t.Fatalf("after the switch: %q", got)
	}
	// Later events over the WebSocket reach the same session.
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`42["over ws",1]`)); err != nil {
		t.Fatal(err)
	}
	if ev := s.nextEvent(t); ev.Event != "over ws" {
		t.Fatalf("event %s", ev.Event)
	}
	// The session no longer polls.
	if r := p.postRaw(`42["late"]`); r.status != http.StatusBadRequest {
		t.Fatalf("POST after the upgrade: %d %q", r.status, r.body)
	}
	if r := p.get(); r.body != "6" && r.status != http.StatusBadRequest {
		t.Fatalf("GET after the upgrade: %d %q", r.status, r.body)
	}
	// A second probe for the upgraded session is refused.
	if _, resp, err := p.dialProbe(); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("second probe: %v %v", err, resp)
	}
	// Closing it now closes the WebSocket, DISCONNECT first.
	s.client.Close(messages.CloseKicked)
	if got := readText(t, ws); got != "41" {
		t.Fatalf("close: %q", got)
	}
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, messages.CloseKicked.Code()) {
		t.Fatalf("close frame: %v", err)
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	s.waitClosed(t, messages.CloseKicked)
	p.waitGone()
}

func TestPollingUpgradeProbeRefused(t *testing.T) {
	h := newPollHarness(t, quiet())
	// Unknown sid: 400 before the upgrade.
	u := "ws" + strings.TrimPrefix(h.http.URL, "http") + "/socket.io/?EIO=4&transport=websocket&sid=unknown"
	_, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("probe for an unknown sid: %v %v", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(`"code":1`)) {
		t.Fatalf("body %q", b)
	}
	// A probe that does not say 2probe is closed; the session goes on polling.
	p := h.handshake()
	s := p.connect()
	ws, _, err := p.dialProbe()
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`42["sneaky"]`))
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseProtocolError) {
		t.Fatalf("bad probe: %v", err)
	}
	p.post(`42["polling still"]`)
	if ev := s.nextEvent(t); ev.Event != "polling still" {
		t.Fatalf("event %s", ev.Event)
	}
	s.client.Enqueue([]byte(`42["to poll"]`))
	if r := p.get(); r.body != `42["to poll"]` {
		t.Fatalf("GET after a failed probe: %q", r.body)
	}
}

// A probe answered 3probe that then fails (no 5) leaves the session polling
// as before: its GETs wait again instead of being answered 6 at once, which
// would make a client poll in a tight loop.
func TestPollingFailedProbeLetsTheLongPollWaitAgain(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	ws, _, err := p.dialProbe()
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if got := readText(t, ws); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`42["not the upgrade"]`))
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseProtocolError) {
		t.Fatalf("failed probe: %v", err)
	}
	pending := p.getAsync()
	p.waitPending() // it waits: not answered 6 at once
	s.client.Enqueue([]byte(`42["after the failed probe"]`))
	if r := <-pending; r.body != `42["after the failed probe"]` {
		t.Fatalf("GET after a failed probe: %q", r.body)
	}
}

func TestPollingCloseDeliversDisconnectAndClosePacket(t *testing.T) {
	h := newPollHarness(t, quiet())
	for _, tc := range []struct {
		reason messages.CloseReason
		want   string
	}{
		{messages.CloseKicked, "42[\"last\"]\x1e41\x1e1"},
		{messages.CloseActorFailure, "42[\"last\"]\x1e1"},
	} {
		p := h.handshake()
		s := p.connect()
		pending := p.getAsync()
		p.waitPending()
		s.client.Enqueue([]byte(`42["last"]`))
		r := waitResponse(t, pending, "the pending GET")
		body := r.body
		s.client.Close(tc.reason)
		s.client.Close(messages.CloseSlowClient) // idempotent: the first reason stands
		if body == `42["last"]` {
			body += "\x1e" + p.get().body
		}
		if body != tc.want {
			t.Fatalf("%v: the client got %q, want %q", tc.reason, body, tc.want)
		}
		s.waitClosed(t, tc.reason)
		p.waitGone()
		if s.client.Enqueue([]byte(`42["never"]`)) {
			t.Fatalf("%v: Enqueue after the close accepted", tc.reason)
		}
	}
}

func TestPollingCloseReachesAClientThatStoppedPolling(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	s.client.Close(messages.CloseKicked)
	// Nobody collects: the session still ends, within the close grace.
	s.waitClosed(t, messages.CloseKicked)
	p.waitGone()
}

func TestCloseAllClosesPollingSessions(t *testing.T) {
	h := newPollHarness(t, quiet())
	accepted, fresh := h.handshake(), h.handshake()
	s := accepted.connect()
	pa, pf := accepted.getAsync(), fresh.getAsync()
	accepted.waitPending()
	fresh.waitPending()
	h.srv.Drain()
	h.srv.CloseAll(messages.CloseServerShutdown)
	// docs/PROTOCOL.md "Close codes": the close packet with no DISCONNECT before it, so the
	// client reconnects by itself and recovers.
	if r := waitResponse(t, pa, "the accepted session's GET"); r.body != "1" {
		t.Fatalf("accepted session got %q", r.body)
	}
	if r := waitResponse(t, pf, "the fresh session's GET"); r.body != "1" {
		t.Fatalf("session without CONNECT got %q", r.body)
	}
	s.waitClosed(t, messages.CloseServerShutdown)
	accepted.waitGone()
	fresh.waitGone()
	// While draining no session opens.
	if r := h.do(http.MethodGet, "EIO=4&transport=polling", "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("handshake while draining: %d %q", r.status, r.body)
	}
}

func TestPollingSlowClient(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: time.Minute, PingTimeout: time.Minute, OutboundQueueBytes: 4096})
	p := h.handshake()
	s := p.connect()
	frame := []byte(`42["fill","` + strings.Repeat("z", 90) + `"]`)
	n := 0
	for s.client.Enqueue(frame) {
		if n++; n > 4096/len(frame)+1 {
			t.Fatalf("the queue took %d frames of %d bytes past its %d bytes", n, len(frame), 4096)
		}
	}
	s.waitClosed(t, messages.CloseSlowClient)
	p.waitGone()
}

func TestPollingClientCloseAndPostAfterEnd(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	pending := p.getAsync()
	p.waitPending()
	p.post("1") // the Engine.IO close packet: the transport ends, the session may be recovered
	if r := waitResponse(t, pending, "the pending GET"); r.body != "1" {
		t.Fatalf("pending GET after the client's close: %q", r.body)
	}
	s.waitClosed(t, messages.CloseTransportClosed)
	p.waitGone()
	if r := p.postRaw(`42["x"]`); r.status != 400 || r.eioCode() != 1 {
		t.Fatalf("POST after the end: %d %q", r.status, r.body)
	}
}

// An abort that finds a GET under way leaves the end to that GET, which may
// return without taking the close packet (answering frames when the abort
// came, or its client gone): the session ends as it returns, not a close
// grace later, so a client that reconnects at once finds it kept.
func TestPollingAbortDuringAGETEndsTheSessionAsItReturns(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	ps := p.session()
	ps.getting.Store(true) // a GET between taking its frames and returning
	ps.abort(messages.CloseTransportClosed)
	if ps.ended.Load() {
		t.Fatal("the session ended under the GET that is answering")
	}
	ps.pollDone()
	if !ps.ended.Load() {
		t.Fatal("the GET returned and the aborted session is still open (until its close grace)")
	}
	s.waitClosed(t, messages.CloseTransportClosed)
	p.waitGone()
}

// FuzzTokenFromAuth feeds CONNECT auth payloads (untrusted) to the token
// and recovery reader: it never panics, a token it finds is the JSON string
// under "token", and an offset comes only with a pid.
func FuzzTokenFromAuth(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"token":"a.b.c"}`, `{"token":null}`, `{"token":""}`, `{"token":1}`, `{"token":["x"]}`, `[1]`, `"x"`, `{"token":"\u0000"}`, `{"token":"a","token":"b"}`, `{`, `{"token":"t","pid":"p","offset":"1"}`, `{"pid":"p","offset":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, auth []byte) {
		tok, present, resume, err := fromAuth(auth)
		if err != nil && (present || tok != "" || resume != (messages.Resume{})) {
			t.Fatalf("error %v with token %q present %v resume %+v", err, tok, present, resume)
		}
		if (resume.HasOffset || resume.Offset != "") && resume.PID == "" {
			t.Fatalf("an offset without a pid: %+v", resume)
		}
		if present != (tok != "") {
			t.Fatalf("present %v with token %q", present, tok)
		}
		if present {
			var a map[string]json.RawMessage
			if json.Unmarshal(auth, &a) != nil {
				t.Fatalf("token %q from a payload that is not a JSON object", tok)
			}
		}
	})
}

func TestPollingOnlyOneProbeTakesTheSession(t *testing.T) {
	h := newPollHarness(t, quiet())
	p := h.handshake()
	s := p.connect()
	var probes [2]*websocket.Conn
	for i := range probes {
		ws, _, err := p.dialProbe()
		if err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		defer ws.Close()
		if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
			t.Fatal(err)
		}
		if got := readText(t, ws); got != "3probe" {
			t.Fatalf("probe %d answer %q", i, got)
		}
		probes[i] = ws
	}
	if err := probes[0].WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	s.client.Enqueue([]byte(`42["first"]`))
	if got := readText(t, probes[0]); got != `42["first"]` {
		t.Fatalf("upgraded WebSocket got %q", got)
	}
	// The session has moved: the other probe's upgrade is refused.
	if err := probes[1].WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	_ = probes[1].SetReadDeadline(time.Now().Add(waitFor))
	if _, b, err := probes[1].ReadMessage(); !websocket.IsCloseError(err, websocket.CloseProtocolError) {
		t.Fatalf("second probe: %q %v", b, err)
	}
	s.client.Enqueue([]byte(`42["second"]`))
	if got := readText(t, probes[0]); got != `42["second"]` {
		t.Fatalf("upgraded WebSocket got %q", got)
	}
	if err := probes[0].WriteMessage(websocket.TextMessage, []byte(`42["from first"]`)); err != nil {
		t.Fatal(err)
	}
	if ev := s.nextEvent(t); ev.Event != "from first" {
		t.Fatalf("event %s", ev.Event)
	}
}

// gatedVerifier is the real verifier held at a gate: Verify reports it has
// started, then waits for release before verifying.
type gatedVerifier struct {
	security.Verifier
	started, release chan struct{}
}

func (g *gatedVerifier) Verify(ctx context.Context, token string) (*security.Claims, error) {
	g.started <- struct{}{}
	<-g.release
	return g.Verifier.Verify(ctx, token)
}

// A session that times out while its CONNECT is being verified must not
// leave the gateway a client that is never reported Closed.
func TestPollingSessionEndingDuringConnect(t *testing.T) {
	g := &gatedVerifier{started: make(chan struct{}, 1), release: make(chan struct{})}
	h := newPollHarnessWith(t, Config{PingInterval: 30 * time.Millisecond, PingTimeout: 30 * time.Millisecond},
		func(v security.Verifier) security.Verifier { g.Verifier = v; return g })
	p := h.handshake()
	ps := p.session()
	posted := make(chan response, 1)
	go func() { posted <- p.postRaw(`40{"token":"` + h.token("alice") + `"}`) }()
	select {
	case <-g.started:
	case <-time.After(waitFor):
		t.Fatal("the CONNECT was never verified")
	}
	// The handshake limit runs out while the token is being verified.
	waitUntil(t, "the handshake timeout", func() bool { return !ps.out.Enqueue(nil) })
	close(g.release)
	waitResponse(t, posted, "the CONNECT POST")
	select {
	case s := <-h.gw.sessions:
		s.waitClosed(t, messages.CloseHandshakeTimeout)
	case <-time.After(waitFor):
		// Not accepted at all is fine too, as long as the session is gone.
	}
	p.waitGone()
}

// A refused client that closes the session itself (socket.io-client does)
// ends it at once, not after the CONNECT_ERROR grace.
func TestPollingRefusedClientMayCloseItself(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: time.Minute, PingTimeout: time.Minute, ConnectErrorGrace: time.Minute})
	p := h.handshake()
	p.post(`40{"token":"bad"}`)
	if r := p.get(); !strings.HasPrefix(r.body, `44{"message":"INVALID_TOKEN"`) {
		t.Fatalf("CONNECT answer %q", r.body)
	}
	p.post(`42["ignored"]`, "1")
	p.waitGone()
	if got := testutil.ToFloat64(h.srv.metrics.disconnects.WithLabelValues(messages.CloseConnectRefused.String())); got != 1 {
		t.Fatalf("connect_refused disconnects: %v", got)
	}
}
