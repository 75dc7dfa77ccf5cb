package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The recovery store (docs/PROTOCOL.md §9 "Clustered"): with recovery on, a
// clustered gateway keeps room broadcasts and recoverable sessions in NATS
// JetStream, so a client recovers on whichever node it reconnects to, even
// after the node it was on died.
//
//   - History: one stream, <prefix>.hist.<token(room)> a subject per room.
//     The stream sequence of a broadcast is its offset, so one sequence
//     orders every room of the cluster.
//   - Sessions: a key-value bucket keyed by a hash of the pid (the pid is a
//     secret: never a subject, a key or a log line). A record is taken with
//     a delete on its revision, so two nodes cannot both recover it.
//
// The store is set up in the background once JetStream answers (a cluster
// needs its meta leader first); until then, and if JetStream never comes,
// Node.Store returns nil and the gateway recovers on one node only.

// Errors of Store.
var (
	// ErrNoSession: no such session in the bucket (never written, expired,
	// or deleted: its client ended it).
	ErrNoSession = errors.New("cluster: no such session")
	// ErrTaken: another node wrote the session's record since this
	// writer's last write (it recovered the session: AdoptSession).
	ErrTaken = errors.New("cluster: session adopted by another node")
)

// setupAttemptTimeout bounds one attempt to make the stream and the bucket.
const setupAttemptTimeout = 2 * time.Second

// storeOpTimeout bounds one JetStream request of the store.
const storeOpTimeout = 8 * time.Second

// Store is the JetStream recovery store of a Node. Safe for concurrent use.
type Store struct {
	js         jetstream.JetStream
	stream     jetstream.Stream
	kv         jetstream.KeyValue
	histPrefix string // <prefix>.hist.
	max        int
	replicas   int
	nc         *nats.Conn
	streamName string
	idPrefix   string        // this node's message ids: <node id>.<instance>.
	ids        atomic.Uint64 // the next message id
}

// Kept is one broadcast read back from the history.
type Kept struct {
	Seq       uint64
	Room      string
	Event     string
	Data      []byte
	ExceptSID string // its sender's sid (state_sync), never replayed to it
}

// Store returns the node's recovery store, or nil when recovery is off,
// the node is single, or JetStream is not (yet) available.
func (n *Node) Store() *Store {
	if n == nil {
		return nil
	}
	return n.store.Load()
}

// StoreReady is closed once the store is set up (never, when it is off).
func (n *Node) StoreReady() <-chan struct{} {
	if n == nil {
		return nil
	}
	return n.storeReady
}

// StoreWanted reports whether this node numbers its broadcasts with the
// cluster's store: recovery is on, the node is clustered, and JetStream is
// there or on its way. Until the store is ready such a node waits for it
// (AwaitStore) rather than number broadcasts itself: offsets from two
// sequences would collide.
func (n *Node) StoreWanted() bool { return n != nil && n.storeWanted.Load() }

