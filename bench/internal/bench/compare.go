package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CompareConfig is a side-by-side run: every scenario on every peer, the
// peers measured in rotation (A B C A B C …), each measurement on a freshly
// started process.
type CompareConfig struct {
	Scenarios []Scenario
	Peers     []PeerKind
	Rounds    int
	Quick     bool
	Timeout   time.Duration // per measurement
	RepoDir   string
	OutDir    string
	PlotCopy  string // where the README's plot is copied; empty: nowhere
	Build     bool
	Progress  bool
	// OldGateway is the gateway-old peer's binary.
	OldGateway string
	// Transport is how every scenario's clients connect (websocket,
	// polling, default).
	Transport Transport
	// Clients, Messages and Rate replace the scenarios' sizes when set
	// (Clients, Messages > 0; RateSet).
	Clients  int
	Messages int
	Rate     float64
	RateSet  bool
}

// Workload is the Config scenario s runs with: its target (or quick) sizes,
// the compare's transport and size overrides.
func (cc CompareConfig) Workload(s Scenario) Config {
	cfg := DefaultConfig(s, cc.Quick)
	if cc.Transport != "" {
		cfg.Transport = cc.Transport
	}
	if cc.Clients > 0 {
		cfg.Clients = cc.Clients
		cfg.Rooms = min(cfg.Rooms, cfg.Clients)
	}
	if s.publishes() {
		if cc.Messages > 0 {
			cfg.Messages = cc.Messages
		}
		if cc.RateSet {
			cfg.Rate = cc.Rate
		}
	}
	return cfg
}

// Compare defaults and bounds.
const (
	defaultRounds  = 3
	maxRounds      = 20
	defaultRepoDir = ".."                // the tool runs from bench/, its module's directory
	defaultOutDir  = "out"               // bench/out
	defaultPlotDst = "bench/latency.png" // from the repository root
	// peerSettle lets a freshly started peer finish starting before it
	// is measured (the Node peer compiles its code lazily).
	peerSettle = 500 * time.Millisecond
)

// ParseCompareFlags parses the compare subcommand's flags.
func ParseCompareFlags(args []string, usage io.Writer) (CompareConfig, error) {
	c := CompareConfig{Rounds: defaultRounds, Timeout: defaultTimeout, RepoDir: defaultRepoDir, OutDir: defaultOutDir, Build: true, Progress: true,
		Transport: TransportWebSocket}
	var scenarios, peers, plotCopy string
	fs := flag.NewFlagSet("gateway-bench compare", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&scenarios, "scenarios", "fanout,rooms,burst,storm,idle,chaos", "comma-separated scenarios (chaos runs on the gateway only)")
	fs.StringVar(&peers, "peers", "gateway,floor-vectored,floor-single,socketio", "comma-separated peers, measured in this order each round; also gateway-norecovery (RECOVERY_WINDOW=0) and gateway-old (-old-gateway)")
	fs.StringVar(&c.OldGateway, "old-gateway", "", "binary of the gateway-old peer: an earlier gateway build, started as the gateway peer is")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "measurements of each peer per scenario")
	fs.BoolVar(&c.Quick, "quick", false, "the scenarios' quick sizes (a smoke compare)")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "hard limit of one measurement")
	fs.StringVar(&c.RepoDir, "repo", c.RepoDir, "repository root: the directory of the go.mod of "+gatewayModulePath+" (the tool runs from bench/)")
	fs.StringVar(&c.OutDir, "out", c.OutDir, "directory for results.md, results.jsonl, plots, logs and binaries")
	fs.StringVar(&plotCopy, "plot-copy", "", `copy the latency figure here (default "`+defaultPlotDst+`" unless -quick; "-" for none)`)
	fs.BoolVar(&c.Build, "build", c.Build, "build the gateway and raw floor binaries first")
	fs.BoolVar(&c.Progress, "progress", c.Progress, "progress bars on stderr")
	fs.Var((*transportFlag)(&c.Transport), "transport", "how the clients connect in every scenario: websocket, polling or default (polling handshake and CONNECT, then the upgrade)")
	fs.IntVar(&c.Clients, "clients", 0, "clients of every scenario (0: each scenario's own)")
	fs.IntVar(&c.Messages, "messages", 0, "messages of every publishing scenario (0: each scenario's own)")
	fs.Float64Var(&c.Rate, "rate", 0, "messages per second of every publishing scenario (unset: each scenario's own; 0: as fast as accepted)")
	if err := fs.Parse(args); err != nil {
		return CompareConfig{}, err
	}
	fs.Visit(func(f *flag.Flag) { c.RateSet = c.RateSet || f.Name == "rate" })
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	for _, name := range splitComma(scenarios) {
		s, err := ParseScenario(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("-scenarios: %w", err))
			continue
		}
		c.Scenarios = append(c.Scenarios, s)
	}
	for _, name := range splitComma(peers) {
		p, err := ParsePeer(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("-peers: %w", err))
			continue
		}
		c.Peers = append(c.Peers, p)
	}
	if len(c.Scenarios) == 0 {
		errs = append(errs, errors.New("-scenarios: name at least one scenario"))
	}
	if c.Clients < 0 || c.Messages < 0 {
		errs = append(errs, fmt.Errorf("-clients and -messages must not be negative (got %d, %d)", c.Clients, c.Messages))
	}
	for _, s := range c.Scenarios {
		w := c.Workload(s)
		if err := w.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("scenario %s: %w", s, err))
		}
	}
	if len(c.Peers) == 0 {
		errs = append(errs, errors.New("-peers: name at least one peer"))
	}
	if slices.Contains(c.Peers, PeerGatewayOld) {
		if c.OldGateway == "" {
			errs = append(errs, errors.New("-peers gateway-old needs -old-gateway PATH"))
		} else if st, err := os.Stat(c.OldGateway); err != nil || st.IsDir() {
			errs = append(errs, fmt.Errorf("-old-gateway %q: not a file", c.OldGateway))
		}
	}
	if c.Rounds < 1 || c.Rounds > maxRounds {
		errs = append(errs, fmt.Errorf("-rounds must be between 1 and %d (got %d)", maxRounds, c.Rounds))
	}
	if c.Timeout <= 0 || c.Timeout > maxTimeout {
		errs = append(errs, fmt.Errorf("-timeout must be positive and at most %s (got %s)", maxTimeout, c.Timeout))
	}
	if err := checkRepoDir(c.RepoDir); err != nil {
		errs = append(errs, err)
	}
	switch {
	case plotCopy == "-":
	case plotCopy != "":
		c.PlotCopy = plotCopy
	case !c.Quick:
		c.PlotCopy = filepath.Join(c.RepoDir, defaultPlotDst)
	}
	if err := errors.Join(errs...); err != nil {
		return CompareConfig{}, err
	}
	return c, nil
}

