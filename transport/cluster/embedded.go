package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// serverReadyTimeout bounds the wait for the embedded server's listeners.
const serverReadyTimeout = 10 * time.Second

// startServer starts the embedded NATS server of cfg (Listen set) and waits
// until it accepts connections. Routes that are not up yet are retried by
// the server for as long as it runs.
// With recovery on it runs JetStream, its state in storeDir.
func startServer(cfg Config, nodeID, storeDir string, log *slog.Logger) (*server.Server, error) {
	host, port, err := hostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS_LISTEN: %w", err)
	}
	opts := &server.Options{
		ServerName: "gw-" + nodeID,
		Host:       host,
		Port:       port,
		NoSigs:     true, // the gateway owns signal handling
	}
	if storeDir != "" {
		opts.JetStream, opts.StoreDir = true, storeDir
	}
	if cfg.ClusterListen != "" {
		chost, cport, err := hostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster: NATS_CLUSTER_LISTEN: %w", err)
		}
		routes, err := routeURLs(cfg.Routes)
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: chost, Port: cport}
		opts.Routes = routes
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	s.SetLoggerV2(natsLogger{log.With("component", "nats-server")}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(serverReadyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("cluster: embedded NATS server not ready within %s (listen %s, cluster %s)", serverReadyTimeout, cfg.Listen, cfg.ClusterListen)
	}
	return s, nil
}

// natsLogger adapts slog to nats-server's Logger. Notices are Info, fatal
// errors are logged as errors (the gateway decides whether to exit).
type natsLogger struct{ l *slog.Logger }

func (g natsLogger) logf(level slog.Level, format string, v []any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}

func (g natsLogger) Noticef(format string, v ...any) { g.logf(slog.LevelInfo, format, v) }
func (g natsLogger) Warnf(format string, v ...any)   { g.logf(slog.LevelWarn, format, v) }
func (g natsLogger) Fatalf(format string, v ...any)  { g.logf(slog.LevelError, format, v) }
func (g natsLogger) Errorf(format string, v ...any)  { g.logf(slog.LevelError, format, v) }
func (g natsLogger) Debugf(format string, v ...any)  { g.logf(slog.LevelDebug, format, v) }
func (g natsLogger) Tracef(format string, v ...any)  { g.logf(slog.LevelDebug-4, format, v) }
