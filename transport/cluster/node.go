package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned by Node.
var (
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("cluster: node closed")
	// ErrDisconnected is returned by Publish and Broadcast while NATS is
	// unreachable; local delivery is unaffected and remains the caller's job.
	ErrDisconnected = errors.New("cluster: NATS not connected")
	// ErrInvalidRoom is returned for an empty room name or one longer than
	// 1024 bytes (its subject would not fit NATS's protocol line).
	ErrInvalidRoom = errors.New("cluster: invalid room name")
)

const (
	// msgQueueLen is the capacity of the queue shared by all room
	// subscriptions; past it NATS reports a slow consumer and drops.
	msgQueueLen = 1 << 16
	// reconnectBufSize bounds what is buffered while reconnecting (only
	// control messages and count replies: room messages are refused).
	reconnectBufSize = 1 << 20
	// heartbeatChunk bounds one heartbeat part's room list.
	heartbeatChunk = 64 << 10
	// drainTimeout bounds the client's drain on Close.
	drainTimeout = 2 * time.Second
	// maxPooledBuf is the largest encode buffer kept for reuse.
	maxPooledBuf = 64 << 10
	// maxInternedEvents bounds the event-name intern table.
	maxInternedEvents = 1024
)

// Delivery is a message from another node for a room this node hosts.
type Delivery struct {
	// Room is the room the message was published to.
	Room string
	// Event is the Socket.IO event name.
	Event string
	// Data is the event's JSON payload. It is not modified afterwards by this
	// package and must not be modified by the receiver (several Subscribe
	// calls of one room share it).
	Data json.RawMessage
	// Origin is the id of the node the message was published on.
	Origin string
	// Reply reports how many local members the message was queued to; the
	// room actor calls it once after its fan-out. It is never nil: it is a
	// no-op when the origin asked for no count, and calls after the first
	// are ignored.
	Reply func(count int)
}

// noReply is Delivery.Reply when no count was requested.
func noReply(int) {}

// Node is this gateway's membership in the cluster: a NATS client (and, when
// configured, the embedded NATS server it connects to), the room
// subscriptions of the rooms hosted here, and the interest registry of the
// other nodes. All methods are safe for concurrent use, and safe on a nil
// *Node, which is the single-node gateway: Subscribe, Publish and Broadcast
// then do nothing and succeed, Ready reports true.
type Node struct {
	cfg      Config
	id       string
	instance uint64
	log      *slog.Logger
	m        *metrics
	srv      *server.Server // nil with an external NATS
	nc       *nats.Conn

	roomPrefix string // <prefix>.room.
	ctlSubj    string // <prefix>.ctl
	replySubj  string // <prefix>.rep.<token(id)>

	reg  *registry
	pend *pendingTable

	// mu guards local and bySubj, and is held while a control message is
	// published so that announcements and heartbeats leave in order.
	mu     sync.RWMutex
	local  map[string]*localRoom // by room
	bySubj map[string]*localRoom // by subject
	hbGen  uint64

	evMu   sync.RWMutex
	events map[string]string // interned event names

	msgs     chan *nats.Msg // all room subscriptions deliver here
	kick     chan struct{}  // asks for an immediate heartbeat
	stop     chan struct{}
	wg       sync.WaitGroup
	closedCh chan struct{} // closed when the NATS connection is closed

	closing   atomic.Bool
	resync    atomic.Bool // after a reconnect: ask the peers for their sets
	closeOnce sync.Once
	skipBye   bool // tests: vanish like a killed node

	bufs sync.Pool // *[]byte encode buffers
}

// localRoom is a room hosted on this node.
type localRoom struct {
	room, subject string
	sub           *nats.Subscription
	handlers      []*handler // copy-on-write under Node.mu
}

// handler is one Subscribe call.
type handler struct {
	deliver func(*Delivery)
	once    sync.Once
}

