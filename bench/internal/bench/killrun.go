package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyvve/gateway/security"
)

// killNode is one gateway of the chaos-kill cluster; peer is nil while it
// is dead.
type killNode struct {
	id   string
	env  []string // meshNodeEnv, RECOVERY_WINDOW
	peer *Peer
	live bool
}

// killCluster hands out live nodes round-robin to reconnecting subscribers.
type killCluster struct {
	mu    sync.Mutex
	nodes []*killNode
	rr    int
}

// next returns a live node other than not (not itself only when it is the
// only live one), round-robin.
func (k *killCluster) next(not int) (int, string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := len(k.nodes)
	fallback := -1
	for range n {
		k.rr = (k.rr + 1) % n
		if !k.nodes[k.rr].live {
			continue
		}
		if k.rr != not {
			return k.rr, k.nodes[k.rr].peer.URL(), true
		}
		fallback = k.rr
	}
	if fallback >= 0 {
		return fallback, k.nodes[fallback].peer.URL(), true
	}
	return 0, "", false
}

func (k *killCluster) set(i int, p *Peer) {
	k.mu.Lock()
	k.nodes[i].peer, k.nodes[i].live = p, p != nil
	k.mu.Unlock()
}

// killSub is one subscriber: its Recoverer and its reconnections. Only its
// goroutine writes it until the run has waited for it.
type killSub struct {
	r          *Recoverer
	node       int // the node it is on
	joined     bool
	maxSeq     atomic.Int64 // greatest number received, -1 before any
	reconnects []killReconnect
	away       bool // the transport broke and no reconnection succeeded yet
	err        string
}

// killReconnect is one reconnection; times from the stream's start.
type killReconnect struct {
	from, to    int
	broke, back time.Duration
	recovered   bool
	attempts    int
}

// killEvent is one SIGKILL and restart.
type killEvent struct {
	node      int
	at        time.Duration // from the stream's start
	restarted time.Duration // kill → the restarted node listening
	err       string
}

