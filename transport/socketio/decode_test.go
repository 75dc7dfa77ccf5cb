package socketio

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func raws(ss ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}

// pkt builds the expected Packet with the documented defaults filled in.
func pkt(eio, typ byte) Packet { return Packet{EIO: eio, Type: typ, Namespace: "/", AckID: NoAck} }

func (p Packet) ns(ns string) Packet { p.Namespace = ns; return p }
func (p Packet) ack(id int64) Packet { p.AckID = id; return p }
func (p Packet) ev(name string, args ...string) Packet {
	p.Event = name
	if len(args) > 0 {
		p.Args = raws(args...)
	}
	return p
}
func (p Packet) args(args ...string) Packet { p.Args = raws(args...); return p }
func (p Packet) data(d string) Packet       { p.Data = json.RawMessage(d); return p }

// decodeValid lists frames that must decode, mostly taken verbatim from the
// Engine.IO v4 and Socket.IO v5 protocol documents.
var decodeValid = []struct {
	name  string
	frame string
	want  Packet
}{
	// engine.io-protocol v4: packet types, heartbeat and upgrade examples.
	{"eio open", `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, pkt(EIOOpen, 0)},
	{"eio close", "1", pkt(EIOClose, 0)},
	{"eio ping", "2", pkt(EIOPing, 0)},
	{"eio ping probe", "2probe", pkt(EIOPing, 0)},
	{"eio pong", "3", pkt(EIOPong, 0)},
	{"eio pong probe", "3probe", pkt(EIOPong, 0)},
	{"eio upgrade", "5", pkt(EIOUpgrade, 0)},
	{"eio noop", "6", pkt(EIONoop, 0)},

	// socket.io-protocol v5: connection to a namespace.
	{"connect main", "40", pkt(EIOMessage, Connect)},
	{"connect main sid", `40{"sid":"wZX3oN0bSVIhsaknAAAI"}`, pkt(EIOMessage, Connect).data(`{"sid":"wZX3oN0bSVIhsaknAAAI"}`)},
	{"connect admin", "40/admin,", pkt(EIOMessage, Connect).ns("/admin")},
	{"connect admin sid", `40/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, pkt(EIOMessage, Connect).ns("/admin").data(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)},
	{"connect admin auth", `40/admin,{"token":"123"}`, pkt(EIOMessage, Connect).ns("/admin").data(`{"token":"123"}`)},
	{"connect sample session", `40/admin,{"sid":"-G5j-67EZFp-q59rADQM"}`, pkt(EIOMessage, Connect).ns("/admin").data(`{"sid":"-G5j-67EZFp-q59rADQM"}`)},
	{"connect auth trailing space", `40{"token":"x"} `, pkt(EIOMessage, Connect).data(`{"token":"x"}`)},
	{"connect error", `44{"message":"Not authorized"}`, pkt(EIOMessage, ConnectError).data(`{"message":"Not authorized"}`)},
	{"connect error string", `44"Not authorized"`, pkt(EIOMessage, ConnectError).data(`"Not authorized"`)},
	{"connect error empty", `44`, pkt(EIOMessage, ConnectError)},

	// socket.io-protocol v5: sending and receiving data.
	{"event foo", `42["foo"]`, pkt(EIOMessage, Event).ev("foo")},
	{"event admin bar", `42/admin,["bar"]`, pkt(EIOMessage, Event).ns("/admin").ev("bar")},
	{"event hey jude", `42["hey","Jude"]`, pkt(EIOMessage, Event).ev("hey", `"Jude"`)},
	{"event hello", `42["hello"]`, pkt(EIOMessage, Event).ev("hello")},
	{"event world", `42["world"]`, pkt(EIOMessage, Event).ev("world")},

	// socket.io-protocol v5: acknowledgements.
	{"event ack 12", `4212["foo"]`, pkt(EIOMessage, Event).ack(12).ev("foo")},
	{"ack 12 empty", `4312[]`, pkt(EIOMessage, Ack).ack(12)},
	{"event admin ack 13", `42/admin,13["foo"]`, pkt(EIOMessage, Event).ns("/admin").ack(13).ev("foo")},
	{"ack admin 13", `43/admin,13["bar"]`, pkt(EIOMessage, Ack).ns("/admin").ack(13).args(`"bar"`)},
	{"ack 14", `4314["bar"]`, pkt(EIOMessage, Ack).ack(14).args(`"bar"`)},
	{"event ack 15", `4215["foo"]`, pkt(EIOMessage, Event).ack(15).ev("foo")},
	{"event admin ack 1 tellme", `42/admin,1["tellme"]`, pkt(EIOMessage, Event).ns("/admin").ack(1).ev("tellme")},

	// socket.io-protocol v5: disconnection.
	{"disconnect main", "41", pkt(EIOMessage, Disconnect)},
	{"disconnect admin", "41/admin,", pkt(EIOMessage, Disconnect).ns("/admin")},
	// The namespace also ends at the end of the packet.
	{"disconnect admin no comma", "41/admin", pkt(EIOMessage, Disconnect).ns("/admin")},
	{"connect slash only", "40/,", pkt(EIOMessage, Connect)},
	{"connect slash eof", "40/", pkt(EIOMessage, Connect)},
	{"namespace unicode", `42/ünï,["x"]`, pkt(EIOMessage, Event).ns("/ünï").ev("x")},

	// Arguments and JSON shapes.
	{"event many args", `42["m",1,-2.5e+3,true,false,null,"s",{"a":[1,{"b":[]}]},[]]`,
		pkt(EIOMessage, Event).ev("m", `1`, `-2.5e+3`, `true`, `false`, `null`, `"s"`, `{"a":[1,{"b":[]}]}`, `[]`)},
	{"event inner whitespace", "42[ \"m\" ,\t{ \"a\" : 1 } \r\n, 2 ] \n", pkt(EIOMessage, Event).ev("m", `{ "a" : 1 }`, `2`)},
	{"event escaped name", `42["a\"b\\c\/\n\t\u00e9\ud83d\ude00"]`, pkt(EIOMessage, Event).ev("a\"b\\c/\n\té😀")},
	{"event control escapes", `42["\b\f\r\u00E9\u00e9"]`, pkt(EIOMessage, Event).ev("\b\f\r\u00e9\u00e9")},
	{"event lone surrogate", `42["\ud800x"]`, pkt(EIOMessage, Event).ev("\uFFFDx")},
	{"event empty name", `42[""]`, pkt(EIOMessage, Event).ev("")},
	{"event max ack", `429007199254740991["a"]`, pkt(EIOMessage, Event).ack(MaxAckID).ev("a")},
	{"event ack zero", `420["a"]`, pkt(EIOMessage, Event).ack(0).ev("a")},
	{"event ack leading zeros", `42007["a"]`, pkt(EIOMessage, Event).ack(7).ev("a")},
	{"ack args", `43/admin,7[1,"two",{"three":3}]`, pkt(EIOMessage, Ack).ns("/admin").ack(7).args(`1`, `"two"`, `{"three":3}`)},
	{"depth 64", `42["d",` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `]`, pkt(EIOMessage, Event).ev("d", strings.Repeat("[", 63)+strings.Repeat("]", 63))},
	{"object depth 64", `40` + strings.Repeat(`{"a":`, 63) + `{}` + strings.Repeat("}", 63),
		pkt(EIOMessage, Connect).data(strings.Repeat(`{"a":`, 63) + `{}` + strings.Repeat("}", 63))},
}

