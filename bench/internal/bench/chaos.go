package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Chaos timings.
const (
	// recoveryProbeDelay separates the message that crashes a room from
	// the probe sent after it, so the two reach the gateway in order.
	recoveryProbeDelay = 10 * time.Millisecond
	// faultRequestTimeout bounds one POST /debug/faults.
	faultRequestTimeout = 10 * time.Second
	// excuseCandidates is how many messages to a faulted room, in send
	// order after the fault was asked for, may be the one it failed on:
	// the trigger, or a regular message that overtook it.
	excuseCandidates = 3
)

// maxRoomFaults is how many room faults a chaos run can inject, which
// sizes the sequence numbers kept for their probes.
func maxRoomFaults(cfg Config) int {
	if cfg.FaultRate == 0 || cfg.Rate == 0 {
		return 0
	}
	seconds := float64(cfg.Messages) / cfg.Rate
	return int(math.Ceil(seconds*cfg.FaultRate/2)) + 2
}

// roomFault is one fault injected into a room: when it was asked for, and
// the two probes sent after it (the trigger, which the armed room fails on,
// and the recovery probe).
type roomFault struct {
	room    int
	at      int64 // Clock time the injection request was sent: the room may be armed from then on
	trigger int
	probe   int
}

// chaosDriver injects faults at cfg.FaultRate while the load runs,
// alternating a room (a panic on its next publish) and a connection (a
// panic on its next client event, which the driver then sends).
type chaosDriver struct {
	r    *runner
	http *http.Client
	url  string
	rng  *rand.Rand

	mu         sync.Mutex
	roomFaults []roomFault
	connFaults int
	missed     int
	nextProbe  int
	probes     sync.WaitGroup
}

func newChaosDriver(r *runner) *chaosDriver {
	return &chaosDriver{
		r:         r,
		http:      &http.Client{Timeout: faultRequestTimeout},
		url:       r.cfg.PublishURL() + "/debug/faults",
		rng:       rand.New(rand.NewPCG(uint64(r.cfg.Clients), uint64(r.cfg.Messages))),
		nextProbe: r.cfg.Messages,
	}
}

// run injects faults until stop closes, then waits for its probes.
func (d *chaosDriver) run(ctx context.Context, stop <-chan struct{}) {
	defer d.probes.Wait()
	if d.r.cfg.FaultRate == 0 {
		<-stop
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / d.r.cfg.FaultRate))
	defer t.Stop()
	for k := 0; ; k++ {
		select {
		case <-t.C:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
		if k%2 == 0 {
			d.faultRoom(ctx, (k/2)%d.r.cfg.Rooms)
		} else {
			d.faultConnection(ctx)
		}
	}
}

// faultRoom arms a panic in room and sends it the message it will fail on,
// then a probe whose first delivery tells when the room serves again.
func (d *chaosDriver) faultRoom(ctx context.Context, room int) {
	if d.nextProbe+2 > len(d.r.outcomes) {
		return // probe sequence numbers used up
	}
	// A regular message sent while the injection is in flight may reach
	// the armed room before the trigger does, so the window opens here.
	asked := d.r.clock.Now()
	n, err := d.inject(ctx, "room", roomName(room))
	if err != nil || n == 0 {
		d.noteMissed("room", err)
		return
	}
	f := roomFault{room: room, at: asked, trigger: d.nextProbe, probe: d.nextProbe + 1}
	d.nextProbe += 2
	d.mu.Lock()
	d.roomFaults = append(d.roomFaults, f)
	d.mu.Unlock()
	for i, seq := range []int{f.trigger, f.probe} {
		if i > 0 {
			sleepCtx(ctx, recoveryProbeDelay)
		}
		d.probes.Go(func() {
			d.r.outcomes[seq] = d.r.pub.publish(ctx, seq, room)
			d.r.accepted(&d.r.outcomes[seq])
		})
	}
}

// faultConnection arms a panic in a random connected member's actor and
// makes that client send an event for the actor to fail on.
func (d *chaosDriver) faultConnection(ctx context.Context) {
	members := d.r.fleet.members
	start := d.rng.IntN(len(members))
	for i := range members {
		m := members[(start+i)%len(members)]
		c := m.client.Load()
		if c == nil || m.targeted.Load() {
			continue
		}
		m.targeted.Store(true)
		m.faultAt.Store(d.r.clock.Now())
		n, err := d.inject(ctx, "connection", c.SID())
		if err != nil || n == 0 {
			m.faultAt.Store(0)
			m.targeted.Store(false)
			d.noteMissed("connection", err)
			return
		}
		d.mu.Lock()
		d.connFaults++
		d.mu.Unlock()
		room, _ := json.Marshal(map[string]string{"room": roomName(m.room)})
		_ = c.Emit("join_room", room) // the armed actor fails on this event
		return
	}
}