// Start joins the cluster described by cfg. It returns (nil, nil) when cfg is
// not Enabled: the gateway is then single-node, and a nil *Node is valid. With
// Listen set it first starts the embedded NATS server and waits until it
// accepts connections. The client connects with infinite reconnects, so an
// external NATS that is not reachable yet does not fail Start. reg may be nil
// (no metrics registered); log may be nil (discard).
func Start(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Node, error) {
	if !cfg.Enabled() {
		return nil, cfg.Validate()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	if cfg.NodeID == "" {
		cfg.NodeID = hex.EncodeToString(rnd[:6])
	}
	n := &Node{
		cfg:        cfg,
		id:         cfg.NodeID,
		instance:   binary.BigEndian.Uint64(rnd[8:]),
		log:        log.With("node", cfg.NodeID),
		roomPrefix: cfg.SubjectPrefix + ".room.",
		ctlSubj:    cfg.SubjectPrefix + ".ctl",
		replySubj:  cfg.SubjectPrefix + ".rep." + token(cfg.NodeID),
		pend:       newPendingTable(binary.BigEndian.Uint64(rnd[:8])),
		local:      map[string]*localRoom{},
		bySubj:     map[string]*localRoom{},
		events:     map[string]string{},
		msgs:       make(chan *nats.Msg, msgQueueLen),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		closedCh:   make(chan struct{}),
	}
	n.reg = newRegistry(n.id, n.roomPrefix)
	n.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	m, err := newMetrics(reg, n.id)
	if err != nil {
		return nil, fmt.Errorf("cluster: metrics: %w", err)
	}
	n.m = m
	if err := n.start(); err != nil {
		n.shutdown()
		return nil, err
	}
	return n, nil
}

func (n *Node) start() error {
	url := n.cfg.URL
	var opts []nats.Option
	if n.cfg.Listen != "" {
		srv, err := startServer(n.cfg, n.id, n.log)
		if err != nil {
			return err
		}
		n.srv = srv
		url = srv.ClientURL()
		opts = append(opts, nats.InProcessServer(srv))
		n.log.Info("cluster: embedded NATS server started", "client", srv.ClientURL(), "routes", n.RouteURL())
	}
	var closeOnce sync.Once
	opts = append(opts,
		nats.Name("gateway "+n.id),
		nats.NoEcho(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(n.cfg.ReconnectWait),
		nats.ReconnectBufSize(reconnectBufSize),
		nats.PingInterval(5*time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DrainTimeout(drainTimeout),
		nats.ConnectHandler(n.onConnect),
		nats.ReconnectHandler(n.onConnect),
		nats.DisconnectErrHandler(n.onDisconnect),
		nats.ClosedHandler(func(*nats.Conn) { closeOnce.Do(func() { close(n.closedCh) }) }),
		nats.ErrorHandler(n.onAsyncError),
	)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("cluster: connect NATS %s: %w", url, err)
	}
	n.nc = nc
	if nc.IsConnected() {
		n.m.connected.Set(1)
	} else {
		n.log.Warn("cluster: NATS not reachable yet; retrying in the background", "url", url)
	}
	if _, err := nc.Subscribe(n.ctlSubj, n.onCtl); err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", n.ctlSubj, err)
	}
	if _, err := nc.Subscribe(n.replySubj, n.onReply); err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", n.replySubj, err)
	}
	n.wg.Add(2)
	go n.dispatch()
	go n.heartbeatLoop()
	return nil
}

// ID returns this node's id.
func (n *Node) ID() string {
	if n == nil {
		return ""
	}
	return n.id
}

// ClientURL returns the embedded server's client URL (nats://host:port, with
// the port actually bound), or "" with an external NATS.
func (n *Node) ClientURL() string {
	if n == nil || n.srv == nil {
		return ""
	}
	return n.srv.ClientURL()
}

