package actors

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/supervision"
	"github.com/hyvve/gateway/transport"
	"github.com/hyvve/gateway/transport/cluster"
)

// askTimeout bounds the few waits on the tree from outside it (accepting a
// connection, a publish's recipients count, a fault injection). They go up
// to the gateway and back, never across the fan-out path.
const askTimeout = 5 * time.Second

// ErrShuttingDown is returned by System calls made while it shuts down.
var ErrShuttingDown = errors.New("actors: gateway is shutting down")

// ErrTimeout is returned when the tree did not answer within askTimeout.
var ErrTimeout = errors.New("actors: no answer from the actor tree in time")

// ErrActorFailed is returned when the actor handling a request failed on it
// (the one message a failure may cost); the caller may retry.
var ErrActorFailed = errors.New("actors: the actor handling this message failed on it; retry")

// Deps are a System's collaborators.
type Deps struct {
	Logger     *slog.Logger
	Events     *security.EventLog
	Verifier   security.Verifier
	Policy     *security.Policy
	Registry   prometheus.Registerer
	HTTPClient *http.Client // for the action webhook; nil means http.DefaultClient
	// Cluster links rooms across gateway nodes; nil means a single node.
	Cluster *cluster.Node
}

// System is the facade over the actor tree: it accepts connections, publishes
// and shuts down. It implements transport.Gateway.
type System struct {
	d        *deps
	sys      *actor.ActorSystem
	gateway  *actor.PID
	observer *supervision.Observer
	// sweeping ends the recovery history's sweeper; swept closes when it has.
	sweeping, swept chan struct{}
	stopped         atomic.Bool
}

var _ transport.Gateway = (*System)(nil)

// NewSystem starts the actor system and the gateway actor with its ips and
// users children.
func NewSystem(cfg Config, dp Deps) (*System, error) {
	d := &deps{
		cfg:        cfg.withDefaults(),
		log:        dp.Logger,
		events:     dp.Events,
		verifier:   dp.Verifier,
		policy:     dp.Policy,
		metrics:    newMetrics(dp.Registry),
		httpClient: dp.HTTPClient,
		cluster:    dp.Cluster,
		tasks:      newTasks(),
	}
	if d.httpClient == nil {
		d.httpClient = http.DefaultClient
	}
	if d.policy == nil {
		d.policy = security.DefaultPolicy()
	}
	if d.cfg.recovery() {
		d.history = newHistory(d.cfg.RecoveryMaxMessages, d.cfg.RecoveryWindow)
		if d.cluster != nil {
			d.mirror = newMirror(d)
			d.historyReads = newHistoryReads(d.tasks.goTask)
		}
	}
	protoLog := slog.New(minLevel{dp.Logger.Handler(), slog.LevelWarn}).With("lib", "protoactor")
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return protoLog }))
	d.root = sys.Root
	s := &System{d: d, sys: sys, observer: supervision.Observe(sys, dp.Logger, dp.Registry)}
	ready := make(chan struct{})
	pid, err := sys.Root.SpawnNamed(newGatewayProps(d, ready), supervision.NameGateway)
	if err != nil {
		return nil, err
	}
	d.gateway, s.gateway = pid, pid
	d.cluster.OnPeerGone(d.presenceOnPeerGone)
	select {
	case <-ready:
	case <-time.After(askTimeout):
		return nil, ErrTimeout
	}
	if d.history != nil {
		s.sweeping, s.swept = make(chan struct{}), make(chan struct{})
		go s.sweep(sweepInterval(d.cfg.RecoveryWindow))
	}
	return s, nil
}

// sweep drops expired history every interval until Shutdown.
func (s *System) sweep(every time.Duration) {
	defer close(s.swept)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.d.history.sweep()
		case <-s.sweeping:
			return
		}
	}
}

// sweepInterval is how often the history is swept: expired entries are
// also dropped as rooms broadcast and recoveries check, so the sweep only
// bounds the memory of rooms gone quiet.
func sweepInterval(window time.Duration) time.Duration {
	return min(max(window/4, 10*time.Millisecond), 30*time.Second)
}

