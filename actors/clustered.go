package actors

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/transport/cluster"
	"github.com/hyvve/gateway/transport/socketio"
)

// Recovery across nodes (docs/PROTOCOL.md §9 "Clustered"). With the
// cluster's JetStream store ready (cluster.Node.Store), a clustered node:
//
//   - numbers its broadcasts with the history stream: the origin appends a
//     broadcast, takes the acknowledged sequence as its offset, fans it out
//     here with it and sends it to the other nodes with it;
//   - mirrors every session it serves into the session bucket (written
//     when its rooms change, rewritten every cluster.SessionRefresh, and
//     at the end of a connection for a recoverable reason, a SIGTERM drain
//     included), so a node's death loses none;
//   - recovers a session it does not keep from the bucket (read from any
//     replica, then adopted: this node becomes its writer), with the
//     history read back from the stream's leader and merged with what the
//     rooms here fanned out.
//
// Until the store is ready, broadcasts and recoveries wait for it; a node
// whose NATS has no JetStream behaves as a single node does.

// relayTimeout bounds the history append of a client's relayed event: the
// connection actor waits for it, to keep its client's events in order.
const relayTimeout = time.Second

// clusterAskTimeout bounds a recovery from the cluster's store: after a
// node died its streams elect new leaders, which takes seconds. It stays
// under socket.io-client's 20 s connect timeout.
const clusterAskTimeout = 18 * time.Second

// ErrHistoryUnavailable is returned for a broadcast the cluster's history
// did not take in time: it is delivered to nobody, since a broadcast that
// cannot be replayed would be a silent gap for a client away meanwhile.
var ErrHistoryUnavailable = errors.New("actors: the cluster's recovery history is unavailable; the broadcast was not delivered")

// historyWait bounds how long a broadcast waits for the cluster's history
// to take it: the store being set up, or a stream electing a new leader
// after its node died (seconds).
const historyWait = 10 * time.Second

// clusterNumbered reports whether this node's broadcasts take their offsets
// from the cluster's history stream (recovery on, clustered, JetStream).
func (d *deps) clusterNumbered() bool { return d.history != nil && d.cluster.StoreWanted() }

// appendOffset keeps a local broadcast in the cluster's history and returns
// its offset, waiting for the store while it is being set up: a node never
// numbers a broadcast itself once the cluster's stream numbers them (two
// sequences would collide). 0, nil: this node numbers its broadcasts.
func (d *deps) appendOffset(ctx context.Context, room, event string, data json.RawMessage, exceptSID string) (uint64, error) {
	if !d.clusterNumbered() {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, historyWait)
	defer cancel()
	st, err := d.cluster.AwaitStore(ctx)
	if err == nil && st == nil {
		return 0, nil // the NATS server turned out to have no JetStream
	}
	var off uint64
	if err == nil {
		off, err = st.Append(ctx, room, event, data, exceptSID)
	}
	if err != nil {
		d.metrics.historyRefused.Inc()
		d.log.Warn("recovery history append failed; broadcast not delivered", "room", room, "err", err)
		return 0, ErrHistoryUnavailable
	}
	return off, nil
}

// sessionJSON is a session's record in the bucket.
type sessionJSON struct {
	// Node is its writer (node id and instance): a node that keeps the
	// session itself trusts its own record over one it wrote.
	Node  string            `json:"node"`
	SID   string            `json:"sid"`
	Sub   string            `json:"sub"`
	WS    string            `json:"ws"`
	Rooms map[string]uint64 `json:"rooms"`
}