// RouteURL returns the embedded server's route URL
// (nats-route://host:port, with the port actually bound), or "" when it has
// no route listener.
func (n *Node) RouteURL() string {
	if n == nil || n.srv == nil {
		return ""
	}
	a := n.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + a.String()
}

// Hosts returns the ids of the other nodes known to host room, in the order
// they were learnt. It is the set Publish waits for.
func (n *Node) Hosts(room string) []string {
	if n == nil {
		return nil
	}
	h, _ := n.reg.hosts(room)
	return append([]string(nil), h...)
}

// Peers returns the ids of the other nodes currently known, sorted.
func (n *Node) Peers() []string {
	if n == nil {
		return nil
	}
	return n.reg.peerIDs()
}

// Ready reports whether the node is fit to serve: false after Close, and,
// with RequireForReady, false while NATS is unreachable.
func (n *Node) Ready() bool {
	if n == nil {
		return true
	}
	if n.closing.Load() {
		return false
	}
	return !n.cfg.RequireForReady || n.nc.IsConnected()
}

// Subscribe starts receiving the messages other nodes publish to room and
// announces that this node hosts it. deliver is called from the node's
// dispatch goroutine, one message at a time in arrival order, and must not
// block (an actor Send). The returned func unsubscribes; it is idempotent.
// Several Subscribe calls for one room share one NATS subscription; the
// count replied for a message is then the sum of their Reply calls.
func (n *Node) Subscribe(room string, deliver func(*Delivery)) (unsubscribe func(), err error) {
	if n == nil {
		return func() {}, nil
	}
	if deliver == nil {
		return nil, errors.New("cluster: Subscribe with nil deliver")
	}
	if room == "" || len(room) > maxRoomLen {
		return nil, ErrInvalidRoom
	}
	h := &handler{deliver: deliver}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing.Load() {
		return nil, ErrClosed
	}
	lr := n.local[room]
	if lr == nil {
		subj := n.roomPrefix + token(room)
		sub, err := n.nc.ChanSubscribe(subj, n.msgs)
		if err != nil {
			return nil, fmt.Errorf("cluster: subscribe room %q: %w", room, err)
		}
		lr = &localRoom{room: room, subject: subj, sub: sub}
		n.local[room], n.bySubj[subj] = lr, lr
		n.m.subscriptions.Inc()
		n.publishCtl(ctlAdd, room)
	}
	lr.handlers = append(lr.handlers[:len(lr.handlers):len(lr.handlers)], h)
	return func() { h.once.Do(func() { n.unsubscribe(lr, h) }) }, nil
}

func (n *Node) unsubscribe(lr *localRoom, h *handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing.Load() || n.local[lr.room] != lr {
		return // Close already dropped every subscription
	}
	hs := make([]*handler, 0, len(lr.handlers))
	for _, x := range lr.handlers {
		if x != h {
			hs = append(hs, x)
		}
	}
	lr.handlers = hs
	if len(hs) > 0 {
		return
	}
	if err := lr.sub.Unsubscribe(); err != nil {
		n.log.Debug("cluster: unsubscribe", "room", lr.room, "err", err)
	}
	delete(n.local, lr.room)
	delete(n.bySubj, lr.subject)
	n.m.subscriptions.Dec()
	n.publishCtl(ctlDel, lr.room)
}

// publishCtl publishes a control message of kind with body. Failures are
// logged only: heartbeats resynchronise the peers. Called with n.mu held.
func (n *Node) publishCtl(kind byte, body string) {
	bp := n.getBuf()
	b := append(appendCtlHeader(*bp, kind, n.instance, n.id), body...)
	if err := n.nc.Publish(n.ctlSubj, b); err != nil {
		n.log.Debug("cluster: control message not sent", "err", err)
		n.m.errors.WithLabelValues("publish").Inc()
	} else {
		n.m.sentCtl.Inc()
	}
	n.putBuf(bp, b)
}