func TestDecodeValid(t *testing.T) {
	for _, tc := range decodeValid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.frame))
			if err != nil {
				t.Fatalf("Decode(%q) error: %v", tc.frame, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode(%q)\n got %+v\nwant %+v", tc.frame, got, tc.want)
			}
		})
	}
}

// decodeInvalid lists frames that must be rejected and the sentinel expected.
var decodeInvalid = []struct {
	name  string
	frame string
	want  error
}{
	{"empty", "", ErrEmpty},

	// Unknown or truncated types.
	{"eio unknown 7", "7", ErrMalformed},
	{"eio unknown letter", "x", ErrMalformed},
	{"eio unknown b64", "bAQIDBA==", ErrMalformed},
	{"eio message only", "4", ErrMalformed},
	{"eio message text", "4hello", ErrMalformed}, // plain Engine.IO message, not Socket.IO
	{"sio unknown 7", "47", ErrMalformed},
	{"sio unknown 9", "49[]", ErrMalformed},
	{"close trailing", "1x", ErrMalformed},
	{"upgrade trailing", "5probe", ErrMalformed},
	{"noop trailing", "6 ", ErrMalformed},

	// Binary packets (socket.io-protocol v5 examples).
	{"binary event", `451-["baz",{"_placeholder":true,"num":0}]`, ErrBinary},
	{"binary event admin", `452-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, ErrBinary},
	{"binary event ack", `451-14["foo",{"_placeholder":true,"num":0}]`, ErrBinary},
	{"binary ack", `461-15["bar",{"_placeholder":true,"num":0}]`, ErrBinary},
	{"binary ack admin", `461-/admin,1[{"_placeholder":true,"num":0}]`, ErrBinary},
	{"binary bare", `45`, ErrBinary},

	// Invalid UTF-8 anywhere.
	{"utf8 event name", "42[\"\xff\"]", ErrMalformed},
	{"utf8 arg", "42[\"a\",\"\xc3\x28\"]", ErrMalformed},
	{"utf8 namespace", "42/\xfe,[\"a\"]", ErrMalformed},
	{"utf8 probe", "2pr\xffbe", ErrMalformed},
	{"utf8 surrogate encoded", "42[\"\xed\xa0\x80\"]", ErrMalformed},
	{"utf8 overlong", "42[\"\xc0\xaf\"]", ErrMalformed},
	{"utf8 truncated", "42[\"a\"]\xe2\x82", ErrMalformed},

	// Nesting.
	{"depth 65 array", `42["d",` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `]`, ErrMalformed},
	{"depth 65 object", `40` + strings.Repeat(`{"a":`, 64) + `{}` + strings.Repeat("}", 64), ErrMalformed},
	{"depth 10000", `42["d",` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `]`, ErrMalformed},
	{"depth 10000 unclosed", `42["d",` + strings.Repeat("[", 10000), ErrMalformed},
	{"depth 10000 ack", `431` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000), ErrMalformed},

	// Ack ids.
	{"ack id 2^53", `429007199254740992["a"]`, ErrMalformed},
	{"ack id 17 digits", `4200000000000000001["a"]`, ErrMalformed},
	{"ack id huge", `42999999999999999999999999999999["a"]`, ErrMalformed},
	{"ack id int64 overflow", `4318446744073709551617[]`, ErrMalformed},
	{"ack id on connect", `401{}`, ErrMalformed},
	{"ack id on disconnect", `4112`, ErrMalformed},
	{"ack id on connect error", `441"x"`, ErrMalformed},
	{"ack without id", `43[]`, ErrMalformed},
	{"ack admin without id", `43/admin,["x"]`, ErrMalformed},
	{"ack id without payload", `4212`, ErrMalformed},
	{"ack no payload", `4312`, ErrMalformed},
	{"negative ack id", `42-1["a"]`, ErrMalformed},

	// EVENT shape.
	{"event no payload", `42`, ErrMalformed},
	{"event empty array", `42[]`, ErrMalformed},
	{"event number name", `42[1]`, ErrMalformed},
	{"event null name", `42[null]`, ErrMalformed},
	{"event object name", `42[{"a":1}]`, ErrMalformed},
	{"event array name", `42[["a"]]`, ErrMalformed},
	{"event object payload", `42{}`, ErrMalformed},
	{"event string payload", `42"a"`, ErrMalformed},
	{"event unterminated", `42["a"`, ErrMalformed},
	{"event unterminated string", `42["a`, ErrMalformed},
	{"event truncated object", `42["a",{"b":`, ErrMalformed},
	{"event truncated object key", `42["a",{"b"`, ErrMalformed},
	{"event truncated literal", `42["a",tru]`, ErrMalformed},
	{"event trailing garbage", `42["a"]x`, ErrMalformed},
	{"event trailing array", `42["a"]["b"]`, ErrMalformed},
	{"event trailing comma", `42["a",]`, ErrMalformed},
	{"event leading comma", `42[,"a"]`, ErrMalformed},
	{"event missing comma", `42["a" "b"]`, ErrMalformed},
	{"event leading space", `42 ["a"]`, ErrMalformed},
	{"event admin no comma", `42/admin["a"]`, ErrMalformed},
	{"event comma no namespace", `42,["a"]`, ErrMalformed},
	{"event single quotes", `42['a']`, ErrMalformed},
	{"event raw control char", "42[\"a\tb\"]", ErrMalformed},
	{"event bad escape", `42["\x"]`, ErrMalformed},
	{"event short unicode escape", `42["\u12"]`, ErrMalformed},
	{"event bad unicode escape", `42["\u12G4"]`, ErrMalformed},
	{"event mismatched close", `42["a",[1}]`, ErrMalformed},
	{"event bare key", `42["a",{b:1}]`, ErrMalformed},
	{"event missing colon", `42["a",{"b" 1}]`, ErrMalformed},
	{"event object trailing comma", `42["a",{"b":1,}]`, ErrMalformed},
	{"event number leading zero", `42["a",01]`, ErrMalformed},
	{"event number dot", `42["a",1.]`, ErrMalformed},
	{"event number exp", `42["a",1e]`, ErrMalformed},
	{"event number lone minus", `42["a",-]`, ErrMalformed},
	{"event number leading dot", `42["a",.5]`, ErrMalformed},
	{"event NaN", `42["a",NaN]`, ErrMalformed},
	{"event undefined", `42["a",undefined]`, ErrMalformed},

	// CONNECT / DISCONNECT / ACK / CONNECT_ERROR shape.
	{"connect array", `40[]`, ErrMalformed},
	{"connect string", `40"a"`, ErrMalformed},
	{"connect null", `40null`, ErrMalformed},
	{"connect trailing", `40{}x`, ErrMalformed},
	{"connect two objects", `40{}{}`, ErrMalformed},
	{"connect truncated", `40{"token":`, ErrMalformed},
	{"connect leading space", `40 {}`, ErrMalformed},
	{"disconnect payload", `41{}`, ErrMalformed},
	{"disconnect admin payload", `41/admin,["x"]`, ErrMalformed},
	{"ack object", `431{}`, ErrMalformed},
	{"ack truncated", `431["a"`, ErrMalformed},
	{"connect error array", `44[]`, ErrMalformed},
	{"connect error number", `441x`, ErrMalformed},
	{"connect error trailing", `44{"message":"x"}}`, ErrMalformed},
}

func TestDecodeInvalid(t *testing.T) {
	for _, tc := range decodeInvalid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.frame))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(%.80q) error = %v, want %v", tc.frame, err, tc.want)
			}
			if !reflect.DeepEqual(got, Packet{}) {
				t.Fatalf("Decode(%.80q) returned non-zero packet %+v on error", tc.frame, got)
			}
		})
	}
}

