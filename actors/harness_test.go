package actors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport"
	"github.com/hyvve/gateway/transport/cluster"
	"github.com/hyvve/gateway/transport/socketio"
)

// waitFor bounds every wait in these tests; tests wait on events, and this
// only turns a hang into a failure.
const waitFor = 5 * time.Second

const testSecret = "test-secret-0123456789abcdef"
const publishKey = "publish-key"

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is one gateway (transport + actor tree) on a real 127.0.0.1 socket.
type harness struct {
	t    *testing.T
	http *httptest.Server
	url  string
	sys  *actors.System
	srv  *transport.Server
	reg  *prometheus.Registry
	logs *syncBuffer
	node *cluster.Node
	stop func() // idempotent: drains and shuts the gateway down
}

type options struct {
	actors    actors.Config
	transport transport.Config
	cluster   *cluster.Config // nil: a single node
	logLevel  slog.Level      // debug unless a test asks for less
}

// withFaults turns fault injection on (the supervision tests); without it
// the actors run with the shared per-kind Props of production.
func withFaults(o *options) { o.actors.FaultInjection = true }

func newHarness(t *testing.T, opts ...func(*options)) *harness {
	t.Helper()
	o := options{
		logLevel:  slog.LevelDebug,
		transport: transport.Config{PublishAPIKey: publishKey, AllowedOrigins: []string{"http://localhost:3000"}},
	}
	for _, f := range opts {
		f(&o)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: o.logLevel}))
	reg := prometheus.NewRegistry()
	verifier, closer, err := security.NewVerifier(context.Background(), security.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	events := security.NewEventLog(log, reg, 0, 0)
	var node *cluster.Node
	if o.cluster != nil {
		if node, err = cluster.Start(*o.cluster, log, reg); err != nil {
			t.Fatal(err)
		}
	}
	sys, err := actors.NewSystem(o.actors, actors.Deps{Logger: log, Events: events, Verifier: verifier, Registry: reg, Cluster: node})
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(o.transport, transport.Deps{Verifier: verifier, Gateway: sys, Events: events, Logger: log, Registry: reg, Ready: node.Ready})
	h := &harness{t: t, sys: sys, srv: srv, reg: reg, logs: logs, node: node}
	h.http = httptest.NewUnstartedServer(nil)
	h.http.Config = srv.HTTPServer(nil) // production bounds (timeouts, header size)
	h.http.Start()
	h.url = h.http.URL
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			srv.Drain()
			sys.Shutdown()
			srv.CloseAll(messages.CloseServerShutdown)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			if err := srv.WaitConns(ctx); err != nil {
				t.Errorf("sockets still open after shutdown: %v", err)
			}
			h.http.Close()
			node.Close()
			closer.Close()
		})
	}
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	return h
}

type tokenOpt func(*security.Claims)

func withRole(r string) tokenOpt { return func(c *security.Claims) { c.Role = r } }
func withTTL(d time.Duration) tokenOpt {
	return func(c *security.Claims) { c.ExpiresAt = time.Now().Add(d) }
}
func withWorkspaces(ws ...string) tokenOpt { return func(c *security.Claims) { c.Workspaces = ws } }