// Publish sends a message once to room's subject and waits, bounded by ctx
// and RecipientsWait, for the recipient counts of the other nodes hosting the
// room (as known when sending). It returns their sum, and partial=true when
// a hosting node did not answer in time. It returns early when all answered,
// and at once when no other node hosts the room. The message is not echoed to
// this node: local delivery is the caller's job. While NATS is unreachable it
// fails at once with ErrDisconnected. A ctx ending during the wait is not an
// error (the message was sent): the answer is then partial.
func (n *Node) Publish(ctx context.Context, room, event string, data json.RawMessage) (remote int, partial bool, err error) {
	if n == nil {
		return 0, false, nil
	}
	if err := n.sendable(room); err != nil {
		return 0, false, err
	}
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	start := time.Now()
	hosts, subj := n.reg.hosts(room)
	if subj == "" {
		subj = n.roomPrefix + token(room)
	}
	if len(hosts) == 0 {
		err := n.sendRoom(subj, "", 0, event, data)
		n.m.publishTime.Observe(time.Since(start).Seconds())
		return 0, false, err
	}
	p, id := n.pend.open(hosts)
	if err := n.sendRoom(subj, n.replySubj, id, event, data); err != nil {
		n.pend.close(id, p)
		return 0, false, err
	}
	t := getTimer(n.cfg.RecipientsWait)
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	putTimer(t)
	sum, missing := n.pend.close(id, p)
	n.m.publishTime.Observe(time.Since(start).Seconds())
	if missing > 0 {
		n.m.missing.Add(float64(missing))
		n.m.partial.Inc()
	}
	return sum, missing > 0, nil
}

// Broadcast sends a message once to room's subject without asking for counts
// (dashboard_action and state_sync relays). It fails at once with
// ErrDisconnected while NATS is unreachable.
func (n *Node) Broadcast(room, event string, data json.RawMessage) error {
	if n == nil {
		return nil
	}
	if err := n.sendable(room); err != nil {
		return err
	}
	return n.sendRoom(n.roomPrefix+token(room), "", 0, event, data)
}

func (n *Node) sendable(room string) error {
	switch {
	case room == "" || len(room) > maxRoomLen:
		return ErrInvalidRoom
	case n.closing.Load():
		return ErrClosed
	case n.nc.Status() != nats.CONNECTED:
		return ErrDisconnected
	}
	return nil
}

func (n *Node) sendRoom(subj, reply string, reqID uint64, event string, data []byte) error {
	bp := n.getBuf()
	b := appendRoomMsg(*bp, reqID, n.id, event, data)
	var err error
	if reply == "" {
		err = n.nc.Publish(subj, b)
	} else {
		err = n.nc.PublishRequest(subj, reply, b)
	}
	n.putBuf(bp, b)
	if err != nil {
		n.m.errors.WithLabelValues("publish").Inc()
		if errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) {
			return ErrDisconnected
		}
		return fmt.Errorf("cluster: publish: %w", err)
	}
	n.m.sentRoom.Inc()
	return nil
}

// dispatch hands the messages of all room subscriptions to their handlers, in
// arrival order.
func (n *Node) dispatch() {
	defer n.wg.Done()
	for {
		select {
		case msg := <-n.msgs:
			n.onRoomMsg(msg)
		case <-n.stop:
			return
		}
	}
}

func (n *Node) onRoomMsg(msg *nats.Msg) {
	n.m.recvRoom.Inc()
	rm, err := decodeRoomMsg(msg.Data)
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
		return
	}
	wantCount := rm.reqID != 0 && msg.Reply != ""
	n.mu.RLock()
	lr := n.bySubj[msg.Subject]
	var hs []*handler
	if lr != nil {
		hs = lr.handlers
	}
	n.mu.RUnlock()
	if len(hs) == 0 {
		// Unsubscribed while the message was in flight: answer 0 so that
		// the origin need not wait for this node.
		if wantCount {
			n.sendReply(msg.Reply, rm.reqID, 0)
		}
		return
	}
	origin, event := n.reg.intern(rm.origin), n.internEvent(rm.event)
	var agg *replyAgg
	if wantCount && len(hs) > 1 {
		agg = &replyAgg{}
		agg.left.Store(int32(len(hs)))
	}
	for _, h := range hs {
		d := &Delivery{Room: lr.room, Event: event, Data: rm.data, Origin: origin, Reply: noReply}
		if wantCount {
			r := &replier{n: n, subj: msg.Reply, reqID: rm.reqID, agg: agg}
			d.Reply = r.reply
		}
		h.deliver(d)
	}
}

