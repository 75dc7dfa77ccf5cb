package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyvve/gateway/messages"
)

// Publisher broadcasts to a room (actors.System).
type Publisher interface {
	Publish(ctx context.Context, room, event string, data json.RawMessage) (messages.PublishResult, error)
}

// Config is the console's configuration.
type Config struct {
	// Key is the admin key; the console must not be mounted without one.
	Key string
	// FaultInjection tells the page that POST /debug/faults is on, so it
	// shows its buttons.
	FaultInjection bool
	// MaxMessageBytes bounds a publish body. Zero means 100000.
	MaxMessageBytes int
	// StatsInterval is how often an open stream gets a stats event. Zero
	// means 1s.
	StatsInterval time.Duration
}

// Deps are the console's collaborators.
type Deps struct {
	// Feed carries supervision decisions and security events to the streams.
	Feed *Feed
	// Snapshot returns the actor tree as a JSON-encodable value.
	Snapshot  func(ctx context.Context) (any, error)
	Publisher Publisher
	Gatherer  prometheus.Gatherer
	Logger    *slog.Logger
}

// maxStreams bounds the open event streams: each holds a goroutine and
// reads the registry every StatsInterval.
const maxStreams = 16

// Console serves the operator console. Close ends its open streams.
type Console struct {
	cfg     Config
	d       Deps
	closing chan struct{}
	once    sync.Once
	streams sync.WaitGroup
	slots   chan struct{}
}

// New returns a Console; mount its Handler under /admin.
func New(cfg Config, d Deps) *Console {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 100000
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Feed == nil {
		d.Feed = NewFeed()
	}
	return &Console{cfg: cfg, d: d, closing: make(chan struct{}), slots: make(chan struct{}, maxStreams)}
}

// Handler serves /admin (the page), /admin/… (its assets) and /admin/api/….
func (c *Console) Handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /admin/api/snapshot", c.serveSnapshot)
	api.HandleFunc("GET /admin/api/events", c.serveEvents)
	api.HandleFunc("POST /admin/api/publish", c.servePublish)
	api.HandleFunc("/admin/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such console API")
	})
	mux := http.NewServeMux()
	mux.Handle("/admin/api/", c.requireKey(api))
	mux.Handle("/admin", pageHandler())
	mux.Handle("/admin/", pageHandler())
	return mux
}

// Close ends every open event stream and waits for them; call it when the
// HTTP server shuts down (http.Server.Shutdown waits for handlers).
func (c *Console) Close() {
	c.once.Do(func() { close(c.closing) })
	c.streams.Wait()
}

func (c *Console) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	snap, err := c.d.Snapshot(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"features": map[string]any{"faultInjection": c.cfg.FaultInjection},
		"snapshot": snap,
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg})
}