func token(t *testing.T, sub, ws string, opts ...tokenOpt) string {
	t.Helper()
	c := security.Claims{Subject: sub, WorkspaceID: ws, Role: "member", ExpiresAt: time.Now().Add(time.Hour)}
	for _, o := range opts {
		o(&c)
	}
	tok, err := security.MintHS256([]byte(testSecret), c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is a minimal Socket.IO client over a real WebSocket. A reader
// goroutine decodes every frame onto frames and answers pings.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	frames  chan socketio.Packet
	closed  chan struct{}
	closeMu sync.Mutex
	close   *websocket.CloseError
	sid     string
	pid     string // the private session id of the CONNECT answer (recovery on)
	open    map[string]any
	nextAck int64
	mu      sync.Mutex // serialises writes
	noPong  bool
	paused  chan struct{} // closed by pause: the reader stops reading
	// presence: next returns presence_join and presence_leave events too;
	// by default it skips them (tests of other features ignore presence).
	presence bool
}

// pause makes the client stop reading its socket, as a stuck browser tab would.
func (c *client) pause() { close(c.paused) }

type dialOpt func(*dialConfig)

type dialConfig struct {
	header http.Header
	noPong bool
}

func withHeader(k, v string) dialOpt {
	return func(c *dialConfig) { c.header.Set(k, v) }
}
func withoutPong() dialOpt { return func(c *dialConfig) { c.noPong = true } }

// rawDial opens the WebSocket and reads the Engine.IO OPEN packet.
func (h *harness) rawDial(opts ...dialOpt) *client {
	h.t.Helper()
	cfg := dialConfig{header: http.Header{}}
	for _, o := range opts {
		o(&cfg)
	}
	u := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, resp, err := websocket.DefaultDialer.Dial(u, cfg.header)
	if err != nil {
		h.t.Fatalf("dial: %v (resp %v)", err, resp)
	}
	c := &client{t: h.t, ws: ws, frames: make(chan socketio.Packet, 1024), closed: make(chan struct{}), noPong: cfg.noPong, paused: make(chan struct{})}
	go c.readLoop()
	h.t.Cleanup(func() { _ = ws.Close() })
	p := c.next()
	if p.EIO != socketio.EIOOpen {
		h.t.Fatalf("first packet is not OPEN: %+v", p)
	}
	if err := json.Unmarshal(p.Data, &c.open); err != nil {
		h.t.Fatalf("OPEN payload: %v", err)
	}
	return c
}

// dial connects and authenticates with token, failing the test on refusal.
func (h *harness) dial(tok string, opts ...dialOpt) *client {
	h.t.Helper()
	return h.dialAuth(map[string]any{"token": tok}, opts...)
}

// dialAuth connects with the CONNECT auth payload auth (a token, and a pid
// and offset to recover), failing the test on refusal. The answer must be
// exactly {"sid":…} or {"sid":…,"pid":…}.
func (h *harness) dialAuth(auth map[string]any, opts ...dialOpt) *client {
	h.t.Helper()
	c := h.rawDial(opts...)
	b, _ := json.Marshal(auth)
	c.writeText("40" + string(b))
	p := c.next()
	if p.EIO != socketio.EIOMessage || p.Type != socketio.Connect {
		h.t.Fatalf("CONNECT answer: %+v (%s)", p, p.Data)
	}
	var body map[string]string
	if err := json.Unmarshal(p.Data, &body); err != nil || body["sid"] == "" || len(body) > 2 || (len(body) == 2 && body["pid"] == "") {
		h.t.Fatalf("CONNECT answer %s: want {\"sid\":…} or {\"sid\":…,\"pid\":…}", p.Data)
	}
	c.sid, c.pid = body["sid"], body["pid"]
	return c
}

// dialRefused connects and expects a CONNECT_ERROR, returning its code.
func (h *harness) dialRefused(connect string, opts ...dialOpt) (*client, string) {
	h.t.Helper()
	c := h.rawDial(opts...)
	c.writeText(connect)
	p := c.next()
	if p.EIO != socketio.EIOMessage || p.Type != socketio.ConnectError {
		h.t.Fatalf("want CONNECT_ERROR, got %+v (%s)", p, p.Data)
	}
	var body struct {
		Message string
		Data    struct{ Code string }
	}
	if err := json.Unmarshal(p.Data, &body); err != nil || body.Message != body.Data.Code {
		h.t.Fatalf("CONNECT_ERROR body %s", p.Data)
	}
	return c, body.Data.Code
}

func (c *client) readLoop() {
	defer close(c.frames)
	defer close(c.closed)
	for {
		select {
		case <-c.paused:
			return
		default:
		}
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				c.closeMu.Lock()
				c.close = ce
				c.closeMu.Unlock()
			}
			return
		}
		p, err := socketio.Decode(data)
		if err == nil && p.EIO == socketio.EIOOpen {
			p.Data = data[1:] // the codec ignores OPEN's payload: servers send it, clients read it
		}
		if err != nil {
			c.t.Errorf("gateway sent an undecodable frame %q: %v", data, err)
			return
		}
		if p.EIO == socketio.EIOPing {
			if !c.noPong {
				c.writeText("3")
			}
			continue
		}
		c.frames <- p
	}
}

