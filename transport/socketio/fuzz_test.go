package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks that Decode never panics, that its errors are always one
// of the sentinels, and that every accepted EVENT/ACK agrees with
// encoding/json and survives re-encoding.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeValid {
		f.Add([]byte(tc.frame))
	}
	for _, tc := range decodeInvalid {
		if len(tc.frame) < 512 {
			f.Add([]byte(tc.frame))
		}
	}
	f.Add(AppendEvent(nil, "chat:message", json.RawMessage(`{"room":"lobby","text":"hi"}`)))
	f.Add(AppendAck(nil, 42, json.RawMessage(`{"ok":true}`)))
	f.Add(AppendConnect(nil, "wZX3oN0bSVIhsaknAAAI", "oX8c-_Q2cVbq5p4Zlr0QAg"))
	f.Add(AppendEventWithOffset(nil, "chat:message", json.RawMessage(`{"text":"hi"}`), 17))

	f.Fuzz(func(t *testing.T, frame []byte) {
		orig := bytes.Clone(frame)
		p, err := Decode(frame)
		if !bytes.Equal(frame, orig) {
			t.Fatalf("Decode modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBinary) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("Decode(%q): error %v wraps no sentinel", frame, err)
			}
			if !reflect.DeepEqual(p, Packet{}) {
				t.Fatalf("Decode(%q): non-zero packet on error", frame)
			}
			return
		}
		if !utf8.Valid(frame) {
			t.Fatalf("Decode(%q) accepted invalid UTF-8", frame)
		}
		if p.Namespace == "" || p.Namespace[0] != '/' || p.AckID < NoAck || p.AckID > MaxAckID {
			t.Fatalf("Decode(%q) = %+v: bad namespace or ack id", frame, p)
		}
		for _, a := range p.Args {
			if !json.Valid(a) || len(a) == 0 || isSpace(a[0]) || isSpace(a[len(a)-1]) {
				t.Fatalf("Decode(%q): arg %q is not a trimmed JSON value", frame, a)
			}
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("Decode(%q): data %q is not JSON", frame, p.Data)
		}
		if p.EIO != EIOMessage {
			return
		}

		switch p.Type {
		case Event:
			elems := oracleArray(t, frame)
			var name string
			if err := json.Unmarshal(elems[0], &name); err != nil {
				t.Fatalf("Decode(%q) accepted a non-string name: %v", frame, err)
			}
			if name != p.Event {
				t.Fatalf("Decode(%q): Event %q, encoding/json says %q", frame, p.Event, name)
			}
			sameRaw(t, frame, p.Args, elems[1:])

			// Re-encode name + first arg and decode again.
			var first json.RawMessage
			if len(p.Args) > 0 {
				first = p.Args[0]
			}
			re := AppendEvent(nil, p.Event, first)
			q, err := Decode(re)
			if err != nil {
				t.Fatalf("re-encoded %q of %q does not decode: %v", re, frame, err)
			}
			if q.Event != p.Event {
				t.Fatalf("re-encoded event %q != %q", q.Event, p.Event)
			}
			if first != nil && (len(q.Args) != 1 || !bytes.Equal(q.Args[0], first)) {
				t.Fatalf("re-encoded args %q != %q", q.Args, first)
			}
		case Ack:
			if p.AckID == NoAck {
				t.Fatalf("Decode(%q): ACK without id accepted", frame)
			}
			sameRaw(t, frame, p.Args, oracleArray(t, frame))
			re := AppendAck(nil, p.AckID, nil)
			if q, err := Decode(re); err != nil || q.AckID != p.AckID {
				t.Fatalf("re-encoded ack %q: %+v, %v", re, q, err)
			}
		case Connect:
			if p.Data != nil {
				var m map[string]any
				if err := json.Unmarshal(p.Data, &m); err != nil {
					t.Fatalf("Decode(%q): CONNECT data not an object: %v", frame, err)
				}
			}
		case Disconnect:
			if p.Data != nil || p.Args != nil {
				t.Fatalf("Decode(%q): DISCONNECT with payload", frame)
			}
		}
	})
}

// oracleArray re-parses the payload of an accepted EVENT/ACK frame with
// encoding/json. It locates the payload independently of Decode: skip "4x",
// the namespace up to ',' and the ack digits.
func oracleArray(t *testing.T, frame []byte) []json.RawMessage {
	t.Helper()
	i := 2
	if i < len(frame) && frame[i] == '/' {
		if j := bytes.IndexByte(frame[i:], ','); j >= 0 {
			i += j + 1
		} else {
			i = len(frame)
		}
	}
	for i < len(frame) && isDigit(frame[i]) {
		i++
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(frame[i:], &elems); err != nil {
		t.Fatalf("Decode accepted %q but encoding/json rejects the payload: %v", frame, err)
	}
	return elems
}

func sameRaw(t *testing.T, frame []byte, got, want []json.RawMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Decode(%q): %d args, encoding/json finds %d", frame, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(bytes.TrimSpace(got[i]), bytes.TrimSpace(want[i])) {
			t.Fatalf("Decode(%q): arg %d = %q, encoding/json says %q", frame, i, got[i], want[i])
		}
	}
}

// FuzzJSON pins the JSON scanner, the unquoter and the string escaper to
// encoding/json on arbitrary bytes.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`[1,{"a":"b"}]`, `"a\u00e9\ud83d\ude00\ud800"`, `{"a":[true,false,null,-1.5e3]}`, "\"\\u2028<&>\"", `"\/\b\f"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkScan(t, b)
		checkAppendString(t, string(b))
		trimmed := bytes.TrimLeft(b, " \t\r\n")
		v, err := wholeValue(trimmed)
		if err != nil || v[0] != '"' || !utf8.Valid(v) {
			return
		}
		var want string
		if err := json.Unmarshal(v, &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", v, err)
		}
		if got := unquote(v); got != want {
			t.Fatalf("unquote(%q) = %q, encoding/json says %q", v, got, want)
		}
	})
}