// inject posts one fault and returns how many actors took it.
func (d *chaosDriver) inject(ctx context.Context, kind, target string) (int, error) {
	body, _ := json.Marshal(map[string]string{"kind": kind, "target": target, "fault": "panic"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.r.cfg.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST /debug/faults: HTTP %d: %s (is the server started with FAULT_INJECTION=1 and this ADMIN_API_KEY?)",
			resp.StatusCode, bytes.TrimSpace(ans))
	}
	var a struct {
		Injected int `json:"injected"`
	}
	if err := json.Unmarshal(ans, &a); err != nil {
		return 0, fmt.Errorf("POST /debug/faults: bad answer %q", clip(ans))
	}
	return a.Injected, nil
}

func (d *chaosDriver) noteMissed(kind string, err error) {
	d.mu.Lock()
	d.missed++
	d.mu.Unlock()
	if err != nil {
		d.r.errs.add("fault "+kind, err)
	}
}

// collect computes the chaos figures; the fleet must be closed and the
// driver stopped.
func (d *chaosDriver) collect(res *Result) *ChaosStats {
	r := d.r
	s := &ChaosStats{RoomFaults: len(d.roomFaults), ConnFaults: d.connFaults, FaultsMissed: d.missed}

	// Missing deliveries to members that were never targeted, per message.
	missing := make([]int64, len(r.outcomes))
	for seq := range r.outcomes {
		o := &r.outcomes[seq]
		if o.sent == 0 {
			continue
		}
		for _, m := range r.fleet.rooms[o.room] {
			if m.targeted.Load() {
				continue
			}
			s.ExpectedUntargeted++
			if !m.hasSeen(seq) {
				missing[seq]++
			}
		}
	}
	var total int64
	for _, n := range missing {
		total += n
	}

	// The one message each faulted room failed on is excused.
	excused := map[int]bool{}
	for _, f := range d.roomFaults {
		for _, seq := range d.messagesAfter(f, excuseCandidates) {
			if missing[seq] > 0 && !excused[seq] {
				excused[seq] = true
				s.CrashedMessages++
				s.CrashedDeliveries += missing[seq]
				break
			}
		}
	}
	s.LostBeyondCrashed = total - s.CrashedDeliveries

	var roomRec []int64
	for _, f := range d.roomFaults {
		for _, seq := range []int{f.trigger, f.probe} {
			if o := &r.outcomes[seq]; o.sent != 0 && !o.ok() {
				r.errs.add("chaos probe publish (expected for the message a room fails on)", errors.New(o.err))
			}
		}
		if first := r.fleet.firstRecv[f.probe].Load(); first > 0 && r.outcomes[f.trigger].sent > 0 {
			roomRec = append(roomRec, first-r.outcomes[f.trigger].sent)
		}
	}
	s.RoomRecovery = Summarize(roomRec)

	var connRec []int64
	for _, m := range r.fleet.members {
		connRec = append(connRec, m.reconnectsNs...)
		s.Reconnected += len(m.reconnectsNs)
		s.ErrorEvents += m.errorEvents
		s.Rejoins += m.rejoins
		for _, code := range m.closeCodes {
			if code == closeInternalError {
				s.Closes1011++
			}
		}
		if m.targeted.Load() {
			s.TargetedDisconnects += m.disconnects
		} else {
			s.UntargetedDisconnect += m.disconnects
		}
	}
	s.ConnRecovery = Summarize(connRec)
	return s
}

// closeInternalError is the WebSocket close code of a connection whose
// actor failed (RFC 6455 1011).
const closeInternalError = 1011

// messagesAfter returns the first n messages sent to f's room after f, in
// send order.
func (d *chaosDriver) messagesAfter(f roomFault, n int) []int {
	var seqs []int
	for seq := range d.r.outcomes {
		o := &d.r.outcomes[seq]
		if o.room == f.room && o.sent > f.at {
			seqs = append(seqs, seq)
		}
	}
	slices.SortFunc(seqs, func(a, b int) int {
		return cmp.Compare(d.r.outcomes[a].sent, d.r.outcomes[b].sent)
	})
	return seqs[:min(n, len(seqs))]
}