// Measurement is one run of one scenario on one peer.
type Measurement struct {
	Scenario Scenario
	Peer     PeerKind
	Round    int
	Result   *Result // nil when the run could not be made
	Err      string  // why the run failed or was cut short
}

// Comparison is every measurement of a compare.
type Comparison struct {
	Config       CompareConfig
	Started      time.Time
	Measurements []Measurement
}

// Compare runs cc. Each measurement starts its peer, runs the scenario,
// and stops the peer; a peer that fails is recorded and the rest go on.
// A one-line summary of each measurement goes to log.
func Compare(ctx context.Context, cc CompareConfig, log io.Writer) (*Comparison, error) {
	limit, err := RaiseFileLimit()
	if err != nil {
		return nil, err
	}
	setup := PeerSetup{RepoDir: cc.RepoDir, BinDir: filepath.Join(cc.OutDir, "bin"),
		JWTSecret: DefaultJWTSecret, PublishKey: DefaultPublishKey, AdminKey: DefaultAdminKey, OldGateway: cc.OldGateway}
	if cc.Build {
		if err := BuildPeers(ctx, setup, cc.Peers, log); err != nil {
			return nil, err
		}
	}
	cmp := &Comparison{Config: cc, Started: time.Now()}
	for _, s := range cc.Scenarios {
		cfg := cc.Workload(s)
		cfg.Timeout, cfg.Progress, cfg.Format = cc.Timeout, cc.Progress, "json"
		if err := checkFileLimit(cfg.Clients*cfg.Transport.socketsPerClient(), limit); err != nil {
			return cmp, err
		}
		for round := 1; round <= cc.Rounds; round++ {
			for _, k := range cc.Peers {
				if s == ScenarioChaos && !k.supportsFaults() {
					continue
				}
				if ctx.Err() != nil {
					return cmp, ctx.Err()
				}
				m := measure(ctx, setup, cc, cfg, k, round)
				cmp.Measurements = append(cmp.Measurements, m)
				fmt.Fprintln(log, m.summary())
			}
		}
	}
	return cmp, nil
}

// measure starts peer k, runs cfg against it, and stops it.
func measure(ctx context.Context, setup PeerSetup, cc CompareConfig, cfg Config, k PeerKind, round int) Measurement {
	m := Measurement{Scenario: cfg.Scenario, Peer: k, Round: round}
	logPath := filepath.Join(cc.OutDir, "logs", fmt.Sprintf("%s-%s-%d.log", cfg.Scenario, k, round))
	peer, err := StartPeer(ctx, setup, k, logPath, cfg.Scenario == ScenarioChaos)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	sleepCtx(ctx, peerSettle)
	cfg.Target, cfg.ServerPIDs = peer.URL(), []int{peer.PID}
	res, runErr := Run(ctx, cfg, os.Stderr)
	if stopErr := peer.Stop(); stopErr != nil && runErr == nil {
		runErr = stopErr
	}
	if res != nil {
		res.Peer, res.Round = string(k), round
	}
	m.Result = res
	if runErr != nil {
		m.Err = runErr.Error()
	}
	return m
}

// summary is the one line a measurement leaves on the log.
func (m Measurement) summary() string {
	head := fmt.Sprintf("%-7s %-15s round %d:", m.Scenario, m.Peer, m.Round)
	r := m.Result
	if r == nil {
		return head + " FAILED: " + m.Err
	}
	var b strings.Builder
	b.WriteString(head)
	switch r.Scenario {
	case ScenarioStorm, ScenarioIdle:
		fmt.Fprintf(&b, " %d/%d connected in %.2fs (%.0f/s)", r.Connected, r.Clients, r.ConnectSeconds, r.ConnsPerSecond)
	default:
		fmt.Fprintf(&b, " p50 %.2f p99 %.2f max %.2f ms, %d/%d delivered, %.0f deliveries/s",
			r.Latency.P50, r.Latency.P99, r.Latency.Max, r.Received, r.Expected, r.DeliveriesPerSec)
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(&b, ", RSS/conn %.1f KB, peak %.0f MB, CPU %.1fs", s.RSSPerConnKB, s.PeakRSSMB, s.CPUSeconds)
	}
	if m.Err != "" {
		b.WriteString(" (error: " + m.Err + ")")
	}
	return b.String()
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
