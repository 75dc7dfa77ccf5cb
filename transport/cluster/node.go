package cluster

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
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
	// drainTimeout bounds the client's drain on Close.
	drainTimeout = 2 * time.Second
)

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
	peerGone  atomic.Pointer[func(id string)]

	bufs sync.Pool // *[]byte encode buffers

	// The JetStream recovery store (store.go): set once it is ready.
	store      atomic.Pointer[Store]
	storeReady chan struct{}
	// storeWanted: a store is being set up or is ready; cleared when the
	// NATS server says it has no JetStream (storeNone is closed then).
	storeWanted atomic.Bool
	storeNone   chan struct{}
	tmpDir      string // the embedded server's temporary store dir, removed at Close
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
		storeReady: make(chan struct{}),
		storeNone:  make(chan struct{}),
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
		storeDir := n.cfg.StoreDir
		if n.cfg.recovery() && storeDir == "" {
			dir, err := os.MkdirTemp("", "gateway-nats-")
			if err != nil {
				return fmt.Errorf("cluster: JetStream temporary store: %w", err)
			}
			n.tmpDir, storeDir = dir, dir
		}
		if !n.cfg.recovery() {
			storeDir = ""
		} else if n.cfg.ClusterListen != "" && !meshListed(n.cfg.ClusterListen, n.cfg.Routes) {
			// A clustered JetStream needs every server's route at start. A
			// node whose routes name only the nodes started before it (its
			// own port 0, or none) runs without it, and so do its peers
			// configured the same way: recovery stays on each node.
			n.log.Warn("cluster: NATS_ROUTES does not list this node's own route: no JetStream, recovery stays on one node; list every node's route on every node, its own included")
			storeDir = ""
		}
		srv, err := startServer(n.cfg, n.id, storeDir, n.log)
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
	if n.cfg.recovery() && (n.srv == nil || n.srv.JetStreamEnabled()) {
		n.wg.Add(1)
		n.storeWanted.Store(true)
		go n.setupStore()
	}
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
	if n.tmpDir != "" {
		_ = os.RemoveAll(n.tmpDir)
	}
	n.m.connected.Set(0)
	n.m.unregister()
}

// Incarnation names this run of this node: its id and a random instance
// that changes when it restarts.
func (n *Node) Incarnation() string {
	if n == nil {
		return ""
	}
	return n.id + "." + strconv.FormatUint(n.instance, 36)
}

// meshListed reports whether routes describe a full mesh that includes the
// node listening for routes on listen: a route on its port (the node's own
// on one host; every node's, when all hosts use the same port). Port 0 (any)
// cannot be listed.
func meshListed(listen string, routes []string) bool {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" {
		return false
	}
	for _, r := range routes {
		if u, err := url.Parse(r); err == nil && u.Port() == port {
			return true
		}
	}
	return false
}
