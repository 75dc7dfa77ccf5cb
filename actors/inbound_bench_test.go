package actors_test

import (
	"encoding/json"
	"testing"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// The inbound path of a client event, from the transport's hand-off
// (Session.Event) to what the client sees, measured with fake clients: no
// sockets, so what is left is the actors' hops.

func acceptFake(b *testing.B, sys *actors.System, sid, sub string) (*fakeClient, interface {
	Event(*messages.ClientEvent)
}) {
	b.Helper()
	c := newFakeClient(sid)
	c.ip = sid // one IP each: no per-IP limit in the way
	s := sys.Accept(c, claims(sub, "w1"), messages.Resume{})
	if s == nil {
		b.Fatal("not accepted")
	}
	<-c.frames // the CONNECT answer
	return c, s
}

func nextFrame(b *testing.B, c *fakeClient) socketio.Packet {
	p, err := socketio.Decode(<-c.frames)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkInboundDashboardAction: a dashboard_action with an ack, until
// the sender has its ack and another member the broadcast.
func BenchmarkInboundDashboardAction(b *testing.B) {
	sys := benchSystem(b)
	sender, s := acceptFake(b, sys, "sender", "u1")
	member, m := acceptFake(b, sys, "member", "u2")
	for i, sess := range []interface{ Event(*messages.ClientEvent) }{s, m} {
		sess.Event(&messages.ClientEvent{Event: "join_room", Args: []json.RawMessage{json.RawMessage(`{"room":"workspace:w1:dashboard"}`)}, AckID: int64(i)})
	}
	nextFrame(b, sender)
	nextFrame(b, member)
	data := []json.RawMessage{json.RawMessage(`{"action":"approve","payload":"x"}`)}
	b.ResetTimer()
	for i := range b.N {
		s.Event(&messages.ClientEvent{Event: "dashboard_action", Args: data, AckID: int64(i)})
		if p := nextFrame(b, sender); p.Type != socketio.Ack {
			b.Fatalf("sender got %+v", p)
		}
		if p := nextFrame(b, member); p.Event != "dashboard_action" {
			b.Fatalf("member got %+v", p)
		}
	}
}

// BenchmarkInboundJoinLeave: join_room then leave_room of a live room, each
// until its ack.
func BenchmarkInboundJoinLeave(b *testing.B) {
	sys := benchSystem(b)
	keeper, k := acceptFake(b, sys, "keeper", "u0") // keeps the room alive
	k.Event(&messages.ClientEvent{Event: "join_room", Args: []json.RawMessage{json.RawMessage(`{"room":"workspace:w1:approvals"}`)}, AckID: 1})
	nextFrame(b, keeper)
	c, s := acceptFake(b, sys, "joiner", "u1")
	room := []json.RawMessage{json.RawMessage(`{"room":"workspace:w1:approvals"}`)}
	b.ResetTimer()
	for i := range b.N {
		s.Event(&messages.ClientEvent{Event: "join_room", Args: room, AckID: int64(2 * i)})
		nextFrame(b, c)
		s.Event(&messages.ClientEvent{Event: "leave_room", Args: room, AckID: int64(2*i + 1)})
		nextFrame(b, c)
	}
}

func benchSystem(b *testing.B) *actors.System {
	return unitSystemTB(b, actors.Config{MaxMessagesPerMinute: -1, MaxConnectionsPerIP: -1})
}