// replier is the Reply of one Delivery.
type replier struct {
	n     *Node
	subj  string
	reqID uint64
	agg   *replyAgg // several handlers share one reply
	fired atomic.Bool
}

// replyAgg sums the counts of the handlers of one message.
type replyAgg struct {
	left atomic.Int32
	sum  atomic.Int64
}

func (r *replier) reply(count int) {
	if !r.fired.CompareAndSwap(false, true) {
		return
	}
	if r.agg != nil {
		sum := r.agg.sum.Add(int64(count))
		if r.agg.left.Add(-1) != 0 {
			return
		}
		count = int(sum)
	}
	r.n.sendReply(r.subj, r.reqID, count)
}

func (n *Node) sendReply(subj string, reqID uint64, count int) {
	bp := n.getBuf()
	b := appendReply(*bp, reqID, count, n.id)
	if err := n.nc.Publish(subj, b); err != nil {
		n.m.errors.WithLabelValues("publish").Inc()
	} else {
		n.m.sentReply.Inc()
	}
	n.putBuf(bp, b)
}

// onReply runs on the NATS goroutine of the reply subscription.
func (n *Node) onReply(msg *nats.Msg) {
	n.m.recvReply.Inc()
	reqID, count, node, err := decodeReply(msg.Data)
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
		return
	}
	n.pend.answer(reqID, count, node)
}

// onCtl runs on the NATS goroutine of the control subscription.
func (n *Node) onCtl(msg *nats.Msg) {
	n.m.recvCtl.Inc()
	c, err := decodeCtl(msg.Data)
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
		return
	}
	res, err := n.reg.apply(c, time.Now())
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
	}
	n.m.peers.Set(float64(res.peers))
	switch {
	case res.joined:
		n.log.Info("cluster: node joined", "peer", string(c.node))
		n.heartbeatSoon() // let it learn what this node hosts
	case res.query:
		n.heartbeatSoon()
	case res.left:
		n.log.Info("cluster: node left", "peer", string(c.node))
	}
}

func (n *Node) heartbeatSoon() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// heartbeatLoop publishes the hosted-room set every HeartbeatInterval (and
// when asked), and forgets peers silent for three intervals.
func (n *Node) heartbeatLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	ttl := 3*n.cfg.HeartbeatInterval + n.cfg.HeartbeatInterval/2
	n.heartbeat()
	for {
		select {
		case <-n.stop:
			return
		case <-n.kick:
			n.heartbeat()
		case now := <-t.C:
			n.heartbeat()
			if !n.nc.IsConnected() {
				continue // the silence is this node's own: expire nobody
			}
			gone, left := n.reg.expire(now, ttl)
			for _, id := range gone {
				n.log.Warn("cluster: node expired (no heartbeat)", "peer", id)
			}
			if len(gone) > 0 {
				n.m.peers.Set(float64(left))
			}
		}
	}
}

