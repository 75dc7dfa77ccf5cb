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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/security"
)

// HerdConfig is the reconnect herd: Clients WebSocket clients on node a,
// each reconnecting to node b as soon as its transport closes; node a is
// sent SIGTERM and node b counts the clients coming back. Node a is each of
// Variants in turn (A B C A B C …, Rounds each), node b always BBinary;
// every measurement on freshly started processes.
type HerdConfig struct {
	Variants        []HerdVariant
	BBinary         string // node b's binary; empty: the repository's ./cmd/gateway, built
	Clients         int
	Rooms           int
	Rounds          int
	Concurrency     int
	Window          time.Duration // the bucket of the reconnect rate
	ShutdownTimeout time.Duration // node a's SHUTDOWN_TIMEOUT
	Timeout         time.Duration // from SIGTERM to every client back, at most
	Cluster         bool          // route b to a's embedded NATS server
	RepoDir         string
	OutDir          string
	JWTSecret       string
	PublishKey      string
}

// HerdVariant is one node-a binary, by label.
type HerdVariant struct {
	Label  string
	Binary string
}

// Herd defaults and bounds.
const (
	defaultHerdClients   = 2000
	maxHerdClients       = 20000
	defaultHerdWindow    = 100 * time.Millisecond
	defaultHerdShutdown  = 10 * time.Second
	defaultHerdTimeout   = 60 * time.Second
	herdSettle           = time.Second // after the ramp, before SIGTERM
	herdRetryDelay       = 50 * time.Millisecond
	herdFileStem         = "herd"
	defaultHerdRooms     = 20
	defaultHerdInFlight  = 200
	herdReconnectTimeout = 15 * time.Second
)