// AwaitStore returns the store, waiting for it while it is being set up,
// within ctx. nil, nil: no store is wanted (StoreWanted).
func (n *Node) AwaitStore(ctx context.Context) (*Store, error) {
	if !n.StoreWanted() {
		return nil, nil
	}
	if s := n.store.Load(); s != nil {
		return s, nil
	}
	select {
	case <-n.storeReady:
		return n.store.Load(), nil
	case <-n.storeNone:
		return nil, nil
	case <-n.stop:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// streamName derives the stream and bucket names from the subject prefix.
func streamName(prefix, kind string) string {
	return kind + "_" + strings.NewReplacer(".", "_", "*", "_", ">", "_").Replace(prefix)
}

// historyMaxAge is how long the stream keeps a broadcast. A broadcast a
// client missed was published at most a ping timeout before its session was
// detached (or, for a node that died, after its record was last refreshed),
// and the session is kept for the window: twice the window plus a minute
// covers both, so age never drops a broadcast a recoverable session missed
// (the conservative rule of the reach-back check, see Since).
func historyMaxAge(window time.Duration) time.Duration { return 2*window + time.Minute }

// SessionTTL is how long the bucket keeps a record after its last write;
// live sessions are rewritten every SessionRefresh.
func SessionTTL(window time.Duration) time.Duration { return window + SessionRefresh(window) }

// SessionRefresh is how often a node rewrites its live sessions' records.
func SessionRefresh(window time.Duration) time.Duration { return max(window/3, time.Second) }

// setupStore makes the stream and the bucket, retrying until JetStream
// answers or the node closes. It never blocks Start.
func (n *Node) setupStore() {
	defer n.wg.Done()
	js, err := jetstream.New(n.nc)
	if err != nil {
		n.log.Warn("cluster: JetStream unavailable; recovery stays on one node", "err", err)
		n.storeWanted.Store(false)
		close(n.storeNone)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	warned := false
	wait := 100 * time.Millisecond
	for {
		s, err := n.tryStore(ctx, js)
		if err == nil {
			n.store.Store(s)
			close(n.storeReady)
			n.log.Info("cluster: JetStream recovery store ready", "replicas", s.replicas)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			n.log.Warn("cluster: the NATS server has no JetStream; recovery stays on one node", "err", err)
			n.storeWanted.Store(false)
			close(n.storeNone)
			return
		}
		if !warned {
			warned = true
			n.log.Warn("cluster: JetStream not available yet; broadcasts and recoveries wait for it", "err", err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// tryStore makes the stream and the bucket once.
func (n *Node) tryStore(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	if n.srv == nil { // external: clustered JetStream takes 3, a single server 1
		s, err := n.tryStoreWith(ctx, js, 3)
		if err != nil {
			s, err = n.tryStoreWith(ctx, js, 1)
		}
		return s, err
	}
	replicas := n.replicas()
	if replicas == 0 {
		return nil, errors.New("JetStream cluster not formed yet")
	}
	return n.tryStoreWith(ctx, js, replicas)
}

func (n *Node) tryStoreWith(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	storage := jetstream.MemoryStorage
	if n.cfg.StoreDir != "" {
		storage = jetstream.FileStorage
	}
	// A short attempt: one made while the JetStream cluster is still
	// forming can hang for its whole timeout; setupStore tries again.
	cctx, cancel := context.WithTimeout(ctx, setupAttemptTimeout)
	defer cancel()
	prefix := n.cfg.SubjectPrefix
	stream, err := js.CreateOrUpdateStream(cctx, jetstream.StreamConfig{
		Name:              streamName(prefix, "GWHIST"),
		Subjects:          []string{prefix + ".hist.>"},
		Storage:           storage,
		Replicas:          replicas,
		MaxAge:            historyMaxAge(n.cfg.RecoveryWindow),
		MaxMsgsPerSubject: int64(n.cfg.RecoveryMaxMessages),
		Discard:           jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("history stream: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{
		Bucket:   streamName(prefix, "GWSESS"),
		TTL:      SessionTTL(n.cfg.RecoveryWindow),
		Storage:  storage,
		Replicas: replicas,
		History:  1,
	})
	if err != nil {
		return nil, fmt.Errorf("session bucket: %w", err)
	}
	return &Store{js: js, stream: stream, kv: kv, histPrefix: prefix + ".hist.", nc: n.nc, streamName: streamName(prefix, "GWHIST"),
		max: n.cfg.RecoveryMaxMessages, replicas: replicas,
		idPrefix: n.id + "." + strconv.FormatUint(n.instance, 36) + "."}, nil
}

// replicas is min(3, the JetStream cluster's size) for an embedded
// server: its own and its routes' servers, 0 (wait) until its meta group is
// current. A stream's replicas are fixed when it is made: made before
// enough servers are up, it fails and is retried. With an external NATS it
// is 0: tryStore tries 3, then 1.
func (n *Node) replicas() int {
	if n.srv == nil {
		return 0
	}
	if !n.srv.JetStreamIsClustered() {
		return 1
	}
	if !n.srv.JetStreamIsCurrent() {
		return 0
	}
	return min(3, n.expectedServers())
}

// expectedServers is how many embedded servers the routes describe: this
// one and every route that is not its own.
func (n *Node) expectedServers() int {
	own := n.RouteURL()
	seen := map[string]bool{}
	for _, r := range n.cfg.Routes {
		r = strings.TrimPrefix(r, "nats-route://")
		if "nats-route://"+r != own {
			seen[r] = true
		}
	}
	return 1 + len(seen)
}

// subject is room's history subject.
func (s *Store) subject(room string) string { return s.histPrefix + token(room) }

// appendTimeout bounds Append: long enough for a stream to elect a new
// leader after its leader's node died, so a broadcast is not left out of
// the history (which would be a silent gap for a recovering client).
const appendTimeout = 10 * time.Second

// Append keeps a broadcast and returns its offset, the stream sequence. It
// retries within appendTimeout, each attempt with the same message id, so
// an attempt whose ack was lost is not kept twice (the stream's duplicate
// window).
func (s *Store) Append(ctx context.Context, room, event string, data []byte, exceptSID string) (uint64, error) {
	if room == "" || len(room) > maxRoomLen {
		return 0, ErrInvalidRoom
	}
	ctx, cancel := context.WithTimeout(ctx, appendTimeout)
	defer cancel()
	b := appendHistMsg(make([]byte, 0, len(event)+len(data)+len(exceptSID)+4), exceptSID, event, data)
	id := s.idPrefix + strconv.FormatUint(s.ids.Add(1), 36)
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		ack, err := s.js.Publish(actx, s.subject(room), b, jetstream.WithMsgID(id),
			jetstream.WithRetryAttempts(20), jetstream.WithRetryWait(100*time.Millisecond))
		acancel()
		if err == nil {
			return ack.Sequence, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("cluster: history append: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReachesBack applies the reach-back rule to a room's broadcasts read
// after an offset (ReadRoom): the stream keeps RECOVERY_MAX_MESSAGES per
// room, so with that many after the offset, one older than them but after
// the offset may have been dropped. That case is refused, whether or not
// one was, rather than risk a silent gap.
func (s *Store) ReachesBack(kept []Kept, after uint64) bool {
	n := 0
	for _, k := range kept {
		if k.Seq > after {
			n++
		}
	}
	return n < s.max
}

// ReadRoom reads room's broadcasts after an offset, oldest first, one get
// each (the next on the subject), at most RECOVERY_MAX_MESSAGES: all the
// stream keeps of a room.
//
// Every read is answered by the stream's leader, never by a replica: a
// replica that is catching up (a node restarted after kill -9 serves direct
// gets from 90 % synchronised) would answer "no more" early, a silent gap.
// While the stream elects a leader, reads wait for it, within ctx.
func (s *Store) ReadRoom(ctx context.Context, room string, after uint64) ([]Kept, error) {
	subj := s.subject(room)
	var out []Kept
	for next := after + 1; len(out) < s.max; {
		m, err := s.leaderGetNext(ctx, next, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: history read: %w", err)
		}
		if exceptSID, event, data, derr := decodeHistMsg(m.Data); derr == nil {
			out = append(out, Kept{Seq: m.Sequence, Room: room, Event: event, Data: data, ExceptSID: exceptSID})
		}
		next = m.Sequence + 1
	}
	return out, nil
}

// leaderRetry calls op until the stream's leader answers it (or says there
// is no such message), waiting out a leader election, within ctx.
func leaderRetry[T any](ctx context.Context, op func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := op(actx)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrMsgNotFound) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leaderGetNext gets the first message at or after seq on subj from the
// stream's leader, waiting out an election.
func (s *Store) leaderGetNext(ctx context.Context, seq uint64, subj string) (*jetstream.RawStreamMsg, error) {
	return leaderRetry(ctx, func(ctx context.Context) (*jetstream.RawStreamMsg, error) { return s.leaderGet(ctx, seq, subj) })
}

// LastSeq returns the stream's last sequence as its leader knows it,
// waiting out an election within ctx.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	last, err := leaderRetry(ctx, func(ctx context.Context) (uint64, error) {
		info, err := s.stream.Info(ctx)
		if err != nil {
			return 0, err
		}
		return info.State.LastSeq, nil
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: history state: %w", err)
	}
	return last, nil
}

// sessionKey is the bucket key of pid: a hash, never the pid.
func sessionKey(pid string) string {
	h := sha256.Sum256([]byte(pid))
	return hex.EncodeToString(h[:20])
}

// PutSession writes a session's record (the bucket's TTL counts from now)
// and returns its revision. rev is the revision of this writer's previous
// write, 0 for its first: a record another node adopted (or deleted) since
// is not overwritten, ErrTaken.
func (s *Store) PutSession(ctx context.Context, pid string, rec []byte, rev uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, storeOpTimeout)
	defer cancel()
	var err error
	var next uint64
	if rev == 0 {
		next, err = s.kv.Create(ctx, sessionKey(pid), rec)
	} else {
		next, err = s.kv.Update(ctx, sessionKey(pid), rec, rev)
	}
	if err != nil {
		if conflict(err) {
			return 0, ErrTaken
		}
		return 0, err
	}
	return next, nil
}

// conflict reports a revision conflict of a write or a delete.
func conflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}

// GetSession reads a session's record and its revision. It is a direct get,
// answered by any replica: it works while the bucket elects a leader. A
// replica that lags may answer an older record; records change only when a
// session's rooms do, seconds apart, so it is the one the session had.
func (s *Store) GetSession(ctx context.Context, pid string) (rec []byte, rev uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, storeOpTimeout)
	defer cancel()
	e, err := s.kv.Get(ctx, sessionKey(pid))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, ErrNoSession
	}
	if err != nil {
		return nil, 0, err
	}
	return e.Value(), e.Revision(), nil
}

// AdoptSession writes a session's record over whatever the bucket holds
// for it (a recovery here makes this node its writer) and returns the new
// revision, for this node's next PutSession.
func (s *Store) AdoptSession(ctx context.Context, pid string, rec []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, storeOpTimeout)
	defer cancel()
	var err error
	for range 5 {
		var rev uint64
		switch e, gerr := s.kv.Get(ctx, sessionKey(pid)); {
		case gerr == nil:
			rev, err = s.kv.Update(ctx, sessionKey(pid), rec, e.Revision())
		case errors.Is(gerr, jetstream.ErrKeyNotFound): // never, or deleted
			rev, err = s.kv.Create(ctx, sessionKey(pid), rec)
		default:
			return 0, gerr
		}
		if err == nil || !conflict(err) {
			return rev, err
		}
		// Written meanwhile (its old node's last write): over it again.
	}
	return 0, err
}

// DeleteSession forgets a session (its client ended it, or it was taken here).
func (s *Store) DeleteSession(ctx context.Context, pid string) error {
	ctx, cancel := context.WithTimeout(ctx, storeOpTimeout)
	defer cancel()
	return s.kv.Delete(ctx, sessionKey(pid))
}

// Sync returns once the NATS server has processed everything this node sent
// before (its subscriptions included).
func (n *Node) Sync(ctx context.Context) error {
	if n == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeOpTimeout)
	defer cancel()
	return n.nc.FlushWithContext(ctx)
}

// leaderGet asks the stream's leader ($JS.API.STREAM.MSG.GET) for the first
// message at or after seq on subj, within a second.
func (s *Store) leaderGet(ctx context.Context, seq uint64, subj string) (*jetstream.RawStreamMsg, error) {
	req, _ := json.Marshal(map[string]any{"seq": seq, "next_by_subj": subj})
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	msg, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+s.streamName, req)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Message *struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Data    []byte `json:"data"` // base64 in JSON
		} `json:"message"`
		Error *struct {
			Code    int `json:"code"`
			ErrCode int `json:"err_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, err
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return nil, jetstream.ErrMsgNotFound
	case resp.Error != nil || resp.Message == nil:
		return nil, fmt.Errorf("cluster: history get: %s", msg.Data)
	}
	return &jetstream.RawStreamMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Seq, Data: resp.Message.Data}, nil
}
