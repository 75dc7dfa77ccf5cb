package security

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a handler.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines decodes every JSON log line written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func newTestEventLog(t *testing.T, burst int, per time.Duration) (*EventLog, *syncBuffer, *prometheus.Registry, *fakeClock) {
	t.Helper()
	buf := &syncBuffer{}
	reg := prometheus.NewRegistry()
	l := NewEventLog(slog.New(slog.NewJSONHandler(buf, nil)), reg, burst, per)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l.now = clock.Now
	return l, buf, reg, clock
}

func TestEventLogLine(t *testing.T) {
	l, buf, _, _ := newTestEventLog(t, 0, 0)
	l.Emit(EventUnauthorizedRoomAccess, EventFields{
		UserID: "u-1", WorkspaceID: "ws-1", IP: "10.0.0.1", Room: "workspace:ws-9:dashboard", SID: "sid-1", Detail: "not a member",
	})
	l.Emit(EventAuthMissing, EventFields{IP: "10.0.0.2"})
	lines := buf.lines(t)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf)
	}
	want := map[string]any{
		"level": "WARN", "msg": "security event", "type": "security_event", "event": "unauthorized_room_access",
		"user_id": "u-1", "workspace_id": "ws-1", "ip": "10.0.0.1", "room": "workspace:ws-9:dashboard",
		"sid": "sid-1", "detail": "not a member",
	}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("line[%q] = %v, want %v", k, lines[0][k], v)
		}
	}
	for _, k := range []string{"user_id", "workspace_id", "room", "sid", "detail"} {
		if _, ok := lines[1][k]; ok {
			t.Errorf("empty field %q present in %v", k, lines[1])
		}
	}
	if lines[1]["event"] != "auth_missing" || lines[1]["ip"] != "10.0.0.2" || lines[1]["type"] != "security_event" {
		t.Errorf("second line = %v", lines[1])
	}
}

func TestEventLogSuppression(t *testing.T) {
	l, buf, reg, clock := newTestEventLog(t, 3, 10*time.Second)
	count := func(ev Event) float64 { return counterValue(t, reg, ev) }
	eventLines := func(ev Event, msg, ip string) []map[string]any {
		var out []map[string]any
		for _, m := range buf.lines(t) {
			if m["event"] == string(ev) && m["msg"] == msg && (ip == "" || m["ip"] == ip) {
				out = append(out, m)
			}
		}
		return out
	}

	for range 10 {
		l.Emit(EventRateLimitExceeded, EventFields{IP: "10.0.0.1"})
	}
	// Another source and another event of the same source have their own budget.
	l.Emit(EventRateLimitExceeded, EventFields{IP: "10.0.0.2"})
	l.Emit(EventValidationFailed, EventFields{IP: "10.0.0.1"})
	// A known user is the source (see TestEventLogSource).
	for range 5 {
		l.Emit(EventPermissionDenied, EventFields{UserID: "u-1"})
	}

	if n := len(eventLines(EventRateLimitExceeded, "security event", "10.0.0.1")); n != 3 {
		t.Errorf("lines from 10.0.0.1 = %d, want 3 (the burst)", n)
	}
	if n := len(eventLines(EventRateLimitExceeded, "security event", "10.0.0.2")); n != 1 {
		t.Errorf("lines from 10.0.0.2 = %d, want 1", n)
	}
	if n := len(eventLines(EventValidationFailed, "security event", "")); n != 1 {
		t.Errorf("validation_failed lines = %d, want 1", n)
	}
	if n := len(eventLines(EventPermissionDenied, "security event", "")); n != 3 {
		t.Errorf("permission_denied lines = %d, want 3", n)
	}
	if got := count(EventRateLimitExceeded); got != 11 {
		t.Errorf("counter rate_limit_exceeded = %v, want 11 (suppressed lines count too)", got)
	}
	if got := count(EventPermissionDenied); got != 5 {
		t.Errorf("counter permission_denied = %v, want 5", got)
	}
	if got := count(EventTooManyConnections); got != 0 {
		t.Errorf("counter too_many_connections = %v, want 0", got)
	}
	if n := len(eventLines(EventRateLimitExceeded, "security events suppressed", "")); n != 0 {
		t.Fatalf("summary before the window ended")
	}

	// The window ends: the next event (of any source) reports what was held back.
	clock.Advance(10 * time.Second)
	l.Emit(EventOriginRejected, EventFields{IP: "10.9.9.9", Detail: "origin https://evil.example.com"})
	sum := eventLines(EventRateLimitExceeded, "security events suppressed", "10.0.0.1")
	if len(sum) != 1 || sum[0]["suppressed"] != float64(7) || sum[0]["type"] != "security_event" || sum[0]["level"] != "WARN" {
		t.Fatalf("rate_limit_exceeded summary = %v, want one line with suppressed 7", sum)
	}
	sum = eventLines(EventPermissionDenied, "security events suppressed", "")
	if len(sum) != 1 || sum[0]["suppressed"] != float64(2) || sum[0]["user_id"] != "u-1" {
		t.Fatalf("permission_denied summary = %v, want one line with suppressed 2 for u-1", sum)
	}
	if o := eventLines(EventOriginRejected, "security event", ""); len(o) != 1 || o[0]["detail"] != "origin https://evil.example.com" {
		t.Fatalf("origin line = %v", o)
	}

	// A new window: the source may log its burst again.
	l.Emit(EventRateLimitExceeded, EventFields{IP: "10.0.0.1"})
	if n := len(eventLines(EventRateLimitExceeded, "security event", "10.0.0.1")); n != 4 {
		t.Errorf("lines from 10.0.0.1 after the window = %d, want 4", n)
	}

	// Flush reports running windows at once.
	for range 5 {
		l.Emit(EventMalformedPacket, EventFields{IP: "10.0.0.3"})
	}
	l.Flush()
	sum = eventLines(EventMalformedPacket, "security events suppressed", "10.0.0.3")
	if len(sum) != 1 || sum[0]["suppressed"] != float64(2) {
		t.Fatalf("flushed summary = %v", sum)
	}
	l.Flush()
	if n := len(eventLines(EventMalformedPacket, "security events suppressed", "")); n != 1 {
		t.Fatalf("second Flush repeated the summary")
	}
}

