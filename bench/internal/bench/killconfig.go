package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// KillConfig is the chaos-kill scenario: Clients recovering WebSocket
// subscribers (Recoverer) spread over Nodes clustered gateways, a numbered
// stream at Rate msg/s published on node a, and every KillEvery one other
// node killed with SIGKILL and restarted (same NODE_ID, routes and
// addresses) for Duration; a subscriber whose transport breaks reconnects
// at once to the next live node, round-robin.
type KillConfig struct {
	Binary         string // the gateway binary; empty: the repository's ./cmd/gateway, built into OutDir/bin
	Nodes          int
	Clients        int
	Rate           float64
	PayloadBytes   int
	Duration       time.Duration
	KillEvery      time.Duration
	RecoveryWindow time.Duration // the nodes' RECOVERY_WINDOW, and the bound of a "within the window" reconnect
	ReconnectDelay time.Duration // after a transport break, before the first attempt (0: at once)
	Concurrency    int
	Drain          time.Duration // after the last publish, at most, for every live subscriber to have it
	RepoDir        string
	OutDir         string
	JWTSecret      string
	PublishKey     string
}

// chaos-kill defaults and bounds.
const (
	defaultKillClients   = 1000
	defaultKillRate      = 50
	defaultKillDuration  = 2 * time.Minute
	defaultKillEvery     = 20 * time.Second
	defaultKillWindow    = 2 * time.Minute
	defaultKillDrain     = 15 * time.Second
	maxKillClients       = 20000
	maxKillDuration      = 30 * time.Minute
	quickKillClients     = 300
	quickKillDuration    = 30 * time.Second
	quickKillEvery       = 10 * time.Second
	killFileStem         = "chaos-kill"
	killReconnectTimeout = 10 * time.Second
	killRetryDelay       = 20 * time.Millisecond
	killConvergeTimeout  = 30 * time.Second
)

// ParseKillFlags parses the chaos-kill subcommand's flags.
func ParseKillFlags(args []string, usage io.Writer) (KillConfig, error) {
	c := KillConfig{Nodes: 3, Clients: defaultKillClients, Rate: defaultKillRate, PayloadBytes: defaultPayloadBytes,
		Duration: defaultKillDuration, KillEvery: defaultKillEvery, RecoveryWindow: defaultKillWindow,
		Concurrency: defaultHerdInFlight, Drain: defaultKillDrain, RepoDir: defaultRepoDir, OutDir: defaultOutDir,
		JWTSecret: DefaultJWTSecret, PublishKey: DefaultPublishKey}
	var quick bool
	fs := flag.NewFlagSet("gateway-bench chaos-kill", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.Binary, "gateway", "", "the gateway binary to run on every node (default: the repository's ./cmd/gateway, built into -out/bin)")
	fs.IntVar(&c.Nodes, "nodes", c.Nodes, "clustered gateways; node a gets the publishes and is never killed")
	fs.IntVar(&c.Clients, "clients", c.Clients, "subscribers, all in one room, client i first on node i mod nodes")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "numbered messages per second, published on node a")
	fs.IntVar(&c.PayloadBytes, "payload", c.PayloadBytes, "bytes of each message's data")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long the stream runs (and the kills go on)")
	fs.DurationVar(&c.KillEvery, "kill-every", c.KillEvery, "SIGKILL one node other than a (b, c, b, …) this often, then restart it")
	fs.DurationVar(&c.RecoveryWindow, "recovery-window", c.RecoveryWindow, "the nodes' RECOVERY_WINDOW; loss must be 0 for subscribers back within it")
	fs.DurationVar(&c.ReconnectDelay, "reconnect-delay", 0, "wait this long after a transport break before reconnecting (0: at once; socket.io-client's default waits 0.5–1.5 s)")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "connection attempts in flight during the ramp")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "after the last publish, how long to wait at most for every subscriber to have it")
	fs.StringVar(&c.RepoDir, "repo", c.RepoDir, "repository root: the directory of the go.mod of "+gatewayModulePath+" (the tool runs from bench/)")
	fs.StringVar(&c.OutDir, "out", c.OutDir, "directory for chaos-kill.md, chaos-kill.json and the nodes' logs")
	fs.BoolVar(&quick, "quick", false, fmt.Sprintf("a short run: %d subscribers, %s, a kill every %s", quickKillClients, quickKillDuration, quickKillEvery))
	if err := fs.Parse(args); err != nil {
		return KillConfig{}, err
	}
	if quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["clients"] {
			c.Clients = quickKillClients
		}
		if !set["duration"] {
			c.Duration = quickKillDuration
		}
		if !set["kill-every"] {
			c.KillEvery = quickKillEvery
		}
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if c.Binary != "" {
		if st, err := os.Stat(c.Binary); err != nil || st.IsDir() {
			errs = append(errs, fmt.Errorf("-gateway %q: not a file", c.Binary))
		}
	} else if err := checkRepoDir(c.RepoDir); err != nil {
		errs = append(errs, err)
	}
	if c.Nodes < 2 || c.Nodes > maxClusterNodes {
		errs = append(errs, fmt.Errorf("-nodes must be between 2 and %d (got %d)", maxClusterNodes, c.Nodes))
	}
	if c.Clients < c.Nodes || c.Clients > maxKillClients {
		errs = append(errs, fmt.Errorf("-clients must be between -nodes and %d (got %d)", maxKillClients, c.Clients))
	}
	if c.Rate <= 0 || c.Rate > 1000 {
		errs = append(errs, fmt.Errorf("-rate must be above 0 and at most 1000 (got %g)", c.Rate))
	}
	if c.PayloadBytes < minPayloadBytes || c.PayloadBytes > maxPayloadBytes {
		errs = append(errs, fmt.Errorf("-payload must be between %d and %d (got %d)", minPayloadBytes, maxPayloadBytes, c.PayloadBytes))
	}
	if c.Duration <= 0 || c.Duration > maxKillDuration {
		errs = append(errs, fmt.Errorf("-duration must be positive and at most %s (got %s)", maxKillDuration, c.Duration))
	}
	if c.KillEvery < time.Second || c.KillEvery > c.Duration {
		errs = append(errs, fmt.Errorf("-kill-every must be at least 1s and at most -duration (got %s)", c.KillEvery))
	}
	if c.RecoveryWindow < 0 {
		errs = append(errs, fmt.Errorf("-recovery-window must not be negative (got %s)", c.RecoveryWindow))
	}
	if c.ReconnectDelay < 0 || c.ReconnectDelay > time.Minute {
		errs = append(errs, fmt.Errorf("-reconnect-delay must be between 0 and 1m (got %s)", c.ReconnectDelay))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("-concurrency must be positive (got %d)", c.Concurrency))
	}
	if c.Drain <= 0 || c.Drain > time.Minute {
		errs = append(errs, fmt.Errorf("-drain must be positive and at most 1m (got %s)", c.Drain))
	}
	if err := errors.Join(errs...); err != nil {
		return KillConfig{}, err
	}
	return c, nil
}

// messages is the length of the numbered stream.
func (c KillConfig) messages() int { return int(c.Rate * c.Duration.Seconds()) }
