package security

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Event is the kind of a security event (CONTRACT §7), the "event" field of
// its log line and the label of ws_security_events_total.
type Event string

// The security events of the contract.
const (
	// EventAuthMissing: a CONNECT without a token.
	EventAuthMissing Event = "auth_missing"
	// EventAuthInvalid: a token that failed verification.
	EventAuthInvalid Event = "auth_invalid"
	// EventOriginRejected: an upgrade from an Origin not allowed.
	EventOriginRejected Event = "origin_rejected"
	// EventTooManyConnections: a connection over the per-IP limit.
	EventTooManyConnections Event = "too_many_connections"
	// EventRateLimitExceeded: an event over the per-connection rate limit.
	EventRateLimitExceeded Event = "rate_limit_exceeded"
	// EventUnauthorizedRoomAccess: a join refused with ACCESS_DENIED.
	EventUnauthorizedRoomAccess Event = "unauthorized_room_access"
	// EventPermissionDenied: a dashboard_action the role policy refuses.
	EventPermissionDenied Event = "permission_denied"
	// EventValidationFailed: event data refused by validation.
	EventValidationFailed Event = "validation_failed"
	// EventMessageTooLarge: a frame over MAX_MESSAGE_BYTES.
	EventMessageTooLarge Event = "message_too_large"
	// EventTokenExpired: an expired token, at CONNECT, refresh or exp.
	EventTokenExpired Event = "token_expired"
	// EventMalformedPacket: a packet the codec cannot parse.
	EventMalformedPacket Event = "malformed_packet"
)

// Events returns every contract event, in a fixed order.
func Events() []Event {
	return []Event{
		EventAuthMissing, EventAuthInvalid, EventOriginRejected, EventTooManyConnections,
		EventRateLimitExceeded, EventUnauthorizedRoomAccess, EventPermissionDenied,
		EventValidationFailed, EventMessageTooLarge, EventTokenExpired, EventMalformedPacket,
	}
}

var knownEvents = func() map[Event]bool {
	m := make(map[Event]bool)
	for _, ev := range Events() {
		m[ev] = true
	}
	return m
}()

// eventOther is the counter label of an Event outside the contract, so label
// cardinality stays bounded whatever a caller passes.
const eventOther = "other"

// EventFields are the optional facts of a security event. Empty fields are
// left out of the line. Every field is passed through Redact and cut to
// maxFieldBytes, so client input (a room name, a detail) can neither carry a
// token into the log nor make a line arbitrarily long. Never put token text
// in Detail.
type EventFields struct {
	// UserID is the token's sub ("user_id"), the rate-limiting source when set.
	UserID string
	// WorkspaceID is the workspace concerned ("workspace_id").
	WorkspaceID string
	// IP is the client IP ("ip"), the rate-limiting source when UserID is
	// not set.
	IP string
	// Room is the room name concerned ("room").
	Room string
	// SID is the Socket.IO session id ("sid").
	SID string
	// Detail is a short human explanation ("detail"), never token text.
	Detail string
}

// Defaults and bounds of an EventLog.
const (
	// DefaultEventBurst is how many lines one source may log per window.
	DefaultEventBurst = 5
	// DefaultEventWindow is the window of the per-source line limit.
	DefaultEventWindow = 10 * time.Second
	// maxEventWindows bounds the limiter's memory: past it, new sources of
	// an event share one overflow window.
	maxEventWindows = 4096
	// maxFieldBytes bounds each field of a line.
	maxFieldBytes = 256
)

// overflowSource is the source of the shared window used once the limiter
// tracks maxEventWindows sources.
const overflowSource = "overflow"

// EventLog writes security events as structured log lines and counts them.
// Lines are rate-limited per (event, source), the source being the user id
// when known (users behind one NAT share an IP), else the client IP: after burst lines in one window a source's further
// lines of that event are only counted, and one "security events suppressed"
// line with their number follows when the window is over (on the next event
// of any kind, or Flush). The counter counts every event. Safe for
// concurrent use; a nil *EventLog discards everything.
type EventLog struct {
	logger  *slog.Logger
	counter *prometheus.CounterVec
	burst   int
	per     time.Duration
	now     func() time.Time

	mu        sync.Mutex
	windows   map[windowKey]*eventWindow
	lastSweep time.Time
}

type windowKey struct {
	event  Event
	source string
}

// eventWindow counts one source's lines of one event in the current window.
type eventWindow struct {
	start      time.Time
	count      int
	suppressed int
	ip, userID string // the source, for the summary line
}

type suppressedLines struct {
	event      Event
	ip, userID string
	n          int
}

// NewEventLog returns an EventLog writing to logger at WARN and counting
// ws_security_events_total{event} in reg (not registered when reg is nil;
// an already registered counter of that name is reused). perSourceBurst
// lines are logged per source and event within each per; zero or negative
// values mean 5 lines per 10s.
func NewEventLog(logger *slog.Logger, reg prometheus.Registerer, perSourceBurst int, per time.Duration) *EventLog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if perSourceBurst <= 0 {
		perSourceBurst = DefaultEventBurst
	}
	if per <= 0 {
		per = DefaultEventWindow
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ws_security_events_total",
		Help: "Security events by kind, counted whether or not their log line was rate-limited.",
	}, []string{"event"})
	if reg != nil {
		if err := reg.Register(counter); err != nil {
			var are prometheus.AlreadyRegisteredError
			if existing, ok := asCounterVec(err, &are); ok {
				counter = existing
			} else {
				logger.Error("security events counter not registered", "err", err)
			}
		}
	}
	for _, ev := range Events() {
		counter.WithLabelValues(string(ev))
	}
	return &EventLog{
		logger:  logger,
		counter: counter,
		burst:   perSourceBurst,
		per:     per,
		now:     time.Now,
		windows: make(map[windowKey]*eventWindow),
	}
}

