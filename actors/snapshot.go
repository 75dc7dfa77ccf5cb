package actors

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/supervision"
)

// Snapshot is the actor tree at one moment, for the operator console. It is
// gathered by messages down the tree: each actor describes itself and
// passes the ask on to its children, so no actor ever waits on another.
type Snapshot struct {
	Time time.Time `json:"time"`
	// Partial is set when some actor did not answer in time: it was
	// stopping, stalled, or busy past snapshotTimeout.
	Partial bool `json:"partial"`
	// Actors counts the actors that answered.
	Actors      int               `json:"actors"`
	Tree        *ActorNode        `json:"tree"`
	Connections []ConnectionCount `json:"connections"`
	Rooms       []RoomInfo        `json:"rooms"`
	// RoomsOmitted counts rooms left out of Rooms past maxListed.
	RoomsOmitted int `json:"roomsOmitted,omitempty"`
}

// ActorNode is one actor of the tree.
type ActorNode struct {
	ID       string           `json:"id"`
	Kind     supervision.Kind `json:"kind"`
	Name     string           `json:"name"`     // the room, workspace id, IP or sid it serves
	Restarts int              `json:"restarts"` // since the gateway started (supervision.Observer)
	// Members: a room's members, an ip limiter's admitted connections.
	Members int `json:"members,omitempty"`
	// Present: a room's users present (docs/PROTOCOL.md "Presence").
	Present int `json:"present,omitempty"`
	// A connection's user, workspace, transport and joined rooms.
	User      string `json:"user,omitempty"`
	Workspace string `json:"workspace,omitempty"`
	Transport string `json:"transport,omitempty"`
	Rooms     int    `json:"rooms,omitempty"`

	Children []*ActorNode `json:"children,omitempty"`
	// Omitted counts children left out past maxListed (the counts above
	// the tree include them).
	Omitted int `json:"omitted,omitempty"`

	parent string
}

// ConnectionCount is how many connections a workspace has on a transport.
type ConnectionCount struct {
	Workspace string `json:"workspace"`
	Transport string `json:"transport"`
	Count     int    `json:"count"`
}

// RoomInfo is one room and its member count.
type RoomInfo struct {
	Name      string `json:"name"`
	Workspace string `json:"workspace,omitempty"` // empty for user rooms
	Members   int    `json:"members"`
	Present   int    `json:"present"` // users present, cluster-wide as this node knows it
	Restarts  int    `json:"restarts"`
}

// snapshotTimeout bounds a snapshot: an actor that has not answered by then
// (stalled by a fault, or stopped between its parent's listing and the ask)
// is left out and the snapshot marked partial.
const snapshotTimeout = 2 * time.Second

// maxListed bounds each node's listed children and the rooms list, so a
// gateway with 100k connections still answers with a page-sized document.
const maxListed = 200

// ErrSnapshotsOff is returned by Snapshot when Config.Console is not set.
var ErrSnapshotsOff = errors.New("actors: snapshots are off (Config.Console)")

// Snapshot gathers the actor tree from the actors themselves, within
// snapshotTimeout and ctx. It costs one message per actor; nothing is
// kept or counted between snapshots beyond the Observer's restart counts.
func (s *System) Snapshot(ctx context.Context) (*Snapshot, error) {
	if !s.d.cfg.Console {
		return nil, ErrSnapshotsOff
	}
	if s.d.shuttingDown.Load() {
		return nil, ErrShuttingDown
	}
	g := &gatherer{waiting: 1, done: make(chan struct{})}
	// An ask sent to an actor already gone is a dead letter: count it as
	// answered rather than wait for it.
	sub := s.sys.EventStream.Subscribe(func(e any) {
		if dl, ok := e.(*actor.DeadLetterEvent); ok {
			if a, ok := dl.Message.(*snapshotAsk); ok && a.g == g {
				g.add(nil, 0)
			}
		}
	})
	defer s.sys.EventStream.Unsubscribe(sub)
	s.d.root.Send(s.gateway, &snapshotAsk{g: g})
	t := time.NewTimer(snapshotTimeout)
	defer t.Stop()
	partial := false
	select {
	case <-g.done:
	case <-t.C:
		partial = true
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	nodes := g.take()
	snap := assemble(nodes, s.observer.Restarts())
	snap.Partial = partial || snap.Tree == nil
	if !snap.Partial {
		alive := make(map[string]bool, len(nodes))
		for _, n := range nodes {
			alive[n.ID] = true
		}
		s.observer.Forget(func(id string) bool { return alive[id] })
	}
	return snap, nil
}

// snapshotAsk asks an actor to describe itself to g and to pass the ask on
// to its children. The snapshot middleware answers it, before any fault
// armed in the actor could fire on it.
type snapshotAsk struct{ g *gatherer }

// gatherer collects the answers of one snapshot. waiting is the number of
// asks sent and not yet answered; it reaches zero when the whole tree has.
type gatherer struct {
	mu      sync.Mutex
	nodes   []*ActorNode
	waiting int
	done    chan struct{}
	taken   bool
}

// add records n (nil for a dead letter) and the asks its actor sent on.
func (g *gatherer) add(n *ActorNode, children int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.taken {
		return // late: the snapshot went out without it
	}
	if n != nil {
		g.nodes = append(g.nodes, n)
	}
	g.waiting += children - 1
	if g.waiting == 0 {
		close(g.done)
	}
}

func (g *gatherer) take() []*ActorNode {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.taken = true
	return g.nodes
}

// snapshotMiddleware answers snapshotAsk for any actor; every other message
// goes on. It is installed only with Config.Console.
func snapshotMiddleware(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		ask, ok := env.Message.(*snapshotAsk)
		if !ok {
			next(ctx, env)
			return
		}
		n := describe(ctx)
		full, ok := ctx.(actor.Context)
		if !ok {
			ask.g.add(n, 0)
			return
		}
		children := full.Children()
		ask.g.add(n, len(children)) // before the asks go: waiting must not reach zero early
		for _, c := range children {
			full.Send(c, ask)
		}
	}
}

