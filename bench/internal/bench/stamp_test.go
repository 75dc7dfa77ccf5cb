package bench

import (
	"encoding/json"
	"testing"

	"github.com/hyvve/gateway/transport/socketio"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, size := range []int{minPayloadBytes, defaultPayloadBytes, 4096} {
		data := appendPayload(nil, 123, 987654321012, size)
		if len(data) != size {
			t.Errorf("size %d: payload is %d bytes", size, len(data))
		}
		if !json.Valid(data) {
			t.Fatalf("not JSON: %s", data)
		}
		frame := socketio.AppendEvent(nil, benchEvent, data)
		seq, sent, ok := parseStamp(frame)
		if !ok || seq != 123 || sent != 987654321012 {
			t.Errorf("parseStamp(%s) = %d, %d, %v", frame, seq, sent, ok)
		}
	}
}

func TestParseStampAfterReencoding(t *testing.T) {
	// What a Node Socket.IO server sends after JSON.parse and re-stringify.
	var v any
	if err := json.Unmarshal(appendPayload(nil, 7, 42, 100), &v); err != nil {
		t.Fatal(err)
	}
	frame := []byte(`42["bench",{"t":42,"s":7,"p":"xx"}]`)
	if seq, sent, ok := parseStamp(frame); !ok || seq != 7 || sent != 42 {
		t.Errorf("got %d, %d, %v", seq, sent, ok)
	}
}

func TestParseStampRejectsOtherFrames(t *testing.T) {
	for _, f := range []string{
		`42["error",{"code":"ROOM_FAILED"}]`,
		`42["bench",{"t":,"s":1}]`,
		`42["bench",{"t":1}]`,
		`42["bench",{"t":1,"s":99999999999999999999}]`,
		`42["bench",{"t":1,"s":-1}]`,
	} {
		if _, _, ok := parseStamp([]byte(f)); ok {
			t.Errorf("%s: parsed as a stamp", f)
		}
	}
}