// TestDecodeAliasing documents that Args and Data alias the input frame and
// are capped, so appending to them cannot overwrite the rest of the frame.
func TestDecodeAliasing(t *testing.T) {
	frame := []byte(`42["e",{"a":1},2]`)
	p, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	frame[9] = 'b'
	if string(p.Args[0]) != `{"b":1}` {
		t.Fatalf("Args[0] = %s, want alias of frame", p.Args[0])
	}
	if cap(p.Args[0]) != len(p.Args[0]) {
		t.Fatalf("Args[0] cap %d != len %d", cap(p.Args[0]), len(p.Args[0]))
	}
	_ = append(p.Args[0], 'X')
	if string(frame) != `42["e",{"b":1},2]` {
		t.Fatalf("append to Args[0] modified frame: %s", frame)
	}
}

// TestScanMatchesJSONValid checks the hand scanner against encoding/json on
// assorted documents: it must accept exactly json.Valid ∧ depth ≤ MaxJSONDepth.
func TestScanMatchesJSONValid(t *testing.T) {
	docs := []string{
		`0`, `-0`, `-0.0e-0`, `1E+2`, `12.34`, `1e400`, `00`, `-01`, `+1`, `0x1`, `1.e1`, `1e+`, `- 1`,
		`""`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u0000"`, `"\uD834\uDD1E"`, `"\u"`, `"\'"`, "\"\x7f\"", "\"\x1f\"",
		`[]`, `{}`, `[ ]`, `{ }`, ` [1] `, "\t{\"a\"\n:\r1}\n", `[1,]`, `{"a":1,}`, `{"a"}`, `{1:1}`, `[1 2]`, `{"a":1 "b":2}`,
		`true`, `false`, `null`, `tru`, `nul`, `True`, `[true,false,null]`, `{"a":{"b":{"c":[[[]]]}}}`,
		`[`, `]`, `{`, `}`, `[}`, `{]`, `"`, `"abc`, ``, ` `, `[[]]]`, `{"a":[}]`,
	}
	for _, d := range docs {
		checkScan(t, []byte(d))
	}
}

