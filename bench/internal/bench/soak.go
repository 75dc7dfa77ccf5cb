package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// The soak scenario: churning clients (connect, join, a publish through the
// API received, leave, close: half of them by TCP reset) for a duration,
// while a canary stays connected in a room of its own and measures the loss
// and latency of a steady publish stream. Every few seconds it reads the
// server's /metrics (RSS, heap, goroutines, open fds, connections); at the
// end it compares the server with its start: a soak is flat when the end is
// back at the start once the churn has stopped.
// SoakConfig is one soak run.
type SoakConfig struct {
	Target     string        // base URL of the gateway (loopback)
	Pprof      string        // base URL of the gateway's PPROF_ADDR: a GC is forced before each reading (live heap); empty: none
	Clients    int           // churning clients, each one cycle at a time
	CycleRate  float64       // cycles per second over all churners; 0: as fast as they go
	Users      int           // distinct users the churners connect as
	Workspaces int           // distinct workspaces (and rooms) they use
	Duration   time.Duration // how long the churn lasts
	Every      time.Duration // how often the server is read
	Warmup     time.Duration // the reading the end is compared with is the first one this far into the churn
	Settle     time.Duration // after the churn, the longest wait for the server's connections to return to the canary's
	Rate       float64       // canary publishes per second
	JWTSecret  string
	PublishKey string
	Format     string // table, json or both
	PlotPath   string // heap/goroutines/fds over time; empty: none
	Progress   bool   // a line per reading on the progress writer
}

// Limits of a soak run.
const (
	maxSoakDuration = 2 * time.Hour
	maxSoakClients  = 1000
	soakCanaryRoom  = "workspace:soak-canary:dashboard"
	soakPayload     = 100
	cycleTimeout    = 10 * time.Second
)

// DefaultSoakConfig returns the defaults: a 10-minute soak at 8 churners.
func DefaultSoakConfig() SoakConfig {
	return SoakConfig{
		Target: "http://127.0.0.1:8080", Clients: 8, Users: 50, Workspaces: 200,
		Duration: 10 * time.Minute, Every: 5 * time.Second, Warmup: time.Minute, Settle: 30 * time.Second, Rate: 20,
		JWTSecret: DefaultJWTSecret, PublishKey: DefaultPublishKey, Format: "both", Progress: true,
	}
}

// ParseSoakFlags parses the soak's flags over the defaults.
func ParseSoakFlags(args []string, usage io.Writer) (SoakConfig, error) {
	c := DefaultSoakConfig()
	fs := flag.NewFlagSet("gateway-bench soak", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.Target, "target", c.Target, "base URL of the gateway (loopback only)")
	fs.StringVar(&c.Pprof, "pprof", c.Pprof, "base URL of the gateway's PPROF_ADDR, e.g. http://127.0.0.1:6060: a GC is forced before each reading, so heap is the live heap")
	fs.IntVar(&c.Clients, "clients", c.Clients, "churning clients, one cycle at a time each")
	fs.Float64Var(&c.CycleRate, "cycle-rate", c.CycleRate, "cycles per second over all churners (0: as fast as they go)")
	fs.IntVar(&c.Users, "users", c.Users, "distinct users the churners connect as")
	fs.IntVar(&c.Workspaces, "workspaces", c.Workspaces, "distinct workspaces the churners use")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long the churn lasts")
	fs.DurationVar(&c.Every, "every", c.Every, "how often the server's /metrics is read")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "the end is compared with the first reading this far into the churn (pools, maps and protoactor's registry filled); the cold baseline before any churn is reported too")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "after the churn, the longest wait for the server to drop every churned connection")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "canary publishes per second")
	fs.StringVar(&c.JWTSecret, "jwt-secret", c.JWTSecret, "HS256 secret the gateway verifies tokens with")
	fs.StringVar(&c.PublishKey, "publish-key", c.PublishKey, "PUBLISH_API_KEY of the gateway")
	fs.StringVar(&c.Format, "format", c.Format, "table, json or both")
	fs.StringVar(&c.PlotPath, "plot", c.PlotPath, "PNG of heap, RSS, goroutines and fds over time")
	fs.BoolVar(&c.Progress, "progress", c.Progress, "a line per reading on stderr")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks the run is bounded and aimed at this machine.
func (c SoakConfig) Validate() error {
	var errs []error
	if err := CheckLoopback(c.Target); err != nil {
		errs = append(errs, fmt.Errorf("-target: %w", err))
	}
	if c.Pprof != "" {
		if err := CheckLoopback(c.Pprof); err != nil {
			errs = append(errs, fmt.Errorf("-pprof: %w", err))
		}
	}
	if c.Clients < 1 || c.Clients > maxSoakClients {
		errs = append(errs, fmt.Errorf("-clients must be 1..%d", maxSoakClients))
	}
	if c.Users < 1 || c.Workspaces < 1 {
		errs = append(errs, errors.New("-users and -workspaces must be positive"))
	}
	if c.Duration <= 0 || c.Duration > maxSoakDuration {
		errs = append(errs, fmt.Errorf("-duration must be in (0, %v]", maxSoakDuration))
	}
	if c.Every < 100*time.Millisecond || c.Settle < 0 || c.Settle > 10*time.Minute || c.Warmup < 0 || c.Warmup >= c.Duration {
		errs = append(errs, errors.New("-every must be ≥100ms, -settle within 10m, -warmup shorter than -duration"))
	}
	if c.Rate <= 0 || c.Rate > 1000 || c.CycleRate < 0 {
		errs = append(errs, errors.New("-rate must be in (0, 1000] and -cycle-rate ≥ 0"))
	}
	switch c.Format {
	case "table", "json", "both":
	default:
		errs = append(errs, errors.New("-format must be table, json or both"))
	}
	return errors.Join(errs...)
}
