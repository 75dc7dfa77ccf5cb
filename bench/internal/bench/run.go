package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Timings of a run's phases.
const (
	// drainQuiet ends the wait for outstanding deliveries when none has
	// arrived for this long.
	drainQuiet = 3 * time.Second
	// drainPoll is how often the drain checks the delivery count.
	drainPoll = 50 * time.Millisecond
	// chaosSettle lets the server settle after the last fault before its
	// memory is read again.
	chaosSettle = 2 * time.Second
)

// ErrNoConnections is returned when not one client could connect and join.
var ErrNoConnections = errors.New("bench: no client connected")

// Run runs cfg's scenario against cfg.Target and returns what it measured.
// Progress bars go to progressW. The run ends by itself at cfg.Timeout; a
// Result may come with an error when the run was cut short.
func Run(ctx context.Context, cfg Config, progressW io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limit, err := RaiseFileLimit()
	if err != nil {
		return nil, err
	}
	if err := checkFileLimit(cfg.Clients*cfg.Transport.socketsPerClient(), limit); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r := &runner{cfg: cfg, clock: NewClock(), errs: newErrorLog(), progressW: progressW}
	if cfg.Scenario == ScenarioChaos && cfg.Rate == 0 {
		return nil, errors.New("bench: chaos needs -rate > 0 (faults are paced against a steady load)")
	}
	return r.run(ctx)
}

// runner holds one run's state.
type runner struct {
	cfg       Config
	clock     Clock
	errs      *errorLog
	progressW io.Writer
	server    serverProbe
	fleet     *fleet
	pub       *publisher
	outcomes  []outcome // by sequence number: regular messages, then chaos probes
	expected  atomic.Int64
	chaos     *chaosDriver
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	start := time.Now()
	res := &Result{
		Scenario: cfg.Scenario, Target: cfg.Target, Clients: cfg.Clients, Rooms: cfg.Rooms,
		Messages: cfg.Messages, Rate: cfg.Rate, PayloadBytes: cfg.PayloadBytes,
		Transport: cfg.Transport, PollTargets: cfg.PollTargets(),
	}
	if targets := cfg.Targets(); len(targets) > 1 || cfg.PublishTarget != "" {
		res.Targets, res.PublishTarget = targets, cfg.PublishURL()
	}
	if !cfg.Scenario.publishes() {
		res.Messages, res.Rate = 0, 0
	}
	r.server = serverProbe{pids: cfg.ServerPIDs, errs: r.errs}
	before := r.server.sample()
	meter := startMachineMeter()

	seqs := 0
	if cfg.Scenario.publishes() {
		seqs = cfg.Messages
		if cfg.Scenario == ScenarioChaos {
			seqs += 2 * maxRoomFaults(cfg)
		}
	}
	var err error
	if r.fleet, err = newFleet(cfg, r.clock, seqs, cfg.Scenario == ScenarioChaos, r.errs); err != nil {
		return nil, err
	}
	defer r.fleet.close()

	r.connect(ctx, res)
	if res.Connected == 0 {
		r.fleet.close()
		res.Errors = r.errs.list()
		return res, fmt.Errorf("%w: %v", ErrNoConnections, res.Errors)
	}
	if cfg.Scenario == ScenarioIdle {
		sleepCtx(ctx, cfg.Hold)
	}
	if cfg.Scenario.publishes() {
		r.pub = newPublisher(cfg, r.clock, cfg.Publishers+2)
		if cfg.Probe || cfg.multiNode() {
			r.converge(ctx, res)
		}
	}
	connected := r.server.sample()

	var afterChaos procReading
	if cfg.Scenario.publishes() {
		r.outcomes = make([]outcome, seqs)
		cpu0 := r.server.sample()
		r.publishPhase(ctx)
		r.drain(ctx)
		afterDrain := r.server.sample()
		if before.ok && afterDrain.ok {
			res.Server = &ServerStats{CPUPublishSecs: afterDrain.CPUSeconds - cpu0.CPUSeconds,
				WritesPublish: afterDrain.WriteCalls - cpu0.WriteCalls}
			if len(cfg.ServerPIDs) > 1 {
				res.Server.Nodes = make([]NodeStats, len(cfg.ServerPIDs))
				for i := range res.Server.Nodes {
					res.Server.Nodes[i].CPUPublishSecs = afterDrain.nodes[i].CPUSeconds - cpu0.nodes[i].CPUSeconds
				}
			}
		}
		if r.chaos != nil {
			sleepCtx(ctx, chaosSettle)
			afterChaos = r.server.sample()
		}
	}
	end := r.server.sample()
	r.fleet.close() // every member's goroutine has ended: their fields may be read
	r.collect(res)
	if r.chaos != nil {
		res.Chaos = r.chaos.collect(res)
		if connected.ok && afterChaos.ok {
			res.Chaos.RSSBeforeMB, res.Chaos.RSSAfterMB = mb(connected.RSSKB), mb(afterChaos.RSSKB)
		}
	}
	if before.ok && connected.ok && end.ok {
		if res.Server == nil {
			res.Server = &ServerStats{}
		}
		s := res.Server
		s.PID = cfg.ServerPIDs[0]
		s.RSSStartMB, s.RSSConnectedMB, s.RSSEndMB = mb(before.RSSKB), mb(connected.RSSKB), mb(end.RSSKB)
		s.PeakRSSMB = mb(end.HWMKB)
		s.RSSPerConnKB = float64(connected.RSSKB-before.RSSKB) / float64(res.Connected)
		s.CPUSeconds = end.CPUSeconds - before.CPUSeconds
		if other, ok := meter.others(s.CPUSeconds); ok {
			s.OtherCPUSeconds = &other
		}
		if len(cfg.ServerPIDs) > 1 {
			s.PIDs = cfg.ServerPIDs
			if s.Nodes == nil {
				s.Nodes = make([]NodeStats, len(cfg.ServerPIDs))
			}
			for i := range s.Nodes {
				n := &s.Nodes[i]
				n.PID = cfg.ServerPIDs[i]
				n.RSSStartMB, n.RSSConnectedMB, n.RSSEndMB = mb(before.nodes[i].RSSKB), mb(connected.nodes[i].RSSKB), mb(end.nodes[i].RSSKB)
				n.PeakRSSMB = mb(end.nodes[i].HWMKB)
				n.CPUSeconds = end.nodes[i].CPUSeconds - before.nodes[i].CPUSeconds
			}
		}
	}
	res.DurationSeconds = time.Since(start).Seconds()
	res.Errors = r.errs.list()
	return res, ctx.Err()
}