// counterValue reads ws_security_events_total{event=ev} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, ev Event) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ws_security_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "event" && lp.GetValue() == string(ev) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no ws_security_events_total{event=%q}", ev)
	return 0
}

func TestEventLogMetric(t *testing.T) {
	l, _, reg, _ := newTestEventLog(t, 1, time.Minute)
	for range 4 {
		l.Emit(EventAuthInvalid, EventFields{IP: "1.2.3.4"})
	}
	l.Emit(Event("made_up"), EventFields{})
	want := `
# HELP ws_security_events_total Security events by kind, counted whether or not their log line was rate-limited.
# TYPE ws_security_events_total counter
ws_security_events_total{event="auth_invalid"} 4
ws_security_events_total{event="auth_missing"} 0
ws_security_events_total{event="malformed_packet"} 0
ws_security_events_total{event="message_too_large"} 0
ws_security_events_total{event="origin_rejected"} 0
ws_security_events_total{event="other"} 1
ws_security_events_total{event="permission_denied"} 0
ws_security_events_total{event="rate_limit_exceeded"} 0
ws_security_events_total{event="token_expired"} 0
ws_security_events_total{event="too_many_connections"} 0
ws_security_events_total{event="unauthorized_room_access"} 0
ws_security_events_total{event="validation_failed"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ws_security_events_total"); err != nil {
		t.Fatal(err)
	}
	// A second EventLog on the same registry shares the counter.
	l2 := NewEventLog(nil, reg, 0, 0)
	l2.Emit(EventAuthInvalid, EventFields{})
	if got := testutil.ToFloat64(l2.counter.WithLabelValues("auth_invalid")); got != 5 {
		t.Fatalf("shared counter = %v, want 5", got)
	}
	// Nil registry and nil EventLog are usable.
	NewEventLog(nil, nil, 0, 0).Emit(EventAuthInvalid, EventFields{})
	var nilLog *EventLog
	nilLog.Emit(EventAuthInvalid, EventFields{})
	nilLog.Flush()
}

func TestEventLogNeverLogsTokens(t *testing.T) {
	keys(t)
	l, buf, _, _ := newTestEventLog(t, 100, time.Minute)
	tok := sign(t, jwt.SigningMethodHS256, testSecret, claims(nil), nil)
	l.Emit(EventAuthInvalid, EventFields{IP: "1.2.3.4", Detail: "bad token " + tok})
	l.Emit(EventValidationFailed, EventFields{IP: "1.2.3.4", Room: tok, SID: tok, UserID: tok, WorkspaceID: tok})
	l.Emit(EventAuthInvalid, EventFields{IP: "1.2.3.4", Detail: "Authorization: Bearer " + tok + "; retry"})
	out := buf.String()
	if strings.Contains(out, tok) || strings.Contains(out, strings.Split(tok, ".")[2]) {
		t.Fatalf("a token reached the log:\n%s", out)
	}
	lines := buf.lines(t)
	if lines[0]["detail"] != "bad token [redacted]" || lines[2]["detail"] != "Authorization: Bearer [redacted]; retry" {
		t.Fatalf("details = %v / %v", lines[0]["detail"], lines[2]["detail"])
	}
	if lines[1]["room"] != Redacted {
		t.Fatalf("room = %v", lines[1]["room"])
	}
}

func TestEventLogBoundsMemoryAndFields(t *testing.T) {
	l, buf, _, _ := newTestEventLog(t, 1, time.Minute)
	for i := range maxEventWindows + 100 {
		l.Emit(EventTooManyConnections, EventFields{IP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
	}
	l.mu.Lock()
	n := len(l.windows)
	l.mu.Unlock()
	if n > maxEventWindows+1 {
		t.Fatalf("limiter tracks %d windows, want at most %d", n, maxEventWindows+1)
	}
	// Sources past the cap share one overflow window: one line, not 100.
	if lines := len(buf.lines(t)); lines != maxEventWindows+1 {
		t.Fatalf("lines = %d, want %d", lines, maxEventWindows+1)
	}

	l2, buf2, _, _ := newTestEventLog(t, 1, time.Minute)
	l2.Emit(EventValidationFailed, EventFields{Detail: strings.Repeat("é", 1000)})
	d := buf2.lines(t)[0]["detail"].(string)
	if len(d) > maxFieldBytes+len("…") || !strings.HasSuffix(d, "…") {
		t.Fatalf("detail of %d bytes not cut: %q", len(d), d)
	}
}

func TestEventLogConcurrent(t *testing.T) {
	l, _, reg, _ := newTestEventLog(t, 2, time.Minute)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 100 {
				l.Emit(EventRateLimitExceeded, EventFields{IP: fmt.Sprintf("10.0.%d.%d", g, i%5)})
			}
		})
	}
	wg.Wait()
	l.Flush()
	if got := counterValue(t, reg, EventRateLimitExceeded); got != 1600 {
		t.Fatalf("counter = %v, want 1600", got)
	}
}

// TestEventLogSource: lines are limited per (event, user) when the user is
// known, so users behind one NAT are each logged, and per (event, IP) when
// it is not (a client before CONNECT).
func TestEventLogSource(t *testing.T) {
	const burst = 3
	tests := []struct {
		name      string
		emits     []EventFields
		wantLines int
		// the summary line once the window is over; zero n: none
		sumN           int
		sumUser, sumIP string
	}{
		{"six users behind one NAT are each logged", fieldsN(6, func(i int) EventFields {
			return EventFields{UserID: fmt.Sprintf("u-%d", i), IP: "203.0.113.1"}
		}), 6, 0, "", ""},
		{"one user from many IPs is one source", fieldsN(5, func(i int) EventFields {
			return EventFields{UserID: "u-1", IP: fmt.Sprintf("203.0.113.%d", i)}
		}), burst, 2, "u-1", ""},
		{"no user: the IP is the source", fieldsN(5, func(int) EventFields {
			return EventFields{IP: "203.0.113.9"}
		}), burst, 2, "", "203.0.113.9"},
		{"a known and an unknown user on one IP are two sources", append(
			fieldsN(3, func(int) EventFields { return EventFields{UserID: "u-1", IP: "203.0.113.1"} }),
			fieldsN(3, func(int) EventFields { return EventFields{IP: "203.0.113.1"} })...), 6, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, buf, _, clock := newTestEventLog(t, burst, 10*time.Second)
			for _, f := range tt.emits {
				l.Emit(EventPermissionDenied, f)
			}
			lines, summaries := 0, []map[string]any{}
			count := func() {
				lines, summaries = 0, nil
				for _, m := range buf.lines(t) {
					switch {
					case m["event"] != string(EventPermissionDenied):
					case m["msg"] == "security event":
						lines++
					case m["msg"] == "security events suppressed":
						summaries = append(summaries, m)
					}
				}
			}
			count()
			if lines != tt.wantLines {
				t.Fatalf("%d lines, want %d", lines, tt.wantLines)
			}
			clock.Advance(10 * time.Second)
			l.Emit(EventOriginRejected, EventFields{IP: "198.51.100.1"}) // reports what was held back
			count()
			if tt.sumN == 0 {
				if len(summaries) != 0 {
					t.Fatalf("summaries %v, want none", summaries)
				}
				return
			}
			want := map[string]any{"suppressed": float64(tt.sumN)}
			if tt.sumUser != "" {
				want["user_id"] = tt.sumUser
			}
			if tt.sumIP != "" {
				want["ip"] = tt.sumIP
			}
			if len(summaries) != 1 {
				t.Fatalf("summaries %v, want one", summaries)
			}
			for k, v := range want {
				if summaries[0][k] != v {
					t.Fatalf("summary %v: %s = %v, want %v", summaries[0], k, summaries[0][k], v)
				}
			}
			if _, ok := summaries[0]["ip"]; ok && tt.sumIP == "" {
				t.Fatalf("summary %v names an IP for a user source", summaries[0])
			}
		})
	}
}

func fieldsN(n int, f func(i int) EventFields) []EventFields {
	out := make([]EventFields, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}