// Accept spawns the actor of an authenticated client under its workspace.
// The actor answers the CONNECT once its ip limiter has decided (and the
// session resume asks for is recovered, or not: a fresh one). A
// workspace (or the gateway) that fails on the spawn loses that message
// only and is resumed by its supervisor, so the spawn is asked again.
func (s *System) Accept(c messages.Client, claims *security.Claims, resume messages.Resume) transport.Session {
	deadline := time.NewTimer(askTimeout)
	defer deadline.Stop()
	for attempt := 0; ; attempt++ {
		if s.d.shuttingDown.Load() {
			c.Refuse(messages.CodeServerShuttingDown)
			return nil
		}
		reply := make(chan *actor.PID, 1)
		in := new(inbox)
		s.d.root.Send(s.gateway, &spawnConnection{Conn: c, Claims: claims, Resume: resume, Inbox: in, Reply: reply})
		select {
		case pid := <-reply:
			if pid != nil {
				return &session{root: s.d.root, pid: pid, limiter: limiterPID(pid), d: s.d, conn: c, claims: claims, inbox: in}
			}
			// An actor on the way failed on this very message.
			if attempt < spawnRetries {
				continue
			}
			c.Refuse(messages.CodeServerBusy)
			return nil
		case <-deadline.C:
			c.Refuse(messages.CodeServerBusy)
			// The spawn may still happen: stop that actor as soon as it exists,
			// so it never takes a per-IP slot or a gauge for a refused client.
			s.d.tasks.goTask(func(ctx context.Context) {
				select {
				case pid := <-reply:
					if pid != nil {
						s.d.root.Stop(pid)
					}
				case <-time.After(lateSpawnWait):
				case <-ctx.Done(): // shutting down: the tree stops it anyway
				}
			})
			return nil
		}
	}
}

// spawnRetries is how many times Accept asks again for a spawn an actor
// failed on: a resumed actor takes the next one, so one retry would do, and
// a second covers a fault that strikes twice in a row.
const spawnRetries = 2

// lateSpawnWait bounds how long a refused Accept watches for its late spawn.
const lateSpawnWait = time.Minute

// Publish broadcasts event to room, here and on every other node hosting
// it, and returns how many members it was queued to. A room nobody joined
// here has no actor and 0 local recipients. When the cluster is unreachable
// the local delivery still happens and the answer is partial.
func (s *System) Publish(ctx context.Context, room, event string, data json.RawMessage) (messages.PublishResult, error) {
	if s.d.shuttingDown.Load() {
		return messages.PublishResult{}, ErrShuttingDown
	}
	reply := make(chan int, 1)
	start := time.Now()
	// Clustered: the history stream's offset. Not cancelled with the
	// request: a broadcast the stream took is delivered.
	actx, cancel := uncancelled(ctx)
	off, err := s.d.appendOffset(actx, room, event, data, "")
	cancel()
	if err != nil {
		return messages.PublishResult{}, err
	}
	s.d.root.Send(s.gateway, &messages.Publish{Room: room, Event: event, Data: data, Reply: reply, Start: start, Offset: off})
	remote, partial, err := s.d.cluster.PublishAt(ctx, room, event, data, off) // nil cluster: 0, false, nil
	if err != nil {
		s.d.log.Warn("cluster publish failed; delivered on this node only", "room", room, "err", err)
		partial = true
	}
	local, err := await(ctx, reply)
	if err != nil {
		return messages.PublishResult{}, err
	}
	return messages.PublishResult{Recipients: local + remote, Partial: partial}, nil
}

// uncancelled is ctx without its cancellation (a client that hangs up does
// not cut a broadcast in two: kept but not delivered) and with its deadline.
func uncancelled(ctx context.Context) (context.Context, context.CancelFunc) {
	out := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(out, dl)
	}
	return out, func() {}
}

// Presence answers who is present in room (docs/PROTOCOL.md "Presence"),
// cluster-wide: the body of the presence ack. room must be valid
// (security.ParseRoom).
func (s *System) Presence(ctx context.Context, room string) (json.RawMessage, error) {
	if s.d.shuttingDown.Load() {
		return nil, ErrShuttingDown
	}
	reply := make(chan json.RawMessage, 1)
	q := s.d.newPresenceQuery(room)
	q.reply = reply
	s.d.root.Send(s.gateway, q)
	t := time.NewTimer(askTimeout)
	defer t.Stop()
	select {
	case body := <-reply:
		if body == nil {
			return nil, ErrActorFailed
		}
		return body, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, ErrTimeout
	}
}