// connect runs the ramp and fills the connection fields of res.
func (r *runner) connect(ctx context.Context, res *Result) {
	bar := startProgress(r.progressW, r.cfg.Progress, "connect", int64(r.cfg.Clients), nil)
	t0 := time.Now()
	r.fleet.connectAll(ctx, func() { bar.add(1) })
	res.ConnectSeconds = time.Since(t0).Seconds()
	bar.finish()
	lat := make([]int64, 0, r.cfg.Clients)
	for _, m := range r.fleet.members {
		if m.joined.Load() {
			lat = append(lat, m.connectNs)
			if m.upgraded {
				res.Upgraded++
			}
		}
	}
	res.Connected = len(lat)
	res.ConnectFailed = r.cfg.Clients - res.Connected
	res.ConnectLatency = Summarize(lat)
	if res.ConnectSeconds > 0 {
		res.ConnsPerSecond = float64(res.Connected) / res.ConnectSeconds
	}
}

// converge waits until a probe publish to each room counts every member
// that joined it (see converge), and records how long that took.
func (r *runner) converge(ctx context.Context, res *Result) {
	want := make([]int, len(r.fleet.rooms))
	for i, ms := range r.fleet.rooms {
		want[i] = len(ms)
	}
	bar := startProgress(r.progressW, r.cfg.Progress, "converge", 1, nil)
	c := converge(ctx, r.pub, want, probeTimeout)
	bar.add(1)
	bar.finish()
	res.ConvergeSeconds, res.ConvergeProbes = c.seconds, c.probes
	if c.err != nil {
		r.errs.add("converge", c.err)
	}
}