// heartbeat publishes the hosted-room set, split in parts of at most
// heartbeatChunk bytes of room list.
func (n *Node) heartbeat() {
	if !n.nc.IsConnected() {
		return // resent on reconnect
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hbGen++
	var parts [][]byte
	var cur []byte
	for room := range n.local {
		if len(cur) > 0 && len(cur)+len(room)+binary.MaxVarintLen64 > heartbeatChunk {
			parts = append(parts, cur)
			cur = nil
		}
		cur = appendString(cur, room)
	}
	parts = append(parts, cur)
	var msg []byte
	for i, rooms := range parts {
		msg = appendCtlHeader(msg[:0], ctlHeartbeat, n.instance, n.id)
		msg = binary.AppendUvarint(msg, n.hbGen)
		msg = binary.AppendUvarint(msg, uint64(i))
		msg = binary.AppendUvarint(msg, uint64(len(parts)))
		msg = append(msg, rooms...)
		if err := n.nc.Publish(n.ctlSubj, msg); err != nil {
			n.m.errors.WithLabelValues("publish").Inc()
			n.log.Debug("cluster: heartbeat not sent", "err", err)
		} else {
			n.m.sentCtl.Inc()
		}
	}
	if n.resync.Swap(false) {
		n.publishCtl(ctlQuery, "")
	}
}

func (n *Node) onConnect(nc *nats.Conn) {
	if n.closing.Load() {
		return
	}
	n.m.connected.Set(1)
	n.log.Info("cluster: NATS connected", "url", nc.ConnectedUrlRedacted())
	n.reg.touchAll(time.Now())
	n.resync.Store(true)
	n.heartbeatSoon()
}

func (n *Node) onDisconnect(_ *nats.Conn, err error) {
	if n.closing.Load() {
		return
	}
	n.m.connected.Set(0)
	n.m.disconnects.Inc()
	n.log.Warn("cluster: NATS connection lost; local delivery continues, reconnecting", "err", err)
}

func (n *Node) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	n.m.errors.WithLabelValues("async").Inc()
	subj := ""
	if sub != nil {
		subj = sub.Subject
	}
	n.log.Warn("cluster: NATS async error", "subject", subj, "err", err)
}

// Close leaves the cluster: it tells the peers this node is gone, drops the
// room subscriptions, drains the NATS client, shuts the embedded server down
// and waits for every goroutine it started. Publish and Subscribe then fail
// with ErrClosed. Close is idempotent.
func (n *Node) Close() {
	if n == nil {
		return
	}
	n.closeOnce.Do(n.shutdown)
}

func (n *Node) shutdown() {
	n.closing.Store(true)
	close(n.stop)
	n.wg.Wait()
	if n.nc != nil {
		n.mu.Lock()
		for room, lr := range n.local {
			_ = lr.sub.Unsubscribe()
			delete(n.local, room)
			delete(n.bySubj, lr.subject)
		}
		n.m.subscriptions.Set(0)
		if !n.skipBye && n.nc.IsConnected() {
			n.publishCtl(ctlBye, "")
		}
		n.mu.Unlock()
		if err := n.nc.Drain(); err != nil {
			n.nc.Close()
		}
		select {
		case <-n.closedCh:
		case <-time.After(drainTimeout + time.Second):
			n.nc.Close()
			<-n.closedCh
		}
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	n.m.connected.Set(0)
	n.m.unregister()
}

func (n *Node) internEvent(b []byte) string {
	n.evMu.RLock()
	s, ok := n.events[string(b)]
	n.evMu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	n.evMu.Lock()
	if len(n.events) < maxInternedEvents {
		n.events[s] = s
	}
	n.evMu.Unlock()
	return s
}

// getBuf returns an empty encode buffer; give it back with putBuf.
func (n *Node) getBuf() *[]byte {
	bp := n.bufs.Get().(*[]byte)
	*bp = (*bp)[:0]
	return bp
}

// putBuf recycles bp, keeping b (bp's buffer, possibly grown) unless large.
func (n *Node) putBuf(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBuf {
		*bp = b
		n.bufs.Put(bp)
	}
}

var timers sync.Pool

// getTimer returns a timer firing after d. Since Go 1.23 a stopped timer's
// channel holds no stale value, so timers can be reused.
func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}
