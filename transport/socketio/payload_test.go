package socketio

import (
	"bytes"
	"errors"
	"testing"
)

func TestSplitPayload(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
		err  error
	}{
		{"one packet", "40", []string{"40"}, nil},
		{"several packets", "2\x1e42[\"a\"]\x1e3", []string{"2", `42["a"]`, "3"}, nil},
		{"spec example", "4hello\x1e4€", []string{"4hello", "4€"}, nil},
		{"binary packet kept for the caller to refuse", "bAQIDBA==\x1e40", []string{"bAQIDBA==", "40"}, nil},
		{"empty body", "", nil, ErrPayload},
		{"leading separator", "\x1e40", nil, ErrPayload},
		{"trailing separator", "40\x1e", nil, ErrPayload},
		{"two separators", "40\x1e\x1e3", nil, ErrPayload},
		{"lone separator", "\x1e", nil, ErrPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitPayload([]byte(tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d packets %q, want %q", len(got), got, tt.want)
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("packet %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestAppendPayload(t *testing.T) {
	tests := []struct {
		name    string
		packets []string
		want    string
	}{
		{"none", nil, ""},
		{"one", []string{"0{}"}, "0{}"},
		{"several", []string{"2", `42["x",1]`, "6"}, "2\x1e42[\"x\",1]\x1e6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var packets [][]byte
			for _, p := range tt.packets {
				packets = append(packets, []byte(p))
			}
			got := AppendPayload(nil, packets)
			if string(got) != tt.want {
				t.Fatalf("AppendPayload = %q, want %q", got, tt.want)
			}
			if PayloadLen(packets) != len(got) {
				t.Fatalf("PayloadLen = %d, want %d", PayloadLen(packets), len(got))
			}
		})
	}
}

func TestIsBinaryPacket(t *testing.T) {
	for in, want := range map[string]bool{"bAQID": true, "b": true, "40": false, "": false, "4b": false} {
		if got := IsBinaryPacket([]byte(in)); got != want {
			t.Errorf("IsBinaryPacket(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzSplitPayload checks that splitting never panics, and that a body it
// accepts is exactly its packets joined again, none of them empty or holding
// a separator.
func FuzzSplitPayload(f *testing.F) {
	for _, s := range []string{"40", "2\x1e3", "\x1e", "", "bAQ==\x1e42[\"a\"]", "40\x1e\x1e"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		packets, err := SplitPayload(body)
		if err != nil {
			return
		}
		for _, p := range packets {
			if len(p) == 0 || bytes.IndexByte(p, RecordSeparator) >= 0 {
				t.Fatalf("bad packet %q from %q", p, body)
			}
		}
		if joined := AppendPayload(nil, packets); !bytes.Equal(joined, body) {
			t.Fatalf("rejoined %q != %q", joined, body)
		}
	})
}