// describe runs in the actor's own goroutine, so it may read its state.
func describe(ctx actor.ReceiverContext) *ActorNode {
	self := ctx.Self()
	n := &ActorNode{ID: self.Id, Kind: supervision.KindOf(self), Name: actorName(self.Id)}
	if p := ctx.Parent(); p != nil {
		n.parent = p.Id
	}
	switch a := ctx.Actor().(type) {
	case *roomActor:
		n.Name, n.Members, n.Present = a.name, a.members.len(), a.presence.count()
	case *ipLimiterActor:
		n.Members = len(a.admitted)
	case *connectionActor:
		n.User, n.Workspace, n.Rooms = a.claims.Subject, a.claims.WorkspaceID, len(a.rooms)
		n.Transport = a.conn.Transport()
	}
	return n
}

// actorName is the raw name an actor serves: its id's last segment without
// its kind prefix, unescaped (supervision.ChildName escapes it).
func actorName(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	for _, p := range []string{supervision.PrefixConnection, supervision.PrefixRoom, supervision.PrefixIPLimiter, supervision.PrefixWorkspace} {
		if strings.HasPrefix(id, p) {
			id = id[len(p):]
			break
		}
	}
	if raw, err := url.PathUnescape(id); err == nil {
		return raw
	}
	return id
}

// assemble builds the tree and the tallies from the gathered nodes.
func assemble(nodes []*ActorNode, restarts map[string]int) *Snapshot {
	snap := &Snapshot{Time: time.Now(), Actors: len(nodes), Connections: []ConnectionCount{}, Rooms: []RoomInfo{}}
	byID := make(map[string]*ActorNode, len(nodes))
	for _, n := range nodes {
		n.Restarts = restarts[n.ID]
		byID[n.ID] = n
	}
	conns := map[[2]string]int{}
	for _, n := range nodes {
		switch n.Kind {
		case supervision.KindConnection:
			conns[[2]string{n.Workspace, n.Transport}]++
		case supervision.KindRoom:
			ws := ""
			if w, ok := roomWorkspace(n.Name); ok {
				ws = w
			}
			snap.Rooms = append(snap.Rooms, RoomInfo{Name: n.Name, Workspace: ws, Members: n.Members, Present: n.Present, Restarts: n.Restarts})
		}
		if p := byID[n.parent]; p != nil {
			p.Children = append(p.Children, n)
		} else if n.Kind == supervision.KindGateway {
			snap.Tree = n
		}
	}
	for k, c := range conns {
		snap.Connections = append(snap.Connections, ConnectionCount{Workspace: k[0], Transport: k[1], Count: c})
	}
	sort.Slice(snap.Connections, func(i, j int) bool {
		a, b := snap.Connections[i], snap.Connections[j]
		return a.Workspace < b.Workspace || a.Workspace == b.Workspace && a.Transport < b.Transport
	})
	sort.Slice(snap.Rooms, func(i, j int) bool {
		a, b := snap.Rooms[i], snap.Rooms[j]
		return a.Members > b.Members || a.Members == b.Members && a.Name < b.Name
	})
	if len(snap.Rooms) > maxListed {
		snap.RoomsOmitted = len(snap.Rooms) - maxListed
		snap.Rooms = snap.Rooms[:maxListed]
	}
	for _, n := range nodes {
		sort.Slice(n.Children, func(i, j int) bool {
			a, b := n.Children[i], n.Children[j]
			return a.Kind < b.Kind || a.Kind == b.Kind && a.Name < b.Name
		})
		if len(n.Children) > maxListed {
			n.Omitted = len(n.Children) - maxListed
			n.Children = n.Children[:maxListed]
		}
	}
	return snap
}

// WatchSupervision calls fn with every supervision decision until the
// returned func is called; fn runs in the failing actor's goroutine and
// must not block.
func (s *System) WatchSupervision(fn func(supervision.Decision)) (stop func()) {
	return s.observer.Subscribe(fn)
}