// RunKill runs the chaos-kill scenario once and returns its result.
func RunKill(ctx context.Context, kc KillConfig, log io.Writer) (KillResult, error) {
	res := KillResult{Config: kc.summary(), Machine: machineText()}
	limit, err := RaiseFileLimit()
	if err != nil {
		return res, err
	}
	if err := checkFileLimit(kc.Clients, limit); err != nil {
		return res, err
	}
	bin := kc.Binary
	if bin == "" {
		setup := PeerSetup{RepoDir: kc.RepoDir, BinDir: filepath.Join(kc.OutDir, "bin")}
		if err := BuildPeers(ctx, setup, []PeerKind{PeerGateway}, log); err != nil {
			return res, err
		}
		bin = filepath.Join(kc.OutDir, "bin", gatewayBinaryName)
	}
	res.Binary = bin
	logDir := filepath.Join(kc.OutDir, "logs")
	setup := PeerSetup{JWTSecret: kc.JWTSecret, PublishKey: kc.PublishKey}
	cl := &killCluster{}
	defer func() {
		var wg sync.WaitGroup
		for _, n := range cl.nodes {
			if p := n.peer; p != nil {
				wg.Go(func() { _ = p.Stop() })
			}
		}
		wg.Wait()
	}()
	// Every node routes to every node, its own included, on cluster ports
	// chosen now: a clustered JetStream needs its routes at start, and a
	// restarted node comes back with the same environment.
	routes, err := freeRoutes(kc.Nodes)
	if err != nil {
		return res, err
	}
	for i := range kc.Nodes {
		id := nodeID(i)
		env := append(meshNodeEnv(i, routes), "RECOVERY_WINDOW="+kc.RecoveryWindow.String())
		p, err := startGatewayBinary(ctx, setup, bin, filepath.Join(logDir, killFileStem+"-node-"+id+".log"), env)
		if err != nil {
			return res, err
		}
		cl.nodes = append(cl.nodes, &killNode{id: id, env: env, peer: p, live: true})
	}
	// A gateway with a JetStream recovery store sets it up in the
	// background: wait until every node says it is ready.
	var logs []string
	for _, n := range cl.nodes {
		logs = append(logs, filepath.Join(logDir, killFileStem+"-node-"+n.id+".log"))
	}
	_, storeWait, storeErrs := waitStores(ctx, logs, killConvergeTimeout)
	res.StoreReadySeconds = storeWait.Seconds()
	res.Errors = append(res.Errors, storeErrs...)
	fmt.Fprintf(log, "chaos-kill: %d nodes up (%s)\n", kc.Nodes, strings.Join(func() []string {
		var u []string
		for _, n := range cl.nodes {
			u = append(u, n.id+"="+n.peer.URL())
		}
		return u
	}(), ", "))

	// Subscribers: client i on node i mod nodes, all in room 0.
	subsCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	var stopping atomic.Bool
	var t0 time.Time // the stream's start; set before any reconnection is recorded
	started := make(chan struct{})
	subs := make([]*killSub, kc.Clients)
	exp := time.Now().Add(tokenTTL)
	dialer := NewDialer(nil)
	sem := make(chan struct{}, kc.Concurrency)
	var wgJoined, wgDone sync.WaitGroup
	wgJoined.Add(kc.Clients)
	wgDone.Add(kc.Clients)
	for i := range subs {
		s := &killSub{node: i % kc.Nodes}
		s.maxSeq.Store(-1)
		subs[i] = s
		go func() {
			defer wgDone.Done()
			tok, err := security.MintHS256([]byte(kc.JWTSecret), security.Claims{Subject: fmt.Sprintf("u%d", i),
				WorkspaceID: workspaceOf(0), Role: security.RoleMember, ExpiresAt: exp})
			if err != nil {
				s.err = err.Error()
				wgJoined.Done()
				return
			}
			s.r = &Recoverer{Token: tok, Room: roomName(0), Opts: ConnectOptions{Dialer: dialer},
				OnSeq: func(seq int) {
					if int64(seq) > s.maxSeq.Load() {
						s.maxSeq.Store(int64(seq))
					}
				}}
			sem <- struct{}{}
			actx, cancel := context.WithTimeout(subsCtx, killReconnectTimeout)
			_, err = s.r.Connect(actx, cl.nodes[s.node].peer.URL())
			cancel()
			<-sem
			s.joined = err == nil
			if err != nil {
				s.err = err.Error()
			}
			wgJoined.Done()
			if err != nil {
				return
			}
			<-started
			s.run(subsCtx, cl, &stopping, t0, kc.ReconnectDelay)
		}()
	}
	wgJoined.Wait()
	joined := 0
	for _, s := range subs {
		if s.joined {
			joined++
		}
	}
	res.Joined = joined
	fmt.Fprintf(log, "chaos-kill: %d/%d subscribers joined\n", joined, kc.Clients)

	clock := NewClock()
	// One publish at a time, so that the stream is numbered in the order the gateway receives it.
	pcfg := Config{Target: cl.nodes[0].peer.URL(), PublishKey: kc.PublishKey, Rate: kc.Rate, Publishers: 1, Rooms: 1, PayloadBytes: kc.PayloadBytes}
	pub := newPublisher(pcfg, clock, 4)
	conv := converge(ctx, pub, []int{joined}, killConvergeTimeout)
	res.ConvergeSeconds = conv.seconds
	if conv.err != nil {
		res.Errors = append(res.Errors, conv.err.Error())
	}

	nodesCPU := func() (sum float64) {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		for _, n := range cl.nodes {
			if n.peer != nil {
				if st, err := ReadProc(n.peer.PID); err == nil {
					sum += st.CPUSeconds
				}
			}
		}
		return sum
	}
	cpu0 := nodesCPU()
	var killedCPU float64 // the killed processes' CPU, read just before each SIGKILL
	meter := startMachineMeter()
	res.Load1Start = readLoad1()
	t0 = time.Now()
	close(started)
	outs := make([]outcome, kc.messages())
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pub.publishAll(ctx, pcfg, outs, func(int, *outcome) {})
	}()

	var kills []killEvent
	victims := kc.Nodes - 1
	for k := 1; time.Duration(k)*kc.KillEvery < kc.Duration && ctx.Err() == nil; k++ {
		sleepCtx(ctx, time.Until(t0.Add(time.Duration(k)*kc.KillEvery)))
		if ctx.Err() != nil {
			break
		}
		v := 1 + (k-1)%victims
		if st, err := ReadProc(cl.nodes[v].peer.PID); err == nil {
			killedCPU += st.CPUSeconds
		}
		kills = append(kills, killNode9(ctx, cl, v, k, setup, bin, logDir, t0))
		e := kills[len(kills)-1]
		fmt.Fprintf(log, "chaos-kill: %5.1fs SIGKILL node %s, restarted in %.2fs %s\n", e.at.Seconds(), cl.nodes[v].id, e.restarted.Seconds(), e.err)
	}
	<-pubDone
	streamEnd := time.Since(t0)

	// Drain: every subscriber that is connected has the last number, or
	// kc.Drain passes.
	last := int64(len(outs) - 1)
	drainUntil := time.Now().Add(kc.Drain)
	for time.Now().Before(drainUntil) && ctx.Err() == nil {
		behind := 0
		for _, s := range subs {
			if s.joined && s.maxSeq.Load() < last {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	res.DrainSeconds = (time.Since(t0) - streamEnd).Seconds()
	res.ServerCPUSeconds = nodesCPU() + killedCPU - cpu0 // a killed node's last moments are missed: others may be slightly high
	res.OtherCPUSeconds, _ = meter.others(res.ServerCPUSeconds)
	res.Load1End = readLoad1()
	stopping.Store(true)
	cancelSubs()
	for _, s := range subs {
		if s.r != nil {
			s.r.Stop()
		}
	}
	wgDone.Wait()
	res.fill(kc, subs, outs, kills, streamEnd)
	return res, nil
}

// killNode9 sends node v SIGKILL, waits for it to die and starts it again
// with the same environment and addresses (HTTP and NATS cluster port).
func killNode9(ctx context.Context, cl *killCluster, v, k int, setup PeerSetup, bin, logDir string, t0 time.Time) killEvent {
	n := cl.nodes[v]
	cl.mu.Lock()
	p := n.peer
	n.live = false // no reconnection goes there from now on
	cl.mu.Unlock()
	e := killEvent{node: v, at: time.Since(t0)}
	start := time.Now()
	_ = p.cmd.Process.Kill()
	err := <-p.exited
	p.exited <- err
	env := append(append([]string(nil), n.env...), "LISTEN_ADDR="+p.Addr)
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-node-%s-restart-%d.log", killFileStem, n.id, k))
	np, err := startGatewayBinary(ctx, setup, bin, logPath, env)
	if err != nil {
		// The old addresses may not be free yet: any addresses will do.
		e.err = "restart on the same addresses: " + err.Error()
		np, err = startGatewayBinary(ctx, setup, bin, logPath, n.env)
		if err != nil {
			e.err += "; on new addresses: " + err.Error()
		}
	}
	e.restarted = time.Since(start)
	if np != nil {
		cl.set(v, np)
	}
	return e
}

// run receives until the transport breaks, then reconnects (at once, or
// after delay) to the next live node (another one when there is), until stopping.
func (s *killSub) run(ctx context.Context, cl *killCluster, stopping *atomic.Bool, t0 time.Time, delay time.Duration) {
	for {
		_ = s.r.Receive()
		broke := time.Since(t0)
		_ = s.r.Close()
		if stopping.Load() {
			return
		}
		s.away = true
		rc := killReconnect{from: s.node, broke: broke}
		if delay > 0 {
			sleepCtx(ctx, delay)
		}
		for {
			rc.attempts++
			i, url, ok := cl.next(s.node)
			if ok {
				actx, cancel := context.WithTimeout(ctx, killReconnectTimeout)
				recovered, err := s.r.Connect(actx, url)
				cancel()
				if err == nil {
					rc.to, rc.back, rc.recovered = i, time.Since(t0), recovered
					s.node, s.away = i, false
					s.reconnects = append(s.reconnects, rc)
					break
				}
				s.err = err.Error()
			}
			if stopping.Load() {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(killRetryDelay):
			}
		}
	}
}

// storeReadyLine is what a gateway with a JetStream recovery store logs
// once the store is set up.
const storeReadyLine = "JetStream recovery store ready"

// freeRoutes returns n route URLs on loopback ports free right now.
func freeRoutes(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		out = append(out, "nats-route://"+l.Addr().String())
		_ = l.Close()
	}
	return out, nil
}

// logHas reports whether the file at path contains s.
func logHas(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

// waitLog waits until the file at path contains s, up to timeout.
func waitLog(ctx context.Context, path, s string, timeout time.Duration) bool {
	until := time.Now().Add(timeout)
	for !logHas(path, s) {
		if time.Now().After(until) || ctx.Err() != nil {
			return false
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	return true
}