func (c *client) writeText(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

// next returns the next packet, failing the test if none comes in time.
func (c *client) next() socketio.Packet {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case p, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for a packet (close %v)", c.closeErr())
			}
			if !c.presence && p.Type == socketio.Event && (p.Event == "presence_join" || p.Event == "presence_leave") {
				continue
			}
			return p
		case <-deadline:
			c.t.Fatalf("no packet within %v", waitFor)
		}
		return socketio.Packet{}
	}
}

func (c *client) closeErr() *websocket.CloseError {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.close
}

// emit sends an event with data; withAck asks for an ack and returns its id.
func (c *client) emit(event string, data any, withAck bool) int64 {
	c.t.Helper()
	args := []any{event}
	if data != nil {
		args = append(args, data)
	}
	b, _ := json.Marshal(args)
	if !withAck {
		c.writeText("42" + string(b))
		return socketio.NoAck
	}
	c.nextAck++
	c.writeText("42" + strconv.FormatInt(c.nextAck, 10) + string(b))
	return c.nextAck
}

// call emits with an ack and returns the ack's first argument, skipping
// nothing: the next packet must be that ack.
func (c *client) call(event string, data any) map[string]any {
	c.t.Helper()
	id := c.emit(event, data, true)
	p := c.next()
	if p.Type != socketio.Ack || p.AckID != id {
		c.t.Fatalf("want ack %d for %s, got %+v %s", id, event, p, p.Args)
	}
	var out map[string]any
	if len(p.Args) != 1 || json.Unmarshal(p.Args[0], &out) != nil {
		c.t.Fatalf("ack args %s", p.Args)
	}
	return out
}

// expectEvent returns the data of the next packet, which must be event.
func (c *client) expectEvent(event string) json.RawMessage {
	c.t.Helper()
	p := c.next()
	if p.Type != socketio.Event || p.Event != event {
		c.t.Fatalf("want event %q, got %+v %s", event, p, p.Args)
	}
	if len(p.Args) == 0 {
		return nil
	}
	return p.Args[0]
}

// expectClose waits for the socket's end and checks the close code.
func (c *client) expectClose(code int) {
	c.t.Helper()
	for {
		select {
		case p, ok := <-c.frames:
			if ok && !c.presence && p.Type == socketio.Event && (p.Event == "presence_join" || p.Event == "presence_leave") {
				continue
			}
			if ok {
				c.t.Fatalf("want close %d, got packet %+v %s %s", code, p, p.Args, p.Data)
			}
			ce := c.closeErr()
			if ce == nil || ce.Code != code {
				c.t.Fatalf("want close code %d, got %v", code, ce)
			}
			return
		case <-time.After(waitFor):
			c.t.Fatalf("no close within %v", waitFor)
		}
	}
}

// publish calls the publish API and returns the status and decoded body.
func (h *harness) publish(key, body string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/publish", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("publish answered %d with non-JSON %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func (h *harness) mustPublish(room, event string, data any) int {
	h.t.Helper()
	b, _ := json.Marshal(map[string]any{"room": room, "event": event, "data": data})
	status, out := h.publish(publishKey, string(b))
	if status != http.StatusOK {
		h.t.Fatalf("publish: %d %v", status, out)
	}
	return int(out["recipients"].(float64))
}

// metric reads a gauge or counter value from the registry; labels are
// name=value pairs that must all match.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		total := 0.0
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				if g := m.GetGauge(); g != nil {
					total += g.GetValue()
				} else if c := m.GetCounter(); c != nil {
					total += c.GetValue()
				}
			}
		}
		return total
	}
	return 0
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventually waits until cond holds. Gauges move on actor lifecycle events
// that no client can observe, so these waits poll the registry, bounded.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) connections() float64 { return h.metric("ws_connections_active") }
