package socketio

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		// engine.io-protocol v4 handshake example (upgrades empty: WebSocket only).
		{"open", AppendOpen(nil, OpenInfo{SID: "lv_VI97HAXpY6yYWAAAC", PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, MaxPayload: 1000000}),
			`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"open defaults", AppendOpen(nil, OpenInfo{SID: "abc", PingInterval: 25000 * time.Millisecond, PingTimeout: 20000 * time.Millisecond, MaxPayload: 100000}),
			`0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}`},
		{"open escapes sid", AppendOpen(nil, OpenInfo{SID: `a"b`, PingInterval: 1500 * time.Microsecond}),
			`0{"sid":"a\"b","upgrades":[],"pingInterval":1,"pingTimeout":0,"maxPayload":0}`},
		{"open on polling offers the upgrade", AppendOpen(nil, OpenInfo{SID: "abc", Upgrades: []string{"websocket"}, PingInterval: time.Second, PingTimeout: time.Second, MaxPayload: 10}),
			`0{"sid":"abc","upgrades":["websocket"],"pingInterval":1000,"pingTimeout":1000,"maxPayload":10}`},
		{"ping", AppendPing(nil), "2"},
		// socket.io-protocol v5 examples, prefixed with the Engine.IO message type.
		{"connect", AppendConnect(nil, "wZX3oN0bSVIhsaknAAAI", ""), `40{"sid":"wZX3oN0bSVIhsaknAAAI"}`},
		{"connect escapes", AppendConnect(nil, "<\u2028>", ""), `40{"sid":"\u003c\u2028\u003e"}`},
		{"connect with pid", AppendConnect(nil, "wZX3oN0bSVIhsaknAAAI", "oX8c-_Q2cVbq5p4Zlr0QAg"), `40{"sid":"wZX3oN0bSVIhsaknAAAI","pid":"oX8c-_Q2cVbq5p4Zlr0QAg"}`},
		{"connect pid escapes", AppendConnect(nil, "s", `p"<`), `40{"sid":"s","pid":"p\"\u003c"}`},
		{"connect error", AppendConnectError(nil, "UNAUTHORIZED"), `44{"message":"UNAUTHORIZED","data":{"code":"UNAUTHORIZED"}}`},
		{"connect error escapes", AppendConnectError(nil, "a\nb"), `44{"message":"a\nb","data":{"code":"a\nb"}}`},
		{"disconnect", AppendDisconnect(nil), "41"},
		{"event foo", AppendEvent(nil, "foo", nil), `42["foo"]`},
		{"event empty data", AppendEvent(nil, "foo", json.RawMessage{}), `42["foo"]`},
		{"event hey jude", AppendEvent(nil, "hey", json.RawMessage(`"Jude"`)), `42["hey","Jude"]`},
		{"event object", AppendEvent(nil, "m", json.RawMessage(`{"a":[1,2]}`)), `42["m",{"a":[1,2]}]`},
		{"event escapes", AppendEvent(nil, "a\"b\\c\x00\x1f&", nil), `42["a\"b\\c\u0000\u001f\u0026"]`},
		{"event invalid utf8", AppendEvent(nil, "a\xffb", nil), `42["a\ufffdb"]`},
		{"event offset", AppendEventWithOffset(nil, "hey", json.RawMessage(`"Jude"`), 17), `42["hey","Jude","17"]`},
		{"event offset object", AppendEventWithOffset(nil, "m", json.RawMessage(`{"a":[1,2]}`), 1), `42["m",{"a":[1,2]},"1"]`},
		{"event offset no data", AppendEventWithOffset(nil, "foo", nil, 42), `42["foo","42"]`},
		{"event offset zero", AppendEventWithOffset(nil, "foo", json.RawMessage(`null`), 0), `42["foo",null,"0"]`},
		{"event offset max", AppendEventWithOffset(nil, "e", json.RawMessage(`1`), 1<<64-1), `42["e",1,"18446744073709551615"]`},
		{"event offset escapes", AppendEventWithOffset(nil, "a\"<", json.RawMessage(`2`), 3), `42["a\"\u003c",2,"3"]`},
		{"ack empty", AppendAck(nil, 12, nil), `4312[]`},
		{"ack bar", AppendAck(nil, 14, json.RawMessage(`"bar"`)), `4314["bar"]`},
		{"ack max", AppendAck(nil, MaxAckID, json.RawMessage(`1`)), `439007199254740991[1]`},
		{"appends", AppendEvent([]byte("prefix"), "x", nil), `prefix42["x"]`},
	}
	for _, tc := range tests {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

// TestEncodedFramesDecode checks that every server frame we emit is itself
// accepted by our strict decoder (and so is valid JSON).
func TestEncodedFramesDecode(t *testing.T) {
	frames := [][]byte{
		AppendConnect(nil, "s<i>d", ""),
		AppendConnect(nil, "s<i>d", "p<i>d"),
		AppendEventWithOffset(nil, "e", json.RawMessage(`{"x":[1]}`), 99),
		AppendConnectError(nil, "FORBIDDEN"),
		AppendDisconnect(nil),
		AppendEvent(nil, "e", json.RawMessage(`[1,{"x":null}]`)),
		AppendAck(nil, 0, nil),
		AppendPing(nil),
	}
	for _, f := range frames {
		if _, err := Decode(f); err != nil {
			t.Errorf("Decode(%s): %v", f, err)
		}
	}
	open := AppendOpen(nil, OpenInfo{SID: "x", PingInterval: time.Second, PingTimeout: time.Second, MaxPayload: 1})
	var v map[string]any
	if err := json.Unmarshal(open[1:], &v); err != nil {
		t.Fatalf("open payload %s: %v", open, err)
	}
}

// TestAppendStringMatchesEncodingJSON pins the escaper to json.Marshal.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x80; r++ {
		all.WriteRune(r)
	}
	cases := []string{
		"", "plain", all.String(), "é😀\u2028\u2029\u2027\u202a", "\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"<script>&amp;</script>", strings.Repeat("x\"", 100), "\x7f\u0080\ufffd",
	}
	for _, s := range cases {
		checkAppendString(t, s)
	}
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendString(nil, s); !bytes.Equal(got, want) {
		t.Fatalf("appendString(%q)\n got %s\nwant %s", s, got, want)
	}
}

