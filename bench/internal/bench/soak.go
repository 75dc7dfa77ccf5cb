package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/security"
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

// SoakSample is one reading of the server.
type SoakSample struct {
	Seconds     float64 `json:"t_s"`
	RSSMB       float64 `json:"rss_mb"`
	HeapMB      float64 `json:"heap_mb"` // go_memstats_heap_alloc_bytes: the live heap when a GC was forced
	HeapInuseMB float64 `json:"heap_inuse_mb"`
	Goroutines  float64 `json:"goroutines"`
	FDs         float64 `json:"fds"`
	Conns       float64 `json:"connections"`
	Cycles      int64   `json:"cycles"`
}

// SoakRatios are end/start of each reading.
type SoakRatios struct {
	RSS        float64 `json:"rss"`
	Heap       float64 `json:"heap"`
	Goroutines float64 `json:"goroutines"`
	FDs        float64 `json:"fds"`
}

// CanaryStats are what the canary measured.
type CanaryStats struct {
	Published   int            `json:"published"`
	Received    int            `json:"received"`
	Lost        int            `json:"lost"`
	LossPercent float64        `json:"loss_percent"`
	Duplicates  int            `json:"duplicates"`
	Disconnects int            `json:"disconnects"`
	Latency     LatencySummary `json:"latency"`
}

// SoakResult is a soak run's outcome.
type SoakResult struct {
	Scenario    string       `json:"scenario"`
	Target      string       `json:"target"`
	Clients     int          `json:"clients"`
	DurationS   float64      `json:"duration_s"`
	Cycles      int64        `json:"cycles"`
	CyclesPerS  float64      `json:"cycles_per_s"`
	CycleErrors int64        `json:"cycle_errors"`
	Resets      int64        `json:"tcp_resets"`
	GCForced    bool         `json:"gc_forced"`
	WarmupS     float64      `json:"warmup_s"`
	Baseline    SoakSample   `json:"baseline"` // before any churn
	Start       SoakSample   `json:"start"`    // the first reading after the warm-up: what the end is compared with
	Peak        SoakSample   `json:"peak"`
	End         SoakSample   `json:"end"`
	Ratios      SoakRatios   `json:"end_over_start"`
	ColdRatios  SoakRatios   `json:"end_over_baseline"`
	Flat        bool         `json:"flat"`
	Canary      CanaryStats  `json:"canary"`
	Samples     []SoakSample `json:"samples"`
	Errors      []string     `json:"errors,omitempty"`
}

// Flatness bounds: the goal (live heap end/start ≤ 1.2; goroutines
// and fds back to the start, give or take a few in flight).
const (
	flatHeapRatio = 1.2
	flatSlack     = 5
)

// ratio is end/start, 0 when start is not positive.
func ratio(end, start float64) float64 {
	if start <= 0 {
		return 0
	}
	return end / start
}

// ratios are end/start of each reading.
func ratios(e, s SoakSample) SoakRatios {
	return SoakRatios{RSS: ratio(e.RSSMB, s.RSSMB), Heap: ratio(e.HeapMB, s.HeapMB),
		Goroutines: ratio(e.Goroutines, s.Goroutines), FDs: ratio(e.FDs, s.FDs)}
}