// checkScan compares wholeValue against the encoding/json oracle.
func checkScan(t *testing.T, b []byte) {
	t.Helper()
	// wholeValue rejects leading whitespace by contract of its callers; strip
	// it so the comparison is about JSON grammar only.
	trimmed := b[skipSpace(b, 0):]
	_, err := wholeValue(trimmed)
	want := json.Valid(b) && jsonDepth(b) <= MaxJSONDepth
	if (err == nil) != want {
		t.Fatalf("scanner(%.100q) err = %v, encoding/json says valid=%v depth=%d", b, err, json.Valid(b), jsonDepth(b))
	}
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("scanner error %v does not wrap ErrMalformed", err)
	}
}

// jsonDepth returns the maximum nesting depth of valid JSON (0 for invalid).
func jsonDepth(b []byte) int {
	if !json.Valid(b) {
		return 0
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	depth, maxDepth := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return maxDepth
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
				maxDepth = max(maxDepth, depth)
			} else {
				depth--
			}
		}
	}
}

func TestNeverPanicsOnPrefixes(t *testing.T) {
	// Every prefix of every valid frame must decode or fail cleanly.
	for _, tc := range decodeValid {
		for i := range len(tc.frame) + 1 {
			_, err := Decode([]byte(tc.frame[:i]))
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrBinary) {
				t.Fatalf("Decode(%q) unexpected error kind %v", tc.frame[:i], err)
			}
		}
	}
}

// TestHasSpecial checks the 8-byte fast path against the byte-wise rule for
// every byte value at every position, including next to UTF-8 lead bytes.
func TestHasSpecial(t *testing.T) {
	special := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	for _, fill := range []byte{'a', 0x80, 0xff, 0x21, 0x5d} {
		for v := range 256 {
			for pos := range 8 {
				var w [8]byte
				for k := range w {
					w[k] = fill
				}
				w[pos] = byte(v)
				want := special(byte(v)) || special(fill)
				if got := hasSpecial(binary.LittleEndian.Uint64(w[:])); got != want {
					t.Fatalf("hasSpecial(% x) = %v, want %v", w, got, want)
				}
			}
		}
	}
}