func TestRoundTripEvent(t *testing.T) {
	names := []string{"", "chat", "chat:message", "a\"b", `\`, "é😀", "\u2028", "<&>", "\x00\x01\n\t", "sp ace", strings.Repeat("n", 1000)}
	datas := []json.RawMessage{nil, json.RawMessage(`1`), json.RawMessage(`"s"`), json.RawMessage(`{"a":[1,2,{"b":null}]}`),
		json.RawMessage(`[]`), json.RawMessage(`true`), json.RawMessage(`-1.5e-7`)}
	for _, name := range names {
		for _, data := range datas {
			frame := AppendEvent(nil, name, data)
			p, err := Decode(frame)
			if err != nil {
				t.Fatalf("Decode(%s): %v", frame, err)
			}
			want := Packet{EIO: EIOMessage, Type: Event, Namespace: "/", AckID: NoAck, Event: name}
			if data != nil {
				want.Args = []json.RawMessage{data}
			}
			if !reflect.DeepEqual(p, want) {
				t.Fatalf("round trip %s\n got %+v\nwant %+v", frame, p, want)
			}
		}
	}
	// Invalid UTF-8 in a name is replaced, exactly as encoding/json would.
	p, err := Decode(AppendEvent(nil, "a\xffb", nil))
	if err != nil || p.Event != "a\uFFFDb" {
		t.Fatalf("invalid UTF-8 name round trip: %q, %v", p.Event, err)
	}
}

func TestRoundTripAck(t *testing.T) {
	for _, id := range []int64{0, 1, 12, 1 << 31, MaxAckID} {
		for _, data := range []json.RawMessage{nil, json.RawMessage(`"bar"`), json.RawMessage(`{"ok":true}`)} {
			frame := AppendAck(nil, id, data)
			p, err := Decode(frame)
			if err != nil {
				t.Fatalf("Decode(%s): %v", frame, err)
			}
			want := Packet{EIO: EIOMessage, Type: Ack, Namespace: "/", AckID: id}
			if data != nil {
				want.Args = []json.RawMessage{data}
			}
			if !reflect.DeepEqual(p, want) {
				t.Fatalf("round trip %s\n got %+v\nwant %+v", frame, p, want)
			}
		}
	}
}

func TestRoundTripConnect(t *testing.T) {
	p, err := Decode(AppendConnect(nil, "sid\"1", ""))
	if err != nil || p.Type != Connect || string(p.Data) != `{"sid":"sid\"1"}` {
		t.Fatalf("got %+v, %v", p, err)
	}
	p, err = Decode(AppendConnectError(nil, "E"))
	if err != nil || p.Type != ConnectError || string(p.Data) != `{"message":"E","data":{"code":"E"}}` {
		t.Fatalf("got %+v, %v", p, err)
	}
}

func TestEncodersDoNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 1024)
	data := json.RawMessage(`{"room":"lobby","text":"hello <world>","ts":1700000000}`)
	o := OpenInfo{SID: "lv_VI97HAXpY6yYWAAAC", PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, MaxPayload: 100000}
	encoders := map[string]func(){
		"AppendEvent":   func() { dst = AppendEvent(dst[:0], "chat:mess\"age\u2028", data) },
		"AppendAck":     func() { dst = AppendAck(dst[:0], 123456, data) },
		"AppendOpen":    func() { dst = AppendOpen(dst[:0], o) },
		"AppendConnect": func() { dst = AppendConnect(dst[:0], "wZX3oN0bSVIhsaknAAAI", "oX8c-_Q2cVbq5p4Zlr0QAg") },
		"AppendEventWithOffset": func() {
			dst = AppendEventWithOffset(dst[:0], "chat:message", data, 1<<40)
		},
		"AppendConnectError": func() { dst = AppendConnectError(dst[:0], "UNAUTHORIZED") },
		"AppendDisconnect":   func() { dst = AppendDisconnect(dst[:0]) },
		"AppendPing":         func() { dst = AppendPing(dst[:0]) },
	}
	for name, f := range encoders {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call into a pre-sized dst", name, n)
		}
	}
}
