package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/supervision"
	"github.com/hyvve/gateway/transport"
	"github.com/hyvve/gateway/transport/admin"
)

// consoleFeed returns the operator console's feed when ADMIN_API_KEY is
// set, else nil; it must exist before the security event log, whose
// logger it wraps (securityLogger).
func consoleFeed(cfg *Config) *admin.Feed {
	if cfg.AdminAPIKey == "" {
		return nil
	}
	return admin.NewFeed()
}

// securityLogger is the security event log's logger: log, and the open
// consoles when there is a feed.
func securityLogger(feed *admin.Feed, log *slog.Logger) *slog.Logger {
	if feed == nil {
		return log
	}
	return slog.New(feed.SecurityHandler(log.Handler()))
}

// mountConsole serves /admin on srv and feeds it supervision decisions;
// without a feed (no ADMIN_API_KEY) /admin stays a 404. The console's
// streams end when httpSrv shuts down.
func mountConsole(cfg *Config, feed *admin.Feed, srv *transport.Server, system *actors.System, reg prometheus.Gatherer, log *slog.Logger, httpSrv *http.Server) {
	if feed == nil {
		return
	}
	console := admin.New(admin.Config{
		Key: cfg.AdminAPIKey, FaultInjection: cfg.FaultInjection, MaxMessageBytes: cfg.MaxMessageBytes,
	}, admin.Deps{
		Feed:      feed,
		Snapshot:  func(ctx context.Context) (any, error) { return system.Snapshot(ctx) },
		Publisher: system,
		Gatherer:  reg,
		Logger:    log,
	})
	system.WatchSupervision(func(d supervision.Decision) { feed.Decision(d) }) // ends with the system
	h := console.Handler()
	srv.Handle("/admin", h)
	srv.Handle("/admin/", h)
	httpSrv.RegisterOnShutdown(console.Close)
	log.Info("operator console at /admin")
}
