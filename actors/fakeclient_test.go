package actors_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/socketio"
)

// fakeClient is a messages.Client with no transport under it: the actors'
// unit tests read what the connection actor sends and how it ends.
type fakeClient struct {
	sid, ip string
	frames  chan []byte
	mu      sync.Mutex
	refused messages.Code
	closed  chan messages.CloseReason
}

func newFakeClient(sid string) *fakeClient {
	return &fakeClient{sid: sid, ip: "192.0.2.7", frames: make(chan []byte, 256), closed: make(chan messages.CloseReason, 1)}
}

func (f *fakeClient) SID() string       { return f.sid }
func (f *fakeClient) IP() string        { return f.ip }
func (f *fakeClient) Transport() string { return "fake" }
func (f *fakeClient) Enqueue(frame []byte) bool {
	select {
	case f.frames <- frame:
		return true
	default:
		return false // full: a slow client
	}
}
func (f *fakeClient) Accepted(sid, pid string) { f.Enqueue(socketio.AppendConnect(nil, sid, pid)) }
func (f *fakeClient) Refuse(code messages.Code) {
	f.mu.Lock()
	f.refused = code
	f.mu.Unlock()
	f.Enqueue(socketio.AppendConnectError(nil, string(code)))
}
func (f *fakeClient) Close(reason messages.CloseReason) {
	select {
	case f.closed <- reason:
	default:
	}
}

// next returns the next frame the actors sent, decoded.
func (f *fakeClient) next(t *testing.T) socketio.Packet {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case frame := <-f.frames:
			p, err := socketio.Decode(frame)
			if err != nil {
				t.Fatalf("undecodable frame %q: %v", frame, err)
			}
			if p.Type == socketio.Event && (p.Event == "presence_join" || p.Event == "presence_leave") {
				continue // presence has tests of its own
			}
			return p
		case <-deadline:
			t.Fatal("no frame from the actors")
			return socketio.Packet{}
		}
	}
}

// unitSystem is an actor system with no transport: clients are fakes.
func unitSystem(t *testing.T, cfg actors.Config) *actors.System { return unitSystemTB(t, cfg) }

func unitSystemTB(t testing.TB, cfg actors.Config) *actors.System {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	verifier, closer, err := security.NewVerifier(context.Background(), security.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := actors.NewSystem(cfg, actors.Deps{Logger: log, Events: security.NewEventLog(log, reg, 0, 0), Verifier: verifier, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Shutdown(); closer.Close() })
	return sys
}

func claims(sub, ws string) *security.Claims {
	return &security.Claims{Subject: sub, WorkspaceID: ws, Role: "member", ExpiresAt: time.Now().Add(time.Hour)}
}

func TestConnectionActorAgainstAFakeClient(t *testing.T) {
	sys := unitSystem(t, actors.Config{})
	c := newFakeClient("fake-1")
	session := sys.Accept(c, claims("u1", "w1"), messages.Resume{})
	if session == nil {
		t.Fatal("not accepted")
	}
	if p := c.next(t); p.Type != socketio.Connect {
		t.Fatalf("first frame %+v, want the CONNECT answer", p)
	}

	// join_room with an ack: the ack comes back through the fake's queue.
	session.Event(&messages.ClientEvent{Event: "join_room", Args: []json.RawMessage{json.RawMessage(`{"room":"workspace:w1:dashboard"}`)}, AckID: 1})
	if p := c.next(t); p.Type != socketio.Ack || p.AckID != 1 || string(p.Args[0]) != `{"joined":"workspace:w1:dashboard"}` {
		t.Fatalf("join ack %+v %s", p, p.Args)
	}
	// A publish reaches the member's queue, encoded once by the room.
	res, err := sys.Publish(context.Background(), "workspace:w1:dashboard", "metrics.updated", json.RawMessage(`{"cpu":1}`))
	if err != nil || res.Recipients != 1 {
		t.Fatalf("publish: %+v %v", res, err)
	}
	if p := c.next(t); p.Type != socketio.Event || p.Event != "metrics.updated" || string(p.Args[0]) != `{"cpu":1}` {
		t.Fatalf("broadcast %+v %s", p, p.Args)
	}
	// Another workspace's room is refused without reaching a room.
	session.Event(&messages.ClientEvent{Event: "join_room", Args: []json.RawMessage{json.RawMessage(`{"room":"workspace:w2:dashboard"}`)}, AckID: 2})
	if p := c.next(t); p.AckID != 2 || !strings.Contains(string(p.Args[0]), "ACCESS_DENIED") {
		t.Fatalf("foreign room ack %+v %s", p, p.Args)
	}

	// A kick ends the session with its reason; the transport is told to close.
	if !sys.Kick("fake-1", messages.CloseKicked) {
		t.Fatal("kick found no connection")
	}
	select {
	case reason := <-c.closed:
		if reason != messages.CloseKicked {
			t.Fatalf("closed with %v", reason)
		}
	case <-time.After(waitFor):
		t.Fatal("the actor never closed its client")
	}
	session.Closed(messages.CloseKicked) // the transport reports the end, as it would
}

func TestPerIPLimitAgainstFakeClients(t *testing.T) {
	sys := unitSystem(t, actors.Config{MaxConnectionsPerIP: 1})
	first := newFakeClient("fake-a")
	if sys.Accept(first, claims("u1", "w1"), messages.Resume{}) == nil {
		t.Fatal("first not accepted")
	}
	if p := first.next(t); p.Type != socketio.Connect {
		t.Fatalf("first: %+v", p)
	}
	second := newFakeClient("fake-b") // same IP as the first
	sys.Accept(second, claims("u2", "w1"), messages.Resume{})
	if p := second.next(t); p.Type != socketio.ConnectError || !strings.Contains(string(p.Data), "TOO_MANY_CONNECTIONS") {
		t.Fatalf("second: %+v %s", p, p.Data)
	}
}
