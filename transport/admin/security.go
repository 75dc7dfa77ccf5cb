package admin

import (
	"context"
	"log/slog"
)

// SecurityHandler wraps the handler of the security event log
// (security.EventLog's logger): every line it writes also goes to the open
// consoles, with the very fields of the log line, redacted as they are
// there. With no console open it only passes lines on.
func (f *Feed) SecurityHandler(h slog.Handler) slog.Handler { return &securityTee{next: h, f: f} }

type securityTee struct {
	next slog.Handler
	f    *Feed
}

func (t *securityTee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.next.Enabled(ctx, l) || t.f.active.Load() > 0
}

func (t *securityTee) Handle(ctx context.Context, r slog.Record) error {
	if t.f.active.Load() > 0 {
		ev := map[string]any{"time": r.Time, "msg": r.Message}
		r.Attrs(func(a slog.Attr) bool {
			ev[a.Key] = a.Value.Resolve().Any()
			return true
		})
		t.f.publish("security", ev)
	}
	if !t.next.Enabled(ctx, r.Level) {
		return nil
	}
	return t.next.Handle(ctx, r)
}

func (t *securityTee) WithAttrs(as []slog.Attr) slog.Handler {
	return &securityTee{next: t.next.WithAttrs(as), f: t.f}
}

func (t *securityTee) WithGroup(name string) slog.Handler {
	return &securityTee{next: t.next.WithGroup(name), f: t.f}
}