// summarizeSoak fills the derived fields of res from its samples: Start is
// the first sample at or after WarmupS (the baseline without a warm-up).
// Goroutines and fds are compared with the baseline: once the churn has
// ended they must be back where they were before it began.
func summarizeSoak(res *SoakResult) {
	res.Start = res.Baseline
	for _, x := range res.Samples {
		if x.Seconds-res.Baseline.Seconds >= res.WarmupS {
			res.Start = x
			break
		}
	}
	s, e, b := res.Start, res.End, res.Baseline
	res.Ratios, res.ColdRatios = ratios(e, s), ratios(e, b)
	for _, x := range res.Samples {
		if x.HeapMB > res.Peak.HeapMB {
			res.Peak.HeapMB = x.HeapMB
		}
		res.Peak.RSSMB = max(res.Peak.RSSMB, x.RSSMB)
		res.Peak.HeapInuseMB = max(res.Peak.HeapInuseMB, x.HeapInuseMB)
		res.Peak.Goroutines = max(res.Peak.Goroutines, x.Goroutines)
		res.Peak.FDs = max(res.Peak.FDs, x.FDs)
		res.Peak.Conns = max(res.Peak.Conns, x.Conns)
	}
	res.Flat = res.Ratios.Heap > 0 && res.Ratios.Heap <= flatHeapRatio &&
		e.Goroutines <= b.Goroutines+flatSlack && e.FDs <= b.FDs+flatSlack
	if res.DurationS > 0 {
		res.CyclesPerS = float64(res.Cycles) / res.DurationS
	}
	c := &res.Canary
	c.Lost = max(c.Published-c.Received, 0)
	if c.Published > 0 {
		c.LossPercent = 100 * float64(c.Lost) / float64(c.Published)
	}
}

// parseMetrics reads the Prometheus text format: the value of each sample
// of the families in want, summed over their labels.
func parseMetrics(r io.Reader, want map[string]bool) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if !want[name] {
			continue
		}
		f := strings.Fields(line[strings.LastIndexByte(line, '}')+1:])
		if strings.IndexByte(line, '}') < 0 {
			f = strings.Fields(line)[1:]
		}
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bench: metric line %q: %w", line, err)
		}
		out[name] += v
	}
	return out, sc.Err()
}

var soakMetrics = map[string]bool{
	"process_resident_memory_bytes": true, "go_memstats_heap_alloc_bytes": true,
	"go_memstats_heap_inuse_bytes": true, "go_goroutines": true, "process_open_fds": true,
	"ws_connections_active": true,
}

// soakRun is one soak's state.
type soakRun struct {
	cfg    SoakConfig
	http   *http.Client
	clock  Clock
	errs   *errorLog
	start  time.Time
	cycles atomic.Int64
	failed atomic.Int64
	resets atomic.Int64

	canaryMu    sync.Mutex
	seen        map[int]bool
	lat         []int64
	dups        int
	published   atomic.Int64
	disconnects atomic.Int64
}

// RunSoak runs the soak; it ends by itself after Duration and Settle.
func RunSoak(ctx context.Context, cfg SoakConfig, progress io.Writer) (*SoakResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := RaiseFileLimit(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+cfg.Settle+2*time.Minute)
	defer cancel()
	r := &soakRun{cfg: cfg, clock: NewClock(), errs: newErrorLog(), seen: map[int]bool{}, start: time.Now(),
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients + 4}}}
	defer r.http.CloseIdleConnections()
	res := &SoakResult{Scenario: "soak", Target: cfg.Target, Clients: cfg.Clients, GCForced: cfg.Pprof != "", WarmupS: cfg.Warmup.Seconds()}

	canaryDone := make(chan struct{})
	canaryCtx, stopCanary := context.WithCancel(ctx)
	defer stopCanary()
	joined := make(chan error, 1)
	go func() { defer close(canaryDone); r.canary(canaryCtx, joined) }()
	if err := <-joined; err != nil {
		return nil, fmt.Errorf("bench: the canary could not join: %w", err)
	}
	var err error
	if res.Baseline, err = r.read(ctx); err != nil {
		return nil, err
	}
	res.Samples = append(res.Samples, res.Baseline)
	r.report(progress, "start", res.Baseline)

	pubDone := make(chan struct{})
	go func() { defer close(pubDone); r.publishCanary(canaryCtx) }()
	churnCtx, stopChurn := context.WithTimeout(ctx, cfg.Duration)
	var wg sync.WaitGroup
	for w := range cfg.Clients {
		wg.Add(1)
		go func() { defer wg.Done(); r.churn(churnCtx, w) }()
	}
	tick := time.NewTicker(cfg.Every)
	for churnCtx.Err() == nil {
		select {
		case <-tick.C:
			if s, err := r.read(ctx); err == nil {
				res.Samples = append(res.Samples, s)
				r.report(progress, "churn", s)
			} else {
				r.errs.add("metrics", err)
			}
		case <-churnCtx.Done():
		}
	}
	tick.Stop()
	wg.Wait()
	stopChurn()
	churned := time.Since(r.start)

	// Settle: every churned connection gone on the server (the canary's
	// remains), then the end reading.
	deadline := time.Now().Add(cfg.Settle)
	for {
		s, err := r.read(ctx)
		if err == nil && s.Conns <= 1 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	if res.End, err = r.read(ctx); err != nil {
		return nil, err
	}
	res.Samples = append(res.Samples, res.End)
	r.report(progress, "end", res.End)
	stopCanary()
	<-pubDone
	<-canaryDone

	res.DurationS = churned.Seconds()
	res.Cycles, res.CycleErrors, res.Resets = r.cycles.Load(), r.failed.Load(), r.resets.Load()
	r.canaryMu.Lock()
	res.Canary = CanaryStats{Published: int(r.published.Load()), Received: len(r.seen), Duplicates: r.dups,
		Disconnects: int(r.disconnects.Load()), Latency: Summarize(r.lat)}
	r.canaryMu.Unlock()
	summarizeSoak(res)
	res.Errors = r.errs.list()
	return res, nil
}