// publishPhase publishes the regular messages (with the chaos driver
// alongside in the chaos scenario).
func (r *runner) publishPhase(ctx context.Context) {
	bar := startProgress(r.progressW, r.cfg.Progress, "publish", int64(r.cfg.Messages), func() string {
		return fmt.Sprintf("deliveries %d/%d", r.fleet.received.Load(), r.expected.Load())
	})
	defer bar.finish()
	stop := make(chan struct{})
	chaosDone := make(chan struct{})
	if r.cfg.Scenario == ScenarioChaos {
		r.chaos = newChaosDriver(r)
		go func() { defer close(chaosDone); r.chaos.run(ctx, stop) }()
	} else {
		close(chaosDone)
	}
	r.pub.publishAll(ctx, r.cfg, r.outcomes[:r.cfg.Messages], func(_ int, o *outcome) {
		r.accepted(o)
		bar.add(1)
	})
	close(stop)
	<-chaosDone
}

// accepted counts the deliveries a publish answered 200 is expected to make.
func (r *runner) accepted(o *outcome) {
	if o.ok() {
		r.expected.Add(int64(len(r.fleet.rooms[o.room])))
	}
}

// drain waits until every expected delivery arrived, none arrived for
// drainQuiet, or the run's time is up.
func (r *runner) drain(ctx context.Context) {
	bar := startProgress(r.progressW, r.cfg.Progress, "drain", r.expected.Load(), nil)
	defer bar.finish()
	last, since := int64(-1), time.Now()
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		got := r.fleet.received.Load()
		bar.set(got)
		if got >= r.expected.Load() {
			return
		}
		if got != last {
			last, since = got, time.Now()
		} else if time.Since(since) > drainQuiet {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// collect fills the delivery and publish fields of res from the members
// and the outcomes; the fleet must be closed.
func (r *runner) collect(res *Result) {
	var all []int64
	var lastRecv int64
	for _, m := range r.fleet.members {
		all = append(all, m.samples...)
		res.Duplicates += m.dups
		lastRecv = max(lastRecv, m.lastRecv)
		if !m.targeted.Load() {
			res.Disconnects += m.disconnects
		}
	}
	res.Received = int64(len(all))
	if r.cfg.Scenario.publishes() {
		res.Received = 0 // count regular messages only, not chaos probes
		for _, m := range r.fleet.members {
			res.Received += m.seenBelow(r.cfg.Messages)
		}
	}
	res.Latency = Summarize(all)
	res.CDF = quantiles(all)
	if len(r.fleet.targets) > 1 {
		res.PerTarget = r.perTarget()
	}
	if len(r.outcomes) == 0 {
		return
	}

	var firstSent, lastDone int64 = -1, 0
	var took []int64
	for seq := range r.outcomes[:r.cfg.Messages] {
		o := &r.outcomes[seq]
		switch {
		case o.sent == 0:
			res.PublishFailed++
			r.errs.add("publish", errors.New("not sent before the run ended"))
			continue
		case o.ok():
			res.Published++
			res.ServerRecipients += int64(o.recipients)
			if o.partial {
				res.PublishPartial++
			}
			took = append(took, o.done-o.sent)
			for _, m := range r.fleet.rooms[o.room] {
				res.Expected++
				if !m.hasSeen(seq) {
					res.Lost++
				}
			}
		default:
			res.PublishFailed++
			r.errs.add("publish", errors.New(o.err))
		}
		if firstSent < 0 || o.sent < firstSent {
			firstSent = o.sent
		}
		lastDone = max(lastDone, o.done)
	}
	res.PublishLatency = Summarize(took)
	if firstSent >= 0 {
		res.PublishSeconds = float64(lastDone-firstSent) / float64(time.Second)
		if res.PublishSeconds > 0 {
			res.PublishRate = float64(res.Published) / res.PublishSeconds
		}
		if d := float64(lastRecv-firstSent) / float64(time.Second); d > 0 {
			res.DeliveriesPerSec = float64(res.Received) / d
		}
	}
	if res.Expected > 0 {
		res.LossPercent = 100 * float64(res.Lost) / float64(res.Expected)
	}
}

// perTarget summarises the connections and delivery latencies of the
// members of each target; the fleet must be closed.
func (r *runner) perTarget() []TargetStats {
	out := make([]TargetStats, len(r.fleet.targets))
	samples := make([][]int64, len(out))
	for _, m := range r.fleet.members {
		t := &out[m.target]
		t.Clients++
		if m.joined.Load() {
			t.Connected++
		}
		samples[m.target] = append(samples[m.target], m.samples...)
	}
	for i := range out {
		out[i].Target = r.fleet.targets[i]
		out[i].Latency = Summarize(samples[i])
	}
	return out
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func mb(kb int64) float64 { return float64(kb) / 1024 }
