package cluster

import (
	"slices"
	"sync"
	"time"
)

// registry is the interest registry: which other nodes host which rooms, as
// learnt from their control messages (announcements, heartbeats, goodbyes).
// It never contains this node itself (NoEcho keeps its own control messages
// away, and a message naming this node is ignored).
type registry struct {
	self       string
	roomPrefix string // "<prefix>.room."

	mu    sync.RWMutex
	peers map[string]*peer
	rooms map[string]*hostSet
}

// peer is what is known of one other node.
type peer struct {
	id       string
	instance uint64    // changes when the node restarts
	seen     time.Time // last control message
	// rooms maps each hosted room to the heartbeat generation that last
	// confirmed it (mark-and-sweep, so a heartbeat allocates only new rooms).
	rooms  map[string]uint64
	hbGen  uint64 // generation of the heartbeat being received
	hbNext uint64 // next part expected of it
	hbOK   bool   // parts arrived in order so far
}

// hostSet lists the nodes hosting a room. nodes is copy-on-write: a slice
// handed out by hosts is never modified afterwards.
type hostSet struct {
	subject string
	nodes   []string
}

func newRegistry(self, roomPrefix string) *registry {
	return &registry{self: self, roomPrefix: roomPrefix, peers: map[string]*peer{}, rooms: map[string]*hostSet{}}
}

// hosts returns the other nodes hosting room (read-only, may be nil) and the
// room's subject when known.
func (r *registry) hosts(room string) ([]string, string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if hs := r.rooms[room]; hs != nil {
		return hs.nodes, hs.subject // the slice is never modified: safe after unlock
	}
	return nil, ""
}

// intern returns the id of a known peer without allocating, else a copy.
func (r *registry) intern(node []byte) string {
	r.mu.RLock()
	p := r.peers[string(node)]
	r.mu.RUnlock()
	if p != nil {
		return p.id
	}
	return string(node)
}

// peerIDs returns the known peers, sorted.
func (r *registry) peerIDs() []string {
	r.mu.RLock()
	out := make([]string, 0, len(r.peers))
	for id := range r.peers {
		out = append(out, id)
	}
	r.mu.RUnlock()
	slices.Sort(out)
	return out
}

// applyResult tells the node what a control message changed.
type applyResult struct {
	joined bool // a node (or a new instance of it) not known before
	left   bool // a node said goodbye
	query  bool // a node asked for this node's set
	peers  int  // known peers afterwards
}

// apply records a control message received at now.
func (r *registry) apply(m ctlMsg, now time.Time) (res applyResult, err error) {
	if string(m.node) == r.self {
		return res, nil
	}
	r.mu.Lock()
	defer func() { res.peers = len(r.peers); r.mu.Unlock() }()
	p := r.peers[string(m.node)]
	if m.kind == ctlBye {
		if p != nil && p.instance == m.instance {
			r.removePeer(p)
			res.left = true
		}
		return res, nil
	}
	if p == nil {
		p = &peer{id: string(m.node), instance: m.instance, rooms: map[string]uint64{}}
		r.peers[p.id] = p
		res.joined = true
	} else if p.instance != m.instance {
		// Restarted: what the old instance hosted is void.
		for room := range p.rooms {
			r.removeHost(room, p.id)
		}
		clear(p.rooms)
		p.instance, p.hbOK = m.instance, false
		res.joined = true
	}
	p.seen = now
	switch m.kind {
	case ctlAdd:
		if len(m.body) == 0 {
			return res, errMalformed
		}
		r.addRoom(p, m.body, p.hbGen)
	case ctlQuery:
		res.query = true
	case ctlDel:
		if _, ok := p.rooms[string(m.body)]; ok {
			room := string(m.body)
			delete(p.rooms, room)
			r.removeHost(room, p.id)
		}
	case ctlHeartbeat:
		h, err := decodeHeartbeat(m.body)
		if err != nil {
			return res, err
		}
		if h.part == 0 {
			p.hbGen, p.hbNext, p.hbOK = h.gen, 0, true
		}
		if !p.hbOK || h.gen != p.hbGen || h.part != p.hbNext {
			p.hbOK = false // a part is missing: wait for the next heartbeat
			return res, nil
		}
		p.hbNext++
		if err := eachRoom(h.rooms, func(room []byte) { r.addRoom(p, room, h.gen) }); err != nil {
			p.hbOK = false
			return res, err
		}
		if h.part == h.parts-1 {
			// Complete: sweep rooms this heartbeat did not confirm.
			for room, gen := range p.rooms {
				if gen != h.gen {
					delete(p.rooms, room)
					r.removeHost(room, p.id)
				}
			}
			p.hbOK = false
		}
	default:
		return res, errMalformed
	}
	return res, nil
}

// addRoom marks room hosted by p at generation gen. Lock held.
func (r *registry) addRoom(p *peer, room []byte, gen uint64) {
	if _, ok := p.rooms[string(room)]; ok {
		p.rooms[string(room)] = gen
		return
	}
	s := string(room)
	p.rooms[s] = gen
	hs := r.rooms[s]
	if hs == nil {
		hs = &hostSet{subject: r.roomPrefix + token(s)}
		r.rooms[s] = hs
	}
	if !slices.Contains(hs.nodes, p.id) {
		nodes := make([]string, len(hs.nodes), len(hs.nodes)+1)
		copy(nodes, hs.nodes)
		hs.nodes = append(nodes, p.id)
	}
}

// removeHost drops node from room's host set. Lock held.
func (r *registry) removeHost(room, node string) {
	hs := r.rooms[room]
	if hs == nil {
		return
	}
	i := slices.Index(hs.nodes, node)
	if i < 0 {
		return
	}
	if len(hs.nodes) == 1 {
		delete(r.rooms, room)
		return
	}
	nodes := make([]string, 0, len(hs.nodes)-1)
	nodes = append(nodes, hs.nodes[:i]...)
	hs.nodes = append(nodes, hs.nodes[i+1:]...)
}

// removePeer forgets p and everything it hosted. Lock held.
func (r *registry) removePeer(p *peer) {
	for room := range p.rooms {
		r.removeHost(room, p.id)
	}
	delete(r.peers, p.id)
}

// expire forgets the peers not heard from since before now-ttl and returns
// their ids and the number of peers left.
func (r *registry) expire(now time.Time, ttl time.Duration) (gone []string, left int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		if now.Sub(p.seen) > ttl {
			r.removePeer(p)
			gone = append(gone, p.id)
		}
	}
	return gone, len(r.peers)
}

// touchAll marks every peer as heard from at now. After this node's own
// connection was down, the silence was its own: peers get a full expiry
// period to be heard again instead of being dropped at once.
func (r *registry) touchAll(now time.Time) {
	r.mu.Lock()
	for _, p := range r.peers {
		p.seen = now
	}
	r.mu.Unlock()
}