// read takes one reading of the server's /metrics, after a forced GC when
// -pprof is set.
func (r *soakRun) read(ctx context.Context) (SoakSample, error) {
	if r.cfg.Pprof != "" {
		if err := r.get(ctx, strings.TrimSuffix(r.cfg.Pprof, "/")+"/debug/pprof/heap?gc=1", io.Discard); err != nil {
			return SoakSample{}, err
		}
	}
	var body bytes.Buffer
	if err := r.get(ctx, strings.TrimSuffix(r.cfg.Target, "/")+"/metrics", &body); err != nil {
		return SoakSample{}, err
	}
	m, err := parseMetrics(&body, soakMetrics)
	if err != nil {
		return SoakSample{}, err
	}
	const mib = 1 << 20
	return SoakSample{
		Seconds: time.Since(r.start).Seconds(), RSSMB: m["process_resident_memory_bytes"] / mib,
		HeapMB: m["go_memstats_heap_alloc_bytes"] / mib, HeapInuseMB: m["go_memstats_heap_inuse_bytes"] / mib,
		Goroutines: m["go_goroutines"], FDs: m["process_open_fds"], Conns: m["ws_connections_active"],
		Cycles: r.cycles.Load(),
	}, nil
}

func (r *soakRun) get(ctx context.Context, url string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: GET %s: HTTP %d", url, resp.StatusCode)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func (r *soakRun) report(w io.Writer, phase string, s SoakSample) {
	if r.cfg.Progress && w != nil {
		fmt.Fprintf(w, "soak %-5s t=%5.0fs rss=%6.1fMB heap=%6.1fMB goroutines=%5.0f fds=%5.0f conns=%5.0f cycles=%d\n",
			phase, s.Seconds, s.RSSMB, s.HeapMB, s.Goroutines, s.FDs, s.Conns, s.Cycles)
	}
}

// token mints a token of user in workspace, valid past the run.
func (r *soakRun) token(user, workspace string) (string, error) {
	return security.MintHS256([]byte(r.cfg.JWTSecret), security.Claims{Subject: user, WorkspaceID: workspace,
		Role: security.RoleMember, ExpiresAt: time.Now().Add(maxSoakDuration + time.Hour)})
}

// churn runs cycles until ctx ends: connect, join, one publish through the
// API received, leave, close (odd cycles by TCP reset).
func (r *soakRun) churn(ctx context.Context, w int) {
	dialer := NewDialer(nil)
	var period time.Duration
	if r.cfg.CycleRate > 0 {
		period = time.Duration(float64(r.cfg.Clients) / r.cfg.CycleRate * float64(time.Second))
	}
	next := time.Now()
	for ctx.Err() == nil {
		if period > 0 {
			sleepCtx(ctx, time.Until(next))
			next = next.Add(period)
			if ctx.Err() != nil {
				return
			}
		}
		i := r.cycles.Add(1)
		if err := r.cycle(ctx, dialer, i); err != nil {
			if ctx.Err() != nil {
				r.cycles.Add(-1) // cut short by the end of the churn
				return
			}
			r.failed.Add(1)
			r.errs.add("cycle", err)
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
}

func (r *soakRun) cycle(ctx context.Context, d *websocket.Dialer, i int64) error {
	ws := "soak-w" + strconv.FormatInt(i%int64(r.cfg.Workspaces), 10)
	tok, err := r.token("soak-u"+strconv.FormatInt(i%int64(r.cfg.Users), 10), ws)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, cycleTimeout)
	defer cancel()
	c, err := ConnectWith(cctx, ConnectOptions{Dialer: d}, r.cfg.Target, tok)
	if err != nil {
		return err
	}
	reset := i%2 == 1
	defer func() {
		if tc, ok := c.ws.NetConn().(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0) // the close sends RST, not FIN
			r.resets.Add(1)
		}
		_ = c.Close()
	}()
	room := "workspace:" + ws + ":dashboard"
	if err := c.Join(cctx, room, nil); err != nil {
		return err
	}
	if err := r.publish(cctx, room, "soak", []byte(`{"i":`+strconv.FormatInt(i, 10)+`}`)); err != nil {
		return err
	}
	if err := c.awaitEvent(cctx); err != nil {
		return fmt.Errorf("bench: waiting for the cycle's publish: %w", err)
	}
	data, _ := json.Marshal(map[string]string{"room": room})
	return c.Emit("leave_room", data)
}

// awaitEvent reads until one EVENT frame arrives, answering pings.
func (c *Client) awaitEvent(ctx context.Context) error {
	c.setDeadline(ctx)
	defer c.clearDeadline()
	for {
		frame, err := c.readFrame()
		if err != nil {
			return err
		}
		switch {
		case isEvent(frame):
			return nil
		case len(frame) == 1 && frame[0] == '2':
			if err := c.pong(); err != nil {
				return err
			}
		}
	}
}

// publish posts one message to room through the publish API.
func (r *soakRun) publish(ctx context.Context, room, event string, data []byte) error {
	body, _ := json.Marshal(map[string]any{"room": room, "event": event, "data": json.RawMessage(data)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.cfg.Target, "/")+"/v1/publish", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.cfg.PublishKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: publish: HTTP %d", resp.StatusCode)
	}
	return nil
}

// canary stays in its room until ctx ends, reconnecting if dropped, and
// records every stamped message it receives.
func (r *soakRun) canary(ctx context.Context, joined chan<- error) {
	tok, err := r.token("soak-canary", "soak-canary")
	if err != nil {
		joined <- err
		return
	}
	first := true
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, cycleTimeout)
		c, err := ConnectWith(cctx, ConnectOptions{}, r.cfg.Target, tok)
		if err == nil {
			err = c.Join(cctx, soakCanaryRoom, r.onCanary)
			if err != nil {
				_ = c.Close()
			}
		}
		cancel()
		if first {
			joined <- err
			first = false
			if err != nil {
				return
			}
		}
		if err != nil {
			r.errs.add("canary", err)
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		err = c.Receive(r.onCanary)
		stop()
		_ = c.Close()
		if ctx.Err() == nil {
			r.disconnects.Add(1)
			r.errs.add("canary", fmt.Errorf("bench: the canary was disconnected: %w", err))
		}
	}
}

func (r *soakRun) onCanary(frame []byte) {
	seq, sent, ok := parseStamp(frame)
	if !ok {
		return
	}
	now := r.clock.Now()
	r.canaryMu.Lock()
	defer r.canaryMu.Unlock()
	if r.seen[seq] {
		r.dups++
		return
	}
	r.seen[seq] = true
	r.lat = append(r.lat, now-sent)
}

// publishCanary publishes the canary's stream at Rate until ctx ends, then
// waits a little for the last messages.
func (r *soakRun) publishCanary(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.Rate))
	defer t.Stop()
	var buf []byte
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		buf = appendPayload(buf[:0], seq, r.clock.Now(), soakPayload)
		if err := r.publish(ctx, soakCanaryRoom, benchEvent, buf); err != nil {
			if ctx.Err() == nil {
				r.errs.add("canary publish", err)
			}
			continue
		}
		r.published.Add(1)
	}
}

// WriteSoakTable writes the readings and the verdict as text.
func WriteSoakTable(w io.Writer, res *SoakResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "soak against %s: %d churners for %.0f s, %d cycles (%.0f/s, %d failed, %d by TCP reset); GC forced before readings: %v\n\n",
		res.Target, res.Clients, res.DurationS, res.Cycles, res.CyclesPerS, res.CycleErrors, res.Resets, res.GCForced)
	fmt.Fprintf(&b, "| t (s) | RSS (MB) | heap (MB) | heap in use (MB) | goroutines | fds | connections | cycles |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range thin(res.Samples, 14) {
		fmt.Fprintf(&b, "| %.0f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %d |\n", s.Seconds, s.RSSMB, s.HeapMB, s.HeapInuseMB, s.Goroutines, s.FDs, s.Conns, s.Cycles)
	}
	c0, s, e, p := res.Baseline, res.Start, res.End, res.Peak
	fmt.Fprintf(&b, "\n| | before churn | start (t=%.0fs) | peak | end | end/start | end/before |\n|---|---:|---:|---:|---:|---:|---:|\n", s.Seconds)
	fmt.Fprintf(&b, "| live heap (MB) | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", c0.HeapMB, s.HeapMB, p.HeapMB, e.HeapMB, res.Ratios.Heap, res.ColdRatios.Heap)
	fmt.Fprintf(&b, "| RSS (MB) | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", c0.RSSMB, s.RSSMB, p.RSSMB, e.RSSMB, res.Ratios.RSS, res.ColdRatios.RSS)
	fmt.Fprintf(&b, "| goroutines | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", c0.Goroutines, s.Goroutines, p.Goroutines, e.Goroutines, res.Ratios.Goroutines, res.ColdRatios.Goroutines)
	fmt.Fprintf(&b, "| open fds | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", c0.FDs, s.FDs, p.FDs, e.FDs, res.Ratios.FDs, res.ColdRatios.FDs)
	c := res.Canary
	fmt.Fprintf(&b, "\ncanary: %d published, %d received, %d lost (%.3f%%), %d duplicates, %d disconnects; latency %s\n",
		c.Published, c.Received, c.Lost, c.LossPercent, c.Duplicates, c.Disconnects, latencyText(c.Latency))
	verdict := "flat"
	if !res.Flat {
		verdict = "NOT flat"
	}
	fmt.Fprintf(&b, "verdict: %s (live heap end/start ≤ %.1f after a %.0f s warm-up; goroutines and fds within %d of before the churn)\n", verdict, flatHeapRatio, res.WarmupS, flatSlack)
	if len(res.Errors) > 0 {
		fmt.Fprintf(&b, "errors: %s\n", strings.Join(res.Errors, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSoakJSON writes res as one JSON line.
func WriteSoakJSON(w io.Writer, res *SoakResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// thin keeps at most n samples, evenly spread, always the first and last.
func thin(s []SoakSample, n int) []SoakSample {
	if len(s) <= n || n < 2 {
		return s
	}
	out := make([]SoakSample, 0, n)
	for i := range n {
		out = append(out, s[int(math.Round(float64(i)*float64(len(s)-1)/float64(n-1)))])
	}
	return out
}
