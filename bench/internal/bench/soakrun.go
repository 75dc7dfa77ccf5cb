package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
