package cluster

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func TestTokenIsOneSafeSubjectToken(t *testing.T) {
	for _, room := range []string{"a", "org:1:room", "a.b.c", "*", ">", "with space", "tab\there", "ünïcødé", strings.Repeat("x", maxRoomLen)} {
		tok := token(room)
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("token(%q) = %q is not one safe token", room, tok)
		}
	}
	if token("a:b") == token("a.b") {
		t.Fatal("distinct rooms share a token")
	}
}

func TestRoomMsgRoundTrip(t *testing.T) {
	data := []byte(`{"x":[1,2,3]}`)
	b := appendRoomMsg(nil, 1<<40, 0, "node-1", "message", data)
	m, err := decodeRoomMsg(b)
	if err != nil || m.reqID != 1<<40 || string(m.origin) != "node-1" || string(m.event) != "message" || !bytes.Equal(m.data, data) {
		t.Fatalf("decode = %+v, %v", m, err)
	}
	if len(b) > len(data)+len("node-1")+len("message")+10 {
		t.Fatalf("envelope too large: %d bytes", len(b))
	}
	for i := range len(b) - len(data) {
		if _, err := decodeRoomMsg(b[:i]); err == nil && i < 3 {
			t.Fatalf("truncated message of %d bytes decoded", i)
		}
	}
	if _, err := decodeRoomMsg([]byte{3, 0, 0, 0}); err == nil {
		t.Fatal("unknown version decoded")
	}
	b = appendRoomMsg(nil, 7, 1<<33, "n", "ev", data)
	if m, err := decodeRoomMsg(b); err != nil || m.reqID != 7 || m.offset != 1<<33 || string(m.event) != "ev" || !bytes.Equal(m.data, data) {
		t.Fatalf("decode with offset = %+v, %v", m, err)
	}
	sid, ev, d, err := decodeHistMsg(appendHistMsg(nil, "sid1", "ev", data))
	if err != nil || sid != "sid1" || ev != "ev" || !bytes.Equal(d, data) {
		t.Fatalf("history message = %q %q %s %v", sid, ev, d, err)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	id, c, node, err := decodeReply(appendReply(nil, 77, 12345, "b"))
	if err != nil || id != 77 || c != 12345 || string(node) != "b" {
		t.Fatalf("decode = %d %d %q %v", id, c, node, err)
	}
	if _, _, _, err := decodeReply([]byte{1}); err == nil {
		t.Fatal("truncated reply decoded")
	}
}

func TestRegistryApply(t *testing.T) {
	r := newRegistry("self", "gw.room.")
	now := time.Now()
	ctl := func(kind byte, inst uint64, node string, body []byte) ctlMsg {
		m, err := decodeCtl(append(appendCtlHeader(nil, kind, inst, node), body...))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	hb := func(gen, part, parts uint64, rooms ...string) []byte {
		var b []byte
		b = appendUvarint(b, gen, part, parts)
		for _, room := range rooms {
			b = appendString(b, room)
		}
		return b
	}
	mustApply := func(m ctlMsg) applyResult {
		res, err := r.apply(m, now)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := mustApply(ctl(ctlAdd, 1, "p", []byte("r1"))); !res.joined || res.peers != 1 {
		t.Fatalf("first message: %+v", res)
	}
	mustApply(ctl(ctlAdd, 1, "p", []byte("r2")))
	if h, subj := r.hosts("r1"); len(h) != 1 || subj != "gw.room."+token("r1") {
		t.Fatalf("hosts = %v %q", h, subj)
	}
	mustApply(ctl(ctlDel, 1, "p", []byte("r1")))
	if h, _ := r.hosts("r1"); h != nil {
		t.Fatalf("hosts after del = %v", h)
	}
	// A two-part heartbeat replaces the set: r2 is dropped, r3 and r4 kept.
	mustApply(ctl(ctlHeartbeat, 1, "p", hb(5, 0, 2, "r3")))
	if h, _ := r.hosts("r2"); h == nil {
		t.Fatal("incomplete heartbeat swept")
	}
	mustApply(ctl(ctlHeartbeat, 1, "p", hb(5, 1, 2, "r4")))
	for room, want := range map[string]int{"r2": 0, "r3": 1, "r4": 1} {
		if h, _ := r.hosts(room); len(h) != want {
			t.Fatalf("hosts(%s) = %v", room, h)
		}
	}
	// A heartbeat with a missing part changes nothing.
	mustApply(ctl(ctlHeartbeat, 1, "p", hb(6, 1, 2)))
	if h, _ := r.hosts("r3"); len(h) != 1 {
		t.Fatal("heartbeat missing its first part was applied")
	}
	// A restart (new instance) voids the old set.
	if res := mustApply(ctl(ctlAdd, 2, "p", []byte("r9"))); !res.joined {
		t.Fatal("restart not seen as a join")
	}
	if h, _ := r.hosts("r3"); h != nil {
		t.Fatal("old instance's rooms kept")
	}
	// Our own messages are ignored.
	mustApply(ctl(ctlAdd, 1, "self", []byte("r9")))
	if h, _ := r.hosts("r9"); len(h) != 1 || h[0] != "p" {
		t.Fatalf("hosts(r9) = %v", h)
	}
	// Goodbye of another instance is ignored, of this one forgets the peer.
	mustApply(ctl(ctlBye, 1, "p", nil))
	if len(r.peerIDs()) != 1 {
		t.Fatal("stale goodbye applied")
	}
	if res := mustApply(ctl(ctlBye, 2, "p", nil)); !res.left || res.peers != 0 {
		t.Fatalf("goodbye: %+v", res)
	}
	if h, _ := r.hosts("r9"); h != nil || len(r.rooms) != 0 {
		t.Fatal("goodbye left rooms")
	}
	// Expiry.
	mustApply(ctl(ctlAdd, 3, "q", []byte("r1")))
	if res := mustApply(ctl(ctlQuery, 3, "q", nil)); !res.query || res.joined {
		t.Fatalf("query: %+v", res)
	}
	r.touchAll(now)
	if gone, left := r.expire(now.Add(time.Second), 2*time.Second); len(gone) != 0 || left != 1 {
		t.Fatal("expired too early")
	}
	if gone, left := r.expire(now.Add(3*time.Second), 2*time.Second); len(gone) != 1 || left != 0 || len(r.rooms) != 0 {
		t.Fatal("not expired")
	}
	// Malformed input is reported, not applied.
	if _, err := decodeCtl([]byte{1, 'A'}); err == nil {
		t.Fatal("short control decoded")
	}
	if _, err := r.apply(ctl(ctlHeartbeat, 3, "q", []byte{0xff}), now); err == nil {
		t.Fatal("bad heartbeat applied")
	}
}

func appendUvarint(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func TestConfig(t *testing.T) {
	c := Config{Listen: "0.0.0.0:4222", ClusterListen: "0.0.0.0:6222", Routes: []string{"nats-route://a:6222", "b:6222"}, NodeID: "gw-1"}
	if err := c.Validate(); err != nil || !c.Enabled() {
		t.Fatalf("valid config: %v", err)
	}
	u, err := routeURLs(c.Routes)
	if err != nil || u[1].String() != "nats-route://b:6222" {
		t.Fatalf("routeURLs = %v, %v", u, err)
	}
	if (Config{}).Enabled() {
		t.Fatal("the zero Config is enabled")
	}
	for name, bad := range map[string]Config{
		"both":            {URL: "nats://x:4222", Listen: ":4222"},
		"routes w/o port": {Listen: ":4222", Routes: []string{"a:1"}},
		"url and routes":  {URL: "nats://x:4222", Routes: []string{"a:1"}},
		"only routes":     {Routes: []string{"a:1"}},
		"prefix":          {URL: "nats://x", SubjectPrefix: "gw.*"},
		"node id":         {URL: "nats://x", NodeID: "a b"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := Start(bad, nil, nil); err == nil {
			t.Errorf("%s: Start succeeded", name)
		}
	}
	if _, _, err := hostPort("nohost"); err == nil {
		t.Error("bad listen accepted")
	}
}