// mirror writes this node's sessions to the bucket off the mailboxes: the
// latest record per pid, written in the background, every live one again
// every refresh, each write on the revision of its previous one so a
// record another node took is never brought back. close writes what is
// left (Shutdown).
type mirror struct {
	d       *deps
	mu      sync.Mutex
	recs    map[string]*mirrored // by pid
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// mirrored is one session as the mirror knows it.
type mirrored struct {
	rec   []byte // nil: delete it
	rev   uint64 // of this node's last write; 0: none
	live  bool   // rewritten every refresh
	dirty bool
	adopt bool // recovered here: written over whatever the bucket holds
}

func newMirror(d *deps) *mirror {
	m := &mirror{d: d, recs: map[string]*mirrored{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go m.run(cluster.SessionRefresh(d.cfg.RecoveryWindow))
	return m
}

// put records a session; live ones are rewritten every refresh, a detached
// one only now (the bucket's TTL then ends it after the window). adopt: the
// session was just recovered here, and this node becomes its writer. A node
// whose NATS has no JetStream records nothing (no memory grows); until the
// store is ready records wait. It reports whether the record will be
// written.
func (m *mirror) put(pid string, rec *sessionJSON, live, adopt bool) bool {
	if m == nil || pid == "" || !m.d.cluster.StoreWanted() {
		return false
	}
	rec.Node = m.d.cluster.Incarnation()
	b, _ := json.Marshal(rec)
	m.mu.Lock()
	e := m.recs[pid]
	if e == nil {
		e = &mirrored{}
		m.recs[pid] = e
	}
	if adopt {
		e.rev, e.adopt = 0, true
	}
	e.rec, e.live, e.dirty = b, live, true
	m.mu.Unlock()
	m.poke()
	return true
}

// forget deletes a session that is not recoverable.
func (m *mirror) forget(pid string) {
	if m == nil || pid == "" {
		return
	}
	m.mu.Lock()
	if e := m.recs[pid]; e != nil {
		e.rec, e.live, e.dirty = nil, false, true
	}
	m.mu.Unlock()
	m.poke()
}

func (m *mirror) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mirror) run(refresh time.Duration) {
	defer close(m.stopped)
	t := time.NewTicker(refresh)
	defer t.Stop()
	ready := m.d.cluster.StoreReady()
	for {
		select {
		case <-ready: // what waited for the store
			ready = nil
			m.write(false)
		case <-m.wake:
			m.write(false)
		case <-t.C:
			m.write(true)
		case <-m.stop:
			m.write(false)
			return
		}
	}
}

// write writes the dirty records (and every live one when all).
func (m *mirror) write(all bool) {
	st := m.d.cluster.Store()
	if st == nil {
		return // written once JetStream is ready: they stay dirty
	}
	type job struct {
		pid   string
		rec   []byte
		rev   uint64
		adopt bool
	}
	var jobs []job
	m.mu.Lock()
	for pid, e := range m.recs {
		if e.dirty || (all && e.live) {
			jobs = append(jobs, job{pid, e.rec, e.rev, e.adopt})
			e.dirty = false
		}
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := false
	for _, j := range jobs {
		var rev uint64
		var err error
		switch {
		case j.rec == nil:
			err = st.DeleteSession(ctx, j.pid)
		case j.adopt:
			rev, err = st.AdoptSession(ctx, j.pid, j.rec)
		default:
			rev, err = st.PutSession(ctx, j.pid, j.rec, j.rev)
		}
		m.mu.Lock()
		e := m.recs[j.pid]
		switch {
		case e == nil:
		case j.rec == nil || errors.Is(err, cluster.ErrTaken):
			if !e.dirty { // taken by another node, or deleted: done here
				delete(m.recs, j.pid)
			}
		case err == nil:
			if e.rev == j.rev && e.adopt == j.adopt { // not reset by a recovery meanwhile
				e.rev, e.adopt = rev, false
			}
			if !e.live && !e.dirty {
				delete(m.recs, j.pid) // detached: the bucket's TTL ends it
			}
		default:
			e.dirty, failed = true, true // retried soon
		}
		m.mu.Unlock()
		if err != nil && !errors.Is(err, cluster.ErrTaken) && ctx.Err() == nil {
			m.d.log.Warn("recovery session write failed", "err", err)
		}
	}
	if failed { // the bucket may be electing a leader: again soon, not at the next refresh
		time.AfterFunc(mirrorRetry, m.poke)
	}
}

// mirrorRetry is how soon a failed session write is tried again.
const mirrorRetry = 250 * time.Millisecond

// close writes what is left and stops.
func (m *mirror) close() {
	if m == nil {
		return
	}
	close(m.stop)
	<-m.stopped
}

// record is the connection's session as the bucket keeps it.
func (a *connectionActor) record() *sessionJSON {
	rec := &sessionJSON{SID: a.sid, Sub: a.claims.Subject, WS: a.claims.WorkspaceID, Rooms: make(map[string]uint64, len(a.rooms))}
	for name := range a.rooms {
		rec.Rooms[name], _ = a.joinedAt.get(name)
	}
	return rec
}

// mirrorSession writes the connection's session to the bucket (its rooms
// changed).
func (a *connectionActor) mirrorSession() {
	if a.d.mirror != nil && a.state == connActive && a.pid != "" && !a.stopping {
		a.d.mirror.put(a.pid, a.record(), true, false)
	}
}

// clusterFetched answers a bucket lookup (a task → the recovering
// connection).
type clusterFetched struct {
	rec    *sessionRecord // the session read from the bucket; nil: keep the local one's
	result string         // "" when recoverable
}

// historyFetched answers the history read of a recovery whose rooms are
// rejoined (a task → the recovering connection).
type historyFetched struct {
	kept   []cluster.Kept
	result string // "" when it reaches back
}

// askCluster starts the recovery of a session this node does not keep:
// from the bucket, with its history from the stream. false: nothing to ask.
func (a *connectionActor) askCluster(ctx actor.Context, from uint64) bool {
	if !a.d.clusterNumbered() {
		return false
	}
	pid, sub, ws := a.resume.PID, a.claims.Subject, a.claims.WorkspaceID
	self, root, log, node := ctx.Self(), a.d.root, a.logger(), a.d.cluster
	a.state = connResuming
	a.recovery = &recoveryState{from: from, clustered: true,
		timer: time.AfterFunc(clusterAskTimeout, func() { root.Send(self, &recoveryTimeout{}) })}
	if !a.d.tasks.goTask(func(tctx context.Context) {
		tctx, cancel := context.WithTimeout(tctx, clusterAskTimeout)
		defer cancel()
		root.Send(self, fetchSession(tctx, log, node, pid, sub, ws))
	}) {
		root.Send(self, &clusterFetched{result: recoveryUnknown})
	}
	return true
}

// fetchSession reads and checks a session's record in the bucket. It is
// read, not taken: an attempt that timed out on the client's side leaves
// the record for its next one, and reads need no bucket leader (a node just
// died). A pid is a secret of one client, which recovers once at a time.
func fetchSession(ctx context.Context, log *slog.Logger, node *cluster.Node, pid, sub, ws string) *clusterFetched {
	j, result := readRecord(ctx, log, node, pid)
	switch {
	case result != "":
		return &clusterFetched{result: result}
	case j == nil:
		return &clusterFetched{result: recoveryUnknown}
	case j.Sub != sub || j.WS != ws:
		return &clusterFetched{result: recoveryDenied}
	}
	rec := &sessionRecord{pid: pid, sid: j.SID, sub: j.Sub, workspaceID: j.WS, rooms: j.Rooms}
	if rec.rooms == nil {
		rec.rooms = map[string]uint64{}
	}
	return &clusterFetched{rec: rec}
}

// readRecord reads pid's record, waiting for the store while it is being
// set up. nil, "": no such record.
func readRecord(ctx context.Context, log *slog.Logger, node *cluster.Node, pid string) (*sessionJSON, string) {
	st, err := node.AwaitStore(ctx)
	if st == nil {
		if err != nil {
			log.Warn("recovery: the cluster's store is not ready", "err", err)
		}
		return nil, recoveryUnknown
	}
	for {
		b, _, err := st.GetSession(ctx, pid)
		switch {
		case errors.Is(err, cluster.ErrNoSession):
			return nil, ""
		case err == nil:
			var j sessionJSON
			if json.Unmarshal(b, &j) != nil {
				return nil, recoveryUnknown
			}
			return &j, ""
		}
		select { // no replica answered: the bucket is moving
		case <-ctx.Done():
			log.Warn("recovery: session bucket read failed", "err", err)
			return nil, recoveryUnknown
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readHistory reads what rooms kept after from (or each room's join
// offset) through the node's coalesced reads; the replay orders it
// (replayClusteredLocked).
func readHistory(ctx context.Context, log *slog.Logger, hr *historyReads, st *cluster.Store, rooms map[string]uint64, from uint64) ([]cluster.Kept, string) {
	var kept []cluster.Kept
	for name, joinedAt := range rooms {
		got := hr.read(ctx, st, name, max(from, joinedAt))
		switch {
		case got.err != nil:
			log.Warn("recovery: history read failed", "err", got.err)
			return nil, recoveryUnknown
		case !got.ok:
			return nil, recoveryTooOld
		}
		kept = append(kept, got.kept...)
	}
	return kept, ""
}

// onClusterFetched goes on with a recovery once the bucket answered: the
// rooms are rejoined muted, and the history read once they are.
func (a *connectionActor) onClusterFetched(ctx actor.Context, m *clusterFetched) {
	r := a.recovery
	if r == nil || !r.clustered || a.stopping || r.fetched {
		return
	}
	r.fetched = true
	if m.result != "" {
		a.recoveryFailed(ctx, m.result)
		return
	}
	if m.rec != nil {
		a.rejoin(ctx, m.rec)
		return
	}
	a.rejoin(ctx, r.rec) // a local session with no newer record in the bucket
}

// roomsRejoined is called once every room of a recovery confirmed its muted
// join. Clustered, the stream's history is read now, not before: the rooms
// here subscribed to their broadcasts first (and the subscriptions reached
// the NATS server: Sync), so a broadcast is either in what is read, or
// reaches a room here, or both (the replay takes it once).
func (a *connectionActor) roomsRejoined(ctx actor.Context) {
	r := a.recovery
	if !r.clustered || r.historyRead {
		a.finishRecovery(ctx)
		return
	}
	r.historyRead = true
	rooms, from := maps(r.rooms), r.from
	self, root, node, log, reads := ctx.Self(), a.d.root, a.d.cluster, a.logger(), a.d.historyReads
	if !a.d.tasks.goTask(func(tctx context.Context) {
		tctx, cancel := context.WithTimeout(tctx, clusterAskTimeout)
		defer cancel()
		st, err := node.AwaitStore(tctx)
		if err == nil && st != nil {
			err = node.Sync(tctx)
		}
		if err != nil || st == nil {
			log.Warn("recovery: the cluster's store is not ready", "err", err)
			root.Send(self, &historyFetched{result: recoveryUnknown})
			return
		}
		kept, result := readHistory(tctx, log, reads, st, rooms, from)
		root.Send(self, &historyFetched{kept: kept, result: result})
	}) {
		root.Send(self, &historyFetched{result: recoveryUnknown})
	}
}

func (a *connectionActor) onHistoryFetched(ctx actor.Context, m *historyFetched) {
	r := a.recovery
	if r == nil || !r.historyRead || a.stopping {
		return
	}
	if m.result != "" {
		a.recoveryFailed(ctx, m.result)
		return
	}
	r.kept = m.kept
	a.finishRecovery(ctx)
}

// readLocalHistory recovers a session kept here the clustered way: the
// bucket's record is read off the mailbox, and used if another node wrote it
// since (the client recovered there meanwhile, maybe changed rooms, and lost
// that connection too); this node's own record is newer than any it wrote.
// The history is then read from the stream like any clustered recovery
// (the rooms here may have missed broadcasts while they had no actor).
func (a *connectionActor) readLocalHistory(ctx actor.Context, rec *sessionRecord) bool {
	if !a.d.clusterNumbered() || !rec.inBucket {
		return false // kept here only: recovered as on a single node
	}
	r := a.recovery
	r.clustered, r.rec = true, rec
	r.timer.Reset(clusterAskTimeout)
	pid, sid, sub, ws := rec.pid, rec.sid, rec.sub, rec.workspaceID
	self, root, log, node := ctx.Self(), a.d.root, a.logger(), a.d.cluster
	if !a.d.tasks.goTask(func(tctx context.Context) {
		tctx, cancel := context.WithTimeout(tctx, clusterAskTimeout)
		defer cancel()
		j, result := readRecord(tctx, log, node, pid)
		switch {
		case result != "":
			root.Send(self, &clusterFetched{result: result})
		case j != nil && j.Node != node.Incarnation() && j.SID == sid && j.Sub == sub && j.WS == ws && j.Rooms != nil:
			root.Send(self, &clusterFetched{rec: &sessionRecord{pid: pid, sid: sid, sub: sub, workspaceID: ws, rooms: j.Rooms}})
		default:
			root.Send(self, &clusterFetched{}) // this node's record (or none): the local one
		}
	}) {
		root.Send(self, &clusterFetched{result: recoveryUnknown})
	}
	return true
}

func maps(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// replayClusteredLocked returns the frames a clustered recovery replays:
// the stream's kept broadcasts merged with what the rooms here kept (the
// latest, maybe not yet in what was read), once each, in offset order, but
// the session's own. Offsets replayed from the stream that this node has
// not fanned out yet are marked on the gates, so they are not sent again
// when they arrive. Under history.mu.
func (a *connectionActor) replayClusteredLocked(r *recoveryState) [][]byte {
	h := a.d.history
	type item struct {
		off   uint64
		frame []byte
	}
	var items []item
	seen := map[uint64]bool{}
	for _, e := range h.missedEntriesLocked(r.rooms, r.from, r.rec.sid) {
		seen[e.off] = true
		items = append(items, item{e.off, e.frame})
	}
	for _, k := range r.kept {
		if _, in := r.rooms[k.Room]; !in || seen[k.Seq] || (k.ExceptSID != "" && k.ExceptSID == r.rec.sid) {
			continue
		}
		seen[k.Seq] = true
		items = append(items, item{k.Seq, socketio.AppendEventWithOffset(nil, k.Event, k.Data, k.Seq)})
		if g := r.gates[k.Room]; g != nil {
			if g.skip == nil {
				g.skip = map[uint64]struct{}{}
			}
			g.skip[k.Seq] = struct{}{}
		}
		if k.Seq > h.last {
			h.last = k.Seq
		}
	}
	slices.SortFunc(items, func(x, y item) int { return cmp.Compare(x.off, y.off) })
	frames := make([][]byte, len(items))
	for i := range items {
		frames[i] = items[i].frame
	}
	return frames
}

// offsetOf parses a client's offset.
func offsetOf(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }
