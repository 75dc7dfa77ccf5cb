package transport

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/netip"
	"testing"

	"github.com/hyvve/gateway/messages"
)

func TestTextFrameHeader(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		h := appendTextHeader(nil, n)
		if h[0] != 0x81 {
			t.Fatalf("n=%d: first byte %x", n, h[0])
		}
		var got int
		switch {
		case h[1] < 126:
			got = int(h[1])
		case h[1] == 126:
			got = int(binary.BigEndian.Uint16(h[2:]))
		default:
			got = int(binary.BigEndian.Uint64(h[2:]))
		}
		if got != n || len(h) > maxHeaderSize {
			t.Fatalf("n=%d: header %x decodes to %d", n, h, got)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct", "203.0.113.7:5000", "", "203.0.113.7"},
		{"untrusted peer's XFF ignored", "203.0.113.7:5000", "1.2.3.4", "203.0.113.7"},
		{"trusted proxy", "10.1.2.3:80", "198.51.100.9", "198.51.100.9"},
		{"chain of trusted proxies", "10.1.2.3:80", "198.51.100.9, 10.9.9.9", "198.51.100.9"},
		{"forged left entries ignored", "10.1.2.3:80", "6.6.6.6, 198.51.100.9", "198.51.100.9"},
		{"garbage entry stops the walk", "10.1.2.3:80", "198.51.100.9, nonsense", "10.1.2.3"},
		{"all trusted", "10.1.2.3:80", "10.4.4.4", "10.4.4.4"},
		{"ipv6 loopback proxy", "[::1]:80", "2001:db8::1", "2001:db8::1"},
		{"v4-mapped peer", "[::ffff:203.0.113.7]:1", "", "203.0.113.7"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := clientIP(r, trusted); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	tests := []struct {
		origin  string
		allowed []string
		want    bool
	}{
		{"", []string{"http://localhost:3000"}, true},
		{"http://localhost:3000", []string{"http://localhost:3000"}, true},
		{"HTTP://LOCALHOST:3000", []string{"http://localhost:3000/"}, true},
		{"http://localhost:3001", []string{"http://localhost:3000"}, false},
		{"https://evil.example", []string{"https://app.example", "https://admin.example"}, false},
		{"https://anything.example", []string{"*"}, true},
		{"null", []string{"http://localhost:3000"}, false},
	}
	loopback := []struct {
		origin string
		want   bool
	}{
		{"http://localhost:5173", true},
		{"http://127.0.0.1:8081", true},
		{"http://LOCALHOST", true},
		{"https://localhost:5173", false}, // only what a dev server serves
		{"http://localhost.evil.example", false},
		{"http://127.0.0.1.evil.example:80", false},
		{"http://user@localhost:1", false},
		{"http://10.0.0.1:5173", false},
	}
	for _, tt := range loopback {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Origin", tt.origin)
		if got := originAllowed(r, []string{"http://localhost:3000"}, true); got != tt.want {
			t.Errorf("development mode, origin %q: got %v", tt.origin, got)
		}
		if tt.origin != "http://localhost:3000" && originAllowed(r, []string{"http://localhost:3000"}, false) {
			t.Errorf("origin %q allowed outside development mode", tt.origin)
		}
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := originAllowed(r, tt.allowed, false); got != tt.want {
			t.Errorf("origin %q allowed %v: got %v", tt.origin, tt.allowed, got)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer abc": "abc", "BEARER x.y.z": "x.y.z", "Basic abc": "", "Bearer ": "", "": ""} {
		if got := bearerToken(h); got != want {
			t.Errorf("%q: got %q, want %q", h, got, want)
		}
	}
}

func TestFrameWriterWritesEveryFrameInOrder(t *testing.T) {
	var w frameWriter
	var buf bytes.Buffer
	frames := [][]byte{[]byte("2"), bytes.Repeat([]byte("x"), 300), []byte(`42["a"]`)}
	if err := w.writeTo(&buf, frames); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	for _, f := range frames {
		h := appendTextHeader(nil, len(f))
		if !bytes.HasPrefix(got, append(h, f...)) {
			t.Fatalf("frame %q not next in %q", f[:1], got)
		}
		got = got[len(h)+len(f):]
	}
}

func TestFromAuth(t *testing.T) {
	tests := []struct {
		auth    string
		token   string
		present bool
		resume  messages.Resume
		err     bool
	}{
		{``, "", false, messages.Resume{}, false},
		{`{"token":"t"}`, "t", true, messages.Resume{}, false},
		{`{"token":null}`, "", false, messages.Resume{}, false},
		{`{"token":7}`, "", false, messages.Resume{}, true},
		{`{"token":"t","pid":"p","offset":"12"}`, "t", true, messages.Resume{PID: "p", Offset: "12", HasOffset: true}, false},
		{`{"token":"t","pid":"p"}`, "t", true, messages.Resume{PID: "p"}, false},               // no broadcast received yet
		{`{"token":"t","pid":"p","offset":null}`, "t", true, messages.Resume{PID: "p"}, false}, // what a JSON encoder may send
		{`{"token":"t","pid":"p","offset":12}`, "t", true, messages.Resume{PID: "p"}, false},   // not a string: no offset
		{`{"token":"t","pid":5,"offset":"1"}`, "t", true, messages.Resume{}, false},            // not a string: no recovery
		{`{"token":"t","offset":"1"}`, "t", true, messages.Resume{}, false},
		{`{"pid":"p","offset":"1"}`, "", false, messages.Resume{PID: "p", Offset: "1", HasOffset: true}, false}, // token from the header
		{`{"token":7,"pid":"p"}`, "", false, messages.Resume{}, true},
		{`[1]`, "", false, messages.Resume{}, false},
	}
	for _, tt := range tests {
		token, present, resume, err := fromAuth(json.RawMessage(tt.auth))
		if token != tt.token || present != tt.present || resume != tt.resume || (err != nil) != tt.err {
			t.Errorf("fromAuth(%s) = %q %v %+v %v", tt.auth, token, present, resume, err)
		}
	}
}
