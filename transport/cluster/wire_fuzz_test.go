package cluster

import (
	"bytes"
	"testing"
)

// The cluster's wire messages come from other nodes over NATS: a malformed
// one (another version, a foreign publisher on a shared NATS) must be an
// error, never a panic, and a well-formed one must round-trip.

func FuzzDecodeRoomMsg(f *testing.F) {
	f.Add(appendRoomMsg(nil, 7, 0, "node-a", "n", []byte(`{"x":1}`)))
	f.Add(appendRoomMsg(nil, 1, 42, "b", "ev", nil))
	f.Add([]byte{2, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRoomMsg(b)
		if err != nil {
			return
		}
		again, err := decodeRoomMsg(appendRoomMsg(nil, m.reqID, m.offset, string(m.origin), string(m.event), m.data))
		if err != nil || again.reqID != m.reqID || again.offset != m.offset || !bytes.Equal(again.origin, m.origin) ||
			!bytes.Equal(again.event, m.event) || !bytes.Equal(again.data, m.data) {
			t.Fatalf("round trip of %+v: %+v %v", m, again, err)
		}
	})
}

func FuzzDecodeHistMsg(f *testing.F) {
	f.Add(appendHistMsg(nil, "sid-1", "state_sync", []byte(`{"state":1}`)))
	f.Add(appendHistMsg(nil, "", "n", nil))
	f.Add([]byte{1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		sid, event, data, err := decodeHistMsg(b)
		if err != nil {
			return
		}
		s2, e2, d2, err := decodeHistMsg(appendHistMsg(nil, sid, event, data))
		if err != nil || s2 != sid || e2 != event || !bytes.Equal(d2, data) {
			t.Fatalf("round trip of %q %q %q: %q %q %q %v", sid, event, data, s2, e2, d2, err)
		}
	})
}

func FuzzDecodeCtl(f *testing.F) {
	f.Add(appendCtlHeader(nil, ctlHeartbeat, 99, "node-a"))
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeCtl(b)
		if err != nil {
			return
		}
		if m.kind == ctlHeartbeat {
			if h, err := decodeHeartbeat(m.body); err == nil {
				_ = eachRoom(h.rooms, func([]byte) {})
			}
		}
		_, _, _, _ = decodeReply(b)
	})
}