// InjectFault arms a fault in the actor of kind named target and returns how
// many actors took it (0 when none is alive). Fault injection must have been
// enabled in Config.
func (s *System) InjectFault(ctx context.Context, kind supervision.Kind, target string, fault supervision.Fault, d time.Duration) (int, error) {
	reply := make(chan int, 1)
	f := &supervision.InjectFault{Kind: kind, Target: target, Fault: fault, Duration: d, Reply: reply}
	switch kind {
	case supervision.KindConnection, supervision.KindRateLimiter:
		pid, ok := s.d.conns.Load(target)
		if !ok {
			return 0, nil
		}
		s.d.root.Send(pid.(*actor.PID), f)
	default:
		s.d.root.Send(s.gateway, f)
	}
	return await(ctx, reply)
}

// Kick ends the connection with the given sid; it reports whether one was found.
func (s *System) Kick(sid string, reason messages.CloseReason) bool {
	pid, ok := s.d.conns.Load(sid)
	if ok {
		s.d.root.Send(pid.(*actor.PID), &messages.Kick{Reason: reason})
	}
	return ok
}

// Drain is the first step of a SIGTERM: it closes every connection for
// server shutdown (a 1001 close, or a polling session's close packet, with
// no DISCONNECT: docs/PROTOCOL.md "Close codes"), paced so the clients, which reconnect by
// themselves, do not all come back at one instant. The closes go out in
// batches every drainTick, spread evenly over spread; a batch is at least
// drainMinBatch, so a few clients go at once. It returns when every close was
// issued or ctx ends. New connections are refused from its start.
func (s *System) Drain(ctx context.Context, spread time.Duration) {
	s.d.shuttingDown.Store(true)
	var conns []*actor.PID
	s.d.conns.Range(func(_, v any) bool {
		conns = append(conns, v.(*actor.PID))
		return true
	})
	batch, tick := drainPlan(len(conns), spread)
	t := time.NewTicker(tick)
	defer t.Stop()
	for len(conns) > 0 {
		n := min(batch, len(conns))
		for _, pid := range conns[:n] {
			s.d.root.Send(pid, &messages.Kick{Reason: messages.CloseServerShutdown})
		}
		conns = conns[n:]
		if len(conns) == 0 {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return // Shutdown closes the rest at once
		}
	}
}

// Pacing of Drain.
const (
	drainTick     = 20 * time.Millisecond
	drainMinBatch = 16
)

// drainPlan returns how many connections Drain closes per tick, and the
// tick, to close n connections within spread.
func drainPlan(n int, spread time.Duration) (batch int, tick time.Duration) {
	ticks := max(1, int(spread/drainTick))
	return max(drainMinBatch, (n+ticks-1)/ticks), drainTick
}

// Shutdown stops the whole tree: every connection still open gets a 1001
// close, with no DISCONNECT. It returns when the tree has stopped (at most
// protoactor's 10s StopFuture limit).
func (s *System) Shutdown() {
	if s.stopped.Swap(true) {
		return
	}
	s.d.shuttingDown.Store(true)
	_ = s.d.root.StopFuture(s.gateway).Wait()
	s.d.mirror.close() // the sessions the stop kept, written before the node leaves
	if s.sweeping != nil {
		close(s.sweeping)
		<-s.swept
	}
	s.d.tasks.wait()
	s.observer.Stop()
	s.sys.Shutdown()
}

func await(ctx context.Context, reply <-chan int) (int, error) {
	t := time.NewTimer(askTimeout)
	defer t.Stop()
	select {
	case n := <-reply:
		if n == failedReply {
			return 0, ErrActorFailed
		}
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-t.C:
		return 0, ErrTimeout
	}
}

// session forwards what a connection's read pump reads to its actor, up to
// the inbox's bound (inbox.go).
type session struct {
	root    *actor.RootContext
	pid     *actor.PID
	limiter *actor.PID // first on the inbound path: it passes admitted events to pid
	d       *deps
	conn    messages.Client
	claims  *security.Claims
	inbox   *inbox
}

// Event hands ev to the connection's rate limiter, within the inbox's bound:
// what the limiter and the connection have not taken yet counts.
func (s *session) Event(ev *messages.ClientEvent) {
	ok, overflow := s.inbox.put(ev)
	if ok {
		s.root.Send(s.limiter, ev)
	} else if overflow {
		s.dropFlood()
	}
}

func (s *session) Closed(reason messages.CloseReason) {
	s.root.Send(s.pid, &messages.SocketClosed{Reason: reason})
}