// ParseHerdFlags parses the herd subcommand's flags.
func ParseHerdFlags(args []string, usage io.Writer) (HerdConfig, error) {
	c := HerdConfig{Clients: defaultHerdClients, Rooms: defaultHerdRooms, Rounds: defaultRounds, Concurrency: defaultHerdInFlight,
		Window: defaultHerdWindow, ShutdownTimeout: defaultHerdShutdown, Timeout: defaultHerdTimeout, Cluster: true,
		RepoDir: defaultRepoDir, OutDir: defaultOutDir, JWTSecret: DefaultJWTSecret, PublishKey: DefaultPublishKey}
	var variants string
	fs := flag.NewFlagSet("gateway-bench herd", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&variants, "a", "", "node a's binaries, measured in turn: LABEL=PATH[,LABEL=PATH…] (required)")
	fs.StringVar(&c.BBinary, "b", "", "node b's binary (default: the repository's ./cmd/gateway, built into -out/bin)")
	fs.IntVar(&c.Clients, "clients", c.Clients, "WebSocket clients on node a")
	fs.IntVar(&c.Rooms, "rooms", c.Rooms, "rooms they join (client i joins room i mod rooms)")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "measurements of each variant")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "connection attempts in flight during the ramp")
	fs.DurationVar(&c.Window, "window", c.Window, "window of the reconnect rate")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "node a's SHUTDOWN_TIMEOUT")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "from SIGTERM to every client back on node b, at most")
	fs.BoolVar(&c.Cluster, "cluster", c.Cluster, "cluster b with a over their embedded NATS servers")
	fs.StringVar(&c.RepoDir, "repo", c.RepoDir, "repository root: the directory of the go.mod of "+gatewayModulePath+" (the tool runs from bench/)")
	fs.StringVar(&c.OutDir, "out", c.OutDir, "directory for herd.md, herd.jsonl and logs")
	if err := fs.Parse(args); err != nil {
		return HerdConfig{}, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	for _, kv := range splitComma(variants) {
		label, path, ok := strings.Cut(kv, "=")
		if !ok || label == "" || path == "" {
			errs = append(errs, fmt.Errorf("-a: %q is not LABEL=PATH", kv))
			continue
		}
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			errs = append(errs, fmt.Errorf("-a: %s: %q is not a file", label, path))
			continue
		}
		c.Variants = append(c.Variants, HerdVariant{Label: label, Binary: path})
	}
	if len(c.Variants) == 0 {
		errs = append(errs, errors.New("-a: name at least one node-a binary (LABEL=PATH)"))
	}
	if c.BBinary != "" {
		if st, err := os.Stat(c.BBinary); err != nil || st.IsDir() {
			errs = append(errs, fmt.Errorf("-b %q: not a file", c.BBinary))
		}
	} else if err := checkRepoDir(c.RepoDir); err != nil {
		errs = append(errs, err)
	}
	if c.Clients < 1 || c.Clients > maxHerdClients {
		errs = append(errs, fmt.Errorf("-clients must be between 1 and %d (got %d)", maxHerdClients, c.Clients))
	}
	if c.Rooms < 1 || c.Rooms > c.Clients {
		errs = append(errs, fmt.Errorf("-rooms must be between 1 and -clients (got %d)", c.Rooms))
	}
	if c.Rounds < 1 || c.Rounds > maxRounds {
		errs = append(errs, fmt.Errorf("-rounds must be between 1 and %d (got %d)", maxRounds, c.Rounds))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("-concurrency must be positive (got %d)", c.Concurrency))
	}
	if c.Window < time.Millisecond {
		errs = append(errs, fmt.Errorf("-window must be at least 1ms (got %s)", c.Window))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-shutdown-timeout must be positive (got %s)", c.ShutdownTimeout))
	}
	if c.Timeout <= 0 || c.Timeout > maxTimeout {
		errs = append(errs, fmt.Errorf("-timeout must be positive and at most %s (got %s)", maxTimeout, c.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return HerdConfig{}, err
	}
	return c, nil
}

// HerdResult is one measurement: node a of Variant sent SIGTERM with
// Clients joined on it. Times are seconds after the SIGTERM.
type HerdResult struct {
	Variant   string `json:"variant"`
	Round     int    `json:"round"`
	Clients   int    `json:"clients"`
	Joined    int    `json:"joined"`  // on node a before the SIGTERM
	Back      int    `json:"back"`    // connected and joined on node b
	Told      int    `json:"told"`    // closes preceded by a Socket.IO DISCONNECT or Engine.IO close packet
	Retries   int    `json:"retries"` // failed attempts on node b
	Clustered bool   `json:"clustered"`

	FirstClose   float64 `json:"first_close_s"`
	LastClose    float64 `json:"last_close_s"`
	FirstBack    float64 `json:"first_back_s"`
	AllBack      float64 `json:"all_back_s"` // the last client back (time to all reconnected)
	AExit        float64 `json:"a_exit_s"`   // node a's process exit
	WindowMS     float64 `json:"window_ms"`
	PeakPerWin   int     `json:"peak_per_window"`   // most reconnects in one window
	MedianPerWin float64 `json:"median_per_window"` // median over the windows from the first back to the last
	PeakCloses   int     `json:"peak_closes_per_window"`
	// ReconnectMS is each client's close → back on b: p50, p99, max.
	ReconnectMS [3]float64 `json:"reconnect_ms"`
	// BCPUSeconds is node b's CPU from the SIGTERM to the last client back.
	BCPUSeconds float64 `json:"b_cpu_s"`
	// BackPerWin is the reconnect count of every window from the SIGTERM.
	BackPerWin []int   `json:"back_per_window"`
	Load1      float64 `json:"load1"`
	OtherCPU   float64 `json:"other_cpu_s"` // the machine's busy time during the herd less the tool's and the nodes'
	Err        string  `json:"error,omitempty"`
}

// RunHerd measures every variant in turn, Rounds times.
func RunHerd(ctx context.Context, hc HerdConfig, log io.Writer) ([]HerdResult, error) {
	limit, err := RaiseFileLimit()
	if err != nil {
		return nil, err
	}
	if err := checkFileLimit(2*hc.Clients, limit); err != nil {
		return nil, err
	}
	b := hc.BBinary
	if b == "" {
		setup := PeerSetup{RepoDir: hc.RepoDir, BinDir: filepath.Join(hc.OutDir, "bin")}
		if err := BuildPeers(ctx, setup, []PeerKind{PeerGateway}, log); err != nil {
			return nil, err
		}
		b = filepath.Join(hc.OutDir, "bin", gatewayBinaryName)
	}
	var out []HerdResult
	for round := 1; round <= hc.Rounds; round++ {
		for _, v := range hc.Variants {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			r := measureHerd(ctx, hc, v, b, round)
			out = append(out, r)
			fmt.Fprintln(log, r.summary())
		}
	}
	return out, nil
}

func (r HerdResult) summary() string {
	s := fmt.Sprintf("herd %-10s round %d: %d/%d back, closes %.2f–%.2fs, back %.2f–%.2fs, peak %d/%.0fms, median %.0f/%.0fms, close→back p50 %.0f p99 %.0f ms, b CPU %.2fs, other CPU %.2fs, load %.2f",
		r.Variant, r.Round, r.Back, r.Joined, r.FirstClose, r.LastClose, r.FirstBack, r.AllBack, r.PeakPerWin, r.WindowMS,
		r.MedianPerWin, r.WindowMS, r.ReconnectMS[0], r.ReconnectMS[1], r.BCPUSeconds, r.OtherCPU, r.Load1)
	if r.Err != "" {
		s += " (error: " + r.Err + ")"
	}
	return s
}

// herdClient is one client's times, in ns after the SIGTERM.
type herdClient struct {
	closed  int64
	back    atomic.Int64 // 0: not back yet
	told    bool
	retries int
}

func measureHerd(ctx context.Context, hc HerdConfig, v HerdVariant, bBin string, round int) HerdResult {
	res := HerdResult{Variant: v.Label, Round: round, Clients: hc.Clients, WindowMS: float64(hc.Window) / float64(time.Millisecond)}
	logDir := filepath.Join(hc.OutDir, "logs")
	stem := fmt.Sprintf("%s-%s-%d", herdFileStem, v.Label, round)
	setup := PeerSetup{JWTSecret: hc.JWTSecret, PublishKey: hc.PublishKey}
	var aEnv []string
	if hc.Cluster {
		aEnv = clusterNodeEnv("a", nil)
	}
	aEnv = append(aEnv, "SHUTDOWN_TIMEOUT="+hc.ShutdownTimeout.String())
	a, err := startGatewayBinary(ctx, setup, v.Binary, filepath.Join(logDir, stem+"-node-a.log"), aEnv)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer func() { _ = a.Stop() }()
	var bEnv []string
	if hc.Cluster && a.Route != "" {
		bEnv = clusterNodeEnv("b", []string{a.Route})
		res.Clustered = true
	}
	bNode, err := startGatewayBinary(ctx, setup, bBin, filepath.Join(logDir, stem+"-node-b.log"), bEnv)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer func() { _ = bNode.Stop() }()
	sleepCtx(ctx, peerSettle)

	exp := time.Now().Add(tokenTTL)
	clients := make([]herdClient, hc.Clients)
	var (
		mu        sync.Mutex
		joined    int
		wgJoined  sync.WaitGroup
		wgDone    sync.WaitGroup
		sigterm   time.Time
		started   = make(chan struct{}) // closed at the SIGTERM
		deadline  = make(chan struct{})
		firstErrs []string
	)
	noteErr := func(err error) {
		mu.Lock()
		if len(firstErrs) < 3 {
			firstErrs = append(firstErrs, err.Error())
		}
		mu.Unlock()
	}
	runCtx, cancel := context.WithTimeout(ctx, hc.Timeout+2*time.Minute)
	defer cancel()
	dialer := NewDialer(nil)
	sem := make(chan struct{}, hc.Concurrency)
	wgJoined.Add(hc.Clients)
	wgDone.Add(hc.Clients)
	for i := range clients {
		go func() {
			defer wgDone.Done()
			room := roomName(i % hc.Rooms)
			tok, err := security.MintHS256([]byte(hc.JWTSecret), security.Claims{Subject: fmt.Sprintf("u%d", i),
				WorkspaceID: workspaceOf(i % hc.Rooms), Role: security.RoleMember, ExpiresAt: exp})
			if err != nil {
				noteErr(err)
				wgJoined.Done()
				return
			}
			sem <- struct{}{}
			c, err := herdConnect(runCtx, dialer, a.URL(), tok, room)
			<-sem
			wgJoined.Done()
			if err != nil {
				noteErr(err)
				return
			}
			mu.Lock()
			joined++
			mu.Unlock()
			err = c.Receive(func([]byte) {})
			now := time.Now()
			_ = c.Close()
			<-started
			hcl := &clients[i]
			hcl.closed = int64(now.Sub(sigterm))
			hcl.told = errors.Is(err, ErrDisconnected)
			for {
				c, err := herdConnect(runCtx, dialer, bNode.URL(), tok, room)
				if err == nil {
					hcl.back.Store(int64(time.Since(sigterm)))
					defer c.Close()
					select { // hold the connection until the measurement ends
					case <-deadline:
					case <-runCtx.Done():
					}
					return
				}
				hcl.retries++
				select {
				case <-deadline:
					noteErr(err)
					return
				case <-runCtx.Done():
					return
				case <-time.After(herdRetryDelay):
				}
			}
		}()
	}
	wgJoined.Wait()
	res.Joined = joined
	sleepCtx(ctx, herdSettle)

	meter := startMachineMeter()
	b0, _ := ReadProc(bNode.PID)
	a0, _ := ReadProc(a.PID)
	res.Load1 = readLoad1()
	sigterm = time.Now()
	close(started)
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		res.Err = err.Error()
	}
	aExited := make(chan time.Duration, 1)
	go func() {
		err := <-a.exited
		a.exited <- err
		aExited <- time.Since(sigterm)
	}()
	// Wait for every joined client to be back, or the timeout.
	allBack := make(chan struct{})
	go func() {
		for {
			n := 0
			for i := range clients {
				if clients[i].back.Load() > 0 {
					n++
				}
			}
			if n >= joined {
				close(allBack)
				return
			}
			select {
			case <-time.After(10 * time.Millisecond):
			case <-runCtx.Done():
				return
			}
		}
	}()
	select {
	case <-allBack:
	case <-time.After(hc.Timeout):
		res.Err = fmt.Sprintf("not every client back on node b within %s", hc.Timeout)
	case <-ctx.Done():
	}
	b1, _ := ReadProc(bNode.PID)
	a1, aErr := ReadProc(a.PID) // gone when a has exited: its drain then counts as other CPU
	res.BCPUSeconds = b1.CPUSeconds - b0.CPUSeconds
	aCPU := 0.0
	if aErr == nil {
		aCPU = max(0, a1.CPUSeconds-a0.CPUSeconds)
	}
	res.OtherCPU, _ = meter.others(res.BCPUSeconds + aCPU)
	select {
	case d := <-aExited:
		res.AExit = d.Seconds()
	case <-time.After(hc.ShutdownTimeout + 5*time.Second):
	}
	close(deadline)
	wgDone.Wait()

	var closes, backs []float64
	var lat []int64
	for i := range clients {
		c := &clients[i]
		back := c.back.Load()
		if c.closed > 0 || back > 0 {
			closes = append(closes, float64(c.closed))
		}
		if c.told {
			res.Told++
		}
		res.Retries += c.retries
		if back > 0 {
			res.Back++
			backs = append(backs, float64(back))
			lat = append(lat, back-c.closed)
		}
	}
	slices.Sort(closes)
	slices.Sort(backs)
	slices.Sort(lat)
	sum := Summarize(lat)
	if len(closes) > 0 {
		res.FirstClose, res.LastClose = closes[0]/1e9, closes[len(closes)-1]/1e9
	}
	if len(backs) > 0 {
		res.FirstBack, res.AllBack = backs[0]/1e9, backs[len(backs)-1]/1e9
		res.ReconnectMS = [3]float64{sum.P50, sum.P99, sum.Max}
		res.BackPerWin = perWindow(backs, hc.Window)
		res.PeakPerWin = slices.Max(res.BackPerWin)
		first := int(backs[0] / float64(hc.Window))
		span := slices.Clone(res.BackPerWin[first:])
		fs := make([]float64, len(span))
		for i, n := range span {
			fs[i] = float64(n)
		}
		res.MedianPerWin = Median(fs)
		res.PeakCloses = slices.Max(perWindow(closes, hc.Window))
	}
	if res.Err == "" && len(firstErrs) > 0 && res.Back < hc.Clients {
		res.Err = strings.Join(firstErrs, "; ")
	}
	return res
}

// perWindow counts the times (ns) in each window from 0.
func perWindow(ts []float64, w time.Duration) []int {
	if len(ts) == 0 {
		return nil
	}
	n := int(ts[len(ts)-1]/float64(w)) + 1
	out := make([]int, n)
	for _, t := range ts {
		out[max(0, int(t/float64(w)))]++ // a close before the SIGTERM counts in the first window
	}
	return out
}

// herdConnect connects to base over a WebSocket and joins room.
func herdConnect(ctx context.Context, d *websocket.Dialer, base, token, room string) (*Client, error) {
	actx, cancel := context.WithTimeout(ctx, herdReconnectTimeout)
	defer cancel()
	c, err := Connect(actx, d, base, token)
	if err != nil {
		return nil, err
	}
	if err := c.Join(actx, room, nil); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}