func asCounterVec(err error, are *prometheus.AlreadyRegisteredError) (*prometheus.CounterVec, bool) {
	if !errors.As(err, are) {
		return nil, false
	}
	cv, ok := are.ExistingCollector.(*prometheus.CounterVec)
	return cv, ok
}

// Emit counts ev and, unless its source is over the line limit, logs it.
func (l *EventLog) Emit(ev Event, f EventFields) {
	if l == nil {
		return
	}
	label := string(ev)
	if !knownEvents[ev] {
		label = eventOther
	}
	l.counter.WithLabelValues(label).Inc()

	f = sanitizeFields(f)
	now := l.now()
	l.mu.Lock()
	summaries := l.sweepLocked(now, false)
	key := windowKey{event: ev}
	switch {
	case f.UserID != "":
		key.source = "user:" + f.UserID
	case f.IP != "":
		key.source = "ip:" + f.IP
	}
	w := l.windows[key]
	if w == nil && len(l.windows) >= maxEventWindows {
		key.source = overflowSource
		w = l.windows[key]
	}
	switch {
	case w == nil:
		w = &eventWindow{start: now}
		if key.source != overflowSource {
			// The summary names the source only: a user may come from
			// several IPs.
			w.ip, w.userID = f.IP, f.UserID
			if w.userID != "" {
				w.ip = ""
			}
		}
		l.windows[key] = w
	case now.Sub(w.start) >= l.per:
		if w.suppressed > 0 {
			summaries = append(summaries, suppressedLines{event: ev, ip: w.ip, userID: w.userID, n: w.suppressed})
		}
		w.start, w.count, w.suppressed = now, 0, 0
	}
	w.count++
	logged := w.count <= l.burst
	if !logged {
		w.suppressed++
	}
	l.mu.Unlock()

	for _, s := range summaries {
		l.logSuppressed(s)
	}
	if logged {
		l.logEvent(ev, f)
	}
}

// Flush logs the summary line of every source whose lines are being
// suppressed, without waiting for its window to end; call it at shutdown.
func (l *EventLog) Flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	summaries := l.sweepLocked(l.now(), true)
	l.mu.Unlock()
	for _, s := range summaries {
		l.logSuppressed(s)
	}
}

// sweepLocked drops windows that are over, at most once per window length
// (or always when force is set, which also reports windows still running),
// and returns the suppressed counts to report.
func (l *EventLog) sweepLocked(now time.Time, force bool) []suppressedLines {
	if !force && now.Sub(l.lastSweep) < l.per {
		return nil
	}
	l.lastSweep = now
	var out []suppressedLines
	for k, w := range l.windows {
		over := now.Sub(w.start) >= l.per
		if w.suppressed > 0 && (over || force) {
			out = append(out, suppressedLines{event: k.event, ip: w.ip, userID: w.userID, n: w.suppressed})
			w.suppressed = 0
		}
		if over {
			delete(l.windows, k)
		}
	}
	return out
}

func (l *EventLog) logEvent(ev Event, f EventFields) {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("type", "security_event"), slog.String("event", string(ev)))
	for _, a := range []struct{ key, value string }{
		{"user_id", f.UserID},
		{"workspace_id", f.WorkspaceID},
		{"ip", f.IP},
		{"room", f.Room},
		{"sid", f.SID},
		{"detail", f.Detail},
	} {
		if a.value != "" {
			attrs = append(attrs, slog.String(a.key, a.value))
		}
	}
	l.logger.LogAttrs(context.Background(), slog.LevelWarn, "security event", attrs...)
}

func (l *EventLog) logSuppressed(s suppressedLines) {
	attrs := []slog.Attr{slog.String("type", "security_event"), slog.String("event", string(s.event))}
	if s.ip != "" {
		attrs = append(attrs, slog.String("ip", s.ip))
	}
	if s.userID != "" {
		attrs = append(attrs, slog.String("user_id", s.userID))
	}
	attrs = append(attrs, slog.Int("suppressed", s.n), slog.Duration("window", l.per))
	l.logger.LogAttrs(context.Background(), slog.LevelWarn, "security events suppressed", attrs...)
}

// sanitizeFields redacts token-like text from every field and cuts each to
// maxFieldBytes.
func sanitizeFields(f EventFields) EventFields {
	return EventFields{
		UserID:      sanitize(f.UserID),
		WorkspaceID: sanitize(f.WorkspaceID),
		IP:          sanitize(f.IP),
		Room:        sanitize(f.Room),
		SID:         sanitize(f.SID),
		Detail:      sanitize(f.Detail),
	}
}

func sanitize(s string) string {
	if s == "" {
		return s
	}
	s = Redact(s)
	if len(s) <= maxFieldBytes {
		return s
	}
	cut := maxFieldBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
